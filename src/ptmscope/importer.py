"""Import registry dumps into a snapshot: ``ptmscope import`` as a library function.

Small files are read in this process. A big JSON Lines file (a full-Hub listing, a
card dump) is cut into chunks of lines that worker processes parse, normalise and
turn into Arrow batches (card analysis included) while this process writes the
batches to the store in file order, so "the first record of an id wins" holds exactly
as in the sequential path.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from ptmscope.cards.frontmatter import DEFAULT_RULE, FrontMatterRule
from ptmscope.errors import AggregateFileError, InputError
from ptmscope.executors import die_with_parent
from ptmscope.progress import ProgressFn
from ptmscope.records import BadRecord
from ptmscope.sources.dumps import is_jsonl, jsonl_chunks, parse_jsonl_line, read_path
from ptmscope.store.rows import Batch, RowBuilder, WriteStats
from ptmscope.store.store import Snapshot, Store
from ptmscope.store.writer import SnapshotWriter

# Files at least this big (on disk) are parsed by worker processes when jobs > 1.
PARALLEL_MIN_BYTES = 4 * 1024**2
CHUNK_LINES = 10_000


@dataclass
class FileReport:
    """What one input file gave."""

    path: str
    records: int = 0
    bad_records: int = 0
    error: str | None = None
    """Why the file as a whole could not be used (then ``records`` is what it gave before)."""
    aggregate: bool = False
    """The file holds aggregate figures, not records (reported, not imported)."""


@dataclass
class ImportReport:
    """The outcome of one import."""

    snapshot: Snapshot
    files: list[FileReport] = field(default_factory=list)
    stats: WriteStats = field(default_factory=WriteStats)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def failed_files(self) -> list[FileReport]:
        """Files that could not be read at all."""
        return [f for f in self.files if f.error and not f.aggregate]


def default_jobs() -> int:
    """Worker processes for big files: the CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def import_paths(
    store: Store,
    paths: Iterable[Path],
    snapshot_name: str,
    *,
    append: bool = False,
    source: str = "import",
    repo_id: str | None = None,
    registry: str | None = None,
    progress: ProgressFn | None = None,
    batch_rows: int = 50_000,
    jobs: int | None = None,
    keep_files: bool = False,
    front_matter: FrontMatterRule = DEFAULT_RULE,
) -> ImportReport:
    """Read every path into the snapshot ``snapshot_name`` (created unless ``append``).

    With ``keep_files`` the cards' bytes are stored too (``repo_files``), so that
    ``ptmscope serve-hub`` can serve the snapshot's README files. ``front_matter`` is the
    era's rule for finding a card's YAML block (``ptmscope.cards.frontmatter``); an
    appended import keeps the snapshot's own rule.

    A file that cannot be read is reported and the import goes on with the next one.
    On KeyboardInterrupt what was read is written, the snapshot is marked 'partial'
    and the interrupt is re-raised; any other failure also leaves the snapshot 'partial' (not
    'running'), with what was written kept, and an ``append`` rerun completes it.
    """
    paths = list(paths)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    detail = ", ".join(p.name for p in paths)[:2_000]
    snapshot = (
        store.snapshot(snapshot_name)
        if append
        else store.create_snapshot(snapshot_name, source=source, source_detail=detail, front_matter=front_matter)
    )
    writer = SnapshotWriter(store, snapshot, batch_rows=batch_rows, keep_files=keep_files)
    report = ImportReport(snapshot=snapshot, stats=writer.stats)
    started = time.perf_counter()
    try:
        for path in paths:
            if jobs > 1 and _worth_workers(path):
                report.files.append(_import_parallel(writer, path, jobs, progress))
            else:
                report.files.append(_import_one(writer, path, repo_id, registry, progress))
        writer.flush()
    except KeyboardInterrupt:
        writer.flush()
        store.finish_snapshot(snapshot, status="partial")
        report.interrupted = True
        raise
    except BaseException:
        with suppress(Exception):  # keep what can be kept; the original error is the one to report
            writer.flush()
        with suppress(Exception):
            store.finish_snapshot(snapshot, status="partial")
        raise
    finally:
        report.seconds = time.perf_counter() - started
    stats = writer.stats
    wrote = stats.models + stats.cards + stats.organizations + stats.monthly_downloads + stats.registry_downloads
    if not append and wrote == 0 and report.files and all(f.error for f in report.files):
        store.delete_snapshot(snapshot.name)  # an empty snapshot of nothing is noise, not data
        reasons = "; ".join(f.error or "" for f in report.files)
        raise InputError(f"nothing imported: {reasons[:2_000]}")
    store.finish_snapshot(snapshot, status=_finished_status(snapshot, append))
    report.snapshot = store.snapshot(snapshot.name)
    return report


