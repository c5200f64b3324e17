"""What the server knows about the snapshot it serves, and the documents behind its pages.

``Explorer`` is made once per server: it resolves the snapshot, notes its latest ``audit --all``
run, loads the models index (and the card texts it can hold) into memory, then releases the
store. Each page's document is built from the index (search, facets), or through a short-lived
read-only attachment of the store (``StoreAccess``: a model, select), and the costly ones are
kept: the study per server (a snapshot never changes once written), the study of each snapshot
compared with it (``/study?compare=``) once per snapshot, model pages in a small LRU.
A model page reads its rows within the spans the index noted (``web.locate``) and its lineage
from the graph in memory (``web.family``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.errors import InputError
from ptmscope.selection.engine import latest_run
from ptmscope.store.store import DEFAULT_MEMORY_LIMIT, MEMORY_ENV, Snapshot, Store
from ptmscope.studies.run import StudyResult, compare, run_study, snapshot_json
from ptmscope.web import model_page
from ptmscope.web.access import DEFAULT_PATIENCE, StoreAccess
from ptmscope.web.cardtext import load_card_texts, render_card, stored_card
from ptmscope.web.gate import holding
from ptmscope.web.index import ModelIndex
from ptmscope.web.lineage_graph import PER_LEVEL, lineage_graph
from ptmscope.web.locate import Spans
from ptmscope.web.query import FACETS, ModelQuery
from ptmscope.web.select_page import common_values, requirements_from, selection
from ptmscope.web.study_page import compare_figures, study_figures

MODEL_CACHE = 256
BUILD_MEMORY = "512MB"
"""DuckDB's memory limit while the index is built (it spills past it, next to the store, as any query would)."""
MAX_COMPARE = 4
STUDY_CACHE = 8
"""Studies of other snapshots kept for comparisons (each a few hundred KB; computing one reads the whole snapshot)."""


class _Once:
    """Values computed once per key, the last ``size`` kept; a key is never computed twice at the same time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Any, Any] = OrderedDict()
        self._computing: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        """The value of ``key``, made by ``make`` unless kept (an exception keeps nothing)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            computing = self._computing.setdefault(key, threading.Lock())
        with holding(computing):  # a request asking for the same key meanwhile waits for this one's value
            with self._lock:
                if key in self._values:
                    return self._values[key]
            try:
                value = make()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
            return value


