"""``ptmscope study``: the paper's registry measurements on a snapshot."""

from __future__ import annotations

from pathlib import Path

import click

from ptmscope.cli.options import (
    db_option,
    emit_json,
    json_option,
    open_store,
    record_progress,
    stderr_console,
)


@click.command()
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    metavar="NAME",
    help="The snapshot to study ('latest' for the newest). Default: the bundled Feb-2022 Hub sample, "
    "imported on first use.",
)
@click.option("--compare", "compare_name", metavar="OTHER", help="Show another snapshot side by side.")
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
@json_option
@db_option
def study(
    snapshot_name: str | None,
    compare_name: str | None,
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
    Examples:
      ptmscope study                                 # the bundled Feb-2022 Hub sample
      ptmscope study --json > study.json             # stable keys, see docs/study.md
      ptmscope study --snapshot mine --html report/  # open report/index.html
      ptmscope study --snapshot mine --compare hub-2022-02
      ptmscope study --sql                           # the queries behind every figure
    """
    from ptmscope.sample import SAMPLE_SNAPSHOT, ensure_sample
    from ptmscope.study.run import compare, run_study

    err = stderr_console()
    with open_store(db_path) as store:
        names = [snapshot_name or SAMPLE_SNAPSHOT] + ([compare_name] if compare_name else [])
        snapshots = []
        for name in names:
            if name == SAMPLE_SNAPSHOT:
                existing = store.find_snapshot(SAMPLE_SNAPSHOT)
                if existing is None or not existing.is_complete:
                    err.print("Importing the bundled Feb-2022 Hub sample (first use; about 10 s)...")
                with record_progress("importing", enabled=err.is_terminal) as progress:
                    snap, _ = ensure_sample(store, progress=progress)
            else:
                snap = store.snapshot(name)
            snapshots.append(snap)

        result = run_study(store, snapshots[0], top=top, record_sql=show_sql)
        if show_sql:
            for key, sql in result.sql:
                click.echo(f"-- {key}  ($sid = {snapshots[0].snapshot_id})\n{sql};\n")
            return
        other = run_study(store, snapshots[1], top=top) if compare_name else None

    if other is not None:
        document = compare(result, other)
        if as_json:
            emit_json(document)
        else:
            from rich.console import Console

            from ptmscope.reports.study_terminal import render_compare

            Console().print(render_compare(document))
        return

    if html_dir is not None:
        from ptmscope.reports.study_html import write_study_html

        index = write_study_html(result.data, html_dir)
        err.print(f"Wrote {index}")
    if as_json:
        emit_json(result.data)
    else:
        from ptmscope.reports.study_terminal import print_study

        print_study(result.data)
