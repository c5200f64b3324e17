"""Machine-readable scan reports: JSON and SARIF 2.1.0 (GitHub code scanning).

These functions only format a ``ScanReport``; they compute nothing. Untrusted strings
(file names, pickle strings) are data here: ``json`` escapes them.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ptmscope import __version__, sarif
from ptmscope.sarif import Level
from ptmscope.scanners.interface import ScannedFile, ScanReport, Severity, SkippedFile

_LEVEL: dict[Severity, Level] = {
    "dangerous": "error",
    "suspicious": "warning",
    "unparseable": "warning",
    "info": "note",
}
# GitHub sorts alerts by this number (critical >= 9.0, high >= 7.0, medium >= 4.0).
_SECURITY_SEVERITY: dict[Severity, str] = {
    "dangerous": "9.5",
    "suspicious": "7.0",
    "unparseable": "5.0",
    "info": "1.0",
}


NOT_SCANNED_RULE = "file-not-scanned"
"""The SARIF rule of a file left unscanned (larger than ``--max-file-size``)."""


def to_dict(report: ScanReport, skipped_fail: bool = True) -> dict[str, Any]:
    """The report as plain JSON-ready data (one entry per file).

    A file left unscanned (too large) has ``status: skipped`` and ``verdict: unparseable``, and
    ``fails_run`` says whether it fails the run (``skipped_fail``, the CLI's ``--skipped fail``).
    """
    files: list[dict[str, Any]] = []
    for result in report.results:
        if isinstance(result, ScannedFile):
            files.append(
                {
                    "path": result.path,
                    "status": "scanned",
                    "format": result.format,
                    "size": result.size,
                    "verdict": result.verdict,
                    "seconds": round(result.seconds, 4),
                    "findings": [
                        {
                            "severity": f.severity,
                            "rule": f.rule,
                            "message": f.message,
                            "member": f.member,
                            "offset": f.offset,
                            "evidence": f.evidence,
                        }
                        for f in result.findings
                    ],
                }
            )
        else:
            entry: dict[str, Any] = {
                "path": result.path,
                "status": "error" if result.error else "skipped",
                "reason": result.skip_reason,
                "size": result.size,
            }
            if result.unscanned:
                entry["verdict"] = "unparseable"
                entry["fails_run"] = skipped_fail
            files.append(entry)
    return {
        "tool": "ptmscope",
        "version": __version__,
        "started": datetime.fromtimestamp(report.started, UTC).isoformat(),
        "seconds": round(report.seconds, 3),
        "summary": {
            "files": len(report.results),
            "scanned": len(report.scanned),
            "skipped": len(report.skipped),
            "dangerous": report.count_at_least("dangerous"),
            "suspicious_or_worse": report.count_at_least("suspicious"),
            "unscanned": len(report.unscanned()),
            "unscanned_fail_the_run": skipped_fail,
            "errors": list(report.errors) + [s.path for s in report.skipped if s.error],
        },
        "files": files,
    }


def to_json(report: ScanReport, skipped_fail: bool = True) -> str:
    """The report as indented JSON text."""
    return json.dumps(to_dict(report, skipped_fail), indent=2, ensure_ascii=False)


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix() if os.sep == "/" else path.replace(os.sep, "/")


def to_sarif(report: ScanReport, skipped_fail: bool = True) -> str:
    """The report as SARIF 2.1.0 (written by ``ptmscope.sarif``, as the audit's is).

    A file left unscanned (too large) is a ``file-not-scanned`` result at the ``unparseable``
    level when it fails the run (``skipped_fail``), else only a notification.
    """
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    if skipped_fail and report.unscanned():
        rules[NOT_SCANNED_RULE] = _rule(
            NOT_SCANNED_RULE,
            "file not scanned",
            "A file that may hold a model was not scanned (larger than --max-file-size), so nothing vouches for it; "
            "see docs/scanner.md.",
            "unparseable",
        )
        results += [
            sarif.result(
                NOT_SCANNED_RULE,
                level=_LEVEL["unparseable"],
                message=skipped.skip_reason,
                uri=_uri(skipped.path),
                start_line=1,
                fingerprint=f"{NOT_SCANNED_RULE}::{skipped.size}:",
                properties={"severity": "unparseable", "size": skipped.size},
            )
            for skipped in report.unscanned()
        ]
    for scanned in report.scanned:
        for f in scanned.findings:
            rule = rules.setdefault(
                f.rule,
                _rule(
                    f.rule,
                    f.rule.replace("-", " "),
                    f"ptmscope scanner rule {f.rule}; see docs/scanner.md.",
                    f.severity,
                ),
            )
            if float(_SECURITY_SEVERITY[f.severity]) > float(rule["properties"]["security-severity"]):
                rules[f.rule] = _rule(
                    f.rule, rule["shortDescription"]["text"], rule["fullDescription"]["text"], f.severity
                )
            where = f" (in {f.member})" if f.member else ""
            results.append(
                sarif.result(
                    f.rule,
                    level=_LEVEL[f.severity],
                    message=f"{f.message}{where}",
                    uri=_uri(scanned.path),
                    start_line=1,
                    fingerprint=f"{f.rule}:{f.member or ''}:{f.evidence or ''}:{f.offset}",
                    properties={
                        "severity": f.severity,
                        "member": f.member,
                        "offset": f.offset,
                        "evidence": f.evidence,
                        "format": scanned.format,
                    },
                )
            )
    notifications = [
        {"level": "error" if s.error else "note", "message": {"text": f"{s.path}: {s.skip_reason}"}}
        for s in report.results
        if isinstance(s, SkippedFile)
    ] + [{"level": "error", "message": {"text": e}} for e in report.errors]
    invocation = {"executionSuccessful": not report.has_errors(), "toolExecutionNotifications": notifications}
    return json.dumps(sarif.log(rules.values(), results, invocation=invocation), indent=2, ensure_ascii=False)


def _rule(rule_id: str, short: str, full: str, severity: Severity) -> dict[str, Any]:
    return sarif.rule(
        rule_id,
        short=short,
        full=full,
        level=_LEVEL[severity],
        tags=["security", "model-file"],
        security_severity=float(_SECURITY_SEVERITY[severity]),
    )
