"""The study's measurements: one function each, store in, JSON-able data out.

Each function answers one question of the ICSE 2023 paper (or one beyond it) with SQL
over a single snapshot. Definitions are in the docstrings and in docs/study.md; a
number that the snapshot cannot support is reported as not measured (None), never
made up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ptmscope.store.derived import SNAPSHOT_FILE_SCANS_SQL, is_format_sql
from ptmscope.studies.db import StudyDB

Data = dict[str, Any]


@dataclass(frozen=True)
class Measurement:
    """A registered measurement."""

    key: str
    """Key of its data in the study's JSON."""
    title: str
    paper: str | None
    """What in the paper it reproduces (None: beyond the paper)."""
    fn: Callable[[StudyDB, int], Data]


MEASUREMENTS: dict[str, Measurement] = {}


def measurement(
    key: str, title: str, paper: str | None = None
) -> Callable[[Callable[[StudyDB, int], Data]], Callable[[StudyDB, int], Data]]:
    """Register a measurement under ``key``; keys are unique."""

    def register(fn: Callable[[StudyDB, int], Data]) -> Callable[[StudyDB, int], Data]:
        if key in MEASUREMENTS:
            raise ValueError(f"measurement {key!r} registered twice")
        MEASUREMENTS[key] = Measurement(key, title, paper, fn)
        return fn

    return register


def share(part: float | None, whole: float | None) -> float | None:
    """part / whole, or None when the whole is unknown or zero."""
    if part is None or not whole:
        return None
    return part / whole


# Models of the snapshot; every fact table is restricted to them (cards may name
# models a listing lacks).
MODELS = "SELECT repo_id FROM models WHERE snapshot_id = $sid"

# -- overview -------------------------------------------------------------------------------


@measurement("overview", "Snapshot overview")
def overview(db: StudyDB, top: int) -> Data:
    """Counts that frame every other figure."""
    row = (
        db.one(
            """
        SELECT count(*), count(has_readme), count(*) FILTER (WHERE has_readme), count(downloads),
               sum(downloads), min(last_modified), max(last_modified), count(DISTINCT namespace),
               count(*) FILTER (WHERE namespace IS NULL), count(pipeline_tag), count(card_data),
               count(model_type), count(num_files), count(gated), count(*) FILTER (WHERE gated IN ('auto', 'manual'))
        FROM models WHERE snapshot_id = $sid
        """
        )
        or (0,) * 15
    )
    statuses = db.rows(
        f"""
        SELECT status, count(*) FROM cards
        WHERE snapshot_id = $sid AND repo_id IN ({MODELS})
        GROUP BY status ORDER BY count(*) DESC, status
        """
    )
    orphan_cards = db.scalar(f"SELECT count(*) FROM cards WHERE snapshot_id = $sid AND repo_id NOT IN ({MODELS})")
    errors = db.rows(
        "SELECT reason, count(*) FROM import_errors WHERE snapshot_id = $sid GROUP BY reason"
        " ORDER BY count(*) DESC LIMIT 20"
    )
    models = int(row[0] or 0)
    return {
        "models": models,
        "file_list_known": int(row[12] or 0),
        "readme_known": int(row[1] or 0),
        "with_readme": int(row[2] or 0),
        "with_downloads": int(row[3] or 0),
        "downloads_total": int(row[4]) if row[4] is not None else None,
        "last_modified_min": row[5].isoformat() if row[5] else None,
        "last_modified_max": row[6].isoformat() if row[6] else None,
        "namespaces": int(row[7] or 0),
        "legacy_unnamespaced": int(row[8] or 0),
        "with_pipeline_tag": int(row[9] or 0),
        "with_card_data": int(row[10] or 0),
        "with_model_type": int(row[11] or 0),
        "gated_known": int(row[13] or 0),
        "gated": int(row[14] or 0),
        "cards": {status: int(n) for status, n in statuses},
        "orphan_cards": int(orphan_cards or 0),
        "import_errors": {reason: int(n) for reason, n in errors},
    }


# -- Fig. 1 ---------------------------------------------------------------------------------

_CONCENTRATION = """
    SELECT any_value(n), sum(downloads),
           sum(downloads) FILTER (WHERE rank <= greatest(1, ceil(n * 0.01))),
           sum(downloads) FILTER (WHERE rank <= greatest(1, ceil(n * 0.10)))
    FROM d
"""


