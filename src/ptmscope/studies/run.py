"""Run the study over a snapshot and assemble its JSON document.

The document's top-level keys are stable (docs/study.md documents them):
``schema``, ``tool``, ``snapshot``, ``definition``, ``models``, ``top1pct_download_share``,
``top10pct_download_share``, ``claims_by_task``, ``fig6_eval_datasets``, ``models_per_dataset``,
``models_per_architecture``, ``table_iv``, ``measurements`` (every measurement's full
data, by key) and ``paper`` (the published figures, for comparison).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ptmscope import __version__
from ptmscope.errors import StudyError
from ptmscope.store.store import Snapshot, Store
from ptmscope.studies import claims as _claims  # noqa: F401 - registers Fig. 7 and the claim measurements
from ptmscope.studies import measurements as m
from ptmscope.studies import paper
from ptmscope.studies.claims import DEFAULT_DEFINITION, DEFINITIONS
from ptmscope.studies.db import StudyDB

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
        "front_matter": snapshot.front_matter,
        "notes": snapshot.notes,
    }


def run_study(
    store: Store,
    snapshot: Snapshot,
    *,
    top: int = 10,
    record_sql: bool = False,
    definition: str = DEFAULT_DEFINITION,
) -> StudyResult:
    """Run every measurement on ``snapshot``; with ``record_sql``, collect the SQL instead.

    ``definition`` says what counts as a machine-parseable claim: 'strict' or 'paper'
    (``ptmscope.studies.claims``). The paper's needs cards read by this version's card analysis.
    """
    if definition not in DEFINITIONS:
        raise StudyError(f"unknown claim definition {definition!r} (choose {' or '.join(DEFINITIONS)})")
    if definition == "paper" and snapshot.card_analysis is None:
        raise StudyError(
            f"snapshot {snapshot.name!r} was imported before ptmscope recorded how the paper's code reads cards: "
            "import its files again into a new snapshot to study it with --definition paper"
        )
    db = StudyDB(
        store.con,
        snapshot.snapshot_id,
        recording=record_sql,
        definition=definition,
        front_matter=snapshot.front_matter,
    )
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
        "definition": definition,
        "models": results["overview"]["models"],
        "top1pct_download_share": results["downloads"]["top1pct_share"],
        "top10pct_download_share": results["downloads"]["top10pct_share"],
        "claims_by_task": results["claims"]["by_task"],
        "fig6_eval_datasets": results["eval_datasets"]["counts"],
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
    return [row(results) for row in _TABLE_IV_ROWS]


def _organizations_row(results: dict[str, Any]) -> dict[str, Any]:
    """Spoofing: organization verification."""
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
    return _row(
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


def _dependencies_row(results: dict[str, Any]) -> dict[str, Any]:
    """Tampering: the most-depended datasets and architectures."""
    ds, arch = results["datasets"], results["architectures"]
    parts, numbers = [], {}
    if ds["top1"]:
        parts.append(f"most-depended training dataset {ds['top1']['name']} ({ds['top1']['models']:,} models)")
        numbers["dataset"] = ds["top1"]
    if arch["top1"]:
        parts.append(f"most-depended architecture {arch['top1']['name']} ({arch['top1']['models']:,} models)")
        numbers["architecture"] = arch["top1"]
    return _row(
        "Tampering",
        "Dependencies",
        "; ".join(parts) or None,
        numbers or None,
        "no dataset or architecture declared in this snapshot",
        "one dataset has 1,673 downstream PTMs; BERT: 10,247 models (Fig. 6's universal_dependencies "
        "6,834 are evaluation claims, not models)",
    )


def _documentation_row(results: dict[str, Any]) -> dict[str, Any]:
    """Repudiation: models without a card or a machine-parseable claim."""
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
            f"({_pct(cl['share_with_claims'])}, {cl['definition']} definition)"
        )
        value = "; ".join(parts)
    else:
        value, numbers = None, None
    return _row(
        "Repudiation",
        "PTM documentation",
        value,
        numbers,
        "no models in this snapshot",
        "token-classification 526/3,130 with claims; other tasks 12/26,192",
    )


def _signing_row(results: dict[str, Any]) -> dict[str, Any]:
    """Spoofing, tampering, repudiation: GPG-signed commits."""
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
    return _row(
        "Spoofing, Tampering, Repudiation",
        "GPG commit signing",
        value,
        numbers,
        "not measured in this snapshot: needs commit histories (ptmscope clone)",
        "132 of 63,182 repositories (0.21%) have signed commits; 2 verified organizations have signed repositories",
    )


def _permissions_row(_results: dict[str, Any]) -> dict[str, Any]:
    """Elevation of privilege: the permission model (not measurable from data)."""
    return _row(
        "Elevation of privilege",
        "User permission model",
        None,
        None,
        "a property of the registry's permission design, not of snapshot data",
        "organization members with write access can modify any of its models",
    )


def _malware_row(results: dict[str, Any]) -> dict[str, Any]:
    """Tampering: model files ptmscope's scans flagged (scan --snapshot), else the Hub's own flags."""
    ours, hub = results.get("file_scans") or {}, results["hub_scan"]
    parts, numbers = [], {}
    if ours.get("repos_scanned"):
        verdicts = ours["verdicts"]
        parts.append(
            f"ptmscope read {ours['files']:,} model files of {ours['repos_scanned']:,} repos "
            f"({ours['share_bytes_read'] or 0:.2%} of their bytes): {verdicts.get('dangerous', 0):,} dangerous, "
            f"{verdicts.get('suspicious', 0):,} suspicious, {verdicts.get('unparseable', 0):,} not vouched for; "
            f"{ours['repos_flagged']:,} repos flagged"
        )
        keys = ("repos_scanned", "repos_failed", "files", "verdicts", "repos_dangerous", "repos_flagged",
                "bytes_read", "bytes_total")  # fmt: skip
        numbers["ptmscope"] = {k: ours[k] for k in keys}
    if hub["status_known"]:
        parts.append(f"{hub['flagged']:,} of {hub['status_known']:,} models have files the Hub's scanners flagged")
        numbers["hub"] = {"flagged": hub["flagged"], "models": hub["status_known"]}
    return _row(
        "Tampering",
        "Malware scan",
        "; ".join(parts) if parts else None,
        numbers or None,
        "not measured in this snapshot: run 'ptmscope scan --snapshot' (or crawl, for the Hub's own flags)",
        "ClamAV flagged 0 models",
    )


_TABLE_IV_ROWS = (
    _organizations_row,
    _dependencies_row,
    _documentation_row,
    _signing_row,
    _permissions_row,
    _malware_row,
)


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


# Headline figures of a comparison: (key, label, numerator, denominator) paths into a study's
# measurements; a share is what makes snapshots of different sizes comparable.
_HEADLINE: tuple[tuple[str, str, str, str | None], ...] = (
    ("models", "models", "overview.models", None),
    ("with_readme", "have a model card (README.md)", "overview.with_readme", "overview.file_list_known"),
    ("with_claims", "make machine-parseable performance claims", "claims.models_with_claims", "overview.models"),
    ("declaring_license", "declare a licence", "licenses.declaring", "overview.models"),
    ("declaring_dataset", "declare a training dataset", "datasets.declaring", "overview.models"),
    ("declaring_base_model", "declare a base model", "lineage.declaring", "overview.models"),
    ("safetensors_any", "ship safetensors weights", "weight_formats.any.safetensors", "overview.file_list_known"),
    ("pickle_only", "ship only pickle-based weights", "weight_formats.exclusive.pickle_only",
     "overview.file_list_known"),
    ("gated", "are gated", "overview.gated", "overview.gated_known"),
    ("hyperparameters", "document hyper-parameters", "documentation.hyperparameters", "documentation.text_cards"),
    ("hardware", "document hardware", "documentation.hardware", "documentation.text_cards"),
    ("top1pct_downloads", "downloads held by the top 1% of models", "downloads.top1pct_share", None),
)  # fmt: skip


def _path(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _figure(ms: dict[str, Any], numerator: str, denominator: str | None) -> dict[str, Any]:
    count = _path(ms, numerator)
    if denominator is None:
        return {"count": count, "of": None, "share": count if isinstance(count, float) else None}
    of = _path(ms, denominator)
    if not of:  # nothing to count among: unknown, not zero
        return {"count": None, "of": None, "share": None}
    return {"count": count, "of": of, "share": m.share(count, of)}


def _shares(counts: dict[str, int], whole: int | None) -> dict[str, dict[str, Any]]:
    return {name: {"count": n, "share": m.share(n, whole)} for name, n in counts.items()}


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"a": a.get(k), "b": b.get(k)} for k in dict.fromkeys([*a, *b])}


def _change(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    """a's share minus b's, in percentage points (the studied snapshot relative to the compared one)."""
    if not a or not b or a.get("share") is None or b.get("share") is None:
        return None
    return round(100 * (a["share"] - b["share"]), 2)


def compare(a: StudyResult, b: StudyResult) -> dict[str, Any]:
    """Two studies side by side, as shares of each snapshot's own population.

    Counts are kept, but every figure also has its share of the population it is a part
    of (models, models whose file list is known, text cards), and ``change`` is the
    difference of shares in percentage points, a minus b (the studied snapshot relative to
    the compared one): a 2,057-model sample and a 29,432-model registry compare on shares,
    not counts.
    """
    msa, msb = a.data["measurements"], b.data["measurements"]
    headline = {}
    for key, label, numerator, denominator in _HEADLINE:
        fa, fb = _figure(msa, numerator, denominator), _figure(msb, numerator, denominator)
        headline[key] = {"label": label, "a": fa, "b": fb, "change": _change(fa, fb)}

    def tasks(r: StudyResult) -> dict[str, Any]:
        return {t: v | {"share": m.share(v["with_claims"], v["total"])} for t, v in r.data["claims_by_task"].items()}

    def distribution(ms: dict[str, Any], key: str) -> dict[str, Any]:
        dist = ms[key]
        return _shares(dist["counts"], dist["declaring"])

    formats: dict[str, dict[str, Any]] = {
        name: {
            side: {"count": ms["weight_formats"]["any"][name],
                   "share": m.share(ms["weight_formats"]["any"][name], ms["overview"]["file_list_known"])}
            for side, ms in (("a", msa), ("b", msb))
        }
        for name in msa["weight_formats"]["any"]
    }  # fmt: skip
    for values in formats.values():
        values["change"] = _change(values["a"], values["b"])
    caveats = [f"{r.snapshot.name}: {r.snapshot.notes}" for r in (a, b) if r.snapshot.notes]
    if a.data["definition"] != b.data["definition"]:
        caveats.append("the two studies count claims under different definitions")
    return {
        "schema": "ptmscope.study-compare/2",
        "definition": a.data["definition"],
        "a": snapshot_json(a.snapshot) | {"models": a.data["models"]},
        "b": snapshot_json(b.snapshot) | {"models": b.data["models"]},
        "headline": headline,
        "claims_by_task": _side_by_side(tasks(a), tasks(b)),
        "weight_formats": formats,
        "licenses": _side_by_side(distribution(msa, "licenses"), distribution(msb, "licenses")),
        "models_per_dataset": _side_by_side(distribution(msa, "datasets"), distribution(msb, "datasets")),
        "models_per_architecture": _side_by_side(
            distribution(msa, "architectures"), distribution(msb, "architectures")
        ),
        "caveats": caveats,
    }
