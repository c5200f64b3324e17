"""The data types every scanner speaks: findings, per-file results, options and the report.

A scanner reads one file's bytes and returns raw, evidenced facts about it (``Finding``);
it never decides exit codes or formats anything. Results are frozen dataclasses so a report
can be handed to ``audit``, stored, or serialised without defensive copies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, get_args

Severity = Literal["info", "unparseable", "suspicious", "dangerous"]
"""How bad a finding is, from least to most severe (the order of ``SEVERITIES``)."""

SEVERITIES: tuple[Severity, ...] = get_args(Severity)

FailOn = Literal["dangerous", "suspicious", "unparseable"]
"""The thresholds the CLI accepts for ``--fail-on``."""


def severity_rank(severity: Severity) -> int:
    """Return the position of ``severity`` in ``SEVERITIES`` (info = 0, dangerous = 3)."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One evidenced fact about a scanned file."""

    severity: Severity
    """How bad it is."""
    rule: str
    """Stable rule id, e.g. ``pickle-dangerous-import`` (documented in docs/scanner.md)."""
    message: str
    """One human sentence; may contain untrusted text, so escape it before showing it."""
    member: str | None = None
    """Path inside a container (zip/tar/7z member, nested pickle), ``None`` for the file itself."""
    offset: int | None = None
    """Byte offset of the evidence within the member (or file), when known."""
    evidence: str | None = None
    """The exact thing seen, e.g. ``os.system`` for an import; untrusted text."""


