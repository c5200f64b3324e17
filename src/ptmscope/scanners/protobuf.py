"""A minimal, bounds-checked protobuf wire-format reader (no generated classes, no TensorFlow).

ONNX models and TensorFlow SavedModels are protobuf messages. We only need a handful of
fields (op names, domains, external-data paths), so decoding the wire format directly is
smaller and safer than depending on TensorFlow, and it works on truncated or hostile input:
every length is checked against the buffer before it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; return (value, position after it)."""
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ProtobufError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


class Truncation:
    """Set to True by ``fields(..., clip=...)`` when a length ran past the end and was clipped."""

    def __init__(self) -> None:
        self.clipped = False


def fields(buf: Any, start: int, end: int, clip: Truncation | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, a, b)`` for each field of the message in ``[start, end)``.

    For VARINT, ``a`` is the value; for LEN, ``[a, b)`` is the payload range; for fixed-size
    types, ``a`` is the offset of the value. With ``clip``, a length-delimited field that
    runs past the end is yielded clipped to the end (and ``clip.clipped`` set) instead of
    raising, so a truncated file can still be inspected.
    """
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos, end)
            yield number, wire, value, pos
        elif wire == LEN:
            length, pos = read_varint(buf, pos, end)
            if pos + length > end:
                if clip is None:
                    raise ProtobufError("length-delimited field runs past the end")
                clip.clipped = True
                yield number, wire, pos, end
                return
            yield number, wire, pos, pos + length
            pos += length
        elif wire == I64:
            if pos + 8 > end:
                raise ProtobufError("truncated fixed64")
            yield number, wire, pos, pos + 8
            pos += 8
        elif wire == I32:
            if pos + 4 > end:
                raise ProtobufError("truncated fixed32")
            yield number, wire, pos, pos + 4
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def text(buf: Any, a: int, b: int, limit: int = 4096) -> str:
    """Decode a string field (truncated to ``limit`` bytes), replacing invalid UTF-8."""
    return bytes(buf[a : min(b, a + limit)]).decode("utf-8", "replace")


def _top_fields(buf: Any, start: int, end: int, clip: Truncation | None = None) -> dict[int, int] | None:
    """Field number -> wire type of the top-level message, or None when it does not parse."""
    seen: dict[int, int] = {}
    try:
        for number, wire, _, _ in fields(buf, start, end, clip):
            if seen.get(number, wire) != wire:
                return None
            seen[number] = wire
    except ProtobufError:
        return None
    return seen


def looks_like_onnx(buf: Any, start: int, end: int) -> bool:
    """True when ``buf[start:end]`` parses as an ONNX ModelProto with a graph."""
    if end - start < 4 or buf[start] != 0x08:  # ir_version is field 1 and serialised first
        return False
    top = _top_fields(buf, start, end)
    onnx_fields = {
        1: VARINT,
        2: LEN,
        3: LEN,
        4: LEN,
        5: VARINT,
        6: LEN,
        7: LEN,
        8: LEN,
        14: LEN,
        20: LEN,
        25: LEN,
    }
    return top is not None and 7 in top and all(onnx_fields.get(n) == w for n, w in top.items())


def looks_like_saved_model(buf: Any, start: int, end: int, truncated_ok: bool = False) -> bool:
    """True when ``buf[start:end]`` parses as a TensorFlow SavedModel (schema version + meta graphs).

    With ``truncated_ok`` a file cut short inside its last field still counts (the caller
    knows from the name that it should be a SavedModel).
    """
    if end - start < 4 or buf[start] not in (0x08, 0x12):
        return False
    top = _top_fields(buf, start, end, Truncation() if truncated_ok else None)
    if not top or top.get(2) != LEN or any(n not in (1, 2) for n in top):
        return False
    return top.get(1, VARINT) == VARINT
