"""The CI integrations: the pre-commit hook (run by the real pre-commit) and the GitHub Action's steps.

Model files here are written as bytes and only ever scanned: the malicious pickle would run a
shell command if it were loaded.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EVIL = b"cos\nsystem\n(S'echo pwned'\ntR."
VENV_BIN = Path(sys.executable).parent


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    repo = tmp_path / name
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "ci")
    for path, data in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "models")
    return repo


def test_the_hook_definition_names_the_scan_and_model_files():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "ptmscope-scan"
    assert hook["entry"].startswith("ptmscope scan")
    assert hook["language"] == "python"

    pattern = re.compile(hook["files"])
    for name in ("pytorch_model.bin", "model.safetensors", "x.PKL", "w.h5", "m.onnx", "q.gguf", "a.npz"):
        assert pattern.search(name), name
    assert not pattern.search("README.md") and not pattern.search("train.py")


@pytest.mark.slow
def test_pre_commit_runs_the_hook_and_refuses_a_malicious_pickle(tmp_path):
    """`pre-commit try-repo` installs this checkout into its own environment, as a user's pre-commit would."""
    pre_commit = shutil.which("pre-commit", path=str(VENV_BIN)) or shutil.which("pre-commit")
    assert pre_commit, "the test extra installs pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    env.pop("PTMSCOPE_DB", None)
    benign = _repo(tmp_path, "benign", {"models/weights.pkl": pickle.dumps({"w": [0.5, 0.25]}), "README.md": b"hi"})
    evil = _repo(tmp_path, "evil", {"models/weights.pkl": EVIL, "README.md": b"hi"})

    def run(repo: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(ROOT), "ptmscope-scan", "--all-files", "--verbose"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=1500,
        )  # fmt: skip

    passed = run(benign)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
    failed = run(evil)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert "pickle-dangerous-import" in failed.stdout


def _action_steps() -> list[dict[str, object]]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return action["runs"]["steps"]


def _run_step(step: dict[str, object], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert step["shell"] == "bash"
    return subprocess.run(["bash", "-e", "-c", str(step["run"])], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(("payload", "expected"), [(EVIL, "1"), (pickle.dumps([1, 2, 3]), "0")])
def test_the_actions_scan_and_fail_steps_run_as_github_runs_them(tmp_path, payload, expected):
    """The Scan and Fail steps' own scripts, with the inputs as GitHub passes them (environment variables)."""
    steps = {step.get("name"): step for step in _action_steps()}
    workspace = tmp_path / "workspace"
    (workspace / "models").mkdir(parents=True)
    (workspace / "models" / "weights.pkl").write_bytes(payload)
    (workspace / "models" / "notes.txt").write_text("not a model")
    output = tmp_path / "github_output"
    output.touch()
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output)}
    env.pop("PTMSCOPE_DB", None)
    scan = _run_step(steps["Scan"], {**env, "PATHS": "models\n", "FAIL_ON": "", "CONFIG": "",
                                     "SARIF_FILE": "ptmscope.sarif"}, workspace)  # fmt: skip
    assert scan.returncode == 0, scan.stderr  # the step records the exit code; the last step fails the job
    assert output.read_text().strip() == f"exit-code={expected}"
    sarif = (workspace / "ptmscope.sarif").read_text()
    assert '"version": "2.1.0"' in sarif
    assert ("pickle-dangerous-import" in sarif) == (expected == "1")

    upload = steps["Upload SARIF to code scanning"]
    assert str(upload["uses"]).startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"  # type: ignore[index]

    fail = _run_step(steps["Fail on the policy"], {**env, "CODE": expected, "SARIF_FILE": "ptmscope.sarif"}, workspace)
    assert str(fail.returncode) == expected
    assert ("::error" in fail.stdout) == (expected == "1")


def test_the_action_never_splices_inputs_into_its_scripts():
    """Inputs reach the shell as environment variables only (no script injection through an input)."""
    for step in _action_steps():
        assert "${{ inputs." not in str(step.get("run", "")), step.get("name")
