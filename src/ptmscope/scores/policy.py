"""The scoring policy: weights as data, and the arithmetic that turns findings into scores.

The policy lives apart from the checks (as scorecard keeps ``checks/evaluation`` apart
from its probes): checks say what is true of a model, the policy says how much each
truth is worth. Default weights are in data/weights.yaml; ``--weights FILE`` overrides
them. ``explain`` lists every point gained or lost with the finding behind it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ptmscope.checks.model import ATTRIBUTES, Check, Finding
from ptmscope.errors import InputError


@dataclass(frozen=True)
class Weights:
    """Check weights, by check id."""

    weights: dict[str, float]
    default: float = 1.0
    source: str = "default"

    def weight(self, check: Check) -> float:
        """The weight of a check (informational checks weigh nothing)."""
        if check.info:
            return 0.0
        return self.weights.get(check.id, self.default)

    def as_json(self) -> dict[str, Any]:
        """The policy as stored with an audit run."""
        return {"source": self.source, "default": self.default, "weights": dict(sorted(self.weights.items()))}

    @property
    def digest(self) -> str:
        """A short hash of the policy, to tell runs with different weights apart."""
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()[:12]


def _parse(data: Any, source: str) -> tuple[dict[str, float], float | None]:
    if not isinstance(data, dict) or not isinstance(data.get("checks", {}), dict):
        raise InputError(f"{source}: a weights file is a mapping with a 'checks' mapping of check id to weight")
    weights: dict[str, float] = {}
    for key, value in (data.get("checks") or {}).items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise InputError(f"{source}: the weight of {key!r} must be a number >= 0")
        weights[str(key)] = float(value)
    default = data.get("default")
    if default is not None and (not isinstance(default, int | float) or isinstance(default, bool) or default < 0):
        raise InputError(f"{source}: 'default' must be a number >= 0")
    return weights, None if default is None else float(default)


def load_weights(path: Path | None = None, *, known: set[str] | None = None) -> Weights:
    """The default policy, overridden by the YAML file at ``path`` when given.

    Unknown check ids in an override are an error (a typo would silently change nothing).
    """
    text = (resources.files("ptmscope.data") / "weights.yaml").read_text(encoding="utf-8")
    weights, default = _parse(yaml.safe_load(text), "data/weights.yaml")
    source = "default"
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"cannot read weights file {path}: {error}") from error
        extra, extra_default = _parse(data, str(path))
        if known is not None:
            unknown = sorted(set(extra) - known)
            if unknown:
                raise InputError(f"{path}: unknown check id(s): {', '.join(unknown)}")
        weights.update(extra)
        default = extra_default if extra_default is not None else default
        source = str(path)
    return Weights(weights, default if default is not None else 1.0, source)


@dataclass(frozen=True)
class Points:
    """What one finding did to its attribute's score."""

    check: Check
    finding: Finding
    weight: float
    gained: float
    """Points of the 0-10 score this finding earned."""
    lost: float
    """Points it could have earned and did not."""


@dataclass(frozen=True)
class AttributeScore:
    """One attribute's score, with its arithmetic."""

    attribute: str
    score: float | None
    """0-10, or None when no check was conclusive (inconclusive, never 0)."""
    earned: float
    possible: float
    conclusive: int
    inconclusive: int
    points: list[Points] = field(default_factory=list)


def score(findings: list[tuple[Check, Finding]], weights: Weights) -> dict[str, AttributeScore]:
    """Scores per attribute from one model's findings (the same arithmetic as the SQL in audit --all)."""
    out: dict[str, AttributeScore] = {}
    for attribute in ATTRIBUTES:
        mine = [(c, f) for c, f in findings if c.attribute == attribute and weights.weight(c) > 0]
        conclusive = [(c, f) for c, f in mine if f.outcome.conclusive]
        possible = sum(weights.weight(c) for c, _ in conclusive)
        earned = sum(weights.weight(c) * (f.grade or 0.0) for c, f in conclusive)
        points = []
        for c, f in mine:
            w = weights.weight(c)
            share = 10 * w / possible if possible and f.outcome.conclusive else 0.0
            grade = f.grade or 0.0 if f.outcome.conclusive else 0.0
            points.append(Points(c, f, w, share * grade, share * (1 - grade) if f.outcome.conclusive else 0.0))
        out[attribute] = AttributeScore(
            attribute=attribute,
            score=10 * earned / possible if possible else None,
            earned=earned,
            possible=possible,
            conclusive=len(conclusive),
            inconclusive=len(mine) - len(conclusive),
            points=points,
        )
    return out
