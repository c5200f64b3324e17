"""The stable Python API: ``ptmscope.scan``, ``audit``, ``study``, ``select`` and ``open_store``.

Each function is what the command of the same name does, minus the terminal: it returns the
typed result the command formats (``ScanReport``, ``ModelAudit``, ``StudyResult``, ``Selection``,
``Store``). These five names, their keyword arguments and the attributes of their results that
docs/api.md shows are the public API, versioned semantically; every other module of the
package is internal and may change in any release. ``import ptmscope`` loads this module only
when one of the five is first used (``ptmscope.__getattr__``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from ptmscope.audits.run import ModelAudit, audit_model
from ptmscope.audits.snapshot import AUTO_CONTEXT, audit_snapshot, choose_context
from ptmscope.errors import SnapshotNotFoundError
from ptmscope.sample import BUNDLES, SAMPLE_SNAPSHOT, ensure_bundled
from ptmscope.scanners import targets as scan_targets
from ptmscope.scanners.interface import ScanOptions, ScanReport
from ptmscope.scores.policy import load_weights
from ptmscope.selection import requirements as reqs
from ptmscope.selection.engine import Selection, latest_run
from ptmscope.selection.engine import select as run_select
from ptmscope.store.store import Snapshot, Store, default_db_path
from ptmscope.studies.run import StudyResult, run_study

__all__ = ["audit", "open_store", "scan", "select", "study"]

StrPath = str | PathLike[str]


def open_store(db: StrPath | None = None, *, read_only: bool = False) -> Store:
    """The DuckDB store at ``db`` (default: ``PTMSCOPE_DB``, else ptmscope.duckdb in the user cache directory).

    Use it as a context manager; ``store.query(sql, params)`` runs read-only SQL over the tables
    docs/store.md describes.
    """
    return Store(Path(db) if db is not None else None, read_only=read_only)


def scan(
    targets: Iterable[StrPath],
    *,
    max_file_size: int | None = None,
    timeout: float = 60.0,
    endpoint: str | None = None,
    token: str | None = None,
) -> ScanReport:
    """Statically scan files, folders (recursively) and Hub repositories (``owner/name[@revision]``).

    Nothing is loaded or executed. A target that is neither an existing path nor a repository id
    is listed in ``report.errors``; the rest are still scanned.
    """
    planned = scan_targets.plan([str(t) for t in targets])
    options = ScanOptions(max_file_size=max_file_size, timeout=timeout)
    return scan_targets.scan(planned, options, endpoint=endpoint, token=token)


def _snapshot(store: Store, name: str) -> Snapshot:
    """The snapshot ``name``; a bundled one is imported on first use."""
    if name in BUNDLES:
        return ensure_bundled(store, name)[0]
    return store.snapshot(name)


def audit(
    model: StrPath,
    *,
    snapshot: str | None = None,
    db: StrPath | None = None,
    repo_id: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    offline: bool = False,
    scan_files: bool | None = None,
    weights: StrPath | None = None,
) -> ModelAudit:
    """A model's reuse report card: a repo id, a local model folder or a Hugging Face cache folder.

    Judged against ``snapshot`` (default: the newest complete snapshot in the store; a bundled one
    is imported on first use). ``scan_files`` scans the model's files (default: yes for folders).
    """
    db_path = Path(db) if db is not None else default_db_path()
    if snapshot in BUNDLES:
        with Store(db_path) as store:
            ensure_bundled(store, snapshot)
    return audit_model(
        str(model),
        db_path=db_path,
        context=snapshot or AUTO_CONTEXT,
        repo_id=repo_id,
        endpoint=endpoint,
        offline=offline,
        weights=load_weights(Path(weights) if weights is not None else None),
        scan=scan_files,
        token=token,
    )


def study(
    snapshot: str = SAMPLE_SNAPSHOT, *, db: StrPath | None = None, definition: str = "strict", top: int = 10
) -> StudyResult:
    """The paper's measurements on ``snapshot`` (default: the bundled Feb-2022 Hub, imported on first use).

    ``result.data`` is the document ``ptmscope study --json`` prints (docs/study.md).
    """
    with open_store(db) as store:
        return run_study(store, _snapshot(store, snapshot), top=top, definition=definition)


def select(
    requirements: Mapping[str, Any] | StrPath | None = None,
    *,
    snapshot: str | None = None,
    db: StrPath | None = None,
    explain: bool = False,
    **overrides: Any,
) -> Selection:
    """Filter and rank a snapshot's models by requirements (a mapping or a YAML file, docs/select.md).

    Keyword ``overrides`` use the requirement names (``task="fill-mask", license="permissive"``).
    Audit scores come from the snapshot's latest ``audit --all`` run, made first when there is none.
    """
    if isinstance(requirements, Mapping):
        overrides = {**requirements, **overrides}
        requirements = None
    parsed = reqs.load(Path(requirements) if requirements is not None else None, overrides)
    with open_store(db) as store:
        if snapshot in BUNDLES:
            ensure_bundled(store, snapshot)
        info = choose_context(store, snapshot or AUTO_CONTEXT)
        if info is None:
            raise SnapshotNotFoundError(snapshot or "latest", [s.name for s in store.snapshots()])
        run_id = latest_run(store, info.snapshot)
        if run_id is None:
            run_id = audit_snapshot(store, info.snapshot).run_id
        return run_select(store, info.snapshot, parsed, run_id=run_id, explain=explain)
