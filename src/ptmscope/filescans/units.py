"""One repository, one unit of work: read each model file's deciding bytes over HTTP ranges, write Parquet.

A unit needs no database, like a clone unit (``ptmscope.clone.units``): it writes its rows as
Parquet partitions (``file_scans`` and ``file_scan_repos``) under a parts folder that the driver
(``ptmscope.filescans.pipeline``) ingests, so the same function runs in a local process pool or
on Dask workers that share the folder. The ``file_scan_repos`` partition is written last: its
presence means the unit finished, and a run killed before it scans the repo again.

Each file is opened at its resolve URL (one request in the ``resolvers`` bucket, which the
driver paces), then read with range requests at the redirect target, never in full
(``ptmscope.scanners.remote``). A file whose verdict needs more than the byte budget gets an
``unparseable`` finding, never a pass. Files the listing names as text (docs, configs, code,
images) are not read, as in ``ptmscope scan OWNER/NAME``.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ptmscope import __version__
from ptmscope.scanners.hub import wants
from ptmscope.scanners.interface import FileResult, ScannedFile, ScanOptions, SkippedFile
from ptmscope.scanners.remote import HttpRangeFile, RemoteReadError, scan_remote

MAX_FINDINGS = 50
"""Findings kept per file in the store (the most severe first); the rule ids are all kept."""
MAX_TEXT = 500
"""Characters kept of a finding's message or evidence (they are untrusted text)."""