class Explorer:
    """The served snapshot: its index in memory, and the store opened per request."""

    def __init__(self, db_path: Path, snapshot_name: str, *, patience: float = DEFAULT_PATIENCE) -> None:
        self.access = StoreAccess(db_path, patience=patience)
        started = time.perf_counter()
        with self.access.reading() as store:
            self.snapshot: Snapshot = store.snapshot(snapshot_name)
            self.snapshots: list[Snapshot] = store.snapshots()
            """The store's snapshots (as the server started, and as each comparison read them since)."""
            self.run_id = latest_run(store, self.snapshot)
            self.run = model_page.stored_run(store, self.run_id) if self.run_id is not None else None
            self.cards, self.cards_in_memory = load_card_texts(store, self.snapshot)
            # Nothing else runs yet: the start-up's scans may use every core. And within a small memory limit:
            # DuckDB's allocator keeps much of what a query used, and the server lives on.
            store.con.execute("RESET threads")
            store.con.execute("SET memory_limit = ?", [BUILD_MEMORY])
            try:
                self.index = ModelIndex.build(store, self.snapshot.snapshot_id, self.run_id, self.cards)
            finally:
                store.con.execute("SET threads = 1")
                store.con.execute("SET memory_limit = ?", [os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT])
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps the build's freed memory otherwise
        self.load_seconds = time.perf_counter() - started
        self._study_lock = threading.Lock()
        self._study: dict[str, Any] | None = None
        self._compared = _Once(STUDY_CACHE)
        self._models = _Once(MODEL_CACHE)
        self._choices_lock = threading.Lock()
        self._choices: dict[str, list[dict[str, Any]]] | None = None

    # -- pages ---------------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        """What every document says about the snapshot served."""
        return {"snapshot": snapshot_json(self.snapshot), "models": self.index.models, "audit_run": self.run_id}

    def models(self, query: ModelQuery) -> dict[str, Any]:
        """The models page: one page of matches, their number and the facet counts over all of them."""
        page = self.index.page(query)
        facets = {}
        for name, counts in page.facets.items():
            selected = query.selected(name)
            facets[name] = {
                "label": FACETS[name][2],
                "values": [
                    {"value": v, "count": n, "selected": v in selected, "url": query.toggled(name, v).url()}
                    for v, n in counts
                ],
            }
        pages = max(1, -(-page.total // query.per))
        return {
            **self.header(),
            "query": query.as_json(),
            "url": query.url(),
            "total": page.total,
            "page": query.page,
            "pages": pages,
            "previous": query.on_page(query.page - 1).url() if query.page > 1 else None,
            "next": query.on_page(query.page + 1).url() if query.page < pages else None,
            "card_search": {"available": self.cards_in_memory and bool(self.cards), "cards": len(self.cards)},
            "results": page.rows,
            "facets": facets,
        }

    def model(self, repo_id: str, *, explain: bool = False) -> dict[str, Any] | None:
        """A model's page (None: not in the snapshot)."""
        spans = self.index.spans(repo_id)
        if spans is None:
            return None
        return self._models.get((repo_id, explain), lambda: self._model(repo_id, explain, spans))

    def _model(self, repo_id: str, explain: bool, spans: Spans) -> dict[str, Any] | None:
        with self.access.reading() as store:
            parts = self._read(store, repo_id, explain, spans)
            if spans.moved:  # the store moved rows since the server started: read the whole tables
                parts = self._read(store, repo_id, explain, Spans.everywhere())
        if parts is None:
            return None
        record, audit, files, claims, text = parts
        row = self.index.row(repo_id) or {}
        record["licenses"] = [v for v in row.get("licenses", []) if v != "none"]
        record["datasets"] = [v for v in row.get("datasets", []) if v != "none"]
        card: dict[str, Any] = {"status": record.get("card_status"), "available": text is not None}
        if text is not None:
            front, html, cut = render_card(text)
            card.update({"front_matter": front, "html": str(html), "cut": cut, "chars": len(text)})
        # The family by generation, from the graph the index holds in memory (the index keeps it for lineage).
        generations = self.index.generations(repo_id, PER_LEVEL)
        graph = lineage_graph(generations, audit["lineage"])
        return {**self.header(), "repo_id": repo_id, "model": record, "index": row, "audit": audit,
                "lineage_graph": graph, "files": files, "claims": claims, "card": card}  # fmt: skip

    def _read(self, store: Store, repo_id: str, explain: bool, spans: Spans) -> tuple[Any, ...] | None:
        """A model page's parts from the store: record, audit, files, claims, card text (None: not there)."""
        record = model_page.model_record(store, self.snapshot, repo_id, spans)
        if record is None:
            return None
        audit = model_page.audit_of(store, self.snapshot, repo_id, self.run, explain=explain,
                                    family=lambda: self.index.lineage(repo_id), spans=spans)  # fmt: skip
        files = model_page.model_files(store, self.snapshot, repo_id, spans)
        claims = model_page.model_claims(store, self.snapshot, repo_id, spans)
        text = self.cards.get(repo_id) if self.cards_in_memory else stored_card(store, self.snapshot, repo_id, spans)
        return record, audit, files, claims, text

    def study(self, compare_with: str | None = None) -> dict[str, Any]:
        """The study of the snapshot (computed once) and its figures as linked bars.

        ``compare_with``: another snapshot of the store, whose study (computed once per snapshot, as ``ptmscope
        study --json`` prints it) stands beside the served one's in the figures both hold.

        Raises:
            SnapshotNotFoundError: the store has no snapshot ``compare_with``.
            InputError: ``compare_with`` is the snapshot served.
        """
        with holding(self._study_lock):  # another request (or the start-up's thread) may be computing it
            if self._study is None:
                with self.access.reading() as store:
                    data = run_study(store, self.snapshot).data
                self._study = {**self.header(), "figures": study_figures(data, self.index), "study": data}
                pa.default_memory_pool().release_unused()
            served = self._study
        if compare_with is None:
            return {**served, "compare": None, "snapshots": self._others()}
        if compare_with == self.snapshot.name:
            raise InputError(f"{compare_with!r} is the snapshot served: compare it with another one")
        doc = self._compared.get(compare_with, lambda: self._compare(served, compare_with))
        return {**doc, "snapshots": self._others()}

    def _compare(self, served: dict[str, Any], name: str) -> dict[str, Any]:
        """The study page with snapshot ``name``'s study beside the served one's."""
        with self.access.reading() as store:
            snapshot = store.snapshot(name)
            data = run_study(store, snapshot).data
            self.snapshots = store.snapshots()
        pa.default_memory_pool().release_unused()
        comparison = compare(StudyResult(self.snapshot, served["study"], 0.0), StudyResult(snapshot, data, 0.0))
        figures = compare_figures(served["figures"], study_figures(data, None), comparison, self.index)
        other = {"snapshot": snapshot_json(snapshot), "models": data["models"], "study": data,
                 "comparison": comparison}  # fmt: skip
        return {**served, "figures": figures, "compare": other}

    def _others(self) -> list[dict[str, Any]]:
        """The store's other snapshots, for the study page's picker."""
        return [{"name": s.name, "status": s.status, "taken_at": s.taken_at.isoformat() if s.taken_at else None,
                 "notes": s.notes} for s in self.snapshots if s.snapshot_id != self.snapshot.snapshot_id]  # fmt: skip

    def select(self, values: dict[str, Any]) -> dict[str, Any]:
        """The select form's shortlist (``selection`` None for an empty form) and the form's suggested values.

        Raises:
            InputError: a requirement ``select`` refuses.
        """
        requirements = requirements_from(values)
        out: dict[str, Any] = {**self.header(), "form": values, "choices": None, "selection": None}
        with self.access.reading() as store:
            out["choices"] = self._common_values(store)
            if requirements is not None:
                out["selection"] = selection(store, self.snapshot, requirements, self.run_id)
        return out

    def _common_values(self, store: Store) -> dict[str, list[dict[str, Any]]]:
        """The snapshot's common frameworks, languages and datasets (read once: the snapshot never changes)."""
        with holding(self._choices_lock):
            if self._choices is None:
                self._choices = common_values(store, self.snapshot)
            return self._choices

    def compare(self, repo_ids: list[str]) -> dict[str, Any]:
        """Up to four models side by side: their scores and what reuse depends on.

        Raises:
            InputError: more than four models, or one the snapshot does not hold.
        """
        if len(repo_ids) > MAX_COMPARE:
            raise InputError(f"compare up to {MAX_COMPARE} models at a time ({len(repo_ids)} asked)")
        models = []
        for repo_id in dict.fromkeys(repo_ids):
            doc = self.model(repo_id)
            if doc is None:
                raise InputError(f"{repo_id[:200]!r} is not in snapshot {self.snapshot.name}")
            audit = doc["audit"]
            models.append({
                "repo_id": repo_id, "model": doc["model"], "index": doc["index"],
                "scores": {a: audit["scores"][a]["score"] for a in ATTRIBUTES},
                "risks": audit["risks"], "lineage": audit["lineage"], "audit_source": audit["audit_source"],
            })  # fmt: skip
        return {**self.header(), "compared": models}
