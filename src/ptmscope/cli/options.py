"""Options shared by several commands, defined once."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from ptmscope.hub import DEFAULT_ENDPOINT
from ptmscope.progress import ProgressFn
from ptmscope.store.store import DB_ENV

F = TypeVar("F", bound=Callable[..., Any])


def db_option(fn: F) -> F:
    """``--db PATH`` (env PTMSCOPE_DB): the DuckDB store to use."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=DB_ENV,
        show_envvar=True,
        help="The DuckDB store file. Default: ptmscope.duckdb in your user cache directory.",
    )(fn)


def endpoint_option(fn: F) -> F:
    """``--endpoint URL`` (env HF_ENDPOINT): the hub to talk to; the real Hub by default."""
    return click.option(
        "--endpoint",
        metavar="URL",
        envvar="HF_ENDPOINT",
        show_envvar=True,
        default=DEFAULT_ENDPOINT,
        show_default=True,
        help="A Hugging Face-compatible hub: the real Hub, a mirror, or 'ptmscope serve-hub'.",
    )(fn)


def rate_limit_option(fn: F) -> F:
    """``--rate-limit SPEC``: per-bucket budgets, or a plan name."""
    return click.option(
        "--rate-limit",
        "rate_limit",
        metavar="SPEC",
        default="anonymous",
        show_default=True,
        help="Budgets to pace to until the hub's RateLimit headers say otherwise: a plan (anonymous, free, pro) "
        "or BUCKET=REQUESTS/SECONDS pairs, e.g. api=1000/300,resolvers=5000/300.",
    )(fn)


def parse_rate_limit(spec: str) -> Any:
    """Budgets from a --rate-limit value, or a usage error."""
    from ptmscope.hub.ratelimit import parse_budgets

    try:
        return parse_budgets(spec)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rate-limit") from error


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress bar per stage on stderr: done / total, rate and time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if not enabled:
        yield lambda stage, done, total: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[dim]{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, rate="")
            task_id = tasks[stage]
            elapsed = progress.tasks[task_id].elapsed or 0.0
            rate = f"{done / elapsed:,.1f}/s" if elapsed > 0.5 else ""
            progress.update(task_id, completed=done, total=total, rate=rate)

        yield update


def json_option(fn: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")(fn)


def open_store(db_path: Path | None, *, read_only: bool = False) -> Any:
    """Open the store (imported here so --help never loads duckdb)."""
    from ptmscope.store.store import Store

    return Store(db_path, read_only=read_only)


def stderr_console() -> Any:
    """A rich console on stderr for progress and summaries (stdout carries the data)."""
    from rich.console import Console

    return Console(stderr=True)


def emit_json(document: Any) -> None:
    """Write a JSON document to stdout."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


@contextmanager
def record_progress(label: str, enabled: bool = True) -> Iterator[ProgressFn]:
    """A progress display for record streams: records read, rate and elapsed time, on stderr."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ptmscope.reports.safe import clean

    if not enabled:
        yield lambda name, count, total: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:>10,.0f} records"),
        TextColumn("[dim]{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(name: str, count: int, total: int | None = None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(f"{label} {clean(Path(name).name, 60)}", total=None, rate="")
            task_id = tasks[name]
            elapsed = progress.tasks[task_id].elapsed or 0.0
            rate = f"{count / elapsed:,.0f}/s" if elapsed > 0.5 else ""
            progress.update(task_id, completed=count, rate=rate)

        yield update


def resolve_snapshot(store: Any, name: str) -> Any:
    """The snapshot called ``name``; a bundled one is imported (or re-read) on first use, with a note."""
    from ptmscope.sample import BUNDLES, ensure_bundled, is_current

    if name not in BUNDLES:
        return store.snapshot(name)
    existing = store.find_snapshot(name)
    if not is_current(existing):
        err = stderr_console()
        verb = "Importing" if existing is None else "Re-reading"
        err.print(f"{verb} the bundled snapshot {name}: {BUNDLES[name].description} (offline, a few seconds)...")
        reading = getattr(store, "read_only", False)
        if reading:  # a read-only command writes this once: the write lock is held for the import only
            store.reopen(read_only=False)
        try:
            with record_progress("importing", enabled=err.is_terminal) as progress:
                snapshot, _ = ensure_bundled(store, name, progress=progress)
        finally:
            if reading:
                store.reopen(read_only=True)
        return snapshot
    return existing
