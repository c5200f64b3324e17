"""The store side of the commands: ``--db``, opening the store, bundled snapshots, progress displays.

Kept apart from ``ptmscope.cli.options`` because it imports the store (duckdb) and the Hub's rate
limits (huggingface_hub); commands that never touch the store (``scan``) do not import it.
"""

from __future__ import annotations

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

from ptmscope.audits.snapshot import AUTO_CONTEXT, ContextInfo, choose_context
from ptmscope.cli.options import stderr_console
from ptmscope.errors import SnapshotNotFoundError
from ptmscope.hub.ratelimit import parse_budgets
from ptmscope.progress import ProgressFn
from ptmscope.reports.safe import clean
from ptmscope.sample import BUNDLES, ensure_bundled, is_current
from ptmscope.store.store import Snapshot, Store

F = TypeVar("F", bound=Callable[..., Any])


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


def open_store(db_path: Path | None, *, read_only: bool = False) -> Store:
    """Open the store at ``db_path`` (None: the default location)."""
    return Store(db_path, read_only=read_only)


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


def judging_snapshot(store: Store, name: str | None, err: Console) -> ContextInfo:
    """The snapshot named (a bundled one imported on first use), else the newest complete one; named on stderr.

    Returns the ``ContextInfo``; warns when the snapshot is partial or small.

    Raises:
        SnapshotNotFoundError: no such snapshot, or the store has none.
    """
    if name is not None and name != "latest":
        resolve_snapshot(store, name)  # imports a bundled snapshot on first use
    info = choose_context(store, name or AUTO_CONTEXT)
    if info is None:
        raise SnapshotNotFoundError(name or "latest", [s.name for s in store.snapshots()])
    skipped = f"; newer partial snapshots passed over: {', '.join(info.skipped[:3])}" if info.skipped else ""
    err.print(f"Snapshot {info.snapshot.name} ({info.models:,} models, {info.chosen}{skipped})", markup=False,
              highlight=False)  # fmt: skip
    for warning in info.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")
    return info
