"""A model's page as data: its record, report card, files with scan verdicts, lineage, claims.

The report card is the audit document of ``ptmscope audit --json`` (``reports.audit_json``):
from the snapshot's latest ``audit --all`` run when there is one (its stored findings, scored
with the run's weights; an ``audit --all`` run keeps evidence for every outcome but true), else,
or when asked (``explain``), computed on the spot by the audit library with the snapshot as
context (``audits.run.audit_in_store``), which gives every finding's evidence. Everything is read
through the request's read-only connection, each query within the model's spans (``web.locate``:
the ``rowid`` range its rows lie in, so DuckDB reads a row group, not the table).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson

from ptmscope.audits.lineage import Lineage
from ptmscope.audits.run import ModelAudit, audit_in_store
from ptmscope.checks import CHECKS, Finding, Outcome
from ptmscope.reports.audit_json import audit_document
from ptmscope.scores.policy import Weights, score
from ptmscope.sources.local import Target
from ptmscope.store.derived import SNAPSHOT_FILE_SCANS_SQL, weight_format
from ptmscope.store.store import Snapshot, Store
from ptmscope.web.locate import Spans

MAX_FILES = 2_000
MAX_ROWS = 200

# Each query reads one model's rows within its spans (``$lo_<table>``..``$hi_<table>``), and ``_located`` counts the
# rows found there (before any LIMIT), which ``Spans.found`` compares with the count the spans were made with.
# ``{repo}``: ``AND repo_id = $repo``, or nothing when the span holds only the model's rows (``Spans.tight``), where
# comparing the compressed ids of a whole vector costs more than reading the rows; those rows' ids are checked then.
_MODEL_SQL = """
SELECT repo_id, namespace, author, sha, last_modified, created_at, gated, disabled, downloads, downloads_all_time,
       likes, pipeline_tag, library_name, model_type, architectures, num_files, parameters, used_storage,
       security_status
FROM models WHERE snapshot_id = $sid {repo} AND rowid BETWEEN $lo_models AND $hi_models
"""
_CARD_SQL = """
SELECT status, length FROM cards WHERE snapshot_id = $sid AND repo_id = $repo AND rowid BETWEEN $lo_cards AND $hi_cards
"""
_FILES_SQL = f"""
SELECT f.path, f.size, coalesce(f.lfs_sha256, f.blob_id) AS oid, s.verdict, s.format, s.rules, s.reason, f._located
FROM (SELECT *, count(*) OVER () AS _located FROM model_files
      WHERE snapshot_id = $sid AND repo_id = $repo AND rowid BETWEEN $lo_model_files AND $hi_model_files) f
LEFT JOIN (SELECT * FROM ({SNAPSHOT_FILE_SCANS_SQL}) WHERE repo_id = $repo) s USING (path)
ORDER BY f.path LIMIT {MAX_FILES}
"""
_FILES_UNSCANNED_SQL = f"""
SELECT path, size, coalesce(lfs_sha256, blob_id) AS oid, NULL AS verdict, NULL AS format, NULL AS rules, NULL AS reason,
       count(*) OVER () AS _located, repo_id AS _repo
FROM model_files WHERE snapshot_id = $sid {{repo}} AND rowid BETWEEN $lo_model_files AND $hi_model_files
ORDER BY path LIMIT {MAX_FILES}
"""
_FILES_ONLY_SQL = """
SELECT path, size, count(*) OVER () AS _located FROM model_files
WHERE snapshot_id = $sid AND repo_id = $repo AND rowid BETWEEN $lo_model_files AND $hi_model_files ORDER BY path
"""
_CLAIMS_SQL = f"""
SELECT source, task_type, coalesce(dataset_type, dataset_name) AS dataset, dataset_split AS split,
       coalesce(metric_type, metric_name) AS metric, value, value_text, verified, status, count(*) OVER () AS _located
FROM claims WHERE snapshot_id = $sid AND repo_id = $repo AND rowid BETWEEN $lo_claims AND $hi_claims
ORDER BY entry, dataset, metric LIMIT {MAX_ROWS}
"""
_RESULTS_SQL = f"""
SELECT dataset, split, metric, value_text || coalesce(unit, '') AS value, found_in, line, snippet,
       count(*) OVER () AS _located
