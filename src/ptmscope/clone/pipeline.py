"""``ptmscope clone`` as a library function: a snapshot's repos -> bare clones + commit histories in the store.

The driver lists the snapshot's repos that have no clone yet (or whose last try failed),
submits one unit per repo to an executor (``ptmscope.executors``), paced to the
registry's rate limit, and ingests the Parquet partitions the units write, a few hundred
repos per transaction. Ingesting a repo replaces its earlier rows, and partitions are
deleted only after their rows are committed, so a run killed at any moment is continued
by running the same command again: finished clones are kept (they are complete by
construction), leftover partitions are ingested, and the rest is cloned.

Before the first clone the endpoint must accept a TCP connection (``ptmscope.hub.endpoint``,
5 s): without a network the run stops at once with ``SourceUnreachableError`` instead of
trying every repo. If the endpoint goes away mid-run, a unit that cannot connect fails without
retrying, and after ``MAX_UNREACHABLE`` such failures in a row the run stops the same way
(what finished is kept; a rerun continues).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from ptmscope.clone.reader import close_reader
from ptmscope.clone.units import PARTS_DIR, CloneTask, UnitResult, run_unit
from ptmscope.errors import CloneError, SourceUnreachableError
from ptmscope.executors import make_executor
from ptmscope.hub.endpoint import check_reachable
from ptmscope.hub.ratelimit import PLANS, WINDOW_SECONDS, Budget, Pacer
from ptmscope.progress import ProgressFn

if TYPE_CHECKING:
    from ptmscope.store.store import Snapshot, Store

MAX_UNREACHABLE = 25
"""Clones in a row that could not connect to the endpoint at all before the run stops."""


@dataclass
class CloneOptions:
    """How to clone."""

    executor: str = "local"
    """'local' (process pool) or 'dask'."""
    scheduler: Any = None
    """Dask scheduler address (or Client / cluster object) for executor 'dask'."""
    workers: int = 4
    """Local worker processes."""
    limit: int | None = None
    """Clone at most this many repos in this run."""
    retry_failed: bool = True
    """Try again repos whose earlier clone failed."""
    existing_only: bool = False
    """Clone nothing: read the histories of bare clones already under the destination (an HFTorrent copy)."""
    budget: Budget | None = None
    """The resolver budget clones are paced to (default: the anonymous plan)."""
    requests_per_clone: int = 3
    """HTTP requests one clone makes (info/refs, ls-refs, fetch), for pacing."""
    max_retries: int = 6
    timeout: float = 600.0
    """Seconds one git clone attempt may take (``--repo-timeout``)."""
    backoff: float = 1.0
    read_timeout: float | None = 600.0
    """Seconds reading one repo's history may take before its reader process is killed (``--repo-timeout``)."""
    stall_timeout: float | None = None
    """Give up when no unit has finished for this long (Dask only; None: every attempt's timeout, plus a minute)."""
    ingest_every: int = 200
    """Results ingested per transaction."""


@dataclass
class CloneReport:
    """What one run of ``clone_snapshot`` did."""

    snapshot: Snapshot
    attempted: int = 0
    cloned: int = 0
    failed: int = 0
    history_errors: int = 0
    """Repos cloned in this run whose history could not be read (broken repositories)."""
    recovered: int = 0
    """Units of an interrupted run whose partitions were ingested at start."""
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)
    """Repos ok / failed, commits and signed commits in the snapshot at the end."""


