"""A replay hub whose repos hold real model files: the scanner corpora and large generated checkpoints.

The corpus files (``tests/corpora``, partly MALICIOUS) are copied byte for byte into repo folders
and never loaded. The large checkpoints are made here: a 200 MB PyTorch zip and a 50 MB legacy
``.bin`` written by ``torch.save`` (writing, never loading), a 50 MB safetensors file and GGUF
files, one with a template-injection chat template, padded with tensor bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from ptmscope.importer import import_paths
from ptmscope.scanners.api import scan_file
from ptmscope.scanners.hub import wants
from ptmscope.scanners.interface import ScannedFile, ScanOptions
from ptmscope.store import Store
from tests.replay import online  # noqa: F401 - a fixture
from tests.scanners.conftest import CORPORA, corpus_rows

MB = 1 << 20


@dataclass(frozen=True)
class Registry:
    """The files folder (``files/<repo>/<path>``), a store with its listing as snapshot ``reg``, and truth."""

    files: Path
    db: Path
    listing: Path
    expected: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]]
    """(repo, path) -> (format, verdict, rules above info) of a full local scan of the same bytes."""
    sizes: dict[tuple[str, str], int]


def _gguf(kv: dict[str, str], pad: int) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, value in kv.items():
        k, v = key.encode(), value.encode()
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v
    return out + b"\0" * pad


def _safetensors(size: int) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [size // 4], "data_offsets": [0, size]},
                         "__metadata__": {"format": "pt"}}).encode()  # fmt: skip
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\0" * size


def _large_checkpoints(root: Path) -> None:
    import torch  # the test extra; it only writes here

    (root / "big/pytorch-200m").mkdir(parents=True)
    torch.save({"embeddings.weight": torch.zeros(50 * MB // 4 * 4), "layer.bias": torch.zeros(10)},
               root / "big/pytorch-200m/pytorch_model.bin")  # fmt: skip
    (root / "big/legacy-bin").mkdir(parents=True)
    torch.save({"w": torch.zeros(50 * MB // 4)}, root / "big/legacy-bin/pytorch_model.bin",
               _use_new_zipfile_serialization=False)  # fmt: skip
    (root / "big/safetensors").mkdir(parents=True)
    (root / "big/safetensors/model.safetensors").write_bytes(_safetensors(50 * MB))
    (root / "big/gguf").mkdir(parents=True)
    chat = "{% for m in messages %}{{ m.content }}{% endfor %}"
    (root / "big/gguf/model-q4.gguf").write_bytes(_gguf({"general.name": "tiny", "tokenizer.chat_template": chat},
                                                        30 * MB))  # fmt: skip
    (root / "evil/gguf-ssti").mkdir(parents=True)
    ssti = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    (root / "evil/gguf-ssti/model.gguf").write_bytes(_gguf({"tokenizer.chat_template": ssti}, 20 * MB))


def _corpus_repos(root: Path) -> None:
    """Each corpus project's files in one repo (``corpus/<project>``), paths kept; copied, never opened."""
    for row in corpus_rows():
        source = CORPORA / row["path"]
        project, _, rest = row["path"].partition("/")
        target = root / "corpus" / project / rest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _blob_id(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MB):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MB):
            digest.update(chunk)
    return digest.hexdigest()


def build_registry(base: Path) -> Registry:
    files = base / "files"
    _corpus_repos(files)
    _large_checkpoints(files)
    repos = sorted({p.relative_to(files).parts[:2] for p in files.rglob("*") if p.is_file()})
    listing = base / "listing.jsonl"
    expected: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {}
    sizes: dict[tuple[str, str], int] = {}
    with listing.open("w") as out:
        for rank, parts in enumerate(repos):
            repo = "/".join(parts)
            folder = files.joinpath(*parts)
            siblings = []
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                name = path.relative_to(folder).as_posix()
                size = path.stat().st_size
                siblings.append({"rfilename": name, "size": size, "blobId": _blob_id(path),
                                 "lfs": {"sha256": _sha256(path), "size": size, "pointerSize": 134}})  # fmt: skip
                sizes[(repo, name)] = size
                if wants(name):
                    result = scan_file(path, ScanOptions(), f"{repo}/{name}")
                    if isinstance(result, ScannedFile):
                        rules = tuple(dict.fromkeys(f.rule for f in result.findings if f.severity != "info"))
                        expected[(repo, name)] = (result.format, result.verdict, rules)
                    else:
                        expected[(repo, name)] = ("", result.verdict, ())
            record = {
                "modelId": repo,
                "sha": hashlib.sha1(repo.encode()).hexdigest(),
                "downloads": 10_000 - rank,
                "pipeline_tag": "text-classification",
                "siblings": siblings,
                # the Hub's own scanners flag the template-injection GGUF (as its status would say)
                "securityRepoStatus": {
                    "scansDone": True,
                    "filesWithIssues": ["model.gguf"] if repo == "evil/gguf-ssti" else [],
                },
            }
            out.write(json.dumps(record) + "\n")
    db = base / "registry.duckdb"
    with Store(db) as store:
        import_paths(store, [listing], "reg")
    return Registry(files, db, listing, expected, sizes)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Built once per test session (about 400 MB on disk, a few seconds)."""
    return build_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def fresh_db(registry: Registry, tmp_path: Path) -> Path:
    """A copy of the registry's store, for a test that writes scans into it."""
    db = tmp_path / "scan.duckdb"
    shutil.copyfile(registry.db, db)
    return db
