"""Untrusted text, made safe to show.

Model ids, dataset names, card headings and file names come from strangers. In a
terminal they could carry ANSI escape sequences (which move the cursor, rewrite the
screen or set the window title), bidirectional overrides ("Trojan Source") or rich
markup (``[link=...]``). ``clean`` replaces control and bidi characters with a visible
escape and bounds the length; ``text`` wraps the result in a ``rich.text.Text`` so it
is never parsed as markup. HTML escaping is Jinja2's job (autoescape is on).
"""

from __future__ import annotations

import re

from rich.text import Text

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def clean(value: object, limit: int = 120) -> str:
    """``value`` as a single-line string without control or bidi characters, at most ``limit`` long."""
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("\t", " ")
    text = _UNSAFE.sub(_visible, text)
    if len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    return text


def strip_controls(value: str) -> str:
    """``value`` with control and bidi characters made visible; for HTML, where length is not bounded."""
    return _UNSAFE.sub(_visible, value)


def text(value: object, limit: int = 120, style: str = "") -> Text:
    """A rich ``Text`` of ``clean(value)``: shown literally, never parsed as markup."""
    return Text(clean(value, limit), style=style)
