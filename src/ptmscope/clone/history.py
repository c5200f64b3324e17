"""Reading a bare clone's history in-process with pygit2 (libgit2): no git process per repo or per question.

One walk from every branch and tag visits each commit once and yields its author, dates,
message and signature (``ptmscope.clone.signatures``). The original ICSE'23 artifact ran
``git log --pretty=format:%GK`` once per repository instead, which also makes git call gpg for
every signed commit (``benchmarks/signatures.py`` compares the two). ``write_commits`` writes the
commits read as one Parquet partition (a unit, or the reader child of ``ptmscope.clone.reader``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pygit2
from pygit2.enums import RepositoryOpenFlag, SortMode

from ptmscope.clone.signatures import NONE, classify
from ptmscope.errors import HistoryError

MAX_MESSAGE = 1_000
MAX_NAME = 300
MAX_COMMITS = 1_000_000

COMMIT_COLUMNS = ("repo_id", "sha", "parents", "author", "authored_at", "committer", "committed_at", "signature",
                  "key_id", "message", "position")  # fmt: skip


@dataclass
class History:
    """A repository's commits (as column lists, ready for Arrow) and its HEAD."""

    head: str | None = None
    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in COMMIT_COLUMNS})
    signed: int = 0

    @property
    def commits(self) -> int:
        """Commits read."""
        return len(self.columns["sha"])


def _text(raw: bytes | None, limit: int) -> str | None:
    if raw is None:
        return None
    return raw[: limit * 4].decode("utf-8", errors="replace")[:limit]


def _when(seconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def read_history(path: Path, repo_id: str) -> History:
    """Every commit reachable from the branches and tags of the bare repository at ``path``.

    Raises:
        HistoryError: the repository cannot be opened or walked (broken, not a repository).
    """
    try:
        # A bare repository at exactly this path: no discovery upwards (faster, and never another repo).
        repo = pygit2.Repository(str(path), RepositoryOpenFlag.NO_SEARCH | RepositoryOpenFlag.BARE)
    except (pygit2.GitError, KeyError, OSError) as error:
        raise HistoryError(f"not a readable git repository: {error}") from error
    history = History()
    try:
        if not repo.head_is_unborn:
            history.head = str(repo.head.target)
        tips = []
        for raw_name in repo.raw_listall_references():
            if not raw_name.startswith((b"refs/heads/", b"refs/tags/")):
                continue
            name = raw_name.decode("utf-8", errors="replace")
            reference = repo.lookup_reference(name).resolve()
            try:
                target = reference.peel(pygit2.Commit)
            except (ValueError, pygit2.InvalidSpecError):
                continue  # a tag of a tree or a blob
            except (pygit2.GitError, KeyError) as error:
                raise HistoryError(f"{name[:200]} points to a missing object (a broken or truncated clone)") from error
            tips.append(target.id)
        if not tips:
            return history
        walker = repo.walk(tips[0], SortMode.TOPOLOGICAL | SortMode.TIME)  # git log --date-order
        for tip in tips[1:]:
            walker.push(tip)
        cols = history.columns
        for commit in walker:
            signature, _ = commit.gpg_signature
            kind, key_id = classify(signature)
            if kind != NONE:
                history.signed += 1
            author, committer = commit.author, commit.committer
            cols["repo_id"].append(repo_id)
            cols["sha"].append(str(commit.id))
            cols["parents"].append(len(commit.parent_ids))
            cols["author"].append(_text(author.raw_name, MAX_NAME))
            cols["authored_at"].append(_when(author.time))
            cols["committer"].append(_text(committer.raw_name, MAX_NAME))
            cols["committed_at"].append(_when(committer.time))
            cols["signature"].append(kind)
            cols["key_id"].append(key_id)
            cols["message"].append(_text(commit.raw_message, MAX_MESSAGE))
            cols["position"].append(len(cols["position"]))
            if len(cols["sha"]) >= MAX_COMMITS:
                break
    except (pygit2.GitError, KeyError, ValueError, OSError) as error:
        raise HistoryError(f"history could not be read: {error}"[:1_000]) from error
    return history


def write_commits(path: Path, commits: dict[str, list[object]]) -> None:
    """Write a history's commits as one Parquet partition, atomically (the reader process calls this)."""
    ts = pa.timestamp("us", tz="UTC")
    schema = pa.schema([("repo_id", pa.string()), ("sha", pa.string()), ("parents", pa.int32()),
                        ("author", pa.string()), ("authored_at", ts), ("committer", pa.string()),
                        ("committed_at", ts), ("signature", pa.string()), ("key_id", pa.string()),
                        ("message", pa.string()), ("position", pa.int32())])  # fmt: skip
    assert tuple(schema.names) == COMMIT_COLUMNS
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomically(pa.table(commits, schema=schema), path)


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a scratch file renamed into place, so a reader never sees half a file."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, scratch)
    scratch.replace(path)
