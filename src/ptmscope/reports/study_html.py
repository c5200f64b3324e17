"""The study as a self-contained HTML report: one file, inline SVG figures, no scripts.

Every string from the data goes through Jinja2's autoescaping; the figures are SVG
made by ``ptmscope.reports.figures`` (text as paths, comments stripped). The page
loads nothing from the network, so it opens from disk anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ptmscope.reports import figures
from ptmscope.reports.safe import strip_controls
from ptmscope.studies import paper


def _environment() -> Any:
    def finalize(value: Any) -> Any:
        # Every string printed from the data loses its control characters; our own
        # markup (the SVG figures) passes through untouched.
        if isinstance(value, str) and not isinstance(value, Markup):
            return strip_controls(value)
        return value

    env = Environment(
        loader=PackageLoader("ptmscope", "reports/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters["num"] = lambda v: "–" if v is None else f"{v:,}"
    env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f}%"
    return env


def _figures(data: dict[str, Any]) -> dict[str, str]:
    ms = data["measurements"]
    dl = ms["downloads"]
    series: dict[str, list[int]] = {
        f"Hugging Face ({data['snapshot']['name']})": [r["downloads"] for r in dl["top100"]]
    }
    for registry, values in dl["registries"].items():
        if values.get("top100"):
            series[f"{registry} (ICSE'23 artifact)"] = values["top100"]
    out = {"fig1": figures.downloads_figure(series)}
    for key, measure, label in (
        ("fig6_datasets", "datasets", "models"),
        ("fig6_architectures", "architectures", "models"),
        ("licenses", "licenses", "models"),
    ):
        dist = ms[measure]
        labels = [*dist["counts"], "other"]
        values = [*dist["counts"].values(), dist["other"]]
        out[key] = figures.bar_figure(labels, values, xlabel=label, annotations=[f"{v:,}" for v in values])
    evals = data["fig6_eval_datasets"]
    out["fig6_eval"] = figures.bar_figure(
        [("models without claims" if k == "none" else k) for k in evals],
        list(evals.values()),
        xlabel="claims (models, for those without); log scale as in the paper",
        annotations=[f"{v:,}" for v in evals.values()],
        log=True,
    )
    tasks = data["claims_by_task"]
    shares = [v["with_claims"] / v["total"] if v["total"] else 0.0 for v in tasks.values()]
    out["fig7"] = figures.bar_figure(
        list(tasks),
        [100 * s for s in shares],
        xlabel="% of models with machine-parseable claims",
        annotations=[f"{v['with_claims']:,}/{v['total']:,}" for v in tasks.values()],
        color="#e07b39",
    )
    return out


def render_study_html(data: dict[str, Any]) -> str:
    """The report page as a string."""
    template = _environment().get_template("study.html.j2")
    return template.render(
        data=data,
        ms=data["measurements"],
        figures=_figures(data),
        sections=sorted(data["measurements"]["card_sections"]["sections"].items(), key=lambda kv: -kv[1]["filled"]),
        paper=paper,
        json_text=json.dumps(data, indent=1, default=str, ensure_ascii=False),
    )


def _compare_figures(doc: dict[str, Any]) -> dict[str, str]:
    a, b = doc["a"]["name"], doc["b"]["name"]

    def share(value: dict[str, Any] | None) -> float | None:
        return None if not value or value.get("share") is None else 100 * value["share"]

    headline = {k: v for k, v in doc["headline"].items() if v["a"]["of"] is not None}
    out = {
        "headline": figures.paired_bar_figure(
            [v["label"] for v in headline.values()],
            {a: [share(v["a"]) for v in headline.values()], b: [share(v["b"]) for v in headline.values()]},
            xlabel="% of each snapshot's models",
        )
    }
    for key, xlabel in (
        ("claims_by_task", "% of the task's models with machine-parseable claims"),
        ("licenses", "% of models declaring a licence"),
        ("weight_formats", "% of models whose file list is known"),
        ("models_per_architecture", "% of models declaring an architecture"),
    ):
        rows = doc[key]
        out[key] = figures.paired_bar_figure(
            list(rows),
            {a: [share(v["a"]) for v in rows.values()], b: [share(v["b"]) for v in rows.values()]},
            xlabel=xlabel,
        )
    return out


def render_compare_html(doc: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> str:
    """The comparison page: shares side by side, then each snapshot's own study."""
    template = _environment().get_template("compare.html.j2")
    return template.render(
        doc=doc,
        studies=[(a, _figures(a)), (b, _figures(b))],
        figures=_compare_figures(doc),
        json_text=json.dumps(doc, indent=1, default=str, ensure_ascii=False),
    )


def write_compare_html(doc: dict[str, Any], a: dict[str, Any], b: dict[str, Any], directory: Path) -> Path:
    """Write ``index.html`` (the comparison and both studies) and the three JSON documents."""
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / "index.html"
    index.write_text(render_compare_html(doc, a, b), encoding="utf-8")
    for name, document in (("compare.json", doc), ("study-a.json", a), ("study-b.json", b)):
        (directory / name).write_text(json.dumps(document, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    return index


def write_study_html(data: dict[str, Any], directory: Path) -> Path:
    """Write ``index.html`` and ``study.json`` into ``directory``; return the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / "index.html"
    index.write_text(render_study_html(data), encoding="utf-8")
    (directory / "study.json").write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    return index
