"""``ptmscope select``: rank a snapshot's models against your requirements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ptmscope.audits.snapshot import audit_snapshot
from ptmscope.cli.options import db_option, emit_json, json_option, snapshot_option, stderr_console
from ptmscope.cli.session import judging_snapshot, open_store
from ptmscope.reports.select_json import SCHEMA, selection_document
from ptmscope.reports.select_terminal import print_selection
from ptmscope.selection import requirements as reqs
from ptmscope.selection.engine import latest_run
from ptmscope.selection.engine import select as run_select

__all__ = ["SCHEMA", "select", "selection_document"]  # selection_document moved to ptmscope.reports.select_json


def _kv(values: tuple[str, ...], name: str) -> dict[str, float]:
    out = {}
    for value in values:
        key, sep, number = value.partition("=")
        try:
            out[key.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r}: expected ATTRIBUTE=NUMBER", param_hint=name) from None
        if not sep:
            raise click.BadParameter(f"{value!r}: expected ATTRIBUTE=NUMBER", param_hint=name)
    return out


@click.command("select", short_help="Find the models that meet your requirements and rank them, explaining both.")
@snapshot_option(
    "The snapshot to select from. Default: the newest complete snapshot of the whole registry (not an "
    "unfinished, --limit or filtered crawl, nor a sample); 'latest': the newest of any kind. It is named on stderr "
    "and in the JSON, with a warning when it is partial or under 10,000 models."
)
@click.option(
    "--requirements",
    "-r",
    "requirements_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of requirements (see docs/select.md); options below override it.",
)
@click.option("--task", metavar="TASK", help="Pipeline task, e.g. text-classification.")
@click.option(
    "--license",
    "license_",
    metavar="POLICY",
    help="permissive | commercial | non-commercial | any, or a comma-separated list of licence ids.",
)
@click.option("--max-params", type=int, metavar="N", help="At most N parameters.")
@click.option("--max-memory", type=float, metavar="GB", help="Weights must fit in GB at --dtype.")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16", "int8", "int4"]), help="For --max-memory (fp16).")
@click.option("--allow-unknown-size", is_flag=True, default=None, help="Keep models whose size is unknown.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FMT",
    help="Required weight format (repeatable): safetensors onnx gguf tflite coreml pytorch tensorflow flax.",
)
@click.option("--framework", "frameworks", multiple=True, metavar="FW", help="Any of these frameworks (repeatable).")
@click.option("--language", "languages", multiple=True, metavar="LANG", help="Any of these languages (repeatable).")
@click.option("--dataset", "datasets", multiple=True, metavar="DS", help="Trained on any of these (repeatable).")
@click.option("--claim", metavar="DATASET:METRIC", help="Must claim METRIC on DATASET in its model-index.")
@click.option("--min-claim", type=float, metavar="X", help="... with a value of at least X.")
@click.option("--min-score", multiple=True, metavar="ATTR=N", help="Minimum audit score, e.g. security=6 (repeatable).")
@click.option(
    "--exclude-unsafe",
    is_flag=True,
    default=None,
    help="Exclude models with flagged files (ptmscope's stored scans or the Hub's) and unscanned pickle-only weights.",
)
@click.option("--verified-owner", is_flag=True, default=None, help="Only models of verified organizations.")
@click.option("--rank-weight", multiple=True, metavar="COMP=W", help="Override a ranking weight, e.g. claim=5.")
@click.option("--top", type=click.IntRange(1, 10_000), help="Shortlist length (10).")
@click.option("--explain", is_flag=True, help="Also list every excluded candidate and the rule that excluded it.")
@json_option(SCHEMA)
@db_option
def select(snapshot_name: str | None, requirements_file: Path | None, task: str | None, license_: str | None,
           max_params: int | None, max_memory: float | None, dtype: str | None, allow_unknown_size: bool | None,
           formats: tuple[str, ...], frameworks: tuple[str, ...], languages: tuple[str, ...],
           datasets: tuple[str, ...], claim: str | None, min_claim: float | None, min_score: tuple[str, ...],
           exclude_unsafe: bool | None, verified_owner: bool | None, rank_weight: tuple[str, ...], top: int | None,
           explain: bool, as_json: bool, db_path: Path | None) -> None:  # fmt: skip
    """Find the models that meet your requirements and rank them, explaining both (paper Fig. 4).

    \b
    Filters the snapshot's models by task, licence policy, size, weight formats, frameworks,
    languages, training datasets, a claimed result on your dataset, minimum audit scores,
    unsafe files and owner verification, then ranks what is left by download percentile
    within the task, the claimed metric, and the audit's attribute scores (weights in
    src/ptmscope/data/select.yaml). Audit scores come from the snapshot's latest
    `ptmscope audit --all` run, which select runs first when there is none.

    \b
    Examples:
      ptmscope select --task text-classification --license permissive --format safetensors
      ptmscope select -r needs.yaml --explain
      ptmscope select --task token-classification --claim conll2003:f1 --min-claim 0.9 --json
      ptmscope select --task fill-mask --max-memory 1 --dtype fp16 --min-score security=7

    \b
    Exit codes: 0 a shortlist was made (it may be empty); 2 usage error, no such snapshot,
    or a store error; 130 interrupted.
    """
    overrides: dict[str, Any] = {
        "task": task, "license": license_, "max_parameters": max_params, "max_memory_gb": max_memory, "dtype": dtype,
        "allow_unknown_size": allow_unknown_size, "formats": list(formats), "frameworks": list(frameworks),
        "languages": list(languages), "datasets": list(datasets), "min_scores": _kv(min_score, "--min-score"),
        "exclude_unsafe": exclude_unsafe, "verified_owner": verified_owner, "top": top,
        "rank_weights": _kv(rank_weight, "--rank-weight"),
    }  # fmt: skip
    if claim:
        dataset, _, metric = claim.partition(":")
        if not metric:
            raise click.BadParameter("expected DATASET:METRIC", param_hint="--claim")
        overrides["claim"] = {"dataset": dataset, "metric": metric, "min": min_claim}
    elif min_claim is not None:
        raise click.UsageError("--min-claim needs --claim")
    requirements = reqs.load(requirements_file, overrides)
    err = stderr_console()
    with open_store(db_path) as store:
        info = judging_snapshot(store, snapshot_name, err)
        snapshot = info.snapshot
        run_id = latest_run(store, snapshot)
        if run_id is None:
            err.print(f"No audit run for {snapshot.name} yet: auditing every model first (once)...")
            run_id = audit_snapshot(store, snapshot).run_id
        result = run_select(store, snapshot, requirements, run_id=run_id, explain=explain)
    document = selection_document(result)
    document["context"] = info.as_json()
    if as_json:
        emit_json(document)
        return
    print_selection(document, explain=explain)
