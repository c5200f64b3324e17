"""The store: one DuckDB file holding every snapshot.

``Store`` is a thin wrapper: it opens (and migrates) the database, creates and finds
snapshots, and exports tables. Readers use ``store.con`` and plain SQL; the study
and the reports never write.

Opening checks what the file is before anything is written to it: a file that is not a
DuckDB database, a DuckDB database that is not a ptmscope store, or a store cut short (its
header counts more blocks than the file holds) is a ``StoreCorruptError`` with the reason,
and nothing is written. Corruption found later, by a query, is turned into the same error by
``store_error_for``.

``read_only=True`` opens a store without ever writing to it, and lets other readers in at the
same time. Migrations run only when a writer opens the store: a read-only open of a store an
older ptmscope wrote reads it as it is (``pending_migrations`` lists what it lacks; columns the
``snapshots`` table lacks read as NULL), and the next writing command upgrades it.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from platformdirs import user_cache_dir

from ptmscope import __version__
from ptmscope.cards.analysis import CARD_ANALYSIS
from ptmscope.cards.frontmatter import DEFAULT_RULE
from ptmscope.errors import (
    SnapshotExistsError,
    SnapshotNotFoundError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
)
from ptmscope.store.schema import SNAPSHOT_TABLES, apply_migrations, migrations

if TYPE_CHECKING:
    import pyarrow as pa

DB_ENV = "PTMSCOPE_DB"
MEMORY_ENV = "PTMSCOPE_MEMORY_LIMIT"
# DuckDB would take 80% of RAM; ptmscope keeps a million-model import, study or audit
# under 4 GB of resident memory, and DuckDB spills to disk past the limit.
DEFAULT_MEMORY_LIMIT = "2GB"
LOCK_WAIT_ENV = "PTMSCOPE_LOCK_WAIT"
# How long opening waits for another process's write lock: a crawl commits in
# transactions of about a second, so readers get in; a long import still says "locked".
DEFAULT_LOCK_WAIT = 10.0


def connect_waiting(target: str, *, read_only: bool, patience: float) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, waiting up to ``patience`` seconds while another process holds the write lock.

    Raises:
        StoreLockedError: still locked after ``patience`` seconds.
        StoreCorruptError: the file is damaged or not a DuckDB database.
        StoreError: any other reason the file cannot be opened.
    """

    waited, pause = 0.0, 0.05
    while True:
        try:
            return duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as error:
            locked = "lock" in str(error).lower()
            if locked and waited < patience:  # a crawl holds the file for short transactions: wait for it
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, 0.5)
                continue
            if locked:
                raise StoreLockedError(
                    f"the store {target} is locked by another process "
                    f"(waited {waited:.0f} s; {LOCK_WAIT_ENV} sets how long)"
                ) from error
            raise store_error_for(error, target) or StoreError(f"cannot open the store {target}: {error}") from error
        except duckdb.Error as error:
            raise store_error_for(error, target) or StoreError(f"cannot open the store {target}: {error}") from error


def _lock_wait() -> float:
    try:
        seconds = float(os.environ.get(LOCK_WAIT_ENV) or DEFAULT_LOCK_WAIT)
    except ValueError:
        return DEFAULT_LOCK_WAIT
    return min(max(seconds, 0.0), 3600.0) if seconds == seconds else DEFAULT_LOCK_WAIT


# What DuckDB says when a file is damaged or not a database at all.
_CORRUPT_MARKERS = (
    "not a valid duckdb database file",
    "corrupt",
    "could not read enough bytes",
    "checksum",
    "serialization error",
    "failed to deserialize",
    "invalid block",
    "is not a database",
)


def store_error_for(error: BaseException, location: str | None = None) -> StoreCorruptError | None:
    """The ``StoreCorruptError`` a DuckDB error means, when it says the store's file is damaged; else None.

    The CLI uses it for errors raised by queries long after the store was opened (a truncated
    file reads fine until a query reaches a missing block).
    """
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(error, duckdb.Error):
        return None
    message = str(error)
    lowered = message.lower()
    if not any(marker in lowered for marker in _CORRUPT_MARKERS):
        return None
    where = f"the store {location}" if location else "the store"
    return StoreCorruptError(f"{where} is corrupt or not a ptmscope store: {message.strip()[:300]}")


