"""The crawler's HTTP client: huggingface_hub's request hooks, paced per rate-limit bucket, bounded, retried.

Requests carry huggingface_hub's request hooks (offline mode, request ids; copied from
``huggingface_hub.utils.get_session()``) and its headers (``build_hf_headers``), and failures are
named by ``hf_raise_for_status`` (``RepositoryNotFoundError``, ``GatedRepoError``...). What this
adds is what a crawl of millions of requests from an endpoint it does not trust needs:

- a ``Pacer`` per bucket fed by the ``RateLimit`` headers; retries with exponential backoff that
  honour ``Retry-After`` on 429 and 5xx; every pause the server asks for capped (``MAX_PAUSE``);
- bounds on every request: a connect timeout, a read timeout (the longest silence between two
  reads), and a total deadline per request (redirects, headers and body included), enforced
  in the socket reads themselves so a server that trickles a byte at a time is cut at the
  deadline; bodies cut at ``MAX_BODY``;
- cancellation: ``cancel()`` stops every request in flight within ``_POLL`` seconds;
- redirects followed by hand, only on the endpoint (same scheme, host and port), plus the
  real Hub's CDN hosts for files when asked; the token goes to the endpoint only;
- a DNS failure or a refused connection before the endpoint ever answered is
  ``SourceUnreachableError`` at once (not worth retrying);
- a failure is a value (``FetchFailed``, with the reason to store) rather than a crash.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore2
import httpx2
import orjson
from huggingface_hub import get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from ptmscope import __version__
from ptmscope.errors import SourceUnreachableError
from ptmscope.hub import DEFAULT_ENDPOINT
from ptmscope.hub.ratelimit import MAX_PAUSE, Budget, Pacer, PauseTooLong, pacers

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_BODY = 64 * 1024**2
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection (TCP and TLS)."""
READ_TIMEOUT = 30.0
"""Seconds a request may wait for its next bytes (the longest silence)."""
REQUEST_DEADLINE = 120.0
"""Seconds a request may take in all: connection, redirects, headers and the whole body."""
COMMAND_MAX_PAUSE = 60.0
"""The longest Retry-After / RateLimit pause a one-off command (audit, verify, scan of a repo) waits;
a crawl's is ``--max-pause``."""
HUB_CDN_SUFFIXES = (".huggingface.co", ".hf.co")
"""Hosts the real Hub's resolver redirects a file to (LFS and Xet storage behind its CDN)."""
# Consecutive requests that could not connect at all before the run stops (the endpoint went down mid-run).
MAX_CONNECT_FAILURES = 25
_POLL = 0.5
"""Seconds between checks of a request's deadline and cancellation while a read waits."""


@dataclass(frozen=True)
class Fetched:
    """A successful response."""

    status: int
    headers: dict[str, str]
    body: bytes
    attempts: int
    url: str = ""
    """Where the body came from (after redirects)."""


