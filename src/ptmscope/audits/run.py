"""``ptmscope audit MODEL`` as a library function: one model's report card.

``audit_model`` takes what a user points at: a repo id of a snapshot, a local model
folder, a Hugging Face cache folder, or a repo id to fetch from the Hub. Models that
are not in the store are loaded into an in-memory scratch store and laid over the
context snapshot (``ptmscope.checks.facts.overlay_scope``), so every cross-model
signal (popularity percentiles, lineage, licence chains, name confusion) is judged
against the same registry data and by the same SQL as ``audit_snapshot``. Which snapshot
judges, and ``audit --all``: ``ptmscope.audits.snapshot``.

Nothing here loads or executes a model file; file verdicts come from the static scanner.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptmscope.audits import engine
from ptmscope.audits.lineage import Lineage, lineage
from ptmscope.audits.snapshot import AUTO_CONTEXT, SCRATCH_SNAPSHOT, ContextInfo, choose_context, context_snapshot
from ptmscope.audits.stored_scan import report_for_files, report_in_snapshot
from ptmscope.checks import Check, Finding
from ptmscope.checks import facts as facts_module
from ptmscope.errors import InputError, ModelNotInSnapshotError, StoreLockedError
from ptmscope.hub.endpoint import check_reachable, hub_token
from ptmscope.importer import import_paths
from ptmscope.records import CardRecord
from ptmscope.scanners.api import scan_paths
from ptmscope.scanners.hub import RepoRef, scan_repo
from ptmscope.scanners.interface import ScanOptions, ScanReport, severity_rank
from ptmscope.scores.policy import AttributeScore, Weights, load_weights, score
from ptmscope.sources.hub import endpoint_or_default, fetch_model
from ptmscope.sources.local import Target, resolve_target
from ptmscope.store.store import Snapshot, Store
from ptmscope.store.writer import SnapshotWriter


@dataclass
class ModelAudit:
    """One model's reuse report card."""

    repo_id: str
    sha: str | None
    target: Target
    context: Snapshot | None
    """The snapshot the model was judged against (None: judged alone)."""
    facts: dict[str, Any]
    findings: list[tuple[Check, Finding]]
    scores: dict[str, AttributeScore]
    lineage: Lineage
    weights: Weights
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    scan: ScanReport | None = None
    """The static scan of the model's files, when they were scanned."""
    claims: list[dict[str, Any]] = field(default_factory=list)
    """The model-index claims (task, dataset, split, metric, value)."""
    files: list[dict[str, Any]] = field(default_factory=list)
    """The repository's files (path, size, sha256 when known)."""
    context_info: ContextInfo | None = None
    """How the context snapshot was chosen, its size, and warnings about it."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about how the audit ran (a token withheld from an endpoint)."""

    def finding(self, check_id: str) -> Finding:
        """The finding of one check."""
        for check, found in self.findings:
            if check.id == check_id:
                return found
        raise KeyError(check_id)


# -- the audit -------------------------------------------------------------------------------------


def _facts_row(con: Any, repo_id: str) -> dict[str, Any]:
    cursor = con.execute("SELECT * FROM facts WHERE repo_id = ?", [repo_id])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if not rows:
        raise InputError(f"{repo_id}: no facts (the model is not in the audit scope)")
    return dict(zip(names, rows[0], strict=True))


def _judge(con: Any, repo_id: str, target: Target, context: Snapshot | None, weights: Weights,
           scan: ScanReport | None = None) -> ModelAudit:  # fmt: skip
    facts_module.build_facts(con, focus=[repo_id])
    if scan is not None:
        verdict, evidence = scan_verdict(scan)
        con.execute(
            "UPDATE facts SET file_scan_verdict = ?, file_scan_evidence = ? WHERE repo_id = ?",
            [verdict, evidence, repo_id],
        )
    engine.evaluate(con)
    row = _facts_row(con, repo_id)
    findings = engine.findings_of(con, repo_id)
    own_issue = None
    if row.get("license_conflict"):
        own_issue = f"licence conflict: {row['license_conflict']}"
    elif row.get("hub_flagged_files"):
        own_issue = "the Hub flagged files in it"
    claims = _rows(
        con,
        "SELECT DISTINCT task_type, dataset_type, dataset_name, dataset_split, metric_type, metric_name, value,"
        " value_text, verified, source FROM a_claims WHERE repo_id = ? ORDER BY source, metric_type LIMIT 200",
        repo_id,
    )
    files = _rows(
        con,
        "SELECT path, size, lfs_sha256 AS sha256 FROM a_model_files WHERE repo_id = ? ORDER BY path LIMIT 5000",
        repo_id,
    )
    return ModelAudit(
        claims=claims,
        files=files,
        repo_id=repo_id,
        sha=row.get("sha") or target.revision,
        target=target,
        context=context,
        facts=row,
        findings=findings,
        scores=score(findings, weights),
        lineage=lineage(con, repo_id, own_issue=own_issue),
        weights=weights,
        scan=scan,
    )


