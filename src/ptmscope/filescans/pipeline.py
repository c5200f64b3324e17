"""``ptmscope scan --snapshot`` as a library function: every model repo of a snapshot, scanned remotely.

The driver picks the snapshot's repos that this snapshot's runs have not covered yet (filtered
by task and downloads, the most downloaded first), gives each unit its file list (from the
snapshot's ``model_files``; a repo without one is listed with the Hub's tree API by its unit)
and the (path, oid) pairs already scanned (a blob is read once, whichever run or snapshot), and
submits one unit per repo to an executor (``ptmscope.executors``: a local process pool, or
Dask). Submissions are paced to the resolver budget: each file opened is one resolve request;
the range reads that follow go to the redirect target (the CDN), which the Hub does not count.

Units write Parquet partitions that the driver ingests a few hundred repos per transaction;
partitions are deleted only after their rows are committed, so a run killed at any moment
(SIGKILL included) is continued by running the same command again: leftover partitions are
ingested first, and a repo is done only once its ``file_scan_repos`` row is stored.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow.parquet as pq

from ptmscope import __version__
from ptmscope.errors import FileScanError
from ptmscope.executors import make_executor
from ptmscope.filescans.units import FileEntry, ScanTask, UnitResult, partition_key, run_unit
from ptmscope.hub.endpoint import check_reachable
from ptmscope.hub.ratelimit import PLANS, WINDOW_SECONDS, Budget, Pacer
from ptmscope.progress import ProgressFn
from ptmscope.scanners.hub import wants
from ptmscope.scanners.interface import ScanOptions
from ptmscope.scanners.remote import DEFAULT_BUDGET
from ptmscope.store.derived import SNAPSHOT_FILE_SCANS_SQL

if TYPE_CHECKING:
    from ptmscope.store.store import Snapshot, Store

PARTS_SUFFIX = ".scan-parts"
"""Units' partitions go to ``<store file>.scan-parts/<snapshot id>/`` unless ``--parts`` says otherwise."""
PARTS_DIR = "ptmscope-scan-parts"
"""The folder under the system's temporary folder for an in-memory store's partitions."""


@dataclass
class FileScanOptions:
    """Which repos to scan, how, and where."""

    executor: str = "local"
    """'local' (process pool) or 'dask'."""
    scheduler: Any = None
    """Dask scheduler address (or Client / cluster object) for executor 'dask'."""
    workers: int = 4
    limit: int | None = None
    """Scan at most this many repos in this run (the most downloaded first)."""
    task: str | None = None
    """Only models with this pipeline tag."""
    min_downloads: int | None = None
    budget_bytes: int = DEFAULT_BUDGET
    rate: Budget | None = None
    """The resolver budget file opens are paced to (default: the anonymous plan)."""
    scan: ScanOptions = field(default_factory=ScanOptions)
    headers: dict[str, str] = field(default_factory=dict)
    token: str | bool = False
    retry_failed: bool = True
    """Scan again repos whose earlier try in this snapshot failed."""
    parts: Path | None = None
    """Where units write partitions (default: beside the store); every Dask worker must see it."""
    ingest_every: int = 200
    stall_timeout: float | None = 900.0


@dataclass
class FileScanReport:
    """What one run of ``scan_snapshot`` did, and where the snapshot stands."""

    snapshot: Snapshot
    attempted: int = 0
    ok: int = 0
    failed: int = 0
    files_scanned: int = 0
    files_reused: int = 0
    files_failed: int = 0
    requests: int = 0
    recovered: int = 0
    """Units of an interrupted run whose partitions were ingested at start."""
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    totals: dict[str, Any] = field(default_factory=dict)


