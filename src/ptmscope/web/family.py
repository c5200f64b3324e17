"""Lineage for the model pages: the snapshot's base-model graph in memory, a model's family in a millisecond.

``audits.lineage.lineage`` walks the graph with recursive SQL over the ``a_base_models``,
``a_models`` and ``a_model_licenses`` tables; over a whole snapshot's tables each walk scans
them all (~140 ms a model at 200,000 models), and even over the few rows a model's family
holds, planning the recursive query costs ~12 ms. Here the edges are held as integer arrays,
by child and by base, and the walk is the query's, step for step, in Python: every path up
(to ``MAX_DEPTH`` levels, no model twice on a path), the direct derivatives, the count of all
models below. What the walk cannot know from the graph alone is read once, when the server
starts, with the same SQL the audit uses (``audits.lineage.LICENCES_CTE`` and ``CONFLICT``, the
licence macros): each edge's licence conflict, each model's normalised licence ids and whether
the Hub flagged its files. ``audits.lineage.assemble`` turns the rows into a ``Lineage`` for
both. The answer is the one the whole tables give (tests/web/test_index.py compares the two
over models of the bundled Feb-2022 snapshot).

``Family.generations`` gives the same family by generation for the model page's drawing
(``web.lineage_graph``): the models first reached 1, 2, ... steps up and down (to ``MAX_DEPTH``),
how many each generation holds, and a bounded few of each (the most downloaded among those the
shown models of the generation before lead to), with the edges between the models shown.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ptmscope.audits.lineage import CONFLICT, LICENCES_CTE, MAX_CHILDREN, MAX_DEPTH, Lineage, UpRow, assemble
from ptmscope.web.arrays import distinct, ranges

# What ``audits.lineage`` reads, from the store: edges, and the records, licences and licence conflicts of the models
# on them. Each as the lineage query has it: licence ids normalised (trimmed, lower case, none blank), ``flagged`` as
# its expression, each edge's conflict by the licence macros (installed on the connection).
EDGES_SQL = "SELECT repo_id, base_model, relation FROM base_models WHERE snapshot_id = $sid"
_ON_GRAPH = (
    "repo_id IN (SELECT repo_id FROM base_models WHERE snapshot_id = $sid"
    " UNION SELECT base_model FROM base_models WHERE snapshot_id = $sid)"
)
MODELS_SQL = f"""
SELECT repo_id, downloads, security_status,
       coalesce(json_array_length(json_extract(security_status, '$.filesWithIssues')) > 0, false) AS flagged
FROM models WHERE snapshot_id = $sid AND {_ON_GRAPH}
"""
LICENSES_SQL = f"""
SELECT DISTINCT repo_id, lower(trim(license)) AS license FROM model_licenses
WHERE snapshot_id = $sid AND trim(license) <> '' AND {_ON_GRAPH}
"""
CONFLICTS_SQL = f"""
WITH a_base_models AS (SELECT * FROM base_models WHERE snapshot_id = $sid),
a_model_licenses AS (SELECT * FROM model_licenses WHERE snapshot_id = $sid),
edges AS (SELECT DISTINCT repo_id, base_model FROM a_base_models WHERE base_model <> repo_id),
{LICENCES_CTE.format(among="SELECT repo_id FROM edges UNION SELECT base_model FROM edges")}
SELECT e.repo_id, e.base_model, {CONFLICT} AS conflict
FROM edges e JOIN lic cl ON cl.repo_id = e.repo_id JOIN lic bl ON bl.repo_id = e.base_model
GROUP BY e.repo_id, e.base_model HAVING conflict IS NOT NULL
"""
MAX_PATHS = 10_000
"""Rows of ancestry a walk stops at (the recursive query has no such bound): paths up multiply only in a crafted
graph, every model with many bases; a lineage cut there says so in its warnings."""


class _Sorted(Sequence[str]):
    """A sorted Arrow string array as a sequence ``bisect`` can search."""

    def __init__(self, array: pa.StringArray) -> None:
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return str(self._array[i].as_py())


def find_sorted(names: pa.StringArray, name: str) -> int | None:
    """The position of ``name`` in ``names`` (sorted, byte order: DuckDB's and Python's), or None."""
    sequence = _Sorted(names)
    i = bisect.bisect_left(sequence, name)
    return i if i < len(sequence) and sequence[i] == name else None


def _grouped(keys: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(row numbers ordered by key, start of each key's rows): a CSR index of ``keys`` (-1: left out)."""
    kept = np.flatnonzero(keys >= 0)
    order = kept[np.argsort(keys[kept], kind="stable")].astype(np.int32)
    starts = np.zeros(groups + 1, dtype=np.int32)
    np.cumsum(np.bincount(keys[kept], minlength=groups), out=starts[1:])
    return order, starts


