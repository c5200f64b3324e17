"""Fig. 7 and the Fig. 6 evaluation-dataset panel, under either claim definition.

``strict`` (the default) counts a model when any of its model-index metrics is a valid
claim (``ptmscope.cards.model_index``: a dataset, a named metric, a numeric value),
from any source: the README's front matter, the API's cardData, the API's top-level
model-index. ``paper`` counts a model when the ICSE'23 artifact's method reads at least
one metric from the cardData the Hub gave it (the README's front matter, read the
Hub's way, where a snapshot has no cardData). Both fold a task into "other" the
paper's way: when under 0.1% of *its own* models make claims.

Every model counted by one definition and not the other is explained by one rule
(``differences``), so the two figures can be reconciled model by model.
"""

from __future__ import annotations

from typing import Any

from ptmscope.cards.frontmatter import RULE_TEXT
from ptmscope.cards.model_index import CLAIM_STATUSES, PAPER_ERRORS
from ptmscope.studies.db import StudyDB
from ptmscope.studies.measurements import MODELS, Data, measurement, share

DEFINITIONS: dict[str, str] = {
    "strict": "a model-index metric with a dataset, a named metric and a numeric value, from any source; "
    "a bad value costs only itself",
    "paper": "the ICSE'23 artifact's method: cardData['model-index'][0]['results'] read in one try; "
    "any unreadable part drops all of the model's claims",
}
DEFAULT_DEFINITION = "strict"

FOLD_BELOW = 0.001
"""A task whose share of models with claims is under 0.1% folds into "other" (the paper's rule)."""

NO_TASK = "none"
"""The key of models without a pipeline tag (the paper's "None")."""

# Why a model counts under one definition and not the other, beyond PAPER_ERRORS.
DIFFERENCE_TEXT: dict[str, str] = {
    **{k: f"{v}: the paper's code drops all of the model's claims" for k, v in PAPER_ERRORS.items()},
    "legacy_key": PAPER_ERRORS["legacy_key"],
    "source": "the claims are not where the paper's code looks (it reads the API's cardData only; "
    "a README model-index beside cardData without one, or the API's top-level model-index field)",
    "later_entries": "the claims are in model-index entries after the first, which the paper's code never reads",
    "not_numeric": "float() reads the value but it is not a finite number (NaN, inf, true, '1_000')",
    "no_dataset": "the dataset mapping has no type or name",
    "no_metric": "the metric's type and name are empty",
    "placeholder": "the value is a placeholder float() happens to read",
}

# Models with the claims each definition reads; {paper_source} picks cardData when the model has it.
_MODELS = """
    SELECT repo_id, pipeline_tag, has_readme, card_data IS NOT NULL AS has_card_data, downloads
    FROM models WHERE snapshot_id = $sid
"""
_PAPER_READS = f"""
    SELECT DISTINCT i.repo_id, i.source, i.paper_claims, i.paper_error
    FROM model_indexes i JOIN ({_MODELS}) m USING (repo_id)
    WHERE i.snapshot_id = $sid AND i.source = CASE WHEN m.has_card_data THEN 'card_data' ELSE 'card' END
"""
_STRICT = "SELECT DISTINCT repo_id FROM claims WHERE snapshot_id = $sid AND status = 'valid'"
_PAPER = f"SELECT repo_id FROM ({_PAPER_READS}) WHERE paper_claims > 0"


def _fold(rows: list[tuple[Any, int, int, int]], models: int) -> tuple[dict[str, Data], list[str]]:
    """Per task {with_claims, total, claims_unknown}, folded the paper's way; and the folded tasks."""
    by_task: dict[str, Data] = {}
    other = {"with_claims": 0, "total": 0, "claims_unknown": 0}
    folded: list[str] = []
    for task, total, with_claims, unknown in rows:
        name = NO_TASK if task is None else str(task)
        if int(with_claims) < FOLD_BELOW * int(total):
            other["with_claims"] += int(with_claims)
            other["total"] += int(total)
            other["claims_unknown"] += int(unknown)
            folded.append(name)
        else:
            by_task[name] = {"with_claims": int(with_claims), "total": int(total), "claims_unknown": int(unknown)}
    ordered = dict(sorted(by_task.items(), key=lambda kv: (-kv[1]["with_claims"] / kv[1]["total"], kv[0])))
    if other["total"]:
        ordered["other"] = other
    return ordered, sorted(folded)


