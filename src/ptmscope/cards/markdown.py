"""A model card's body as structure: headings, sections, tables, lists, code, links, sentences.

Parsed with markdown-it-py (CommonMark with the GFM table rule, raw HTML kept as HTML
blocks), whose tokens carry their source lines, so every fact drawn from the structure can
say where it was found. Only the block structure is parsed: markdown-it's inline pass
(emphasis, links inside paragraphs) costs twice as much again and card facts do not need
it, so a block's text is its source with the inline markup stripped by ``plain``, and links
are read from the source (markdown links, bare URLs, HTML ``href``s). HTML tables (common in
cards written for the Hub's renderer) are read from the HTML blocks with the standard
library's HTML parser. Nothing is rendered and
nothing is fetched; the text is bounded by the caller (``MAX_CARD_CHARS``) and tables and
cells are capped here, so a hostile card costs at most linear time in its size.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt

MAX_TABLES = 50
MAX_ROWS = 200
MAX_CELL_CHARS = 300
MAX_BLOCKS = 5_000


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str
    line: int
    """1-based line in the body."""


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    line: int
    headings: tuple[str, ...]
    """The headings it sits under, outermost first."""
    caption: str = ""
    """The paragraph just before the table in its own section (often says what it measures)."""
    before: str = ""
    """The last paragraph before the table, in any section (may name the dataset of a bare table)."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph, list item, code block or HTML block, with the headings it sits under."""

    kind: str
    """paragraph | item | code | html"""
    text: str
    line: int
    headings: tuple[str, ...]
    info: str = ""
    """A fenced code block's info string (``bash``, ``python``)."""
    source: str = ""
    """A paragraph's or item's markdown source, links and their targets included."""


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    href: str
    line: int
    headings: tuple[str, ...]


@dataclass
class Document:
    """The parts of a card body that facts are read from."""

    headings: list[Heading] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    cells: list[Block] = field(default_factory=list)
    """Table cells that hold links, with their source (papers and code linked from tables)."""


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table").disable(["inline", "text_join"])


def _clean_cell(text: str) -> str:
    return " ".join(text.replace("\\|", "|").split())[:MAX_CELL_CHARS]


class _HtmlTables(HTMLParser):
    """The tables (and their text) of an HTML fragment; everything else is ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._rows = []
        elif self._rows is not None and self._depth == 1:
            if tag == "tr":
                self._rows.append([])
            elif tag in ("td", "th") and self._rows:
                self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth = max(0, self._depth - 1)
            if self._depth == 0 and self._rows is not None:
                if len(self.tables) < MAX_TABLES:
                    self.tables.append([r for r in self._rows if r][:MAX_ROWS])
                self._rows = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(_clean_cell("".join(self._cell)))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and len(self._cell) < 64:
            self._cell.append(data)


_MD_LINK = re.compile(r"!?\[([^\]\n]{0,300})\]\(\s*<?([^)\s>]{1,500})>?(?:\s+\"[^\"]*\")?\s*\)")
_HREF = re.compile(r"""href\s*=\s*["']([^"'\s]{1,500})["']""", re.IGNORECASE)
_MARKUP = re.compile(r"<[^>\n]{1,200}>|(?<!\w)[*_]{1,3}|[*_]{1,3}(?!\w)|`+")


def plain(source: str) -> str:
    """A block's text without inline markup: link texts kept, emphasis, code ticks and tags dropped."""
    if "[" in source:
        source = _MD_LINK.sub(lambda m: m.group(1), source)
    if "&" in source:  # "&#10007;" is a cross, not the number 10007
        source = html.unescape(source)
    if "<" in source or "*" in source or "_" in source or "`" in source:
        return _MARKUP.sub("", source)
    return source


