"""The audit as a self-contained HTML report card (no scripts, everything escaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from ptmscope.reports.badges import score_badge
from ptmscope.reports.study_html import _environment


def render_audit_html(doc: dict[str, Any]) -> str:
    """The report card page as a string."""
    badges = {a: Markup(score_badge(a, s["score"])) for a, s in doc["scores"].items()}  # noqa: S704 - our own SVG, text escaped
    return _environment().get_template("audit.html.j2").render(doc=doc, badges=badges)


def write_audit_html(doc: dict[str, Any], target: Path) -> Path:
    """Write the report card to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_audit_html(doc), encoding="utf-8")
    return target
