"""Reproducibility checks (Table I): could someone train or run this model again?"""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("documents_hyperparameters", attribute="reproducibility", needs={"card"})
def documents_hyperparameters() -> Rule:
    """Does the card document the training hyper-parameters?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN mentions_hyperparameters THEN 'true' ELSE 'false' END""",
    )


@check("provides_training_code", attribute="reproducibility", needs={"files", "card"})
def provides_training_code() -> Rule:
    """Is the training script or configuration in the repository, or linked from the card?"""
    return Rule(
        outcome="""CASE WHEN has_training_config OR len(github_links) > 0 THEN 'true'
                       WHEN NOT files_known OR NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN has_training_config THEN 'training configuration files in the repository'
                        WHEN len(github_links) > 0 THEN 'github.com/' || github_links[1] END""",
    )


@check("documents_environment", attribute="reproducibility", needs={"files", "card"})
def documents_environment() -> Rule:
    """Is the software environment given (framework versions, requirements, a Dockerfile or image)?"""
    return Rule(
        outcome="""CASE WHEN has_environment_file OR list_contains(filled_sections, 'environment') THEN 'true'
                       WHEN NOT files_known OR NOT card_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN has_environment_file THEN 'an environment file in the repository'
                        WHEN list_contains(filled_sections, 'environment') THEN 'a framework versions section' END""",
    )


@check("states_hardware", attribute="reproducibility", needs={"card"})
def states_hardware() -> Rule:
    """Does the card state the hardware used for training?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN mentions_hardware THEN 'true' ELSE 'false' END""",
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
