"""Read-only access to the store file, held only while a request reads it.

DuckDB lets one process at a time open a database file for writing, and a reader holds a lock
that keeps writers out. A crawl into the same store opens the file only per transaction
(docs/reliability.md) and waits for it, so ``serve`` must not sit on the file either: every
request that needs the store reads it through a read-only attachment that lasts as long as
the requests using it. The server keeps one in-memory DuckDB instance for its whole life, which
holds no file; the first request to need the store ``ATTACH``es the file to it read-only (~1.5 ms;
opening a new DuckDB instance on the file costs ~12 ms, and closing it ~3 ms), requests running
at the same time share that attachment (each through its own cursor), and the last one to end
``DETACH``es it, which releases the file. While a writer holds the file, attaching waits for it
(``patience`` seconds, polling), and past that the request answers 503.

Search and facets never touch the file: they read the in-memory index (``ptmscope.web.index``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ptmscope.errors import StoreError, StoreLockedError
from ptmscope.store.store import DEFAULT_MEMORY_LIMIT, LOCK_WAIT_ENV, MEMORY_ENV, Store, store_error_for
from ptmscope.web.gate import waiting

DEFAULT_PATIENCE = 5.0
"""Seconds a request waits for a writer (a crawl's transaction lasts about a second)."""
ALIAS = "ptmscope_store"
"""The store's name in the server's DuckDB instance while attached."""


class AttachedStore(Store):
    """A ``Store`` over one cursor of the server's DuckDB instance, the store file attached read-only to it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, snapshot_columns: str | None) -> None:
        # not Store.__init__, which opens the file; ``snapshot_columns``: what the store's attachment already read
        self.location = str(path)
        self.read_only = True
        self.lock_wait = None
        self.con = con
        if snapshot_columns is None:
            self._read_snapshot_columns()
        else:
            self._snapshot_columns = snapshot_columns


class StoreAccess:
    """Attaches the store read-only while requests read it; counts what it did (for tests and the benchmark)."""

    def __init__(self, path: Path, *, patience: float = DEFAULT_PATIENCE) -> None:
        """Checks that ``path`` is a store, as every command does (``Store``: not a store, cut short, locked)."""
        Store(path, read_only=True, lock_wait=patience).close()
        self.path = path
        self.patience = patience
        self._lock = threading.Lock()
        self._users = 0
        self._columns: str | None = None  # the snapshots table's columns, read once per attachment
        self._instance = duckdb.connect(":memory:")
        self._instance.execute("SET GLOBAL TimeZone = 'UTC'")  # as a Store's connection has it, for every cursor
        self._instance.execute("SET memory_limit = ?", [os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT])
        self._instance.execute("SET temp_directory = ?", [f"{path}.tmp"])  # where a Store of the file would spill
        self._instance.execute("SET threads = 1")  # requests run side by side on the cores; one does not take them all
        self.opened = 0
        """Read-only attachments so far."""
        self.waited = 0.0
        """Seconds requests spent attaching (waiting for writers included)."""

    def _attach(self) -> None:
        """Attach the file (the caller holds ``_lock`` and no request uses it)."""
        target = str(self.path)
        if not self.path.exists():
            raise StoreError(f"no store at {target}")
        try:
            quoted = target.replace("'", "''")
            self._instance.execute(f"ATTACH '{quoted}' AS {ALIAS} (READ_ONLY)")
        except duckdb.Error as error:
            if isinstance(error, duckdb.IOException) and "lock" in str(error).lower():
                raise
            raise store_error_for(error, target) or StoreError(f"cannot open the store {target}: {error}") from error

    def _enter(self) -> None:
        """Count one more user, attaching the file first when nobody uses it (waiting for a writer)."""
        started = time.perf_counter()
        waited, pause = 0.0, 0.05
        while True:
            with self._lock:
                try:
                    if self._users == 0:
                        self._attach()
                        self._columns = None
                        self.opened += 1
                    self._users += 1
                    self.waited += time.perf_counter() - started
                    return
                except duckdb.IOException as error:
                    if waited >= self.patience:
                        raise StoreLockedError(
                            f"the store {self.path} is locked by another process "
                            f"(waited {waited:.0f} s; {LOCK_WAIT_ENV} sets how long)"
                        ) from error
            with waiting():  # out of the gate: pages that need no store go on meanwhile
                time.sleep(pause)  # a crawl holds the file for short transactions: wait for it
            waited += pause
            pause = min(pause * 2, 0.5)

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._instance.execute(f"DETACH {ALIAS}")  # the file is free again

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A read-only ``Store`` for the duration of one request's reads.

        Raises:
            StoreLockedError: a writer held the file for longer than ``patience`` seconds (the page answers 503).
        """
        self._enter()
        try:
            with self._lock:  # making a cursor is not thread-safe; using one per request is
                cursor = self._instance.cursor()
            try:
                cursor.execute(f"USE {ALIAS}")
                store = AttachedStore(cursor, self.path, self._columns)
                self._columns = store._snapshot_columns
                yield store
            finally:
                cursor.close()
        finally:
            self._leave()
