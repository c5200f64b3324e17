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

    def progress(name, n, total):  # called every 5,000 records: interrupt at the first call
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_paths(store, [path], "s", batch_rows=1_000, progress=progress)
    snap = store.snapshot("s")
    assert snap.status == "partial"
    assert count(store, "models", snap) == 5_000  # flushed on interrupt: nothing read is lost


def _table_rows(store, snap, table, order):
    return store.query(
        f"SELECT * EXCLUDE (snapshot_id) FROM {table} WHERE snapshot_id = ? ORDER BY {order}", [snap.snapshot_id]
    )


def test_parallel_and_sequential_imports_give_identical_rows(store, tmp_path, monkeypatch):
    import gzip

    import ptmscope.importer as importer

    rows = []
    for i in range(2_500):
        rows.append(
            {
                "id": f"o{i % 50}/m{i}",
                "tags": ["license:mit", f"dataset:d{i % 7}"],
                "siblings": [{"rfilename": "README.md"}, {"rfilename": f"w{i}.bin", "size": i}],
                "cardData": {
                    "model-index": [
                        {
                            "name": "x",
                            "results": [
                                {
                                    "task": {"type": "t"},
                                    "dataset": {"type": "d", "name": "D"},
                                    "metrics": [{"type": "acc", "value": i / 2500}],
                                }
                            ],
                        }
                    ]
                }
                if i % 9 == 0
                else None,
                "card": f"---\nlicense: apache-2.0\n---\n# card {i}\n" if i % 5 == 0 else None,
            }
        )
    rows.insert(1_700, {"id": "o3/m3", "downloads": 99})  # a duplicate in a later chunk
    rows.insert(900, "{broken")
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    data = gzip.compress(text.encode())
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(data[: len(data) - 200])  # and the file breaks off near its end
    monkeypatch.setattr(importer, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(importer, "CHUNK_LINES", 300)
    sequential = import_paths(store, [path], "seq", jobs=1)
    parallel = import_paths(store, [path], "par", jobs=2)
    a, b = sequential.snapshot, parallel.snapshot
    assert sequential.stats.models > 2_000 and sequential.stats.duplicates == 1
    for table, order in (
        ("models", "repo_id"),
        ("model_files", "repo_id, path"),
        ("model_tags", "repo_id, tag"),
        ("claims", "repo_id, source"),
        ("cards", "repo_id"),
        ("model_datasets", "repo_id, dataset, source"),
        ("import_errors", "location"),
    ):
        assert _table_rows(store, a, table, order) == _table_rows(store, b, table, order), table
    for name in ("models", "cards", "bad_records", "duplicates"):
        assert getattr(sequential.stats, name) == getattr(parallel.stats, name), name
    assert [f.records for f in sequential.files] == [f.records for f in parallel.files]


def test_cross_batch_duplicates_keep_the_first_and_its_card(store, tmp_path):
    from ptmscope.records import CardRecord, ModelRecord
    from ptmscope.store.writer import SnapshotWriter

    snap = store.create_snapshot("s", source="import")
    writer = SnapshotWriter(store, snap, batch_rows=1)
    writer.add(ModelRecord("a/b", downloads=1, tags=["dataset:x"]), "f", "line 1")
    writer.add(CardRecord("a/b", "---\ndatasets: [y]\n---\n# b"), "f", "line 2")
    writer.add(ModelRecord("a/b", downloads=2, tags=["dataset:z"]), "f", "line 3")
    writer.add(CardRecord("a/b", "---\ndatasets: [w]\n---\n# again"), "f", "line 4")
    writer.flush()
    assert store.query("SELECT downloads FROM models") == [(1,)]
    assert sorted(store.query("SELECT dataset, source FROM model_datasets")) == [("x", "tag"), ("y", "card")]
    assert store.query("SELECT location, reason FROM import_errors ORDER BY location") == [
        ("line 3", "duplicate model id (the first record is kept)"),
        ("line 4", "duplicate model card (the first one is kept)"),
    ]
    assert (writer.stats.models, writer.stats.cards, writer.stats.duplicates) == (1, 1, 2)


def test_import_exits_2_when_some_files_could_not_be_read_and_keeps_the_rest(tmp_path):
    from click.testing import CliRunner

    from ptmscope.cli.main import cli
    from ptmscope.store import Store

    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    good = jsonl(tmp_path / "good.jsonl", [{"id": "a/b"}])
    db = str(tmp_path / "s.duckdb")
    result = CliRunner().invoke(cli, ["import", str(bad), str(good), "--snapshot", "s", "--db", db])
    assert result.exit_code == 2
    assert "1 of 2 input files could not be read" in result.output and "--append" in result.output
    bad.write_text('{"id": "a/c"}')
    again = CliRunner().invoke(cli, ["import", str(bad), str(good), "--snapshot", "s", "--db", db, "--append"])
    assert again.exit_code == 0, again.output
    with Store(db, read_only=True) as store:
        assert sorted(store.query("SELECT repo_id FROM models")) == [("a/b",), ("a/c",)]
        assert store.snapshot("s").is_complete
