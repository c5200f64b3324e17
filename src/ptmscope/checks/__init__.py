"""The check registry. Importing this package registers every check, grouped by attribute.

Each module below holds the checks of one Table I attribute; src/ptmscope/data/checks.yaml holds
their motivation and remediation (tests keep the two in step both ways).
"""

from __future__ import annotations

from ptmscope.checks import documentation, popularity, portability, provenance, reproducibility, security
from ptmscope.checks.model import ATTRIBUTES, Check, Finding, Outcome
from ptmscope.checks.registry import CHECKS, Rule, check

__all__ = [
    "ATTRIBUTES",
    "CHECKS",
    "Check",
    "Finding",
    "Outcome",
    "Rule",
    "check",
    "documentation",
    "popularity",
    "portability",
    "provenance",
    "reproducibility",
    "security",
]
