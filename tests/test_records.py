"""Converting Hub API records of every vintage into ModelRecord."""

from __future__ import annotations

import pytest

from ptmscope.records import (
    BadRecord,
    FileEntry,
    ModelRecord,
    as_bool,
    as_int,
    clean_id,
    file_entry,
    model_record_from_api,
)


def test_2022_listing_shape():
    rec = model_record_from_api(
        {
            "modelId": "007J/smile",
            "sha": "f7b02944db5d99ed5c55a7a4e9225d8bdfd147b2",
            "lastModified": "2022-01-20T12:13:34.000Z",
            "tags": ["pytorch", "license:mit", "dataset:glue"],
            "pipeline_tag": None,
            "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}],
            "config": {"architectures": ["BertModel"], "model_type": "bert"},
            "private": False,
            "downloads": 12,
            "likes": 0,
        }
    )
    assert isinstance(rec, ModelRecord)
    assert rec.repo_id == "007J/smile"
    assert rec.namespace == "007J"
    assert rec.last_modified == "2022-01-20T12:13:34.000Z"
    assert rec.model_type == "bert" and rec.architectures == ["BertModel"]
    assert rec.files == [FileEntry(".gitattributes"), FileEntry("README.md")]
    assert rec.pipeline_tag is None
    assert rec.author is None  # absent, never guessed from the id
    assert rec.field_issues == []


def test_modern_snake_case_shape_with_yaml_card_data_and_repr_siblings():
    rec = model_record_from_api(
        {
            "id": "0xOracle/Image-GAN",
            "author": "0xOracle",
            "last_modified": "2023-12-01 15:17:38+00:00",
            "created_at": "2023-12-01 15:17:36+00:00",
            "gated": "manual",
            "card_data": "base_model: stabilityai/stable-diffusion-2-1\nlicense: openrail\n",
            "siblings": [
                "RepoSibling(rfilename='.gitattributes', size=None, blob_id=None, lfs=None)",
                "RepoSibling(rfilename='it\\'s.safetensors', size=42, blob_id='abc', lfs=None)",
            ],
            "safetensors": {"parameters": {"F16": 10}, "total": 10},
            "security_repo_status": {"scansDone": True, "filesWithIssues": []},
        }
    )
    assert isinstance(rec, ModelRecord)
    assert rec.author == "0xOracle"
    assert rec.gated == "manual"
    assert rec.card_data == {"base_model": "stabilityai/stable-diffusion-2-1", "license": "openrail"}
    assert rec.files == [FileEntry(".gitattributes"), FileEntry("it's.safetensors", 42, "abc")]
    assert rec.parameters == 10
    assert rec.security_status == {"scansDone": True, "filesWithIssues": []}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({}, "no model id"),
        ({"id": 12}, "model id is not a usable string"),
        ({"id": "   "}, "model id is not a usable string"),
        ({"id": "evil\x1b[2Jname"}, "model id is not a usable string"),
        ({"id": "x" * 2000}, "model id is not a usable string"),
    ],
)
def test_unusable_ids_are_bad_records(record, reason):
    out = model_record_from_api(record)
    assert isinstance(out, BadRecord)
    assert out.reason == reason


def test_wrong_types_become_null_and_are_reported():
    rec = model_record_from_api(
        {
            "id": "a/b",
            "downloads": "many",
            "likes": True,
            "tags": "not-a-list-but-a-string",
            "config": [1],
            "siblings": {"x": 1},
            "private": "maybe",
            "gated": 3,
            "card_data": [1, 2],
            "unknown_field": {"x": 1},
        }
    )
    assert isinstance(rec, ModelRecord)
    assert rec.downloads is None and rec.likes is None and rec.private is None and rec.gated is None
    assert rec.tags == ["not-a-list-but-a-string"]  # a lone string is a one-element list
    assert rec.files is None and rec.model_type is None and rec.card_data is None
    assert sorted(rec.field_issues) == sorted(
        ["downloads", "likes", "private", "config", "siblings", "gated", "card_data"]
    )


