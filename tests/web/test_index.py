"""The in-memory index against the SQL it stands for, on the bundled Feb-2022 Hub.

Search, facets and sorting run as array work (``web.index``), lineage over the part of the base-model
graph a model reaches (``web.family``), model pages within each model's ``rowid`` spans (``web.locate``).
Each is held here to the plain SQL over the whole rows: the queries the index replaced, ``audits.lineage``
over whole tables, the model page without spans.
"""

from __future__ import annotations

import random
from collections import Counter
from urllib.parse import urlencode

import duckdb
import numpy as np
import pytest

from ptmscope.audits.lineage import MAX_CHILDREN, lineage
from ptmscope.checks import licenses
from ptmscope.store.store import Store
from ptmscope.web import index as index_module
from ptmscope.web.arrays import entries, ranges
from ptmscope.web.family import EDGES_SQL
from ptmscope.web.index import FACET_TOP, ModelIndex
from ptmscope.web.locate import Spans
from ptmscope.web.query import FACETS, SORTS, ModelQuery

# -- the SQL the index replaced: filters, GROUP BY counts with the top values, ORDER BY SORTS ---------------


def _where(query: ModelQuery, cards: bool) -> tuple[str, dict]:
    conditions, params = [], {}
    for i, word in enumerate(query.words):
        params[f"w{i}"] = word
        in_card = f" OR repo_id IN (SELECT repo_id FROM card_text WHERE contains(lowered, $w{i}))" if cards else ""
        conditions.append(f"(contains(lower(repo_id), $w{i}){in_card})")
    for name, values in query.facets:
        column, is_list, _ = FACETS[name]
        params[f"f_{name}"] = list(values)
        conditions.append(f"list_has_any({column}, $f_{name})" if is_list else f"list_contains($f_{name}, {column})")
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def _facets_sql(where: str) -> str:
    parts = ["SELECT '_total' AS facet, '' AS value, count(*) AS n FROM f"]
    for name, (column, is_list, _) in FACETS.items():
        source = f"(SELECT unnest({column}) AS v FROM f)" if is_list else f"(SELECT {column} AS v FROM f)"
        parts.append(f"SELECT '{name}', v, count(*) FROM {source} GROUP BY v")
    union = "\nUNION ALL ".join(parts)
    return (
        f"WITH f AS MATERIALIZED (SELECT * FROM idx{where}), g AS ({union})\n"
        "SELECT facet, value, n FROM g\n"
        "QUALIFY facet = '_total' OR row_number() OVER (PARTITION BY facet ORDER BY n DESC, value) <= $top\n"
        "    OR list_contains($selected, facet || '=' || value)\n"
        "ORDER BY facet, n DESC, value"
    )


@pytest.fixture(scope="module")
def oracle(feb_explorer):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # the rows as plain values (VARCHAR, VARCHAR[]), as the index's SQL gave them
    con.register("_rows", feb_explorer.index.table)
    casts = ", ".join(f"{c}::VARCHAR{'[]' if is_list else ''} AS {c}" for c, is_list, _ in FACETS.values())
    con.execute(f"CREATE TABLE idx AS SELECT * REPLACE ({casts}) FROM _rows")
    cards = feb_explorer.cards
    con.execute("CREATE TABLE card_text (repo_id VARCHAR, lowered VARCHAR)")
    con.executemany("INSERT INTO card_text VALUES (?, ?)", [(k, v.lower()) for k, v in cards.items()])
    yield con
    con.close()


