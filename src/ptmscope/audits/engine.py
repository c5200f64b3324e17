"""Evaluating checks: every registered check, as one vectorised SQL pass over the facts table.

``evaluate`` turns ``facts`` into the temp table ``check_wide``: one row per model, with
each check's outcome, grade and evidence as columns (``o3``, ``g3``, ``e3``). From it,
``FINDINGS`` unnests one row per model and check, and ``scores_sql`` computes every
attribute's score by arithmetic across the row, with no join or group-by, so a million
models score in seconds. A check whose SQL fails at run time on some row yields
``error`` for that row (``TRY``), never a crashed audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ptmscope.checks import ATTRIBUTES, CHECKS, Check, Finding, Outcome
from ptmscope.checks.docs import looks_for
from ptmscope.scores.policy import Weights

if TYPE_CHECKING:
    import duckdb


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def evaluated_checks() -> list[Check]:
    """The checks in column order of ``check_wide`` (registry order)."""
    return list(CHECKS.values())


def evaluate(con: duckdb.DuckDBPyConnection, checks: Iterable[Check] | None = None, *, evidence: bool = True) -> None:
    """Fill ``check_wide`` from ``facts``, and the temp view ``check_findings`` over it.

    ``evidence=False`` leaves evidence out for outcomes that are true (a bulk audit stores
    what to act on; one model's report recomputes the rest).
    """
    selected = list(checks) if checks is not None else evaluated_checks()
    raw, final = [], []
    for i, c in enumerate(selected):
        raw.append(f"coalesce(TRY(({c.outcome_sql})::VARCHAR), 'error') AS o{i}")
        raw.append(f"left(coalesce(TRY(({c.evidence_sql})::VARCHAR), {_fallback(c, i)}), 500) AS e{i}")
        raw.append(f"TRY(({c.grade_sql})::DOUBLE) AS g{i}" if c.grade_sql else f"NULL::DOUBLE AS g{i}")
        final.append(f"o{i}")
        final.append(
            f"nullif(e{i}, '') AS e{i}" if evidence else f"CASE WHEN o{i} <> 'true' THEN nullif(e{i}, '') END AS e{i}"
        )
        final.append(
            f"CASE WHEN o{i} IN ('true', 'false') THEN greatest(0.0, least(1.0, coalesce(g{i},"
            f" CASE o{i} WHEN 'true' THEN 1.0 ELSE 0.0 END))) END AS g{i}"
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE check_wide AS
        SELECT repo_id, sha, {", ".join(final)}
        FROM (SELECT repo_id, sha, {", ".join(raw)} FROM facts)
        """
    )
    structs = ", ".join(
        f"struct_pack(check_id := {_quote(c.id)}, outcome := o{i}, evidence := e{i}, grade := g{i})"
        for i, c in enumerate(selected)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW check_findings AS
        SELECT repo_id, sha, r.check_id, r.outcome, r.evidence, r.grade
        FROM (SELECT repo_id, sha, unnest([{structs}]) AS r FROM check_wide)
        """
    )


# What a check could not see, by what it needs (the evidence of a not_available verdict).
_MISSING = {
    "card": "the model card's text",
    "files": "the repository's file list",
    "metadata": "the model's metadata",
    "history": "the commit history (ptmscope clone)",
    "bytes": "the weight files' bytes (audit --scan)",
}


def _fallback(check: Check, index: int) -> str:
    """SQL for the evidence of a verdict whose rule gave none: what was looked for, or what was missing."""
    looked = _quote(f"looked for {looks_for(check.id) or check.question.rstrip('?').lower()}; found none")
    missing = _quote("not in this snapshot: " + " or ".join(_MISSING.get(n, n) for n in sorted(check.needs)))
    return f"CASE o{index} WHEN 'false' THEN {looked} WHEN 'not_available' THEN {missing} END"


def scores_sql(weights: Weights, checks: Iterable[Check] | None = None) -> str:
    """SQL giving ``(repo_id, attribute, score, earned, possible, conclusive, inconclusive)`` from ``check_wide``.

    Per attribute: earned = sum of weight x grade over conclusive checks, possible = sum
    of their weights, score = 10 x earned / possible (NULL when nothing was conclusive).
    Attributes without any weighted check give no row. The same arithmetic as
    ``ptmscope.scores.policy.score`` (a test holds the two equal).
    """
    selected = list(checks) if checks is not None else evaluated_checks()
    structs = []
    for attribute in ATTRIBUTES:
        members = [(i, weights.weight(c)) for i, c in enumerate(selected) if c.attribute == attribute]
        members = [(i, w) for i, w in members if w > 0]
        if not members:
            continue
        earned = " + ".join(f"coalesce({w!r} * g{i}, 0)" for i, w in members)
        possible = " + ".join(f"CASE WHEN o{i} IN ('true', 'false') THEN {w!r} ELSE 0 END" for i, w in members)
        conclusive = " + ".join(f"(o{i} IN ('true', 'false'))::INTEGER" for i, _ in members)
        structs.append(
            f"struct_pack(attribute := {_quote(attribute)}, earned := ({earned})::DOUBLE,"
            f" possible := ({possible})::DOUBLE, conclusive := {conclusive}, members := {len(members)})"
        )
    return f"""
        SELECT repo_id, s.attribute,
               CASE WHEN s.possible > 0 THEN 10 * s.earned / s.possible END AS score,
               s.earned, s.possible, s.conclusive, s.members - s.conclusive AS inconclusive
        FROM (SELECT repo_id, unnest([{", ".join(structs)}]) AS s FROM check_wide)
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
