"""Fixtures of the serve tests: the bundled Feb-2022 Hub (imported and audited once per run) and a hostile store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ptmscope.importer import import_paths
from ptmscope.store.store import Store
from ptmscope.web.app import create_app
from ptmscope.web.explorer import Explorer
from tests.conftest import copy_of

FEB = "hub-2022-02"
ERA = "hub-2025-04-sample"
HOSTILE = "hostile"
# Ids the importer accepts (one with a right-to-left override, one HTML would misread); an id with '<' is refused.
HOSTILE_IDS = ("evil/x'&amp;[b]=alert(1);", "evil/\u202etxt.exe", "evil/onload=alert(1)")
REFUSED_ID = "evil/<script>alert(1)</script>"
SCRIPT = "<script>alert(1)</script>"
HOSTILE_CARD = f"""---
license: mit
datasets:
- {json.dumps(SCRIPT)}
- "<img src=x onerror=alert(2)>"
model-index:
- name: x
  results:
  - task: {{type: text-classification}}
    dataset: {{type: {json.dumps(SCRIPT)}, name: evil}}
    metrics:
    - {{type: accuracy, value: 0.5}}
---
# Evil card {SCRIPT}

[click me](javascript:alert(3)) and [data](data:text/html,<script>alert(4)</script>)
and <a href="javascript:alert(5)">raw</a>

<svg onload=alert(6)><circle r=5 /></svg>

<img src=https://evil.example/x.png> ![remote](https://evil.example/y.png)

<iframe src="https://evil.example/frame"></iframe><style>body {{ display: none }}</style>

<div onclick="alert(7)" style="background: url(https://evil.example/bg.png)">styled</div>

<form action="https://evil.example/post"><input name=q></form>

<link rel=stylesheet href=https://evil.example/s.css><meta http-equiv=refresh content="0;url=https://evil.example">

Right-to-left: abc\u202eexe.txt and a [fine link](https://example.org/ok).
"""


@pytest.fixture(scope="session")
def feb_db(feb2022_pristine: Path) -> Path:
    """The bundled Feb-2022 Hub with an audit run (shared by the run; the web tests only read it)."""
    return feb2022_pristine


@pytest.fixture(scope="session")
def feb_explorer(feb_db: Path) -> Explorer:
    return Explorer(feb_db, FEB)


@pytest.fixture(scope="session")
def feb_client(feb_db: Path, feb_explorer: Explorer) -> TestClient:
    return TestClient(create_app(feb_db, FEB, explorer=feb_explorer))


@pytest.fixture(scope="session")
def eras_db(feb2022_pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two snapshots to compare: the audited Feb-2022 Hub (imported once for the run) and the April-2025 sample."""
    from ptmscope.sample import ensure_bundled

    db = copy_of(feb2022_pristine, tmp_path_factory, "eras")
    with Store(db) as store:
        ensure_bundled(store, ERA)  # the small bundle: seconds
    return db


@pytest.fixture(scope="session")
def eras_explorer(eras_db: Path) -> Explorer:
    """The Feb-2022 Hub served from the two-snapshot store."""
    return Explorer(eras_db, FEB)


@pytest.fixture(scope="session")
def eras_client(eras_db: Path, eras_explorer: Explorer) -> TestClient:
    return TestClient(create_app(eras_db, FEB, explorer=eras_explorer))


def make_hostile_store(folder: Path) -> Path:
    """A tiny store whose ids and card text are hostile; the cards' bytes are kept (served as they were)."""
    listing = folder / "models.jsonl"
    rows = [
        {"id": repo_id, "downloads": 10 - i, "pipeline_tag": "text-classification", "library_name": "transformers",
         "siblings": [{"rfilename": "README.md"}, {"rfilename": "pytorch_model.bin"}]}
        for i, repo_id in enumerate((*HOSTILE_IDS, REFUSED_ID))
    ]  # fmt: skip
    listing.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    cards = folder / "cards.jsonl"
    cards.write_text("\n".join(json.dumps({"modelId": r["id"], "readme": HOSTILE_CARD}) for r in rows), "utf-8")
    db = folder / "hostile.duckdb"
    with Store(db) as store:
        import_paths(store, [listing, cards], HOSTILE, keep_files=True, jobs=1)
    return db


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hostile_store(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def hostile_client(hostile_db: Path) -> TestClient:
    return TestClient(create_app(hostile_db, HOSTILE))
