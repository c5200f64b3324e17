"""The models index: one row per model of the served snapshot, in an in-memory DuckDB.

Built once when the server starts (a few seconds for a million models), from the store's
tables with the definitions the rest of ptmscope uses, so a facet count is the count the CLI
and the study give:

- weight formats: ``store.derived.is_format_sql`` over the file list, as the study's
  ``weight_formats`` (``none``: no weight file; ``unknown``: the file list is unknown);
- licences: ``lower(trim(license))`` as the study's licence figure; licence classes: the kind of
  each licence in the catalogue (``checks.licenses``; ``unrecognised`` when not in it);
- flagged: ``scan`` when a stored file verdict (``scan --snapshot``, read through
  ``store.derived.SNAPSHOT_FILE_SCANS_SQL``) is dangerous or suspicious, ``hub`` when the Hub's
  ``security_status`` lists files with issues (as ``select --exclude-unsafe``);
- claims: ``yes`` when the model has a valid model-index claim (the study's strict definition);
- datasets and architectures: as the study's Fig. 6 distributions;
- scores: the snapshot's latest ``audit --all`` run, when there is one.

Search, facets, sorting and paging then run against memory only: the store file is not held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ptmscope.audits.lineage import Lineage, lineage
from ptmscope.checks import licenses
from ptmscope.checks.model import ATTRIBUTES
from ptmscope.store.derived import FORMATS, SNAPSHOT_FILE_SCANS_SQL, is_format_sql
from ptmscope.store.store import Store
from ptmscope.web.query import FACETS, SORTS, ModelQuery

_FORMAT_FLAGS = ", ".join(f"bool_or({is_format_sql('p', name)}) AS {name}" for name in FORMATS)
_FORMAT_LIST = (
    "list_filter(["
    + ", ".join(f"CASE WHEN fk.{name} THEN '{name}' END" for name in FORMATS)
    + "], lambda x: x IS NOT NULL)"
)
_SCORES = ", ".join(f"max(score) FILTER (WHERE attribute = '{a}') AS score_{a}" for a in ATTRIBUTES)
_SCORE_COLUMNS = ", ".join(f"sc.score_{a}" for a in ATTRIBUTES)

INDEX_SQL = f"""
WITH m AS (SELECT repo_id, namespace, downloads, likes, pipeline_tag, library_name, model_type, num_files,
                  security_status, last_modified FROM models WHERE snapshot_id = $sid),
lic AS (
    SELECT l.repo_id, list(DISTINCT lower(trim(l.license))) AS licenses,
           list(DISTINCT coalesce(c.kind, 'unrecognised')) AS classes
    FROM model_licenses l LEFT JOIN license_catalog c ON c.id = split_part(lower(trim(l.license)), ':', 1)
    WHERE l.snapshot_id = $sid AND trim(l.license) <> '' GROUP BY l.repo_id),
fk AS (
    SELECT repo_id, {_FORMAT_FLAGS}
    FROM (SELECT repo_id, lower(path) AS p FROM model_files WHERE snapshot_id = $sid) GROUP BY repo_id),
ds AS (
    SELECT repo_id, list(DISTINCT trim(dataset)) AS datasets FROM model_datasets
    WHERE snapshot_id = $sid AND trim(dataset) <> '' GROUP BY repo_id),
cl AS (SELECT DISTINCT repo_id FROM claims WHERE snapshot_id = $sid AND status = 'valid'),
fs AS (
    SELECT repo_id, bool_or(verdict IN ('dangerous', 'suspicious')) AS flagged
    FROM ({SNAPSHOT_FILE_SCANS_SQL}) GROUP BY repo_id),
sc AS (SELECT repo_id, {_SCORES} FROM scores WHERE run_id = $run GROUP BY repo_id),
org AS (SELECT name, bool_or(is_verified) AS verified FROM organizations WHERE snapshot_id = $sid GROUP BY name)
SELECT m.repo_id, lower(m.repo_id) AS repo_lower, m.downloads, m.likes, m.last_modified,
       coalesce(m.pipeline_tag, 'none') AS task, coalesce(m.library_name, 'none') AS library,
       coalesce(m.model_type, 'none') AS architecture,
       coalesce(lic.licenses, ['none']) AS licenses, coalesce(lic.classes, ['none']) AS license_classes,
       CASE WHEN len({_FORMAT_LIST}) > 0 THEN {_FORMAT_LIST}
            WHEN m.num_files IS NULL THEN ['unknown'] ELSE ['none'] END AS formats,
       coalesce(ds.datasets, ['none']) AS datasets,
       CASE WHEN cl.repo_id IS NULL THEN 'no' ELSE 'yes' END AS claims,
       CASE WHEN org.verified THEN 'yes' WHEN org.verified IS NULL THEN 'unknown' ELSE 'no' END AS verified,
       CASE WHEN coalesce(fs.flagged, false)
                 AND coalesce(json_array_length(json_extract(m.security_status, '$.filesWithIssues')) > 0, false)
                THEN ['scan', 'hub']
            WHEN coalesce(fs.flagged, false) THEN ['scan']
            WHEN coalesce(json_array_length(json_extract(m.security_status, '$.filesWithIssues')) > 0, false)
                THEN ['hub']
            ELSE ['unflagged'] END AS flags,
       {_SCORE_COLUMNS}
