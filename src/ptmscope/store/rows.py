"""Records to rows: the pure half of writing a snapshot (no store, no I/O).

``RowBuilder`` turns records into column buffers for every table they touch (a model
record fills ``models`` plus the files, tags and facts its tags and cardData declare; a
card fills ``cards``, ``card_sections``, ``claims`` and the facts its front matter
declares) and hands them over as Arrow tables with ``take()``. Because it touches no
store, it runs as well in a worker process as in the importer's own: the importer
builds batches of a big file on every core and the store writes them in order.

A builder keeps one model, card and organization per id *within its batch*; the
writer (``ptmscope.store.writer``) enforces the same across batches.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from ptmscope.cards.analysis import CardAnalysis, CardFacts, Claim, analyze_card, card_facts
from ptmscope.cards.frontmatter import DEFAULT_RULE, FrontMatterRule
from ptmscope.cards.model_index import claims_from_model_index
from ptmscope.records import (
    BadRecord,
    CardRecord,
    ModelRecord,
    MonthlyDownloads,
    OrgRecord,
    Record,
    RegistryDownloads,
)

# Base-model relations the Hub encodes in tags as ``base_model:<relation>:<id>``.
BASE_MODEL_RELATIONS = frozenset({"finetune", "adapter", "merge", "quantized"})

# Batch columns that are not columns of their table: list columns exploded into
# model_files / model_tags by SQL, and where each record came from (for duplicates).
HIDDEN_COLUMNS: dict[str, frozenset[str]] = {
    "models": frozenset({"tags", "file_paths", "file_sizes", "file_blobs", "file_lfs", "location"}),
    "cards": frozenset({"location"}),
    "organizations": frozenset({"location"}),
}

DUPLICATE_MODEL = "duplicate model id (the first record is kept)"
DUPLICATE_CARD = "duplicate model card (the first one is kept)"
DUPLICATE_ORG = "duplicate organization (the first record is kept)"


def schemas() -> dict[str, pa.Schema]:
    """Arrow schema of each table's batch (without ``snapshot_id``, which the writer adds)."""
    s, i32, i64, b, d = pa.string(), pa.int32(), pa.int64(), pa.bool_(), pa.float64()
    ls = pa.list_(pa.string())

    def schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
        return pa.schema(list(fields))

    return {
        "models": schema(
            ("repo_id", s), ("namespace", s), ("author", s), ("sha", s), ("last_modified", s), ("created_at", s),
            ("private", b), ("gated", s), ("disabled", b), ("downloads", i64), ("downloads_all_time", i64),
            ("likes", i64), ("pipeline_tag", s), ("library_name", s), ("model_type", s), ("architectures", ls),
            ("num_files", i32), ("has_readme", b), ("parameters", i64), ("has_auto_map", b), ("quantization", s),
            ("used_storage", i64),
            ("security_status", s), ("card_data", s), ("source_file", s),
            ("tags", ls), ("file_paths", ls), ("file_sizes", pa.list_(i64)), ("file_blobs", ls), ("file_lfs", ls),
            ("location", s),
        ),
        "model_datasets": schema(("repo_id", s), ("dataset", s), ("source", s)),
        "model_licenses": schema(("repo_id", s), ("license", s), ("source", s)),
        "base_models": schema(("repo_id", s), ("base_model", s), ("relation", s), ("source", s)),
        "model_links": schema(("repo_id", s), ("kind", s), ("target", s), ("source", s), ("role", s)),
        "card_results": schema(
            ("repo_id", s), ("dataset", s), ("split", s), ("metric", s), ("value", d), ("value_text", s), ("unit", s),
            ("found_in", s), ("snippet", s), ("line", i32),
        ),
        "card_evidence": schema(
            ("repo_id", s), ("kind", s), ("name", s), ("value", s), ("declared_in", s), ("role", s), ("snippet", s),
            ("line", i32),
        ),
        "cards": schema(
            ("repo_id", s), ("status", s), ("error", s), ("length", i32), ("truncated", b), ("yaml_keys", ls),
            ("license", s), ("library_name", s), ("pipeline_tag", s), ("languages", ls), ("model_index", s),
            ("model_index_error", s), ("placeholders", i32), ("mentions_hyperparameters", b),
            ("mentions_hardware", b), ("has_results_table", b), ("has_usage_code", b), ("mentions_finetuning", b),
            ("mentions_latency", b), ("front_matter", s), ("front_matter_line", i32), ("source_file", s),
            ("location", s),
        ),
        "card_sections": schema(
            ("repo_id", s), ("section", s), ("heading", s), ("filled", b), ("chars", i32)
        ),
        "claims": schema(
            ("repo_id", s), ("source", s), ("model_name", s), ("task_type", s), ("task_name", s),
            ("dataset_type", s), ("dataset_name", s), ("dataset_config", s), ("dataset_split", s),
            ("metric_type", s), ("metric_name", s), ("value", d), ("value_text", s), ("verified", b),
            ("hf_valid", b), ("entry", i32), ("status", s), ("paper", b),
        ),
        "model_indexes": schema(
            ("repo_id", s), ("source", s), ("key", s), ("entries", i32), ("metrics", i32),
            ("metrics_without_value", i32), ("paper_claims", i32), ("paper_error", s), ("paper_detail", s),
        ),
        "organizations": schema(
            ("name", s), ("fullname", s), ("kind", s), ("is_verified", b), ("num_users", i64), ("num_models", i64),
            ("num_followers", i64), ("source_file", s), ("location", s),
        ),
        "model_downloads_monthly": schema(("repo_id", s), ("month", s), ("downloads", i64)),
        "registry_downloads": schema(
            ("registry", s), ("package", s), ("downloads", i64), ("period", s), ("source_file", s)
        ),
        "import_errors": schema(("source_file", s), ("location", s), ("repo_id", s), ("reason", s)),
        "repo_files": schema(("repo_id", s), ("path", s), ("size", i64), ("blob_id", s), ("content", pa.binary())),
    }  # fmt: skip


