"""``ptmscope select`` as a library function: requirements in, a ranked and explained shortlist out.

One SQL query gathers, for every candidate of the task, what the requirements test
(licence kinds, weight formats, frameworks, languages, datasets, the claim asked for,
size, audit scores, the Hub's scan, owner verification) and names the first rule each
candidate fails, with the evidence. Eligible candidates are ranked by a weighted mean
of components in [0, 1]: download percentile within the task, the claimed metric on the
user's dataset relative to the other candidates, and the audit's attribute scores / 10.
Every value that enters SQL from the user is a bound parameter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ptmscope.checks import licenses
from ptmscope.checks.model import ATTRIBUTES
from ptmscope.selection.requirements import DTYPE_BYTES, POLICY_KINDS, Requirements
from ptmscope.store.derived import SNAPSHOT_FILE_SCANS_SQL, format_sql
from ptmscope.store.store import Snapshot, Store

# ISO 639-1 codes: tags the Hub adds for a card's languages.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
    en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja
    jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd
    ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
    st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()
)

FRAMEWORK_TAGS = ("pytorch", "tf", "tensorflow", "jax", "flax", "onnx", "gguf", "coreml", "tflite", "keras",
                  "openvino", "mlx", "rust", "paddlepaddle", "safetensors")  # fmt: skip
FRAMEWORK_ALIASES = {"tensorflow": "tf", "jax": "jax", "flax": "jax", "torch": "pytorch", "keras": "tf"}

CANDIDATES_SQL = """
WITH
m AS (SELECT repo_id, namespace, pipeline_tag, library_name, downloads, likes, parameters, security_status, card_data
      FROM models WHERE snapshot_id = $sid {task}),
pct AS (SELECT repo_id, percent_rank() OVER (ORDER BY downloads) AS downloads_pct FROM m WHERE downloads IS NOT NULL),
lic AS (
    SELECT l.repo_id, list(DISTINCT lower(trim(l.license)) ORDER BY lower(trim(l.license))) AS licenses,
           list(DISTINCT coalesce(c.kind, 'unrecognised') ORDER BY coalesce(c.kind, 'unrecognised')) AS kinds
    FROM model_licenses l LEFT JOIN license_catalog c ON c.id = split_part(lower(trim(l.license)), ':', 1)
    WHERE l.snapshot_id = $sid AND trim(l.license) <> '' AND l.repo_id IN (SELECT repo_id FROM m)
    GROUP BY l.repo_id),
f AS (
    SELECT repo_id,
           list_sort(list_distinct(list({formats}))) AS formats
    FROM (SELECT repo_id, lower(path) AS p FROM model_files WHERE snapshot_id = $sid
          AND repo_id IN (SELECT repo_id FROM m))
    GROUP BY repo_id),
tg AS (
    SELECT repo_id, list(DISTINCT tag) FILTER (WHERE tag IN $framework_tags) AS framework_tags,
           list(DISTINCT tag) FILTER (WHERE tag IN $iso) AS language_tags
    FROM model_tags WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
lang AS (
    SELECT repo_id, list(DISTINCT lower(l) ORDER BY lower(l)) AS languages FROM (
        SELECT repo_id, unnest(languages) AS l FROM cards
        WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM m)
        UNION ALL SELECT repo_id, unnest(language_tags) FROM tg
        UNION ALL SELECT repo_id, unnest(CASE json_type(card_data, '$.language')
                                 WHEN 'ARRAY' THEN json_extract_string(card_data, '$.language[*]')
                                 WHEN 'VARCHAR' THEN [json_extract_string(card_data, '$.language')] END)
                  FROM m WHERE card_data IS NOT NULL)
    WHERE l IS NOT NULL GROUP BY repo_id),
