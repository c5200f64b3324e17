"""The scan context every format scanner writes into, and the types it shares with them.

One ``PickleContext`` is made per scanned file (``api.scan_file``) and handed down to every
scanner that reads part of the file: the zip reader, the pickle walker of each member, the
Keras config check and so on. It holds the file's limits (deadline, nesting depth, member size,
compression ratio, the pickle walker's memory bounds) and everything found so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ptmscope.scanners import policy
from ptmscope.scanners.interface import Finding, Severity

# The memo of one pickle: at most this many entries ...
MEMO_MAX_ENTRIES = 1 << 23
# ... and, past this many, at most one entry per MEMO_BYTES_PER_ENTRY bytes of pickle walked (real
# pickles spend 10-60 bytes per memoized object; a run of MEMOIZE opcodes spends one) ...
MEMO_BASE_ENTRIES = 1 << 20
MEMO_BYTES_PER_ENTRY = 4
# ... and at most this estimated footprint (bytes per entry plus what it holds: ``pickle._memo_cost``).
MEMO_MAX_BYTES = 1 << 30
# Stack entries plus marks of one pickle (real pickles stay in the thousands).
STACK_MAX = 1 << 20
# Bytes values copied out of the buffer per file; past it they are kept as offsets (Blob).
COPY_BUDGET = 256 << 20


class BufferLike(Protocol):
    """What the scanners need from a buffer: integer indexing, slicing and ``find``."""

    def __getitem__(self, key: Any) -> Any: ...

    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...


class ScanTimeout(Exception):
    """The per-file deadline passed while scanning."""


class Global:
    """An imported object: ``module.name`` (the symbolic value the pickle walker pushes for it)."""

    __slots__ = ("module", "name", "offset")

    def __init__(self, module: str, name: str, offset: int) -> None:
        self.module = module
        self.name = name
        self.offset = offset

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class ImportSite:
    """Where one global was first imported, and whether it was called."""

    module: str
    name: str
    offset: int
    opcode: str
    called: bool = False
    count: int = 1


@dataclass
class PickleContext:
    """Shared state of one file's analysis: limits and the facts collected so far.

    Every format scanner writes into the same context, so a zip member's pickle findings and
    the zip's own findings end up in one list; ``max_depth`` bounds nesting of archives and
    pickles alike.
    """

    deadline: float
    max_depth: int = 4
    max_member_size: int = 1 << 30
    max_ratio: float = 200.0
    findings: list[Finding] = field(default_factory=list)
    imports: dict[tuple[str | None, str, str], ImportSite] = field(default_factory=dict)
    pickles: int = 0
    max_memo_entries: int = MEMO_MAX_ENTRIES
    max_memo_bytes: int = MEMO_MAX_BYTES
    memo_base_entries: int = MEMO_BASE_ENTRIES
    max_stack: int = STACK_MAX
    copy_budget: int = COPY_BUDGET
    """Bytes values still to be copied out of the buffer (then kept as offsets)."""
    allow_globals: tuple[str, ...] = ()
    """Extra safe globals (a policy file's ``allow-globals``; never override a dangerous verdict)."""
    deny_globals: tuple[str, ...] = ()
    """Extra dangerous globals (a policy file's ``deny-globals``)."""

    def check_time(self) -> None:
        """Raise ``ScanTimeout`` once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise ScanTimeout

    def add(
        self,
        severity: Severity,
        rule: str,
        message: str,
        member: str | None,
        offset: int | None = None,
        evidence: str | None = None,
    ) -> None:
        """Record a finding."""
        self.findings.append(Finding(severity, rule, message, member, offset, evidence))

    def record_import(self, member: str | None, module: str, name: str, offset: int, opcode: str) -> Global:
        """Note an import and return the symbolic value for it."""
        key = (member, module, name)
        site = self.imports.get(key)
        if site is None:
            self.imports[key] = ImportSite(module, name, offset, opcode)
        else:
            site.count += 1
        return Global(module, name, offset)

    def mark_called(self, member: str | None, func: Global) -> None:
        """Note that an imported global is called."""
        site = self.imports.get((member, func.module, func.name))
        if site is not None:
            site.called = True

    def import_findings(self) -> list[Finding]:
        """Classify every import seen once and turn the risky ones into findings."""
        out: list[Finding] = []
        for (member, module, name), site in self.imports.items():
            verdict, reason = policy.classify(module, name, self.allow_globals, self.deny_globals)
            if verdict == "safe":
                continue
            called = "imported and called" if site.called else "imported"
            rule = f"pickle-{verdict}-import"
            msg = f"{module}.{name} is {called} ({reason})"
            out.append(Finding(verdict, rule, msg, member, site.offset, f"{module}.{name}"))
        return out
