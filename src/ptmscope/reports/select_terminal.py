"""The selection as terminal tables (rendered from its JSON document)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ptmscope.reports.safe import text

SHORT = {"provenance": "prov", "reproducibility": "repro", "portability": "port", "documentation": "doc",
         "popularity": "pop", "maintenance": "maint", "security": "sec"}  # fmt: skip


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"


def print_selection(doc: dict[str, Any], *, explain: bool = False, console: Console | None = None) -> None:
    """Print the shortlist, why the rest were excluded and, with ``explain``, each exclusion."""
    console = console or Console()
    req = doc["requirements"]
    console.print(Text.assemble(
        ("ptmscope select  ", "bold"), text(doc["snapshot"]["name"], 60, "cyan"),
        f"  {doc['candidates']:,} candidates", f" for {req['task']}" if req["task"] else "",
        f", {doc['eligible']:,} eligible, in {doc['seconds']:.2f} s",
    ))  # fmt: skip
    table = Table(title="Shortlist", title_justify="left", show_edge=False, pad_edge=False, show_header=False)
    table.add_column("#", justify="right", style="bold")
    table.add_column("candidate")
    for item in doc["shortlist"]:
        pct = item["downloads_pct"]
        rank = item["rank_score"]
        line = Text.assemble(
            text(item["repo_id"], 100, "bold cyan"),
            f"  rank {_fmt(None if rank is None else 10 * rank)}",
            "  downloads " + ("unknown" if item["downloads"] is None else f"{item['downloads']:,}"),
            "" if pct is None else f" (percentile {100 * pct:.0f})",
        )
        if item["claim_text"]:
            line.append_text(Text.assemble("  claims ", text(item["claim_text"], 80)))
        scores = " · ".join(f"{SHORT[a]} {_fmt(item['scores'][a])}" for a in SHORT)
        line.append_text(Text(f"\nscores: {scores}", style="dim"))
        table.add_row(str(item["rank"]), line)
    console.print(table if doc["shortlist"] else Text("No model meets every requirement.", style="yellow"))
    if doc["excluded_by_rule"]:
        rules = ", ".join(f"{rule} {n:,}" for rule, n in doc["excluded_by_rule"].items())
        console.print(Text(f"Excluded by the first rule they fail: {rules}.", style="dim"))
    if explain and doc["excluded"]:
        excluded = Table(title="Excluded candidates", title_justify="left", show_edge=False, pad_edge=False)
        excluded.add_column("model")
        excluded.add_column("rule")
        excluded.add_column("why")
        for item in doc["excluded"][:200]:
            excluded.add_row(text(item["repo_id"], 60), item["rule"], text(item["reason"], 120))
        console.print(excluded)
        if len(doc["excluded"]) > 200:
            console.print(Text(f"... and {len(doc['excluded']) - 200:,} more (all of them in --json).", style="dim"))
