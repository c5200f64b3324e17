"""The Hugging Face cache: which snapshot folder of a cached repo a revision means.

One reader for ``audit``, ``verify`` and the datasets ``verify`` reads. The cache lays a repo
out as ``<kind>s--owner--name/{refs,snapshots,blobs}``: ``refs/<name>`` holds the commit a
branch or tag pointed to when it was downloaded, ``snapshots/<commit>/`` the files of that
commit. A revision is resolved the way huggingface_hub resolves it offline: through its ref
(``main`` when none is asked for), or as a commit that has a snapshot folder. Without a ref
to follow (a cache copied without ``refs/``), the newest revision is the one huggingface_hub's
cache scan (``scan_cache_dir``) saw modified last, never the alphabetically last commit hash
(hashes are not ordered in time).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from huggingface_hub import scan_cache_dir

_COMMIT = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[\w.\-]{1,200}")


def hf_home() -> Path:
    """``$HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface`` (read now)."""
    base = os.environ.get("XDG_CACHE_HOME")
    default = (Path(base) if base else Path.home() / ".cache") / "huggingface"
    return env_dir("HF_HOME", default)


def env_dir(variable: str, default: Path) -> Path:
    """A folder an environment variable names, else ``default``."""
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else default


def hub_cache() -> Path:
    """``$HF_HUB_CACHE``, else ``$HF_HOME/hub``."""
    return env_dir("HF_HUB_CACHE", hf_home() / "hub")


def repo_folder(kind: str, repo_id: str, cache_dir: Path | None = None) -> Path:
    """Where the cache keeps a ``kind`` ('models' or 'datasets') repo."""
    return (Path(cache_dir) if cache_dir is not None else hub_cache()) / f"{kind}--{repo_id.replace('/', '--')}"


def _ref(repo: Path, name: str) -> str | None:
    if not _NAME.fullmatch(name):  # a ref name never walks out of refs/
        return None
    path = repo / "refs" / name
    try:
        commit = path.read_text(encoding="utf-8").strip()[:100] if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return None
    return commit if _COMMIT.fullmatch(commit) else None


def _newest(repo: Path) -> str | None:
    """The revision huggingface_hub's cache scan saw modified last, among the repo's snapshots."""
    try:
        repos = scan_cache_dir(repo.parent).repos
    except Exception:  # a folder it cannot read as a cache: its own errors, OSError, ValueError
        repos = frozenset()
    revisions = [revision for cached in repos if Path(cached.repo_path) == repo for revision in cached.revisions]
    if revisions:
        return max(revisions, key=lambda r: (r.last_modified, r.commit_hash)).commit_hash
    # The scan refuses a repo it finds corrupted (a ref to a missing commit, say): the same measure,
    # taken here, over at most the first 10,000 files of each snapshot.
    dated = [(_last_modified(folder), folder.name) for folder in (repo / "snapshots").iterdir() if folder.is_dir()]
    return max(dated)[1] if dated else None


def _last_modified(folder: Path) -> float:
    """The newest modification time of the files a snapshot folder holds or links to (huggingface_hub's
    measure)."""
    newest = 0.0
    for n, path in enumerate(folder.rglob("*")):
        if n >= 10_000:
            break
        try:
            newest = max(newest, path.stat().st_mtime) if path.is_file() else newest
        except OSError:  # a link to a blob that is gone
            continue
    return newest


def snapshot_folder(repo: Path, revision: str | None = None) -> tuple[str, Path] | None:
    """(commit, folder) of a cached repo at ``revision`` (a ref or a commit; ``main`` by default), or None.

    With no revision asked for and no ``refs/main``, the newest cached revision.
    """
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    commit = _ref(repo, revision or "main")
    if commit is None and revision is not None and _NAME.fullmatch(revision):
        commit = revision  # a commit asked for by its hash
    if commit is None and revision is None:
        commit = _newest(repo)
    if commit is None or not _NAME.fullmatch(commit):
        return None
    folder = snapshots / commit
    return (commit, folder) if folder.is_dir() else None


def hub_cache_snapshot(kind: str, name: str, revision: str | None, cache_dir: Path | None = None) -> Path | None:
    """The cached folder of a ``kind`` ('models' or 'datasets') repo at ``revision``, or None.

    The cache is ``cache_dir``, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, read now.
    """
    found = snapshot_folder(repo_folder(kind, name, cache_dir), revision)
    return found[1] if found else None
