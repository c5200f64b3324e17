"""The model pages' lineage walk in memory (``web.family``) = the audit's recursive SQL (``audits.lineage``).

tests/web/test_index.py compares the two over the bundled Feb-2022 snapshot, whose families hold no licence
conflict and no flagged base; here random graphs hold everything the walk must get right: licence conflicts
on either side of an edge, flagged and unrecorded bases, diamonds (one edge reached by two paths), cycles,
self-loops, duplicate edges with different relations, licence ids in odd case and spacing, unknown downloads.
"""

from __future__ import annotations

import itertools
import json
import random

import duckdb
import pyarrow as pa
import pytest

from ptmscope.audits.lineage import MAX_DEPTH, lineage
from ptmscope.checks import licenses
from ptmscope.web.family import MAX_PATHS, Family

LICENCES = ["apache-2.0", " MIT ", "cc-by-nc-4.0", "CC-BY-NC-4.0", "cc-by-nd-4.0", "gpl-3.0", "cc-by-sa-4.0",
            "openrail", "llama2", "other", "made-up", "", "  ", "İnvalid", "apache-2.0:extra",
            "cc-by-nc-nd-4.0"]  # fmt: skip
STATUSES = [None, "{}", '{"filesWithIssues": []}', '{"filesWithIssues": [{"path": "x.bin"}]}',
            '{"filesWithIssues": "x"}', '{"scansDone": true}']  # fmt: skip
RELATIONS = [None, "finetune", "adapter", "quantized", "merge"]


def _graph(rng: random.Random, size: int) -> dict[str, list[tuple]]:
    """A random snapshot: models (some only named by edges), edges, licences."""
    names = [f"org{rng.randint(0, 3)}/m-{i}" for i in range(size)] + ["Z/upper", "a/ü", "a/A"]
    recorded = [n for n in names if rng.random() < 0.85]
    edges = []
    for child in names:
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3])):
            base = rng.choice(names) if rng.random() < 0.97 else child  # now and then a self-loop
            edges.append((child, base, rng.choice(RELATIONS)))
            if rng.random() < 0.1:  # the same edge again, maybe with another relation
                edges.append((child, base, rng.choice(RELATIONS)))
    models = [(n, rng.choice([None, *range(0, 50, 7)]), rng.choice(STATUSES)) for n in recorded]
    licence_rows = [(n, rng.choice(LICENCES)) for n in names for _ in range(rng.choice([0, 1, 1, 2]))]
    return {"models": models, "base_models": edges, "model_licenses": licence_rows}


def _store(graph: dict[str, list[tuple]]) -> duckdb.DuckDBPyConnection:
    """The graph as a store's tables (snapshot 1) and as the audit scope's ``a_*`` views, licence macros installed."""
    con = duckdb.connect()
    con.execute("CREATE TABLE models (snapshot_id INT, repo_id VARCHAR, downloads BIGINT, security_status JSON)")
    con.execute("CREATE TABLE base_models (snapshot_id INT, repo_id VARCHAR, base_model VARCHAR, relation VARCHAR)")
    con.execute("CREATE TABLE model_licenses (snapshot_id INT, repo_id VARCHAR, license VARCHAR)")
    for table, rows in graph.items():
        if rows:
            marks = ", ".join("?" * (len(rows[0]) + 1))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", [(1, *row) for row in rows])
        con.execute(f"CREATE VIEW a_{table} AS SELECT * EXCLUDE (snapshot_id) FROM {table} WHERE snapshot_id = 1")
    licenses.install(con)
    return con


@pytest.mark.parametrize("seed", range(12))
def test_the_walk_in_memory_equals_the_recursive_sql(seed):
    rng = random.Random(seed)
    graph = _graph(rng, rng.choice([8, 20, 40]))
    con = _store(graph)
    family = Family.read(con, 1)
    names = sorted({n for edge in graph["base_models"] for n in edge[:2]} | {"nobody/none"})
    issues = 0
    for repo_id in names:
        expected = lineage(con, repo_id)
        assert family.lineage(repo_id) == expected, repo_id
        issues += bool(expected.warnings)
    assert issues  # conflicts or flagged bases were among those compared


