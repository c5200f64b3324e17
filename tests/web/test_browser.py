"""``ptmscope serve`` in a real headless Chromium: search and facets, a report card, a study bar, hostile pages.

Screenshots go to ``$PTMSCOPE_TEST_ARTIFACTS`` when it is set (CI keeps them), else to the test's temporary
folder. Needs Debian's ``chromium`` and the ``playwright`` package, as tests/reports/test_browser.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, quote, urlsplit

import uvicorn

from ptmscope.web.app import create_app
from ptmscope.web.query import ModelQuery
from tests.reports.test_browser import ARGS, CHROMIUM, _artifacts, needs_chromium

from .conftest import FEB, HOSTILE, HOSTILE_IDS

pytestmark = needs_chromium


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a free loopback port, in a thread; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def browser_page(seen: dict) -> Iterator:
    from playwright.sync_api import sync_playwright  # only these tests need it

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(15_000)
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            yield page
        finally:
            browser.close()


def _seen() -> dict:
    return {"requests": [], "console": [], "dialogs": [], "errors": []}


def test_search_facets_model_page_and_study_bars_in_chromium(feb_db, feb_explorer, tmp_path):
    out, seen = _artifacts(tmp_path), _seen()
    app = create_app(feb_db, FEB, explorer=feb_explorer)
    with serving(app) as base, browser_page(seen) as page:
        # search, then click a facet value: the count shown is the count the facet promised (and the SQL's)
        page.goto(f"{base}/models")
        page.fill("input[name=q]", "bert")
        page.click("form.search button[type=submit]")
        page.wait_for_url("**/models?q=bert**")
        facet = page.locator('a.facet-value[data-facet="task"][data-value="fill-mask"]')
        promised = int(facet.locator(".n").inner_text().replace(",", ""))
        facet.click()
        page.wait_for_url("**task=fill-mask**")
        assert int(page.inner_text("#total").replace(",", "")) == promised
        assert feb_explorer.index.page(_query(page.url)).total == promised
        page.screenshot(path=str(out / "serve-models.png"), full_page=False)
        # a model page: the audit's scores and a finding's evidence
        page.click("table.list a.model >> nth=0")
        page.wait_for_selector("#scores")
        text = page.inner_text("body")
        assert "Scores" in text and "/ 10" in text and "Findings" in text and "Fix: " in text
        evidence = page.locator("tr.finding.false td.evidence").first.inner_text()
        assert len(evidence) > 10
        page.screenshot(path=str(out / "serve-model.png"), full_page=False)
        # the study: a Fig. 7 bar leads to the models behind it
        page.goto(f"{base}/study")
        row = page.locator("#fig-fig7 tr").filter(has=page.locator('a.bar-link[data-label="token-classification"]'))
        claimed = row.locator("td.value").inner_text()
        row.locator("a.bar-link").click()
        page.wait_for_url("**claims=yes**")
        assert page.inner_text("#total") == claimed.split(" / ")[0]
        page.goto(f"{base}/study")
        page.screenshot(path=str(out / "serve-study.png"), full_page=True)
    assert seen["dialogs"] == [] and seen["errors"] == [], seen
    assert [c for c in seen["console"] if c.startswith("error")] == []
    assert {urlsplit(u).netloc for u in seen["requests"]} == {urlsplit(base).netloc}
    assert (out / "serve-models.png").stat().st_size > 20_000


def _query(url: str) -> ModelQuery:
    return ModelQuery.from_params(parse_qsl(urlsplit(url).query))


def test_hostile_pages_run_nothing_and_fetch_nothing_in_chromium(hostile_db, tmp_path):
    out, seen = _artifacts(tmp_path), _seen()
    with serving(create_app(hostile_db, HOSTILE)) as base, browser_page(seen) as page:
        urls = ["/models", "/models?dataset=%3Cscript%3Ealert(1)%3C/script%3E", "/study", "/select?task=x",
                *(f"/models/{quote(repo_id, safe='/')}" for repo_id in HOSTILE_IDS)]  # fmt: skip
        for i, url in enumerate(urls):
            page.goto(base + url)
            page.wait_for_load_state("load")
            page.wait_for_timeout(100)  # an onload or a timer would have fired
            page.screenshot(path=str(out / f"serve-hostile-{i}.png"), full_page=True)
        for link in page.locator("article.card a").all():  # the card's links: none runs a script
            assert not (link.get_attribute("href") or "").lower().startswith(("javascript:", "data:"))
        text = page.inner_text("article.card")
        assert "[click me](javascript:alert(3))" in text and "[image: remote]" in text
    assert seen["dialogs"] == [], seen["dialogs"]
    assert seen["errors"] == [] and [c for c in seen["console"] if c.startswith("error")] == [], seen
    assert {urlsplit(u).netloc for u in seen["requests"]} == {urlsplit(base).netloc}, seen["requests"]
