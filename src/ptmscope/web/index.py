"""The models index: one row per model of the served snapshot, held in memory as columns.

Built once when the server starts, from the store's tables with the definitions the rest of
ptmscope uses, so a facet count is the count the CLI and the study give:

- weight formats: ``store.derived.is_format_sql`` over the file list, as the study's
  ``weight_formats`` (``none``: no weight file; ``unknown``: the file list is unknown);
- licences: ``lower(trim(license))`` as the study's licence figure; licence classes: the kind of
  each licence in the catalogue (``checks.licenses``; ``unrecognised`` when not in it);
- flagged: ``scan`` when a stored file verdict (``scan --snapshot``, read through
  ``store.derived.SNAPSHOT_FILE_SCANS_SQL``) is dangerous or suspicious, ``hub`` when the Hub's
  ``security_status`` lists files with issues (as ``select --exclude-unsafe``);
- claims: ``yes`` when the model has a valid model-index claim (the study's strict definition);
- languages: what ``select --language`` matches (``selection.engine``): the card's ``language``, the
  Hub's ISO 639-1 tags and the API's ``cardData.language``, lower-cased (empty ones left out);
- datasets and architectures: as the study's Fig. 6 distributions;
- scores: the snapshot's latest ``audit --all`` run, when there is one; each attribute's score
  range (``query.SCORE_RANGES``: ``0-2`` ... ``8-10``, each range's lower end inclusive, ``none``
  without a score) is a facet of its own.

The rows (``INDEX_SQL``) are kept as an Arrow table in repo-id order (a model's place in it is
its number), and each facet as integer codes (numpy): one code per model, or one per (model,
value) for a facet of lists, with the models of each code listed. A search is array work that
grows with its matches, not with the snapshot: the search words' models (``web.words``: a
trigram index of the ids; card text through DuckDB's ``contains``) or else the models of the
narrowest facet value, narrowed by each other facet through its codes; the facet counts a
``bincount`` over the matches; a page the matches' ranks in the sort's precomputed order. What
the SQL meant is the definition: ``tests/web/test_index.py`` runs the SQL this replaced (filters,
``GROUP BY`` counts with the top values, ``ORDER BY SORTS``) over the same rows and compares.
Results of recent searches are kept (facet counts of 1,024 searches, the words' matches of 64):
the snapshot never changes under a running server.

The index also holds what makes a model page fast: the base-model graph (``web.family``) and
where each model's rows lie in the store (``web.locate``). Search, facets, sorting and paging
never touch the store file. A model's lists of licences, licence classes, datasets and languages are sorted
(``list(DISTINCT ...)`` alone gives them in whatever order the aggregation met them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ptmscope.audits.lineage import Lineage
from ptmscope.checks import licenses
from ptmscope.checks.model import ATTRIBUTES
from ptmscope.selection.engine import ISO_639_1
from ptmscope.store.derived import FORMATS, SNAPSHOT_FILE_SCANS_SQL, is_format_sql
from ptmscope.store.store import Store
from ptmscope.web.arrays import distinct, entries, ranges
from ptmscope.web.family import Family, Generations, find_sorted
from ptmscope.web.locate import Locator, Spans
from ptmscope.web.query import FACETS, SCORE_RANGES, SORT_KEYS, ModelQuery
from ptmscope.web.words import Words

_FORMAT_FLAGS = ", ".join(f"bool_or({is_format_sql('p', name)}) AS {name}" for name in FORMATS)
_FORMAT_LIST = (
    "list_filter(["
    + ", ".join(f"CASE WHEN fk.{name} THEN '{name}' END" for name in FORMATS)
    + "], lambda x: x IS NOT NULL)"
)
_SCORES = ", ".join(f"max(score) FILTER (WHERE attribute = '{a}') AS score_{a}" for a in ATTRIBUTES)
_SCORE_COLUMNS = ", ".join(f"sc.score_{a}" for a in ATTRIBUTES)


def _range_sql(column: str) -> str:
    """The score range of ``column`` (``SCORE_RANGES``: each range's lower end inclusive, the last one's upper too)."""
    steps = " ".join(f"WHEN {column} < {high!r} THEN '{name}'" for name, _, high in SCORE_RANGES[:-1])
    return f"CASE WHEN {column} IS NULL THEN 'none' {steps} ELSE '{SCORE_RANGES[-1][0]}' END"


_SCORE_RANGES = ", ".join(f"{_range_sql(f'sc.score_{a}')} AS score_range_{a}" for a in ATTRIBUTES)

INDEX_SQL = f"""
WITH m AS (SELECT repo_id, namespace, downloads, likes, pipeline_tag, library_name, model_type, num_files,
                  security_status, last_modified FROM models WHERE snapshot_id = $sid),
