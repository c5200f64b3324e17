"""The select form's list requirements and exclusions, and the model page's lineage drawing, in headless Chromium.

Screenshots go where tests/web/test_browser.py puts its own (``$PTMSCOPE_TEST_ARTIFACTS``, else the test's
temporary folder). Needs Debian's ``chromium`` and the ``playwright`` package.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

from ptmscope.web.app import create_app
from ptmscope.web.select_page import form_values
from tests.reports.test_browser import _artifacts, needs_chromium

from .conftest import FEB
from .test_browser import _seen, browser_page, serving

pytestmark = needs_chromium

CHAIN = "AKulk/wav2vec2-base-timit-epochs10"  # a base with a base of its own, and a derivative
CONFLICT = "jonatasgrosman/wav2vec2-large-fr-voxpopuli-french"  # apache-2.0 over a cc-by-nc-4.0 base


def test_select_with_a_framework_and_a_language_lists_shortlist_and_exclusions(feb_db, feb_explorer, tmp_path):
    out, seen = _artifacts(tmp_path), _seen()
    with serving(create_app(feb_db, FEB, explorer=feb_explorer)) as base, browser_page(seen) as page:
        page.goto(f"{base}/select")
        page.fill("input[name=task]", "token-classification")
        page.select_option("select[name=license]", "permissive")
        page.locator("input[name=framework]").first.fill("tf")
        languages = page.locator("input[name=language]").count()
        page.locator("input[name=language]").last.fill("en")
        assert page.locator("input[name=language]").count() == languages + 1  # app.js offers one more field
        assert page.locator("datalist#language-values option[value=en]").count() == 1
        page.click("form.select-form button[type=submit]")
        page.wait_for_url("**framework=tf**")
        doc = feb_explorer.select(form_values(parse_qsl(urlsplit(page.url).query)))["selection"]
        assert doc["requirements"]["frameworks"] == ["tf"] and doc["requirements"]["languages"] == ["en"]
        assert page.inner_text("#eligible") == f"{doc['eligible']:,}" and doc["eligible"] > 0
        assert page.locator("table.shortlist tbody tr").count() == len(doc["shortlist"])
        assert page.locator("input[name=framework]").first.input_value() == "tf"  # the form filled again
        group = page.locator('details.excluded-group[data-rule="framework"]')
        assert group.locator("summary .n").inner_text() == f"{doc['excluded_by_rule']['framework']:,}"
        page.screenshot(path=str(out / "serve-select.png"))
        group.locator("summary").click()
        assert group.locator("tbody tr").first.locator("td").nth(1).inner_text().startswith("no weights for tf")
        page.locator("#excluded").evaluate("e => e.scrollIntoView()")
        page.screenshot(path=str(out / "serve-select-excluded.png"))
    assert seen["dialogs"] == [] and seen["errors"] == [], seen
    assert [c for c in seen["console"] if c.startswith("error")] == []
    assert {urlsplit(u).netloc for u in seen["requests"]} == {urlsplit(base).netloc}


def test_lineage_graph_renders_and_its_nodes_are_links(feb_db, feb_explorer, tmp_path):
    out, seen = _artifacts(tmp_path), _seen()
    with serving(create_app(feb_db, FEB, explorer=feb_explorer)) as base, browser_page(seen) as page:
        page.goto(f"{base}/models/{quote(CHAIN, safe='/')}")
        graph = page.locator("svg.lineage-graph")
        graph.wait_for()
        box = graph.bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 200
        assert page.locator("svg.lineage-graph .node.current").get_attribute("data-repo") == CHAIN
        links = {a.get_attribute("data-repo"): a.get_attribute("href") for a in graph.locator("a.node").all()}
        assert links == {
            "facebook/wav2vec2-lv-60-espeak-cv-ft": "/models/facebook/wav2vec2-lv-60-espeak-cv-ft",
            "AKulk/wav2vec2-base-timit-epochs5": "/models/AKulk/wav2vec2-base-timit-epochs5",
            "AKulk/wav2vec2-base-timit-epochs15": "/models/AKulk/wav2vec2-base-timit-epochs15",
        }
        assert graph.locator("path.edge").count() == 3
        page.locator("#lineage").screenshot(path=str(out / "serve-lineage.png"))
        graph.locator('a.node[data-repo="AKulk/wav2vec2-base-timit-epochs5"]').click()
        page.wait_for_url("**/models/AKulk/wav2vec2-base-timit-epochs5")
        assert page.locator("svg.lineage-graph .node.current").get_attribute("data-repo").endswith("epochs5")
        # a base whose licence conflicts: the edge and the model below it marked
        page.goto(f"{base}/models/{quote(CONFLICT, safe='/')}")
        assert page.locator("svg.lineage-graph path.edge.risk").count() == 1
        assert "inherits" in page.locator("svg.lineage-graph .node.current").get_attribute("class")
        page.locator("#lineage").screenshot(path=str(out / "serve-lineage-conflict.png"))
        # a huge family: gpt2's 2,707 derivatives, five drawn
        page.goto(f"{base}/models/gpt2")
        assert page.locator("svg.lineage-graph a.node").count() == 5
        assert "+2,702 more" in (page.locator("svg.lineage-graph .more text").first.text_content() or "")
        page.locator("#lineage").screenshot(path=str(out / "serve-lineage-gpt2.png"))
        page.goto(f"{base}/models/roberta-base")
        page.locator("#lineage").screenshot(path=str(out / "serve-lineage-roberta.png"))
    assert seen["dialogs"] == [] and seen["errors"] == [], seen
    assert [c for c in seen["console"] if c.startswith("error")] == []
    assert {urlsplit(u).netloc for u in seen["requests"]} == {urlsplit(base).netloc}
    assert (out / "serve-lineage.png").stat().st_size > 5_000
