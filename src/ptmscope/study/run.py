"""Run the study over a snapshot and assemble its JSON document.

The document's top-level keys are stable (docs/study.md documents them):
``schema``, ``tool``, ``snapshot``, ``models``, ``top1pct_download_share``,
``top10pct_download_share``, ``claims_by_task``, ``models_per_dataset``,
``models_per_architecture``, ``table_iv``, ``measurements`` (every measurement's full
data, by key) and ``paper`` (the published figures, for comparison).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ptmscope import __version__
from ptmscope.store.store import Snapshot, Store
from ptmscope.study import measurements as m
from ptmscope.study import paper
from ptmscope.study.db import StudyDB

SCHEMA = "ptmscope.study/1"


@dataclass
class StudyResult:
    """The study of one snapshot."""

    snapshot: Snapshot
    data: dict[str, Any]
    """The JSON document."""
    seconds: float
    sql: list[tuple[str, str]] = field(default_factory=list)
    """(measurement, query) pairs, when run with ``record_sql``."""


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's identity, as every report shows it."""
    return {
        "id": snapshot.snapshot_id,
        "name": snapshot.name,
        "source": snapshot.source,
        "source_detail": snapshot.source_detail,
        "taken_at": snapshot.taken_at.isoformat() if snapshot.taken_at else None,
        "created_at": snapshot.created_at.isoformat(),
        "status": snapshot.status,
        "tool_version": snapshot.tool_version,
    }


