"""``ptmscope audit``: a model's reuse report card, or every model of a snapshot."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ptmscope.audits.gate import Gates, gate_failures, parse_gates
from ptmscope.audits.run import ModelAudit, audit_model
from ptmscope.audits.snapshot import AUTO_CONTEXT, AuditRun, audit_snapshot, run_summary
from ptmscope.checks import CHECKS
from ptmscope.cli.options import (
    db_option,
    emit_json,
    endpoint_option,
    json_option,
    snapshot_option,
    stderr_console,
    token_option,
)
from ptmscope.cli.session import judging_snapshot, open_store, resolve_snapshot
from ptmscope.reports.audit_html import write_audit_html
from ptmscope.reports.audit_json import SCHEMA, audit_document
from ptmscope.reports.audit_terminal import print_audit
from ptmscope.reports.badges import write_badges
from ptmscope.reports.cyclonedx import audit_bom
from ptmscope.reports.sarif import audit_sarif
from ptmscope.sample import BUNDLES
from ptmscope.scores.policy import Weights, load_weights
from ptmscope.store.store import default_db_path

# Options that only make sense for one model: `audit --all` refuses them rather than ignoring them.
_ONE_MODEL_ONLY = {"repo_id": "--repo-id", "endpoint": "--endpoint", "token": "--token", "offline": "--offline",
                   "scan": "--scan/--no-scan", "explain": "--explain", "html_file": "--html", "sarif_file": "--sarif",
                   "bom_file": "--cyclonedx", "badges_dir": "--badges", "fail_under": "--fail-under"}  # fmt: skip


@click.command()
@click.argument("model", required=False)
@click.option("--all", "audit_all", is_flag=True, help="Audit every model of the snapshot into the store.")
@snapshot_option(
    "The snapshot to look MODEL up in and to judge it against (popularity, lineage, names). Default: the "
    "newest complete snapshot of the whole registry (not an unfinished, --limit or filtered crawl, nor a sample); "
    "'latest': the newest of any kind. The report names it, and warns when it is partial or under 10,000 models."
)
@click.option("--repo-id", metavar="ID", help="The repo id of a local model folder (default: the folder name).")
@endpoint_option
@token_option
@click.option("--offline", is_flag=True, help="Never contact a Hub: audit only what the store and local files hold.")
@click.option(
    "--scan/--no-scan",
    default=None,
    help="Statically scan the model files (default: yes for local folders, no for Hub models).",
)
@click.option(
    "--weights",
    "weights_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file overriding check weights (see src/ptmscope/data/weights.yaml).",
)
@click.option(
    "--fail-under",
    "fail_under",
    multiple=True,
    metavar="[ATTR=]SCORE",
    help="Exit 1 when a score is under SCORE (0-10): a bare SCORE gates every conclusive attribute, ATTR=SCORE one "
    "attribute, which must then be conclusive (repeatable, e.g. --fail-under 4 --fail-under security=7).",
)
@click.option("--explain", is_flag=True, help="List every point gained or lost, with evidence and remediation.")
@json_option(SCHEMA)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report card.",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the findings as SARIF 2.1.0 ('-' for stdout).",
)
@click.option(
    "--cyclonedx",
    "bom_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a CycloneDX 1.6 ML-BOM (JSON) of the model ('-' for stdout).",
)
@click.option(
    "--badges",
    "badges_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one SVG badge per attribute into this folder.",
)
@db_option
def audit(
    model: str | None,
    audit_all: bool,
    snapshot_name: str | None,
    repo_id: str | None,
    endpoint: str | None,
    token: str | None,
    offline: bool,
    scan: bool | None,
    weights_file: Path | None,
    fail_under: tuple[str, ...],
    explain: bool,
    as_json: bool,
    html_file: Path | None,
    sarif_file: Path | None,
    bom_file: Path | None,
    badges_dir: Path | None,
    db_path: Path | None,
) -> None:
    """Audit a model for reuse: provenance, reproducibility, portability, documentation,
    popularity, maintenance and security, each scored 0-10 from explained findings.

    \b
    MODEL is a repo id (looked up in the snapshot, else fetched from the Hub), a local
    model folder, or a Hugging Face cache folder (models--owner--name). Nothing in the
    model is loaded or run; files are read statically.

    \b
    Examples:
      ptmscope audit dslim/bert-base-NER --snapshot hub-2022-02
      ptmscope audit ./my-model --repo-id me/my-model --explain
      ptmscope audit ~/.cache/huggingface/hub/models--bert-base-uncased --json
      ptmscope audit org/model --endpoint http://127.0.0.1:8080 --sarif audit.sarif --cyclonedx bom.json
      ptmscope audit org/model --fail-under 4 --fail-under security=7   # a CI gate: exit 1 when under
      ptmscope audit --all --snapshot hub-2022-02       # score every model into the store

    \b
    Exit codes: 0 audited (and not under --fail-under); 1 a score is under --fail-under;
    2 usage error, the model or snapshot not found, the Hub unreachable (checked within 5 s,
    one line), or a store error; 130 interrupted.
    """
    ctx = click.get_current_context()
    gates = parse_fail_under(fail_under)
    weights = load_weights(weights_file, known=set(CHECKS))
    if audit_all:
        if model:
            raise click.UsageError("give either MODEL or --all, not both")
        given = [flag for name, flag in _ONE_MODEL_ONLY.items()
                 if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]  # fmt: skip
        if given:
            raise click.UsageError(f"{', '.join(given)} apply to one MODEL; --all scores every model into the store "
                                   "(--json for its summary; 'study' and 'select' read the scores)")  # fmt: skip
        _audit_all(db_path, snapshot_name, weights, as_json)
        return
    if not model:
        raise click.UsageError("give a MODEL to audit (a repo id or a folder), or --all")
    if snapshot_name in BUNDLES:  # a bundled snapshot is imported on first use, as study does
        with open_store(db_path) as store:
            resolve_snapshot(store, snapshot_name)
    err = stderr_console()
    with err.status("Auditing...", spinner="dots") if err.is_terminal else nullcontext():
        result = audit_model(model, db_path=db_path or default_db_path(), context=snapshot_name or AUTO_CONTEXT,
                             repo_id=repo_id, endpoint=endpoint, offline=offline, weights=weights, scan=scan,
                             token=token)  # fmt: skip
    document = audit_document(result)
    _print_notes(result, document, err)
    failures = gate_failures(document["scores"], gates) if gates else []
    if gates:
        document["gate"] = {"fail_under": {k or "*": v for k, v in gates.items()}, "failed": failures}
    _write_reports(document, result, html_file, sarif_file, bom_file, badges_dir, err, endpoint)
    if as_json:
        emit_json(document)
    elif "-" not in (str(sarif_file), str(bom_file)):  # stdout is taken by a report written to '-'
        print_audit(document, explain=explain)
    if failures:
        click.echo(f"audit: under --fail-under: {'; '.join(failures)}", err=True)
        ctx.exit(1)


def parse_fail_under(values: tuple[str, ...]) -> Gates:
    """``--fail-under`` values as gates, or a usage error naming the option."""
    try:
        return parse_gates(values)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--fail-under") from None


def _print_notes(result: ModelAudit, document: dict[str, Any], err: Console) -> None:
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False)
    if result.context is None:
        err.print("note: judged alone (the store has no snapshot to judge popularity, lineage and names against)")
        return
    for warning in document["context"].get("warnings", []):
        err.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")


def _write_reports(document: dict[str, Any], result: ModelAudit, html_file: Path | None, sarif_file: Path | None,
                   bom_file: Path | None, badges_dir: Path | None, err: Console,
                   endpoint: str | None = None) -> None:  # fmt: skip
    """The report files asked for: HTML, SARIF, CycloneDX ('-': stdout) and badges."""
    if html_file is not None:
        write_audit_html(document, html_file)
        err.print(f"Wrote {html_file}")
    if sarif_file is not None:
        _write_text(json.dumps(audit_sarif(document), indent=2, ensure_ascii=False), sarif_file, err)
    if bom_file is not None:
        hub = endpoint if result.target.kind == "hub" else None  # a mirror is named in the purl
        _write_text(audit_bom(document, result, endpoint=hub), bom_file, err)
    if badges_dir is not None:
        written = write_badges(document, badges_dir)
        err.print(f"Wrote {len(written)} badges into {badges_dir}")


def _write_text(content: str, target: Path, err: Console) -> None:
    if str(target) == "-":
        sys.stdout.write(content + "\n")
        return
    target.write_text(content, encoding="utf-8")
    err.print(f"Wrote {target}")


def _audit_all(db_path: Path | None, snapshot_name: str | None, weights: Weights, as_json: bool) -> None:
    err = stderr_console()
    with open_store(db_path) as store:
        info = judging_snapshot(store, snapshot_name, err)
        snapshot = info.snapshot
        with err.status(f"Auditing every model of {snapshot.name}...") if err.is_terminal else nullcontext():
            run = audit_snapshot(store, snapshot, weights=weights)
        summary = run_summary(store, run)
    document = {
        "schema": "ptmscope.audit-run/1",
        "run_id": run.run_id,
        "snapshot": snapshot.name,
        "context": info.as_json(),
        "models": run.models,
        "findings": summary["findings"],
        "seconds": round(run.seconds, 2),
        "models_per_second": round(run.models / run.seconds) if run.seconds else None,
        "scores": summary["scores"],
    }
    if as_json:
        emit_json(document)
        return
    Console().print(_run_table(run, document))


def _run_table(run: AuditRun, document: dict[str, Any]) -> Table:
    rate = f"{document['models_per_second']:,} models/s"
    title = f"audit run {run.run_id}: {run.models:,} models of {run.snapshot.name} in {run.seconds:.1f} s ({rate})"
    table = Table(title=title, title_justify="left")
    for name, justify in (("attribute", "left"), ("mean", "right"), ("median", "right"), ("inconclusive", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for attribute, values in document["scores"].items():
        mean, median = values["mean"], values["median"]
        table.add_row(attribute, "–" if mean is None else f"{mean:.2f}", "–" if median is None else f"{median:.2f}",
                      f"{values['inconclusive']:,}")  # fmt: skip
    return table
