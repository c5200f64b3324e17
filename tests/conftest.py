"""Shared fixtures. Tests never reach the network: every cache and endpoint points at tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
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


def require(path: Path) -> Path:
    """The path, or skip the test when the shared data is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


def pytest_report_header(config: pytest.Config) -> str:
    """Say whether the real data beside the checkout was found (tests that need it skip otherwise)."""
    if DATA.exists():
        return f"ptmscope shared data: {SHARED}"
    return f"ptmscope shared data: NOT FOUND at {SHARED}; tests on real data will be skipped"
