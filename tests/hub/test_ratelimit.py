"""Rate-limit budgets: parsing, the server's fixed windows, the client's pacing."""

from __future__ import annotations

import pytest

from ptmscope.hub.ratelimit import Budget, FixedWindow, Pacer, parse_budgets, ratelimit_headers


def test_parse_budgets_and_plans():
    assert parse_budgets("api=500/300, resolvers=3000/300")["resolvers"] == Budget("resolvers", 3000, 300.0)
    assert parse_budgets("free")["api"].limit == 1_000
    assert parse_budgets("PRO")["resolvers"].limit == 12_000
    for bad in ("api=0/300", "api=5", "api=5/-1", "nonsense"):
        with pytest.raises(ValueError, match="bad rate limit"):
            parse_budgets(bad)


def test_headers_parse_back_through_huggingface_hub():
    from huggingface_hub.utils import parse_ratelimit_headers

    info = parse_ratelimit_headers(ratelimit_headers("api", 41, 12.2, Budget("api", 500, 300)))
    assert (info.resource_type, info.remaining, info.reset_in_seconds, info.limit, info.window_seconds) == (
        "api", 41, 13, 500, 300,
    )  # fmt: skip


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_fixed_window_admits_the_budget_then_refuses_until_the_reset():
    clock = Clock()
    window = FixedWindow(Budget("api", 3, 10), clock)
    assert [window.take()[0] for _ in range(4)] == [True, True, True, False]
    assert window.take()[2] == pytest.approx(10)
    clock.now = 10.5
    admitted, remaining, reset = window.take()
    assert admitted and remaining == 2 and reset == pytest.approx(9.5)


def test_pacer_spaces_requests_evenly_then_follows_the_headers():
    clock = Clock()
    pacer = Pacer(Budget("api", 10, 10), clock)
    pacer._sleep = clock.sleep
    for _ in range(3):
        pacer.acquire()
        pacer.release({}, 200)
    assert clock.now == pytest.approx(2.0)  # 1 s apart before any header
    # The server says 4 left for 2 s: spread them 0.5 s apart.
    pacer.release(ratelimit_headers("api", 4, 2, Budget("api", 10, 10)), 200)
    start = clock.now
    pacer.acquire()
    pacer.acquire()
    assert clock.now - start == pytest.approx(1.0, abs=0.01)  # at +0.5 and +1.0
    # 429 with Retry-After pauses the whole bucket.
    pacer.release({"Retry-After": "5"}, 429)
    before = clock.now
    pacer.acquire()
    assert clock.now - before == pytest.approx(5, abs=0.01)
    assert pacer.stats.throttled == 1


def test_pacer_waits_for_the_reset_when_the_budget_is_spent():
    clock = Clock()
    pacer = Pacer(Budget("resolvers", 100, 10), clock)
    pacer._sleep = clock.sleep
    pacer.acquire()
    pacer.release(ratelimit_headers("resolvers", 0, 7, Budget("resolvers", 100, 10)), 200)
    pacer.acquire()
    assert clock.now == pytest.approx(7, abs=0.01)


def test_a_spent_budget_with_a_reset_over_the_cap_blocks_the_bucket_instead_of_waiting():
    from ptmscope.hub.ratelimit import PauseTooLong

    clock, warnings = Clock(), []
    pacer = Pacer(Budget("api", 100, 10), clock, max_pause=600, on_warning=warnings.append)
    pacer._sleep = clock.sleep
    pacer.acquire()
    pacer.release({"RateLimit": '"api";r=0;t=99999999'}, 200)
    with pytest.raises(PauseTooLong, match="over the 600 s cap"):
        pacer.acquire()
    assert clock.now < 1  # nothing was waited
    with pytest.raises(PauseTooLong):
        pacer.acquire()
    assert len(warnings) == 1 and "99,999,999 s" in warnings[0]  # warned once
    # Within the cap, a spent budget is waited as before.
    short = Pacer(Budget("api", 100, 10), clock, max_pause=600)
    short._sleep = clock.sleep
    short.acquire()
    short.release({"RateLimit": '"api";r=0;t=600'}, 200)
    before = clock.now
    short.acquire()
    assert clock.now - before == pytest.approx(600)


def test_retry_after_over_the_cap_is_returned_for_the_caller_to_fail_and_429_without_budget_blocks():
    from ptmscope.hub.ratelimit import PauseTooLong

    clock = Clock()
    pacer = Pacer(Budget("resolvers", 100, 10), clock, max_pause=60, on_warning=lambda message: None)
    pacer._sleep = clock.sleep
    pacer.acquire()
    assert pacer.release({"Retry-After": "99999999", "RateLimit": '"resolvers";r=5;t=9'}, 429) == 99999999
    pacer.acquire()  # budget left: the bucket goes on, only that request fails
    assert clock.now < 1
    # No budget information: the bucket is spent. That request fails, and so do the bucket's next ones.
    assert pacer.release({"Retry-After": "7200"}, 429) == 7200
    with pytest.raises(PauseTooLong):
        pacer.acquire()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nan", None), ("inf", None), ("-5", None), ("1e5", None), ("", None), ("garbage", None), ("12", 12.0),
     ("3.5", 3.5), ("9" * 5_000, 1e12), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
     ("Wed, 99 Foo 2015 07:28:00 GMT", None)],
)  # fmt: skip
def test_retry_after_is_parsed_defensively(value, expected):
    from ptmscope.hub.ratelimit import parse_retry_after

    assert parse_retry_after({"Retry-After": value}) == expected


def test_ratelimit_headers_of_any_size_parse_without_raising():
    from ptmscope.hub.ratelimit import rate_info

    assert rate_info({"RateLimit": '"api";r=0;t=' + "9" * 5_000}) == (0, 1e12, None, None)
    assert rate_info({"RateLimit": '"api";r=4;t=2', "RateLimit-Policy": '"fixed window";"api";q=0;w=0'}) == (
        4, 2.0, None, None,
    )  # fmt: skip
    assert rate_info({"RateLimit": "nonsense"}) is None
    clock = Clock()
    pacer = Pacer(Budget("api", 10, 10), clock, on_warning=lambda message: None)
    pacer.release({"RateLimit": '"api";r=3;t=2', "RateLimit-Policy": '"fixed window";"api";q=1;w=' + "9" * 5_000}, 200)
    assert pacer.budget == Budget("api", 10, 10)  # one request per 10^12 s: ignored
    pacer.release({"RateLimit": '"api";r=1;t=99999999'}, 200)
    assert pacer._interval <= pacer.max_pause  # pacing never plans a wait past the cap
