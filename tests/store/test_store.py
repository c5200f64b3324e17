"""The DuckDB store: migrations, snapshots, export."""

from __future__ import annotations

import os

import duckdb
import pytest

from ptmscope.errors import SnapshotExistsError, SnapshotNotFoundError, StoreError
from ptmscope.store import Store
from ptmscope.store.migrations import Migrations
from ptmscope.store.schema import SNAPSHOT_TABLES, migrations


def test_migrations_apply_once_and_are_recorded(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path):
        pass
    with Store(path) as store:  # reopening applies nothing new
        assert migrations.applied(store.con) == [m.name for m in migrations._migrations]
        assert migrations.pending(store.con) == []


def test_migration_registry_refuses_duplicates_and_rolls_back_failures():
    ms = Migrations("test")

    @ms()
    def first(con):
        con.execute("CREATE TABLE a (x INTEGER)")

    with pytest.raises(ValueError, match="already registered"):
        ms(name="first")(lambda con: None)

    @ms()
    def broken(con):
        con.execute("CREATE TABLE b (x INTEGER)")
        raise RuntimeError("boom")

    con = duckdb.connect(":memory:")
    with pytest.raises(RuntimeError):
        ms.apply(con)
    assert ms.applied(con) == ["first"]
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "a" in tables and "b" not in tables


def test_snapshot_lifecycle(store):
    snap = store.create_snapshot("one", source="import")
    assert snap.status == "running" and not snap.is_complete
    with pytest.raises(SnapshotExistsError):
        store.create_snapshot("one", source="import")
    store.finish_snapshot(snap)
    assert store.snapshot("one").is_complete
    second = store.create_snapshot("two", source="crawl")
    assert store.find_snapshot("latest") == second
    store.delete_snapshot("one")
    with pytest.raises(SnapshotNotFoundError) as info:
        store.snapshot("one")
    assert info.value.available == ["two"]


def test_snapshot_names_are_bounded(store):
    with pytest.raises(StoreError):
        store.create_snapshot("", source="import")


def test_export_parquet_round_trips(store, tmp_path):
    import pyarrow as pa

    snap = store.create_snapshot("s", source="import")
    store.append_arrow(
        "models",
        pa.table({"snapshot_id": [snap.snapshot_id], "repo_id": ["a/b"], "last_modified": ["2022-01-01T00:00:00Z"]}),
        casts={"last_modified": "TIMESTAMPTZ"},
    )
    written = store.export_parquet(tmp_path / "out", snap)
    assert set(written) >= {"snapshots", "verifications", *SNAPSHOT_TABLES}
    assert "_ptmscope_migrations" not in written
    rows = duckdb.sql(f"SELECT repo_id, last_modified FROM '{written['models']}'").fetchall()
    assert rows[0][0] == "a/b" and rows[0][1].year == 2022


def test_a_second_writer_gets_a_clear_lock_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    with Store(path):
        import subprocess
        import sys

        code = (
            "from ptmscope.store import Store\n"
            "from ptmscope.errors import StoreLockedError\n"
            f"try:\n    Store({str(path)!r})\nexcept StoreLockedError:\n    raise SystemExit(7)\n"
        )
        env = {**os.environ, "PTMSCOPE_LOCK_WAIT": "0.5"}
        assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 7


def test_opening_waits_for_a_writer_that_holds_the_store_briefly(tmp_path):
    """A crawl holds the file for transactions of about a second: a reader waits and gets in."""
    import subprocess
    import sys

    path = tmp_path / "busy.duckdb"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import time\nfrom ptmscope.store import Store\ns = Store({str(path)!r})\n"
         "print('held', flush=True)\ntime.sleep(1.5)\ns.close()\ntime.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with Store(path, read_only=True) as store:  # would raise StoreLockedError at once before
            assert store.con.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
    finally:
        holder.kill()
        holder.wait()


def test_read_only_store_must_exist(tmp_path):
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "absent.duckdb", read_only=True)


def test_an_older_store_is_upgraded_claims_keep_their_rows_and_gain_a_status(tmp_path):
    """A store written before the claim definitions: statuses derived in SQL, the paper's reading refused."""
    import duckdb

    from ptmscope.errors import StudyError
    from ptmscope.store.migrations import Migrations
    from ptmscope.store.schema import migrations
    from ptmscope.studies.run import run_study

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    old = Migrations("ptmscope")
    for migration in migrations._migrations[:4]:  # m0001..m0004: the schema before the definitions
        old()(migration.fn)
    old.apply(con)
    con.execute(
        "INSERT INTO snapshots (name, source, created_at, status, tool_version)"
        " VALUES ('old', 'import', now(), 'complete', '0.0')"
    )
    con.execute("INSERT INTO models (snapshot_id, repo_id, pipeline_tag) VALUES (1, 'a/m', 'text-classification')")
    for dataset, metric, value, text in (("glue", "accuracy", 0.9, "0.9"), ("glue", "f1", None, "WIP"),
                                         (None, "f1", 0.8, "0.8"), ("glue", None, None, "1 ± 2")):  # fmt: skip
        con.execute(
            "INSERT INTO claims (snapshot_id, repo_id, source, dataset_type, metric_type, value, value_text)"
            " VALUES (1, 'a/m', 'card', ?, ?, ?, ?)",
            [dataset, metric, value, text],
        )
    con.close()
    with Store(path, read_only=True) as store:  # read-only: not migrated, the new columns read as NULL
        assert store.snapshot("old").front_matter is None
    # `study` opens read-only yet upgrades an older store once (its queries need the new tables); after that
    # it never writes: a second run leaves the file as it was.
    from click.testing import CliRunner

    from ptmscope.cli.main import cli

    first = CliRunner().invoke(cli, ["study", "--db", str(path), "--snapshot", "old", "--json"])
    assert first.exit_code == 0, first.output
    before = path.read_bytes(), path.stat().st_mtime_ns
    again = CliRunner().invoke(cli, ["study", "--db", str(path), "--snapshot", "old", "--json"])
    assert again.exit_code == 0 and (path.read_bytes(), path.stat().st_mtime_ns) == before
    with Store(path) as store:
        statuses = [s for (s,) in store.query("SELECT status FROM claims ORDER BY rowid")]
        assert statuses == ["valid", "placeholder", "no_dataset", "not_numeric"]
        snapshot = store.snapshot("old")
        assert snapshot.card_analysis is None
        assert run_study(store, snapshot).data["measurements"]["claims"]["models_with_claims"] == 1
        with pytest.raises(StudyError, match="import its files again"):
            run_study(store, snapshot, definition="paper")