@dataclass
class WriteStats:
    """What has been written (or, in a builder, buffered)."""

    models: int = 0
    cards: int = 0
    organizations: int = 0
    monthly_downloads: int = 0
    registry_downloads: int = 0
    bad_records: int = 0
    duplicates: int = 0
    field_issues: Counter[str] = field(default_factory=Counter)
    card_status: Counter[str] = field(default_factory=Counter)

    def merge(self, other: WriteStats) -> None:
        """Add another batch's counts to these."""
        for name in ("models", "cards", "organizations", "monthly_downloads", "registry_downloads",
                     "bad_records", "duplicates"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.field_issues.update(other.field_issues)
        self.card_status.update(other.card_status)


@dataclass
class Batch:
    """The rows of a batch of records, as Arrow tables, and what they held."""

    tables: dict[str, pa.Table]
    stats: WriteStats
    records: int
    """Input records the batch was built from (bad ones included)."""
    bad_records: int
    """Of those, records that could not be used."""


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None


_MISSING_CARD = ("missing", *([None] * 19))


def card_bytes(content: str | bytes) -> bytes:
    """A card's bytes as a server would send them (text as UTF-8; lone surrogates kept, never dropped)."""
    return content if isinstance(content, bytes) else content.encode("utf-8", errors="surrogatepass")


def git_blob_id(data: bytes) -> str:
    """The git object id of a blob holding ``data`` (what the Hub sends as the ETag of a small file)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


class RowBuilder:
    """Buffers the rows that records produce, column by column.

    With ``keep_files`` a card's bytes are kept too (table ``repo_files``, path README.md), so the
    snapshot can be served again (``ptmscope serve-hub``). ``front_matter`` is the era's rule for
    finding a card's YAML block (``ptmscope.cards.frontmatter``).
    """

    def __init__(self, *, keep_files: bool = False, front_matter: FrontMatterRule = DEFAULT_RULE) -> None:
        self.keep_files = keep_files
        self.front_matter: FrontMatterRule = front_matter
        self._schemas = schemas()
        self._columns: dict[str, list[list[Any]]] = {
            table: [[] for _ in schema.names] for table, schema in self._schemas.items()
        }
        self.pending = 0
        """Rows buffered (a model's files and tags count)."""
        self.stats = WriteStats()
        self._records = 0
        self._bad = 0
        self._model_ids: set[str] = set()
        self._card_ids: set[str] = set()
        self._org_names: set[str] = set()

    def _row(self, table: str, *values: Any) -> None:
        for column, value in zip(self._columns[table], values, strict=True):
            column.append(value)
        self.pending += 1

    # -- records ---------------------------------------------------------------------

    def add(self, record: Record, source_file: str, location: str) -> None:
        """Buffer the rows of any record a source yields."""
        self._records += 1
        if isinstance(record, ModelRecord):
            self.add_model(record, source_file, location)
        elif isinstance(record, CardRecord):
            self.add_card(record.repo_id, record.content, source_file, location)
        elif isinstance(record, OrgRecord):
            self.add_org(record, source_file, location)
        elif isinstance(record, MonthlyDownloads):
            self._row("model_downloads_monthly", record.repo_id, record.month, record.downloads)
            self.stats.monthly_downloads += 1
        elif isinstance(record, RegistryDownloads):
            self._row(
                "registry_downloads", record.registry, record.package, record.downloads, record.period, source_file
            )
            self.stats.registry_downloads += 1
        elif isinstance(record, BadRecord):
            self._bad += 1
            self.bad(source_file, location, record.reason, record.repo_id)

    def bad(self, source_file: str, location: str, reason: str, repo_id: str | None = None) -> None:
        """Record an input record (or file) that could not be used, and why."""
        self.stats.bad_records += 1
        self._row("import_errors", source_file, location, repo_id, reason[:1_000])

    def add_model(self, rec: ModelRecord, source_file: str, location: str = "") -> None:
        """Buffer one model and the facts its tags and cardData declare."""
        rid = rec.repo_id
        if rid in self._model_ids:
            self.stats.duplicates += 1
            self.bad(source_file, location, DUPLICATE_MODEL, rid)
            return
        self._model_ids.add(rid)
        self.stats.models += 1
        for name in rec.field_issues:
            self.stats.field_issues[name] += 1
        for note in rec.notes:  # the model is kept; the row says which value was dropped and why
            self._row("import_errors", source_file, location, rid, note[:1_000])
        files = rec.files
        paths: list[str] | None = None
        sizes: list[int | None] | None = None
        blobs: list[str | None] | None = None
        lfs: list[str | None] | None = None
        if files:
            paths = [f.path for f in files]
            sizes = [f.size for f in files]
            blobs = [f.blob_id for f in files]
            lfs = [f.lfs_sha256 for f in files]
            has_readme: bool | None = "README.md" in paths or any(
                len(p) == 9 and p.lower() == "readme.md" for p in paths
            )
        else:
            has_readme = None if files is None else False
        self._row(
            "models", rid, rec.namespace, rec.author, rec.sha, rec.last_modified, rec.created_at, rec.private,
            rec.gated, rec.disabled, rec.downloads, rec.downloads_all_time, rec.likes, rec.pipeline_tag,
            rec.library_name, rec.model_type, rec.architectures, None if files is None else len(files), has_readme,
            rec.parameters, rec.has_auto_map, rec.quantization, rec.used_storage, _dumps(rec.security_status),
            _dumps(rec.card_data), source_file,
            rec.tags, paths,
            sizes if sizes and sizes.count(None) != len(sizes) else None,
            blobs if blobs and blobs.count(None) != len(blobs) else None,
            lfs if lfs and lfs.count(None) != len(lfs) else None,
            location,
        )  # fmt: skip
        self.pending += (len(files) if files else 0) + (len(rec.tags) if rec.tags else 0)
        if rec.tags:
            self._add_tags(rid, rec.tags)
        if rec.card_data:
            self._add_facts(rid, card_facts(rec.card_data, validate=False), "card_data", hf_valid=None)
        if rec.model_index is not None:
            for claim in claims_from_model_index(rec.model_index)[0]:
                self._add_claim(rid, claim, "model_index", None)
        if rec.card_text is not None:
            self.add_card(rid, rec.card_text, source_file, location)

    def _add_tags(self, rid: str, tags: list[str]) -> None:
        based: dict[str, str | None] = {}
        for tag in tags:
            prefix, sep, value = tag.partition(":")
            if not sep or not value:
                continue
            if prefix == "license":
                self._row("model_licenses", rid, value, "tag")
            elif prefix == "dataset":
                self._row("model_datasets", rid, value, "tag")
            elif prefix == "arxiv":
                self._row("model_links", rid, "arxiv", value, "tag", None)
            elif prefix == "doi":
                self._row("model_links", rid, "doi", value, "tag", None)
            elif prefix == "base_model":
                relation, sep2, base = value.partition(":")
                if sep2 and relation in BASE_MODEL_RELATIONS and base:
                    based[base] = relation
                else:
                    based.setdefault(value, None)
        for base_id, base_relation in based.items():
            self._row("base_models", rid, base_id, base_relation, "tag")

    def _add_facts(self, rid: str, facts: CardFacts, source: str, *, hf_valid: bool | None) -> None:
        for license_ in facts.licenses:
            self._row("model_licenses", rid, license_, source)
        for dataset in facts.datasets:
            self._row("model_datasets", rid, dataset, source)
        for base in facts.base_models:
            self._row("base_models", rid, base, None, source)
        for claim in facts.claims:
            self._add_claim(rid, claim, source, hf_valid)
        read = facts.model_index_read
        if read is not None:
            self._row(
                "model_indexes", rid, source, read.key, read.entries, read.metrics, read.metrics_without_value,
                read.paper_claims, read.paper_error, read.paper_detail,
            )  # fmt: skip

    def _add_claim(self, rid: str, c: Claim, source: str, hf_valid: bool | None) -> None:
        self._row(
            "claims", rid, source, c.model_name, c.task_type, c.task_name, c.dataset_type, c.dataset_name,
            c.dataset_config, c.dataset_split, c.metric_type, c.metric_name, c.value, c.value_text, c.verified,
            hf_valid, c.entry, c.status, c.paper,
        )  # fmt: skip

    def add_card(self, repo_id: str, content: str | bytes | None, source_file: str, location: str = "") -> None:
        """Analyse and buffer one model card (``None`` content: the source says there is no README)."""
        if repo_id in self._card_ids:
            self.stats.duplicates += 1
            self.bad(source_file, location, DUPLICATE_CARD, repo_id)
            return
        self._card_ids.add(repo_id)
        self.stats.cards += 1
        if content is None:
            self.stats.card_status["missing"] += 1
            self._row("cards", repo_id, *_MISSING_CARD, source_file, location)
            return
        if self.keep_files:
            data = card_bytes(content)
            self._row("repo_files", repo_id, "README.md", len(data), git_blob_id(data), data)
        analysis = analyze_card(content, self.front_matter, repo_id)
        self.stats.card_status[analysis.status] += 1
        self._add_analysis(repo_id, analysis, source_file, location)

    def _add_analysis(self, repo_id: str, a: CardAnalysis, source_file: str, location: str) -> None:
        facts = a.facts
        self._row(
            "cards", repo_id, a.status, a.error, a.length, a.truncated, a.yaml_keys,
            facts.licenses[0] if facts.licenses else None, facts.library_name, facts.pipeline_tag, facts.languages,
            facts.model_index, facts.model_index_error, a.placeholders, a.mentions_hyperparameters,
            a.mentions_hardware, a.has_results_table, a.has_usage_code, a.mentions_finetuning, a.mentions_latency,
            a.front_matter, a.front_matter_line, source_file, location,
        )  # fmt: skip
        for section in a.sections:
            self._row("card_sections", repo_id, section.section, section.heading, section.filled, section.chars)
        self._add_facts(repo_id, facts, "card", hf_valid=facts.model_index == "valid")
        for kind, target, role in a.links:
            self._row("model_links", repo_id, kind, target, "card", role)
        body = a.body
        for r in body.results:
            self._row("card_results", repo_id, r.dataset, r.split, r.metric, r.value, r.value_text, r.unit, r.found_in,
                      r.evidence.snippet, r.evidence.line)  # fmt: skip
        declared = {(d.lower()) for d in facts.datasets}
        bases = set(facts.base_models)
        for f in body.facts:
            self._row("card_evidence", repo_id, f.kind, f.name, f.value, f.declared_in, f.role, f.evidence.snippet,
                      f.evidence.line)  # fmt: skip
            # Text-declared bases and datasets join the metadata's, marked with where they were read.
            if f.kind == "base_model" and f.name not in bases:
                bases.add(f.name)
                self._row("base_models", repo_id, f.name, None, "text")
            elif f.kind == "dataset" and f.name.lower() not in declared:
                declared.add(f.name.lower())
                self._row("model_datasets", repo_id, f.name, "text")
            elif f.kind == "license" and not facts.licenses:  # the text's licence, when the metadata names none
                self._row("model_licenses", repo_id, f.name, "text")

    def add_org(self, org: OrgRecord, source_file: str, location: str = "") -> None:
        """Buffer one organization."""
        if org.name in self._org_names:
            self.stats.duplicates += 1
            self.bad(source_file, location, DUPLICATE_ORG, org.name)
            return
        self._org_names.add(org.name)
        self.stats.organizations += 1
        self._row(
            "organizations", org.name, org.fullname, org.kind, org.is_verified, org.num_users, org.num_models,
            org.num_followers, source_file, location,
        )  # fmt: skip

    # -- hand-over -------------------------------------------------------------------

    def take(self) -> Batch:
        """The buffered rows as Arrow tables; the builder starts a new, empty batch."""
        tables = {}
        for table, columns in self._columns.items():
            if columns[0]:
                schema = self._schemas[table]
                arrays = [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)]
                tables[table] = pa.Table.from_arrays(arrays, schema=schema)
                for column in columns:
                    column.clear()
        batch = Batch(tables, self.stats, self._records, self._bad)
        self.stats = WriteStats()
        self.pending = self._records = self._bad = 0
        self._model_ids.clear()
        self._card_ids.clear()
        self._org_names.clear()
        return batch
