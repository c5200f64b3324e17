"""Stage 1, the listing: ``/api/models`` page by page from where the crawl stopped, one transaction per page.

Each page asks for every model property the store has a column for (``EXPAND``), 1,000 models a
page (one API request per thousand models); each item becomes a row through
``model_record_from_api``. The next page is the ``Link: <...>; rel="next"`` of the last (a cursor).
A page's rows and the URL of the next page commit in one transaction, so a crawl killed at any
moment continues from the first page it had not committed, with no model lost or duplicated.

A page over the response size limit or the deadline is asked for again in halves (down to one
model), and the pages after it at full size again. The listing stops, with a stored failure a rerun
retries and a partial snapshot, when a next link leads back to a page of this run (a loop), points
off the endpoint, or ``IDLE_PAGES`` pages in a row bring no new model.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ptmscope.crawl.sanitize import clamp_ints, repo_id_problem
from ptmscope.errors import ListingFailedError
from ptmscope.hub.client import DeadlineExceeded, Fetched, FetchFailed, ResponseTooLarge, same_origin
from ptmscope.records import BadRecord, ModelRecord, model_record_from_api
from ptmscope.store.rows import DUPLICATE_MODEL

if TYPE_CHECKING:
    from ptmscope.crawl.context import RunContext
    from ptmscope.store.writer import SnapshotWriter

IDLE_PAGES = 5
"""Listing pages in a row that bring no new model before the listing is stopped (a cursor that goes nowhere)."""
_LINK_NEXT = re.compile(r'<([^>]{1,8000})>\s*;\s*rel="?next"?', re.IGNORECASE)


class Listing:
    """The listing stage of one run: where it is (page, models stored) and what it has seen."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.state = run.state
        self.options = run.options
        self.report = run.report
        self.source = f"{run.endpoint}/api/models"
        self.pages = 0
        """Pages the snapshot holds (all runs)."""
        self.have = 0
        """Models the snapshot holds (all runs)."""
        self.seen: dict[str, int] = {}
        """The pages of this run (by ``_page_key``), to their page number: a link back to one is a loop."""
        self.idle = 0
        """Pages in a row that brought no new model."""
        self.stopped = False
        """The listing stopped short (a stored failure; the snapshot will be partial)."""
        self._writer: SnapshotWriter | None = None

    def list_models(self) -> None:
        """Page through the listing from where it stopped, up to the limit, the end or a stop."""
        url: str | None = self._resume()
        while url is not None and not self._full():
            url = self._page(url)
        if not self.stopped:
            self.state.update(listing_done=True)

    def _resume(self) -> str:
        """Where the listing goes on: the stored next page, or the first."""
        state = self.state.read()
        first = f"{self.run.endpoint}/api/models?{urlencode(self.options.listing_params(), doseq=True)}"
        url: str = state["next_url"] or first
        self.pages = int(state["pages"])
        if self.state.snapshot is not None:
            self.have = self.state.model_count()
        return url

    def _full(self) -> bool:
        return self.options.limit is not None and self.have >= self.options.limit

    def _page(self, url: str) -> str | None:
        """Ask for the page at ``url`` and store it; return the URL to ask next (None: the end, or a stop)."""
        key = _page_key(url)
        if key in self.seen:
            self._stop(url, f"the listing's next link leads back to page {self.seen[key]}: a loop")
            return None
        if not same_origin(url, self.run.endpoint):  # a stored next_url from an older version
            self._stop(url, "the next-page link points off the endpoint")
            return None
        got = self._fetch(url)
        if not isinstance(got, tuple):
            return got  # the same page in halves, or None: it failed for good and the listing stopped
        data, fetched = got
        self.seen[key] = self.pages + 1
        next_url, off_endpoint = self._next_url(url, fetched)
        before = self.have
        self._store(url, data, next_url, stay=off_endpoint is not None)
        self.report.pages += 1
        self.run.progress("models", self.have, self.options.limit)
        if off_endpoint is not None:
            self._stop(url, off_endpoint)
            return None
        self.idle = self.idle + 1 if self.have == before else 0
        if self.idle >= IDLE_PAGES and next_url is not None:
            self._stop(next_url, f"{IDLE_PAGES} listing pages in a row brought no new model")
            return None
        return next_url

    def _fetch(self, url: str) -> tuple[list[Any], Fetched] | str | None:
        """The page's items and response; or the same page asking for half as many models (it was over the
        size limit or the deadline); or None when it failed for good after models were listed (a stop).

        Raises:
            ListingFailedError: the page failed and the crawl cannot go on (the failure is stored when
                the snapshot exists).
        """
        try:
            data, fetched = self.run.client.get_json("api", url)
            if not isinstance(data, list):
                raise _not_a_list(fetched)
            return data, fetched
        except FetchFailed as error:
            asked = _page_limit(url) or self.options.page_size
            if isinstance(error, ResponseTooLarge | DeadlineExceeded) and asked > 1:
                # Models with huge file lists (or a slow server): the same page in halves, down to one model.
                self.report.page_splits += 1
                return _with_page_limit(url, asked // 2)
            if not error.retryable and self.have:
                # Final for this page (a redirect off the endpoint, a 4xx): keep what was listed and go on
                # to its cards; the crawl is partial and a rerun asks for this page again.
                self._stop(url, f"page {self.pages + 1} failed: {error.reason}", error)
                return None
            self._fail(url, error)

    def _fail(self, url: str, error: FetchFailed) -> NoReturn:
        """Store the page's failure (when there is a snapshot to keep it in) and stop the crawl."""
        if self.state.snapshot is None:  # nothing stored yet: no snapshot to keep the failure in
            raise ListingFailedError(
                f"the model listing of {self.run.endpoint} failed ({error.reason}); nothing was stored"
            ) from error
        with self.state.transaction():
            self.state.record_failures("list", [(url, error)], [])
            self.run.count_failures("list", 1)
        raise ListingFailedError(
            f"the model listing failed at page {self.pages + 1} ({error.reason})"
            + ("; rerun the same command to continue" if error.retryable else "")
        ) from error

    def _next_url(self, url: str, fetched: Fetched) -> tuple[str | None, str | None]:
        """The next page's URL (at full pages again after a split), and why the listing must stop instead, or None."""
        next_url = _next_link(fetched.headers)
        if next_url is not None and not same_origin(next_url, self.run.endpoint):
            shown = urlsplit(next_url)
            return None, f"the next-page link points off the endpoint (to {shown.scheme}://{shown.netloc[:200]})"
        if next_url is not None and _page_limit(url) != self.options.page_size:
            next_url = _with_page_limit(next_url, self.options.page_size)  # back to full pages after a split
        return next_url, None

    def _store(self, url: str, data: list[Any], next_url: str | None, *, stay: bool) -> None:
        """Store a page in one transaction with where the listing goes on (``stay``: this page again, on a rerun).

        A new crawl's snapshot is created with its first page, so an endpoint that answers no listing
        leaves no empty snapshot behind.
        """
        records = [
            model_record_from_api(item) if isinstance(item, dict) else BadRecord("listing item is not an object")
            for item in data
        ]
        with self.state.hold():
            if self.state.snapshot is None:
                self.report.snapshot = self.state.create_snapshot()
            writer = self._writer = self._writer or self.state.writer()
            self._add_page(writer, records)
            self.pages += 1
            batch = writer.builder.take()
            before = writer.stats.models
            with self.state.transaction(writer):
                writer.write(batch)
                self.report.models += writer.stats.models - before
                self.state.record_failures("list", [], [url])  # an earlier run's failure of this page is over
                if stay:  # ask for this page again on a rerun: its link may lead on by then
                    self.state.update(next_url=url, pages=self.pages, listing_done=False)
                else:
                    done = next_url is None or self._full()
                    self.state.update(next_url=next_url, pages=self.pages, listing_done=done)

    def _add_page(self, writer: SnapshotWriter, records: list[ModelRecord | BadRecord]) -> None:
        """Buffer a page's records up to the limit: ids checked, integers kept in range, duplicates of
        stored models reported."""
        stored = self.state.stored_ids([r.repo_id for r in records if isinstance(r, ModelRecord)])
        for index, record in enumerate(records):
            if self._full():
                break
            location = f"page {self.pages + 1} item {index}"
            if isinstance(record, ModelRecord):
                problem = repo_id_problem(record.repo_id)
                if problem is not None:
                    writer.bad(self.source, location, f"not a Hub model id ({problem}): not stored",
                               record.repo_id[:500])  # fmt: skip
                    continue
                if record.repo_id in stored:
                    # The listing moved under us (a model listed on two pages): the first is kept.
                    writer.bad(self.source, location, DUPLICATE_MODEL, record.repo_id)
                    continue
                for note in clamp_ints(record):
                    writer.bad(self.source, location, f"{note} is outside the 64-bit integer range: stored as NULL",
                               record.repo_id)  # fmt: skip
            writer.add(record, self.source, location)
            if isinstance(record, ModelRecord):
                self.have += 1
                stored.add(record.repo_id)

    def _stop(self, url: str, reason: str, error: FetchFailed | None = None) -> None:
        """Stop the listing here: a stored failure (a rerun asks for ``url`` again) and a partial snapshot."""
        text = f"{reason}; listing stopped"[:1_000]
        self.report.listing_stopped = text
        status, retryable, attempts = (error.status, error.retryable, error.attempts) if error else (None, True, 0)
        failure = FetchFailed(text, status=status, retryable=retryable, attempts=attempts)
        with self.state.transaction():
            self.state.record_failures("list", [(url, failure)], [])
            self.state.update(next_url=url, listing_done=False)
            self.run.count_failures("list", 1)
        self.stopped = True


def _not_a_list(fetched: Fetched) -> FetchFailed:
    return FetchFailed(
        "the listing page is not a JSON list", status=fetched.status, retryable=True, attempts=fetched.attempts
    )


def _page_key(url: str) -> str:
    """A listing URL without its page size (a split asks for the same page in halves): repeats mean a loop."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit")
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _next_link(headers: dict[str, str]) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None."""
    for key, value in headers.items():
        if key.lower() == "link":
            match = _LINK_NEXT.search(value)
            if match:
                return match.group(1)
    return None


def _page_limit(url: str) -> int | None:
    """The ``limit`` a listing URL asks for, or None."""
    values = [v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "limit"]
    return int(values[-1]) if values and values[-1].isdigit() else None


def _with_page_limit(url: str, limit: int) -> str:
    """``url`` asking for pages of ``limit`` models (the cursor and the rest of the query kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("limit", str(limit))])))
