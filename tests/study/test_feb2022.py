"""The whole bundled Feb-2022 snapshot (29,432 models), end to end through the CLI.

The figures below were computed twice: by ptmscope, and by an independent pure-Python
pass over the raw files (json + yaml.safe_load, no ptmscope code); the test keeps the
second implementation so a regression in either shows.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter

import pytest
import yaml
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.sample import sample_paths
from tests.conftest import copy_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(feb2022_pristine, tmp_path_factory):
    db = copy_of(feb2022_pristine, tmp_path_factory, "feb2022")
    result = CliRunner().invoke(cli, ["study", "--db", str(db), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_model_count_and_top_share(study):
    assert study["models"] == 29_432
    assert study["snapshot"]["name"] == "hub-2022-02" and study["snapshot"]["source"] == "bundled"
    assert study["top1pct_download_share"] == pytest.approx(0.952792996254437)
    assert study["measurements"]["downloads"]["population"] == 29_220


def test_claims_for_the_five_largest_tasks(study):
    # The strict definition (a dataset, a named metric, a numeric value), folded the paper's way.
    assert study["definition"] == "strict"
    expected = {
        "text-classification": (306, 3091),
        "fill-mask": (4, 2369),
        "text2text-generation": (68, 2236),
        "automatic-speech-recognition": (562, 1477),
    }
    got = {t: (v["with_claims"], v["total"]) for t, v in study["claims_by_task"].items() if t in expected}
    assert got == expected
    assert "text-generation" in study["measurements"]["claims"]["folded"]  # 1 of 3,935 claims: under 0.1%
    assert study["claims_by_task"]["other"] == {
        "with_claims": 6,
        "total": 15676,
        "claims_unknown": 867,
        # a "4.3 GB" training-data cell is no longer read as a result; 2026-12-03: +28 models whose cards report
        # results in classification reports, blank-header tables or lower-case benchmark columns (was 378);
        # 2026-12-03 later: +2 (a bare row of numbers with its metric in the caption, arrow-marked improvements),
        # then +2 (a metric's "score of" in prose, printed dicts of metrics)
        "text_only": 410,
    }


def test_top_datasets_and_architectures(study):
    # Declared in metadata, tags or the card's text: 966 Helsinki-NLP cards say "dataset: opus" in their text.
    assert list(study["models_per_dataset"].items())[:5] == [
        ("opus", 966),
        ("wikipedia", 536),
        ("common_voice", 532),
        ("bookcorpus", 235),
        ("c4", 217),
    ]
    lineage = study["measurements"]["lineage"]
    # Feb-2022 had no base_model metadata: the text names them (75 more since "[X](hub link) finetuned" and
    # training scripts' from_pretrained were read, 2026-12-03)
    assert lineage["declared_in"] == {"text": 6_144}
    assert next(iter(lineage["top_bases"].items())) == ("gpt2", 2_707)
    assert list(study["models_per_architecture"].items())[:5] == [
        ("gpt2", 4853),
        ("bert", 4391),
        ("roberta", 1754),
        ("t5", 1574),
        ("marian", 1481),
    ]


def test_npm_and_pypi_from_the_artifact(study):
    registries = study["measurements"]["downloads"]["registries"]
    assert registries["pypi"]["population"] == 52_795
    assert registries["npm"]["population"] == 136
    assert registries["huggingface"]["population"] == 6_701


def _front_matter(text: str):
    # The Hub's rule until January 2023: the first '---' line anywhere opens the block.
    match = re.search(r"(?:^|\n|\r)---[ \t]*[\r\n]+(.*?)[\r\n]+---[ \t]*(?:[\r\n]|$)", text, re.S)
    if not match:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _number(value) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    text = str(value).strip().rstrip("%").strip()
    return bool(re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text)) and math.isfinite(float(text))


def _has_claim(meta) -> bool:
    """Strict: some metric of some entry names a dataset and a metric and holds a number."""
    index = meta.get("model-index") if meta else None
    for entry in index if isinstance(index, list) else [index] if isinstance(index, dict) else []:
        results = entry.get("results") if isinstance(entry, dict) else None
        for result in [results] if isinstance(results, dict) else results if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            dataset = result.get("dataset")
            named = (isinstance(dataset, str) and dataset.strip()) or (
                isinstance(dataset, dict)
                and any(
                    isinstance(dataset.get(k), str | int | float) and str(dataset.get(k)).strip()
                    for k in ("type", "name")
                )
            )
            metrics = result.get("metrics")
            for metric in [metrics] if isinstance(metrics, dict) else metrics if isinstance(metrics, list) else []:
                if (
                    isinstance(metric, dict)
                    and named
                    and _number(metric.get("value"))
                    and any(isinstance(metric.get(k), str) and metric[k].strip() for k in ("type", "name"))
                ):
                    return True
    return False


def test_an_independent_implementation_agrees(study):
    infos, cards, _ = sample_paths()
    with gzip.open(infos, "rt", encoding="utf-8") as handle:
        models = [json.loads(line) for line in handle]
    with gzip.open(cards, "rt", encoding="utf-8") as handle:
        metas = {c["modelId"]: _front_matter(c["readme"]) for c in map(json.loads, handle)}
    total, with_claims = Counter(), Counter()
    for model in models:
        total[model.get("pipeline_tag")] += 1
        with_claims[model.get("pipeline_tag")] += _has_claim(metas.get(model["modelId"]))
    for task, values in study["claims_by_task"].items():
        if task != "other":
            assert (values["with_claims"], values["total"]) == (with_claims[task], total[task]), task
    assert study["measurements"]["claims"]["models_with_claims"] == sum(with_claims.values())
    downloads = sorted((m["downloads"] for m in models if m.get("downloads") is not None), reverse=True)
    top = downloads[: math.ceil(len(downloads) * 0.01)]
    assert study["top1pct_download_share"] == pytest.approx(sum(top) / sum(downloads))
