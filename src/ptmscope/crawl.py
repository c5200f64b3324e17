"""``ptmscope crawl`` as a library function: a registry endpoint -> a snapshot, resumably.

Three stages, each resumable on its own:

1. **models**: the listing ``/api/models`` with ``expand`` in pages of 1,000 (one API request per
   thousand models), each item converted by ``model_record_from_api``. A page's rows and the
   URL of the next page are committed in one transaction, so a crawl killed at any moment
   continues from the first page it had not committed, with no model lost or duplicated.
2. **cards**: each model's README.md at its listed sha through the resolver bucket (skipped
   for models whose file list has no README). The bytes are checked against the ETag (the git
   blob id) and kept (``repo_files``) so the snapshot can be served again. Incremental: when a
   base snapshot is known (the last complete crawl of the same endpoint, or ``base``), a model
   whose sha did not change gets its card rows copied instead of fetched.
3. **organizations**: ``/api/organizations/{namespace}/overview`` for every namespace
   (verification, members, followers). A 404 means a user account (or a deleted organization).

Requests are paced per rate-limit bucket, bounded (connect, read, a total deadline per request,
a cap on any pause the server asks for) and retried (``ptmscope.hub.client``). An item that
still fails is stored in ``crawl_failures`` with its reason and the run goes on; a rerun of the
same command retries the retryable ones. Nothing is written outside the store.

The store is held only for short transactions (a page, a chunk of cards): between them the
crawler closes its DuckDB connection, so ``study``, ``audit`` or ``snapshots`` can open the store
while a crawl runs (DuckDB lets one process at a time open a file for writing; each side waits
for the other's turn).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

from ptmscope.errors import CrawlMismatchError, ListingFailedError, StoreLockedError
from ptmscope.progress import ProgressFn
from ptmscope.records import (
    BadRecord,
    ModelRecord,
    OrgRecord,
    as_bool,
    as_int,
    clean_id,
    clean_text,
    model_record_from_api,
)
from ptmscope.store.rows import DUPLICATE_MODEL, git_blob_id
from ptmscope.store.store import connect_waiting
from ptmscope.store.writer import SnapshotWriter

if TYPE_CHECKING:
    from ptmscope.hub.client import Fetched, FetchFailed, HubClient
    from ptmscope.hub.ratelimit import Budget
    from ptmscope.store.store import Snapshot, Store

"""Called as ``progress(stage, done, total)``; total is None while unknown."""

# What the listing asks for: every model property the store has a column for.
EXPAND = ("author", "cardData", "config", "createdAt", "disabled", "downloads", "downloadsAllTime", "gated",
          "lastModified", "library_name", "likes", "pipeline_tag", "private", "safetensors", "sha", "siblings",
          "tags", "usedStorage")  # fmt: skip
PAGE_SIZE = 1_000
NOT_AN_ORG = "no organization overview (HTTP 404): a user account, or a deleted organization"
README_LISTED_NOT_SERVED = "README.md is in the file list but the resolver answered 404"
_LINK_NEXT = re.compile(r'<([^>]{1,8000})>\s*;\s*rel="?next"?', re.IGNORECASE)
IDLE_PAGES = 5
"""Listing pages in a row that bring no new model before the listing is stopped (a cursor that goes nowhere)."""
LOCK_WAIT = 600.0
"""Seconds the crawler waits for the store when another process (a study, an audit) holds it."""
INT64 = (-(2**63), 2**63 - 1)
_ID_PART = re.compile(r"[A-Za-z0-9_.-]{1,400}")
_CARD_TABLES_BY_SOURCE = ("model_datasets", "model_licenses", "base_models", "model_links", "claims", "model_indexes")


@dataclass
class CrawlOptions:
    """What to crawl and how hard."""

    limit: int | None = None
    """Stop listing after this many models."""
    author: str | None = None
    filters: tuple[str, ...] = ()
    search: str | None = None
    cards: bool = True
    orgs: bool = True
    incremental: bool = True
    """Copy the cards of models whose sha did not change from the base snapshot."""
    base: str | None = None
    """The base snapshot (default: the latest complete crawl of the same endpoint)."""
    budgets: dict[str, Budget] | None = None
    """Starting budgets per bucket (the server's RateLimit headers take over). None: the anonymous plan,
    except for a loopback endpoint (your own serve-hub), which starts unpaced."""
    concurrency: int = 8
    """Requests in flight at once for cards and organizations."""
    token: str | None = None
    """A token for this endpoint; None: huggingface_hub's own (``HF_TOKEN``, the saved login), sent only when the
    endpoint is the one it belongs to (``HF_ENDPOINT``, else the real Hub)."""
    timeout: float = 30.0
    """Read timeout: seconds a request may wait for its next bytes."""
    connect_timeout: float = 10.0
    deadline: float = 120.0
    """Seconds a request may take in all (redirects, headers, body)."""
    max_pause: float = 600.0
    """Cap on a pause the server asks for (Retry-After, RateLimit reset); a longer one fails the item instead."""
    max_retries: int = 8
    backoff_base: float = 0.5
    """Seconds before the first retry of a 5xx or dropped connection (doubling, with jitter)."""
    chunk: int = 500
    """Cards or organizations committed per transaction."""
    page_size: int = PAGE_SIZE
    release_store: bool = True
    """Close the store's connection between transactions so other processes can use it (file stores only)."""
    lock_wait: float = LOCK_WAIT
    """Seconds to wait for the store when another process holds it."""

    def listing_params(self) -> dict[str, Any]:
        """The listing's query: part of a crawl's identity (a rerun must ask the same)."""
        params: dict[str, Any] = {"expand[]": list(EXPAND), "limit": self.page_size}
        if self.author:
            params["author"] = self.author
        if self.filters:
            params["filter"] = list(self.filters)
        if self.search:
            params["search"] = self.search
        return params

    def identity(self) -> dict[str, Any]:
        """What must match for a rerun to continue a crawl."""
        return {"listing": self.listing_params(), "max_models": self.limit}


@dataclass
class CrawlReport:
    """What one run of ``crawl`` did (counts are this run's unless named total)."""

    snapshot: Snapshot | None
    """The snapshot (None only until a new crawl's first listing page is stored)."""
    resumed: bool = False
    already_complete: bool = False
    pages: int = 0
    page_splits: int = 0
    """Listing pages asked for again in halves because the response was over the size limit."""
    models: int = 0
    cards_fetched: int = 0
    cards_copied: int = 0
    cards_missing: int = 0
    organizations: int = 0
    not_organizations: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    """Failures recorded in this run, per stage."""
    open_failures: dict[str, int] = field(default_factory=dict)
    """Failures stored for the snapshot at the end, per stage (retryable or not)."""
    retryable_failures: int = 0
    """Of those, the ones a rerun tries again."""
    requests: dict[str, dict[str, float]] = field(default_factory=dict)
    base: str | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each stage that ran (models, cards, organizations)."""
    stage_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    """Requests each stage sent, per bucket (retries included)."""
    total_models: int = 0
    listing_stopped: str | None = None
    """Why the listing stopped before its end in this run (a loop, a link off the endpoint), or None."""


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
    from ptmscope.hub.client import HubClient, is_loopback, token_for

    options = options or CrawlOptions()
    endpoint = endpoint.rstrip("/")
    own_client = client is None
    client = client or HubClient(
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
    started = time.perf_counter()
    handle = _StoreHandle(store, release=options.release_store, lock_wait=options.lock_wait)
    try:
        with handle.session():
            name, existing = _find_snapshot(store, endpoint, snapshot_name, options)
        report = CrawlReport(snapshot=existing, resumed=existing is not None)
        # A new snapshot is created with the first listing page it stores: an endpoint that does not
        # answer (or answers no listing) leaves no empty snapshot behind.
        run = _Run(store, handle, existing, name, endpoint, options, client, report,
                   progress or (lambda stage, done, total: None))  # fmt: skip
        state = run.state()
        if existing is not None and existing.is_complete and not run.open_retryable():
            report.already_complete = True
        else:
            try:
                if not state["listing_done"]:
                    run.timed("models", run.list_models)
                # Cards (resolver bucket) and organizations (API bucket) spend different budgets: run them side by side.
                stages = [("cards", run.cards)] if options.cards else []
                stages += [("organizations", run.organizations)] if options.orgs else []
                run.side_by_side(stages)
            except BaseException:
                client.cancel()  # requests still in flight stop now
                if run.snapshot is not None:
                    with handle.session():
                        run.save_requests()
                        store.finish_snapshot(run.snapshot, status="partial")
                raise
            with handle.session():
                run.save_requests()
                listing_cut = run.open_failures("list")
                store.finish_snapshot(
                    run.made, status="partial" if listing_cut else "complete", taken_at=datetime.now(UTC)
                )
        snapshot = run.made
        with handle.session():
            report.snapshot = store.snapshot(snapshot.name)
            report.open_failures = {
                stage: int(n)
                for stage, n in store.query(
                    "SELECT stage, count(*) FROM crawl_failures WHERE snapshot_id = ? GROUP BY stage ORDER BY stage",
                    [snapshot.snapshot_id],
                )
            }
            report.total_models = int(
                store.query("SELECT count(*) FROM models WHERE snapshot_id = ?", [snapshot.snapshot_id])[0][0]
            )
            report.retryable_failures = run.open_retryable()
            base_id = run.state()["base_snapshot_id"]
            if base_id is not None:
                names = store.query("SELECT name FROM snapshots WHERE snapshot_id = ?", [base_id])
                report.base = names[0][0] if names else None
    finally:
        handle.restore()
        if own_client:
            client.close()
    report.requests = client.requests_per_bucket()
    report.seconds = time.perf_counter() - started
    return report


class _StoreHandle:
    """The store's connection, opened for each transaction and closed between them (``release``).

    DuckDB lets one process at a time open a database file for writing. A crawl runs for hours and
    spends nearly all of that time waiting on the network, so it holds the file only while it reads
    or commits (a page, a chunk), and other processes (``study``, ``audit``) get the store in
    between. Opening waits while another process holds the file, up to ``lock_wait`` seconds.
    An in-memory store, or ``release=False``, keeps its connection.
    """

    def __init__(self, store: Store, *, release: bool, lock_wait: float) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.release = release and store.location != ":memory:" and not store.read_only
        self.lock_wait = lock_wait
        self._depth = 0
        self._open = True
        self._settings: list[tuple[str, str]] = []
        if self.release:
            for name in ("TimeZone", "memory_limit", "threads"):
                value = store.con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]
                self._settings.append((name, str(value)))
            store.con.close()
            self._open = False

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """The connection for a block of statements (a transaction); closed after, when releasing."""
        with self.lock:
            if self._depth == 0 and not self._open:
                self._connect()
            self._depth += 1
            try:
                yield self.store.con
            finally:
                self._depth -= 1
                if self._depth == 0 and self.release:
                    self.store.con.close()
                    self._open = False

    def restore(self) -> None:
        """Leave the store open again for the caller."""
        with self.lock:
            if not self._open:
                self._connect()

    def _connect(self) -> None:
        try:
            con = connect_waiting(self.store.location, read_only=False, patience=self.lock_wait)
        except StoreLockedError as error:
            raise StoreLockedError(f"{error}; what the crawl committed is kept, rerun to continue") from error
        for name, value in self._settings:
            con.execute(f"SET {name} = ?", [value])
        self.store.con = con
        self._open = True


def _identity(options: CrawlOptions) -> str:
    return orjson.dumps(options.identity(), option=orjson.OPT_SORT_KEYS).decode()


def _find_snapshot(store: Store, endpoint: str, name: str | None, options: CrawlOptions) -> tuple[str, Snapshot | None]:
    """The snapshot's name and, when it exists and is this crawl, the snapshot to continue."""
    identity = _identity(options)
    if name is None:
        rows = store.query(
            "SELECT s.name FROM snapshots s JOIN crawl_state c USING (snapshot_id)"
            " WHERE s.source = 'crawl' AND s.status <> 'complete' AND c.endpoint = ? AND c.params::VARCHAR = ?"
            " ORDER BY s.snapshot_id DESC LIMIT 1",
            [endpoint, identity],
        )
        if rows:
            name = rows[0][0]
        else:
            host = re.sub(r"[^A-Za-z0-9.-]+", "-", urlsplit(endpoint).netloc or "hub")[:60]
            name = f"crawl-{host}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    existing = store.find_snapshot(name)
    if existing is not None:
        rows = store.query(
            "SELECT endpoint, params::VARCHAR FROM crawl_state WHERE snapshot_id = ?", [existing.snapshot_id]
        )
        if not rows:
            raise CrawlMismatchError(f"snapshot {name!r} exists and is not a crawl (source: {existing.source})")
        if rows[0][0] != endpoint or rows[0][1] != identity:
            raise CrawlMismatchError(
                f"snapshot {name!r} is a crawl of {rows[0][0]} with query {rows[0][1][:300]}; "
                "continue it with the same --endpoint and options, or pick another --snapshot"
            )
    return name, existing


def _create_snapshot(store: Store, endpoint: str, name: str, options: CrawlOptions) -> Snapshot:
    base_id = _base_snapshot(store, endpoint, options)
    snapshot = store.create_snapshot(name, source="crawl", source_detail=endpoint)
    store.con.execute(
        "INSERT INTO crawl_state (snapshot_id, endpoint, params, base_snapshot_id, updated_at) VALUES (?, ?, ?, ?, ?)",
        [snapshot.snapshot_id, endpoint, _identity(options), base_id, datetime.now(UTC)],
    )
    return snapshot


def _base_snapshot(store: Store, endpoint: str, options: CrawlOptions) -> int | None:
    if not options.incremental:
        return None
    if options.base:
        return store.snapshot(options.base).snapshot_id
    rows = store.query(
        "SELECT s.snapshot_id FROM snapshots s JOIN crawl_state c USING (snapshot_id)"
        " WHERE s.source = 'crawl' AND s.status = 'complete' AND c.endpoint = ? AND c.cards_done"
        " ORDER BY s.snapshot_id DESC LIMIT 1",
        [endpoint],
    )
    return int(rows[0][0]) if rows else None


def repo_id_problem(repo_id: str) -> str | None:
    """Why ``repo_id`` is not a Hub model id that is safe to build a URL from, or None.

    huggingface_hub's ``validate_repo_id`` judges, except that names over 96 characters and a ``.git``
    ending are allowed: real older Hub ids have them. A ``..`` (which a URL would normalise onto
    another repo), an empty or ``.`` segment, more than one ``/`` and characters outside letters,
    digits and ``-_.`` are refused.
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    parts = repo_id.split("/")
    if ".." in repo_id or any(part in ("", ".") for part in parts):
        return "a '..', '.' or empty path segment"
    try:
        validate_repo_id(repo_id)
        return None
    except HFValidationError as error:
        reason = str(error).splitlines()[0][:300]
    if len(parts) <= 2 and all(_ID_PART.fullmatch(p) and p[0] not in ".-" for p in parts) and "--" not in repo_id:
        return None  # a long name or a '.git' ending: the Hub has such ids from its early years
    return reason


def _clamp_ints(record: ModelRecord) -> list[str]:
    """Set integers outside the 64-bit range (``likes: 1e30``) to None; return what was dropped, for the note."""
    dropped = []
    for spec in fields(record):
        value = getattr(record, spec.name)
        if type(value) is int and not INT64[0] <= value <= INT64[1]:
            setattr(record, spec.name, None)
            dropped.append(f"{spec.name} {_digits(value)}")
    for entry in record.files or []:
        if entry.size is not None and not INT64[0] <= entry.size <= INT64[1]:
            dropped.append(f"size of {entry.path[:200]} {_digits(entry.size)}")
            entry.size = None
    return dropped


def _digits(value: int) -> str:
    text = str(value) if value.bit_length() < 4_000 else "a number of more than 1,200 digits"
    return text if len(text) <= 40 else f"{text[:12]}... ({len(text)} digits)"


def _page_key(url: str) -> str:
    """A listing URL without its page size (a split asks for the same page in halves): repeats mean a loop."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit")
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _next_link(headers: dict[str, str]) -> str | None:
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


