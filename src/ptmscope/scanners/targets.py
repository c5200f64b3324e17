"""What ``ptmscope scan`` is pointed at: files, folders and Hub repositories, scanned into one report.

``plan`` sorts the arguments (a path that exists is local; else ``[models/|datasets/|spaces/]
owner/name[@revision]`` is a Hub repository; anything else is an error in the report) and lists
the local files, so a caller can size a progress bar before any byte is read. ``scan`` then
scans the files and the repositories into one ``ScanReport``.

The Hub client (huggingface_hub, httpx) costs about 0.3 s and 12 MiB to import, so it is
imported only when a Hub repository is among the targets: a scan of local files (a pre-commit
hook) never pays for it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ptmscope.scanners.api import iter_files, scan_file
from ptmscope.scanners.interface import FileResult, ScanOptions, ScanReport

REPO_ID = re.compile(r"^(?:(?P<kind>models|datasets|spaces)/)?(?P<id>[\w.\-]+/[\w.\-]+)(?:@(?P<rev>[\w.\-/]+))?$")

Progress = Callable[[str, int], None]
"""Called after each file with its shown path and size in bytes."""


@dataclass(frozen=True)
class RepoRef:
    """A parsed ``[models/|datasets/|spaces/]owner/name[@revision]`` argument."""

    repo_id: str
    repo_type: str
    revision: str | None


def parse_repo_ref(text: str) -> RepoRef | None:
    """Parse a repository argument, or return None when it does not look like one."""
    match = REPO_ID.match(text)
    if match is None:
        return None
    kind = {"models": "model", "datasets": "dataset", "spaces": "space"}.get(match.group("kind") or "", "model")
    return RepoRef(match.group("id"), kind, match.group("rev"))


@dataclass
class ScanPlan:
    """The local files (path, shown name) and Hub repositories to scan, and the arguments that are neither."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    repos: list[RepoRef] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def local_bytes(self) -> int:
        """The local files' total size (a file that vanished counts 0)."""
        total = 0
        for path, _ in self.files:
            try:
                total += path.stat().st_size
            except OSError:
                continue
        return total


def plan(targets: Sequence[str]) -> ScanPlan:
    """Sort ``targets`` into local files (folders walked) and Hub repositories; the rest are errors."""
    out = ScanPlan()
    local: list[str] = []
    for target in targets:
        if Path(target).exists():
            local.append(target)
        elif (ref := parse_repo_ref(target)) is not None and not target.startswith((".", "/", "~")):
            out.repos.append(ref)
        else:
            out.errors.append(f"{target}: no such file or folder, and not a Hub repository id (OWNER/NAME)")
    out.files = list(iter_files(local, out.errors))
    return out


def scan(
    planned: ScanPlan,
    options: ScanOptions,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan a plan's files, then its Hub repositories (only the files worth scanning are downloaded)."""
    started_wall, started = time.time(), time.monotonic()
    advance = progress or (lambda _shown, _size: None)
    results: list[FileResult] = []
    errors = list(planned.errors)
    for path, shown in planned.files:
        result = scan_file(path, options, shown)
        results.append(result)
        advance(shown, result.size or 0)
    if planned.repos:
        from ptmscope.scanners.hub import scan_repo  # the Hub client, only for Hub targets (see the module doc)

        for ref in planned.repos:
            found, failed = scan_repo(
                ref, options, endpoint, str(cache_dir) if cache_dir else None, advance, token=token
            )
            results.extend(found)
            errors.extend(failed)
    return ScanReport(tuple(results), tuple(errors), started_wall, time.monotonic() - started)
