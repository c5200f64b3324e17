"""The audit's findings as SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.

Rules are the checks (question, motivation, remediation); results are the findings that
call for action (false, or error), located at the repository file they concern (the
model card, a weight file, config.json). Security checks carry a ``security-severity``
from their scoring weight, which GitHub uses to rank alerts.
"""

from __future__ import annotations

from typing import Any

from ptmscope import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

# Which repository file a failing check points at.
_FILE_OF = {
    "avoids_pickle_only_weights": None,  # the first pickle file, from the evidence facts
    "requires_no_remote_code": "config.json",
    "has_architecture_config": "config.json",
    "has_safetensors_weights": None,
    "passes_file_scan": None,
}


def _level(finding: dict[str, Any]) -> str:
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
    """A SARIF 2.1.0 log with one run of ptmscope audit."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for f in doc["findings"]:
        index[f["check"]] = len(rules)
        properties: dict[str, Any] = {"tags": [f["attribute"], *f["stride"]], "precision": "high"}
        if f["stride"]:
            properties["security-severity"] = f"{min(10.0, max(1.0, f['weight'])):.1f}"
        rules.append(
            {
                "id": f["check"],
                "name": "".join(part.capitalize() for part in f["check"].split("_")),
                "shortDescription": {"text": f["question"]},
                "fullDescription": {"text": f["motivation"] or f["question"]},
                "help": {"text": f["remediation"] or "", "markdown": f["remediation"] or ""},
                "defaultConfiguration": {"level": _level({**f, "outcome": "false"})},
                "properties": properties,
            }
        )
    results = []
    for f in doc["findings"]:
        if f["outcome"] not in ("false", "error"):
            continue
        message = f["question"].rstrip("?") + ": no." if f["outcome"] == "false" else "The check failed to evaluate."
        if f["evidence"]:
            message += f" {f['evidence']}"
        results.append(
            {
                "ruleId": f["check"],
                "ruleIndex": index[f["check"]],
                "level": _level(f),
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": _location(f, doc)}},
                        "logicalLocations": [{"name": doc["model"]["repo_id"], "kind": "module"}],
                    }
                ],
                "partialFingerprints": {"ptmscope/v1": f"{doc['model']['repo_id']}:{f['check']}"},
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ptmscope",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/ptmscope/",
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"ptmscope-audit/{doc['model']['repo_id']}"},
                "properties": {"scores": {a: s["score"] for a, s in doc["scores"].items()}},
                "results": results,
            }
        ],
    }
