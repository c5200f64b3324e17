"""The card analysis against 146 hand-labelled real cards: the figures the README quotes may not fall.

benchmarks/card_accuracy.py computes them (tests/fixtures/cards_labelled/README.md says how the
cards were chosen and labelled). Each floor is the measured figure rounded down to two
places, so an improvement passes and a regression of one card in a small field fails.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "card_accuracy.py"

# field: (precision, recall) floors over all 146 cards, as measured
FLOORS = {
    "license": (0.95, 0.93),
    "datasets": (0.92, 0.82),
    "base_models": (0.98, 0.88),
    "paper": (0.82, 0.84),
    "code": (0.93, 0.85),
    "hyperparameters": (0.97, 0.85),
    "hardware": (1.0, 0.96),
    "environment": (1.0, 0.91),
    "limitations": (0.90, 0.88),
    "results": (0.80, 0.92),
}


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("ptmscope_card_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        if str(BENCH.parent) in sys.path:  # (benchmarks/_paths takes its folder off the path itself)
            sys.path.remove(str(BENCH.parent))
    return module.run(audit=True)


def test_every_card_is_labelled_and_analysed(report):
    assert report["cards"] == 146
    assert report["all"]["results"]["labelled"] == 445


@pytest.mark.parametrize("field", list(FLOORS))
def test_precision_and_recall_do_not_fall(report, field):
    got = report["all"][field]
    precision, recall = FLOORS[field]
    assert got["precision"] >= precision - 1e-9, (field, got)
    assert got["recall"] >= recall - 1e-9, (field, got)


def test_audit_verdicts_agree_with_the_labels(report):
    assert report["audit"]["agreement"] >= 0.95, report["audit"]["disagreements"][:20]
