"""Writing batches of rows into one snapshot: the store half of an import or a crawl.

``SnapshotWriter`` appends batches (from its own ``RowBuilder``, or built in worker
processes) to DuckDB and commits every ``commit_rows`` rows (a commit costs tens of
milliseconds, so committing each small batch would dominate a million-model import).
Memory stays flat however many records stream through, ``flush()`` commits
everything, and an interruption loses at most the rows since the last commit.

It keeps one row per ``(snapshot, repo_id)`` in ``models`` and ``cards`` and one per
name in ``organizations`` across batches: a later record with the same id is
reported as a duplicate (an ``import_errors`` row) and the first is kept.

A caller that must commit rows together with statements of its own (the crawler: a listing
page with the URL of the next page) makes the writer with ``caller_commits=True`` and writes
inside ``transaction()``: the writer then never writes or commits on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ptmscope.records import OrgRecord, Record
from ptmscope.store.rows import (
    DUPLICATE_CARD,
    DUPLICATE_MODEL,
    DUPLICATE_ORG,
    HIDDEN_COLUMNS,
    Batch,
    RowBuilder,
    WriteStats,
    schemas,
)

if TYPE_CHECKING:
    import duckdb

    from ptmscope.store.store import Snapshot, Store

__all__ = ["Batch", "RowBuilder", "SnapshotWriter", "WriteStats"]

# List columns of a models batch that become rows of other tables; DuckDB unnests lists
# side by side and pads the shorter (or NULL) ones with NULL.
_EXPLODE = {
    "models": (
        "INSERT INTO model_files SELECT {sid}, repo_id, unnest(file_paths), unnest(file_sizes),"
        " unnest(file_blobs), unnest(file_lfs) FROM {view} WHERE len(file_paths) > 0",
        "INSERT INTO model_tags SELECT {sid}, repo_id, unnest(tags) FROM {view} WHERE len(tags) > 0",
    ),
}

# Columns that arrive as text and are cast by DuckDB (malformed -> NULL).
_CASTS: dict[str, dict[str, str]] = {
    "models": {
        "last_modified": "TIMESTAMPTZ",
        "created_at": "TIMESTAMPTZ",
        "security_status": "JSON",
        "card_data": "JSON",
    },
    "model_downloads_monthly": {"month": "DATE"},
}

# Tables whose rows come from a model record (source other than 'card') or from a card.
_SHARED = ("model_datasets", "model_licenses", "base_models", "model_links", "claims", "model_indexes")
# Tables every row of which comes from a card; in _SHARED tables a card's rows have source 'card' (its front
# matter) or 'text' (its body).
_CARD_ONLY = ("card_sections", "repo_files", "card_results", "card_evidence")
_CARD_SOURCES = ("card", "text")


class SnapshotWriter:
    """Appends batches of rows to one snapshot, keeping ids unique across batches.

    By default it writes a batch every ``batch_rows`` buffered rows and commits every ``commit_rows``
    written rows. With ``caller_commits`` it does neither: ``add()`` only buffers, and batches are
    written only inside ``transaction()``, which commits them with the caller's own statements.
    """

    def __init__(
        self,
        store: Store,
        snapshot: Snapshot,
        *,
        batch_rows: int = 50_000,
        commit_rows: int = 500_000,
        keep_files: bool = False,
        track_ids: bool = True,
        caller_commits: bool = False,
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.batch_rows = batch_rows
        self.commit_rows = max(batch_rows, commit_rows)
        self.caller_commits = caller_commits
        """The caller decides what commits together (``transaction()``); the writer never writes or commits alone."""
        self._in_transaction = False
        self._in_block = False  # inside transaction(): the block commits, not the writer
        self._uncommitted = 0
        self.stats = WriteStats()
        self.builder = RowBuilder(
            keep_files=keep_files, front_matter="hub-2022" if snapshot.front_matter == "hub-2022" else "hub-2023"
        )
        self._sid = snapshot.snapshot_id
        self._model_ids: set[str] = set()
        self._card_ids: set[str] = set()
        self._org_names: set[str] = set()
        # Without tracking, ids are unique within a batch only: the caller keeps them unique across
        # batches (the crawler asks the store), and memory does not grow with the snapshot.
        self._track = track_ids
        for table, column, seen in (  # ids already in the snapshot, when appending to it
            ("models", "repo_id", self._model_ids),
            ("cards", "repo_id", self._card_ids),
            ("organizations", "name", self._org_names),
        ):
            if not track_ids:
                break
            rows = store.con.execute(f"SELECT {column} FROM {table} WHERE snapshot_id = ?", [self._sid]).fetchall()
            seen.update(r[0] for r in rows)

    # -- records, built here ------------------------------------------------------------

    def add(self, record: Record, source_file: str, location: str) -> None:
        """Buffer any record; write a batch when enough rows are waiting."""
        self.builder.add(record, source_file, location)
        if self.builder.pending >= self.batch_rows and not self.caller_commits:
            self.flush()

    def add_org(self, org: OrgRecord, source_file: str, location: str = "") -> None:
        """Buffer one organization."""
        self.add(org, source_file, location)

    def bad(self, source_file: str, location: str, reason: str, repo_id: str | None = None) -> None:
        """Record an input (a file, a record) that could not be used."""
        self.builder.bad(source_file, location, reason, repo_id)

    def flush(self) -> None:
        """Write what the builder holds and commit everything written."""
        if self.builder.pending:
            self.write(self.builder.take())
        self.commit()

    def begin(self) -> None:
        """Open the writer's transaction now, so that other statements can join it before ``commit()``."""
        if not self._in_transaction:
            self.store.con.execute("BEGIN TRANSACTION")
            self._in_transaction = True

    def commit(self) -> None:
        """Commit the open transaction, if any."""
        if self._in_block:
            raise RuntimeError("inside transaction() the block commits when it ends, not commit()")
        self._commit()

    def _commit(self) -> None:
        if self._in_transaction:
            self.store.con.execute("COMMIT")
            self._in_transaction = False
            self._uncommitted = 0

    def _rollback(self) -> None:
        if self._in_transaction:
            self.store.con.execute("ROLLBACK")
            self._in_transaction = False
            self._uncommitted = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction that the caller's block makes and commits: its batches and its own statements.

        Batches written in the block (``write``) and the statements the caller runs on the connection
        it yields (the store's) are one transaction: nothing commits inside the block (``commit_rows``
        does not apply, ``commit()`` refuses), all of it commits when the block ends, and an error or
        an interrupt in the block rolls all of it back. Not reentrant; a transaction already open
        (``begin()``, or rows not yet committed) is committed first.
        """
        if self._in_block:
            raise RuntimeError("transaction() is not reentrant")
        self._commit()
        self.begin()
        self._in_block = True
        try:
            yield self.store.con
        except BaseException:
            self._in_block = False
            self._rollback()
            raise
        self._in_block = False
        self._commit()

    # -- batches, built anywhere ------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Append a batch in one transaction, dropping ids already written (reported as duplicates).

        With ``caller_commits``, only inside ``transaction()``.
        """
        if self.caller_commits and not self._in_block:
            raise RuntimeError("a caller_commits writer writes inside transaction() only")
        tables = dict(batch.tables)
        stats = batch.stats
        errors: list[tuple[str, str, str, str]] = []
        self._dedupe(tables, "models", "repo_id", self._model_ids, DUPLICATE_MODEL, errors, stats)
        self._dedupe(tables, "cards", "repo_id", self._card_ids, DUPLICATE_CARD, errors, stats)
        self._dedupe(tables, "organizations", "name", self._org_names, DUPLICATE_ORG, errors, stats)
        if errors:
            extra = pa.Table.from_pylist(
                [dict(zip(("source_file", "location", "repo_id", "reason"), e, strict=True)) for e in errors],
                schema=schemas()["import_errors"],
            )
            previous = tables.get("import_errors")
            tables["import_errors"] = pa.concat_tables([previous, extra]) if previous is not None else extra
        self.begin()
        try:
            for table, data in tables.items():
                if data.num_rows:
                    self._append(table, data)
                    self._uncommitted += data.num_rows
        except BaseException:
            self._rollback()
            raise
        self.stats.merge(stats)
        if self._uncommitted >= self.commit_rows and not self._in_block:
            self._commit()

    def _dedupe(
        self,
        tables: dict[str, pa.Table],
        table: str,
        key: str,
        seen: set[str],
        reason: str,
        errors: list[tuple[str, str, str, str]],
        stats: WriteStats,
    ) -> None:
        data = tables.get(table)
        if data is None or not self._track:
            return
        ids = data.column(key).to_pylist()
        duplicates = seen.intersection(ids)
        seen.update(ids)
        if not duplicates:
            return
        value_set = pa.array(sorted(duplicates), type=pa.string())
        dropped = data.filter(pc.is_in(data.column(key), value_set=value_set))
        for row in dropped.select(["source_file", "location", key]).to_pylist():
            errors.append((row["source_file"], row["location"], row[key], reason))
        stats.duplicates += len(duplicates)
        stats.bad_records += len(duplicates)
        tables[table] = data.filter(pc.invert(pc.is_in(data.column(key), value_set=value_set)))
        drop_from: tuple[str, ...]
        if table == "models":
            stats.models -= len(duplicates)
            drop_from, from_cards = _SHARED, False  # keep the card's own rows
        elif table == "cards":
            stats.cards -= len(duplicates)
            for status in dropped.column("status").to_pylist():
                stats.card_status[status] -= 1
            drop_from, from_cards = (*_CARD_ONLY, *_SHARED), True
        else:
            stats.organizations -= len(duplicates)
            return
        for other in drop_from:
            rows = tables.get(other)
            if rows is None:
                continue
            hit = pc.is_in(rows.column("repo_id"), value_set=value_set)
            if other in _SHARED:
                card_rows = pc.is_in(rows.column("source"), value_set=pa.array(_CARD_SOURCES, type=pa.string()))
                hit = pc.and_(hit, card_rows if from_cards else pc.invert(card_rows))
            tables[other] = rows.filter(pc.invert(pc.fill_null(hit, False)))

    def _append(self, table: str, data: pa.Table) -> None:
        hidden = HIDDEN_COLUMNS.get(table, frozenset())
        own = data.select([n for n in data.column_names if n not in hidden]) if hidden else data
        explode = _EXPLODE.get(table)
        if not explode:
            self.store.append_arrow(table, own, casts=_CASTS.get(table), snapshot_id=self._sid)
            return
        view = f"_ptmscope_explode_{table}"
        self.store.con.register(view, data)
        try:
            self.store.append_arrow(table, own, casts=_CASTS.get(table), snapshot_id=self._sid)
            for sql in explode:
                self.store.con.execute(sql.format(sid=int(self._sid), view=view))
        finally:
            self.store.con.unregister(view)
