"""The select form: requirements from URL parameters, the shortlist from ``selection.engine``.

The parameters are ``select``'s requirement names (docs/select.md): ``task``, ``license``
(permissive, commercial, non-commercial, any, or licence ids), ``format`` (repeatable),
``framework``, ``language``, ``dataset`` (repeatable), ``claim`` (DATASET:METRIC) and
``min_claim``, ``max_params``, ``min_<attribute>`` (a minimum audit score), ``exclude_unsafe``,
``verified_owner``, ``top``. They go through the same validation as ``ptmscope select``
(``selection.requirements``), so a bad value is the same message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.errors import InputError
from ptmscope.reports.select_json import selection_document
from ptmscope.selection import requirements as reqs
from ptmscope.selection.engine import select
from ptmscope.store.store import Snapshot, Store

MAX_TOP = 100
_FLAGS = ("exclude_unsafe", "verified_owner", "allow_unknown_size")
_LISTS = {"format": "formats", "framework": "frameworks", "language": "languages", "dataset": "datasets"}


def _number(raw: str, name: str, *, integer: bool = False) -> float | int:
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number, not {raw[:40]!r}") from None


def form_values(params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The form's values as given (for filling the form again): single values and lists."""
    values: dict[str, Any] = {key: [] for key in _LISTS}
    for key, value in params:
        value = value.strip()[:200]
        if key in _LISTS:
            if value and value not in values[key]:
                values[key].append(value)
        elif value:
            values[key] = value
    return values


def requirements_from(values: dict[str, Any]) -> reqs.Requirements | None:
    """The requirements the form asks for; None for an empty form (nothing asked yet).

    Raises:
        InputError: a value ``select`` would refuse.
    """
    asked = {k: v for k, v in values.items() if v not in ([], "")}
    if not asked:
        return None
    overrides: dict[str, Any] = {_LISTS[k]: v for k, v in asked.items() if k in _LISTS}
    for key in ("task", "license"):
        overrides[key] = asked.get(key) or None
    for key in _FLAGS:
        overrides[key] = True if asked.get(key) in ("1", "on", "yes", "true") else None
    if "max_params" in asked:
        overrides["max_parameters"] = _number(asked["max_params"], "max_params", integer=True)
    overrides["top"] = min(int(_number(asked.get("top", "10"), "top", integer=True)), MAX_TOP)
    overrides["min_scores"] = {a: _number(asked[f"min_{a}"], f"min_{a}") for a in ATTRIBUTES if f"min_{a}" in asked}
    if "claim" in asked:
        dataset, _, metric = str(asked["claim"]).partition(":")
        if not metric:
            raise InputError("claim must be DATASET:METRIC")
        minimum = _number(asked["min_claim"], "min_claim") if "min_claim" in asked else None
        overrides["claim"] = {"dataset": dataset, "metric": metric, "min": minimum}
    return reqs.load(None, overrides)


def selection(store: Store, snapshot: Snapshot, requirements: reqs.Requirements, run_id: int | None) -> dict[str, Any]:
    """The ``ptmscope.select/1`` document for ``requirements`` (scores from ``run_id``, when there is a run)."""
    result = select(store, snapshot, requirements, run_id=run_id)
    doc = selection_document(result)
    if run_id is None:
        doc["note"] = (
            f"the snapshot has no 'audit --all' run, so candidates are ranked without audit scores and minimum "
            f"scores exclude every candidate: run 'ptmscope audit --all --snapshot {snapshot.name}' once"
        )
    return doc
