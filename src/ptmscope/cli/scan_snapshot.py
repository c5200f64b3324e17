"""``ptmscope scan --snapshot NAME``: every model repo of a snapshot, scanned over HTTP ranges into the store.

Imported by ``ptmscope.cli.scan`` only when ``--snapshot`` is given, so a scan of local files (a
pre-commit hook) never loads the store. The work is one library call
(``ptmscope.filescans.pipeline.scan_snapshot``); this module formats it and picks the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import orjson
from rich.text import Text

from ptmscope import __version__
from ptmscope.cli.options import emit_json, stderr_console
from ptmscope.cli.session import open_store, parse_rate_limit, resolve_snapshot, stage_progress
from ptmscope.filescans.pipeline import FileScanOptions, scan_snapshot
from ptmscope.hub.client import token_for
from ptmscope.importer import default_jobs
from ptmscope.reports.safe import text
from ptmscope.scanners.interface import SEVERITIES, FailOn, ScanOptions


@dataclass(frozen=True)
class SnapshotScanArgs:
    """The command line of a registry scan, as the scan command parsed it."""

    snapshot: str
    db_path: Path | None
    endpoint: str
    endpoint_given: bool
    token: str | None
    fmt: str
    fail_on: FailOn
    output: Path | None
    scan: ScanOptions
    task: str | None
    min_downloads: int | None
    limit: int | None
    byte_budget: int
    executor: str
    scheduler: str | None
    workers: int | None
    rate_limit: str
    parts: Path | None


def run(ctx: click.Context, args: SnapshotScanArgs) -> None:
    """Scan the snapshot's repos, print the summary (text or JSON), and exit 0, 1 (flagged) or 2 (failures)."""
    if args.fmt == "sarif":
        raise click.UsageError("--snapshot writes to the store; use --format text or json (SARIF is per file: "
                               "scan a repo or a folder for it)")  # fmt: skip
    budgets = parse_rate_limit(args.rate_limit)
    with open_store(args.db_path) as store:
        snapshot = resolve_snapshot(store, args.snapshot)
        endpoint = args.endpoint
        if not args.endpoint_given and snapshot.source == "crawl" and snapshot.source_detail:
            endpoint = snapshot.source_detail  # scanned where it was crawled, unless --endpoint says otherwise
        token = token_for(endpoint, args.token)
        options = FileScanOptions(
            executor=args.executor,
            scheduler=args.scheduler,
            workers=args.workers or default_jobs(),
            limit=args.limit,
            task=args.task,
            min_downloads=args.min_downloads,
            budget_bytes=args.byte_budget,
            rate=budgets.get("resolvers"),
            scan=args.scan,
            headers=_headers(token),
            token=token or False,
            parts=args.parts,
        )
        with stage_progress(enabled=stderr_console().is_terminal) as progress:
            report = scan_snapshot(store, snapshot, endpoint=endpoint, options=options, progress=progress)
    document = {
        "snapshot": report.snapshot.name,
        "endpoint": endpoint,
        "seconds": round(report.seconds, 3),
        "run": {
            "repos": report.attempted,
            "repos_ok": report.ok,
            "repos_failed": report.failed,
            "files_scanned": report.files_scanned,
            "files_reused": report.files_reused,
            "files_failed": report.files_failed,
            "requests": report.requests,
            "recovered": report.recovered,
            "reasons": dict(report.reasons.most_common(20)),
        },
        "totals": report.totals,
    }
    _emit(document, args)
    flagged = _flagged(report.totals, args.fail_on)
    if flagged:
        click.echo(f"scan: {flagged:,} files of the snapshot's scanned repos have findings at '{args.fail_on}' "
                   "or worse (see 'ptmscope study' Table IV, or the file_scans table)", err=True)  # fmt: skip
        ctx.exit(1)
    if report.failed:
        click.echo(f"scan: {report.failed:,} of {report.attempted:,} repos failed (stored with the reason); "
                   "run the same command again to try them again", err=True)  # fmt: skip
        ctx.exit(2)
    ctx.exit(0)


def _headers(token: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"ptmscope/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _flagged(totals: dict[str, Any], fail_on: FailOn) -> int:
    """Files at or above ``fail_on`` among the snapshot's covered files (unparseable includes budget-bound ones)."""
    floor = SEVERITIES.index(fail_on)
    return sum(
        n for verdict, n in totals["files"].items() if verdict in SEVERITIES and SEVERITIES.index(verdict) >= floor
    )


def _emit(document: dict[str, Any], args: SnapshotScanArgs) -> None:
    if args.fmt == "json":
        if args.output is not None:
            args.output.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            emit_json(document)
        return
    console = stderr_console()
    run, totals = document["run"], document["totals"]
    console.print(
        Text.assemble(
            "Snapshot ",
            text(document["snapshot"], 80, "bold cyan"),
            f": this run {run['repos_ok']:,} repos scanned, {run['repos_failed']:,} failed, "
            f"{run['files_scanned']:,} files read ({run['files_reused']:,} verdicts reused) in "
            f"{document['seconds']:.1f} s. In all: {totals['repos_ok']:,} repos, "
            f"{totals['repos_flagged']:,} with flagged files.",
        )
    )
    for verdict, n in totals["files"].items():
        console.print(f"  {verdict:12} {n:,} files")
    for fmt, row in totals["formats"].items():
        share = row["bytes_read"] / row["bytes_total"] if row["bytes_total"] else 0.0
        console.print(Text.assemble("  ", text(fmt, 40), f": {row['files']:,} files, read {share:.3%} of their bytes"))
    for reason, n in run["reasons"].items():
        console.print(Text.assemble(f"  {n:,} × ", text(reason, 200, "yellow")))
