"""Commit-signature reading: ptmscope (pygit2, in-process) against the ICSE'23 artifact's method.

    python benchmarks/signatures.py               # 1,000 bare repos, 10% with signed commits
    python benchmarks/signatures.py --repos 200   # quicker

1. makes N small bare repositories (1-5 commits each; one repo in ten has OpenPGP- or
   SSH-signed commits, made with a generated gpg key and ssh key) with pygit2, gpg and
   ssh-keygen (not timed);
2. times the artifact's method: ``git log --pretty=format:%GK`` once per repository (``%H`` is
   added to pair answers; git asks gpg / ssh-keygen to check every signed commit to print %GK);
3. times ptmscope's history reading (``ptmscope.clone.history.read_history``) over the same
   repositories, one process, one thread, like the git loop;
4. checks that both give the same key id for every commit, and prints both times and the ratio.

Only public tools: git, gpg, ssh-keygen, pygit2. Target: at least 10x.
"""

from __future__ import annotations

import _paths  # noqa: F401 - first of all: keeps benchmarks/select.py from shadowing the stdlib

# isort: split
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def make_keys(root: Path) -> dict[str, str]:
    home = root / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Bench <bench@example.com>", "ed25519", "sign",
         "never"], check=True, capture_output=True, env=env,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], check=True, capture_output=True, text=True, env=env
    )
    fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:"))
    key = root / "ssh_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(key)], check=True)
    allowed = root / "allowed_signers"
    allowed.write_text(f"bench@example.com {(root / 'ssh_key.pub').read_text().strip()}\n")
    return {"gnupghome": str(home), "fingerprint": fingerprint, "ssh_key": str(key), "allowed": str(allowed)}


def sign(payload: bytes, how: str, keys: dict[str, str], scratch: Path) -> bytes:
    if how == "gpg":
        return subprocess.run(
            ["gpg", "--batch", "--armor", "--detach-sign", "--local-user", keys["fingerprint"]],
            input=payload, check=True, capture_output=True, env={**os.environ, "GNUPGHOME": keys["gnupghome"]},
        ).stdout  # fmt: skip
    scratch.write_bytes(payload)
    subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-f", keys["ssh_key"], "-n", "git", str(scratch)], check=True)
    signature = Path(f"{scratch}.sig")
    data = signature.read_bytes()
    signature.unlink()
    return data


def make_repos(root: Path, count: int, keys: dict[str, str], seed: int = 1) -> list[Path]:
    import pygit2

    rng = random.Random(seed)
    repos = []
    for index in range(count):
        path = root / "repos" / f"org{index % 50}" / f"model-{index}.git"
        repo = pygit2.init_repository(str(path), bare=True)
        signed_repo = index % 10 == 0
        parent: list[pygit2.Oid] = []
        for commit_index in range(rng.randint(1, 5)):
            blob = repo.create_blob(f"# model {index}\n\ncommit {commit_index}\n".encode())
            lfs = repo.create_blob(f"version https://git-lfs.github.com/spec/v1\noid sha256:{index:064x}\n".encode())
            builder = repo.TreeBuilder()
            builder.insert("README.md", blob, pygit2.enums.FileMode.BLOB)
            builder.insert("model.safetensors", lfs, pygit2.enums.FileMode.BLOB)
            tree = builder.write()
            when = pygit2.Signature("Bench Author", "bench@example.com", 1_650_000_000 + commit_index * 60, 0)
            how = rng.choice(["gpg", "ssh", "none"]) if signed_repo else "none"
            message = f"commit {commit_index}\n"
            if how == "none":
                oid = repo.create_commit(None, when, when, message, tree, parent)
            else:
                payload = repo.create_commit_string(when, when, message, tree, parent)
                signature = sign(payload.encode(), how, keys, root / "payload")
                oid = repo.create_commit_with_signature(payload, signature.decode())
            parent = [oid]
        repo.references.create("refs/heads/main", parent[0], force=True)
        repo.set_head("refs/heads/main")
        repos.append(path)
    return repos


def git_log_keys(repos: list[Path], keys: dict[str, str]) -> tuple[float, dict[str, str]]:
    env = {**os.environ, "GNUPGHOME": keys["gnupghome"], "GIT_CONFIG_NOSYSTEM": "1"}
    answers: dict[str, str] = {}
    started = time.perf_counter()
    for path in repos:
        out = subprocess.run(
            ["git", "-c", f"gpg.ssh.allowedSignersFile={keys['allowed']}", "--git-dir", str(path), "log",
             "--pretty=format:%H %GK"],
            check=True, capture_output=True, text=True, env=env,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            sha, _, key = line.partition(" ")
            answers[sha] = key.strip()
    return time.perf_counter() - started, answers


def ptmscope_keys(repos: list[Path]) -> tuple[float, dict[str, str], int]:
    from ptmscope.clone.history import read_history

    answers: dict[str, str] = {}
    signed = 0
    started = time.perf_counter()
    for path in repos:
        history = read_history(path, path.name)
        signed += history.signed
        for sha, key in zip(history.columns["sha"], history.columns["key_id"], strict=True):
            answers[sha] = key or ""
    return time.perf_counter() - started, answers, signed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=1_000)
    args = parser.parse_args()
    for tool in ("git", "gpg", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory(prefix="ptmscope-sig-") as tmp:
        started = time.perf_counter()
        keys = make_keys(Path(tmp))
        repos = make_repos(Path(tmp), args.repos, keys)
        print(f"made {len(repos):,} bare repos in {time.perf_counter() - started:.1f} s (not timed below)")
        # Warm the page cache for both, then time each.
        git_log_keys(repos[:20], keys)
        ptmscope_keys(repos[:20])
        git_seconds, git_answers = git_log_keys(repos, keys)
        ours_seconds, our_answers, signed = ptmscope_keys(repos)
    same = git_answers == our_answers
    commits = len(our_answers)
    print(f"commits: {commits:,}; signed: {signed:,} in {sum(1 for k in our_answers.values() if k)} with a key id")
    print(
        f"git log --pretty=format:%GK, once per repo: {git_seconds:8.3f} s  ({len(repos) / git_seconds:,.0f} repos/s)"
    )
    print(f"ptmscope read_history (pygit2):         {ours_seconds:8.3f} s  ({len(repos) / ours_seconds:,.0f} repos/s)")
    print(f"ratio: {git_seconds / ours_seconds:.1f}x faster; same answers for every commit: {same}")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if not same:
        diff = [sha for sha in git_answers.keys() | our_answers.keys() if git_answers.get(sha) != our_answers.get(sha)]
        print(f"{len(diff)} commits differ, e.g. {diff[:3]}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
