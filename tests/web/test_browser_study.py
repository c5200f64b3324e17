"""The study page comparing two snapshots, in a real headless Chromium: pick the other snapshot, then follow a score
bar to the models behind it. Screenshots go where tests/web/test_browser.py puts its own; needs what it needs."""

from __future__ import annotations

from urllib.parse import urlsplit

from ptmscope.web.app import create_app
from tests.reports.test_browser import _artifacts, needs_chromium

from .conftest import ERA, FEB
from .test_browser import _query, _seen, browser_page, serving

pytestmark = needs_chromium


def _number(text: str) -> int:
    return int(text.split("·")[0].strip().replace(",", ""))


def test_compare_two_snapshots_and_follow_a_score_bar_in_chromium(eras_db, eras_explorer, tmp_path):
    out, seen = _artifacts(tmp_path), _seen()
    with serving(create_app(eras_db, FEB, explorer=eras_explorer)) as base, browser_page(seen) as page:
        page.goto(f"{base}/study")
        page.select_option("form.picker select[name=compare]", ERA)  # app.js submits the picker's form
        page.wait_for_url(f"**/study?compare={ERA}")
        assert page.locator("figure.compared").count() >= 9
        formats = page.locator("#fig-formats tr").filter(has=page.locator('a.bar-link[data-label="safetensors"]'))
        assert formats.locator("td.value .other").inner_text() == "1,328 · 67.1%"  # the sample's, beside Feb 2022's 0
        assert _number(formats.locator("td.value .served").inner_text()) == 0
        page.screenshot(path=str(out / "serve-study-compare.png"), full_page=True)
        # an audit score bar (the served snapshot's own figure) leads to as many models as it shows
        row = page.locator("#fig-scores-documentation tr").filter(has=page.locator('a.bar-link[data-label="8-10"]'))
        promised = _number(row.locator("td.value").inner_text())
        assert promised > 1_000
        row.locator("a.bar-link").click()
        page.wait_for_url("**/models?score_documentation=8-10")
        assert _number(page.inner_text("#total")) == promised
        assert eras_explorer.index.page(_query(page.url)).total == promised
        assert page.locator("details#score-facets[open]").count() == 1  # the chosen range shown, not folded away
        chosen = page.locator('a.facet-value.selected[data-facet="score_documentation"][data-value="8-10"] .n')
        assert _number(chosen.inner_text()) == promised
        page.screenshot(path=str(out / "serve-models-score.png"), full_page=True)
    assert seen["dialogs"] == [] and seen["errors"] == [], seen
    assert [c for c in seen["console"] if c.startswith("error")] == []
    assert {urlsplit(u).netloc for u in seen["requests"]} == {urlsplit(base).netloc}
    assert (out / "serve-study-compare.png").stat().st_size > 50_000
