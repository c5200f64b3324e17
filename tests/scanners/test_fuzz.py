"""Property and fuzz tests: mutated pickles, zips and headers never crash, hang, or pass silently.

Every input must yield a verdict (a ``ScannedFile`` or ``SkippedFile``) within the
per-file limit. Mutations start from real shapes (protocol 0-5 pickles, PyTorch-style
zips, safetensors, GGUF, npy, ONNX/SavedModel protobufs) so the fuzzer reaches deep code.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import time
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptmscope.scanners.api import scan_file
from ptmscope.scanners.interface import ScannedFile, ScanOptions, SkippedFile

from .conftest import Reduce, scan_bytes

LIMIT = 5.0


def _seeds() -> list[bytes]:
    seeds = [
        pickle.dumps(obj, protocol=p)
        for p in range(6)
        for obj in ({"a": [1, 2.5, "x", b"y"], "b": (None, True)}, Reduce(os.system, "id"))
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", seeds[1])
        z.writestr("archive/version", b"3")
        z.writestr("archive/data/0", b"\0" * 16)
    seeds.append(buf.getvalue())
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    seeds.append(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    seeds.append(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", 8, 1) + b"v")
    npy = io.BytesIO()
    np.save(npy, np.array([1, "a"], dtype=object), allow_pickle=True)
    seeds.append(npy.getvalue())
    seeds.append(b"\x08\x07\x12\x03abc:\x0c\n\x0a\x22\x04Relu\x3a\x01x")  # ONNX-ish
    seeds.append(b"\x08\x01\x12\x0c\x12\x0a\x0a\x08\x0a\x01n\x12\x03Add")  # SavedModel-ish
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 32))]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_inputs_never_crash_and_finish_in_time(data):
    started = time.monotonic()
    scan_bytes(data, "fuzz.bin")  # raises on any internal error
    assert time.monotonic() - started < LIMIT


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(data):
    scan_bytes(data, "random.bin")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_scan_file_always_returns_a_verdict(tmp_path, data):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    result = scan_file(path, ScanOptions(timeout=LIMIT))
    assert isinstance(result, ScannedFile | SkippedFile)
    if isinstance(result, ScannedFile):
        assert not any(f.rule == "scanner-error" for f in result.findings), result.findings


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner) | st.tuples(inner, inner),
        max_leaves=30,
    ),
    st.integers(0, 5),
)
def test_any_plain_data_pickle_is_clean(obj, protocol):
    _, findings = scan_bytes(pickle.dumps(obj, protocol=protocol))
    assert all(f.severity == "info" for f in findings), findings


def test_timeout_gives_a_verdict(tmp_path):
    path = tmp_path / "slow.pkl"
    path.write_bytes(pickle.dumps(list(range(2_000_000)), protocol=2))
    started = time.monotonic()
    result = scan_file(path, ScanOptions(timeout=0.1))
    assert time.monotonic() - started < 2.0
    assert isinstance(result, ScannedFile)
    assert any(f.rule == "scan-timeout" for f in result.findings)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(["Lambda", "class_name", "module", "config", "os", "keras.layers", "a>b"]),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["class_name", "module", "config", "registered_name", "function", "name", "layers"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_keras_configs_of_any_shape_never_crash(config):
    from ptmscope.scanners.context import PickleContext
    from ptmscope.scanners.keras import check_config

    ctx = PickleContext(deadline=time.monotonic() + 5)
    check_config(ctx, config, None)
    assert all(f.severity in ("dangerous", "suspicious") for f in ctx.findings)
