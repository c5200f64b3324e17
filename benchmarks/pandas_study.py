"""The study's measurements in pandas, from ``ptmscope export --parquet`` tables.

Run by benchmarks/study_scale.py: ``python pandas_study.py PARQUET_DIR`` prints JSON with
the load and compute times and the results, which study_scale.py checks against
ptmscope's own. It mirrors the SQL of src/ptmscope/studies/measurements.py, written as a
careful pandas user would (vectorised, no Python loops over rows).
"""

from __future__ import annotations

import _paths  # noqa: F401 - first of all: keeps benchmarks/select.py from shadowing the stdlib

# isort: split
import json
import math
import sys
import time

import pandas as pd

TOP = 10
TEXT_STATUSES = ["ok", "no_metadata", "yaml_error", "not_a_mapping"]
PICKLE = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npz", ".npy")
OTHER = (".onnx", ".gguf", ".ggml", ".h5", ".keras", "saved_model.pb", ".pbtxt", ".tflite", ".msgpack", ".mlmodel")


def load(folder: str) -> dict[str, pd.DataFrame]:
    def read(name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(f"{folder}/{name}.parquet", columns=columns)

    model_columns = ["repo_id", "namespace", "downloads", "last_modified", "has_readme", "pipeline_tag",
                     "card_data", "model_type", "num_files", "security_status"]  # fmt: skip
    return {
        "models": read("models", model_columns),
        "files": read("model_files", ["repo_id", "path"]),
        "datasets": read("model_datasets", ["repo_id", "dataset"]),
        "licenses": read("model_licenses", ["repo_id", "license"]),
        "bases": read("base_models", ["repo_id", "base_model", "relation"]),
        "claims": read("claims", ["repo_id", "status"]),
        "cards": read("cards"),
        "card_results": read("card_results", ["repo_id"]),
        "sections": read("card_sections", ["repo_id", "section", "filled"]),
        "orgs": read("organizations", ["name", "is_verified", "kind"]),
        "registry": read("registry_downloads", ["registry", "downloads"]),
    }


def concentration(values: pd.Series) -> tuple[float | None, float | None]:
    d = values.dropna().sort_values(ascending=False).reset_index(drop=True)
    n, total = len(d), d.sum()
    if not n or not total:
        return None, None
    top1 = d.iloc[: max(1, math.ceil(n * 0.01))].sum() / total
    top10 = d.iloc[: max(1, math.ceil(n * 0.10))].sum() / total
    return float(top1), float(top10)


def distribution(pairs: pd.DataFrame, ids: pd.Series, models: int) -> dict:
    pairs = pairs[pairs.repo_id.isin(ids)].drop_duplicates()
    counts = pairs.groupby("name").size().reset_index(name="models")
    counts = counts.sort_values(["models", "name"], ascending=[False, True]).head(TOP)
    declaring = pairs.repo_id.nunique()
    in_top = pairs[pairs.name.isin(counts.name)].repo_id.nunique()
    return {
        "counts": dict(zip(counts.name, counts.models.astype(int).tolist(), strict=True)),
        "other": int(declaring - in_top),
        "none": int(models - declaring),
        "declaring": int(declaring),
    }


def claims_by_task(t: dict[str, pd.DataFrame]) -> dict:
    m, claims, cards = t["models"], t["claims"], t["cards"]
    with_claims = claims[claims.status == "valid"].repo_id.unique()  # the strict definition
    known_cards = cards[cards.status != "missing"].repo_id.unique()
    task = m[["repo_id", "pipeline_tag", "has_readme"]].copy()
    task["claims"] = task.repo_id.isin(with_claims)
    task["text_only"] = task.repo_id.isin(t["card_results"].repo_id) & ~task.claims
    task["unknown"] = (
        task.has_readme.fillna(False).astype(bool) & ~task.repo_id.isin(known_cards) & m.card_data.isna() & ~task.claims
    )
    per = task.groupby("pipeline_tag", dropna=False).agg(
        total=("repo_id", "size"),
        with_claims=("claims", "sum"),
        unknown=("unknown", "sum"),
        text_only=("text_only", "sum"),
    )
    by_task, other = {}, {"with_claims": 0, "total": 0, "claims_unknown": 0, "text_only": 0}
    for name, row in per.iterrows():  # one row per task: a few dozen
        values = {"with_claims": int(row.with_claims), "total": int(row.total), "claims_unknown": int(row.unknown),
                  "text_only": int(row.text_only)}  # fmt: skip
        if row.with_claims < 0.001 * row.total:  # the paper's rule: under 0.1% of the task's models claim
            for key in other:
                other[key] += values[key]
        else:
            by_task["none" if pd.isna(name) else name] = values
    ordered = dict(sorted(by_task.items(), key=lambda kv: (-kv[1]["with_claims"] / kv[1]["total"], kv[0])))
    if other["total"]:
        ordered["other"] = other
    return ordered


def weight_formats(t: dict[str, pd.DataFrame]) -> dict:
    files, m = t["files"], t["models"]
    p = files.path.str.lower()
    flags = (
        pd.DataFrame(
            {
                "repo_id": files.repo_id,
                "safetensors": p.str.endswith(".safetensors"),
                "pickle": p.str.endswith(PICKLE),
                "other": p.str.endswith(OTHER) | p.str.contains(".mlpackage/", regex=False),
            }
        )
        .groupby("repo_id")
        .any()
    )
    f = m[["repo_id", "num_files"]].merge(flags, how="left", left_on="repo_id", right_index=True)
    st, pk, ot = (f[c].fillna(False).astype(bool) for c in ("safetensors", "pickle", "other"))
    return {
        "file_list_unknown": int(f.num_files.isna().sum()),
        "safetensors_and_pickle": int((st & pk).sum()),
        "safetensors_only": int((st & ~pk).sum()),
        "pickle_only": int((pk & ~st).sum()),
        "other_formats_only": int((~pk & ~st & ot).sum()),
        "no_weight_files": int((f.num_files.notna() & ~(pk | st | ot)).sum()),
    }


def lineage(t: dict[str, pd.DataFrame], ids: pd.Series) -> dict:
    b = t["bases"]
    e = b[b.repo_id.isin(ids) & (b.base_model != b.repo_id)]
    e = e.groupby(["repo_id", "base_model"], as_index=False).relation.max()
    edges = e[["repo_id", "base_model"]].drop_duplicates()
    chain = frontier = edges.assign(depth=1)
    for depth in range(2, 11):
        step = frontier.merge(edges, left_on="base_model", right_on="repo_id", suffixes=("", "_b"))
        step = step[["repo_id", "base_model_b"]].rename(columns={"base_model_b": "base_model"}).drop_duplicates()
        if step.empty:
            break
        frontier = step.assign(depth=depth)
        chain = pd.concat([chain, frontier])
    depths = chain.groupby("repo_id").depth.max().value_counts().sort_index()
    return {
        "lineage_declaring": int(e.repo_id.nunique()),
        "lineage_bases_in_snapshot": int(e[e.base_model.isin(ids)].base_model.nunique()),
        "lineage_depth": {int(k): int(v) for k, v in depths.items()},
    }


def study(t: dict[str, pd.DataFrame]) -> dict:
    m = t["models"]
    ids = m.repo_id
    out: dict = {"models": len(m), "with_readme": int(m.has_readme.sum())}
    out["top1pct_download_share"], out["top10pct_download_share"] = concentration(m.downloads)
    ranked = m.dropna(subset=["downloads"]).sort_values(["downloads", "repo_id"], ascending=[False, True])
    out["top100"] = ranked.head(100).repo_id.tolist()
    out["registries"] = {r: concentration(g.downloads) for r, g in t["registry"].groupby("registry")}
    d = t["datasets"].assign(name=t["datasets"].dataset.str.strip())[["repo_id", "name"]]
    out["datasets"] = distribution(d[d.name != ""], ids, len(m))
    arch = m[["repo_id", "model_type"]].dropna().rename(columns={"model_type": "name"})
    out["architectures"] = distribution(arch, ids, len(m))
    lic = t["licenses"].assign(name=t["licenses"].license.str.strip().str.lower())[["repo_id", "name"]]
    out["licenses"] = distribution(lic[lic.name != ""], ids, len(m))
    out["claims_by_task"] = claims_by_task(t)
    out["weight_formats"] = weight_formats(t)
    cards = t["cards"]
    text_cards = cards[cards.status.isin(TEXT_STATUSES) & cards.repo_id.isin(ids)]
    s = t["sections"][t["sections"].repo_id.isin(text_cards.repo_id)]
    out["card_sections"] = {
        k: {"present": int(g.repo_id.nunique()), "filled": int(g[g.filled].repo_id.nunique())}
        for k, g in s.groupby("section")
    }
    out["documentation"] = {
        "hyperparameters": int(text_cards.mentions_hyperparameters.sum()),
        "hardware": int(text_cards.mentions_hardware.sum()),
    }
    out.update(lineage(t, ids))
    orgs = t["orgs"]
    out["organizations"] = {
        "organizations": len(orgs),
        "verified": int(orgs.is_verified.fillna(False).astype(bool).sum()),
        "owning_models": int(orgs.name.isin(m.namespace.dropna()).sum()),
    }
    out["hub_scan_known"] = int(m.security_status.notna().sum())
    return out


def main() -> None:
    started = time.perf_counter()
    tables = load(sys.argv[1])
    loaded = time.perf_counter()
    result = study(tables)
    computed = time.perf_counter()
    print(json.dumps({"load": loaded - started, "compute": computed - loaded, "result": result}, default=float))


if __name__ == "__main__":
    main()
