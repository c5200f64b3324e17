"""The knowledge checks rely on: licence chain rules, typosquatting variants, docs in step with the registry."""

from __future__ import annotations

import duckdb
import pytest

from ptmscope.checks import CHECKS
from ptmscope.checks import licenses as lic
from ptmscope.checks.docs import check_docs
from ptmscope.checks.names import confusables, variants
from ptmscope.reports.checks_page import render_markdown
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    lic.install(c)
    return c


def verdict(con, base: str, derived: str) -> str:
    return con.execute(
        """
        SELECT license_verdict(b.kind, b.family, d.kind, d.family)
        FROM license_catalog b, license_catalog d WHERE b.id = ? AND d.id = ?
        """,
        [base, derived],
    ).fetchall()[0][0]


@pytest.mark.parametrize(
    ("base", "derived", "expected"),
    [
        ("apache-2.0", "mit", "compatible"),
        ("mit", "cc-by-nc-4.0", "compatible"),
        ("cc-by-nc-4.0", "cc-by-nc-sa-4.0", "compatible"),
        ("cc-by-nc-4.0", "apache-2.0", "conflict"),
        ("cc-by-nd-4.0", "cc-by-nd-4.0", "conflict"),
        ("gpl-3.0", "agpl-3.0", "compatible"),
        ("gpl-3.0", "mit", "conflict"),
        ("cc-by-sa-4.0", "cc-by-sa-4.0", "compatible"),
        ("cc-by-sa-4.0", "cc-by-4.0", "conflict"),
        ("llama2", "llama2", "compatible"),
        ("llama2", "mit", "conflict"),
        ("creativeml-openrail-m", "openrail", "compatible"),
        ("gemma", "apache-2.0", "conflict"),
        ("other", "mit", "unknown"),
        ("apache-2.0", "other", "unknown"),
        ("lgpl-3.0", "mit", "compatible"),
    ],
)
def test_license_chain_rule(con, base, derived, expected):
    assert verdict(con, base, derived) == expected


def test_conflict_reasons_name_both_licences(con):
    reason = con.execute("SELECT license_conflict_reason('llama2', 'use-restricted', 'mit')").fetchall()[0][0]
    assert "mit" in reason and "llama2" in reason


def test_catalogue_kinds_are_known_and_spdx_ids_unique():
    kinds = {"permissive", "public-domain", "weak-copyleft", "copyleft", "share-alike", "non-commercial",
             "no-derivatives", "use-restricted", "other"}  # fmt: skip
    catalogue = lic.catalogue()
    assert {v["kind"] for v in catalogue.values()} <= kinds
    spdx = [v["spdx"] for v in catalogue.values() if v["spdx"]]
    assert len(spdx) - len(set(spdx)) <= 1  # lgpl-3.0 and lgpl-3.0-only are the same SPDX licence
    assert all(v["family"] for v in catalogue.values() if v["kind"] in ("copyleft", "share-alike"))


@pytest.mark.parametrize(
    ("popular", "look_alike", "transform"),
    [
        ("facebook", "facebok", "omission"),
        ("facebook", "faceboook", "repetition"),
        ("facebook", "faecbook", "swap"),
        ("google", "goog1e", "homoglyph"),
        ("microsoft", "rnicrosoft", "homoglyph"),
        ("bert-base-uncased", "bert_base-uncased", "delimiter"),
        ("openai", "openak", "keyboard"),
    ],
)
def test_typosquatting_transforms(popular, look_alike, transform):
    found = dict(variants(popular))
    assert found.get(look_alike) == transform


def test_short_names_and_the_name_itself_are_not_variants():
    assert list(variants("gpt2")) == []
    assert "facebook" not in dict(variants("facebook"))
    rows = confusables(["facebook/bart-large"], ["facebook"])
    assert ("facebok", "facebook", "org", "omission") in rows
    assert any(r[0] == "facebook/bart-larg" and r[2] == "model" for r in rows)


def test_registry_and_docs_agree_both_ways():
    docs = check_docs()
    assert set(docs) == set(CHECKS), "checks.yaml and the registry list different checks"
    for check_id, entry in docs.items():
        assert entry.get("motivation") and entry.get("remediation") and entry.get("looks_for"), check_id


def test_generated_checks_page_is_current():
    page = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert page == render_markdown(), "docs/checks.md is stale: run python -m ptmscope.reports.checks_page"
