"""Claim matching, value normalisation and the verdict rule, one case per outcome."""

from __future__ import annotations

import contextlib

import pytest

from ptmscope.cards.analysis import Claim
from ptmscope.verify.claims import match_claim, normalise_claim, verdict
from ptmscope.verify.metrics import Estimate


def claim(value="0.93", *, task="text-classification", dataset="emotion", split="test", metric="accuracy",
          name=None, config=None, verified=None, dataset_name=None):  # fmt: skip
    number = None
    with contextlib.suppress(ValueError):
        number = float(str(value).rstrip("%"))
    return Claim(None, task, None, dataset, dataset_name, config, split, metric, name, number, str(value), verified)


def match(claims, *, task="text-classification", dataset="emotion", config=None, split="test", metric="accuracy"):
    return match_claim(claims, task=task, dataset=dataset, config=config, split=split, metric=metric)


def test_exact_claim_matches_and_explains_itself():
    found = match([claim()])
    assert found.claimed == pytest.approx(0.93)
    assert found.explanation.startswith("matched the claim accuracy = 0.93 on emotion (split test)")


def test_owner_prefix_and_case_are_ignored_on_dataset_names():
    assert match([claim(dataset="dair-ai/emotion")]).claim is not None
    assert match([claim(dataset="Emotion")], dataset="dair-ai/emotion").claim is not None
    assert match([claim(dataset="glue")], dataset="emotion").claim is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"split": "validation"}, "split 'validation' is not 'test'"),
        ({"task": "token-classification"}, "task 'token-classification' is not text-classification"),
        ({"metric": "precision"}, "metric 'precision' is not accuracy"),
        ({"dataset": "imdb"}, "dataset 'imdb' is not 'emotion'"),
        ({"dataset": None}, "it names no dataset"),
        ({"value": "n/a"}, "is not a number"),
        ({"value": "250"}, "outside 0-100"),
    ],
)
def test_every_reason_a_claim_does_not_match(kwargs, reason):
    found = match([claim(**kwargs)])
    assert found.claim is None
    assert reason in found.explanation
    assert found.explanation.startswith("none of the card's 1 claims is accuracy")


def test_no_claims_at_all():
    assert "no machine-parseable claim" in match([]).explanation


def test_claims_without_split_or_task_match_with_a_note_and_specific_claims_win():
    loose = claim("0.90", split=None, task=None)
    exact = claim("0.91")
    found = match([loose, exact])
    assert found.claim == exact and "1 other claim(s) also matched" in found.explanation
    found = match([loose])
    assert found.claim == loose and found.notes == ("the claim names no task", "the claim names no split")


def test_config_must_agree_when_both_name_one():
    assert match([claim(config="split")], config="split").claim is not None
    assert match([claim(config="unsplit")], config="split").claim is None
    found = match([claim(config="split")])
    assert found.claim is not None and "config 'split'" in found.explanation


@pytest.mark.parametrize(
    ("metric_type", "metric_name", "measured"),
    [
        ("f1", None, "f1_macro"),
        ("f1", None, "f1_weighted"),
        ("f1", "F1 (weighted)", "f1_weighted"),
        ("f1", "macro f1", "f1_macro"),
        ("f1_weighted", None, "f1_weighted"),
        ("f1", "micro f1", "f1_micro"),
        ("acc", None, "accuracy"),
        (None, "Accuracy", "accuracy"),
    ],
)
def test_f1_averaging_is_read_from_type_and_name(metric_type, metric_name, measured):
    found = match([claim(metric=metric_type, name=metric_name)], metric=measured)
    assert found.claim is not None


def test_stated_f1_averages_do_not_cross_and_a_bare_f1_says_so():
    assert match([claim(metric="f1", name="F1 (weighted)")], metric="f1_macro").claim is None
    found = match([claim(metric="f1")], metric="f1_weighted")
    assert "does not say how its F1 is averaged; compared with f1_weighted" in found.explanation


def test_similarity_claims_in_mteb_form_are_normalised_and_other_distances_rejected():
    mteb = claim("82.03", task="STS", dataset="mteb/stsbenchmark-sts", metric="cos_sim_spearman")
    euclid = claim("81.0", task="STS", dataset="mteb/stsbenchmark-sts", metric="euclidean_spearman")
    found = match([euclid, mteb], task="sentence-similarity", dataset="stsbenchmark-sts", metric="spearman")
    assert found.claim == mteb and found.claimed == pytest.approx(0.8203)
    assert "read as a percentage" in found.explanation


@pytest.mark.parametrize(
    ("text", "value"), [("0.93", 0.93), ("93", 0.93), ("93.5%", 0.935), ("1", 1.0), ("0.5%", 0.005)]
)
def test_percentages_are_normalised(text, value):
    assert normalise_claim(claim(text), "accuracy")[0] == pytest.approx(value)


def test_negative_values_only_for_correlations():
    assert normalise_claim(claim("-0.2"), "accuracy")[0] is None
    assert normalise_claim(claim("-0.2"), "spearman")[0] == pytest.approx(-0.2)


ESTIMATE = Estimate(value=0.85, low=0.82, high=0.88, confidence=0.95, resamples=1000, seed=0, n=400)


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (0.85, "consistent"),
        (0.889, "consistent"),  # inside the interval widened by the 0.01 tolerance
        (0.811, "consistent"),
        (0.891, "discrepancy"),  # overclaimed
        (0.80, "discrepancy"),  # underclaimed
        (None, "no_matching_claim"),
    ],
)
def test_verdict_rule(claimed, expected):
    assert verdict(claimed, ESTIMATE, 0.01) == expected


def test_tolerance_zero_is_the_bare_interval():
    assert verdict(0.885, ESTIMATE, 0.0) == "discrepancy"
    assert verdict(0.88, ESTIMATE, 0.0) == "consistent"
