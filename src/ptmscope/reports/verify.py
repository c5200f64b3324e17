"""``ptmscope verify`` output: a terminal report, a discrepancy table (terminal, CSV) and a figure.

Everything here formats the ``ptmscope.verify/1`` JSON document's ``results``
entries; nothing is computed. Model ids, dataset names and claim text come from
strangers and are shown through ``reports.safe``; figure labels are drawn with math-text
parsing off.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ptmscope.reports.figures import figure, style
from ptmscope.reports.safe import clean, text

_STYLE = {"consistent": "green", "discrepancy": "bold red", "no_matching_claim": "yellow", "failed": "magenta"}
_LABEL = {"consistent": "consistent", "discrepancy": "DISCREPANCY", "no_matching_claim": "no matching claim",
          "failed": "failed"}  # fmt: skip


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _interval(measured: dict[str, Any] | None) -> str:
    if not measured or measured.get("ci_low") is None:
        return "–"
    return f"[{measured['ci_low']:.4f}, {measured['ci_high']:.4f}]"


def print_result(result: dict[str, Any], console: Console | None = None) -> None:
    """One verification, as a short report on the terminal."""
    out = console or Console()
    data = result["dataset"]
    measured = result["measured"]
    claim = result["claim"]
    config = f" config {data['config']}" if data["config"] else ""
    rows: list[tuple[str, Text]] = [
        ("model", text(f"{result['repo_id']}" + (f" @ {result['sha'][:12]}" if result["sha"] else ""), 200)),
        ("task / metric", text(f"{result['task']} / {result['metric']}")),
        ("dataset", text(f"{data['name']} [{data['split']}]{config}  ({data['given']})", 200)),
    ]
    if measured:
        confidence = round(100 * measured["confidence"])
        examples = f"{data['examples']:,}" + (
            f" of {data['examples_total']:,}" if data["examples_total"] != data["examples"] else ""
        )
        rows.append(("measured", Text(f"{_value(measured['value'])}   {confidence}% CI {_interval(measured)}   "
                                      f"({examples} examples, {measured['resamples']:,} resamples, "
                                      f"seed {measured['seed']})")))  # fmt: skip
    if claim:
        note = f" (= {claim['value']:.4f})" if claim["value"] is not None else ""
        rows.append(("claimed", text(f"{claim['value_text']}{note}", 200)))
        if result["gap"] is not None:
            rows.append(("gap", Text(f"{result['gap']:+.4f} (claimed - measured; tolerance {result['tolerance']})")))
    verdict = result["verdict"]
    label = _LABEL.get(verdict, verdict) + (f" ({result['direction']})" if result.get("direction") else "")
    rows.append(("verdict", Text(label, style=_STYLE.get(verdict, ""))))
    rows.append(("why", text(result["explanation"], 2000)))
    for note in result["notes"]:
        rows.append(("note", text(note, 500)))
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def results_table(results: Sequence[dict[str, Any]], title: str) -> Table:
    """The discrepancy table of a --snapshot run."""
    table = Table(title=text(title, 200), title_justify="left")
    for name, justify in (("model", "left"), ("claimed", "right"), ("measured", "right"), ("95% CI", "right"),
                          ("gap", "right"), ("n", "right"), ("verdict", "left"), ("why", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in results:
        measured = r["measured"] or {}
        claim = r["claim"] or {}
        verdict = r["verdict"]
        table.add_row(
            text(r["repo_id"], 60),
            text(claim.get("value_text") or "–", 20),
            _value(measured.get("value")),
            _interval(r["measured"]),
            "–" if r["gap"] is None else f"{r['gap']:+.4f}",
            "–" if r["dataset"]["examples"] is None else f"{r['dataset']['examples']:,}",
            Text(_LABEL.get(verdict, verdict), style=_STYLE.get(verdict, "")),
            text(r["error"] or ("" if verdict in ("consistent", "discrepancy") else r["explanation"]), 120),
        )
    return table


CSV_COLUMNS = ("repo_id", "sha", "task", "metric", "dataset", "split", "examples", "claimed_text", "claimed",
               "measured", "ci_low", "ci_high", "gap", "verdict", "direction", "explanation")  # fmt: skip


def csv_text(results: Sequence[dict[str, Any]]) -> str:
    """The discrepancy table as CSV (one row per model; text fields made single-line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        measured = r["measured"] or {}
        claim = r["claim"] or {}
        writer.writerow([
            clean(r["repo_id"], 300), r["sha"] or "", r["task"] or "", r["metric"] or "",
            clean(r["dataset"]["name"] or r["dataset"]["given"], 300), r["dataset"]["split"],
            r["dataset"]["examples"] if r["dataset"]["examples"] is not None else "",
            clean(claim.get("value_text") or "", 100), _csv_number(claim.get("value")),
            _csv_number(measured.get("value")), _csv_number(measured.get("ci_low")),
            _csv_number(measured.get("ci_high")), _csv_number(r["gap"]), r["verdict"], r["direction"] or "",
            clean(r["explanation"], 1000),
        ])  # fmt: skip
    return buffer.getvalue()


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def write_figure(results: Sequence[dict[str, Any]], target: Path, title: str) -> Path:
    """Claimed vs measured (with its interval) per model, one row each; SVG or PNG by the file suffix."""
    shown = [r for r in results if r["measured"] and r["measured"]["value"] is not None]
    suffix = target.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError("the plot is written as .svg or .png")
    with style():
        height = 1.2 + 0.32 * max(1, len(shown))
        fig = figure(7.5, height)
        ax = fig.add_subplot()
        for y, r in enumerate(shown):
            m = r["measured"]
            color = "#c0392b" if r["verdict"] == "discrepancy" else "#3b6fb6"
            low = m["ci_low"] if m["ci_low"] is not None else m["value"]
            high = m["ci_high"] if m["ci_high"] is not None else m["value"]
            ax.errorbar([m["value"]], [y], xerr=[[m["value"] - low], [high - m["value"]]], fmt="o", color=color,
                        capsize=3, markersize=4, label="measured (CI)" if y == 0 else None)  # fmt: skip
            claimed = (r["claim"] or {}).get("value")
            if claimed is not None:
                ax.plot([claimed], [y], marker="D", color="#e07b39", markersize=5, linestyle="none", zorder=3,
                        label="claimed" if y == 0 else None)  # fmt: skip
        ax.set_yticks(range(len(shown)), [clean(r["repo_id"], 50) for r in shown])
        ax.invert_yaxis()
        metric = shown[0]["metric"] if shown else ""
        ax.set_xlabel(clean(f"{metric} (claimed ◆, measured ● with its interval; red: discrepancy)", 120))
        ax.set_title(clean(title, 120), loc="left")
        if shown:
            ax.legend(loc="lower right", fontsize=7)
        else:
            ax.text(0.5, 0.5, "no model could be measured", ha="center", va="center", transform=ax.transAxes)
        ax.grid(axis="x", alpha=0.3)
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".svg":
            fig.savefig(target, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(target, format="png", dpi=150, bbox_inches="tight")
    return target
