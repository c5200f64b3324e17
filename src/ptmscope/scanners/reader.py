"""Reading a file to scan: regular files only, with ordinary reads, never a memory map.

A memory-mapped file that another process truncates kills the reader with SIGBUS on the next
touch of a page past the new end, and Python cannot catch that. So files are read with
``os.pread``: one that is at most ``WHOLE_READ`` bytes is read whole into ``bytes`` (the fastest
buffer for the opcode walker), a larger one through ``FileBuffer``, which keeps one window of
``WINDOW`` bytes and reads the rest on demand. A file that turns out shorter than it was when
opened raises ``FileChanged`` (and says so in ``FileBuffer.shrunk``), which the caller reports.

Nothing that is not a regular file is opened for reading: a FIFO would block the open and a
character device such as ``/dev/zero`` never ends, so ``kind_of`` names them from ``stat``.
"""

from __future__ import annotations

import os
import stat
from typing import Any

WHOLE_READ = 64 << 20
"""Files up to this size are read into memory whole; larger ones are read a window at a time."""
WINDOW = 1 << 20
"""Bytes ``FileBuffer`` reads at a time (and keeps)."""

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str | None:
    """What a non-regular file is (``a FIFO (named pipe)``...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class ReadStopped(Exception):
    """A read failed for a reason outside the file's content; the scan stops and its caller reports why.

    Never a finding about the bytes: the local file shrank (``FileChanged``), a remote read failed or
    ran past its byte budget (``scanners.remote``). A buffer also keeps the first one it raised (a
    format reader may have caught it as a damaged file).
    """


class FileChanged(ReadStopped):
    """The file is shorter than when it was opened: it changed while it was being scanned."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"the file shrank from {expected:,} to {got:,} bytes while it was being scanned")
        self.expected = expected
        self.got = got


def read_exactly(fd: int, n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset``, or fewer only when the file ends sooner."""
    data = os.pread(fd, n, offset)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = os.pread(fd, n - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def strided(buf: Any, start: int, stop: int, step: int) -> bytes:
    """``buf[start:stop:step]`` of a windowed buffer, read as one contiguous slice (FileBuffer, RangeBuffer)."""
    picked = range(start, stop, step)
    if not picked:
        return b""
    lo = min(picked[0], picked[-1])
    chunk = buf[lo : max(picked[0], picked[-1]) + 1]
    return bytes(chunk[picked[0] - lo :: step][: len(picked)])


class FileBuffer:
    """Random access to the first ``size`` bytes of an open file, by reads: ``buf[i]``, ``buf[a:b]``, ``find``.

    Behaves like a read-only ``mmap`` of the file for what the scanners use (indexing past the
    end is an ``IndexError``, slices are clamped), but a file that shrinks raises ``FileChanged``
    instead of killing the process.
    """

    __slots__ = ("_data", "_fd", "_lo", "shrunk", "size")

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self.size = size
        self._lo = 0
        self._data = b""
        self.shrunk: FileChanged | None = None
        """Set once a read came back short (the file was truncated while being scanned)."""

    def __len__(self) -> int:
        return self.size

    def _read(self, start: int, n: int) -> bytes:
        data = read_exactly(self._fd, n, start)
        if len(data) < n:
            try:
                now = os.fstat(self._fd).st_size
            except OSError:
                now = start + len(data)
            self.shrunk = FileChanged(self.size, now)
            raise self.shrunk
        return data

    def _load(self, start: int) -> None:
        lo = start & ~0xFFF  # page-aligned, so a look back a few bytes stays in the window
        self._data = self._read(lo, min(WINDOW, self.size - lo))
        self._lo = lo

    def __getitem__(self, key: Any) -> Any:
        if type(key) is int:
            i = key - self._lo
            data = self._data
            if 0 <= i < len(data):
                return data[i]
            if key < 0:
                key += self.size
            if not 0 <= key < self.size:
                raise IndexError("FileBuffer index out of range")
            self._load(key)
            return self._data[key - self._lo]
        if not isinstance(key, slice):
            raise TypeError(f"FileBuffer indices must be integers or slices, not {type(key).__name__}")
        start, stop, step = key.indices(self.size)
        if step != 1:
            return strided(self, start, stop, step)
        if stop <= start:
            return b""
        lo = self._lo
        if start >= lo and stop <= lo + len(self._data):
            return self._data[start - lo : stop - lo]
        if stop - start <= WINDOW // 2:
            self._load(start)
            return self._data[start - self._lo : stop - self._lo]
        return self._read(start, stop - start)

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """The lowest offset of ``sub`` in ``[start, end)``, or -1 (read a window at a time)."""
        start, end, _ = slice(start, end).indices(self.size)
        if not sub:
            return start if start <= end else -1
        overlap = len(sub) - 1
        pos = start
        while pos < end:
            stop = min(end, pos + WINDOW)
            found = self[pos:stop].find(sub) if stop - pos >= len(sub) else -1
            if found >= 0:
                return pos + found
            if stop >= end:
                return -1
            pos = stop - overlap
        return -1
