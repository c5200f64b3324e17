"""Clone units and the driver: hostile ids, broken repositories, interrupted runs, hardened git."""

from __future__ import annotations

import shutil

import pytest

from ptmscope.clone.pipeline import CloneOptions, clone_snapshot
from ptmscope.clone.units import CloneTask, git_env, repo_path, run_unit
from ptmscope.records import ModelRecord
from ptmscope.store.writer import SnapshotWriter
from tests.gitrepos import make_bare_repo, make_signers


@pytest.mark.parametrize(
    "repo_id", ["../x", "a/../../b", "a/b/c", ".hidden", "-rf", "a/.git", "", "a" * 201, "x/y\n", "a/ b", "a\\b"]
)
def test_hostile_repo_ids_never_name_a_path(repo_id, tmp_path):
    assert repo_path(tmp_path, repo_id) is None


def test_repo_paths_of_hub_ids(tmp_path):
    assert repo_path(tmp_path, "google/bert_uncased-L2.H128") == tmp_path / "google" / "bert_uncased-L2.H128.git"
    assert repo_path(tmp_path, "gpt2") == tmp_path / "_legacy" / "gpt2.git"


def test_git_runs_without_lfs_content_prompts_or_hooks():
    env = git_env()
    assert env["GIT_LFS_SKIP_SMUDGE"] == "1" and env["GIT_TERMINAL_PROMPT"] == "0"
    from ptmscope.clone.units import GIT_CONFIG

    assert "core.hooksPath=/dev/null" in GIT_CONFIG and "protocol.allow=never" in GIT_CONFIG


def snapshot_with(store, ids):
    snap = store.create_snapshot("s", source="import")
    writer = SnapshotWriter(store, snap)
    for repo_id in ids:
        writer.add(ModelRecord(repo_id), "test", repo_id)
    writer.flush()
    return snap


def test_broken_repositories_and_unsafe_ids_are_stored_not_raised(store, tmp_path):
    signers = make_signers(tmp_path / "keys")
    make_bare_repo(repo_path(tmp_path / "d", "ok/fine"), signers, ["none", "gpg"], work=tmp_path / "w1")
    broken = repo_path(tmp_path / "d", "ok/broken")
    make_bare_repo(broken, signers, ["none"], work=tmp_path / "w2")
    shutil.rmtree(broken / "objects")
    (broken / "objects").mkdir()
    fake = repo_path(tmp_path / "d", "ok/fake")
    fake.mkdir(parents=True)
    (fake / "HEAD").write_text("not a ref\n")
    snap = snapshot_with(store, ["ok/fine", "ok/broken", "ok/fake", "ok/absent", "../evil"])
    report = clone_snapshot(
        store, snap, tmp_path / "d", endpoint=None, options=CloneOptions(existing_only=True, workers=1)
    )
    rows = {
        r[0]: r[1:]
        for r in store.query("SELECT repo_id, status, commits, signed_commits, history_error, reason FROM repo_clones")
    }
    assert rows["ok/fine"][:3] == ("ok", 2, 1)
    assert rows["ok/broken"][0] == "ok" and rows["ok/broken"][3]  # cloned, but its history could not be read
    assert rows["ok/fake"][3]
    assert rows["../evil"][0] == "failed" and "not safe" in rows["../evil"][4]
    assert "ok/absent" not in rows  # reading an existing copy: a repo it lacks is not there
    assert report.totals["history_errors"] == 2


def test_partitions_of_an_interrupted_run_are_ingested(store, tmp_path):
    signers = make_signers(tmp_path / "keys")
    make_bare_repo(repo_path(tmp_path / "d", "a/b"), signers, ["ssh"], work=tmp_path / "w")
    snap = snapshot_with(store, ["a/b"])
    parts = tmp_path / "d" / ".ptmscope-parts" / str(snap.snapshot_id)
    # A unit finished, then the driver was killed before ingesting its partitions.
    result = run_unit(CloneTask("a/b", str(tmp_path / "d"), str(parts), url=None))
    assert result.status == "ok" and len(result.files) == 2
    (parts / "commits").mkdir(exist_ok=True)
    (parts / "commits" / "orphan.parquet").write_bytes(b"a unit killed before its clone row")
    report = clone_snapshot(
        store, snap, tmp_path / "d", endpoint=None, options=CloneOptions(existing_only=True, workers=1)
    )
    assert report.recovered == 1 and report.attempted == 0
    assert store.query("SELECT repo_id, signature FROM commits") == [("a/b", "ssh")]
    assert not list(parts.rglob("*.parquet"))
