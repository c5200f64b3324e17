"""verify end to end on tiny models trained in the session and on the real all-MiniLM-L6-v2.

The honest cards claim what the test's own loop measured (tests/verify/tiny.py), so
"consistent" is checked against an independent computation, and an inflated card must
come out as a discrepancy.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ptmscope.errors import ModelLoadError
from ptmscope.store import Store
from ptmscope.verify.run import VerifyOptions, verify_model
from tests.cli.test_cli import run_main
from tests.conftest import FIXTURES
from tests.replay import handler_server
from tests.verify.conftest import model_copy
from tests.verify.tiny import card

SENTIMENT = {"task": "text-classification", "dataset": "sentiment", "split": "test", "metric": "accuracy"}


@pytest.fixture
def sentiment_test(text_model, tmp_path):
    path = tmp_path / "sentiment_test.parquet"
    pq.write_table(pa.Table.from_pylist(text_model.test_rows), path)
    return path


def test_honest_card_is_consistent_and_inflated_card_is_a_discrepancy(text_model, sentiment_test, tmp_path):
    honest_value = round(text_model.accuracy, 4)
    honest = model_copy(text_model.folder, tmp_path / "honest", card([
        {**SENTIMENT, "value": honest_value},
        {**SENTIMENT, "split": "validation", "value": 0.99},  # another split: must not be picked
        {**SENTIMENT, "metric": "f1", "value": 0.99},  # another metric
    ], pipeline_tag="text-classification"))  # fmt: skip
    inflated_card = card([{**SENTIMENT, "value": 0.99}], pipeline_tag="text-classification")
    inflated = model_copy(text_model.folder, tmp_path / "inflated", inflated_card)
    options = VerifyOptions(dataset=str(sentiment_test), dataset_name="sentiment")

    result = verify_model(str(honest), options)
    assert result.task == "text-classification" and result.metric == "accuracy"  # from the architectures
    assert result.measured == pytest.approx(text_model.accuracy, abs=0.005)
    assert result.estimate.low < result.measured < result.estimate.high
    assert 0.04 < result.estimate.high - result.estimate.low < 0.10  # 400 examples at about 0.85
    assert result.verdict == "consistent" and result.claimed == pytest.approx(honest_value)
    assert result.explanation.startswith(f"matched the claim accuracy = {honest_value} on sentiment (split test)")

    result = verify_model(str(inflated), options)
    assert result.verdict == "discrepancy" and result.direction == "overclaimed"
    assert result.gap == pytest.approx(0.99 - result.measured)

    # The same honest claim written as a percentage is read as one.
    percent = model_copy(text_model.folder, tmp_path / "percent",
                         card([{**SENTIMENT, "value": round(100 * text_model.accuracy, 2)}],
                              pipeline_tag="text-classification"))  # fmt: skip
    assert verify_model(str(percent), options).verdict == "consistent"

    # Claims on another split only: no matching claim, and why.
    other = model_copy(text_model.folder, tmp_path / "other",
                       card([{**SENTIMENT, "split": "validation", "value": 0.85}],
                            pipeline_tag="text-classification"))  # fmt: skip
    result = verify_model(str(other), options)
    assert result.verdict == "no_matching_claim" and "split 'validation' is not 'test'" in result.explanation


def test_macro_f1_with_limit_and_bootstrap_settings(text_model, sentiment_test, tmp_path):
    folder = model_copy(text_model.folder, tmp_path / "m", None)
    options = VerifyOptions(dataset=str(sentiment_test), metric="f1", limit=100, resamples=200, seed=3,
                            confidence=0.9)  # fmt: skip
    result = verify_model(str(folder), options)
    assert result.metric == "f1_macro" and result.estimate.n == 100 and result.examples_total == 400
    assert (result.estimate.resamples, result.estimate.seed, result.estimate.confidence) == (200, 3, 0.9)
    assert result.verdict == "no_matching_claim" and "no README.md" in " ".join(result.notes)
    assert any("seeded random sample of 100" in note for note in result.notes)


def test_token_classification_from_a_save_to_disk_folder_with_classlabel_ids(token_model, tmp_path):
    datasets = pytest.importorskip("datasets")
    names = ["O", "B-LOC", "B-PER", "I-PER"]  # another order than the model's: mapped by name
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})  # fmt: skip
    rows = {"tokens": [r["tokens"] for r in token_model.test_rows],
            "ner_tags": [[names.index(t) for t in r["tags"]] for r in token_model.test_rows]}  # fmt: skip
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(
        str(tmp_path / "people")
    )
    claim = {"task": "token-classification", "dataset": "people", "split": "test", "metric": "f1",
             "value": round(token_model.accuracy, 4)}  # fmt: skip
    folder = model_copy(token_model.folder, tmp_path / "tagger", card([claim], pipeline_tag="token-classification"))
    result = verify_model(str(folder), VerifyOptions(dataset=str(tmp_path / "people")))
    assert result.task == "token-classification" and result.metric == "f1"
    assert result.measured == pytest.approx(token_model.accuracy, abs=0.01)
    assert result.verdict == "consistent"


def test_image_classification_from_parquet_images(image_model, tmp_path):
    path = tmp_path / "colours.parquet"
    pq.write_table(pa.Table.from_pylist(image_model.test_rows), path)
    claim = {"task": "image-classification", "dataset": "colours", "split": "test", "metric": "accuracy",
             "value": round(image_model.accuracy, 4)}  # fmt: skip
    folder = model_copy(image_model.folder, tmp_path / "vit", card([claim], pipeline_tag="image-classification"))
    result = verify_model(str(folder), VerifyOptions(dataset=str(path), batch_size=64))
    assert result.task == "image-classification"
    assert result.measured == pytest.approx(image_model.accuracy, abs=0.01)
    assert result.verdict == "consistent"


def test_real_minilm_embeddings_spearman(minilm, tmp_path):
    pairs = FIXTURES / "verify" / "sts_pairs.csv"
    options = VerifyOptions(dataset=str(pairs), task="sentence-similarity", dataset_name="sts-pairs")
    result = verify_model(str(minilm), options, repo_id="sentence-transformers/all-MiniLM-L6-v2")
    assert result.metric == "spearman" and result.estimate.n == 45
    assert result.verdict == "no_matching_claim"  # the real card has no model-index
    assert 0.6 < result.measured < 0.95 and result.estimate.low < result.measured < result.estimate.high

    # The same cosine scores from sentence-transformers, ranked by scipy.
    st = pytest.importorskip("sentence_transformers")
    stats = pytest.importorskip("scipy.stats")
    rows = list(csv.DictReader(pairs.open(encoding="utf-8")))
    model = st.SentenceTransformer(str(minilm), device="cpu")
    a = model.encode([r["sentence1"] for r in rows], convert_to_tensor=True)
    b = model.encode([r["sentence2"] for r in rows], convert_to_tensor=True)
    cosine = st.util.pairwise_cos_sim(a, b).tolist()
    expected = float(stats.spearmanr(cosine, [float(r["score"]) for r in rows])[0])
    assert result.measured == pytest.approx(expected, abs=1e-6)

    # A pipeline with a module verify does not apply is refused, not measured wrongly.
    dense = model_copy(minilm, tmp_path / "dense", None)
    modules = json.loads((dense / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (dense / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match=r"modules verify does not apply \(Dense\)"):
        verify_model(str(dense), options)

    # A card claiming that correlation MTEB-style (x100) is consistent.
    claimed = {"task": "STS", "dataset": "sts-pairs", "split": "test", "metric": "cos_sim_spearman",
               "value": round(100 * expected, 2)}  # fmt: skip
    folder = model_copy(minilm, tmp_path / "minilm", card([claimed], pipeline_tag="sentence-similarity"))
    result = verify_model(str(folder), options)
    assert result.verdict == "consistent" and result.claimed == pytest.approx(round(expected, 4))


# -- the CLI, the store and the study -------------------------------------------------------------------


def _snapshot(db, models):
    """A snapshot listing ``models`` ({repo_id: (sha, card)})."""
    from ptmscope.importer import import_paths

    listing, cards = db.parent / "models.jsonl", db.parent / "cards.jsonl"
    listing.write_text("\n".join(json.dumps({"id": r, "sha": sha, "downloads": 100 - i, "tags": [],
                                             "pipeline_tag": "text-classification"})
                                 for i, (r, (sha, _)) in enumerate(models.items())))  # fmt: skip
    cards.write_text("\n".join(json.dumps({"modelId": r, "readme": c}) for r, (_, c) in models.items()))
    with Store(db) as store:
        import_paths(store, [listing, cards], "hub", jobs=1)


def test_cli_stores_results_and_study_reports_discrepancy_rate(text_model, sentiment_test, tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    honest_card = card([{**SENTIMENT, "value": round(text_model.accuracy, 4)}], pipeline_tag="text-classification")
    inflated_card = card([{**SENTIMENT, "value": 0.99}], pipeline_tag="text-classification")
    _snapshot(db, {"acme/honest": ("a" * 40, honest_card), "acme/inflated": ("b" * 40, inflated_card)})
    for name, readme in (("honest", honest_card), ("inflated", inflated_card)):
        folder = model_copy(text_model.folder, tmp_path / name, readme)
        code, out = run_main(["verify", str(folder), "--repo-id", f"acme/{name}", "--dataset", str(sentiment_test),
                              "--dataset-name", "sentiment", "--db", str(db), "--json"], capsys)  # fmt: skip
        assert code == (1 if name == "inflated" else 0), out.err  # a discrepancy beyond the tolerance: exit 1
        document = json.loads(out.out)
        assert document["schema"] == "ptmscope.verify/1" and document["run_id"] >= 1
    assert document["results"][0]["verdict"] == "discrepancy"
    assert document["results"][0]["claim"]["value_text"] == "0.99"

    with Store(db) as store:
        rows = store.query("SELECT repo_id, verdict, examples, claimed_text, weights_sha256 FROM verifications"
                           " ORDER BY repo_id")  # fmt: skip
        assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
            ("acme/honest", "consistent", 400, str(round(text_model.accuracy, 4))),
            ("acme/inflated", "discrepancy", 400, "0.99"),
        ]
        assert rows[0][4] == rows[1][4] and len(rows[0][4]) == 64  # the same weights, hashed

        from ptmscope.store.verifications import rechecked_sql
        from ptmscope.studies.run import run_study

        data = run_study(store, store.snapshot("hub")).data["measurements"]["discrepancies"]
        assert (data["models"], data["consistent"], data["discrepancy"], data["overclaimed"]) == (2, 1, 1, 1)
        assert data["discrepancy_rate"] == pytest.approx(0.5)
        assert data["at_snapshot_revision"] == 0  # local folders carry no revision
        assert data["by_dataset"][0]["dataset"] == "sentiment"
        audit = {r[0]: r for r in store.query(f"SELECT * FROM ({rechecked_sql()}) ORDER BY repo_id")}
        assert audit["acme/inflated"][4] == 1 and "claimed 0.99" in audit["acme/inflated"][-1]

    # Human output: the verdict and why.
    code, out = run_main(["verify", str(tmp_path / "inflated"), "--dataset", str(sentiment_test),
                          "--dataset-name", "sentiment", "--no-store", "--db", str(db)], capsys)  # fmt: skip
    assert code == 1 and "DISCREPANCY (overclaimed)" in out.out and "matched the claim" in out.out
    assert "verify: 1 claim(s) are a discrepancy beyond --tolerance 0.01." in out.err
    code, _ = run_main(["verify", str(tmp_path / "inflated"), "--dataset", str(sentiment_test), "--tolerance", "0.5",
                        "--dataset-name", "sentiment", "--no-store", "--db", str(db)], capsys)  # fmt: skip
    assert code == 0  # within a wide enough tolerance the claim holds


def test_study_says_not_measured_before_verify(tmp_path):
    from ptmscope.studies.run import run_study

    db = tmp_path / "store.duckdb"
    _snapshot(db, {"acme/x": ("a" * 40, "# x\n")})
    with Store(db) as store:
        data = run_study(store, store.snapshot("hub")).data["measurements"]["discrepancies"]
    assert data["models"] == 0 and "not measured" in data["note"]


def _cache_model(cache, repo_id, sha, folder):
    import shutil

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)


def test_snapshot_run_writes_table_csv_plot_and_records_failures(text_model, sentiment_test, tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    honest_card = card([{**SENTIMENT, "value": round(text_model.accuracy, 4)}], pipeline_tag="text-classification")
    inflated_card = card([{**SENTIMENT, "value": 0.99}], pipeline_tag="text-classification")
    other_card = card([{**SENTIMENT, "dataset": "imdb", "value": 0.9}], pipeline_tag="text-classification")
    _snapshot(db, {"acme/honest": ("a" * 40, honest_card), "acme/inflated": ("b" * 40, inflated_card),
                   "acme/absent": ("c" * 40, honest_card), "acme/imdb": ("d" * 40, other_card),
                   "acme/pickled": ("e" * 40, honest_card)})  # fmt: skip
    cache = tmp_path / "hub"
    _cache_model(cache, "acme/honest", "a" * 40, model_copy(text_model.folder, tmp_path / "h", honest_card))
    _cache_model(cache, "acme/inflated", "f" * 40, model_copy(text_model.folder, tmp_path / "i", inflated_card))
    pickled = tmp_path / "p"
    pickled.mkdir()
    (pickled / "config.json").write_text((text_model.folder / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"never read")
    _cache_model(cache, "acme/pickled", "e" * 40, pickled)

    csv_file, plot_file = tmp_path / "out.csv", tmp_path / "out.svg"
    code, out = run_main(["verify", "--snapshot", "hub", "--task", "text-classification", "--dataset",
                          str(sentiment_test), "--dataset-name", "sentiment", "--cache-dir", str(cache), "--offline",
                          "--csv", str(csv_file), "--plot", str(plot_file), "--db", str(db), "--json"],
                         capsys)  # fmt: skip
    assert code == 2, out.err  # two models could not be verified: the run went on, and says so
    assert "2 of 4 model(s) could not be verified" in out.err
    results = {r["repo_id"]: r for r in json.loads(out.out)["results"]}
    assert list(results) == ["acme/honest", "acme/inflated", "acme/absent", "acme/pickled"]  # by downloads; no imdb
    assert results["acme/honest"]["verdict"] == "consistent" and results["acme/honest"]["sha"] == "a" * 40
    assert results["acme/inflated"]["verdict"] == "discrepancy"
    assert any("the snapshot recorded bbbbbbbbbbbb" in n for n in results["acme/inflated"]["notes"])
    assert results["acme/absent"]["verdict"] == "failed" and "--offline" in results["acme/absent"]["error"]
    assert results["acme/pickled"]["verdict"] == "failed" and "--allow-pickle" in results["acme/pickled"]["error"]
    assert all(r["selected_from"] == "hub" for r in results.values())

    table = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert [r["verdict"] for r in table] == ["consistent", "discrepancy", "failed", "failed"]
    svg = plot_file.read_text()
    assert svg.startswith("<svg") or "<svg" in svg[:500]
    with Store(db) as store:
        assert store.query("SELECT count(*), count(DISTINCT run_id) FROM verifications")[0] == (4, 1)

    code, out = run_main(["verify", "--snapshot", "hub", "--task", "text-classification", "--dataset",
                          str(sentiment_test), "--dataset-name", "sentiment", "--cache-dir", str(cache), "--offline",
                          "--max-models", "2", "--no-store", "--plot", str(tmp_path / "out.png"), "--db", str(db)],
                         capsys)  # fmt: skip
    assert code == 1 and "sentiment [test], models of hub" in out.out  # no failures; one discrepancy
    assert "2 model(s): 1 consistent, 1 discrepancy" in out.out
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


# -- bad input: a clear error (exit 2), never a traceback --------------------------------------------------


def _bad_models(text_model, tmp_path):
    from transformers import BertConfig, BertModel

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((text_model.folder / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"a pickle we must never open")
    custom = model_copy(text_model.folder, tmp_path / "custom", None)
    config = json.loads((custom / "config.json").read_text())
    (custom / "config.json").write_text(json.dumps({**config, "model_type": "evil-net",
                                                    "auto_map": {"AutoModel": "modeling_evil.Evil"}}))  # fmt: skip
    headless = tmp_path / "headless"
    BertModel(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)).save_pretrained(headless)  # fmt: skip
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (headless / name).write_text((text_model.folder / name).read_text())
    return {"pickled": pickled, "custom": custom, "headless": headless}


def test_bad_models_and_data_are_clear_errors(text_model, sentiment_test, tmp_path, capsys):
    bad = _bad_models(text_model, tmp_path)
    good = str(text_model.folder)
    wrong_labels = tmp_path / "moods.csv"
    wrong_labels.write_text("text,label\ngood film,happy\nbad film,sad\n")
    no_column = tmp_path / "words.csv"
    no_column.write_text("words,label\ngood,positive\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    cases = [
        ([str(bad["pickled"]), "--dataset", str(sentiment_test)], "only pickle-based files (pytorch_model.bin)"),
        ([str(bad["custom"]), "--dataset", str(sentiment_test)], "--trust-remote-code"),
        ([str(bad["headless"]), "--dataset", str(sentiment_test), "--task", "text-classification"],
         "no trained weights for classifier"),
        ([good, "--dataset", str(wrong_labels)], "dataset labels 'happy', 'sad' are not among the model's labels"),
        ([good, "--dataset", str(no_column)], "no 'text' column"),
        ([good, "--dataset", str(empty)], "is empty"),
        ([good, "--dataset", str(tmp_path / "nowhere.parquet")], "no such file or folder"),
        ([good, "--dataset", str(sentiment_test), "--metric", "spearman"], "text-classification measures"),
        (["acme/not-cached", "--dataset", str(sentiment_test), "--offline"], "--offline forbids downloading it"),
        ([str(tmp_path / "no-model"), "--dataset", str(sentiment_test)], "not a model folder, and not a repo id"),
    ]  # fmt: skip
    for args, message in cases:
        code, out = run_main(["verify", *args, "--no-store"], capsys)
        assert code == 2, (args, out.err)
        assert message in " ".join(out.err.split()), (message, out.err)
        assert "Traceback" not in out.err
    # The pickle was never opened; with --allow-pickle the same folder fails on its bytes, as a load error.
    code, out = run_main(["verify", str(bad["pickled"]), "--dataset", str(sentiment_test), "--allow-pickle",
                          "--no-store"], capsys)  # fmt: skip
    assert code == 2 and "cannot load it" in out.err


def test_without_the_extra_verify_says_how_to_install_it(tmp_path):
    code = (
        "import sys\nsys.modules['torch'] = None\n"
        "from ptmscope.cli.main import main\n"
        f"main(['verify', {str(tmp_path)!r}, '--dataset', 'x.csv', '--no-store'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "pip install 'ptmscope[verify]'" in out.stderr and "Traceback" not in out.stderr


def test_help_imports_neither_torch_nor_transformers():
    code = (
        "import sys\nfrom ptmscope.cli.main import main\n"
        "for args in (['--help'], ['verify', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'imported for --help'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--allow-pickle" in out.stdout and "verify" in out.stdout


# -- a model from a Hub endpoint ---------------------------------------------------------------------------


class _FakeHub(BaseHTTPRequestHandler):
    """Just enough of the Hub API to list and download one model (tests never reach the real Hub)."""

    folder: ClassVar[Path]
    requested: ClassVar[list[str]] = []
    sha = "d" * 40

    def log_message(self, *args):
        pass

    def _send(self, status, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        self.requested.append(path)
        files = sorted(p.name for p in self.folder.iterdir())
        if path.startswith("/api/models/acme/tiny") and "/tree/" in path:
            tree = [{"type": "file", "path": f, "size": (self.folder / f).stat().st_size, "oid": "0" * 40}
                    for f in files]  # fmt: skip
            self._send(200, json.dumps(tree).encode(), {"Content-Type": "application/json"})
        elif path.startswith("/api/models/acme/tiny"):
            record = {"id": "acme/tiny", "modelId": "acme/tiny", "sha": self.sha,
                      "siblings": [{"rfilename": f} for f in files]}  # fmt: skip
            self._send(200, json.dumps(record).encode(), {"Content-Type": "application/json"})
        elif path.startswith("/acme/tiny/resolve/"):
            name = path.rsplit("/", 1)[-1]
            body = (self.folder / name).read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            self._send(200, body, {"X-Repo-Commit": self.sha, "ETag": f'"{digest}"'})
        else:
            self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})


@pytest.fixture
def fake_hub(text_model, tmp_path, monkeypatch):
    folder = model_copy(text_model.folder, tmp_path / "served", card([{**SENTIMENT, "value": 0.99}],
                                                                      pipeline_tag="text-classification"))  # fmt: skip
    (folder / "pytorch_model.bin").write_bytes(b"a pickle that must not be downloaded")
    _FakeHub.folder = folder
    _FakeHub.requested = []
    with handler_server(_FakeHub) as endpoint:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)  # read at import time
        yield endpoint


def test_a_repo_id_is_downloaded_from_the_endpoint_without_its_pickles(fake_hub, sentiment_test, tmp_path):
    options = VerifyOptions(dataset=str(sentiment_test), dataset_name="sentiment", endpoint=fake_hub,
                            cache_dir=tmp_path / "cache")  # fmt: skip
    result = verify_model("acme/tiny", options)
    assert (result.model_source, result.sha) == ("hub", "d" * 40)
    assert result.verdict == "discrepancy"  # the served card claims 0.99
    downloaded = {p.rsplit("/", 1)[-1] for p in _FakeHub.requested if "/resolve/" in p}
    assert "model.safetensors" in downloaded and "README.md" in downloaded
    assert "pytorch_model.bin" not in downloaded
    # Now cached: found again with the endpoint unreachable.
    again = verify_model("acme/tiny", replace(options, endpoint="http://127.0.0.1:9", offline=True))
    assert again.model_source == "hf-cache" and again.measured == result.measured


def test_an_interrupted_snapshot_run_keeps_what_it_measured(text_model, sentiment_test, tmp_path, capsys,
                                                             monkeypatch):  # fmt: skip
    import ptmscope.verify.run as run_module

    db = tmp_path / "store.duckdb"
    readme = card([{**SENTIMENT, "value": 0.99}], pipeline_tag="text-classification")
    _snapshot(db, {"acme/first": ("a" * 40, readme), "acme/second": ("b" * 40, readme)})
    cache = tmp_path / "hub"
    for name in ("first", "second"):
        _cache_model(cache, f"acme/{name}", "a" * 40, model_copy(text_model.folder, tmp_path / name, readme))
    real = run_module.run_loaded

    def interrupt_second(source, *args, **kwargs):
        if source.repo_id == "acme/second":
            raise KeyboardInterrupt
        return real(source, *args, **kwargs)

    monkeypatch.setattr(run_module, "run_loaded", interrupt_second)
    code, _ = run_main(["verify", "--snapshot", "hub", "--task", "text-classification", "--dataset",
                        str(sentiment_test), "--dataset-name", "sentiment", "--cache-dir", str(cache), "--offline",
                        "--db", str(db)], capsys)  # fmt: skip
    assert code == 130  # click reports the interrupt as "Aborted."
    with Store(db) as store:
        assert store.query("SELECT repo_id, verdict FROM verifications") == [("acme/first", "discrepancy")]


def test_unusable_heads_and_images_are_clear_errors(text_model, image_model, sentiment_test, tmp_path, capsys):
    multi = model_copy(text_model.folder, tmp_path / "multi", None)
    config = json.loads((multi / "config.json").read_text())
    (multi / "config.json").write_text(json.dumps({**config, "problem_type": "multi_label_classification"}))
    code, out = run_main(["verify", str(multi), "--dataset", str(sentiment_test), "--no-store"], capsys)
    assert code == 2 and "multi-label classifier" in out.err

    broken = tmp_path / "broken.parquet"
    rows = [{"image": {"bytes": b"not an image", "path": None}, "label": "red"}]
    pq.write_table(pa.Table.from_pylist(rows), broken)
    code, out = run_main(["verify", str(image_model.folder), "--dataset", str(broken), "--no-store"], capsys)
    assert code == 2 and "row 0: cannot decode the image" in out.err and "Traceback" not in out.err