def scan_snapshot(
    store: Store,
    snapshot: Snapshot,
    *,
    endpoint: str,
    options: FileScanOptions | None = None,
    progress: ProgressFn | None = None,
) -> FileScanReport:
    """Scan the model files of a snapshot's repos over HTTP ranges and store the verdicts.

    Raises:
        FileScanError: the parts folder cannot be used.
        SourceUnreachableError: the endpoint does not accept a connection (checked before the first repo).
        ExecutorError: Dask is missing, or no unit finished within the stall timeout.
    """
    options = options or FileScanOptions()
    started = time.perf_counter()
    parts = _parts_folder(store, snapshot, options)
    report = FileScanReport(snapshot=snapshot)
    report.recovered = _ingest_leftovers(store, snapshot, parts)
    pending = _pending(store, snapshot, options)
    total = len(pending)
    if total:
        check_reachable(endpoint)  # no network: one line within seconds, not a failure per repo
    budget = options.rate or Budget("resolvers", PLANS["anonymous"]["resolvers"], WINDOW_SECONDS)
    pacer = Pacer(budget)

    def pace(task: ScanTask) -> None:
        opens = (
            1
            if task.files is None
            else sum(1 for f in task.files if f.oid is None or (f.path, f.oid) not in task.known)
        )
        for _ in range(max(1, opens)):
            pacer.acquire()
            pacer.release(None, 200)

    buffer: list[UnitResult] = []
    done = 0
    executor = make_executor(options.executor, workers=options.workers, scheduler=options.scheduler,
                             stall_timeout=options.stall_timeout)  # fmt: skip
    try:
        for result in executor.run(run_unit, _tasks(store, snapshot, pending, endpoint, parts, options), pace):
            buffer.append(result)
            if len(buffer) >= options.ingest_every:
                _ingest(store, snapshot, buffer, report)
                done += len(buffer)
                buffer = []
                if progress:
                    progress("scan", done, total)
    finally:
        if buffer:
            _ingest(store, snapshot, buffer, report)
            done += len(buffer)
        executor.close()
    if progress:
        progress("scan", done, total)
    report.seconds = time.perf_counter() - started
    report.totals = scan_totals(store, snapshot)
    return report


def opens_needed(task: ScanTask) -> int:
    """Resolver requests a unit makes: one per wanted file not scanned before (one listing when files are unknown)."""
    if task.files is None:
        return 1
    return max(1, sum(1 for f in task.files if wants(f.path) and (f.oid is None or (f.path, f.oid) not in task.known)))


def _parts_folder(store: Store, snapshot: Snapshot, options: FileScanOptions) -> Path:
    """``--parts``, else ``<store file>.scan-parts/``; one folder per snapshot (a rerun finds its leftovers there)."""
    if options.parts is not None:
        base = options.parts
    elif store.location == ":memory:":
        base = Path(tempfile.gettempdir()) / PARTS_DIR
    else:
        base = Path(store.location).resolve().with_name(Path(store.location).name + PARTS_SUFFIX)
    folder = base / f"{snapshot.snapshot_id}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FileScanError(f"cannot use {base} for scan partitions: {error.strerror or error}") from error
    return folder


_PENDING = """
SELECT m.repo_id, m.sha FROM models m
WHERE m.snapshot_id = $sid
  AND ($task IS NULL OR m.pipeline_tag = $task)
  AND ($min IS NULL OR coalesce(m.downloads, 0) >= $min)
  AND NOT EXISTS (SELECT 1 FROM file_scan_repos r WHERE r.snapshot_id = $sid AND r.repo_id = m.repo_id
                  AND (r.status = 'ok' OR NOT $retry))
ORDER BY m.downloads DESC NULLS LAST, m.repo_id
"""


def _pending(store: Store, snapshot: Snapshot, options: FileScanOptions) -> list[tuple[str, str | None]]:
    """Repos still to scan in this snapshot, the most downloaded first (ids only: a million fit in memory)."""
    params = {"sid": snapshot.snapshot_id, "task": options.task, "min": options.min_downloads,
              "retry": options.retry_failed}  # fmt: skip
    sql = _PENDING + (f" LIMIT {int(options.limit)}" if options.limit is not None else "")
    return [(str(r), s) for r, s in store.con.execute(sql, params).fetchall()]


