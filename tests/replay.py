"""Helpers for tests that serve a snapshot with ``serve-hub`` and crawl or clone it back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ptmscope.hub.ratelimit import Budget
from ptmscope.hub.server import FaultPlan, HubServer, serve
from ptmscope.importer import import_paths
from ptmscope.store import Store
from tests.conftest import FIXTURES

FAST_BUDGETS = {b: Budget(b, 100_000, 10) for b in ("api", "resolvers", "pages")}
SMALL = [FIXTURES / "dumps" / "small_listing.jsonl", FIXTURES / "dumps" / "small_cards.jsonl"]


def small_store(path: Path, name: str = "src") -> Path:
    """The small fixture dump imported with card bytes kept, in a store file."""
    with Store(path) as store:
        import_paths(store, SMALL, name, keep_files=True)
    return path


@contextlib.contextmanager
def running_hub(db: Path, snapshot: str | None = None, **kwargs: object) -> Iterator[HubServer]:
    """A serve-hub on a free loopback port, in a thread, for the duration of the block.

    Its budget is generous (tests are not about waiting) unless ``rate_limits`` says otherwise.
    """
    kwargs.setdefault("rate_limits", FAST_BUDGETS)
    server = serve(db, snapshot, **kwargs)  # type: ignore[arg-type]
    server.serve_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def handler_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A plain HTTP server (a test's own handler, hostile or fake) on a free loopback port; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def faults(spec: str, seed: int = 1) -> FaultPlan:
    """A fault plan that answers fast (tests keep their time budget)."""
    return FaultPlan.parse(spec, seed=seed, slow_seconds=0.05, retry_after=0)


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let huggingface_hub send requests (to our own loopback server only; the endpoint is always explicit)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


def table(store: Store, snapshot_id: int, name: str, exclude: tuple[str, ...] = ()) -> list[tuple[object, ...]]:
    """A snapshot's rows of one table, as a sorted list of tuples (JSON as text), minus some columns."""
    columns = [
        r[0]
        for r in store.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        )
        if r[0] not in ("snapshot_id", *exclude)
    ]
    select = ", ".join(f'"{c}"::VARCHAR' for c in columns)
    rows = store.query(f"SELECT {select} FROM {name} WHERE snapshot_id = ?", [snapshot_id])
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))
