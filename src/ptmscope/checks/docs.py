"""The checks' documentation (data/checks.yaml): why each check matters, what it looks for, what to do.

docs/checks.md is rendered from it and the registry by ``python -m ptmscope.reports.checks_page``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def check_docs() -> dict[str, dict[str, Any]]:
    """check id -> {motivation, remediation, looks_for}."""
    text = (resources.files("ptmscope.data") / "checks.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text)["checks"])


def remediation(check_id: str) -> str | None:
    """What to do when the check is false."""
    return check_docs().get(check_id, {}).get("remediation")


def motivation(check_id: str) -> str | None:
    """Why the check matters."""
    return check_docs().get(check_id, {}).get("motivation")


def looks_for(check_id: str) -> str | None:
    """What the check looks for (said as the evidence of a verdict that found none of it)."""
    return check_docs().get(check_id, {}).get("looks_for")
