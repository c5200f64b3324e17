"""``ptmscope serve`` latency under concurrent clients, over N synthetic models (default 1,000,000).

    python benchmarks/serve.py
    python benchmarks/serve.py --models 200000 --seconds 30
    python benchmarks/serve.py --db store.duckdb --snapshot synthetic   # reuse a store made before

Setup (not timed): synthetic Hub listings with realistic skew (benchmarks/synthetic.py), imported,
then ``audit --all`` (the scores the pages show). Then ``ptmscope serve`` runs in its own process
and ``--clients`` threads (default 8) send requests for ``--seconds``, each request one of:

- search with facets: usually (4 in 5) a search word drawn from the ids' vocabulary (~11,000
  words), plus one to three facet values (task, weight format, licence class, licence, library),
  on a random page of results; the combinations are drawn at random, so most searches with a
  word are new to the server (its caches rarely help them), while the few hundred facet-only
  combinations recur and their facet counts come from the server's cache after the first time;
- a model page: a random model of the snapshot (uncached: each model is asked for once);
- the study page (computed once per server, then served from memory).

Prints p50 / p95 / max latency per page, the server's start-up time and its memory at the end
(resident set and its peak, from /proc: Linux only). Target: p95 < 200 ms.
"""

from __future__ import annotations

import _paths

# isort: split
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

run = _paths.sibling("study_scale").run  # the shared process-tree timer
write_jsonl_gz = _paths.sibling("synthetic").write_jsonl_gz

FACETS = {
    "task": ["text-generation", "text-classification", "fill-mask", "text2text-generation", "none",
             "automatic-speech-recognition", "token-classification"],
    "format": ["safetensors", "pickle", "gguf", "onnx", "none"],
    "license_class": ["permissive", "use-restricted", "non-commercial", "none"],
    "license": ["apache-2.0", "mit", "openrail", "cc-by-4.0"],
    "library": ["transformers", "none"],
}  # fmt: skip
WEIGHTS = {"search": 0.5, "model": 0.35, "study": 0.15}


def setup(models: int, work: Path) -> Path:
    dump, db = work / "models.jsonl.gz", work / "store.duckdb"
    started = time.perf_counter()
    write_jsonl_gz(dump, models)
    env = {**os.environ, "PTMSCOPE_DB": str(db)}
    ptmscope = [sys.executable, "-m", "ptmscope"]
    run([*ptmscope, "import", str(dump), "--snapshot", "synthetic"], env=env)
    run([*ptmscope, "audit", "--all", "--snapshot", "synthetic"], env=env)
    print(f"set up {models:,} models (generate, import, audit --all) in {time.perf_counter() - started:.0f} s")
    return db


def get(url: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
        status = response.status
    return time.perf_counter() - started, status, body


def search_url(rng: random.Random, base: str) -> str:
    params: list[tuple[str, str]] = []
    if rng.random() < 0.8:
        params.append(("q", rng.choice([f"user{rng.randint(1, 999)}", f"model-{rng.randint(1, 9999)}",
                                        f"{rng.randint(10, 99)}"])))  # fmt: skip
    for name in rng.sample(sorted(FACETS), rng.randint(1, 3)):
        params.append((name, rng.choice(FACETS[name])))
    params.append(("sort", rng.choice(["downloads", "likes", "security"])))
    params.append(("page", str(rng.randint(1, 3))))
    return f"{base}models?{urlencode(params)}"


def client(base: str, ids: list[str], seconds: float, seed: int, out: dict[str, list[float]], errors: list) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*WEIGHTS.items(), strict=True)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        kind = rng.choices(kinds, weights)[0]
        if kind == "search":
            url = search_url(rng, base)
        elif kind == "model":
            url = f"{base}models/{quote(ids.pop() if ids else 'missing/model', safe='/')}"
        else:
            url = f"{base}study"
        try:
            elapsed, status, _ = get(url)
        except Exception as error:  # a failed request is counted, not timed
            errors.append(f"{url}: {error}")
            continue
        if status != 200:
            errors.append(f"{url}: {status}")
        out[kind].append(elapsed)


def measure(db: Path, snapshot: str, clients: int, seconds: float, slots: int | None = None) -> None:
    started = time.perf_counter()
    command = [sys.executable, "-m", "ptmscope", "serve", "--db", str(db), "--snapshot", snapshot, "--port", "0"]
    if slots is not None:
        command += ["--slots", str(slots)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        if not base.startswith("http"):
            raise SystemExit(f"serve did not start: {server.stderr.read() if server.stderr else ''}")
        startup = time.perf_counter() - started
        study_first, _, _ = get(base + "study")  # waits for the study the server computes at start
        total = json.loads(get(base + "api/models?per=1")[2])["total"]
        rng = random.Random(1)
        pages = [json.loads(get(f"{base}api/models?per=100&page={rng.randint(1, max(1, total // 100))}")[2])
                 for _ in range(20)]  # fmt: skip
        ids = [r["repo_id"] for p in pages for r in p["results"]]
        rng.shuffle(ids)
        print(f"server start-up (index of {total:,} models loaded): {startup:.1f} s; study ready after "
              f"{study_first:.1f} s more")  # fmt: skip
        out: dict[str, list[float]] = {k: [] for k in WEIGHTS}
        errors: list[str] = []
        threads = [threading.Thread(target=client, args=(base, ids, seconds, i, out, errors)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report(out, errors, clients, seconds)
        print(memory(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)


def memory(pid: int) -> str:
    """The server process's resident memory now and at its peak (Linux /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "server memory: not measured (no /proc)"
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return f"server memory: RSS {kb.get('VmRSS', 0) / 1024:,.0f} MiB, peak {kb.get('VmHWM', 0) / 1024:,.0f} MiB"


def report(out: dict[str, list[float]], errors: list[str], clients: int, seconds: float) -> None:
    print(f"\n{clients} concurrent clients for {seconds:.0f} s: {sum(map(len, out.values())):,} requests, "
          f"{len(errors)} errors")  # fmt: skip
    print(f"{'page':<24} {'requests':>9} {'p50':>8} {'p95':>8} {'max':>8}")
    labels = {"search": "search with facets", "model": "model page", "study": "study page"}
    for kind, values in out.items():
        if not values:
            continue
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"{labels[kind]:<24} {len(values):>9,} {1000 * statistics.median(values):>6.0f}ms "
              f"{1000 * p95:>6.0f}ms {1000 * values[-1]:>6.0f}ms")  # fmt: skip
    for line in errors[:5]:
        print("error:", line)
    print("\ntarget: p95 < 200 ms per page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", type=Path, help="Use this store instead of making one (with --snapshot).")
    parser.add_argument("--snapshot", default="synthetic")
    parser.add_argument("--slots", type=int, help="serve --slots (default: serve's own).")
    args = parser.parse_args()
    if args.db is not None:
        measure(args.db, args.snapshot, args.clients, args.seconds, args.slots)
        return
    work = Path(tempfile.mkdtemp(prefix="ptmscope-serve-bench-"))
    try:
        measure(setup(args.models, work), "synthetic", args.clients, args.seconds, args.slots)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