SCAN_COLUMNS: dict[str, pa.DataType] = {
    "repo_id": pa.string(),
    "path": pa.string(),
    "oid": pa.string(),
    "revision": pa.string(),
    "size": pa.int64(),
    "format": pa.string(),
    "verdict": pa.string(),
    "rules": pa.list_(pa.string()),
    "findings": pa.string(),
    "reason": pa.string(),
    "hub_status": pa.string(),
    "bytes_read": pa.int64(),
    "requests": pa.int32(),
    "seconds": pa.float64(),
    "scanned_at": pa.timestamp("us", tz="UTC"),
    "tool_version": pa.string(),
}
REPO_COLUMNS: dict[str, pa.DataType] = {
    "repo_id": pa.string(),
    "revision": pa.string(),
    "status": pa.string(),
    "reason": pa.string(),
    "paths": pa.list_(pa.string()),
    "oids": pa.list_(pa.string()),
    "scanned": pa.int32(),
    "reused": pa.int32(),
    "bytes_read": pa.int64(),
    "bytes_total": pa.int64(),
    "requests": pa.int32(),
    "seconds": pa.float64(),
    "scanned_at": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class FileEntry:
    """A file the listing names: its path, size and content ids (LFS sha256, git blob id) when known."""

    path: str
    size: int | None = None
    blob_id: str | None = None
    sha256: str | None = None

    @property
    def oid(self) -> str | None:
        """The content id a verdict is stored under: the LFS sha256, else the git blob id."""
        return self.sha256 or self.blob_id


@dataclass(frozen=True)
class ScanTask:
    """What a unit does for one repo (plain data: it crosses to worker processes and Dask workers)."""

    repo_id: str
    revision: str | None
    """The commit to read (the snapshot's sha); None: ``main``."""
    files: tuple[FileEntry, ...] | None
    """The repo's files, from the snapshot; None: the unit lists them with the Hub's tree API."""
    known: frozenset[tuple[str, str]]
    """(path, oid) pairs whose verdict is already stored: not read again."""
    endpoint: str
    headers: dict[str, str]
    """Request headers (user agent; the token only when it belongs to ``endpoint``)."""
    token: str | bool
    """The token for the tree listing (False: none)."""
    parts: str
    budget: int
    """Bytes one file may fetch before its verdict is 'needs more than the budget'."""
    options: ScanOptions = field(default_factory=ScanOptions)
    hub_flagged: frozenset[str] | None = None
    """The files the Hub's own scanners flagged, when the snapshot holds the Hub's security status."""


@dataclass(frozen=True)
class UnitResult:
    """What a unit reports to the driver (its rows are in the partitions)."""

    repo_id: str
    status: str
    files: tuple[str, ...]
    """The partitions written: the file_scans one (if any rows) and the file_scan_repos one, last."""
    scanned: int = 0
    reused: int = 0
    failed: int = 0
    requests: int = 0
    reason: str | None = None


def partition_key(repo_id: str) -> str:
    """A file name for a repo's partitions (ids can hold characters a file name cannot)."""
    return hashlib.sha256(repo_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a scratch file renamed into place, so a reader never sees half a file."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, scratch)
    scratch.replace(path)


def run_unit(task: ScanTask) -> UnitResult:
    """Scan the wanted files of one repo and write its partitions; never raises for a repo's own failure."""
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    listed = task.files
    hub_status: dict[str, str] = {}
    requests = 0
    if listed is None:
        requests = 1
        try:
            listed, hub_status = list_files(task)
        except Exception as error:  # any listing failure is this repo's, stored with its reason
            return _write(task, [], _failed_repo(task, f"cannot list files: {_one_line(error)}", started), 0, 0)
    covered = [f for f in listed if wants(f.path)]
    reused = failed = 0
    for entry in sorted(covered, key=lambda f: f.path):
        if entry.oid is not None and (entry.path, entry.oid) in task.known:
            reused += 1
            continue
        row = scan_entry(task, entry)
        row["hub_status"] = hub_status.get(entry.path) or _hub_verdict(task, entry.path)
        requests += row["requests"]
        failed += row["verdict"] == "error"
        rows.append(row)
    scanned = len(rows)
    # A repo is done only when every file was read: one that failed makes the repo 'failed', so a rerun
    # tries it again (and reads only the files that failed: the others' verdicts are stored by oid).
    status = "failed" if failed else "ok"
    reason = _failure_reason(rows, failed) if failed else None
    now = datetime.now(UTC)
    repo_row = {
        "repo_id": task.repo_id,
        "revision": task.revision,
        "status": status,
        "reason": reason,
        "paths": [f.path for f in sorted(covered, key=lambda f: f.path)],
        "oids": [_row_oid(f, rows) for f in sorted(covered, key=lambda f: f.path)],
        "scanned": scanned,
        "reused": reused,
        "bytes_read": sum(r["bytes_read"] or 0 for r in rows),
        "bytes_total": sum(r["size"] or 0 for r in rows),
        "requests": requests,
        "seconds": time.perf_counter() - started,
        "scanned_at": now,
    }
    return _write(task, rows, repo_row, reused, failed)


def _hub_verdict(task: ScanTask, path: str) -> str | None:
    """The Hub's own verdict on a file from the model's security status: unsafe when listed with issues."""
    if task.hub_flagged is None:
        return None
    return "unsafe" if path in task.hub_flagged else "safe"


def _failed_repo(task: ScanTask, reason: str, started: float) -> dict[str, Any]:
    return {
        "repo_id": task.repo_id,
        "revision": task.revision,
        "status": "failed",
        "reason": reason[:MAX_TEXT],
        "paths": [],
        "oids": [],
        "scanned": 0,
        "reused": 0,
        "bytes_read": 0,
        "bytes_total": 0,
        "requests": 1,
        "seconds": time.perf_counter() - started,
        "scanned_at": datetime.now(UTC),
    }


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


def list_files(task: ScanTask) -> tuple[tuple[FileEntry, ...], dict[str, str]]:
    """The repo's files at the task's revision from the Hub's tree API, and the Hub's per-file security status."""
    from huggingface_hub import HfApi  # heavy: only units that list files import it (see scanners.hub)
    from huggingface_hub.hf_api import RepoFile  # the same package

    api = HfApi(endpoint=task.endpoint, token=task.token, library_name="ptmscope", library_version=__version__)
    entries: list[FileEntry] = []
    status: dict[str, str] = {}
    for item in api.list_repo_tree(task.repo_id, revision=task.revision, recursive=True):
        if not isinstance(item, RepoFile):
            continue
        lfs = item.lfs
        entries.append(FileEntry(item.path, item.size, item.blob_id, lfs.sha256 if lfs is not None else None))
        if item.security is not None:
            status[item.path] = str(item.security.status)[:100]
        if len(entries) > 100_000:
            raise RemoteReadError("the listing names more than 100,000 files")
    return tuple(entries), status


def _row_oid(entry: FileEntry, rows: list[dict[str, Any]]) -> str | None:
    """A file's oid: from the listing, else the one its read learnt (the X-Linked-Etag)."""
    if entry.oid is not None:
        return entry.oid
    return next((r["oid"] for r in rows if r["path"] == entry.path), None)


def _failure_reason(rows: list[dict[str, Any]], failed: int) -> str:
    reasons = sorted({r["reason"] for r in rows if r["verdict"] == "error" and r["reason"]})
    first = reasons[0] if reasons else "unreadable"
    more = f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""
    return f"{failed:,} of {len(rows):,} files could not be read: {first}{more}"


def _write(
    task: ScanTask, rows: list[dict[str, Any]], repo_row: dict[str, Any], reused: int, failed: int
) -> UnitResult:
    key = partition_key(task.repo_id)
    parts = Path(task.parts)
    files: list[str] = []
    if rows:
        target = parts / "file_scans" / f"{key}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomically(pa.Table.from_pylist(rows, schema=pa.schema(SCAN_COLUMNS)), target)
        files.append(str(target))
    target = parts / "file_scan_repos" / f"{key}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomically(pa.Table.from_pylist([repo_row], schema=pa.schema(REPO_COLUMNS)), target)
    files.append(str(target))
    return UnitResult(
        task.repo_id,
        repo_row["status"],
        tuple(files),
        scanned=repo_row["scanned"],
        reused=reused,
        failed=failed,
        requests=repo_row["requests"],
        reason=repo_row["reason"],
    )


def file_url(endpoint: str, repo_id: str, revision: str | None, path: str) -> str:
    """The resolve URL of a file (``{endpoint}/{repo}/resolve/{rev}/{path}``), quoted as huggingface_hub does."""
    rev = quote(revision or "main", safe="")
    return f"{endpoint.rstrip('/')}/{quote(repo_id, safe='/')}/resolve/{rev}/{quote(path, safe='/')}"


def scan_entry(task: ScanTask, entry: FileEntry) -> dict[str, Any]:
    """One file's row: open it at its resolve URL, read what its format needs, and say what was found."""
    started = time.perf_counter()
    shown = f"{task.repo_id}/{entry.path}"
    row: dict[str, Any] = {
        "repo_id": task.repo_id,
        "path": entry.path,
        "oid": entry.oid,
        "revision": task.revision,
        "size": entry.size,
        "hub_status": None,
        "bytes_read": 0,
        "requests": 0,
        "tool_version": __version__,
    }
    limit = task.options.max_file_size
    if limit is not None and entry.size is not None and entry.size > limit:
        result: FileResult = SkippedFile(shown, f"not scanned: larger than --max-file-size ({entry.size:,} bytes)",
                                         size=entry.size, unscanned=True)  # fmt: skip
        return _finish(row, result, started)
    remote = HttpRangeFile(file_url(task.endpoint, task.repo_id, task.revision, entry.path), task.headers)
    try:
        info = remote.open()
    except RemoteReadError as error:
        row["requests"] = remote.requests
        return _finish(row, SkippedFile(shown, f"cannot open: {error}", error=True, size=entry.size), started)
    row["oid"] = entry.oid or info.sha256 or info.etag
    row["revision"] = task.revision or info.commit
    row["size"] = info.size
    scan = scan_remote(remote, info.size, shown, entry.path.rsplit("/", 1)[-1], task.options, task.budget)
    row["bytes_read"] = scan.bytes_read
    row["requests"] = remote.requests
    return _finish(row, scan.result, started)


def _finish(row: dict[str, Any], result: FileResult, started: float) -> dict[str, Any]:
    if isinstance(result, SkippedFile):
        row.update(format=None, verdict=result.verdict, rules=[], findings="[]", reason=result.skip_reason[:MAX_TEXT])
    else:
        row.update(_scanned_columns(result))
    row["seconds"] = time.perf_counter() - started
    row["scanned_at"] = datetime.now(UTC)
    return row


def _scanned_columns(result: ScannedFile) -> dict[str, Any]:
    serious = [f for f in result.findings if f.severity != "info"]
    findings = [
        {
            "severity": f.severity,
            "rule": f.rule,
            "message": f.message[:MAX_TEXT],
            "member": None if f.member is None else f.member[:MAX_TEXT],
            "offset": f.offset,
            "evidence": None if f.evidence is None else f.evidence[:MAX_TEXT],
        }
        for f in result.findings[:MAX_FINDINGS]
    ]
    reason = next((f.message[:MAX_TEXT] for f in serious if f.severity == "unparseable"), None)
    return {
        "format": result.format,
        "verdict": result.verdict,
        "rules": list(dict.fromkeys(f.rule for f in serious)),
        "findings": orjson.dumps(findings).decode(),
        "reason": reason if result.verdict == "unparseable" else None,
    }
