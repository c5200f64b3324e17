"""Dataset labels onto config.json id2label: names, ClassLabel ids, plain ids, and every mismatch."""

from __future__ import annotations

import pytest

from ptmscope.errors import LabelMappingError
from ptmscope.verify.labels import map_labels, map_tag_sequences

EMOTIONS = {0: "sadness", 1: "joy", 2: "anger"}
GENERIC = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}


def test_string_labels_by_name_then_ignoring_case():
    ids, _ = map_labels(["joy", "Anger", "sadness"], EMOTIONS, None)
    assert ids == [1, 2, 0]


def test_classlabel_ids_map_by_name_even_in_another_order():
    # the dataset orders its classes differently from the model
    ids, _ = map_labels([0, 1, 2], EMOTIONS, ["anger", "sadness", "joy"])
    assert ids == [2, 0, 1]


def test_plain_ids_and_generic_models():
    assert map_labels([2, 0, 1.0], EMOTIONS, None)[0] == [2, 0, 1]
    ids, mapper = map_labels([0, 2], GENERIC, ["neg", "neu", "pos"])
    assert ids == [0, 2] and mapper.notes and mapper.name(2) == "pos"


@pytest.mark.parametrize(
    ("values", "id2label", "names", "message"),
    [
        (["joy", "fear", "love"], EMOTIONS, None, "dataset labels 'fear', 'love' are not among the model's labels"),
        ([0, 5], EMOTIONS, None, "dataset labels 5 are not among"),
        ([0, 1], EMOTIONS, ["sadness", "surprise"], "the dataset's classes 'surprise' are not among the model's"),
        (["positive"], GENERIC, None, "give labels as ints"),
        ([None], EMOTIONS, None, "row 0 has no label"),
        ([[1]], EMOTIONS, None, "a label of type list"),
        ([4], EMOTIONS, ["sadness", "joy", "anger"], "class id 4 is outside the dataset's 3 classes"),
        ([0], {}, None, "no labels"),
    ],
)
def test_mismatches_are_clear_errors(values, id2label, names, message):
    with pytest.raises(LabelMappingError, match=message):
        map_labels(values, id2label, names)


def test_tag_sequences_must_line_up_and_be_named():
    tags = {0: "O", 1: "B-PER", 2: "I-PER"}
    ids, mapper = map_tag_sequences([["B-PER", "I-PER", "O"]], [["a", "b", "c"]], tags, None)
    assert ids == [[1, 2, 0]] and mapper.name(1) == "B-PER"
    with pytest.raises(LabelMappingError, match="3 tokens but 2 tags"):
        map_tag_sequences([["O", "O"]], [["a", "b", "c"]], tags, None)
    with pytest.raises(LabelMappingError, match="entity F1 needs tag names"):
        map_tag_sequences([[0, 1]], [["a", "b"]], {0: "LABEL_0", 1: "LABEL_1"}, None)