lic AS (
    SELECT l.repo_id, list(DISTINCT lower(trim(l.license)) ORDER BY lower(trim(l.license))) AS licenses,
           list(DISTINCT coalesce(c.kind, 'unrecognised') ORDER BY coalesce(c.kind, 'unrecognised')) AS classes
    FROM model_licenses l LEFT JOIN license_catalog c ON c.id = split_part(lower(trim(l.license)), ':', 1)
    WHERE l.snapshot_id = $sid AND trim(l.license) <> '' GROUP BY l.repo_id),
fk AS (
    SELECT repo_id, {_FORMAT_FLAGS}
    FROM (SELECT repo_id, lower(path) AS p FROM model_files WHERE snapshot_id = $sid) GROUP BY repo_id),
ds AS (
    SELECT repo_id, list(DISTINCT trim(dataset) ORDER BY trim(dataset)) AS datasets FROM model_datasets
    WHERE snapshot_id = $sid AND trim(dataset) <> '' GROUP BY repo_id),
cl AS (SELECT DISTINCT repo_id FROM claims WHERE snapshot_id = $sid AND status = 'valid'),
fs AS (
    SELECT repo_id, bool_or(verdict IN ('dangerous', 'suspicious')) AS flagged
    FROM ({SNAPSHOT_FILE_SCANS_SQL}) GROUP BY repo_id),
sc AS (SELECT repo_id, {_SCORES} FROM scores WHERE run_id = $run GROUP BY repo_id),
lang AS (
    -- as select --language: the card's languages, the Hub's ISO 639-1 tags, the API's cardData.language
    SELECT repo_id, list(DISTINCT l ORDER BY l) AS languages FROM (
        SELECT repo_id, lower(unnest(languages)) AS l FROM cards WHERE snapshot_id = $sid
        UNION ALL SELECT repo_id, lower(tag) FROM model_tags WHERE snapshot_id = $sid AND tag IN $iso
        UNION ALL SELECT repo_id, lower(unnest(CASE json_type(card_data, '$.language')
                                       WHEN 'ARRAY' THEN json_extract_string(card_data, '$.language[*]')
                                       WHEN 'VARCHAR' THEN [json_extract_string(card_data, '$.language')] END))
                  FROM models WHERE snapshot_id = $sid AND card_data IS NOT NULL)
    WHERE trim(l) <> '' GROUP BY repo_id),
org AS (SELECT name, bool_or(is_verified) AS verified FROM organizations WHERE snapshot_id = $sid GROUP BY name)
SELECT m.repo_id, lower(m.repo_id) AS repo_lower, m.downloads, m.likes, m.last_modified,
       coalesce(m.pipeline_tag, 'none') AS task, coalesce(m.library_name, 'none') AS library,
       coalesce(m.model_type, 'none') AS architecture, coalesce(lang.languages, ['none']) AS languages,
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
       {_SCORE_COLUMNS}, {_SCORE_RANGES}
FROM m LEFT JOIN lic USING (repo_id) LEFT JOIN fk USING (repo_id) LEFT JOIN ds USING (repo_id)
     LEFT JOIN cl USING (repo_id) LEFT JOIN fs USING (repo_id) LEFT JOIN sc USING (repo_id)
     LEFT JOIN lang USING (repo_id)
     LEFT JOIN org ON org.name = m.namespace
ORDER BY m.repo_id
"""

RESULT_COLUMNS = (
    "repo_id", "downloads", "likes", "last_modified", "task", "library", "architecture", "languages", "licenses",
    "license_classes", "formats", "datasets", "claims", "verified", "flags", *(f"score_{a}" for a in ATTRIBUTES),
    *(f"score_range_{a}" for a in ATTRIBUTES),
)  # fmt: skip
FACET_TOP = 12
"""Values listed per facet (plus any selected one)."""
SMALL_VOCAB = 127
"""A facet of at most this many values keeps a byte per code (score ranges, claims, tasks, ...), not four."""
FACET_CACHE = 1024
"""Facet counts kept for recent searches (the snapshot never changes under a running server)."""
WORD_CACHE = 64
"""Search words' matches kept for recent searches (each at most a bitmap of the models: 125 KB at a million)."""


