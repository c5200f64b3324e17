"""Exit codes in one place (docs/exit-codes.md) and modes that would ignore a flag: they render it, or refuse it."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from ptmscope.cli.main import COMMANDS, cli
from tests.cli.test_cli import SMALL
from tests.conftest import ROOT


def test_every_command_has_its_exit_codes_documented_in_one_place():
    text = (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.M))
    assert documented == set(COMMANDS)
    for code in ("0", "1", "2", "130"):
        assert f"| {code} |" in text


def test_study_compare_renders_both_snapshots_into_the_html_report(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "s.duckdb")
    for name in ("era-old", "era-new"):
        assert runner.invoke(cli, ["import", *SMALL, "--snapshot", name, "--db", db]).exit_code == 0
    out = tmp_path / "eras"
    result = runner.invoke(cli, ["study", "--snapshot", "era-new", "--compare", "era-old", "--html", str(out),
                                 "--json", "--db", db])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["a"]["name"], document["b"]["name"]) == ("era-new", "era-old")
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "era-new" in html and "era-old" in html
    studies = {json.loads((out / f).read_text())["snapshot"]["name"] for f in ("study-a.json", "study-b.json")}
    assert studies == {"era-new", "era-old"}  # --html is not ignored: both eras are rendered
