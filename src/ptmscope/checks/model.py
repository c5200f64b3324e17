"""The vocabulary of checks: outcomes, attributes, needs, and the Check record itself.

A check answers one yes/no question about a model ("Does it declare a licence?") from
facts gathered from the store. Its logic is a SQL expression over the facts table
(``ptmscope.checks.facts``), so the same definition audits one model or a million in
one vectorised pass, and it returns findings with evidence, never a bare boolean.
Outcomes beyond true/false say why there is no answer (after scorecard's
``finding.Outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, get_args

Attribute = Literal[
    "provenance", "reproducibility", "portability", "documentation", "popularity", "maintenance", "security"
]
ATTRIBUTES: tuple[str, ...] = get_args(Attribute)

Need = Literal["metadata", "card", "files", "history", "bytes"]
NEEDS: tuple[str, ...] = get_args(Need)

# STRIDE threats (the paper's Table IV).
Stride = Literal["S", "T", "R", "I", "D", "E"]
STRIDE_NAMES = {
    "S": "Spoofing",
    "T": "Tampering",
    "R": "Repudiation",
    "I": "Information disclosure",
    "D": "Denial of service",
    "E": "Elevation of privilege",
}


class Outcome(StrEnum):
    """What a check found."""

    TRUE = "true"
    """The answer to the check's question is yes (the good case)."""
    FALSE = "false"
    """The answer is no: a finding to act on."""
    NOT_AVAILABLE = "not_available"
    """The data the check needs is not in the snapshot (unknown, not a failure)."""
    NOT_APPLICABLE = "not_applicable"
    """The question does not apply to this model (a base-model licence check without a base)."""
    ERROR = "error"
    """The check could not be evaluated (its input was malformed)."""

    @property
    def conclusive(self) -> bool:
        """True and false count towards scores; the other outcomes are inconclusive."""
        return self in (Outcome.TRUE, Outcome.FALSE)


@dataclass(frozen=True)
class Check:
    """One registered check."""

    id: str
    """Snake-case name phrased as a yes/no question: ``declares_license``."""
    question: str
    """The question, ending in '?' (the check function's docstring)."""
    attribute: str
    """One of ATTRIBUTES; the score the check contributes to."""
    version: int
    """Bumped whenever the logic changes, so stored findings say which logic made them."""
    needs: frozenset[str]
    """What the check reads: metadata, card, files, history, bytes."""
    outcome_sql: str
    """SQL over the facts table giving one of the Outcome values."""
    evidence_sql: str
    """SQL over the facts table giving a short evidence text (or NULL)."""
    grade_sql: str | None = None
    """For graded checks, SQL giving the share of the check's weight earned in [0, 1]."""
    stride: tuple[str, ...] = ()
    """STRIDE threats a false outcome exposes (security checks)."""
    info: bool = False
    """Informational: reported, never scored."""
    tags: tuple[str, ...] = field(default=())
    """Free labels (``lineage``, ``license``...)."""


@dataclass(frozen=True)
class Finding:
    """One check's result for one model, with its evidence."""

    check_id: str
    outcome: Outcome
    evidence: str | None
    grade: float | None = None
    """Share of the check's weight earned (1 for true, 0 for false, in between when graded)."""
