"""``ptmscope scan`` end to end: exit codes, formats, escaping, Hub repos (faked, no network)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli, main
from ptmscope.cli.scan import clean, parse_size

from .conftest import Reduce

EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)
ODD = b"\x80\x04\x8c\x07mymodel\x8c\x05Thing\x93)R."


@pytest.fixture
def models(tmp_path: Path) -> Path:
    (tmp_path / "good.pkl").write_bytes(pickle.dumps({"w": [1, 2]}))
    (tmp_path / "evil.bin").write_bytes(EVIL)
    (tmp_path / "odd.pkl").write_bytes(ODD)
    (tmp_path / "README.md").write_text("# hello\n")
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_exit_codes(models: Path):
    assert run(str(models / "good.pkl"))[0] == 0
    assert run(str(models / "evil.bin"))[0] == 1
    assert run(str(models / "odd.pkl"))[0] == 1  # suspicious is above the default threshold
    assert run(str(models / "odd.pkl"), "--fail-on", "dangerous")[0] == 0
    assert run(str(models / "missing.pkl"))[0] == 2
    # a finding is never masked by an error elsewhere in the run
    assert run(str(models / "evil.bin"), str(models / "missing.pkl"))[0] == 1
    assert run("--fail-on", "nonsense", str(models))[0] == 2
    (models / "broken.pkl").write_bytes(b"\x80\x04K\x01")  # no STOP: unparseable
    assert run(str(models / "broken.pkl"))[0] == 1
    assert run(str(models / "broken.pkl"), "--fail-on", "suspicious")[0] == 0


def test_main_maps_ctx_exit_to_the_process_status(models: Path):
    with pytest.raises(SystemExit) as exit_:
        main(["scan", "--no-progress", str(models / "evil.bin")])
    assert exit_.value.code == 1


def test_text_output_and_folder_walk(models: Path):
    code, out, err = run(str(models))
    assert code == 1
    assert "evil.bin" in out and "posix.system" in out
    assert "good.pkl" not in out
    assert "Scanned 3 file(s), skipped 1" in err


def test_json_output(models: Path, tmp_path: Path):
    target = tmp_path / "report.json"
    code, out, _ = run(str(models), "--format", "json", "--output", str(target))
    assert code == 1 and out == ""
    data = json.loads(target.read_text())
    by_name = {Path(f["path"]).name: f for f in data["files"]}
    assert by_name["evil.bin"]["verdict"] == "dangerous"
    assert by_name["good.pkl"]["verdict"] == "clean"
    assert by_name["README.md"]["status"] == "skipped"
    assert by_name["evil.bin"]["findings"][0]["evidence"] == "posix.system"


def test_sarif_output_is_what_github_accepts(models: Path):
    code, out, _ = run(str(models), "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run_ = sarif["runs"][0]
    rule_ids = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    for result in run_["results"]:
        assert result["ruleId"] in rule_ids
        assert result["level"] in ("error", "warning", "note")
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] and loc["region"]["startLine"] >= 1
        assert result["message"]["text"]
    for rule in run_["tool"]["driver"]["rules"]:
        assert float(rule["properties"]["security-severity"]) > 0


def test_untrusted_names_are_escaped(tmp_path: Path):
    nasty = tmp_path / "evil\x1b[31m[red]x.pkl"
    nasty.write_bytes(EVIL)
    code, out, _ = run(str(tmp_path))
    assert code == 1
    assert "\x1b" not in out
    assert "[red]x" in out  # shown literally, not interpreted as markup
    assert clean("a\u202eb\x00\ufeff") == "a\\u202eb\\u0000\\ufeff"  # the one escaper of reports.safe


@pytest.mark.parametrize(
    ("text", "value"), [("10", 10), ("2k", 2048), ("1.5M", 1572864), ("2G", 2 << 30), ("3GiB", 3 << 30)]
)
def test_parse_size(text: str, value: int):
    assert parse_size(None, None, text) == value


def test_max_file_size_skips_and_the_skip_fails_the_run_unless_accepted(models: Path):
    code, _, err = run(str(models / "evil.bin"), "--max-file-size", "10")
    assert code == 1 and "skipped 1" in err and "1 not scanned" in err
    code, _, err = run(str(models / "evil.bin"), "--max-file-size", "10", "--skipped", "ok")
    assert code == 0 and "skipped 1" in err


def test_help_teaches():
    result = CliRunner().invoke(cli, ["scan", "--help"])
    assert result.exit_code == 0
    for needle in ("Examples:", "--fail-on", "--format", "SARIF".lower(), "Exit status", "REPO_ID"):
        assert needle.lower() in result.output.lower()


# Hub repositories: tests/scanners/test_hub_scan.py (a Hub on 127.0.0.1, through the real HTTP stack).