@dataclass(frozen=True)
class ScannedFile:
    """A file that was read and analysed (possibly only partly: see ``complete``)."""

    path: str
    """The path as given or discovered (a Hub file is ``repo_id/filename``)."""
    format: str
    """The detected format, e.g. ``pytorch-zip``, ``pickle``, ``safetensors``, ``unknown``."""
    size: int
    """Size in bytes."""
    findings: tuple[Finding, ...]
    """Everything found, most severe first."""
    seconds: float = 0.0
    """Wall time spent on this file."""
    sha256: str | None = None
    """Content hash when it was computed (Hub downloads), else ``None``."""

    @property
    def verdict(self) -> Severity | Literal["clean"]:
        """The most severe finding's severity, or ``clean`` when there is none above info."""
        worst = max((severity_rank(f.severity) for f in self.findings), default=0)
        return "clean" if worst == 0 else SEVERITIES[worst]

    def is_skipped(self) -> bool:
        """Always ``False``; see ``SkippedFile``."""
        return False


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not analysed, and why (too large, unreadable, not a model format).

    Three kinds: ``error`` (unreadable, vanished, not a regular file, download failed: the run
    could not do what was asked), ``unscanned`` (it may hold a model but was not read, e.g.
    larger than ``max_file_size``: nobody vouched for it, so it counts as ``unparseable`` and
    the CLI fails the run on it unless ``--skipped ok``), and neither (empty, or a format that
    no model loader reads: nothing to vouch for).
    """

    path: str
    """The path as given or discovered."""
    skip_reason: str
    """Why it was skipped, for humans."""
    error: bool = False
    """True when the skip is an error (unreadable, vanished); False for a deliberate skip."""
    size: int | None = None
    """Size in bytes when known."""
    unscanned: bool = False
    """True when the file may hold a model but was deliberately not read (too large): it counts as
    ``unparseable`` (see ``ScanReport.unscanned``)."""

    @property
    def verdict(self) -> Literal["unparseable", "error", "skipped"]:
        """``unparseable`` for a file not scanned, ``error`` for one not readable, else ``skipped``."""
        return "unparseable" if self.unscanned else "error" if self.error else "skipped"

    def is_skipped(self) -> bool:
        """Always ``True``."""
        return True


FileResult = ScannedFile | SkippedFile


@dataclass(frozen=True)
class ScanOptions:
    """Knobs of one scan run; the CLI builds this, library callers may too."""

    max_file_size: int | None = None
    """Do not scan files larger than this many bytes (``None``: no limit); such a file is a
    ``SkippedFile`` with ``unscanned=True``. Large files are read a window at a time, so memory
    does not grow with size; this bounds time and bandwidth."""
    timeout: float = 60.0
    """Wall-clock seconds per file; past it the file gets an ``unparseable`` finding."""
    max_member_size: int = 1 << 30
    """Largest decompressed archive member (or compressed stream) that is analysed."""
    max_depth: int = 4
    """How deep archives inside archives and pickles inside pickles are followed."""
    max_ratio: float = 200.0
    """Compression ratio above which an archive member is reported as a zip bomb."""
    scan_unknown: bool = False
    """Also report files of unrecognised format as scanned (``unknown``) instead of skipped."""
    allow_globals: tuple[str, ...] = ()
    """Extra pickle globals to treat as safe (``"module.name"`` or ``"module.*"``): they turn a
    ``suspicious`` import safe and never override a ``dangerous`` one (a policy file's ``allow-globals``)."""
    deny_globals: tuple[str, ...] = ()
    """Extra pickle globals to treat as dangerous, even when allowlisted (``deny-globals``)."""


@dataclass(frozen=True)
class ScanReport:
    """The outcome of ``scan_paths``: one result per file, in a stable order."""

    results: tuple[FileResult, ...]
    """Scanned and skipped files."""
    errors: tuple[str, ...] = ()
    """Inputs that could not be resolved at all (missing path, unreachable repo)."""
    started: float = field(default_factory=time.time)
    """Unix time the scan started."""
    seconds: float = 0.0
    """Wall time of the whole scan."""

    @property
    def scanned(self) -> tuple[ScannedFile, ...]:
        """The files that were analysed."""
        return tuple(r for r in self.results if isinstance(r, ScannedFile))

    @property
    def skipped(self) -> tuple[SkippedFile, ...]:
        """The files that were not analysed."""
        return tuple(r for r in self.results if isinstance(r, SkippedFile))

    def has_errors(self) -> bool:
        """True when an input could not be resolved or a file could not be read."""
        return bool(self.errors) or any(s.error for s in self.skipped)

    def error_count(self) -> int:
        """Inputs that could not be resolved plus files that could not be read."""
        return len(self.errors) + sum(1 for s in self.skipped if s.error)

    def unscanned(self) -> tuple[SkippedFile, ...]:
        """Files that may hold a model but were not scanned (too large): each counts as ``unparseable``."""
        return tuple(s for s in self.skipped if s.unscanned)

    def worst(self) -> Severity | None:
        """The most severe finding over all files, or ``None`` when there is no finding."""
        ranks = [severity_rank(f.severity) for r in self.scanned for f in r.findings]
        return SEVERITIES[max(ranks)] if ranks else None

    def __str__(self) -> str:
        """One line per file with a finding or not scanned, then the counts (untrusted names are repr-quoted)."""
        lines = []
        for result in self.results:
            if isinstance(result, SkippedFile):
                lines.append(f"{'ERROR' if result.error else 'SKIPPED'} {result.path!r}: {result.skip_reason}")
            elif result.findings:
                rules = ", ".join(sorted({f.rule for f in result.findings}))
                lines.append(f"{result.verdict.upper()} {result.path!r} [{result.format}]: {rules}")
        lines += [f"ERROR {error!r}" for error in self.errors]
        worst = self.worst()
        counts = f"{len(self.scanned)} file(s) scanned, {len(self.skipped)} skipped"
        lines.append(f"{counts}; worst finding: {worst or 'none'}")
        return "\n".join(lines)

    def count_at_least(self, threshold: Severity) -> int:
        """How many files have a finding at or above ``threshold``."""
        floor = severity_rank(threshold)
        return sum(1 for r in self.scanned if any(severity_rank(f.severity) >= floor for f in r.findings))
