"""Every check, table-driven over facts rows: one case per outcome it can give.

BASE is a model that does everything right (every check is true); each case changes
the facts that matter and names the outcome the check must give.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from ptmscope.audits import engine
from ptmscope.checks import CHECKS, Outcome
from ptmscope.checks import facts as facts_module
from ptmscope.checks.registry import Rule, check
from ptmscope.store import Store

SECTIONS = ["citation", "environment", "evaluation", "get_started", "hardware", "intended_use", "limitations",
            "training"]  # fmt: skip
BASE: dict = {
    "repo_id": "org/model", "namespace": "org", "name": "model", "sha": "a" * 40, "pipeline_tag": "text-classification",
    "library_name": "transformers", "model_type": "bert", "downloads": 100, "likes": 5,
    "last_modified": dt.datetime(2022, 1, 1, tzinfo=dt.UTC), "age_days": 30, "gated": "no", "num_files": 9,
    "files_known": True, "has_readme": True, "parameters": 110_000_000, "has_auto_map": False, "quantization": None,
    "card_data_known": True, "has_config": True, "has_safetensors": True, "has_pickle": False, "pickle_files": [],
    "has_onnx": True, "has_gguf": False, "has_tflite": False, "has_coreml": False, "has_tf": False, "has_flax": False,
    "has_training_logs": True, "has_training_config": True, "has_environment_file": True, "has_model_code": False,
    "has_quantized_files": False, "tags": ["pytorch"], "custom_code_tag": False, "framework_tags": ["pytorch", "tf"],
    "card_status": "ok", "card_text_known": True, "card_present": True, "card_known": True, "card_length": 5000,
    "card_placeholders": 0, "mentions_hyperparameters": True, "mentions_hardware": True, "has_results_table": True,
    "has_usage_code": True, "mentions_finetuning": True, "mentions_latency": True, "filled_sections": SECTIONS,
    "present_sections": SECTIONS, "core_filled": 7, "licenses": ["apache-2.0"], "spdx_licenses": ["Apache-2.0"],
    "license_kinds": ["permissive"], "datasets": ["glue"], "paper_links": ["arxiv:1810.04805"],
    "github_links": ["org/code"], "claims": 2, "claim_example": "accuracy = 0.9 on glue", "claims_hf_valid": True,
    "base_models": ["base/model"], "base_relations": ["finetune"], "bases_in_scope": 1, "bases_missing": [],
    "license_conflict_any": False, "license_compatible_any": True, "license_conflict": None, "ancestors": 1,
    "upstream_issue": None, "derived_models": 3, "quantized_variants": 1, "downloads_pct": 0.9, "likes_pct": 0.8,
    "org_verified": True, "org_listed": True, "orgs_known": True, "hub_scan_known": True, "hub_flagged_files": None,
    "confused_with": None, "commits": 5, "signed_commits": 2, "signature_example": "ssh", "file_scan_verdict": "clean",
    "file_scan_evidence": None, "popularity_known": True, "lineage_known": True, "rechecks_consistent": 1,
    "rechecks_discrepant": 0, "recheck_worst_gap": None, "recheck_same_revision": True,
    "recheck_evidence": "consistent: accuracy on glue [test] measured 0.9100 (0.8900-0.9300), claimed 0.91",
    "cited_papers": [], "hyperparameters_stated": 5,
    "hyperparameter_evidence": 'learning_rate = 2e-05 (line 40: "- learning_rate: 2e-05")',
    "hardware_evidence": 'V100 (line 50: "trained on a V100")', "environment_evidence": "transformers = 4.16.2",
    "limitation_evidence": "Limitations: biased towards news", "paper_evidence": None, "code_evidence": None,
    "base_model_evidence": None, "dataset_evidence": None, "text_results": 3, "index_results": 2,
    "text_result_example": 'f1 = 91.3 on conll2003 (test) (table, line 81: "f1 | 95.1 | 91.3")',
}  # fmt: skip

NO_CARD = {"card_status": "missing", "card_text_known": False, "card_present": False, "card_known": True,
           "card_length": None, "mentions_hyperparameters": None, "mentions_hardware": None, "has_usage_code": None,
           "mentions_finetuning": None, "mentions_latency": None, "filled_sections": [], "present_sections": [],
           "core_filled": 0, "claims": 0, "has_results_table": None, "licenses": [], "datasets": [],
           "paper_links": [], "github_links": [], "base_models": [], "card_data_known": False,
           "hyperparameters_stated": 0,
           "hardware_evidence": None, "environment_evidence": None, "limitation_evidence": None, "text_results": 0,
           "text_result_example": None, "hyperparameter_evidence": None, "index_results": 0}  # fmt: skip
UNKNOWN_CARD = {**NO_CARD, "card_status": None, "card_present": None, "card_known": False}
NO_FILES = {"files_known": False, "num_files": None, "has_config": False, "has_safetensors": False,
            "has_onnx": False, "has_training_logs": False, "has_training_config": False,
            "has_environment_file": False}  # fmt: skip
NO_WEIGHTS = {"has_safetensors": False, "has_onnx": False, "has_pickle": False}

CASES: list[tuple[str, dict, str]] = [
    # provenance
    ("links_paper", {"paper_links": []}, "false"),
    ("links_paper", {"paper_links": [], "cited_papers": ["arxiv:1810.04805"]}, "false"),  # cited is not its own
    ("links_paper", UNKNOWN_CARD, "not_available"),
    ("declares_training_datasets", {"datasets": []}, "false"),
    ("declares_training_datasets", UNKNOWN_CARD, "not_available"),
    ("declares_base_model", {"base_models": []}, "false"),
    ("declares_base_model", UNKNOWN_CARD, "not_available"),
    ("base_model_resolvable", {"bases_missing": ["base/model"]}, "not_available"),
    ("base_model_resolvable", {"base_models": []}, "not_applicable"),
    ("has_architecture_config", {"has_config": False, "model_type": None}, "false"),
    ("has_architecture_config", {**NO_FILES, "model_type": None}, "not_available"),
    ("reports_performance", {"claims": 0, "index_results": 0, "text_results": 0}, "false"),
    ("reports_performance", {"claims": 0}, "true"),  # results in the text count
    ("reports_performance", UNKNOWN_CARD, "not_available"),
    ("claims_hold_when_rechecked", {"rechecks_discrepant": 1, "recheck_worst_gap": 0.14}, "false"),
    ("claims_hold_when_rechecked", {"rechecks_consistent": 0}, "not_available"),
    ("ships_training_logs", {"has_training_logs": False}, "false"),
    ("ships_training_logs", NO_FILES, "not_available"),
    # reproducibility
    ("documents_hyperparameters", {"hyperparameters_stated": 0}, "false"),
    ("documents_hyperparameters", NO_CARD, "false"),
    ("documents_hyperparameters", UNKNOWN_CARD, "not_available"),
    ("provides_training_code", {"has_training_config": False, "github_links": []}, "false"),
    ("provides_training_code", {**UNKNOWN_CARD, "has_training_config": False}, "not_available"),
    ("documents_environment", {"has_environment_file": False, "environment_evidence": None}, "false"),
    ("documents_environment", {**NO_FILES, "environment_evidence": None}, "not_available"),
    ("states_hardware", {"hardware_evidence": None}, "false"),
    ("states_hardware", UNKNOWN_CARD, "not_available"),
    ("states_limitations", {"limitation_evidence": None}, "false"),
    ("states_limitations", NO_CARD, "false"),
    ("states_limitations", UNKNOWN_CARD, "not_available"),
    ("provides_usage_example", {"has_usage_code": False, "filled_sections": []}, "false"),
    ("provides_usage_example", UNKNOWN_CARD, "not_available"),
    ("fills_card_sections", {"core_filled": 3}, "false"),
    ("fills_card_sections", UNKNOWN_CARD, "not_available"),
    # documentation
    ("has_model_card", NO_CARD, "false"),
    ("has_model_card", UNKNOWN_CARD, "not_available"),
    ("card_has_metadata", {"card_status": "yaml_error", "card_data_known": False}, "false"),
    ("card_has_metadata", UNKNOWN_CARD, "not_available"),
    ("card_has_substance", {"card_length": 200}, "false"),
    ("card_has_substance", NO_CARD, "false"),
    ("card_has_substance", UNKNOWN_CARD, "not_available"),
    ("card_has_sections", {"present_sections": ["training"]}, "false"),
    ("card_has_sections", UNKNOWN_CARD, "not_available"),
    # portability
    ("declares_license", {"licenses": []}, "false"),
    ("declares_license", UNKNOWN_CARD, "not_available"),
    ("license_is_spdx", {"licenses": ["llama2"], "spdx_licenses": [], "license_kinds": ["use-restricted"]}, "false"),
    ("license_is_spdx", {"licenses": []}, "not_applicable"),
    ("license_is_permissive", {"license_kinds": ["non-commercial"]}, "false"),
    ("license_is_permissive", {"license_kinds": ["other"]}, "not_available"),
    ("license_is_permissive", {"licenses": []}, "not_applicable"),
    ("license_compatible_with_base", {"license_conflict_any": True, "license_conflict": "x"}, "false"),
    ("license_compatible_with_base", {"license_compatible_any": False}, "not_available"),
    ("license_compatible_with_base", {"base_models": []}, "not_applicable"),
    ("has_safetensors_weights", {"has_safetensors": False, "has_pickle": True}, "false"),
    ("has_safetensors_weights", NO_WEIGHTS, "not_applicable"),
    ("has_safetensors_weights", NO_FILES, "not_available"),
    ("offers_portable_format", {"has_onnx": False}, "false"),
    ("offers_portable_format", NO_WEIGHTS, "not_applicable"),
    ("offers_portable_format", NO_FILES, "not_available"),
    ("offers_quantized_variant", {"quantized_variants": 0}, "false"),
    ("offers_quantized_variant", {**NO_FILES, "quantized_variants": 0}, "not_available"),
    ("supports_several_frameworks", {"framework_tags": [], "has_onnx": False}, "false"),
    ("supports_several_frameworks", NO_FILES, "not_available"),
    ("states_parameter_count", {"parameters": None}, "not_available"),
    ("documents_finetuning", {"mentions_finetuning": False}, "false"),
    ("documents_finetuning", UNKNOWN_CARD, "not_available"),
    ("documents_latency_or_cost", {"mentions_latency": False}, "false"),
    ("documents_latency_or_cost", UNKNOWN_CARD, "not_available"),
    # popularity, maintenance
    ("is_downloaded_within_task", {"downloads_pct": 0.2}, "false"),
    ("is_downloaded_within_task", {"downloads_pct": None}, "not_available"),
    ("is_liked_within_task", {"likes": 0, "likes_pct": 0.9}, "false"),
    ("is_liked_within_task", {"likes_pct": None}, "not_available"),
    ("has_derived_models", {"derived_models": 0}, "false"),
    ("has_derived_models", {"derived_models": 0, "lineage_known": False}, "not_available"),
    ("recently_updated", {"age_days": 800}, "false"),
    ("recently_updated", {"age_days": None}, "not_available"),
    ("has_commit_history", {"commits": 1}, "false"),
    ("has_commit_history", {"commits": None}, "not_available"),
    # security
    ("owner_is_verified_org", {"org_verified": False}, "false"),
    ("owner_is_verified_org", {"org_verified": None, "org_listed": False, "orgs_known": False}, "not_available"),
    ("owner_is_verified_org", {"org_verified": None, "org_listed": False}, "not_applicable"),
    ("owner_is_verified_org", {"namespace": None}, "not_applicable"),
    ("has_signed_commits", {"signed_commits": 0}, "false"),
    ("has_signed_commits", {"commits": None}, "not_available"),
    ("makes_parseable_claims", {"claims": 0}, "false"),
    ("makes_parseable_claims", UNKNOWN_CARD, "not_available"),
    ("upstream_is_clean", {"upstream_issue": "base/model has files the Hub flagged"}, "false"),
    ("upstream_is_clean", {"bases_in_scope": 0}, "not_available"),
    ("upstream_is_clean", {"base_models": []}, "not_applicable"),
    ("requires_no_remote_code", {"has_auto_map": True}, "false"),
    ("requires_no_remote_code", {"custom_code_tag": True}, "false"),
    ("requires_no_remote_code", {**NO_FILES, "has_auto_map": None}, "not_available"),
    ("name_is_unambiguous", {"confused_with": "facebook/bart-large (omission)"}, "false"),
    ("name_is_unambiguous", {"popularity_known": False}, "not_available"),
    ("passes_hub_scan", {"hub_flagged_files": ["pytorch_model.bin"]}, "false"),
    ("passes_hub_scan", {"hub_scan_known": False}, "not_available"),
    ("avoids_pickle_only_weights", {**NO_WEIGHTS, "has_pickle": True, "pickle_files": ["w.bin"]}, "false"),
    ("avoids_pickle_only_weights", NO_WEIGHTS, "not_applicable"),
    ("avoids_pickle_only_weights", NO_FILES, "not_available"),
    ("passes_file_scan", {"file_scan_verdict": "dangerous"}, "false"),
    ("passes_file_scan", {"file_scan_verdict": "error"}, "error"),
    ("passes_file_scan", {"file_scan_verdict": None}, "not_available"),
]


@pytest.fixture(scope="module")
def con():
    store = Store(":memory:")
    snap = store.create_snapshot("empty", source="import")
    facts_module.snapshot_scope(store.con, snap.snapshot_id)
    facts_module.build_facts(store.con)  # an empty facts table with the real column types
    yield store.con
    store.close()


def outcomes(con, rows: list[dict]) -> dict[str, dict[str, str]]:
    con.execute("DELETE FROM facts")
    table = pa.Table.from_pylist(rows)
    con.register("_rows", table)
    try:
        con.execute("INSERT INTO facts BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")
    engine.evaluate(con)
    out: dict[str, dict[str, str]] = {}
    for repo_id, check_id, outcome in con.execute("SELECT repo_id, check_id, outcome FROM check_findings").fetchall():
        out.setdefault(repo_id, {})[check_id] = outcome
    return out


def test_base_model_passes_every_check(con):
    result = outcomes(con, [BASE])["org/model"]
    assert {k: v for k, v in result.items() if v != "true"} == {}


def test_every_check_is_in_the_table_with_a_false_or_inconclusive_case():
    covered = {c for c, _, _ in CASES}
    assert covered == set(CHECKS)
    for check_id in CHECKS:
        outcomes_seen = {o for c, _, o in CASES if c == check_id}
        assert outcomes_seen - {"true"}, f"{check_id} has no case other than true"


def test_cases(con):
    rows = [{**BASE, **overrides, "repo_id": f"case/{i}"} for i, (_, overrides, _) in enumerate(CASES)]
    result = outcomes(con, rows)
    wrong = [
        (check_id, overrides, expected, result[f"case/{i}"][check_id])
        for i, (check_id, overrides, expected) in enumerate(CASES)
        if result[f"case/{i}"][check_id] != expected
    ]
    assert wrong == []


def test_grades_stay_in_unit_range_and_follow_outcomes(con):
    outcomes(con, [BASE, {**BASE, "repo_id": "x/low", "downloads_pct": 0.1, "core_filled": 2, "age_days": 600}])
    rows = con.execute("SELECT check_id, outcome, grade FROM check_findings WHERE repo_id = 'x/low'").fetchall()
    grades = {c: (o, g) for c, o, g in rows}
    assert grades["is_downloaded_within_task"] == ("false", pytest.approx(0.1))
    assert grades["fills_card_sections"] == ("false", pytest.approx(2 / 7))
    assert 0 < grades["recently_updated"][1] < 1
    assert all(g is None for _, o, g in rows if o not in ("true", "false"))
    assert all(0.0 <= g <= 1.0 for _, o, g in rows if g is not None)


def test_a_check_that_fails_at_run_time_gives_error_not_a_crash(con):
    from ptmscope.checks.registry import CHECKS as registry

    @check("always_breaks_at_runtime", attribute="security", needs={"metadata"})
    def always_breaks_at_runtime() -> Rule:
        """Does a broken cast crash the audit?"""
        return Rule(outcome="CASE WHEN CAST(repo_id AS INTEGER) > 0 THEN 'true' ELSE 'false' END")

    try:
        result = outcomes(con, [BASE])["org/model"]
        assert result["always_breaks_at_runtime"] == "error"
        assert result["has_model_card"] == "true"
    finally:
        registry.pop("always_breaks_at_runtime")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"check_id": "Bad-Id", "attribute": "security", "needs": {"metadata"}}, "snake_case"),
        ({"check_id": "has_model_card", "attribute": "security", "needs": {"metadata"}}, "already registered"),
        ({"check_id": "new_check_one", "attribute": "speed", "needs": {"metadata"}}, "unknown attribute"),
        ({"check_id": "new_check_two", "attribute": "security", "needs": {"vibes"}}, "needs must be"),
        ({"check_id": "new_check_three", "attribute": "security", "needs": {"metadata"}, "stride": ("X",)}, "STRIDE"),
    ],
)
def test_registration_refuses_bad_entries(kwargs, message):
    with pytest.raises(ValueError, match=message):

        @check(kwargs.pop("check_id"), **kwargs)
        def fn() -> Rule:
            """Is this a question?"""
            return Rule(outcome="'true'")


def test_registration_refuses_unknown_facts_and_non_questions():
    with pytest.raises(ValueError, match="unknown facts"):

        @check("reads_a_typo", attribute="security", needs={"metadata"})
        def reads_a_typo() -> Rule:
            """Does it read a misspelt fact?"""
            return Rule(outcome="CASE WHEN has_safetensor THEN 'true' ELSE 'false' END")

    with pytest.raises(ValueError, match="question"):

        @check("not_a_question", attribute="security", needs={"metadata"})
        def not_a_question() -> Rule:
            """This is a statement."""
            return Rule(outcome="'true'")

    assert "reads_a_typo" not in CHECKS and "not_a_question" not in CHECKS


def test_outcome_vocabulary():
    assert Outcome.TRUE.conclusive and Outcome.FALSE.conclusive
    assert not Outcome.NOT_AVAILABLE.conclusive and not Outcome.ERROR.conclusive
