"""The audit as a rich report card in the terminal (rendered from the JSON document)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ptmscope.reports.safe import clean, text

OUTCOME_STYLE = {
    "true": ("✔", "green"),
    "false": ("✘", "red"),
    "not_available": ("?", "yellow"),
    "not_applicable": ("–", "dim"),
    "error": ("!", "magenta"),
}


def _bar(score: float | None, width: int = 20) -> Text:
    if score is None:
        return Text("inconclusive", style="dim italic")
    filled = round(score / 10 * width)
    color = "green" if score >= 7 else "yellow" if score >= 4 else "red"
    return Text.assemble(("█" * filled, color), ("·" * (width - filled), "dim"), f" {score:4.1f}")


def render_audit(doc: dict[str, Any], *, explain: bool = False) -> RenderableType:
    """The report card: scores, STRIDE risks, findings (all with --explain), lineage."""
    model = doc["model"]
    parts: list[RenderableType] = []
    context = doc["context"]
    where = "judged alone"
    if context:
        size = f", {context['models']:,} models" if context.get("models") is not None else ""
        how = f", {context['chosen']}" if context.get("chosen") else ""
        where = f"judged against snapshot {clean(context['snapshot'], 80)}{size}{how}"
    parts.append(
        Text.assemble(
            ("ptmscope audit  ", "bold"),
            text(model["repo_id"], 100, "bold cyan"),
            f" @ {model['sha'][:12]}" if model["sha"] else "",
            f"  ({model['source']}, {where})",
        )
    )
    for warning in (context or {}).get("warnings", []):
        parts.append(Text.assemble(("warning: ", "bold yellow"), text(warning, 400, "yellow")))

    scores = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    scores.add_column("attribute")
    scores.add_column("score")
    scores.add_column("checks", style="dim")
    for attribute, s in doc["scores"].items():
        scores.add_row(attribute, _bar(s["score"]), f"{s['conclusive']} conclusive, {s['inconclusive']} unknown")
    parts.append(scores)

    if doc["risks"]:
        parts.append(Rule(Text("Risks (STRIDE)", style="bold red"), align="left", style="red"))
        risks = Table(show_header=False, show_edge=False, box=None)
        risks.add_column("threat", style="red")
        risks.add_column("finding")
        for risk in doc["risks"]:
            risks.add_row(
                "".join(risk["stride"]),
                Text.assemble((risk["check"], "bold"), ": ", text(risk["evidence"] or risk["question"], 300)),
            )
        parts.append(risks)

    parts.append(Rule(Text("Findings" + (" (every point)" if explain else " to act on"), style="bold"), align="left"))
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column("check")
    table.add_column("attribute", style="dim")
    table.add_column("evidence")
    if explain:
        table.add_column("points", justify="right")
    for f in doc["findings"]:
        if not explain and f["outcome"] in ("true", "not_applicable"):
            continue
        symbol, style = OUTCOME_STYLE[f["outcome"]]
        evidence = text(f["evidence"] or "", 200)
        if explain and f["outcome"] == "false" and f["remediation"]:
            evidence = Text.assemble(evidence, "\n", ("→ " + f["remediation"], "italic dim"))
        row: list[RenderableType] = [Text(symbol, style=style), f["check"], f["attribute"], evidence]
        if explain:
            row.append("info" if f["informational"] else f"+{f['points_gained']:.2f} / −{f['points_lost']:.2f}")
        table.add_row(*row)
    parts.append(table)
    if not explain:
        parts.append(Text("Passing checks are hidden; --explain shows every point gained or lost.", style="dim"))

    lineage = doc["lineage"]
    if lineage["ancestors"] or lineage["children"] or lineage["warnings"]:
        parts.append(Rule(Text("Lineage", style="bold"), align="left"))
        for link in lineage["ancestors"]:
            line = Text.assemble(
                "  " * link["depth"], "↑ ", text(link["base"], 100, "cyan"),
                f" ({link['relation'] or 'base'}; ", text(", ".join(link["base_licenses"]) or "licence unknown", 80),
                ")" if link["in_snapshot"] else "; not in snapshot)",
            )  # fmt: skip
            if link["issue"]:
                line.append(f"  {link['issue']}", style="red")
            parts.append(line)
        if lineage["children"]:
            children = ", ".join(c["repo_id"] for c in lineage["children"][:5])
            parts.append(Text.assemble(f"↓ {lineage['descendants']:,} derived model(s), e.g. ", text(children, 300)))
        for warning in lineage["warnings"]:
            parts.append(Text.assemble(("warning: ", "bold yellow"), text(warning, 400)))
    return Group(*(Padding(p, (0, 0, 1, 0)) for p in parts))


def print_audit(doc: dict[str, Any], *, explain: bool = False, console: Console | None = None) -> None:
    """Print the report card."""
    (console or Console()).print(render_audit(doc, explain=explain))
