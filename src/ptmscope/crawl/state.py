"""A crawl's state in the store, and the SQL the crawl runs on it.

A crawl keeps its place in ``crawl_state`` (one row per snapshot: the listing's next URL and page
count, which stages are done, the base snapshot, the requests sent so far) and what failed in
``crawl_failures``. ``CrawlState`` owns the statements on those tables and the queries the stages
need (the ids a listing page already has, the models still without a card, the namespaces still
without an overview, the cards to copy from the base snapshot), each behind a named method. The
other statements of a crawl are the rows it appends (``SnapshotWriter``) and the connection's
settings (``handle``).

Every method holds the store (``StoreHandle.session``) for its statements; a caller holds it
around several to run them on one connection. ``transaction(writer)`` makes one transaction of a
writer's batch and this state's statements (progress, failures): it commits when the block ends
or not at all, so a crawl killed at any moment has stored a page or a chunk together with the
progress that says so, or neither.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from ptmscope.errors import CrawlMismatchError
from ptmscope.store.writer import SnapshotWriter

if TYPE_CHECKING:
    from ptmscope.crawl.handle import StoreHandle
    from ptmscope.crawl.options import CrawlOptions
    from ptmscope.hub.client import FetchFailed
    from ptmscope.store.store import Snapshot, Store

_STATE_COLUMNS = ("next_url", "pages", "listing_done", "cards_done", "orgs_done", "base_snapshot_id")
_NEW_STATE: dict[str, Any] = {"next_url": None, "pages": 0, "listing_done": False, "cards_done": False,
                              "orgs_done": False, "base_snapshot_id": None}  # fmt: skip
# A card's rows: whole tables, and the rows of shared tables that came from the card (front matter, text).
_CARD_TABLES = ("cards", "card_sections", "repo_files", "card_results", "card_evidence")
_CARD_TABLES_BY_SOURCE = ("model_datasets", "model_licenses", "base_models", "model_links", "claims", "model_indexes")


def identity(options: CrawlOptions) -> str:
    """The crawl's identity as ``crawl_state.params`` stores it: a rerun continues a crawl only when it matches."""
    return orjson.dumps(options.identity(), option=orjson.OPT_SORT_KEYS).decode()


