"""Reproducibility checks (Table I): could someone train or run this model again?"""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("documents_hyperparameters", attribute="reproducibility", needs={"card"}, version=2)
def documents_hyperparameters() -> Rule:
    """Does the card document the training hyper-parameters, with their values?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN hyperparameters_stated > 0 THEN 'true' ELSE 'false' END""",
        evidence="""CASE WHEN hyperparameters_stated > 0 THEN hyperparameters_stated || ' stated: '
                        || hyperparameter_evidence END""",
        grade="CASE WHEN hyperparameters_stated >= 3 THEN 1.0 WHEN hyperparameters_stated > 0 THEN 0.6 ELSE 0.0 END",
    )


@check("provides_training_code", attribute="reproducibility", needs={"files", "card"}, version=2)
def provides_training_code() -> Rule:
    """Is the training script or configuration in the repository, or the model's own code linked from the card?"""
    return Rule(
        outcome="""CASE WHEN has_training_config OR len(github_links) > 0 THEN 'true'
                       WHEN NOT files_known OR NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN has_training_config THEN 'training configuration files in the repository'
                        WHEN len(github_links) > 0
                        THEN coalesce(code_evidence, 'github.com/' || github_links[1]) END""",
    )


@check("documents_environment", attribute="reproducibility", needs={"files", "card"}, version=2)
def documents_environment() -> Rule:
    """Is the software environment given (framework versions, requirements, a Dockerfile or image)?"""
    return Rule(
        outcome="""CASE WHEN has_environment_file OR environment_evidence IS NOT NULL THEN 'true'
                       WHEN NOT files_known OR NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN environment_evidence IS NOT NULL THEN environment_evidence
                        WHEN has_environment_file THEN 'an environment file in the repository' END""",
    )


@check("states_hardware", attribute="reproducibility", needs={"card"}, version=2)
def states_hardware() -> Rule:
    """Does the card state the hardware used for training?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN hardware_evidence IS NOT NULL THEN 'true' ELSE 'false' END""",
        evidence="hardware_evidence",
    )


@check("provides_usage_example", attribute="reproducibility", needs={"card"})
def provides_usage_example() -> Rule:
    """Does the card show how to use the model (code or a how-to-get-started section)?"""
    return Rule(
        outcome="""CASE WHEN has_usage_code OR list_contains(filled_sections, 'get_started') THEN 'true'
                       WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       ELSE 'false' END""",
    )


@check("fills_card_sections", attribute="reproducibility", needs={"card"})
def fills_card_sections() -> Rule:
    """Does the card fill at least four of the seven core sections (template placeholders count as empty)?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN core_filled >= 4 THEN 'true' ELSE 'false' END""",
        evidence="""CASE WHEN card_text_known THEN core_filled || ' of 7 core sections filled'
                        || CASE WHEN card_placeholders > 0 THEN ', ' || card_placeholders || ' placeholder(s) left'
                                ELSE '' END END""",
        grade="least(1.0, core_filled / 7.0)",
    )