def test_conflicts_flags_and_diamonds_are_carried_as_the_sql_carries_them():
    # d derives from b and c, both from a (a diamond: a's edges are reached by two paths); a is non-commercial,
    # b is permissive (a conflict on b -> a), a's files are flagged, e is named by an edge only.
    graph = {
        "models": [("d", 5, None), ("b", 3, None), ("c", None, None),
                   ("a", 1, json.dumps({"filesWithIssues": [{"path": "evil.pkl"}]}))],
        "base_models": [("d", "b", "finetune"), ("d", "c", None), ("b", "a", "finetune"), ("c", "a", "adapter"),
                        ("a", "e", None), ("c", "c", None)],
        "model_licenses": [("d", "mit"), ("b", "MIT"), ("c", "cc-by-nc-4.0"), ("a", " CC-BY-NC-4.0 "), ("e", "mit")],
    }  # fmt: skip
    con = _store(graph)
    family = Family.read(con, 1)
    for repo_id in ("a", "b", "c", "d", "e"):
        assert family.lineage(repo_id) == lineage(con, repo_id), repo_id
    found = family.lineage("d")
    assert [(link.depth, link.child, link.base) for link in found.ancestors] == [
        (1, "d", "b"), (1, "d", "c"), (2, "b", "a"), (2, "c", "a"), (3, "a", "e"), (3, "a", "e")]  # fmt: skip
    assert found.ancestors[2].issue == (
        "the Hub flagged files in it; licence conflict with b: mit allows commercial use, but the base model's "
        "cc-by-nc-4.0 does not"
    )
    assert found.ancestors[3].issue == "the Hub flagged files in it"  # c is non-commercial too: no conflict
    assert not found.ancestors[4].in_snapshot and found.ancestors[4].base_licenses == ["mit"]
    assert [child for child, _, _ in family.lineage("a").children] == ["b", "c"]  # b: 3 downloads, c: unknown
    assert family.lineage("e").descendants == 4


def test_a_chain_longer_than_max_depth_is_cut_where_the_sql_cuts_it():
    chain = [f"m/{i:02d}" for i in range(MAX_DEPTH + 5)]
    edges = [(child, base, None) for child, base in itertools.pairwise(chain)]
    graph = {"models": [(n, 1, None) for n in chain], "base_models": edges, "model_licenses": []}
    con = _store(graph)
    family = Family.read(con, 1)
    assert family.lineage(chain[0]) == lineage(con, chain[0])
    assert max(link.depth for link in family.lineage(chain[0]).ancestors) == MAX_DEPTH
    assert family.lineage(chain[-1]).descendants == MAX_DEPTH == lineage(con, chain[-1]).descendants


def test_the_family_holds_no_store_rows_it_was_not_given():
    empty = {"repo_id": pa.array([], pa.string())}
    family = Family(
        pa.table({**empty, "base_model": pa.array([], pa.string()), "relation": pa.array([], pa.string())}),
        pa.table({**empty, "downloads": pa.array([], pa.int64()), "security_status": pa.array([], pa.string()),
                  "flagged": pa.array([], pa.bool_())}),
        pa.table({**empty, "license": pa.array([], pa.string())}),
        pa.table({**empty, "base_model": pa.array([], pa.string()), "conflict": pa.array([], pa.string())}),
    )  # fmt: skip
    assert family.lineage("any/model") == lineage(_store({"models": [], "base_models": [], "model_licenses": []}),
                                                  "any/model")  # fmt: skip


def test_a_lattice_of_a_million_paths_up_stops_at_the_bound_and_says_so():
    # ten layers of four models, each deriving from all four of the layer above: 4**10 paths up from the bottom
    layers = [[f"l{depth}/m{i}" for i in range(4)] for depth in range(MAX_DEPTH + 1)]
    edges = [(child, base, None) for below, above in itertools.pairwise(layers) for child in below for base in above]
    models = [(name, 1, None) for layer in layers for name in layer]
    family = Family.read(_store({"models": models, "base_models": edges, "model_licenses": []}), 1)
    found = family.lineage("l0/m0")
    assert len(found.ancestors) == MAX_PATHS
    assert [link.depth for link in found.ancestors] == sorted(link.depth for link in found.ancestors)
    assert found.warnings[-1] == (f"more than {MAX_PATHS:,} paths lead up from this model: the first {MAX_PATHS:,} "
                                  "(nearest first) are listed")  # fmt: skip
    small = family.lineage("l7/m0")  # 4 + 16 + 64 paths: under the bound, all of them, as the query gives
    assert len(small.ancestors) == 84 and not small.warnings