ds AS (
    SELECT repo_id, list(DISTINCT lower(trim(dataset)) ORDER BY lower(trim(dataset))) AS datasets FROM model_datasets
    WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
cl AS (
    -- The claim asked for: from the model-index (machine-parseable), else from the card's text; the text says which.
    SELECT repo_id, max(value) AS claim_value, arg_max(claim_text, (kind = 'model-index', value)) AS claim_text
    FROM (
        SELECT repo_id, value, 'model-index' AS kind,
               coalesce(metric_type, metric_name) || ' = ' || value_text || ' on '
               || coalesce(dataset_type, dataset_name) || coalesce(' (' || dataset_split || ')', '') || ' [model-index]'
                   AS claim_text
        FROM claims WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM m) AND value IS NOT NULL
             AND coalesce(status, 'valid') = 'valid'
             AND (lower(dataset_type) = $claim_dataset OR lower(dataset_name) = $claim_dataset
                  OR lower(regexp_extract(dataset_type, '[^/]*$')) = $claim_dataset)
             AND (lower(metric_type) = $claim_metric OR lower(metric_name) = $claim_metric)
        UNION ALL
        SELECT repo_id, value, 'text',
               metric || ' = ' || value_text || coalesce(unit, '') || ' on ' || dataset
               || coalesce(' (' || split || ')', '') || ' [card text, line ' || line || ']'
        FROM card_results WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM m)
             AND (lower(dataset) = $claim_dataset OR lower(regexp_extract(dataset, '[^/]*$')) = $claim_dataset
                  OR regexp_replace(lower(dataset), '[-_ ]', '', 'g')
                     = regexp_replace($claim_dataset, '[-_ ]', '', 'g'))
             AND metric = $claim_metric)
    GROUP BY repo_id),
sc AS (
    SELECT repo_id, {score_columns} FROM scores WHERE run_id = $run AND repo_id IN (SELECT repo_id FROM m)
    GROUP BY repo_id),
