"""Hostile ids and cards: escaped or sanitised, never live markup (the browser test runs them too)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from ptmscope.web.cardtext import render_card

from .conftest import HOSTILE_CARD, HOSTILE_IDS, REFUSED_ID

# Our own elements: the stylesheet, script and icon, the search and select forms, score bars and badges.
_OURS = {
    "link": ({"rel": "stylesheet", "href": "/static/app.css"}, {"rel": "icon", "href": "/static/favicon.svg"}),
    "script": ({"src": "/static/app.js"},),
}
_ALLOWED_ELEMENTS = {
    "svg",
    "rect",
    "form",
    "input",
    "select",
    "option",
    "button",
    "meta",
    "link",
    "script",
    "linearGradient",
    "lineargradient",
    "stop",
    "g",
    "text",
    "title",
    "clippath",
    "path",
    "mask",
}
_NEVER_FROM_DATA = {"img", "iframe", "object", "embed", "style", "video", "audio", "source", "base", "frame"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))


def _live_problems(page: str) -> list[str]:
    """Markup that would run, load or leave: scripts, handlers, javascript:/data: URLs, remote resources, styles."""
    parser = _Elements()
    parser.feed(page)
    problems = []
    for tag, attrs in parser.elements:
        where = f"<{tag} {attrs}>"
        if any(name.startswith("on") for name in attrs):
            problems.append(f"event handler: {where}")
        if "style" in attrs or tag in _NEVER_FROM_DATA:
            problems.append(f"style or resource element: {where}")
        for name in ("href", "src", "action", "formaction", "xlink:href"):
            value = attrs.get(name, "").strip().lower()
            if value.startswith(("javascript:", "data:", "vbscript:")):
                problems.append(f"script URL: {where}")
            if name != "href" and value and not value.startswith("/"):
                problems.append(f"remote resource: {where}")
        if tag == "script" and attrs != {"src": "/static/app.js", "defer": ""}:
            problems.append(f"script: {where}")
        if tag == "link" and {k: attrs.get(k) for k in ("rel", "href")} not in _OURS["link"]:
            problems.append(f"link: {where}")
        if tag == "form" and attrs.get("action") not in ("/models", "/select", "/compare"):
            problems.append(f"form: {where}")
    if "\u202e" in page:
        problems.append("a raw right-to-left override")
    return problems


@pytest.mark.parametrize("repo_id", HOSTILE_IDS)
def test_hostile_model_pages_hold_nothing_live(hostile_client, repo_id):
    response = hostile_client.get("/models/" + quote(repo_id, safe="/"))
    assert response.status_code == 200, response.text[:500]
    page = response.text
    assert _live_problems(page) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the dataset and the card heading, shown as text
    assert "\\u202e" in page  # the override made visible
    assert "[image: remote]" in page and "fine link" in page and 'href="https://example.org/ok"' in page


def test_hostile_ids_on_the_models_page_and_in_facets(hostile_client):
    page = hostile_client.get("/models").text
    assert _live_problems(page) == []
    doc = hostile_client.get("/api/models").json()
    assert {r["repo_id"] for r in doc["results"]} == set(HOSTILE_IDS)  # the '<script>' id was refused at import
    assert REFUSED_ID not in page
    datasets = {v["value"] for v in doc["facets"]["dataset"]["values"]}
    assert "<script>alert(1)</script>" in datasets
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for repo_id in HOSTILE_IDS:
        assert f'href="/models/{quote(repo_id, safe="/")}"' in page


def test_hostile_search_study_and_select_hold_nothing_live(hostile_client):
    for url in ("/models?q=%3Cscript%3E&dataset=%3Cscript%3Ealert(1)%3C/script%3E", "/study",
                "/select?task=%3Cscript%3Ealert(1)%3C/script%3E", "/models/%3Cscript%3Ealert(1)%3C/script%3E",
                "/compare?m=evil/onload%3Dalert(1)"):  # fmt: skip
        response = hostile_client.get(url)
        assert response.status_code in (200, 404), url
        assert _live_problems(response.text) == [], url


def test_the_card_sanitiser_alone():
    front, html, cut = render_card(HOSTILE_CARD)
    assert front is not None and "model-index" in front and not cut
    for gone in ("<script", 'href="javascript:', 'href="data:', "onload", "onclick", "onerror", "<svg", "<img",
                 "<iframe", "<style", "style=", "<form", "<input", "<link", "<meta", "evil.example/x.png", "\u202e",
                 "alert(4)"):  # fmt: skip
        assert gone not in html, gone
    assert _live_problems(str(html)) == []
    assert '<a href="https://example.org/ok" rel="noopener noreferrer nofollow">fine link</a>' in html
    assert "[image: remote]" in html and "<h1>Evil card </h1>" in html  # the inline script went, content and all
    assert "[click me](javascript:alert(3))" in html  # markdown-it refuses the link: plain text, no href
