"""Rate-limit budgets: parsing them, enforcing them (server side) and pacing to them (client side).

The Hub counts requests in three buckets over 5-minute fixed windows (``api``, ``resolvers``,
``pages``) and announces each response's bucket in IETF draft headers::

    RateLimit: "api";r=499;t=300
    RateLimit-Policy: "fixed window";"api";q=500;w=300

``Pacer`` spreads a client's requests over what is left of the window, one bucket at a time,
so a crawl uses its budget fully without being throttled; ``FixedWindow`` is the server's
counter (``ptmscope serve-hub --rate-limit``).
"""

from __future__ import annotations

import email.utils
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from huggingface_hub.utils import parse_ratelimit_headers

BUCKETS = ("api", "resolvers", "pages")

# Requests per 5-minute window per plan (Hub documentation "Hub Rate limits", September 2025).
PLANS: dict[str, dict[str, int]] = {
    "anonymous": {"api": 500, "resolvers": 3_000, "pages": 100},
    "free": {"api": 1_000, "resolvers": 5_000, "pages": 200},
    "pro": {"api": 2_500, "resolvers": 12_000, "pages": 400},
}
WINDOW_SECONDS = 300
UNPACED = 10**9
"""Requests per window of a bucket with no budget of its own (a loopback endpoint): the server's headers pace it."""

