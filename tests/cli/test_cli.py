"""The CLI: every command has help, data goes to stdout, errors map to exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ptmscope.cli.main import COMMANDS, cli, hint_for, main
from ptmscope.errors import SnapshotExistsError, SnapshotNotFoundError, StoreLockedError
from tests.conftest import FIXTURES

SMALL = [str(FIXTURES / "dumps" / "small_listing.jsonl"), str(FIXTURES / "dumps" / "small_cards.jsonl")]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_help_with_examples(runner, command):
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output


def test_top_level_help_lists_commands_without_importing_duckdb():
    code = "import sys\nfrom ptmscope.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    code += "assert 'duckdb' not in sys.modules, 'duckdb imported for --help'\n"
    code += "assert not [m for m in sys.modules if m.startswith('ptmscope.cli.') and m not in ('ptmscope.cli.main',)]\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_listed_summary_is_the_commands_own_short_help(command):
    """`ptmscope --help` lists summaries from the command table; they must say what each command says."""
    listed = COMMANDS[command][1]
    assert cli.get_command(click.Context(cli), command).get_short_help_str(limit=1000) == listed


def test_import_study_snapshots_export(runner, tmp_path):
    db = str(tmp_path / "s.duckdb")
    result = runner.invoke(cli, ["import", *SMALL, "--snapshot", "small", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["models"] == 10 and summary["cards"] == 7 and summary["status"] == "complete"

    result = runner.invoke(cli, ["study", "--snapshot", "small", "--db", db, "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    for key in (
        "models",
        "claims_by_task",
        "models_per_dataset",
        "models_per_architecture",
        "top1pct_download_share",
        "table_iv",
        "measurements",
        "schema",
    ):
        assert key in document
    assert document["definition"] == "strict"
    assert document["claims_by_task"]["text-classification"] == {
        "with_claims": 1,
        "total": 4,
        "claims_unknown": 1,
        "text_only": 0,
    }
    result = runner.invoke(cli, ["study", "--snapshot", "small", "--db", db, "--json", "--definition", "paper"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["measurements"]["claims"]["models_with_claims"] == 0

    result = runner.invoke(cli, ["study", "--snapshot", "small", "--db", db])
    assert result.exit_code == 0
    assert "Fig. 7" in result.stdout and "Table IV" in result.stdout

    result = runner.invoke(cli, ["study", "--snapshot", "latest", "--db", db, "--sql"])
    assert result.exit_code == 0 and "SELECT" in result.stdout and "-- claims" in result.stdout

    result = runner.invoke(cli, ["snapshots", "--db", db, "--json"])
    assert [s["name"] for s in json.loads(result.stdout)["snapshots"]] == ["small"]

    out = tmp_path / "parquet"
    result = runner.invoke(cli, ["export", "--parquet", str(out), "--db", db])
    assert result.exit_code == 0
    assert (out / "models.parquet").exists() and (out / "claims.parquet").exists()

    html = tmp_path / "report"
    result = runner.invoke(cli, ["study", "--snapshot", "small", "--db", db, "--html", str(html)])
    assert result.exit_code == 0
    assert (html / "index.html").exists() and json.loads((html / "study.json").read_text())["models"] == 10

    result = runner.invoke(cli, ["study", "--snapshot", "small", "--compare", "small", "--db", db, "--json"])
    models = json.loads(result.stdout)["headline"]["models"]
    assert (models["a"]["count"], models["b"]["count"]) == (10, 10)

    result = runner.invoke(cli, ["snapshots", "--delete", "small", "--db", db])
    assert result.exit_code == 2 and "--yes" in result.output  # no terminal to confirm: nothing deleted
    result = runner.invoke(cli, ["snapshots", "--delete", "small", "--db", db, "--yes"])
    assert result.exit_code == 0


def run_main(args, capsys):
    try:
        main(args)
    except SystemExit as exit_:
        return exit_.code, capsys.readouterr()
    return 0, capsys.readouterr()


def test_errors_are_a_message_a_hint_and_exit_code_2(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    code, out = run_main(["study", "--snapshot", "nope", "--db", db], capsys)
    assert code == 2
    assert "no snapshot named 'nope'" in out.err and "Hint:" in out.err and "Traceback" not in out.err

    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    code, out = run_main(["import", str(bad), "--snapshot", "x", "--db", db], capsys)
    assert code == 2 and "nothing imported" in out.err

    code, out = run_main(["import", *SMALL, "--snapshot", "x", "--db", db], capsys)
    assert code == 0
    code, out = run_main(["import", *SMALL, "--snapshot", "x", "--db", db], capsys)
    assert code == 2 and "--append" in out.err


def test_usage_errors_exit_2(tmp_path, capsys):
    code, _ = run_main(["import", "--snapshot", "x"], capsys)
    assert code == 2
    code, _ = run_main(["no-such-command"], capsys)
    assert code == 2


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (SnapshotNotFoundError("a", []), "ptmscope snapshots"),
        (SnapshotExistsError("a"), "--append"),
        (StoreLockedError("x"), "Another ptmscope process"),
    ],
)
def test_error_hints(error, fragment):
    assert fragment in (hint_for(error) or "")


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "ptmscope", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "ptmscope" in out.stdout


def test_the_db_option_names_the_variable_the_store_reads() -> None:
    # cli/options.py defines --db without importing the store (duckdb), so it spells the variable itself
    from ptmscope.cli.options import DB_ENV as option_env
    from ptmscope.store.store import DB_ENV as store_env

    assert option_env == store_env
