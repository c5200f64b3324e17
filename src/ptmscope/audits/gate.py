"""The ``--fail-under`` gate of an audit: which scores are too low for a build to pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ptmscope.checks.model import ATTRIBUTES

Gates = dict[str | None, float]
"""Attribute -> the lowest passing score (0-10); the key None gates every conclusive attribute."""


def parse_gates(values: Iterable[str]) -> Gates:
    """Gates from ``SCORE`` (every conclusive attribute) or ``ATTRIBUTE=SCORE`` values.

    Raises:
        ValueError: an unknown attribute, a value that is not a number, or a score outside 0-10.
    """
    gates: Gates = {}
    for value in values:
        attribute, sep, number = value.rpartition("=")
        key = attribute.strip() if sep else None
        if key is not None and key not in ATTRIBUTES:
            raise ValueError(f"{key!r} is not an attribute ({', '.join(ATTRIBUTES)})")
        try:
            limit = float(number)
        except ValueError:
            raise ValueError(f"{value!r}: expected SCORE or ATTRIBUTE=SCORE (0-10)") from None
        if not 0 <= limit <= 10:
            raise ValueError(f"{value!r}: scores are 0 to 10")
        gates[key] = limit
    return gates


def gate_failures(scores: Mapping[str, Mapping[str, object]], gates: Gates) -> list[str]:
    """Why the audit is under the gates (empty: it passes).

    A bare SCORE gates every *conclusive* attribute (an inconclusive one has no evidence either
    way; if none is conclusive the gate fails). A named attribute must be conclusive and at least
    its SCORE: an inconclusive security score cannot show it is good enough.
    """
    failures: list[str] = []
    for attribute, limit in gates.items():
        if attribute is None:
            conclusive = {a: float(v["score"]) for a, v in scores.items() if isinstance(v.get("score"), int | float)}  # type: ignore[arg-type]
            if not conclusive:
                failures.append(f"no attribute could be scored (all inconclusive), so none reaches {limit:g}")
            failures += [f"{a} {score:.2f} < {limit:g}" for a, score in conclusive.items() if score < limit]
            continue
        score = scores.get(attribute, {}).get("score")
        if not isinstance(score, int | float):
            failures.append(f"{attribute} is inconclusive (no check could be decided), so it does not show {limit:g}")
        elif score < limit:
            failures.append(f"{attribute} {score:.2f} < {limit:g}")
    return failures
