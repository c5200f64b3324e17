"""The study as a self-contained HTML report: one file, inline SVG figures, no scripts.

Every string from the data goes through Jinja2's autoescaping; the figures are SVG
made by ``ptmscope.reports.figures`` (text as paths, comments stripped). The page
loads nothing from the network, so it opens from disk anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ptmscope.reports import figures
from ptmscope.reports.safe import strip_controls
from ptmscope.study import paper


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

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


def write_study_html(data: dict[str, Any], directory: Path) -> Path:
    """Write ``index.html`` and ``study.json`` into ``directory``; return the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / "index.html"
    index.write_text(render_study_html(data), encoding="utf-8")
    (directory / "study.json").write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    return index
