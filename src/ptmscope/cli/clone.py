"""``ptmscope clone``: HFTorrent-style bare clones of a snapshot's repos, and their commit histories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.text import Text

from ptmscope.cli.options import db_option, emit_json, endpoint_option, json_option, rate_limit_option, stderr_console
from ptmscope.cli.session import open_store, parse_rate_limit, resolve_snapshot, stage_progress
from ptmscope.clone.pipeline import CloneOptions, clone_snapshot
from ptmscope.hub.endpoint import check_reachable
from ptmscope.importer import default_jobs
from ptmscope.reports.safe import text
from ptmscope.sample import BUNDLES


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    default="latest",
    show_default=True,
    metavar="NAME",
    help="The snapshot whose model repos to clone ('latest': the newest).",
)
@endpoint_option
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where per-repo units run: a local process pool, or a Dask cluster (--scheduler).",
)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
@click.option("--workers", type=click.IntRange(1, 256), help="Local worker processes. Default: the CPUs.")
@click.option("--limit", type=click.IntRange(1), help="Clone at most this many repos in this run.")
@click.option("--existing", is_flag=True, help="Clone nothing: read the histories of bare clones already in DEST.")
@click.option("--no-retry", is_flag=True, help="Do not try again repos whose earlier clone failed.")
@click.option(
    "--repo-timeout",
    type=click.FloatRange(1, min_open=False),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop one git clone attempt, or reading one repo's history, after this long; the repo is recorded as "
    "failed with the reason and the run goes on.",
)
@rate_limit_option
@json_option()
@db_option
def clone(
    dest: Path,
    snapshot_name: str,
    endpoint: str,
    executor: str,
    scheduler: str | None,
    workers: int | None,
    limit: int | None,
    existing: bool,
    no_retry: bool,
    repo_timeout: float,
    rate_limit: str,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Bare-clone a snapshot's model repos into DEST and store their commit histories.

    \b
    Like the ICSE'23 HFTorrent dataset: 'git clone --bare' per repo, LFS content never
    fetched (weights stay pointers), nothing checked out or run. Each clone's history is
    read with pygit2 in a reader process: commits, authors, dates, and whether each commit carries an
    OpenPGP, SSH or X.509 signature and its key id. 'ptmscope study' then fills the Table IV
    commit-signing row. Clones are paced to the resolver budget, failures are stored with
    their reason, and a run killed at any moment continues when run again.
    The endpoint defaults to the one the snapshot was crawled from.
    DEST layout: DEST/<owner>/<name>.git (DEST/_legacy/<name>.git for un-namespaced ids).
    With --executor dask, every worker must see DEST at the same path.

    \b
    Bounds: the endpoint must accept a connection within 5 s before the first clone (no
    network: one line, exit 2); each git clone attempt and each history read is stopped
    after --repo-timeout seconds (libgit2 can loop forever on a corrupt repository).
    Exit codes: 0 every repo of this run was cloned and read; 2 some failed (how many is
    printed; finished clones are kept and the same command continues), or the endpoint or
    the store could not be used; 130 interrupted.

    \b
    Examples:
      ptmscope clone hftorrent/ --snapshot hub-2026-11
      ptmscope clone hftorrent/ --executor dask --scheduler tcp://scheduler:8786
      ptmscope clone /data/hftorrent-2022/ --existing --snapshot hub-2022-08
    """
    budgets = parse_rate_limit(rate_limit)
    ctx = click.get_current_context()
    # A crawl snapshot is cloned from where it was crawled unless --endpoint is given on the command line.
    explicit = ctx.get_parameter_source("endpoint") == click.core.ParameterSource.COMMANDLINE
    options = CloneOptions(
        executor=executor,
        scheduler=scheduler,
        workers=workers or default_jobs(),
        limit=limit,
        retry_failed=not no_retry,
        existing_only=existing,
        budget=budgets.get("resolvers"),
        timeout=repo_timeout,
        read_timeout=repo_timeout,
    )
    err = stderr_console()
    if not existing and (explicit or snapshot_name in BUNDLES):
        # the endpoint is known before the snapshot is read: no network fails now, not after a bundled import
        check_reachable(endpoint)
    with open_store(db_path) as store:
        snapshot = resolve_snapshot(store, snapshot_name)
        source = endpoint
        if not explicit and snapshot.source == "crawl" and snapshot.source_detail:
            source = snapshot.source_detail
        with stage_progress(enabled=err.is_terminal) as progress:
            report = clone_snapshot(store, snapshot, dest, endpoint=source, options=options, progress=progress)
    document = {
        "snapshot": report.snapshot.name,
        "endpoint": None if existing else source,
        "dest": str(dest),
        "seconds": round(report.seconds, 3),
        "run": {
            "attempted": report.attempted,
            "cloned": report.cloned,
            "failed": report.failed,
            "history_errors": report.history_errors,
            "recovered": report.recovered,
            "reasons": dict(report.reasons.most_common(20)),
        },
        "totals": report.totals,
    }
    if as_json:
        emit_json(document)
    else:
        _print(document)
    problem = failure_summary(document)
    if problem:
        click.echo(problem, err=True)
        ctx.exit(2)


def failure_summary(doc: dict[str, Any]) -> str | None:
    """The line that says a run did not do all it was asked (exit 2), or None when every repo succeeded."""
    run = doc["run"]
    failed, unread, attempted = run["failed"], run["history_errors"], run["attempted"]
    if not failed and not unread:
        return None
    parts = []
    if failed:
        parts.append(f"{failed:,} of {attempted:,} repos failed")
    if unread:
        parts.append(f"{unread:,} cloned repos' histories could not be read (broken repositories, stored with the "
                     "reason)")  # fmt: skip
    kept = max(run["cloned"] - unread, 0)
    retry = " (it tries the failed repos again unless --no-retry)" if failed else ""
    return (f"clone: {'; '.join(parts)}. The {kept:,} repos read in full are kept; "
            f"run the same command again to continue{retry}.")  # fmt: skip


def _print(doc: dict[str, Any]) -> None:
    console = stderr_console()
    run, totals = doc["run"], doc["totals"]
    console.print(
        Text.assemble(
            "Snapshot ",
            text(doc["snapshot"], 80, "bold cyan"),
            f": this run {run['cloned']:,} repos read, {run['failed']:,} failed, in {doc['seconds']:.1f} s. "
            f"In all: {totals['repos_ok']:,} repos, {totals['commits']:,} commits, "
            f"{totals['signed_commits']:,} signed; {totals['repos_failed']:,} failed.",
        )
    )
    for reason, n in run["reasons"].items():
        console.print(Text.assemble(f"  {n:,} × ", text(reason, 200, "yellow")))