class FetchFailed(Exception):
    """A request that did not succeed, after retries when retrying could help."""

    def __init__(self, reason: str, *, status: int | None, retryable: bool, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason[:1_000]
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


class ResponseTooLarge(FetchFailed):
    """A response body over ``MAX_BODY`` (a listing page can be asked for again in smaller pages)."""


class DeadlineExceeded(FetchFailed):
    """No complete response within the per-request deadline (not retried in the run; a rerun retries)."""


class Cancelled(FetchFailed):
    """The client was cancelled (Ctrl-C) while the request waited or ran."""


class _Refused(Exception):
    """A redirect the client does not follow."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


# -- bounds enforced in the socket reads ------------------------------------------------------------


@dataclass
class _Limits:
    deadline: float
    cancel: threading.Event
    hit: str | None = None
    """'deadline' or 'cancelled' once a read stopped for that reason."""


_local = threading.local()


@contextlib.contextmanager
def _bounded(deadline: float, cancel: threading.Event) -> Iterator[_Limits]:
    """Bound every socket operation of this thread's requests by ``deadline`` and ``cancel`` within the block."""
    limits = _Limits(deadline, cancel)
    _local.limits = limits
    try:
        yield limits
    finally:
        _local.limits = None


def _limited(timeout: float | None) -> tuple[_Limits | None, float | None]:
    """This thread's limits and ``timeout`` shortened to the deadline; raises when over or cancelled."""
    limits: _Limits | None = getattr(_local, "limits", None)
    if limits is None:
        return None, timeout
    if limits.cancel.is_set():
        limits.hit = "cancelled"
        raise httpcore2.ReadError("cancelled")
    left = limits.deadline - time.monotonic()
    if left <= 0:
        limits.hit = "deadline"
        raise httpcore2.ReadTimeout("deadline exceeded")
    return limits, left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """A network stream whose reads stop at the request's deadline or cancellation (checked every ``_POLL`` s)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        waited = 0.0
        while True:
            limits, _ = _limited(None)  # raises once the deadline passed or the client was cancelled
            if limits is None:
                return bytes(self._inner.read(max_bytes, timeout))
            step = min(_POLL, limits.deadline - time.monotonic())
            if timeout is not None:
                step = min(step, timeout - waited)
            try:
                return bytes(self._inner.read(max_bytes, max(step, 0.001)))
            except httpcore2.ReadTimeout:
                waited += step
                if timeout is not None and waited >= timeout - 1e-6:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _, bounded = _limited(timeout)
        self._inner.write(buffer, bounded)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        _, bounded = _limited(timeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's network backend, its connections bounded by the calling thread's request limits."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _DeadlineStream:  # fmt: skip
        _, bounded = _limited(timeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        _, bounded = _limited(timeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _session() -> Any:
    """An httpx client with huggingface_hub's request hooks, no automatic redirects, deadline-bounded sockets."""
    hooks = get_session().event_hooks
    client = httpx2.Client(event_hooks={"request": list(hooks.get("request", []))}, follow_redirects=False)
    # httpx has no public hook on its sockets: wrap the network backend of each connection pool (proxies included).
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = _DeadlineBackend(pool._network_backend)
        else:  # pragma: no cover - an httpx release that moved its pool: better loud than unbounded
            raise RuntimeError("cannot bound the HTTP client's sockets (httpx internals changed)")
    return client


def _get_capped(
    session: Any, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str], timeout: Any
) -> tuple[Any, bytes | None]:
    """GET ``url`` reading at most ``MAX_BODY`` bytes of body: ``(response, body)``, body None when over.

    The body is streamed, so an endpoint that sends gigabytes costs at most ``MAX_BODY`` of
    memory. The response returned holds the bytes read (the whole body, or none when over),
    ready for ``hf_raise_for_status`` to read an error message from.
    """
    with session.stream("GET", url, params=params, headers=headers, timeout=timeout) as streamed:
        declared = streamed.headers.get("content-length", "")
        body: bytes | None = None
        if not (declared.isdigit() and int(declared) > MAX_BODY):
            chunks: list[bytes] = []
            size = 0
            for chunk in streamed.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    break
                chunks.append(chunk)
            else:
                body = b"".join(chunks)
        # The bytes are decoded already: drop the headers that describe the encoded stream.
        kept = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _STREAM_HEADERS]
        response = httpx2.Response(streamed.status_code, headers=kept, content=body or b"", request=streamed.request)
    return response, body


_STREAM_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


# -- endpoints and tokens ---------------------------------------------------------------------------


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a URL (default ports filled in), or None when it has no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in ("http", "https"):
        return None
    return scheme, parts.hostname.lower(), port if port is not None else (443 if scheme == "https" else 80)


def same_origin(url: str, endpoint: str) -> bool:
    """True when ``url`` is on ``endpoint`` (same scheme, host and port)."""
    here = origin(url)
    return here is not None and here == origin(endpoint)


def is_default_hub(endpoint: str) -> bool:
    """True for the real Hub (https://huggingface.co)."""
    return same_origin(endpoint, DEFAULT_ENDPOINT)


