"""Metrics of ``ptmscope verify`` and their bootstrap confidence intervals (numpy only, no torch).

Every metric is computed from per-example statistics, so one bootstrap loop serves them
all: a resample draws example indices with replacement (seeded), and the metric is
recomputed from the statistics of the drawn examples. The interval is the percentile
interval of the resampled values.

Definitions (values on a 0-1 scale; correlations on -1..1):

- ``accuracy``: share of examples whose predicted label equals the gold label.
- ``f1_macro``: the unweighted mean of per-class F1 over the classes that occur in the
  gold or the predicted labels (scikit-learn's ``average="macro"``).
- ``f1_weighted``: per-class F1 weighted by the gold support of each class
  (scikit-learn's ``average="weighted"``).
- ``f1_micro``: micro-averaged F1; for single-label classification it equals accuracy.
- token classification, ``f1`` / ``precision`` / ``recall``: entity-level scores over
  IOB/IOB2 chunks, micro-averaged over entities (seqeval's default, CoNLL-style, mode);
  ``accuracy`` there is token-level accuracy. Resampling is by sentence.
- ``spearman`` / ``pearson``: rank / linear correlation of the cosine similarity of the
  two sentence embeddings with the gold score (ties get their average rank).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "f1_weighted", "f1_micro")
TOKEN_METRICS = ("f1", "precision", "recall", "accuracy")
SIMILARITY_METRICS = ("spearman", "pearson")


@dataclass(frozen=True)
class Estimate:
    """A measured metric with its bootstrap confidence interval."""

    value: float
    """The metric on the evaluated examples."""
    low: float
    """Lower end of the percentile interval."""
    high: float
    """Upper end of the percentile interval."""
    confidence: float
    """Coverage of the interval (0.95 = 95%)."""
    resamples: int
    """Bootstrap resamples drawn."""
    seed: int
    """Seed of the resampling (the same seed gives the same interval)."""
    n: int
    """Examples (sentences, pairs) evaluated."""


def bootstrap(
    statistic: Callable[[NDArray[np.intp] | None], float],
    n: int,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """The value of ``statistic`` on all ``n`` examples, with a seeded percentile bootstrap interval.

    ``statistic(None)`` is the metric on every example; ``statistic(indices)`` on a
    resample. Resamples whose metric is undefined (NaN) are left out of the interval.
    """
    if n <= 0:
        raise ValueError("no examples to measure")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    value = statistic(None)
    rng = np.random.default_rng(seed)
    values = np.empty(resamples, dtype=np.float64)
    for i in range(resamples):
        values[i] = statistic(rng.integers(0, n, size=n))
    values = values[~np.isnan(values)]
    if values.size == 0 or math.isnan(value):
        return Estimate(value, math.nan, math.nan, confidence, resamples, seed, n)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Estimate(float(value), float(low), float(high), confidence, resamples, seed, n)


def _summed(stats: NDArray[np.float64]) -> Callable[[NDArray[np.intp] | None], NDArray[np.float64]]:
    """Column sums of per-example statistics, over all examples or over a resample."""
    n = stats.shape[0]

    def sums(indices: NDArray[np.intp] | None) -> NDArray[np.float64]:
        if indices is None:
            return stats.sum(axis=0)
        counts = np.bincount(indices, minlength=n).astype(np.float64)
        result: NDArray[np.float64] = counts @ stats
        return result

    return sums


def _f1_from_counts(tp: NDArray[np.float64], gold: NDArray[np.float64], pred: NDArray[np.float64],
                    average: str) -> float:  # fmt: skip
    present = (gold + pred) > 0
    if not present.any():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2 * tp / np.where(present, gold + pred, 1), 0.0)
    if average == "macro":
        return float(f1[present].mean())
    if average == "weighted":
        total = gold.sum()
        return float((f1 * gold).sum() / total) if total else math.nan
    raise ValueError(f"unknown average {average!r}")


def classification_statistic(
    gold: Sequence[int], pred: Sequence[int], metric: str, num_labels: int
) -> Callable[[NDArray[np.intp] | None], float]:
    """A statistic for ``bootstrap``: a single-label classification metric of gold vs predicted ids."""
    g = np.asarray(gold, dtype=np.intp)
    p = np.asarray(pred, dtype=np.intp)
    k = max(num_labels, int(g.max(initial=0)) + 1, int(p.max(initial=0)) + 1)
    correct = (g == p).astype(np.float64)
    if metric in ("accuracy", "f1_micro"):
        sums = _summed(correct[:, None])
        n = len(g)

        def accuracy(indices: NDArray[np.intp] | None) -> float:
            return float(sums(indices)[0] / n)

        return accuracy
    if metric not in ("f1_macro", "f1_weighted"):
        raise ValueError(f"unknown classification metric {metric!r}")
    # Per example: one-hot of (true positive class, gold class, predicted class).
    stats = np.zeros((len(g), 3 * k), dtype=np.float64)
    rows = np.arange(len(g))
    stats[rows[correct > 0], g[correct > 0]] = 1.0
    stats[rows, k + g] = 1.0
    stats[rows, 2 * k + p] = 1.0
    sums = _summed(stats)
    average = metric.removeprefix("f1_")

    def f1(indices: NDArray[np.intp] | None) -> float:
        s = sums(indices)
        return _f1_from_counts(s[:k], s[k : 2 * k], s[2 * k :], average)

    return f1


# -- token classification -----------------------------------------------------------------


def entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) chunks of an IOB/IOB2/IOBES tag sequence, seqeval's default (CoNLL) rules.

    A chunk starts at B- (or S-), or at an I-/E- whose type differs from the previous tag's
    or that follows O; it ends before O, B-, S- or a change of type. Tags without a
    prefix (``PER``) are read as I- tags.
    """
    chunks: set[tuple[str, int, int]] = set()
    start, kind = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, rest = tag.partition("-") if "-" in tag else ("I", "-", tag)
        if tag == "O" or tag == "" or prefix not in ("B", "I", "E", "S"):
            prefix, rest = "O", ""
        begins = prefix in ("B", "S") or (prefix in ("I", "E") and (kind != rest or start < 0))
        if start >= 0 and (prefix == "O" or begins):
            chunks.add((kind, start, i - 1))
            start, kind = -1, ""
        if prefix != "O" and begins:
            start, kind = i, rest
        if prefix in ("E", "S") and start >= 0:
            chunks.add((kind, start, i))
            start, kind = -1, ""
    return chunks


