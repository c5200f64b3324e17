"""Stored file verdicts (``scan --snapshot``) as the audit's scan, so a Hub model is not downloaded again.

``file_scans`` holds one verdict per (repo, path, oid), the oid being the LFS sha256 or the git
blob id. When every file an audit would scan has a stored verdict for the very bytes the
listing names, the audit uses those verdicts instead of downloading the files; one missing or
changed file and the audit scans as before. Findings come back as ``Finding`` objects, so the
report, SARIF and the audit's evidence read them like a fresh scan's.
"""

from __future__ import annotations

from typing import Any

import orjson

from ptmscope.scanners.hub import wants
from ptmscope.scanners.interface import SEVERITIES, Finding, ScannedFile, ScanReport, SkippedFile
from ptmscope.store.derived import SNAPSHOT_FILE_SCANS_SQL

_COLUMNS = "path, oid, size, format, verdict, findings, reason, seconds"


def report_for_files(con: Any, repo_id: str, files: list[tuple[str, str | None]]) -> ScanReport | None:
    """The stored report for these (path, oid) files of ``repo_id``, or None unless every wanted one has a verdict.

    ``con`` is a connection to a store with ``file_scans`` (a store that predates it gives None).
    """
    wanted = [(path, oid) for path, oid in files if wants(path)]
    if not wanted or any(oid is None for _, oid in wanted):
        return None
    try:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM file_scans WHERE repo_id = ? AND verdict <> 'error'"
            " AND list_contains(?, path || '@' || oid)",
            [repo_id, [f"{path}@{oid}" for path, oid in wanted]],
        ).fetchall()
    except Exception:  # an older store without file_scans, or another store's schema: no stored verdicts
        return None
    found = {(r[0], r[1]): r for r in rows}
    if len(found) < len(wanted):
        return None
    return ScanReport(tuple(_result(repo_id, found[key]) for key in sorted(found)))


def report_in_snapshot(con: Any, snapshot_id: int, repo_id: str) -> ScanReport | None:
    """The stored report of a repo the snapshot's ``scan --snapshot`` runs covered, or None."""
    try:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM ({SNAPSHOT_FILE_SCANS_SQL}) WHERE repo_id = $repo ORDER BY path",
            {"sid": snapshot_id, "repo": repo_id},
        ).fetchall()
    except Exception:  # a store that predates file_scans
        return None
    if not rows:
        return None
    return ScanReport(tuple(_result(repo_id, row) for row in rows))


def _result(repo_id: str, row: tuple[Any, ...]) -> ScannedFile | SkippedFile:
    path, _oid, size, fmt, verdict, findings, reason, seconds = row
    shown = f"{repo_id}/{path}"
    if verdict in ("skipped", "error") or (verdict == "unparseable" and fmt is None):
        return SkippedFile(shown, reason or verdict, error=verdict == "error", size=size,
                           unscanned=verdict == "unparseable")  # fmt: skip
    return ScannedFile(shown, fmt or "unknown", int(size or 0), tuple(_findings(findings)), float(seconds or 0.0))


def _findings(text: str | None) -> list[Finding]:
    out = []
    for item in orjson.loads(text or "[]"):
        severity = item.get("severity")
        if severity not in SEVERITIES or not isinstance(item.get("rule"), str):
            continue
        out.append(
            Finding(
                severity,
                item["rule"],
                str(item.get("message") or ""),
                item.get("member"),
                item.get("offset") if isinstance(item.get("offset"), int) else None,
                item.get("evidence"),
            )
        )
    return out
