"""The study page: another snapshot beside the served one (``?compare=``), and the figures the paper's reader
expects (audit score ranges, card sections, evaluation datasets, base models, discrepancies), each bar's link
selecting its models. On a store holding the bundled Feb-2022 Hub and the April-2025 sample."""

from __future__ import annotations

import copy
import json
import shutil
import threading
import time

import pytest
from click.testing import CliRunner

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.cli.main import cli
from ptmscope.errors import SnapshotNotFoundError
from ptmscope.web import explorer as explorer_module
from ptmscope.web.explorer import _Once
from ptmscope.web.study_page import study_figures

from .conftest import ERA, FEB

COMPARED = {"licenses": "licenses", "formats": "weight_formats", "datasets": "models_per_dataset",
            "architectures": "models_per_architecture", "fig7": "claims_by_task"}  # fmt: skip
"""Figures with the comparison document's section holding the same shares (``ptmscope study --compare``)."""


def _cli_json(db, tmp_path, *args: str) -> dict:
    copied = tmp_path / "copy.duckdb"
    shutil.copyfile(db, copied)
    result = CliRunner().invoke(cli, ["study", "--db", str(copied), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _without_seconds(study: dict) -> dict:
    return {k: v for k, v in study.items() if k != "seconds"}


@pytest.fixture(scope="module")
def compared(eras_client) -> dict:
    response = eras_client.get(f"/api/study?compare={ERA}")
    assert response.status_code == 200
    return response.json()


def test_the_compared_numbers_are_what_ptmscope_study_prints(eras_db, compared, tmp_path):
    other = compared["compare"]
    assert other["snapshot"]["name"] == ERA and other["models"] == 2_057
    assert _without_seconds(other["study"]) == _without_seconds(_cli_json(eras_db, tmp_path, "--snapshot", ERA))
    assert other["comparison"] == _cli_json(eras_db, tmp_path, "--snapshot", FEB, "--compare", ERA)
    assert other["comparison"]["schema"] == "ptmscope.study-compare/2"
    assert compared["study"]["snapshot"]["name"] == FEB and compared["snapshot"]["name"] == FEB


def test_figures_both_studies_hold_show_both_snapshots_bars_as_their_shares(compared):
    comparison = compared["compare"]["comparison"]
    figures = {f["key"]: f for f in compared["figures"]}
    assert next(iter(figures)) == "headline"
    for key, section in COMPARED.items():
        figure = figures[key]
        assert figure["compared"], key
        checked = 0
        for bar in figure["bars"]:
            row = comparison[section].get(bar["label"])
            if row is None:  # "(none declared)", "other": not in the comparison's sections
                continue
            for side, shown in (("a", bar), ("b", bar["compare"])):
                if row[side] is None:  # not among that study's listed values: "–" (this snapshot's: its facet count)
                    assert shown is None or side == "a", (key, bar["label"])
                    continue
                assert shown is not None, (key, bar["label"], side)
                assert shown["share"] == pytest.approx(row[side]["share"]), (key, bar["label"], side)
                checked += 1
        assert checked >= 4, key
        widths = [b["width"] for b in figure["bars"]] + [b["compare"]["width"] for b in figure["bars"] if b["compare"]]
        assert max(widths) == 100 and min(widths) >= 0  # one scale of shares for both snapshots
    for bar in figures["headline"]["bars"]:
        row = next(r for r in comparison["headline"].values() if r["label"] == bar["label"])
        assert (bar["share"], bar["compare"]["share"]) == (row["a"]["share"], row["b"]["share"])
    safetensors = {b["label"]: b for b in figures["formats"]["bars"]}["safetensors"]
    assert safetensors["value"] == 0 and safetensors["compare"]["value"] == 1_328  # 2025's, none in 2022
    for key in ("tasks", "libraries", "languages", "scores-security", "fig1"):
        assert not figures[key]["compared"] and all("compare" not in b for b in figures[key]["bars"]), key


def test_the_served_snapshots_bars_still_lead_to_its_models(eras_client, compared):
    checked = 0
    for figure in compared["figures"]:
        for bar in figure["bars"]:
            if bar["href"] and bar["href"].startswith("/models?") and figure["key"] != "fig7":
                total = eras_client.get("/api" + bar["href"]).json()["total"]
                assert total == bar["value"], (figure["key"], bar["label"])
                checked += 1
            assert not bar.get("compare") or "href" not in bar["compare"]  # the other snapshot is not served
    assert checked > 60
    fig7 = next(f for f in compared["figures"] if f["key"] == "fig7")
    bar = next(b for b in fig7["bars"] if b["label"] == "token-classification")
    assert eras_client.get("/api" + bar["href"]).json()["total"] == int(bar["text"].split(" / ")[0].replace(",", ""))


def test_the_page_shows_both_snapshots_and_a_picker(eras_client, compared):
    page = eras_client.get(f"/study?compare={ERA}").text
    assert f"beside <code>{ERA}</code>" in page
    assert '<form class="picker" method="get" action="/study">' in page
    assert f'<option value="{ERA}" selected>' in page and '<option value="">(no other snapshot)</option>' in page
    for figure in compared["figures"]:
        assert f'id="fig-{figure["key"]}"' in page
    assert page.count('class="bar other"') == sum(len(f["bars"]) for f in compared["figures"] if f["compared"])
    assert "1,328 · 67.1%" in page  # the sample's safetensors models, beside Feb 2022's none
    plain = eras_client.get("/study").text
    assert f'<option value="{ERA}">' in plain and 'class="bar other"' not in plain
    assert eras_client.get("/api/study").json()["snapshots"] == [
        {"name": ERA, "status": "complete", "taken_at": "2025-04-26T00:00:00+00:00", "notes": compared["compare"]
         ["snapshot"]["notes"]}]  # fmt: skip


def test_a_store_with_one_snapshot_has_no_picker(feb_client):
    assert feb_client.get("/api/study").json()["snapshots"] == []
    assert 'class="picker"' not in feb_client.get("/study").text


def test_an_unknown_or_the_served_snapshot_is_a_clear_error(eras_client):
    api = eras_client.get("/api/study?compare=no-such-snapshot")
    assert api.status_code == 404
    assert api.json() == {"error": f"no snapshot named 'no-such-snapshot' in the store (available: {FEB}, {ERA})",
                          "status": 404}  # fmt: skip
    page = eras_client.get("/study?compare=no-such-snapshot")
    assert page.status_code == 404 and "no snapshot named &#39;no-such-snapshot&#39;" in page.text
    same = eras_client.get(f"/api/study?compare={FEB}")
    assert same.status_code == 400 and "is the snapshot served" in same.json()["error"]
    assert eras_client.get(f"/study?compare={FEB}").status_code == 400
    assert eras_client.get("/api/study?compare=").json()["compare"] is None  # the picker's "no other snapshot"


def test_a_compared_study_is_computed_once(eras_explorer, monkeypatch):
    runs = []
    real = explorer_module.run_study

    def counted(store, snapshot, **kwargs):
        runs.append(snapshot.name)
        return real(store, snapshot, **kwargs)

    eras_explorer.study()  # the served snapshot's study, computed once per server
    monkeypatch.setattr(explorer_module, "run_study", counted)
    eras_explorer._compared = _Once(explorer_module.STUDY_CACHE)  # forget what the other tests computed
    docs = []
    threads = [threading.Thread(target=lambda: docs.append(eras_explorer.study(ERA))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    docs.append(eras_explorer.study(ERA))
    assert runs == [ERA]  # four requests at once and one after: one study of the sample (the served one was kept)
    assert all(d["compare"] is docs[0]["compare"] for d in docs)
    with pytest.raises(SnapshotNotFoundError, match="no snapshot named"):
        eras_explorer.study("no-such-snapshot")
    assert runs == [ERA]


def test_once_computes_each_key_once_and_keeps_no_failure():
    calls = []

    def slow(key):
        calls.append(key)
        time.sleep(0.05)
        if key == "bad":
            raise ValueError(key)
        return [key]

    once = _Once(2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(once.get("a", lambda: slow("a")))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["a"] and all(r is results[0] for r in results)
    for _ in range(2):
        with pytest.raises(ValueError):
            once.get("bad", lambda: slow("bad"))
    assert calls == ["a", "bad", "bad"]  # a failure is not kept: asked again, tried again
    once.get("b", lambda: slow("b"))
    once.get("c", lambda: slow("c"))
    once.get("a", lambda: slow("a"))
    assert calls[-1] == "a"  # only the last two kept


# -- the figures a reader of the paper expects ---------------------------------------------------------------


@pytest.fixture(scope="module")
def feb_study(feb_client) -> dict:
    return feb_client.get("/api/study").json()


def _figure(doc: dict, key: str) -> dict:
    return next(f for f in doc["figures"] if f["key"] == key)


def test_each_score_range_bar_leads_to_as_many_models(feb_client, feb_study):
    for attribute in ATTRIBUTES:
        figure = _figure(feb_study, f"scores-{attribute}")
        assert figure["source"] == "index" and "audit run" in figure["note"] and "median" in figure["note"]
        assert [b["label"] for b in figure["bars"]][:5] == ["0-2", "2-4", "4-6", "6-8", "8-10"]
        assert sum(b["value"] for b in figure["bars"]) == 29_432
        for bar in figure["bars"]:
            assert bar["href"].startswith(f"/models?score_{attribute}=")
            assert feb_client.get("/api" + bar["href"]).json()["total"] == bar["value"], (attribute, bar["label"])
    no_score = _figure(feb_study, "scores-reproducibility")["bars"][-1]
    assert no_score["label"] == "(no score)" and no_score["value"] == 1_034


def test_card_sections_documentation_evaluation_bases_and_discrepancies(feb_client, feb_study):
    ms = feb_study["study"]["measurements"]
    sections = _figure(feb_study, "card-sections")
    filled = {name.replace("_", " "): v["filled"] for name, v in ms["card_sections"]["sections"].items()}
    assert {b["label"]: b["value"] for b in sections["bars"]} == filled
    assert sections["bars"][0]["label"] == "training" and all(b["href"] is None for b in sections["bars"])
    assert sections["bars"][0]["share"] == pytest.approx(filled["training"] / ms["card_sections"]["text_cards"])
    documentation = {b["label"]: b["value"] for b in _figure(feb_study, "documentation")["bars"]}
    assert documentation["hyper-parameters"] == ms["documentation"]["hyperparameters"] == 4_365
    evaluation = _figure(feb_study, "fig6-eval")
    assert {b["label"]: b["value"] for b in evaluation["bars"]}["conll2003"] == ms["eval_datasets"]["counts"][
        "conll2003"
    ]
    without = evaluation["bars"][-1]
    assert without["label"] == "(models without claims)" and without["href"] == "/models?claims=no"
    assert feb_client.get("/api/models?claims=no").json()["total"] == without["value"] == 28_333
    bases = _figure(feb_study, "bases")
    assert bases["bars"][0]["label"] == "gpt2" and bases["bars"][0]["value"] == 2_707
    assert bases["bars"][0]["href"] == "/models/gpt2" and feb_client.get("/models/gpt2").status_code == 200
    discrepancies = _figure(feb_study, "discrepancies")  # the bundled snapshot was never verified: the study says so
    assert discrepancies["bars"] == [] and "ptmscope verify" in discrepancies["note"]
    top = _figure(feb_study, "fig1")
    assert "top 1% of models hold 95.3%" in top["note"]
    page = feb_client.get("/study").text
    for key in ("card-sections", "documentation", "fig6-eval", "bases", "discrepancies", "scores-security"):
        assert f'id="fig-{key}"' in page
    assert "not measured in this snapshot: run &#39;ptmscope verify&#39;" in page
    assert page.count("counted over the index of this snapshot") == sum(
        1 for f in feb_study["figures"] if f["source"] == "index"
    )


def test_discrepancies_once_verify_has_run(feb_study, feb_explorer):
    data = copy.deepcopy(feb_study["study"])
    data["measurements"]["discrepancies"] = {
        "models": 3, "verifications": 10, "consistent": 6, "discrepancy": 3, "overclaimed": 2, "no_matching_claim": 1,
        "failed": 0, "discrepancy_rate": 1 / 3, "median_gap": 0.012, "mean_abs_gap": 0.02, "at_snapshot_revision": 8,
        "by_dataset": [],
    }  # fmt: skip
    figure = _figure({"figures": study_figures(data, feb_explorer.index)}, "discrepancies")
    assert [(b["label"], b["value"]) for b in figure["bars"]] == [
        ("consistent", 6),
        ("discrepancy", 3),
        ("of which overclaimed", 2),
        ("no matching claim", 1),
        ("failed", 0),
    ]
    assert figure["bars"][1]["share"] == pytest.approx(0.3)
    assert "discrepancy rate 33.3%" in figure["note"] and "10 checks of 3 models" in figure["note"]