def find_snapshot(store: Store, endpoint: str, name: str | None, options: CrawlOptions) -> tuple[str, Snapshot | None]:
    """The snapshot's name and, when it exists and is this crawl, the snapshot to continue."""
    params = identity(options)
    if name is None:
        rows = store.query(
            "SELECT s.name FROM snapshots s JOIN crawl_state c USING (snapshot_id)"
            " WHERE s.source = 'crawl' AND s.status <> 'complete' AND c.endpoint = ? AND c.params::VARCHAR = ?"
            " ORDER BY s.snapshot_id DESC LIMIT 1",
            [endpoint, params],
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
        if rows[0][0] != endpoint or rows[0][1] != params:
            raise CrawlMismatchError(
                f"snapshot {name!r} is a crawl of {rows[0][0]} with query {rows[0][1][:300]}; "
                "continue it with the same --endpoint and options, or pick another --snapshot"
            )
    return name, existing


def _base_snapshot(store: Store, endpoint: str, options: CrawlOptions) -> int | None:
    """The snapshot a new crawl copies unchanged cards from: named, or the last complete crawl of the endpoint."""
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


class CrawlState:
    """One crawl's snapshot, its ``crawl_state`` row and its ``crawl_failures``, in the store."""

    def __init__(
        self,
        store: Store,
        handle: StoreHandle,
        endpoint: str,
        options: CrawlOptions,
        name: str,
        snapshot: Snapshot | None,
    ) -> None:
        self.store = store
        self.handle = handle
        self.endpoint = endpoint
        self.options = options
        self.name = name
        self.snapshot = snapshot
        """None until a new crawl stores its first page (``create_snapshot``)."""
        self._requests_saved: dict[str, dict[str, float]] = {}

    @property
    def sid(self) -> int:
        """The snapshot's id (-1 before it exists: every query then finds nothing)."""
        return self.snapshot.snapshot_id if self.snapshot is not None else -1

    @property
    def made(self) -> Snapshot:
        """The snapshot, once it exists."""
        if self.snapshot is None:  # pragma: no cover - every path that gets here stored a page first
            raise RuntimeError("the crawl stored nothing")
        return self.snapshot

    def hold(self) -> contextlib.AbstractContextManager[Any]:
        """The store for a block of statements (sessions nest; one thread at a time)."""
        return self.handle.session()

    @contextlib.contextmanager
    def transaction(self, writer: SnapshotWriter | None = None) -> Iterator[None]:
        """Hold the store for one transaction: ``writer``'s batches and this state's statements in the block
        commit together when it ends, or none of them (an error, an interrupt)."""
        with self.hold(), (writer or self.writer()).transaction():
            yield

    def writer(self) -> SnapshotWriter:
        """A writer into the snapshot whose batches commit only with ``transaction``."""
        # Ids are kept unique by asking the store (a page's ids; the pending queries), not by sets in
        # memory, so the crawler's memory does not grow with the registry.
        return SnapshotWriter(self.store, self.made, keep_files=True, track_ids=False, caller_commits=True)

    @property
    def _con(self) -> Any:
        """The store's connection (open only inside ``hold()``)."""
        return self.store.con

    # -- the snapshot ---------------------------------------------------------------------

    def create_snapshot(self) -> Snapshot:
        """Create the new crawl's snapshot and its ``crawl_state`` row (choosing the base snapshot now)."""
        with self.hold():
            base_id = _base_snapshot(self.store, self.endpoint, self.options)
            snapshot = self.store.create_snapshot(self.name, source="crawl", source_detail=self.endpoint)
            self._con.execute(
                "INSERT INTO crawl_state (snapshot_id, endpoint, params, base_snapshot_id, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [snapshot.snapshot_id, self.endpoint, identity(self.options), base_id, datetime.now(UTC)],
            )
        self.snapshot = snapshot
        return snapshot

    def finish(self, status: str, taken_at: datetime | None = None) -> None:
        """Mark the snapshot complete or partial."""
        with self.hold():
            self.store.finish_snapshot(self.made, status=status, taken_at=taken_at)

    def reread(self) -> Snapshot:
        """The snapshot as the store has it now (its status included)."""
        with self.hold():
            return self.store.snapshot(self.made.name)

    def base_name(self) -> str | None:
        """The name of the snapshot unchanged cards are copied from, if any."""
        base_id = self.read()["base_snapshot_id"]
        if base_id is None:
            return None
        with self.hold():
            names = self._con.execute("SELECT name FROM snapshots WHERE snapshot_id = ?", [base_id]).fetchall()
        return names[0][0] if names else None

    # -- crawl_state ------------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        """The snapshot's crawl_state row (a new crawl's before it exists)."""
        if self.snapshot is None:
            return dict(_NEW_STATE)
        with self.hold():
            rows = self._con.execute(
                f"SELECT {', '.join(_STATE_COLUMNS)} FROM crawl_state WHERE snapshot_id = ?", [self.sid]
            ).fetchall()
        return dict(zip(_STATE_COLUMNS, rows[0], strict=True))

    def update(self, **values: Any) -> None:
        """Update crawl_state columns (inside the open transaction, if any)."""
        columns = ", ".join(f"{k} = ?" for k in values)
        with self.hold():
            self._con.execute(
                f"UPDATE crawl_state SET {columns}, updated_at = ? WHERE snapshot_id = ?",
                [*values.values(), datetime.now(UTC), self.sid],
            )

    def save_requests(self, now: dict[str, dict[str, float]]) -> None:
        """Add the requests per bucket sent since the last save (``now``: the client's totals) to the snapshot's."""
        with self.hold():
            rows = self._con.execute(
                "SELECT requests::VARCHAR FROM crawl_state WHERE snapshot_id = ?", [self.sid]
            ).fetchall()
            total: dict[str, dict[str, float]] = orjson.loads(rows[0][0]) if rows and rows[0][0] else {}
            for bucket, stats in now.items():
                before = self._requests_saved.get(bucket, {})
                into = total.setdefault(bucket, {})
                for key, value in stats.items():
                    into[key] = round(into.get(key, 0) + value - before.get(key, 0), 3)
            self._requests_saved = now
            self._con.execute(
                "UPDATE crawl_state SET requests = ? WHERE snapshot_id = ?", [orjson.dumps(total).decode(), self.sid]
            )

    # -- crawl_failures -----------------------------------------------------------------------

    def record_failures(self, stage: str, failed: list[tuple[str, FetchFailed]], succeeded: Iterable[str]) -> None:
        """Store a chunk's failures; forget earlier failures of items that now succeeded (in the open transaction)."""
        items = [*succeeded, *(item for item, _ in failed)]
        with self.hold():
            if items:
                self._con.execute(
                    "DELETE FROM crawl_failures WHERE snapshot_id = ? AND stage = ? AND list_contains(?, item)",
                    [self.sid, stage, items],
                )
            now = datetime.now(UTC)
            for item, error in failed:
                self._con.execute(
                    "INSERT INTO crawl_failures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [self.sid, stage, item, error.status, error.reason, error.retryable, error.attempts, now],
                )

    def retryable_failures(self) -> int:
        """Stored failures a rerun would try again."""
        if self.snapshot is None:
            return 0
        with self.hold():
            rows = self._con.execute(
                "SELECT count(*) FROM crawl_failures WHERE snapshot_id = ? AND retryable", [self.sid]
            ).fetchall()
        return int(rows[0][0])

    def failures(self, stage: str) -> int:
        """Stored failures of one stage."""
        with self.hold():
            rows = self._con.execute(
                "SELECT count(*) FROM crawl_failures WHERE snapshot_id = ? AND stage = ?", [self.sid, stage]
            ).fetchall()
        return int(rows[0][0])

    def failures_by_stage(self) -> dict[str, int]:
        """Stored failures per stage (retryable or not)."""
        with self.hold():
            rows = self._con.execute(
                "SELECT stage, count(*) FROM crawl_failures WHERE snapshot_id = ? GROUP BY stage ORDER BY stage",
                [self.sid],
            ).fetchall()
        return {stage: int(n) for stage, n in rows}

    # -- models: the listing ---------------------------------------------------------------

    def model_count(self) -> int:
        """Models the snapshot holds."""
        with self.hold():
            rows = self._con.execute("SELECT count(*) FROM models WHERE snapshot_id = ?", [self.sid]).fetchall()
        return int(rows[0][0])

    def stored_ids(self, repo_ids: list[str]) -> set[str]:
        """Those of ``repo_ids`` the snapshot already holds."""
        if not repo_ids:
            return set()
        with self.hold():
            rows = self._con.execute(
                "SELECT repo_id FROM models WHERE snapshot_id = ? AND list_contains(?, repo_id)", [self.sid, repo_ids]
            ).fetchall()
        return {row[0] for row in rows}

    # -- cards ------------------------------------------------------------------------------

    def models_without_card(self) -> int:
        """Models of the snapshot that have no card row yet."""
        with self.hold():
            rows = self._con.execute(
                "SELECT count(*) FROM models m WHERE snapshot_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM cards c WHERE c.snapshot_id = m.snapshot_id AND c.repo_id = m.repo_id)",
                [self.sid],
            ).fetchall()
        return int(rows[0][0])

    def cards_to_fetch(self, only_failed: bool, after: str) -> list[tuple[Any, ...]]:
        """The next chunk of ``(repo_id, sha, has_readme)`` after ``after`` whose card is not stored yet and
        did not fail for good; ``only_failed``: of those, the ones that failed before."""
        with self.hold():
            return self._con.execute(
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
                {"sid": self.sid, "last": after, "n": self.options.chunk},
            ).fetchall()

    def copy_cards(self, base: int) -> int:
        """Copy, in one transaction, the card rows of models whose sha is the same in ``base``; return how many."""
        params = {"base": base, "sid": self.sid}
        with self.transaction():
            self._con.execute(
                "CREATE OR REPLACE TEMP TABLE _ptmscope_copy AS"
                " SELECT m.repo_id FROM models m JOIN models b ON b.repo_id = m.repo_id AND b.snapshot_id = $base"
                " WHERE m.snapshot_id = $sid AND m.sha IS NOT NULL AND m.sha = b.sha"
                " AND EXISTS (SELECT 1 FROM cards c WHERE c.snapshot_id = $base AND c.repo_id = m.repo_id)"
                " AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.snapshot_id = $sid AND c.repo_id = m.repo_id)",
                params,
            )
            copied = int(self._con.execute("SELECT count(*) FROM _ptmscope_copy").fetchall()[0][0])
            where = "snapshot_id = $base AND repo_id IN (SELECT repo_id FROM _ptmscope_copy)"
            for table in _CARD_TABLES:
                self._con.execute(
                    f"INSERT INTO {table} SELECT $sid, * EXCLUDE (snapshot_id) FROM {table} WHERE {where}", params
                )
            for table in _CARD_TABLES_BY_SOURCE:
                self._con.execute(
                    f"INSERT INTO {table} SELECT $sid, * EXCLUDE (snapshot_id) FROM {table}"
                    f" WHERE {where} AND source IN ('card', 'text')",
                    params,
                )
            self._con.execute("DROP TABLE _ptmscope_copy")
        return copied

    # -- organizations ---------------------------------------------------------------------

    def namespaces_to_fetch(self, only_failed: bool, after: str) -> list[tuple[Any, ...]]:
        """The next chunk of ``(namespace,)`` after ``after`` without a stored overview that did not fail for
        good; ``only_failed``: of those, the ones that failed before."""
        with self.hold():
            return self._con.execute(
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
                {"sid": self.sid, "last": after, "n": self.options.chunk},
            ).fetchall()
