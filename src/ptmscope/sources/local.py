"""What a command was asked to look at, when it is on this machine: a model folder or a Hugging Face
cache folder (``models--owner--name``, or one of its ``snapshots/<commit>``). ``audit`` and
``verify`` resolve their targets here; a target that is not a local path is a repo id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ptmscope.errors import InputError
from ptmscope.sources.hf_cache import snapshot_folder


@dataclass(frozen=True)
class Target:
    """What the user asked to audit or verify, resolved."""

    kind: str
    """'snapshot', 'folder', 'hf-cache' or 'hub'."""
    repo_id: str
    path: Path | None = None
    revision: str | None = None


def _hf_cache_target(path: Path) -> Target | None:
    """A Hugging Face cache repo folder (models--owner--name) or one of its snapshots."""
    repo_dir, revision = None, None
    if path.name.startswith("models--"):
        repo_dir = path
    elif path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        repo_dir, revision = path.parent.parent, path.name
    if repo_dir is None:
        return None
    repo_id = repo_dir.name[len("models--") :].replace("--", "/")
    if not (repo_dir / "snapshots").is_dir() or not any((repo_dir / "snapshots").iterdir()):
        raise InputError(f"{path}: a Hugging Face cache folder without snapshots")
    found = snapshot_folder(repo_dir, revision)
    if found is None:
        raise InputError(f"{path}: the cache has no snapshot {revision or 'that refs/main points to'}")
    commit, folder = found
    return Target("hf-cache", repo_id, folder, commit)


def resolve_target(target: str, *, repo_id: str | None = None) -> Target | None:
    """A local target (folder or HF cache), or None when ``target`` names a repo id; a path that does
    not exist is an error, not a repo id to look up."""
    path = Path(target).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{target}: give a model folder, a Hugging Face cache folder or a repo id, not a file")
        cache = _hf_cache_target(path.resolve())
        if cache is not None:
            return Target(cache.kind, repo_id or cache.repo_id, cache.path, cache.revision)
        return Target("folder", repo_id or path.resolve().name, path)
    if target.startswith(("/", "./", "../", "~", ".\\")) or target.count("/") > 1:
        raise InputError(f"{target}: no such folder; not a model folder, and not a repo id (owner/name)")
    return None
