"""Untrusted strings from cards and ids never become markup or terminal escapes."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

from ptmscope.importer import import_paths
from ptmscope.reports.safe import clean, text
from ptmscope.reports.study_html import render_study_html
from ptmscope.reports.study_terminal import print_study
from ptmscope.studies.run import run_study

HOSTILE_DATASET = "<script>alert(1)</script>"
# An id with '"' or '<' is refused at import (not a repo id); these characters are ones old Hub
# names had, and HTML and rich markup must still escape them.
HOSTILE_ID = "evil/x'&amp;[b]=alert(1);"
ESCAPE_DATASET = "\x1b]0;pwned\x07\x1b[2Jred[/bold][link=http://x]click[/link]"
MATH_DATASET = "$\\frac{1}{0}$ \u202eevil"


def hostile_snapshot(store, tmp_path):
    listing = tmp_path / "m.jsonl"
    rows = [
        {
            "id": HOSTILE_ID,
            "downloads": 10,
            "pipeline_tag": "<b>task</b>",
            "siblings": [{"rfilename": "README.md"}],
        },
    ]
    listing.write_text("\n".join(json.dumps(r) for r in rows))
    cards = tmp_path / "c.jsonl"
    readme = (
        "---\n"
        + "datasets:\n"
        + "".join(f"- {json.dumps(d)}\n" for d in (HOSTILE_DATASET, ESCAPE_DATASET, MATH_DATASET))
        # a claim on the hostile dataset, without a metric name: it shows in the claim tables too
        + f"model-index:\n- results:\n  - task: {{type: x}}\n    dataset: {{type: {json.dumps(HOSTILE_DATASET)}}}\n"
        + "    metrics:\n    - {type: accuracy, value: 0.5}\n"
        + "---\n# x\n"
    )
    cards.write_text(json.dumps({"modelId": rows[0]["id"], "readme": readme}))
    return import_paths(store, [listing, cards], "hostile").snapshot


def test_html_report_escapes_everything(store, tmp_path):
    data = run_study(store, hostile_snapshot(store, tmp_path)).data
    page = render_study_html(data)
    assert "<script>" not in page
    assert "<img src=x" not in page
    assert "<b>task</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page.replace("\\u001b", "")
    # the only tags are ours: no <script> anywhere, no event handlers
    assert not re.search(r"<script\b", page, re.I)
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [t for t in tags if re.search(r"\son\w+\s*=", t, re.I)]


def test_terminal_report_strips_escapes_and_markup(store, tmp_path):
    data = run_study(store, hostile_snapshot(store, tmp_path)).data
    buffer = io.StringIO()
    print_study(data, Console(file=buffer, width=200, color_system=None, force_terminal=False))
    out = buffer.getvalue()
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[link=http://x]click[/link]" in out  # shown literally, not as a link


def test_clean_bounds_and_makes_controls_visible():
    assert clean("a\x1b[31mb", 50) == "a\\u001b[31mb"
    assert clean("x" * 500, 10) == "x" * 9 + "…"
    assert clean("line1\nline2") == "line1 line2"
    assert clean(None) == ""
    assert text("[bold]x[/bold]").plain == "[bold]x[/bold]"
