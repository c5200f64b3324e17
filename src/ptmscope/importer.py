"""Import registry dumps into a snapshot: ``ptmscope import`` as a library function."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ptmscope.errors import InputError
from ptmscope.records import BadRecord
from ptmscope.sources.dumps import AggregateFileError, read_path
from ptmscope.store.store import Snapshot, Store
from ptmscope.store.writer import SnapshotWriter, WriteStats

ProgressFn = Callable[[str, int], None]
"""Called as ``progress(file, records_read_so_far)`` every few thousand records."""


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
) -> ImportReport:
    """Read every path into the snapshot ``snapshot_name`` (created unless ``append``).

    A file that cannot be read is reported and the import goes on with the next one.
    On KeyboardInterrupt what was read is written, the snapshot is marked 'partial'
    and the interrupt is re-raised.
    """
    paths = list(paths)
    detail = ", ".join(p.name for p in paths)[:2_000]
    snapshot = (
        store.snapshot(snapshot_name)
        if append
        else store.create_snapshot(snapshot_name, source=source, source_detail=detail)
    )
    writer = SnapshotWriter(store, snapshot, batch_rows=batch_rows)
    report = ImportReport(snapshot=snapshot, stats=writer.stats)
    started = time.perf_counter()
    try:
        for path in paths:
            report.files.append(_import_one(writer, path, repo_id, registry, progress))
        writer.flush()
    except KeyboardInterrupt:
        writer.flush()
        store.finish_snapshot(snapshot, status="partial")
        report.interrupted = True
        raise
    finally:
        report.seconds = time.perf_counter() - started
    stats = writer.stats
    wrote = stats.models + stats.cards + stats.organizations + stats.monthly_downloads + stats.registry_downloads
    if not append and wrote == 0 and report.files and len(report.failed_files) == len(report.files):
        store.delete_snapshot(snapshot.name)  # an empty snapshot of nothing is noise, not data
        reasons = "; ".join(f.error or "" for f in report.files)
        raise InputError(f"nothing imported: {reasons[:2_000]}")
    store.finish_snapshot(snapshot, status="complete" if not append or snapshot.is_complete else snapshot.status)
    report.snapshot = store.snapshot(snapshot.name)
    return report


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
                progress(name, file_report.records)
    except AggregateFileError as error:
        file_report.error = str(error)
        file_report.aggregate = True
    except InputError as error:
        file_report.error = str(error)
        writer.bad(name, "file", str(error))
    if progress is not None:
        progress(name, file_report.records)
    return file_report
