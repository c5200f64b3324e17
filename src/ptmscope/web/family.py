"""Lineage for the model pages: the snapshot's base-model graph in memory, a model's family in a millisecond.

``audits.lineage.lineage`` walks the graph with recursive SQL over the ``a_base_models``,
``a_models`` and ``a_model_licenses`` tables; over a whole snapshot's tables each walk scans
them all (~140 ms a model at 200,000 models). Here the edges are held as integer arrays, by
child and by base, so the part of the graph a model's lineage can reach (its ancestors and
descendants to ``MAX_DEPTH`` levels, every stored row of those edges, and the records and
licences of the models on them) is found with a few array lookups; ``lineage`` then runs, as it
is, over those few rows, registered under the ``a_*`` names on the request's cursor. The answer
is the one the whole tables give: every row a query of ``lineage`` can reach is in the part
(tests/web/test_index.py compares the two over models of the bundled Feb-2022 snapshot).

``Family.generations`` gives the same family by generation for the model page's drawing
(``web.lineage_graph``): the models first reached 1, 2, ... steps up and down (to ``MAX_DEPTH``),
how many each generation holds, and a bounded few of each (the most downloaded among those the
shown models of the generation before lead to), with the edges between the models shown.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ptmscope.audits.lineage import MAX_DEPTH, Lineage, lineage
from ptmscope.web.arrays import distinct, ranges

# What ``audits.lineage`` reads, from the store: edges, and the records and licences of the models on them.
EDGES_SQL = "SELECT repo_id, base_model, relation FROM base_models WHERE snapshot_id = $sid"
_ON_GRAPH = (
    "repo_id IN (SELECT repo_id FROM base_models WHERE snapshot_id = $sid"
    " UNION SELECT base_model FROM base_models WHERE snapshot_id = $sid)"
)
MODELS_SQL = f"SELECT repo_id, downloads, security_status FROM models WHERE snapshot_id = $sid AND {_ON_GRAPH}"
LICENSES_SQL = f"SELECT repo_id, license FROM model_licenses WHERE snapshot_id = $sid AND {_ON_GRAPH}"


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

    def __init__(self, edges: pa.Table, models: pa.Table, licenses: pa.Table) -> None:
        edges, models, licenses = edges.combine_chunks(), models.combine_chunks(), licenses.combine_chunks()
        ends = pa.chunked_array([*edges["repo_id"].chunks, *edges["base_model"].chunks], pa.string())
        names = pc.drop_null(pc.unique(ends.combine_chunks()))
        self._names: pa.StringArray = names.take(pc.sort_indices(names))
        count = len(self._names)
        self._child = _node_ids(edges["repo_id"], self._names)
        self._base = _node_ids(edges["base_model"], self._names)
        self._relation = pc.dictionary_encode(edges["relation"].combine_chunks())
        model_nodes = _node_ids(models["repo_id"], self._names)
        self._models = pa.table({"node": model_nodes, "downloads": models["downloads"],
                                 "security_status": models["security_status"]})  # fmt: skip
        license_nodes = _node_ids(licenses["repo_id"], self._names)
        self._licenses = pa.table({"node": license_nodes, "license": pc.dictionary_encode(licenses["license"])})
        self._up = _grouped(self._child, count)  # a model's edges to its bases
        self._down = _grouped(self._base, count)  # a base's edges to its derivatives
        self._model_rows = _grouped(model_nodes, count)
        self._license_rows = _grouped(license_nodes, count)

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, snapshot_id: int) -> Family:
        """The graph of the snapshot ``snapshot_id`` of the store open on ``con``."""
        params = {"sid": snapshot_id}
        return cls(*(con.sql(sql, params=params).to_arrow_table() for sql in (EDGES_SQL, MODELS_SQL, LICENSES_SQL)))

    @property
    def nbytes(self) -> int:
        """Memory held."""
        arrays = [self._child, self._base, *self._up, *self._down, *self._model_rows, *self._license_rows]
        tables = (self._names, self._relation, self._models, self._licenses)
        return sum(a.nbytes for a in arrays) + sum(t.nbytes for t in tables)

    def _named(self, nodes: np.ndarray) -> pa.Array:
        """The models' ids (null for -1)."""
        missing = nodes < 0
        return self._names.take(pa.array(np.where(missing, 0, nodes), mask=missing))

    def _walk(self, start: int, index: tuple[np.ndarray, np.ndarray], ends: np.ndarray) -> list[np.ndarray]:
        """The edges reachable from ``start`` in ``MAX_DEPTH`` steps along ``index`` (``ends``: where each leads)."""
        found = []
        frontier = np.array([start], dtype=np.int64)
        seen = {start}
        for _ in range(MAX_DEPTH):
            rows = _gather(*index, frontier)
            if rows.size == 0:
                break
            found.append(rows)
            reached = distinct(ends[rows])
            new = [n for n in reached.tolist() if n >= 0 and n not in seen]
            if not new:
                break
            seen.update(new)
            frontier = np.array(new, dtype=np.int64)
        return found

    def part(self, repo_id: str) -> tuple[dict[str, pa.Table], bool, bool] | None:
        """The ``a_*`` tables of the part of the graph ``lineage(repo_id)`` reads, and whether the model has edges to
        bases and from derivatives; None: it has no edge at all."""
        node = find_sorted(self._names, repo_id)
        if node is None:
            return None
        up, down = self._walk(node, self._up, self._base), self._walk(node, self._down, self._child)
        if not up and not down:
            return None
        rows = distinct(np.concatenate(up + down))
        ends = np.concatenate([self._child[rows], self._base[rows], [node]])
        nodes = distinct(ends[ends >= 0])
        models = self._models.take(pa.array(np.sort(_gather(*self._model_rows, nodes))))
        licenses = self._licenses.take(pa.array(np.sort(_gather(*self._license_rows, nodes))))
        tables = {  # as the store has them: plain strings, in stored order
            "a_base_models": pa.table({
                "repo_id": self._named(self._child[rows]), "base_model": self._named(self._base[rows]),
                "relation": self._relation.take(pa.array(rows)).dictionary_decode(),
            }),
            "a_models": pa.table({"repo_id": self._named(models["node"].to_numpy()), "downloads": models["downloads"],
                                  "security_status": models["security_status"]}),
            "a_model_licenses": pa.table({"repo_id": self._named(licenses["node"].to_numpy()),
                                          "license": licenses["license"].combine_chunks().dictionary_decode()}),
        }  # fmt: skip
        return tables, bool(up), bool(down)

    def lineage(self, cursor: duckdb.DuckDBPyConnection, repo_id: str) -> Lineage:
        """``audits.lineage.lineage(repo_id)`` over the model's part of the graph (licence macros on ``cursor``)."""
        part = self.part(repo_id)
        if part is None:
            return Lineage()  # what the queries give a model with no base and no derivative
        tables, bases, derivatives = part
        for name, table in tables.items():
            cursor.register(name, table)
        try:
            return lineage(cursor, repo_id, bases=bases, derivatives=derivatives)
        finally:
            for name in tables:
                cursor.unregister(name)

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
        order, starts = self._model_rows
        recorded = starts[nodes + 1] > starts[nodes]  # the model's record is in the snapshot
        downloads = np.full(nodes.size, -1, dtype=np.int64)  # -1: unknown
        column = self._models["downloads"].take(pa.array(order[starts[nodes[recorded]]]))
        downloads[recorded] = pc.fill_null(column, -1).to_numpy(zero_copy_only=False)
        ranked = np.lexsort((nodes, -downloads))  # node numbers are in id order
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
                repo_id=str(self._names[int(n)].as_py()),
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
        return [(str(self._names[c].as_py()), str(self._names[b].as_py())) for c, b in pairs]
