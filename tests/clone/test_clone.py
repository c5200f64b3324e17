"""Clone units and the driver: hostile ids, broken repositories, interrupted runs, hardened git."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

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


def plain_bare_repo(path, work, commits=3):
    """A bare repo made with real git whose objects stay loose (a local clone hard-links them)."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "a",
           "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@example.com"}  # fmt: skip
    work.mkdir(parents=True)

    def git(*args, cwd=work):
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout

    git("init", "-q", "-b", "main")
    for index in range(commits):
        (work / "README.md").write_text(f"# commit {index}\n")
        git("add", "-A")
        git("commit", "-q", "-m", f"commit {index}")
    path.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", "--bare", str(work), str(path), cwd=work.parent)
    return git("rev-parse", "HEAD~1", cwd=path).strip()


def truncate_loose_object(repo, sha, keep=10):
    """Cut a loose object to its first ``keep`` bytes: libgit2 1.9 then loops forever walking the history."""
    loose = repo / "objects" / sha[:2] / sha[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:keep])


def test_a_repository_libgit2_loops_on_is_stopped_at_the_time_limit_and_the_run_goes_on(store, tmp_path):
    root = tmp_path / "d"
    stuck = repo_path(root, "a/stuck")
    truncate_loose_object(stuck, plain_bare_repo(stuck, tmp_path / "w1"))
    plain_bare_repo(repo_path(root, "b/fine"), tmp_path / "w2")
    snap = snapshot_with(store, ["a/stuck", "b/fine"])
    started = time.monotonic()
    report = clone_snapshot(
        store, snap, root, endpoint=None, options=CloneOptions(existing_only=True, workers=1, read_timeout=3)
    )
    assert time.monotonic() - started < 120  # the old code never returned
    rows = {r[0]: r[1:] for r in store.query("SELECT repo_id, status, reason, commits, path FROM repo_clones")}
    assert rows["a/stuck"][0] == "failed" and "took over 3 s and was stopped" in rows["a/stuck"][1]
    assert rows["a/stuck"][3] == str(stuck)  # the clone stays where it is
    assert rows["b/fine"][:3] == ("ok", None, 3)
    assert store.query("SELECT count(*) FROM commits WHERE repo_id = 'a/stuck'") == [(0,)]
    assert report.failed == 1 and report.cloned == 1
    assert not list((root / ".ptmscope-parts").rglob("*.parquet"))


def test_cli_clone_existing_with_a_stuck_repo_exits_2_within_its_repo_timeout(tmp_path):
    from ptmscope.store import Store

    db = tmp_path / "s.duckdb"
    root = tmp_path / "d"
    stuck = repo_path(root, "a/stuck")
    truncate_loose_object(stuck, plain_bare_repo(stuck, tmp_path / "w1"))
    plain_bare_repo(repo_path(root, "b/fine"), tmp_path / "w2")
    with Store(db) as store:
        snapshot_with(store, ["a/stuck", "b/fine"])
    command = [sys.executable, "-m", "ptmscope", "clone", str(root), "--existing", "--snapshot", "s", "--db", str(db),
               "--workers", "2", "--repo-timeout", "3"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2, done.stderr
    assert "1 of 2 repos failed" in done.stderr and "Traceback" not in done.stderr
    with Store(db, read_only=True) as store:
        assert store.query("SELECT repo_id, status FROM repo_clones ORDER BY 1") == [("a/stuck", "failed"),
                                                                                   ("b/fine", "ok")]  # fmt: skip