def _tasks(
    store: Store,
    snapshot: Snapshot,
    pending: list[tuple[str, str | None]],
    endpoint: str,
    parts: Path,
    options: FileScanOptions,
) -> Iterator[ScanTask]:
    """One task per repo, with its files and known blobs read a chunk of repos at a time."""
    for start in range(0, len(pending), 500):
        chunk = pending[start : start + 500]
        ids = [repo_id for repo_id, _ in chunk]
        files = _listed_files(store, snapshot, ids)
        known = _known_blobs(store, ids)
        flagged = _hub_flagged(store, snapshot, ids)
        for repo_id, sha in chunk:
            yield ScanTask(
                repo_id=repo_id,
                revision=sha,
                files=files.get(repo_id),
                known=frozenset(known.get(repo_id, ())),
                hub_flagged=flagged.get(repo_id),
                endpoint=endpoint,
                headers=options.headers,
                token=options.token,
                parts=str(parts),
                budget=options.budget_bytes,
                options=options.scan,
            )


def _listed_files(store: Store, snapshot: Snapshot, ids: list[str]) -> dict[str, tuple[FileEntry, ...]]:
    rows = store.con.execute(
        "SELECT repo_id, path, size, blob_id, lfs_sha256 FROM model_files"
        " WHERE snapshot_id = ? AND list_contains(?, repo_id) ORDER BY repo_id, path",
        [snapshot.snapshot_id, ids],
    ).fetchall()
    out: dict[str, list[FileEntry]] = {}
    for repo_id, path, size, blob_id, sha256 in rows:
        if isinstance(path, str):
            out.setdefault(repo_id, []).append(FileEntry(path, size, blob_id, sha256))
    return {k: tuple(v) for k, v in out.items()}


def _hub_flagged(store: Store, snapshot: Snapshot, ids: list[str]) -> dict[str, frozenset[str]]:
    """Per repo whose Hub security status the snapshot holds: the files the Hub's own scanners flagged."""
    rows = store.con.execute(
        "SELECT repo_id, security_status::VARCHAR FROM models"
        " WHERE snapshot_id = ? AND list_contains(?, repo_id) AND security_status IS NOT NULL",
        [snapshot.snapshot_id, ids],
    ).fetchall()
    out: dict[str, frozenset[str]] = {}
    for repo_id, text in rows:
        try:
            status = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        issues = status.get("filesWithIssues") if isinstance(status, dict) else None
        if isinstance(issues, list):
            paths = (i.get("path") if isinstance(i, dict) else i for i in issues)
            out[repo_id] = frozenset(p for p in paths if isinstance(p, str))
    return out


