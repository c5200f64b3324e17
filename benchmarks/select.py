"""``ptmscope select`` latency over N synthetic models (default 1,000,000).

    python benchmarks/select.py
    python benchmarks/select.py --models 200000

Setup (not timed): synthetic Hub listings with realistic skew (benchmarks/synthetic.py),
imported, then ``audit --all`` for the scores select ranks by. Then times, as whole
processes, ``ptmscope select`` with three requirement sets (a popular task with a
licence policy and a format; every model with a claim and score floors; a size limit
with unknown sizes excluded), and the in-process query time select reports. Target:
under 10 s for 1M models; under 1 s on the bundled snapshot.
"""

from __future__ import annotations

import _paths

# isort: split
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

run = _paths.sibling("study_scale").run  # the shared process-tree timer
write_jsonl_gz = _paths.sibling("synthetic").write_jsonl_gz

QUERIES = {
    "task + licence + format": ["--task", "text-classification", "--license", "permissive", "--format", "safetensors"],
    "claim + score floors, all tasks": ["--claim", "glue:accuracy", "--min-score", "security=5",
                                        "--min-score", "documentation=3"],
    "size limit, fill-mask": ["--task", "fill-mask", "--max-params", "500000000", "--allow-unknown-size",
                              "--exclude-unsafe"],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ptmscope-select-bench-"))
    try:
        dump, db = work / "models.jsonl.gz", work / "store.duckdb"
        started = time.perf_counter()
        write_jsonl_gz(dump, args.models)
        env = {**os.environ, "PTMSCOPE_DB": str(db)}
        ptmscope = [sys.executable, "-m", "ptmscope"]
        run([*ptmscope, "import", str(dump), "--snapshot", "synthetic"], env=env)
        run([*ptmscope, "audit", "--all", "--snapshot", "synthetic"], env=env)
        print(f"set up {args.models:,} models (generate, import, audit --all) in {time.perf_counter() - started:.0f} s")
        print()
        print(f"{'requirements':<34} {'candidates':>11} {'eligible':>9} {'query':>8} {'command':>9}  (median of "
              f"{args.repeat})")  # fmt: skip
        for label, options in QUERIES.items():
            walls, queries, doc = [], [], {}
            for _ in range(args.repeat):
                seconds, _, result = run([*ptmscope, "select", "--snapshot", "synthetic", "--json", *options], env=env)
                doc = json.loads(result.stdout)
                walls.append(seconds)
                queries.append(doc["seconds"])
            print(f"{label:<34} {doc['candidates']:>11,} {doc['eligible']:>9,} {statistics.median(queries):>7.2f}s "
                  f"{statistics.median(walls):>8.2f}s")  # fmt: skip
        print("\ntarget: under 10 s per select over 1,000,000 models (the whole command)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
