"""Which snapshot judges, and ``audit --all``: every model of a snapshot scored by the same SQL.

Kept apart from ``ptmscope.audits.run`` (one model's audit, which may fetch, import and scan
it) so that ``select`` and ``audit --all`` load neither the importer, the scanners nor the
Hub client.

Which snapshot judges: the one named, else (``AUTO_CONTEXT``) the newest *complete* snapshot
of the whole registry (``choose_context``): not a crawl that did not finish, not a crawl
limited by ``--limit`` or filtered by author/filter/search, not a bundled sample. A model's
popularity percentile among 5,000 models of a test crawl says little, so the chosen snapshot
is always named in the report, with a warning when it is partial or small (under
``SMALL_SNAPSHOT`` models).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ptmscope import __version__
from ptmscope.audits import engine
from ptmscope.checks import CHECKS
from ptmscope.checks import facts as facts_module
from ptmscope.scores.policy import Weights, load_weights
from ptmscope.store.store import Snapshot, Store

SCRATCH_SNAPSHOT = "audit"
"""The in-memory snapshot one model's audit loads a model into (never a registry snapshot)."""


def context_snapshot(store: Store, name: str | None) -> Snapshot | None:
    """The snapshot named (``latest``: the newest), or None for no name."""
    if name is None:
        return None
    if name == "latest":
        return store.find_snapshot("latest")
    return store.snapshot(name)


AUTO_CONTEXT = "@newest-complete"
"""The default context: the newest complete snapshot of the whole registry (``choose_context``)."""


SMALL_SNAPSHOT = 10_000
"""A context snapshot with fewer models than this is warned about (percentiles and look-alikes need a registry)."""


# Bundled snapshots that are samples of the Hub, not the whole of it (ptmscope.sample).
SAMPLE_BUNDLES = frozenset({"hub-2025-04-sample"})


@dataclass(frozen=True)
class ContextInfo:
    """The snapshot a model is judged against, how it was chosen, and what to beware of."""

    snapshot: Snapshot
    models: int
    chosen: str
    """'named' (--snapshot), 'newest complete' (the default), or the default's fallback when no complete snapshot
    of the whole registry exists ('newest complete, but partial' / 'newest, unfinished')."""
    partial: str | None
    """Why it is not a complete snapshot of the whole registry, or None."""
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    """Newer snapshots the default passed over, and why."""

    def as_json(self) -> dict[str, Any]:
        """The keys the reports add to ``context``."""
        return {
            "snapshot": self.snapshot.name,
            "snapshot_id": self.snapshot.snapshot_id,
            "source": self.snapshot.source,
            "status": self.snapshot.status,
            "models": self.models,
            "chosen": self.chosen,
            "partial": self.partial,
            "warnings": list(self.warnings),
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True)
class AuditRun:
    """An ``audit --all`` run stored in the store."""

    run_id: int
    snapshot: Snapshot
    models: int
    seconds: float
    weights: Weights


def partial_reason(store: Store, snapshot: Snapshot) -> str | None:
    """Why ``snapshot`` is not a complete snapshot of the whole registry (unfinished, limited, filtered, a sample)."""
    if snapshot.status != "complete":
        return f"its {snapshot.source} did not finish (status {snapshot.status})"
    if snapshot.source == "bundled" and snapshot.name in SAMPLE_BUNDLES:
        return "a sample of the registry, not the whole of it"
    try:
        rows = store.query("SELECT params::VARCHAR FROM crawl_state WHERE snapshot_id = ?", [snapshot.snapshot_id])
    except Exception:  # a store from before crawls (no crawl_state table): an import or a bundle
        rows = []
    if not rows or not rows[0][0]:
        return None
    try:
        params = orjson.loads(rows[0][0])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(params, dict):
        return None
    limit = params.get("max_models")
    if isinstance(limit, int) and limit > 0:
        return f"a crawl limited to {limit:,} models (--limit)"
    found = params.get("listing")
    listing: dict[str, Any] = found if isinstance(found, dict) else {}
    filters = [f"{key}={listing[key]}" for key in ("author", "filter", "search") if listing.get(key)]
    if filters:
        return f"a crawl filtered by {', '.join(filters)}"[:200]
    return None


def _model_count(store: Store, snapshot: Snapshot) -> int:
    return int(store.query("SELECT count(*) FROM models WHERE snapshot_id = ?", [snapshot.snapshot_id])[0][0])


def _newest_first(store: Store) -> list[Snapshot]:
    """Snapshots, newest registry time first (when the registry was read, else when the snapshot was made)."""
    return sorted(
        (s for s in store.snapshots() if s.name != SCRATCH_SNAPSHOT or s.source != "audit"),
        key=lambda s: (s.taken_at or s.created_at, s.snapshot_id),
        reverse=True,
    )


