"""The language and score-range facets on the bundled Feb-2022 Hub: counts as plain SQL and ``select`` give them,
and URLs that round-trip (every facet value's URL selects exactly the models its count promised)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.selection.engine import ISO_639_1
from ptmscope.web.query import FACETS, SCORE_RANGES, ModelQuery

# The definitions written out again, independently of web/index.py's SQL: what select --language matches (the
# card's languages, the Hub's ISO 639-1 tags, the API's cardData.language, lower-cased; empty ones are none) ...
LANGUAGES_SQL = """
WITH declared AS (
    SELECT repo_id, lower(l) AS l FROM (SELECT repo_id, unnest(languages) AS l FROM cards WHERE snapshot_id = $sid)
    UNION SELECT repo_id, lower(tag) FROM model_tags WHERE snapshot_id = $sid AND list_contains($iso, tag)
    UNION SELECT repo_id, lower(l) FROM (
        SELECT repo_id, unnest(json_extract_string(card_data, '$.language[*]')) AS l FROM models
        WHERE snapshot_id = $sid AND json_type(card_data, '$.language') = 'ARRAY')
    UNION SELECT repo_id, lower(json_extract_string(card_data, '$.language')) FROM models
        WHERE snapshot_id = $sid AND json_type(card_data, '$.language') = 'VARCHAR'),
kept AS (SELECT DISTINCT repo_id, l FROM declared WHERE l IS NOT NULL AND trim(l) <> ''
         AND repo_id IN (SELECT repo_id FROM models WHERE snapshot_id = $sid))
SELECT l, count(*) FROM kept GROUP BY l
UNION ALL
SELECT 'none', count(*) FROM models WHERE snapshot_id = $sid AND repo_id NOT IN (SELECT repo_id FROM kept)
"""
# ... and a score's range: [0, 2), [2, 4), [4, 6), [6, 8), [8, 10], none without a score in the latest audit --all run.
SCORES_SQL = """
WITH run AS (SELECT max(run_id) AS id FROM audit_runs WHERE snapshot_id = $sid AND scope = 'snapshot'),
s AS (SELECT repo_id, max(score) AS score FROM scores WHERE run_id = (SELECT id FROM run) AND attribute = $attribute
      GROUP BY repo_id)
SELECT CASE WHEN s.score IS NULL THEN 'none' WHEN s.score >= 0 AND s.score < 2 THEN '0-2'
            WHEN s.score >= 2 AND s.score < 4 THEN '2-4' WHEN s.score >= 4 AND s.score < 6 THEN '4-6'
            WHEN s.score >= 6 AND s.score < 8 THEN '6-8' WHEN s.score >= 8 AND s.score <= 10 THEN '8-10'
            ELSE 'out of range' END, count(*)
