"""safetensors: validate the header the way a strict loader does; metadata is data, not code.

Loading safetensors runs no code, so nothing here is ``dangerous``. What can be wrong is
the header: a size past the file or over 100 MB, invalid JSON or UTF-8, unknown dtypes,
offsets out of bounds, overlapping or leaving holes, a shape that does not match its byte
range, metadata that is not a string-to-string map. Those are ``unparseable`` (a strict
loader refuses the file). Metadata strings that look like code or pickles are reported as
``info`` so a reviewer sees them, without calling a data file malicious.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ptmscope.scanners.context import BufferLike, PickleContext

MAX_HEADER = 100 << 20
DTYPE_SIZES: dict[str, float] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "C64": 8,
    "F4": 0.5,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
}
_CODE_LIKE = re.compile(
    r"(__import__|\beval\s*\(|\bexec\s*\(|os\.system|subprocess|import\s+os|<script|\$\(|`[^`]+`|"
    r"\b(curl|wget|bash|sh)\s+-|base64\.b64decode|pickle\.loads)",
    re.IGNORECASE,
)


def _bad(ctx: PickleContext, member: str | None, message: str, offset: int | None = None) -> None:
    ctx.add("unparseable", "safetensors-invalid-header", message, member, offset)


def _check_tensor(name: str, info: Any, data_len: int) -> str | tuple[int, int]:
    if not isinstance(info, dict):
        return f"tensor {name!r}: entry is not an object"
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        return f"tensor {name!r}: unknown dtype {str(dtype)[:40]!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return f"tensor {name!r}: shape is not a list of non-negative integers"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        return f"tensor {name!r}: data_offsets is not [begin, end]"
    begin, stop = offsets
    if not 0 <= begin <= stop <= data_len:
        return f"tensor {name!r}: data_offsets [{begin}, {stop}] outside the {data_len}-byte data section"
    count = 1
    for d in shape:
        count *= d
    if count * DTYPE_SIZES[dtype] != stop - begin:
        return (
            f"tensor {name!r}: shape {shape} of {dtype} needs {count * DTYPE_SIZES[dtype]:g} bytes, "
            f"offsets give {stop - begin}"
        )
    return begin, stop


def scan_safetensors(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Validate a safetensors header and report code-like metadata strings."""
    n = int.from_bytes(bytes(buf[start : start + 8]), "little")
    if n > MAX_HEADER or start + 8 + n > end:
        _bad(ctx, member, f"header size {n} is larger than the file or the 100 MB limit", 0)
        return
    raw = bytes(buf[start + 8 : start + 8 + n])
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        _bad(ctx, member, f"header is not valid UTF-8 JSON: {type(error).__name__}", 8)
        return
    if not isinstance(header, dict):
        _bad(ctx, member, "header is not a JSON object", 8)
        return
    data_len = end - start - 8 - n
    ranges: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        checked = _check_tensor(name, info, data_len)
        if isinstance(checked, str):
            _bad(ctx, member, checked, 8)
            return
        ranges.append((checked[0], checked[1], name))
    ranges.sort()
    cursor = 0
    for begin, stop, name in ranges:
        if begin < cursor:
            _bad(ctx, member, f"tensor {name!r} overlaps the previous tensor", 8)
            return
        if begin > cursor:
            _bad(ctx, member, f"a {begin - cursor}-byte hole precedes tensor {name!r}", 8)
            return
        cursor = stop
    if cursor != data_len:
        _bad(ctx, member, f"the data section has {data_len - cursor} bytes no tensor covers", 8)
        return
    metadata = header.get("__metadata__")
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        _bad(ctx, member, "__metadata__ is not a string-to-string map", 8)
        return
    for key, value in metadata.items():
        hit = _CODE_LIKE.search(value) or _CODE_LIKE.search(key)
        if hit:
            ctx.add(
                "info",
                "safetensors-code-like-metadata",
                f"metadata {key!r} contains code-like text ({hit.group(0)!r}); safetensors never runs it, "
                "but a tool that reads the metadata might",
                member,
                8,
                value[:200],
            )