def _concentration(row: tuple[Any, ...] | None) -> Data:
    n, total, top1, top10 = row if row else (None, None, None, None)
    return {
        "population": int(n or 0),
        "total": int(total) if total is not None else None,
        "top1pct_share": share(top1, total),
        "top10pct_share": share(top10, total),
    }


@measurement("downloads", "Downloads of the most-downloaded packages", "Fig. 1")
def downloads(db: StudyDB, top: int) -> Data:
    """Top-100 downloads and the share of all downloads held by the top 1% and 10% of models.

    Population: models whose download count is known. The other registries come from
    package download tables imported into the snapshot (the ICSE'23 artifact's npm and
    PyPI lists); their shares are within the packages those tables list.
    """
    hub = _concentration(
        db.one(
            "WITH d AS (SELECT downloads, row_number() OVER (ORDER BY downloads DESC) AS rank,"
            " count(*) OVER () AS n FROM models WHERE snapshot_id = $sid AND downloads IS NOT NULL)" + _CONCENTRATION
        )
    )
    top100 = db.rows(
        "SELECT repo_id, downloads FROM models WHERE snapshot_id = $sid AND downloads IS NOT NULL"
        " ORDER BY downloads DESC, repo_id LIMIT 100"
    )
    registries: Data = {}
    for registry, n, total, top1, top10 in db.rows(
        """
        WITH d AS (SELECT registry, downloads,
                          row_number() OVER (PARTITION BY registry ORDER BY downloads DESC) AS rank,
                          count(*) OVER (PARTITION BY registry) AS n
                   FROM registry_downloads WHERE snapshot_id = $sid)
        SELECT registry, any_value(n), sum(downloads),
               sum(downloads) FILTER (WHERE rank <= greatest(1, ceil(n * 0.01))),
               sum(downloads) FILTER (WHERE rank <= greatest(1, ceil(n * 0.10)))
        FROM d GROUP BY registry ORDER BY registry
        """
    ):
        registries[registry] = _concentration((n, total, top1, top10))
    for registry, values in _group(
        db.rows(
            """
            SELECT registry, downloads FROM (
                SELECT registry, downloads,
                       row_number() OVER (PARTITION BY registry ORDER BY downloads DESC) AS rank
                FROM registry_downloads WHERE snapshot_id = $sid)
            WHERE rank <= 100 ORDER BY registry, rank
            """
        )
    ).items():
        registries.setdefault(registry, {})["top100"] = values
    return {
        **hub,
        "top100": [{"repo_id": r, "downloads": int(d)} for r, d in top100],
        "registries": registries,
    }


