"""Metrics and the bootstrap: hand-worked values, and agreement with scikit-learn/scipy when installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptmscope.verify.metrics import (
    bootstrap,
    classification_statistic,
    entities,
    similarity_statistic,
    token_statistic,
)

GOLD = [0, 0, 0, 1, 1, 2]
PRED = [0, 0, 1, 1, 2, 2]


def test_classification_metrics_by_hand():
    # class 0: tp 2, gold 3, pred 2 -> F1 4/5; class 1: tp 1, gold 2, pred 2 -> 1/2;
    # class 2: tp 1, gold 1, pred 2 -> 2/3
    assert classification_statistic(GOLD, PRED, "accuracy", 3)(None) == pytest.approx(4 / 6)
    assert classification_statistic(GOLD, PRED, "f1_micro", 3)(None) == pytest.approx(4 / 6)
    assert classification_statistic(GOLD, PRED, "f1_macro", 3)(None) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    weighted = (3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6
    assert classification_statistic(GOLD, PRED, "f1_weighted", 3)(None) == pytest.approx(weighted)


def test_classification_metrics_agree_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 5, 300)
    pred = np.where(rng.random(300) < 0.7, gold, rng.integers(0, 6, 300))  # class 5 is only ever predicted
    for ours, average in (("f1_macro", "macro"), ("f1_weighted", "weighted"), ("f1_micro", "micro")):
        expected = metrics.f1_score(gold, pred, average=average)
        assert classification_statistic(gold, pred, ours, 5)(None) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], {("PER", 0, 1), ("LOC", 3, 3)}),
        (["I-PER", "I-PER", "O"], {("PER", 0, 1)}),  # IOB1: an I- after O starts a chunk
        (["B-PER", "I-LOC"], {("PER", 0, 0), ("LOC", 1, 1)}),  # a change of type ends the chunk
        (["B-PER", "B-PER"], {("PER", 0, 0), ("PER", 1, 1)}),
        (["S-LOC", "B-PER", "E-PER", "I-PER"], {("LOC", 0, 0), ("PER", 1, 2), ("PER", 3, 3)}),  # IOBES
        (["O", "O"], set()),
    ],
)
def test_entities_follow_seqeval_default_rules(tags, expected):
    assert entities(tags) == expected


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"]]
    # 3 gold entities, 2 predicted, 2 right: precision 1, recall 2/3, F1 0.8; 5 of 6 tokens right
    assert token_statistic(gold, pred, "f1")(None) == pytest.approx(0.8)
    assert token_statistic(gold, pred, "precision")(None) == pytest.approx(1.0)
    assert token_statistic(gold, pred, "recall")(None) == pytest.approx(2 / 3)
    assert token_statistic(gold, pred, "accuracy")(None) == pytest.approx(5 / 6)


def test_entity_f1_agrees_with_seqeval():
    seqeval = pytest.importorskip("seqeval.metrics")
    gold = [["B-PER", "I-PER", "O", "I-LOC"], ["B-LOC", "O", "B-PER", "I-PER"]]
    pred = [["B-PER", "O", "O", "I-LOC"], ["B-LOC", "I-LOC", "B-PER", "I-PER"]]
    assert token_statistic(gold, pred, "f1")(None) == pytest.approx(seqeval.f1_score(gold, pred))


def test_spearman_with_ties_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    predicted = [0.1, 0.4, 0.4, 0.9, 0.3, 0.7, 0.7, 0.2]
    gold = [1.0, 2.0, 3.0, 5.0, 2.0, 4.0, 4.0, 0.0]
    assert similarity_statistic(predicted, gold, "spearman")(None) == pytest.approx(stats.spearmanr(predicted, gold)[0])
    assert similarity_statistic(predicted, gold, "pearson")(None) == pytest.approx(stats.pearsonr(predicted, gold)[0])


def test_spearman_by_hand_without_ties():
    # ranks x = 1 2 3 4, y = 1 3 2 4: d^2 sum 2, rho = 1 - 6*2/(4*15) = 0.8
    assert similarity_statistic([1, 2, 3, 4], [10, 30, 20, 40], "spearman")(None) == pytest.approx(0.8)


def test_bootstrap_is_seeded_and_brackets_the_value():
    statistic = classification_statistic([1] * 80 + [0] * 20, [1] * 100, "accuracy", 2)
    first = bootstrap(statistic, 100, resamples=500, seed=7)
    assert first == bootstrap(statistic, 100, resamples=500, seed=7)
    rng = np.random.default_rng(0)
    continuous = similarity_statistic(rng.random(50), rng.random(50), "pearson")
    assert bootstrap(continuous, 50, seed=1) != bootstrap(continuous, 50, seed=2)
    assert first.value == pytest.approx(0.8)
    assert first.low < first.value < first.high
    # the binomial standard error is 0.04: a 95% interval about +-0.08
    assert 0.12 < first.high - first.low < 0.20
    narrow = bootstrap(statistic, 100, resamples=500, confidence=0.5, seed=7)
    assert narrow.high - narrow.low < first.high - first.low


def test_bootstrap_of_an_undefined_metric_has_no_interval():
    estimate = bootstrap(similarity_statistic([1, 1, 1], [1, 2, 3], "spearman"), 3, resamples=20)
    assert math.isnan(estimate.value) and math.isnan(estimate.low)
    with pytest.raises(ValueError, match="no examples"):
        bootstrap(lambda idx: 0.0, 0)