def parse(body: str) -> Document:
    """The document model of a markdown body (never raises on bad markdown)."""
    doc = Document()
    try:
        tokens = _parser().parse(body)
    except Exception:  # markdown-it is total on text; a failure here is a bug, not the card's
        return doc
    stack: list[Heading] = []
    path: tuple[str, ...] = ()
    table: dict | None = None
    row: list[str] | None = None
    in_item = 0
    last_paragraph = previous_paragraph = ""  # in this section; before it
    blocks = 0
    index = 0
    while index < len(tokens):
        token = tokens[index]
        line = token.map[0] + 1 if token.map else 0
        kind = token.type
        if kind == "heading_open":
            level = int(token.tag[1])
            text = " ".join(plain(tokens[index + 1].content).split())[:200]
            while stack and stack[-1].level >= level:
                stack.pop()
            heading = Heading(level, text, line)
            stack.append(heading)
            doc.headings.append(heading)
            path = tuple(h.text for h in stack)
            previous_paragraph, last_paragraph = last_paragraph or previous_paragraph, ""
            index += 3
            continue
        if kind == "table_open":
            table = {"header": [], "rows": [], "line": line}
        elif kind == "tr_open" and table is not None:
            row = []
        elif kind == "inline" and row is not None:
            row.append(_clean_cell(plain(token.content)))
            if "](" in token.content and len(doc.cells) < MAX_BLOCKS:
                doc.cells.append(Block("cell", plain(token.content), line, path, "", token.content[:2_000]))
        elif kind == "tr_close" and table is not None and row is not None:
            if not table["header"]:
                table["header"] = row
            elif len(table["rows"]) < MAX_ROWS:
                table["rows"].append(row)
            row = None
        elif kind == "table_close" and table is not None:
            if len(doc.tables) < MAX_TABLES:
                doc.tables.append(
                    Table(
                        table["header"],
                        table["rows"],
                        table["line"],
                        path,
                        last_paragraph,
                        last_paragraph or previous_paragraph,
                    )
                )
            table = None
        elif kind == "list_item_open":
            in_item += 1
        elif kind == "list_item_close":
            in_item -= 1
        elif kind == "inline" and table is None and blocks < MAX_BLOCKS:
            source = token.content
            if "](" in source:
                for match in _MD_LINK.finditer(source):
                    doc.links.append(Link(plain(match.group(1))[:200], match.group(2), line, path))
            text = plain(source)
            doc.blocks.append(Block("item" if in_item else "paragraph", text, line, path, "", source[:20_000]))
            blocks += 1
            last_paragraph = text[:300]
        elif kind in ("fence", "code_block") and blocks < MAX_BLOCKS:
            doc.blocks.append(Block("code", token.content[:20_000], line + 1, path, token.info.strip()[:40]))
            blocks += 1
        elif kind == "html_block" and blocks < MAX_BLOCKS:
            doc.blocks.append(Block("html", token.content[:50_000], line, path))
            blocks += 1
            if "href" in token.content:
                doc.links.extend(Link("", m.group(1), line, path) for m in _HREF.finditer(token.content[:50_000]))
            if "<table" in token.content.lower() and len(doc.tables) < MAX_TABLES:
                _html_tables(doc, token.content, line, path, last_paragraph, last_paragraph or previous_paragraph)
        index += 1
    _bare_links(doc)
    return doc


def _html_tables(doc: Document, html: str, line: int, path: tuple[str, ...], caption: str, before: str) -> None:
    reader = _HtmlTables()
    try:
        reader.feed(html[:200_000])
        reader.close()
    except Exception:  # HTMLParser is lenient; a hostile fragment must not end the analysis
        return
    for rows in reader.tables:
        if rows and len(doc.tables) < MAX_TABLES:
            doc.tables.append(Table(rows[0], rows[1:], line, path, caption, before))


_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]{3,300}")


def _bare_links(doc: Document) -> None:
    """URLs written as text (not markdown links) in paragraphs, items, code and HTML."""
    seen = {link.href for link in doc.links}
    for block in doc.blocks:
        if "http" not in block.text:
            continue
        for match in _URL.finditer(block.text):
            href = match.group(0).rstrip(".,;:!?")
            if href not in seen:
                seen.add(href)
                doc.links.append(Link("", href, block.line, block.headings))
