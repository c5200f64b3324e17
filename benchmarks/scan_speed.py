"""Benchmark: ptmscope scan vs picklescan, modelscan and fickling on the same benign files.

Generates (without torch) about 200 MB of benign files in a temporary folder:

* ``zips/``: PyTorch-style zip checkpoints (``archive/data.pkl`` with ``_rebuild_tensor_v2``
  and persistent storage ids, ``archive/data/N`` raw storages, ``archive/version``), stored
  uncompressed exactly like ``torch.save``;
* ``pickles/``: opcode-dense plain pickles: a dict of large numpy arrays, a 300k-entry
  vocabulary, record lists (protocols 2 and 4).

Then times every tool on each set in the same run, as child processes, and reports wall
time, throughput (MB/s), peak memory (max RSS of the child, from ``wait4``) and ratios to
picklescan. Tools missing from PATH (or ``--tools-bin``) are reported as "not installed".
Also checks that no tool flags a benign file. ``--big`` adds a multi-GB checkpoint to show
that ptmscope's memory stays flat.

Run:  python benchmarks/scan_speed.py --tools-bin /tmp/bench-venv/bin
(install the other scanners in a throwaway venv: they are not ptmscope dependencies)
"""

from __future__ import annotations

import _paths  # noqa: F401 - first of all: keeps benchmarks/select.py from shadowing the stdlib

# isort: split
import argparse
import collections
import io
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

MB = 1 << 20


# --- generating files, without torch --------------------------------------------------------


_FAKE: list[types.SimpleNamespace] = []


def _fake_torch() -> types.SimpleNamespace:
    """Just enough of a 'torch' module for pickle to write torch's global names."""
    if _FAKE:
        return _FAKE[0]
    if "torch" in sys.modules:
        raise SystemExit("run the benchmark generator without torch imported")
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: object) -> None: ...

    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    _FAKE.append(types.SimpleNamespace(rebuild=_rebuild_tensor_v2, storage=FloatStorage))
    return _FAKE[0]


class _Tensor:
    def __init__(self, key: str, shape: tuple[int, ...], fake: types.SimpleNamespace) -> None:
        self.key, self.shape, self.fake = key, shape, fake

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        numel = math.prod(self.shape)
        stride = tuple(math.prod(self.shape[i + 1 :]) for i in range(len(self.shape)))
        storage = _Storage(self.key, numel, self.fake)
        return self.fake.rebuild, (storage, 0, self.shape, stride, False, collections.OrderedDict())


class _Storage:
    def __init__(self, key: str, numel: int, fake: types.SimpleNamespace) -> None:
        self.key, self.numel, self.fake = key, numel, fake


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        if isinstance(obj, _Storage):
            return ("storage", obj.fake.storage, obj.key, "cpu", obj.numel)
        return None