FROM card_results WHERE snapshot_id = $sid AND repo_id = $repo AND rowid BETWEEN $lo_card_results AND $hi_card_results
ORDER BY line LIMIT {MAX_ROWS}
"""
_VERIFIED_SQL = f"""
SELECT sha, dataset_name, split, metric, measured, ci_low, ci_high, claimed, gap, verdict, explanation, created_at
FROM verifications WHERE repo_id = ? ORDER BY created_at DESC LIMIT {MAX_ROWS}
"""


def _dicts(store: Store, sql: str, params: Any) -> list[dict[str, Any]]:
    cursor = store.con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _params(snapshot: Snapshot, repo_id: str, spans: Spans, *tables: str) -> dict[str, Any]:
    return {"sid": snapshot.snapshot_id, "repo": repo_id, **spans.params(*tables)}


def _located(store: Store, sql: str, params: dict[str, Any], spans: Spans, table: str) -> list[dict[str, Any]]:
    """The rows of a query with a ``_located`` column (and maybe ``_repo``), which are dropped and told to ``spans``."""
    if spans.empty(table):
        return []  # the model had no row there
    repo_id = params["repo"]
    if "{repo}" in sql:
        sql, params = _for_repo(sql, params, spans, table, MAX_FILES)
    rows = _dicts(store, sql, params)
    located = int(rows[0]["_located"]) if rows else 0
    if rows and "_repo" in rows[0]:
        rows = [row for row in rows if row.pop("_repo") == repo_id]
        located = len(rows) if "repo" not in params else located  # a tight span: at most LIMIT rows in it
    spans.found(table, located)
    for row in rows:
        del row["_located"]
    return rows


def _for_repo(
    sql: str, params: dict[str, Any], spans: Spans, table: str, limit: int | None = None
) -> tuple[str, dict[str, Any]]:
    """``sql`` with ``{repo}`` filled, and the parameters it takes: ``AND repo_id = $repo``, or nothing when the
    model's span of ``table`` is tight (and within ``limit`` rows), whose rows the caller then checks by repo id."""
    if spans.tight(table) and (limit is None or spans.expected[table] <= limit):
        return sql.format(repo=""), {k: v for k, v in params.items() if k != "repo"}
    return sql.format(repo="AND repo_id = $repo"), params


def model_record(store: Store, snapshot: Snapshot, repo_id: str, spans: Spans) -> dict[str, Any] | None:
    """The model's row of the snapshot and its card's status; None when it is not there."""
    sql, params = _for_repo(_MODEL_SQL, _params(snapshot, repo_id, spans, "models"), spans, "models")
    rows = [row for row in _dicts(store, sql, params) if row["repo_id"] == repo_id]
    spans.found("models", len(rows))
    if not rows:
        return None
    card = [] if spans.empty("cards") else _dicts(store, _CARD_SQL, _params(snapshot, repo_id, spans, "cards"))
    if not spans.empty("cards"):
        spans.found("cards", len(card))
    record = rows[0]
    record["card_status"], record["card_length"] = (card[0]["status"], card[0]["length"]) if card else (None, None)
    status = record.pop("security_status")
    record["hub_flagged_files"] = hub_flagged(status)
    return record


def hub_flagged(status: Any) -> list[str]:
    """The files the Hub's security status (stored JSON) lists with issues, at most 100."""
    try:
        parsed = orjson.loads(status) if isinstance(status, str | bytes) else status
    except orjson.JSONDecodeError:
        return []
    issues = parsed.get("filesWithIssues") if isinstance(parsed, dict) else None
    if not isinstance(issues, list):
        return []
    return [str(i.get("path", i)) if isinstance(i, dict) else str(i) for i in issues][:100]


def model_files(store: Store, snapshot: Snapshot, repo_id: str, spans: Spans) -> list[dict[str, Any]]:
    """The file list, each with its weight format (by name) and the stored scan verdict of its bytes, if any."""
    params = _params(snapshot, repo_id, spans, "model_files")
    # No scan of the snapshot covered the model: no verdicts to join (the same rows, without reading the scans)
    sql = _FILES_UNSCANNED_SQL if spans.empty("file_scan_repos") else _FILES_SQL
    try:
        files = _located(store, sql, params, spans, "model_files")
    except Exception:  # a store that predates file_scans: the list without verdicts
        files = _located(store, _FILES_ONLY_SQL, params, spans, "model_files")
    for f in files:
        f["weight_format"] = weight_format(str(f["path"]))
    return files


