"""The engine of the cards and organizations stages: items in chunks, fetched by a thread pool, in two passes.

A stage selects a chunk of items still to do (``select``), starts their requests on the pool
(``start``) and, once they are all answered, stores the chunk's rows and failures in one
transaction (``finish``). The next chunk's requests fly while the last one is written. Pass 1 takes
every item not yet done (failures of earlier runs included, unless final); pass 2 takes what failed
in pass 1 and may succeed on a second try.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ptmscope.crawl.context import RunContext

Rows = list[tuple[Any, ...]]
Chunk = tuple[Rows, list[Future[Any]]]
"""A chunk's rows and the requests started for them."""


class Stopped(Exception):
    """Another stage failed: this one stops at a chunk boundary."""


class ChunkedStage(ABC):
    """A stage that fetches its items chunk by chunk (cards, organizations)."""

    name = ""
    """The stage's name in progress and the report."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.state = run.state
        self.report = run.report

    @abstractmethod
    def select(self, only_failed: bool, after: str) -> Rows:
        """The next chunk of items after ``after`` (pass 2: ``only_failed``), first column the item."""

    @abstractmethod
    def start(self, rows: Rows, pool: ThreadPoolExecutor) -> list[Future[Any]]:
        """Start the chunk's requests on ``pool``."""

    @abstractmethod
    def finish(self, rows: Rows, results: list[Any]) -> None:
        """Store the chunk's rows and failures from its results (one transaction)."""

    def fetch_all(self, total: int | None) -> None:
        """Two passes over ``select``'s chunks; the next chunk's requests fly while the last one is written.

        The store is held only to select a chunk and to write one, never while requests are awaited.
        On an interrupt the client is cancelled, so the requests in flight stop at once instead of
        running to their end, and the chunk they belong to is not written.
        """
        done = 0
        pool = ThreadPoolExecutor(max_workers=max(1, self.run.options.concurrency))

        def complete(chunk: Chunk, only_failed: bool) -> None:
            nonlocal done
            results = [future.result() for future in chunk[1]]  # wait without the store
            if self.run.client.cancelled.is_set():
                raise Stopped
            self.finish(chunk[0], results)  # reads the results, then holds the store to write them
            done += 0 if only_failed else len(chunk[0])
            self.run.progress(self.name, done, total)

        try:
            for only_failed in (False, True):
                last = ""
                previous: Chunk | None = None
                while True:
                    if self.run.stop.is_set():
                        raise Stopped
                    rows = self.select(only_failed, last)
                    if not rows:
                        break
                    last = rows[-1][0]
                    started = self.start(rows, pool)
                    if previous is not None:
                        complete(previous, only_failed)
                    previous = (rows, started)
                if previous is not None:
                    complete(previous, only_failed)
        except BaseException:
            self.run.client.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
