"""Shared helpers for scanner tests: corpus location, scanning bytes, building payloads.

Malicious pickles are *built* here with ``pickle.dumps`` of objects whose ``__reduce__``
names a dangerous callable; nothing in the test suite ever loads one.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from ptmscope.scanners.api import scan_buffer, scan_file
from ptmscope.scanners.context import PickleContext
from ptmscope.scanners.interface import ScannedFile, ScanOptions, severity_rank

# Real model files, benign and MALICIOUS, from other scanners' test suites (tests/corpora/README.md):
# read as bytes and scanned, never loaded.
REPO_ROOT = Path(__file__).resolve().parents[2]
CORPORA = REPO_ROOT / "tests" / "corpora"


def corpus_rows() -> list[dict[str, str]]:
    """MANIFEST.tsv joined with BASELINES.tsv, one dict per corpus file."""
    manifest = CORPORA / "MANIFEST.tsv"
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    with (CORPORA / "BASELINES.tsv").open(encoding="utf-8") as handle:
        baselines = {r["path"]: r for r in csv.DictReader(handle, delimiter="\t")}
    for row in rows:
        row.update({f"baseline_{k}": v for k, v in baselines.get(row["path"], {}).items() if k != "path"})
    return rows


def scan_bytes(data: bytes, name: str = "blob") -> tuple[str, list]:
    """Scan in-memory bytes; return (format, findings with imports classified)."""
    ctx = PickleContext(deadline=time.monotonic() + 30)
    fmt = scan_buffer(data, 0, len(data), ctx, None, name)
    return fmt, ctx.findings + ctx.import_findings()


def worst(findings: list) -> str:
    """The most severe severity among findings, ``clean`` when none is above info."""
    ranks = [severity_rank(f.severity) for f in findings]
    order = ("clean", "unparseable", "suspicious", "dangerous")
    return order[max(ranks, default=0)] if max(ranks, default=0) else "clean"


def verdict_of(path: Path, **options: object) -> str:
    """The verdict of scanning one file (``skipped`` for a SkippedFile)."""
    result = scan_file(path, ScanOptions(**options))  # type: ignore[arg-type]
    return result.verdict if isinstance(result, ScannedFile) else "skipped"


class Reduce:
    """An object that pickles as ``func(*args)``: builds payloads without running them."""

    def __init__(self, func: object, *args: object) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args
