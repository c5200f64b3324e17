"""Scan a remote file through HTTP range requests, fetching only the bytes its verdict needs.

A model file's verdict rarely needs all of it: a PyTorch zip checkpoint is decided by its head
(``data.pkl``) and its tail (the central directory), a legacy ``torch.save`` file by the pickles
before its raw storages, safetensors by its header, GGUF by its metadata. ``RangeBuffer`` gives
the format scanners the random access they use on a local file (``buf[i]``, ``buf[a:b]``,
``find``) over a *range fetcher*, a function that returns bytes ``[start, stop)`` of the file, and
fetches aligned blocks on demand (``BLOCK``), coalescing the missing blocks of one read into one
request and reading ahead when reads go forward. Every fetched byte counts against a per-file
budget; a scan that needs more stops with ``BudgetExceeded`` and the file gets an ``unparseable``
``remote-budget-exceeded`` finding (the findings made before are kept).

``scan_remote`` runs the same code as ``api.scan_file`` (``api.scan_contents``), so a remote scan
that stays within its budget gives the findings and format a local scan of the same bytes gives.

``HttpRangeFile`` is the fetcher over HTTP, through huggingface_hub's session: one ``HEAD`` on
the ``resolve`` URL, redirects not followed (the Hub answers 302 for an LFS or Xet file, with
``X-Linked-Size``, ``X-Linked-Etag`` and the storage ``Location``; 200 with ``Content-Length``
and ``ETag`` for a small file), then ``Range`` GETs on the storage URL. The bounds are those of
``scanners.hub``: ``CONNECT_TIMEOUT``, ``READ_TIMEOUT`` between bytes, a deadline per read
(``DOWNLOAD_DEADLINE`` plus a second per ``DOWNLOAD_MIN_RATE`` bytes asked), 429, 5xx and a
connection dropped mid-answer tried again after their ``Retry-After`` capped at
``RETRY_AFTER_CAP`` (1 s, then 2 s without one), ``ATTEMPTS`` tries in all; a refused connection
or a timeout is not tried again. ``hub_file`` builds one for a Hub repository's file, with the
token rule of every command (``scanners.hub.hub_token``).

This module imports neither huggingface_hub nor httpx2 until a request is made: ``RangeBuffer``
and ``scan_remote`` work over any fetcher.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from ptmscope import __version__
from ptmscope.scanners.api import file_result, new_context, scan_contents, too_large
from ptmscope.scanners.detect import detect
from ptmscope.scanners.interface import FileResult, ScanOptions, SkippedFile
from ptmscope.scanners.reader import ReadStopped, strided

RangeFetcher = Callable[[int, int], bytes]
"""Returns bytes ``[start, stop)`` of the file (exactly ``stop - start`` of them), or raises ``RemoteReadError``."""

BLOCK = 64 << 10
"""Reads are rounded out to blocks of this many bytes, aligned on the file's start. Measured on
PyTorch zips, legacy ``.bin``, safetensors and GGUF files (docs/scanner.md, "Remote files"):
from 4 KiB to 128 KiB, each doubling saves a request or two per file and adds 50-250 KiB; past
64 KiB the bytes grow faster than the requests fall (a request costs more than 100 KiB)."""
READAHEAD_MAX = 4 << 20
"""A read that continues a fetched run asks for twice that run, up to this many bytes."""
WHOLE_FETCH = 192 << 10
"""A file up to this size is fetched whole by its first read: every scan reads its first block
and its last 64 KiB (the zip central directory, or the polyglot check), which for such a file
is already every block (three blocks), so this saves a request and costs no byte."""
FIND_STEP = 1 << 20
"""``find`` reads at most this many bytes at a time (``reader.WINDOW``, as ``FileBuffer.find``)."""
DEFAULT_BUDGET = 64 << 20
"""Bytes one remote scan may fetch (``scan_remote``'s default)."""

_ETAG_SHA256 = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")


class BudgetExceeded(ReadStopped):
    """A read would fetch more bytes than the file's budget allows."""

    def __init__(self, budget: int, fetched: int, wanted: int) -> None:
        super().__init__(
            f"the verdict needs more than the {budget:,}-byte budget; {fetched:,} bytes were read; "
            "scan the file locally"
        )
        self.budget = budget
        self.fetched = fetched
        self.wanted = wanted


class RemoteReadError(ReadStopped):
    """A remote read failed (network, server, or the file changed); the message is one line for the report."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def _run_end(size: int, last_block: int) -> int:
    return min(size, (last_block + 1) * BLOCK)


class RangeBuffer:
    """Random access to a remote file of ``size`` bytes through ``fetch``: ``buf[i]``, ``buf[a:b]``, ``find``.

    Behaves like ``reader.FileBuffer`` (indexing past the end is an ``IndexError``, slices are
    clamped). Reads are rounded out to ``BLOCK``-aligned blocks; fetched blocks are kept (their
    total is bounded by ``budget``), the missing blocks of one read are fetched in one request
    per run of consecutive blocks, and a read that continues the previous fetch reads ahead.
    ``bytes_fetched`` and ``requests`` count what ``fetch`` returned and how often it was called.

    Raises ``BudgetExceeded`` before a fetch that would take ``bytes_fetched`` past ``budget``
    (``None``: no budget), and ``RemoteReadError`` when ``fetch`` fails. The first such error is
    kept in ``failure`` and raised again by every later fetch.
    """

    __slots__ = ("_data", "_fetch", "_lo", "_runs", "budget", "bytes_fetched", "failure", "requests", "size")

    def __init__(self, fetch: RangeFetcher, size: int, budget: int | None = None) -> None:
        self._fetch = fetch
        self.size = size
        self.budget = budget
        self.bytes_fetched = 0
        self.requests = 0
        self.failure: ReadStopped | None = None
        self._runs: dict[int, tuple[int, bytes]] = {}
        """Block index -> (offset, bytes) of the fetched run that holds it."""
        self._lo = 0
        self._data = b""
        """The run read last (``buf[i]`` looks here first)."""

    def __len__(self) -> int:
        return self.size

    def _fail(self, error: ReadStopped) -> ReadStopped:
        self.failure = error
        return error

    def _ensure(self, first: int, last: int) -> None:
        """Fetch the blocks ``first..last`` that are not kept yet: one request per run of consecutive missing blocks."""
        runs: list[list[int]] = []
        for block in range(first, last + 1):
            if block in self._runs:
                continue
            if runs and runs[-1][1] == block - 1:
                runs[-1][1] = block
            else:
                runs.append([block, block])
        if not runs:
            return
        if self.failure is not None:
            raise self.failure
        needed = sum(_run_end(self.size, b) - a * BLOCK for a, b in runs)
        left = None if self.budget is None else self.budget - self.bytes_fetched
        if self.budget is not None and left is not None and needed > left:
            raise self._fail(BudgetExceeded(self.budget, self.bytes_fetched, needed))
        if not self.requests and self.size <= WHOLE_FETCH and (left is None or self.size <= left):
            runs = [[0, (self.size - 1) // BLOCK]]
        elif len(runs) == 1 and runs[0][0] - 1 in self._runs:
            runs[0][1] = self._read_ahead(runs[0][0], runs[0][1], None if left is None else left - needed)
        for a, b in runs:
            self._fetch_run(a, b)

    def _read_ahead(self, first: int, last: int, spare: int | None) -> int:
        """The last block to fetch for a read of ``first..last`` that continues a kept run: twice the blocks
        that run holds (runs double while reads go forward), at most ``READAHEAD_MAX`` bytes, within the
        budget (``spare``: bytes left past what is needed), and not past the next kept block."""
        _, before = self._runs[first - 1]
        more = min(2 * len(before), READAHEAD_MAX) // BLOCK - (last - first + 1)
        if spare is not None:
            more = min(more, spare // BLOCK)
        stop = min(last + max(0, more), (self.size - 1) // BLOCK)
        block = last + 1
        while block <= stop and block not in self._runs:
            block += 1
        return block - 1

    def _fetch_run(self, first: int, last: int) -> None:
        start, stop = first * BLOCK, _run_end(self.size, last)
        self.requests += 1
        try:
            data = self._fetch(start, stop)
        except ReadStopped as error:
            raise self._fail(error) from None
        except Exception as error:  # a fetcher's own failure is a failed read, not a scanner bug
            raise self._fail(RemoteReadError(f"{type(error).__name__}: {_first_line(error)}")) from None
        if len(data) != stop - start:
            raise self._fail(RemoteReadError(f"asked for bytes {start:,}-{stop - 1:,}, received {len(data):,} bytes"))
        self.bytes_fetched += len(data)
        data = bytes(data)
        for block in range(first, last + 1):
            self._runs[block] = (start, data)
        self._lo, self._data = start, data

    def _run_at(self, pos: int) -> tuple[int, bytes]:
        return self._runs[pos // BLOCK]

    def __getitem__(self, key: Any) -> Any:
        if type(key) is int:
            i = key - self._lo
            data = self._data
            if 0 <= i < len(data):
                return data[i]
            if key < 0:
                key += self.size
            if not 0 <= key < self.size:
                raise IndexError("RangeBuffer index out of range")
            self._ensure(key // BLOCK, key // BLOCK)
            self._lo, self._data = self._run_at(key)
            return self._data[key - self._lo]
        if not isinstance(key, slice):
            raise TypeError(f"RangeBuffer indices must be integers or slices, not {type(key).__name__}")
        start, stop, step = key.indices(self.size)
        if step != 1:
            return strided(self, start, stop, step)
        if stop <= start:
            return b""
        lo = self._lo
        if start >= lo and stop <= lo + len(self._data):
            return self._data[start - lo : stop - lo]
        self._ensure(start // BLOCK, (stop - 1) // BLOCK)
        parts: list[bytes] = []
        pos = start
        while pos < stop:
            run_lo, data = self._run_at(pos)
            take = min(stop, run_lo + len(data))
            parts.append(data[pos - run_lo : take - run_lo])
            pos = take
        self._lo, self._data = self._run_at(start)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """The lowest offset of ``sub`` in ``[start, end)``, or -1.

        Read a step at a time: to the end of the block at ``start`` first (a pickle's text line is
        short), then twice as far each step, up to ``FIND_STEP`` bytes.
        """
        if not sub:  # as bytes.find: a start past the end finds nothing, not even b""
            first = start + self.size if start < 0 else start
            start, end, _ = slice(start, end).indices(self.size)
            return start if first <= self.size and start <= end else -1
        start, end, _ = slice(start, end).indices(self.size)
        overlap = len(sub) - 1
        pos = start
        step = BLOCK - start % BLOCK
        while pos < end:
            stop = min(end, pos + max(step, len(sub)))
            found = self[pos:stop].find(sub) if stop - pos >= len(sub) else -1
            if found >= 0:
                return pos + found
            if stop >= end:
                return -1
            pos = stop - overlap
            step = min(2 * step, FIND_STEP)
        return -1


@dataclass(frozen=True)
class RemoteScan:
    """The result of a remote scan, and what it cost."""

    result: FileResult
    bytes_read: int
    """Bytes fetched (the range reads' bodies)."""
    requests: int
    """Range reads made (``scan_http``: every HTTP request, the ``HEAD`` and retries included)."""


def scan_remote(
    fetch: RangeFetcher,
    size: int,
    display: str,
    name: str = "",
    options: ScanOptions | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> RemoteScan:
    """Scan a remote file of ``size`` bytes through ``fetch``, reading only what the verdict needs.

    Args:
        fetch: returns bytes ``[start, stop)`` of the file; raises ``RemoteReadError`` on failure.
        size: the file's size.
        display: the path to show in results (for a Hub file ``owner/name/path``).
        name: the file's name (only breaks a tie between protobuf shapes, as for a local file).
        options: limits, as for ``scan_file`` (``max_file_size`` included: a larger file is not read).
        budget: bytes the scan may fetch (``None``: no limit).

    Returns:
        A ``RemoteScan``: the ``ScannedFile`` or ``SkippedFile`` ``scan_file`` gives for the same bytes
        when the budget is enough; past the budget, the findings made so far and an ``unparseable``
        ``remote-budget-exceeded`` finding; a failed read (``RemoteReadError``) is a ``SkippedFile``
        with ``error=True``.
    """
    options = options or ScanOptions()
    started = time.monotonic()
    if options.max_file_size is not None and size > options.max_file_size:
        return RemoteScan(too_large(display, size, options.max_file_size), 0, 0)
    if size == 0:
        return RemoteScan(SkippedFile(display, "empty file", size=0), 0, 0)
    buf = RangeBuffer(fetch, size, budget)
    ctx = new_context(options, started)
    fmt, stopped = scan_contents(buf, size, ctx, name, options)
    stopped = buf.failure or stopped  # a format reader may have caught it as a damaged file
    if isinstance(stopped, RemoteReadError):
        failed = SkippedFile(display, f"remote read failed: {stopped}", error=True, size=size)
        return RemoteScan(failed, buf.bytes_fetched, buf.requests)
    if isinstance(stopped, BudgetExceeded):
        if fmt == "unknown":
            fmt = _format_so_far(buf, size, name)
        # "the verdict needs more than the N-byte budget; X bytes were read; scan the file locally"
        ctx.add("unparseable", "remote-budget-exceeded", str(stopped), None)
    return RemoteScan(file_result(ctx, fmt, display, size, options, started), buf.bytes_fetched, buf.requests)


def _format_so_far(buf: RangeBuffer, size: int, name: str) -> str:
    """The format detected from the bytes already fetched (no new fetch: the buffer has failed), else unknown."""
    try:
        return detect(buf, 0, size, name)
    except ReadStopped:
        return "unknown"


# --- HTTP --------------------------------------------------------------------------------

MAX_REDIRECTS = 5
"""Redirects followed by ``open`` before the file's answer (a renamed repository's, then the storage's)."""
BODY_SLACK = 64 << 10
"""Bytes of an answer read past what was asked before it is refused (one network chunk)."""
REDIRECT = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class RemoteInfo:
    """What the ``resolve`` URL says about a file."""

    size: int
    etag: str | None
    """``X-Linked-Etag`` (an LFS file's sha256) or ``ETag``, without quotes."""
    sha256: str | None
    """The LFS sha256 when the ETag is one, else None."""
    url: str
    """Where the bytes are read: the redirect's ``Location`` (storage), or the ``resolve`` URL itself."""
    commit: str | None
    """``X-Repo-Commit``: the commit the revision resolved to."""


def _etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes a-b/total`` -> (a, b, total or None for ``*``); None when unreadable."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


class _Retry(Exception):
    """An answer worth trying again (429/5xx, a dropped connection); ``asked``: its ``Retry-After``."""

    def __init__(self, reason: str, asked: float | None = None) -> None:
        super().__init__(reason)
        self.asked = asked


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    bucket: str
    """The pacing bucket: ``resolvers`` or ``cdn``."""
    extra: dict[str, str]
    """Headers of this request (``Range``)."""
    deadline: float
    """``time.monotonic()`` past which no retry is waited for, nor a body read."""


class _Expired(Exception):
    """The signed storage URL was refused (403): resolve the file again."""


class HttpRangeFile:
    """A remote file read with HTTP range requests through huggingface_hub's session.

    ``open()`` makes one ``HEAD`` request to the ``resolve`` URL without following a redirect to
    storage and returns a ``RemoteInfo``; ``read(start, stop)`` (also ``self(start, stop)``, a
    ``RangeFetcher``) GETs ``Range: bytes=start-(stop-1)`` from where the bytes are. Every answer must
    be a 206 with the matching ``Content-Range`` and the same ``ETag`` as the first (a 200 is
    accepted for a range from the start, and only that many bytes of it are read); no more than
    ``BODY_SLACK`` bytes past what was asked are ever read. A 403 from storage (a signed URL that
    expired) resolves the file again, once. The ``Authorization`` header is not sent to another host.

    Args:
        url: ``{endpoint}/{repo}/resolve/{revision}/{path}``.
        headers: request headers (huggingface_hub's ``build_hf_headers``, the token included).
        pace: called with a bucket name before each request: ``resolvers`` for the ``resolve`` URL
            (and redirects on the endpoint), ``cdn`` for the storage URL it redirects to.
        warn: where to say that a ``Retry-After`` was capped (default: stderr).
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        pace: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.headers = {k: v for k, v in (headers or {}).items() if k.lower() not in ("range", "accept-encoding")}
        self.pace = pace
        self.warn = warn or (lambda message: print(message, file=sys.stderr))
        self.info: RemoteInfo | None = None
        self.requests = 0
        """HTTP requests sent (retries and resolves included)."""
        self.bytes_received = 0
        """Body bytes received by range reads."""
        self._bucket = "resolvers"
        """Where range reads go: ``resolvers`` (the resolve URL answered 200) or ``cdn`` (it redirected)."""
        self._range_etag: str | None = None
        self._reresolved = False

    # -- requests ---------------------------------------------------------------------------

    def _headers_for(self, url: str, extra: dict[str, str]) -> dict[str, str]:
        headers = {**self.headers, "Accept-Encoding": "identity", **extra}
        if _origin(url) != _origin(self.url):
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        return headers

    def _send(self, request: _Request, handle: Callable[[Any], _T]) -> _T:
        """One request, tried again on 429/5xx and dropped connections: ``handle(response)`` makes the value.

        ``handle`` raises ``_Retry`` for an answer worth trying again and ``RemoteReadError`` for a failure.
        """
        # httpx2 and huggingface_hub are heavy (~0.5 s at start-up): imported only when a remote file is read
        import httpx2
        from huggingface_hub.errors import OfflineModeIsEnabled
        from huggingface_hub.utils import get_session

        # scanners.hub imports huggingface_hub at its top (and may import this module): only remote reads need it
        from ptmscope.scanners.hub import ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT

        timeout = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        headers = self._headers_for(request.url, request.extra)
        for attempt in range(1, ATTEMPTS + 1):
            if self.pace is not None:
                self.pace(request.bucket)
            self.requests += 1
            try:
                with get_session().stream(
                    request.method, request.url, headers=headers, timeout=timeout, follow_redirects=False
                ) as response:
                    return handle(response)
            except _Retry as retry:
                if attempt == ATTEMPTS:
                    raise RemoteReadError(f"{retry} (after {ATTEMPTS} attempts)") from None
                self._pause(request, retry, attempt)
            except OfflineModeIsEnabled:
                raise RemoteReadError("offline mode is enabled (HF_HUB_OFFLINE=1)") from None
            except httpx2.ConnectTimeout:
                raise RemoteReadError(f"no connection within {CONNECT_TIMEOUT:g} s") from None
            except httpx2.ReadTimeout:
                raise RemoteReadError(f"no bytes for {READ_TIMEOUT:g} s") from None
            except (httpx2.ReadError, httpx2.WriteError, httpx2.CloseError, httpx2.RemoteProtocolError) as error:
                if attempt == ATTEMPTS:
                    dropped = f"connection dropped: {_first_line(error)}"
                    raise RemoteReadError(f"{dropped} (after {ATTEMPTS} attempts)") from None
                self._pause(request, _Retry(f"connection dropped: {_first_line(error)}"), attempt)
            except httpx2.HTTPError as error:
                raise RemoteReadError(_first_line(error)) from None
        raise RemoteReadError("no answer")  # not reached: the last attempt returns or raises

    def _pause(self, request: _Request, retry: _Retry, attempt: int) -> None:
        """Wait before trying again: the ``Retry-After`` capped, else 1 s then 2 s; fail if that passes the deadline."""
        from ptmscope.scanners.hub import RETRY_AFTER_CAP  # heavy, and it may import this module: see _send

        wait = float(attempt) if retry.asked is None else min(retry.asked, RETRY_AFTER_CAP)
        if time.monotonic() + wait > request.deadline:
            raise RemoteReadError(f"{retry}; waiting {retry.asked or wait:,.0f} s would pass the request's deadline")
        if retry.asked is not None and retry.asked > RETRY_AFTER_CAP:
            self.warn(f"{request.url}: {retry} asks to wait {retry.asked:,.0f} s; waiting {wait:g} s (the cap)")
        time.sleep(wait)

    # -- open -------------------------------------------------------------------------------

    def open(self) -> RemoteInfo:
        """Ask the ``resolve`` URL for the file's size, ETag and storage URL (one ``HEAD``, redirects aside)."""
        from ptmscope.scanners.hub import DOWNLOAD_DEADLINE  # heavy, and it may import this module: see _send

        deadline = time.monotonic() + DOWNLOAD_DEADLINE
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            request = _Request("HEAD", url, "resolvers", {}, deadline)
            info, url = self._send(request, functools.partial(self._resolved, url=url))
            if info is not None:
                self.info = info
                self._bucket = "resolvers" if info.url == request.url else "cdn"
                return info
        raise RemoteReadError(f"the resolve URL redirects more than {MAX_REDIRECTS} times")

    def _resolved(self, response: Any, url: str) -> tuple[RemoteInfo | None, str]:
        """The file's ``RemoteInfo`` from a ``HEAD`` answer, or (None, the next URL) for a redirect to follow."""
        _check_status(response)
        status, headers = response.status_code, response.headers
        commit = headers.get("X-Repo-Commit")
        etag = _etag(headers.get("X-Linked-Etag") or headers.get("ETag"))
        if status in REDIRECT and headers.get("Location"):
            target = urljoin(url, headers["Location"])
            linked = headers.get("X-Linked-Size")
            if linked is None:
                return None, target  # a renamed repository, or the endpoint's own redirect: follow it
            return RemoteInfo(_size(linked, "X-Linked-Size"), etag, _sha256(etag), target, commit), target
        if status == 200:
            size = _size(headers.get("X-Linked-Size") or headers.get("Content-Length"), "Content-Length")
            return RemoteInfo(size, etag, _sha256(etag), url, commit), url
        message = (headers.get("X-Error-Message") or "").strip()
        reason = message.splitlines()[0][:200] if message else {401: "not authorized", 404: "not found"}.get(status)
        raise RemoteReadError(f"HTTP {status}" + (f": {reason}" if reason else ""))

    # -- read -------------------------------------------------------------------------------

    def __call__(self, start: int, stop: int) -> bytes:
        return self.read(start, stop)

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of the file (``open()`` first if it was not called)."""
        # heavy, and it may import this module: see _send
        from ptmscope.scanners.hub import DOWNLOAD_DEADLINE, DOWNLOAD_MIN_RATE

        info = self.info or self.open()
        if not 0 <= start < stop <= info.size:
            raise RemoteReadError(f"bytes {start:,}-{stop - 1:,} are outside the {info.size:,}-byte file")
        deadline = time.monotonic() + DOWNLOAD_DEADLINE + (stop - start) / DOWNLOAD_MIN_RATE
        request = _Request("GET", info.url, self._bucket, {"Range": f"bytes={start}-{stop - 1}"}, deadline)
        try:
            body = functools.partial(self._body, info=info, start=start, stop=stop, deadline=deadline)
            return self._send(request, body)
        except _Expired:
            if self._reresolved:
                raise RemoteReadError("the storage refused the URL (HTTP 403) again after resolving the file") from None
        self._reresolved = True
        fresh = self.open()
        if (fresh.size, fresh.etag) != (info.size, info.etag):
            raise RemoteReadError("the file changed while it was read (its size or ETag is not the same)")
        self._range_etag = None  # the new URL may be served by another storage: the same file, its own ETag
        return self.read(start, stop)

    def _body(self, response: Any, info: RemoteInfo, start: int, stop: int, deadline: float) -> bytes:
        """The bytes of a range answer, checked against what was asked."""
        _check_status(response)
        status = response.status_code
        if status == 403 and self._bucket == "cdn":
            raise _Expired
        if status not in (200, 206):
            raise RemoteReadError(f"HTTP {status} for bytes {start:,}-{stop - 1:,}")
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise RemoteReadError(f"the server sent the bytes {encoding}-encoded")
        etag = _etag(response.headers.get("ETag"))
        if etag is not None:
            if self._range_etag is None:
                self._range_etag = etag
            elif etag != self._range_etag:
                raise RemoteReadError(f"the file changed while it was read (ETag {self._range_etag} became {etag})")
        if status == 206:
            got = _content_range(response.headers.get("Content-Range"))
            if got is None or got[:2] != (start, stop - 1) or got[2] not in (None, info.size):
                shown = response.headers.get("Content-Range")
                raise RemoteReadError(f"asked for bytes {start}-{stop - 1}/{info.size}, the server sent {shown!r}")
            return self._take(response, stop - start, deadline, whole=True)
        if start != 0:  # 200: the server ignores Range; reading up to `start` could take the whole file
            raise RemoteReadError(f"the server ignores Range requests (HTTP 200 for bytes {start:,}-{stop - 1:,})")
        return self._take(response, stop, deadline, whole=stop == info.size)

    def _take(self, response: Any, n: int, deadline: float, whole: bool) -> bytes:
        """The first ``n`` bytes of the body, then stop reading; ``whole``: the body must end there."""
        parts: list[bytes] = []
        got = 0
        for chunk in _chunks(response):
            self.bytes_received += len(chunk)
            got += len(chunk)
            parts.append(chunk)
            if got > n:
                if whole:
                    raise RemoteReadError(f"the server sent more than the {n:,} bytes asked")
                break
            if time.monotonic() > deadline:
                raise RemoteReadError(f"{n:,} bytes not received in time")
            if got == n and not whole:
                break
        data = b"".join(parts)[:n]
        if len(data) < n:
            raise _Retry(f"the answer ended after {len(data):,} of {n:,} bytes")
        return data


def _check_status(response: Any) -> None:
    """Raise ``_Retry`` for an answer worth trying again (429, 5xx), with its ``Retry-After``."""
    from ptmscope.scanners.hub import RETRY_STATUS, _retry_after  # heavy, and it may import this module: see _send

    if response.status_code in RETRY_STATUS:
        raise _Retry(f"HTTP {response.status_code}", _retry_after(response.headers))


def _chunks(response: Any) -> Iterator[bytes]:
    """The raw body (never decompressed), in pieces of at most ``BODY_SLACK`` bytes."""
    yield from response.iter_raw(BODY_SLACK)


def _size(value: str | None, header: str) -> int:
    if value is None or not value.strip().isdigit():
        raise RemoteReadError(f"the answer has no usable {header} header ({value!r})")
    return int(value.strip())


def _sha256(etag: str | None) -> str | None:
    return etag.lower() if etag is not None and _ETAG_SHA256.fullmatch(etag.lower()) else None


def hub_file(
    repo_id: str,
    filename: str,
    revision: str,
    endpoint: str | None = None,
    token: str | None = None,
    repo_type: str = "model",
    pace: Callable[[str], None] | None = None,
) -> HttpRangeFile:
    """The ``HttpRangeFile`` of a file of a Hub repository at ``revision`` (a commit sha is best).

    The URL is huggingface_hub's ``hf_hub_url``; the headers its ``build_hf_headers``, with the token
    of ``scanners.hub.hub_token`` (an explicit ``token`` for ``endpoint``; else the saved token, only
    for the endpoint it belongs to).
    """
    # huggingface_hub is heavy (~0.3 s at start-up): imported only when a remote file is read
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    from ptmscope.scanners.hub import hub_token  # heavy, and it may import this module: see HttpRangeFile._send

    where = (endpoint or constants.ENDPOINT).rstrip("/")
    url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=where)
    headers = build_hf_headers(token=hub_token(endpoint, token), library_name="ptmscope", library_version=__version__)
    return HttpRangeFile(url, headers, pace)


def scan_http(
    url: str,
    headers: Mapping[str, str] | None,
    display: str,
    name: str = "",
    options: ScanOptions | None = None,
    budget: int | None = DEFAULT_BUDGET,
    pace: Callable[[str], None] | None = None,
) -> RemoteScan:
    """Scan the file at a ``resolve`` URL with range requests (``HttpRangeFile`` then ``scan_remote``).

    A failure to resolve the file is a ``SkippedFile`` with ``error=True``. ``requests`` counts every
    HTTP request (the ``HEAD``, retries and range reads).
    """
    remote = HttpRangeFile(url, headers, pace)
    try:
        info = remote.open()
    except RemoteReadError as error:
        return RemoteScan(SkippedFile(display, f"remote read failed: {error}", error=True), 0, remote.requests)
    scan = scan_remote(remote, info.size, display, name, options, budget)
    return RemoteScan(scan.result, scan.bytes_read, remote.requests)
