"""The crawler's HTTP client: huggingface_hub's session, paced per rate-limit bucket, retried with backoff.

Requests go through ``huggingface_hub.utils.get_session()`` (its ``httpx`` client, request ids,
offline mode) and failures are named by ``hf_raise_for_status`` (``RepositoryNotFoundError``,
``RemoteEntryNotFoundError``, ``GatedRepoError``...). What this adds is what a crawl of millions
of requests needs: a ``Pacer`` per bucket fed by the ``RateLimit`` headers, retries with
exponential backoff that honour ``Retry-After`` on 429 and 5xx, JSON that is checked before it
is trusted, and a failure that is a value (``FetchFailed``, with the reason to store) rather
than a crash.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from ptmscope import __version__
from ptmscope.errors import SourceUnreachableError
from ptmscope.hub.ratelimit import Budget, Pacer, pacers

DEFAULT_ENDPOINT = "https://huggingface.co"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY = 64 * 1024**2
# Consecutive requests that could not connect at all before the run stops (the endpoint is down).
MAX_CONNECT_FAILURES = 25


@dataclass(frozen=True)
class Fetched:
    """A successful response."""

    status: int
    headers: dict[str, str]
    body: bytes
    attempts: int


class FetchFailed(Exception):
    """A request that did not succeed, after retries when retrying could help."""

    def __init__(self, reason: str, *, status: int | None, retryable: bool, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason[:1_000]
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


def _get_capped(
    session: Any, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str], timeout: float
) -> tuple[Any, bytes | None]:
    """GET ``url`` reading at most ``MAX_BODY`` bytes of body: ``(response, body)``, body None when over.

    The body is streamed, so an endpoint that sends gigabytes costs at most ``MAX_BODY`` of
    memory. The response returned holds the bytes read (the whole body, or none when over),
    ready for ``hf_raise_for_status`` to read an error message from.
    """
    import httpx2

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


class ResponseTooLarge(FetchFailed):
    """A response body over ``MAX_BODY`` (a listing page can be asked for again in smaller pages)."""


def is_default_hub(endpoint: str) -> bool:
    """True for the real Hub, the only endpoint a saved token is sent to."""
    return urlsplit(endpoint).hostname == urlsplit(DEFAULT_ENDPOINT).hostname


class HubClient:
    """GETs against one endpoint, paced per bucket and retried.

    Args:
        endpoint: the hub's base URL (``https://huggingface.co``, a mirror, ``ptmscope serve-hub``).
        budgets: per-bucket budgets to start from (the response headers then take over).
        token: a token to send; ``None`` sends the saved token only to the real Hub, so a
            third-party endpoint never receives it.
        timeout: seconds per request.
        max_retries: retries after the first attempt for 429, 5xx, dropped connections and bad JSON.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        budgets: Mapping[str, Budget] | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        from huggingface_hub.utils import build_hf_headers

        self.endpoint = endpoint.rstrip("/")
        self.pacers: dict[str, Pacer] = pacers(budgets or {})
        send_token: str | bool = token if token else (None if is_default_hub(self.endpoint) else False)  # type: ignore[assignment]
        self.headers = build_hf_headers(token=send_token, library_name="ptmscope", library_version=__version__)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._connect_failures = 0
        self._lock = threading.Lock()
        self._random = random.Random()  # noqa: S311 - backoff jitter, not secrets

    def url(self, path: str) -> str:
        """An absolute URL on the endpoint."""
        return f"{self.endpoint}{path}"

    def get(
        self,
        bucket: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        expect_json: bool = False,
        check: Callable[[Fetched], str | None] | None = None,
    ) -> Fetched:
        """GET ``url`` in ``bucket``; retry what can be retried.

        ``check`` inspects a 2xx response and returns why it is unusable (a checksum that does not
        match), or None; an unusable response is retried like a 5xx. ``expect_json`` checks that the
        body is JSON.

        Raises:
            FetchFailed: the request did not succeed (its reason, status and whether a later run may retry).
            SourceUnreachableError: the endpoint refused every connection for a while, or offline mode is on.
        """
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
        from huggingface_hub.utils import get_session, hf_raise_for_status

        pacer = self.pacers.get(bucket) or self.pacers["api"]
        attempts = 0
        last_reason = "no attempt"
        last_status: int | None = None
        while True:
            attempts += 1
            pacer.acquire()
            response = None
            own_wait: float | None = None
            try:
                response, body = _get_capped(get_session(), url, params, self.headers, self.timeout)
            except OfflineModeIsEnabled as error:
                pacer.release(None, None)
                raise SourceUnreachableError(
                    "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set); unset it to crawl"
                ) from error
            except httpx2.TransportError as error:
                pacer.release(None, None)
                last_status, last_reason = None, f"{type(error).__name__}: {error}"[:500]
                if isinstance(error, httpx2.ConnectError):
                    with self._lock:
                        self._connect_failures += 1
                        down = self._connect_failures >= MAX_CONNECT_FAILURES
                    if down:
                        raise SourceUnreachableError(f"cannot connect to {self.endpoint}: {error}") from error
            else:
                own_wait = pacer.release(response.headers, response.status_code)
                with self._lock:
                    self._connect_failures = 0
                status = response.status_code
                if status < 300:
                    if body is None:
                        raise ResponseTooLarge(
                            f"response larger than {MAX_BODY} bytes", status=status, retryable=False, attempts=attempts
                        )
                    fetched = Fetched(status, dict(response.headers), body, attempts)
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
                    last_status, last_reason = status, problem[:500]
                else:
                    last_status = status
                    try:
                        hf_raise_for_status(response)
                        last_reason = f"HTTP {status}"
                    except HfHubHTTPError as error:
                        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                        last_reason = f"{type(error).__name__}: {first}"[:500]
                    if status not in RETRY_STATUS:
                        raise FetchFailed(last_reason, status=status, retryable=False, attempts=attempts)
            if attempts > self.max_retries:
                raise FetchFailed(last_reason, status=last_status, retryable=True, attempts=attempts)
            if own_wait is not None:  # Retry-After for this request only
                time.sleep(own_wait)
            elif response is None or response.status_code != 429:
                # A spent budget waits in the pacer (RateLimit reset); the rest back off exponentially.
                delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
                time.sleep(delay * (0.5 + self._random.random() / 2))

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
