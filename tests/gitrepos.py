"""Real git repositories for tests: signed (OpenPGP, SSH) and unsigned commits, made with git, gpg and ssh-keygen."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Signers:
    """A generated OpenPGP key and SSH key, and the environment git needs to sign with them."""

    gnupghome: Path
    gpg_fingerprint: str
    gpg_key_id: str
    ssh_key: Path
    ssh_fingerprint: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            GNUPGHOME=str(self.gnupghome),
            GIT_AUTHOR_NAME="Test Author",
            GIT_AUTHOR_EMAIL="author@example.com",
            GIT_COMMITTER_NAME="Test Author",
            GIT_COMMITTER_EMAIL="author@example.com",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL="/dev/null",
        )
        return env


def make_signers(root: Path) -> Signers:
    """Generate an ed25519 OpenPGP key (no passphrase) and an ed25519 SSH key under ``root``."""
    if shutil.which("gpg") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("gpg and ssh-keygen are needed to make signed commits")
    home = root / "gnupg"
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Test Signer <signer@example.com>", "ed25519",
         "sign", "never"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], check=True, capture_output=True, text=True, env=env
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    key = root / "ssh_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True)
    ssh_fp = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    return Signers(home, fingerprint, fingerprint[-16:], key, ssh_fp)


def make_bare_repo(path: Path, signers: Signers, commits: list[str], *, work: Path) -> list[tuple[str, str | None]]:
    """A bare repo at ``path`` whose history has one commit per entry of ``commits``.

    Each entry is 'none', 'gpg' or 'ssh' (how that commit is signed). Returns the expected
    (signature kind, key id) per commit, oldest first.
    """
    env = signers.env()
    work.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, env=env)

    git("init", "-q", "-b", "main")
    expected: list[tuple[str, str | None]] = []
    for index, how in enumerate(commits):
        (work / "README.md").write_text(f"---\nlicense: mit\n---\n# commit {index}\n")
        (work / "model.safetensors").write_text(
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{index:064x}\n"
        )
        git("add", "-A")
        message = f"commit {index} <script>alert(1)</script>"
        if how == "gpg":
            git("-c", f"user.signingkey={signers.gpg_fingerprint}", "commit", "-q", "-S", "-m", message)
            expected.append(("openpgp", signers.gpg_key_id))
        elif how == "ssh":
            git("-c", "gpg.format=ssh", "-c", f"user.signingkey={signers.ssh_key}.pub", "commit", "-q", "-S",
                "-m", message)  # fmt: skip
            expected.append(("ssh", signers.ssh_fingerprint))
        else:
            git("commit", "-q", "-m", message)
            expected.append(("none", None))
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(path)], check=True, capture_output=True, env=env)
    return expected
