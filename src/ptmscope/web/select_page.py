"""The select form: requirements from URL parameters, the shortlist from ``selection.engine``.

The parameters are ``select``'s requirement names (docs/select.md): ``task``, ``license``
(permissive, commercial, non-commercial, any, or licence ids), ``format`` (repeatable),
``framework``, ``language``, ``dataset`` (repeatable), ``claim`` (DATASET:METRIC) and
``min_claim``, ``max_params``, ``min_<attribute>`` (a minimum audit score), ``exclude_unsafe``,
``verified_owner``, ``top``. They go through the same validation as ``ptmscope select``
(``selection.requirements``), so a bad value is the same message.

The document is ``select --json --explain``'s, with the excluded candidates bounded: the
``EXCLUDED_PER_RULE`` most downloaded of each rule (``excluded_by_rule`` counts them all), so a
broad query stays fast. The form offers the snapshot's common frameworks, languages and
training datasets (``common_values``, read once per server).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.errors import InputError
from ptmscope.reports.select_json import selection_document
from ptmscope.selection import requirements as reqs
from ptmscope.selection.engine import FRAMEWORK_ALIASES, FRAMEWORK_TAGS, ISO_639_1, select
from ptmscope.store.store import Snapshot, Store

MAX_TOP = 100
EXCLUDED_PER_RULE = 50
COMMON_VALUES = 50
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
    elif "min_claim" in asked:
        raise InputError("min_claim needs claim")  # as the CLI's "--min-claim needs --claim"
    return reqs.load(None, overrides)


def selection(store: Store, snapshot: Snapshot, requirements: reqs.Requirements, run_id: int | None) -> dict[str, Any]:
    """The ``ptmscope.select/1`` document for ``requirements`` (scores from ``run_id``, when there is a run).

    As ``select --json --explain`` gives it, but ``excluded`` holds the ``EXCLUDED_PER_RULE`` most downloaded
    candidates of each rule (in the CLI's order), as ``excluded_per_rule`` says.
    """
    result = select(store, snapshot, requirements, run_id=run_id, explain=True, per_rule=EXCLUDED_PER_RULE)
    doc = selection_document(result)
    doc["excluded_per_rule"] = EXCLUDED_PER_RULE
    if run_id is None:
        doc["note"] = (
            f"the snapshot has no 'audit --all' run, so candidates are ranked without audit scores and minimum "
            f"scores exclude every candidate: run 'ptmscope audit --all --snapshot {snapshot.name}' once"
        )
    return doc


# The snapshot's common values of the list requirements, with the definitions ``selection.engine`` matches them by:
# framework tags (tensorflow read as tf, flax as jax), languages (the card's, the ISO 639 tags the Hub adds, the API's
# cardData.language; lower-cased), training datasets (lower-cased). Each counts models; a framework's count is of its
# tags (weight files also match it).
_COMMON_SQL = """
SELECT 'framework' AS field, value, count(DISTINCT repo_id) AS models FROM (
    SELECT repo_id, CASE tag WHEN 'tensorflow' THEN 'tf' WHEN 'flax' THEN 'jax' ELSE tag END AS value
    FROM model_tags WHERE snapshot_id = $sid AND tag IN $framework_tags)
WHERE value IN $frameworks GROUP BY value
UNION ALL
SELECT 'language', lower(l) AS value, count(DISTINCT repo_id) FROM (
    SELECT repo_id, unnest(languages) AS l FROM cards WHERE snapshot_id = $sid
    UNION ALL SELECT repo_id, tag FROM model_tags WHERE snapshot_id = $sid AND tag IN $iso
    UNION ALL SELECT repo_id, unnest(CASE json_type(card_data, '$.language')
                             WHEN 'ARRAY' THEN json_extract_string(card_data, '$.language[*]')
                             WHEN 'VARCHAR' THEN [json_extract_string(card_data, '$.language')] END)
              FROM models WHERE snapshot_id = $sid AND card_data IS NOT NULL)
WHERE l IS NOT NULL AND trim(l) <> '' GROUP BY 2
UNION ALL
SELECT 'dataset', lower(trim(dataset)), count(DISTINCT repo_id) FROM model_datasets
WHERE snapshot_id = $sid AND trim(dataset) <> '' GROUP BY 2
"""


def common_values(store: Store, snapshot: Snapshot, limit: int = COMMON_VALUES) -> dict[str, list[dict[str, Any]]]:
    """The form's suggestions: the ``limit`` most common frameworks, languages and datasets of the snapshot.

    ``{"framework": [{"value", "models"}], "language": [...], "dataset": [...]}``, most models first. A framework
    is offered by the name ``select`` reads it as (not an alias such as ``tensorflow`` or ``keras``).
    """
    frameworks = sorted(t for t in FRAMEWORK_TAGS if FRAMEWORK_ALIASES.get(t, t) == t)
    params = {"sid": snapshot.snapshot_id, "framework_tags": list(FRAMEWORK_TAGS), "frameworks": frameworks,
              "iso": sorted(ISO_639_1)}  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in ("framework", "language", "dataset")}
    for field, value, models in sorted(store.con.execute(_COMMON_SQL, params).fetchall(), key=lambda r: (-r[2], r[1])):
        if len(out[field]) < limit:
            out[field].append({"value": value, "models": int(models)})
    return out
