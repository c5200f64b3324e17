"""The audit's findings as SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.

Rules are the checks (question, motivation, remediation); results are the findings that
call for action (false, or error), located at the repository file they concern (the
model card, a weight file, config.json). Security checks carry a ``security-severity``
from their scoring weight, which GitHub uses to rank alerts.
"""

from __future__ import annotations

from typing import Any

from ptmscope import sarif
from ptmscope.sarif import Level

# Which repository file a failing check points at.
_FILE_OF = {
    "avoids_pickle_only_weights": None,  # the first pickle file, from the evidence facts
    "requires_no_remote_code": "config.json",
    "has_architecture_config": "config.json",
    "has_safetensors_weights": None,
    "passes_file_scan": None,
}


def _level(finding: dict[str, Any]) -> Level:
    if finding["outcome"] == "error":
        return "warning"
    if finding["stride"]:
        return "error" if finding["weight"] >= 7.5 else "warning"
    return "note"


def _location(finding: dict[str, Any], doc: dict[str, Any]) -> str:
    pickle_files = doc["facts"].get("pickle_files") or []
    if (
        finding["check"] in ("avoids_pickle_only_weights", "has_safetensors_weights", "passes_file_scan")
        and pickle_files
    ):
        return str(pickle_files[0])
    return _FILE_OF.get(finding["check"]) or "README.md"


def audit_sarif(doc: dict[str, Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of ptmscope audit (written by ``ptmscope.sarif``, as the scan's is)."""
    repo_id = doc["model"]["repo_id"]
    rules = [
        sarif.rule(
            f["check"],
            short=f["question"],
            full=f["motivation"] or f["question"],
            level=_level({**f, "outcome": "false"}),
            tags=[f["attribute"], *f["stride"]],
            security_severity=max(1.0, f["weight"]) if f["stride"] else None,
            help_text=f["remediation"] or "",
            properties={"precision": "high"},
        )
        for f in doc["findings"]
    ]
    results = []
    for f in doc["findings"]:
        if f["outcome"] not in ("false", "error"):
            continue
        message = f["question"].rstrip("?") + ": no." if f["outcome"] == "false" else "The check failed to evaluate."
        if f["evidence"]:
            message += f" {f['evidence']}"
        results.append(
            sarif.result(
                f["check"],
                level=_level(f),
                message=message,
                uri=_location(f, doc),
                fingerprint=f"{repo_id}:{f['check']}",
                logical_name=repo_id,
            )
        )
    return sarif.log(
        rules,
        results,
        automation_id=f"ptmscope-audit/{repo_id}",
        properties={"scores": {a: s["score"] for a, s in doc["scores"].items()}},
    )