@dataclass(frozen=True)
class Page:
    """One page of the models page: the rows, how many match, and the facet counts over the matches."""

    total: int
    rows: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]]
    """Per facet: (value, models) pairs, most models first."""


@dataclass(frozen=True)
class _Facet:
    """A facet's values as integer codes (``vocab[code]`` is the value), and the models of each code."""

    vocab: list[str]
    lookup: dict[str, int]
    codes: np.ndarray
    """A code per model, or per (model, value) entry for a facet of lists, in model order."""
    starts: np.ndarray | None
    """A facet of lists: where each model's entries start in ``codes`` (one more at the end); else None."""
    owners: np.ndarray | None
    """A facet of lists: the model of each entry; else None."""
    postings: np.ndarray
    """The models of each code, code after code, each code's ascending (``posting_starts`` says where)."""
    posting_starts: np.ndarray
    rank: np.ndarray
    """Each code's place among the values sorted (ties in counts go by value, as ``ORDER BY n DESC, value``)."""
    everything: np.ndarray
    """Models per code over the whole snapshot."""

    @classmethod
    def of(cls, column: pa.Array, is_list: bool) -> tuple[_Facet, pa.Array]:
        """The facet of an index column, and the column dictionary-encoded with the same codes (less memory)."""
        values = column.flatten() if is_list else column
        # Never NULL: INDEX_SQL gives 'none' (or 'unknown', 'unflagged') where a model has no value.
        encoded = pc.dictionary_encode(pc.fill_null(values, "none"))
        if len(encoded.dictionary) <= SMALL_VOCAB:  # a byte per model (score ranges, claims, ...): a quarter the memory
            encoded = encoded.cast(pa.dictionary(pa.int8(), encoded.type.value_type))
        vocab = [str(v) for v in encoded.dictionary.to_pylist()]
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        rank = np.empty(len(vocab), dtype=np.int64)
        rank[sorted(range(len(vocab)), key=vocab.__getitem__)] = np.arange(len(vocab))
        if is_list and len(values) == len(column) and pc.all(pc.equal(pc.list_value_length(column), 1)).as_py():
            # one value per model (every model one licence class, say): counted and filtered as a plain column
            column = pa.ListArray.from_arrays(column.offsets, encoded)
            starts, owners, models = None, None, np.arange(len(codes), dtype=np.int32)
        elif is_list:
            starts = np.asarray(column.offsets.to_numpy(), dtype=np.int64)
            models = owners = np.asarray(pc.list_parent_indices(column).to_numpy(), dtype=np.int32)
            column = pa.ListArray.from_arrays(column.offsets, encoded)
        else:
            starts, owners, models = None, None, np.arange(len(codes), dtype=np.int32)
            column = encoded
        everything = np.bincount(codes, minlength=len(vocab))
        lookup = {v: i for i, v in enumerate(vocab)}
        postings = models[np.argsort(codes, kind="stable")]
        posting_starts = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(everything, out=posting_starts[1:])
        return cls(vocab, lookup, codes, starts, owners, postings, posting_starts, rank, everything), column

    def _codes(self, values: tuple[str, ...]) -> list[int]:
        return [self.lookup[v] for v in values if v in self.lookup]

    def size(self, values: tuple[str, ...]) -> int:
        """How many (model, value) entries ``values`` have: at least the models they select."""
        return int(sum(self.everything[c] for c in self._codes(values)))

    def models_of(self, values: tuple[str, ...]) -> np.ndarray:
        """The models with any of ``values``, ascending."""
        parts = [self.postings[self.posting_starts[c] : self.posting_starts[c + 1]] for c in self._codes(values)]
        if not parts:
            return np.zeros(0, dtype=np.int32)
        return parts[0] if len(parts) == 1 else distinct(np.concatenate(parts))

    def keep(self, models: np.ndarray, values: tuple[str, ...], count: int) -> np.ndarray:
        """Those of ``models`` (of ``count`` in all) with any of ``values``."""
        wanted = np.zeros(len(self.vocab), dtype=bool)
        wanted[np.array(self._codes(values), dtype=np.int64)] = True
        if self.starts is None or self.owners is None:
            return models[wanted[self.codes[models]]]
        if _broad(models, count):  # every entry at once is quicker than finding the models' entries
            has = np.zeros(count, dtype=bool)
            has[self.owners[wanted[self.codes]]] = True
            return models[has[models]]
        entries, owner = ranges(self.starts, models)
        hit = np.zeros(len(models), dtype=bool)
        hit[owner[wanted[self.codes[entries]]]] = True
        return models[hit]

    def count(self, models: np.ndarray | None, chosen: np.ndarray | None = None) -> np.ndarray:
        """Models per code among ``models`` (None: all); ``chosen``: the same as one boolean per model, if made."""
        if models is None:
            return self.everything
        if self.starts is None or self.owners is None:
            codes = self.codes[models]
        elif chosen is not None:
            codes = self.codes[chosen[self.owners]]
        else:
            codes = self.codes[entries(self.starts, models)]
        return np.bincount(codes, minlength=len(self.vocab))

    def listed(
        self, counts: np.ndarray, top: int | None = None, selected: tuple[str, ...] = ()
    ) -> list[tuple[str, int]]:
        """(value, models) of the values present, most first then by value; ``top`` of them and the ``selected``."""
        present = np.flatnonzero(counts)
        ordered = present[np.lexsort((self.rank[present], -counts[present]))]
        if top is not None:
            keep = np.arange(len(ordered)) < top
            chosen = self._codes(selected)
            if chosen:
                keep |= np.isin(ordered, chosen)
            ordered = ordered[keep]
        return [(self.vocab[i], int(counts[i])) for i in ordered]

    @property
    def nbytes(self) -> int:
        """Memory held beyond the table's codes."""
        arrays = (self.postings, self.posting_starts, self.rank, self.everything, self.starts, self.owners)
        return sum(a.nbytes for a in arrays if a is not None)