org AS (SELECT name, is_verified FROM organizations WHERE snapshot_id = $sid),
fs AS (
    -- ptmscope's own stored file verdicts (scan --snapshot): the worst flagged file, and whether every file is clean
    SELECT repo_id,
           arg_max(path || ' (' || verdict || coalesce(', ' || rules[1], '') || ')',
                   CASE verdict WHEN 'dangerous' THEN 2 WHEN 'suspicious' THEN 1 ELSE 0 END)
               FILTER (WHERE verdict IN ('dangerous', 'suspicious')) AS scan_flag,
           bool_and(verdict IN ('clean', 'skipped')) AS scan_clean
    FROM ({file_scans}) WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
c AS (
    SELECT m.repo_id, m.pipeline_tag, m.downloads, m.parameters, pct.downloads_pct,
           coalesce(lic.licenses, []) AS licenses, coalesce(lic.kinds, []) AS kinds,
           f.formats, coalesce(tg.framework_tags, []) AS framework_tags, m.library_name,
           coalesce(lang.languages, []) AS languages, coalesce(ds.datasets, []) AS datasets,
           cl.claim_value, cl.claim_text, org.is_verified AS org_verified,
           json_array_length(json_extract(m.security_status, '$.filesWithIssues')) > 0 AS hub_flagged,
           fs.scan_flag, fs.scan_clean,
           {score_selects}
    FROM m LEFT JOIN pct USING (repo_id) LEFT JOIN lic USING (repo_id) LEFT JOIN f USING (repo_id)
    LEFT JOIN tg USING (repo_id) LEFT JOIN lang USING (repo_id) LEFT JOIN ds USING (repo_id)
    LEFT JOIN cl USING (repo_id) LEFT JOIN sc USING (repo_id) LEFT JOIN org ON org.name = m.namespace
    LEFT JOIN fs USING (repo_id))
SELECT *, {rule} AS excluded_rule, {reason} AS excluded_reason FROM c
"""


@dataclass
class Selection:
    """The outcome of ``select``."""

    snapshot: Snapshot
    requirements: Requirements
    run_id: int | None
    """The audit run whose scores were used (None: no scores)."""
    candidates: int
    shortlist: list[dict[str, Any]] = field(default_factory=list)
    eligible: int = 0
    excluded_by_rule: dict[str, int] = field(default_factory=dict)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _rules(req: Requirements) -> list[tuple[str, str, str]]:
    """(rule, SQL condition that FAILS the candidate, SQL reason) for the active requirements."""
    rules: list[tuple[str, str, str]] = []
    if isinstance(req.license, list):
        rules.append((
            "license",
            "NOT list_has_any(licenses, $license_ids)",
            "CASE WHEN len(licenses) = 0 THEN 'no licence declared' ELSE array_to_string(licenses, ', ')"
            " || ' is not one of the licences allowed' END",
        ))  # fmt: skip
    elif req.license != "any":
        rules.append((
            "license",
            "len(kinds) = 0 OR len(list_filter(kinds, lambda k: NOT list_contains($license_kinds, k))) > 0",
            "CASE WHEN len(kinds) = 0 THEN 'no licence declared' ELSE array_to_string(licenses, ', ') || ' ('"
            " || array_to_string(kinds, ', ') || ') is not allowed by the ' || $license_policy || ' policy' END",
        ))  # fmt: skip
    if req.max_parameters is not None or req.max_memory_gb is not None:
        too_big = []
        if req.max_parameters is not None:
            too_big.append("parameters > $max_parameters")
        if req.max_memory_gb is not None:
            too_big.append("parameters * $dtype_bytes / 1e9 > $max_memory_gb")
        unknown = "false" if req.allow_unknown_size else "parameters IS NULL"
        rules.append((
            "size",
            f"{unknown} OR {' OR '.join(too_big)}",
            "CASE WHEN parameters IS NULL THEN 'size unknown (no parameter count in the snapshot)'"
            " ELSE round(parameters / 1e6, 1) || 'M parameters, ' || round(parameters * $dtype_bytes / 1e9, 2)"
            " || ' GB at ' || $dtype || ' exceed the limit' END",
        ))  # fmt: skip
    for fmt in req.formats:
        present = (
            "(list_contains(formats, 'safetensors') OR list_contains(formats, 'pickle'))"
            if fmt == "pytorch"
            else f"list_contains(formats, '{fmt}')"
        )
        rules.append((
            f"format:{fmt}",
            f"formats IS NULL OR NOT {present}",
            f"CASE WHEN formats IS NULL THEN 'file list unknown' ELSE 'no {fmt} weights' END",
        ))  # fmt: skip
    if req.frameworks:
        rules.append((
            "framework",
            "NOT list_has_any(list_transform(framework_tags || list_transform(coalesce(formats, []), lambda x: CASE x"
            " WHEN 'pickle' THEN 'pytorch' WHEN 'safetensors' THEN 'pytorch' WHEN 'tensorflow' THEN 'tf'"
            " WHEN 'flax' THEN 'jax' ELSE x END), lambda t: CASE t WHEN 'tensorflow' THEN 'tf' WHEN 'flax' THEN 'jax'"
            " ELSE t END), $frameworks)",
            "'no weights for ' || array_to_string($frameworks, ' or ')",
        ))  # fmt: skip
    if req.languages:
        rules.append((
            "language",
            "NOT list_has_any(languages, $languages)",
            "CASE WHEN len(languages) = 0 THEN 'no language declared' ELSE 'languages '"
            " || array_to_string(list_slice(languages, 1, 5), ', ') END",
        ))  # fmt: skip
    if req.datasets:
        rules.append((
            "dataset",
            "NOT list_has_any(list_concat(datasets, list_transform(datasets, lambda d: regexp_extract(d, '[^/]*$'))),"
            " $datasets)",
            "CASE WHEN len(datasets) = 0 THEN 'no training dataset declared' ELSE 'trained on '"
            " || array_to_string(list_slice(datasets, 1, 5), ', ') END",
        ))  # fmt: skip
    if req.claim is not None:
        low = " OR claim_value < $claim_min" if req.claim.min is not None else ""
        rules.append((
            "claim",
            f"claim_value IS NULL{low}",
            "CASE WHEN claim_value IS NULL THEN 'no claim of ' || $claim_metric || ' on ' || $claim_dataset"
            " ELSE 'claims ' || claim_text || ', below ' || $claim_min END",
        ))  # fmt: skip
    for attribute, minimum in req.min_scores.items():
        rules.append((
            f"score:{attribute}",
            f"score_{attribute} IS NULL OR score_{attribute} < {float(minimum)!r}",
            f"CASE WHEN score_{attribute} IS NULL THEN '{attribute} score inconclusive'"
            f" ELSE '{attribute} score ' || round(score_{attribute}, 1) || ' < {minimum:g}' END",
        ))  # fmt: skip
    if req.exclude_unsafe:
        rules.append((
            "unsafe",
            "scan_flag IS NOT NULL OR coalesce(hub_flagged, false) OR (list_contains(coalesce(formats, []), 'pickle')"
            " AND len(list_filter(formats, lambda x: x <> 'pickle')) = 0 AND NOT coalesce(scan_clean, false))",
            "CASE WHEN scan_flag IS NOT NULL THEN 'ptmscope''s scan flagged ' || scan_flag"
            " WHEN coalesce(hub_flagged, false) THEN 'the Hub flagged files in it'"
            " ELSE 'pickle-only weights (they run code on load; no stored scan vouches for them)' END",
        ))  # fmt: skip
    if req.verified_owner:
        rules.append((
            "verified_owner",
            "NOT coalesce(org_verified, false)",
            "CASE WHEN org_verified IS NULL THEN 'owner verification unknown' ELSE 'owner not verified' END",
        ))  # fmt: skip
    return rules


def latest_run(store: Store, snapshot: Snapshot) -> int | None:
    """The newest ``audit --all`` run of the snapshot, if any."""
    rows = store.query(
        "SELECT run_id FROM audit_runs WHERE snapshot_id = ? AND scope = 'snapshot' ORDER BY run_id DESC LIMIT 1",
        [snapshot.snapshot_id],
    )
    return int(rows[0][0]) if rows else None


def _candidates_query(snapshot: Snapshot, req: Requirements, run_id: int | None) -> tuple[str, dict[str, Any]]:
    """The candidates SQL for ``req`` (each row with the first rule that excludes it) and its bound parameters."""
    rules = _rules(req)
    rule_sql = "CASE " + " ".join(f"WHEN {cond} THEN '{name}'" for name, cond, _ in rules) + " END" if rules else "NULL"
    reason_sql = (
        "CASE " + " ".join(f"WHEN {cond} THEN {reason}" for _, cond, reason in rules) + " END" if rules else ("NULL")
    )
    score_columns = ", ".join(f"max(score) FILTER (WHERE attribute = '{a}') AS score_{a}" for a in ATTRIBUTES)
    score_selects = ", ".join(f"sc.score_{a}" for a in ATTRIBUTES)
    sql = CANDIDATES_SQL.format(
        task="AND pipeline_tag = $task" if req.task else "",
        score_columns=score_columns,
        score_selects=score_selects,
        rule=rule_sql,
        reason=reason_sql,
        formats=format_sql("p"),
        file_scans=SNAPSHOT_FILE_SCANS_SQL,
    )
    params: dict[str, Any] = {
        "sid": snapshot.snapshot_id,
        "run": run_id if run_id is not None else -1,
        "task": req.task,
        "framework_tags": list(FRAMEWORK_TAGS),
        "iso": sorted(ISO_639_1),
        "claim_dataset": req.claim.dataset.lower() if req.claim else "",
        "claim_metric": req.claim.metric.lower() if req.claim else "",
        "claim_min": req.claim.min if req.claim and req.claim.min is not None else None,
        "license_ids": req.license if isinstance(req.license, list) else None,
        "license_kinds": list(POLICY_KINDS.get(req.license, ())) if isinstance(req.license, str) else None,
        "license_policy": req.license if isinstance(req.license, str) else None,
        "max_parameters": req.max_parameters,
        "max_memory_gb": req.max_memory_gb,
        "dtype": req.dtype,
        "dtype_bytes": DTYPE_BYTES[req.dtype],
        "frameworks": [FRAMEWORK_ALIASES.get(f, f) for f in req.frameworks],
        "languages": req.languages,
        "datasets": [d.lower() for d in req.datasets] + [d.lower().rsplit("/", 1)[-1] for d in req.datasets],
    }
    return sql, {k: v for k, v in params.items() if f"${k}" in sql}


def _rank(con: Any, req: Requirements) -> list[dict[str, Any]]:
    """The eligible candidates ranked by the weighted components of ``req.rank_weights``; the top ``req.top``."""
    weights = req.rank_weights
    components = {"popularity": "downloads_pct"}
    if req.claim is not None:
        components["claim"] = "claim_rank"
    for attribute in ATTRIBUTES:
        if attribute != "popularity":
            components[attribute] = f"score_{attribute} / 10"
    active = {k: v for k, v in components.items() if weights.get(k, 0) > 0}
    numerator = " + ".join(f"coalesce({weights[k]!r} * ({v}), 0)" for k, v in active.items()) or "0"
    denominator = " + ".join(f"CASE WHEN ({v}) IS NOT NULL THEN {weights[k]!r} ELSE 0 END" for k, v in active.items())
    ranked = con.execute(
        f"""
        WITH e AS (
            SELECT *, percent_rank() OVER (ORDER BY claim_value) AS claim_rank
            FROM select_candidates WHERE excluded_rule IS NULL),
        r AS (SELECT *, ({numerator}) / nullif({denominator or "0"}, 0) AS rank_score FROM e)
        SELECT repo_id, pipeline_tag, downloads, downloads_pct, parameters, licenses, formats, claim_value,
               claim_text, rank_score, {", ".join(f"score_{a}" for a in ATTRIBUTES)}
        FROM r ORDER BY rank_score DESC NULLS LAST, downloads DESC NULLS LAST, repo_id LIMIT $top
        """,
        {"top": req.top},
    )
    names = [d[0] for d in ranked.description]
    shortlist = []
    for position, row in enumerate(ranked.fetchall(), start=1):
        item = dict(zip(names, row, strict=True))
        item["rank"] = position
        item["scores"] = {a: item.pop(f"score_{a}") for a in ATTRIBUTES}
        shortlist.append(item)
    return shortlist


def select(store: Store, snapshot: Snapshot, req: Requirements, *, run_id: int | None = None,
           explain: bool = False, per_rule: int | None = None) -> Selection:  # fmt: skip
    """Filter and rank the snapshot's models by ``req``; ``run_id`` supplies audit scores.

    ``explain``: also list the excluded candidates, most downloaded first; ``per_rule``: at most that many of
    each rule (the first of that rule in the full list), so a broad query lists a bounded number.
    """
    started = time.perf_counter()
    con = store.con
    licenses.install(con)
    sql, bound = _candidates_query(snapshot, req, run_id)
    con.execute(f"CREATE OR REPLACE TEMP TABLE select_candidates AS {sql}", bound)
    shortlist = _rank(con, req)
    totals = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE excluded_rule IS NULL) FROM select_candidates"
    ).fetchall()[0]
    by_rule = dict(
        con.execute(
            "SELECT excluded_rule, count(*) FROM select_candidates WHERE excluded_rule IS NOT NULL"
            " GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    )
    excluded = []
    if explain:
        order = "downloads DESC NULLS LAST, repo_id"
        bounded = "" if per_rule is None else (
            f" QUALIFY row_number() OVER (PARTITION BY excluded_rule ORDER BY {order}) <= {int(per_rule)}"
        )  # fmt: skip
        excluded = [
            {"repo_id": r, "rule": rule, "reason": reason, "downloads": d}
            for r, rule, reason, d in con.execute(
                "SELECT repo_id, excluded_rule, excluded_reason, downloads FROM select_candidates"
                f" WHERE excluded_rule IS NOT NULL{bounded} ORDER BY {order}"
            ).fetchall()
        ]
    return Selection(
        snapshot=snapshot,
        requirements=req,
        run_id=run_id,
        candidates=int(totals[0]),
        eligible=int(totals[1]),
        shortlist=shortlist,
        excluded_by_rule={str(k): int(v) for k, v in by_rule.items()},
        excluded=excluded,
        seconds=time.perf_counter() - started,
    )
