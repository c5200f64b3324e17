"""Import + study of N synthetic models with ptmscope, and the same study in pandas.

    python benchmarks/study_scale.py                  # 1,000,000 models (about 1 GB of temp files)
    python benchmarks/study_scale.py --models 200000  # quicker

Steps, each in its own process so peak memory is per step (the sum over the process
tree, sampled every 50 ms, workers included):

1. generate N records shaped like ``/api/models?full=true&cardData=true`` with
   realistic skew (benchmarks/synthetic.py), gzip JSON Lines (not timed);
2. ``ptmscope import`` them into a fresh store, then ``ptmscope study --json``;
3. ``ptmscope export --parquet``, then pandas loads those tables and computes the
   same measurements; load and compute are timed apart, and the results are checked
   against ptmscope's (same models, shares, claims per task, top datasets,
   architectures, licences, weight formats, lineage).

Prints the times, peak memory and the ratio of the study steps. Targets on a 2-core
machine: import + study under 60 s and 4 GB; study at least 5x faster than pandas.
Needs pandas (``pip install 'ptmscope[bench]'``).
"""

from __future__ import annotations

import _paths

# isort: split
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# -- measuring a process tree ----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(cmd: list[str], **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run ``cmd``; return (seconds, peak RSS of its process tree in bytes, result)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            stack, total = [proc.pid], 0
            while stack:
                pid = stack.pop()
                total += _rss(pid)
                stack += _children(pid)
            peak = max(peak, total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return seconds, peak, result


def check(study: dict, pandas_out: dict) -> list[str]:
    """Differences between ptmscope's study and pandas' (empty when they agree)."""
    ms = study["measurements"]
    problems = []

    def same(label: str, a: object, b: object) -> None:
        if isinstance(a, float) or isinstance(b, float):
            ok = a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9)
        else:
            ok = a == b
        if not ok:
            problems.append(f"{label}: ptmscope {a!r} != pandas {b!r}")

    same("models", study["models"], pandas_out["models"])
    same("with_readme", ms["overview"]["with_readme"], pandas_out["with_readme"])
    same("top1pct", study["top1pct_download_share"], pandas_out["top1pct_download_share"])
    same("top10pct", study["top10pct_download_share"], pandas_out["top10pct_download_share"])
    same("top100", [r["repo_id"] for r in ms["downloads"]["top100"]], pandas_out["top100"])
    same("claims_by_task", study["claims_by_task"], pandas_out["claims_by_task"])
    for key in ("datasets", "architectures", "licenses"):
        for field in ("counts", "other", "none", "declaring"):
            same(f"{key}.{field}", ms[key][field], pandas_out[key][field])
    same("weight_formats", ms["weight_formats"]["exclusive"], pandas_out["weight_formats"])
    same("lineage.declaring", ms["lineage"]["declaring"], pandas_out["lineage_declaring"])
    same("lineage.bases_in_snapshot", ms["lineage"]["bases_in_snapshot"], pandas_out["lineage_bases_in_snapshot"])
    same(
        "lineage.depth",
        {int(k): v for k, v in ms["lineage"]["depth_histogram"].items()},
        {int(k): v for k, v in pandas_out["lineage_depth"].items()},
    )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the temporary files in this folder")
    args = parser.parse_args()

    write_jsonl_gz = _paths.sibling("synthetic").write_jsonl_gz

    work = args.keep or Path(tempfile.mkdtemp(prefix="ptmscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    dump, db, parquet = work / "models.jsonl.gz", work / "store.duckdb", work / "parquet"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    if not dump.exists() or args.keep is None:
        write_jsonl_gz(dump, args.models)
    print(
        f"generated {args.models:,} records ({dump.stat().st_size / 1e6:,.0f} MB gzip) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    ptmscope = [sys.executable, "-m", "ptmscope"]
    env = {**os.environ, "PTMSCOPE_DB": str(db)}
    t_import, m_import, _ = run([*ptmscope, "import", str(dump), "--snapshot", "synthetic"], env=env)
    t_study, m_study, result = run([*ptmscope, "study", "--snapshot", "synthetic", "--json"], env=env)
    study = json.loads(result.stdout)
    run([*ptmscope, "export", "--parquet", str(parquet), "--snapshot", "synthetic"], env=env)
    script = HERE / "pandas_study.py"
    t_pandas, m_pandas, result = run([sys.executable, str(script), str(parquet)])
    pandas_out = json.loads(result.stdout)
    problems = check(study, pandas_out["result"])

    in_process_study = study["seconds"]
    print()
    print(f"models                         {args.models:>12,}")
    print(f"ptmscope import                {t_import:>10.1f} s   peak {m_import / 2**30:5.2f} GiB")
    print(
        f"ptmscope study (command)       {t_study:>10.1f} s   peak {m_study / 2**30:5.2f} GiB"
        f"   (measurements alone: {in_process_study:.2f} s)"
    )
    print(f"import + study                 {t_import + t_study:>10.1f} s   target < 60 s, < 4 GiB")
    print(f"pandas load Parquet            {pandas_out['load']:>10.1f} s")
    print(
        f"pandas study (compute only)    {pandas_out['compute']:>10.2f} s   peak {m_pandas / 2**30:5.2f} GiB "
        f"(whole process {t_pandas:.1f} s)"
    )
    print(
        f"study speed-up vs pandas       {pandas_out['compute'] / in_process_study:>10.1f}x  "
        f"(compute vs compute; target >= 5x)"
    )
    print(f"answers agree                  {'yes' if not problems else 'NO'}")
    for problem in problems:
        print(f"  - {problem}")
    if args.keep is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
