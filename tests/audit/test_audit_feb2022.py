"""audit --all over the whole bundled Feb-2022 snapshot, then single audits against it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from tests.conftest import copy_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(feb2022_pristine, tmp_path_factory):
    return copy_of(feb2022_pristine, tmp_path_factory, "feb2022-audit")


def test_audit_all_scores_every_model(db):
    result = CliRunner().invoke(cli, ["audit", "--all", "--db", str(db), "--snapshot", "hub-2022-02", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["models"] == 29_432
    assert set(run["scores"]) == {"provenance", "reproducibility", "portability", "documentation", "popularity",
                                  "maintenance", "security"}  # fmt: skip
    # 2022 listings carry no organizations, signatures or Hub scan status: those checks are not available,
    # and never counted as failures.
    assert run["scores"]["security"]["inconclusive"] == 0  # other security checks still conclude
    study = json.loads(CliRunner().invoke(cli, ["study", "--db", str(db), "--json"]).stdout)
    assert study["measurements"]["scores"]["run_id"] == run["run_id"]


def test_single_audit_of_a_real_model_in_the_snapshot(db):
    result = CliRunner().invoke(
        cli, ["audit", "SpanBERT/spanbert-large-cased", "--db", str(db), "--snapshot", "hub-2022-02", "--json"]
    )
    doc = json.loads(result.stdout)
    outcomes = {f["check"]: f["outcome"] for f in doc["findings"]}
    assert outcomes["has_model_card"] == "false"  # the paper's example: a top-10 model without a card
    assert outcomes["is_downloaded_within_task"] == "true"
    assert outcomes["avoids_pickle_only_weights"] == "true"  # it ships Flax weights beside the pickle
    assert doc["context"]["snapshot"] == "hub-2022-02"
