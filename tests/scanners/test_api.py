"""Library API: folder walking, Hugging Face cache layout, limits, and docs kept in sync with rules."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

from ptmscope.scanners.api import scan_file, scan_paths
from ptmscope.scanners.interface import ScannedFile, ScanOptions, SkippedFile

from .conftest import REPO_ROOT, Reduce

EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)


def test_hf_cache_blobs_are_scanned_once_under_their_snapshot_name(tmp_path: Path):
    repo = tmp_path / "hub" / "models--org--model"
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (repo / "blobs" / "deadbeef").write_bytes(EVIL)
    (repo / "blobs" / "cafe").write_bytes(pickle.dumps([1, 2]))
    (snap / "pytorch_model.bin").symlink_to(repo / "blobs" / "deadbeef")
    (snap / "extra.pkl").symlink_to(repo / "blobs" / "cafe")
    report = scan_paths([tmp_path / "hub"])
    paths = sorted(r.path for r in report.results)
    assert len(paths) == 2
    assert all("/snapshots/0123abc/" in p for p in paths), paths
    assert report.count_at_least("dangerous") == 1


def test_missing_paths_are_errors_and_the_run_goes_on(tmp_path: Path):
    (tmp_path / "a.pkl").write_bytes(EVIL)
    report = scan_paths([tmp_path / "nope", tmp_path / "a.pkl"])
    assert report.errors and report.has_errors()
    assert report.worst() == "dangerous"


def test_size_limit_and_empty_files(tmp_path: Path):
    (tmp_path / "big.pkl").write_bytes(EVIL)
    (tmp_path / "empty.bin").write_bytes(b"")
    result = scan_file(tmp_path / "big.pkl", ScanOptions(max_file_size=10))
    assert isinstance(result, SkippedFile) and not result.error
    assert isinstance(scan_file(tmp_path / "empty.bin"), SkippedFile)


def test_unknown_files_are_skipped_or_reported_on_request(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("just text\n")
    assert isinstance(scan_file(tmp_path / "notes.txt"), SkippedFile)
    result = scan_file(tmp_path / "notes.txt", ScanOptions(scan_unknown=True))
    assert isinstance(result, ScannedFile) and result.format == "unknown" and result.verdict == "clean"


def test_every_rule_is_documented():
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "src" / "ptmscope" / "scanners").glob("*.py"))
    rules = set(
        re.findall(
            r'"((?:pickle|archive|zip|npy|keras|hdf5|savedmodel|onnx|safetensors|gguf|'
            r'torchscript|compressed|scan|scanner|polyglot|file)-[a-z0-9-]+)"',
            source,
        )
    )
    rules |= {"pickle-dangerous-import", "pickle-suspicious-import"}
    doc = (REPO_ROOT / "docs" / "scanner.md").read_text()
    missing = sorted(r for r in rules if f"`{r}`" not in doc)
    assert not missing, missing
