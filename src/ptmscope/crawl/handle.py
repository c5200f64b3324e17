"""The store's connection, held by the crawl only for a transaction and released between them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ptmscope.errors import StoreLockedError
from ptmscope.store.store import connect_waiting

if TYPE_CHECKING:
    from ptmscope.store.store import Store


class StoreHandle:
    """The store's connection, opened for each transaction and closed between them (``release``).

    DuckDB lets one process at a time open a database file for writing. A crawl runs for hours and
    spends nearly all of that time waiting on the network, so it holds the file only while it reads
    or commits (a page, a chunk), and other processes (``study``, ``audit``) get the store in
    between. Opening waits while another process holds the file, up to ``lock_wait`` seconds.
    An in-memory store, or ``release=False``, keeps its connection.

    The lock also keeps the crawl's own threads (cards and organizations run side by side) from
    interleaving statements: a thread holds the store for a whole block (a transaction included).
    """

    def __init__(self, store: Store, *, release: bool, lock_wait: float) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.release = release and store.location != ":memory:" and not store.read_only
        self.lock_wait = lock_wait
        self._depth = 0
        self._open = True
        self._settings: list[tuple[str, str]] = []
        if self.release:
            for name in ("TimeZone", "memory_limit", "threads"):
                value = store.con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]
                self._settings.append((name, str(value)))
            store.con.close()
            self._open = False

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """The connection for a block of statements (a transaction); closed after, when releasing.

        Sessions nest (the connection stays open until the outermost one ends) and are held by one
        thread at a time.
        """
        with self.lock:
            if self._depth == 0 and not self._open:
                self._connect()
            self._depth += 1
            try:
                yield self.store.con
            finally:
                self._depth -= 1
                if self._depth == 0 and self.release:
                    self.store.con.close()
                    self._open = False

    def restore(self) -> None:
        """Leave the store open again for the caller."""
        with self.lock:
            if not self._open:
                self._connect()

    def _connect(self) -> None:
        try:
            con = connect_waiting(self.store.location, read_only=False, patience=self.lock_wait)
        except StoreLockedError as error:
            raise StoreLockedError(f"{error}; what the crawl committed is kept, rerun to continue") from error
        for name, value in self._settings:
            con.execute(f"SET {name} = ?", [value])
        self.store.con = con
        self._open = True
