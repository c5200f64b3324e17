"""Provenance checks (Table I): where the model comes from and what it was trained on."""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("links_paper", attribute="provenance", needs={"metadata", "card"}, version=2)
def links_paper() -> Rule:
    """Does the model link its own paper (an arXiv id or DOI the card presents as the model's)?"""
    return Rule(
        outcome="""CASE WHEN len(paper_links) > 0 THEN 'true' WHEN NOT card_known THEN 'not_available'
                       ELSE 'false' END""",
        evidence="""CASE WHEN len(paper_links) > 0
                        THEN coalesce(paper_evidence, array_to_string(list_slice(paper_links, 1, 3), ', '))
                        WHEN len(cited_papers) > 0
                        THEN 'only cited papers (of the base model, the method or related work): '
                             || array_to_string(list_slice(cited_papers, 1, 3), ', ') END""",
    )


@check("declares_training_datasets", attribute="provenance", needs={"metadata", "card"})
def declares_training_datasets() -> Rule:
    """Does the model declare the datasets it was trained on?"""
    return Rule(
        outcome="""CASE WHEN len(datasets) > 0 THEN 'true' WHEN NOT card_known THEN 'not_available'
                       ELSE 'false' END""",
        evidence="""CASE WHEN len(datasets) > 0 THEN array_to_string(list_slice(datasets, 1, 5), ', ')
                        || coalesce('; in the text: ' || dataset_evidence, '') END""",
    )


@check("declares_base_model", attribute="provenance", needs={"metadata", "card"})
def declares_base_model() -> Rule:
    """Does the model say which model it was derived from, and how (fine-tune, adapter, merge, quantization)?"""
    return Rule(
        outcome="""CASE WHEN len(base_models) > 0 THEN 'true' WHEN NOT card_known THEN 'not_available'
                       ELSE 'false' END""",
        evidence="""CASE WHEN len(base_models) > 0 THEN array_to_string(list_slice(base_models, 1, 3), ', ')
                        || ' (' || array_to_string(base_relations, ', ') || ')'
                        || coalesce('; in the text: ' || base_model_evidence, '') END""",
    )


@check("base_model_resolvable", attribute="provenance", needs={"metadata"}, tags=("lineage",))
def base_model_resolvable() -> Rule:
    """Is every declared base model in the snapshot, so its own record can be checked?"""
    return Rule(
        outcome="""CASE WHEN len(base_models) = 0 THEN 'not_applicable'
                       WHEN len(bases_missing) = 0 THEN 'true' ELSE 'not_available' END""",
        evidence="""CASE WHEN len(bases_missing) > 0 THEN 'not in this snapshot: '
                        || array_to_string(list_slice(bases_missing, 1, 3), ', ') END""",
    )


@check("has_architecture_config", attribute="provenance", needs={"metadata", "files"})
def has_architecture_config() -> Rule:
    """Does the repository describe the architecture (a config.json or a known model type)?"""
    return Rule(
        outcome="""CASE WHEN has_config OR model_type IS NOT NULL THEN 'true' WHEN NOT files_known THEN 'not_available'
                       ELSE 'false' END""",
        evidence="""CASE WHEN model_type IS NOT NULL THEN 'model_type ' || model_type
                        WHEN has_config THEN 'config.json' END""",
    )


@check("reports_performance", attribute="provenance", needs={"card"}, version=2)
def reports_performance() -> Rule:
    """Does the card report performance, as machine-parseable claims or at least in its text?"""
    return Rule(
        outcome="""CASE WHEN index_results > 0 OR text_results > 0 THEN 'true'
                       WHEN NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN claims > 0 THEN claims || ' claim(s) in the model-index, e.g. ' || claim_example
                        || CASE WHEN text_results > 0 THEN '; ' || text_results || ' result(s) in the text' ELSE '' END
                        WHEN index_results > 0 THEN index_results || ' result(s) in the model-index that are not '
                        || 'valid claims (no dataset, or no metric name)'
                        WHEN text_results > 0 THEN text_results
                        || ' result(s) in the card text (not machine-parseable), e.g. ' || text_result_example END""",
        grade="CASE WHEN claims > 0 THEN 1.0 WHEN index_results > 0 OR text_results > 0 THEN 0.6 ELSE 0.0 END",
    )


@check("ships_training_logs", attribute="provenance", needs={"files"})
def ships_training_logs() -> Rule:
    """Does the repository ship training logs or metrics (TensorBoard events, trainer_state.json, results files)?"""
    return Rule(
        outcome="CASE WHEN NOT files_known THEN 'not_available' WHEN has_training_logs THEN 'true' ELSE 'false' END",
    )


@check("claims_hold_when_rechecked", attribute="provenance", needs={"bytes"}, stride=("R",))
def claims_hold_when_rechecked() -> Rule:
    """Do the card's claims hold when the model is re-run on the data (ptmscope verify)?"""
    return Rule(
        outcome="""CASE WHEN rechecks_consistent + rechecks_discrepant = 0 THEN 'not_available'
                       WHEN rechecks_discrepant > 0 THEN 'false' ELSE 'true' END""",
        evidence="recheck_evidence",
    )
