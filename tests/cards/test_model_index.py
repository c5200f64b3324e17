"""The two readings of a model-index: strict statuses per metric, and the paper's all-or-nothing method."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptmscope.cards.model_index import claim_status, paper_read, read_model_index


def _index(*metrics, dataset=None, task=None, entries_after=()):
    result = {"task": task if task is not None else {"type": "text-classification"}, "metrics": list(metrics)}
    if dataset is not False:
        result["dataset"] = dataset if dataset is not None else {"type": "glue", "name": "GLUE"}
    return {"model-index": [{"name": "m", "results": [result]}, *entries_after]}


def _metric(value, name="Accuracy", type_="accuracy"):
    metric = {"value": value}
    if name is not None:
        metric["name"] = name
    if type_ is not None:
        metric["type"] = type_
    return metric


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.93, "valid"),
        ("93.5%", "valid"),
        ("0.9", "valid"),
        ("xx.xx", "placeholder"),
        ("WIP", "placeholder"),
        ("NA", "placeholder"),
        ("N/A", "placeholder"),
        ("???", "placeholder"),
        ("NA%", "placeholder"),
        ("TBD", "placeholder"),
        ("[More Information Needed]", "placeholder"),
        ("95.1 ± 0.2", "not_numeric"),
        ("NaN", "not_numeric"),
        (True, "not_numeric"),
        (float("inf"), "not_numeric"),
        ([1, 2], "not_numeric"),
        ("to recompute with STEP 24000", "not_numeric"),
    ],
)
def test_strict_status_of_a_value(value, status):
    claims, read = read_model_index(_index(_metric(value)))
    assert [c.status for c in claims] == [status]
    assert read is not None and read.metrics == 1


def test_strict_needs_a_dataset_and_a_metric_identity_and_counts_each_value_alone():
    claims, _ = read_model_index(
        _index(_metric(0.9), _metric("WIP"), _metric(0.8, name=None, type_=None), dataset={"config": "x"})
    )
    assert [c.status for c in claims] == ["no_dataset", "placeholder", "no_dataset"]
    claims, _ = read_model_index(_index(_metric(0.9), _metric(0.8, name=None, type_=None)))
    assert [c.status for c in claims] == ["valid", "no_metric"]
    # A name alone or a type alone names the metric.
    claims, _ = read_model_index(_index(_metric(0.9, name=None), _metric(0.9, type_=None)))
    assert [c.status for c in claims] == ["valid", "valid"]


def test_the_legacy_key_is_read_but_never_a_valid_claim():
    metadata = _index(_metric(0.9))
    metadata["model_index"] = metadata.pop("model-index")
    claims, read = read_model_index(metadata)
    assert read is not None and read.key == "model_index" and read.paper_error == "legacy_key"
    assert [c.status for c in claims] == ["legacy_key"]


def test_a_metric_without_a_value_is_counted_not_stored():
    claims, read = read_model_index(_index(_metric(None), _metric(0.5)))
    assert len(claims) == 1 and read is not None and read.metrics_without_value == 1


@pytest.mark.parametrize(
    ("metadata", "count", "step"),
    [
        (_index(_metric(0.9), _metric(0.8)), 2, None),
        (_index(_metric(0.9), _metric("xx.xx")), 0, "value"),  # one bad value drops every claim
        (_index(_metric(0.9), _metric("95.1%")), 0, "value"),  # float() does not read percent signs
        (_index(_metric(0.9, name=None)), 0, "metric_name"),
        (_index(_metric(0.9, type_=None)), 0, "metric_type"),
        (_index(_metric(0.9), dataset=False), 0, "dataset"),
        (_index(_metric(0.9), dataset="glue"), 0, "dataset"),
        (_index(_metric("NaN")), 1, None),  # float('NaN') is a number to the paper's code
        (_index(_metric(True)), 1, None),
        (_index(_metric(0.9), dataset={}), 1, None),  # an empty dataset mapping passes the assert
        ({"model-index": {"name": "m", "results": []}}, 0, "first_entry"),
        ({"model-index": []}, 0, "first_entry"),
        ({"model-index": [{"name": "m"}]}, 0, "results"),
        ({"model-index": [{"results": [{"dataset": {}, "metrics": []}]}]}, 0, "task"),
        ({"model-index": [{"results": ["text"]}]}, 0, "result"),
        ({"model-index": [{"results": [{"task": {}, "dataset": {}}]}]}, 0, "metrics"),
        ({"license": "mit"}, 0, None),
    ],
)
def test_paper_read_fails_where_the_artifact_fails(metadata, count, step):
    got, failed, _ = paper_read(metadata)
    assert (got, failed) == (count, step)


def test_a_null_task_raises_at_the_task_type_check():
    metadata = _index(_metric(0.9))
    metadata["model-index"][0]["results"][0]["task"] = None
    assert paper_read(metadata)[:2] == (0, "task_type")


def test_only_the_first_entry_is_the_papers_and_flags_follow_it():
    later = {"name": "second", "results": [{"task": {"type": "t"}, "dataset": {"type": "d"},
                                            "metrics": [{"type": "f1", "name": "F1", "value": 0.5}]}]}  # fmt: skip
    claims, read = read_model_index(_index(_metric(0.9), entries_after=[later]))
    assert read is not None and read.paper_claims == 1 and read.entries == 2
    assert [(c.entry, c.paper) for c in claims] == [(0, True), (1, False)]
    claims, read = read_model_index(_index(_metric("WIP"), entries_after=[later]))
    assert read is not None and read.paper_claims == 0
    assert not any(c.paper for c in claims) and [c.status for c in claims] == ["placeholder", "valid"]


def test_claim_status_order_value_problems_first():
    assert claim_status((None, None), (None, None), None, "WIP") == "placeholder"
    assert claim_status((None, None), ("f1", None), 0.5, "0.5") == "no_dataset"


# -- the paper's method, transcribed, against paper_read on generated model-indexes ------------------


def _artifact_get_claims(carddata) -> int:
    """The artifact's PTM.get_claims (plotData/ptm.py), transcribed: the number of Metric objects."""
    try:
        results = carddata["model-index"][0]["results"]
        metrics = []
        for r in results:
            task = r["task"]
            dataset = r["dataset"]
            assert type(dataset) is dict
            for m in r["metrics"]:
                _ = (m["name"], m["type"], float(m["value"]), "verified" in m, "type" in task)
                metrics.append(m)
        return len(metrics)
    except Exception:
        return 0


