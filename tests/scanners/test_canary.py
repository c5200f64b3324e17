"""The scanner never executes what it reads.

Two independent checks: (1) canary pickles that would create a file if anything loaded
them are scanned in every shape (plain, zip, npy, joblib stream, nested); the file must
never appear; (2) a Python audit hook records every ``pickle.find_class``, ``os.system``,
``subprocess.Popen``, ``exec``, ``marshal.loads`` and ``import`` event while the whole
corpus and the canaries are scanned; none may fire from scanning.
"""

from __future__ import annotations

import builtins
import io
import pickle
import sys
import zipfile
import zlib

import pytest

from ptmscope.scanners.api import scan_paths
from ptmscope.scanners.interface import ScanOptions

from .conftest import CORPORA, Reduce

_WATCHING = {"on": False, "events": []}
_EVENTS = (
    "pickle.find_class",
    "os.system",
    "subprocess.Popen",
    "exec",
    "marshal.loads",
    "os.exec",
    "os.posix_spawn",
    "ctypes.dlopen",
    "import",
)


def _from_import_machinery() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if "importlib._bootstrap" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _hook(event: str, args: tuple) -> None:
    if _WATCHING["on"] and event in _EVENTS:
        if event != "pickle.find_class" and _from_import_machinery():
            return  # lazily imported dependencies (py7zr, ...) being imported: not the scanned input
        if event == "import" and not str(args[0]).startswith(("os", "subprocess", "posix", "nt", "pty", "runpy")):
            return
        _WATCHING["events"].append((event, repr(args)[:200]))


sys.addaudithook(_hook)


def _canaries(tmp_path):
    target = tmp_path / "CANARY"
    opener = Reduce(builtins.open, str(target), "w")  # loading this creates the file
    evil = pickle.dumps(opener, protocol=2)
    shapes = {
        "plain.pkl": evil,
        "v4.pkl": pickle.dumps({"x": opener}, protocol=4),
        "nested.pkl": pickle.dumps(Reduce(pickle.loads, evil), protocol=4),
        "stacked.pt": pickle.dumps(1) + evil,
        "joblib.z": zlib.compress(evil),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/version", b"3")
    shapes["model.pt"] = buf.getvalue()
    folder = tmp_path / "canaries"
    folder.mkdir()
    for name, data in shapes.items():
        (folder / name).write_bytes(data)
    return target, folder


def test_canary_never_fires_and_no_unpickling_happens(tmp_path):
    target, folder = _canaries(tmp_path)
    paths = [folder, CORPORA]
    _WATCHING["events"].clear()
    _WATCHING["on"] = True
    try:
        report = scan_paths(paths, ScanOptions(timeout=30))
    finally:
        _WATCHING["on"] = False
    assert not target.exists()
    assert _WATCHING["events"] == []
    flagged = {r.path.rsplit("/", 1)[-1] for r in report.scanned if r.verdict == "dangerous"}
    assert {"plain.pkl", "v4.pkl", "nested.pkl", "stacked.pt", "joblib.z", "model.pt"} <= flagged


def test_audit_hook_would_see_a_real_unpickle(tmp_path):
    """Guard the guard: the hook does fire when something *is* unpickled (a harmless global)."""
    _WATCHING["events"].clear()
    _WATCHING["on"] = True
    try:
        pickle.loads(pickle.dumps(Reduce(bytes, 1)))  # safe: our own pickle of builtins.bytes, in the test
    finally:
        _WATCHING["on"] = False
    assert any(e == "pickle.find_class" for e, _ in _WATCHING["events"])
    pytest.importorskip("ptmscope")
