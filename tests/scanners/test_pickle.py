"""Table-driven tests of the pickle opcode walker: imports, calls, memo tricks, nesting, limits."""

from __future__ import annotations

import builtins
import collections
import copyreg
import inspect
import io
import os
import pickle
import pickletools
import re
import subprocess
import time

import numpy as np
import pytest

from ptmscope.scanners import pickle as walker_module
from ptmscope.scanners import policy
from ptmscope.scanners.context import PickleContext, ScanTimeout
from ptmscope.scanners.pickle import Walker, analyze_stream, probe_pickle

from .conftest import Reduce, scan_bytes, worst


def evidence(findings: list) -> set[str]:
    """Evidence strings, plus their Python 3 spelling (protocols < 3 write ``__builtin__``)."""
    out = {f.evidence for f in findings if f.evidence}
    for item in list(out):
        if "." in item:
            module, name = item.split(".", 1)
            out.add(".".join(policy.normalize(module, name)))
    return out


def rules(findings: list) -> set[str]:
    return {f.rule for f in findings}


PROTOCOLS = range(0, pickle.HIGHEST_PROTOCOL + 1)

MALICIOUS = [
    ("os.system", Reduce(os.system, "echo pwned"), "posix.system"),
    ("eval", Reduce(builtins.eval, "1+1"), "builtins.eval"),
    ("exec", Reduce(builtins.exec, "x=1"), "builtins.exec"),
    ("getattr", Reduce(builtins.getattr, "os", "system"), "builtins.getattr"),
    ("subprocess", Reduce(subprocess.Popen, ["true"]), "subprocess.Popen"),
    ("nested list", {"a": [1, Reduce(os.system, "id")]}, "posix.system"),
    ("__import__", Reduce(builtins.__import__, "os"), "builtins.__import__"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("label", "payload", "expected"), MALICIOUS, ids=[m[0] for m in MALICIOUS])
def test_dangerous_globals_are_flagged_in_every_protocol(label, payload, expected, protocol):
    fmt, findings = scan_bytes(pickle.dumps(payload, protocol=protocol))
    assert fmt == "pickle"
    assert worst(findings) == "dangerous", findings
    assert expected in evidence(findings)


BENIGN = [
    ("list", [1, 2, 3]),
    ("dict", {"a": 1.5, "b": "text", "c": b"bytes", "d": None, "e": True}),
    ("ordered", collections.OrderedDict(a=1)),
    ("nested", {"k": [(1, 2), {"x": {"y": [None] * 5}}], "s": {1, 2}, "f": frozenset({3})}),
    ("numpy", {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.int64(3)}),
    ("numpy object", np.array(["a", 1], dtype=object)),
    ("big int", 2**200),
    ("bytearray", bytearray(b"xyz")),
    ("complex", complex(1, 2)),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("label", "payload"), BENIGN, ids=[b[0] for b in BENIGN])
def test_benign_data_is_clean(label, payload, protocol):
    fmt, findings = scan_bytes(pickle.dumps(payload, protocol=protocol))
    assert fmt == "pickle"
    assert worst(findings) == "clean", findings


def test_unknown_global_is_suspicious_not_dangerous():
    _, findings = scan_bytes(pickle.dumps(Reduce(collections.Counter)))
    assert worst(findings) == "clean"  # Counter is allowlisted
    _, findings = scan_bytes(b"\x80\x04\x8c\x07mymodel\x8c\x05Thing\x93)R.")
    assert worst(findings) == "suspicious"
    assert "mymodel.Thing" in evidence(findings)


# Hand-written opcode streams for tricks picklers never emit.
HANDMADE = [
    # STACK_GLOBAL operands fetched from the memo
    (
        "memo stack_global",
        b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x02id\x85R.",
        "os.system",
    ),
    # operands separated by a MARK / POP_MARK pair
    ("mark in between", b"\x80\x04\x8c\x02os(\x8c\x04junk1\x8c\x06system\x93\x8c\x02id\x85R.", "os.system"),
    # protocol 0 PUT/GET through text opcodes
    ("text memo", b"Vos\np0\n0Vsystem\np1\n0g0\ng1\n\x93(Vid\ntR.", "os.system"),
    # INST opcode calls directly
    ("inst", b"(S'id'\nios\nsystem\n.", "os.system"),
    # OBJ opcode
    ("obj", b"(cos\nsystem\nS'id'\no.", "os.system"),
    # NEWOBJ of a dangerous class
    ("newobj", b"\x80\x02csubprocess\nPopen\n]\x85\x81.", "subprocess.Popen"),
    # dotted name in protocol 4
    ("dotted", b"\x80\x04\x8c\x03bdb\x8c\x07Bdb.run\x93.", "bdb.Bdb.run"),
    # python 2 module names are mapped the way pickle maps them
    ("py2 name", b"c__builtin__\neval\n(S'1'\ntR.", "__builtin__.eval"),
    # second pickle in the same stream
    ("stacked", pickle.dumps([1, 2]) + pickle.dumps(Reduce(os.system, "id")), "posix.system"),
]


@pytest.mark.parametrize(("label", "data", "expected"), HANDMADE, ids=[h[0] for h in HANDMADE])
def test_handmade_streams(label, data, expected):
    _, findings = scan_bytes(data)
    assert worst(findings) == "dangerous", findings
    assert expected in evidence(findings)


def test_build_on_an_imported_module_is_dangerous():
    # torch._utils.__dict__.update({"_rebuild_tensor": ...}) via BUILD on a STACK_GLOBAL result
    data = b"\x80\x04\x8c\x05torch\x8c\x06_utils\x93}\x8c\x0f_rebuild_tensor\x8c\x04eval\x73b."
    _, findings = scan_bytes(data)
    assert "pickle-global-mutation" in rules(findings)
    assert worst(findings) == "dangerous"


def test_ext_codes_resolve_through_copyreg(monkeypatch):
    data = b"\x80\x02\x82\x2a)R."
    _, findings = scan_bytes(data)
    assert "pickle-unresolved-import" in rules(findings)
    monkeypatch.setitem(copyreg._inverted_registry, 42, ("os", "system"))
    _, findings = scan_bytes(data)
    assert "os.system" in evidence(findings)


@pytest.mark.parametrize(("wrap", "protocol"), [("raw", 4), ("codecs", 2), ("base64", 4)])
def test_nested_pickle_is_analysed(wrap, protocol):
    import base64

    inner = pickle.dumps(Reduce(os.system, "id"), protocol=2)
    # protocol 2 pickles bytes as _codecs.encode(str, "latin1"); base64 wraps them in a call
    arg = Reduce(base64.b64decode, base64.b64encode(inner).decode()) if wrap == "base64" else inner
    _, findings = scan_bytes(pickle.dumps(Reduce(pickle.loads, arg), protocol=protocol))
    nested = [f for f in findings if f.member and "nested pickle" in f.member]
    assert any(f.evidence == "posix.system" for f in nested), findings


def test_nested_loader_with_computed_bytes_is_suspicious():
    _, findings = scan_bytes(b"ctorch.storage\n_load_from_bytes\n(cbuiltins\nbytes\n)RtR.")
    assert "pickle-nested-unseen" in rules(findings)


def test_embedded_pickle_bytes_are_reported_as_info():
    inner = pickle.dumps(Reduce(os.system, "id"))
    _, findings = scan_bytes(pickle.dumps({"payload": inner}, protocol=4))
    assert worst(findings) == "clean"
    assert "pickle-embedded-pickle" in rules(findings)


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x04\x8c\x05hello",  # truncated string
        b"\x80\x04K\x01",  # no STOP
        b"\x80\x04h\x05.",  # memo key missing
        b"\x80\x04R.",  # REDUCE on an empty stack
        b"\x80\x04K\x01\xff.",  # unknown opcode
    ],
)
def test_malformed_pickles_are_unparseable_not_clean(data):
    _, findings = scan_bytes(data)
    assert worst(findings) == "unparseable", findings


