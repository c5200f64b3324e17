"""Where a model's rows lie in the store's tables, so a model page reads a few blocks, not whole tables.

The store has no index on ``repo_id`` (DuckDB tables are scanned, and a million-model snapshot's
``findings`` hold 44 M rows, its ``model_files`` 6 M). A model's rows in each of those tables were
written together, so their ``rowid`` s are close: at start the server notes, for each model and
table, the first and last ``rowid`` of its rows and how many there are (one ``GROUP BY`` per table),
and a model page adds ``rowid BETWEEN first AND last`` to its queries, which DuckDB answers from
the one or two row groups holding them (~1 ms instead of ~20-150 ms). The queries keep their own
conditions, so a span can only narrow what they find, never add to it; and before a page uses
the spans, one query counts the rows in them (``Spans.check``): should the store have moved rows
since (DuckDB compacts a table after deletions), the counts differ and the page reads the whole
tables, as it would without spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

# table -> the rows of the served snapshot (or of its audit run) in it, per repo_id
LOCATED = {
    "models": "snapshot_id = $sid",
    "cards": "snapshot_id = $sid",
    "model_files": "snapshot_id = $sid",
    "claims": "snapshot_id = $sid",
    "card_results": "snapshot_id = $sid",
    "repo_files": "snapshot_id = $sid AND path = 'README.md'",
    "findings": "run_id = $run",
    "file_scan_repos": "snapshot_id = $sid AND status = 'ok'",
}
EVERYWHERE = (0, 2**62)
"""The span of a table not located: every row."""
NOWHERE = (1, 0)
"""The span of a model with no rows in a table (at start): no row."""


@dataclass(frozen=True)
class _Table:
    models: np.ndarray
    """Index positions of the models with rows in the table, ascending."""
    first: np.ndarray
    last: np.ndarray
    rows: np.ndarray


@dataclass
class Spans:
    """One model's spans: table -> (first rowid, last rowid), the rows expected there, the rows a page found."""

    spans: dict[str, tuple[int, int]]
    expected: dict[str, int]
    """Rows in each located table's span when the server started (no entry: the table is read whole)."""
    seen: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def everywhere() -> Spans:
        """Spans that locate nothing: every query reads its whole table."""
        return Spans({t: EVERYWHERE for t in LOCATED}, {})

    def params(self, *tables: str) -> dict[str, int]:
        """The query parameters ``lo_<table>``, ``hi_<table>`` of ``tables``."""
        out = {}
        for t in tables:
            out[f"lo_{t}"], out[f"hi_{t}"] = self.spans.get(t, EVERYWHERE)
        return out

    def empty(self, table: str) -> bool:
        """Whether the model had no row in ``table`` (a query there can be skipped)."""
        return self.expected.get(table) == 0

    def tight(self, table: str) -> bool:
        """Whether the model's span of ``table`` held only its rows (and some) when the server started."""
        if self.expected.get(table, 0) == 0:
            return False
        first, last = self.spans[table]
        return last - first + 1 == self.expected[table]

    def found(self, table: str, rows: int) -> None:
        """Note that a query found ``rows`` rows of the model within its span of ``table``."""
        self.seen[table] = rows

    @property
    def moved(self) -> bool:
        """Whether a query found other than the rows the spans were made with: the store moved rows since."""
        return any(rows != self.expected[t] for t, rows in self.seen.items() if t in self.expected)


class Locator:
    """The spans of every model of the index, per located table (a table the store lacks is not located)."""

    def __init__(self, tables: dict[str, _Table]) -> None:
        self._tables = tables

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, repo_ids: pa.Array, snapshot_id: int, run_id: int | None) -> Locator:
        """The spans, from the store open on ``con``; ``repo_ids``: the index's models in its order."""
        con.register("_located_models", pa.table({"repo_id": repo_ids, "i": pa.array(np.arange(len(repo_ids)))}))
        params = {"sid": snapshot_id, "run": -1 if run_id is None else run_id}
        tables = {}
        try:
            for table, where in LOCATED.items():
                sql = (
                    "SELECT m.i, t.lo, t.hi, t.n FROM _located_models m JOIN (SELECT repo_id, min(rowid) AS lo,"
                    f" max(rowid) AS hi, count(*) AS n FROM {table} WHERE {where} GROUP BY repo_id) t USING (repo_id)"
                    " ORDER BY m.i"
                )
                try:
                    found = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in where}).fetchnumpy()
                except duckdb.CatalogException:  # a store from before the table: read whole, as before
                    continue
                tables[table] = _Table(
                    np.asarray(found["i"], dtype=np.int32),
                    np.asarray(found["lo"], dtype=np.int64),
                    np.asarray(found["hi"], dtype=np.int64),
                    np.asarray(found["n"], dtype=np.int32),
                )
        finally:
            con.unregister("_located_models")
        return cls(tables)

    def spans(self, position: int) -> Spans:
        """The spans of the index's model at ``position``."""
        spans, expected = {}, {}
        for name, table in self._tables.items():
            at = int(np.searchsorted(table.models, np.int32(position)))
            if at < len(table.models) and table.models[at] == position:
                spans[name] = (int(table.first[at]), int(table.last[at]))
                expected[name] = int(table.rows[at])
            else:
                spans[name], expected[name] = NOWHERE, 0
        return Spans(spans, expected)

    @property
    def nbytes(self) -> int:
        """Memory held."""
        return sum(a.nbytes for t in self._tables.values() for a in (t.models, t.first, t.last, t.rows))