def _rows(con: Any, sql: str, repo_id: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql, [repo_id])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scan_verdict(report: ScanReport) -> tuple[str, str | None]:
    """The facts a scan gives the audit: a verdict and its evidence.

    The verdict is the worst finding at or above ``unparseable`` (dangerous, suspicious,
    unparseable); ``clean`` when there is none (info findings do not count); ``error``
    when files could not be read and nothing worse was found.
    """
    floor = severity_rank("unparseable")
    bad = [(f, r.path) for r in report.scanned for f in r.findings if severity_rank(f.severity) >= floor]
    scanned = len(report.scanned)
    if bad:
        bad.sort(key=lambda pair: -severity_rank(pair[0].severity))
        worst = bad[0][0].severity
        shown = "; ".join(f"{Path(path).name}: {f.severity} {f.rule} ({f.message})" for f, path in bad[:3])
        return worst, f"{len(bad)} finding(s) in {scanned} file(s) scanned: {shown}"[:500]
    if report.has_errors():
        return "error", f"{len(report.skipped)} file(s) could not be read"
    return "clean", f"{scanned} file(s) scanned, nothing found" if scanned else "no model files to scan"


def audit_model(
    target: str,
    *,
    db_path: Path | str | None = None,
    context: str | None = AUTO_CONTEXT,
    repo_id: str | None = None,
    endpoint: str | None = None,
    offline: bool = False,
    weights: Weights | None = None,
    scan: bool | None = None,
    token: str | bool | None = None,
) -> ModelAudit:
    """Audit one model.

    ``target`` is a local model folder, a Hugging Face cache folder, or a repo id: looked
    up in the ``context`` snapshot of the store at ``db_path``, else (unless ``offline``)
    fetched from the Hub at ``endpoint``. ``context`` is a snapshot name, ``AUTO_CONTEXT``
    (the newest complete snapshot of the whole registry, ``choose_context``) or None (judged
    alone). Local files are scanned statically unless ``scan`` is False; Hub models are
    scanned only when ``scan`` is True. ``token`` is sent to ``endpoint`` as is (``False``: none).
    """
    weights = weights or load_weights()
    local = resolve_target(target, repo_id=repo_id)
    db_file = Path(db_path) if db_path is not None else None
    if db_file is not None and db_file.exists():
        _upgrade(db_file)
    info: ContextInfo | None = None
    if db_file is not None and db_file.exists() and context is not None:
        with Store(db_file, read_only=True) as store:
            info = choose_context(store, context)
            snap = info.snapshot if info is not None else None
            if (
                local is None
                and snap is not None
                and store.query(
                    "SELECT 1 FROM models WHERE snapshot_id = ? AND repo_id = ? LIMIT 1", [snap.snapshot_id, target]
                )
            ):
                audit = audit_in_store(store, snap, target, weights)
                audit.context_info = info
                return audit
    name = info.snapshot.name if info is not None else None
    if local is None:
        if offline:
            where = f"snapshot {name!r}" if name else "the store"
            raise ModelNotInSnapshotError(f"{target} is not in {where}, and --offline forbids fetching it")
        audit = _audit_from_hub(target, db_file, name, endpoint, weights, bool(scan), token)
    else:
        audit = _audit_scratch(local, db_file, name, weights, scan=scan is not False)
    audit.context_info = info
    return audit


def audit_in_store(store: Store, snapshot: Snapshot, repo_id: str, weights: Weights | None = None) -> ModelAudit:
    """A model of ``snapshot`` judged against it, on an open store (read-only is enough; nothing is written).

    What ``audit_model`` does for a repo id of its context snapshot; ``ptmscope serve`` calls it with its
    own short-lived read-only connection. File verdicts are the ones ``scan --snapshot`` stored.
    """
    facts_module.snapshot_scope(store.con, snapshot.snapshot_id)
    stored = report_in_snapshot(store.con, snapshot.snapshot_id, repo_id)  # scan --snapshot's verdicts
    return _judge(store.con, repo_id, Target("snapshot", repo_id), snapshot, weights or load_weights(), stored)


def _upgrade(db_file: Path) -> None:
    """Apply pending migrations to a store an older ptmscope wrote (skipped when another process holds it)."""
    with suppress(StoreLockedError):
        Store(db_file).close()


def _scratch_with_context(db_file: Path | None, context: str | None) -> tuple[Store, Snapshot | None]:
    scratch = Store(":memory:")
    snap = None
    if db_file is not None and db_file.exists() and context is not None:
        with Store(db_file, read_only=True) as store:
            snap = context_snapshot(store, context)
        if snap is not None:
            escaped = str(db_file).replace("'", "''")
            scratch.con.execute(f"ATTACH '{escaped}' AS ctx (READ_ONLY)")
    return scratch, snap


# Registry facts a local copy of a model cannot know; taken from the context snapshot's record.
_REGISTRY_COLUMNS = ("author", "last_modified", "created_at", "private", "gated", "disabled", "downloads",
                     "downloads_all_time", "likes", "pipeline_tag", "library_name", "security_status")  # fmt: skip


