"""`ptmscope clone` says when it did not do all it was asked: failed repos and an unreachable endpoint exit 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.records import ModelRecord
from ptmscope.store import Store
from ptmscope.store.writer import SnapshotWriter
from tests.replay import handler_server


def store_with(db, ids, name="s"):
    with Store(db) as store:
        snap = store.create_snapshot(name, source="import")
        writer = SnapshotWriter(store, snap)
        for repo_id in ids:
            writer.add(ModelRecord(repo_id), "test", repo_id)
        writer.flush()
        store.finish_snapshot(snap)


class NotFound(BaseHTTPRequestHandler):
    """A hub that has none of the repos: every git request is a 404."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET


def test_clone_exits_2_when_every_repo_failed_and_says_how_many(tmp_path, monkeypatch):
    import types

    import ptmscope.clone.units as units

    # the exit code is under test, not the backoff: a failure git words as retryable must not take minutes
    monkeypatch.setattr(units, "time", types.SimpleNamespace(**{**vars(time), "sleep": lambda seconds: None}))
    db = tmp_path / "s.duckdb"
    store_with(db, [f"org/model-{i:02d}" for i in range(20)])
    with handler_server(NotFound) as url:
        result = CliRunner().invoke(cli, ["clone", str(tmp_path / "repos"), "--snapshot", "s", "--db", str(db),
                                          "--endpoint", url, "--workers", "1", "--json"])  # fmt: skip
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["run"]["failed"] == 20 and document["totals"]["repos_failed"] == 20, document["run"]["reasons"]
    assert "20 of 20 repos failed" in result.stderr and "run the same command again" in result.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("endpoint", ["http://nonexistent.invalid", "closed"])
def test_clone_without_a_reachable_endpoint_fails_within_10_s_with_one_line(tmp_path, endpoint):
    if endpoint == "closed":
        endpoint = f"http://127.0.0.1:{closed_port()}"
    db = tmp_path / "s.duckdb"
    store_with(db, ["org/a", "org/b", "org/c"])
    command = [sys.executable, "-m", "ptmscope", "clone", str(tmp_path / "repos"), "--snapshot", "s",
               "--db", str(db), "--endpoint", endpoint, "--workers", "1"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert time.monotonic() - started < 10  # the old code retried every repo for a minute each
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("Error: cannot reach " + endpoint) and "Traceback" not in done.stderr
    assert len(lines) == 2 and lines[1].startswith("Hint:")
    with Store(db, read_only=True) as store:
        assert store.query("SELECT count(*) FROM repo_clones") == [(0,)]  # nothing tried, nothing marked failed


def test_clone_of_a_bundled_snapshot_without_network_fails_before_importing_it(tmp_path):
    """Before: the bundled snapshot was imported first (most of a minute), then the endpoint failed."""
    db = tmp_path / "fresh.duckdb"
    started = time.monotonic()
    result = CliRunner().invoke(
        cli, ["clone", str(tmp_path / "dest"), "--db", str(db), "--snapshot", "hub-2022-02", "--limit", "2"]
    )  # HF_ENDPOINT is a closed port in the tests
    from ptmscope.errors import SourceUnreachableError

    assert isinstance(result.exception, SourceUnreachableError)  # main() prints it as one line, exit 2
    assert time.monotonic() - started < 10 and not db.exists()  # nothing imported, no store created