def test_malformed_yaml_card_data_is_an_issue_not_a_crash():
    rec = model_record_from_api({"id": "a/b", "card_data": "key: [unclosed"})
    assert isinstance(rec, ModelRecord)
    assert rec.card_data is None
    assert rec.field_issues == ["card_data"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (3.0, 3), (3.5, None), ("42", 42), ("-7", -7), ("4e3", None), (True, None), (None, None)],
)
def test_as_int(value, expected):
    assert as_int(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("False", False), ("yes", None), (1, None)])
def test_as_bool(value, expected):
    assert as_bool(value) is expected


def test_clean_id_rejects_control_characters_and_bounds_length():
    assert clean_id(" bert-base-uncased ") == "bert-base-uncased"
    assert clean_id("a/b\n") == "a/b"
    assert clean_id("a\x00b") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"rfilename": "model.safetensors", "size": 5, "blobId": "b", "lfs": {"sha256": "s", "size": 9}},
            FileEntry("model.safetensors", 5, "b", "s"),
        ),
        ({"rfilename": "w.bin", "lfs": {"sha256": "s", "size": 9}}, FileEntry("w.bin", 9, None, "s")),
        ("README.md", FileEntry("README.md")),
        ("RepoSibling(rfilename=None, size=None)", None),
        ({"size": 3}, None),
        (7, None),
    ],
)
def test_file_entry_forms(value, expected):
    assert file_entry(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2**63 - 1, 2**63 - 1), (2**63, None), (-(2**63), -(2**63)), (1e30, None), (float("inf"), None),
     ("9223372036854775808", None), ("-9223372036854775808", -(2**63))],
)  # fmt: skip
def test_as_int_stays_in_the_64_bit_range_of_the_store(value, expected):
    assert as_int(value) == expected


def test_numbers_past_64_bits_are_null_issues_with_a_note():
    rec = model_record_from_api({"id": "a/b", "likes": 10**30, "downloads": 1e300, "safetensors": {"total": 2**70}})
    assert isinstance(rec, ModelRecord)
    assert rec.likes is None and rec.downloads is None and rec.parameters is None
    assert sorted(rec.field_issues) == ["downloads", "likes", "safetensors"]
    assert len(rec.notes) == 3 and all("outside the 64-bit integer range" in n for n in rec.notes)


@pytest.mark.parametrize(
    "repo_id", ["..", ".", "a/..", "../a", "a/b/../../c", "a/./b", "a//b", "/a", "a/", "a/b/c", "a\\b", "a b", "a%2f.."]
)
def test_ids_that_step_out_of_their_place_are_bad_records(repo_id):
    out = model_record_from_api({"id": repo_id})
    assert isinstance(out, BadRecord) and "is not a valid repo id" in out.reason


@pytest.mark.parametrize(
    "repo_id",
    [
        "bert-base-uncased",
        "org/model.v2",
        "Sarim24/NLP-datasets.git",  # the Hub served these in 2022; validate_repo_id refuses them today
        "Maltehb/-l-ctra-danish-electra-small-cased",
        "huggingfans/Electra_small_index_epochs=3_maxLen=512_loss=0.19",
        "a/" + "x" * 120,
    ],
)
def test_names_the_hub_once_served_are_kept(repo_id):
    out = model_record_from_api({"id": repo_id})
    assert isinstance(out, ModelRecord) and out.repo_id == repo_id


def test_a_hub_url_names_its_model():
    hub = "https://huggingface.co"  # offline: ids written as URLs are parsed, never fetched
    out = model_record_from_api({"id": f"{hub}/Acardozo/llama3.2"})
    assert isinstance(out, ModelRecord) and out.repo_id == "Acardozo/llama3.2"
    assert isinstance(model_record_from_api({"id": f"{hub}/datasets/x/y"}), BadRecord)
