"""Model cards in the browser: where their text comes from, and rendering it safely.

The text is the README bytes the snapshot kept (``repo_files``, written by ``crawl`` and ``import
--keep-cards``); a bundled snapshot keeps none, so its cards are read from the bundled dump the
snapshot was imported from (the same bytes). Texts up to ``MAX_IN_MEMORY`` in all are loaded once
when the server starts, which makes card text searchable; past that, a card is read from the
store when its page is shown and search covers ids only.

A card is a stranger's markdown and HTML. It is rendered with markdown-it-py and then sanitised
with nh3 (ammonia) to an allowlist of tags and attributes: no script, style, iframe, form, SVG,
image or media element survives, no event handler or ``style`` attribute, and a link keeps its
``href`` only when it is an absolute http(s) or mailto URL or an in-page anchor (``rel`` says
noopener noreferrer nofollow). Images are never loaded: a markdown image becomes the text
"[image: alt]", an HTML ``<img>`` disappears. Control and bidi-override characters are made
visible (``reports.safe.strip_controls``) before rendering, and the page's CSP forbids what
might slip through anyway.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nh3
import orjson
from markdown_it import MarkdownIt
from markupsafe import Markup

from ptmscope.reports.safe import strip_controls
from ptmscope.sample import BUNDLES, sample_paths
from ptmscope.store.store import Snapshot, Store
from ptmscope.web.locate import Spans

MAX_CARD_CHARS = 300_000
"""A card longer than this is cut (with a note) before rendering."""
MAX_IN_MEMORY = 256 * 1024**2
"""Card text loaded at start, in all; past it, card search covers ids only."""

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre",
    "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "tt", "u", "ul", "var",
}  # fmt: skip
_DROPPED_WITH_CONTENT = {
    "script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript", "textarea", "select",
    "title",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
_SAFE_HREF = re.compile(r"^(?:https?://[^\s]+|mailto:[^\s]+|#[\w\-.~%]*)$", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _keep_safe_links(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: an href stays only when absolute http(s), mailto, or an in-page anchor."""
    if attribute == "href":
        return value if _SAFE_HREF.match(value.strip()) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROPPED_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_keep_safe_links,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def _image_as_text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """markdown-it's image rule, replaced: the alt text in brackets, never an <img> (nothing is fetched)."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return f"[image: {alt}]" if alt else "[image]"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_text)
    return md


_MD = _markdown()


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(the YAML front matter, the body) of a card; None when it has none."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def render_card(text: str) -> tuple[str | None, Markup, bool]:
    """(front matter as text, the body as sanitised HTML, whether the card was cut) for a card's text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = len(text) > MAX_CARD_CHARS
    text = strip_controls(text[:MAX_CARD_CHARS])
    front, body = split_front_matter(text)
    html = _CLEANER.clean(_MD.render(body))
    return front, Markup(html), cut  # noqa: S704 - sanitised by nh3 to an allowlist just above


def _bundled_cards(paths: list[Path]) -> Iterator[tuple[str, str]]:
    """(repo id, card text) from bundled dumps: card collections and model dumps with a ``card`` field."""
    for path in paths:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
            for line in handle:
                if not line.startswith(b"{"):
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                repo_id = record.get("modelId") or record.get("id") or record.get("model_id")
                text = next((record[k] for k in ("readme", "card", "content") if isinstance(record.get(k), str)), None)
                if isinstance(repo_id, str) and text and not text.startswith("Error: the path 'README.md'"):
                    yield repo_id, text


def load_card_texts(store: Store, snapshot: Snapshot) -> tuple[dict[str, str], bool]:
    """The snapshot's card texts to hold in memory, and whether that is all of them.

    False when the snapshot keeps more card bytes than ``MAX_IN_MEMORY``: those are read per page.
    """
    sid = snapshot.snapshot_id
    total = store.query(
        "SELECT count(*), coalesce(sum(octet_length(content)), 0) FROM repo_files"
        " WHERE snapshot_id = ? AND path = 'README.md' AND content IS NOT NULL",
        [sid],
    )[0]
    if int(total[0]) and int(total[1]) > MAX_IN_MEMORY:
        return {}, False
    texts: dict[str, str] = {}
    if int(total[0]):
        rows = store.query(
            "SELECT repo_id, content FROM repo_files WHERE snapshot_id = ? AND path = 'README.md'"
            " AND content IS NOT NULL",
            [sid],
        )
        texts = {str(r): bytes(c).decode("utf-8", errors="replace") for r, c in rows}
    elif snapshot.source == "bundled" and snapshot.name in BUNDLES:
        models = {r[0] for r in store.query("SELECT repo_id FROM models WHERE snapshot_id = ?", [sid])}
        texts = {r: t for r, t in _bundled_cards(sample_paths(snapshot.name)) if r in models}
    return texts, True


def stored_card(store: Store, snapshot: Snapshot, repo_id: str, spans: Spans) -> str | None:
    """One card's text from the store's README bytes, or None."""
    if spans.empty("repo_files"):
        return None
    rows = store.con.execute(
        "SELECT content, count(*) OVER () FROM repo_files WHERE snapshot_id = $sid AND repo_id = $repo"
        " AND path = 'README.md' AND rowid BETWEEN $lo_repo_files AND $hi_repo_files LIMIT 1",
        {"sid": snapshot.snapshot_id, "repo": repo_id, **spans.params("repo_files")},
    ).fetchall()
    spans.found("repo_files", int(rows[0][1]) if rows else 0)
    if not rows or rows[0][0] is None:
        return None
    return bytes(rows[0][0]).decode("utf-8", errors="replace")
