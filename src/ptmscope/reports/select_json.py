"""The selection as a JSON document (schema ``ptmscope.select/1``, docs/select.md).

``ptmscope select --json`` prints it and ``ptmscope serve``'s ``/api/select`` answers it, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from ptmscope.selection.engine import Selection
from ptmscope.studies.run import snapshot_json

SCHEMA = "ptmscope.select/1"


def selection_document(result: Selection) -> dict[str, Any]:
    """The selection as JSON (schema ptmscope.select/1)."""
    return {
        "schema": SCHEMA,
        "snapshot": snapshot_json(result.snapshot),
        "audit_run": result.run_id,
        "requirements": result.requirements.as_json(),
        "candidates": result.candidates,
        "eligible": result.eligible,
        "excluded_by_rule": result.excluded_by_rule,
        "shortlist": result.shortlist,
        "excluded": result.excluded,
        "seconds": round(result.seconds, 3),
    }