def choose_context(store: Store, name: str | None) -> ContextInfo | None:
    """The snapshot to judge against: ``name``, or for ``AUTO_CONTEXT`` the newest complete full snapshot.

    Without a complete snapshot of the whole registry, the default falls back to the newest
    complete one, then to the newest of any kind, and says so. None: ``name`` is None, or the
    default found no snapshot at all (the model is judged alone).

    Raises:
        SnapshotNotFoundError: ``name`` names no snapshot.
    """
    if name is None:
        return None
    skipped: list[str] = []
    if name == AUTO_CONTEXT:
        chosen = None
        how = "newest complete"
        candidates = _newest_first(store)
        for snapshot in candidates:
            reason = partial_reason(store, snapshot)
            if reason is None:
                chosen = snapshot
                break
            skipped.append(f"{snapshot.name}: {reason}")
        if chosen is None:
            complete = [s for s in candidates if s.is_complete]
            chosen = complete[0] if complete else (candidates[0] if candidates else None)
            how = "newest complete, but partial" if complete else "newest, unfinished"
            skipped = [line for line in skipped if not line.startswith(f"{chosen.name}: ")] if chosen else skipped
        if chosen is None:
            return None
        snapshot = chosen
    else:
        how = "named"
        found = context_snapshot(store, name)
        if found is None:
            return None
        snapshot = found
    models = _model_count(store, snapshot)
    partial = partial_reason(store, snapshot)
    warnings = []
    if partial is not None:
        warnings.append(f"snapshot {snapshot.name} is partial: {partial}; popularity, lineage and look-alikes are "
                        "judged against part of the registry")  # fmt: skip
    if models < SMALL_SNAPSHOT:
        warnings.append(f"snapshot {snapshot.name} holds {models:,} models (under {SMALL_SNAPSHOT:,}); percentiles "
                        "and look-alikes are judged against a small registry")  # fmt: skip
    return ContextInfo(snapshot, models, how, partial, tuple(warnings), tuple(skipped))


def audit_snapshot(store: Store, snapshot: Snapshot, *, weights: Weights | None = None,
                   evidence: bool = False) -> AuditRun:  # fmt: skip
    """Run every metadata check on every model of ``snapshot`` and store findings and scores.

    Evidence is stored for every outcome but true unless ``evidence`` (``audit MODEL
    --explain`` recomputes a model's full evidence on demand).
    """
    weights = weights or load_weights()
    started = time.perf_counter()
    con = store.con
    facts_module.snapshot_scope(con, snapshot.snapshot_id)
    models = facts_module.build_facts(con)
    engine.evaluate(con, evidence=evidence)
    checks = [{"id": c.id, "version": c.version, "attribute": c.attribute} for c in CHECKS.values()]
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = int(
            con.execute(
                "INSERT INTO audit_runs (snapshot_id, scope, created_at, tool_version, checks, weights, models)"
                " VALUES (?, 'snapshot', ?, ?, ?, ?, ?) RETURNING run_id",
                [
                    snapshot.snapshot_id,
                    dt.datetime.now(dt.UTC),
                    __version__,
                    orjson.dumps(checks).decode(),
                    orjson.dumps(weights.as_json()).decode(),
                    models,
                ],
            ).fetchall()[0][0]
        )
        sid = int(snapshot.snapshot_id)
        con.execute(
            f"INSERT INTO findings SELECT {sid}, {run_id}, repo_id, sha, check_id, outcome, grade, evidence"
            " FROM check_findings"
        )
        con.execute(f"INSERT INTO scores SELECT {sid}, {run_id}, * FROM ({engine.scores_sql(weights)})")
        seconds = time.perf_counter() - started
        con.execute("UPDATE audit_runs SET seconds = ? WHERE run_id = ?", [seconds, run_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return AuditRun(run_id, snapshot, models, seconds, weights)


def run_summary(store: Store, run: AuditRun) -> dict[str, Any]:
    """Per attribute: mean, median, scored and inconclusive models of a stored ``audit --all`` run; and findings."""
    rows = store.query(
        "SELECT attribute, avg(score), median(score), count(score), count(*) FROM scores WHERE run_id = ?"
        " GROUP BY attribute ORDER BY attribute",
        [run.run_id],
    )
    findings = store.query("SELECT count(*) FROM findings WHERE run_id = ?", [run.run_id])[0][0]
    return {
        "findings": int(findings),
        "scores": {
            attribute: {"mean": mean, "median": median, "scored": scored, "inconclusive": total - scored}
            for attribute, mean, median, scored, total in rows
        },
    }
