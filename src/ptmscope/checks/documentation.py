"""Documentation checks: is there a model card, and is it more than a stub?"""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("has_model_card", attribute="documentation", needs={"metadata", "card"})
def has_model_card() -> Rule:
    """Does the repository have a model card (README.md)?"""
    return Rule(
        outcome="""CASE WHEN card_present THEN 'true' WHEN card_present = false THEN 'false'
                       ELSE 'not_available' END""",
        evidence="CASE WHEN card_status IS NOT NULL THEN 'card status: ' || card_status END",
    )


@check("card_has_metadata", attribute="documentation", needs={"card"})
def card_has_metadata() -> Rule:
    """Does the card carry valid YAML metadata (licence, datasets, tags) that tools can read?"""
    return Rule(
        outcome="""CASE WHEN card_status = 'ok' OR card_data_known THEN 'true'
                       WHEN card_status IS NOT NULL OR card_present = false THEN 'false'
                       ELSE 'not_available' END""",
        evidence="""CASE WHEN card_status IN ('yaml_error', 'not_a_mapping') THEN 'the front matter does not parse'
                        WHEN card_status = 'no_metadata' THEN 'no YAML front matter' END""",
    )


@check("card_has_substance", attribute="documentation", needs={"card"})
def card_has_substance() -> Rule:
    """Is the card more than a stub (at least 1,000 characters of text)?"""
    return Rule(
        outcome="""CASE WHEN card_length IS NULL
                       THEN CASE WHEN card_present = false THEN 'false' ELSE 'not_available' END
                       WHEN card_length >= 1000 THEN 'true' ELSE 'false' END""",
        evidence="CASE WHEN card_length IS NOT NULL THEN card_length || ' characters' END",
        grade="CASE WHEN card_length IS NULL THEN 0.0 ELSE least(1.0, card_length / 3000.0) END",
    )


@check("card_has_sections", attribute="documentation", needs={"card"})
def card_has_sections() -> Rule:
    """Is the card organised in sections (at least three of the canonical ones)?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN len(present_sections) >= 3 THEN 'true' ELSE 'false' END""",
        evidence="""CASE WHEN card_text_known THEN len(present_sections) || ' section(s): '
                        || array_to_string(list_slice(present_sections, 1, 8), ', ') END""",
    )


@check("states_limitations", attribute="documentation", needs={"card"})
def states_limitations() -> Rule:
    """Does the card state the model's limitations, biases or risks in its own words?"""
    return Rule(
        outcome="""CASE WHEN NOT card_text_known THEN CASE WHEN card_known THEN 'false' ELSE 'not_available' END
                       WHEN limitation_evidence IS NOT NULL THEN 'true' ELSE 'false' END""",
        evidence="limitation_evidence",
    )
