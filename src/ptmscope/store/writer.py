"""Streaming writes of records into one snapshot.

``SnapshotWriter`` turns records into rows of every table they touch (a model record
fills ``models``, ``model_tags``, ``model_files`` and the facts its tags and cardData
declare; a card fills ``cards``, ``card_sections``, ``claims`` and the facts its front
matter declares), buffers them column-wise and appends them to DuckDB as Arrow batches,
one transaction per batch. Memory stays flat however many records stream through, and
an interruption loses at most the batch in flight.

The writer keeps one row per ``(snapshot, repo_id)`` in ``models`` and ``cards``: a
later record with the same id is reported as a duplicate and the first is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ptmscope.cards.analysis import CardAnalysis, CardFacts, analyze_card, card_facts, claims_from_model_index
from ptmscope.records import (
    BadRecord,
    CardRecord,
    ModelRecord,
    MonthlyDownloads,
    OrgRecord,
    Record,
    RegistryDownloads,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from ptmscope.store.store import Snapshot, Store

# Base-model relations the Hub encodes in tags as ``base_model:<relation>:<id>``.
BASE_MODEL_RELATIONS = frozenset({"finetune", "adapter", "merge", "quantized"})


def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    s, i32, i64, b, d = pa.string(), pa.int32(), pa.int64(), pa.bool_(), pa.float64()
    ls = pa.list_(pa.string())
    return {
        "models": pa.schema(
            [
                ("snapshot_id", i32),
                ("repo_id", s),
                ("namespace", s),
                ("author", s),
                ("sha", s),
                ("last_modified", s),
                ("created_at", s),
                ("private", b),
                ("gated", s),
                ("disabled", b),
                ("downloads", i64),
                ("downloads_all_time", i64),
                ("likes", i64),
                ("pipeline_tag", s),
                ("library_name", s),
                ("model_type", s),
                ("architectures", ls),
                ("num_files", i32),
                ("has_readme", b),
                ("parameters", i64),
                ("used_storage", i64),
                ("security_status", s),
                ("card_data", s),
                ("source_file", s),
            ]
        ),
        "model_tags": pa.schema([("snapshot_id", i32), ("repo_id", s), ("tag", s)]),
        "model_files": pa.schema(
            [("snapshot_id", i32), ("repo_id", s), ("path", s), ("size", i64), ("blob_id", s), ("lfs_sha256", s)]
        ),
        "model_datasets": pa.schema([("snapshot_id", i32), ("repo_id", s), ("dataset", s), ("source", s)]),
        "model_licenses": pa.schema([("snapshot_id", i32), ("repo_id", s), ("license", s), ("source", s)]),
        "base_models": pa.schema(
            [("snapshot_id", i32), ("repo_id", s), ("base_model", s), ("relation", s), ("source", s)]
        ),
        "model_links": pa.schema([("snapshot_id", i32), ("repo_id", s), ("kind", s), ("target", s), ("source", s)]),
        "cards": pa.schema(
            [
                ("snapshot_id", i32),
                ("repo_id", s),
                ("status", s),
                ("error", s),
                ("length", i32),
                ("truncated", b),
                ("yaml_keys", ls),
                ("license", s),
                ("library_name", s),
                ("pipeline_tag", s),
                ("languages", ls),
                ("model_index", s),
                ("model_index_error", s),
                ("placeholders", i32),
                ("mentions_hyperparameters", b),
                ("mentions_hardware", b),
                ("has_results_table", b),
                ("has_usage_code", b),
                ("source_file", s),
            ]
        ),
        "card_sections": pa.schema(
            [("snapshot_id", i32), ("repo_id", s), ("section", s), ("heading", s), ("filled", b), ("chars", i32)]
        ),
        "claims": pa.schema(
            [
                ("snapshot_id", i32),
                ("repo_id", s),
                ("source", s),
                ("model_name", s),
                ("task_type", s),
                ("task_name", s),
                ("dataset_type", s),
                ("dataset_name", s),
                ("dataset_config", s),
                ("dataset_split", s),
                ("metric_type", s),
                ("metric_name", s),
                ("value", d),
                ("value_text", s),
                ("verified", b),
                ("hf_valid", b),
            ]
        ),
        "organizations": pa.schema(
            [
                ("snapshot_id", i32),
                ("name", s),
                ("fullname", s),
                ("kind", s),
                ("is_verified", b),
                ("num_users", i64),
                ("num_models", i64),
                ("num_followers", i64),
                ("source_file", s),
            ]
        ),
        "model_downloads_monthly": pa.schema([("snapshot_id", i32), ("repo_id", s), ("month", s), ("downloads", i64)]),
        "registry_downloads": pa.schema(
            [
                ("snapshot_id", i32),
                ("registry", s),
                ("package", s),
                ("downloads", i64),
                ("period", s),
                ("source_file", s),
            ]
        ),
        "import_errors": pa.schema(
            [("snapshot_id", i32), ("source_file", s), ("location", s), ("repo_id", s), ("reason", s)]
        ),
    }


# Columns that arrive as text and are cast by DuckDB (malformed -> NULL).
_CASTS: dict[str, dict[str, str]] = {
    "models": {
        "last_modified": "TIMESTAMPTZ",
        "created_at": "TIMESTAMPTZ",
        "security_status": "JSON",
        "card_data": "JSON",
    },
    "model_downloads_monthly": {"month": "DATE"},
}


@dataclass
class WriteStats:
    """What a writer has written so far."""

    models: int = 0
    cards: int = 0
    organizations: int = 0
    monthly_downloads: int = 0
    registry_downloads: int = 0
    bad_records: int = 0
    duplicates: int = 0
    field_issues: Counter[str] | None = None
    card_status: Counter[str] | None = None

    def __post_init__(self) -> None:
        self.field_issues = Counter()
        self.card_status = Counter()


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None


class SnapshotWriter:
    """Buffers the rows of one snapshot and appends them to the store in batches."""

    def __init__(self, store: Store, snapshot: Snapshot, *, batch_rows: int = 50_000) -> None:
        self.store = store
        self.snapshot = snapshot
        self.batch_rows = batch_rows
        self.stats = WriteStats()
        self._sid = snapshot.snapshot_id
        self._schemas = _schemas()
        self._buffers: dict[str, dict[str, list[Any]]] = {
            table: {name: [] for name in schema.names} for table, schema in self._schemas.items()
        }
        self._pending = 0
        self._model_ids: set[str] = set()
        self._card_ids: set[str] = set()
        self._org_names: set[str] = set()
        # Ids already in the snapshot (when appending to it).
        for table, column, seen in (
            ("models", "repo_id", self._model_ids),
            ("cards", "repo_id", self._card_ids),
            ("organizations", "name", self._org_names),
        ):
            rows = store.con.execute(f"SELECT {column} FROM {table} WHERE snapshot_id = ?", [self._sid]).fetchall()
            seen.update(r[0] for r in rows)

    # -- row helpers -----------------------------------------------------------------

    def _row(self, table: str, *values: Any) -> None:
        buffer = self._buffers[table]
        for column, value in zip(buffer.values(), (self._sid, *values), strict=True):
            column.append(value)
        self._pending += 1

    def bad(self, source_file: str, location: str, reason: str, repo_id: str | None = None) -> None:
        """Record an input record that could not be used."""
        self.stats.bad_records += 1
        self._row("import_errors", source_file, location, repo_id, reason[:1_000])
        self._maybe_flush()

    # -- records ---------------------------------------------------------------------

    def add(self, record: Record, source_file: str, location: str) -> None:
        """Write any record a source yields."""
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
            self.bad(source_file, location, record.reason, record.repo_id)
            return
        self._maybe_flush()

    def add_model(self, rec: ModelRecord, source_file: str, location: str = "") -> None:
        """Write one model and the facts its tags and cardData declare."""
        rid = rec.repo_id
        if rid in self._model_ids:
            self.stats.duplicates += 1
            self.bad(source_file, location, "duplicate model id (the first record is kept)", rid)
            return
        self._model_ids.add(rid)
        self.stats.models += 1
        assert self.stats.field_issues is not None
        for name in rec.field_issues:
            self.stats.field_issues[name] += 1
        files = rec.files
        self._row(
            "models",
            rid,
            rec.namespace,
            rec.author,
            rec.sha,
            rec.last_modified,
            rec.created_at,
            rec.private,
            rec.gated,
            rec.disabled,
            rec.downloads,
            rec.downloads_all_time,
            rec.likes,
            rec.pipeline_tag,
            rec.library_name,
            rec.model_type,
            rec.architectures,
            None if files is None else len(files),
            None if files is None else any(f.path.lower() == "readme.md" for f in files),
            rec.parameters,
            rec.used_storage,
            _dumps(rec.security_status),
            _dumps(rec.card_data),
            source_file,
        )
        if files:
            for f in files:
                self._row("model_files", rid, f.path, f.size, f.blob_id, f.lfs_sha256)
        if rec.tags:
            self._add_tags(rid, rec.tags)
        if rec.card_data:
            self._add_facts(rid, card_facts(rec.card_data, validate=False), "card_data", hf_valid=None)
        if rec.model_index is not None:
            for claim in claims_from_model_index(rec.model_index):
                self._add_claim(rid, claim, "model_index", None)
        if rec.card_text is not None:
            self.add_card(rid, rec.card_text, source_file, location)

    def _add_tags(self, rid: str, tags: list[str]) -> None:
        based: dict[str, str | None] = {}
        for tag in tags:
            self._row("model_tags", rid, tag)
            prefix, sep, value = tag.partition(":")
            if not sep or not value:
                continue
            if prefix == "license":
                self._row("model_licenses", rid, value, "tag")
            elif prefix == "dataset":
                self._row("model_datasets", rid, value, "tag")
            elif prefix == "arxiv":
                self._row("model_links", rid, "arxiv", value, "tag")
            elif prefix == "doi":
                self._row("model_links", rid, "doi", value, "tag")
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

    def _add_claim(self, rid: str, c: Any, source: str, hf_valid: bool | None) -> None:
        self._row(
            "claims",
            rid,
            source,
            c.model_name,
            c.task_type,
            c.task_name,
            c.dataset_type,
            c.dataset_name,
            c.dataset_config,
            c.dataset_split,
            c.metric_type,
            c.metric_name,
            c.value,
            c.value_text,
            c.verified,
            hf_valid,
        )

    def add_card(self, repo_id: str, content: str | bytes | None, source_file: str, location: str = "") -> None:
        """Analyse and write one model card (``None`` content: the source says there is no README)."""
        if repo_id in self._card_ids:
            self.stats.duplicates += 1
            self.bad(source_file, location, "duplicate model card (the first one is kept)", repo_id)
            return
        self._card_ids.add(repo_id)
        self.stats.cards += 1
        assert self.stats.card_status is not None
        if content is None:
            self.stats.card_status["missing"] += 1
            self._row(
                "cards",
                repo_id,
                "missing",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                source_file,
            )
            return
        analysis = analyze_card(content)
        self.stats.card_status[analysis.status] += 1
        self.write_analysis(repo_id, analysis, source_file)

    def write_analysis(self, repo_id: str, a: CardAnalysis, source_file: str) -> None:
        """Write the rows of one analysed card."""
        facts = a.facts
        self._row(
            "cards",
            repo_id,
            a.status,
            a.error,
            a.length,
            a.truncated,
            a.yaml_keys,
            facts.licenses[0] if facts.licenses else None,
            facts.library_name,
            facts.pipeline_tag,
            facts.languages,
            facts.model_index,
            facts.model_index_error,
            a.placeholders,
            a.mentions_hyperparameters,
            a.mentions_hardware,
            a.has_results_table,
            a.has_usage_code,
            source_file,
        )
        for section in a.sections:
            self._row("card_sections", repo_id, section.section, section.heading, section.filled, section.chars)
        self._add_facts(repo_id, facts, "card", hf_valid=facts.model_index == "valid")
        for kind, target in a.links:
            self._row("model_links", repo_id, kind, target, "card")
        self._maybe_flush()

    def add_org(self, org: OrgRecord, source_file: str, location: str = "") -> None:
        """Write one organization."""
        if org.name in self._org_names:
            self.stats.duplicates += 1
            self.bad(source_file, location, "duplicate organization (the first record is kept)", org.name)
            return
        self._org_names.add(org.name)
        self.stats.organizations += 1
        self._row(
            "organizations",
            org.name,
            org.fullname,
            org.kind,
            org.is_verified,
            org.num_users,
            org.num_models,
            org.num_followers,
            source_file,
        )

    # -- flushing --------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if self._pending >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Append every buffered row to the store in one transaction."""
        if not self._pending:
            return
        import pyarrow as pa

        con = self.store.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table, buffer in self._buffers.items():
                first = next(iter(buffer.values()))
                if not first:
                    continue
                batch = pa.table(buffer, schema=self._schemas[table])
                self.store.append_arrow(table, batch, casts=_CASTS.get(table))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            for buffer in self._buffers.values():
                for column in buffer.values():
                    column.clear()
            self._pending = 0
