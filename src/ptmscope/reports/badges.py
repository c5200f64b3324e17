"""SVG badges, one per attribute score, in the flat style of shields.io.

Hand-written rather than a dependency: a badge is two rectangles and two strings, and
the one maintained Python badge library renders through a font-metrics table we would
ship anyway. Text is XML-escaped; widths come from a per-character estimate of
Verdana 11px, as shields' own fallback does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

COLORS = ((8.0, "#4c1"), (6.0, "#97ca00"), (4.0, "#dfb317"), (2.0, "#fe7d37"), (0.0, "#e05d44"))
GREY = "#9f9f9f"


def _width(text: str) -> int:
    narrow = sum(1 for c in text if c in "ijlt.,:;!|' ()")
    return round(7.2 * (len(text) - narrow) + 3.6 * narrow) + 10


def badge(label: str, message: str, color: str) -> str:
    """One flat badge as SVG text (ids unique per label, so several badges can share a page)."""
    uid = re.sub(r"[^a-z0-9]", "", label.lower())[:20] or "b"
    left, right = _width(label), _width(message)
    total = left + right
    label_x, message_x = left * 5, (left + right / 2) * 10
    esc_label, esc_message = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{esc_label}: {esc_message}"><title>{esc_label}: {esc_message}</title>'
        f'<linearGradient id="s-{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r-{uid}"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r-{uid})"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s-{uid})"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="110">'
        f'<text x="{label_x}" y="140" transform="scale(.1)" textLength="{(left - 10) * 10}">{esc_label}</text>'
        f'<text x="{message_x:.0f}" y="140" transform="scale(.1)" textLength="{(right - 10) * 10}">'
        f"{esc_message}</text></g></svg>"
    )


def score_badge(attribute: str, score: float | None) -> str:
    """The badge of one attribute score (grey "inconclusive" when there is none)."""
    if score is None:
        return badge(attribute, "inconclusive", GREY)
    color = next(c for threshold, c in COLORS if score >= threshold)
    return badge(attribute, f"{score:.1f}/10", color)


def write_badges(doc: dict[str, Any], directory: Path) -> list[Path]:
    """Write ``<attribute>.svg`` for every attribute; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for attribute, values in doc["scores"].items():
        path = directory / f"{attribute}.svg"
        path.write_text(score_badge(attribute, values["score"]), encoding="utf-8")
        written.append(path)
    return written
