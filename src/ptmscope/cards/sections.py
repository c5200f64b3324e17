"""Markdown structure of a model card: headings mapped to canonical sections.

The section ids follow the paper's Table I factors and the Hugging Face card template
(``huggingface_hub/templates/modelcard_template.md``) and the ``transformers`` Trainer's
auto-generated cards. A heading maps to the first rule whose pattern it matches, so
more specific rules come first ("Training hyperparameters" before "Training").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# (section id, heading pattern). Order matters: first match wins.
SECTION_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("hyperparameters", r"hyper[\s_-]?param|training (?:config|arguments|settings|setup)"),
        ("training_data", r"training (?:and evaluation )?data|\bdatasets?\b|pre-?training data"),
        ("hardware", r"hardware|environmental|compute|carbon|emission|infrastructure|speeds?, sizes"),
        ("environment", r"framework versions?|software|requirements|dependencies|installation"),
        ("get_started", r"get(?:ting)? started|how to use|usage|quick ?start|examples?|inference|demo"),
        ("intended_use", r"intended|direct use|downstream use|use cases?|applications?|\buses\b"),
        ("evaluation", r"eval|results?\b|performance|benchmark|metrics?\b|accuracy|testing"),
        ("training", r"train|fine-?tun"),
        ("limitations", r"limitation|bias|risk|ethic|safety|out-of-scope"),
        ("citation", r"citation|cite|bibtex|reference|paper"),
        ("description", r"description|model details|overview|about|introduction|summary|model card"),
        ("license", r"licen[cs]e"),
        ("contact", r"contact|authors?|contributors?|acknowledg"),
    )
)

SECTION_IDS: tuple[str, ...] = tuple(name for name, _ in SECTION_RULES)

# Template text that means "nothing written here yet".
PLACEHOLDER = re.compile(
    r"\[more information needed\]|more information needed|\{\{[^}]{0,200}\}\}|\[optional\]|\[needs more information\]",
    re.IGNORECASE,
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
# Whitespace and markdown punctuation, deleted before counting characters.
_NOISE = str.maketrans("", "", " \t\r\n\f\v>*_`|:-#[]()")
_PLACEHOLDER_HINTS = ("information", "{{", "[optional]")
_PLACEHOLDER_HINT = re.compile("|".join(re.escape(h) for h in _PLACEHOLDER_HINTS))

# A section must hold at least this many meaningful characters to count as filled.
MIN_FILLED_CHARS = 20


@dataclass(frozen=True, slots=True)
class Section:
    """A canonical section found in a card."""

    section: str
    """Canonical id from SECTION_IDS."""
    heading: str
    """The first heading text that mapped to it (bounded)."""
    filled: bool
    """True when some heading of this section has real content (placeholders do not count)."""
    chars: int
    """Meaningful characters under its headings, summed."""


@lru_cache(maxsize=16_384)
def classify_heading(heading: str) -> str | None:
    """The canonical section id of a heading, or None."""
    for name, pattern in SECTION_RULES:
        if pattern.search(heading):
            return name
    return None


def meaningful_chars(text: str) -> int:
    """Characters of ``text`` left after removing comments, placeholders and markdown noise."""
    if "<!--" in text:
        text = _HTML_COMMENT.sub(" ", text)
    lower = text.lower()
    if _PLACEHOLDER_HINT.search(lower):
        text = PLACEHOLDER.sub(" ", text)
    return len(text.translate(_NOISE))


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    return "".join("\n" if c == "\n" else " " for c in text)


def find_sections(body: str) -> list[Section]:
    """Canonical sections of a card body, in order of first appearance.

    A heading's content runs to the next heading of the same or a higher level, so a
    "Training procedure" heading whose text sits under "### Training hyperparameters"
    counts as filled. Headings inside fenced code blocks are ignored.
    """
    # Blank out fenced code so '# comment' lines in code are not headings; keep offsets.
    masked = _FENCE.sub(_blank, body) if ("```" in body or "~~~" in body) else body
    headings = [(m.start(), m.end(), len(m.group(1)), m.group(2)) for m in _HEADING.finditer(masked)]
    found: dict[str, Section] = {}
    for i, (_, end, level, title) in enumerate(headings):
        name = classify_heading(title)
        if name is None:
            continue
        stop = len(body)
        for start2, _, level2, _ in headings[i + 1 :]:
            if level2 <= level:
                stop = start2
                break
        chars = meaningful_chars(body[end:stop])
        previous = found.get(name)
        if previous is None:
            found[name] = Section(name, title.strip()[:200], chars >= MIN_FILLED_CHARS, chars)
        else:
            found[name] = Section(
                name,
                previous.heading,
                previous.filled or chars >= MIN_FILLED_CHARS,
                previous.chars + chars,
            )
    return list(found.values())


def count_placeholders(text: str) -> int:
    """Template placeholders left in the text."""
    return len(PLACEHOLDER.findall(text))
