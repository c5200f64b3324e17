"""One run of a crawl: the client, the store handle, the stages in order (and side by side), the report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ptmscope.crawl.cards import CardStage
from ptmscope.crawl.context import RunContext
from ptmscope.crawl.handle import StoreHandle
from ptmscope.crawl.listing import Listing
from ptmscope.crawl.options import CrawlOptions, CrawlReport
from ptmscope.crawl.orgs import OrgStage
from ptmscope.crawl.state import CrawlState, find_snapshot
from ptmscope.hub.client import HubClient, is_loopback, token_for

if TYPE_CHECKING:
    from ptmscope.progress import ProgressFn
    from ptmscope.store.store import Store

Stage = tuple[str, Callable[[], None]]


def crawl(
    store: Store,
    endpoint: str,
    snapshot_name: str | None = None,
    options: CrawlOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    client: HubClient | None = None,
) -> CrawlReport:
    """Crawl ``endpoint`` into the snapshot ``snapshot_name`` (created, or continued when it is an unfinished crawl).

    Args:
        store: the store to write into.
        endpoint: a Hugging Face-compatible hub (``https://huggingface.co``, ``ptmscope serve-hub``).
        snapshot_name: the snapshot; None continues the latest unfinished crawl of the same
            endpoint and query, or creates ``crawl-<host>-<time>``.
        options: what to crawl; the listing query must match when continuing.
        progress: called with (stage, done, total) as work completes.
        client: the HTTP client (default: a ``HubClient`` built from the options).

    Returns:
        A ``CrawlReport``; the snapshot is 'complete' once every stage has run through.

    Raises:
        CrawlMismatchError: the named snapshot exists but is not this crawl.
        SourceUnreachableError: the endpoint cannot be reached (what was committed stays).
    """
    options = options or CrawlOptions()
    endpoint = endpoint.rstrip("/")
    own_client = client is None
    client = client or _client(endpoint, options)
    started = time.perf_counter()
    handle = StoreHandle(store, release=options.release_store, lock_wait=options.lock_wait)
    try:
        with handle.session():
            name, existing = find_snapshot(store, endpoint, snapshot_name, options)
        report = CrawlReport(snapshot=existing, resumed=existing is not None)
        # A new snapshot is created with the first listing page it stores: an endpoint that does not
        # answer (or answers no listing) leaves no empty snapshot behind.
        state = CrawlState(store, handle, endpoint, options, name, existing)
        run = RunContext(endpoint, options, state, client, report, progress or (lambda stage, done, total: None))
        if existing is not None and existing.is_complete and not state.retryable_failures():
            report.already_complete = True
        else:
            _run_stages(run)
        _final_counts(run)
    finally:
        handle.restore()
        if own_client:
            client.close()
    report.requests = client.requests_per_bucket()
    report.seconds = time.perf_counter() - started
    return report


def _client(endpoint: str, options: CrawlOptions) -> HubClient:
    """The HTTP client the options describe (a loopback endpoint without budgets starts unpaced)."""
    return HubClient(
        endpoint,
        budgets=options.budgets,
        token=token_for(endpoint, options.token),
        timeout=options.timeout,
        connect_timeout=options.connect_timeout,
        deadline=options.deadline,
        max_retries=options.max_retries,
        backoff_base=options.backoff_base,
        max_pause=options.max_pause,
        unpaced=options.budgets is None and is_loopback(endpoint),
    )


def _run_stages(run: RunContext) -> None:
    """The listing (unless done), then cards and organizations side by side; the snapshot finished.

    Complete when every stage ran through and the listing was not cut short; partial when the listing
    stopped short, a stage failed or the run was interrupted (what was committed is kept).
    """
    state = run.state
    listing_done = state.read()["listing_done"]
    try:
        if not listing_done:
            _timed(run, "models", Listing(run).list_models)
        # Cards (resolver bucket) and organizations (API bucket) spend different budgets: run them side by side.
        stages: list[Stage] = [("cards", CardStage(run).fetch_cards)] if run.options.cards else []
        stages += [("organizations", OrgStage(run).fetch_organizations)] if run.options.orgs else []
        _side_by_side(run, stages)
    except BaseException:
        run.client.cancel()  # requests still in flight stop now
        if state.snapshot is not None:
            with state.hold():
                state.save_requests(run.client.requests_per_bucket())
                state.finish("partial")
        raise
    with state.hold():
        state.save_requests(run.client.requests_per_bucket())
        listing_cut = state.failures("list")
        state.finish("partial" if listing_cut else "complete", taken_at=datetime.now(UTC))


def _side_by_side(run: RunContext, stages: list[Stage]) -> None:
    """Run stages in threads at once; the first error (or interrupt) is raised once all have stopped."""
    if len(stages) <= 1:
        for name, fn in stages:
            _timed(run, name, fn)
        return
    errors: list[BaseException] = []

    def run_stage(name: str, fn: Callable[[], None]) -> None:
        try:
            _timed(run, name, fn)
        except BaseException as error:  # handed to the main thread
            errors.append(error)
            run.stop.set()

    threads = [threading.Thread(target=run_stage, args=stage, name=f"crawl-{stage[0]}") for stage in stages]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:  # Ctrl-C: stop the requests in flight, let the stages stop, then re-raise
        run.stop.set()
        run.client.cancel()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]


def _timed(run: RunContext, stage: str, fn: Callable[[], None]) -> None:
    """Run a stage, recording its wall time and requests per bucket."""
    started = time.perf_counter()
    before = {b: p.stats.requests for b, p in run.client.pacers.items()}
    try:
        fn()
    finally:
        run.report.stage_seconds[stage] = round(time.perf_counter() - started, 3)
        sent = {b: p.stats.requests - before.get(b, 0) for b, p in run.client.pacers.items()}
        run.report.stage_requests[stage] = {b: n for b, n in sent.items() if n}


def _final_counts(run: RunContext) -> None:
    """What the snapshot holds at the end of the run, into the report: its status, failures, models, base."""
    state, report = run.state, run.report
    with state.hold():
        report.snapshot = state.reread()
        report.open_failures = state.failures_by_stage()
        report.total_models = state.model_count()
        report.retryable_failures = state.retryable_failures()
        report.base = state.base_name()
