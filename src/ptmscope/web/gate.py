"""How many pages the server computes at once: a few, in turn, rather than all at once under the GIL.

Starlette would run each page's (synchronous) handler on a thread of a pool of 40. A page is
Python work that holds the GIL (search's array work, a report card, a template) and DuckDB
queries that release it. Forty threads sharing one GIL all make progress, each slowly: under
8 concurrent clients every page waits for the others' slices, and the longest pages (a model
page) wait longest. ``Gate.guard`` makes a handler wait its turn in the event loop (an anyio
``CapacityLimiter`` of ``slots`` tokens, first come first served, no thread held while waiting)
and then run on a worker thread, so a page, once started, runs nearly as fast as alone.
Measured with ``benchmarks/serve.py`` at 1,000,000 models and 8 clients on 2 cores
(docs/serve.md, "Speed").

A handler that must wait for something other than the CPU steps out of the gate while it waits
(``waiting``, ``holding``): for a writer to release the store file, for another request that is
computing the same page or the study. So a waiting page never keeps a computing page out, and a
server whose every slot's request waits on a crawl still answers searches.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

DEFAULT_SLOTS = 2
"""Pages computed at once: the Python of one and the DuckDB queries of another keep two cores busy."""

_held = threading.local()  # the slot this worker thread runs in, if any

R = TypeVar("R")


@dataclass(eq=False)
class _Slot:
    """One request's claim on the gate (the limiter's borrower)."""

    limiter: anyio.CapacityLimiter


class Gate:
    """At most ``slots`` handlers running at once; the others wait in the event loop, in arrival order."""

    def __init__(self, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot ({slots} given)")
        self.slots = slots
        self._limiter: anyio.CapacityLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _here(self) -> anyio.CapacityLimiter:
        """The limiter of the running event loop (made in it: a limiter belongs to one loop; tests start several)."""
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._loop is not loop:
            self._limiter, self._loop = anyio.CapacityLimiter(self.slots), loop
        return self._limiter

    def guard(self, handler: Callable[..., R]) -> Callable[..., Awaitable[R]]:
        """``handler`` (synchronous) as an async handler that waits for a slot, then runs on a worker thread."""

        @wraps(handler)
        async def guarded(*args: Any) -> R:
            slot = _Slot(self._here())
            await slot.limiter.acquire_on_behalf_of(slot)
            try:
                return await anyio.to_thread.run_sync(_run, slot, handler, *args)
            finally:
                slot.limiter.release_on_behalf_of(slot)

        return guarded


def _run(slot: _Slot, handler: Callable[..., R], *args: Any) -> R:
    _held.slot = slot
    try:
        return handler(*args)
    finally:
        _held.slot = None


@contextmanager
def waiting() -> Iterator[None]:
    """Give up this thread's slot while the block waits (for a writer, another thread), then wait for one again."""
    slot: _Slot | None = getattr(_held, "slot", None)
    if slot is None:
        yield
        return
    _held.slot = None
    anyio.from_thread.run_sync(slot.limiter.release_on_behalf_of, slot)
    try:
        yield
    finally:
        anyio.from_thread.run(slot.limiter.acquire_on_behalf_of, slot)
        _held.slot = slot


@contextmanager
def holding(lock: threading.Lock) -> Iterator[None]:
    """``with lock``, out of the gate only while another thread holds the lock (a free lock costs no turn)."""
    if not lock.acquire(blocking=False):
        with waiting():
            lock.acquire()
    try:
        yield
    finally:
        lock.release()
