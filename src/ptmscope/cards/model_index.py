"""Performance claims in a card's ``model-index``, read two ways.

*Strict* (ptmscope's definition): every metric of every entry is a row; a row is a valid
claim when it names a dataset (``type`` or ``name``), names a metric (``type`` or
``name``) and holds a numeric value (a number, or text that is one, optionally with
``%``). Placeholders ("xx.xx", "WIP", "NA", "???") and other non-numbers are kept as rows
with their status, so they are counted apart, and one bad value costs only itself. Metrics
under the legacy ``model_index`` key are rows too, but not valid claims: the Hub never read
that key (on the Feb-2022 snapshot none of its 206 cards got the Hub's ``model-index`` tag,
while 2,750 of the 2,753 cards with ``model-index`` did).

*Paper* (the ICSE'23 artifact's ``PTM.get_claims``): ``cardData["model-index"][0]["results"]``
read in one ``try``; every result needs ``task`` and a ``dataset`` mapping, every metric
``name``, ``type`` and a value ``float()`` accepts, and the first failure anywhere drops
all of the model's claims. ``paper_read`` re-enacts that method step by step, so the
step that failed is known, and counts the metrics it would read.
"""

from __future__ import annotations

import math
import re
import reprlib
from dataclasses import dataclass, replace
from typing import Any

MAX_CLAIMS = 2_000


@dataclass(frozen=True, slots=True)
class Claim:
    """One metric of a card's model-index."""

    model_name: str | None
    task_type: str | None
    task_name: str | None
    dataset_type: str | None
    dataset_name: str | None
    dataset_config: str | None
    dataset_split: str | None
    metric_type: str | None
    metric_name: str | None
    value: float | None
    """The value when it is a finite number (or text holding one)."""
    value_text: str | None
    """The value as written, bounded."""
    verified: bool | None
    entry: int = 0
    """Position of its entry in the model-index (the paper reads entry 0 only)."""
    status: str = "valid"
    """Strict validity: valid | placeholder | not_numeric | no_dataset | no_metric | legacy_key."""
    paper: bool = False
    """The paper's method reads this metric."""


CLAIM_STATUSES: dict[str, str] = {
    "valid": "a dataset, a named metric and a numeric value",
    "placeholder": "a placeholder instead of a number ('xx.xx', 'WIP', 'NA', '???')",
    "not_numeric": "a value that is not a finite number ('95.1 ± 0.2', 'NaN', true, a list)",
    "no_dataset": "no dataset type or name",
    "no_metric": "no metric type or name",
    "legacy_key": "under the legacy 'model_index' key, which the Hub never read",
}


@dataclass(frozen=True, slots=True)
class ModelIndexRead:
    """What one model-index held, and what the paper's method made of it."""

    key: str
    """'model-index', or the legacy 'model_index' (which the paper's code never reads)."""
    entries: int
    metrics: int
    """Metrics with a value (every claim row)."""
    metrics_without_value: int
    paper_claims: int
    """Metrics the paper's method reads (0 when it fails)."""
    paper_error: str | None
    """The step of the paper's method that failed (a key of PAPER_ERRORS), when it failed."""
    paper_detail: str | None
    """What that step met, bounded."""


# The paper's method fails at one of these steps; the texts say what each costs.
PAPER_ERRORS: dict[str, str] = {
    "legacy_key": "the card uses the legacy 'model_index' key, which the paper's code never reads",
    "first_entry": "model-index is not a non-empty list (the code takes model-index[0])",
    "results": "the first entry has no 'results' list",
    "result": "a result is not a mapping",
    "task": "a result has no 'task'",
    "task_type": "a result's task is null or a number ('\"type\" in task' raises)",
    "dataset": "a result has no 'dataset' mapping",
    "metrics": "a result has no 'metrics' list",
    "metric_name": "a metric has no 'name'",
    "metric_type": "a metric has no 'type'",
    "value": "a value float() cannot read ('xx.xx', '95.1%', null, a list)",
}


# -- values ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*%?\s*$")
# Text that stands for a number not written yet (lower case; the store's migration uses it in SQL too).
PLACEHOLDER_SQL = (
    r"(?:n/?a|tbd|tba|todo|wip|none|null|unknown|coming soon|\?+|x+(?:[.,]x+)?|-+|—|_+|\.+|\*+|<[^>\d]{0,40}>|"
    r"\{[^}\d]{0,40}\}|\[[^\]\d]{0,40}\])\s*%?"
)
_PLACEHOLDER = re.compile(PLACEHOLDER_SQL, re.IGNORECASE)