def _broad(models: np.ndarray, count: int) -> bool:
    """Whether ``models`` are many of ``count``: past an eighth, work over every model beats work per model."""
    return 8 * len(models) > count


def _order(table: pa.Table, columns: tuple[str, ...]) -> np.ndarray:
    """The models in a sort's order: ``columns`` each highest first, missing last, then the repo id (table order)."""
    keys: list[np.ndarray] = [np.arange(table.num_rows)]
    for name in reversed(columns):
        column = table.column(name)
        missing = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
        values = np.asarray(pc.fill_null(column, pa.scalar(0, column.type)).to_numpy())
        keys += [-values, missing]  # np.lexsort: the last key sorts first
    return np.lexsort(keys).astype(np.int32)


def _rank(order: np.ndarray) -> np.ndarray:
    """Each model's place in ``order``."""
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order), dtype=order.dtype)
    return rank


def _bitmap(models: np.ndarray, count: int) -> np.ndarray:
    """``models`` (of ``count``) as a bitmap."""
    chosen = np.zeros(count, dtype=bool)
    chosen[models] = True
    return np.packbits(chosen)


def _in_memory(rows: pa.Table, cards: dict[str, str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the card texts (for ``contains``)."""
    con = duckdb.connect(":memory:")
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    con.execute("SET threads = 1")  # concurrent requests use the cores; one query does not fan out over them
    positions = pa.array(np.arange(rows.num_rows, dtype=np.int32))
    con.register("_names", pa.table({"rid": positions, "repo_id": rows["repo_id"]}))
    texts = pa.table({"repo_id": pa.array(list(cards), pa.string()),
                      "lowered": pa.array([v.lower() for v in cards.values()], pa.large_string())})  # fmt: skip
    con.register("_cards", texts)
    con.execute("CREATE TABLE card_text AS SELECT n.rid, c.lowered::VARCHAR AS lowered FROM _cards c"
                " JOIN _names n USING (repo_id) ORDER BY n.rid")  # fmt: skip
    con.unregister("_names")
    con.unregister("_cards")
    return con


def _stack(facets: dict[str, _Facet], models: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The single-valued facets of few values (tasks, claims, score ranges, ...) as one matrix of codes, each
    facet's shifted past the ones before it: the facet counts of a search are then one gather and one
    ``bincount`` instead of one per facet (numpy holds the GIL, and a server answers many searches at once)."""
    names = [name for name, f in facets.items() if f.starts is None and len(f.vocab) <= SMALL_VOCAB]
    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(facets[name].vocab) for name in names], out=offsets[1:])
    dtype = np.int16 if offsets[-1] < np.iinfo(np.int16).max else np.int32
    stack = np.empty((len(names), models), dtype=dtype)
    for i, name in enumerate(names):
        np.add(facets[name].codes, offsets[i], out=stack[i], casting="unsafe")
    return names, offsets, stack


