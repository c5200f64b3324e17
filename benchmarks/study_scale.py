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
sys.path.insert(0, str(HERE))


# -- measuring a process tree ----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                out += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
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


# -- the pandas study ---------------------------------------------------------------------------

PANDAS_STUDY = r'''
import json, math, sys, time
import pandas as pd

folder, top = sys.argv[1], 10
t0 = time.perf_counter()
read = lambda name, cols=None: pd.read_parquet(f"{folder}/{name}.parquet", columns=cols)
m = read("models", ["repo_id", "namespace", "downloads", "last_modified", "has_readme", "pipeline_tag",
                    "card_data", "model_type", "num_files", "security_status"])
files = read("model_files", ["repo_id", "path"])
datasets = read("model_datasets", ["repo_id", "dataset"])
licenses = read("model_licenses", ["repo_id", "license"])
bases = read("base_models", ["repo_id", "base_model", "relation"])
claims = read("claims", ["repo_id", "value_text"])
cards = read("cards")
sections = read("card_sections", ["repo_id", "section", "filled"])
orgs = read("organizations", ["name", "is_verified", "kind"])
registry = read("registry_downloads", ["registry", "downloads"])
load = time.perf_counter() - t0

t0 = time.perf_counter()
ids = set(m.repo_id)
out = {}
out["models"] = len(m)
out["with_readme"] = int(m.has_readme.sum())

def concentration(values):
    d = values.dropna().sort_values(ascending=False).reset_index(drop=True)
    n, total = len(d), d.sum()
    if not n or not total:
        return None, None
    return (d.iloc[: max(1, math.ceil(n * 0.01))].sum() / total, d.iloc[: max(1, math.ceil(n * 0.10))].sum() / total)

out["top1pct_download_share"], out["top10pct_download_share"] = concentration(m.downloads)
out["top100"] = m.dropna(subset=["downloads"]).sort_values(["downloads", "repo_id"], ascending=[False, True]).head(100).repo_id.tolist()
out["registries"] = {r: concentration(g.downloads) for r, g in registry.groupby("registry")}

def distribution(pairs):
    pairs = pairs[pairs.repo_id.isin(ids)].drop_duplicates()
    counts = pairs.groupby("name").size().reset_index(name="models")
    counts = counts.sort_values(["models", "name"], ascending=[False, True])
    top_names = counts.head(top).name
    declaring = pairs.repo_id.nunique()
    in_top = pairs[pairs.name.isin(top_names)].repo_id.nunique()
    return {"counts": dict(zip(counts.head(top).name, counts.head(top).models.astype(int))),
            "other": int(declaring - in_top), "none": int(len(m) - declaring), "declaring": int(declaring)}

d = datasets.assign(name=datasets.dataset.str.strip())[["repo_id", "name"]]
out["datasets"] = distribution(d[d.name != ""])
out["architectures"] = distribution(m[["repo_id", "model_type"]].dropna().rename(columns={"model_type": "name"}))
lic = licenses.assign(name=licenses.license.str.strip().str.lower())[["repo_id", "name"]]
out["licenses"] = distribution(lic[lic.name != ""])

with_claims = set(claims[claims.value_text.notna()].repo_id)
known_cards = set(cards[cards.status != "missing"].repo_id)
task = m[["repo_id", "pipeline_tag", "has_readme"]].copy()
task["claims"] = task.repo_id.isin(with_claims)
task["unknown"] = (task.has_readme.fillna(False).astype(bool) & ~task.repo_id.isin(known_cards)
                   & m.card_data.isna() & ~task.claims)
per = task.groupby("pipeline_tag", dropna=False).agg(total=("repo_id", "size"), with_claims=("claims", "sum"),
                                                      unknown=("unknown", "sum"))
by_task, other = {}, {"with_claims": 0, "total": 0, "claims_unknown": 0}
for name, row in per.iterrows():
    if pd.isna(name) or row.total < 0.001 * len(m):
        other["with_claims"] += int(row.with_claims); other["total"] += int(row.total)
        other["claims_unknown"] += int(row.unknown)
    else:
        by_task[name] = {"with_claims": int(row.with_claims), "total": int(row.total), "claims_unknown": int(row.unknown)}
by_task = dict(sorted(by_task.items(), key=lambda kv: (-kv[1]["with_claims"] / kv[1]["total"], kv[0])))
if other["total"]:
    by_task["other"] = other
out["claims_by_task"] = by_task

p = files.path.str.lower()
flags = pd.DataFrame({
    "repo_id": files.repo_id,
    "safetensors": p.str.endswith(".safetensors"),
    "pickle": p.str.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npz", ".npy")),
    "other": p.str.endswith((".onnx", ".gguf", ".ggml", ".h5", ".keras", "saved_model.pb", ".pbtxt", ".tflite",
                             ".msgpack", ".mlmodel")) | p.str.contains(".mlpackage/", regex=False),
}).groupby("repo_id").any()
f = m[["repo_id", "num_files"]].merge(flags, how="left", left_on="repo_id", right_index=True)
st, pk, ot = (f[c].fillna(False).astype(bool) for c in ("safetensors", "pickle", "other"))
out["weight_formats"] = {
    "file_list_unknown": int(f.num_files.isna().sum()), "safetensors_and_pickle": int((st & pk).sum()),
    "safetensors_only": int((st & ~pk).sum()), "pickle_only": int((pk & ~st).sum()),
    "other_formats_only": int((~pk & ~st & ot).sum()),
    "no_weight_files": int((f.num_files.notna() & ~(pk | st | ot)).sum()),
}

text_cards = cards[cards.status.isin(["ok", "no_metadata", "yaml_error", "not_a_mapping"]) & cards.repo_id.isin(ids)]
s = sections[sections.repo_id.isin(set(text_cards.repo_id))]
out["card_sections"] = {k: {"present": int(g.repo_id.nunique()), "filled": int(g[g.filled].repo_id.nunique())}
                        for k, g in s.groupby("section")}
out["documentation"] = {"hyperparameters": int(text_cards.mentions_hyperparameters.sum()),
                        "hardware": int(text_cards.mentions_hardware.sum())}

e = bases[bases.repo_id.isin(ids) & (bases.base_model != bases.repo_id)]
e = e.groupby(["repo_id", "base_model"], as_index=False).relation.max()
out["lineage_declaring"] = int(e.repo_id.nunique())
out["lineage_bases_in_snapshot"] = int(e[e.base_model.isin(ids)].base_model.nunique())
edges = e[["repo_id", "base_model"]].drop_duplicates()
chain = edges.assign(depth=1)
frontier = chain
for depth in range(2, 11):
    step = frontier.merge(edges, left_on="base_model", right_on="repo_id", suffixes=("", "_b"))
    step = step[["repo_id", "base_model_b"]].rename(columns={"base_model_b": "base_model"}).drop_duplicates()
    if step.empty:
        break
    step = step.assign(depth=depth)
    chain = pd.concat([chain, step])
    frontier = step
depth = chain.groupby("repo_id").depth.max()
out["lineage_depth"] = {int(k): int(v) for k, v in depth.value_counts().sort_index().items()}
owners = set(m.namespace.dropna())
out["organizations"] = {"organizations": len(orgs), "verified": int(orgs.is_verified.fillna(False).sum()),
                        "owning_models": int(orgs.name.isin(owners).sum())}
out["hub_scan_known"] = int(m.security_status.notna().sum())
compute = time.perf_counter() - t0
print(json.dumps({"load": load, "compute": compute, "result": out}, default=float))
'''


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
    same("lineage.depth", {int(k): v for k, v in ms["lineage"]["depth_histogram"].items()},
         {int(k): v for k, v in pandas_out["lineage_depth"].items()})
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the temporary files in this folder")
    args = parser.parse_args()

    from synthetic import write_jsonl_gz

    work = args.keep or Path(tempfile.mkdtemp(prefix="ptmscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    dump, db, parquet = work / "models.jsonl.gz", work / "store.duckdb", work / "parquet"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    if not dump.exists() or args.keep is None:
        write_jsonl_gz(dump, args.models)
    print(f"generated {args.models:,} records ({dump.stat().st_size / 1e6:,.0f} MB gzip) "
          f"in {time.perf_counter() - started:.1f} s", flush=True)

    ptmscope = [sys.executable, "-m", "ptmscope"]
    env = {**os.environ, "PTMSCOPE_DB": str(db)}
    t_import, m_import, _ = run([*ptmscope, "import", str(dump), "--snapshot", "synthetic"], env=env)
    t_study, m_study, result = run([*ptmscope, "study", "--snapshot", "synthetic", "--json"], env=env)
    study = json.loads(result.stdout)
    run([*ptmscope, "export", "--parquet", str(parquet), "--snapshot", "synthetic"], env=env)
    script = work / "pandas_study.py"
    script.write_text(PANDAS_STUDY)
    t_pandas, m_pandas, result = run([sys.executable, str(script), str(parquet)])
    pandas_out = json.loads(result.stdout)
    problems = check(study, pandas_out["result"])

    in_process_study = study["seconds"]
    print()
    print(f"models                         {args.models:>12,}")
    print(f"ptmscope import                {t_import:>10.1f} s   peak {m_import / 2**30:5.2f} GiB")
    print(f"ptmscope study (command)       {t_study:>10.1f} s   peak {m_study / 2**30:5.2f} GiB"
          f"   (measurements alone: {in_process_study:.2f} s)")
    print(f"import + study                 {t_import + t_study:>10.1f} s   target < 60 s, < 4 GiB")
    print(f"pandas load Parquet            {pandas_out['load']:>10.1f} s")
    print(f"pandas study (compute only)    {pandas_out['compute']:>10.2f} s   peak {m_pandas / 2**30:5.2f} GiB "
          f"(whole process {t_pandas:.1f} s)")
    print(f"study speed-up vs pandas       {pandas_out['compute'] / in_process_study:>10.1f}x  "
          f"(compute vs compute; target >= 5x)")
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