def _gather(order: np.ndarray, starts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The row numbers of every key in ``keys``, through a ``_grouped`` index."""
    return np.asarray(order[ranges(starts, keys)[0]])


def _node_ids(column: pa.ChunkedArray | pa.Array, names: pa.StringArray) -> np.ndarray:
    ids = pc.index_in(column, value_set=names)
    return np.asarray(pc.fill_null(ids, -1).to_numpy(zero_copy_only=False), dtype=np.int32)


@dataclass(frozen=True)
class Member:
    """A model of a family drawing: its id, and what the snapshot says of it."""

    repo_id: str
    downloads: int | None
    in_snapshot: bool
    """The model's own record is in the snapshot (else only an edge names it)."""
    security_status: str | None
    """The Hub's security status (JSON), as stored."""


@dataclass(frozen=True)
class Generations:
    """A model's family by generation: level -1 its bases, -2 theirs, ..., 1 its derivatives, 2 theirs, ..."""

    model: Member
    shown: dict[int, list[Member]] = field(default_factory=dict)
    """Level -> the models shown there, most downloaded first."""
    totals: dict[int, int] = field(default_factory=dict)
    """Level -> how many models are first reached at that level (shown or not)."""
    edges: list[tuple[str, str]] = field(default_factory=list)
    """(child, base) between models shown, the model included."""


class Family:
    """The snapshot's base-model graph: ``lineage`` of any model over only the rows it can reach.

    Held compactly: each model of the graph once (``_names``, sorted), edges and rows as its number.
    """

    def __init__(self, edges: pa.Table, models: pa.Table, licenses: pa.Table, conflicts: pa.Table) -> None:
        """The tables ``EDGES_SQL``, ``MODELS_SQL``, ``LICENSES_SQL`` and ``CONFLICTS_SQL`` give, in that order."""
        edges, models, licenses = edges.combine_chunks(), models.combine_chunks(), licenses.combine_chunks()
        ends = pa.chunked_array([*edges["repo_id"].chunks, *edges["base_model"].chunks], pa.string())
        names = pc.drop_null(pc.unique(ends.combine_chunks()))
        self._names: pa.StringArray = names.take(pc.sort_indices(names))
        count = len(self._names)
        self._child = _node_ids(edges["repo_id"], self._names)
        self._base = _node_ids(edges["base_model"], self._names)
        relation = pc.dictionary_encode(edges["relation"].combine_chunks())
        self._relation = np.asarray(pc.fill_null(relation.indices, -1).to_numpy(zero_copy_only=False), np.int32)
        self._relations: list[str] = relation.dictionary.to_pylist()
        model_nodes = _node_ids(models["repo_id"], self._names)
        self._models = pa.table({"node": model_nodes, "downloads": models["downloads"],
                                 "security_status": models["security_status"]})  # fmt: skip
        self._flagged = np.zeros(count, dtype=bool)
        self._flagged[model_nodes[(model_nodes >= 0) & models["flagged"].to_numpy(zero_copy_only=False)]] = True
        license_nodes = _node_ids(licenses["repo_id"], self._names)
        encoded = pc.dictionary_encode(licenses["license"].combine_chunks())
        self._licenses = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int32)
        self._licence_names: list[str] = encoded.dictionary.to_pylist()
        self._up = _grouped(self._child, count)  # a model's edges to its bases
        self._down = _grouped(self._base, count)  # a base's edges to its derivatives
        self._model_rows = _grouped(model_nodes, count)
        self._license_rows = _grouped(license_nodes, count)
        pairs = zip(_node_ids(conflicts["repo_id"], self._names).tolist(),
                    _node_ids(conflicts["base_model"], self._names).tolist(), conflicts["conflict"].to_pylist(),
                    strict=True)  # fmt: skip
        self._conflicts = {(child, base): str(reason) for child, base, reason in pairs}

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, snapshot_id: int) -> Family:
        """The graph of the snapshot ``snapshot_id`` of the store open on ``con`` (licence macros installed)."""
        params = {"sid": snapshot_id}
        return cls(*(con.sql(sql, params=params).to_arrow_table()
                     for sql in (EDGES_SQL, MODELS_SQL, LICENSES_SQL, CONFLICTS_SQL)))  # fmt: skip

    @property
    def nbytes(self) -> int:
        """Memory held."""
        arrays = [self._child, self._base, self._relation, self._flagged, self._licenses, *self._up, *self._down,
                  *self._model_rows, *self._license_rows]  # fmt: skip
        tables = (self._names, self._models)
        return sum(a.nbytes for a in arrays) + sum(t.nbytes for t in tables)

    def _name(self, node: int) -> str:
        """The model id of ``node``."""
        return str(self._names[node].as_py())

    def _edges(self, node: int, index: tuple[np.ndarray, np.ndarray], ends: np.ndarray) -> dict[int, str | None]:
        """The models one step from ``node`` along ``index``, each with the edges' greatest relation (SQL's max)."""
        out: dict[int, str | None] = {}
        rows = _gather(*index, np.array([node], dtype=np.int64))
        for end, code in zip(ends[rows].tolist(), self._relation[rows].tolist(), strict=True):
            if end < 0 or end == node:
                continue
            relation = self._relations[code] if code >= 0 else None
            kept = out.get(end)
            out[end] = relation if kept is None or (relation is not None and relation > kept) else kept
        return out

    def _paths_up(self, node: int) -> tuple[list[tuple[int, int, int, str | None]], bool]:
        """``UP_SQL``'s walk: (depth, child, base, relation) for every path up from ``node``, no model twice on one;
        and whether the walk stopped at ``MAX_PATHS`` rows."""
        bases: dict[int, dict[int, str | None]] = {}

        def up(child: int) -> dict[int, str | None]:
            if child not in bases:
                bases[child] = self._edges(child, self._up, self._base)
            return bases[child]

        rows: list[tuple[int, int, int, str | None]] = []
        frontier: list[tuple[tuple[int, ...], str | None]] = [((node, b), r) for b, r in up(node).items()]
        for depth in range(1, MAX_DEPTH + 1):
            room = MAX_PATHS - len(rows)
            rows.extend((depth, path[-2], path[-1], relation) for path, relation in frontier[:room])
            if len(frontier) > room:
                return rows, True
            if depth == MAX_DEPTH or not frontier:
                break
            grown = (((*path, base), relation) for path, _ in frontier
                     for base, relation in up(path[-1]).items() if base not in path)  # fmt: skip
            frontier = list(itertools.islice(grown, MAX_PATHS - len(rows) + 1))  # one past the room: a cut shows
        return rows, False

    def _licence_ids(self, node: int) -> list[str]:
        rows = _gather(*self._license_rows, np.array([node], dtype=np.int64))
        return sorted({self._licence_names[code] for code in self._licenses[rows].tolist()})

    def _recorded(self, node: int) -> bool:
        starts = self._model_rows[1]
        return bool(starts[node + 1] > starts[node])

    def _downloads(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's downloads as recorded (-1: no record, or none recorded)."""
        order, starts = self._model_rows
        recorded = starts[nodes + 1] > starts[nodes]
        downloads = np.full(nodes.size, -1, dtype=np.int64)
        column = self._models["downloads"].take(pa.array(order[starts[nodes[recorded]]]))
        downloads[recorded] = pc.fill_null(column, -1).to_numpy(zero_copy_only=False)
        return downloads

    def _children(self, node: int) -> list[tuple[str, str | None, int | None]]:
        """``CHILDREN_SQL``: the direct derivatives, most downloaded first (then by id), at most ``MAX_CHILDREN``."""
        children = self._edges(node, self._down, self._child)
        nodes = np.array(sorted(children), dtype=np.int64)  # node numbers are in id order
        downloads = self._downloads(nodes)
        top = nodes[np.lexsort((nodes, -downloads))[:MAX_CHILDREN]].tolist()
        counts = dict(zip(nodes.tolist(), downloads.tolist(), strict=True))
        return [(self._name(c), children[c], counts[c] if counts[c] >= 0 else None) for c in top]

    def _below(self, node: int) -> int:
        """``DESCENDANTS_SQL``: how many models derive from ``node``, to ``MAX_DEPTH`` levels."""
        seen = np.array([node], dtype=np.int64)
        frontier = seen
        for _ in range(MAX_DEPTH):
            reached = distinct(self._child[_gather(*self._down, frontier)])
            frontier = reached[(reached >= 0) & ~np.isin(reached, seen)]
            if frontier.size == 0:
                break
            seen = distinct(np.concatenate([seen, frontier]))
        return int(seen.size) - 1

    def lineage(self, repo_id: str) -> Lineage:
        """``audits.lineage.lineage(repo_id)`` over the snapshot's whole graph, walked in memory."""
        node = find_sorted(self._names, repo_id)
        if node is None:
            return Lineage()  # what the queries give a model with no base and no derivative
        paths, cut = self._paths_up(node)
        names = {n: self._name(n) for n in {node, *(base for _, _, base, _ in paths)}}
        licences = {base: self._licence_ids(base) for _, _, base, _ in paths}
        up: list[UpRow] = [
            (depth, names[child], names[base], relation, licences[base], self._recorded(base),
             bool(self._flagged[base]), self._conflicts.get((child, base)))
            for depth, child, base, relation in paths
        ]  # fmt: skip
        up.sort(key=lambda row: (row[0], row[2], row[1]))  # UP_SQL's order: depth, base, child
        found = assemble(up, self._children(node), self._below(node), None)
        if cut:
            found.warnings.append(f"more than {MAX_PATHS:,} paths lead up from this model: the first {MAX_PATHS:,} "
                                  "(nearest first) are listed")  # fmt: skip
        return found

    def generations(self, repo_id: str, per_level: int) -> Generations | None:
        """The model's family by generation, at most ``per_level`` models shown on each; None: it has no edge.

        A level holds the models first reached that many steps up (bases) or down (derivatives); the ones shown
        are the most downloaded (then by id) of those the models shown one level nearer lead to, so every model
        shown hangs from one shown. A model shown above (a cycle) is not counted again below.
        """
        node = find_sorted(self._names, repo_id)
        if node is None:
            return None
        start = np.array([node], dtype=np.int64)
        up = self._levels(start, self._up, self._base, per_level, start)
        above = np.concatenate([start, *(shown for shown, _ in up)])
        down = self._levels(start, self._down, self._child, per_level, above)
        if not up and not down:
            return None
        levels = {-i: level for i, level in enumerate(up, start=1)} | {i: level for i, level in enumerate(down, 1)}
        everyone = np.concatenate([above, *(shown for shown, _ in down)])
        members = self._members(everyone)
        return Generations(
            model=members[node],
            shown={level: [members[int(n)] for n in shown] for level, (shown, _) in sorted(levels.items())},
            totals={level: total for level, (_, total) in sorted(levels.items())},
            edges=self._edges_between(everyone),
        )

    def _levels(self, start: np.ndarray, index: tuple[np.ndarray, np.ndarray], ends: np.ndarray, per_level: int,
                seen: np.ndarray) -> list[tuple[np.ndarray, int]]:  # fmt: skip
        """Per step from ``start`` along ``index`` (to ``MAX_DEPTH``): the models shown and how many are new there.

        ``seen``: models not to count again.
        """
        out = []
        frontier, shown = start, start
        for _ in range(MAX_DEPTH):
            reached = distinct(ends[_gather(*index, frontier)])
            new = reached[(reached >= 0) & ~np.isin(reached, seen)]
            if new.size == 0:
                break
            led = distinct(ends[_gather(*index, shown)])
            shown = self._most_downloaded(led[np.isin(led, new)], per_level)
            out.append((shown, int(new.size)))
            seen = distinct(np.concatenate([seen, new]))
            frontier = new
        return out

    def _most_downloaded(self, nodes: np.ndarray, limit: int) -> np.ndarray:
        """The ``limit`` most downloaded of ``nodes`` (ascending, distinct), then by id; unknown downloads last."""
        if nodes.size <= 1:
            return nodes.astype(np.int64)
        ranked = np.lexsort((nodes, -self._downloads(nodes)))  # node numbers are in id order
        return nodes[ranked[:limit]].astype(np.int64)

    def _members(self, nodes: np.ndarray) -> dict[int, Member]:
        """Each of ``nodes`` (a few) as a ``Member``."""
        rows = _gather(*self._model_rows, distinct(nodes))
        found = self._models.take(pa.array(rows)).to_pylist()
        records = {int(r["node"]): r for r in found}
        out = {}
        for n in nodes.tolist():
            record = records.get(int(n))
            out[int(n)] = Member(
                repo_id=self._name(int(n)),
                downloads=None if record is None else record["downloads"],
                in_snapshot=record is not None,
                security_status=None if record is None else record["security_status"],
            )
        return out

    def _edges_between(self, nodes: np.ndarray) -> list[tuple[str, str]]:
        """The distinct (child, base) edges between ``nodes`` (a few), no self-loop."""
        rows = _gather(*self._up, distinct(nodes))
        bases = self._base[rows]
        keep = np.isin(bases, nodes) & (bases != self._child[rows])
        pairs = sorted({(int(c), int(b)) for c, b in zip(self._child[rows][keep], bases[keep], strict=True)})
        return [(self._name(c), self._name(b)) for c, b in pairs]
