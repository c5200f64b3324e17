"""The audit as a JSON document (schema ``ptmscope.audit/1``, documented in docs/audit.md).

Every other audit format (terminal, HTML, SARIF, CycloneDX, badges) is rendered from
this document, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ptmscope import __version__
from ptmscope.audits.run import ModelAudit
from ptmscope.checks.docs import motivation, remediation
from ptmscope.checks.model import STRIDE_NAMES
from ptmscope.scanners.output import to_dict

SCHEMA = "ptmscope.audit/1"

# Facts worth showing in a report (the rest stay in the store).
SHOWN_FACTS = (
    "pipeline_tag", "library_name", "model_type", "downloads", "likes", "last_modified", "parameters", "licenses",
    "spdx_licenses", "license_kinds", "datasets", "base_models", "base_relations", "paper_links", "github_links",
    "claims", "card_status", "card_length", "gated", "tags", "num_files", "pickle_files", "derived_models",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def audit_document(audit: ModelAudit) -> dict[str, Any]:
    """The JSON document of one model's audit."""
    findings = []
    for check, finding in audit.findings:
        score = audit.scores[check.attribute]
        points = next((p for p in score.points if p.check.id == check.id), None)
        findings.append(
            {
                "check": check.id,
                "version": check.version,
                "attribute": check.attribute,
                "question": check.question,
                "outcome": str(finding.outcome),
                "grade": finding.grade,
                "evidence": finding.evidence,
                "weight": audit.weights.weight(check),
                "points_gained": round(points.gained, 3) if points else 0.0,
                "points_lost": round(points.lost, 3) if points else 0.0,
                "stride": list(check.stride),
                "informational": check.info,
                "needs": sorted(check.needs),
                "motivation": motivation(check.id),
                "remediation": remediation(check.id),
            }
        )
    risks = [
        {
            "threat": ", ".join(STRIDE_NAMES[s] for s in check.stride),
            "stride": list(check.stride),
            "check": check.id,
            "question": check.question,
            "evidence": finding.evidence,
        }
        for check, finding in audit.findings
        if check.stride and str(finding.outcome) == "false"
    ]
    lineage = audit.lineage
    context = audit.context
    return {
        "schema": SCHEMA,
        "tool": {"name": "ptmscope", "version": __version__},
        "created_at": audit.created_at.isoformat(),
        "model": {
            "repo_id": audit.repo_id,
            "sha": audit.sha,
            "source": audit.target.kind,
            "path": str(audit.target.path) if audit.target.path else None,
        },
        "context": None
        if context is None
        else audit.context_info.as_json()
        if audit.context_info is not None and audit.context_info.snapshot.snapshot_id == context.snapshot_id
        else {"snapshot": context.name, "snapshot_id": context.snapshot_id, "source": context.source},
        "scores": {
            attribute: {
                "score": None if s.score is None else round(s.score, 2),
                "earned": round(s.earned, 3),
                "possible": round(s.possible, 3),
                "conclusive": s.conclusive,
                "inconclusive": s.inconclusive,
            }
            for attribute, s in audit.scores.items()
        },
        "findings": findings,
        "risks": risks,
        "lineage": {
            "ancestors": [
                {
                    "depth": link.depth,
                    "child": link.child,
                    "base": link.base,
                    "relation": link.relation,
                    "base_licenses": link.base_licenses,
                    "in_snapshot": link.in_snapshot,
                    "issue": link.issue,
                }
                for link in lineage.ancestors
            ],
            "children": [{"repo_id": r, "relation": rel, "downloads": d} for r, rel, d in lineage.children],
            "descendants": lineage.descendants,
            "warnings": lineage.warnings,
        },
        "facts": {k: _plain(audit.facts.get(k)) for k in SHOWN_FACTS},
        "weights": audit.weights.as_json(),
        "checks": {check.id: check.version for check, _ in audit.findings},
        "scan": scan_summary(audit.scan),
    }


def scan_summary(report: Any) -> dict[str, Any] | None:
    """The scan report in ``ptmscope scan --format json`` form, when the files were scanned."""
    if report is None:
        return None
    return to_dict(report)
