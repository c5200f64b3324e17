"""``ptmscope import``: load registry dumps into a snapshot."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from ptmscope.cli.options import db_option, emit_json, json_option, stderr_console
from ptmscope.cli.session import open_store, record_progress
from ptmscope.importer import import_paths
from ptmscope.reports.safe import text


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    required=True,
    metavar="NAME",
    help="Name of the new snapshot (names are never reused).",
)
@click.option("--append", is_flag=True, help="Add to an existing snapshot instead of creating one.")
@click.option("--repo-id", metavar="ID", help="Repo id for a single card file or model folder.")
@click.option(
    "--registry",
    type=click.Choice(["npm", "pypi", "huggingface"]),
    help="Registry of a package download table, when its file name does not say.",
)
@click.option(
    "--keep-cards",
    is_flag=True,
    help="Also store each card's bytes, so that 'ptmscope serve-hub' can serve its README.md.",
)
@click.option(
    "--front-matter",
    type=click.Choice(["hub-2022", "hub-2023"]),
    default="hub-2023",
    show_default=True,
    help="How to find a card's YAML metadata, as the Hub did when the data was collected. hub-2022 (the "
    "Hub until January 2023): the first '---' line anywhere opens it, so metadata after a title is read. "
    "hub-2023 (today): it must open the card. Blocks the rule does not read are still counted.",
)
@json_option()
@db_option
def import_(
    paths: tuple[Path, ...],
    snapshot_name: str,
    append: bool,
    repo_id: str | None,
    registry: str | None,
    keep_cards: bool,
    front_matter: str,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Import Hub dumps, model cards, organizations and download tables into a snapshot.

    \b
    ptmscope reads the shapes Hugging Face Hub data has been shared in, detected
    from the content, optionally gzip-compressed:
      - /api/models?full=true listings, model_info objects, huggingface_hub ModelInfo
        dumps: JSON array, JSON object keyed by id, or JSON Lines;
      - model cards: JSONL of {modelId, readme}, .md files, folders of <owner>/<name>/README.md;
      - a local model folder (config.json, weights, README.md);
      - organizations (CSV: Organization Name,URL,Type), monthly downloads
        (CSV: model,month_start,total_downloads), npm/PyPI download tables (ICSE'23 artifact);
      - SQLite tables with a modelId column; lists of repo ids.
    Field names that changed over the years are all read; a missing field is NULL.
    Records that cannot be read are counted, stored with their reason, and skipped:
    an id that is not a repo id ('..', 'a/b/../../c'), a number past 64 bits (stored as
    NULL), a line over 64 MiB or a CSV field over 16 MiB (skipped as it streams past, never
    held whole). A symlink out of a model folder is not followed. Memory stays bounded
    (docs/store.md). Ctrl-C or a kill keeps what was written; '--append' with the same
    files continues and marks the snapshot complete.

    \b
    Exit codes: 0 every file was read (bad records are counted, not fatal); 2 some
    files could not be read (how many is printed; the rest is kept), a usage or store
    error; 130 interrupted.

    \b
    Examples:
      ptmscope import models.jsonl.gz cards.jsonl.gz --snapshot hub-2024-06
      ptmscope import orgs.csv --snapshot hub-2024-06 --append
      ptmscope import ./my-model --repo-id me/my-model --snapshot local
      ptmscope import infos-2022.jsonl cards-2022.jsonl --snapshot old --front-matter hub-2022
    """
    err = stderr_console()
    with open_store(db_path) as store, record_progress("importing", enabled=err.is_terminal) as progress:
        report = import_paths(
            store,
            paths,
            snapshot_name,
            append=append,
            repo_id=repo_id,
            registry=registry,
            progress=progress,
            keep_files=keep_cards,
            front_matter="hub-2022" if front_matter == "hub-2022" else "hub-2023",
        )
        counts = store.counts(report.snapshot)
    stats = report.stats
    document = {
        "snapshot": report.snapshot.name,
        "status": report.snapshot.status,
        "seconds": round(report.seconds, 3),
        "models": stats.models,
        "cards": stats.cards,
        "organizations": stats.organizations,
        "monthly_downloads": stats.monthly_downloads,
        "registry_downloads": stats.registry_downloads,
        "bad_records": stats.bad_records,
        "duplicates": stats.duplicates,
        "card_status": dict(stats.card_status or {}),
        "field_issues": dict(stats.field_issues or {}),
        "files": [
            {
                "path": f.path,
                "records": f.records,
                "bad_records": f.bad_records,
                "error": f.error,
                "aggregate": f.aggregate,
            }
            for f in report.files
        ],
        "rows": counts,
    }
    if as_json:
        emit_json(document)
    else:
        _print_summary(document)
    failed = report.failed_files
    if failed:  # exit 2: not all of what was asked was read (the contract of docs/exit-codes.md)
        click.echo(
            f"{len(failed)} of {len(report.files)} input files could not be read (see above); what the others held "
            f"is kept in snapshot {report.snapshot.name!r}. Fix them and rerun with --append to add them "
            "(records already imported are kept once, not duplicated).",
            err=True,
        )
        raise click.exceptions.Exit(2)


def _print_summary(doc: dict[str, object]) -> None:
    console = stderr_console()
    table = Table(show_edge=False, pad_edge=False, title_justify="left")
    table.add_column("file")
    table.add_column("records", justify="right")
    table.add_column("unreadable", justify="right")
    table.add_column("note")
    for f in doc["files"]:  # type: ignore[attr-defined]
        error = (f["error"] or "").removeprefix(f"{f['path']}: ")
        note = text(error, 200, "yellow" if f["aggregate"] else "red")
        table.add_row(text(Path(f["path"]).name, 48), f"{f['records']:,}", f"{f['bad_records']:,}", note)
    console.print(table)
    console.print(
        Text.assemble(
            ("Snapshot ", ""),
            text(doc["snapshot"], 60, "bold cyan"),
            f": {doc['models']:,} models, {doc['cards']:,} cards, {doc['organizations']:,} organizations, "
            f"{doc['bad_records']:,} unreadable records ({doc['duplicates']:,} duplicates) in {doc['seconds']:.1f} s.",
        )
    )
    if doc["card_status"]:
        statuses = ", ".join(f"{k} {v:,}" for k, v in doc["card_status"].items())  # type: ignore[attr-defined]
        console.print(f"Cards: {statuses}.", style="dim")
    if doc["field_issues"]:
        issues = ", ".join(f"{k} {v:,}" for k, v in doc["field_issues"].items())  # type: ignore[attr-defined]
        console.print(Text.assemble("Fields present but unusable (stored as NULL): ", text(issues, 400)), style="dim")