def _finished_status(snapshot: Snapshot, append: bool) -> str:
    """The status a snapshot has after an import into it ran to its end.

    A new snapshot is complete. An ``--append`` run completes a snapshot that an import left
    'running' (killed) or 'partial' (interrupted): the rerun has read what it was given, and the
    first-record-wins rule made it continue rather than duplicate. A crawl's or clone's snapshot keeps
    its status: only a crawl knows when a crawl is done.
    """
    if not append or snapshot.source in ("import", "bundled", "audit"):
        return "complete"
    return snapshot.status


def _worth_workers(path: Path) -> bool:
    """A big JSON Lines file, parsed by worker processes (an unreadable one is left to ``_import_one`` to report)."""
    try:
        return path.is_file() and path.stat().st_size >= PARALLEL_MIN_BYTES and is_jsonl(path)
    except (InputError, OSError):
        return False


def _import_one(
    writer: SnapshotWriter,
    path: Path,
    repo_id: str | None,
    registry: str | None,
    progress: ProgressFn | None,
) -> FileReport:
    name = str(path)
    file_report = FileReport(name)
    try:
        for location, record in read_path(path, repo_id=repo_id, registry=registry):
            writer.add(record, name, location)
            file_report.records += 1
            if isinstance(record, BadRecord):
                file_report.bad_records += 1
            if progress is not None and file_report.records % 5_000 == 0:
                progress(name, file_report.records, None)
    except AggregateFileError as error:
        file_report.error = str(error)
        file_report.aggregate = True
    except InputError as error:
        file_report.error = str(error)
        writer.bad(name, "file", str(error))
    if progress is not None:
        progress(name, file_report.records, None)
    return file_report


def build_jsonl_chunk(
    source_file: str,
    lines: list[tuple[int, bytes | None]],
    keep_files: bool = False,
    front_matter: FrontMatterRule = DEFAULT_RULE,
) -> Batch:
    """Parse, normalise and analyse a chunk of JSON Lines ``(line_no, line)`` into a batch (runs in a worker)."""
    builder = RowBuilder(keep_files=keep_files, front_matter=front_matter)
    for line_no, line in lines:
        for location, record in parse_jsonl_line(line, line_no):
            builder.add(record, source_file, location)
    return builder.take()


def _import_parallel(writer: SnapshotWriter, path: Path, jobs: int, progress: ProgressFn | None) -> FileReport:
    name = str(path)
    file_report = FileReport(name)
    writer.flush()  # earlier records first: "the first record of an id wins" across files too
    done_through = 0  # first line of the last chunk written
    broke_off = False  # the file's truncation has been recorded

    def collect(first: int, batch: Batch) -> None:
        nonlocal done_through
        writer.write(batch)
        done_through = first
        file_report.records += batch.records
        file_report.bad_records += batch.bad_records
        if progress is not None:
            progress(name, file_report.records, None)

    def chunks() -> Iterable[tuple[int, list[tuple[int, bytes | None]]]]:
        nonlocal broke_off
        for first, payload in jsonl_chunks(path, CHUNK_LINES):
            if isinstance(payload, BadRecord):  # the file broke off here
                if broke_off:
                    continue
                broke_off = True
                writer.bad(name, str(first), payload.reason)
                file_report.records += 1
                file_report.bad_records += 1
                continue
            assert isinstance(first, int) and isinstance(payload, list)
            yield first, payload

    options = (writer.builder.keep_files, writer.builder.front_matter)
    # spawn, not fork: this process holds a DuckDB connection and its threads.
    context = multiprocessing.get_context("spawn")
    pending: deque[tuple[int, Future[Batch]]] = deque()
    try:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            try:
                for first, lines in chunks():
                    pending.append((first, pool.submit(build_jsonl_chunk, name, lines, *options)))
                    while len(pending) >= 2 * jobs:
                        chunk_first, future = pending.popleft()
                        collect(chunk_first, future.result())
                while pending:
                    chunk_first, future = pending.popleft()
                    collect(chunk_first, future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool:
        # The workers could not start or died (an interpreter that cannot spawn, memory
        # exhausted): parse the rest of the file here, from the first chunk not written.
        for first, lines in chunks():
            if first > done_through:
                collect(first, build_jsonl_chunk(name, lines, *options))
    return file_report
