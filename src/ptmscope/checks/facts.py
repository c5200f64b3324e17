"""Facts: one row per model with every column a check reads, built by SQL from the store.

An audit runs over a *scope*: temp views ``a_<table>`` over the store's tables. For an
audit of a snapshot (``audit --all``, or one repo of a snapshot) the views are that
snapshot's rows. For a model from elsewhere (a local folder, the Hub) the views are the
context snapshot's rows with the model's own rows laid over them, so popularity
percentiles, lineage, licence chains and name confusion are judged against the same
registry either way, by the same SQL.

``build_facts`` fills the temp table ``facts`` for the models in focus. Unknown is
NULL: a check turns a NULL fact into ``not_available``, never into ``false``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from ptmscope.checks import licenses, names
from ptmscope.store.derived import is_format_sql
from ptmscope.store.verifications import rechecked_sql

if TYPE_CHECKING:
    import duckdb

# Tables an audit scope exposes as a_<table>.
SCOPE_TABLES = (
    "models", "model_tags", "model_files", "model_datasets", "model_licenses", "base_models", "model_links",
    "cards", "card_sections", "claims", "organizations", "commits", "card_results", "card_evidence",
)  # fmt: skip

POPULAR_MODELS = 1_000
POPULAR_ORGS = 300

TEXT_STATUSES = ("ok", "no_metadata", "yaml_error", "not_a_mapping")
CORE_SECTIONS = ("training", "evaluation", "limitations", "intended_use", "hardware", "citation", "get_started")

# File-name patterns (lower case): weights by format (store.derived, the one definition); then what
# else a repo ships.
FILE_FLAGS = f"""
    bool_or(p = 'config.json') AS has_config,
    bool_or({is_format_sql("p", "safetensors")}) AS has_safetensors,
    bool_or({is_format_sql("p", "pickle")}) AS has_pickle,
    list(path ORDER BY path) FILTER (WHERE {is_format_sql("p", "pickle")}) AS pickle_files,
    bool_or({is_format_sql("p", "onnx")}) AS has_onnx,
    bool_or({is_format_sql("p", "gguf")}) AS has_gguf,
    bool_or({is_format_sql("p", "tflite")}) AS has_tflite,
    bool_or({is_format_sql("p", "coreml")}) AS has_coreml,
    bool_or({is_format_sql("p", "tensorflow")}) AS has_tf,
    bool_or({is_format_sql("p", "flax")}) AS has_flax,
    bool_or(contains(p, 'tfevents') OR suffix(p, 'trainer_state.json') OR suffix(p, 'all_results.json')
            OR suffix(p, 'train_results.json') OR suffix(p, 'eval_results.json') OR suffix(p, '.log')
            OR starts_with(p, 'runs/') OR contains(p, 'wandb/') OR suffix(p, 'metrics.json')) AS has_training_logs,
    bool_or(suffix(p, 'training_args.bin') OR suffix(p, 'training_args.json') OR suffix(p, 'hparams.yaml')
            OR suffix(p, 'hparams.yml') OR (starts_with(regexp_extract(p, '[^/]*$'), 'train') AND suffix(p, '.py'))
            OR suffix(p, '.sh') OR suffix(p, 'args.json') OR suffix(p, 'training_config.json')
            OR suffix(p, 'train.yaml') OR suffix(p, 'config.yaml')) AS has_training_config,
    bool_or(suffix(p, 'requirements.txt') OR suffix(p, 'environment.yml') OR suffix(p, 'environment.yaml')
            OR suffix(p, 'dockerfile') OR suffix(p, 'pyproject.toml') OR suffix(p, 'setup.py')
            OR suffix(p, 'conda.yaml') OR suffix(p, 'pipfile')) AS has_environment_file,
    bool_or((starts_with(regexp_extract(p, '[^/]*$'), 'modeling_')
             OR starts_with(regexp_extract(p, '[^/]*$'), 'configuration_')
             OR starts_with(regexp_extract(p, '[^/]*$'), 'tokenization_')) AND suffix(p, '.py')) AS has_model_code,
    bool_or(contains(p, 'gptq') OR contains(p, 'awq') OR contains(p, 'int8') OR contains(p, 'int4')
            OR contains(p, 'q4_') OR contains(p, 'q8_') OR contains(p, 'exl2') OR suffix(p, '.gguf'))
        AS has_quantized_files