def _etag_matches(fetched: Fetched) -> str | None:
    """Why a resolved file's bytes do not match its ETag (the git blob id of small files), or None."""
    etag = next((v for k, v in fetched.headers.items() if k.lower() == "etag"), None)
    if etag is None:
        return None
    etag = etag.removeprefix("W/").strip('"')
    if re.fullmatch(r"[0-9a-f]{40}", etag) and git_blob_id(fetched.body) != etag:
        return f"the bytes received do not match the ETag {etag}"
    return None


def _card_content(body: bytes) -> str | bytes:
    """Text when the bytes are UTF-8 (as a dump would hold it), else the bytes for the card analysis to judge."""
    try:
        return body.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return body


class _Stopped(Exception):
    """Another stage failed: this one stops at a chunk boundary."""


class _Run:
    """One run of a crawl: the stages, sharing the store, the client and the report."""

    def __init__(
        self,
        store: Store,
        handle: _StoreHandle,
        snapshot: Snapshot | None,
        name: str,
        endpoint: str,
        options: CrawlOptions,
        client: HubClient,
        report: CrawlReport,
        progress: ProgressFn,
    ) -> None:
        self.store = store
        self.handle = handle
        self.name = name
        self.snapshot = snapshot
        """None until a new crawl stores its first page (``ensure_snapshot``)."""
        self.sid = snapshot.snapshot_id if snapshot is not None else -1
        self.endpoint = endpoint
        self.options = options
        self.client = client
        self.report = report
        self.progress = progress
        self._requests_saved: dict[str, dict[str, float]] = {}
        self.stop = threading.Event()

    @property
    def made(self) -> Snapshot:
        """The snapshot, once it exists."""
        if self.snapshot is None:  # pragma: no cover - every path that gets here stored a page first
            raise RuntimeError("the crawl stored nothing")
        return self.snapshot

    def ensure_snapshot(self) -> None:
        """Create the new crawl's snapshot (inside the transaction that stores its first page)."""
        if self.snapshot is None:
            self.snapshot = _create_snapshot(self.store, self.endpoint, self.name, self.options)
            self.sid = self.snapshot.snapshot_id
            self.report.snapshot = self.snapshot

    @property
    def con(self) -> Any:
        """The store's connection (open only inside ``db()``)."""
        return self.store.con

    def db(self) -> contextlib.AbstractContextManager[Any]:
        """The store for a block of statements: held for every use of the connection (a chunk's transaction
        included), so two stages never interleave statements, and released after it for other processes."""
        return self.handle.session()

    # -- state -------------------------------------------------------------------------

    def side_by_side(self, stages: list[tuple[str, Callable[[], None]]]) -> None:
        """Run stages in threads at once; the first error (or interrupt) is raised once all have stopped."""
        if len(stages) <= 1:
            for name, fn in stages:
                self.timed(name, fn)
            return
        errors: list[BaseException] = []

        def run(name: str, fn: Callable[[], None]) -> None:
            try:
                self.timed(name, fn)
            except BaseException as error:  # handed to the main thread
                errors.append(error)
                self.stop.set()

        threads = [threading.Thread(target=run, args=stage, name=f"crawl-{stage[0]}") for stage in stages]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except BaseException:  # Ctrl-C: stop the requests in flight, let the stages stop, then re-raise
            self.stop.set()
            self.client.cancel()
            for thread in threads:
                thread.join()
            raise
        if errors:
            raise errors[0]

    def timed(self, stage: str, fn: Callable[[], None]) -> None:
        """Run a stage, recording its wall time and requests per bucket."""
        started = time.perf_counter()
        before = {b: p.stats.requests for b, p in self.client.pacers.items()}
        try:
            fn()
        finally:
            self.report.stage_seconds[stage] = round(time.perf_counter() - started, 3)
            sent = {b: p.stats.requests - before.get(b, 0) for b, p in self.client.pacers.items()}
            self.report.stage_requests[stage] = {b: n for b, n in sent.items() if n}

    def state(self) -> dict[str, Any]:
        """The snapshot's crawl_state row (a new crawl's before it exists)."""
        if self.snapshot is None:
            return {"next_url": None, "pages": 0, "listing_done": False, "cards_done": False, "orgs_done": False,
                    "base_snapshot_id": None}  # fmt: skip
        with self.db():
            rows = self.con.execute(
                "SELECT next_url, pages, listing_done, cards_done, orgs_done, base_snapshot_id FROM crawl_state"
                " WHERE snapshot_id = ?",
                [self.sid],
            ).fetchall()
        keys = ("next_url", "pages", "listing_done", "cards_done", "orgs_done", "base_snapshot_id")
        return dict(zip(keys, rows[0], strict=True))

    def set_state(self, **values: Any) -> None:
        """Update crawl_state columns (inside the open transaction, if any)."""
        columns = ", ".join(f"{k} = ?" for k in values)
        self.con.execute(
            f"UPDATE crawl_state SET {columns}, updated_at = ? WHERE snapshot_id = ?",
            [*values.values(), datetime.now(UTC), self.sid],
        )

    def save_requests(self) -> None:
        """Add this run's requests per bucket to the snapshot's running total."""
        now = self.client.requests_per_bucket()
        rows = self.con.execute(
            "SELECT requests::VARCHAR FROM crawl_state WHERE snapshot_id = ?", [self.sid]
        ).fetchall()
        total: dict[str, dict[str, float]] = orjson.loads(rows[0][0]) if rows and rows[0][0] else {}
        for bucket, stats in now.items():
            before = self._requests_saved.get(bucket, {})
            into = total.setdefault(bucket, {})
            for key, value in stats.items():
                into[key] = round(into.get(key, 0) + value - before.get(key, 0), 3)
        self._requests_saved = now
        self.con.execute(
            "UPDATE crawl_state SET requests = ? WHERE snapshot_id = ?", [orjson.dumps(total).decode(), self.sid]
        )

    def open_retryable(self) -> int:
        """Stored failures a rerun would try again."""
        if self.snapshot is None:
            return 0
        with self.db():
            rows = self.con.execute(
                "SELECT count(*) FROM crawl_failures WHERE snapshot_id = ? AND retryable", [self.sid]
            ).fetchall()
        return int(rows[0][0])

    def open_failures(self, stage: str) -> int:
        """Stored failures of one stage."""
        with self.db():
            rows = self.con.execute(
                "SELECT count(*) FROM crawl_failures WHERE snapshot_id = ? AND stage = ?", [self.sid, stage]
            ).fetchall()
        return int(rows[0][0])

    def _failures(self, stage: str, failed: list[tuple[str, FetchFailed]], succeeded: Iterable[str]) -> None:
        """Store a chunk's failures; forget earlier failures of items that now succeeded (in the open transaction)."""
        done = [item for item in succeeded]
        items = done + [item for item, _ in failed]
        if items:
            self.con.execute(
                "DELETE FROM crawl_failures WHERE snapshot_id = ? AND stage = ? AND list_contains(?, item)",
                [self.sid, stage, items],
            )
        now = datetime.now(UTC)
        for item, error in failed:
            self.con.execute(
                "INSERT INTO crawl_failures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [self.sid, stage, item, error.status, error.reason, error.retryable, error.attempts, now],
            )
            if error.reason != NOT_AN_ORG:
                self.report.failures[stage] += 1

    def _writer(self) -> SnapshotWriter:
        # Commit only where this module says (a page, a chunk), so progress and rows commit together.
        # Ids are kept unique by asking the store (a page's ids; the pending queries), not by sets in
        # memory, so the crawler's memory does not grow with the registry.
        return SnapshotWriter(
            self.store, self.made, batch_rows=10**9, commit_rows=10**9, keep_files=True, track_ids=False
        )

    # -- stage 1: the listing --------------------------------------------------------------

    def list_models(self) -> None:
        """Stage 1: page through the listing from where it stopped, one transaction per page.

        A page that is over the size limit or the deadline is asked for again in halves. The listing
        stops, with a stored failure and a partial snapshot, when a next link leads back to a page of
        this run (a loop), points off the endpoint, or ``IDLE_PAGES`` pages in a row bring no new
        model; a rerun asks again from that page.
        """
        from ptmscope.hub.client import DeadlineExceeded, FetchFailed, ResponseTooLarge, same_origin

        state = self.state()
        writer: SnapshotWriter | None = None
        url = state["next_url"] or f"{self.endpoint}/api/models?{urlencode(self.options.listing_params(), doseq=True)}"
        pages = int(state["pages"])
        have = 0
        if self.snapshot is not None:
            with self.db():
                have = int(
                    self.con.execute("SELECT count(*) FROM models WHERE snapshot_id = ?", [self.sid]).fetchall()[0][0]
                )
        limit = self.options.limit
        source = f"{self.endpoint}/api/models"
        seen: dict[str, int] = {}
        idle = 0
        while url is not None and (limit is None or have < limit):
            key = _page_key(url)
            if key in seen:
                self._stop_listing(url, f"the listing's next link leads back to page {seen[key]}: a loop")
                return
            if not same_origin(url, self.endpoint):  # a stored next_url from an older version
                self._stop_listing(url, "the next-page link points off the endpoint")
                return
            try:
                data, fetched = self.client.get_json("api", url)
                if not isinstance(data, list):
                    raise _not_a_list(fetched)
            except FetchFailed as error:
                asked = _page_limit(url) or self.options.page_size
                if isinstance(error, ResponseTooLarge | DeadlineExceeded) and asked > 1:
                    # Models with huge file lists (or a slow server): the same page in halves, down to one model.
                    url = _with_page_limit(url, asked // 2)
                    self.report.page_splits += 1
                    continue
                if not error.retryable and have:
                    # Final for this page (a redirect off the endpoint, a 4xx): keep what was listed and go on
                    # to its cards; the crawl is partial and a rerun asks for this page again.
                    self._stop_listing(url, f"page {pages + 1} failed: {error.reason}", error)
                    return
                if self.snapshot is None:  # nothing stored yet: no snapshot to keep the failure in
                    raise ListingFailedError(
                        f"the model listing of {self.endpoint} failed ({error.reason}); nothing was stored"
                    ) from error
                with self.db():
                    self.con.execute("BEGIN TRANSACTION")
                    self._failures("list", [(url, error)], [])
                    self.con.execute("COMMIT")
                raise ListingFailedError(
                    f"the model listing failed at page {pages + 1} ({error.reason})"
                    + ("; rerun the same command to continue" if error.retryable else "")
                ) from error
            seen[key] = pages + 1
            next_url = _next_link(fetched.headers)
            stop_reason = None
            if next_url is not None and not same_origin(next_url, self.endpoint):
                shown = urlsplit(next_url)
                stop_reason = f"the next-page link points off the endpoint (to {shown.scheme}://{shown.netloc[:200]})"
                next_url = None
            elif next_url is not None and _page_limit(url) != self.options.page_size:
                next_url = _with_page_limit(next_url, self.options.page_size)  # back to full pages after a split
            records = [
                model_record_from_api(item) if isinstance(item, dict) else BadRecord("listing item is not an object")
                for item in data
            ]
            with self.db():
                self.ensure_snapshot()
                writer = writer or self._writer()
                stored_before = have
                have = self._add_page(writer, records, source, pages, limit, have)
                pages += 1
                batch = writer.builder.take()
                before = writer.stats.models
                writer.write(batch)
                self.report.models += writer.stats.models - before
                self._failures("list", [], [url])
                done = next_url is None or (limit is not None and have >= limit)
                if stop_reason is not None:
                    # Ask for this page again on a rerun: its link may lead on by then.
                    self.set_state(next_url=url, pages=pages, listing_done=False)
                    writer.commit()
                else:
                    self.set_state(next_url=next_url, pages=pages, listing_done=done)
                    writer.commit()
            self.report.pages += 1
            self.progress("models", have, limit)
            if stop_reason is not None:
                self._stop_listing(url, stop_reason)
                return
            idle = idle + 1 if have == stored_before else 0
            if idle >= IDLE_PAGES and next_url is not None:
                self._stop_listing(next_url, f"{IDLE_PAGES} listing pages in a row brought no new model")
                return
            url = next_url
        with self.db():
            self.set_state(listing_done=True)

    def _add_page(
        self, writer: SnapshotWriter, records: list[ModelRecord | BadRecord], source: str, pages: int,
        limit: int | None, have: int,
    ) -> int:  # fmt: skip
        """Buffer a page's records (ids checked, integers kept in range, duplicates of stored models reported);
        return the models the snapshot will hold."""
        listed = [r.repo_id for r in records if isinstance(r, ModelRecord)]
        stored: set[str] = set()
        if listed:
            query = "SELECT repo_id FROM models WHERE snapshot_id = ? AND list_contains(?, repo_id)"
            stored = {row[0] for row in self.con.execute(query, [self.sid, listed]).fetchall()}
        for index, record in enumerate(records):
            if limit is not None and have >= limit:
                break
            location = f"page {pages + 1} item {index}"
            if isinstance(record, ModelRecord):
                problem = repo_id_problem(record.repo_id)
                if problem is not None:
                    writer.bad(source, location, f"not a Hub model id ({problem}): not stored", record.repo_id[:500])
                    continue
                if record.repo_id in stored:
                    # The listing moved under us (a model listed on two pages): the first is kept.
                    writer.bad(source, location, DUPLICATE_MODEL, record.repo_id)
                    continue
                for note in _clamp_ints(record):
                    writer.bad(source, location, f"{note} is outside the 64-bit integer range: stored as NULL",
                               record.repo_id)  # fmt: skip
            writer.add(record, source, location)
            if isinstance(record, ModelRecord):
                have += 1
                stored.add(record.repo_id)
        return have

    def _stop_listing(self, url: str, reason: str, error: FetchFailed | None = None) -> None:
        """Stop the listing here: a stored failure (a rerun asks for ``url`` again) and a partial snapshot."""
        from ptmscope.hub.client import FetchFailed

        text = f"{reason}; listing stopped"[:1_000]
        self.report.listing_stopped = text
        status, retryable, attempts = (error.status, error.retryable, error.attempts) if error else (None, True, 0)
        failure = FetchFailed(text, status=status, retryable=retryable, attempts=attempts)
        with self.db():
            self.con.execute("BEGIN TRANSACTION")
            self._failures("list", [(url, failure)], [])
            self.set_state(next_url=url, listing_done=False)
            self.con.execute("COMMIT")

    # -- stage 2: cards ----------------------------------------------------------------

    def cards(self) -> None:
        """Stage 2: copy unchanged cards from the base, fetch the rest, in two passes."""
        state = self.state()
        base = state["base_snapshot_id"]
        if base is not None and base != self.sid:
            with self.db():
                self.report.cards_copied += self._copy_cards(int(base))
        with self.db():
            total = int(
                self.con.execute(
                    "SELECT count(*) FROM models m WHERE snapshot_id = ? AND NOT EXISTS"
                    " (SELECT 1 FROM cards c WHERE c.snapshot_id = m.snapshot_id AND c.repo_id = m.repo_id)",
                    [self.sid],
                ).fetchall()[0][0]
            )

        # Pass 1: every model without a card (failures from earlier runs included, unless final);
        # pass 2: what failed in pass 1 and may succeed on a second try.
        def select(only_failed: bool, last: str) -> list[tuple[Any, ...]]:
            return self.con.execute(
                "SELECT repo_id, sha, has_readme FROM models m WHERE snapshot_id = $sid AND repo_id > $last"
                " AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.snapshot_id = $sid AND c.repo_id = m.repo_id)"
                " AND NOT EXISTS (SELECT 1 FROM crawl_failures f WHERE f.snapshot_id = $sid AND f.stage = 'card'"
                "   AND f.item = m.repo_id AND NOT f.retryable)"
                + (
                    " AND EXISTS (SELECT 1 FROM crawl_failures f WHERE f.snapshot_id = $sid AND f.stage = 'card'"
                    "   AND f.item = m.repo_id)"
                    if only_failed
                    else ""
                )
                + " ORDER BY repo_id LIMIT $n",
                {"sid": self.sid, "last": last, "n": self.options.chunk},
            ).fetchall()

        self._pipeline("cards", total, select, self._start_cards, self._finish_cards)
        with self.db():
            self.set_state(cards_done=True)

    def _pipeline(
        self,
        stage: str,
        total: int | None,
        select: Callable[[bool, str], list[tuple[Any, ...]]],
        start: Callable[[list[tuple[Any, ...]], ThreadPoolExecutor], list[Future[Any]]],
        finish: Callable[[list[tuple[Any, ...]], list[Any]], None],
    ) -> None:
        """Two passes over ``select``'s chunks; the next chunk's requests fly while the last one is written.

        The store is held only to select a chunk and to write one, never while requests are awaited.
        On an interrupt the client is cancelled, so the requests in flight stop at once instead of
        running to their end, and the chunk they belong to is not written.
        """
        done = 0
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency))

        def complete(chunk: tuple[list[tuple[Any, ...]], list[Future[Any]]], only_failed: bool) -> None:
            nonlocal done
            results = [future.result() for future in chunk[1]]  # wait without the store
            if self.client.cancelled.is_set():
                raise _Stopped
            finish(chunk[0], results)  # reads the results, then holds the store to write them
            done += 0 if only_failed else len(chunk[0])
            self.progress(stage, done, total)

        try:
            for only_failed in (False, True):
                last = ""
                previous: tuple[list[tuple[Any, ...]], list[Future[Any]]] | None = None
                while True:
                    if self.stop.is_set():
                        raise _Stopped
                    with self.db():
                        rows = select(only_failed, last)
                    if not rows:
                        break
                    last = rows[-1][0]
                    started = start(rows, pool)
                    if previous is not None:
                        complete(previous, only_failed)
                    previous = (rows, started)
                if previous is not None:
                    complete(previous, only_failed)
        except BaseException:
            self.client.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _start_cards(self, rows: list[tuple[Any, ...]], pool: ThreadPoolExecutor) -> list[Future[Any]]:
        from ptmscope.hub.client import FetchFailed

        def fetch(item: tuple[str, str | None, bool | None]) -> tuple[str, bool | None, bytes | FetchFailed]:
            rid, sha, listed = item
            problem = repo_id_problem(rid)  # stored by an older version, or copied from an import
            if problem is not None:
                return rid, listed, FetchFailed(f"not a Hub model id ({problem}): no URL built", status=None,
                                                retryable=False, attempts=0)  # fmt: skip
            # Built here, not with hf_hub_url: that validates ids against today's rules and would
            # refuse real older ids (names over 96 characters).
            url = f"{self.endpoint}/{quote(rid, safe='/')}/resolve/{quote(sha or 'main', safe='')}/README.md"
            try:
                return rid, listed, self.client.get("resolvers", url, check=_etag_matches, cdn=True).body
            except FetchFailed as error:
                return rid, listed, error
            except Exception as error:  # a bug must not stop 2M models: it is stored with the model
                return rid, listed, FetchFailed(f"{type(error).__name__}: {error}", status=None, retryable=True,
                                                attempts=1)  # fmt: skip

        return [pool.submit(fetch, row) for row in rows if row[2] is not False]

    def _finish_cards(self, rows: list[tuple[Any, ...]], results: list[Any]) -> None:
        from ptmscope.hub.client import FetchFailed

        writer = self._writer()
        source = f"{self.endpoint}/resolve"
        succeeded: list[str] = []
        failed: list[tuple[str, FetchFailed]] = []
        for rid, _, listed in rows:
            if listed is False:  # the file list has no README: the model has no card
                writer.builder.add_card(rid, None, source, "no README.md in the file list")
                self.report.cards_missing += 1
                succeeded.append(rid)
        for rid, listed, outcome in results:
            if isinstance(outcome, bytes):
                writer.builder.add_card(rid, _card_content(outcome), source, "README.md")
                self.report.cards_fetched += 1
                succeeded.append(rid)
            elif outcome.status == 404 and listed is None:  # no file list to say otherwise: no README
                writer.builder.add_card(rid, None, source, "README.md: 404")
                self.report.cards_missing += 1
                succeeded.append(rid)
            else:
                if outcome.status == 404:
                    outcome = FetchFailed(
                        f"{README_LISTED_NOT_SERVED} ({outcome.reason})"[:1_000],
                        status=404,
                        retryable=False,
                        attempts=outcome.attempts,
                    )
                failed.append((rid, outcome))
        batch = writer.builder.take()  # the cards are read here, without holding the store
        with self.db():
            writer.write(batch)
            writer.begin()
            self._failures("card", failed, succeeded)
            writer.commit()

    def _copy_cards(self, base: int) -> int:
        """Copy the card rows of models whose sha is the same in ``base``; return how many."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _ptmscope_copy AS"
                " SELECT m.repo_id FROM models m JOIN models b ON b.repo_id = m.repo_id AND b.snapshot_id = $base"
                " WHERE m.snapshot_id = $sid AND m.sha IS NOT NULL AND m.sha = b.sha"
                " AND EXISTS (SELECT 1 FROM cards c WHERE c.snapshot_id = $base AND c.repo_id = m.repo_id)"
                " AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.snapshot_id = $sid AND c.repo_id = m.repo_id)",
                {"base": base, "sid": self.sid},
            )
            copied = int(con.execute("SELECT count(*) FROM _ptmscope_copy").fetchall()[0][0])
            where = "snapshot_id = $base AND repo_id IN (SELECT repo_id FROM _ptmscope_copy)"
            for table in ("cards", "card_sections", "repo_files", "card_results", "card_evidence"):
                con.execute(
                    f"INSERT INTO {table} SELECT $sid, * EXCLUDE (snapshot_id) FROM {table} WHERE {where}",
                    {"base": base, "sid": self.sid},
                )
            for table in _CARD_TABLES_BY_SOURCE:
                con.execute(
                    f"INSERT INTO {table} SELECT $sid, * EXCLUDE (snapshot_id) FROM {table}"
                    f" WHERE {where} AND source IN ('card', 'text')",
                    {"base": base, "sid": self.sid},
                )
            con.execute("DROP TABLE _ptmscope_copy")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return copied

    # -- stage 3: organizations -------------------------------------------------------------

    def organizations(self) -> None:
        """Stage 3: every namespace's organization overview, in two passes."""

        def select(only_failed: bool, last: str) -> list[tuple[Any, ...]]:
            return self.con.execute(
                "SELECT DISTINCT namespace FROM models m WHERE snapshot_id = $sid AND namespace > $last"
                " AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.snapshot_id = $sid"
                "   AND o.name = m.namespace)"
                " AND NOT EXISTS (SELECT 1 FROM crawl_failures f WHERE f.snapshot_id = $sid AND f.stage = 'org'"
                "   AND f.item = m.namespace AND NOT f.retryable)"
                + (
                    " AND EXISTS (SELECT 1 FROM crawl_failures f WHERE f.snapshot_id = $sid AND f.stage = 'org'"
                    "   AND f.item = m.namespace)"
                    if only_failed
                    else ""
                )
                + " ORDER BY namespace LIMIT $n",
                {"sid": self.sid, "last": last, "n": self.options.chunk},
            ).fetchall()

        self._pipeline("organizations", None, select, self._start_orgs, self._finish_orgs)
        with self.db():
            self.set_state(orgs_done=True)

    def _start_orgs(self, rows: list[tuple[Any, ...]], pool: ThreadPoolExecutor) -> list[Future[Any]]:
        from ptmscope.hub.client import FetchFailed

        def fetch(name: str) -> tuple[str, Any]:
            url = f"{self.endpoint}/api/organizations/{quote(name, safe='')}/overview"
            try:
                return name, self.client.get_json("api", url)[0]
            except FetchFailed as error:
                return name, error
            except Exception as error:  # a bug must not stop the crawl: it is stored with the namespace
                return name, FetchFailed(f"{type(error).__name__}: {error}", status=None, retryable=True, attempts=1)

        return [pool.submit(fetch, row[0]) for row in rows]

    def _finish_orgs(self, rows: list[tuple[Any, ...]], results: list[Any]) -> None:
        from ptmscope.hub.client import FetchFailed

        writer = self._writer()
        source = f"{self.endpoint}/api/organizations"
        succeeded: list[str] = []
        failed: list[tuple[str, FetchFailed]] = []
        for name, outcome in results:
            if isinstance(outcome, FetchFailed):
                if outcome.status == 404:
                    outcome = FetchFailed(NOT_AN_ORG, status=404, retryable=False, attempts=outcome.attempts)
                    self.report.not_organizations += 1
                failed.append((name, outcome))
                continue
            org = _org_record(name, outcome)
            if org is None:
                failed.append(
                    (
                        name,
                        FetchFailed("organization overview is not an object", status=200, retryable=True, attempts=1),
                    )
                )
                continue
            writer.add(org, source, name)
            self.report.organizations += 1
            succeeded.append(name)
        batch = writer.builder.take()
        with self.db():
            writer.write(batch)
            writer.begin()
            # A 404 (a user account) is not a failure of the crawl; it is stored so no rerun asks again.
            self._failures("org", failed, succeeded)
            writer.commit()


def _not_a_list(fetched: Fetched) -> Exception:
    from ptmscope.hub.client import FetchFailed

    return FetchFailed(
        "the listing page is not a JSON list", status=fetched.status, retryable=True, attempts=fetched.attempts
    )


def _org_record(name: str, data: Any) -> OrgRecord | None:
    """An organization overview (``isVerified``, ``numUsers``...) as an ``OrgRecord``; the name asked for is kept."""
    if not isinstance(data, dict):
        return None
    if clean_id(data.get("name")) not in (None, name):
        return None
    return OrgRecord(
        name=name,
        fullname=clean_text(data.get("fullname"), 500),
        kind=None,
        is_verified=as_bool(data.get("isVerified")),
        num_users=_int64(data.get("numUsers")),
        num_models=_int64(data.get("numModels")),
        num_followers=_int64(data.get("numFollowers")),
    )


def _int64(value: Any) -> int | None:
    """An integer within the store's 64-bit range, else None (a count of 1e30 is not one)."""
    number = as_int(value)
    return number if number is not None and INT64[0] <= number <= INT64[1] else None
