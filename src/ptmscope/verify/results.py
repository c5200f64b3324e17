"""A verification as a stored row (``store.verifications`` keeps them) and as JSON.

``save`` writes one verify invocation (one ``run_id``). No torch here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ptmscope import __version__
from ptmscope.store.verifications import insert, new_run_id

if TYPE_CHECKING:
    import duckdb

    from ptmscope.verify.run import Verification


def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or value != value else value


def row(verification: Verification, run_id: int, tolerance: float | None) -> tuple[Any, ...]:
    """The ``verifications`` row of one verification, in ``COLUMNS`` order."""
    v, e, c = verification, verification.estimate, verification.claim
    return (
        run_id, v.repo_id, v.sha, v.weights_sha256, v.model_source, v.task, v.metric, v.dataset, v.dataset_name,
        v.dataset_config, v.split, e.n if e else None, v.examples_total, _nan_to_none(e.value) if e else None,
        _nan_to_none(e.low) if e else None, _nan_to_none(e.high) if e else None, e.confidence if e else None,
        e.resamples if e else None, e.seed if e else None, tolerance, v.claimed, c.value_text if c else None,
        c.task_type if c else None, (c.dataset_type or c.dataset_name) if c else None,
        c.dataset_config if c else None, c.dataset_split if c else None,
        (c.metric_type or c.metric_name) if c else None, c.verified if c else None, v.gap, v.verdict,
        v.explanation[:2000], [n[:500] for n in v.notes[:20]], v.selected_from, v.created_at, v.seconds,
        v.runtime.get("ptmscope") or __version__, json.dumps(v.runtime) if v.runtime else None,
    )  # fmt: skip


def save(con: duckdb.DuckDBPyConnection, verifications: Sequence[Verification], *, run_id: int | None = None,
         tolerance: float | None = None) -> int:  # fmt: skip
    """Store ``verifications`` under one run id (new unless given); return the run id."""
    run = run_id if run_id is not None else new_run_id(con)
    insert(con, [row(v, run, tolerance) for v in verifications])
    return run


def as_json(verification: Verification, tolerance: float) -> dict[str, Any]:
    """One verification as the ``ptmscope.verify/1`` JSON document's ``results`` entry."""
    e, c = verification.estimate, verification.claim
    return {
        "repo_id": verification.repo_id,
        "sha": verification.sha,
        "source": verification.model_source,
        "weights_sha256": verification.weights_sha256,
        "task": verification.task,
        "metric": verification.metric,
        "dataset": {
            "given": verification.dataset,
            "name": verification.dataset_name,
            "config": verification.dataset_config,
            "split": verification.split,
            "examples": e.n if e else None,
            "examples_total": verification.examples_total,
        },
        "measured": None
        if e is None
        else {
            "value": _nan_to_none(e.value),
            "ci_low": _nan_to_none(e.low),
            "ci_high": _nan_to_none(e.high),
            "confidence": e.confidence,
            "resamples": e.resamples,
            "seed": e.seed,
        },
        "claim": None
        if c is None
        else {
            "task": c.task_type,
            "dataset": c.dataset_type or c.dataset_name,
            "config": c.dataset_config,
            "split": c.dataset_split,
            "metric": c.metric_type or c.metric_name,
            "value_text": c.value_text,
            "value": verification.claimed,
            "verified": c.verified,
        },
        "gap": verification.gap,
        "tolerance": tolerance,
        "verdict": verification.verdict,
        "direction": verification.direction,
        "explanation": verification.explanation,
        "notes": verification.notes,
        "error": verification.error,
        "seconds": round(verification.seconds, 3),
        "runtime": verification.runtime,
        "selected_from": verification.selected_from,
        "created_at": verification.created_at.astimezone(dt.UTC).isoformat(),
    }