def _inherit_registry_facts(scratch: Store, snap: Snapshot | None, repo_id: str) -> None:
    """Fill what a local folder cannot say (downloads, likes, dates, tags) from the context's record of it."""
    if snap is None:
        return
    own = scratch.snapshot(SCRATCH_SNAPSHOT).snapshot_id
    sets = ", ".join(f"{c} = coalesce(models.{c}, c.{c})" for c in _REGISTRY_COLUMNS)
    scratch.con.execute(
        f"UPDATE models SET {sets} FROM (SELECT * FROM ctx.models WHERE snapshot_id = ? AND repo_id = ?) c"
        " WHERE models.snapshot_id = ? AND models.repo_id = c.repo_id",
        [snap.snapshot_id, repo_id, own],
    )
    has_tags = scratch.query("SELECT 1 FROM model_tags WHERE snapshot_id = ? LIMIT 1", [own])
    if not has_tags:
        scratch.con.execute(
            "INSERT INTO model_tags SELECT ?, repo_id, tag FROM ctx.model_tags WHERE snapshot_id = ? AND repo_id = ?",
            [own, snap.snapshot_id, repo_id],
        )


def _overlay(scratch: Store, snap: Snapshot | None) -> int:
    own = scratch.snapshot(SCRATCH_SNAPSHOT)
    facts_module.overlay_scope(
        scratch.con,
        model_schema="main",
        model_snapshot=own.snapshot_id,
        context_schema="ctx" if snap is not None else None,
        context_snapshot=snap.snapshot_id if snap is not None else None,
    )
    return own.snapshot_id


def _audit_scratch(target: Target, db_file: Path | None, context: str | None, weights: Weights, *,
                   scan: bool) -> ModelAudit:  # fmt: skip

    assert target.path is not None
    scratch, snap = _scratch_with_context(db_file, context)
    try:
        import_paths(scratch, [target.path], SCRATCH_SNAPSHOT, repo_id=target.repo_id, source="audit", jobs=1)
        if target.revision:
            scratch.con.execute("UPDATE models SET sha = coalesce(sha, ?)", [target.revision])
        _inherit_registry_facts(scratch, snap, target.repo_id)
        _overlay(scratch, snap)
        report = scan_folder(target.path) if scan else None
        return _judge(scratch.con, target.repo_id, target, snap, weights, report)
    finally:
        scratch.close()


def scan_folder(path: Path) -> ScanReport:
    """Statically scan the model files under ``path`` (never loading them)."""
    return scan_paths([path], ScanOptions())


def scan_hub_repo(repo_id: str, revision: str | None, endpoint: str | None) -> ScanReport:
    """Download a Hub repo's non-text files into a temporary cache and scan them statically."""
    with tempfile.TemporaryDirectory(prefix="ptmscope-audit-scan-") as cache:
        results, errors = scan_repo(RepoRef(repo_id, "model", revision), ScanOptions(), endpoint, cache)
    return ScanReport(tuple(results), tuple(errors))


def _stored_verdicts(scratch: Store, db_file: Path | None, repo_id: str) -> ScanReport | None:
    """Verdicts the store already holds for every file of the fetched listing (same path, same oid), else None."""
    if db_file is None or not db_file.exists():
        return None
    files = scratch.query("SELECT path, coalesce(lfs_sha256, blob_id) FROM model_files WHERE repo_id = ?", [repo_id])
    with suppress(StoreLockedError), Store(db_file, read_only=True) as store:
        return report_for_files(store.con, repo_id, [(str(path), oid) for path, oid in files])
    return None


def _audit_from_hub(repo_id: str, db_file: Path | None, context: str | None, endpoint: str | None,
                    weights: Weights, scan: bool, token: str | bool | None) -> ModelAudit:  # fmt: skip

    base = endpoint_or_default(endpoint)
    check_reachable(base)  # no network: one line within seconds, not minutes of retries
    note = None
    if token is None:  # huggingface_hub's token, but only for the endpoint it belongs to
        token, note = hub_token(base)
    model = fetch_model(repo_id, endpoint=base, token=token)
    scratch, snap = _scratch_with_context(db_file, context)
    try:
        own = scratch.create_snapshot(SCRATCH_SNAPSHOT, source="audit", source_detail=model.endpoint)
        writer = SnapshotWriter(scratch, own)
        writer.add(model.record, model.endpoint, "api")
        writer.add(CardRecord(model.record.repo_id, model.readme), model.endpoint, "README.md")
        writer.flush()
        scratch.finish_snapshot(own)
        _overlay(scratch, snap)
        target = Target("hub", model.record.repo_id, None, model.record.sha)
        report = stored = _stored_verdicts(scratch, db_file, model.record.repo_id) if scan else None
        if scan and report is None:
            report = scan_hub_repo(model.record.repo_id, model.record.sha, model.endpoint)
        audit = _judge(scratch.con, model.record.repo_id, target, snap, weights, report)
        if note:
            audit.notes.append(note)
        if stored is not None:
            audit.notes.append("file verdicts from the store ('ptmscope scan --snapshot' read these exact blobs); "
                               "nothing was downloaded")  # fmt: skip
        return audit
    finally:
        scratch.close()


# -- audit --all -------------------------------------------------------------------------------------
