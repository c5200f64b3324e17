"""``ptmscope study``: the paper's registry measurements on a snapshot."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ptmscope.cli.options import db_option, emit_json, json_option, snapshot_option, stderr_console
from ptmscope.cli.session import open_store, resolve_snapshot
from ptmscope.reports.study_html import write_compare_html, write_study_html
from ptmscope.reports.study_terminal import print_study, render_compare
from ptmscope.sample import SAMPLE_SNAPSHOT
from ptmscope.store.store import default_db_path
from ptmscope.studies.run import SCHEMA, compare, run_study


@click.command()
@snapshot_option(
    "The snapshot to study ('latest' for the newest). Default: the bundled Feb-2022 Hub snapshot, imported on "
    "first use."
)
@click.option(
    "--compare",
    "compare_name",
    metavar="OTHER",
    help="Show another snapshot side by side, as shares of each one's models (sizes differ).",
)
@click.option(
    "--definition",
    type=click.Choice(["strict", "paper"]),
    default="strict",
    show_default=True,
    help="What counts as a machine-parseable claim (Fig. 7 and the Fig. 6 evaluation-dataset panel). "
    "strict: a dataset, a named metric and a numeric value, each value on its own. paper: the ICSE'23 "
    "artifact's code, quirks included (one unreadable value drops all of a model's claims). The output "
    "lists every rule on which the two differ, with the models each changes.",
)
@click.option(
    "--top",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Categories to list per distribution (datasets, architectures, licences, bases).",
)
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a self-contained HTML report (index.html with figures) into this folder.",
)
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL of every measurement instead of running it.")
@json_option(SCHEMA)
@db_option
def study(
    snapshot_name: str | None,
    compare_name: str | None,
    definition: str,
    top: int,
    html_dir: Path | None,
    show_sql: bool,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Measure a registry snapshot the way the ICSE 2023 study did.

    \b
    Reproduces Fig. 1 (download concentration, with npm and PyPI from the paper's
    artifact), Fig. 6 (models per dataset and per architecture), Fig. 7 (models with
    machine-parseable performance claims per task), the Table IV risks that registry
    metadata can support, and more: licences, weight formats, card sections,
    documented hyper-parameters and hardware, base-model lineage.

    \b
    Two snapshots are bundled and imported on first use, offline:
      hub-2022-02          the whole Hub of February 2022 (the paper's era), the default
      hub-2025-04-sample   2,057 models of April 2025 from ~25 fine-tune trees (not random)

    \b
    Examples:
      ptmscope study                                 # the bundled Feb-2022 Hub
      ptmscope study --definition paper              # Fig. 7 as the paper's own code counts it
      ptmscope study --json > study.json             # stable keys, see docs/study.md
      ptmscope study --snapshot mine --html report/  # open report/index.html
      ptmscope study --snapshot hub-2025-04-sample --compare hub-2022-02 --html eras/
      ptmscope study --sql                           # the queries behind every figure
    """
    if show_sql and (compare_name or html_dir or as_json):
        raise click.UsageError("--sql prints the queries only; it does not combine with --compare, --html or --json")

    err = stderr_console()
    exists = Path(db_path or default_db_path()).exists()  # none yet: the bundled snapshot creates it
    with open_store(db_path, read_only=exists) as store:  # a study never changes the store
        if store.read_only and store.pending_migrations:  # ... but a store an older ptmscope wrote is upgraded once
            store.reopen(read_only=False)
            store.reopen(read_only=True)
        names = [snapshot_name or SAMPLE_SNAPSHOT] + ([compare_name] if compare_name else [])
        snapshots = [resolve_snapshot(store, name) for name in names]

        result = run_study(store, snapshots[0], top=top, record_sql=show_sql, definition=definition)
        if show_sql:
            for key, sql in result.sql:
                click.echo(f"-- {key}  ($sid = {snapshots[0].snapshot_id}, definition {definition})\n{sql};\n")
            return
        other = run_study(store, snapshots[1], top=top, definition=definition) if compare_name else None

    if other is not None:
        document = compare(result, other)
        if html_dir is not None:
            index = write_compare_html(document, result.data, other.data, html_dir)
            err.print(f"Wrote {index}")
        if as_json:
            emit_json(document)
        else:
            Console().print(render_compare(document))
        return

    if html_dir is not None:
        index = write_study_html(result.data, html_dir)
        err.print(f"Wrote {index}")
    if as_json:
        emit_json(result.data)
    else:
        print_study(result.data)