class ModelIndex:
    """The served snapshot's models in memory, searched and counted per request."""

    def __init__(self, rows: pa.Table, con: duckdb.DuckDBPyConnection, card_texts: int, family: Family,
                 locator: Locator) -> None:  # fmt: skip
        self._con = con
        self._words = Words(rows.column("repo_lower").combine_chunks())
        self._lock = threading.Lock()
        self._local = threading.local()
        self._facet_cache: OrderedDict[tuple[Any, ...], tuple[int, dict[str, list[tuple[str, int]]]]] = OrderedDict()
        self._word_cache: OrderedDict[tuple[Any, ...], tuple[np.ndarray | None, np.ndarray | None]] = OrderedDict()
        self._facets: dict[str, _Facet] = {}
        columns = {name: rows.column(name).combine_chunks() for name in RESULT_COLUMNS}
        for name, (column, is_list, _) in FACETS.items():
            self._facets[name], columns[column] = _Facet.of(columns[column], is_list)
        self._stacked, self._stack_offsets, self._stack = _stack(self._facets, rows.num_rows)
        self._rows = pa.table(columns)
        self._ids = columns["repo_id"]
        self._orders = {name: _order(rows, keys) for name, keys in SORT_KEYS.items()}
        self._ranks = {name: _rank(order) for name, order in self._orders.items()}
        self._family = family
        self._locator = locator
        self.models = rows.num_rows
        self.card_texts = card_texts
        """Models whose card text is searchable."""

    @classmethod
    def build(cls, store: Store, snapshot_id: int, run_id: int | None, cards: dict[str, str]) -> ModelIndex:
        """Read the snapshot's models from ``store`` into memory; ``cards``: card texts to search (repo id -> text)."""
        licenses.install(store.con)
        bound = {"sid": snapshot_id, "run": -1 if run_id is None else run_id, "iso": sorted(ISO_639_1)}
        rows = store.con.sql(INDEX_SQL, params=bound).to_arrow_table().combine_chunks()
        con = _in_memory(rows, cards)
        family = Family.read(store.con, snapshot_id)
        locator = Locator.read(store.con, rows.column("repo_id").combine_chunks(), snapshot_id, run_id)
        return cls(rows, con, len(cards), family, locator)

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor on the in-memory DuckDB (made once per thread)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:  # creating a cursor is not thread-safe; using one per thread is
                cursor = self._con.cursor()
            self._local.cursor = cursor
        yield cursor

    # -- search ----------------------------------------------------------------------------------

    def page(self, query: ModelQuery) -> Page:
        """The rows of ``query``'s page, the number of matches and the facet counts over all the matches."""
        matches = self._matches(query)
        total, facets = self._facet_counts(query, matches)
        return Page(total, self._page_rows(query, matches), facets)

    def _matches(self, query: ModelQuery) -> np.ndarray | None:
        """The models ``query`` selects, ascending (None: all of them).

        The words' matches, or else the models of the narrowest facet, narrowed by each other facet in turn: the
        work grows with the matches, not with the snapshot.
        """
        matches = self._word_matches(query)
        facets = sorted(query.facets, key=lambda f: self._facets[f[0]].size(f[1]))
        if matches is None and facets:
            name, values = facets.pop(0)
            matches = self._facets[name].models_of(values)
        for name, values in facets:
            assert matches is not None
            matches = self._facets[name].keep(matches, values, self.models)
        return matches

    def _word_matches(self, query: ModelQuery) -> np.ndarray | None:
        """The models whose id (or card text, ``cards``) contains every search word, ascending; None: no words."""
        words = query.words
        if not words:
            return None
        cards = query.cards and bool(self.card_texts)
        key = (tuple(words), cards)
        with self._lock:
            kept = self._word_cache.get(key)
            if kept is not None:
                self._word_cache.move_to_end(key)
        if kept is None:
            matches = None
            for word in dict.fromkeys(words):
                found = self._words.matching(word)
                if cards:  # the id or the card text
                    found = distinct(np.concatenate([found, self._card_matches(word)]))
                matches = found if matches is None else np.intersect1d(matches, found, assume_unique=True)
            assert matches is not None
            kept = (matches, None) if matches.nbytes * 8 < self.models else (None, _bitmap(matches, self.models))
            with self._lock:
                self._word_cache[key] = kept
                while len(self._word_cache) > WORD_CACHE:
                    self._word_cache.popitem(last=False)
        listed, bits = kept
        if listed is not None:
            return listed
        assert bits is not None
        return np.flatnonzero(np.unpackbits(bits, count=self.models)).astype(np.int32)

    def _card_matches(self, word: str) -> np.ndarray:
        """The models whose card text (held in memory) contains ``word``."""
        with self._cursor() as cursor:
            found = cursor.execute("SELECT rid FROM card_text WHERE contains(lowered, ?)", [word]).fetchnumpy()
        return np.asarray(found["rid"], dtype=np.int32)

    def _facet_counts(
        self, query: ModelQuery, matches: np.ndarray | None
    ) -> tuple[int, dict[str, list[tuple[str, int]]]]:
        """How many models match, and the facet counts over them (cached: paging and sorting do not change them)."""
        key = (tuple(query.words), query.cards and bool(self.card_texts), query.facets)
        with self._lock:
            if key in self._facet_cache:
                self._facet_cache.move_to_end(key)
                return self._facet_cache[key]
        total = self.models if matches is None else len(matches)
        chosen = None
        if matches is not None and _broad(matches, self.models):
            chosen = np.zeros(self.models, dtype=bool)
            chosen[matches] = True
        stacked: dict[str, np.ndarray] = {}
        if matches is not None and self._stacked:  # the small single-valued facets counted in one pass
            together = np.bincount(self._stack[:, matches].ravel(), minlength=int(self._stack_offsets[-1]))
            stacked = {name: together[self._stack_offsets[i] : self._stack_offsets[i + 1]]
                       for i, name in enumerate(self._stacked)}  # fmt: skip
        facets = {
            name: facet.listed(
                stacked[name] if name in stacked else facet.count(matches, chosen), FACET_TOP, query.selected(name)
            )
            for name, facet in self._facets.items()
        }
        with self._lock:
            self._facet_cache[key] = (total, facets)
            while len(self._facet_cache) > FACET_CACHE:
                self._facet_cache.popitem(last=False)
        return total, facets

    def _page_rows(self, query: ModelQuery, matches: np.ndarray | None) -> list[dict[str, Any]]:
        """The page's rows: the matches from the page's first to its last in the sort's order."""
        start = (query.page - 1) * query.per
        end = start + query.per
        if matches is None:
            chosen = self._orders[query.sort][start:end]
        else:
            ranks = self._ranks[query.sort][matches]
            first = np.argpartition(ranks, end - 1)[:end] if end < len(ranks) else np.arange(len(ranks))
            chosen = matches[first[np.argsort(ranks[first])]][start:end]
        return list(self._rows.take(pa.array(chosen)).to_pylist())

    def counts(self, facet: str) -> list[tuple[str, int]]:
        """Models per value of ``facet`` over the whole snapshot, most first (every value)."""
        found = self._facets[facet]
        return found.listed(found.everything)

    @property
    def table(self) -> pa.Table:
        """The index's rows (``RESULT_COLUMNS``, repo-id order; facet values dictionary-encoded)."""
        return self._rows

    # -- one model -------------------------------------------------------------------------------

    def position(self, repo_id: str) -> int | None:
        """The model's place in the index, or None when it is not in the snapshot."""
        return find_sorted(self._ids, repo_id)

    def row(self, repo_id: str) -> dict[str, Any] | None:
        """A model's index row, or None when it is not in the snapshot."""
        at = self.position(repo_id)
        return None if at is None else dict(self._rows.take(pa.array([at])).to_pylist()[0])

    def spans(self, repo_id: str) -> Spans | None:
        """Where the model's rows lie in the store's tables (``web.locate``), or None when it is not in the snapshot."""
        at = self.position(repo_id)
        return None if at is None else self._locator.spans(at)

    def lineage(self, repo_id: str) -> Lineage:
        """The model's ancestors, derivatives and inherited risks (``audits.lineage``'s, from the graph in memory)."""
        return self._family.lineage(repo_id)

    def generations(self, repo_id: str, per_level: int) -> Generations | None:
        """The model's family by generation, for the model page's drawing (``Family.generations``)."""
        return self._family.generations(repo_id, per_level)

    @property
    def nbytes(self) -> int:
        """Memory the index holds in arrays (the in-memory DuckDB of ids and card texts not counted)."""
        orders = [*self._orders.values(), *self._ranks.values()]
        arrays = sum(f.nbytes for f in self._facets.values()) + sum(o.nbytes for o in orders) + self._stack.nbytes
        return self._rows.nbytes + arrays + self._words.nbytes + self._family.nbytes + self._locator.nbytes