@measurement("claims", "Machine-parseable performance claims per task", "Fig. 7")
def claims(db: StudyDB, top: int) -> Data:
    """Per pipeline task: models with machine-parseable claims under the study's definition.

    ``claims_unknown``: models with a README whose content the snapshot does not hold (their
    claims are unknown; they count as without claims). ``text_only``: models without such
    claims whose card reports results in its text (tables, the Trainer's list, sentences),
    which a reader sees and a tool does not. ``folded``: tasks in "other".
    ``other_definition``: models with claims under the other definition, for comparison.
    """
    definition = db.definition
    flag = "p.repo_id" if definition == "paper" else "s.repo_id"
    rows = db.rows(
        f"""
        WITH m AS ({_MODELS}), s AS ({_STRICT}), p AS ({_PAPER}),
             k AS (SELECT DISTINCT repo_id FROM cards WHERE snapshot_id = $sid AND status <> 'missing'),
             t AS (SELECT DISTINCT repo_id FROM card_results WHERE snapshot_id = $sid)
        SELECT m.pipeline_tag, count(*), count({flag}),
               count(*) FILTER (WHERE m.has_readme AND k.repo_id IS NULL AND NOT m.has_card_data
                                AND {flag} IS NULL),
               count(s.repo_id), count(p.repo_id),
               count(t.repo_id) FILTER (WHERE {flag} IS NULL)
        FROM m LEFT JOIN s USING (repo_id) LEFT JOIN p USING (repo_id) LEFT JOIN k USING (repo_id)
             LEFT JOIN t USING (repo_id)
        GROUP BY m.pipeline_tag ORDER BY m.pipeline_tag NULLS FIRST
        """
    )
    models = sum(int(r[1]) for r in rows)
    by_task, folded = _fold([(r[0], r[1], r[2], r[3]) for r in rows], models)
    text_only = {NO_TASK if r[0] is None else str(r[0]): int(r[6]) for r in rows}
    for task in by_task:
        by_task[task]["text_only"] = (
            sum(text_only.get(t, 0) for t in folded) if task == "other" else text_only.get(task, 0)
        )
    with_claims = sum(int(r[2]) for r in rows)
    other_definition = "strict" if definition == "paper" else "paper"
    other_count = sum(int(r[4] if other_definition == "strict" else r[5]) for r in rows)
    text_only_total = sum(text_only.values())
    return {
        "definition": definition,
        "definition_text": DEFINITIONS[definition],
        "by_task": by_task,
        "folded": folded,
        "models_with_claims": with_claims,
        "share_with_claims": share(with_claims, models),
        "results_only_in_text": text_only_total,
        "share_results_only_in_text": share(text_only_total, models),
        "other_definition": {"definition": other_definition, "models_with_claims": other_count},
        "claim_rows": int(
            db.scalar(f"SELECT count(*) FROM claims WHERE snapshot_id = $sid AND repo_id IN ({MODELS})") or 0
        ),
        "invalid_model_index": int(
            db.scalar(
                f"SELECT count(*) FROM cards WHERE snapshot_id = $sid AND model_index = 'invalid'"
                f" AND repo_id IN ({MODELS})"
            )
            or 0
        ),
    }


@measurement("claim_definitions", "How the strict and the paper's claim definitions differ, model by model")
def claim_definitions(db: StudyDB, top: int) -> Data:
    """Models counted under one definition and not the other, by the one rule that explains each.

    ``strict_only`` rules are the paper method's failures (PAPER_ERRORS) and where it does not
    look; ``paper_only`` rules are values or identities float() and the paper accept that the
    strict definition does not. ``excluded``: claim rows the strict definition leaves out, by
    status, with the models that have them. ``examples``: the most-downloaded models of each
    rule, to check by hand.
    """
    rows = db.rows(
        f"""
        WITH m AS ({_MODELS}), r AS ({_PAPER_READS}),
             s AS (SELECT repo_id, source, max(entry) AS last_entry FROM claims
                   WHERE snapshot_id = $sid AND status = 'valid' GROUP BY repo_id, source),
             sv AS (SELECT DISTINCT repo_id FROM s),
             pc AS (SELECT c.repo_id, mode(c.status) AS status FROM claims c JOIN r USING (repo_id, source)
                    WHERE c.snapshot_id = $sid AND c.paper GROUP BY c.repo_id),
             d AS (
                SELECT m.repo_id, m.downloads,
                       CASE WHEN sv.repo_id IS NOT NULL AND coalesce(r.paper_claims, 0) = 0 THEN 'strict'
                            WHEN sv.repo_id IS NULL AND r.paper_claims > 0 THEN 'paper' END AS counted_by,
                       CASE WHEN r.repo_id IS NULL THEN 'source'
                            WHEN r.paper_error IS NOT NULL THEN r.paper_error
                            WHEN r.paper_claims > 0 THEN pc.status
                            WHEN EXISTS (SELECT 1 FROM s WHERE s.repo_id = r.repo_id AND s.source = r.source
                                         AND s.last_entry > 0) THEN 'later_entries'
                            ELSE 'source' END AS rule
                FROM m LEFT JOIN sv USING (repo_id) LEFT JOIN r USING (repo_id) LEFT JOIN pc USING (repo_id))
        SELECT counted_by, rule, count(*), list(repo_id ORDER BY downloads DESC NULLS LAST, repo_id)[1:3]
        FROM d WHERE counted_by IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC, counted_by, rule
        """
    )
    excluded = db.rows(
        f"""
        SELECT status, count(*), count(DISTINCT repo_id) FROM claims
        WHERE snapshot_id = $sid AND status <> 'valid' AND repo_id IN ({MODELS})
        GROUP BY status ORDER BY count(*) DESC, status
        """
    )
    without_value = db.scalar(
        f"SELECT sum(metrics_without_value) FROM model_indexes WHERE snapshot_id = $sid AND repo_id IN ({MODELS})"
    )
    differences = [
        {
            "counted_by": counted_by,
            "rule": rule,
            "models": int(n),
            "text": DIFFERENCE_TEXT.get(rule, rule),
            "examples": list(examples),
        }
        for counted_by, rule, n, examples in rows
    ]
    return {
        "strict_only": sum(d["models"] for d in differences if d["counted_by"] == "strict"),
        "paper_only": sum(d["models"] for d in differences if d["counted_by"] == "paper"),
        "differences": differences,
        "excluded": {
            status: {"claims": int(n), "models": int(models), "text": CLAIM_STATUSES.get(status, status)}
            for status, n, models in excluded
        },
        "metrics_without_value": int(without_value or 0),
    }


