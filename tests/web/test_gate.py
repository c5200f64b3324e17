"""The server computes a few pages at a time (``web.gate``), and a page that waits gives its turn away."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ptmscope.web.app import create_app
from ptmscope.web.gate import Gate, holding, waiting

from .conftest import HOSTILE, HOSTILE_IDS
from .test_lock import _hold


class _Probe:
    """Handlers that count how many of them run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.busy = threading.Lock()  # held by the /compute handler for a while
        self.computed = threading.Event()  # /compute is done
        self.quick_saw_computed: bool | None = None

    def slow(self, request):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.15)
        with self.lock:
            self.running -= 1
        return PlainTextResponse("done")

    def compute(self, request):
        with holding(self.busy):
            time.sleep(1.0)
            self.computed.set()
        return PlainTextResponse("computed")

    def same(self, request):
        with holding(self.busy):  # another request is computing it: wait out of the gate
            return PlainTextResponse("shared")

    def quick(self, request):
        with waiting():  # outside any wait, stepping out and back in is harmless
            pass
        self.quick_saw_computed = self.computed.is_set()
        return PlainTextResponse("quick")


def _app(probe: _Probe, slots: int) -> Starlette:
    gate = Gate(slots)
    routes = [Route(f"/{name}", gate.guard(getattr(probe, name))) for name in ("slow", "compute", "same", "quick")]
    return Starlette(routes=routes)


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_at_most_slots_pages_run_at_once_and_every_one_is_answered(slots):
    probe = _Probe()
    with TestClient(_app(probe, slots)) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/slow"), range(8)))
    assert [a.text for a in answers] == ["done"] * 8
    assert probe.most == slots


def test_a_page_waiting_for_another_ones_computation_gives_its_slot_away():
    probe = _Probe()
    with TestClient(_app(probe, 2)) as client, ThreadPoolExecutor(3) as pool:
        computing = pool.submit(client.get, "/compute")
        time.sleep(0.2)
        same = pool.submit(client.get, "/same")  # waits for /compute's lock, out of the gate
        time.sleep(0.2)
        assert client.get("/quick").text == "quick"  # both slots would be taken, were /same still holding one
        assert computing.result().text == "computed" and same.result().text == "shared"
    assert probe.quick_saw_computed is False  # /quick ran while /compute was still computing


def test_a_page_waiting_for_a_writer_takes_no_slot_from_searches(hostile_db):
    app = create_app(hostile_db, HOSTILE, patience=10.0, slots=1)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        writer = _hold(hostile_db, 1.5)
        try:
            page = pool.submit(client.get, "/api/models/" + quote(HOSTILE_IDS[2], safe="/"))  # waits for the writer
            time.sleep(0.3)
            searched = client.get("/api/models?q=evil")  # the one slot is free: the page waits outside it
            still_locked = writer.poll() is None and not page.done()
        finally:
            writer.wait(timeout=30)
        assert page.result().status_code == 200
    assert searched.json()["total"] == 3
    assert still_locked  # the search was answered while the page still waited for the writer


def test_a_gate_needs_a_slot():
    with pytest.raises(ValueError, match="at least one slot"):
        Gate(0)