def test_every_opcode_is_walked_inline_or_has_a_handler():
    """The hot loop's opcodes (FAST_OPS) and the dispatch table cover protocols 0-5 exactly once."""
    inline = {int(code, 16) for code in re.findall(r"op == (0x[0-9A-F]{2})", inspect.getsource(Walker._walk_chunk))}
    assert inline == walker_module.FAST_OPS
    handled = set(walker_module._HANDLERS)
    assert handled.isdisjoint(walker_module.FAST_OPS)
    assert handled | walker_module.FAST_OPS == {ord(op.code) for op in pickletools.opcodes}
    assert all(walker_module._RARE[op] is Walker._op_unknown for op in set(range(256)) - handled)


def test_long_text_arguments_are_not_copied():
    _, findings = scan_bytes(b"\x80\x02c" + b"m" * 70_000 + b"\nname\n.")
    assert "pickle-unresolved-import" in rules(findings)
    _, findings = scan_bytes(b"\x80\x02S'" + b"a" * 70_000 + b"'\n.")
    assert worst(findings) == "clean"
    _, findings = scan_bytes(b"\x80\x02I" + b"1" * 70_000 + b"\n.")
    assert worst(findings) == "unparseable"


def test_findings_before_a_parse_error_are_kept():
    data = b"cos\nsystem\n(S'id'\ntR\xff\xff"
    _, findings = scan_bytes(data)
    assert worst(findings) == "dangerous"
    assert "pickle-unparseable" in rules(findings)


