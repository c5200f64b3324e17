"""``ptmscope serve`` as a command: it serves, stops on SIGTERM, and fails clearly (exit 2)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from urllib.error import HTTPError

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli

from .conftest import HOSTILE


def _start(*args, env=None):
    process = subprocess.Popen([sys.executable, "-m", "ptmscope", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, process.stderr.read() if process.poll() is not None else "")
    return process, url


def _stop(process):
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    return process.returncode, err


def test_serve_serves_the_newest_complete_snapshot_and_stops_on_sigterm(hostile_db, tmp_path):
    db = tmp_path / "store.duckdb"
    shutil.copyfile(hostile_db, db)
    process, url = _start("--db", str(db))  # no --snapshot: the store's newest complete one
    try:
        doc = json.loads(urllib.request.urlopen(url + "api/models", timeout=10).read())
        assert doc["snapshot"]["name"] == HOSTILE and doc["total"] == 3
        page = urllib.request.urlopen(url + "models", timeout=10)
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        rebinding = urllib.request.Request(url + "models", headers={"Host": "evil.example"})
        with pytest.raises(HTTPError) as refused:
            urllib.request.urlopen(rebinding, timeout=10)
        assert refused.value.code == 400  # a loopback server answers only loopback Host names (DNS rebinding)
    finally:
        code, err = _stop(process)
    assert code == 0, err
    assert f"Serving snapshot {HOSTILE} (3 models" in err and "No 'audit --all' run" in err


def test_a_port_in_use_is_a_clear_error_and_exit_2(hostile_db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "ptmscope", "serve", "--db", str(hostile_db), "--port",
                                 str(port)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_an_unknown_snapshot_is_the_same_error_as_other_commands(hostile_db):
    runner = CliRunner()
    serve = subprocess.run([sys.executable, "-m", "ptmscope", "serve", "--db", str(hostile_db), "--snapshot", "nope"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    study = subprocess.run([sys.executable, "-m", "ptmscope", "study", "--db", str(hostile_db), "--snapshot", "nope"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert serve.returncode == study.returncode == 2
    assert serve.stderr.strip() == study.stderr.strip() and "nope" in serve.stderr
    assert runner.invoke(cli, ["serve", "--port", "70000"]).exit_code == 2  # click's usage error


@pytest.mark.slow
def test_a_fresh_install_serves_a_bundled_snapshot_with_no_other_step(tmp_path):
    env = {**os.environ, "PTMSCOPE_DB": str(tmp_path / "fresh" / "ptmscope.duckdb")}
    process, url = _start("--snapshot", "hub-2025-04-sample", env=env)  # the small bundle: imported on first use
    try:
        doc = json.loads(urllib.request.urlopen(url + "api/models?per=1", timeout=10).read())
        assert doc["snapshot"]["name"] == "hub-2025-04-sample" and doc["total"] == 2_057
        carded = json.loads(urllib.request.urlopen(url + "api/models?cards=1&q=license&per=1", timeout=10).read())
        assert carded["card_search"]["available"] and carded["total"] > 100
        model = carded["results"][0]["repo_id"]
        page = json.loads(urllib.request.urlopen(url + "api/models/" + model, timeout=30).read())
        assert page["audit"]["audit_source"]["kind"] == "computed" and page["card"]["available"]
    finally:
        code, err = _stop(process)
    assert code == 0, err
    assert "Importing the bundled snapshot hub-2025-04-sample" in err
