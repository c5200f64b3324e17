"""Importing files into snapshots: duplicates, append, interruption, failures."""

from __future__ import annotations

import json

import pytest

from ptmscope.errors import InputError, SnapshotExistsError
from ptmscope.importer import import_paths


def jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def count(store, table, snap):
    return store.con.execute(f"SELECT count(*) FROM {table} WHERE snapshot_id = ?", [snap.snapshot_id]).fetchall()[0][0]


def test_import_writes_models_facts_and_cards(store, tmp_path):
    listing = jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "modelId": "org/a",
                "tags": [
                    "license:mit",
                    "dataset:glue",
                    "arxiv:1810.04805",
                    "base_model:finetune:org/base",
                    "base_model:org/base",
                ],
                "siblings": [{"rfilename": "README.md"}, {"rfilename": "pytorch_model.bin"}],
                "downloads": 10,
                "lastModified": "2022-01-20T12:13:34.000Z",
            },
            {"modelId": "org/base", "lastModified": "not a date", "siblings": []},
        ],
    )
    cards = jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "modelId": "org/a",
                "readme": "---\nlicense: mit\ndatasets: [glue, imdb]\nmodel-index:\n- name: a\n"
                "  results:\n  - task: {type: text-classification}\n    dataset: {type: glue, name: GLUE}\n"
                "    metrics: [{type: accuracy, value: 0.9}]\n---\n# a\n",
            },
        ],
    )
    report = import_paths(store, [listing, cards], "s")
    snap = report.snapshot
    assert snap.is_complete and report.stats.models == 2 and report.stats.cards == 1
    assert count(store, "model_files", snap) == 2
    assert store.query(
        "SELECT has_readme, num_files, last_modified IS NULL FROM models WHERE repo_id = 'org/base'"
    ) == [(False, 0, True)]
    assert store.query("SELECT base_model, relation FROM base_models WHERE repo_id = 'org/a'") == [
        ("org/base", "finetune")
    ]  # the relation-less duplicate tag collapses into the typed one
    assert sorted(store.query("SELECT dataset, source FROM model_datasets")) == [
        ("glue", "card"),
        ("glue", "tag"),
        ("imdb", "card"),
    ]
    assert store.query("SELECT metric_type, value, hf_valid FROM claims") == [("accuracy", 0.9, True)]


def test_duplicates_keep_the_first_record_and_are_reported(store, tmp_path):
    path = jsonl(tmp_path / "d.jsonl", [{"id": "a/b", "downloads": 1}, {"id": "a/b", "downloads": 2}])
    report = import_paths(store, [path], "s")
    assert report.stats.duplicates == 1
    assert store.query("SELECT downloads FROM models") == [(1,)]
    assert store.query("SELECT location, repo_id, reason FROM import_errors") == [
        ("line 2", "a/b", "duplicate model id (the first record is kept)")
    ]


def test_append_adds_to_an_existing_snapshot_without_duplicating(store, tmp_path):
    first = jsonl(tmp_path / "1.jsonl", [{"id": "a/b"}])
    second = jsonl(tmp_path / "2.jsonl", [{"id": "a/b"}, {"id": "a/c"}])
    import_paths(store, [first], "s")
    with pytest.raises(SnapshotExistsError):
        import_paths(store, [second], "s")
    report = import_paths(store, [second], "s", append=True)
    assert report.stats.models == 1 and report.stats.duplicates == 1
    assert sorted(store.query("SELECT repo_id FROM models")) == [("a/b",), ("a/c",)]


def test_one_bad_file_does_not_stop_the_others(store, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    good = jsonl(tmp_path / "good.jsonl", [{"id": "a/b"}])
    report = import_paths(store, [bad, good], "s")
    assert [f.error is not None for f in report.files] == [True, False]
    assert report.stats.models == 1
    assert store.query("SELECT location FROM import_errors") == [("file",)]


def test_nothing_imported_is_an_error_and_leaves_no_snapshot(store, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(InputError, match="nothing imported"):
        import_paths(store, [bad], "s")
    assert store.find_snapshot("s") is None


def test_interrupt_keeps_what_was_read_and_marks_the_snapshot_partial(store, tmp_path):
    path = jsonl(tmp_path / "m.jsonl", [{"id": f"a/{i}"} for i in range(12_000)])

    def progress(name, n):  # called every 5,000 records: interrupt at the first call
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_paths(store, [path], "s", batch_rows=1_000, progress=progress)
    snap = store.snapshot("s")
    assert snap.status == "partial"
    assert count(store, "models", snap) == 5_000  # flushed on interrupt: nothing read is lost
