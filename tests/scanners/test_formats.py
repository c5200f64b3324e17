"""Per-format tests on tiny generated files: archives, numpy, safetensors, GGUF, ONNX, SavedModel, Keras."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest

from ptmscope.scanners.archives import read_zip, unsafe_path, zip_flavour

from .conftest import Reduce, scan_bytes, worst

EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)
GOOD = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)


def rules(findings: list) -> set[str]:
    return {f.rule for f in findings}


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# --- zip ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_member_pickles_are_found_by_content_whatever_the_name(method):
    data = make_zip({"archive/data.pkl": GOOD, "archive/version": b"3\n", "notes.txt": EVIL}, method)
    fmt, findings = scan_bytes(data)
    assert fmt == "pytorch-zip"
    assert worst(findings) == "dangerous"
    assert any(f.member == "notes.txt" for f in findings)


def _tamper(data: bytes, **patch: int) -> bytes:
    raw = bytearray(data)
    cd = raw.rfind(b"PK\x01\x02")
    lh = raw.find(b"PK\x03\x04")
    if "flags" in patch:
        struct.pack_into("<H", raw, lh + 6, patch["flags"])
        struct.pack_into("<H", raw, cd + 8, patch["flags"])
    if "crc" in patch:
        struct.pack_into("<I", raw, lh + 14, patch["crc"])
        struct.pack_into("<I", raw, cd + 16, patch["crc"])
    if "drop_cd" in patch:
        raw = raw[:cd]
    if "local_name" in patch:
        raw[lh + 30] ^= 0x20
    return bytes(raw)


@pytest.mark.parametrize("patch", [{"flags": 0x20}, {"flags": 0x40}, {"crc": 0}, {"drop_cd": 1}, {"local_name": 1}])
def test_tampered_zips_are_still_read(patch):
    data = _tamper(make_zip({"data.pkl": EVIL}), **patch)
    _, findings = scan_bytes(data)
    assert worst(findings) == "dangerous", (patch, findings)


def test_random_storages_of_a_torch_zip_are_not_misread():
    rng = np.random.default_rng(1)
    members = {"archive/data.pkl": GOOD, "archive/version": b"3\n"}
    members.update({f"archive/data/{i}": rng.bytes(4096) for i in range(300)})
    fmt, findings = scan_bytes(make_zip(members))
    assert fmt == "pytorch-zip"
    assert findings == []


def test_a_pickle_with_a_zip_appended_is_scanned_as_both():
    fmt, findings = scan_bytes(GOOD + make_zip({"archive/data.pkl": EVIL}))
    assert fmt == "pickle"
    assert "polyglot-zip" in rules(findings)
    assert worst(findings) == "dangerous"


def test_zip_with_prepended_bytes_and_zip64_records():
    data = b"junk" * 100 + make_zip({"x/data.pkl": EVIL})
    _, findings = scan_bytes(data)
    assert worst(findings) == "dangerous"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", allowZip64=True) as z, z.open("big/data.pkl", "w", force_zip64=True) as f:
        f.write(EVIL)
    members, used_cd = read_zip(buf.getvalue(), 0, len(buf.getvalue()))
    assert used_cd and members[0].name == "big/data.pkl"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil", "parent"),
        ("/etc/x", "absolute"),
        ("C:/x", "absolute"),
        ("a/../../b", "parent"),
        ("ok/name.pkl", None),
    ],
)
def test_unsafe_paths(name, reason):
    result = unsafe_path(name)
    assert (result is None) if reason is None else (reason in result)


def test_zip_path_traversal_and_bomb_are_reported():
    data = make_zip({"../../evil.sh": b"echo", "zeros.bin": b"\0" * (8 << 20)}, zipfile.ZIP_DEFLATED)
    _, findings = scan_bytes(data)
    assert "archive-path-traversal" in rules(findings)
    assert "archive-bomb" in rules(findings)


def test_encrypted_member_is_info_not_error():
    data = bytearray(make_zip({"secret.txt": b"\x8f\x12" * 20}, zipfile.ZIP_DEFLATED))
    cd, lh = data.rfind(b"PK\x01\x02"), data.find(b"PK\x03\x04")
    struct.pack_into("<H", data, lh + 6, 1)
    struct.pack_into("<H", data, cd + 8, 1)
    _, findings = scan_bytes(bytes(data))
    assert worst(findings) == "clean"
    assert "archive-encrypted-member" in rules(findings)


@pytest.mark.parametrize(
    ("names", "flavour"),
    [
        (["a/data.pkl", "a/version", "a/data/0"], "pytorch-zip"),
        (["a/code/__torch__/m.py", "a/constants.pkl", "a/data.pkl"], "torchscript"),
        (["x.npy", "y.npy"], "npz"),
        (["config.json", "model.weights.h5", "metadata.json"], "keras"),
        (["schema.json", "a.npy"], "skops"),
        (["readme.md"], "zip"),
    ],
)
def test_zip_flavours(names, flavour):
    assert zip_flavour(names) == flavour


def test_torchscript_code_with_file_ops():
    code = b"def forward(self, x):\n  y = torch.ops.aten.from_file('/etc/passwd')\n  return torch.ops.evil.run(x)\n"
    data = make_zip({"m/code/__torch__/m.py": code, "m/constants.pkl": GOOD, "m/data.pkl": GOOD})
    fmt, findings = scan_bytes(data)
    assert fmt == "torchscript"
    assert {"torchscript-dangerous-op", "torchscript-custom-op"} <= rules(findings)


# --- tar and 7z -------------------------------------------------------------------------


def make_tar(entries: list[tarfile.TarInfo], payloads: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in entries:
            data = payloads.get(info.name)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def test_tar_members_links_and_traversal():
    link = tarfile.TarInfo("lnk")
    link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    data = make_tar(
        [tarfile.TarInfo("model/data.bin"), tarfile.TarInfo("../up.txt"), link],
        {"model/data.bin": EVIL, "../up.txt": b"hi"},
    )
    fmt, findings = scan_bytes(data)
    assert fmt == "tar"
    assert {"archive-path-traversal", "archive-link-escape", "pickle-dangerous-import"} <= rules(findings)


def test_tar_gz_is_read_through_the_stream():
    raw = make_tar([tarfile.TarInfo("a.pkl")], {"a.pkl": EVIL})
    import gzip

    fmt, findings = scan_bytes(gzip.compress(raw))
    assert fmt == "gzip+tar"
    assert worst(findings) == "dangerous"


def test_7z_members(tmp_path):
    py7zr = pytest.importorskip("py7zr")
    path = tmp_path / "m.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(EVIL, "inner/data.pkl")
        archive.writestr(GOOD, "ok.pkl")
    fmt, findings = scan_bytes(path.read_bytes())
    assert fmt == "7z"
    assert worst(findings) == "dangerous"
    assert any(f.member and f.member.endswith("inner/data.pkl") for f in findings)


# --- numpy -----------------------------------------------------------------------------


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_npy_plain_object_and_malicious():
    assert worst(scan_bytes(npy(np.arange(10)))[1]) == "clean"
    fmt, findings = scan_bytes(npy(np.array([1, "a"], dtype=object)))
    assert fmt == "npy" and worst(findings) == "clean" and "npy-object-array" in rules(findings)
    header = npy(np.array([None], dtype=object))
    head_len = 10 + int.from_bytes(header[8:10], "little")
    _, findings = scan_bytes(header[:head_len] + EVIL)
    assert worst(findings) == "dangerous"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:20],
        lambda b: b[:8] + b"\xff\xff" + b[10:],
        lambda b: b.replace(b"'descr'", b"'decsr'"),
        lambda b: b.replace(b"False", b"__import__('os')"),
    ],
)
def test_npy_bad_headers_are_unparseable(mutate):
    data = mutate(npy(np.arange(10)))
    _, findings = scan_bytes(data)
    assert worst(findings) == "unparseable", findings


def test_npz_compressed_object_arrays():
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(3), b=np.array([1, "x"], dtype=object))
    fmt, findings = scan_bytes(buf.getvalue())
    assert fmt == "npz" and worst(findings) == "clean"


# --- safetensors -------------------------------------------------------------------------


def safetensors(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + data


VALID_HEADER = {
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "I8", "shape": [4], "data_offsets": [8, 12]},
}

SAFETENSORS_CASES = [
    ("valid", safetensors(VALID_HEADER, b"\0" * 12), "clean"),
    (
        "metadata code",
        safetensors({**VALID_HEADER, "__metadata__": {"x": "__import__('os').system('id')"}}, b"\0" * 12),
        "clean",
    ),
    (
        "bad dtype",
        safetensors({"a": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
        "unparseable",
    ),
    (
        "out of bounds",
        safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
        "unparseable",
    ),
    (
        "overlap",
        safetensors(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
            },
            b"\0" * 8,
        ),
        "unparseable",
    ),
    (
        "shape mismatch",
        safetensors({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
        "unparseable",
    ),
    (
        "hole",
        safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
        "unparseable",
    ),
    ("metadata not str", safetensors({**VALID_HEADER, "__metadata__": {"x": 1}}, b"\0" * 12), "unparseable"),
    ("bad json", (6).to_bytes(8, "little") + b'{"a": ' + b"\0" * 4, "unparseable"),
    ("header too big", (1 << 40).to_bytes(8, "little") + b"{}" + b"\0" * 8, "unparseable"),
]


@pytest.mark.parametrize(("label", "data", "verdict"), SAFETENSORS_CASES, ids=[c[0] for c in SAFETENSORS_CASES])
def test_safetensors_headers(label, data, verdict):
    fmt, findings = scan_bytes(data)
    if label == "header too big":
        assert fmt in ("safetensors", "unknown")  # an absurd size is not even detected as safetensors
        return
    assert fmt == "safetensors"
    assert worst(findings) == verdict, findings


# --- GGUF ------------------------------------------------------------------------------


def gguf(kv: dict[str, str], tensors: int = 0, version: int = 3) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", version, tensors, len(kv))
    for key, value in kv.items():
        k, v = key.encode(), value.encode()
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v
    return out


@pytest.mark.parametrize(
    ("kv", "tensors", "verdict"),
    [
        (
            {
                "general.name": "tiny",
                "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
            },
            0,
            "clean",
        ),
        ({"tokenizer.chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, 0, "dangerous"),
        ({"general.name": "x"}, 5, "unparseable"),  # tensor infos promised but missing
    ],
)
def test_gguf(kv, tensors, verdict):
    fmt, findings = scan_bytes(gguf(kv, tensors))
    assert fmt == "gguf"
    assert worst(findings) == verdict, findings


def test_gguf_truncated_and_bad_version():
    assert worst(scan_bytes(gguf({"a": "b"})[:-3])[1]) == "unparseable"
    assert worst(scan_bytes(gguf({"a": "b"}, version=9))[1]) == "unparseable"


# --- protobuf: ONNX and SavedModel ---------------------------------------------------------


def varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def pb(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(num << 3 | 2) + varint(len(raw)) + raw


def onnx_model(domain: str = "", location: str | None = None) -> bytes:
    node = pb(1, "x") + pb(2, "y") + pb(4, "Relu") + (pb(7, domain) if domain else b"")
    tensor = pb(8, "w")
    if location is not None:
        tensor += pb(13, pb(1, "location") + pb(2, location)) + pb(14, 1)
    graph = pb(1, node) + pb(2, "g") + pb(5, tensor)
    return pb(1, 8) + pb(2, "pytorch") + pb(7, graph) + pb(8, pb(1, domain) + pb(2, 1))


@pytest.mark.parametrize(
    ("kwargs", "verdict", "rule"),
    [
        ({}, "clean", None),
        ({"location": "weights.bin"}, "clean", None),
        ({"location": "../../etc/passwd"}, "dangerous", "onnx-external-data-escape"),
        ({"location": "/etc/shadow"}, "dangerous", "onnx-external-data-escape"),
        ({"domain": "com.evil"}, "suspicious", "onnx-custom-domain"),
        ({"domain": "com.microsoft"}, "clean", None),
    ],
)
def test_onnx(kwargs, verdict, rule):
    fmt, findings = scan_bytes(onnx_model(**kwargs), "model.onnx")
    assert fmt == "onnx"
    assert worst(findings) == verdict, findings
    if rule:
        assert rule in rules(findings)


def saved_model(ops: list[str]) -> bytes:
    nodes = b"".join(pb(1, pb(1, f"n{i}") + pb(2, op)) for i, op in enumerate(ops))
    return pb(1, 1) + pb(2, pb(2, nodes))


@pytest.mark.parametrize(
    ("ops", "verdict"),
    [
        (["Const", "MatMul", "Relu", "SaveV2", "RestoreV2"], "clean"),
        (["Const", "PyFunc"], "dangerous"),
        (["ReadFile"], "dangerous"),
        (["Const", "MyCustomOp"], "suspicious"),
    ],
)
def test_saved_model_ops(ops, verdict):
    fmt, findings = scan_bytes(saved_model(ops), "saved_model.pb")
    assert fmt == "tf-savedmodel"
    assert worst(findings) == verdict, findings


def test_truncated_saved_model_still_names_its_ops():
    data = saved_model(["Const", "PyFunc"])[:-2]
    _, findings = scan_bytes(data, "saved_model.pb")
    assert worst(findings) in ("dangerous", "suspicious")


# --- Keras -------------------------------------------------------------------------------

LAMBDA_CONFIG = {
    "class_name": "Sequential",
    "config": {"layers": [{"class_name": "Lambda", "config": {"function": ["4wEAAAAAAAAA", None, None], "name": "l"}}]},
}
SAFE_CONFIG = {
    "class_name": "Sequential",
    "config": {"layers": [{"class_name": "Dense", "config": {"units": 1}}]},
}
MODULE_CONFIG = {
    "module": "keras",
    "class_name": "Functional",
    "config": {
        "layers": [
            {"module": "os", "class_name": "system", "config": {}, "registered_name": None},
            {"module": "mypkg.layers", "class_name": "Fancy", "config": {}, "registered_name": "mypkg>Fancy"},
        ]
    },
}


def fake_h5(config: dict) -> bytes:
    return b"\x89HDF\r\n\x1a\n" + b"\0" * 200 + json.dumps(config).encode() + b"\0" * 64


@pytest.mark.parametrize(
    ("config", "verdict"),
    [(LAMBDA_CONFIG, "dangerous"), (SAFE_CONFIG, "clean"), (MODULE_CONFIG, "dangerous")],
)
def test_keras_h5_and_keras_zip(config, verdict):
    fmt, findings = scan_bytes(fake_h5(config))
    assert fmt == "hdf5" and worst(findings) == verdict, findings
    archive = make_zip(
        {
            "config.json": json.dumps(config).encode(),
            "metadata.json": b"{}",
            "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64,
        }
    )
    fmt, findings = scan_bytes(archive)
    assert fmt == "keras" and worst(findings) == verdict, findings


def test_keras_custom_objects_are_suspicious():
    config = {
        "module": "keras",
        "class_name": "Functional",
        "config": {
            "layers": [
                {
                    "module": "mypkg.layers",
                    "class_name": "Fancy",
                    "config": {},
                    "registered_name": "mypkg>Fancy",
                }
            ]
        },
    }
    _, findings = scan_bytes(fake_h5(config))
    assert worst(findings) == "suspicious"
    assert {"keras-module-reference", "keras-custom-object"} <= rules(findings)


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"", "empty"),
        (b"hello world, plain text\n", "unknown"),
        (b"GGUF" + b"\0" * 20, "gguf"),
        (b"\x93NUMPY\x01\x00" + b"\0" * 10, "npy"),
        (b"7z\xbc\xaf\x27\x1c" + b"\0" * 30, "7z"),
        (EVIL, "pickle"),
        (b'{"a": 1}', "unknown"),
    ],
)
def test_detection_by_content(data, fmt):
    from ptmscope.scanners.detect import detect

    assert detect(data, 0, len(data), "whatever.bin") == fmt