def token_statistic(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], metric: str
) -> Callable[[NDArray[np.intp] | None], float]:
    """A statistic for ``bootstrap``: entity-level F1/precision/recall, or token accuracy, over sentences."""
    if metric not in TOKEN_METRICS:
        raise ValueError(f"unknown token-classification metric {metric!r}")
    stats = np.zeros((len(gold), 5), dtype=np.float64)
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        ge, pe = entities(g), entities(p)
        stats[i] = (len(ge & pe), len(ge), len(pe), sum(a == b for a, b in zip(g, p, strict=True)), len(g))
    sums = _summed(stats)

    def score(indices: NDArray[np.intp] | None) -> float:
        tp, n_gold, n_pred, right, tokens = sums(indices)
        if metric == "accuracy":
            return right / tokens if tokens else math.nan
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        if metric == "precision":
            return precision if n_pred or n_gold else math.nan
        if metric == "recall":
            return recall if n_pred or n_gold else math.nan
        if not n_pred and not n_gold:
            return math.nan
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    return score


# -- similarity -------------------------------------------------------------------------------


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks starting at 1, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    boundaries = np.concatenate(([True], ordered[1:] != ordered[:-1], [True]))
    starts = np.flatnonzero(boundaries)
    average = (starts[:-1] + starts[1:] + 1) / 2.0  # mean of 1-based ranks start+1 .. end
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(average, np.diff(starts))
    return ranks


def _pearson(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else math.nan


def similarity_statistic(
    predicted: Sequence[float], gold: Sequence[float], metric: str
) -> Callable[[NDArray[np.intp] | None], float]:
    """A statistic for ``bootstrap``: Spearman or Pearson correlation of predicted with gold scores."""
    if metric not in SIMILARITY_METRICS:
        raise ValueError(f"unknown similarity metric {metric!r}")
    x = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(gold, dtype=np.float64)

    def correlation(indices: NDArray[np.intp] | None) -> float:
        a, b = (x, y) if indices is None else (x[indices], y[indices])
        if metric == "spearman":
            return _pearson(_ranks(a), _ranks(b))
        return _pearson(a, b)

    return correlation
