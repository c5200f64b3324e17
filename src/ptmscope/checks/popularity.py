"""Popularity and maintenance checks: what other users and the maintainers signal."""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check


@check("is_downloaded_within_task", attribute="popularity", needs={"metadata"})
def is_downloaded_within_task() -> Rule:
    """Is the model downloaded more than most models of its task in the snapshot (at or above the median)?"""
    return Rule(
        outcome="""CASE WHEN downloads_pct IS NULL THEN 'not_available' WHEN downloads_pct >= 0.5 THEN 'true'
                       ELSE 'false' END""",
        evidence="""CASE WHEN downloads IS NOT NULL THEN downloads || ' downloads (percentile '
                        || round(100 * downloads_pct)::INTEGER || ' among ' || coalesce(pipeline_tag, 'untagged')
                        || ' models)' END""",
        grade="downloads_pct",
    )


@check("is_liked_within_task", attribute="popularity", needs={"metadata"})
def is_liked_within_task() -> Rule:
    """Is the model liked more than most models of its task in the snapshot?"""
    return Rule(
        outcome="""CASE WHEN likes_pct IS NULL THEN 'not_available' WHEN likes_pct >= 0.5 AND likes > 0 THEN 'true'
                       ELSE 'false' END""",
        evidence="""CASE WHEN likes IS NOT NULL THEN likes || ' likes (percentile ' || round(100 * likes_pct)::INTEGER
                        || ' among ' || coalesce(pipeline_tag, 'untagged') || ' models)' END""",
        grade="CASE WHEN likes > 0 THEN likes_pct ELSE 0.0 END",
    )


@check("has_derived_models", attribute="popularity", needs={"metadata"}, tags=("lineage",))
def has_derived_models() -> Rule:
    """Have other models in the snapshot been derived from this one?"""
    return Rule(
        outcome="CASE WHEN derived_models > 0 THEN 'true' WHEN NOT lineage_known THEN 'not_available' ELSE 'false' END",
        evidence="CASE WHEN derived_models > 0 THEN derived_models || ' derived model(s)' END",
        grade="least(1.0, log10(1 + derived_models) / 2)",
    )


@check("recently_updated", attribute="maintenance", needs={"metadata"})
def recently_updated() -> Rule:
    """Was the model updated within a year of the snapshot's newest model?"""
    return Rule(
        outcome="""CASE WHEN age_days IS NULL THEN 'not_available' WHEN age_days <= 365 THEN 'true'
                       ELSE 'false' END""",
        evidence="""CASE WHEN age_days IS NOT NULL THEN 'last modified ' || strftime(last_modified, '%Y-%m-%d')
                        || ' (' || age_days || ' days before the snapshot''s newest model)' END""",
        grade="CASE WHEN age_days IS NULL THEN NULL ELSE greatest(0.0, least(1.0, (730 - age_days) / 640.0)) END",
    )


@check("has_commit_history", attribute="maintenance", needs={"history"})
def has_commit_history() -> Rule:
    """Has the model been maintained over more than one commit?"""
    return Rule(
        outcome="CASE WHEN commits IS NULL THEN 'not_available' WHEN commits > 1 THEN 'true' ELSE 'false' END",
        evidence="CASE WHEN commits IS NOT NULL THEN commits || ' commit(s)' END",
    )