FROM models m LEFT JOIN s USING (repo_id) WHERE m.snapshot_id = $sid GROUP BY 1
"""
SCORE_FACETS = [f"score_{a}" for a in ATTRIBUTES]


@pytest.fixture(scope="module")
def store_sql(feb_db):
    con = duckdb.connect(str(feb_db), read_only=True)
    yield lambda sql, params: dict(con.execute(sql, params).fetchall())
    con.close()


def test_every_language_count_equals_the_sql(feb_client, feb_explorer, store_sql):
    sid = feb_explorer.snapshot.snapshot_id
    expected = store_sql(LANGUAGES_SQL, {"sid": sid, "iso": sorted(ISO_639_1)})
    counts = dict(feb_explorer.index.counts("language"))
    assert counts == expected  # every value, not only the page's top 12
    assert counts["en"] > 5_000 and counts["none"] > 15_000 and len(counts) > 100
    facet = feb_client.get("/api/models").json()["facets"]["language"]
    assert facet["label"] == "Language"
    assert [(v["value"], v["count"]) for v in facet["values"]] == sorted(expected.items(), key=lambda kv: -kv[1])[:12]


@pytest.mark.parametrize("language", ["en", "fr", "multilingual"])
def test_a_language_selects_the_models_select_language_keeps(feb_client, language):
    selection = feb_client.get(f"/api/select?language={language}&top=1").json()["selection"]
    assert selection["candidates"] == 29_432
    models = feb_client.get(f"/api/models?language={language}").json()
    assert models["total"] == selection["eligible"] > 0
    assert all(language in row["languages"] for row in models["results"])


def test_every_score_range_count_equals_the_sql_and_the_study(feb_client, feb_explorer, store_sql):
    sid = feb_explorer.snapshot.snapshot_id
    study = feb_client.get("/api/study").json()["study"]["measurements"]["scores"]
    assert study["run_id"] == feb_explorer.run_id is not None
    for attribute in ATTRIBUTES:
        expected = {v: n for v, n in store_sql(SCORES_SQL, {"sid": sid, "attribute": attribute}).items() if n}
        counts = dict(feb_explorer.index.counts(f"score_{attribute}"))
        assert counts == expected, attribute
        assert set(counts) <= {name for name, _, _ in SCORE_RANGES} | {"none"}
        summary = study["overall"][attribute]  # the study's count of scored models: every range but none
        assert sum(n for v, n in counts.items() if v != "none") == summary["scored"], attribute
        assert counts.get("none", 0) == 29_432 - summary["scored"], attribute
        facet = feb_client.get("/api/models").json()["facets"][f"score_{attribute}"]
        assert facet["label"] == f"{attribute.capitalize()} score"
        assert {v["value"]: v["count"] for v in facet["values"]} == counts
    assert dict(feb_explorer.index.counts("score_reproducibility"))["none"] == 1_034  # inconclusive scores


@pytest.mark.parametrize(
    ("minimum", "ranges"), [(8, ["8-10"]), (6, ["6-8", "8-10"]), (2, ["2-4", "4-6", "6-8", "8-10"])]
)
def test_a_range_holds_its_lower_end_as_select_min_score_does(feb_client, minimum, ranges):
    selection = feb_client.get(f"/api/select?min_documentation={minimum}&top=1").json()["selection"]
    query = "&".join(f"score_documentation={r}" for r in ranges)
    assert feb_client.get(f"/api/models?{query}").json()["total"] == selection["eligible"] > 0


def test_scores_on_a_range_boundary_go_to_the_range_above(feb_explorer):
    table = feb_explorer.index.table
    seen = set()
    for attribute in ATTRIBUTES:
        scores = table.column(f"score_{attribute}").to_pylist()
        ranges = table.column(f"score_range_{attribute}").to_pylist()
        for score, shown in zip(scores, ranges, strict=True):
            if score in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0):
                seen.add(score)
                assert shown == ("8-10" if score == 10.0 else f"{score:.0f}-{score + 2:.0f}"), (attribute, score)
    assert {0.0, 10.0} <= seen  # the data has scores on the ends


def _values(doc: dict, facet: str) -> list[dict]:
    return doc["facets"][facet]["values"]


STARTS = ["/models", "/models?q=bert", "/models?language=en&score_security=8-10",
          "/models?task=translation&score_documentation=0-2&score_documentation=8-10"]  # fmt: skip


@pytest.mark.parametrize("start", STARTS)
def test_every_new_facet_values_url_round_trips(feb_client, start):
    doc = feb_client.get("/api" + start).json()
    before = ModelQuery.from_params(parse_qsl(urlsplit(start).query))
    for facet in ["language", *SCORE_FACETS]:
        for value in _values(doc, facet):
            url = value["url"]
            query = ModelQuery.from_params(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            assert query.url() == url  # the URL is the query's own, canonical: shareable as it stands
            assert (value["value"] in query.selected(facet)) != value["selected"]
            assert before.toggled(facet, value["value"]) == query
            clicked = feb_client.get("/api" + url).json()
            assert clicked["url"] == url and clicked["query"]["facets"] == {k: list(v) for k, v in query.facets}
            if value["selected"]:  # unselecting it
                if len(before.selected(facet)) == 1:  # the other filters alone
                    assert clicked["total"] >= doc["total"], url
                elif facet.startswith("score_"):  # one range less: a model has one score per attribute
                    assert clicked["total"] == doc["total"] - value["count"], url
                continue
            again = {v["value"]: v for v in _values(clicked, facet)}[value["value"]]
            assert again["selected"] and again["url"] == before.url()  # and its link takes it back off
            if before.selected(facet):  # another value of a facet already chosen: OR'ed with it
                assert clicked["total"] >= max(doc["total"], value["count"]), url
            else:  # a value of a facet not chosen yet: its count is the total there
                assert clicked["total"] == value["count"], url


def test_the_models_page_shows_the_new_facets(feb_client):
    plain = feb_client.get("/models").text
    assert 'id="facet-language"' in plain and 'data-facet="language" data-value="en"' in plain
    assert '<details class="facet-group" id="score-facets">' in plain  # collapsed while no score is selected
    for facet in SCORE_FACETS:
        assert f'id="facet-{facet}"' in plain
    page = feb_client.get("/models?score_security=8-10&language=fr").text
    assert '<details class="facet-group" id="score-facets" open>' in page
    assert 'class="facet-value selected" data-facet="score_security" data-value="8-10"' in page
    assert 'class="facet-value selected" data-facet="language" data-value="fr"' in page
    assert "security score: 8-10" in page and "language: fr" in page
    section = plain[plain.index('id="facet-score_documentation"') :]
    section = section[: section.index("</section>")]
    shown = [s.split('"')[0] for s in section.split('data-value="')[1:]]
    assert shown == ["0-2", "2-4", "4-6", "6-8", "8-10"]  # the ranges in order, not by count (the JSON's order)
    by_count = [v["value"] for v in feb_client.get("/api/models").json()["facets"]["score_documentation"]["values"]]
    assert by_count != shown and sorted(by_count) == shown


def test_the_facets_are_documented_and_listed():
    from ptmscope.web.app import API_ENDPOINTS
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    for facet in ["language", "score_<attribute>"]:
        assert f"| `{facet}` |" in doc and facet in API_ENDPOINTS["/api/models"]
    assert set(FACETS) >= {"language", *SCORE_FACETS}
    assert "0-2" in doc and "lower end" in doc
