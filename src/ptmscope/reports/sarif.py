"""The audit's findings as SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.

Rules are the checks (question, motivation, remediation, a ``helpUri`` to the check's anchor in
docs/checks.md); results are the findings that call for action (false, or error), located at the
model file they concern (the model card, a weight file, config.json). Every check carries a
``security-severity``: a STRIDE check its scoring weight (OpenSSF Scorecard's levels: 10, 7.5,
5, 2.5), any other check 1.0 (low), which GitHub uses to rank alerts.

Locations are written as the scan writes them (``ptmscope.sarif.Locator``), relative to
``%SRCROOT%``, the current directory: a local model folder's files as ``<folder>/config.json``
(just ``config.json`` when the audit runs in the model folder), a Hub or snapshot model's files as
``owner/name/config.json``, the same URI a ``scan`` of that Hub repository gives the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptmscope import sarif
from ptmscope.sarif import Level

# Which model file a failing check points at.
_FILE_OF = {
    "avoids_pickle_only_weights": None,  # the first pickle file, from the evidence facts
    "requires_no_remote_code": "config.json",
    "has_architecture_config": "config.json",
    "has_safetensors_weights": None,
    "passes_file_scan": None,
}
_LOW = 1.0  # the security-severity of a check outside STRIDE (GitHub's "low" is below 4.0)


def _level(finding: dict[str, Any]) -> Level:
    if finding["outcome"] == "error":
        return "warning"
    if finding["stride"]:
        return "error" if finding["weight"] >= 7.5 else "warning"
    return "note"


def _file(finding: dict[str, Any], doc: dict[str, Any]) -> str:
    pickle_files = doc["facts"].get("pickle_files") or []
    if (
        finding["check"] in ("avoids_pickle_only_weights", "has_safetensors_weights", "passes_file_scan")
        and pickle_files
    ):
        return str(pickle_files[0])
    return _FILE_OF.get(finding["check"]) or "README.md"


def _path(file: str, doc: dict[str, Any]) -> str:
    """Where ``file`` of the audited model is: in its local folder, or ``owner/name/file`` for a Hub model."""
    folder = doc["model"].get("path")
    if folder:
        return str(Path(folder) / file)
    return f"{doc['model']['repo_id']}/{file}"


def _rule(f: dict[str, Any]) -> dict[str, Any]:
    question, motivation, remediation = f["question"], f["motivation"] or f["question"], f["remediation"] or ""
    help_uri = sarif.docs_uri("checks.md", f["check"])
    todo = remediation or "See the check's entry in docs/checks.md."
    return sarif.rule(
        f["check"],
        short=question,
        full=motivation,
        level=_level({**f, "outcome": "false"}),
        tags=["model-audit", f["attribute"], *(f"stride-{s}" for s in f["stride"])],
        security_severity=max(_LOW, f["weight"]) if f["stride"] else _LOW,
        help_text=f"{question}\n\nWhy: {motivation}\n\nWhat to do: {todo}",
        help_markdown=f"**{question}**\n\n**Why:** {motivation}\n\n**What to do:** {todo}\n\n"
        f"See [`{f['check']}` in the checks]({help_uri}).",
        help_uri=help_uri,
        properties={"precision": "high"},
    )


def audit_sarif(doc: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of ptmscope audit (written by ``ptmscope.sarif``, as the scan's is).

    URIs are relative to ``base`` (the current directory by default). The run's
    ``automationDetails.id`` is ``ptmscope-audit/<owner>/<name>/``: one category per model, so the
    audits of two models never close each other's alerts.
    """
    repo_id = doc["model"]["repo_id"]
    locator = sarif.Locator(base)
    rules = [_rule(f) for f in doc["findings"]]
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
                location=locator.artifact(_path(_file(f, doc), doc)),
                fingerprint_of=(repo_id,),
                logical_name=repo_id,
            )
        )
    return sarif.log(
        rules,
        results,
        automation_id=f"ptmscope-audit/{repo_id}/",
        locator=locator,
        properties={"scores": {a: s["score"] for a, s in doc["scores"].items()}},
    )
