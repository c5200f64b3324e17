"""NumPy ``.npy`` files: parse the header as a literal; object arrays hold a pickle, analysed statically.

``numpy.load`` only unpickles when its ``allow_pickle`` flag is set, but code that reuses
models often sets it. The header is a Python dict literal, read with ``ast.literal_eval`` (literals
only, no names or calls), and bounded in size.
"""

from __future__ import annotations

import ast
import re
import warnings

from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.pickle import analyze_pickle

MAX_HEADER = 1 << 16


def _itemsize(descr: object) -> int | None:
    if isinstance(descr, str):
        match = re.search(r"(\d+)", descr)
        if descr[1:2] in ("M", "m") or descr[:1] in ("M", "m"):
            return 8
        if match is None:
            return None
        return int(match.group(1)) * (4 if "U" in descr else 1)
    if isinstance(descr, list):
        total = 0
        for field in descr:
            if not isinstance(field, tuple) or len(field) < 2:
                return None
            size = _itemsize(field[1])
            if size is None:
                return None
            count = 1
            for d in field[2] if len(field) > 2 and isinstance(field[2], tuple) else ():
                count *= d if isinstance(d, int) else 1
            total += size * count
        return total
    return None


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return "O" in descr
    if isinstance(descr, list):
        return any(isinstance(f, tuple) and len(f) > 1 and _has_object(f[1]) for f in descr)
    return False


def scan_npy(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Check one ``.npy`` stream: header validity, and the pickle inside object arrays."""
    head = bytes(buf[start : start + 12])
    major = head[6] if len(head) > 6 else 0
    if major == 1:
        hlen, hstart = int.from_bytes(head[8:10], "little"), start + 10
    elif major in (2, 3):
        hlen, hstart = int.from_bytes(head[8:12], "little"), start + 12
    else:
        ctx.add("unparseable", "npy-bad-header", f"unknown .npy format version {major}", member)
        return
    if hlen > MAX_HEADER or hstart + hlen > end:
        ctx.add("unparseable", "npy-bad-header", f"header length {hlen} is out of bounds", member)
        return
    raw = bytes(buf[hstart : hstart + hlen])
    try:
        with warnings.catch_warnings():  # a hostile header's "\\%" must not print a DeprecationWarning
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError) as error:
        ctx.add("unparseable", "npy-bad-header", f"header is not a literal dict: {type(error).__name__}", member)
        return
    if not isinstance(header, dict) or not {"descr", "shape", "fortran_order"} <= header.keys():
        ctx.add("unparseable", "npy-bad-header", "header lacks descr, shape or fortran_order", member)
        return
    data = hstart + hlen
    descr, shape = header["descr"], header["shape"]
    if _has_object(descr):
        ctx.add(
            "info",
            "npy-object-array",
            "object array: numpy.load unpickles it when allow_pickle is set; the pickle was analysed",
            member,
            data,
        )
        analyze_pickle(buf, data, end, ctx, member)
        return
    size = _itemsize(descr)
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or size is None:
        ctx.add("unparseable", "npy-bad-header", f"cannot size an array of {descr!r} with shape {shape!r}", member)
        return
    count = 1
    for d in shape:
        count *= d
    if data + count * size > end:
        ctx.add(
            "unparseable",
            "npy-truncated",
            f"array data needs {count * size} bytes, {end - data} present",
            member,
        )