_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["0.9", "93%", "xx.xx", "NaN", "WIP", "glue", "accuracy", " 1e-3 ", "1_000"]),
)
_metric_st = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={"name": _scalar, "type": _scalar, "value": _scalar, "verified": st.booleans()},
    ),
    _scalar,
)
_result_st = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "task": st.one_of(_scalar, st.fixed_dictionaries({}, optional={"type": _scalar})),
            "dataset": st.one_of(_scalar, st.fixed_dictionaries({}, optional={"type": _scalar, "name": _scalar})),
            "metrics": st.one_of(st.lists(_metric_st, max_size=3), _metric_st),
        },
    ),
    _scalar,
)
_entry_st = st.one_of(
    st.fixed_dictionaries({}, optional={"name": _scalar, "results": st.one_of(st.lists(_result_st, max_size=3),
                                                                              _result_st)}),
    _scalar,
)  # fmt: skip
_card_st = st.fixed_dictionaries(
    {}, optional={"model-index": st.one_of(st.lists(_entry_st, max_size=3), _entry_st), "model_index": _scalar}
)


@settings(max_examples=400, deadline=None)
@given(_card_st)
def test_paper_read_counts_what_the_artifact_counts(card):
    count, step, _ = paper_read(card)
    assert count == _artifact_get_claims(card)
    if count:
        assert step is None
    claims, read = read_model_index(card)
    if read is not None and read.key == "model-index":
        assert read.paper_claims == count
        assert sum(c.paper for c in claims) == min(count, len(claims))
        assert all(c.value is None or math.isfinite(c.value) for c in claims)
