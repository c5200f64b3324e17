"""Evaluation data: every format verify reads, the local caches, and every bad input as a clear error."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ptmscope.errors import DatasetError
from ptmscope.verify.data import load_eval_data

ROWS = [{"text": f"sentence {i}", "label": ["neg", "pos"][i % 2]} for i in range(10)]


def test_parquet_csv_jsonl_and_json_arrays(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "a.parquet")
    (tmp_path / "a.csv").write_text("text,label\n" + "\n".join(f"{r['text']},{r['label']}" for r in ROWS))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    (tmp_path / "a.json").write_text(json.dumps(ROWS))
    for name in ("a.parquet", "a.csv", "a.jsonl", "a.json"):
        data = load_eval_data(str(tmp_path / name), "text-classification")
        assert data.columns["label"] == [r["label"] for r in ROWS], name
        assert (data.name, data.split, data.total, len(data)) == ("a", "test", 10, 10)


def test_classlabel_names_come_from_parquet_metadata(tmp_path):
    table = pa.Table.from_pylist([{"sentence": "x", "coarse": 1}])
    info = {"info": {"features": {"sentence": {"dtype": "string", "_type": "Value"},
                                  "coarse": {"names": ["a", "b"], "_type": "ClassLabel"}}}}  # fmt: skip
    table = table.replace_schema_metadata({b"huggingface": json.dumps(info).encode()})
    pq.write_table(table, tmp_path / "t.parquet")
    data = load_eval_data(str(tmp_path / "t.parquet"), "text-classification", columns={"label": "coarse"})
    assert data.label_names == ["a", "b"] and data.columns["text"] == ["x"]


def test_save_to_disk_folders(tmp_path):
    datasets = pytest.importorskip("datasets")
    tags = datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER"]))
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")), "ner_tags": tags})
    split = datasets.Dataset.from_dict({"tokens": [["ann", "ran"]], "ner_tags": [[1, 0]]}, features=features)
    datasets.DatasetDict({"test": split, "validation": split}).save_to_disk(str(tmp_path / "dict"))
    split.save_to_disk(str(tmp_path / "single"))
    for folder in ("dict", "single"):
        data = load_eval_data(str(tmp_path / folder), "token-classification")
        assert data.columns == {"tokens": [["ann", "ran"]], "tags": [[1, 0]]}
        assert data.label_names == ["O", "B-PER"]
    with pytest.raises(DatasetError, match="no split 'train' \\(it has test, validation\\)"):
        load_eval_data(str(tmp_path / "dict"), "token-classification", split="train")


def test_a_dataset_in_the_hub_cache_by_name(tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "datasets--acme--moods"
    snapshot = repo / "snapshots" / ("a" * 40) / "data"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    pq.write_table(pa.Table.from_pylist(ROWS[:4]), snapshot / "test-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS), snapshot / "train-00000-of-00001.parquet")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    data = load_eval_data("acme/moods", "text-classification")
    assert data.total == 4 and data.name == "acme/moods"
    assert load_eval_data("acme/moods", "text-classification", split="train").total == 10


def test_a_dataset_in_the_datasets_library_cache(tmp_path, monkeypatch):
    folder = tmp_path / "datasets" / "acme___moods" / "default" / "0.0.0" / ("b" * 16)
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist([{"text": "x", "label": 0}, {"text": "y", "label": 1}])
    with pa.OSFile(str(folder / "moods-test.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    info = {"features": {"label": {"names": ["sad", "glad"], "_type": "ClassLabel"}}, "dataset_name": "moods"}
    (folder / "dataset_info.json").write_text(json.dumps(info))
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    data = load_eval_data("acme/moods", "text-classification")
    assert data.label_names == ["sad", "glad"] and data.name == "moods" and data.total == 2


def test_limit_is_a_seeded_sample_in_file_order(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "a.parquet")
    first = load_eval_data(str(tmp_path / "a.parquet"), "text-classification", limit=4, seed=1)
    again = load_eval_data(str(tmp_path / "a.parquet"), "text-classification", limit=4, seed=1)
    assert first.columns == again.columns and len(first) == 4 and first.total == 10
    numbers = [int(t.split()[1]) for t in first.columns["text"]]
    assert numbers == sorted(numbers)
    assert "seeded random sample of 4" in first.notes[0]


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        (lambda p: p.joinpath("a.csv").write_text("words,label\nx,1\n"), {}, "no 'text' column for text-"),
        (lambda p: p.joinpath("a.csv").write_text("text,label\n"), {}, "split 'test' is empty"),
        (lambda p: p.joinpath("a.parquet").write_bytes(b"not parquet"), {}, "cannot read it"),
        (lambda p: p.joinpath("a.json").write_text('[1, 2]'), {}, "not a list of records"),
        (lambda p: p.joinpath("a.csv").write_text("text,label\nx,1\n"), {"columns": {"label": "nope"}},
         "--column label=nope: no such column"),
        (lambda p: p.joinpath("a.csv").write_text("text,label\nx,1\n"), {"columns": {"pixels": "x"}},
         "uses the roles text, label"),
    ],
)  # fmt: skip
def test_bad_data_is_a_clear_error(tmp_path, setup, kwargs, message):
    setup(tmp_path)
    target = next(tmp_path.iterdir())
    with pytest.raises(DatasetError, match=message.replace("(", "\\(").replace(")", "\\)")):
        load_eval_data(str(target), "text-classification", **kwargs)


def test_missing_paths_and_uncached_names(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_eval_data(str(tmp_path / "absent.parquet"), "text-classification")
    with pytest.raises(DatasetError, match="never downloads data sets"):
        load_eval_data("dair-ai/emotion", "text-classification")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no data file for split 'test'"):
        load_eval_data(str(tmp_path / "empty"), "text-classification")