def write_checkpoint(path: Path, n_tensors: int, floats_per_tensor: int, rng: object) -> None:
    """Write a zip laid out like torch.save: archive/data.pkl, archive/data/N, archive/version."""
    fake = _fake_torch()
    state = collections.OrderedDict()
    blobs = {}
    for i in range(n_tensors):
        key = str(i)
        state[f"encoder.layer.{i // 6}.block.{i % 6}.weight"] = _Tensor(key, (floats_per_tensor // 64, 64), fake)
        blobs[key] = rng.standard_normal(floats_per_tensor, dtype="float32").tobytes()  # type: ignore[attr-defined]
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, blob in blobs.items():
            z.writestr(f"archive/data/{key}", blob)
        z.writestr("archive/version", "3\n")


def write_big_checkpoint(path: Path, gigabytes: float) -> None:
    """A multi-GB checkpoint (zeros) to show memory does not grow with file size."""
    fake = _fake_torch()
    per = 64 * MB
    n = max(1, int(gigabytes * 1024 * MB / per))
    state = collections.OrderedDict((f"w{i}", _Tensor(str(i), (per // 4 // 64, 64), fake)) for i in range(n))
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(state)
    zero = b"\0" * per
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for i in range(n):
            with z.open(f"archive/data/{i}", "w", force_zip64=True) as f:
                f.write(zero)
        z.writestr("archive/version", "3\n")


def generate(root: Path, scale: float) -> dict[str, Path]:
    """Create the benchmark sets under ``root``; return set name -> folder."""
    import numpy as np

    rng = np.random.default_rng(0)
    zips, pickles = root / "zips", root / "pickles"
    zips.mkdir(parents=True)
    pickles.mkdir()
    for i in range(4):
        write_checkpoint(zips / f"model_{i}.pt", n_tensors=240, floats_per_tensor=int(32768 * scale), rng=rng)
    arrays = {f"layer{i}.weight": rng.standard_normal((256, int(256 * scale)), dtype=np.float32) for i in range(160)}
    (pickles / "numpy_dict.pkl").write_bytes(pickle.dumps(arrays, protocol=4))
    vocab = {f"tok_{i}_{'x' * (i % 11)}": i for i in range(int(300_000 * scale))}
    (pickles / "vocab_300k.pkl").write_bytes(pickle.dumps(vocab, protocol=4))
    (pickles / "vocab_300k_p2.pkl").write_bytes(pickle.dumps(vocab, protocol=2))
    records = [
        {"id": i, "text": f"sample {i}", "label": i % 7, "score": i / 3, "tags": ["a", "b"]}
        for i in range(int(200_000 * scale))
    ]
    (pickles / "records_p4.pkl").write_bytes(pickle.dumps(records, protocol=4))
    (pickles / "records_p2.pkl").write_bytes(pickle.dumps(records, protocol=2))
    tokens = [list(range(i % 50, i % 50 + 64)) for i in range(int(60_000 * scale))]
    (pickles / "token_ids.pkl").write_bytes(pickle.dumps(tokens, protocol=4))
    return {"zips": zips, "pickles": pickles}


# --- running tools ---------------------------------------------------------------------------


TIME = "/usr/bin/time"


def _run(cmd: list[str], cwd: Path) -> tuple[float, int, int, str]:
    """Run ``cmd``; return (seconds, exit code, peak RSS in KiB, output).

    Peak memory comes from ``/usr/bin/time -f %M`` when present: a child's ``ru_maxrss``
    otherwise starts at its parent's size at fork time, which would hide the tool's own.
    """
    wrapped = [TIME, "-f", "BENCH_MAXRSS_KB=%M", *cmd] if Path(TIME).exists() else cmd
    started = time.perf_counter()
    # cwd: fickling writes safety_results.json into the current folder
    proc = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    out_chunks: list[bytes] = []
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read(65536), b""):  # type: ignore[union-attr]
        out_chunks.append(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    output = b"".join(out_chunks).decode("utf-8", "replace")
    peak = usage.ru_maxrss
    if "BENCH_MAXRSS_KB=" in output:
        head, _, tail = output.rpartition("BENCH_MAXRSS_KB=")
        peak, output = int(tail.split()[0]), head
    return seconds, os.waitstatus_to_exitcode(status), peak, output


def _flagged(tool: str, code: int, output: str) -> str:
    if tool == "ptmscope":
        try:
            data = json.loads(output[output.index("{") : output.rindex("}") + 1])
            bad = [f["path"] for f in data["files"] if f.get("verdict", "clean") != "clean"]
            return f"{len(bad)} not clean" if bad else "none flagged"
        except ValueError:
            return f"unreadable output (exit {code})"
    if tool == "picklescan":
        for line in output.splitlines():
            if line.startswith("Infected files:"):
                return "none flagged" if line.split(":")[1].strip() == "0" else line.strip()
        return f"exit {code}"
    if "Traceback (most recent call last)" in output:
        return "tool crashed"
    if tool == "modelscan":
        return "none flagged" if code == 0 else f"exit {code} (see output)"
    if tool == "fickling":
        if "please report the error" in output or "not a valid pickle" in output.lower():
            return "cannot read"
        return "none flagged" if code == 0 else "flagged or failed (exit 1)"
    return "none flagged" if code == 0 else f"exit {code}"


def tools(bin_dir: str | None) -> dict[str, str | None]:
    """Locate each tool's executable."""
    here = Path(sys.executable).parent

    def find(name: str) -> str | None:
        for candidate in ([Path(bin_dir) / name] if bin_dir else []) + [here / name]:
            if candidate.exists():
                return str(candidate)
        return shutil.which(name)

    return {name: find(name) for name in ("ptmscope", "picklescan", "modelscan", "fickling")}


def command(tool: str, exe: str, folder: Path) -> list[list[str]]:
    """The command line(s) that scan ``folder`` with ``tool``."""
    if tool == "ptmscope":
        return [[exe, "scan", str(folder), "--format", "json", "--no-progress", "--fail-on", "dangerous"]]
    if tool == "picklescan":
        return [[exe, "-p", str(folder)]]
    if tool == "modelscan":
        return [[exe, "-p", str(folder)]]
    # fickling's CLI takes one file at a time
    return [[exe, "--check-safety", str(f)] for f in sorted(folder.iterdir())]


def main() -> None:
    """Generate the sets, time every tool, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools-bin", help="folder holding picklescan/modelscan/fickling executables")
    parser.add_argument("--scale", type=float, default=1.0, help="size multiplier (1.0 = about 200 MB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and set; the fastest is kept")
    parser.add_argument("--big", type=float, default=0.0, metavar="GB", help="also scan a GB-sized checkpoint")
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--generate-only", help=argparse.SUPPRESS)
    parser.add_argument("--generate-big", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(Path(args.generate_only), args.scale)
        return
    if args.generate_big:
        write_big_checkpoint(Path(args.generate_big), args.big)
        return

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ptmscope-bench-"))
    try:
        if not (root / "zips").exists():
            # in a child process, so this process stays small while it measures the others
            subprocess.run(
                [sys.executable, __file__, "--generate-only", str(root), "--scale", str(args.scale)],
                check=True,
            )
        sets = {"zips": root / "zips", "pickles": root / "pickles"}
        found = tools(args.tools_bin)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; files in {root}")
        sizes = {name: sum(f.stat().st_size for f in folder.iterdir()) for name, folder in sets.items()}
        for name, folder in sets.items():
            print(f"  {name}: {len(list(folder.iterdir()))} files, {sizes[name] / MB:.1f} MB")
        if args.big:
            big = root / "big"
            big.mkdir(exist_ok=True)
            if not (big / "huge.pt").exists():
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--generate-big",
                        str(big / "huge.pt"),
                        "--big",
                        str(args.big),
                    ],
                    check=True,
                )
            sets["big"] = big
            sizes["big"] = (big / "huge.pt").stat().st_size
        results: dict[tuple[str, str], tuple[float, int, str] | str] = {}
        for set_name, folder in sets.items():
            for tool, exe in found.items():
                if set_name == "big" and tool != "ptmscope" and tool != "picklescan":
                    continue
                if exe is None:
                    results[(set_name, tool)] = "not installed"
                    continue
                best: tuple[float, int, str] | None = None
                for _ in range(args.repeat):
                    total, peak, verdicts = 0.0, 0, []
                    for cmd in command(tool, exe, folder):
                        seconds, code, rss, out = _run(cmd, root)
                        total += seconds
                        peak = max(peak, rss)
                        verdicts.append(_flagged(tool, code, out))
                    verdict = (
                        "none flagged"
                        if all(v == "none flagged" for v in verdicts)
                        else "; ".join(sorted(set(verdicts)))[:60]
                    )
                    if best is None or total < best[0]:
                        best = (total, peak, verdict)
                assert best is not None
                results[(set_name, tool)] = best
        print()
        print(
            f"{'set':8} {'tool':11} {'seconds':>8} {'MB/s':>8} {'peak MiB':>9} {'x picklescan':>13} "
            f"{'mem vs picklescan':>18}  benign files"
        )
        for set_name in sets:
            base = results.get((set_name, "picklescan"))
            for tool in found:
                r = results.get((set_name, tool))
                if r is None:
                    continue
                if isinstance(r, str):
                    print(f"{set_name:8} {tool:11} {r}")
                    continue
                seconds, peak, verdict = r
                mbps = sizes[set_name] / MB / seconds
                ratio = mem = "-"
                if isinstance(base, tuple):
                    ratio = f"{base[0] / seconds:.2f}x"
                    mem = f"{peak / base[1]:.2f}x"
                print(
                    f"{set_name:8} {tool:11} {seconds:8.2f} {mbps:8.1f} {peak / 1024:9.1f} {ratio:>13} "
                    f"{mem:>18}  {verdict}"
                )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
