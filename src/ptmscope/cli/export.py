"""``ptmscope export``: write the store's tables as Parquet."""

from __future__ import annotations

from pathlib import Path

import click

from ptmscope.cli.options import db_option
from ptmscope.cli.session import open_store, resolve_snapshot
from ptmscope.store.store import default_db_path


@click.command()
@click.option(
    "--parquet",
    "parquet_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write one <table>.parquet file per table into.",
)
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    metavar="NAME",
    help="Export only this snapshot's rows (default: every snapshot).",
)
@db_option
def export(parquet_dir: Path, snapshot_name: str | None, db_path: Path | None) -> None:
    """Export every table of the store as Parquet (zstd), for pandas, Polars, Spark or DuckDB.

    The store is opened read-only: export never changes it and runs beside a study or a crawl
    (exporting a bundled snapshot that is not imported yet imports it first, the one write).

    \b
    Examples:
      ptmscope export --parquet out/
      ptmscope export --parquet out/ --snapshot hub-2022-02
    """
    exists = Path(db_path or default_db_path()).exists()  # none yet: a bundled snapshot creates it
    with open_store(db_path, read_only=exists) as store:
        snapshot = resolve_snapshot(store, snapshot_name) if snapshot_name else None
        written = store.export_parquet(parquet_dir, snapshot)
    for table, path in written.items():
        click.echo(f"{table}\t{path}")
