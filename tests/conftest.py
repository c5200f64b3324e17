"""Shared fixtures. Tests never reach the network: every cache and endpoint points at tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
"""Real Hub data from public sources, with their licences (tests/data/README.md)."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PTMSCOPE_DB", str(home / "ptmscope.duckdb"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port: any stray request fails fast
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


@pytest.fixture
def store():
    from ptmscope.store import Store

    with Store(":memory:") as s:
        yield s


@pytest.fixture(scope="session")
def feb2022_pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the bundled Feb-2022 Hub, imported and audited once for the whole run.

    Importing it takes most of a minute; tests take a copy (``copy_of``) and may write to it.
    """
    from ptmscope.audits.snapshot import audit_snapshot
    from ptmscope.sample import ensure_sample
    from ptmscope.store import Store

    path = tmp_path_factory.mktemp("feb2022-pristine") / "store.duckdb"
    with Store(path) as store:
        snapshot, _ = ensure_sample(store)
        audit_snapshot(store, snapshot)
    return path


def copy_of(store_path: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of a closed store file, for a test module to read and write."""
    target = tmp_path_factory.mktemp(name) / "store.duckdb"
    shutil.copyfile(store_path, target)
    return target
