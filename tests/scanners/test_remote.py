"""Remote scans through range requests (``scanners.remote``): the local verdict, from few bytes.

Every corpus file and generated fixture gives the same result through ``scan_remote`` (an
in-memory range fetcher over its bytes) as through ``scan_file``; big checkpoints are decided
from a small fraction of their bytes; a scan past its budget is never clean; the HTTP fetcher
checks every answer against what it asked. Corpus files are read as bytes, never loaded.
"""

from __future__ import annotations

import builtins
import collections
import gzip
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from ptmscope.scanners import remote
from ptmscope.scanners.api import scan_file
from ptmscope.scanners.interface import FileResult, ScannedFile, ScanOptions, SkippedFile
from ptmscope.scanners.pickle import LEGACY_TORCH_MAGIC
from ptmscope.scanners.remote import (
    BudgetExceeded,
    HttpRangeFile,
    RangeBuffer,
    RemoteReadError,
    RemoteScan,
    scan_http,
    scan_remote,
)
from tests.replay import handler_server, online  # noqa: F401 - the fixture, used by name below

from . import test_formats as formats
from . import test_hostile_files as hostile
from . import test_pickle as pickles
from .conftest import CORPORA, Reduce, corpus_rows
from .test_fuzz import SEEDS

EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)
MB = 1 << 20


def fetcher(data: bytes, log: list[tuple[int, int]] | None = None) -> Callable[[int, int], bytes]:
    """A range fetcher over bytes in memory; ``log`` records the ranges asked."""

    def fetch(start: int, stop: int) -> bytes:
        if log is not None:
            log.append((start, stop))
        return data[start:stop]

    return fetch


def same(result: FileResult) -> tuple[object, ...]:
    """What must match between a local and a remote scan (not the time it took)."""
    if isinstance(result, SkippedFile):
        return ("skipped", result.skip_reason, result.error, result.unscanned, result.size)
    return ("scanned", result.format, result.findings, result.size)


def remote_matches_local(path: Path, data: bytes, budget: int | None = None) -> RemoteScan:
    local = scan_file(path, display=path.name)
    scan = scan_remote(fetcher(data), len(data), path.name, path.name, budget=budget)
    assert same(scan.result) == same(local), path
    return scan


# --- the fixtures: generated files of every format the scanner tests build ---------------------------------


def _zips() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        members = {"archive/data.pkl": formats.GOOD, "archive/version": b"3\n", "notes.txt": EVIL}
        out[f"zip-{method}"] = formats.make_zip(members, method)
    for i, patch in enumerate([{"flags": 0x20}, {"flags": 0x40}, {"crc": 0}, {"drop_cd": 1}, {"local_name": 1}]):
        out[f"tampered-{i}.zip"] = formats._tamper(formats.make_zip({"data.pkl": EVIL}), **patch)
    rng = np.random.default_rng(1)
    storages = {f"archive/data/{i}": rng.bytes(4096) for i in range(300)}
    out["torch-storages.pt"] = formats.make_zip(
        {"archive/data.pkl": formats.GOOD, "archive/version": b"3\n", **storages}
    )
    out["polyglot.pkl"] = formats.GOOD + formats.make_zip({"archive/data.pkl": EVIL})
    out["prepended.zip"] = b"junk" * 100 + formats.make_zip({"x/data.pkl": EVIL})
    out["bomb.zip"] = formats.make_zip({"../../evil.sh": b"echo", "zeros.bin": b"\0" * (8 << 20)}, zipfile.ZIP_DEFLATED)
    code = b"def forward(self, x):\n  y = torch.ops.aten.from_file('/etc/passwd')\n  return torch.ops.evil.run(x)\n"
    out["torchscript.pt"] = formats.make_zip(
        {"m/code/__torch__/m.py": code, "m/constants.pkl": formats.GOOD, "m/data.pkl": formats.GOOD}
    )
    out["links.zip"] = hostile.zip_with(
        [("lnk", b"../../etc/passwd", hostile.LINK), ("ok", b"x", hostile.FILE), ("dev", b"", 0o020644)],
        zipfile.ZIP_DEFLATED,
    )
    for name, config in (("lambda", formats.LAMBDA_CONFIG), ("safe", formats.SAFE_CONFIG)):
        out[f"{name}.h5"] = formats.fake_h5(config)
        out[f"{name}.keras"] = formats.make_zip(
            {
                "config.json": json.dumps(config).encode(),
                "metadata.json": b"{}",
                "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64,
            }
        )
    return out


