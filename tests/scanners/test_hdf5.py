"""HDF5 (Keras ``.h5``): the root group's attributes read from the file's structure, a few blocks of it.

Every file here is written by the test with h5py (a test-only dependency), in the layouts h5py and
Keras produce (superblocks 0, 2 and 3, object headers 1 and 2, compact and dense attributes, fixed
and variable-length strings); h5py reads back only these files of our own, to compare. No corpus file
is ever opened with h5py: the corpus Keras files are read as bytes.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptmscope.scanners import hdf5, keras, remote
from ptmscope.scanners.api import scan_file
from ptmscope.scanners.context import PickleContext
from ptmscope.scanners.hdf5 import HDF5Unreadable, root_attributes
from ptmscope.scanners.interface import FileResult, ScannedFile, SkippedFile
from ptmscope.scanners.remote import RemoteScan, scan_remote

from .conftest import CORPORA, scan_bytes, worst

MB = 1 << 20
TAIL = 65557
"""The last bytes every scan reads (the zip end record, or the polyglot check)."""

# Our own configs, in the shape Keras writes (and the corpus' malicious_lambda.h5 has): a Sequential model
# whose Lambda layer carries its function.
LAMBDA_CONFIG = {
    "class_name": "Sequential",
    "config": {
        "name": "sequential",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "input_1"}},
            {
                "class_name": "Lambda",
                "config": {"name": "lambda", "function": ["4wEAAAAAAAAAAAAAAAEAAAAB", None, None]},
            },
        ],
    },
}
TRAINING_CONFIG = {
    "loss": "mse",
    "metrics": ["mae"],
    "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
}


def long_config(layers: int) -> dict:
    """A model config with ``layers`` Dense layers before the Lambda one (``layers=2000``: about 220 KB)."""
    dense = [
        {"class_name": "Dense", "config": {"name": f"dense_{i}", "units": 8, "activation": "relu"}}
        for i in range(layers)
    ]
    return {"class_name": "Sequential", "config": {"layers": dense + LAMBDA_CONFIG["config"]["layers"]}}


# --- writing files -------------------------------------------------------------------------------------------


def fetcher(data: bytes, log: list[tuple[int, int]] | None = None) -> Callable[[int, int], bytes]:
    def fetch(start: int, stop: int) -> bytes:
        if log is not None:
            log.append((start, stop))
        return data[start:stop]

    return fetch


def same(result: FileResult) -> tuple[object, ...]:
    if isinstance(result, SkippedFile):
        return ("skipped", result.skip_reason, result.error, result.unscanned, result.size)
    return ("scanned", result.format, result.findings, result.size)


def remote_matches_local(path: Path, budget: int | None = remote.DEFAULT_BUDGET) -> RemoteScan:
    data = path.read_bytes()
    scan = scan_remote(fetcher(data), len(data), path.name, path.name, budget=budget)
    assert same(scan.result) == same(scan_file(path, display=path.name)), path
    return scan


def report(label: str, scan: RemoteScan, size: int) -> None:
    print(
        f"\n{label}: {scan.bytes_read:,} of {size:,} bytes ({scan.bytes_read / size:.3%}) in {scan.requests} requests"
    )


def open_h5(path: Path, libver: str | tuple[str, str] = "earliest", **kwargs: object) -> h5py.File:
    return h5py.File(path, "w", libver=libver, **kwargs)


def keras_root(f: h5py.File, config: dict | None, value: str, layers: int) -> list[bytes]:
    """The root attributes Keras 2's ``save_weights`` / ``save_model`` write (``value``: how configs are stored)."""
    names = [f"dense_{i}".encode() for i in range(layers)]
    f.attrs["layer_names"] = np.array(names)  # fixed-length strings
    f.attrs["backend"] = "tensorflow"  # str: a variable-length UTF-8 string
    f.attrs["keras_version"] = b"2.15.0"  # bytes: a variable-length ASCII string (h5py 3)
    if config is not None:
        for key, doc in (("model_config", config), ("training_config", TRAINING_CONFIG)):
            text = json.dumps(doc)
            f.attrs[key] = {"bytes": text.encode(), "fixed": np.bytes_(text.encode()), "str": text}[value]
    return names


