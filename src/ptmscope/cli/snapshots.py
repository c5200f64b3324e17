"""``ptmscope snapshots``: list (or delete) the snapshots in the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ptmscope.cli.options import db_option, emit_json, json_option
from ptmscope.cli.session import open_store
from ptmscope.reports.safe import clean, text
from ptmscope.sample import BUNDLES
from ptmscope.store.store import default_db_path
from ptmscope.studies.run import snapshot_json


def interactive() -> bool:
    """Whether a person can answer a question: stdin and stderr are terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


@click.command()
@click.option("--delete", "delete_name", metavar="NAME", help="Delete this snapshot and all its rows (asks first).")
@click.option(
    "--yes",
    "-y",
    "assume_yes",
    is_flag=True,
    help="Delete without asking (needed when no terminal can answer, e.g. in scripts and CI).",
)
@json_option()
@db_option
def snapshots(delete_name: str | None, assume_yes: bool, as_json: bool, db_path: Path | None) -> None:
    """List the snapshots in the store: name, source, status, size.

    Listing only reads the store: it opens it read-only, so it never changes the file (not even
    to upgrade an older store's schema) and runs beside other readers. --delete asks for confirmation on a terminal and
    needs --yes otherwise. A bundled snapshot (hub-2022-02, hub-2025-04-sample) can be
    deleted too, but ptmscope imports it again the next time a command uses it.

    \b
    Examples:
      ptmscope snapshots
      ptmscope snapshots --json
      ptmscope snapshots --delete old-crawl
      ptmscope snapshots --delete old-crawl --yes      # in a script
    """
    if delete_name:
        _delete(delete_name, assume_yes, db_path)
        return
    if assume_yes:
        raise click.UsageError("--yes only goes with --delete")

    target = db_path or default_db_path()
    if not Path(target).exists():
        if as_json:
            emit_json({"store": str(target), "snapshots": []})
        else:
            click.echo(f"No store at {target} yet: run 'ptmscope study' or 'ptmscope import'.", err=True)
        return
    with open_store(db_path, read_only=True) as store:
        rows = _rows(store)
        location = store.location
        pending = store.pending_migrations
    if pending:
        click.echo(
            f"This store was written by an older ptmscope ({len(pending)} schema upgrades pending); listing does not "
            "change it, the next writing command (import, crawl, study of a bundled snapshot) upgrades it.",
            err=True,
        )
    if as_json:
        emit_json({"store": location, "snapshots": rows})
        return
    _print_table(location, rows)


def _rows(store: Any) -> list[dict[str, Any]]:
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
    return rows


def _delete(name: str, assume_yes: bool, db_path: Path | None) -> None:
    with open_store(db_path) as store:
        snap = store.snapshot(name)  # SnapshotNotFoundError (exit 2) lists the names there are
        counts = store.counts(snap)
        shown = clean(name, 100)
        what = (
            f"snapshot {shown!r} ({snap.source}, {snap.status}, {counts['models']:,} models, {counts['cards']:,} cards)"
        )
        bundled = name in BUNDLES and snap.source == "bundled"
        note = (
            f"{shown} is a bundled snapshot: ptmscope imports it again (offline, a few seconds) the next time a "
            "command uses it, so deleting it only frees space until then."
            if bundled
            else "This cannot be undone."
        )
        if not assume_yes:
            if not interactive():
                raise click.UsageError(
                    f"deleting {what} needs --yes when no terminal can confirm it. {note}",
                    ctx=click.get_current_context(),
                )
            click.echo(note, err=True)
            if not click.confirm(f"Delete {what}?", default=False, err=True):
                click.echo("Nothing deleted.", err=True)
                return
        store.delete_snapshot(name)
    click.echo(f"Deleted {what}.", err=True)
    if bundled:
        click.echo("It will be imported again from the package the next time a command uses it.", err=True)


def _print_table(location: str, rows: list[dict[str, Any]]) -> None:
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