@measurement("eval_datasets", "Performance claims per evaluation dataset", "Fig. 6 (datasets, as published)")
def eval_datasets(db: StudyDB, top: int) -> Data:
    """Claims per evaluation dataset, the way the paper's Fig. 6 dataset panel counted them.

    The published panel (the artifact's ``main()``) counts metric claims per ``dataset.type``,
    not models per training dataset, beside ``none``: the models without claims. The top
    ``top`` keys (``none`` included, ties at the last place kept, as in the artifact) are
    listed; the rest sum into ``other``. Under ``strict`` a claim is a distinct valid metric
    (the same claim from README and cardData counts once) and a dataset without a type is
    keyed by its name.
    """
    if db.definition == "paper":
        pairs = f"""
            SELECT c.dataset_type AS dataset, count(*) AS claims
            FROM claims c JOIN ({_PAPER_READS}) r USING (repo_id, source)
            WHERE c.snapshot_id = $sid AND c.paper AND c.dataset_type IS NOT NULL GROUP BY 1
        """
        claimless = f"SELECT count(*) FROM ({_MODELS}) WHERE repo_id NOT IN ({_PAPER})"
    else:
        pairs = f"""
            SELECT dataset, count(*) AS claims FROM (
                SELECT DISTINCT repo_id, entry, coalesce(dataset_type, dataset_name) AS dataset, dataset_name,
                       dataset_config, dataset_split, metric_type, metric_name, value_text
                FROM claims WHERE snapshot_id = $sid AND status = 'valid' AND repo_id IN ({MODELS}))
            GROUP BY 1
        """
        claimless = f"SELECT count(*) FROM ({_MODELS}) WHERE repo_id NOT IN ({_STRICT})"
    counts = [(str(d), int(n)) for d, n in db.rows(f"{pairs} ORDER BY 2 DESC, 1")]
    none = int(db.scalar(claimless) or 0)
    hist = sorted([*counts, ("none", none)], key=lambda kv: (-kv[1], kv[0]))
    kept = hist
    if len(hist) > top:
        cutoff = hist[top - 1][1]
        kept = [kv for kv in hist if kv[1] >= cutoff]
    other = sum(n for _, n in hist) - sum(n for _, n in kept)
    return {
        "definition": db.definition,
        "counts": dict(kept) | ({"other": other} if other else {}),
        "claims": sum(n for _, n in counts),
        "datasets": len(counts),
        "none": none,
    }


@measurement("front_matter", "Where card metadata was found, and the rule that read it")
def front_matter(db: StudyDB, top: int) -> Data:
    """Cards by where their YAML block is, and which of them the snapshot's rule read.

    ``after_text``: the block follows a title or other text (the Hub read these until January
    2023); ``loose_delimiter``: the opening ``---`` has trailing blanks (likewise). ``rescued``:
    cards read only because the snapshot's rule is lenient; ``ignored``: blocks the rule did
    not read (the Hub of the snapshot's era ignored them too).
    """
    rule = db.front_matter
    rows = db.rows(
        f"""
        SELECT front_matter, count(*), count(*) FILTER (WHERE status <> 'no_metadata')
        FROM cards WHERE snapshot_id = $sid AND front_matter IS NOT NULL AND repo_id IN ({MODELS})
        GROUP BY 1 ORDER BY 1
        """
    )
    found = {str(where): int(n) for where, n, _ in rows}
    read = {str(where): int(r) for where, _, r in rows}
    lenient = {w: read[w] for w in read if w != "start"}
    return {
        "rule": rule,
        "rule_text": RULE_TEXT.get(rule or "", "unknown: imported before ptmscope recorded it"),
        "found": found,
        "rescued": {w: n for w, n in lenient.items() if n},
        "ignored": {w: found[w] - read[w] for w in found if found[w] > read[w]},
    }