def claim_value(value: Any) -> tuple[float | None, str | None]:
    """(the number or None, the value as written or None when there is no value)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, str(value)
    if isinstance(value, int | float):
        number = float(value)
        return (number if math.isfinite(number) else None), str(value)[:100]
    if isinstance(value, str):
        text = value.strip()[:100]
        if not text:
            return None, None
        if _NUMBER.match(text):
            number = float(text.rstrip("% "))
            return (number if math.isfinite(number) else None), text
        return None, text
    return None, str(value)[:100]


def claim_status(dataset: tuple[str | None, str | None], metric: tuple[str | None, str | None],
                 value: float | None, value_text: str) -> str:  # fmt: skip
    """The strict status of a metric with a value: value problems first, then identity."""
    if value is None:
        return "placeholder" if _PLACEHOLDER.fullmatch(value_text.strip()) else "not_numeric"
    if not any(dataset):
        return "no_dataset"
    if not any(metric):
        return "no_metric"
    return "valid"


# -- the lenient reader -------------------------------------------------------------------------


def _text(value: Any, limit: int = 300) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else None


def claims_from_model_index(model_index: Any) -> tuple[list[Claim], int]:
    """Every metric with a value in a model-index, read leniently (missing keys are None).

    Returns the claims (each with its strict status) and the number of metrics without a value.
    """
    claims: list[Claim] = []
    without_value = 0
    entries = model_index if isinstance(model_index, list) else [model_index]
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        name = _text(entry.get("name"))
        for result in _as_list(entry.get("results")) or ():
            if not isinstance(result, dict):
                continue
            task, dataset = result.get("task"), result.get("dataset")
            task_type = _text(task) if isinstance(task, str) else _text(_field(task, "type"))
            dataset_type = _text(dataset) if isinstance(dataset, str) else _text(_field(dataset, "type"))
            dataset_name = _text(_field(dataset, "name"))
            for metric in _as_list(result.get("metrics")) or ():
                if not isinstance(metric, dict):
                    continue
                raw = metric.get("value")
                value, value_text = claim_value(raw)
                if value_text is None:
                    without_value += 1
                    continue
                metric_type, metric_name = _text(metric.get("type")), _text(metric.get("name"))
                status = (
                    "not_numeric"  # a list, a mapping or a boolean is never a placeholder
                    if value is None and not isinstance(raw, str)
                    else claim_status((dataset_type, dataset_name), (metric_type, metric_name), value, value_text)
                )
                verified = metric.get("verified")
                claims.append(
                    Claim(
                        model_name=name,
                        task_type=task_type,
                        task_name=_text(_field(task, "name")),
                        dataset_type=dataset_type,
                        dataset_name=dataset_name,
                        dataset_config=_text(_field(dataset, "config")) or _text(_field(dataset, "args")),
                        dataset_split=_text(_field(dataset, "split")),
                        metric_type=metric_type,
                        metric_name=metric_name,
                        value=value,
                        value_text=value_text,
                        verified=verified if isinstance(verified, bool) else None,
                        entry=position,
                        status=status,
                    )
                )
                if len(claims) >= MAX_CLAIMS:
                    return claims, without_value
    return claims, without_value


# -- the paper's method -------------------------------------------------------------------------


def paper_read(card_data: dict[str, Any]) -> tuple[int, str | None, str | None]:
    """(metrics read, failed step, what it met) by the ICSE'23 artifact's ``get_claims``.

    The artifact's code, for reference (``plotData/ptm.py``)::

        results = self.carddata["model-index"][0]["results"]
        for r in results:
            task = r["task"]; dataset = r["dataset"]; assert type(dataset) is dict
            metrics += [Metric(info=m, dataset=dataset, task=task, ...) for m in r["metrics"]]
        # Metric: info["name"], info["type"], float(info["value"]), ..., "type" in task
        # any exception: return []
    """
    if "model-index" not in card_data:
        return (0, "legacy_key", None) if "model_index" in card_data else (0, None, None)
    step, met = "first_entry", card_data["model-index"]
    try:
        first = card_data["model-index"][0]
        step, met = "results", first
        results = first["results"]
        met = results
        count = 0
        for result in results:
            step, met = "result", result
            if not isinstance(result, dict):  # r["task"] raises TypeError on anything else YAML gives
                raise TypeError
            step = "task"
            task = result["task"]
            step, met = "dataset", result.get("dataset")
            if type(result["dataset"]) is not dict:
                raise AssertionError
            step, met = "metrics", result.get("metrics")
            for metric in result["metrics"]:
                step, met = "metric_name", metric
                metric["name"]
                step = "metric_type"
                metric["type"]
                step, met = "value", metric.get("value")
                float(metric["value"])
                step, met = "task_type", task
                "type" in task  # noqa: B015 - raises TypeError for a null or numeric task, as in the paper
                count += 1
        return count, None, None
    except Exception:  # the paper's bare except: any failure drops every claim of the model
        return 0, step, reprlib.repr(met)[:80]


def read_model_index(metadata: dict[str, Any]) -> tuple[list[Claim], ModelIndexRead | None]:
    """The claims of a card's metadata (strict statuses, paper flags) and a summary of the read."""
    key = "model-index" if "model-index" in metadata else "model_index" if "model_index" in metadata else None
    if key is None:
        return [], None
    model_index = metadata[key]
    claims, without_value = claims_from_model_index(model_index)
    paper_claims, error, detail = paper_read(metadata)
    if key == "model_index":  # the Hub gave none of these cards its model-index tag: not machine-read
        claims = [replace(c, status="legacy_key") for c in claims]
    if paper_claims:
        claims = [replace(c, paper=True) if c.entry == 0 else c for c in claims]
    read = ModelIndexRead(
        key=key,
        entries=len(model_index) if isinstance(model_index, list) else 1,
        metrics=len(claims),
        metrics_without_value=without_value,
        paper_claims=paper_claims,
        paper_error=error,
        paper_detail=detail,
    )
    return claims, read
