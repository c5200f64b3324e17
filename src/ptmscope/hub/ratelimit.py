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

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

BUCKETS = ("api", "resolvers", "pages")

# Requests per 5-minute window per plan (Hub documentation "Hub Rate limits", September 2025).
PLANS: dict[str, dict[str, int]] = {
    "anonymous": {"api": 500, "resolvers": 3_000, "pages": 100},
    "free": {"api": 1_000, "resolvers": 5_000, "pages": 200},
    "pro": {"api": 2_500, "resolvers": 12_000, "pages": 400},
}
WINDOW_SECONDS = 300

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


class Pacer:
    """Client-side pacing for one bucket, shared by every thread that sends in it.

    Before the first response the configured budget sets an even interval. Afterwards each
    response's ``RateLimit`` header (``r`` remaining, ``t`` seconds to reset) re-plans: the
    remaining requests are spread evenly over the time left, less the requests still in
    flight, so the whole window's budget gets used and none is exceeded. ``Retry-After`` (or
    ``r=0``) pauses the whole bucket until the reset.
    """

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._sleep = time.sleep
        self._lock = threading.Lock()
        self._interval = budget.window / budget.limit
        self._next = clock()
        self._paused_until = 0.0
        self._in_flight = 0
        self.stats = BucketStats()

    def acquire(self) -> None:
        """Wait for this bucket's next slot, then count the request as in flight."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next, self._paused_until)
            self._next = start + self._interval
            self._in_flight += 1
            self.stats.requests += 1
            wait = start - now
            self.stats.waited += wait
        if wait > 0:
            self._sleep(wait)

    def release(self, headers: Mapping[str, str] | None, status: int | None) -> float | None:
        """Account a finished request, learning from its headers (None: no response at all).

        Returns the seconds this one request should wait before its retry when the server said
        ``Retry-After`` but not that the bucket's budget is spent (a transient 429 or 503): then
        only that request waits and the others go on. A spent budget (``r=0``) pauses the bucket.
        """
        from huggingface_hub.utils import parse_ratelimit_headers

        info = parse_ratelimit_headers(headers) if headers is not None else None
        retry_after = _retry_after(headers) if headers is not None else None
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            now = self._clock()
            if status == 429:
                self.stats.throttled += 1
            if info is not None:
                if info.limit and info.window_seconds:
                    self.budget = Budget(self.budget.bucket, info.limit, float(info.window_seconds))
                left = info.remaining - self._in_flight
                if info.remaining <= 0 or left <= 0:
                    # Spent (or about to be): wait for the reset, then start the new window evenly.
                    self._paused_until = max(self._paused_until, now + info.reset_in_seconds)
                    self._interval = self.budget.window / self.budget.limit
                else:
                    self._interval = max(info.reset_in_seconds, 0.001) / left
                    self._next = min(self._next, now + self._interval)
            if retry_after is not None and status in (429, 503):
                if info is None and status == 429:  # no budget information: assume the bucket is spent
                    self._paused_until = max(self._paused_until, now + retry_after)
                    return None
                return retry_after
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            value = value.strip()
            try:
                return min(max(float(value), 0.0), 3_600.0)
            except ValueError:
                return None  # an HTTP date: the caller's own backoff applies
    return None


def pacers(budgets: Mapping[str, Budget]) -> dict[str, Pacer]:
    """One pacer per bucket; buckets not configured get the anonymous plan."""
    out = {b: Pacer(Budget(b, PLANS["anonymous"][b], WINDOW_SECONDS)) for b in BUCKETS}
    for name, budget in budgets.items():
        out[name] = Pacer(budget)
    return out
