"""Executors: where per-repo units run (``clone``, ``scan --snapshot``). One interface, a local process pool by
default, Dask for clusters.

``Executor.run(fn, items)`` yields results as units finish, keeping a bounded number in flight
(so millions of repos never sit in memory as futures). The driver calls ``before_submit`` for
each item first, which is where it paces submissions to the rate limit.

- ``LocalExecutor``: a ``ProcessPoolExecutor`` with the spawn start method (the driver holds a
  DuckDB connection; forking it is unsafe).
- ``DaskExecutor``: ``distributed.Client(ADDRESS)``, e.g. ``tcp://scheduler:8786`` or a
  ``dask-jobqueue`` SLURM cluster's address; workers must see the destination folder at the same path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ptmscope.errors import ExecutorError

T = TypeVar("T")
R = TypeVar("R")


PR_SET_PDEATHSIG = 1
WATCHDOG_SECONDS = 1.0
"""How often a worker checks that the process that started it is still alive (the fallback to prctl)."""


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker when the process that started it ends, however it ends (even SIGKILL).

    On Linux the kernel sends SIGKILL to the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
    everywhere, a daemon thread checks the parent's pid every ``WATCHDOG_SECONDS`` and exits when
    the worker has been re-parented. Without this a killed import, clone or scan leaves its workers
    blocked for ever on a task queue whose write end they hold themselves (and a caller reading their
    output waits for ever).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still holds
    if os.getppid() != parent_pid:  # the parent died before the kernel could be told
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="ptmscope-parent-watchdog", daemon=True).start()


class Executor(ABC):
    """Runs independent units and yields their results in completion order."""

    workers: int

    @abstractmethod
    def run(
        self, fn: Callable[[T], R], items: Iterable[T], before_submit: Callable[[T], None] | None = None
    ) -> Iterator[R]:
        """Run ``fn`` on every item; yield each result as it arrives."""

    def close(self) -> None:  # noqa: B027 - optional for executors that hold nothing
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """A local process pool (spawned workers); with one worker, units run in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = (
            ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
            if self.workers > 1
            else None
        )

    def run(
        self, fn: Callable[[T], R], items: Iterable[T], before_submit: Callable[[T], None] | None = None
    ) -> Iterator[R]:
        if self._pool is None:
            for item in items:
                if before_submit is not None:
                    before_submit(item)
                yield fn(item)
            return
        pending: set[Future[R]] = set()
        try:
            for item in items:
                if before_submit is not None:
                    before_submit(item)
                pending.add(self._pool.submit(fn, item))
                if len(pending) >= 2 * self.workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BrokenProcessPool as error:
            raise ExecutorError(
                "the worker processes died or could not start (memory? a script run from stdin?); "
                "what finished is kept: run again, or use --workers 1"
            ) from error
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Units on a Dask distributed cluster.

    Args:
        scheduler: the scheduler's address (``tcp://HOST:8786``), or an existing ``distributed.Client``
            or cluster object (``LocalCluster``) to connect to.
    """

    def __init__(self, scheduler: Any, *, stall_timeout: float | None = None) -> None:
        self.stall_timeout = stall_timeout
        """Seconds without any unit finishing after which ``run`` gives up (None: wait as long as it takes)."""
        try:
            from distributed import Client  # the optional dask extra: imported only when a Dask executor is made
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ExecutorError("--executor dask needs Dask: pip install 'ptmscope[dask]'") from error
        self._own = not isinstance(scheduler, Client)
        self._client = Client(scheduler) if self._own else scheduler
        self.workers = max(1, sum(self._client.nthreads().values()))

    def run(
        self, fn: Callable[[T], R], items: Iterable[T], before_submit: Callable[[T], None] | None = None
    ) -> Iterator[R]:
        pending: set[Any] = set()
        try:
            for item in items:
                if before_submit is not None:
                    before_submit(item)
                pending.add(self._client.submit(fn, item, pure=False))
                while len(pending) >= 2 * self.workers:
                    yield from self._finished(pending)
            while pending:
                yield from self._finished(pending)
        finally:
            for future in pending:
                future.cancel()

    def _finished(self, pending: set[Any]) -> Iterator[Any]:
        """Wait for at least one unit; a wait past ``stall_timeout`` is an error that says where workers are."""
        from distributed import wait as dask_wait  # the optional dask extra (see __init__)

        done, _ = dask_wait(list(pending), timeout=self.stall_timeout, return_when="FIRST_COMPLETED")
        if not done:
            raise ExecutorError(
                f"no unit finished in {self.stall_timeout:.0f} s on the Dask cluster "
                f"({len(pending)} in flight); the workers were at: {self._where(pending)}"
            )
        for future in done:
            pending.discard(future)
            yield future.result()

    def _where(self, pending: set[Any]) -> str:
        """What the busy workers are running (Dask's call stacks), bounded."""
        try:
            stacks = self._client.call_stack(list(pending))
        except Exception as error:  # diagnostics must never hide the stall itself
            return f"(call stacks unavailable: {type(error).__name__})"
        lines = []
        for worker, tasks in (stacks or {}).items():
            for key, frames in tasks.items():
                lines.append(f"{worker} {key}: " + " <- ".join(str(f).strip() for f in list(frames)[-4:]))
        return "; ".join(lines)[:4_000] or "no worker reports a running unit (lost or not started)"

    def close(self) -> None:
        if self._own:
            self._client.close()


def make_executor(kind: str, *, workers: int, scheduler: Any = None, stall_timeout: float | None = None) -> Executor:
    """The executor named ``kind`` ('local' or 'dask')."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        if scheduler is None:
            raise ExecutorError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        return DaskExecutor(scheduler, stall_timeout=stall_timeout)
    raise ValueError(f"unknown executor {kind!r}")