FROM m LEFT JOIN lic USING (repo_id) LEFT JOIN fk USING (repo_id) LEFT JOIN ds USING (repo_id)
     LEFT JOIN cl USING (repo_id) LEFT JOIN fs USING (repo_id) LEFT JOIN sc USING (repo_id)
     LEFT JOIN org ON org.name = m.namespace
"""

RESULT_COLUMNS = (
    "repo_id", "downloads", "likes", "last_modified", "task", "library", "architecture", "licenses",
    "license_classes", "formats", "datasets", "claims", "verified", "flags", *(f"score_{a}" for a in ATTRIBUTES),
)  # fmt: skip
_RESULT_LIST = ", ".join(RESULT_COLUMNS)
_FACET_COLUMNS = ", ".join(column for column, _, _ in FACETS.values())
FACET_TOP = 12
"""Values listed per facet (plus any selected one)."""
FACET_CACHE = 1024
"""Facet counts kept for recent searches (the snapshot never changes under a running server)."""


@dataclass(frozen=True)
class Page:
    """One page of the models page: the rows, how many match, and the facet counts over the matches."""

    total: int
    rows: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]]
    """Per facet: (value, models) pairs, most models first."""


class ModelIndex:
    """The served snapshot's models in memory, searched and counted per request."""

    def __init__(self, con: duckdb.DuckDBPyConnection, models: int, card_texts: int) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._facet_cache: OrderedDict[tuple[Any, ...], tuple[int, dict[str, list[tuple[str, int]]]]] = OrderedDict()
        self.models = models
        self.card_texts = card_texts
        """Models whose card text is searchable."""

    @classmethod
    def build(cls, store: Store, snapshot_id: int, run_id: int | None, cards: dict[str, str]) -> ModelIndex:
        """Read the snapshot's models from ``store`` into memory; ``cards``: card texts to search (repo id -> text)."""
        licenses.install(store.con)
        bound = {"sid": snapshot_id, "run": -1 if run_id is None else run_id}
        table = store.con.sql(INDEX_SQL, params=bound).to_arrow_table()
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")  # concurrent requests use the cores; one query does not fan out over them
        con.register("_index", table)
        con.execute("CREATE TABLE idx AS SELECT * FROM _index")
        con.unregister("_index")
        texts = pa.table({"repo_id": pa.array(list(cards), pa.string()),
                          "lowered": pa.array([v.lower() for v in cards.values()], pa.large_string())})  # fmt: skip
        con.register("_cards", texts)
        con.execute("CREATE TABLE card_text AS SELECT repo_id, lowered::VARCHAR AS lowered FROM _cards")
        con.unregister("_cards")
        con.execute("CREATE INDEX idx_repo ON idx (repo_id)")  # a model's row in a millisecond, not a scan
        _lineage_tables(store, con, snapshot_id)
        models = int(con.execute("SELECT count(*) FROM idx").fetchall()[0][0])
        return cls(con, models, len(cards))

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:  # creating a cursor is not thread-safe; using one per thread is
            return self._con.cursor()

    def _where(self, query: ModelQuery) -> tuple[str, dict[str, Any]]:
        conditions: list[str] = []
        params: dict[str, Any] = {}
        for i, word in enumerate(query.words):
            params[f"w{i}"] = word
            if query.cards and self.card_texts:
                conditions.append(
                    f"(contains(repo_lower, $w{i}) OR repo_id IN "
                    f"(SELECT repo_id FROM card_text WHERE contains(lowered, $w{i})))"
                )
            else:
                conditions.append(f"contains(repo_lower, $w{i})")
        for name, values in query.facets:
            column, is_list, _ = FACETS[name]
            params[f"f_{name}"] = list(values)
            test = "list_has_any" if is_list else "list_contains"
            conditions.append(f"{test}({column}, $f_{name})" if is_list else f"{test}($f_{name}, {column})")
        return (" WHERE " + " AND ".join(conditions)) if conditions else "", params

    def page(self, query: ModelQuery) -> Page:
        """The rows of ``query``'s page, the number of matches and the facet counts over all the matches."""
        where, params = self._where(query)
        cursor = self._cursor()
        try:
            total, facets = self._facet_counts(cursor, query, where, params)
            rows = cursor.execute(
                f"SELECT {_RESULT_LIST} FROM idx{where} ORDER BY {SORTS[query.sort]} LIMIT $per OFFSET $off",
                {**params, "per": query.per, "off": (query.page - 1) * query.per},
            )
            names = [d[0] for d in rows.description]
            found = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
        finally:
            cursor.close()
        return Page(total, found, facets)

    def _facet_counts(
        self, cursor: duckdb.DuckDBPyConnection, query: ModelQuery, where: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, list[tuple[str, int]]]]:
        """How many models match, and the facet counts over them (cached: paging and sorting do not change them)."""
        key = (tuple(query.words), query.cards and bool(self.card_texts), query.facets)
        with self._lock:
            if key in self._facet_cache:
                self._facet_cache.move_to_end(key)
                return self._facet_cache[key]
        rows = cursor.execute(self._facets_sql(where), {**params, "top": FACET_TOP, "selected": _selected(query)})
        facets: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
        total = 0
        for facet, value, count in rows.fetchall():
            if facet == "_total":
                total = int(count)
            else:
                facets[facet].append((str(value), int(count)))
        with self._lock:
            self._facet_cache[key] = (total, facets)
            while len(self._facet_cache) > FACET_CACHE:
                self._facet_cache.popitem(last=False)
        return total, facets

    @staticmethod
    def _facets_sql(where: str) -> str:
        parts = ["SELECT '_total' AS facet, '' AS value, count(*) AS n FROM f"]
        for name, (column, is_list, _) in FACETS.items():
            source = f"(SELECT unnest({column}) AS v FROM f)" if is_list else f"(SELECT {column} AS v FROM f)"
            parts.append(f"SELECT '{name}', v, count(*) FROM {source} GROUP BY v")
        union = "\nUNION ALL ".join(parts)
        return (
            # Filtered: compute the matches once; unfiltered: let every branch scan the table itself (faster).
            f"WITH f AS {'' if where else 'NOT '}MATERIALIZED (SELECT {_FACET_COLUMNS} FROM idx{where}),\n"
            f"g AS ({union})\n"
            "SELECT facet, value, n FROM g\n"
            "QUALIFY facet = '_total' OR row_number() OVER (PARTITION BY facet ORDER BY n DESC, value) <= $top\n"
            "    OR list_contains($selected, facet || '=' || value)\n"
            "ORDER BY facet, n DESC, value"
        )

    def counts(self, facet: str) -> list[tuple[str, int]]:
        """Models per value of ``facet`` over the whole snapshot, most first (every value)."""
        column, is_list, _ = FACETS[facet]
        source = f"(SELECT unnest({column}) AS v FROM idx)" if is_list else f"(SELECT {column} AS v FROM idx)"
        cursor = self._cursor()
        try:
            rows = cursor.execute(f"SELECT v, count(*) AS n FROM {source} GROUP BY v ORDER BY n DESC, v").fetchall()
        finally:
            cursor.close()
        return [(str(v), int(n)) for v, n in rows]

    def lineage(self, repo_id: str) -> Lineage:
        """The model's ancestors, derivatives and inherited risks (``audits.lineage``, over the tables in memory)."""
        cursor = self._cursor()
        try:
            return lineage(cursor, repo_id)
        finally:
            cursor.close()

    def row(self, repo_id: str) -> dict[str, Any] | None:
        """A model's index row, or None when it is not in the snapshot."""
        cursor = self._cursor()
        try:
            result = cursor.execute(f"SELECT {_RESULT_LIST} FROM idx WHERE repo_id = ?", [repo_id])
            names = [d[0] for d in result.description]
            rows = result.fetchall()
        finally:
            cursor.close()
        return dict(zip(names, rows[0], strict=True)) if rows else None