def write_weights(f: h5py.Group, names: list[bytes], total: int, seed: int = 0) -> None:
    """One group per layer with its ``weight_names`` and a kernel and a bias of ``total`` bytes in all."""
    rng = np.random.default_rng(seed)
    each = max(1, total // max(1, len(names)) // 2 // 4)
    for name in names:
        group = f.create_group(name.decode())
        group.attrs["weight_names"] = np.array([name + b"/kernel:0", name + b"/bias:0"])
        group.create_dataset("kernel:0", data=rng.standard_normal(each, dtype="f4"))
        group.create_dataset("bias:0", data=rng.standard_normal(each, dtype="f4"))


def keras_h5(
    path: Path,
    config: dict | None = LAMBDA_CONFIG,
    libver: str | tuple[str, str] = "earliest",
    value: str = "bytes",
    total: int = 64 << 10,
    layers: int = 4,
    attrs_last: bool = False,
    **kwargs: object,
) -> Path:
    """A Keras-like ``.h5`` file: the root attributes (first, or after the weights) and the weights."""
    with open_h5(path, libver, **kwargs) as f:
        if attrs_last:
            write_weights(f, [f"dense_{i}".encode() for i in range(layers)], total)
            keras_root(f, config, value, layers)
        else:
            write_weights(f, keras_root(f, config, value, layers), total)
    return path


def with_fcpl(path: Path, fcpl: h5py.h5p.PropFCID, fill: Callable[[h5py.File], None]) -> Path:
    """A file made through the low-level API (non-default creation properties), filled by ``fill``."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        fill(f)
    return path


def small_sizes(path: Path) -> Path:
    """4-byte offsets and lengths, object header times and attribute phase change values (OHDR flags 0x30)."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(4, 4)
    fcpl.set_obj_track_times(True)
    fcpl.set_attr_phase_change(20, 10)
    return with_fcpl(path, fcpl, lambda f: write_weights(f, keras_root(f, LAMBDA_CONFIG, "bytes", 3), 4096))


def many_attributes(path: Path, count: int, size: int, libver: str = "latest", **kwargs: object) -> Path:
    """``count`` more root attributes of ``size`` bytes each (dense storage past 8 with ``libver='latest'``)."""
    with open_h5(path, libver, **kwargs) as f:
        keras_root(f, LAMBDA_CONFIG, "fixed", 3)
        for i in range(count):
            f.attrs[f"note_{i:05d}"] = np.bytes_(f"{i:05d}".encode() * (size // 5)) if size else i
    return path


def long_fixed(path: Path) -> Path:
    """A fixed-length ``model_config`` over 64 KiB: with ``libver='latest'`` h5py stores it densely (a huge object)."""
    with open_h5(path, "latest") as f:
        f.attrs["model_config"] = np.bytes_(json.dumps(long_config(2000)).encode())
        f.attrs["backend"] = "tensorflow"
    return path


def long_variable(path: Path) -> Path:
    """A variable-length ``model_config`` over 64 KiB (the default layout: it goes to the global heap)."""
    with open_h5(path) as f:
        f.attrs["model_config"] = json.dumps(long_config(2000)).encode()
    return path


LAYOUTS: dict[str, Callable[[Path], Path]] = {
    # superblock 0, object header 1, compact attributes: h5py's default, what Keras writes
    "v0-bytes": lambda p: keras_h5(p, value="bytes"),
    "v0-fixed": lambda p: keras_h5(p, value="fixed"),
    "v0-str": lambda p: keras_h5(p, value="str"),
    "v0-userblock": lambda p: keras_h5(p, userblock_size=1024),
    "v0-attributes-last": lambda p: keras_h5(p, attrs_last=True),
    "v0-long-variable": long_variable,
    "v2-v108": lambda p: keras_h5(p, libver=("v108", "v108")),
    "v3-latest-bytes": lambda p: keras_h5(p, libver="latest"),
    "v3-latest-fixed": lambda p: keras_h5(p, libver="latest", value="fixed"),
    "v3-track-order": lambda p: keras_h5(p, libver="latest", track_order=True),
    "v3-4-byte-offsets": small_sizes,
    "v0-many-compact": lambda p: many_attributes(p, 40, 100, libver="earliest"),
    "v3-dense": lambda p: many_attributes(p, 12, 0),
    "v3-dense-track-order": lambda p: many_attributes(p, 12, 0, track_order=True),
    "v3-dense-deep-btree": lambda p: many_attributes(p, 3000, 0),
    "v3-dense-nested-heap": lambda p: many_attributes(p, 400, 3000),
    "v3-dense-huge-object": long_fixed,
}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("layouts")
    return {name: make(folder / f"{name}.h5") for name, make in LAYOUTS.items()}


def h5py_bytes(value: object) -> bytes:
    """What an attribute's value is as bytes (h5py's reading of our own file)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    return np.asarray(value).tobytes()


def whole_file_search(data: bytes) -> list[tuple[str, str, int | None, str | None]]:
    """The findings of the whole-file search (the scanner before it read the structure, and its fallback)."""
    ctx = PickleContext(deadline=time.monotonic() + 30)
    keras._search(data, 0, len(data), ctx, None, 0, None)
    return sorted((f.severity, f.rule, f.offset, f.evidence) for f in ctx.findings)


def config_findings(path: Path) -> list[tuple[str, str, int | None, str | None]]:
    result = scan_file(path)
    assert isinstance(result, ScannedFile)
    return sorted((f.severity, f.rule, f.offset, f.evidence) for f in result.findings if f.rule.startswith("keras-"))


# --- the structure ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_root_attributes_are_those_h5py_reads(layout: str, layouts: dict[str, Path]):
    path = layouts[layout]
    data = path.read_bytes()
    attributes = {a.name: a for a in root_attributes(data, 0, len(data), lambda: None)}
    with h5py.File(path, "r") as f:  # our own file
        expected = {name: h5py_bytes(f.attrs[name]) for name in f.attrs}
    assert set(attributes) == set(expected)
    for name, value in expected.items():
        pieces = attributes[name].pieces
        assert b"".join(piece for _, piece in pieces).rstrip(b"\0") == value.rstrip(b"\0"), name
        for offset, piece in pieces:
            assert data[offset : offset + len(piece)] == piece  # each piece is where it says


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_lambda_is_flagged_as_the_whole_file_search_flags_it(layout: str, layouts: dict[str, Path]):
    path = layouts[layout]
    found = config_findings(path)
    before = whole_file_search(path.read_bytes())
    assert found and [f[:3] for f in found] == [f[:3] for f in before]  # same rules, severities and offsets
    for (_, _, _, evidence), (_, _, _, old) in zip(found, before, strict=True):
        assert evidence is not None and old is not None
        assert evidence.startswith("attrs['model_config']: ") and evidence.endswith(old)
    result = remote_matches_local(path)
    assert result.result.verdict == "dangerous"  # type: ignore[union-attr]


def test_dense_storage_is_read_through_nested_heap_blocks(layouts: dict[str, Path], monkeypatch: pytest.MonkeyPatch):
    """400 attributes of 3 KB fill the fractal heap past its root indirect block's direct rows."""
    nested = []
    lookup = hdf5._FractalHeap.lookup

    def spy(heap: hdf5._FractalHeap, offset: int) -> tuple[int, int]:
        row, col = lookup(heap, offset)
        nested.append(row >= heap.max_direct_rows)  # a row of child indirect blocks
        return row, col

    monkeypatch.setattr(hdf5._FractalHeap, "lookup", spy)
    data = layouts["v3-dense-nested-heap"].read_bytes()
    assert len(root_attributes(data, 0, len(data), lambda: None)) == 400 + 5
    assert any(nested) and not all(nested)


def test_h5py_refuses_a_long_fixed_length_attribute_in_the_default_layout(tmp_path: Path):
    """Over 64 KiB a fixed-length string does not fit an object header message: h5py's default layout
    (``libver='earliest'``) refuses it; ``libver='latest'`` stores it densely (``v3-dense-huge-object``),
    and a ``bytes`` or ``str`` value of any length is a variable-length string in the global heap."""
    with open_h5(tmp_path / "x.h5") as f, pytest.raises(OSError, match="object header message is too large"):
        f.attrs["model_config"] = np.bytes_(json.dumps(long_config(2000)).encode())


def test_variable_length_strings_in_arrays_and_unicode(tmp_path: Path):
    path = tmp_path / "vlen.h5"
    config = json.dumps(LAMBDA_CONFIG)
    with open_h5(path) as f:
        f.attrs["names"] = np.array(["ünïcode", "", config], dtype=h5py.string_dtype())
        f.attrs["empty"] = ""
        f.attrs.create("ascii", b"plain", dtype=h5py.string_dtype("ascii"))
    data = path.read_bytes()
    attributes = {a.name: a for a in root_attributes(data, 0, len(data), lambda: None)}
    assert [piece for _, piece in attributes["names"].pieces] == ["ünïcode".encode(), config.encode()]
    assert attributes["empty"].pieces == ()
    assert [piece for _, piece in attributes["ascii"].pieces] == [b"plain"]
    (finding,) = [f for f in scan_file(path).findings if f.rule == "keras-lambda"]  # type: ignore[union-attr]
    assert finding.evidence is not None and finding.evidence.startswith("attrs['names']: ")


def test_a_config_whose_keys_do_not_start_with_class_name_is_still_read(tmp_path: Path):
    """Keras decodes the whole attribute, whatever the order of its keys: so does the scanner."""
    path = tmp_path / "reordered.h5"
    layer = {"config": {"function": "lambda x: x"}, "class_name": "Lambda"}
    with open_h5(path) as f:
        f.attrs["model_config"] = json.dumps({"config": {"layers": [layer]}, "class_name": "Sequential"}).encode()
    assert whole_file_search(path.read_bytes()) == []  # a search for '{"class_name"' misses it
    assert {f[1] for f in config_findings(path)} == {"keras-lambda"}


def test_every_string_of_a_fixed_length_array_is_read(tmp_path: Path):
    path = tmp_path / "array.h5"
    safe = json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode()
    with open_h5(path) as f:
        f.attrs["configs"] = np.array([safe, json.dumps(LAMBDA_CONFIG).encode()])  # fixed-length, NUL-padded
    found = config_findings(path)
    assert [f[:3] for f in found] == [f[:3] for f in whole_file_search(path.read_bytes())]
    assert [f[1] for f in found] == ["keras-lambda"]


def test_the_corpus_lambda_file_is_read_from_its_structure():
    path = CORPORA / "modelaudit/tests/assets/samples/keras/malicious_lambda.h5"
    data = path.read_bytes()  # bytes only: never loaded
    (attribute,) = root_attributes(data, 0, len(data), lambda: None)
    assert attribute.name == "model_config"
    (found,) = config_findings(path)
    (before,) = whole_file_search(data)
    assert found[:3] == before[:3] and found[3] == f"attrs['model_config']: {before[3]}"


# --- what a remote scan reads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("libver", ["earliest", "latest"])
@pytest.mark.parametrize("attrs_last", [False, True], ids=["attributes-first", "attributes-last"])
def test_a_100_mb_weights_file_is_decided_from_a_fraction_of_a_percent(libver: str, attrs_last: bool, tmp_path: Path):
    path = keras_h5(tmp_path / "tf_model.h5", None, libver, total=100 * MB, layers=50, attrs_last=attrs_last)
    size = path.stat().st_size
    scan = remote_matches_local(path)
    report(f"HDF5 weights ({libver}, {'attributes last' if attrs_last else 'attributes first'})", scan, size)
    result = scan.result
    assert isinstance(result, ScannedFile) and result.format == "hdf5" and result.verdict == "clean"
    assert [f.rule for f in result.findings] == ["hdf5-no-keras-config"]
    assert "structure was not read" not in result.findings[0].message
    assert scan.bytes_read <= size // 100 and scan.bytes_read <= 3 * remote.BLOCK + TAIL
    assert scan.requests <= 3


@pytest.mark.parametrize("libver", ["earliest", "latest"])
def test_a_100_mb_model_with_a_lambda_layer_is_flagged_remotely_as_locally(libver: str, tmp_path: Path):
    path = keras_h5(tmp_path / "model.h5", LAMBDA_CONFIG, libver, total=100 * MB, layers=50)
    size = path.stat().st_size
    scan = remote_matches_local(path)
    report(f"HDF5 model with a Lambda layer ({libver})", scan, size)
    result = scan.result
    assert isinstance(result, ScannedFile) and result.verdict == "dangerous"
    (finding,) = result.findings
    assert finding.rule == "keras-lambda" and finding.evidence is not None
    assert finding.evidence.startswith("attrs['model_config']: ['4wEAAAAAAAAAAAAAAAEAAAAB'")
    assert scan.bytes_read <= size // 100


def test_without_any_root_attribute_a_small_file_is_searched_whole_and_a_large_one_is_not(tmp_path: Path):
    """A model saved into a subgroup (``save_model(model, f['sub'])``) is loaded only from that group; a small
    file whose root group has no attribute is searched whole all the same, a large one is read by structure."""
    for name, total, verdict in (("small.h5", 64 << 10, "dangerous"), ("large.h5", 16 * MB, "clean")):
        path = tmp_path / name
        with open_h5(path) as f:
            group = f.create_group("sub")
            group.attrs["model_config"] = json.dumps(LAMBDA_CONFIG).encode()
            write_weights(group, [b"dense_0", b"dense_1"], total)
        scan = remote_matches_local(path)
        assert scan.result.verdict == verdict, name  # type: ignore[union-attr]
        if verdict == "clean":
            assert scan.bytes_read <= 3 * remote.BLOCK + TAIL


# --- damaged and hostile files ---------------------------------------------------------------------------------


def messages_of(data: bytes) -> tuple[hdf5._File, list[tuple[int, int, int, bytes]]]:
    f = hdf5._File(data, 0, len(data), lambda: None)
    return f, f.messages(f.root)


def patched(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def continuation_to(target: int | None = None) -> Callable[[bytes], bytes]:
    """Point the root group's continuation message at ``target`` (None: at the chunk holding the message)."""

    def patch(data: bytes) -> bytes:
        f, messages = messages_of(data)
        (at,) = [addr for kind, _, addr, _ in messages if kind == 0x10]
        if target is None:  # the first chunk of a version 1 header: this message (8 + 16 bytes) and nothing else
            return patched(data, f.where(at), (at - 8).to_bytes(8, "little") + (24).to_bytes(8, "little"))
        return patched(data, f.where(at), target.to_bytes(8, "little"))

    return patch


def dataspace_dims(data: bytes) -> bytes:
    f, messages = messages_of(data)
    (addr, body) = next((addr, body) for kind, _, addr, body in messages if kind == 0x0C)
    dims = f.where(addr) + 8 + 16 + 8 + 8  # version 1: header, name 'layer_names' (16), datatype (8), dataspace head
    assert body[8:19] == b"layer_names"
    return patched(data, dims, (1 << 40).to_bytes(8, "little"))


HOSTILE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "superblock-version": (lambda d: patched(d, 8, b"\x09"), "superblock version 9"),
    "offset-size": (lambda d: patched(d, 13, b"\x03"), "sizes of offsets 3"),
    "root-outside": (lambda d: patched(d, 0x40, (1 << 50).to_bytes(8, "little")), "outside the file"),
    "continuation-cycle": (continuation_to(), "continuations repeat"),
    "continuation-outside": (continuation_to(1 << 40), "outside the file"),
    "data-past-its-message": (dataspace_dims, "more data than its message"),
    "heap-object-index": (lambda d: patched(d, d.index(b"GCOL") + 16, b"\x07\x00"), "has no object 1"),
    "heap-signature": (lambda d: patched(d, d.index(b"GCOL"), b"XXXX"), "no global heap collection"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_damaged_structure_falls_back_to_the_whole_file_search(case: str, tmp_path: Path):
    patch, reason = HOSTILE[case]
    data = patch(keras_h5(tmp_path / "model.h5").read_bytes())
    with pytest.raises(HDF5Unreadable, match=reason):
        root_attributes(data, 0, len(data), lambda: None)
    fmt, findings = scan_bytes(data)
    assert fmt == "hdf5" and worst(findings) == "dangerous"  # the JSON text is still there: the search finds it
    assert [f[:3] for f in sorted((f.severity, f.rule, f.offset) for f in findings)] == [
        f[:3] for f in whole_file_search(data)
    ]
    path = tmp_path / "patched.h5"
    path.write_bytes(data)
    remote_matches_local(path)


def test_a_damaged_file_without_a_config_says_its_structure_was_not_read(tmp_path: Path):
    data = patched(keras_h5(tmp_path / "w.h5", None).read_bytes(), 8, b"\x09")
    _, findings = scan_bytes(data)
    (finding,) = findings
    assert finding.rule == "hdf5-no-keras-config" and finding.severity == "info"
    assert "its structure was not read (superblock version 9), so the whole file was searched" in finding.message


def test_cycles_and_bounds_in_dense_storage(tmp_path: Path):
    data = many_attributes(tmp_path / "deep.h5", 3000, 0).read_bytes()
    f, messages = messages_of(data)
    (info,) = [body for kind, _, _, body in messages if kind == 0x15]
    names = int.from_bytes(info[2 + 8 + 2 * (info[1] & 1) : 2 + 16 + 2 * (info[1] & 1)], "little")
    head = f.read(names, 16 + 8 + 8)
    root = int.from_bytes(head[16:24], "little")
    assert f.read(root, 4) == b"BTIN" and int.from_bytes(head[12:14], "little") >= 2  # two levels of internal nodes
    records = int.from_bytes(head[24:26], "little")
    first_child = f.where(root) + 6 + records * int.from_bytes(head[10:12], "little")
    looped = patched(data, first_child, root.to_bytes(8, "little"))  # a child that is its own parent
    with pytest.raises(HDF5Unreadable):
        root_attributes(looped, 0, len(looped), lambda: None)
    heapless = patched(data, f.where(int.from_bytes(info[2:10], "little")), b"XXXX")
    with pytest.raises(HDF5Unreadable, match="no fractal heap header"):
        root_attributes(heapless, 0, len(heapless), lambda: None)
    for broken in (looped, heapless):
        assert worst(scan_bytes(broken)[1]) == "dangerous"


@pytest.mark.parametrize("libver", ["earliest", "latest"])
def test_a_truncated_file_gives_the_verdict_of_the_whole_file_search(libver: str, tmp_path: Path):
    data = keras_h5(tmp_path / "model.h5", libver=libver, total=16 << 10, layers=2).read_bytes()
    for cut in range(0, len(data), 97):
        truncated = data[:cut]
        fmt, findings = scan_bytes(truncated)
        assert "scanner-error" not in {f.rule for f in findings}, cut
        if fmt == "hdf5":
            expected = "dangerous" if any(f[1] == "keras-lambda" for f in whole_file_search(truncated)) else "clean"
            assert worst(findings) == expected, cut


@pytest.mark.parametrize("libver", ["earliest", "latest"])
def test_random_damage_is_unreadable_or_read_never_an_error(libver: str, tmp_path: Path):
    data = many_attributes(tmp_path / "dense.h5", 12, 40, libver=libver).read_bytes()
    rng = np.random.default_rng(3)
    for _ in range(400):
        damaged = bytearray(data)
        for at in rng.integers(0, min(len(data), 8192), size=int(rng.integers(1, 6))):
            damaged[int(at)] = int(rng.integers(0, 256))
        started = time.monotonic()
        with contextlib.suppress(HDF5Unreadable):  # unreadable, or read: never another exception
            root_attributes(bytes(damaged), 0, len(damaged), lambda: None)
        assert time.monotonic() - started < 5


def test_superblock_version_1_and_a_handmade_root_group():
    """Superblock version 1 (h5py cannot write it: it adds the indexed storage K) read from a handmade file."""
    config = json.dumps(LAMBDA_CONFIG).encode()
    for version in (0, 1):
        name = b"model_config\0".ljust(16, b"\0")
        datatype = bytes([0x13, 0, 0, 0]) + len(config).to_bytes(4, "little")  # fixed-length string
        dataspace = bytes([1, 0, 0, 0, 0, 0, 0, 0])  # version 1, scalar
        body = bytes([1, 0]) + (13).to_bytes(2, "little") + (8).to_bytes(2, "little") + (8).to_bytes(2, "little")
        body += name + datatype + dataspace + config
        body = body.ljust((len(body) + 7) // 8 * 8, b"\0")
        message = (0x0C).to_bytes(2, "little") + len(body).to_bytes(2, "little") + bytes(4) + body
        header_at = 128
        head = bytearray(hdf5.MAGIC + bytes([version, 0, 0, 0, 0, 8, 8, 0]) + (4).to_bytes(2, "little") * 2 + bytes(4))
        if version == 1:
            head += (32).to_bytes(2, "little") + bytes(2)
        head += bytes(8) + b"\xff" * 8 + (4096).to_bytes(8, "little") + b"\xff" * 8  # base, free space, EOF, driver
        head += bytes(8) + header_at.to_bytes(8, "little") + bytes(24)  # the root symbol table entry
        header = (
            bytes([1, 0]) + (1).to_bytes(2, "little") + (1).to_bytes(4, "little") + len(message).to_bytes(4, "little")
        )
        data = bytes(head).ljust(header_at, b"\0") + header + bytes(4) + message
        (attribute,) = root_attributes(data, 0, len(data), lambda: None)
        assert attribute.name == "model_config" and attribute.pieces == ((data.index(config), config),)
        assert worst(scan_bytes(data)[1]) == "dangerous"
