"""Lineage: the base-model chain upward and the derived models downward, with inherited risks.

Read from the audit scope's views (``a_base_models``...), so a model from a local folder
is placed in the context snapshot's family tree exactly as a model of the snapshot is.
An ancestor with files the Hub flagged, or with a licence conflict with its own base,
warns everything below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MAX_DEPTH = 10
MAX_CHILDREN = 20


@dataclass(frozen=True)
class Link:
    """One edge of the chain: ``child`` derives from ``base``."""

    depth: int
    """1 for the audited model's own bases, 2 for theirs, ..."""
    child: str
    base: str
    relation: str | None
    base_licenses: list[str]
    in_snapshot: bool
    """The base model's own record is in the snapshot."""
    issue: str | None
    """What is wrong up here, if anything (flagged files, a licence conflict on this edge)."""


@dataclass(frozen=True)
class Lineage:
    """A model's family."""

    ancestors: list[Link] = field(default_factory=list)
    children: list[tuple[str, str | None, int | None]] = field(default_factory=list)
    """Direct derivatives (repo id, relation, downloads), most downloaded first, at most 20."""
    descendants: int = 0
    """All models below it, to 10 levels."""
    warnings: list[str] = field(default_factory=list)
    """Risks carried down the chain, in words."""


LICENCES_CTE = """
lic AS (
    SELECT DISTINCT l.repo_id, lower(trim(l.license)) AS id, c.kind, c.family
    FROM a_model_licenses l LEFT JOIN license_catalog c ON c.id = split_part(lower(trim(l.license)), ':', 1)
    WHERE trim(l.license) <> '' AND l.repo_id IN ({among}))"""
"""The licences of the models ``among`` (a subquery), normalised, with their kind and family from the catalogue."""

CONFLICT = (
    "min(license_conflict_reason(bl.id, bl.kind, cl.id))"
    " FILTER (WHERE license_verdict(bl.kind, bl.family, cl.kind, cl.family) = 'conflict')"
)
"""An edge's licence conflict, in words (NULL: none), over its child's licences ``cl`` and its base's ``bl``."""

UP_SQL = f"""
WITH RECURSIVE edges AS (
    SELECT repo_id, base_model, max(relation) AS relation FROM a_base_models
    WHERE base_model <> repo_id GROUP BY repo_id, base_model),
up(child, base, relation, depth, path) AS (
    SELECT repo_id, base_model, relation, 1, [repo_id, base_model] FROM edges WHERE repo_id = $repo
    UNION ALL
    SELECT e.repo_id, e.base_model, e.relation, up.depth + 1, list_append(up.path, e.base_model)
    FROM up JOIN edges e ON e.repo_id = up.base
    WHERE up.depth < $max AND NOT list_contains(up.path, e.base_model)),
{LICENCES_CTE.format(among="SELECT child FROM up UNION SELECT base FROM up")},
verdicts AS (
    SELECT up.child, up.base, {CONFLICT} AS conflict
    FROM up JOIN lic cl ON cl.repo_id = up.child JOIN lic bl ON bl.repo_id = up.base
    GROUP BY up.child, up.base)
SELECT up.depth, up.child, up.base, up.relation,
       coalesce((SELECT list(DISTINCT id ORDER BY id) FROM lic WHERE lic.repo_id = up.base), []) AS base_licenses,
       up.base IN (SELECT repo_id FROM a_models) AS in_snapshot,
       json_array_length(json_extract(m.security_status, '$.filesWithIssues')) > 0 AS flagged,
       v.conflict
FROM up LEFT JOIN verdicts v USING (child, base) LEFT JOIN a_models m ON m.repo_id = up.base
ORDER BY up.depth, up.base, up.child
"""
"""Every path up from ``$repo`` (to ``$max`` levels, no model twice on a path) as rows of ``UpRow``."""

CHILDREN_SQL = """
SELECT b.repo_id, max(b.relation) AS relation, max(m.downloads) AS downloads
FROM a_base_models b LEFT JOIN a_models m ON m.repo_id = b.repo_id
WHERE b.base_model = $repo AND b.repo_id <> $repo
GROUP BY b.repo_id ORDER BY downloads DESC NULLS LAST, b.repo_id LIMIT $limit
"""

DESCENDANTS_SQL = """
WITH RECURSIVE edges AS (SELECT DISTINCT repo_id, base_model FROM a_base_models WHERE base_model <> repo_id),
down(repo_id, depth) AS (
    SELECT repo_id, 1 FROM edges WHERE base_model = $repo
    UNION
    SELECT e.repo_id, down.depth + 1 FROM down JOIN edges e ON e.base_model = down.repo_id WHERE down.depth < $max)
SELECT count(DISTINCT repo_id) FROM down WHERE repo_id <> $repo
"""


UpRow = tuple[int, str, str, str | None, list[str], bool, bool | None, str | None]
"""An ``UP_SQL`` row: depth, child, base, relation, base licences, base in the snapshot, base flagged, conflict."""


def lineage(
    con: duckdb.DuckDBPyConnection,
    repo_id: str,
    *,
    own_issue: str | None = None,
    bases: bool = True,
    derivatives: bool = True,
) -> Lineage:
    """The family of ``repo_id`` in the current audit scope (licence macros must be installed).

    ``bases``, ``derivatives``: False when the caller knows the scope holds no edge from the model to a base
    (to it from a derivative), so the queries that would find none are not run.
    """
    up = con.execute(UP_SQL, {"repo": repo_id, "max": MAX_DEPTH}).fetchall() if bases else []
    children: list[tuple[str, str | None, int | None]] = []
    descendants = 0
    if derivatives:
        children = [
            (r[0], r[1], r[2]) for r in con.execute(CHILDREN_SQL, {"repo": repo_id, "limit": MAX_CHILDREN}).fetchall()
        ]
        descendants = int(con.execute(DESCENDANTS_SQL, {"repo": repo_id, "max": MAX_DEPTH}).fetchall()[0][0])
    return assemble(up, children, descendants, own_issue)


def assemble(
    up: list[UpRow], children: list[tuple[str, str | None, int | None]], descendants: int, own_issue: str | None
) -> Lineage:
    """The ``Lineage`` of the rows ``UP_SQL`` gives (in its order), the direct derivatives and the count below."""
    ancestors = []
    warnings = []
    for depth, child, base, relation, base_licenses, in_snapshot, flagged, conflict in up:
        issues = []
        if flagged:
            issues.append("the Hub flagged files in it")
        if conflict:
            issues.append(f"licence conflict with {child}: {conflict}")
        issue = "; ".join(issues) or None
        ancestors.append(Link(depth, child, base, relation, list(base_licenses), bool(in_snapshot), issue))
        if issue:
            where = "its base model" if depth == 1 else f"an ancestor {depth} levels up"
            warnings.append(f"{where} {base}: {issue}")
    if own_issue and descendants:
        warnings.append(f"{descendants} model(s) derive from this one and inherit its risk: {own_issue}")
    return Lineage(ancestors, children, descendants, warnings)
