"""Verification results in the store (table ``verifications``, migration ``m0004_verify_results``).

Rows are keyed by model revision (``repo_id``, ``sha``), not by snapshot: they are
facts about the files that were run. ``save`` writes one verify invocation (one
``run_id``); ``rechecked_sql`` is the query the audit reads ("claims re-checked"), one
row per model with its latest verification of each (dataset, split, metric).
No torch here: the audit and the study import this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from ptmscope.verify.run import Verification

COLUMNS = (
    "run_id", "repo_id", "sha", "weights_sha256", "model_source", "task", "metric", "dataset", "dataset_name",
    "dataset_config", "split", "examples", "examples_total", "measured", "ci_low", "ci_high", "confidence",
    "resamples", "seed", "tolerance", "claimed", "claimed_text", "claim_task", "claim_dataset", "claim_config",
    "claim_split", "claim_metric", "claim_verified", "gap", "verdict", "explanation", "notes", "selected_from",
    "created_at", "seconds", "tool_version", "runtime",
)  # fmt: skip


def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or value != value else value


def row(verification: Verification, run_id: int, tolerance: float | None) -> tuple[Any, ...]:
    """The ``verifications`` row of one verification, in ``COLUMNS`` order."""
    from ptmscope import __version__

    v, e, c = verification, verification.estimate, verification.claim
    return (
        run_id, v.repo_id, v.sha, v.weights_sha256, v.model_source, v.task, v.metric, v.dataset, v.dataset_name,
        v.dataset_config, v.split, e.n if e else None, v.examples_total, _nan_to_none(e.value) if e else None,
        _nan_to_none(e.low) if e else None, _nan_to_none(e.high) if e else None, e.confidence if e else None,
        e.resamples if e else None, e.seed if e else None, tolerance, v.claimed, c.value_text if c else None,
        c.task_type if c else None, (c.dataset_type or c.dataset_name) if c else None,
        c.dataset_config if c else None, c.dataset_split if c else None,
        (c.metric_type or c.metric_name) if c else None, c.verified if c else None, v.gap, v.verdict,
        v.explanation[:2000], [n[:500] for n in v.notes[:20]], v.selected_from, v.created_at, v.seconds,
        v.runtime.get("ptmscope") or __version__, json.dumps(v.runtime) if v.runtime else None,
    )  # fmt: skip


def new_run_id(con: duckdb.DuckDBPyConnection) -> int:
    """A fresh run id for one verify invocation."""
    return int(con.execute("SELECT nextval('verify_run_ids')").fetchall()[0][0])


def save(con: duckdb.DuckDBPyConnection, verifications: Sequence[Verification], *, run_id: int | None = None,
         tolerance: float | None = None) -> int:  # fmt: skip
    """Store ``verifications`` under one run id (new unless given); return the run id."""
    run = run_id if run_id is not None else new_run_id(con)
    if verifications:
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        con.executemany(
            f"INSERT INTO verifications ({names}) VALUES ({marks})",  # column names are constants
            [row(v, run, tolerance) for v in verifications],
        )
    return run


# The latest verification per model revision and (task, dataset, split, metric); failed runs
# count only when nothing better exists for that key.
LATEST = """
    SELECT * EXCLUDE (rank) FROM (
        SELECT *, row_number() OVER (
            PARTITION BY repo_id, coalesce(sha, ''), task, coalesce(dataset_name, dataset), split, metric
            ORDER BY (verdict = 'failed'), created_at DESC, verification_id DESC) AS rank
        FROM {schema}verifications)
    WHERE rank = 1
"""


def latest_sql(schema: str = "") -> str:
    """SQL of the latest verification per revision and (task, dataset, split, metric).

    ``schema`` prefixes the table (``"ctx."`` for an attached store).
    """
    return LATEST.format(schema=schema)


def rechecked_sql(schema: str = "") -> str:
    """SQL the audit joins on ``repo_id`` (and ``sha``): one row per model revision verified.

    Columns: ``repo_id``, ``sha``, ``verifications`` (latest per dataset/split/metric),
    ``consistent``, ``discrepancies``, ``no_matching_claim``, ``failed``,
    ``worst_gap`` (the largest claimed - measured of a discrepancy), ``last_verified``,
    and ``evidence`` (one line per latest verification: verdict, metric, dataset, split,
    measured with its interval, claimed).
    """
    return f"""
        SELECT repo_id, sha,
               count(*) AS verifications,
               count(*) FILTER (WHERE verdict = 'consistent') AS consistent,
               count(*) FILTER (WHERE verdict = 'discrepancy') AS discrepancies,
               count(*) FILTER (WHERE verdict = 'no_matching_claim') AS no_matching_claim,
               count(*) FILTER (WHERE verdict = 'failed') AS failed,
               max(gap) FILTER (WHERE verdict = 'discrepancy') AS worst_gap,
               max(created_at) AS last_verified,
               string_agg(
                   verdict || ': ' || coalesce(metric, '?') || ' on ' || coalesce(dataset_name, dataset) || ' ['
                   || split || '] measured ' || coalesce(printf('%.4f', measured), '?')
                   || coalesce(printf(' (%.4f-%.4f)', ci_low, ci_high), '')
                   || coalesce(', claimed ' || claimed_text, ''),
                   '; ' ORDER BY verdict, metric) AS evidence
        FROM ({latest_sql(schema)})
        GROUP BY repo_id, sha
    """


def verifications_of(con: duckdb.DuckDBPyConnection, repo_id: str, sha: str | None = None) -> list[dict[str, Any]]:
    """The latest verifications of a model (of one revision when ``sha`` is given), newest first."""
    where = "repo_id = ?" + (" AND sha = ?" if sha else "")
    params: list[Any] = [repo_id, sha] if sha else [repo_id]
    cursor = con.execute(f"SELECT * FROM ({latest_sql()}) WHERE {where} ORDER BY created_at DESC", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def as_json(verification: Verification, tolerance: float) -> dict[str, Any]:
    """One verification as the ``ptmscope.verify/1`` JSON document's ``results`` entry."""
    e, c = verification.estimate, verification.claim
    return {
        "repo_id": verification.repo_id,
        "sha": verification.sha,
        "source": verification.model_source,
        "weights_sha256": verification.weights_sha256,
        "task": verification.task,
        "metric": verification.metric,
        "dataset": {
            "given": verification.dataset,
            "name": verification.dataset_name,
            "config": verification.dataset_config,
            "split": verification.split,
            "examples": e.n if e else None,
            "examples_total": verification.examples_total,
        },
        "measured": None
        if e is None
        else {
            "value": _nan_to_none(e.value),
            "ci_low": _nan_to_none(e.low),
            "ci_high": _nan_to_none(e.high),
            "confidence": e.confidence,
            "resamples": e.resamples,
            "seed": e.seed,
        },
        "claim": None
        if c is None
        else {
            "task": c.task_type,
            "dataset": c.dataset_type or c.dataset_name,
            "config": c.dataset_config,
            "split": c.dataset_split,
            "metric": c.metric_type or c.metric_name,
            "value_text": c.value_text,
            "value": verification.claimed,
            "verified": c.verified,
        },
        "gap": verification.gap,
        "tolerance": tolerance,
        "verdict": verification.verdict,
        "direction": verification.direction,
        "explanation": verification.explanation,
        "notes": verification.notes,
        "error": verification.error,
        "seconds": round(verification.seconds, 3),
        "runtime": verification.runtime,
        "selected_from": verification.selected_from,
        "created_at": verification.created_at.astimezone(dt.UTC).isoformat(),
    }
