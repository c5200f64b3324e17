"""Scores: findings in, a 0-10 score per attribute out, every point traceable to a finding."""

from __future__ import annotations

from ptmscope.scores.policy import Weights, load_weights

__all__ = ["Weights", "load_weights"]
