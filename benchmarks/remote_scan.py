"""Remote scanning: bytes fetched per format, and repos per second against the resolver budget.

    python benchmarks/remote_scan.py                    # 600 small repos at resolvers=300/10 (30 opens/s)
    python benchmarks/remote_scan.py --repos 200 --rate-limit resolvers=100/10

1. writes real checkpoints into a files folder (``serve-hub --files``): a 200 MB and a 100 MB
   PyTorch zip and a 50 MB legacy ``.bin`` (``torch.save``: written, never loaded), a 50 MB
   safetensors file and a 30 MB GGUF, one repo each, plus ``--repos`` repos holding one small
   PyTorch zip each (for throughput); imports their listing (sizes, blob ids, LFS sha256) as a
   snapshot;
2. starts ``ptmscope serve-hub --files`` in its own process, enforcing ``--rate-limit`` on the
   resolvers bucket (429 past it; the CDN path is not limited, as on the Hub);
3. runs ``ptmscope scan --snapshot`` on the large-file repos, then on all repos, each in its own
   process, and prints bytes read / file size per format (target <= 1% for PyTorch zips of 100 MB
   or more) and files opened per second against the budget's rate (target >= 0.9: bounded by
   the rate limit, not by CPU);
4. runs the peer on the same large files: ``ptmscope scan OWNER/NAME``, which downloads each
   file whole and scans it locally (what every scanner does from outside the registry), and
   prints the ratio of bytes and of time.

Only public tools: the ptmscope command and DuckDB.
"""

from __future__ import annotations

import _paths  # noqa: F401 - first of all: keeps benchmarks/select.py from shadowing the stdlib

# isort: split
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
MB = 1 << 20
LARGE = ("big/pytorch-200m", "big/pytorch-100m", "big/legacy-50m", "big/safetensors-50m", "big/gguf-30m")