"""

FACTS_SQL = """
CREATE OR REPLACE TEMP TABLE facts AS
WITH RECURSIVE
m AS (SELECT * FROM a_models {focus}),
ref AS (SELECT max(last_modified) AS ref_time FROM a_models),
f AS (
    SELECT repo_id, {file_flags}
    FROM (SELECT repo_id, path, lower(path) AS p FROM a_model_files WHERE repo_id IN (SELECT repo_id FROM m))
    GROUP BY repo_id),
tg AS (
    SELECT repo_id, list(tag ORDER BY tag) AS tags, bool_or(tag = 'custom_code') AS custom_code_tag,
           list(DISTINCT tag) FILTER (WHERE tag IN ('pytorch', 'tf', 'tensorflow', 'jax', 'flax', 'onnx', 'safetensors',
               'gguf', 'coreml', 'tflite', 'keras', 'openvino', 'rust', 'mlx', 'paddlepaddle')) AS framework_tags
    FROM a_model_tags WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
lic_rows AS (
    SELECT DISTINCT l.repo_id, lower(trim(l.license)) AS id, c.spdx, c.kind, c.family
    FROM a_model_licenses l LEFT JOIN license_catalog c ON c.id = split_part(lower(trim(l.license)), ':', 1)
    WHERE trim(l.license) <> ''),
lic AS (
    SELECT repo_id, list(DISTINCT id ORDER BY id) AS licenses,
           list(DISTINCT spdx ORDER BY spdx) FILTER (WHERE spdx IS NOT NULL) AS spdx_licenses,
           list(DISTINCT coalesce(kind, 'unrecognised') ORDER BY coalesce(kind, 'unrecognised')) AS license_kinds
    FROM lic_rows WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
ds AS (
    SELECT repo_id, list(DISTINCT trim(dataset) ORDER BY trim(dataset)) AS datasets
    FROM a_model_datasets WHERE trim(dataset) <> '' AND repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
ln AS (
    SELECT repo_id,
           list(DISTINCT kind || ':' || target ORDER BY kind || ':' || target)
               FILTER (WHERE kind IN ('arxiv', 'doi') AND role = 'own') AS paper_links,
           list(DISTINCT kind || ':' || target ORDER BY kind || ':' || target)
               FILTER (WHERE kind IN ('arxiv', 'doi') AND coalesce(role, 'cited') <> 'own') AS cited_papers,
           list(DISTINCT target ORDER BY target) FILTER (WHERE kind = 'github' AND role = 'own') AS github_links
    FROM a_model_links WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
ev AS (
    -- What the card body states, per kind: the first few items and where the first one is written.
    SELECT repo_id, kind,
           array_to_string(list(name || coalesce(' = ' || value, '') ORDER BY line, name)[1:3], ', ')
               || ' (line ' || min(line) || ': "' || arg_min(snippet, line) || '")' AS said,
           count(*) AS n
    FROM a_card_evidence WHERE repo_id IN (SELECT repo_id FROM m) AND coalesce(role, 'own') = 'own'
    GROUP BY repo_id, kind),
evp AS (
    SELECT repo_id,
           max(said) FILTER (WHERE kind = 'hyperparameter') AS hyperparameter_evidence,
           max(n) FILTER (WHERE kind = 'hyperparameter') AS hyperparameters_stated,
           max(said) FILTER (WHERE kind = 'hardware') AS hardware_evidence,
           max(said) FILTER (WHERE kind = 'environment') AS environment_evidence,
           max(said) FILTER (WHERE kind = 'limitation') AS limitation_evidence,
           max(said) FILTER (WHERE kind = 'paper') AS paper_evidence,
           max(said) FILTER (WHERE kind = 'code') AS code_evidence,
           max(said) FILTER (WHERE kind = 'base_model') AS base_model_evidence,
           max(said) FILTER (WHERE kind = 'dataset') AS dataset_evidence
    FROM ev GROUP BY repo_id),
tr AS (
    SELECT repo_id, count(*) AS text_results,
           arg_min(metric || ' = ' || value_text || coalesce(' on ' || dataset, '')
                   || coalesce(' (' || split || ')', '') || ' (' || found_in || ', line ' || line || ': "' || snippet
                   || '")', line) AS text_result_example
    FROM a_card_results WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
cl AS (
    SELECT repo_id, count(*) FILTER (WHERE value_text IS NOT NULL AND coalesce(status, 'valid') = 'valid') AS claims,
           count(*) FILTER (WHERE value IS NOT NULL) AS index_results,
           min(coalesce(metric_type, metric_name, '?') || ' = ' || value_text
               || coalesce(' on ' || coalesce(dataset_type, dataset_name), ''))
               FILTER (WHERE coalesce(status, 'valid') = 'valid') AS claim_example,
           bool_and(coalesce(hf_valid, true)) AS claims_hf_valid
    FROM a_claims WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
cd AS (SELECT * FROM a_cards WHERE repo_id IN (SELECT repo_id FROM m)),
sec AS (
    SELECT repo_id, list(DISTINCT section ORDER BY section) FILTER (WHERE filled) AS filled_sections,
           list(DISTINCT section ORDER BY section) AS present_sections
    FROM a_card_sections WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
edges AS (
    -- A base named only in the card's text is an edge when it is a model of the scope (resolved, not guessed).
    SELECT repo_id, base_model, max(relation) AS relation FROM a_base_models
    WHERE base_model <> repo_id AND (source <> 'text' OR base_model IN (SELECT repo_id FROM a_models))
    GROUP BY repo_id, base_model),
declared AS (
    -- Every base the model declares, in metadata, tags or its card's text.
    SELECT repo_id, base_model, max(relation) AS relation FROM a_base_models
    WHERE base_model <> repo_id AND repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id, base_model),
bases AS (
    SELECT e.repo_id, list(e.base_model ORDER BY e.base_model) AS base_models,
           list(DISTINCT coalesce(e.relation, 'unspecified') ORDER BY coalesce(e.relation, 'unspecified'))
               AS base_relations,
           count(b.repo_id) AS bases_in_scope,
           list(e.base_model ORDER BY e.base_model) FILTER (WHERE b.repo_id IS NULL) AS bases_missing
    FROM declared e LEFT JOIN (SELECT repo_id FROM a_models) b ON b.repo_id = e.base_model
    GROUP BY e.repo_id),
up(repo_id, ancestor, depth) AS (
    SELECT repo_id, base_model, 1 FROM edges WHERE repo_id IN (SELECT repo_id FROM m)
    UNION
    SELECT up.repo_id, e.base_model, up.depth + 1 FROM up JOIN edges e ON e.repo_id = up.ancestor
    WHERE up.depth < 10),
judged AS (SELECT repo_id FROM m UNION SELECT ancestor FROM up),
pairs AS (
    SELECT e.repo_id, e.base_model, ml.id, bl.id AS base_id, bl.kind AS base_kind,
           license_verdict(bl.kind, bl.family, ml.kind, ml.family) AS verdict
    FROM edges e
    JOIN lic_rows ml ON ml.repo_id = e.repo_id
    JOIN lic_rows bl ON bl.repo_id = e.base_model
    WHERE e.repo_id IN (SELECT repo_id FROM judged)),
compat AS (
    SELECT repo_id, bool_or(verdict = 'conflict') AS license_conflict_any,
           bool_or(verdict = 'compatible') AS license_compatible_any,
           min(base_model || ' (' || base_id || '): ' || license_conflict_reason(base_id, base_kind, id))
               FILTER (WHERE verdict = 'conflict') AS license_conflict
    FROM pairs GROUP BY repo_id),
flagged AS (
    SELECT repo_id,
           list(coalesce(json_extract_string(x, '$.path'), json_extract_string(x, '$'))) AS hub_flagged_files
    FROM (SELECT repo_id, unnest(json_extract(security_status, '$.filesWithIssues[*]')) AS x
          FROM a_models WHERE json_array_length(json_extract(security_status, '$.filesWithIssues')) > 0)
    GROUP BY repo_id),
risk AS (
    SELECT u.repo_id, count(DISTINCT u.ancestor) AS ancestors,
           min(u.ancestor || CASE WHEN fl.repo_id IS NOT NULL THEN ' has files the Hub flagged'
                                  ELSE ' has a licence conflict with its own base' END)
               FILTER (WHERE fl.repo_id IS NOT NULL OR cp.license_conflict_any) AS upstream_issue
    FROM up u LEFT JOIN flagged fl ON fl.repo_id = u.ancestor LEFT JOIN compat cp ON cp.repo_id = u.ancestor
    GROUP BY u.repo_id),
derived AS (
    SELECT base_model AS repo_id, count(DISTINCT repo_id) AS derived_models,
           count(DISTINCT repo_id) FILTER (WHERE relation = 'quantized') AS quantized_variants
    FROM edges WHERE base_model IN (SELECT repo_id FROM m) GROUP BY base_model),
dl AS (
    SELECT repo_id, percent_rank() OVER (PARTITION BY pipeline_tag ORDER BY downloads) AS downloads_pct
    FROM a_models WHERE downloads IS NOT NULL),
lk AS (
    SELECT repo_id, percent_rank() OVER (PARTITION BY pipeline_tag ORDER BY likes) AS likes_pct
    FROM a_models WHERE likes IS NOT NULL),
org AS (SELECT name, is_verified FROM a_organizations),
org_known AS (SELECT count(is_verified) > 0 AS known FROM a_organizations),
cm AS (
    SELECT repo_id, count(*) AS commits, count(*) FILTER (WHERE signature <> 'none') AS signed_commits,
           min(signature || coalesce(' key ' || key_id, '')) FILTER (WHERE signature <> 'none') AS signature_example
    FROM a_commits WHERE repo_id IN (SELECT repo_id FROM m) GROUP BY repo_id),
rc AS (
    SELECT m.repo_id, sum(v.consistent) AS rechecks_consistent, sum(v.discrepancies) AS rechecks_discrepant,
           max(v.worst_gap) AS recheck_worst_gap, bool_or(v.sha IS NOT DISTINCT FROM m.sha) AS recheck_same_revision,
           string_agg(v.evidence || CASE WHEN v.sha IS NOT DISTINCT FROM m.sha THEN ''
                                         ELSE ' (revision ' || coalesce(left(v.sha, 12), 'unknown') || ')' END, '; ')
               AS recheck_evidence
    FROM m JOIN ({rechecked}) v ON v.repo_id = m.repo_id
    GROUP BY m.repo_id),
ns_downloads AS (SELECT namespace, sum(downloads) AS downloads FROM a_models GROUP BY namespace),
conf AS (
    -- A look-alike is a squatting risk when it is far less used than what it resembles;
    -- an established name one edit from another (UBC-NLP, unc-nlp) is not flagged.
    SELECT repo_id, min(target || ' (' || transform || ')') AS confused_with FROM (
        SELECT m.repo_id, c.target, c.transform, m.namespace, coalesce(m.downloads, 0) AS own, c.target_downloads,
               CASE WHEN position('/' IN c.target) > 0 THEN split_part(c.target, '/', 1) ELSE '' END AS target_owner
        FROM m JOIN confusables c ON c.kind = 'model' AND c.variant = lower(m.repo_id)
        UNION ALL
        SELECT m.repo_id, c.target, c.transform, m.namespace, coalesce(m.downloads, 0), c.target_downloads, ''
        FROM m JOIN confusables c ON c.kind = 'model' AND position('/' IN c.target) = 0
             AND c.variant = lower(regexp_extract(m.repo_id, '[^/]*$'))
        UNION ALL
        SELECT m.repo_id, c.target || '/*', c.transform, m.namespace, coalesce(n.downloads, 0), c.target_downloads,
               c.target
        FROM m JOIN confusables c ON c.kind = 'org' AND c.variant = lower(m.namespace)
        LEFT JOIN ns_downloads n ON n.namespace = m.namespace)
    WHERE lower(coalesce(namespace, '')) <> lower(target_owner) AND own < 0.01 * target_downloads
    GROUP BY repo_id)
SELECT
    m.repo_id,
    m.namespace,
    regexp_extract(m.repo_id, '[^/]*$') AS name,
    m.sha,
    m.pipeline_tag,
    m.library_name,
    m.model_type,
    m.downloads,
    m.likes,
    m.last_modified,
    date_diff('day', m.last_modified, (SELECT ref_time FROM ref)) AS age_days,
    m.gated,
    m.num_files,
    m.num_files IS NOT NULL AS files_known,
    m.has_readme,
    m.parameters,
    m.has_auto_map,
    m.quantization,
    m.card_data IS NOT NULL AS card_data_known,
    coalesce(f.has_config, false) AS has_config,
    coalesce(f.has_safetensors, false) AS has_safetensors,
    coalesce(f.has_pickle, false) AS has_pickle,
    f.pickle_files,
    coalesce(f.has_onnx, false) AS has_onnx,
    coalesce(f.has_gguf, false) AS has_gguf,
    coalesce(f.has_tflite, false) AS has_tflite,
    coalesce(f.has_coreml, false) AS has_coreml,
    coalesce(f.has_tf, false) AS has_tf,
    coalesce(f.has_flax, false) AS has_flax,
    coalesce(f.has_training_logs, false) AS has_training_logs,
    coalesce(f.has_training_config, false) AS has_training_config,
    coalesce(f.has_environment_file, false) AS has_environment_file,
    coalesce(f.has_model_code, false) AS has_model_code,
    coalesce(f.has_quantized_files, false) AS has_quantized_files,
    coalesce(tg.tags, []) AS tags,
    coalesce(tg.custom_code_tag, false) AS custom_code_tag,
    coalesce(tg.framework_tags, []) AS framework_tags,
    cd.status AS card_status,
    coalesce(cd.status IN {text_statuses}, false) AS card_text_known,
    CASE WHEN cd.status IN {text_statuses} OR cd.status IN ('binary', 'empty') THEN true
         WHEN cd.status = 'missing' THEN false
         WHEN m.has_readme IS NOT NULL THEN m.has_readme
         WHEN m.card_data IS NOT NULL THEN true END AS card_present,
    (cd.status IS NOT NULL OR m.card_data IS NOT NULL OR m.has_readme = false) AS card_known,
    cd.length AS card_length,
    cd.placeholders AS card_placeholders,
    cd.mentions_hyperparameters,
    cd.mentions_hardware,
    cd.has_results_table,
    cd.has_usage_code,
    cd.mentions_finetuning,
    cd.mentions_latency,
    coalesce(sec.filled_sections, []) AS filled_sections,
    coalesce(sec.present_sections, []) AS present_sections,
    len(list_distinct(list_transform(list_filter(coalesce(sec.filled_sections, []),
        lambda s: s IN ('hyperparameters', {core})),
        lambda s: CASE WHEN s = 'hyperparameters' THEN 'training' ELSE s END)))
        AS core_filled,
    coalesce(lic.licenses, []) AS licenses,
    coalesce(lic.spdx_licenses, []) AS spdx_licenses,
    coalesce(lic.license_kinds, []) AS license_kinds,
    coalesce(ds.datasets, []) AS datasets,
    coalesce(ln.paper_links, []) AS paper_links,
    coalesce(ln.cited_papers, []) AS cited_papers,
    coalesce(ln.github_links, []) AS github_links,
    coalesce(evp.hyperparameters_stated, 0) AS hyperparameters_stated,
    evp.hyperparameter_evidence,
    evp.hardware_evidence,
    evp.environment_evidence,
    evp.limitation_evidence,
    evp.paper_evidence,
    evp.code_evidence,
    evp.base_model_evidence,
    evp.dataset_evidence,
    coalesce(tr.text_results, 0) AS text_results,
    tr.text_result_example,
    coalesce(cl.claims, 0) AS claims,
    coalesce(cl.index_results, 0) AS index_results,
    cl.claim_example,
    cl.claims_hf_valid,
    coalesce(bases.base_models, []) AS base_models,
    coalesce(bases.base_relations, []) AS base_relations,
    coalesce(bases.bases_in_scope, 0) AS bases_in_scope,
    coalesce(bases.bases_missing, []) AS bases_missing,
    coalesce(compat.license_conflict_any, false) AS license_conflict_any,
    coalesce(compat.license_compatible_any, false) AS license_compatible_any,
    compat.license_conflict,
    coalesce(risk.ancestors, 0) AS ancestors,
    risk.upstream_issue,
    coalesce(derived.derived_models, 0) AS derived_models,
    coalesce(derived.quantized_variants, 0) AS quantized_variants,
    dl.downloads_pct,
    lk.likes_pct,
    org.is_verified AS org_verified,
    org.name IS NOT NULL AS org_listed,
    (SELECT known FROM org_known) AS orgs_known,
    m.security_status IS NOT NULL AS hub_scan_known,
    flagged.hub_flagged_files,
    conf.confused_with,
    cm.commits,
    cm.signed_commits,
    cm.signature_example,
    NULL::VARCHAR AS file_scan_verdict,
    NULL::VARCHAR AS file_scan_evidence,
    (SELECT count(*) FROM a_models WHERE downloads IS NOT NULL) > 0 AS popularity_known,
    (SELECT count(*) FROM edges) > 0 AS lineage_known,
    coalesce(rc.rechecks_consistent, 0) AS rechecks_consistent,
    coalesce(rc.rechecks_discrepant, 0) AS rechecks_discrepant,
    rc.recheck_worst_gap,
    rc.recheck_same_revision,
    rc.recheck_evidence
FROM m
LEFT JOIN f USING (repo_id)
LEFT JOIN tg USING (repo_id)
LEFT JOIN lic USING (repo_id)
LEFT JOIN ds USING (repo_id)
LEFT JOIN ln USING (repo_id)
LEFT JOIN evp USING (repo_id)
LEFT JOIN tr USING (repo_id)
LEFT JOIN cl USING (repo_id)
LEFT JOIN cd USING (repo_id)
LEFT JOIN sec USING (repo_id)
LEFT JOIN bases USING (repo_id)
LEFT JOIN compat USING (repo_id)
LEFT JOIN risk USING (repo_id)
LEFT JOIN derived USING (repo_id)
LEFT JOIN dl USING (repo_id)
LEFT JOIN lk USING (repo_id)
LEFT JOIN flagged USING (repo_id)
LEFT JOIN conf USING (repo_id)
LEFT JOIN rc USING (repo_id)
LEFT JOIN cm USING (repo_id)
LEFT JOIN org ON org.name = m.namespace
"""

# Every column of the facts table; checks may read only these (the registry enforces it).
FACT_COLUMNS: frozenset[str] = frozenset(
    """
    repo_id namespace name sha pipeline_tag library_name model_type downloads likes last_modified age_days gated
    num_files files_known has_readme parameters has_auto_map quantization card_data_known has_config has_safetensors
    has_pickle pickle_files has_onnx has_gguf has_tflite has_coreml has_tf has_flax has_training_logs
    has_training_config has_environment_file has_model_code has_quantized_files tags custom_code_tag framework_tags
    card_status card_text_known card_present card_known card_length card_placeholders mentions_hyperparameters
    mentions_hardware has_results_table has_usage_code mentions_finetuning mentions_latency filled_sections
    present_sections core_filled licenses spdx_licenses license_kinds datasets paper_links cited_papers github_links
    hyperparameters_stated hyperparameter_evidence hardware_evidence environment_evidence limitation_evidence
    paper_evidence code_evidence base_model_evidence dataset_evidence text_results text_result_example claims
    index_results
    claim_example claims_hf_valid base_models base_relations bases_in_scope bases_missing license_conflict_any
    license_compatible_any license_conflict ancestors upstream_issue derived_models quantized_variants downloads_pct
    likes_pct org_verified org_listed orgs_known hub_scan_known hub_flagged_files confused_with commits
    signed_commits signature_example file_scan_verdict file_scan_evidence popularity_known lineage_known
    rechecks_consistent rechecks_discrepant recheck_worst_gap recheck_same_revision recheck_evidence
    """.split()
)

# Lower-case SQL functions and words checks may use besides fact names.
SQL_WORDS: frozenset[str] = frozenset(
    """
    len list_contains list_has_any list_filter list_transform list_distinct list_slice array_to_string coalesce
    format printf round least greatest lower upper concat cast varchar integer double bigint true false null
    lambda x s t strftime nullif string_agg contains starts_with suffix regexp_matches log10 ln abs floor ceil nullif
    """.split()
)


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE (database_name = ? OR (? = 'main' AND schema_name = 'main'"
        " AND database_name = current_database())) AND table_name = ?",
        [catalog, catalog, table],
    ).fetchall()
    return bool(rows[0][0])


def _verifications_view(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """``a_verifications``: ``ptmscope verify`` results (keyed by revision, not by snapshot).

    A context store from before verify existed has no such table: the view is then empty.
    """
    if _has_table(con, catalog, "verifications"):
        con.execute(f"CREATE OR REPLACE TEMP VIEW a_verifications AS SELECT * FROM {catalog}.verifications")
    else:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW a_verifications AS SELECT NULL::VARCHAR AS repo_id, NULL::VARCHAR AS sha,"
            " NULL::VARCHAR AS task, NULL::VARCHAR AS dataset, NULL::VARCHAR AS dataset_name, NULL::VARCHAR AS split,"
            " NULL::VARCHAR AS metric, NULL::VARCHAR AS verdict, NULL::DOUBLE AS gap, NULL::DOUBLE AS measured,"
            " NULL::DOUBLE AS ci_low, NULL::DOUBLE AS ci_high, NULL::VARCHAR AS claimed_text,"
            " NULL::TIMESTAMPTZ AS created_at, NULL::INTEGER AS verification_id WHERE false"
        )


def snapshot_scope(con: duckdb.DuckDBPyConnection, snapshot_id: int, schema: str = "main") -> None:
    """Point the a_<table> views at one snapshot of the store."""
    sid = int(snapshot_id)
    for table in SCOPE_TABLES:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW a_{table} AS SELECT * FROM {schema}.{table} WHERE snapshot_id = {sid}"
        )
    _verifications_view(con, schema)


def overlay_scope(
    con: duckdb.DuckDBPyConnection,
    *,
    model_schema: str,
    model_snapshot: int,
    context_schema: str | None,
    context_snapshot: int | None,
) -> None:
    """Views over a context snapshot with one scratch snapshot's models laid over it.

    Context rows of a repo the scratch snapshot also holds are hidden, so the audited
    version of a model replaces the context's version of it.
    """
    msid = int(model_snapshot)
    for table in SCOPE_TABLES:
        own = f"SELECT * FROM {model_schema}.{table} WHERE snapshot_id = {msid}"
        if context_schema is None or context_snapshot is None or not _has_table(con, context_schema, table):
            con.execute(f"CREATE OR REPLACE TEMP VIEW a_{table} AS {own}")  # (a store from an older ptmscope)
            continue
        csid = int(context_snapshot)
        key = "name" if table == "organizations" else "repo_id"
        context = (
            f"SELECT * FROM {context_schema}.{table} WHERE snapshot_id = {csid} AND {key} NOT IN "
            f"(SELECT {key} FROM {model_schema}.{table} WHERE snapshot_id = {msid})"
            if table == "organizations"
            else f"SELECT * FROM {context_schema}.{table} WHERE snapshot_id = {csid} AND repo_id NOT IN "
            f"(SELECT repo_id FROM {model_schema}.models WHERE snapshot_id = {msid})"
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW a_{table} AS {own} UNION ALL BY NAME {context}")
    _verifications_view(con, context_schema or model_schema)


def install_confusables(con: duckdb.DuckDBPyConnection) -> int:
    """Fill the temp table ``confusables`` from the most popular models and organizations in scope."""
    popular_models = con.execute(
        "SELECT repo_id, downloads FROM a_models WHERE downloads > 0 ORDER BY downloads DESC, repo_id LIMIT ?",
        [POPULAR_MODELS],
    ).fetchall()
    popular_orgs = con.execute(
        "SELECT namespace, sum(downloads) FROM a_models WHERE namespace IS NOT NULL AND downloads > 0"
        " GROUP BY namespace ORDER BY sum(downloads) DESC, namespace LIMIT ?",
        [POPULAR_ORGS],
    ).fetchall()
    downloads = {("model", r): d for r, d in popular_models} | {("org", o): d for o, d in popular_orgs}
    rows = [
        (*row, int(downloads[(row[2], row[1])]))
        for row in names.confusables([r for r, _ in popular_models], [o for o, _ in popular_orgs])
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE confusables (variant VARCHAR, target VARCHAR, kind VARCHAR, transform VARCHAR,"
        " target_downloads BIGINT)"
    )
    if rows:
        columns = ("variant", "target", "kind", "transform", "target_downloads")
        table = pa.table(dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True)))
        con.register("_confusables", table)
        try:
            con.execute("INSERT INTO confusables SELECT * FROM _confusables")
        finally:
            con.unregister("_confusables")
    return len(rows)


def build_facts(con: duckdb.DuckDBPyConnection, focus: list[str] | None = None) -> int:
    """Fill the temp table ``facts`` for the models in scope (or only those in ``focus``); return its row count."""
    licenses.install(con)
    install_confusables(con)
    where = ""
    if focus is not None:
        con.execute("CREATE OR REPLACE TEMP TABLE focus_ids (repo_id VARCHAR)")
        if focus:
            con.executemany("INSERT INTO focus_ids VALUES (?)", [(r,) for r in focus])
        where = "WHERE repo_id IN (SELECT repo_id FROM focus_ids)"
    quoted = lambda values: "(" + ", ".join(f"'{v}'" for v in values) + ")"  # noqa: E731 - constants only
    sql = FACTS_SQL.format(
        rechecked=rechecked_sql("a_"),
        focus=where,
        file_flags=FILE_FLAGS,
        text_statuses=quoted(TEXT_STATUSES),
        core=", ".join(f"'{s}'" for s in CORE_SECTIONS),
    )
    con.execute(sql)
    return int(con.execute("SELECT count(*) FROM facts").fetchall()[0][0])
