"""The HTML reports in a real headless Chromium: they render, load nothing, and run nothing hostile.

Screenshots go to ``$PTMSCOPE_TEST_ARTIFACTS`` when it is set (CI keeps them), else to the
test's temporary folder. Needs Debian's ``chromium`` (``apt-get install chromium``) and the
``playwright`` package from the test extra; .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.importer import import_paths
from ptmscope.reports.study_html import write_compare_html, write_study_html
from ptmscope.studies.run import compare, run_study
from tests.conftest import FIXTURES

from .test_safety import HOSTILE_DATASET, HOSTILE_ID, hostile_snapshot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
# As root in a closed network: no sandbox, and no background requests that would be refused.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PTMSCOPE_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(index: Path, screenshot: Path) -> dict:
    """Load a report page; return what it requested, said, alerted, and its text and figure count."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"requests": [], "console": [], "dialogs": [], "errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("console", lambda m: seen["console"].append(m.text))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(index.as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(screenshot), full_page=True)
            seen["text"] = page.inner_text("body")
            seen["figures"] = page.locator("figure svg").count()
            seen["tables"] = page.locator("table").count()
        finally:
            browser.close()
    seen["requests"] = [u for u in seen["requests"] if u != index.as_uri()]
    return seen


@needs_chromium
def test_hostile_study_and_comparison_run_nothing_and_fetch_nothing(store, tmp_path):
    hostile = hostile_snapshot(store, tmp_path)
    small = import_paths(
        store, [FIXTURES / "dumps" / "small_listing.jsonl", FIXTURES / "dumps" / "small_cards.jsonl"], "small"
    ).snapshot
    a, b = run_study(store, hostile), run_study(store, small)
    out = _artifacts(tmp_path)
    for name, index in (
        ("hostile-study", write_study_html(a.data, tmp_path / "study")),
        ("hostile-compare", write_compare_html(compare(a, b), a.data, b.data, tmp_path / "compare")),
    ):
        seen = open_page(index, out / f"{name}.png")
        assert seen["requests"] == [] and seen["dialogs"] == [] and seen["errors"] == [], name
        shown = (HOSTILE_DATASET, HOSTILE_ID) if name == "hostile-study" else ("<b>task</b>",)  # as text, not run
        assert all(s in seen["text"] for s in shown), name
        assert seen["figures"] >= 4 and seen["tables"] >= 2, name
        assert (out / f"{name}.png").stat().st_size > 10_000


@needs_chromium
@pytest.mark.slow
def test_the_two_bundled_eras_side_by_side(tmp_path, feb2022_pristine):
    db, report = tmp_path / "s.duckdb", tmp_path / "eras"
    shutil.copyfile(feb2022_pristine, db)  # hub-2022-02 imported once for the run; the 2025 sample here
    result = CliRunner().invoke(
        cli,
        ["study", "--db", str(db), "--snapshot", "hub-2025-04-sample", "--compare", "hub-2022-02",
         "--html", str(report), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["headline"]["safetensors_any"]["change"] == pytest.approx(67.07, abs=0.01)
    seen = open_page(report / "index.html", _artifacts(tmp_path) / "eras-compare.png")
    assert seen["requests"] == [] and seen["errors"] == []
    assert "hub-2025-04-sample" in seen["text"] and "hub-2022-02" in seen["text"]
    assert "not a random sample" in seen["text"]
    assert "ship safetensors weights" in seen["text"] and "+67.1 pp" in seen["text"]
    # The comparison's five figures, then each study's five.
    assert seen["figures"] == 15
