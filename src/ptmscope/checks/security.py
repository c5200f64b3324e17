"""Security checks, each tagged with the STRIDE threat a false outcome exposes (the paper's Table IV)."""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("owner_is_verified_org", attribute="security", needs={"metadata"}, stride=("S",))
def owner_is_verified_org() -> Rule:
    """Is the model owned by an organization the registry has verified?"""
    return Rule(
        outcome="""CASE WHEN namespace IS NULL THEN 'not_applicable'
                       WHEN org_verified IS NOT NULL THEN CASE WHEN org_verified THEN 'true' ELSE 'false' END
                       WHEN org_listed OR NOT coalesce(orgs_known, false) THEN 'not_available'
                       ELSE 'not_applicable' END""",
        evidence="""CASE WHEN namespace IS NULL THEN 'a legacy un-namespaced model'
                        WHEN org_verified THEN namespace || ' is a verified organization'
                        WHEN org_verified = false THEN namespace || ' is an unverified organization'
                        WHEN coalesce(orgs_known, false) AND NOT org_listed
                        THEN namespace || ' is not a known organization (a user account?)' END""",
    )


@check("has_signed_commits", attribute="security", needs={"history"}, stride=("S", "T", "R"))
def has_signed_commits() -> Rule:
    """Are the repository's commits signed (GPG, SSH or x509)?"""
    return Rule(
        outcome="""CASE WHEN commits IS NULL OR commits = 0 THEN 'not_available' WHEN signed_commits > 0 THEN 'true'
                       ELSE 'false' END""",
        evidence="""CASE WHEN commits > 0 THEN signed_commits || ' of ' || commits || ' commits signed'
                        || coalesce(' (' || signature_example || ')', '') END""",
        grade="CASE WHEN commits > 0 THEN signed_commits / commits ELSE NULL END",
    )


@check("makes_parseable_claims", attribute="security", needs={"card"}, stride=("R",))
def makes_parseable_claims() -> Rule:
    """Are performance claims machine-parseable (a model-index), so they can be checked and held to?"""
    return Rule(
        outcome="""CASE WHEN claims > 0 THEN 'true' WHEN NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN claims > 0 THEN claims || ' claim(s), e.g. ' || claim_example
                        || CASE WHEN claims_hf_valid = false THEN ' (huggingface_hub rejects the model-index)'
                                ELSE '' END
                   END""",
    )


@check("upstream_is_clean", attribute="security", needs={"metadata"}, stride=("T",), tags=("lineage",))
def upstream_is_clean() -> Rule:
    """Is every ancestor in the snapshot free of flagged files and licence conflicts?"""
    return Rule(
        outcome="""CASE WHEN len(base_models) = 0 THEN 'not_applicable'
                       WHEN upstream_issue IS NOT NULL THEN 'false'
                       WHEN ancestors > 0 AND bases_in_scope > 0 THEN 'true' ELSE 'not_available' END""",
        evidence="""CASE WHEN upstream_issue IS NOT NULL THEN upstream_issue
                        WHEN ancestors > 0 THEN ancestors || ' ancestor(s) checked' END""",
    )


@check("requires_no_remote_code", attribute="security", needs={"metadata", "files"}, stride=("E",))
def requires_no_remote_code() -> Rule:
    """Does the model load without trust_remote_code (no custom modeling code shipped in the repository)?"""
    return Rule(
        outcome="""CASE WHEN custom_code_tag OR has_auto_map OR has_model_code THEN 'false'
                       WHEN NOT files_known AND has_auto_map IS NULL THEN 'not_available' ELSE 'true' END""",
        evidence="""CASE WHEN has_auto_map THEN 'config.json maps Auto classes to code in the repository'
                        WHEN has_model_code THEN 'modeling/configuration Python files in the repository'
                        WHEN custom_code_tag THEN 'tagged custom_code' END""",
    )


@check("name_is_unambiguous", attribute="security", needs={"metadata"}, stride=("S",))
def name_is_unambiguous() -> Rule:
    """Is the name clear of typosquatting look-alikes of a popular model or organization of another owner?"""
    return Rule(
        outcome="""CASE WHEN confused_with IS NOT NULL THEN 'false' WHEN NOT popularity_known THEN 'not_available'
                       ELSE 'true' END""",
        evidence="CASE WHEN confused_with IS NOT NULL THEN 'one edit from ' || confused_with END",
    )


@check("passes_hub_scan", attribute="security", needs={"metadata"}, stride=("T", "E"))
def passes_hub_scan() -> Rule:
    """Did the registry's own file scanners find nothing in the repository?"""
    return Rule(
        outcome="""CASE WHEN NOT hub_scan_known THEN 'not_available'
                       WHEN len(coalesce(hub_flagged_files, [])) > 0 THEN 'false' ELSE 'true' END""",
        evidence="""CASE WHEN len(coalesce(hub_flagged_files, [])) > 0
                        THEN 'flagged: ' || array_to_string(list_slice(hub_flagged_files, 1, 5), ', ') END""",
    )


@check("avoids_pickle_only_weights", attribute="security", needs={"files"}, stride=("E",))
def avoids_pickle_only_weights() -> Rule:
    """Can the weights be loaded without unpickling (not pickle-only)?"""
    return Rule(
        outcome="""CASE WHEN NOT files_known THEN 'not_available'
                       WHEN has_pickle AND NOT (has_safetensors OR has_onnx OR has_gguf OR has_tflite OR has_coreml
                                                OR has_flax OR has_tf) THEN 'false'
                       WHEN has_pickle OR has_safetensors OR has_onnx OR has_gguf OR has_tflite OR has_coreml
                            OR has_flax OR has_tf THEN 'true'
                       ELSE 'not_applicable' END""",
        evidence="""CASE WHEN has_pickle THEN 'pickle-based: ' || array_to_string(list_slice(pickle_files, 1, 3), ', ')
                   END""",
    )


@check("passes_file_scan", attribute="security", needs={"bytes"}, stride=("T", "E"))
def passes_file_scan() -> Rule:
    """Did ptmscope's static scanner find no dangerous or suspicious code in the model files?"""
    return Rule(
        outcome="""CASE WHEN file_scan_verdict IS NULL THEN 'not_available'
                       WHEN file_scan_verdict = 'clean' THEN 'true'
                       WHEN file_scan_verdict = 'error' THEN 'error' ELSE 'false' END""",
        evidence="file_scan_evidence",
    )