_BUDGET = re.compile(r"^\s*(\w+)\s*=\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Budget:
    """A bucket's quota: ``limit`` requests per fixed ``window`` seconds."""

    bucket: str
    limit: int
    window: float

    @property
    def rate(self) -> float:
        """Requests per second the budget allows on average."""
        return self.limit / self.window


def parse_budgets(spec: str) -> dict[str, Budget]:
    """Parse ``api=500/300,resolvers=3000/300`` (requests/seconds per bucket) or a plan name.

    Raises:
        ValueError: the text is neither a plan name nor bucket=requests/seconds pairs.
    """
    spec = spec.strip()
    if spec.lower() in PLANS:
        return {b: Budget(b, q, WINDOW_SECONDS) for b, q in PLANS[spec.lower()].items()}
    out: dict[str, Budget] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = _BUDGET.match(part)
        if not match or int(match.group(2)) < 1 or float(match.group(3)) <= 0:
            raise ValueError(f"bad rate limit {part!r}: expected BUCKET=REQUESTS/SECONDS, e.g. api=500/300")
        out[match.group(1)] = Budget(match.group(1), int(match.group(2)), float(match.group(3)))
    return out


def ratelimit_headers(bucket: str, remaining: int, reset: float, budget: Budget) -> dict[str, str]:
    """The two headers the Hub sends with every response of a bucket."""
    return {
        "RateLimit": f'"{bucket}";r={max(0, remaining)};t={max(0, int(reset + 0.999))}',
        "RateLimit-Policy": f'"fixed window";"{bucket}";q={budget.limit};w={int(budget.window)}',
    }


class FixedWindow:
    """The server's counter for one bucket: at most ``limit`` requests per window, windows aligned to start."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._start = clock()
        self._window = 0
        self._used = 0
        self._lock = threading.Lock()
        self.accepted = 0
        """Requests admitted so far."""
        self.refused = 0
        """Requests refused (429) because the window's budget was spent."""

    def take(self) -> tuple[bool, int, float]:
        """Count one request: (admitted, remaining in this window, seconds until the window resets)."""
        with self._lock:
            now = self._clock() - self._start
            window = int(now // self.budget.window)
            if window != self._window:
                self._window, self._used = window, 0
            reset = (window + 1) * self.budget.window - now
            if self._used >= self.budget.limit:
                self.refused += 1
                return False, 0, reset
            self._used += 1
            self.accepted += 1
            return True, self.budget.limit - self._used, reset


@dataclass
class BucketStats:
    """What a client sent in one bucket."""

    requests: int = 0
    throttled: int = 0
    """Responses 429."""
    waited: float = 0.0
    """Seconds spent waiting for the pacer."""
    refused_pauses: int = 0
    """Requests not sent because the server asked for a pause over the cap."""


MAX_PAUSE = 600.0
"""The longest pause a server can make a client wait (``Retry-After``, or a spent budget's ``RateLimit`` reset):
two of the Hub's 5-minute windows. A longer pause is not waited: the request that would wait fails instead."""
_LONG_NUMBER = re.compile(r"\d{13,}")


class PauseTooLong(Exception):
    """The server asked for a pause over the cap; the request was not sent (or its retry not waited for)."""

    def __init__(self, bucket: str, seconds: float, cap: float, why: str) -> None:
        super().__init__(
            f"the server asked to pause the {bucket} bucket for {_seconds(seconds)} s ({why}), "
            f"over the {cap:,.0f} s cap: not waited; a rerun retries"
        )
        self.bucket = bucket
        self.seconds = seconds


def warn(message: str) -> None:
    """A warning on stderr (rich's progress display, when one is live, prints it above its bars)."""
    sys.stderr.write(f"ptmscope: warning: {message}\n")
    sys.stderr.flush()


class Pacer:
    """Client-side pacing for one bucket, shared by every thread that sends in it.

    Before the first response the configured budget sets an even interval. Afterwards each
    response's ``RateLimit`` header (``r`` remaining, ``t`` seconds to reset) re-plans: the
    remaining requests are spread evenly over the time left, less the requests still in
    flight, so the whole window's budget gets used and none is exceeded. ``Retry-After`` (or
    ``r=0``) pauses the whole bucket until the reset.

    Every pause the server asks for is capped at ``max_pause`` seconds: a longer one is not
    waited. A spent budget whose reset is over the cap blocks the bucket (each request then fails
    at once with ``PauseTooLong`` until the reset time), a ``Retry-After`` over the cap is
    returned for the caller to fail that request, and a window in the headers is used for
    pacing only up to the cap. Header values are parsed defensively: numbers of any length,
    ``nan`` or a zero budget never raise. Each capped pause is warned about once per bucket.
    """

    def __init__(
        self,
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_pause: float = MAX_PAUSE,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.budget = budget
        self.max_pause = max_pause
        self._clock = clock
        self._sleep = time.sleep
        self._warn = on_warning or warn
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._interval = budget.window / budget.limit
        self._next = clock()
        self._paused_until = 0.0
        self._blocked_until = 0.0
        self._blocked_why = ""
        self._in_flight = 0
        self.stats = BucketStats()

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait for this bucket's next slot, then count the request as in flight.

        Returns False when ``cancel`` was set during the wait (the request is not in flight).

        Raises:
            PauseTooLong: the server paused this bucket past the cap; the request must not be sent.
        """
        with self._lock:
            now = self._clock()
            if self._blocked_until > now:
                self.stats.refused_pauses += 1
                raise PauseTooLong(self.budget.bucket, self._blocked_until - now, self.max_pause, self._blocked_why)
            start = max(now, self._next, self._paused_until)
            self._next = start + self._interval
            self._in_flight += 1
            self.stats.requests += 1
            wait = start - now
            self.stats.waited += wait
        if wait > 0:
            if cancel is None:
                self._sleep(wait)
            elif cancel.wait(wait):
                with self._lock:
                    self._in_flight = max(0, self._in_flight - 1)
                return False
        return True

    def release(self, headers: Mapping[str, str] | None, status: int | None) -> float | None:
        """Account a finished request, learning from its headers (None: no response at all).

        Returns the seconds this one request should wait before its retry when the server said
        ``Retry-After`` but not that the bucket's budget is spent (a transient 429 or 503): then
        only that request waits and the others go on. A spent budget (``r=0``) pauses the bucket.
        The value returned may be over ``max_pause``: the caller fails the request instead of waiting.
        """
        info = rate_info(headers) if headers is not None else None
        retry_after = parse_retry_after(headers) if headers is not None else None
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            now = self._clock()
            if status == 429:
                self.stats.throttled += 1
            if info is not None:
                remaining, reset, limit, window = info
                if limit is not None and window is not None:
                    if window / limit <= self.max_pause:
                        self.budget = Budget(self.budget.bucket, limit, window)
                    else:
                        self._warn_once(
                            "policy",
                            f"ignored the {self.budget.bucket} budget the server announced ({limit} requests per "
                            f"{_seconds(window)} s): one request every {_seconds(window / limit)} s is over the "
                            f"{self.max_pause:,.0f} s pause cap",
                        )
                left = remaining - self._in_flight
                if remaining <= 0 or left <= 0:
                    # Spent (or about to be): wait for the reset, then start the new window evenly.
                    if reset > self.max_pause:
                        self._block(now, reset, f"RateLimit r={remaining}, reset in {_seconds(reset)} s")
                    else:
                        self._paused_until = max(self._paused_until, now + reset)
                    self._interval = self.budget.window / self.budget.limit
                else:
                    self._interval = max(min(reset, self.max_pause), 0.001) / left
                    self._next = min(self._next, now + self._interval)
            if retry_after is not None and status in (429, 503):
                if retry_after > self.max_pause:
                    self._warn_once("retry-after", f"the server asked for Retry-After {_seconds(retry_after)} s in "
                                    f"the {self.budget.bucket} bucket, over the {self.max_pause:,.0f} s cap: such "
                                    "requests fail instead of waiting (a rerun retries them)")  # fmt: skip
                if info is None and status == 429:  # no budget information: assume the bucket is spent
                    if retry_after > self.max_pause:
                        self._block(now, retry_after, f"429 with Retry-After {_seconds(retry_after)}")
                    else:
                        self._paused_until = max(self._paused_until, now + retry_after)
                        return None
                return retry_after
        return None

    def _block(self, now: float, seconds: float, why: str) -> None:
        """Refuse requests in this bucket for ``seconds`` (a pause over the cap; the lock is held)."""
        self._blocked_until = max(self._blocked_until, now + min(seconds, 1e12))
        self._blocked_why = why
        self._warn_once("blocked", f"the server paused the {self.budget.bucket} bucket for {_seconds(seconds)} s "
                        f"({why}), over the {self.max_pause:,.0f} s cap: its requests fail instead of waiting "
                        "(a rerun retries them)")  # fmt: skip

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self._warn(message)


def _seconds(value: float) -> str:
    return "more than 10^12" if value >= 1e12 else f"{value:,.0f}"


def rate_info(headers: Mapping[str, str]) -> tuple[int, float, int | None, float | None] | None:
    """``(remaining, reset seconds, limit, window seconds)`` from the ``RateLimit`` headers, or None.

    Parsed by huggingface_hub's ``parse_ratelimit_headers``, after taming what a hostile server can
    send: values are cut at 1,000 characters and numbers of 13 or more digits read as 10^12 (so a
    5,000-digit ``t=`` is a very long pause, not a crash). A policy with a zero limit or window is ignored.
    """
    tamed = {}
    for key, value in headers.items():
        if key.lower() in ("ratelimit", "ratelimit-policy") and isinstance(value, str):
            tamed[key.lower()] = _LONG_NUMBER.sub("1000000000000", value[:1_000])
    if "ratelimit" not in tamed:
        return None
    try:
        info = parse_ratelimit_headers(tamed)
    except (ValueError, OverflowError):
        return None
    if info is None:
        return None
    limit = info.limit if info.limit and info.window_seconds else None
    window = float(info.window_seconds) if limit is not None and info.window_seconds else None
    return info.remaining, float(info.reset_in_seconds), limit, window


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delay seconds or an HTTP date), or None when absent or unusable.

    ``nan``, infinities, negative numbers and unparseable text are unusable (the caller's own backoff
    applies); a huge number is returned as it is (up to 10^12) for the caller to compare with the cap.
    """
    for key, value in headers.items():
        if key.lower() != "retry-after" or not isinstance(value, str):
            continue
        text = value.strip()[:200]
        if re.fullmatch(r"\d+(\.\d+)?", text):
            digits = text.partition(".")[0]
            return 1e12 if len(digits) > 12 else float(text)
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = (when - datetime.now(UTC)).total_seconds()
        return min(max(delay, 0.0), 1e12) if math.isfinite(delay) else None
    return None


def pacers(
    budgets: Mapping[str, Budget] | None,
    *,
    max_pause: float = MAX_PAUSE,
    on_warning: Callable[[str], None] | None = None,
) -> dict[str, Pacer]:
    """One pacer per bucket; buckets not configured get the anonymous plan.

    ``budgets`` None starts every bucket unpaced (``UNPACED``): the server's headers alone pace it.
    """
    default = {b: UNPACED if budgets is None else PLANS["anonymous"][b] for b in BUCKETS}
    out = {b: Pacer(Budget(b, default[b], WINDOW_SECONDS), max_pause=max_pause, on_warning=on_warning)
           for b in BUCKETS}  # fmt: skip
    for name, budget in (budgets or {}).items():
        out[name] = Pacer(budget, max_pause=max_pause, on_warning=on_warning)
    return out
