"""Reading works while another process writes the same store: the server holds the file only per request."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import quote

import duckdb
from starlette.testclient import TestClient

from ptmscope.web.app import create_app

from .conftest import HOSTILE, HOSTILE_IDS

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # the write lock, as a crawl's transaction holds it
con.execute("BEGIN TRANSACTION")
con.execute("UPDATE snapshots SET notes = notes WHERE false")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
con.close()
"""


def _hold(db, seconds):
    writer = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
    return writer


def test_a_request_waits_for_a_writer_then_reads(hostile_db):
    client = TestClient(create_app(hostile_db, HOSTILE, patience=10.0))
    model = "/api/models/" + quote(HOSTILE_IDS[2], safe="/")
    searched = client.get("/api/models?q=evil")  # search runs on the in-memory index: it never waits
    writer = _hold(hostile_db, 1.5)
    try:
        started = time.perf_counter()
        assert client.get("/api/models?q=onload").json()["total"] == 1  # in memory, while the writer holds the file
        assert time.perf_counter() - started < 1.0
        response = client.get(model)  # needs the store: waits for the writer's transaction
        waited = time.perf_counter() - started
    finally:
        writer.wait(timeout=30)
    assert response.status_code == 200 and response.json()["repo_id"] == HOSTILE_IDS[2]
    assert 0.5 < waited < 8, waited
    assert searched.json()["total"] == 3
    # Between requests the server holds nothing: a writer gets the store at once.
    con = duckdb.connect(str(hostile_db))
    con.close()


def test_a_writer_that_holds_on_gets_a_503_and_a_retry_after(hostile_db):
    client = TestClient(create_app(hostile_db, HOSTILE, patience=0.3))
    writer = _hold(hostile_db, 2.0)
    try:
        response = client.get("/api/models/" + quote(HOSTILE_IDS[0], safe="/"))
        page = client.get("/models/" + quote(HOSTILE_IDS[1], safe="/"))
    finally:
        writer.wait(timeout=30)
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert "locked by another process" in response.json()["error"]
    assert page.status_code == 503 and "the store is busy" in page.text
    assert client.get("/api/models/" + quote(HOSTILE_IDS[0], safe="/")).status_code == 200  # free again