def write_files(files: Path, repos: int) -> None:
    """The large checkpoints, one repo each, and ``repos`` repos with one small PyTorch zip each."""
    import torch  # the verify extra; only torch.save runs here

    def save(repo: str, name: str, obj: object, **kwargs: object) -> None:
        (files / repo).mkdir(parents=True, exist_ok=True)
        torch.save(obj, files / repo / name, **kwargs)

    save("big/pytorch-200m", "pytorch_model.bin", {f"layer{i}.weight": torch.zeros(MB // 4 * 4) for i in range(50)})
    save("big/pytorch-100m", "pytorch_model.bin", {f"layer{i}.weight": torch.zeros(MB // 4 * 4) for i in range(25)})
    save("big/legacy-50m", "pytorch_model.bin", {"w": torch.zeros(50 * MB // 4)}, _use_new_zipfile_serialization=False)
    header = json.dumps({"w": {"dtype": "F32", "shape": [50 * MB // 4], "data_offsets": [0, 50 * MB]}}).encode()
    header += b" " * (-len(header) % 8)
    (files / "big/safetensors-50m").mkdir(parents=True)
    (files / "big/safetensors-50m/model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header
                                                                  + bytes(50 * MB))  # fmt: skip
    kv = {"general.name": "bench", "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}
    gguf = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, value in kv.items():
        gguf += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", 8) + struct.pack("<Q", len(value))
        gguf += value.encode()
    (files / "big/gguf-30m").mkdir(parents=True)
    (files / "big/gguf-30m/model.gguf").write_bytes(gguf + bytes(30 * MB))
    for i in range(repos):
        save(f"small/m{i:05d}", "pytorch_model.bin", {"w": torch.full((16_384,), float(i))})


def listing(files: Path, out: Path) -> dict[str, int]:
    """A JSONL listing of the folder's repos with sizes, blob ids and LFS sha256; returns path -> size."""
    sizes = {}
    with out.open("w") as handle:
        for rank, folder in enumerate(sorted(p.parent for p in files.glob("*/*/*") if p.is_file())):
            repo = folder.relative_to(files).as_posix()
            siblings = []
            for path in sorted(folder.iterdir()):
                data = path.read_bytes()
                blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                siblings.append({"rfilename": path.name, "size": len(data), "blobId": blob,
                                 "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}})  # fmt: skip
                sizes[f"{repo}/{path.name}"] = len(data)
            record = {"modelId": repo, "sha": hashlib.sha1(repo.encode()).hexdigest(),
                      "downloads": 1_000_000 - rank, "siblings": siblings}  # fmt: skip
            handle.write(json.dumps(record) + "\n")
    return sizes


def run(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=600, help="small repos for the throughput run")
    parser.add_argument("--rate-limit", default="resolvers=300/10", help="the resolver budget (enforced)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "ptmscope"]
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(ROOT / "src")}
    limit, window = args.rate_limit.split("=")[1].split("/")
    allowed = int(limit) / float(window)
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory(prefix="ptmscope-remote-") as tmp:
        base = Path(tmp)
        files = base / "files"
        started = time.perf_counter()
        write_files(files, args.repos)
        sizes = listing(files, base / "listing.jsonl")
        db = base / "bench.duckdb"
        imported = subprocess.run([*exe, "import", str(base / "listing.jsonl"), "--snapshot", "bench", "--db", str(db)],
                                  env=env, capture_output=True, text=True)  # fmt: skip
        if imported.returncode != 0:
            raise SystemExit(f"import failed:\n{imported.stderr[-2000:]}")
        print(
            f"wrote {len(sizes):,} files ({sum(sizes.values()) / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s"
        )
        server = subprocess.Popen(
            [*exe, "serve-hub", "--db", str(db), "--snapshot", "bench", "--port", "0", "--files", str(files),
             "--rate-limit", args.rate_limit],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            bench(exe, env, url, base, args, allowed, sizes)
        finally:
            server.terminate()
            server.wait(timeout=30)


def bench(exe: list[str], env: dict[str, str], url: str, base: Path, args: argparse.Namespace, allowed: float,
          sizes: dict[str, int]) -> None:  # fmt: skip
    scan = [*exe, "scan", "--snapshot", "bench", "--endpoint", url, "--format", "json", "--rate-limit",
            args.rate_limit, "--workers", str(args.workers)]  # fmt: skip
    # 1. the large files, remotely
    db = base / "bench.duckdb"
    done, wall = run([*scan, "--db", str(db), "--limit", str(len(LARGE))], env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scan --snapshot failed:\n{done.stderr[-2000:]}")
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT repo_id || '/' || path, format, verdict, bytes_read, requests, size FROM file_scans"
        " WHERE repo_id LIKE 'big/%' ORDER BY size DESC"
    ).fetchall()
    con.close()
    print(f"\nremote scan of the large files: {wall:.2f} s (whole command)")
    print(f"{'file':44} {'format':12} {'verdict':8} {'size':>12} {'bytes read':>11} {'share':>7} {'requests':>8}")
    for name, fmt, verdict, read, requests, size in rows:
        print(f"{name:44} {fmt:12} {verdict:8} {size:>12,} {read:>11,} {read / size:>7.3%} {requests:>8}")
    remote_bytes = sum(r[3] for r in rows)
    # 2. the peer: download each large file whole and scan it
    peer_bytes = sum(sizes[f"{repo}/{name}"] for repo in LARGE for name in [n.split("/")[-1] for n in sizes
                     if n.startswith(repo + "/")])  # fmt: skip
    peer, peer_wall = run([*exe, "scan", *LARGE, "--endpoint", url, "--format", "json", "--cache-dir",
                           str(base / "cache")], env)  # fmt: skip
    if peer.returncode not in (0, 1):
        raise SystemExit(f"the peer scan failed:\n{peer.stderr[-2000:]}")
    same = {f["path"]: f["verdict"] for f in json.loads(peer.stdout)["files"]} == {r[0]: r[2] for r in rows}
    print(
        f"peer (ptmscope scan OWNER/NAME, whole downloads): {peer_bytes:,} bytes in {peer_wall:.2f} s; "
        f"remote: {remote_bytes:,} bytes in {wall:.2f} s; bytes ratio {peer_bytes / remote_bytes:,.0f}x, "
        f"time ratio {peer_wall / wall:.1f}x; same verdicts: {same}"
    )
    # 3. throughput over every repo, against the resolver budget
    done, wall = run([*scan, "--db", str(db)], env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scan --snapshot failed:\n{done.stderr[-2000:]}")
    document = json.loads(done.stdout)
    opened = document["run"]["files_scanned"]
    seconds = document["seconds"]
    print(f"\nthroughput: {document['run']['repos']:,} repos, {opened:,} files opened in {seconds:.2f} s "
          f"({wall:.2f} s with start-up): {opened / seconds:.1f} opens/s against {allowed:.1f} allowed "
          f"= {opened / seconds / allowed:.2f} of the rate (target >= 0.9); failed repos: "
          f"{document['run']['repos_failed']}")  # fmt: skip


if __name__ == "__main__":
    main()