def _group(rows: list[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for key, value in rows:
        out.setdefault(key, []).append(int(value))
    return out


# -- distributions (Fig. 6, licences) ----------------------------------------------------------


def distribution(db: StudyDB, pairs_sql: str, top: int) -> Data:
    """Models per category from a query of distinct ``(repo_id, name)`` pairs.

    Returns the top ``top`` categories, "other" (models whose categories are all outside
    the top), "none" (models declaring nothing), and concentration: the share of
    declaring models that depend on the top 1 and on any of the top 10 categories.
    """
    base = f"WITH p AS ({pairs_sql}), c AS (SELECT name, count(*) AS models FROM p GROUP BY name)"
    top_rows = db.rows(f"{base} SELECT name, models FROM c ORDER BY models DESC, name LIMIT $top", top=top)
    row = db.one(
        f"""
        {base}, t AS (SELECT name FROM c ORDER BY models DESC, name LIMIT $top),
             t10 AS (SELECT name FROM c ORDER BY models DESC, name LIMIT 10)
        SELECT (SELECT count(*) FROM ({MODELS})),
               count(DISTINCT repo_id),
               count(DISTINCT repo_id) FILTER (WHERE name IN (SELECT name FROM t)),
               count(DISTINCT repo_id) FILTER (WHERE name IN (SELECT name FROM t10)),
               (SELECT count(*) FROM c)
        FROM p
        """,
        top=top,
    )
    models, declaring, in_top, in_top10, categories = (int(v or 0) for v in (row or (0, 0, 0, 0, 0)))
    counts = {str(name): int(n) for name, n in top_rows}
    top1 = top_rows[0] if top_rows else None
    return {
        "counts": counts,
        "other": declaring - in_top,
        "none": models - declaring,
        "declaring": declaring,
        "categories": categories,
        "top1": {"name": top1[0], "models": int(top1[1])} if top1 else None,
        "top1_share": share(top1[1], declaring) if top1 else None,
        "top10_share": share(in_top10, declaring),
        "top1_share_of_all": share(top1[1], models) if top1 else None,
    }


DATASET_PAIRS = f"""
    SELECT DISTINCT repo_id, trim(dataset) AS name FROM model_datasets
    WHERE snapshot_id = $sid AND repo_id IN ({MODELS}) AND trim(dataset) <> ''
"""
ARCHITECTURE_PAIRS = """
    SELECT repo_id, model_type AS name FROM models WHERE snapshot_id = $sid AND model_type IS NOT NULL
"""
LICENSE_PAIRS = f"""
    SELECT DISTINCT repo_id, lower(trim(license)) AS name FROM model_licenses
    WHERE snapshot_id = $sid AND repo_id IN ({MODELS}) AND trim(license) <> ''
"""


@measurement("datasets", "Models per training dataset", "Fig. 6 (datasets)")
def datasets(db: StudyDB, top: int) -> Data:
    """Models per declared training dataset (card ``datasets`` and ``dataset:`` tags, deduplicated)."""
    return distribution(db, DATASET_PAIRS, top)


@measurement("architectures", "Models per architecture", "Fig. 6 (architectures)")
def architectures(db: StudyDB, top: int) -> Data:
    """Models per architecture family (config.json ``model_type``)."""
    return distribution(db, ARCHITECTURE_PAIRS, top)


@measurement("licenses", "Licences")
def licenses(db: StudyDB, top: int) -> Data:
    """Models per declared licence (card metadata and ``license:`` tags, lower-cased)."""
    data = distribution(db, LICENSE_PAIRS, top)
    models = data["declaring"] + data["none"]
    data["without_license"] = data["none"]
    data["share_without_license"] = share(data["none"], models)
    return data


# -- beyond the paper ----------------------------------------------------------------------------

WEIGHT_FORMATS = f"""
    WITH f AS (SELECT repo_id, lower(path) AS p FROM model_files WHERE snapshot_id = $sid),
    k AS (
        SELECT repo_id,
               bool_or({is_format_sql("p", "safetensors")}) AS safetensors,
               bool_or({is_format_sql("p", "pickle")}) AS pickle,
               bool_or({is_format_sql("p", "onnx")}) AS onnx,
               bool_or({is_format_sql("p", "gguf")}) AS gguf,
               bool_or({is_format_sql("p", "tensorflow")}) AS tensorflow,
               bool_or({is_format_sql("p", "tflite")}) AS tflite,
               bool_or({is_format_sql("p", "flax")}) AS flax,
               bool_or({is_format_sql("p", "coreml")}) AS coreml
        FROM f GROUP BY repo_id)
    SELECT count(*) FILTER (WHERE m.num_files IS NULL),
           count(*) FILTER (WHERE k.safetensors AND k.pickle),
           count(*) FILTER (WHERE k.safetensors AND NOT k.pickle),
           count(*) FILTER (WHERE k.pickle AND NOT k.safetensors),
           count(*) FILTER (WHERE NOT k.pickle AND NOT k.safetensors
                            AND (k.onnx OR k.gguf OR k.tensorflow OR k.tflite OR k.flax OR k.coreml)),
           count(*) FILTER (WHERE m.num_files IS NOT NULL AND NOT coalesce(k.pickle OR k.safetensors OR k.onnx
                            OR k.gguf OR k.tensorflow OR k.tflite OR k.flax OR k.coreml, false)),
           count(*) FILTER (WHERE k.safetensors), count(*) FILTER (WHERE k.pickle),
           count(*) FILTER (WHERE k.onnx), count(*) FILTER (WHERE k.gguf),
           count(*) FILTER (WHERE k.tensorflow), count(*) FILTER (WHERE k.tflite),
           count(*) FILTER (WHERE k.flax), count(*) FILTER (WHERE k.coreml)
    FROM models m LEFT JOIN k USING (repo_id) WHERE m.snapshot_id = $sid
"""


@measurement("weight_formats", "Weight formats")
def weight_formats(db: StudyDB, top: int) -> Data:
    """Models by the weight formats in their file list (by file name; ``scan`` reads content).

    Pickle-based: .bin, .pt, .pth, .ckpt, .pkl, .pickle, .joblib, .dill, .npy/.npz.
    ``exclusive`` puts each model in one class; ``any`` counts models with each format.
    """
    row = db.one(WEIGHT_FORMATS) or (0,) * 14
    values = [int(v or 0) for v in row]
    return {
        "exclusive": {
            "file_list_unknown": values[0],
            "safetensors_and_pickle": values[1],
            "safetensors_only": values[2],
            "pickle_only": values[3],
            "other_formats_only": values[4],
            "no_weight_files": values[5],
        },
        "any": dict(
            zip(
                ("safetensors", "pickle", "onnx", "gguf", "tensorflow", "tflite", "flax", "coreml"),
                values[6:],
                strict=True,
            )
        ),
    }


TEXT_CARDS = f"""
    SELECT repo_id FROM cards WHERE snapshot_id = $sid
    AND status IN ('ok', 'no_metadata', 'yaml_error', 'not_a_mapping') AND repo_id IN ({MODELS})
"""

# Sections the issue names as a card's core; "training" counts a filled training or
# hyper-parameters section.
CORE_SECTIONS = ("training", "evaluation", "limitations", "intended_use", "hardware", "citation", "get_started")


@measurement("card_sections", "Model-card sections present and filled")
def card_sections(db: StudyDB, top: int) -> Data:
    """Per canonical section: text cards that have it, and that fill it (placeholders are empty)."""
    cards_total = int(db.scalar(f"SELECT count(*) FROM ({TEXT_CARDS})") or 0)
    rows = db.rows(
        f"""
        SELECT section, count(DISTINCT repo_id), count(DISTINCT repo_id) FILTER (WHERE filled)
        FROM card_sections WHERE snapshot_id = $sid AND repo_id IN ({TEXT_CARDS})
        GROUP BY section ORDER BY section
        """
    )
    completeness = db.rows(
        f"""
        WITH s AS (
            SELECT repo_id, CASE WHEN section = 'hyperparameters' THEN 'training' ELSE section END AS section
            FROM card_sections WHERE snapshot_id = $sid AND filled AND repo_id IN ({TEXT_CARDS})),
        per_card AS (
            SELECT k.repo_id, count(DISTINCT s.section) FILTER (WHERE s.section IN $core) AS filled
            FROM ({TEXT_CARDS}) k LEFT JOIN s USING (repo_id) GROUP BY k.repo_id)
        SELECT filled, count(*) FROM per_card GROUP BY filled ORDER BY filled
        """,
        core=list(CORE_SECTIONS),
    )
    return {
        "text_cards": cards_total,
        "sections": {
            section: {"present": int(p), "filled": int(f), "share_filled": share(f, cards_total)}
            for section, p, f in rows
        },
        "core_sections": list(CORE_SECTIONS),
        "core_filled_histogram": {int(k): int(n) for k, n in completeness},
    }


@measurement("documentation", "What cards document")
def documentation(db: StudyDB, top: int) -> Data:
    """Shares of text cards that document hyper-parameters, hardware, results, usage code.

    ``results_table_without_claims``: cards with a metric table in the text but no
    machine-parseable claim (the paper: "some models report their performance in plain
    texts or tables").
    """
    row = (
        db.one(
            f"""
        SELECT count(*), count(*) FILTER (WHERE mentions_hyperparameters),
               count(*) FILTER (WHERE mentions_hardware), count(*) FILTER (WHERE has_results_table),
               count(*) FILTER (WHERE has_usage_code), count(*) FILTER (WHERE placeholders > 0),
               count(*) FILTER (WHERE has_results_table AND repo_id NOT IN (
                   SELECT repo_id FROM claims WHERE snapshot_id = $sid))
        FROM cards WHERE snapshot_id = $sid AND repo_id IN ({TEXT_CARDS})
        """
        )
        or (0,) * 7
    )
    total, hyper, hardware, table, code, placeholders, table_no_claims = (int(v or 0) for v in row)
    return {
        "text_cards": total,
        "hyperparameters": hyper,
        "share_hyperparameters": share(hyper, total),
        "hardware": hardware,
        "share_hardware": share(hardware, total),
        "results_table": table,
        "results_table_without_claims": table_no_claims,
        "usage_code": code,
        "with_placeholders": placeholders,
    }


@measurement("lineage", "Base-model lineage")
def lineage(db: StudyDB, top: int) -> Data:
    """Models declaring a base model, the relation, the most-derived bases and chain depth.

    A base counts when the card's metadata or the Hub's tags declare it, or when the card's
    text names it ("a fine-tuned version of X") and X is a model of the snapshot (resolved,
    not guessed); ``declared_in`` says how many came from each. Depth follows declared
    bases inside the snapshot (a fine-tune of a fine-tune has depth 2), up to 10 levels; a
    base outside the snapshot ends the chain.
    """
    edges = f"""
        SELECT repo_id, base_model, max(relation) AS relation FROM base_models
        WHERE snapshot_id = $sid AND repo_id IN ({MODELS}) AND base_model <> repo_id
              AND (source <> 'text' OR base_model IN ({MODELS}))
        GROUP BY repo_id, base_model
    """
    row = db.one(
        f"""
        WITH b AS ({edges})
        SELECT count(DISTINCT repo_id), count(DISTINCT base_model),
               count(DISTINCT base_model) FILTER (WHERE base_model IN ({MODELS}))
        FROM b
        """
    ) or (0, 0, 0)
    relations = db.rows(
        f"""
        WITH b AS ({edges})
        SELECT coalesce(relation, 'unspecified'), count(DISTINCT repo_id) FROM b GROUP BY 1 ORDER BY 2 DESC, 1
        """
    )
    bases = db.rows(
        f"""
        WITH b AS ({edges})
        SELECT base_model, count(DISTINCT repo_id) FROM b GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $top
        """,
        top=top,
    )
    depths = db.rows(
        f"""
        WITH RECURSIVE b AS (SELECT DISTINCT repo_id, base_model FROM ({edges})),
        chain(repo_id, base_model, depth) AS (
            SELECT repo_id, base_model, 1 FROM b
            UNION
            SELECT chain.repo_id, b.base_model, chain.depth + 1
            FROM chain JOIN b ON b.repo_id = chain.base_model
            WHERE chain.depth < 10)
        SELECT depth, count(*) FROM (SELECT repo_id, max(depth) AS depth FROM chain GROUP BY repo_id)
        GROUP BY depth ORDER BY depth
        """
    )
    declaring, distinct_bases, resolvable = (int(v or 0) for v in row)
    models = int(db.scalar(f"SELECT count(*) FROM ({MODELS})") or 0)
    sources = db.rows(
        f"""
        SELECT CASE WHEN source = 'text' THEN 'text' WHEN source = 'tag' THEN 'tags' ELSE 'metadata' END,
               count(DISTINCT repo_id)
        FROM base_models WHERE snapshot_id = $sid AND repo_id IN ({MODELS}) AND base_model <> repo_id
             AND (source <> 'text' OR base_model IN ({MODELS}))
        GROUP BY 1 ORDER BY 1
        """
    )
    return {
        "declared_in": {k: int(n) for k, n in sources},
        "declaring": declaring,
        "share_declaring": share(declaring, models),
        "distinct_bases": distinct_bases,
        "bases_in_snapshot": resolvable,
        "relations": {r: int(n) for r, n in relations},
        "top_bases": {b: int(n) for b, n in bases},
        "depth_histogram": {int(d): int(n) for d, n in depths},
    }


@measurement("organizations", "Organizations")
def organizations(db: StudyDB, top: int) -> Data:
    """Organizations in the snapshot, how many say whether they are verified, and how many are."""
    row = (
        db.one(
            """
        SELECT count(*), count(is_verified), count(*) FILTER (WHERE is_verified),
               count(*) FILTER (WHERE name IN (SELECT namespace FROM models WHERE snapshot_id = $sid)),
               count(is_verified) FILTER (WHERE name IN (SELECT namespace FROM models WHERE snapshot_id = $sid)),
               count(*) FILTER (WHERE is_verified
                                AND name IN (SELECT namespace FROM models WHERE snapshot_id = $sid))
        FROM organizations WHERE snapshot_id = $sid
        """
        )
        or (0,) * 6
    )
    kinds = db.rows(
        "SELECT coalesce(kind, 'unknown'), count(*) FROM organizations WHERE snapshot_id = $sid"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $top",
        top=top,
    )
    total, known, verified, owning, owning_known, owning_verified = (int(v or 0) for v in row)
    return {
        "organizations": total,
        "verification_known": known,
        "verified": verified,
        "share_verified": share(verified, known),
        "owning_models": owning,
        "owning_models_verification_known": owning_known,
        "owning_models_verified": owning_verified,
        "share_owning_models_verified": share(owning_verified, owning_known),
        "kinds": {k: int(n) for k, n in kinds},
    }


@measurement("hub_scan", "The Hub's own file scans")
def hub_scan(db: StudyDB, top: int) -> Data:
    """Models whose Hub security status is in the snapshot, and how many have flagged files."""
    row = db.one(
        """
        SELECT count(security_status),
               count(*) FILTER (WHERE json_array_length(json_extract(security_status, '$.filesWithIssues')) > 0)
        FROM models WHERE snapshot_id = $sid
        """
    ) or (0, 0)
    known, flagged = (int(v or 0) for v in row)
    return {"status_known": known, "flagged": flagged, "share_flagged": share(flagged, known)}


@measurement("file_scans", "Model files scanned by ptmscope over HTTP ranges (scan --snapshot)")
def file_scans(db: StudyDB, top: int) -> Data:
    """What the snapshot's ``scan --snapshot`` runs found: repos and files scanned, flagged, by format, bytes read.

    Not measured until a registry scan has covered at least one repo of the snapshot.
    """
    repos = db.one(
        "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed'),"
        " (SELECT count(*) FROM models WHERE snapshot_id = $sid) FROM file_scan_repos WHERE snapshot_id = $sid"
    ) or (0, 0, 0)
    scanned, failed, models = (int(v or 0) for v in repos)
    if not scanned and not failed:
        return {"repos_scanned": 0, "note": "not measured in this snapshot: run 'ptmscope scan --snapshot' first"}
    files = SNAPSHOT_FILE_SCANS_SQL  # a constant of store/derived.py, not input
    verdicts = dict(db.rows(f"SELECT verdict, count(*) FROM ({files}) GROUP BY verdict"))
    flagged = db.one(
        "SELECT count(DISTINCT repo_id) FILTER (WHERE verdict = 'dangerous'),"
        " count(DISTINCT repo_id) FILTER (WHERE verdict IN ('dangerous', 'suspicious')),"
        f" count(*) FILTER (WHERE hub_status IS NOT NULL AND hub_status <> 'safe') FROM ({files})"
    ) or (0, 0, 0)
    formats = db.rows(
        f"SELECT coalesce(format, '(not read)'), count(*), coalesce(sum(bytes_read), 0), coalesce(sum(size), 0)"
        f" FROM ({files}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $top",
        top=max(top, 10),
    )
    read, total = (sum(int(r[i]) for r in formats) for i in (2, 3))
    return {
        "repos_scanned": scanned,
        "repos_failed": failed,
        "models": models,
        "files": sum(int(n) for n in verdicts.values()),
        "verdicts": {str(k): int(n) for k, n in verdicts.items()},
        "repos_dangerous": int(flagged[0] or 0),
        "repos_flagged": int(flagged[1] or 0),
        "files_hub_flagged": int(flagged[2] or 0),
        "formats": {str(f): {"files": int(n), "bytes_read": int(b), "bytes_total": int(t)} for f, n, b, t in formats},
        "bytes_read": read,
        "bytes_total": total,
        "share_bytes_read": share(read, total),
    }


@measurement("scores", "Attribute scores, overall and per task (from the snapshot's latest audit run)")
def scores(db: StudyDB, top: int) -> Data:
    """Score distributions from the newest ``ptmscope audit --all`` run of the snapshot.

    Per attribute: models scored, inconclusive, mean and quartiles, overall and for the
    ``top`` largest tasks. Not measured until ``audit --all`` has run.
    """
    run = db.one(
        "SELECT run_id, created_at, tool_version FROM audit_runs WHERE snapshot_id = $sid AND scope = 'snapshot'"
        " ORDER BY run_id DESC LIMIT 1"
    )
    if run is None:
        return {"run_id": None, "note": "not measured in this snapshot: run 'ptmscope audit --all' first"}
    run_id = int(run[0])
    stats = """
        count(s.score), count(*) - count(s.score), avg(s.score),
        quantile_cont(s.score, 0.25), quantile_cont(s.score, 0.5), quantile_cont(s.score, 0.75)
    """
    overall = db.rows(
        f"SELECT s.attribute, {stats} FROM scores s WHERE s.run_id = $run GROUP BY s.attribute ORDER BY 1", run=run_id
    )
    per_task = db.rows(
        f"""
        WITH tasks AS (SELECT pipeline_tag FROM models WHERE snapshot_id = $sid AND pipeline_tag IS NOT NULL
                       GROUP BY pipeline_tag ORDER BY count(*) DESC, pipeline_tag LIMIT $top)
        SELECT m.pipeline_tag, s.attribute, {stats}
        FROM scores s JOIN models m ON m.snapshot_id = $sid AND m.repo_id = s.repo_id
        WHERE s.run_id = $run AND m.pipeline_tag IN (SELECT pipeline_tag FROM tasks)
        GROUP BY m.pipeline_tag, s.attribute ORDER BY 1, 2
        """,
        run=run_id,
        top=top,
    )

    def summary(row: tuple[Any, ...]) -> Data:
        scored, inconclusive, mean, q1, median, q3 = row
        rounded = [None if v is None else round(float(v), 2) for v in (mean, q1, median, q3)]
        return dict(zip(("mean", "q1", "median", "q3"), rounded, strict=True)) | {
            "scored": int(scored),
            "inconclusive": int(inconclusive),
        }

    by_task: dict[str, Data] = {}
    for task, attribute, *values in per_task:
        by_task.setdefault(str(task), {})[attribute] = summary(tuple(values))
    return {
        "run_id": run_id,
        "created_at": run[1].isoformat() if run[1] else None,
        "tool_version": run[2],
        "overall": {attribute: summary(tuple(values)) for attribute, *values in overall},
        "by_task": by_task,
    }


# -- discrepancies (ptmscope verify) -----------------------------------------------------------------

# The verification that speaks for each model of the snapshot and (task, dataset, split, metric):
# one of the snapshot's own revision when there is one, else the newest; failures only when
# nothing else was measured.
_VERIFIED = """
    WITH m AS (SELECT repo_id, sha AS snapshot_sha FROM models WHERE snapshot_id = $sid),
    ranked AS (
        SELECT v.*, m.snapshot_sha, row_number() OVER (
            PARTITION BY v.repo_id, v.task, coalesce(v.dataset_name, v.dataset), v.split, v.metric
            ORDER BY (v.sha IS NOT NULL AND v.sha = m.snapshot_sha) DESC, (v.verdict = 'failed'),
                     v.created_at DESC, v.verification_id DESC) AS rank
        FROM verifications v JOIN m USING (repo_id))
    SELECT * FROM ranked WHERE rank = 1
"""
_VERDICT_COUNTS = """
    count(DISTINCT repo_id), count(*),
    count(*) FILTER (WHERE verdict = 'consistent'), count(*) FILTER (WHERE verdict = 'discrepancy'),
    count(*) FILTER (WHERE verdict = 'no_matching_claim'), count(*) FILTER (WHERE verdict = 'failed'),
    count(*) FILTER (WHERE verdict = 'discrepancy' AND gap > 0),
    median(gap) FILTER (WHERE verdict IN ('consistent', 'discrepancy')),
    avg(abs(gap)) FILTER (WHERE verdict IN ('consistent', 'discrepancy'))
"""


def _verdicts(row: tuple[Any, ...]) -> Data:
    models, checks, consistent, discrepant, unmatched, failed, over, median_gap, mean_abs_gap = row
    compared = int(consistent or 0) + int(discrepant or 0)
    return {
        "models": int(models or 0),
        "verifications": int(checks or 0),
        "consistent": int(consistent or 0),
        "discrepancy": int(discrepant or 0),
        "overclaimed": int(over or 0),
        "no_matching_claim": int(unmatched or 0),
        "failed": int(failed or 0),
        "discrepancy_rate": share(discrepant, compared),
        "median_gap": None if median_gap is None else round(float(median_gap), 4),
        "mean_abs_gap": None if mean_abs_gap is None else round(float(mean_abs_gap), 4),
    }


@measurement("discrepancies", "Claimed vs measured performance (ptmscope verify)", "Table III (discrepancies)")
def discrepancies(db: StudyDB, top: int) -> Data:
    """Verdicts of ``ptmscope verify`` on the snapshot's models, and the discrepancy rate.

    Per model and (task, dataset, split, metric), the verification of the snapshot's
    own revision when there is one, else the newest. ``discrepancy_rate`` is
    discrepancies over claims compared (consistent + discrepancy); ``gap`` is claimed
    minus measured on a 0-1 scale. Not measured until ``ptmscope verify`` has run on
    models of the snapshot.
    """
    row = db.one(f"SELECT {_VERDICT_COUNTS}, count(*) FILTER (WHERE sha = snapshot_sha) FROM ({_VERIFIED})")
    if row is None or not row[0]:
        return {"models": 0, "note": "not measured in this snapshot: run 'ptmscope verify' on its models first"}
    data = _verdicts(tuple(row[:-1]))
    data["at_snapshot_revision"] = int(row[-1] or 0)
    by_dataset = db.rows(
        f"""
        SELECT task, coalesce(dataset_name, dataset), split, metric, {_VERDICT_COUNTS}
        FROM ({_VERIFIED}) GROUP BY 1, 2, 3, 4 ORDER BY count(*) DESC, 1, 2, 3, 4 LIMIT $top
        """,
        top=top,
    )
    data["by_dataset"] = [
        {"task": task, "dataset": dataset, "split": split, "metric": metric, **_verdicts(tuple(values))}
        for task, dataset, split, metric, *values in by_dataset
    ]
    return data


@measurement("signing", "Commit signing in the cloned repositories", "Table IV")
def signing(db: StudyDB, top: int) -> Data:
    """Repos with at least one signed commit, the share of signed commits, and organizations with signed repos.

    Population: repos of the snapshot whose bare clone's history was read (``ptmscope clone``).
    A commit is signed when it carries a signature header (OpenPGP, SSH or X.509), verified or
    not, as in the paper. Organizations count when they own a repo with a signed commit.
    """
    row = (
        db.one(
            """
        SELECT count(*) FILTER (WHERE status = 'ok'), count(commits),
               count(*) FILTER (WHERE signed_commits > 0), coalesce(sum(commits), 0),
               coalesce(sum(signed_commits), 0), count(*) FILTER (WHERE status = 'failed'),
               count(history_error)
        FROM repo_clones WHERE snapshot_id = $sid
        """
        )
        or (0,) * 7
    )
    cloned, read, signed_repos, commits, signed_commits, failed, history_errors = (int(v or 0) for v in row)
    kinds = db.rows(
        """
        SELECT signature, count(*), count(DISTINCT repo_id) FROM commits
        WHERE snapshot_id = $sid AND signature <> 'none' GROUP BY 1 ORDER BY 2 DESC, 1
        """
    )
    keys = db.scalar("SELECT count(DISTINCT key_id) FROM commits WHERE snapshot_id = $sid AND key_id IS NOT NULL")
    orgs = db.one(
        """
        SELECT count(DISTINCT o.name), count(DISTINCT o.name) FILTER (WHERE o.is_verified),
               count(DISTINCT o.name) FILTER (WHERE o.is_verified IS NOT NULL)
        FROM organizations o
        JOIN models m ON m.snapshot_id = $sid AND m.namespace = o.name
        JOIN repo_clones r ON r.snapshot_id = $sid AND r.repo_id = m.repo_id AND r.signed_commits > 0
        WHERE o.snapshot_id = $sid
        """
    ) or (0, 0, 0)
    verification_known = int(db.scalar("SELECT count(is_verified) FROM organizations WHERE snapshot_id = $sid") or 0)
    return {
        "repos_cloned": cloned,
        "repos_read": read,
        "clone_failures": failed,
        "history_errors": history_errors,
        "repos_with_signed_commits": signed_repos,
        "share_repos_signed": share(signed_repos, read),
        "commits": commits,
        "signed_commits": signed_commits,
        "share_commits_signed": share(signed_commits, commits),
        "by_kind": {k: {"commits": int(n), "repos": int(r)} for k, n, r in kinds},
        "distinct_keys": int(keys or 0),
        "orgs_with_signed_repos": int(orgs[0] or 0),
        "verified_orgs_with_signed_repos": int(orgs[1] or 0) if verification_known else None,
    }