def _known_blobs(store: Store, ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    rows = store.con.execute(
        "SELECT repo_id, path, oid FROM file_scans WHERE list_contains(?, repo_id) AND oid IS NOT NULL"
        " AND verdict <> 'error' AND tool_version = ?",
        [ids, __version__],
    ).fetchall()
    out: dict[str, set[tuple[str, str]]] = {}
    for repo_id, path, oid in rows:
        out.setdefault(repo_id, set()).add((path, oid))
    return out


def _ingest(store: Store, snapshot: Snapshot, results: list[UnitResult], report: FileScanReport | None) -> None:
    """Replace these repos' rows with their partitions' rows in one transaction; then delete the files."""
    scan_files = [f for r in results for f in r.files if "/file_scans/" in f]
    repo_files = [f for r in results for f in r.files if "/file_scan_repos/" in f]
    sid = int(snapshot.snapshot_id)
    con = store.con
    con.execute("BEGIN TRANSACTION")
    try:
        if scan_files:
            con.execute(
                "DELETE FROM file_scans f USING (SELECT DISTINCT repo_id, path, oid, revision FROM read_parquet(?)) p"
                " WHERE f.repo_id = p.repo_id AND f.path = p.path AND (f.oid = p.oid"
                " OR (f.oid IS NULL AND p.oid IS NULL AND f.revision IS NOT DISTINCT FROM p.revision))",
                [scan_files],
            )
            con.execute("INSERT INTO file_scans BY NAME SELECT * FROM read_parquet(?)", [scan_files])
        if repo_files:
            ids = [r.repo_id for r in results]
            con.execute("DELETE FROM file_scan_repos WHERE snapshot_id = ? AND list_contains(?, repo_id)", [sid, ids])
            con.execute(
                "INSERT INTO file_scan_repos BY NAME SELECT ?::INTEGER AS snapshot_id, * FROM read_parquet(?)",
                [sid, repo_files],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for name in (*scan_files, *repo_files):
        Path(name).unlink(missing_ok=True)
    if report is not None:
        _account(report, results)


def _account(report: FileScanReport, results: list[UnitResult]) -> None:
    for result in results:
        report.attempted += 1
        report.ok += result.status == "ok"
        report.failed += result.status == "failed"
        report.files_scanned += result.scanned
        report.files_reused += result.reused
        report.files_failed += result.failed
        report.requests += result.requests
        if result.reason:
            report.reasons[result.reason[:200]] += 1


def _ingest_leftovers(store: Store, snapshot: Snapshot, parts: Path) -> int:
    """Ingest the partitions an interrupted run left; drop file rows whose unit never finished (it runs again)."""
    repos = {p.stem: p for p in (parts / "file_scan_repos").glob("*.parquet")}
    for orphan in (parts / "file_scans").glob("*.parquet"):
        if orphan.stem not in repos:
            orphan.unlink(missing_ok=True)
    results = []
    for key, path in repos.items():
        try:
            row = pq.read_table(path, columns=["repo_id", "status"]).to_pylist()[0]
        except (OSError, IndexError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if partition_key(row["repo_id"]) != key:
            path.unlink(missing_ok=True)
            continue
        scans = parts / "file_scans" / f"{key}.parquet"
        files = ((str(scans),) if scans.exists() else ()) + (str(path),)
        results.append(UnitResult(row["repo_id"], row["status"], files))
    for start in range(0, len(results), 500):
        _ingest(store, snapshot, results[start : start + 500], None)
    return len(results)


def scan_totals(store: Store, snapshot: Snapshot) -> dict[str, Any]:
    """Where the snapshot stands: repos covered and failed, files by verdict and format, bytes read vs total."""
    sid = snapshot.snapshot_id
    repos = store.query(
        "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed')"
        " FROM file_scan_repos WHERE snapshot_id = ?",
        [sid],
    )[0]
    # the SQL is store/derived.py's constant, not input
    files = SNAPSHOT_FILE_SCANS_SQL
    bound = {"sid": sid}
    verdicts = store.con.execute(
        f"SELECT verdict, count(*) FROM ({files}) GROUP BY verdict ORDER BY 2 DESC",  # noqa: S608
        bound,
    ).fetchall()
    formats = store.con.execute(
        f"SELECT coalesce(format, '(not read)'), count(*), sum(bytes_read), sum(size) FROM ({files})"  # noqa: S608
        " GROUP BY 1 ORDER BY 2 DESC",
        bound,
    ).fetchall()
    flagged = store.con.execute(
        f"SELECT count(DISTINCT repo_id) FROM ({files}) WHERE verdict IN ('dangerous', 'suspicious')",  # noqa: S608
        bound,
    ).fetchall()[0][0]
    return {
        "repos_ok": int(repos[0] or 0),
        "repos_failed": int(repos[1] or 0),
        "repos_flagged": int(flagged or 0),
        "files": {str(v): int(n) for v, n in verdicts},
        "formats": {
            str(f): {"files": int(n), "bytes_read": int(b or 0), "bytes_total": int(t or 0)} for f, n, b, t in formats
        },
    }