# What ``audits.lineage`` reads (its a_* views), copied into memory: the family tree of any model in milliseconds.
_LINEAGE_TABLES = {
    "a_models": "SELECT repo_id, downloads, security_status FROM models WHERE snapshot_id = ?",
    "a_model_licenses": "SELECT repo_id, license FROM model_licenses WHERE snapshot_id = ?",
    "a_base_models": "SELECT repo_id, base_model, relation FROM base_models WHERE snapshot_id = ?",
}


def _lineage_tables(store: Store, con: duckdb.DuckDBPyConnection, snapshot_id: int) -> None:
    for name, sql in _LINEAGE_TABLES.items():
        table = store.con.sql(sql, params=[snapshot_id]).to_arrow_table()
        con.register("_rows", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _rows")
        con.unregister("_rows")
    rows = [(k, v["spdx"], v["kind"], v["family"]) for k, v in licenses.catalogue().items()]
    con.execute("CREATE TABLE license_catalog (id VARCHAR, spdx VARCHAR, kind VARCHAR, family VARCHAR)")
    con.executemany("INSERT INTO license_catalog VALUES (?, ?, ?, ?)", rows)
    for macro in (licenses.VERDICT_MACRO, licenses.REASON_MACRO):  # shared by every cursor: not TEMP here
        con.execute(macro.replace("TEMP MACRO", "MACRO"))


def _selected(query: ModelQuery) -> list[str]:
    return [f"{name}={value}" for name, values in query.facets for value in values]
