"""One repository, one unit of work: bare-clone it (weights stay LFS pointers), read its history, write Parquet.

A unit needs no database: it writes its rows as Parquet partitions (``repo_clones`` and
``commits``) under a parts folder that the driver (``ptmscope.clone.pipeline``) ingests into the
store. So the same function runs in a local process pool or on Dask workers that share the
destination file system.

Every step of a unit is bounded in time: each ``git clone`` attempt by ``timeout`` (git is
killed after it), and reading the history by ``read_timeout``: it runs in a reader child
process (``ptmscope.clone.reader``) that is killed when it overruns, because libgit2 can loop
forever inside C on a corrupt repository. A stopped read makes the repo ``failed`` (with the
reason; a rerun tries it again unless ``--no-retry``), and the run goes on.

Cloning treats the registry as untrusted: the repo id must look like a Hub id before it names
a path; git runs with LFS smudging off, no credential helpers or prompts, hooks off, and only
http(s) allowed; a clone lands in a temporary folder and is renamed into place only when
complete, so a clone killed half-way leaves nothing that looks finished. Nothing from the
repository is ever checked out or run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ptmscope.clone.history import read_history, write_commits, write_parquet_atomically
from ptmscope.clone.reader import reader
from ptmscope.errors import HistoryError

# Hub repo ids: an optional namespace and a name of letters, digits, '-', '_', '.' (today at most 96
# characters each; older ids are longer, so up to 200, within a file name's 255 bytes).
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9_-])?"
_REPO_ID = re.compile(rf"^(?:{_PART}/)?{_PART}$")
LEGACY_DIR = "_legacy"
PARTS_DIR = ".ptmscope-parts"
PARTIAL_DIR = ".ptmscope-partial"

CLONE_COLUMNS = ("repo_id", "status", "path", "reason", "head", "commits", "signed_commits", "history_error",
                 "attempts", "seconds", "cloned_at")  # fmt: skip

# git, hardened: no LFS downloads, no credentials or prompts, no hooks, http(s) only.
GIT_CONFIG = (
    "filter.lfs.smudge=",
    "filter.lfs.process=",
    "filter.lfs.required=false",
    "credential.helper=",
    "core.hooksPath=/dev/null",
    "protocol.allow=never",
    "protocol.http.allow=always",
    "protocol.https.allow=always",
    "http.lowSpeedLimit=1000",
    "http.lowSpeedTime=60",
)
_PERMANENT = re.compile(r"error: (40[0134]|410)\b|not found|Authentication failed|could not read Username", re.I)
# The host is not there at all: retrying within this run does not help (a rerun tries again).
_UNREACHABLE = re.compile(r"Could not resolve (host|proxy)|Failed to connect|Connection refused|Couldn't connect", re.I)


def repo_path(root: Path, repo_id: str) -> Path | None:
    """Where the bare clone of ``repo_id`` lives under ``root``, or None for an id that is not safe as a path."""
    if len(repo_id) > 401 or not _REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        return None
    owner, _, name = repo_id.rpartition("/")
    return root / (owner or LEGACY_DIR) / f"{name}.git"


@dataclass(frozen=True)
class CloneTask:
    """What a unit does for one repo."""

    repo_id: str
    root: str
    """The destination folder (shared by every worker)."""
    parts: str
    """Where the unit writes its Parquet partitions."""
    url: str | None
    """The clone URL; None reads an existing bare clone under ``root`` only."""
    max_retries: int = 6
    timeout: float = 600.0
    """Seconds one git clone attempt may take before git is killed."""
    backoff: float = 1.0
    read_timeout: float | None = 600.0
    """Seconds reading the history may take (in a reader process, killed after); None reads in-process, unbounded."""


@dataclass(frozen=True)
class UnitResult:
    """What a unit reports back (its rows are in the Parquet files it names)."""

    repo_id: str
    status: str
    files: tuple[str, ...]
    history_error: bool = False
    """Cloned, but its history could not be read (a broken repository)."""
    unreachable: bool = False
    """Failed because the endpoint could not be reached at all (name, connection)."""


def is_unreachable(reason: str | None) -> bool:
    """A git failure that says the host could not be reached at all (not worth retrying now)."""
    return bool(reason) and _UNREACHABLE.search(reason or "") is not None


def git_env() -> dict[str, str]:
    """The environment git runs with: LFS content skipped, no prompts."""
    env = dict(os.environ)
    env.update({"GIT_LFS_SKIP_SMUDGE": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
                "GCM_INTERACTIVE": "never", "GIT_CONFIG_NOSYSTEM": "1"})  # fmt: skip
    return env


def clone_bare(url: str, target: Path, *, timeout: float) -> str | None:
    """Bare-clone ``url`` into ``target`` (which must not exist); None on success, else the reason."""
    command = ["git"]
    for setting in GIT_CONFIG:
        command += ["-c", setting]
    command += ["clone", "--bare", "--quiet", "--", url, str(target)]
    try:
        done = subprocess.run(command, capture_output=True, env=git_env(), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"git clone timed out after {timeout:.0f} s"
    except OSError as error:
        return f"git could not run: {error}"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return ("; ".join(lines[-3:]) or f"git clone exited with {done.returncode}")[:1_000]


def _key(repo_id: str) -> str:
    return hashlib.sha256(repo_id.encode()).hexdigest()[:24]


def run_unit(task: CloneTask) -> UnitResult:
    """Clone (unless already there) and read one repo; write its rows as Parquet. Never raises for a bad repo."""
    started = time.perf_counter()
    root = Path(task.root)
    target = repo_path(root, task.repo_id)
    row: dict[str, object] = {c: None for c in CLONE_COLUMNS}
    row.update(repo_id=task.repo_id, attempts=0, cloned_at=datetime.now(UTC))
    history: dict[str, object] | None = None
    commits_file = Path(task.parts) / "commits" / f"{_key(task.repo_id)}.parquet"
    if target is None:
        row.update(status="failed", reason="repo id is not safe as a path (not a Hub id)")
    else:
        reason = None
        if not (target / "HEAD").is_file():
            if task.url is None:  # reading an existing copy: a repo it lacks is simply not there
                return UnitResult(task.repo_id, "absent", ())
            else:
                reason, attempts = _clone_with_retries(task, target)
                row["attempts"] = attempts
        if reason is not None:
            row.update(status="failed", reason=reason)
        else:
            row.update(status="ok", path=str(target))
            history = _read(task, target, commits_file)
            if history.get("stopped"):  # a stuck read is the repo's failure: a rerun tries it again
                row.update(status="failed", reason=history["error"])
            elif history.get("error"):
                row["history_error"] = history["error"]
            else:
                row.update(head=history["head"], commits=history["commits"], signed_commits=history["signed"])
    row["seconds"] = round(time.perf_counter() - started, 3)
    files = _write_parts(Path(task.parts), task.repo_id, row, commits_file if history and history.get("ok") else None)
    return UnitResult(
        task.repo_id,
        str(row["status"]),
        files,
        history_error=row["history_error"] is not None,
        unreachable=row["status"] == "failed" and is_unreachable(str(row["reason"])),
    )


def _read(task: CloneTask, target: Path, commits_file: Path) -> dict[str, object]:
    """Read the history (in the reader process, bounded by ``read_timeout``) and write its commits partition."""
    commits_file.parent.mkdir(parents=True, exist_ok=True)
    if task.read_timeout is None:
        try:
            found = read_history(target, task.repo_id)
        except HistoryError as error:
            return {"error": str(error)[:1_000]}
        write_commits(commits_file, found.columns)
        return {"ok": True, "head": found.head, "commits": found.commits, "signed": found.signed}
    try:
        outcome = reader().read(target, task.repo_id, commits_file, timeout=task.read_timeout)
    except OSError as error:
        return {"error": f"the history reader could not run: {error}"[:1_000]}
    if outcome.error is not None:
        return {"error": outcome.error, "stopped": outcome.stopped}
    return {"ok": True, "head": outcome.head, "commits": outcome.commits, "signed": outcome.signed}


def _clone_with_retries(task: CloneTask, target: Path) -> tuple[str | None, int]:
    partial_root = Path(task.root) / PARTIAL_DIR
    partial_root.mkdir(parents=True, exist_ok=True)
    reason: str | None = "not tried"
    attempts = 0
    assert task.url is not None
    for attempt in range(task.max_retries + 1):
        attempts = attempt + 1
        scratch = partial_root / f"{_key(task.repo_id)}-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        reason = clone_bare(task.url, scratch, timeout=task.timeout)
        if reason is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            scratch.replace(target)
            return None, attempts
        shutil.rmtree(scratch, ignore_errors=True)
        if (_PERMANENT.search(reason) and "429" not in reason) or is_unreachable(reason):
            break
        time.sleep(min(30.0, task.backoff * 2**attempt))
    return reason, attempts


def _write_parts(parts: Path, repo_id: str, row: dict[str, object], commits_file: Path | None) -> tuple[str, ...]:
    """Write the unit's clone row; its commits file (written before) is named first, so a clones file always has
    its commits beside it."""
    key = _key(repo_id)
    written = []
    ts = pa.timestamp("us", tz="UTC")
    if commits_file is not None and commits_file.exists():
        written.append(str(commits_file))
    else:
        (parts / "commits" / f"{key}.parquet").unlink(missing_ok=True)  # never another run's stale commits
    schema = pa.schema([("repo_id", pa.string()), ("status", pa.string()), ("path", pa.string()),
                        ("reason", pa.string()), ("head", pa.string()), ("commits", pa.int32()),
                        ("signed_commits", pa.int32()), ("history_error", pa.string()), ("attempts", pa.int32()),
                        ("seconds", pa.float64()), ("cloned_at", ts)])  # fmt: skip
    path = parts / "repo_clones" / f"{key}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomically(pa.table({c: [row[c]] for c in CLONE_COLUMNS}, schema=schema), path)
    written.append(str(path))
    return tuple(written)