def clone_snapshot(
    store: Store,
    snapshot: Snapshot,
    dest: Path,
    *,
    endpoint: str | None,
    options: CloneOptions | None = None,
    progress: ProgressFn | None = None,
) -> CloneReport:
    """Bare-clone the snapshot's repos from ``endpoint`` into ``dest`` and store their histories.

    Args:
        store: the store holding ``snapshot``.
        snapshot: whose models to clone.
        dest: the destination folder (``<owner>/<name>.git``; ``_legacy/<name>.git`` for un-namespaced ids).
        endpoint: the hub to clone from (``{endpoint}/{repo_id}``); may be None with ``existing_only``.
        options: executor, limits, pacing.
        progress: called with ("clone", done, total).

    Raises:
        CloneError: git is missing, the destination cannot be used, or no endpoint was given.
        SourceUnreachableError: the endpoint cannot be reached (before the first clone, or
            ``MAX_UNREACHABLE`` clones in a row); what finished is kept.
    """
    options = options or CloneOptions()
    if endpoint is None and not options.existing_only:
        raise CloneError("cloning needs an endpoint (or --existing to read clones already on disk)")
    if shutil.which("git") is None and not options.existing_only:
        raise CloneError("git is not installed (it is needed to clone)")
    started = time.perf_counter()
    parts = _parts_folder(dest, snapshot)
    report = CloneReport(snapshot=snapshot)
    report.recovered = _ingest_leftovers(store, snapshot, parts)
    budget = options.budget or Budget("resolvers", PLANS["anonymous"]["resolvers"], WINDOW_SECONDS)
    pacer = Pacer(Budget("git", max(1, budget.limit // max(1, options.requests_per_clone)), budget.window))
    total = _count_pending(store, snapshot, options)
    if options.limit is not None:
        total = min(total, options.limit)
    if total and endpoint is not None and not options.existing_only:
        check_reachable(endpoint)  # no network: one line within seconds, not a retry per repo
    root = str(dest.resolve())
    base_url = endpoint.rstrip("/") if endpoint else None

    def tasks() -> Iterator[CloneTask]:
        for repo_id in _pending(store, snapshot, options):
            yield CloneTask(
                repo_id=repo_id,
                root=root,
                parts=str(parts),
                url=None if options.existing_only or base_url is None else f"{base_url}/{repo_id}",
                max_retries=options.max_retries,
                timeout=options.timeout,
                backoff=options.backoff,
                read_timeout=options.read_timeout,
            )

    def pace(task: CloneTask) -> None:
        if task.url is not None:
            pacer.acquire()
            pacer.release(None, 200)

    buffer: list[UnitResult] = []
    done = 0
    unreachable = 0
    stall = options.stall_timeout or options.timeout * (options.max_retries + 1) + (options.read_timeout or 0) + 60
    executor = make_executor(options.executor, workers=options.workers, scheduler=options.scheduler,
                             stall_timeout=stall)  # fmt: skip
    try:
        for result in executor.run(run_unit, tasks(), before_submit=pace):
            buffer.append(result)
            unreachable = unreachable + 1 if result.unreachable else 0
            if unreachable >= MAX_UNREACHABLE:
                raise SourceUnreachableError(
                    f"cannot reach {endpoint}: the last {unreachable} clones could not connect; "
                    "the clones that finished are kept"
                )
            if len(buffer) >= options.ingest_every:
                _ingest(store, snapshot, buffer, report)
                done += len(buffer)
                buffer = []
                if progress:
                    progress("clone", done, total)
    finally:
        if buffer:
            _ingest(store, snapshot, buffer, report)
            done += len(buffer)
        executor.close()
        close_reader()
    if progress:
        progress("clone", done, total)
    report.seconds = time.perf_counter() - started
    report.totals = clone_totals(store, snapshot)
    return report


def _parts_folder(dest: Path, snapshot: Snapshot) -> Path:
    """The folder the units write this snapshot's partitions to, under ``dest`` (both created)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        parts = (dest / PARTS_DIR / str(snapshot.snapshot_id)).resolve()
        parts.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CloneError(f"cannot use {dest} as the destination: {error}") from error
    return parts


def clone_totals(store: Store, snapshot: Snapshot) -> dict[str, int]:
    """Repos cloned / failed, commits and signed commits stored for a snapshot."""
    row = store.query(
        "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed'),"
        " coalesce(sum(commits), 0), coalesce(sum(signed_commits), 0),"
        " count(*) FILTER (WHERE history_error IS NOT NULL) FROM repo_clones WHERE snapshot_id = ?",
        [snapshot.snapshot_id],
    )[0]
    keys = ("repos_ok", "repos_failed", "commits", "signed_commits", "history_errors")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


_PENDING = (
    "FROM models m WHERE m.snapshot_id = $sid AND m.repo_id > $last AND NOT EXISTS (SELECT 1 FROM repo_clones r"
    " WHERE r.snapshot_id = $sid AND r.repo_id = m.repo_id AND (r.status = 'ok' OR NOT $retry))"
)


def _count_pending(store: Store, snapshot: Snapshot, options: CloneOptions) -> int:
    params = {"sid": snapshot.snapshot_id, "last": "", "retry": options.retry_failed}
    return int(store.con.execute(f"SELECT count(*) {_PENDING}", params).fetchall()[0][0])


def _pending(store: Store, snapshot: Snapshot, options: CloneOptions) -> Iterator[str]:
    """Repos still to do, in id order, read a chunk at a time (rows ingested meanwhile do not disturb it)."""
    last, given = "", 0
    while options.limit is None or given < options.limit:
        rows = store.con.execute(
            f"SELECT repo_id {_PENDING} ORDER BY repo_id LIMIT 1000",
            {"sid": snapshot.snapshot_id, "last": last, "retry": options.retry_failed},
        ).fetchall()
        if not rows:
            return
        for (repo_id,) in rows:
            if options.limit is not None and given >= options.limit:
                return
            given += 1
            yield repo_id
        last = rows[-1][0]


def _ingest(store: Store, snapshot: Snapshot, results: list[UnitResult], report: CloneReport | None) -> None:
    """Replace the rows of these repos with their partitions' rows, in one transaction; then delete the files."""
    clone_files = [f for r in results for f in r.files if "/repo_clones/" in f]
    commit_files = [f for r in results for f in r.files if "/commits/" in f]
    ids = [r.repo_id for r in results]
    con = store.con
    sid = int(snapshot.snapshot_id)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM repo_clones WHERE snapshot_id = ? AND list_contains(?, repo_id)", [sid, ids])
        con.execute("DELETE FROM commits WHERE snapshot_id = ? AND list_contains(?, repo_id)", [sid, ids])
        if commit_files:
            con.execute(f"INSERT INTO commits SELECT {sid}, * FROM read_parquet(?)", [commit_files])
        if clone_files:
            con.execute(f"INSERT INTO repo_clones SELECT {sid}, * FROM read_parquet(?)", [clone_files])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for name in (*commit_files, *clone_files):
        Path(name).unlink(missing_ok=True)
    if report is not None:
        report.attempted += len(results)
        for result in results:
            if result.status == "ok":
                report.cloned += 1
            elif result.status == "failed":
                report.failed += 1
            if result.history_error:
                report.history_errors += 1
        if report.failed:
            rows = store.query(
                "SELECT reason, count(*) FROM repo_clones WHERE snapshot_id = ? AND status = 'failed'"
                " AND list_contains(?, repo_id) GROUP BY reason",
                [sid, ids],
            )
            for reason, n in rows:
                report.reasons[str(reason)[:200]] += int(n)


def _ingest_leftovers(store: Store, snapshot: Snapshot, parts: Path) -> int:
    """Ingest the partitions an interrupted run left behind; drop commits files whose unit never finished."""
    clones = {p.stem: p for p in (parts / "repo_clones").glob("*.parquet")}
    for orphan in (parts / "commits").glob("*.parquet"):
        if orphan.stem not in clones:
            orphan.unlink(missing_ok=True)
    if not clones:
        return 0
    results = []
    for key, path in clones.items():
        try:
            repo_id = pq.read_table(path, columns=["repo_id", "status"]).to_pylist()[0]
        except (OSError, IndexError, ValueError):
            path.unlink(missing_ok=True)
            continue
        commits = parts / "commits" / f"{key}.parquet"
        files = ((str(commits),) if commits.exists() else ()) + (str(path),)
        results.append(UnitResult(repo_id["repo_id"], repo_id["status"], files))
    for start in range(0, len(results), 500):
        _ingest(store, snapshot, results[start : start + 500], None)
    return len(results)
