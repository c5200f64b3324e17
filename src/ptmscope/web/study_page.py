"""The study as linked bars: every bar of a distribution leads to the models behind it.

The numbers are the study's own (``studies.run.run_study``, what ``ptmscope study --json``
prints) where the study has the figure (Fig. 7 claims per task, licences, weight formats,
Fig. 6 datasets and architectures, Fig. 1's most downloaded models); tasks, libraries,
licence classes and flagged files are counted over the explorer's index, whose definitions
are the study's. Each bar's link selects the same models on ``/models``, so the count there
is the bar's count.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ptmscope.web.index import ModelIndex
from ptmscope.web.query import models_url

TOP = 15


def _bar(label: str, value: float, text: str, href: str | None, note: str | None = None) -> dict[str, Any]:
    return {"label": label, "value": value, "text": text, "href": href, "note": note}


def _figure(key: str, title: str, bars: list[dict[str, Any]], *, unit: str = "models", source: str = "study",
            note: str | None = None) -> dict[str, Any]:  # fmt: skip
    peak = max((b["value"] for b in bars), default=0) or 1
    for b in bars:
        b["width"] = round(100 * b["value"] / peak, 2)
    return {"key": key, "title": title, "unit": unit, "source": source, "note": note, "bars": bars}


def _claims_figure(data: dict[str, Any]) -> dict[str, Any]:
    folded = data["measurements"]["claims"]["folded"]
    bars = []
    for task, row in data["claims_by_task"].items():
        tasks = folded if task == "other" else [task]
        share = row["with_claims"] / row["total"] if row["total"] else 0.0
        bars.append(_bar(
            task, round(100 * share, 2), f"{row['with_claims']:,} / {row['total']:,}",
            models_url({"task": tasks, "claims": "yes"}),
            note="tasks where under 0.1% of models claim" if task == "other" else None,
        ))  # fmt: skip
    return _figure("fig7", "Fig. 7: models with machine-parseable performance claims, per task", bars, unit="%",
                   note=f"definition: {data['definition']}; a bar leads to the task's models with claims")  # fmt: skip


def _distribution(key: str, title: str, counts: dict[str, int], facet: str, none: int | None = None) -> dict[str, Any]:
    bars = [_bar(name, n, f"{n:,}", models_url({facet: name})) for name, n in counts.items()]
    if none:
        bars.append(_bar("(none declared)", none, f"{none:,}", models_url({facet: "none"})))
    return _figure(key, title, bars)


def _index_figure(index: ModelIndex, key: str, facet: str, title: str) -> dict[str, Any]:
    counts = index.counts(facet)[:TOP]
    bars = [_bar("(none)" if v == "none" else v, n, f"{n:,}", models_url({facet: v})) for v, n in counts]
    return _figure(key, title, bars, source="index")


def study_figures(data: dict[str, Any], index: ModelIndex) -> list[dict[str, Any]]:
    """The page's figures, each a list of bars with their links."""
    ms = data["measurements"]
    licenses = ms["licenses"]
    formats = ms["weight_formats"]["any"]
    exclusive = ms["weight_formats"]["exclusive"]
    figures = [
        _claims_figure(data),
        _index_figure(index, "tasks", "task", "Models per task (pipeline tag)"),
        _index_figure(index, "libraries", "library", "Models per library"),
        _distribution("licenses", "Licences (models declaring each)", licenses["counts"], "license", licenses["none"]),
        _index_figure(index, "license_classes", "license_class", "Licence classes"),
        _distribution(
            "formats",
            "Weight formats (models with each)",
            {k: v for k, v in formats.items() if v},
            "format",
            exclusive["no_weight_files"],
        ),
        _distribution(
            "datasets",
            "Fig. 6: models per training dataset",
            ms["datasets"]["counts"],
            "dataset",
            ms["datasets"]["none"],
        ),
        _distribution(
            "architectures", "Fig. 6: models per architecture", ms["architectures"]["counts"], "architecture"
        ),
        _index_figure(index, "flagged", "flagged", "Flagged files (ptmscope's stored scans, the Hub's scan)"),
    ]
    top = ms["downloads"]["top100"][:20]
    figures.append(_figure(
        "fig1", "Fig. 1: the most downloaded models",
        [_bar(r["repo_id"], r["downloads"], f"{r['downloads']:,}", f"/models/{quote(r['repo_id'], safe='/')}")
         for r in top],
        unit="downloads",
    ))  # fmt: skip
    return figures