def is_loopback(endpoint: str) -> bool:
    """True for an endpoint on this machine (localhost, 127.0.0.0/8, ::1): your own serve-hub, not the Hub."""
    found = origin(endpoint)
    if found is None:
        return False
    host = found[1].strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_for(endpoint: str, explicit: str | None = None) -> str | None:
    """The token to send to ``endpoint``.

    ``explicit`` (``--token``, ``PTMSCOPE_HF_TOKEN``) is meant for this endpoint and wins. Otherwise
    huggingface_hub's own resolution (``huggingface_hub.get_token()``: ``HF_TOKEN``, then the saved
    login) applies, and only when ``endpoint`` is the endpoint that token belongs to: ``HF_ENDPOINT``,
    else the real Hub.
    """
    if explicit:
        return explicit
    if not same_origin(endpoint, os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT):
        return None
    return get_token()


class HubClient:
    """GETs against one endpoint, paced per bucket, bounded and retried.

    Args:
        endpoint: the hub's base URL (``https://huggingface.co``, a mirror, ``ptmscope serve-hub``).
        budgets: per-bucket budgets to start from (the response headers then take over); buckets
            not named get the anonymous plan, or no budget at all when ``unpaced``.
        token: the token to send (``token_for`` says which); sent to the endpoint only, never
            on a redirect to another host.
        timeout: the read timeout, seconds of silence a request may wait for its next bytes.
        connect_timeout: seconds to open a connection.
        deadline: seconds a request may take in all (redirects, headers, body).
        max_retries: retries after the first attempt for 429, 5xx, dropped connections and bad JSON.
        max_pause: the cap on any pause the server asks for (``Retry-After``, ``RateLimit``).
        unpaced: start buckets without a budget (a loopback endpoint: the server's headers alone pace).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        budgets: Mapping[str, Budget] | None = None,
        token: str | None = None,
        timeout: float = READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        deadline: float = REQUEST_DEADLINE,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_pause: float = MAX_PAUSE,
        unpaced: bool = False,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        start: dict[str, Budget] | None = dict(budgets) if budgets else (None if unpaced else {})
        self.pacers: dict[str, Pacer] = pacers(start, max_pause=max_pause, on_warning=on_warning)
        self.headers = build_hf_headers(token=False, library_name="ptmscope", library_version=__version__)
        self._auth = {"authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_pause = max_pause
        self.cancelled = threading.Event()
        """Set by ``cancel()``: requests in flight stop, new ones are not sent."""
        self._reached = False
        self._connect_failures = 0
        self._lock = threading.Lock()
        self._random = random.Random()  # noqa: S311 - backoff jitter, not secrets
        self._session: Any = None

    def url(self, path: str) -> str:
        """An absolute URL on the endpoint."""
        return f"{self.endpoint}{path}"

    def cancel(self) -> None:
        """Stop every request: those waiting or reading end within ``_POLL`` seconds with ``Cancelled``."""
        self.cancelled.set()

    def close(self) -> None:
        """Close the connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def headers_for(self, url: str) -> dict[str, str]:
        """The request headers for ``url``: the token only when it is on the endpoint."""
        return {**self.headers, **self._auth} if same_origin(url, self.endpoint) else dict(self.headers)

    def may_follow(self, url: str, *, cdn: bool = False) -> bool:
        """Whether a redirect to ``url`` is followed: on the endpoint; with ``cdn``, the real Hub's CDN hosts too."""
        if same_origin(url, self.endpoint):
            return True
        found = origin(url)
        return (
            cdn
            and found is not None
            and found[0] == "https"
            and is_default_hub(self.endpoint)
            and found[1].endswith(HUB_CDN_SUFFIXES)
        )

    def get(
        self,
        bucket: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        expect_json: bool = False,
        check: Callable[[Fetched], str | None] | None = None,
        cdn: bool = False,
    ) -> Fetched:
        """GET ``url`` in ``bucket``; retry what can be retried.

        ``check`` inspects a 2xx response and returns why it is unusable (a checksum that does not
        match), or None; an unusable response is retried like a 5xx. ``expect_json`` checks that the
        body is JSON. ``cdn`` lets a redirect go to the real Hub's CDN hosts (files, not API calls).

        Raises:
            FetchFailed: the request did not succeed (its reason, status and whether a later run may retry);
                ``DeadlineExceeded``, ``ResponseTooLarge`` and ``Cancelled`` are kinds of it.
            SourceUnreachableError: the endpoint cannot be reached (a DNS failure or refused connection
                before it ever answered, many failed connections in a row, or offline mode).
        """
        if not same_origin(url, self.endpoint):
            raise FetchFailed(f"not on the endpoint {self.endpoint}: {url[:200]}", status=None, retryable=False,
                              attempts=0)  # fmt: skip
        pacer = self.pacers.get(bucket) or self.pacers["api"]
        attempts = 0
        while True:
            attempts += 1
            self._acquire(pacer, attempts)
            outcome = self._attempt(pacer, url, params, cdn, attempts, expect_json=expect_json, check=check)
            if isinstance(outcome, Fetched):
                return outcome
            if attempts > self.max_retries:
                raise FetchFailed(outcome.reason, status=outcome.status, retryable=True, attempts=attempts)
            delay = self._retry_delay(outcome, attempts)
            if delay > 0 and self.cancelled.wait(delay):
                raise Cancelled("cancelled", status=None, retryable=True, attempts=attempts)

    def _acquire(self, pacer: Pacer, attempts: int) -> None:
        """Wait for the bucket's budget; raises when cancelled or when the pause it needs is over the cap."""
        try:
            if not pacer.acquire(self.cancelled):
                raise Cancelled("cancelled", status=None, retryable=True, attempts=attempts)
        except PauseTooLong as error:
            raise FetchFailed(str(error), status=None, retryable=True, attempts=attempts) from error
        if self.cancelled.is_set():
            pacer.release(None, None)
            raise Cancelled("cancelled", status=None, retryable=True, attempts=attempts)

    def _attempt(
        self,
        pacer: Pacer,
        url: str,
        params: Mapping[str, Any] | None,
        cdn: bool,
        attempts: int,
        *,
        expect_json: bool,
        check: Callable[[Fetched], str | None] | None,
    ) -> Fetched | _Retry:
        """One attempt of ``get``: the usable response, or why to try again; raises what is not worth retrying."""
        try:
            response, body = self._send(url, params, cdn)
        except OfflineModeIsEnabled as error:
            pacer.release(None, None)
            raise SourceUnreachableError(
                "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set); unset it to crawl"
            ) from error
        except _Refused as error:
            pacer.release(None, error.status)
            raise FetchFailed(str(error), status=error.status, retryable=False, attempts=attempts) from error
        except _Interrupted as stop:
            pacer.release(None, None)
            return self._interrupted(stop, attempts)
        own_wait = pacer.release(response.headers, response.status_code)
        with self._lock:
            self._connect_failures = 0
        status = response.status_code
        if status >= 300:
            reason = _error_reason(response)
            if status not in RETRY_STATUS:
                raise FetchFailed(reason, status=status, retryable=False, attempts=attempts)
            return _Retry(status, reason, own_wait)
        if body is None:
            raise ResponseTooLarge(
                f"response larger than {MAX_BODY} bytes", status=status, retryable=False, attempts=attempts
            )
        fetched = Fetched(status, dict(response.headers), body, attempts, str(response.request.url))
        problem = None
        if expect_json:
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as error:
                problem = f"invalid JSON in the response: {error}"
        if problem is None and check is not None:
            problem = check(fetched)
        if problem is None:
            return fetched
        return _Retry(status, problem[:500], own_wait)

    def _interrupted(self, stop: _Interrupted, attempts: int) -> _Retry:
        """An attempt cut short without a response: cancelled, over the deadline, unreachable, or worth a retry."""
        cause = stop.error
        if stop.limits.hit == "cancelled" or self.cancelled.is_set():
            raise Cancelled("cancelled", status=None, retryable=True, attempts=attempts) from cause
        if stop.limits.hit == "deadline":
            raise DeadlineExceeded(
                f"no complete response within the {self.deadline:g} s deadline per request",
                status=None, retryable=True, attempts=attempts,
            ) from cause  # fmt: skip
        if isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout):
            with self._lock:
                self._connect_failures += 1
                down = self._connect_failures >= MAX_CONNECT_FAILURES or not self._reached
            if down:  # a DNS failure or a refused connection is not worth retrying
                raise SourceUnreachableError(f"cannot connect to {self.endpoint}: {_short(cause)}") from cause
        return _Retry(None, f"{type(cause).__name__}: {cause}"[:500])

    def _retry_delay(self, retry: _Retry, attempts: int) -> float:
        """Seconds to wait before the next attempt; raises when the server asks for a pause over the cap."""
        if retry.own_wait is not None:  # Retry-After for this request only
            if retry.own_wait > self.max_pause:
                raise FetchFailed(
                    f"{retry.reason}; the server asked to retry after {retry.own_wait:,.0f} s, over the "
                    f"{self.max_pause:,.0f} s cap: not waited (a rerun retries)"[:1_000],
                    status=retry.status, retryable=True, attempts=attempts,
                )  # fmt: skip
            return retry.own_wait
        if retry.status != 429:
            # A spent budget waits in the pacer (RateLimit reset); the rest back off exponentially.
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
            delay *= 0.5 + self._random.random() / 2
            return delay
        return 0.0

    def _send(self, url: str, params: Mapping[str, Any] | None, cdn: bool) -> tuple[Any, bytes | None]:
        """One attempt: the request and the redirects it may follow, bounded by the deadline."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = _session()
        timeout = httpx2.Timeout(self.timeout, connect=self.connect_timeout)
        with _bounded(time.monotonic() + self.deadline, self.cancelled) as limits:
            current, query = url, params
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    response, body = _get_capped(self._session, current, query, self.headers_for(current), timeout)
                except httpx2.TransportError as error:
                    raise _Interrupted(error, limits) from error
                if same_origin(current, self.endpoint):
                    self._reached = True
                location = response.headers.get("location")
                if response.status_code not in REDIRECT_STATUS or not location:
                    return response, body
                target = urljoin(str(response.request.url), location.strip())
                if not self.may_follow(target, cdn=cdn):
                    shown = origin(target)
                    where = f"{shown[0]}://{shown[1]}:{shown[2]}" if shown else repr(location[:200])
                    raise _Refused(
                        f"HTTP {response.status_code} redirect off the endpoint {self.endpoint} to {where}: "
                        "not followed",
                        response.status_code,
                    )
                current, query = target, None
            raise _Refused(f"more than {MAX_REDIRECTS} redirects: not followed", int(response.status_code))

    def get_json(self, bucket: str, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Fetched]:
        """GET and decode JSON (a body that is not JSON is retried like a 5xx)."""
        fetched = self.get(bucket, url, params, expect_json=True)
        return orjson.loads(fetched.body), fetched

    def requests_per_bucket(self) -> dict[str, dict[str, float]]:
        """Requests, 429s and pacing waits per bucket so far."""
        return {
            name: {"requests": p.stats.requests, "throttled": p.stats.throttled, "waited": round(p.stats.waited, 3)}
            for name, p in self.pacers.items()
            if p.stats.requests
        }


@dataclass(frozen=True)
class _Retry:
    """An attempt worth retrying: its status (None without a response), the reason to store if it is the last,
    and the pause the server asked for before this request's next attempt (``Retry-After``), if any."""

    status: int | None
    reason: str
    own_wait: float | None = None


def _error_reason(response: Any) -> str:
    """The reason to store for an error response: huggingface_hub's name for it and the first line of its message."""
    try:
        hf_raise_for_status(response)
    except HfHubHTTPError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {first}"[:500]
    return f"HTTP {response.status_code}"


class _Interrupted(Exception):
    """A transport error of one attempt, with the limits that may explain it (deadline, cancellation)."""

    def __init__(self, error: Exception, limits: _Limits) -> None:
        super().__init__(str(error))
        self.error = error
        self.limits = limits


def _short(error: BaseException) -> str:
    """The innermost message of a connection error (``[Errno -2] Name or service not known``), on one line."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())[:300]
