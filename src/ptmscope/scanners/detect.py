"""Content-based format detection: magic bytes and structure, never the file extension alone.

``detect`` looks at the first bytes (and, for zip and protobuf, a little structure) and
returns a format id. The extension is used only to break a tie between two protobuf
shapes, never to decide that a file is safe: a pickle named ``config.txt`` is a pickle.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable
from typing import Any, Literal

from ptmscope.scanners.context import BufferLike
from ptmscope.scanners.pickle import probe_pickle
from ptmscope.scanners.protobuf import looks_like_onnx, looks_like_saved_model

Format = Literal[
    "empty",
    "zip",
    "tar",
    "7z",
    "gzip",
    "bz2",
    "xz",
    "lzma",
    "zlib",
    "joblib-zfile",
    "npy",
    "hdf5",
    "gguf",
    "safetensors",
    "onnx",
    "tf-savedmodel",
    "pickle",
    "unknown",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
NPY_MAGIC = b"\x93NUMPY"
XZ_MAGIC = b"\xfd7zXZ\x00"


def _safetensors_header(head: bytes, size: int) -> bool:
    if len(head) < 10 or size < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def _inflates(head: bytes, make: Callable[[], Any]) -> bool:
    """True when the first bytes decompress without error (a real stream, not a lucky prefix)."""
    try:
        make().decompress(head)
    except (zlib.error, lzma.LZMAError, OSError, ValueError, EOFError):
        return False
    return True


def _is_zlib(head: bytes) -> bool:
    # RFC 1950: CMF 0x78 (deflate, 32K window) and (CMF*256 + FLG) % 31 == 0, and it inflates
    if len(head) < 2 or head[0] != 0x78 or (head[0] * 256 + head[1]) % 31:
        return False
    return _inflates(head, zlib.decompressobj)


def detect(buf: BufferLike, start: int, end: int, name: str = "", nested: bool = False) -> Format:
    """Return the format of the bytes ``buf[start:end]``.

    Args:
        buf: the file (or member) contents; only the first bytes and a little structure are read.
        start: where the file starts in ``buf``.
        end: where it ends.
        name: the file or member name, used only to prefer SavedModel over ONNX for ``*.pb``.
        nested: True for archive members, where the costly "prepended data" probes are skipped.
    """
    size = end - start
    if size <= 0:
        return "empty"
    head = bytes(buf[start : start + min(size, 512)])
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(SEVENZIP_MAGIC):
        return "7z"
    if head.startswith(b"\x1f\x8b\x08") and _inflates(head, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        return "bz2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(b"ZF0x"):
        return "joblib-zfile"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if _safetensors_header(head, size):
        return "safetensors"
    if _is_zlib(head):
        return "zlib"
    if head.startswith(b"\x5d\x00\x00") and len(head) >= 13 and _inflates(head, lzma.LZMADecompressor):
        return "lzma"
    if probe_pickle(buf, start, end):
        return "pickle"
    if name.endswith(".pb") and looks_like_saved_model(buf, start, end, truncated_ok=True):
        return "tf-savedmodel"
    if looks_like_onnx(buf, start, end):
        return "onnx"
    if looks_like_saved_model(buf, start, end):
        return "tf-savedmodel"
    if nested:
        return "unknown"
    if size > 22 and _has_zip_trailer(buf, start, end):
        return "zip"  # data prepended to a zip (self-extracting style): loaders still find the archive
    if size > 512 + 8 and _hdf5_at_offset(buf, start, end):
        return "hdf5"  # HDF5 allows a user block before the superblock (512, 1024, ...)
    return "unknown"


def _has_zip_trailer(buf: BufferLike, start: int, end: int) -> bool:
    tail_start = max(start, end - 65557)
    return bytes(buf[tail_start:end]).rfind(b"PK\x05\x06") >= 0


def _hdf5_at_offset(buf: BufferLike, start: int, end: int) -> bool:
    offset = 512
    while offset + 8 <= min(end - start, 1 << 20):
        if bytes(buf[start + offset : start + offset + 8]) == HDF5_MAGIC:
            return True
        offset *= 2
    return False