def run_study(store: Store, snapshot: Snapshot, *, top: int = 10, record_sql: bool = False) -> StudyResult:
    """Run every measurement on ``snapshot``; with ``record_sql``, collect the SQL instead."""
    db = StudyDB(store.con, snapshot.snapshot_id, recording=record_sql)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for key, measurement in m.MEASUREMENTS.items():
        db.current = key
        results[key] = measurement.fn(db, top)
    seconds = time.perf_counter() - started
    data = {
        "schema": SCHEMA,
        "tool": {"name": "ptmscope", "version": __version__},
        "snapshot": snapshot_json(snapshot),
        "models": results["overview"]["models"],
        "top1pct_download_share": results["downloads"]["top1pct_share"],
        "top10pct_download_share": results["downloads"]["top10pct_share"],
        "claims_by_task": results["claims"]["by_task"],
        "models_per_dataset": results["datasets"]["counts"],
        "models_per_architecture": results["architectures"]["counts"],
        "table_iv": table_iv(results),
        "measurements": results,
        "paper": paper.as_json(),
        "seconds": round(seconds, 3),
    }
    return StudyResult(snapshot, data, seconds, db.recorded)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def table_iv(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's Table IV (STRIDE) rows that the snapshot can support, and why the rest cannot."""
    rows: list[dict[str, Any]] = []
    orgs = results["organizations"]
    if orgs["owning_models_verification_known"]:
        known, verified = orgs["owning_models_verification_known"], orgs["owning_models_verified"]
        value = f"{verified:,} of {known:,} organizations owning models are verified ({_pct(verified / known)})"
        numbers = {"verified": verified, "organizations": known}
    elif orgs["verification_known"]:
        known, verified = orgs["verification_known"], orgs["verified"]
        value = f"{verified:,} of {known:,} organizations are verified ({_pct(verified / known)})"
        numbers = {"verified": verified, "organizations": known}
    else:
        value, numbers = None, None
    rows.append(
        _row(
            "Spoofing",
            "Organization verification",
            value,
            numbers,
            "no organization verification data in this snapshot (crawl organizations, or import them "
            "with an isVerified field)"
            if orgs["organizations"]
            else "no organizations in this snapshot",
            "199 of 6,243 organizations verified (3.19%)",
        )
    )
    ds, arch = results["datasets"], results["architectures"]
    parts, numbers = [], {}
    if ds["top1"]:
        parts.append(f"most-depended dataset {ds['top1']['name']} ({ds['top1']['models']:,} models)")
        numbers["dataset"] = ds["top1"]
    if arch["top1"]:
        parts.append(f"most-depended architecture {arch['top1']['name']} ({arch['top1']['models']:,} models)")
        numbers["architecture"] = arch["top1"]
    rows.append(
        _row(
            "Tampering",
            "Dependencies",
            "; ".join(parts) or None,
            numbers or None,
            "no dataset or architecture declared in this snapshot",
            "universal_dependencies: 6,834 models; BERT: 10,247 models",
        )
    )
    ov, cl = results["overview"], results["claims"]
    if ov["models"]:
        parts = []
        numbers = {"models": ov["models"], "with_claims": cl["models_with_claims"]}
        if ov["readme_known"]:
            without = ov["readme_known"] - ov["with_readme"]
            parts.append(f"{without:,} of {ov['readme_known']:,} models have no model card")
            numbers["without_card"] = without
        parts.append(
            f"{cl['models_with_claims']:,} of {ov['models']:,} make machine-parseable performance claims "
            f"({_pct(cl['share_with_claims'])})"
        )
        value = "; ".join(parts)
    else:
        value, numbers = None, None
    rows.append(
        _row(
            "Repudiation",
            "PTM documentation",
            value,
            numbers,
            "no models in this snapshot",
            "token-classification 526/3,130 with claims; other tasks 12/26,192",
        )
    )
    sig = results["signing"]
    if sig["repos_read"]:
        value = (
            f"{sig['repos_with_signed_commits']:,} of {sig['repos_read']:,} repositories have signed commits "
            f"({_pct(sig['share_repos_signed'])}); {sig['signed_commits']:,} of {sig['commits']:,} commits are signed "
            f"({_pct(sig['share_commits_signed'])})"
        )
        if sig["verified_orgs_with_signed_repos"] is not None:
            value += f"; {sig['verified_orgs_with_signed_repos']:,} verified organizations have a signed repository"
        numbers = {
            "repos_with_signed_commits": sig["repos_with_signed_commits"],
            "repos": sig["repos_read"],
            "signed_commits": sig["signed_commits"],
            "commits": sig["commits"],
            "verified_orgs_with_signed_repos": sig["verified_orgs_with_signed_repos"],
            "clone_failures": sig["clone_failures"],
        }
    else:
        value, numbers = None, None
    rows.append(
        _row(
            "Spoofing, Tampering, Repudiation",
            "GPG commit signing",
            value,
            numbers,
            "not measured in this snapshot: needs commit histories (ptmscope clone)",
            "132 of 63,182 repositories (0.21%) have signed commits; 2 verified organizations have signed repositories",
        )
    )
    rows.append(
        _row(
            "Elevation of privilege",
            "User permission model",
            None,
            None,
            "a property of the registry's permission design, not of snapshot data",
            "organization members with write access can modify any of its models",
        )
    )
    scan = results["hub_scan"]
    value = (
        f"{scan['flagged']:,} of {scan['status_known']:,} models have files the Hub's scanners flagged"
        if scan["status_known"]
        else None
    )
    rows.append(
        _row(
            "Tampering",
            "Malware scan",
            value,
            {"flagged": scan["flagged"], "models": scan["status_known"]} if scan["status_known"] else None,
            "not measured in this snapshot: needs the Hub's security status (crawl) or file scans (ptmscope scan)",
            "ClamAV flagged 0 models",
        )
    )
    return rows


def _row(
    threat: str,
    factor: str,
    value: str | None,
    numbers: dict[str, Any] | None,
    missing: str,
    paper_value: str,
) -> dict[str, Any]:
    return {
        "threat": threat,
        "factor": factor,
        "measured": value is not None,
        "value": value if value is not None else missing,
        "numbers": numbers,
        "paper": paper_value,
    }


def compare(a: StudyResult, b: StudyResult) -> dict[str, Any]:
    """Two studies side by side: headline figures, claims per task, top datasets/architectures."""

    def headline(r: StudyResult) -> dict[str, Any]:
        ms = r.data["measurements"]
        return {
            "models": r.data["models"],
            "with_readme": ms["overview"]["with_readme"],
            "downloads_total": ms["overview"]["downloads_total"],
            "top1pct_download_share": r.data["top1pct_download_share"],
            "top10pct_download_share": r.data["top10pct_download_share"],
            "models_with_claims": ms["claims"]["models_with_claims"],
            "share_with_claims": ms["claims"]["share_with_claims"],
            "share_without_license": ms["licenses"]["share_without_license"],
            "declaring_dataset": ms["datasets"]["declaring"],
            "declaring_base_model": ms["lineage"]["declaring"],
            "safetensors_any": ms["weight_formats"]["any"]["safetensors"],
            "pickle_only": ms["weight_formats"]["exclusive"]["pickle_only"],
            "share_hyperparameters": ms["documentation"]["share_hyperparameters"],
        }

    ha, hb = headline(a), headline(b)
    tasks = list(dict.fromkeys([*a.data["claims_by_task"], *b.data["claims_by_task"]]))
    return {
        "schema": "ptmscope.study-compare/1",
        "a": snapshot_json(a.snapshot),
        "b": snapshot_json(b.snapshot),
        "headline": {k: {"a": ha[k], "b": hb[k]} for k in ha},
        "claims_by_task": {
            t: {"a": a.data["claims_by_task"].get(t), "b": b.data["claims_by_task"].get(t)} for t in tasks
        },
        "models_per_dataset": _side_by_side(a.data["models_per_dataset"], b.data["models_per_dataset"]),
        "models_per_architecture": _side_by_side(a.data["models_per_architecture"], b.data["models_per_architecture"]),
    }


def _side_by_side(a: dict[str, int], b: dict[str, int]) -> dict[str, dict[str, int | None]]:
    return {k: {"a": a.get(k), "b": b.get(k)} for k in dict.fromkeys([*a, *b])}