def model_claims(store: Store, snapshot: Snapshot, repo_id: str, spans: Spans) -> dict[str, list[dict[str, Any]]]:
    """Model-index claims, results the card reports in its text, and ``verify`` re-measurements of the model."""
    out = {
        "model_index": _located(store, _CLAIMS_SQL, _params(snapshot, repo_id, spans, "claims"), spans, "claims"),
        "card_text": _located(
            store, _RESULTS_SQL, _params(snapshot, repo_id, spans, "card_results"), spans, "card_results"
        ),
        "verifications": [],
    }
    with suppress(Exception):  # a store that predates verify has no verifications table
        out["verifications"] = _dicts(store, _VERIFIED_SQL, [repo_id])
    return out


@dataclass(frozen=True)
class StoredRun:
    """The snapshot's latest ``audit --all`` run: its id, the weights it scored with, what the page says of it."""

    run_id: int
    weights: Weights
    info: dict[str, Any]


def stored_run(store: Store, run_id: int) -> StoredRun:
    """The run ``run_id`` as the model pages use it."""
    row = store.query("SELECT weights, created_at, tool_version, models FROM audit_runs WHERE run_id = ?", [run_id])[0]
    policy = orjson.loads(row[0])
    weights = Weights({str(k): float(v) for k, v in policy.get("weights", {}).items()},
                      float(policy.get("default", 1.0)), str(policy.get("source", "default")))  # fmt: skip
    info = {"kind": "stored", "run_id": run_id, "created_at": row[1], "tool_version": row[2], "models": row[3]}
    return StoredRun(run_id, weights, info)


def stored_audit(store: Store, snapshot: Snapshot, repo_id: str, run: StoredRun, family: Lineage,
                 spans: Spans) -> ModelAudit | None:  # fmt: skip
    """The model's audit as the snapshot's ``audit --all`` run stored it (None: the run has no findings for it).

    Scored from the stored findings with the run's weights (the same arithmetic as the run's stored scores).
    """
    sql, params = _for_repo(
        "SELECT check_id, outcome, evidence, grade, sha, repo_id FROM findings WHERE run_id = $run {repo}"
        " AND rowid BETWEEN $lo_findings AND $hi_findings",
        {"run": run.run_id, "repo": repo_id, **spans.params("findings")}, spans, "findings",
    )  # fmt: skip
    rows = [row for row in store.con.execute(sql, params).fetchall() if row[5] == repo_id]
    spans.found("findings", len(rows))
    if not rows:
        return None
    by_id = {r[0]: r for r in rows}
    findings = [(check, Finding(check.id, Outcome(by_id[check.id][1]), by_id[check.id][2], by_id[check.id][3]))
                for check in CHECKS.values() if check.id in by_id]  # fmt: skip
    return ModelAudit(
        repo_id=repo_id,
        sha=rows[0][4],
        target=Target("snapshot", repo_id),
        context=snapshot,
        facts={},
        findings=findings,
        scores=score(findings, run.weights),
        lineage=family,
        weights=run.weights,
    )


def audit_of(store: Store, snapshot: Snapshot, repo_id: str, run: StoredRun | None, *, explain: bool,
             family: Callable[[], Lineage], spans: Spans) -> dict[str, Any]:  # fmt: skip
    """The report card (``ptmscope.audit/1`` document) and where it came from (``audit_source``).

    ``family``: the model's lineage, for a stored run's card (a computed audit finds its own).
    """
    audit = None if explain or run is None else stored_audit(store, snapshot, repo_id, run, family(), spans)
    source: dict[str, Any] = {"kind": "computed", "run_id": None}
    if audit is not None and run is not None:
        source = run.info
    else:
        audit = audit_in_store(store, snapshot, repo_id)
    doc = audit_document(audit)
    doc["audit_source"] = source
    return doc
