"""Verification results in the store (table ``verifications``, migration ``m0004_verify_results``).

Rows are keyed by model revision (``repo_id``, ``sha``), not by snapshot: they are facts
about the files that were run. ``insert`` writes one verify invocation (one ``run_id``);
``rechecked_sql`` is the query the audit reads ("claims re-checked"), one row per model with
its latest verification of each (dataset, split, metric). ``verify.results`` turns a
verification into a row; nothing here imports verify (or torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

COLUMNS = (
    "run_id", "repo_id", "sha", "weights_sha256", "model_source", "task", "metric", "dataset", "dataset_name",
    "dataset_config", "split", "examples", "examples_total", "measured", "ci_low", "ci_high", "confidence",
    "resamples", "seed", "tolerance", "claimed", "claimed_text", "claim_task", "claim_dataset", "claim_config",
    "claim_split", "claim_metric", "claim_verified", "gap", "verdict", "explanation", "notes", "selected_from",
    "created_at", "seconds", "tool_version", "runtime",
)  # fmt: skip


def new_run_id(con: duckdb.DuckDBPyConnection) -> int:
    """A fresh run id for one verify invocation."""
    return int(con.execute("SELECT nextval('verify_run_ids')").fetchall()[0][0])


def insert(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Store rows in ``COLUMNS`` order."""
    if rows:
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        con.executemany(f"INSERT INTO verifications ({names}) VALUES ({marks})", list(rows))  # constant names


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
