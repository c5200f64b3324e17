"""Options and helpers shared by the commands, defined once.

Every command takes the same ``--db``, ``--endpoint``, ``--token``, ``--json`` and ``--snapshot``
from here, so their names, environment variables and defaults cannot drift apart. A command
module is imported only when its command runs (``ptmscope.cli.main``), so what is imported here
costs ``ptmscope --help`` nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ptmscope.hub import DEFAULT_ENDPOINT
from ptmscope.hub.ratelimit import parse_budgets
from ptmscope.progress import ProgressFn
from ptmscope.reports.safe import clean
from ptmscope.sample import BUNDLES, ensure_bundled, is_current
from ptmscope.store.store import DB_ENV, Snapshot, Store

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
    try:
        return parse_budgets(spec)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rate-limit") from error


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress bar per stage on stderr: done / total, rate and time left."""
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


def json_option(schema: str | None = None) -> Callable[[F], F]:
    """``--json``: the command's JSON document on stdout instead of tables (naming its schema when it has one)."""
    named = f" (schema {schema})" if schema else ""
    return click.option("--json", "as_json", is_flag=True, help=f"Print JSON{named} on stdout instead of tables.")


def token_option(fn: F) -> F:
    """``--token TOKEN`` (env PTMSCOPE_HF_TOKEN): a token for ``--endpoint``; never sent anywhere else."""
    return click.option(
        "--token",
        metavar="TOKEN",
        envvar="PTMSCOPE_HF_TOKEN",
        show_envvar=True,
        help="A token for --endpoint (gated or private models). Default: huggingface_hub's token (HF_TOKEN, else "
        "your saved login), sent only when --endpoint is the endpoint it belongs to (HF_ENDPOINT, else "
        "https://huggingface.co); never sent on a redirect to another host.",
    )(fn)


def snapshot_option(help: str) -> Callable[[F], F]:
    """``--snapshot/-s NAME``: the snapshot a command reads or writes; ``help`` says which and the default."""
    return click.option("--snapshot", "-s", "snapshot_name", metavar="NAME", help=help)


def open_store(db_path: Path | None, *, read_only: bool = False) -> Store:
    """Open the store at ``db_path`` (None: the default location)."""
    return Store(db_path, read_only=read_only)


def stderr_console() -> Console:
    """A rich console on stderr for progress and summaries (stdout carries the data)."""
    return Console(stderr=True)


def emit_json(document: Any) -> None:
    """Write a JSON document to stdout."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


@contextmanager
def record_progress(label: str, enabled: bool = True) -> Iterator[ProgressFn]:
    """A progress display for record streams: records read, rate and elapsed time, on stderr."""
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


def resolve_snapshot(store: Store, name: str) -> Snapshot:
    """The snapshot called ``name``; a bundled one is imported (or re-read) on first use, with a note."""
    if name not in BUNDLES:
        return store.snapshot(name)
    existing = store.find_snapshot(name)
    if existing is None or not is_current(existing):
        err = stderr_console()
        verb = "Importing" if existing is None else "Re-reading"
        err.print(f"{verb} the bundled snapshot {name}: {BUNDLES[name].description} (offline, a few seconds)...")
        reading = store.read_only
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