def test_trailing_garbage_after_stop_is_info():
    _, findings = scan_bytes(pickle.dumps([1]) + b"\n\n\t")
    assert worst(findings) == "clean"
    assert "pickle-trailing-data" in rules(findings)


def test_legacy_torch_stream_stops_before_raw_storages():
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    parts = [
        magic,
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"little_endian": True}, protocol=2),
        pickle.dumps({"w": 1}, protocol=2),
        pickle.dumps(["0"], protocol=2),
    ]
    raw_storage = b"\x28" * 64  # bytes that would misparse as opcodes
    _, findings = scan_bytes(b"".join(parts) + raw_storage)
    assert worst(findings) == "clean", findings


def test_pickle_before_the_legacy_magic_is_still_checked():
    data = pickle.dumps(Reduce(builtins.eval, "1")) + pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    _, findings = scan_bytes(data)
    assert worst(findings) == "dangerous"


def test_joblib_arrays_between_opcodes(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump({"a": np.arange(1000.0), "s": np.array(["x", "yy"]), "o": np.array([1, "a"], dtype=object)}, path)
    _, findings = scan_bytes(path.read_bytes())
    assert worst(findings) == "clean", findings


@pytest.mark.parametrize("compress", [("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)])
def test_joblib_compressed_dumps(tmp_path, compress):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump({"a": np.arange(100.0), "evil": Reduce(os.system, "id")}, path, compress=compress)
    fmt, findings = scan_bytes(path.read_bytes())
    assert fmt.endswith("+pickle"), fmt
    assert "posix.system" in evidence(findings)


def test_plain_joblib_dump_of_an_array_is_clean(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "a.joblib"
    joblib.dump(np.ones((64, 64)), path)
    _, findings = scan_bytes(path.read_bytes())
    assert worst(findings) == "clean", findings


def test_huge_bytes_are_not_copied_and_time_is_checked():
    big = pickle.dumps({"blob": b"\0" * (8 << 20)}, protocol=4)
    ctx = PickleContext(deadline=time.monotonic() + 30)
    analyze_stream(Walker(big, ctx, None), 0, len(big))
    assert ctx.pickles == 1
    ctx = PickleContext(deadline=time.monotonic() - 1)
    with pytest.raises(ScanTimeout):
        analyze_stream(Walker(pickle.dumps(list(range(400_000))), ctx, None), 0, 10**7)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x80\x04K\x01.", True),
        (b"(lp0\nI1\na.", True),
        (b"# README\n", False),
        (b"(c) 2024 someone", False),
        (b"I think so\n", False),
        (b"cmod\n\xf8\n", False),
        (b'{"a": 1}', False),
    ],
)
def test_probe_pickle(head, expected):
    assert probe_pickle(head, 0, len(head)) is expected


@pytest.mark.parametrize(
    ("module", "name", "verdict"),
    [
        ("torch._utils", "_rebuild_tensor_v2", "safe"),
        ("collections", "OrderedDict", "safe"),
        ("numpy.core.multiarray", "_reconstruct", "safe"),
        ("torch.nn.modules.linear", "Linear", "safe"),
        ("__builtin__", "set", "safe"),
        ("builtins", "eval", "dangerous"),
        ("nt", "system", "dangerous"),
        ("torch", "load", "dangerous"),
        ("torch.serialization", "load", "dangerous"),
        ("sklearn.svm", "SVC", "suspicious"),
        ("importlib.util", "find_spec", "dangerous"),
        ("operator", "itemgetter", "suspicious"),
    ],
)
def test_policy_table(module, name, verdict):
    assert policy.classify(module, name)[0] == verdict


def test_policy_never_both_allowed_and_denied():
    for module, names in policy.SAFE_GLOBALS.items():
        for name in names:
            assert policy.classify(module, name)[0] == "safe", (module, name)


def test_policy_covers_every_import_in_real_checkpoint_shapes():
    buf = io.BytesIO()
    pickle.dump({"state": collections.OrderedDict(w=np.zeros(3, dtype=np.float16))}, buf, protocol=2)
    _, findings = scan_bytes(buf.getvalue())
    assert worst(findings) == "clean", findings
