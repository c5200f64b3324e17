"""docs/reliability.md names the test that holds each failure class: every one of them exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def test_every_test_the_reliability_table_names_exists():
    text = DOC.read_text(encoding="utf-8")
    references = set(REFERENCE.findall(text))
    assert len(references) >= 50
    missing = [
        f"{path}::{name}"
        for path, name in sorted(references)
        if not (ROOT / path).exists()
        or not re.search(rf"^(?:async )?def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert not missing, missing


def test_every_failure_class_row_names_a_test_or_says_why_not():
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    failure_rows = [r for r in rows if r.count("|") >= 4 and ("tests/" in r or "no new test" in r)]
    tables = [r for r in rows if r.startswith("| failure class")]
    assert len(tables) == 4 and len(failure_rows) >= 50
