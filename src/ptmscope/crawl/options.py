"""What a crawl is asked to do (``CrawlOptions``) and what one run of it did (``CrawlReport``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ptmscope.hub.ratelimit import Budget
    from ptmscope.store.store import Snapshot

# What the listing asks for: every model property the store has a column for.
EXPAND = ("author", "cardData", "config", "createdAt", "disabled", "downloads", "downloadsAllTime", "gated",
          "lastModified", "library_name", "likes", "pipeline_tag", "private", "safetensors", "sha", "siblings",
          "tags", "usedStorage")  # fmt: skip
PAGE_SIZE = 1_000
LOCK_WAIT = 600.0
"""Seconds the crawler waits for the store when another process (a study, an audit) holds it."""


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
