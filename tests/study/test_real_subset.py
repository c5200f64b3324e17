"""The study on ten real Feb-2022 Hub models, each figure checked by hand against the records.

The records are read from the bundled sample at test time (not copied): see the
comments for why each number is what it is.
"""

from __future__ import annotations

import gzip
import json

import pytest

from ptmscope.importer import import_paths
from ptmscope.sample import sample_paths
from ptmscope.studies.run import run_study

IDS = [
    "bert-base-uncased",  # README listed, card absent from the dump: claims unknown
    "distilgpt2",
    "09panesara/distilbert-base-uncased-finetuned-cola",  # the only model-index with a value
    "SpanBERT/spanbert-large-cased",  # the paper's example of a popular model with no card
    "facebook/wav2vec2-base-960h",
    "dslim/bert-base-NER",
    "Jtisch7/bertFinancialSent",  # its README is UTF-16 bytes (the dump read them as UTF-8): "hello"
    "osanseviero/test_tag",  # broken YAML front matter
    "007J/smile",  # no README; the card dump holds the scraper's error message
    "Helsinki-NLP/opus-mt-zh-en",
]


@pytest.fixture
def subset(store, tmp_path):
    infos, cards, _ = sample_paths()
    paths = []
    for source, key in ((infos, "modelId"), (cards, "modelId")):
        out = tmp_path / source.name.replace(".gz", "")
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            lines = [line for line in handle if json.loads(line)[key] in IDS]
        out.write_text("".join(lines), encoding="utf-8")
        paths.append(out)
    snap = import_paths(store, paths, "subset").snapshot
    return run_study(store, snap).data


def test_counts_and_cards(subset):
    ov = subset["measurements"]["overview"]
    assert subset["models"] == 10
    assert ov["with_readme"] == 8  # SpanBERT and 007J/smile list no README.md
    assert ov["cards"] == {"ok": 5, "no_metadata": 1, "missing": 1, "yaml_error": 1}  # UTF-16 read as text


def test_claims(subset):
    # Every task but text-classification has no model with claims, so it folds into "other"
    # (the paper's rule: under 0.1% of the task's own models claim).
    assert subset["claims_by_task"] == {
        "text-classification": {"with_claims": 1, "total": 2, "claims_unknown": 0, "text_only": 0},
        # facebook/wav2vec2-base-960h's "Result (WER)" table of clean/other counts since 2026-12-03 (was 2)
        "other": {"with_claims": 0, "total": 8, "claims_unknown": 1, "text_only": 3},
    }


def test_downloads(subset):
    total = 11591148 + 18362368 + 7 + 120102 + 352977 + 211932 + 404 + 0 + 0 + 4434794
    assert subset["measurements"]["downloads"]["total"] == total
    assert subset["top1pct_download_share"] == pytest.approx(18362368 / total)


def test_datasets_architectures_licences_formats(subset):
    ms = subset["measurements"]
    assert ms["datasets"]["declaring"] == 5 and ms["datasets"]["categories"] == 6
    assert subset["models_per_architecture"] == {"bert": 4, "distilbert": 1, "gpt2": 1, "marian": 1, "wav2vec2": 1}
    assert ms["licenses"]["counts"] == {"apache-2.0": 5, "mit": 1}
    assert ms["weight_formats"]["exclusive"]["pickle_only"] == 7
    assert ms["weight_formats"]["exclusive"]["other_formats_only"] == 1  # Jtisch7: tf_model.h5 only
    assert ms["weight_formats"]["exclusive"]["no_weight_files"] == 2
