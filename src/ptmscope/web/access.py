"""Read-only access to the store file, held only while a request reads it.

DuckDB lets one process at a time open a database file for writing, and a reader holds a lock
that keeps writers out. A crawl into the same store opens the file only per transaction
(docs/reliability.md) and waits for it, so ``serve`` must not sit on the file either: every
request that needs the store opens it read-only, reads, and closes it. Requests running at the
same time share one DuckDB instance (DuckDB's own cache), so the second costs ~2 ms, and the
file is released as soon as the last of them ends. While a writer holds the file, opening waits
for it (``patience`` seconds, polling), and past that the request answers 503.

Search and facets never touch the file: they read the in-memory index (``ptmscope.web.index``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ptmscope.store.store import Store

DEFAULT_PATIENCE = 5.0
"""Seconds a request waits for a writer (a crawl's transaction lasts about a second)."""


class StoreAccess:
    """Opens the store read-only per request; counts what it did (for tests and the benchmark)."""

    def __init__(self, path: Path, *, patience: float = DEFAULT_PATIENCE) -> None:
        self.path = path
        self.patience = patience
        self._lock = threading.Lock()
        self.opened = 0
        """Read-only opens so far."""
        self.waited = 0.0
        """Seconds requests spent opening (waiting for writers included)."""

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A read-only ``Store`` for the duration of one request's reads.

        Raises:
            StoreLockedError: a writer held the file for longer than ``patience`` seconds (the page answers 503).
        """
        started = time.perf_counter()
        store = Store(self.path, read_only=True, lock_wait=self.patience)
        store.con.execute("SET threads = 1")  # requests run side by side on the cores; one does not take them all
        with self._lock:
            self.opened += 1
            self.waited += time.perf_counter() - started
        try:
            yield store
        finally:
            store.close()
