"""Every route of ``ptmscope serve`` and its JSON twin, on the bundled Feb-2022 Hub (read-only)."""

from __future__ import annotations

import json

import pytest

from ptmscope.web.app import CSP
from ptmscope.web.query import ModelQuery

MODEL = "dslim/bert-base-NER"


def test_root_redirects_to_models(feb_client):
    response = feb_client.get("/", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "/models"


@pytest.mark.parametrize(
    "path",
    ["/models", "/models?q=bert&task=fill-mask", f"/models/{MODEL}", "/study", "/select",
     "/select?task=token-classification&license=permissive", f"/compare?m={MODEL}&m=gpt2", "/models/nope/nope",
     "/static/app.css", "/static/app.js", f"/badge/security/{MODEL}", "/api", "/api/models"],
)  # fmt: skip
def test_every_response_carries_the_security_headers(feb_client, path):
    response = feb_client.get(path)
    assert response.status_code in (200, 404)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    if response.headers["content-type"].startswith("text/html"):
        page = response.text
        assert "<script>" not in page and " style=" not in page and "<style" not in page  # nothing inline
        assert 'src="/static/app.js"' in page and 'href="/static/app.css"' in page
        assert "http://" not in page.replace("http://127.0.0.1", "") or path.startswith("/models/")


def test_models_page_and_its_json_twin_give_the_same_data(feb_client):
    url = "/models?q=bert&task=fill-mask&format=pickle&sort=likes"
    page = feb_client.get(url)
    doc = feb_client.get("/api" + url).json()
    assert page.status_code == 200
    assert doc["query"] == {"q": "bert", "facets": {"task": ["fill-mask"], "format": ["pickle"]}, "cards": False,
                            "sort": "likes", "page": 1, "per": 30, "ignored": []}  # fmt: skip
    assert doc["snapshot"]["name"] == "hub-2022-02" and doc["models"] == 29_432
    assert 0 < doc["total"] < 29_432 and len(doc["results"]) == 30
    assert all("bert" in r["repo_id"].lower() and r["task"] == "fill-mask" for r in doc["results"])
    likes = [r["likes"] or 0 for r in doc["results"]]
    assert likes == sorted(likes, reverse=True)
    assert f'<strong id="total">{doc["total"]:,}</strong>' in page.text
    for r in doc["results"][:5]:
        assert f'href="/models/{r["repo_id"]}"' in page.text
    assert doc["next"] == "/models?" + "q=bert&task=fill-mask&format=pickle&sort=likes&page=2"
    second = feb_client.get("/api" + doc["next"]).json()
    assert second["page"] == 2 and second["total"] == doc["total"]
    assert not {r["repo_id"] for r in second["results"]} & {r["repo_id"] for r in doc["results"]}


def test_facet_links_toggle_one_value_and_keep_the_rest_of_the_query(feb_client):
    doc = feb_client.get("/api/models?q=bert&task=fill-mask").json()
    task = {v["value"]: v for v in doc["facets"]["task"]["values"]}["fill-mask"]
    assert task["selected"] and task["url"] == "/models?q=bert"  # clicking a selected value removes it
    library = doc["facets"]["library"]["values"][0]
    assert not library["selected"]
    assert library["url"] == f"/models?q=bert&task=fill-mask&library={library['value']}"
    narrowed = feb_client.get("/api" + library["url"]).json()
    assert narrowed["total"] == library["count"]


def test_a_bad_query_falls_back_to_defaults_and_says_what_it_ignored():
    query = ModelQuery.from_params([("page", "-3"), ("per", "100000"), ("sort", "evil;"), ("x", "1"), ("q", "a " * 50)])
    assert (query.page, query.per, query.sort, query.ignored) == (1, 100, "downloads", ("x",))
    assert len(query.words) == 8


def test_model_page_shows_the_stored_audit_and_the_json_twin_the_same(feb_client):
    page = feb_client.get(f"/models/{MODEL}")
    doc = feb_client.get(f"/api/models/{MODEL}").json()
    assert page.status_code == 200 and doc["repo_id"] == MODEL
    audit = doc["audit"]
    assert audit["schema"] == "ptmscope.audit/1" and audit["audit_source"]["kind"] == "stored"
    assert set(audit["scores"]) == {"provenance", "reproducibility", "portability", "documentation", "popularity",
                                    "maintenance", "security"}  # fmt: skip
    assert len(audit["findings"]) >= 40
    for attribute, s in audit["scores"].items():
        assert f"<td>{attribute}</td>" in page.text
        if s["score"] is not None:
            assert f"{s['score']:.1f} / 10" in page.text
    failed = [f for f in audit["findings"] if f["outcome"] == "false"]
    assert failed and all(f["evidence"] for f in failed)
    assert failed[0]["evidence"] in page.text.replace("&#39;", "'").replace("&amp;", "&")
    assert "Fix: " in page.text and "Risks (STRIDE)" in page.text
    assert [f["path"] for f in doc["files"]][:1] and "pytorch_model.bin" in {f["path"] for f in doc["files"]}
    assert doc["card"]["available"] and "<h1" in doc["card"]["html"]  # the bundled card, rendered
    assert doc["model"]["pipeline_tag"] == "token-classification"


def test_explain_computes_the_audit_with_evidence_and_the_same_scores(feb_client):
    stored = feb_client.get(f"/api/models/{MODEL}").json()["audit"]
    computed = feb_client.get(f"/api/models/{MODEL}?explain=1").json()["audit"]
    assert computed["audit_source"]["kind"] == "computed"
    scores = {a: s["score"] for a, s in computed["scores"].items()}
    assert scores == {a: s["score"] for a, s in stored["scores"].items()}
    true = [f for f in computed["findings"] if f["outcome"] == "true"]
    assert true and any(f["evidence"] for f in true)  # audit --all keeps no evidence for true outcomes; this does


def test_model_page_lineage_and_unknown_models(feb_client):
    doc = feb_client.get("/api/models/distilgpt2").json()
    assert doc["audit"]["lineage"]["descendants"] >= 0
    missing = feb_client.get("/api/models/nobody/nothing")
    assert missing.status_code == 404 and "not in snapshot hub-2022-02" in missing.json()["error"]
    page = feb_client.get("/models/nobody/nothing")
    assert page.status_code == 404 and "not in snapshot" in page.text


def test_study_page_bars_and_json(feb_client):
    doc = feb_client.get("/api/study").json()
    keys = [f["key"] for f in doc["figures"]]
    assert keys[0] == "fig7" and {"tasks", "libraries", "licenses", "license_classes", "formats", "datasets",
                                  "architectures", "flagged", "fig1"} <= set(keys)  # fmt: skip
    assert doc["study"]["schema"] == "ptmscope.study/1" and doc["study"]["models"] == 29_432
    page = feb_client.get("/study").text
    for figure in doc["figures"]:
        assert f'id="fig-{figure["key"]}"' in page
        for bar in figure["bars"]:
            assert bar["href"] is None or f'href="{bar["href"].replace("&", "&amp;")}"' in page


def test_select_form_gives_selects_shortlist(feb_client):
    empty = feb_client.get("/api/select").json()
    assert empty["selection"] is None
    url = "/select?task=token-classification&license=permissive&format=pytorch&min_security=5&top=5"
    doc = feb_client.get("/api" + url).json()["selection"]
    assert doc["schema"] == "ptmscope.select/1" and doc["audit_run"] is not None
    assert doc["requirements"]["task"] == "token-classification" and doc["requirements"]["formats"] == ["pytorch"]
    assert 0 < doc["eligible"] < doc["candidates"] and len(doc["shortlist"]) == 5
    assert all(c["scores"]["security"] >= 5 for c in doc["shortlist"])
    page = feb_client.get(url).text
    assert f'<strong id="eligible">{doc["eligible"]:,}</strong>' in page
    bad = feb_client.get("/api/select?min_security=eleven")
    assert bad.status_code == 400 and "min_security must be a number" in bad.json()["error"]
    assert feb_client.get("/select?min_security=11").status_code == 400  # select's own validation


def test_compare_up_to_four(feb_client):
    doc = feb_client.get(f"/api/compare?m={MODEL}&m=gpt2").json()
    assert [m["repo_id"] for m in doc["compared"]] == [MODEL, "gpt2"]
    assert set(doc["compared"][0]["scores"]) >= {"security", "documentation"}
    assert feb_client.get("/api/compare?" + "&".join(f"m=x/{i}" for i in range(5))).status_code == 400
    assert feb_client.get("/compare?m=nobody/nothing").status_code == 400


def test_downloads_and_badges(feb_client):
    sarif = feb_client.get(f"/download/audit.sarif/{MODEL}")
    assert sarif.status_code == 200 and json.loads(sarif.text)["version"] == "2.1.0"
    assert "attachment" in sarif.headers["content-disposition"]
    bom = json.loads(feb_client.get(f"/download/bom.cdx.json/{MODEL}").text)
    assert bom["bomFormat"] == "CycloneDX"
    audit = json.loads(feb_client.get(f"/download/audit.json/{MODEL}").text)
    assert audit["model"]["repo_id"] == MODEL and audit["audit_source"]["kind"] == "stored"
    badge = feb_client.get(f"/badge/security/{MODEL}")
    assert badge.headers["content-type"].startswith("image/svg+xml") and "<script" not in badge.text
    assert feb_client.get(f"/badge/nonsense/{MODEL}").status_code == 404
    assert feb_client.get(f"/download/evil.exe/{MODEL}").status_code == 404


def test_api_index_lists_the_endpoints(feb_client):
    doc = feb_client.get("/api").json()
    assert set(doc["endpoints"]) == {"/api/models", "/api/models/{repo_id}", "/api/study", "/api/select",
                                     "/api/compare"}  # fmt: skip
