"""The check registry: checks register themselves on import, and registration refuses bad entries.

    @check("declares_license", attribute="portability", needs={"metadata"})
    def declares_license() -> Rule:
        \"\"\"Does the model declare a licence?\"\"\"
        return Rule(outcome="...", evidence="...")

The function's docstring is the check's question; the ``Rule`` it returns holds the SQL
over the facts table (``ptmscope.checks.facts.FACT_COLUMNS``). Registration fails loudly
on an empty or non-snake-case id, a duplicate, an unknown attribute or need, a
question that is not a question, or SQL that names a fact that does not exist: a bad
check is a bug found at import, not a wrong score found later.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ptmscope.checks.facts import FACT_COLUMNS, SQL_WORDS
from ptmscope.checks.model import ATTRIBUTES, NEEDS, STRIDE_NAMES, Check

CHECKS: dict[str, Check] = {}

_ID = re.compile(r"^[a-z][a-z0-9_]{2,60}$")
_IDENTIFIER = re.compile(r"\b([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class Rule:
    """The SQL of a check: expressions over one facts row."""

    outcome: str
    evidence: str = "NULL"
    grade: str | None = None


def _unknown_facts(sql: str, facts: frozenset[str]) -> set[str]:
    """Lower-case identifiers in ``sql`` that look like fact columns but are not (string literals removed)."""
    without_strings = re.sub(r"'(?:[^']|'')*'", "''", sql)
    names = set(_IDENTIFIER.findall(without_strings))
    return {n for n in names if n not in facts and n not in SQL_WORDS}


def check(
    check_id: str,
    *,
    attribute: str,
    needs: set[str] | frozenset[str],
    version: int = 1,
    stride: tuple[str, ...] = (),
    info: bool = False,
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[[], Rule]], Callable[[], Rule]]:
    """Register the decorated function as a check."""

    def register(fn: Callable[[], Rule]) -> Callable[[], Rule]:
        if not check_id or not _ID.match(check_id):
            raise ValueError(f"check id {check_id!r} must be snake_case, 3 to 61 characters")
        if check_id in CHECKS:
            raise ValueError(f"check {check_id!r} is already registered")
        if attribute not in ATTRIBUTES:
            raise ValueError(f"check {check_id!r}: unknown attribute {attribute!r}")
        if not needs or not set(needs) <= set(NEEDS):
            raise ValueError(f"check {check_id!r}: needs must be a non-empty subset of {NEEDS}")
        if any(s not in STRIDE_NAMES for s in stride):
            raise ValueError(f"check {check_id!r}: unknown STRIDE letter in {stride}")
        if version < 1:
            raise ValueError(f"check {check_id!r}: version must be >= 1")
        question = " ".join((fn.__doc__ or "").split())
        if not question.endswith("?"):
            raise ValueError(f"check {check_id!r}: its docstring must be the question it answers, ending in '?'")
        rule = fn()
        if not isinstance(rule, Rule) or not rule.outcome.strip():
            raise ValueError(f"check {check_id!r} must return a Rule with an outcome expression")
        for part in (rule.outcome, rule.evidence, rule.grade or ""):
            unknown = _unknown_facts(part, FACT_COLUMNS)
            if unknown:
                raise ValueError(f"check {check_id!r} reads unknown facts: {sorted(unknown)}")
        CHECKS[check_id] = Check(
            id=check_id,
            question=question,
            attribute=attribute,
            version=version,
            needs=frozenset(needs),
            outcome_sql=rule.outcome,
            evidence_sql=rule.evidence,
            grade_sql=rule.grade,
            stride=stride,
            info=info,
            tags=tags,
        )
        return fn

    return register
