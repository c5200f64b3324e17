"""select on the bundled Feb-2022 snapshot, against requirement files whose answers were worked out by hand.

The expected sets come from reading the snapshot's records for the 11 object-detection and
8 image-segmentation models: licence tags and card licences, file lists, dataset tags,
downloads (see the comments).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.errors import InputError
from ptmscope.selection import requirements as reqs
from ptmscope.selection.engine import select
from tests.conftest import FIXTURES, copy_of

pytestmark = pytest.mark.slow  # imports the bundled snapshot once per module

DETR = {"facebook/detr-resnet-50", "facebook/detr-resnet-101", "facebook/detr-resnet-50-dc5",
        "facebook/detr-resnet-101-dc5"}  # fmt: skip
NO_LICENCE = {"Riser/YOLOP", "mishig/tiny-detr-mobilenetsv3", "nateraw/hot-dog", "nielsr/detr-resnet-50",
              "nielsr/detr-resnet-50-new"}  # fmt: skip


@pytest.fixture(scope="module")
def store(feb2022_pristine, tmp_path_factory):
    from ptmscope.store import Store

    with Store(copy_of(feb2022_pristine, tmp_path_factory, "select")) as s:  # the sample, imported and audited
        yield s


def run(store, name, **extra):
    from ptmscope.selection.engine import latest_run

    snapshot = store.snapshot("hub-2022-02")
    req = reqs.load(FIXTURES / "select" / f"{name}.yaml", extra)
    return select(store, snapshot, req, run_id=latest_run(store, snapshot), explain=True)


def chosen(result):
    return {item["repo_id"] for item in result.shortlist}


def test_licence_exclusions(store):
    # Apache-2.0 DETR models and two MIT models pass; five declare no licence anywhere.
    result = run(store, "detection_permissive")
    assert result.candidates == 11
    assert chosen(result) == DETR | {"SamMorgan/yolo_v4_tflite", "aychang/fasterrcnn-resnet50-cpu"}
    assert result.excluded_by_rule == {"license": 5}
    assert {e["repo_id"] for e in result.excluded} == NO_LICENCE
    assert all(e["reason"] == "no licence declared" for e in result.excluded)


def test_format_exclusions(store):
    # SamMorgan ships TensorFlow and TFLite weights, no PyTorch ones; aychang ships 1/model.pt.
    result = run(store, "detection_pytorch")
    assert chosen(result) == DETR | {"aychang/fasterrcnn-resnet50-cpu"}
    assert result.excluded_by_rule == {"license": 5, "format:pytorch": 1}
    assert [e["reason"] for e in result.excluded if e["rule"] == "format:pytorch"] == ["no pytorch weights"]


def test_unsafe_exclusions_can_empty_the_shortlist(store):
    # Every PyTorch model of 2022 here is pickle-only.
    result = run(store, "detection_safe")
    assert result.shortlist == []
    assert result.excluded_by_rule == {"license": 5, "format:pytorch": 1, "unsafe": 5}


def test_dataset_and_licence_list(store):
    assert chosen(run(store, "detection_imagenette")) == {"SamMorgan/yolo_v4_tflite"}
    mit = run(store, "detection_permissive", license=["mit"])
    assert chosen(mit) == {"SamMorgan/yolo_v4_tflite", "aychang/fasterrcnn-resnet50-cpu"}


def test_tensorflow_segmentation(store):
    # tf_model.h5 (keras-io/semantic-segmentation, Narsil) or a SavedModel (keras-io/deeplabv3p-resnet50).
    result = run(store, "segmentation_tensorflow")
    assert chosen(result) == {"keras-io/semantic-segmentation", "Narsil/pet-segmentation",
                              "keras-io/deeplabv3p-resnet50"}  # fmt: skip
    assert result.excluded_by_rule == {"license": 2, "format:tensorflow": 3}


def test_ranking_by_downloads_alone(store):
    result = run(store, "segmentation_by_downloads")
    assert [i["repo_id"] for i in result.shortlist] == [
        "facebook/detr-resnet-50-panoptic",  # 3,263 downloads
        "facebook/detr-resnet-101-panoptic",  # 703
        "keras-io/semantic-segmentation",  # 144
        "facebook/detr-resnet-50-dc5-panoptic",  # 70
        "Narsil/pet-segmentation",  # 54
        "keras-io/deeplabv3p-resnet50",  # 8
    ]
    ranks = [i["rank_score"] for i in result.shortlist]
    assert ranks == sorted(ranks, reverse=True)


def test_claims_and_scores_rank_text_classification(store):
    result = run(store, "detection_permissive", task="text-classification",
                 claim={"dataset": "glue", "metric": "accuracy", "min": 0.9}, min_scores={"security": 5})  # fmt: skip
    assert result.shortlist
    for item in result.shortlist:
        assert item["claim_value"] >= 0.9 and item["scores"]["security"] >= 5
    assert "claim" in result.excluded_by_rule


def test_cli_json_and_explain(store):
    requirements = str(FIXTURES / "select" / "detection_pytorch.yaml")
    args = ["select", "--db", store.location, "--snapshot", "hub-2022-02", "-r", requirements, "--format", "tflite",
            "--json", "--explain"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "ptmscope.select/1" and doc["requirements"]["formats"] == ["tflite"]
    assert {i["repo_id"] for i in doc["shortlist"]} == {"SamMorgan/yolo_v4_tflite"}
    assert {e["rule"] for e in doc["excluded"]} >= {"license"}
    text = CliRunner().invoke(cli, args[:-2])
    assert text.exit_code == 0 and "Excluded by the first rule" in text.output


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"license": 3}, "license must be"),
        ({"formats": ["exe"]}, "unknown format"),
        ({"min_scores": {"speed": 3}}, "unknown attribute"),
        ({"min_scores": {"security": 11}}, "between 0 and 10"),
        ({"rank_weights": {"vibes": 1}}, "unknown component"),
        ({"claim": "glue"}, "dataset and a metric"),
        ({"tsak": "x"}, "unknown key"),
        ({"top": 0}, "positive integer"),
    ],
)
def test_bad_requirements_are_clear_errors(data, message):
    with pytest.raises(InputError, match=message):
        reqs.parse(data)
