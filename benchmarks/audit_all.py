"""``ptmscope audit --all`` over N synthetic models: models per second and peak memory.

    python benchmarks/audit_all.py                  # 1,000,000 models
    python benchmarks/audit_all.py --models 100000

Generates Hub-shaped records with realistic skew (benchmarks/synthetic.py), imports them
(not timed), then times ``ptmscope audit --all`` as a whole process: facts, every check
with evidence, scores, and the findings and scores written to the store. Peak memory is
the process tree's resident set, sampled every 50 ms. Target on a 2-core machine: at
least 20,000 models/s and under 4 GB.
"""

from __future__ import annotations

import _paths

# isort: split
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

run = _paths.sibling("study_scale").run  # the same process-tree sampler as the study benchmark
write_jsonl_gz = _paths.sibling("synthetic").write_jsonl_gz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ptmscope-audit-bench-"))
    try:
        dump, db = work / "models.jsonl.gz", work / "store.duckdb"
        started = time.perf_counter()
        write_jsonl_gz(dump, args.models)
        env = {**os.environ, "PTMSCOPE_DB": str(db)}
        ptmscope = [sys.executable, "-m", "ptmscope"]
        t_import, _, _ = run([*ptmscope, "import", str(dump), "--snapshot", "synthetic"], env=env)
        print(f"generated and imported {args.models:,} models in {time.perf_counter() - started:.1f} s "
              f"(import {t_import:.1f} s)", flush=True)  # fmt: skip
        seconds, peak, result = run([*ptmscope, "audit", "--all", "--snapshot", "synthetic", "--json"], env=env)
        run_doc = json.loads(result.stdout)
        findings = run_doc["findings"]
        print()
        print(f"models audited                 {run_doc['models']:>12,}")
        print(f"audit --all (whole process)    {seconds:>10.1f} s   peak {peak / 2**30:.2f} GiB   target < 4 GiB")
        print(f"audit run inside the process   {run_doc['seconds']:>10.1f} s")
        print(
            f"models per second              {run_doc['models'] / seconds:>12,.0f}   (whole process; target >= 20,000)"
        )
        print(f"findings written               {findings:>12,}")
        for attribute, values in run_doc["scores"].items():
            mean = "–" if values["mean"] is None else f"{values['mean']:.2f}"
            print(f"  {attribute:<16} mean {mean:>5}   inconclusive {values['inconclusive']:>9,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