def _sql_page(con, query: ModelQuery, cards: bool):
    where, params = _where(query, cards)
    selected = [f"{name}={value}" for name, values in query.facets for value in values]
    facets = {name: [] for name in FACETS}
    total = 0
    bound = {**params, "top": FACET_TOP, "selected": selected}
    for facet, value, n in con.execute(_facets_sql(where), bound).fetchall():
        if facet == "_total":
            total = n
        else:
            facets[facet].append((str(value), int(n)))
    result = con.execute(
        f"SELECT * FROM idx{where} ORDER BY {SORTS[query.sort]} LIMIT $per OFFSET $off",
        {**params, "per": query.per, "off": (query.page - 1) * query.per},
    )
    names = [d[0] for d in result.description]
    return total, facets, [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _queries(index: ModelIndex, count: int) -> list[ModelQuery]:
    rng = random.Random(16)
    values = {name: [v for v, _ in index.counts(name)] for name in FACETS}
    words = ["bert", "gpt", "base", "-en", "xx", "t5", "2", "helsinki", "facebook/", "üb", "distil"]
    fixed = ["", "q=bert&task=fill-mask", "q=bert+base&format=pickle&sort=likes&page=2", "license_class=permissive"
             "&license_class=copyleft&sort=security", "flagged=hub", "claims=yes&task=text-classification&per=100",
             "q=nothing-matches-this", "task=no-such-task", "sort=id&page=400", "cards=1&q=wikipedia&dataset=none",
             "q=model&cards=1&sort=documentation&page=3"]  # fmt: skip
    out = [ModelQuery.from_params(p.split("=", 1) for p in f.split("&") if p) for f in fixed]
    for _ in range(count):
        params = [("q", " ".join(rng.sample(words, rng.randint(1, 2))))] if rng.random() < 0.6 else []
        params += [("cards", "1")] if rng.random() < 0.2 else []
        for name in rng.sample(sorted(FACETS), rng.randint(0, 3)):
            pool = values[name]
            params += [(name, rng.choice([*pool[:6], *pool[-3:], "absent"])) for _ in range(rng.randint(1, 2))]
        params += [("sort", rng.choice(list(SORTS))), ("page", str(rng.choice([1, 1, 2, 7]))),
                   ("per", str(rng.choice([30, 100, 3])))]  # fmt: skip
        out.append(ModelQuery.from_params(params))
    return out


def test_search_facets_and_pages_equal_the_sql(feb_explorer, oracle):
    index = feb_explorer.index
    for query in _queries(index, 150):
        page = index.page(query)
        total, facets, rows = _sql_page(oracle, query, query.cards)
        assert page.total == total, query
        assert page.facets == facets, query
        assert page.rows == rows, query
        assert index.page(query) == page  # again, from the caches


def test_whole_snapshot_counts_and_rows_equal_the_sql(feb_explorer, oracle):
    index = feb_explorer.index
    for name, (column, is_list, _) in FACETS.items():
        source = f"(SELECT unnest({column}) AS v FROM idx)" if is_list else f"(SELECT {column} AS v FROM idx)"
        expected = oracle.execute(f"SELECT v, count(*) AS n FROM {source} GROUP BY v ORDER BY n DESC, v").fetchall()
        assert index.counts(name) == [(str(v), int(n)) for v, n in expected], name
    for repo_id in ("gpt2", "dslim/bert-base-NER", "Helsinki-NLP/opus-mt-en-de"):
        result = oracle.execute("SELECT * FROM idx WHERE repo_id = ?", [repo_id])
        names = [d[0] for d in result.description]
        assert index.row(repo_id) == dict(zip(names, result.fetchall()[0], strict=True))
    assert index.row("nobody/nothing") is None and index.row("") is None and index.row("\U0010ffff") is None
    assert index.spans("nobody/nothing") is None


def test_a_models_lists_are_sorted(feb_explorer):
    for row in feb_explorer.index.table.slice(0, 2000).to_pylist():
        for column in ("licenses", "license_classes", "datasets"):
            assert row[column] == sorted(row[column])


def test_caches_are_bounded_and_never_change_an_answer(feb_explorer, oracle, monkeypatch):
    index = feb_explorer.index
    monkeypatch.setattr(index_module, "WORD_CACHE", 2)
    monkeypatch.setattr(index_module, "FACET_CACHE", 3)
    index._word_cache.clear()  # the caches are bounded as entries are added
    index._facet_cache.clear()
    queries = [ModelQuery.from_params(p) for p in (
        [("q", "bert")], [("q", "bert"), ("task", "fill-mask")], [("q", "bert"), ("format", "pickle")],
        [("q", "gpt")], [("q", "gpt"), ("sort", "likes"), ("page", "2")], [("q", "bert"), ("task", "fill-mask")],
        [("q", "bert")], [("q", "roberta base")], [("task", "fill-mask")], [("q", "bert")],
    )]  # fmt: skip
    for query in queries * 2:  # a search narrowed by a facet must not narrow the cached words' matches
        page = index.page(query)
        total, facets, rows = _sql_page(oracle, query, False)
        assert (page.total, page.facets, page.rows) == (total, facets, rows), query
        assert len(index._word_cache) <= 2 and len(index._facet_cache) <= 3


# -- lineage over the model's part of the graph = audits.lineage over the whole tables -----------------------


@pytest.fixture(scope="module")
def whole_graph(feb_db, feb_explorer):
    con = duckdb.connect()
    with Store(feb_db, read_only=True) as store:
        sid = feb_explorer.snapshot.snapshot_id
        for name, sql in {
            "a_models": "SELECT repo_id, downloads, security_status FROM models WHERE snapshot_id = $sid",
            "a_model_licenses": "SELECT repo_id, license FROM model_licenses WHERE snapshot_id = $sid",
            "a_base_models": EDGES_SQL,
        }.items():
            table = store.con.sql(sql, params={"sid": sid}).to_arrow_table()
            con.register("_t", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _t")
            con.unregister("_t")
        bases = store.con.execute("SELECT base_model, count(*) AS n FROM base_models WHERE snapshot_id = ?"
                                  " GROUP BY 1 ORDER BY n DESC, 1", [sid]).fetchall()  # fmt: skip
        children = store.con.execute("SELECT DISTINCT repo_id FROM base_models WHERE snapshot_id = ? ORDER BY 1",
                                     [sid]).fetchall()  # fmt: skip
    licenses.install(con)
    yield con, [b for b, _ in bases], [c for (c,) in children]
    con.close()


def test_lineage_equals_the_whole_graphs(feb_explorer, whole_graph):
    con, bases, children = whole_graph
    rng = random.Random(7)
    models = [*bases[:40], *rng.sample(bases, 60), *rng.sample(children, 150), "gpt2", "distilgpt2", "nobody/nothing"]
    seen = Counter()
    for repo_id in models:
        expected = lineage(con, repo_id)
        assert feb_explorer.index.lineage(repo_id) == expected, repo_id
        seen["deep"] += len({link.depth for link in expected.ancestors}) > 1
        seen["licences"] += any(link.base_licenses for link in expected.ancestors)
        seen["outside"] += any(not link.in_snapshot for link in expected.ancestors)
        seen["children"] += len(expected.children) == MAX_CHILDREN
    # chains of two or more levels, base licences, bases outside the snapshot, capped derivative lists compared
    # (conflicts and flagged bases: tests/web/test_family.py, as this snapshot's families hold none)
    assert all(seen[k] for k in ("deep", "licences", "outside", "children")), seen


# -- model pages within their spans = the same pages reading whole tables ------------------------------------


@pytest.mark.parametrize("repo_id", ["dslim/bert-base-NER", "gpt2", "distilgpt2", "bert-base-uncased"])
def test_a_model_page_within_its_spans_equals_the_page_without(feb_explorer, repo_id, monkeypatch):
    located = feb_explorer._model(repo_id, False, feb_explorer.index.spans(repo_id))
    assert located is not None and located["audit"]["audit_source"]["kind"] == "stored"
    assert located["files"] and located["audit"]["findings"]
    whole = feb_explorer._model(repo_id, False, Spans.everywhere())
    drop = ("created_at",)  # when the document was made
    assert {k: v for k, v in located["audit"].items() if k not in drop} == {
        k: v for k, v in whole["audit"].items() if k not in drop
    }
    assert {k: v for k, v in located.items() if k != "audit"} == {k: v for k, v in whole.items() if k != "audit"}


def test_spans_the_store_no_longer_matches_read_whole_tables(feb_explorer):
    repo_id = "dslim/bert-base-NER"
    spans = feb_explorer.index.spans(repo_id)
    assert spans is not None and spans.expected["findings"] > 40 and spans.expected["models"] == 1
    expected = feb_explorer._model(repo_id, False, spans)
    assert not spans.moved and spans.seen["findings"] == spans.expected["findings"]
    for table in ("findings", "model_files", "models"):
        lo, hi = spans.spans[table]
        moved = Spans({**spans.spans, table: (lo + 1, hi + 1)}, spans.expected)  # as after a compaction
        doc = feb_explorer._model(repo_id, False, moved)
        assert moved.moved, table
        assert doc is not None and doc["files"] == expected["files"] and doc["model"] == expected["model"]
        assert doc["audit"]["findings"] == expected["audit"]["findings"]
    other = feb_explorer.index.spans("gpt2")  # another model's spans: nothing of this one in them
    assert other is not None
    doc = feb_explorer._model(repo_id, False, Spans(other.spans, other.expected))
    assert doc is not None and doc["audit"]["scores"] == expected["audit"]["scores"]


@pytest.mark.parametrize("value", ["bert base", "é/ü+x&y=z", "cc-by-4.0", "=?#%~._-", "\u202etxt", "a\u0000b", ""])
def test_model_urls_encode_as_urlencode(value):
    query = ModelQuery.from_params([("q", value), ("task", value), ("license", "mit"), ("license", value)])
    assert query.url() == ("/models?" + urlencode(query.params()) if query.params() else "/models")


def test_entries_are_the_entries_ranges_gives_with_one_entry_each_or_several():
    rng = np.random.default_rng(3)
    for lengths in (np.ones(500, dtype=np.int64), rng.integers(0, 4, 500)):
        starts = np.concatenate([[0], np.cumsum(lengths)])
        rows = np.sort(rng.choice(500, 120, replace=False))
        assert np.array_equal(entries(starts, rows), ranges(starts, rows)[0])
