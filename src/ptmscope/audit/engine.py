"""Evaluating checks: every registered check, as one vectorised SQL pass over the facts table.

``evaluate`` turns ``facts`` into the temp table ``check_findings`` (one row per model
and check). A check whose SQL fails at run time on some row yields ``error`` for that
row (``TRY``), never a crashed audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ptmscope.checks import CHECKS, Check, Finding, Outcome
from ptmscope.scores.policy import Weights

if TYPE_CHECKING:
    import duckdb


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def evaluate(con: duckdb.DuckDBPyConnection, checks: Iterable[Check] | None = None, *, evidence: bool = True) -> None:
    """Fill the temp table ``check_findings (repo_id, sha, check_id, outcome, evidence, grade)`` from ``facts``.

    One projection computes every check's outcome, evidence and raw grade as columns;
    a second packs them into one list per model, which is unnested into rows.
    """
    selected = list(checks) if checks is not None else list(CHECKS.values())
    columns, structs = [], []
    for i, c in enumerate(selected):
        columns.append(f"coalesce(TRY(({c.outcome_sql})::VARCHAR), 'error') AS o{i}")
        columns.append(f"left(TRY(({c.evidence_sql})::VARCHAR), 500) AS e{i}" if evidence else f"NULL::VARCHAR AS e{i}")
        columns.append(f"TRY(({c.grade_sql})::DOUBLE) AS g{i}" if c.grade_sql else f"NULL::DOUBLE AS g{i}")
        grade = (
            f"CASE WHEN o{i} IN ('true', 'false') THEN greatest(0.0, least(1.0, coalesce(g{i},"
            f" CASE o{i} WHEN 'true' THEN 1.0 ELSE 0.0 END))) END"
        )
        structs.append(f"struct_pack(check_id := {_quote(c.id)}, outcome := o{i}, evidence := e{i}, grade := {grade})")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE check_findings AS
        WITH raw AS (SELECT repo_id, sha, {", ".join(columns)} FROM facts)
        SELECT repo_id, sha, r.check_id, r.outcome, nullif(r.evidence, '') AS evidence, r.grade
        FROM (SELECT repo_id, sha, unnest([{", ".join(structs)}]) AS r FROM raw)
        """
    )


def install_weights(con: duckdb.DuckDBPyConnection, weights: Weights) -> None:
    """The temp table ``check_weights (check_id, attribute, weight)`` for scoring in SQL."""
    con.execute("CREATE OR REPLACE TEMP TABLE check_weights (check_id VARCHAR, attribute VARCHAR, weight DOUBLE)")
    con.executemany(
        "INSERT INTO check_weights VALUES (?, ?, ?)", [(c.id, c.attribute, weights.weight(c)) for c in CHECKS.values()]
    )


SCORES_SQL = """
SELECT f.repo_id, w.attribute,
       CASE WHEN sum(w.weight) FILTER (WHERE f.outcome IN ('true', 'false')) > 0
            THEN 10 * sum(w.weight * f.grade) FILTER (WHERE f.outcome IN ('true', 'false'))
                 / sum(w.weight) FILTER (WHERE f.outcome IN ('true', 'false')) END AS score,
       coalesce(sum(w.weight * f.grade) FILTER (WHERE f.outcome IN ('true', 'false')), 0) AS earned,
       coalesce(sum(w.weight) FILTER (WHERE f.outcome IN ('true', 'false')), 0) AS possible,
       count(*) FILTER (WHERE f.outcome IN ('true', 'false')) AS conclusive,
       count(*) FILTER (WHERE f.outcome NOT IN ('true', 'false')) AS inconclusive
FROM check_findings f JOIN check_weights w USING (check_id)
WHERE w.weight > 0
GROUP BY f.repo_id, w.attribute
"""


def findings_of(con: duckdb.DuckDBPyConnection, repo_id: str) -> list[tuple[Check, Finding]]:
    """One model's findings from ``check_findings``, in registry order."""
    rows = con.execute(
        "SELECT check_id, outcome, evidence, grade FROM check_findings WHERE repo_id = ?", [repo_id]
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    out = []
    for check in CHECKS.values():
        row = by_id.get(check.id)
        if row is not None:
            out.append((check, Finding(check.id, Outcome(row[1]), row[2], row[3])))
    return out
