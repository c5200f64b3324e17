"""Damaged, foreign and shared stores: a clear error and exit 2, never a traceback; readers never write."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli, main
from ptmscope.errors import StoreError
from ptmscope.store import Store
from tests.conftest import FIXTURES

SMALL = [str(FIXTURES / "dumps" / "small_listing.jsonl"), str(FIXTURES / "dumps" / "small_cards.jsonl")]


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def fingerprint(path: Path) -> tuple[str, int, bool]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, Path(f"{path}.wal").exists()


@pytest.fixture
def small_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "s.duckdb"
    code, err = run_main(["import", *SMALL, "--snapshot", "small", "--db", str(db)], capsys)
    assert code == 0, err
    return db


def damaged(small_store: Path, kind: str) -> Path:
    data = small_store.read_bytes()
    if kind == "random":
        content = os.urandom(len(data))
    elif kind == "truncated":
        content = data[: len(data) // 2]
    elif kind == "header-only":
        content = data[:4096]
    else:  # "overwritten": a block in the middle of the file is garbage
        middle = (len(data) // 2) // 4096 * 4096
        content = data[:middle] + os.urandom(8192) + data[middle + 8192 :]
    small_store.write_bytes(content)
    return small_store


@pytest.mark.parametrize("kind", ["random", "truncated", "header-only", "overwritten"])
@pytest.mark.parametrize(
    "command",
    [
        ["snapshots"],
        ["study", "--snapshot", "small"],
        ["export", "--parquet", "{tmp}/out"],
        ["import", *SMALL, "--snapshot", "again"],
    ],
    ids=["snapshots", "study", "export", "import"],
)
def test_a_damaged_store_is_one_clear_error_and_exit_2_and_is_left_as_it_was(
    small_store, tmp_path, capsys, kind, command
):
    db = damaged(small_store, kind)
    before = fingerprint(db)
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    code, err = run_main([*args, "--db", str(db)], capsys)
    assert "Traceback" not in err
    if kind == "overwritten" and code == 0:
        # The garbage landed in blocks this command never reads (DuckDB checks a block when it reads it);
        # only the import, a writing command, may then have written.
        if command[0] != "import":
            assert fingerprint(db) == before
        return
    assert code == 2, err
    assert "corrupt or not a ptmscope store" in err and "Hint:" in err and "never repairs" in err
    assert fingerprint(db) == before  # nothing was written to it


def test_a_duckdb_file_of_other_tables_is_refused_untouched(tmp_path, capsys):
    db = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sales (day DATE, amount DOUBLE)")
    con.close()
    before = fingerprint(db)
    for args in (["snapshots"], ["import", *SMALL, "--snapshot", "x"]):
        code, err = run_main([*args, "--db", str(db)], capsys)
        assert code == 2 and "is not a ptmscope store: a DuckDB database of other tables (sales)" in err
    assert fingerprint(db) == before
    with pytest.raises(StoreError, match="not a ptmscope store"):  # StoreCorruptError
        Store(db, read_only=True)


HOLD_READ_ONLY = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM snapshots").fetchall()
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_read_only_commands_run_beside_another_reader_and_never_change_the_file(small_store, tmp_path):
    db = small_store
    before = fingerprint(db)
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        runner = CliRunner()
        listing = runner.invoke(cli, ["snapshots", "--db", str(db), "--json"])
        assert listing.exit_code == 0, listing.output  # a writable open would find the file locked
        assert '"small"' in listing.stdout
        exported = runner.invoke(cli, ["export", "--parquet", str(tmp_path / "out"), "--db", str(db)])
        assert exported.exit_code == 0, exported.output
        assert (tmp_path / "out" / "models.parquet").exists()
        table = runner.invoke(cli, ["snapshots", "--db", str(db)])
        assert table.exit_code == 0 and "small" in table.stdout
    finally:
        assert reader.stdin is not None
        reader.stdin.close()
        reader.wait(timeout=30)
    assert fingerprint(db) == before


def test_listing_a_store_that_does_not_exist_creates_nothing(tmp_path):
    db = tmp_path / "none.duckdb"
    result = CliRunner().invoke(cli, ["snapshots", "--db", str(db)])
    assert result.exit_code == 0 and "No store at" in result.output
    assert not db.exists()


def test_reopen_switches_between_reading_and_writing(small_store):
    with Store(small_store, read_only=True) as store:
        with pytest.raises(duckdb.Error):
            store.con.execute("CREATE TABLE x (a INTEGER)")
        store.reopen(read_only=False)
        store.con.execute("CREATE TABLE _scratch (a INTEGER)")
        store.reopen(read_only=True)
        assert store.read_only and store.snapshot("small").is_complete


# -- snapshots --delete asks first --------------------------------------------------------------------------


def test_delete_needs_yes_without_a_terminal_and_asks_on_one(small_store, monkeypatch):
    import ptmscope.cli.snapshots as snapshots_cli

    db = str(small_store)
    runner = CliRunner()
    refused = runner.invoke(cli, ["snapshots", "--delete", "small", "--db", db])
    assert refused.exit_code == 2 and "needs --yes" in refused.output
    monkeypatch.setattr(snapshots_cli, "interactive", lambda: True)
    kept = runner.invoke(cli, ["snapshots", "--delete", "small", "--db", db], input="n\n")
    assert kept.exit_code == 0 and "Nothing deleted" in kept.output
    with Store(small_store, read_only=True) as store:
        assert store.find_snapshot("small") is not None
    gone = runner.invoke(cli, ["snapshots", "--delete", "small", "--db", db], input="y\n")
    assert gone.exit_code == 0 and "Deleted snapshot 'small'" in gone.output
    with Store(small_store, read_only=True) as store:
        assert store.find_snapshot("small") is None


def test_deleting_the_bundled_snapshot_says_it_comes_back_on_first_use(tmp_path):
    from ptmscope.sample import SAMPLE_SNAPSHOT, ensure_bundled

    db = tmp_path / "b.duckdb"
    with Store(db) as store:
        ensure_bundled(store, "hub-2025-04-sample")  # the small bundle: a few seconds
    runner = CliRunner()
    refused = runner.invoke(cli, ["snapshots", "--delete", "hub-2025-04-sample", "--db", str(db)])
    assert refused.exit_code == 2 and "bundled snapshot" in refused.output and "imports it again" in refused.output
    done = runner.invoke(cli, ["snapshots", "--delete", "hub-2025-04-sample", "--db", str(db), "--yes"])
    assert done.exit_code == 0 and "imported again from the package" in done.output
    assert SAMPLE_SNAPSHOT != "hub-2025-04-sample"
