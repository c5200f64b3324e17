"""Which snapshot of a Hugging Face cache folder a revision means: one reader for audit and verify."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ptmscope.errors import InputError
from ptmscope.sources.hf_cache import hub_cache_snapshot, snapshot_folder
from ptmscope.sources.local import resolve_target

OLD = "f" * 40  # alphabetically last, downloaded first
NEW = "0" * 40  # alphabetically first, downloaded last


def _repo(cache: Path, name: str = "models--acme--tiny", refs: dict[str, str] | None = None) -> Path:
    repo = cache / name
    for commit, when in ((OLD, 1_600_000_000), (NEW, 1_700_000_000)):
        folder = repo / "snapshots" / commit
        folder.mkdir(parents=True)
        for file in ("config.json", "README.md"):
            (folder / file).write_text("{}", encoding="utf-8")
            os.utime(folder / file, (when, when))
    for ref, commit in (refs or {}).items():
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit, encoding="utf-8")
    return repo


def test_refs_main_decides(tmp_path):
    repo = _repo(tmp_path, refs={"main": OLD})
    assert snapshot_folder(repo) == (OLD, repo / "snapshots" / OLD)


def test_without_refs_the_newest_revision_not_the_alphabetically_last_hash(tmp_path):
    repo = _repo(tmp_path)
    assert snapshot_folder(repo) == (NEW, repo / "snapshots" / NEW)


@pytest.mark.parametrize(
    ("revision", "expected"),
    [("v1.0", OLD), (OLD, OLD), (NEW, NEW), ("main", NEW), ("a" * 40, None), ("../../etc", None), ("", NEW)],
)
def test_a_revision_asked_for(tmp_path, revision, expected):
    repo = _repo(tmp_path, refs={"main": NEW, "v1.0": OLD})
    found = snapshot_folder(repo, revision or None)
    assert (found[0] if found else None) == expected


def test_a_ref_that_holds_no_commit_is_not_followed(tmp_path):
    repo = _repo(tmp_path, refs={"main": "../../../../etc/passwd"})
    assert snapshot_folder(repo) == (NEW, repo / "snapshots" / NEW)  # the newest, as with no ref


def test_verify_and_audit_read_the_cache_the_same_way(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo = _repo(tmp_path)
    assert hub_cache_snapshot("models", "acme/tiny", None) == repo / "snapshots" / NEW
    assert hub_cache_snapshot("models", "acme/other", None) is None
    target = resolve_target(str(repo))
    assert target is not None and (target.kind, target.repo_id, target.revision) == ("hf-cache", "acme/tiny", NEW)


def test_a_cache_folder_without_snapshots_is_a_clear_error(tmp_path):
    (tmp_path / "models--acme--empty" / "snapshots").mkdir(parents=True)
    with pytest.raises(InputError, match="without snapshots"):
        resolve_target(str(tmp_path / "models--acme--empty"))


@pytest.mark.parametrize("target", ["/no/such/folder", "./missing", "~/nothing-here-4711", "a/b/c"])
def test_a_path_that_does_not_exist_is_an_error_not_a_repo_id(target):
    with pytest.raises(InputError, match="no such folder"):
        resolve_target(target)


def test_a_repo_id_is_left_to_the_caller():
    assert resolve_target("acme/tiny-model-that-is-not-here") is None
