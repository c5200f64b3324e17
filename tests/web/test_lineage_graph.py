"""The model page's lineage drawing: the right family and links, hostile ids escaped, a huge family bounded."""

from __future__ import annotations

import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from ptmscope.audits.lineage import MAX_DEPTH
from ptmscope.importer import import_paths
from ptmscope.store.store import Store
from ptmscope.web.app import create_app
from ptmscope.web.family import Family
from ptmscope.web.lineage_graph import PER_LEVEL, lineage_graph

from .conftest import HOSTILE_IDS
from .test_hostile import _live_problems

CHAIN = "AKulk/wav2vec2-base-timit-epochs10"
BASE, GRANDBASE = "AKulk/wav2vec2-base-timit-epochs5", "facebook/wav2vec2-lv-60-espeak-cv-ft"
DERIVATIVE = "AKulk/wav2vec2-base-timit-epochs15"
CONFLICT = "jonatasgrosman/wav2vec2-large-fr-voxpopuli-french"
GHOST = "evil/<script>alert(9)</script>"  # a base no record has: a model id with '<' is refused, a tag's is kept


class _Svg(HTMLParser):
    """The drawing's nodes (class, data-repo, href), edges (class) and texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[dict[str, str]] = []
        self.edges: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag in ("a", "g") and "node" in found.get("class", "").split():
            self.nodes.append(found | {"tag": tag})
        if tag == "path":
            self.edges.append(found["class"])

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def drawing(page: str) -> _Svg:
    found = re.search(r'<svg class="lineage-graph".*?</svg>', page, re.S)
    assert found, "no lineage drawing"
    parser = _Svg()
    parser.feed(found.group(0))
    return parser


def test_a_model_with_a_known_base_draws_its_bases_and_derivatives(feb_client):
    doc = feb_client.get(f"/api/models/{CHAIN}").json()
    graph = doc["lineage_graph"]
    assert [(level["level"], level["label"], [n["repo_id"] for n in level["nodes"]], level["more"])
            for level in graph["levels"]] == [
        (-2, "2 levels up", [GRANDBASE], 0), (-1, "base models", [BASE], 0), (0, "this model", [CHAIN], 0),
        (1, "derivatives", [DERIVATIVE], 0),
    ]  # fmt: skip
    assert {(e["child"], e["base"]) for e in graph["edges"]} == {(BASE, GRANDBASE), (CHAIN, BASE), (DERIVATIVE, CHAIN)}
    # the drawing agrees with the lineage section (the audit's) it sits on
    lineage = doc["audit"]["lineage"]
    assert {(a["child"], a["base"]) for a in lineage["ancestors"]} == {(CHAIN, BASE), (BASE, GRANDBASE)}
    assert [c["repo_id"] for c in lineage["children"]] == [DERIVATIVE]
    page = feb_client.get(f"/models/{CHAIN}").text
    svg = drawing(page)
    links = {n["data-repo"]: n.get("href") for n in svg.nodes}
    assert links == {GRANDBASE: f"/models/{GRANDBASE}", BASE: f"/models/{BASE}", CHAIN: None,
                     DERIVATIVE: f"/models/{DERIVATIVE}"}  # fmt: skip
    current = [n for n in svg.nodes if "current" in n["class"].split()]
    assert [n["data-repo"] for n in current] == [CHAIN] and current[0]["tag"] == "g"  # highlighted, not a link
    assert svg.edges == ["edge", "edge", "edge"]
    assert {"2 levels up", "base models", "this model", "derivatives"} <= set(svg.texts)
    assert page.index('<svg class="lineage-graph"') > page.index('<section id="lineage">')
    assert _live_problems(page) == []
    for href in filter(None, links.values()):  # every link leads to that model's page
        assert feb_client.get(href).status_code == 200


def test_an_inherited_licence_conflict_is_marked(feb_client):
    doc = feb_client.get(f"/api/models/{CONFLICT}").json()
    graph = doc["lineage_graph"]
    (edge,) = graph["edges"]
    assert "licence conflict" in edge["issue"] and edge["child"] == CONFLICT
    (node,) = graph["levels"][1]["nodes"]
    assert node["current"] and node["inherited"] == [f"{edge['base']}: {edge['issue']}"]
    svg = drawing(feb_client.get(f"/models/{CONFLICT}").text)
    assert svg.edges == ["edge risk"]
    assert {n["data-repo"]: n["class"] for n in svg.nodes} == {CONFLICT: "node current inherits",
                                                               edge["base"]: "node"}  # fmt: skip
    assert any("inherits: " in t and "licence conflict" in t for t in svg.texts)  # the tooltip says why
    assert "!" in svg.texts


def test_the_graph_matches_the_lineage_of_300_models(feb_explorer):
    family = feb_explorer.index._family
    bases = family._names.to_pylist()[:300]  # the first 300 models of the graph (bases and derivatives), by id
    checked = 0
    for repo_id in bases:
        lineage = feb_explorer.index.lineage(repo_id)
        generations = family.generations(repo_id, PER_LEVEL)
        assert generations is not None, repo_id
        below = sum(n for level, n in generations.totals.items() if level > 0)
        above = {a.base for a in lineage.ancestors}
        assert below == lineage.descendants, repo_id
        assert sum(n for level, n in generations.totals.items() if level < 0) == len(above), repo_id
        if 1 in generations.shown:  # the derivatives drawn: the lineage's first, most downloaded first
            assert [m.repo_id for m in generations.shown[1]] == [c[0] for c in lineage.children[:PER_LEVEL]], repo_id
        if -1 in generations.shown:
            direct = sorted({a.base for a in lineage.ancestors if a.depth == 1})
            assert sorted(m.repo_id for m in generations.shown[-1]) == direct[:PER_LEVEL] or len(direct) > PER_LEVEL
        checked += 1
    assert checked == 300


def test_a_huge_family_is_bounded(feb_client):
    doc = feb_client.get("/api/models/gpt2").json()
    graph = doc["lineage_graph"]
    derivatives = {level["level"]: level for level in graph["levels"]}[1]
    assert derivatives["total"] == 2_707 and len(derivatives["nodes"]) == PER_LEVEL and derivatives["more"] == 2_702
    children = doc["audit"]["lineage"]["children"]
    assert [n["repo_id"] for n in derivatives["nodes"]] == [c["repo_id"] for c in children[:PER_LEVEL]]
    page = feb_client.get("/models/gpt2").text
    assert "+2,702 more" in page and len(drawing(page).nodes) == 1 + PER_LEVEL


def test_a_synthetic_family_of_a_hundred_thousand_is_bounded():
    # one root with 20,000 derivatives, each with 4 of its own; above it a chain of 15 bases (MAX_DEPTH are walked)
    children = [f"c/{i:05d}" for i in range(20_000)]
    grandchildren = [f"g/{i:05d}-{j}" for i in range(20_000) for j in range(4)]
    chain = [f"up/{i:02d}" for i in range(15)]
    edges = ([(c, "root") for c in children] + [(g, f"c/{g[2:7]}") for g in grandchildren]
             + [("root", chain[0])] + list(itertools.pairwise(chain)))  # fmt: skip
    models = ["root", *children, *grandchildren, *chain]
    family = Family(
        pa.table({"repo_id": [c for c, _ in edges], "base_model": [b for _, b in edges],
                  "relation": pa.array([None] * len(edges), pa.string())}),
        pa.table({"repo_id": models, "downloads": list(range(len(models))),
                  "security_status": pa.array([None] * len(models), pa.string()), "flagged": [False] * len(models)}),
        pa.table({"repo_id": pa.array([], pa.string()), "license": pa.array([], pa.string())}),
        pa.table({"repo_id": pa.array([], pa.string()), "base_model": pa.array([], pa.string()),
                  "conflict": pa.array([], pa.string())}),
    )  # fmt: skip
    generations = family.generations("root", PER_LEVEL)
    assert generations is not None
    assert generations.totals == {**{-i: 1 for i in range(MAX_DEPTH, 0, -1)}, 1: 20_000, 2: 80_000}
    assert [m.repo_id for m in generations.shown[1]] == children[::-1][:PER_LEVEL]  # most downloaded
    assert all(len(shown) <= PER_LEVEL for shown in generations.shown.values())
    # the grandchildren drawn hang from the children drawn
    drawn = {m.repo_id for m in generations.shown[1]}
    assert {g.repo_id[2:7] for g in generations.shown[2]} <= {c[2:] for c in drawn}
    graph = lineage_graph(generations, {"ancestors": []})
    assert graph is not None
    svg = graph["svg"]
    assert svg.count('class="node') == 1 + MAX_DEPTH + 2 * PER_LEVEL and len(svg) < 60_000
    assert "+19,995 more" in svg and "+79,995 more" in svg
    assert family.generations("nobody/nothing", PER_LEVEL) is None


# -- hostile ids -------------------------------------------------------------------------------------


def _hostile_lineage_store(folder: Path) -> Path:
    """Hostile ids in one family: HOSTILE_IDS[0] (files the Hub flagged) -> [1] -> [2], and [2] also derives from a
    base only a tag names, whose id carries a script."""
    first, second, third = HOSTILE_IDS
    bases = {first: [], second: [f"base_model:finetune:{first}"],
             third: [f"base_model:{second}", f"base_model:{GHOST}"]}  # fmt: skip
    rows = [
        {"id": repo_id, "downloads": 10 - i, "pipeline_tag": "text-classification",
         "tags": ["license:mit", *bases[repo_id]],
         "siblings": [{"rfilename": "README.md"}, {"rfilename": "pytorch_model.bin"}],
         **({"securityRepoStatus": {"filesWithIssues": [{"path": "pytorch_model.bin"}]}} if i == 0 else {})}
        for i, repo_id in enumerate(HOSTILE_IDS)
    ]  # fmt: skip
    listing = folder / "models.jsonl"
    listing.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    db = folder / "lineage.duckdb"
    with Store(db) as store:
        import_paths(store, [listing], "hostile-lineage", jobs=1)
    return db


@pytest.fixture(scope="module")
def hostile_lineage_client(tmp_path_factory):
    return TestClient(create_app(_hostile_lineage_store(tmp_path_factory.mktemp("lineage")), "hostile-lineage"))


@pytest.mark.parametrize("repo_id", HOSTILE_IDS)
def test_hostile_ids_in_a_graph_are_escaped(hostile_lineage_client, repo_id):
    response = hostile_lineage_client.get("/models/" + quote(repo_id, safe="/"))
    assert response.status_code == 200, response.text[:300]
    page = response.text
    assert _live_problems(page) == []  # no handler, script, javascript: URL, raw override
    svg = drawing(page)
    nodes = {n["data-repo"]: n for n in svg.nodes}
    visible = {i.replace("\u202e", "\\u202e") for i in HOSTILE_IDS}
    assert visible <= set(nodes), nodes.keys()  # the whole family, every id shown as text
    for name, node in nodes.items():
        if "href" in node:  # a link to the model's page: the id percent-encoded, nothing else
            assert node["href"].startswith("/models/") and re.fullmatch(r"/models/[A-Za-z0-9_.~/%-]+", node["href"])
            assert unquote(node["href"][len("/models/") :]).replace("\u202e", "\\u202e") == name
    ghost_page = repo_id == HOSTILE_IDS[2]
    if ghost_page:  # the base only a tag names: drawn, not a link, its script shown as text
        assert nodes[GHOST]["tag"] == "g" and "missing" in nodes[GHOST]["class"]
        assert "&lt;script&gt;alert(9)&lt;/script&gt;" in page and "<script>alert(9)" not in page
    assert "<script>alert" not in page.replace('<script src="/static/app.js" defer></script>', "")
    marked = {name: node["class"] for name, node in nodes.items()}
    assert "risk" in marked[HOSTILE_IDS[0]].split()  # the Hub flagged its files
    assert "inherits" in marked[HOSTILE_IDS[2]].split()  # and it is two levels up