def _archives_and_arrays() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    link = tarfile.TarInfo("lnk")
    link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    tar = formats.make_tar(
        [tarfile.TarInfo("model/data.bin"), tarfile.TarInfo("../up.txt"), link],
        {"model/data.bin": EVIL, "../up.txt": b"hi"},
    )
    out["links.tar"] = tar
    out["evil.tar.gz"] = gzip.compress(formats.make_tar([tarfile.TarInfo("a.pkl")], {"a.pkl": EVIL}))
    out["plain.npy"] = formats.npy(np.arange(10))
    out["object.npy"] = formats.npy(np.array([1, "a"], dtype=object))
    header = formats.npy(np.array([None], dtype=object))
    out["evil.npy"] = header[: 10 + int.from_bytes(header[8:10], "little")] + EVIL
    out["short.npy"] = formats.npy(np.arange(10))[:20]
    npz = io.BytesIO()
    np.savez_compressed(npz, a=np.arange(3), b=np.array([1, "x"], dtype=object))
    out["compressed.npz"] = npz.getvalue()
    for label, data, _ in formats.SAFETENSORS_CASES:
        out[f"{label}.safetensors"] = data
    template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    out["clean.gguf"] = formats.gguf({"general.name": "tiny", "tokenizer.chat_template": template})
    out["ssti.gguf"] = formats.gguf({"tokenizer.chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    out["missing-tensors.gguf"] = formats.gguf({"general.name": "x"}, 5)
    out["truncated.gguf"] = formats.gguf({"a": "b"})[:-3]
    out["version9.gguf"] = formats.gguf({"a": "b"}, version=9)
    for i, kwargs in enumerate([{}, {"location": "../../etc/passwd"}, {"domain": "com.evil"}]):
        out[f"m{i}.onnx"] = formats.onnx_model(**kwargs)  # type: ignore[arg-type]
    out["pyfunc/saved_model.pb"] = formats.saved_model(["Const", "PyFunc"])
    out["custom/saved_model.pb"] = formats.saved_model(["Const", "MyCustomOp"])
    out["truncated/saved_model.pb"] = formats.saved_model(["Const", "PyFunc"])[:-2]
    return out


def _pickles() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for protocol in pickles.PROTOCOLS:
        for label, payload, _ in pickles.MALICIOUS:
            out[f"evil-{label}-{protocol}.pkl"] = pickle.dumps(payload, protocol=protocol)
        for label, payload in pickles.BENIGN:
            out[f"benign-{label}-{protocol}.pkl"] = pickle.dumps(payload, protocol=protocol)
    for label, data, _ in pickles.HANDMADE:
        out[f"handmade-{label}.pkl"] = data
    out["trailing.pkl"] = pickle.dumps([1]) + b"\n\n\t"
    magic = pickle.dumps(LEGACY_TORCH_MAGIC, protocol=2)
    out["legacy.bin"] = legacy_bin({"w": 1}, [b"\x28" * 64])
    out["before-magic.bin"] = pickle.dumps(Reduce(builtins.eval, "1")) + magic
    out["memo-bomb.pkl"] = hostile.memo_bomb(200_000, hostile.OS_SYSTEM)
    out["vocabulary.pkl"] = pickle.dumps({f"token{i}": i for i in range(20_000)}, protocol=4)
    out["big-bytes.pkl"] = pickle.dumps({"blob": b"\0" * (2 << 20), "evil": Reduce(os.system, "id")}, protocol=4)
    out["nested.pkl"] = pickle.dumps(Reduce(pickle.loads, EVIL), protocol=4)
    for i, seed in enumerate(SEEDS):
        out[f"seed-{i}"] = seed
    out["empty"] = b""
    out["notes.txt"] = b"just text\n"
    return out


def _optional() -> dict[str, bytes]:
    """7z and joblib files (their libraries are optional dependencies)."""
    out: dict[str, bytes] = {}
    try:  # optional dependencies, as in test_formats and test_pickle
        import joblib
        import py7zr
    except ImportError:  # pragma: no cover
        return {}
    archive = io.BytesIO()
    with py7zr.SevenZipFile(archive, "w") as seven:
        seven.writestr(EVIL, "inner/data.pkl")
        seven.writestr(formats.GOOD, "ok.pkl")
    out["members.7z"] = archive.getvalue()
    for compress in (None, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)):
        dump = io.BytesIO()
        value = {"a": np.arange(100.0), "o": np.array([1, "a"], dtype=object), "evil": Reduce(os.system, "id")}
        joblib.dump(value, dump, **({"compress": compress} if compress else {}))
        out[f"model-{compress and compress[0]}.joblib"] = dump.getvalue()
    return out


def fixtures() -> dict[str, bytes]:
    return {**_zips(), **_archives_and_arrays(), **_pickles(), **_optional()}


def corpus_files() -> list[Path]:
    skip = {"MANIFEST.tsv", "BASELINES.tsv", "README.md"}
    return [p for p in sorted(CORPORA.rglob("*")) if p.is_file() and p.name not in skip]


# --- big files in the layouts real checkpoints have ---------------------------------------------------------


def torch_zip(total: int, count: int = 200, payload: bytes | None = None) -> tuple[bytes, int]:
    """A ``torch.save`` zip (stdlib zipfile, torch's member order) with ``count`` random storages of ``total`` bytes.

    ``payload`` replaces the ``data.pkl`` (a pickle of plain data). Returns the file and the size of its ``data.pkl``.
    """
    state = collections.OrderedDict(
        (f"encoder.layer.{i}.weight", ("storage", "FloatStorage", str(i), "cpu", total // count // 4, (64, 64)))
        for i in range(count)
    )
    data_pkl = payload or pickle.dumps(state, protocol=2)
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", b"little")
        for i in range(count):
            z.writestr(f"archive/data/{i}", rng.bytes(total // count))
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/.data/serialization_id", b"1234567890123456789012345678901234567890")
    return buf.getvalue(), len(data_pkl)


def legacy_bin(state: object, storages: list[bytes]) -> bytes:
    """A legacy ``torch.save`` file: magic, protocol, sys_info, the object, the storage keys, then raw storages."""
    parts = [
        pickle.dumps(LEGACY_TORCH_MAGIC, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}, protocol=2),
        pickle.dumps(state, protocol=2),
        pickle.dumps([str(i) for i in range(len(storages))], protocol=2),
    ]
    raw = b"".join(len(s).to_bytes(8, "little") + s for s in storages)
    return b"".join(parts) + raw


def safetensors_file(count: int, each: int) -> tuple[bytes, int]:
    """A safetensors file of ``count`` F32 tensors of ``each`` bytes; returns it and its header's size."""
    header = {
        f"model.layers.{i}.weight": {"dtype": "F32", "shape": [each // 4], "data_offsets": [i * each, (i + 1) * each]}
        for i in range(count)
    }
    raw = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    return len(raw).to_bytes(8, "little") + raw + bytes(count * each), 8 + len(raw)


def gguf_file(vocab: int, tensors: int, data: int) -> tuple[bytes, int]:
    """A GGUF v3 file with a tokenizer (``vocab`` tokens, scores, types), a chat template and ``tensors``
    tensor infos, then ``data`` bytes of tensor data; returns it and where its data starts."""

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        string("general.architecture") + struct.pack("<I", 8) + string("llama"),
        string("general.alignment") + struct.pack("<II", 4, 32),
        string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, vocab)
        + b"".join(string(f"tok{i}") for i in range(vocab)),
        string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, vocab) + bytes(4 * vocab),
        string("tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 5, vocab) + bytes(4 * vocab),
        string("tokenizer.chat_template")
        + struct.pack("<I", 8)
        + string("{% for m in messages %}{{ m.content }}{% endfor %}"),
    ]
    each = data // tensors
    infos = [
        string(f"blk.{i}.weight")
        + struct.pack("<I", 1)
        + struct.pack("<Q", each // 4)
        + struct.pack("<IQ", 0, i * each)
        for i in range(tensors)
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, tensors, len(kv)) + b"".join(kv) + b"".join(infos)
    head += bytes(-len(head) % 32)
    return head + bytes(data), len(head)


FIXTURES = fixtures()
TINY = {"BLOCK": 64, "WHOLE_FETCH": 0, "READAHEAD_MAX": 256}
"""Blocks small enough that every read crosses blocks, runs and read-ahead."""


# --- the same verdict as a local scan -------------------------------------------------------------------------


@pytest.mark.parametrize("tiny", [False, True], ids=["blocks", "tiny-blocks"])
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPORA)))
def test_every_corpus_file_scans_the_same_remotely(path: Path, tiny: bool, monkeypatch: pytest.MonkeyPatch):
    if tiny:
        for name, value in TINY.items():
            monkeypatch.setattr(remote, name, value)
    remote_matches_local(path, path.read_bytes())  # bytes only: never loaded


@pytest.mark.parametrize("tiny", [False, True], ids=["blocks", "tiny-blocks"])
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_generated_fixture_scans_the_same_remotely(
    name: str, tiny: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if tiny:
        for key, value in TINY.items():
            monkeypatch.setattr(remote, key, value)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FIXTURES[name])
    remote_matches_local(path, FIXTURES[name])


def test_the_corpus_walk_finds_every_file_of_the_manifest():
    listed = {row["path"] for row in corpus_rows()}
    walked = {p.relative_to(CORPORA).as_posix() for p in corpus_files()}
    assert listed and listed <= walked


def test_the_fixtures_cover_every_format_and_verdict():
    formats_seen, verdicts = set(), set()
    for name, data in FIXTURES.items():
        result = scan_remote(fetcher(data), len(data), name, name, budget=None).result
        if isinstance(result, ScannedFile):
            formats_seen.add(result.format)
            verdicts.add(result.verdict)
    expected = {"pickle", "pytorch-zip", "torchscript", "zip", "keras", "npz", "tar", "gzip+tar", "npy", "hdf5", "7z"}
    assert expected | {"safetensors", "gguf", "onnx", "tf-savedmodel"} <= formats_seen
    assert verdicts == {"clean", "unparseable", "suspicious", "dangerous"}


# --- RangeBuffer ------------------------------------------------------------------------------------------------


def test_range_buffer_reads_like_bytes(monkeypatch: pytest.MonkeyPatch):
    import random

    monkeypatch.setattr(remote, "BLOCK", 16)
    monkeypatch.setattr(remote, "WHOLE_FETCH", 0)
    monkeypatch.setattr(remote, "READAHEAD_MAX", 64)
    rnd = random.Random(5)
    data = bytes(rnd.choice(b"ab\n\x00PK") for _ in range(3000))
    buf = RangeBuffer(fetcher(data), len(data))
    assert len(buf) == len(data)
    for _ in range(3000):
        a, b = rnd.randrange(-50, 3100), rnd.randrange(-50, 3100)
        assert buf[a:b] == data[a:b]
        step = rnd.choice([1, 2, 3, -1, -7])
        assert buf[a:b:step] == data[a:b:step]
        sub = bytes(rnd.choice(b"ab\nPK") for _ in range(rnd.randrange(0, 4)))
        assert buf.find(sub, a, b) == data.find(sub, a, b), (sub, a, b)
        i = rnd.randrange(-3000, 3000)
        assert buf[i] == data[i]
    with pytest.raises(IndexError):
        buf[3000]
    with pytest.raises(TypeError):
        buf["x"]
    assert buf.bytes_fetched == len(data)  # every byte fetched once: blocks are kept


def test_a_small_file_is_one_request_and_missing_blocks_are_coalesced(monkeypatch: pytest.MonkeyPatch):
    data = os.urandom(remote.BLOCK)
    log: list[tuple[int, int]] = []
    buf = RangeBuffer(fetcher(data, log), len(data))
    assert buf[5] == data[5] and buf[-1] == data[-1] and buf[10:20] == data[10:20]
    assert log == [(0, len(data))]
    monkeypatch.setattr(remote, "BLOCK", 100)
    monkeypatch.setattr(remote, "WHOLE_FETCH", 0)
    data = os.urandom(1000)
    log = []
    buf = RangeBuffer(fetcher(data, log), len(data))
    buf[450], buf[150]  # blocks 4 and 1
    assert buf[0:700] == data[:700]  # blocks 0, 2-3 and 5-6 are missing: 0 alone, then 2-3, then 5-6
    assert log == [(400, 500), (100, 200), (0, 100), (200, 400), (500, 700)]
    assert buf.requests == 5 and buf.bytes_fetched == 700


def test_reads_that_go_forward_read_ahead_and_stay_in_the_budget(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(remote, "BLOCK", 100)
    monkeypatch.setattr(remote, "WHOLE_FETCH", 0)
    monkeypatch.setattr(remote, "READAHEAD_MAX", 400)
    data = os.urandom(5000)
    log: list[tuple[int, int]] = []
    buf = RangeBuffer(fetcher(data, log), len(data), budget=1450)
    for i in range(0, 1400, 7):
        assert buf[i] == data[i]
    assert [b - a for a, b in log] == [100, 200, 400, 400, 300]  # doubling, then capped, then the budget
    assert buf.bytes_fetched == 1400
    with pytest.raises(BudgetExceeded, match="1,450-byte budget; 1,400 bytes were read"):
        buf[1400]
    assert isinstance(buf.failure, BudgetExceeded)
    assert buf[1399] == data[1399]  # what was fetched is still there
    with pytest.raises(BudgetExceeded):
        buf[4000]  # and every later fetch fails the same way


def test_a_failing_or_lying_fetcher_is_a_remote_read_error():
    def broken(start: int, stop: int) -> bytes:
        raise OSError("connection reset")

    with pytest.raises(RemoteReadError, match="OSError: connection reset"):
        RangeBuffer(broken, 10)[0]
    with pytest.raises(RemoteReadError, match="received 5 bytes"):
        RangeBuffer(lambda a, b: b"12345", 10)[0]


# --- bytes and requests: only what the verdict needs --------------------------------------------------------


def report(label: str, scan: RemoteScan, size: int) -> None:
    print(
        f"\n{label}: {scan.bytes_read:,} of {size:,} bytes ({scan.bytes_read / size:.3%}) in {scan.requests} requests"
    )


TAIL = 65557
"""The last bytes every scan reads: the zip end record (and the polyglot check of other formats)."""


@pytest.mark.parametrize("verdict", ["clean", "dangerous"])
def test_a_100_mb_pytorch_zip_is_decided_from_a_fraction_of_a_percent(verdict: str, tmp_path: Path):
    data, _ = torch_zip(100 * MB, payload=EVIL if verdict == "dangerous" else None)
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(data)
    scan = remote_matches_local(path, data, budget=remote.DEFAULT_BUDGET)
    report(f"PyTorch zip ({verdict})", scan, len(data))
    assert scan.result.format == "pytorch-zip" and scan.result.verdict == verdict  # type: ignore[union-attr]
    assert scan.bytes_read <= len(data) // 100 and scan.bytes_read <= 3 * remote.BLOCK
    assert scan.requests == 2  # the head (data.pkl), the tail (central directory, version, serialization id)


def test_a_legacy_torch_file_reads_only_its_pickles(tmp_path: Path):
    rng = np.random.default_rng(2)
    state = collections.OrderedDict((f"layer.{i}.weight", ("storage", i, "cpu", 4096)) for i in range(3000))
    storages = [rng.bytes(MB) for _ in range(40)]
    data = legacy_bin(state, storages)
    pickled = len(data) - sum(8 + len(s) for s in storages)
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(data)
    scan = remote_matches_local(path, data, budget=remote.DEFAULT_BUDGET)
    report(f"legacy torch.save ({pickled:,} bytes of pickles)", scan, len(data))
    assert scan.result.format == "pickle" and scan.result.verdict == "clean"  # type: ignore[union-attr]
    assert scan.bytes_read <= 2 * (pickled + remote.BLOCK) + TAIL + remote.BLOCK  # read ahead at most doubles


def test_safetensors_reads_only_its_header(tmp_path: Path):
    data, header = safetensors_file(400, 200_000)
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    scan = remote_matches_local(path, data, budget=remote.DEFAULT_BUDGET)
    report(f"safetensors ({header:,}-byte header)", scan, len(data))
    assert scan.result.format == "safetensors" and scan.result.verdict == "clean"  # type: ignore[union-attr]
    assert scan.bytes_read <= header + TAIL + 2 * remote.BLOCK


def test_gguf_reads_only_its_metadata(tmp_path: Path):
    data, head = gguf_file(32_000, 200, 70 * MB)
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    scan = remote_matches_local(path, data, budget=remote.DEFAULT_BUDGET)
    report(f"GGUF ({head:,} bytes of metadata and tensor infos)", scan, len(data))
    assert scan.result.format == "gguf" and scan.result.verdict == "clean"  # type: ignore[union-attr]
    assert scan.bytes_read <= 2 * (head + remote.BLOCK) + TAIL + remote.BLOCK


# --- a file that needs more than the budget ---------------------------------------------------------------------


def test_a_file_that_needs_more_than_the_budget_is_never_clean():
    data = pickle.dumps([f"item {i}" for i in range(500_000)], protocol=4)  # about 6 MB of opcodes
    assert len(data) > 5 * MB
    scan = scan_remote(fetcher(data), len(data), "big.pkl", "big.pkl", budget=MB)
    result = scan.result
    assert isinstance(result, ScannedFile) and result.verdict == "unparseable" and result.format == "pickle"
    (finding,) = result.findings
    assert finding.rule == "remote-budget-exceeded"
    assert re.fullmatch(
        r"the verdict needs more than the 1,048,576-byte budget; [\d,]+ bytes were read; scan the file locally",
        finding.message,
    )
    assert scan.bytes_read <= MB


def test_a_dangerous_finding_made_before_the_budget_ran_out_stays():
    data = EVIL + pickle.dumps(list(range(2_000_000)), protocol=4)
    scan = scan_remote(fetcher(data), len(data), "evil.pkl", "evil.pkl", budget=MB)
    result = scan.result
    assert isinstance(result, ScannedFile) and result.verdict == "dangerous"
    assert {f.rule for f in result.findings} == {"pickle-dangerous-import", "remote-budget-exceeded"}


def test_limits_apply_as_to_a_local_file():
    data = EVIL + bytes(5000)
    scan = scan_remote(fetcher(data), len(data), "x.pkl", options=ScanOptions(max_file_size=1000))
    assert isinstance(scan.result, SkippedFile) and scan.result.unscanned and scan.bytes_read == 0
    assert scan_remote(fetcher(b""), 0, "empty").result == SkippedFile("empty", "empty file", size=0)


# --- over HTTP -------------------------------------------------------------------------------------------------

SHA = "c" * 40
Log = list[tuple[str, str, str | None, str | None]]
"""(method, path, Authorization, Range) of every request a fake server answered."""


def range_hub(data: bytes, log: Log, mode: str = "ok", cdn: str = "") -> type[BaseHTTPRequestHandler]:
    """A Hub whose ``/org/model/resolve/main/model.bin`` redirects (302) to ``{cdn}/cdn/model.bin`` (answers Range).

    ``mode``: ok; small (the resolve URL answers 200 itself, as for a file not in LFS); 429-once (the first
    GET is a 429, Retry-After: 0); 500 (every GET); ignore-range (200 and the whole body to every GET);
    etag-change (the ETag changes after the first GET); bad-range (a Content-Range off by one);
    expire-once (the first GET is a 403, as for a signed URL that expired).
    """
    sha256 = "ab" * 32
    state = {"gets": 0, "heads": 0, "sent": 0}

    class Hub(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _note(self) -> None:
            log.append((self.command, self.path, self.headers.get("Authorization"), self.headers.get("Range")))

        def _head(self, status: int, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()

        def do_HEAD(self) -> None:
            self._note()
            state["heads"] += 1
            if not self.path.startswith("/org/model/resolve/main/model.bin"):
                self._head(404, {"Content-Length": "0", "X-Error-Message": "Entry not found"})
            elif mode == "small":
                self._head(200, {"Content-Length": str(len(data)), "ETag": '"blob1"', "X-Repo-Commit": SHA})
            else:
                self._head(
                    302,
                    {
                        "Location": f"{cdn}/cdn/model.bin?sig={state['heads']}",
                        "X-Linked-Size": str(len(data)),
                        "X-Linked-Etag": f'"{sha256}"',
                        "X-Repo-Commit": SHA,
                        "Content-Length": "0",
                    },
                )

        def do_GET(self) -> None:
            self._note()
            state["gets"] += 1
            resolve = self.path.startswith("/org/model/resolve/main/model.bin") and mode == "small"
            if not (self.path.startswith("/cdn/model.bin") or resolve):
                self._head(404, {"Content-Length": "0"})
            elif mode == "429-once" and state["gets"] == 1:
                self._head(429, {"Retry-After": "0", "Content-Length": "0"})
            elif mode == "500":
                self._head(500, {"Retry-After": "0", "Content-Length": "0"})
            elif mode == "expire-once" and state["gets"] == 1:
                self._head(403, {"Content-Length": "0"})
            elif mode == "ignore-range":
                self._whole()
            else:
                self._range()

        def _whole(self) -> None:
            self._head(200, {"Content-Length": str(len(data)), "ETag": '"e1"'})
            try:
                for i in range(0, len(data), 1 << 16):
                    self.wfile.write(data[i : i + (1 << 16)])
                    state["sent"] += len(data[i : i + (1 << 16)])
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _range(self) -> None:
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            assert match is not None
            start, last = int(match.group(1)), int(match.group(2))
            body = data[start : last + 1]
            etag = '"e2"' if mode == "etag-change" and state["gets"] > 1 else '"e1"'
            shown = f"bytes {start + (mode == 'bad-range')}-{last}/{len(data)}"
            self._head(206, {"Content-Length": str(len(body)), "Content-Range": shown, "ETag": etag})
            self.wfile.write(body)

    Hub.state = state  # type: ignore[attr-defined]
    return Hub


URL = "/org/model/resolve/main/model.bin"
HEADERS = {"authorization": "Bearer hf_secret", "user-agent": "ptmscope-test"}


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, bytes]:
    """A 1 MB legacy torch file with a dangerous pickle before its magic (read in three ranges)."""
    data = pickle.dumps(Reduce(os.system, "id"), protocol=2) + legacy_bin({"w": 1}, [bytes(MB)])
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    return path, data


def http_scan(base: str, budget: int | None = remote.DEFAULT_BUDGET) -> tuple[RemoteScan, list[str]]:
    buckets: list[str] = []
    scan = scan_http(base + URL, HEADERS, "org/model/model.bin", "model.bin", budget=budget, pace=buckets.append)
    return scan, buckets


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize("mode", ["ok", "small", "429-once", "expire-once"])
def test_over_http_the_verdict_is_the_local_one(mode: str, checkpoint: tuple[Path, bytes]):
    path, data = checkpoint
    log: Log = []
    with handler_server(range_hub(data, log, mode)) as base:
        scan, buckets = http_scan(base)
    assert same(scan.result) == same(scan_file(path, display="org/model/model.bin"))
    assert scan.result.verdict == "dangerous"
    gets = [entry for entry in log if entry[0] == "GET"]
    assert all(entry[2] == "Bearer hf_secret" for entry in log)  # one host: the endpoint's own
    assert all(entry[3] and entry[3].startswith("bytes=") for entry in gets)
    heads = 2 if mode == "expire-once" else 1
    assert [entry[0] for entry in log].count("HEAD") == heads
    assert scan.requests == len(log)
    read_bucket = "resolvers" if mode == "small" else "cdn"  # a file not in LFS is read from the resolve URL
    assert buckets == ["resolvers" if entry[0] == "HEAD" else read_bucket for entry in log]
    tail = len(data) - (len(data) - TAIL) // remote.BLOCK * remote.BLOCK  # the blocks of the last 64 KiB
    assert (len(gets), scan.bytes_read) == ({"429-once": 3, "expire-once": 3}.get(mode, 2), remote.BLOCK + tail)


@pytest.mark.usefixtures("online")
def test_the_token_does_not_follow_a_redirect_to_another_host(checkpoint: tuple[Path, bytes]):
    path, data = checkpoint
    cdn_log: Log = []
    hub_log: Log = []
    with handler_server(range_hub(data, cdn_log)) as cdn, handler_server(range_hub(data, hub_log, cdn=cdn)) as hub:
        scan, _ = http_scan(hub)
    assert same(scan.result) == same(scan_file(path, display="org/model/model.bin"))
    assert [e[0] for e in hub_log] == ["HEAD"] and hub_log[0][2] == "Bearer hf_secret"
    assert cdn_log and all(e[0] == "GET" and e[2] is None for e in cdn_log)


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", "HTTP 500 (after 3 attempts)"),
        ("etag-change", "the file changed while it was read (ETag e1 became e2)"),
        ("bad-range", "asked for bytes 0-65535/"),
    ],
)
def test_a_failed_read_is_an_error_not_a_verdict(mode: str, reason: str, checkpoint: tuple[Path, bytes]):
    _, data = checkpoint
    log: Log = []
    with handler_server(range_hub(data, log, mode)) as base:
        scan, _ = http_scan(base)
    result = scan.result
    assert isinstance(result, SkippedFile) and result.error, result
    assert result.skip_reason.startswith("remote read failed: ") and reason in result.skip_reason
    if mode == "500":
        assert len([e for e in log if e[0] == "GET"]) == 3


@pytest.mark.usefixtures("online")
def test_a_server_that_ignores_range_is_not_read_to_the_end():
    data = legacy_bin({"w": 1}, [bytes(50 * MB)])
    log: Log = []
    handler = range_hub(data, log, "ignore-range")
    with handler_server(handler) as base:
        fetch = HttpRangeFile(base + URL, HEADERS)
        info = fetch.open()
        scan = scan_remote(fetch, info.size, "model.bin", "model.bin")
        time.sleep(0.2)  # let the server notice the closed connections
    result = scan.result
    assert isinstance(result, SkippedFile) and result.error
    assert "ignores Range requests" in result.skip_reason
    assert fetch.bytes_received <= remote.BLOCK + remote.BODY_SLACK  # the head only, then nothing
    assert handler.state["sent"] < 25 * MB  # type: ignore[attr-defined]


@pytest.mark.usefixtures("online")
def test_open_names_the_file_and_a_missing_one_is_an_error():
    data = b"\x80\x02N." + bytes(300_000)
    with handler_server(range_hub(data, [])) as base:
        info = HttpRangeFile(base + URL, HEADERS).open()
        assert info == remote.RemoteInfo(len(data), "ab" * 32, "ab" * 32, f"{base}/cdn/model.bin?sig=1", SHA)
        scan = scan_http(base + "/org/model/resolve/main/other.bin", HEADERS, "org/model/other.bin")
    assert isinstance(scan.result, SkippedFile) and scan.result.error
    assert scan.result.skip_reason == "remote read failed: HTTP 404: Entry not found"


def test_the_http_fetcher_never_reads_outside_the_file():
    fetch = HttpRangeFile("http://127.0.0.1:9/x")
    fetch.info = remote.RemoteInfo(10, None, None, "http://127.0.0.1:9/x", None)
    with pytest.raises(RemoteReadError, match="outside the 10-byte file"):
        fetch.read(5, 11)


def test_a_hub_file_gets_its_resolve_url_and_the_token_only_where_it_belongs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_TOKEN", "hf_saved")
    mirror = remote.hub_file("org/model", "sub dir/model.bin", SHA, endpoint="http://127.0.0.1:9/", token="hf_given")
    assert mirror.url == f"http://127.0.0.1:9/org/model/resolve/{SHA}/sub%20dir/model.bin"
    assert mirror.headers["authorization"] == "Bearer hf_given"
    elsewhere = remote.hub_file("org/data", "a.bin", SHA, endpoint="http://mirror.invalid", repo_type="dataset")
    assert elsewhere.url == f"http://mirror.invalid/datasets/org/data/resolve/{SHA}/a.bin"
    assert "authorization" not in {k.lower() for k in elsewhere.headers}  # the saved token stays home


def test_the_remote_scanner_does_not_import_huggingface_hub():
    code = "import sys, ptmscope.scanners.remote; print('huggingface_hub' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