def _check_is_store(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """Refuse a DuckDB file that is not a ptmscope store, or one cut short, before writing anything to it."""
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    if tables and migrations.table not in tables:
        listed = ", ".join(sorted(tables)[:5])
        raise StoreCorruptError(f"{target} is not a ptmscope store: a DuckDB database of other tables ({listed})")
    if Path(target + ".wal").exists():
        return  # blocks may still be in the write-ahead log; the size says nothing yet
    row = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    if row is None:
        return
    # Blocks in use must all fit in the file (wherever they are); trailing free blocks may be cut off
    # by DuckDB itself, so the total the header counts is no measure.
    block_size, used_blocks = int(row[0]), int(row[1])
    needed = _HEADER_BYTES + block_size * used_blocks
    size = Path(target).stat().st_size
    if used_blocks and size < needed:
        raise StoreCorruptError(
            f"the store {target} is corrupt or not a ptmscope store: it is cut short ({size:,} bytes, and the"
            f" {used_blocks:,} blocks in use need {needed:,})"
        )


_HEADER_BYTES = 3 * 4096
"""DuckDB's main header and two database headers, before the first block."""


def default_db_path() -> Path:
    """The store used when neither --db nor PTMSCOPE_DB says otherwise."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_cache_dir("ptmscope")) / "ptmscope.duckdb"


@dataclass(frozen=True)
class Snapshot:
    """One import or crawl of a registry."""

    snapshot_id: int
    """Primary key; every fact row carries it."""
    name: str
    """Unique, user-chosen name (``hub-2022-02``)."""
    source: str
    """How it was made: 'import', 'bundled' or 'crawl'."""
    source_detail: str | None
    """Input files or endpoint."""
    taken_at: datetime | None
    """When the registry was read, when known."""
    created_at: datetime
    """When ptmscope created the snapshot."""
    status: str
    """'running', 'complete' or 'partial' (interrupted)."""
    tool_version: str
    """ptmscope version that wrote it."""
    front_matter: str | None = None
    """The rule its cards' front matter was found with (ptmscope.cards.frontmatter); None: unknown."""
    card_analysis: int | None = None
    """Version of the card analysis that read its cards (None: older than the claim definitions)."""
    notes: str | None = None
    """What the snapshot is, when its maker said (the bundled ones say how they were drawn)."""

    @property
    def is_complete(self) -> bool:
        """True when the run that made the snapshot finished."""
        return self.status == "complete"


_SNAPSHOT_FIELDS = ("snapshot_id", "name", "source", "source_detail", "taken_at", "created_at", "status",
                    "tool_version", "front_matter", "card_analysis", "notes")  # fmt: skip


class Store:
    """A DuckDB database of snapshots. Use as a context manager, or call ``close()``."""

    def __init__(
        self, path: str | Path | None = None, *, read_only: bool = False, lock_wait: float | None = None
    ) -> None:
        """Open the store at ``path`` (None: the default location); ``lock_wait``: seconds to wait for another
        process's write lock (None: ``PTMSCOPE_LOCK_WAIT``, else 10 s)."""
        target = ":memory:" if str(path) == ":memory:" else str(Path(path) if path else default_db_path())
        if target != ":memory:":
            target_path = Path(target)
            if read_only and not target_path.exists():
                raise StoreError(f"no store at {target}")
            if target_path.is_dir():
                raise StoreError(f"{target} is a folder, not a store file")
            if not read_only:
                try:
                    target_path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise StoreError(f"cannot create the store's folder {target_path.parent}: {error}") from error
        self.location = target
        """Where the database lives (a path, or ':memory:')."""
        self.read_only = read_only
        self.lock_wait = lock_wait
        self.con = self._connect(read_only)
        self._read_snapshot_columns()

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection to the store, checked to be a ptmscope store (and migrated, when writable)."""

        target = self.location
        existed = target != ":memory:" and Path(target).exists() and Path(target).stat().st_size > 0
        patience = _lock_wait() if self.lock_wait is None else max(0.0, self.lock_wait)
        con = connect_waiting(target, read_only=read_only, patience=patience)
        return self._prepare(con, target, existed, read_only)

    @staticmethod
    def _prepare(
        con: duckdb.DuckDBPyConnection, target: str, existed: bool, read_only: bool
    ) -> duckdb.DuckDBPyConnection:

        try:
            con.execute("SET TimeZone = 'UTC'")
            limit = os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT
            try:
                con.execute("SET memory_limit = ?", [limit])
            except duckdb.Error as error:
                raise StoreError(f"{MEMORY_ENV}={limit!r} is not a memory size DuckDB understands ({error})") from error
            if existed:
                _check_is_store(con, target)
            if not read_only:
                apply_migrations(con)
        except BaseException as error:
            con.close()
            if isinstance(error, duckdb.Error):
                raise store_error_for(error, target) or StoreError(
                    f"cannot read the store {target}: {error}"
                ) from error
            raise
        return con

    @property
    def pending_migrations(self) -> list[str]:
        """Schema migrations this store lacks (only a read-only open of a store an older ptmscope wrote has any)."""
        return [m.name for m in migrations.pending(self.con)]

    def _read_snapshot_columns(self) -> None:
        # A store may predate some columns (a read-only open that could not upgrade): read those as NULL.
        present = {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'snapshots'"
                " AND database_name = current_database() AND schema_name = 'main'"
            ).fetchall()
        }
        self._snapshot_columns = ", ".join(c if c in present else f"NULL AS {c}" for c in _SNAPSHOT_FIELDS)

    def reopen(self, *, read_only: bool) -> None:
        """Close the connection and open the store again, read-only or writable (migrating).

        A read-only command that must write once (import a bundled snapshot on first use) takes
        the write lock only for that write; ``store.con`` is a new connection afterwards.
        """
        if read_only == self.read_only or self.location == ":memory:":
            return
        self.con.close()
        self.con = self._connect(read_only)
        self.read_only = read_only
        self._read_snapshot_columns()

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (checkpointing the write-ahead log)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- snapshots -----------------------------------------------------------------

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, oldest first."""
        rows = self.con.execute(f"SELECT {self._snapshot_columns} FROM snapshots ORDER BY snapshot_id").fetchall()
        return [Snapshot(*row) for row in rows]

    def find_snapshot(self, name: str) -> Snapshot | None:
        """The snapshot called ``name``, or None. ``latest`` names the newest one."""
        if name == "latest":
            rows = self.con.execute(
                f"SELECT {self._snapshot_columns} FROM snapshots ORDER BY snapshot_id DESC LIMIT 1"
            ).fetchall()
        else:
            rows = self.con.execute(f"SELECT {self._snapshot_columns} FROM snapshots WHERE name = ?", [name]).fetchall()
        return Snapshot(*rows[0]) if rows else None

    def snapshot(self, name: str) -> Snapshot:
        """The snapshot called ``name``; raises SnapshotNotFoundError with the names available."""
        found = self.find_snapshot(name)
        if found is None:
            raise SnapshotNotFoundError(name, [s.name for s in self.snapshots()])
        return found

    def create_snapshot(
        self,
        name: str,
        *,
        source: str,
        source_detail: str | None = None,
        taken_at: datetime | None = None,
        front_matter: str = DEFAULT_RULE,
    ) -> Snapshot:
        """Create a new, 'running' snapshot. Names are never reused.

        ``front_matter`` is the rule its cards are read with (``ptmscope.cards.frontmatter``).
        """
        if not name or len(name) > 200:
            raise StoreError("a snapshot name must have 1 to 200 characters")
        if self.find_snapshot(name) is not None:
            raise SnapshotExistsError(name)
        self.con.execute(
            "INSERT INTO snapshots (name, source, source_detail, taken_at, created_at, status, tool_version,"
            " front_matter, card_analysis) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            [name, source, source_detail, taken_at, datetime.now(UTC), __version__, front_matter, CARD_ANALYSIS],
        )
        return self.snapshot(name)

    def finish_snapshot(
        self, snapshot: Snapshot, *, status: str = "complete", taken_at: datetime | None = None
    ) -> None:
        """Mark a snapshot complete (or partial, after an interruption)."""
        self.con.execute(
            "UPDATE snapshots SET status = ?, finished_at = ?, taken_at = coalesce(taken_at, ?) WHERE snapshot_id = ?",
            [status, datetime.now(UTC), taken_at, snapshot.snapshot_id],
        )

    def delete_snapshot(self, name: str) -> None:
        """Delete a snapshot and every row that belongs to it, in one transaction."""
        snap = self.snapshot(name)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in SNAPSHOT_TABLES:
                self.con.execute(f"DELETE FROM {table} WHERE snapshot_id = ?", [snap.snapshot_id])
            self.con.execute("DELETE FROM snapshots WHERE snapshot_id = ?", [snap.snapshot_id])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def counts(self, snapshot: Snapshot) -> dict[str, int]:
        """Rows per table for one snapshot."""
        out = {}
        for table in SNAPSHOT_TABLES:
            rows = self.con.execute(
                f"SELECT count(*) FROM {table} WHERE snapshot_id = ?", [snapshot.snapshot_id]
            ).fetchall()
            out[table] = int(rows[0][0])
        return out

    # -- bulk writes ---------------------------------------------------------------

    def append_arrow(
        self, table: str, batch: pa.Table, *, casts: dict[str, str] | None = None, snapshot_id: int | None = None
    ) -> None:
        """Append an Arrow table to ``table``; columns are matched by name.

        ``casts`` maps a column to a SQL type to TRY_CAST it into (timestamps arrive as
        text and become NULL when malformed instead of failing the batch).
        ``snapshot_id``, when given, fills that column for every row.
        """
        if batch.num_rows == 0:
            return
        casts = casts or {}
        columns = batch.column_names
        select = ", ".join(f'TRY_CAST("{c}" AS {casts[c]})' if c in casts else f'"{c}"' for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        if snapshot_id is not None:
            names = f"snapshot_id, {names}"
            select = f"{int(snapshot_id)}, {select}"
        view = f"_ptmscope_batch_{table}"
        self.con.register(view, batch)
        try:
            self.con.execute(f"INSERT INTO {table} ({names}) SELECT {select} FROM {view}")
        finally:
            self.con.unregister(view)

    # -- export --------------------------------------------------------------------

    def export_parquet(self, directory: Path, snapshot: Snapshot | None = None) -> dict[str, Path]:
        """Write every table as a Parquet file under ``directory``.

        With ``snapshot``, tables keyed by snapshot hold only its rows; tables keyed
        otherwise (``verifications``, by model revision) are written whole.
        """
        directory.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        keyed = {
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_columns() WHERE column_name = 'snapshot_id'"
                " AND database_name = current_database() AND schema_name = 'main'"
            ).fetchall()
        }
        tables = [
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
                " AND schema_name = 'main' AND NOT starts_with(table_name, '_') ORDER BY table_name"
            ).fetchall()
        ]
        for table in tables:
            target = directory / f"{table}.parquet"
            where = f"WHERE snapshot_id = {int(snapshot.snapshot_id)}" if snapshot and table in keyed else ""
            escaped = str(target).replace("'", "''")
            self.con.execute(f"COPY (SELECT * FROM {table} {where}) TO '{escaped}' (FORMAT PARQUET, COMPRESSION ZSTD)")
            written[table] = target
        return written

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        return self.con.execute(sql, params or []).fetchall()
