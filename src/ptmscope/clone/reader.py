"""Reading a history under a time limit: libgit2 runs in a child process that is killed when it overruns.

libgit2 can loop forever *inside C* on a corrupt repository: a loose commit object truncated
to a few bytes makes ``Repository.walk`` spin (measured with pygit2 1.21 / libgit2 1.9.7), and
no Python timeout, signal handler or thread can interrupt C code that never returns. So the
history is read in a separate process:

- each worker (or the driver, with one worker) keeps one reader process, started once
  (``python -m ptmscope.clone.reader``), so millions of repos do not pay a Python start each;
- a request is one JSON line on the child's stdin (the repository, its id, where to write the
  commits); the child reads the history, writes the commits as a Parquet partition (atomically)
  and answers one JSON line (HEAD, commits, signed commits, or the error);
- the parent waits at most ``timeout`` seconds for the answer, then kills the child (SIGKILL)
  and reports the repo as stopped; the next repo starts a fresh child;
- the child also arms ``alarm(timeout + 30)`` with the default SIGALRM action before each read
  and asks Linux to kill it when its parent dies, so a child stuck in C dies even if the
  parent was killed first.

A child that crashes (a segfault in libgit2 on a hostile repository) is reported the same
way, as that repo's failure; the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ptmscope.clone.history import read_history, write_commits
from ptmscope.errors import HistoryError
from ptmscope.executors import die_with_parent

START_TIMEOUT = 120.0
"""Seconds a new reader process may take to start (import pygit2 and pyarrow)."""
_MAX_LINE = 1 << 20


@dataclass(frozen=True)
class ReadOutcome:
    """What reading one history gave: the counts, or why it failed; ``stopped`` when the time limit hit."""

    head: str | None = None
    commits: int | None = None
    signed: int | None = None
    error: str | None = None
    stopped: bool = False


class HistoryReader:
    """One reader child process, restarted after a kill; not thread-safe (use ``reader()``)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ptmscope.clone.reader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._proc, self._buffer = proc, b""
        ready = self._answer(START_TIMEOUT)
        if ready is None or ready.get("ready") is not True:
            self.close()
            raise OSError("the history reader process did not start")
        return proc

    def _answer(self, timeout: float) -> dict[str, object] | None:
        """The child's next JSON line within ``timeout`` s; None on timeout or when the child is gone."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buffer += chunk
                if len(self._buffer) > _MAX_LINE:
                    return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def read(self, path: Path, repo_id: str, out: Path, *, timeout: float) -> ReadOutcome:
        """Read the history of the bare repository at ``path``; write its commits to ``out`` (Parquet)."""
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        assert proc.stdin is not None
        request = {"path": str(path), "repo_id": repo_id, "out": str(out), "timeout": timeout}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            self.close()
            return ReadOutcome(error="the history reader process exited before reading this repository")
        answer = self._answer(timeout)
        if answer is None:
            died = proc.poll()
            self.close()
            _remove_scratch(out)
            out.unlink(missing_ok=True)  # a repo that failed has no commits, even if the child wrote them late
            if died is None:
                return ReadOutcome(
                    error=f"reading the history took over {timeout:g} s and was stopped (--repo-timeout); "
                    "a corrupt repository (libgit2 loops on some) or a very long history",
                    stopped=True,
                )
            how = f"signal {-died}" if died < 0 else f"exit code {died}"
            return ReadOutcome(error=f"the history reader crashed on this repository ({how})")
        error = answer.get("error")
        if error is not None:
            return ReadOutcome(error=str(error)[:1_000])
        head = answer.get("head")
        commits, signed = answer.get("commits"), answer.get("signed")
        return ReadOutcome(
            head=str(head) if head else None,
            commits=int(commits) if isinstance(commits, int) else 0,
            signed=int(signed) if isinstance(signed, int) else 0,
        )

    def close(self) -> None:
        """Stop the child (closing its stdin ends it; a stuck one is killed)."""
        proc, self._proc = self._proc, None
        self._buffer = b""
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        proc.wait()


def _remove_scratch(out: Path) -> None:
    for scratch in out.parent.glob(f".{out.name}.*.tmp"):
        scratch.unlink(missing_ok=True)


_local = threading.local()


def reader() -> HistoryReader:
    """This thread's reader (Dask runs several units per worker process, one per thread)."""
    found = getattr(_local, "reader", None)
    if found is None:
        found = _local.reader = HistoryReader()
    return found


def close_reader() -> None:
    """Stop this thread's reader process, if any."""
    found = getattr(_local, "reader", None)
    if found is not None:
        found.close()


# -- the child -------------------------------------------------------------------------------------------


def _serve() -> None:
    """The child: answer one JSON line per request line until stdin closes."""
    die_with_parent(os.getppid())  # SIGKILLed with the worker that started it (and a watchdog thread)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    protocol = os.fdopen(out_fd, "wb", buffering=0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # an alarm kills this process even inside C code
    protocol.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        answer: dict[str, object]
        try:
            request = json.loads(line)
            timeout = float(request.get("timeout") or 600.0)
            signal.alarm(math.ceil(timeout) + 30)
            history = read_history(Path(request["path"]), str(request["repo_id"]))
            write_commits(Path(request["out"]), history.columns)
            signal.alarm(0)
            answer = {"head": history.head, "commits": history.commits, "signed": history.signed}
        except HistoryError as error:
            signal.alarm(0)
            answer = {"error": str(error)[:1_000]}
        except Exception as error:  # the child answers every request; its parent records the reason
            signal.alarm(0)
            answer = {"error": f"{type(error).__name__}: {error}"[:1_000]}
        protocol.write(json.dumps(answer, default=str).encode() + b"\n")


if __name__ == "__main__":
    _serve()
