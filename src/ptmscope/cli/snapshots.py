"""``ptmscope snapshots``: list (or delete) the snapshots in the store."""

from __future__ import annotations

from pathlib import Path

import click

from ptmscope.cli.options import db_option, emit_json, json_option, open_store


@click.command()
@click.option("--delete", "delete_name", metavar="NAME", help="Delete this snapshot and all its rows.")
@json_option
@db_option
def snapshots(delete_name: str | None, as_json: bool, db_path: Path | None) -> None:
    """List the snapshots in the store: name, source, status, size.

    \b
    Examples:
      ptmscope snapshots
      ptmscope snapshots --json
      ptmscope snapshots --delete old-crawl
    """
    from rich.console import Console
    from rich.table import Table

    from ptmscope.reports.safe import text
    from ptmscope.study.run import snapshot_json

    with open_store(db_path) as store:
        if delete_name:
            store.delete_snapshot(delete_name)
            click.echo(f"Deleted snapshot {delete_name!r}.", err=True)
            return
        rows = []
        for snap in store.snapshots():
            counts = store.counts(snap)
            rows.append(
                {
                    **snapshot_json(snap),
                    "models": counts["models"],
                    "cards": counts["cards"],
                    "organizations": counts["organizations"],
                }
            )
        location = store.location
    if as_json:
        emit_json({"store": location, "snapshots": rows})
        return
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (
        ("name", "left"),
        ("source", "left"),
        ("status", "left"),
        ("created", "left"),
        ("models", "right"),
        ("cards", "right"),
        ("orgs", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            text(row["name"], 50),
            row["source"],
            row["status"],
            row["created_at"][:19],
            f"{row['models']:,}",
            f"{row['cards']:,}",
            f"{row['organizations']:,}",
        )
    console = Console()
    console.print(f"store: {location}", style="dim")
    console.print(table if rows else "No snapshots yet: run 'ptmscope study' or 'ptmscope import'.")
