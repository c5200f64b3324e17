"""The store's schema, as migrations.

Every fact is a row keyed by ``snapshot_id``: a snapshot is one import or crawl,
with an id, a name and a time, and nothing in it is overwritten by a later run.
Unknown is NULL, never 0 or an empty string. Big tables carry no primary-key index
(DuckDB bulk-loads faster without one); the writer guarantees one row per
``(snapshot_id, repo_id)`` in ``models`` and tests hold it to that.

The column docs live in docs/store.md; keep the two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ptmscope.cards.model_index import PLACEHOLDER_SQL
from ptmscope.store.migrations import Migrations

if TYPE_CHECKING:
    import duckdb

migrations = Migrations("ptmscope")

# Tables whose rows belong to one snapshot; `snapshots delete` and `export` walk this list.
SNAPSHOT_TABLES: tuple[str, ...] = (
    "models",
    "model_tags",
    "model_files",
    "model_datasets",
    "model_licenses",
    "base_models",
    "model_links",
    "cards",
    "card_sections",
    "claims",
    "model_indexes",
    "card_results",
    "card_evidence",
    "organizations",
    "model_downloads_monthly",
    "registry_downloads",
    "import_errors",
    "audit_runs",
    "findings",
    "scores",
    # crawl, clone and history (m0002_crawl_*)
    "crawl_state",
    "crawl_failures",
    "repo_files",
    "repo_clones",
    "commits",
    # registry-wide file scans (m0007_file_scans): what each snapshot's run looked at
    "file_scan_repos",
)


@migrations()
def m0001_initial(con: duckdb.DuckDBPyConnection) -> None:
    """Snapshots, models and every per-model fact the importer and the card analysis write."""
    _m0001_snapshots_and_models(con)
    _m0001_model_facts(con)
    _m0001_cards(con)
    _m0001_organizations_and_downloads(con)


# The parts of m0001_initial, in the order it runs them (a migration applied once never changes).


def _m0001_snapshots_and_models(con: duckdb.DuckDBPyConnection) -> None:
    """The snapshot id sequence, ``snapshots`` and ``models``."""
    con.execute("CREATE SEQUENCE snapshot_ids START 1")
    con.execute(
        """
        CREATE TABLE snapshots (
            snapshot_id   INTEGER PRIMARY KEY DEFAULT nextval('snapshot_ids'),
            name          VARCHAR NOT NULL UNIQUE,
            source        VARCHAR NOT NULL,   -- 'import' | 'bundled' | 'crawl'
            source_detail VARCHAR,            -- input files or endpoint
            taken_at      TIMESTAMPTZ,        -- when the registry was read, if known
            created_at    TIMESTAMPTZ NOT NULL,
            finished_at   TIMESTAMPTZ,
            status        VARCHAR NOT NULL,   -- 'running' | 'complete' | 'partial'
            tool_version  VARCHAR NOT NULL,
            notes         VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE models (
            snapshot_id        INTEGER NOT NULL,
            repo_id            VARCHAR NOT NULL,
            namespace          VARCHAR,        -- owner part of repo_id; NULL for legacy un-namespaced ids
            author             VARCHAR,        -- as the API reported it
            sha                VARCHAR,
            last_modified      TIMESTAMPTZ,
            created_at         TIMESTAMPTZ,
            private            BOOLEAN,
            gated              VARCHAR,        -- 'no' | 'auto' | 'manual'
            disabled           BOOLEAN,
            downloads          BIGINT,         -- the API's rolling 30-day count
            downloads_all_time BIGINT,
            likes              BIGINT,
            pipeline_tag       VARCHAR,
            library_name       VARCHAR,
            model_type         VARCHAR,        -- config.json model_type (architecture family)
            architectures      VARCHAR[],      -- config.json architectures (classes)
            num_files          INTEGER,        -- NULL when the file list is unknown
            has_readme         BOOLEAN,        -- README.md in the file list; NULL when unknown
            parameters         BIGINT,         -- safetensors total, when the API reported it
            used_storage       BIGINT,
            security_status    JSON,           -- the Hub's own scan verdict, as given
            card_data          JSON,           -- the API's cardData, bounded
            source_file        VARCHAR
        )
        """
    )


def _m0001_model_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Per-model lists: tags, files, datasets, licences, base models and links."""
    con.execute("CREATE TABLE model_tags (snapshot_id INTEGER, repo_id VARCHAR, tag VARCHAR)")
    con.execute(
        "CREATE TABLE model_files (snapshot_id INTEGER, repo_id VARCHAR, path VARCHAR,"
        " size BIGINT, blob_id VARCHAR, lfs_sha256 VARCHAR)"
    )
    # source: 'tag' (API tags), 'card_data' (API cardData), 'card' (README front matter)
    con.execute("CREATE TABLE model_datasets (snapshot_id INTEGER, repo_id VARCHAR, dataset VARCHAR, source VARCHAR)")
    con.execute("CREATE TABLE model_licenses (snapshot_id INTEGER, repo_id VARCHAR, license VARCHAR, source VARCHAR)")
    # relation: 'finetune' | 'adapter' | 'merge' | 'quantized' | NULL (declared without a relation)
    con.execute(
        "CREATE TABLE base_models (snapshot_id INTEGER, repo_id VARCHAR, base_model VARCHAR,"
        " relation VARCHAR, source VARCHAR)"
    )
    # kind: 'arxiv' | 'doi' | 'github' | 'paper'
    con.execute(
        "CREATE TABLE model_links (snapshot_id INTEGER, repo_id VARCHAR, kind VARCHAR, target VARCHAR, source VARCHAR)"
    )


def _m0001_cards(con: duckdb.DuckDBPyConnection) -> None:
    """What the card analysis reads from a README: ``cards``, ``card_sections`` and ``claims``."""
    con.execute(
        """
        CREATE TABLE cards (
            snapshot_id        INTEGER NOT NULL,
            repo_id            VARCHAR NOT NULL,
            status             VARCHAR NOT NULL, -- ok | no_metadata | yaml_error | not_a_mapping |
                                                 -- binary | empty | missing
            error              VARCHAR,          -- why, when status is an error
            length             INTEGER,          -- characters of card text (after the front matter)
            truncated          BOOLEAN,          -- analysed only the first part of a huge card
            yaml_keys          VARCHAR[],
            license            VARCHAR,
            library_name       VARCHAR,
            pipeline_tag       VARCHAR,
            languages          VARCHAR[],
            model_index        VARCHAR,          -- absent | valid | invalid (per huggingface_hub) | empty
            model_index_error  VARCHAR,
            placeholders       INTEGER,          -- template placeholders left in ("[More Information Needed]")
            mentions_hyperparameters BOOLEAN,
            mentions_hardware  BOOLEAN,
            has_results_table  BOOLEAN,          -- a markdown table with metric-like headers
            has_usage_code     BOOLEAN,          -- a fenced code block
            source_file        VARCHAR
        )
        """
    )
    # section: a canonical section id (see ptmscope.cards.sections); filled: has real content
    con.execute(
        "CREATE TABLE card_sections (snapshot_id INTEGER, repo_id VARCHAR, section VARCHAR,"
        " heading VARCHAR, filled BOOLEAN, chars INTEGER)"
    )
    con.execute(
        """
        CREATE TABLE claims (
            snapshot_id   INTEGER NOT NULL,
            repo_id       VARCHAR NOT NULL,
            source        VARCHAR NOT NULL,  -- 'card' | 'card_data' | 'model_index'
            model_name    VARCHAR,
            task_type     VARCHAR,
            task_name     VARCHAR,
            dataset_type  VARCHAR,
            dataset_name  VARCHAR,
            dataset_config VARCHAR,
            dataset_split VARCHAR,
            metric_type   VARCHAR,
            metric_name   VARCHAR,
            value         DOUBLE,           -- the value when it is a number
            value_text    VARCHAR,          -- the value as written ("20.0 ± 1.2"), NULL when absent
            verified      BOOLEAN,
            hf_valid      BOOLEAN           -- huggingface_hub's strict parser accepted this model-index
        )
        """
    )


def _m0001_organizations_and_downloads(con: duckdb.DuckDBPyConnection) -> None:
    """Organizations, monthly and other registries' downloads, and the records an import could not use."""
    con.execute(
        """
        CREATE TABLE organizations (
            snapshot_id  INTEGER NOT NULL,
            name         VARCHAR NOT NULL,
            fullname     VARCHAR,
            kind         VARCHAR,       -- company | university | non-profit | community | classroom | ...
            is_verified  BOOLEAN,       -- NULL when the source did not say
            num_users    BIGINT,
            num_models   BIGINT,
            num_followers BIGINT,
            source_file  VARCHAR
        )
        """
    )
    con.execute(
        "CREATE TABLE model_downloads_monthly (snapshot_id INTEGER, repo_id VARCHAR, month DATE, downloads BIGINT)"
    )
    # Downloads of packages in other registries (npm, PyPI) for the Fig. 1 comparison.
    con.execute(
        "CREATE TABLE registry_downloads (snapshot_id INTEGER, registry VARCHAR, package VARCHAR,"
        " downloads BIGINT, period VARCHAR, source_file VARCHAR)"
    )
    # One row per input record that could not be used, with the reason.
    con.execute(
        "CREATE TABLE import_errors (snapshot_id INTEGER, source_file VARCHAR, location VARCHAR,"
        " repo_id VARCHAR, reason VARCHAR)"
    )


@migrations()
def m0002_crawl_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Crawl progress and failures, stored small files, bare clones and their commit histories."""
    # One row per crawl snapshot: where the crawl stands, so a rerun continues (see ptmscope.crawl).
    con.execute(
        """
        CREATE TABLE crawl_state (
            snapshot_id     INTEGER NOT NULL,
            endpoint        VARCHAR NOT NULL,
            params          JSON,             -- the listing's query (author, filter, limit, expand)
            base_snapshot_id INTEGER,          -- incremental: cards of unchanged shas were copied from it
            next_url        VARCHAR,          -- the listing page to fetch next (NULL: start, or done)
            pages           INTEGER NOT NULL DEFAULT 0,
            listing_done    BOOLEAN NOT NULL DEFAULT false,
            cards_done      BOOLEAN NOT NULL DEFAULT false,
            orgs_done       BOOLEAN NOT NULL DEFAULT false,
            requests        JSON,             -- requests made per rate-limit bucket, over every run
            updated_at      TIMESTAMPTZ
        )
        """
    )
    # One row per item that could not be fetched (the latest attempt); deleted when a retry succeeds.
    # stage: list | card | org | clone | history; retryable false: a rerun will not try again (404).
    con.execute(
        """
        CREATE TABLE crawl_failures (
            snapshot_id  INTEGER NOT NULL,
            stage        VARCHAR NOT NULL,
            item         VARCHAR NOT NULL,    -- repo id, namespace or page URL
            http_status  INTEGER,
            reason       VARCHAR NOT NULL,
            retryable    BOOLEAN NOT NULL,
            attempts     INTEGER NOT NULL,
            failed_at    TIMESTAMPTZ NOT NULL
        )
        """
    )
    # Small repository files kept as fetched (README.md), so a snapshot can be served again.
    con.execute(
        "CREATE TABLE repo_files (snapshot_id INTEGER NOT NULL, repo_id VARCHAR NOT NULL, path VARCHAR NOT NULL,"
        " size BIGINT, blob_id VARCHAR, content BLOB)"
    )
    # One row per repo that `ptmscope clone` tried: HFTorrent-style bare clones (LFS content never fetched).
    con.execute(
        """
        CREATE TABLE repo_clones (
            snapshot_id   INTEGER NOT NULL,
            repo_id       VARCHAR NOT NULL,
            status        VARCHAR NOT NULL,   -- ok | failed
            path          VARCHAR,            -- the bare repository on disk
            reason        VARCHAR,            -- why it failed
            head          VARCHAR,            -- the commit HEAD names
            commits       INTEGER,            -- commits reachable from branches and tags (NULL: not read)
            signed_commits INTEGER,
            history_error VARCHAR,            -- the history could not be read, and why
            attempts      INTEGER,
            seconds       DOUBLE,
            cloned_at     TIMESTAMPTZ
        )
        """
    )
    # One row per commit of a cloned repo; signature: openpgp | ssh | x509 | none (what the gpgsig header holds,
    # parsed, never verified); key_id: OpenPGP issuer key id (16 hex), SSH key fingerprint (SHA256:...), or NULL.
    con.execute(
        """
        CREATE TABLE commits (
            snapshot_id   INTEGER NOT NULL,
            repo_id       VARCHAR NOT NULL,
            sha           VARCHAR NOT NULL,
            parents       INTEGER,
            author        VARCHAR,
            authored_at   TIMESTAMPTZ,
            committer     VARCHAR,
            committed_at  TIMESTAMPTZ,
            signature     VARCHAR NOT NULL,
            key_id        VARCHAR,
            message       VARCHAR,            -- the first 1,000 characters
            position      INTEGER             -- 0 for the newest, in git log --date-order
        )
        """
    )


@migrations()
def m0003_audit(con: duckdb.DuckDBPyConnection) -> None:
    """Facts the audit checks read (custom code, quantization, fine-tuning and latency notes) and audit results."""
    con.execute("ALTER TABLE models ADD COLUMN has_auto_map BOOLEAN")  # config.json auto_map: remote code
    con.execute("ALTER TABLE models ADD COLUMN quantization VARCHAR")  # config.json quantization method
    con.execute("ALTER TABLE cards ADD COLUMN mentions_finetuning BOOLEAN")
    con.execute("ALTER TABLE cards ADD COLUMN mentions_latency BOOLEAN")
    con.execute("CREATE SEQUENCE audit_run_ids START 1")
    con.execute(
        """
        CREATE TABLE audit_runs (
            run_id        INTEGER PRIMARY KEY DEFAULT nextval('audit_run_ids'),
            snapshot_id   INTEGER NOT NULL,
            scope         VARCHAR NOT NULL,   -- 'snapshot' (audit --all) | 'model'
            created_at    TIMESTAMPTZ NOT NULL,
            tool_version  VARCHAR NOT NULL,
            checks        JSON NOT NULL,      -- [{id, version, attribute}] as run
            weights       JSON NOT NULL,      -- the scoring policy as run
            models        BIGINT,
            seconds       DOUBLE
        )
        """
    )
    # One row per model and check; outcome: true | false | not_available | not_applicable | error
    con.execute(
        "CREATE TABLE findings (snapshot_id INTEGER, run_id INTEGER, repo_id VARCHAR, sha VARCHAR,"
        " check_id VARCHAR, outcome VARCHAR, grade DOUBLE, evidence VARCHAR)"
    )
    # One row per model and attribute; score 0-10, NULL when every check was inconclusive
    con.execute(
        "CREATE TABLE scores (snapshot_id INTEGER, run_id INTEGER, repo_id VARCHAR, attribute VARCHAR,"
        " score DOUBLE, earned DOUBLE, possible DOUBLE, conclusive INTEGER, inconclusive INTEGER)"
    )


@migrations()
def m0004_verify_results(con: duckdb.DuckDBPyConnection) -> None:
    """``ptmscope verify`` results: one row per model revision, dataset split and metric re-checked.

    Keyed by ``repo_id`` + ``sha`` (the revision run), not by snapshot: a measurement
    of a model's files is a fact about that revision whichever snapshot lists it, so
    deleting a snapshot keeps it and any snapshot's study can read it.
    """
    con.execute("CREATE SEQUENCE verification_ids START 1")
    con.execute("CREATE SEQUENCE verify_run_ids START 1")
    con.execute(
        """
        CREATE TABLE verifications (
            verification_id INTEGER PRIMARY KEY DEFAULT nextval('verification_ids'),
            run_id          INTEGER NOT NULL,  -- one verify invocation (--snapshot runs verify many models)
            repo_id         VARCHAR NOT NULL,
            sha             VARCHAR,           -- the revision run; NULL for a plain folder
            weights_sha256  VARCHAR,           -- sha256 of the weights file (as the Hub's LFS pointer has it)
            model_source    VARCHAR NOT NULL,  -- folder | hf-cache | hub | unresolved
            task            VARCHAR,           -- text-classification | token-classification |
                                               -- image-classification | sentence-similarity
            metric          VARCHAR,           -- accuracy | f1_macro | f1_weighted | f1_micro | f1 | precision |
                                               -- recall | spearman | pearson
            dataset         VARCHAR NOT NULL,  -- as given (a path, or a name in the local HF cache)
            dataset_name    VARCHAR,           -- the identity claims were matched against
            dataset_config  VARCHAR,
            split           VARCHAR NOT NULL,
            examples        INTEGER,           -- examples evaluated (after --limit)
            examples_total  INTEGER,           -- examples in the split
            measured        DOUBLE,            -- 0-1 (correlations -1..1)
            ci_low          DOUBLE,            -- bootstrap percentile interval
            ci_high         DOUBLE,
            confidence      DOUBLE,
            resamples       INTEGER,
            seed            INTEGER,
            tolerance       DOUBLE,
            claimed         DOUBLE,            -- the matched claim, normalised to the measured scale
            claimed_text    VARCHAR,           -- the claim's value as written
            claim_task      VARCHAR,
            claim_dataset   VARCHAR,
            claim_config    VARCHAR,
            claim_split     VARCHAR,
            claim_metric    VARCHAR,           -- metric type (or name) as written
            claim_verified  BOOLEAN,           -- the Hub's own 'verified' flag on the claim
            gap             DOUBLE,            -- claimed - measured
            verdict         VARCHAR NOT NULL,  -- consistent | discrepancy | no_matching_claim | failed
            explanation     VARCHAR,           -- why this claim matched, why none did, or why it failed
            notes           VARCHAR[],
            selected_from   VARCHAR,           -- the snapshot a --snapshot run picked the model from
            created_at      TIMESTAMPTZ NOT NULL,
            seconds         DOUBLE,
            tool_version    VARCHAR NOT NULL,
            runtime         JSON               -- torch and transformers versions, device
        )
        """
    )


@migrations()
def m0005_claim_definitions(con: duckdb.DuckDBPyConnection) -> None:
    """What the study's two claim definitions need: strict statuses, the paper's reading, where front matter was.

    Claims of older snapshots get their strict status from their own columns (the rule of
    ``ptmscope.cards.model_index.claim_status``); the paper's reading needs the cards read
    again, so it stays NULL there (the study says so).
    """
    # The rule the snapshot's cards were read with (ptmscope.cards.frontmatter) and the version of
    # the card analysis that read them (NULL: older than the definitions).
    con.execute("ALTER TABLE snapshots ADD COLUMN front_matter VARCHAR")
    con.execute("ALTER TABLE snapshots ADD COLUMN card_analysis INTEGER")
    con.execute("ALTER TABLE claims ADD COLUMN entry INTEGER")  # position in the model-index
    con.execute("ALTER TABLE claims ADD COLUMN status VARCHAR")  # valid | placeholder | not_numeric | no_dataset |
    con.execute("ALTER TABLE claims ADD COLUMN paper BOOLEAN")  # no_metric; paper: the artifact's method reads it
    con.execute(
        f"""
        UPDATE claims SET status = CASE
            WHEN value IS NULL AND regexp_full_match(lower(trim(value_text)), '{PLACEHOLDER_SQL}') THEN 'placeholder'
            WHEN value IS NULL THEN 'not_numeric'
            WHEN dataset_type IS NULL AND dataset_name IS NULL THEN 'no_dataset'
            WHEN metric_type IS NULL AND metric_name IS NULL THEN 'no_metric'
            ELSE 'valid' END
        """
    )
    # where: start | after_text | loose_delimiter (ptmscope.cards.frontmatter), whether or not the rule read it
    con.execute("ALTER TABLE cards ADD COLUMN front_matter VARCHAR")
    con.execute("ALTER TABLE cards ADD COLUMN front_matter_line INTEGER")
    # One row per model and source whose metadata has a model-index: what it held and what the paper's
    # method (the ICSE'23 artifact's get_claims) read of it.
    con.execute(
        """
        CREATE TABLE model_indexes (
            snapshot_id  INTEGER NOT NULL,
            repo_id      VARCHAR NOT NULL,
            source       VARCHAR NOT NULL,   -- 'card' | 'card_data'
            key          VARCHAR NOT NULL,   -- 'model-index' | 'model_index' (legacy)
            entries      INTEGER,
            metrics      INTEGER,            -- metrics with a value (claim rows)
            metrics_without_value INTEGER,
            paper_claims INTEGER NOT NULL,   -- metrics the paper's method reads (0 when it fails)
            paper_error  VARCHAR,            -- the step that failed (ptmscope.cards.model_index.PAPER_ERRORS)
            paper_detail VARCHAR             -- what that step met, bounded
        )
        """
    )


@migrations()
def m0006_card_body(con: duckdb.DuckDBPyConnection) -> None:
    """What a card's body says, with evidence: reported results, stated facts, and whose links are whose."""
    # One row per number the body reports for the model (tables, the Trainer's list, sentences); model-index
    # claims stay in `claims`. value: as written (a decimal comma read as a point); unit: '%' when written so.
    con.execute(
        """
        CREATE TABLE card_results (
            snapshot_id INTEGER NOT NULL,
            repo_id     VARCHAR NOT NULL,
            dataset     VARCHAR,
            split       VARCHAR,
            metric      VARCHAR NOT NULL,
            value       DOUBLE NOT NULL,
            value_text  VARCHAR,
            unit        VARCHAR,
            found_in    VARCHAR NOT NULL,   -- table | list | sentence | code
            snippet     VARCHAR,
            line        INTEGER
        )
        """
    )
    # One row per fact the body states (ptmscope.cards.body.Fact): base_model | dataset | hyperparameter |
    # hardware | environment | limitation | paper | code, where it was declared and the evidence.
    con.execute(
        """
        CREATE TABLE card_evidence (
            snapshot_id INTEGER NOT NULL,
            repo_id     VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,
            name        VARCHAR NOT NULL,
            value       VARCHAR,
            declared_in VARCHAR,            -- text | list | table | command | link
            role        VARCHAR,            -- papers and code: own | cited | library
            snippet     VARCHAR,
            line        INTEGER
        )
        """
    )
    con.execute("ALTER TABLE model_links ADD COLUMN role VARCHAR")  # own | cited | library; NULL from tags


@migrations()
def m0007_file_scans(con: duckdb.DuckDBPyConnection) -> None:
    """``ptmscope scan --snapshot``: per-file verdicts read over HTTP ranges, and what each run looked at.

    ``file_scans`` is keyed by content, not by snapshot: (``repo_id``, ``path``, ``oid``), the oid
    being the LFS sha256 or else the git blob id. A verdict is a fact about those bytes whichever
    snapshot lists them, so a later run (or another snapshot) skips a blob already scanned.
    ``file_scan_repos`` says, per snapshot and repo, which files (path and oid) the run covered.
    """
    con.execute(
        """
        CREATE TABLE file_scans (
            repo_id      VARCHAR NOT NULL,
            path         VARCHAR NOT NULL,
            oid          VARCHAR,            -- LFS sha256, else git blob id; NULL when the listing gave neither
            revision     VARCHAR,            -- the commit read (the first one this blob was scanned at)
            size         BIGINT,
            format       VARCHAR,            -- the detected format (pytorch-zip, pickle, safetensors, gguf...)
            verdict      VARCHAR NOT NULL,   -- clean | suspicious | dangerous | unparseable | error | skipped
            rules        VARCHAR[],          -- rule ids of the findings above info, most severe first
            findings     JSON,               -- [{severity, rule, message, member, offset, evidence}], bounded
            reason       VARCHAR,            -- why error | skipped | unparseable (a budget, a failed read)
            hub_status   VARCHAR,            -- the Hub's own verdict (unsafe | safe), NULL when unknown
            bytes_read   BIGINT,             -- bytes fetched over HTTP ranges
            requests     INTEGER,            -- HTTP requests made for this file
            seconds      DOUBLE,
            scanned_at   TIMESTAMPTZ,
            tool_version VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE file_scan_repos (
            snapshot_id INTEGER NOT NULL,
            repo_id     VARCHAR NOT NULL,
            revision    VARCHAR,
            status      VARCHAR NOT NULL,    -- ok | failed
            reason      VARCHAR,             -- why the repo failed (listing refused, every read failed...)
            paths       VARCHAR[],           -- the files looked at (weights and anything not text-like)
            oids        VARCHAR[],           -- their oids, in the same order (NULL when unknown)
            scanned     INTEGER,             -- files scanned in this run
            reused      INTEGER,             -- files whose verdict an earlier run had stored
            bytes_read  BIGINT,
            bytes_total BIGINT,              -- the sizes of the files scanned in this run
            requests    INTEGER,
            seconds     DOUBLE,
            scanned_at  TIMESTAMPTZ
        )
        """
    )


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Bring a connection's schema up to date; return the migrations that ran."""
    return migrations.apply(con)
