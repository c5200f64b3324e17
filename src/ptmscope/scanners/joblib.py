"""Compressed streams (joblib's zlib, gzip, bz2, lzma, xz and old ``ZF`` dumps), inflated in memory.

``joblib.dump(obj, compress=...)`` writes one compressed stream holding a pickle with the
raw array bytes of each ``NumpyArrayWrapper`` in between; the pickle walker knows how to
step over them. The stream is inflated up to ``max_member_size`` and then scanned by
content like any other file (usually a pickle, sometimes a tar).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from typing import Any

from ptmscope.scanners.context import BufferLike, PickleContext

_CHUNK = 1 << 20


def _decompressor(fmt: str) -> Any:
    if fmt == "zlib":
        return zlib.decompressobj()
    if fmt == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if fmt == "bz2":
        return bz2.BZ2Decompressor()
    if fmt in ("xz", "lzma"):
        return lzma.LZMADecompressor()
    raise ValueError(fmt)


def inflate(buf: BufferLike, start: int, end: int, fmt: str, ctx: PickleContext, member: str | None) -> bytes | None:
    """Decompress ``buf[start:end]`` (format ``fmt``) into memory, bounded by ``max_member_size``.

    Returns None (after recording a finding) when the stream is corrupt or too large.
    """
    cap = ctx.max_member_size
    if fmt == "joblib-zfile":
        # joblib < 0.10: b"ZF0x" + 16-char hex length + zlib stream
        start += 4 + 16
        fmt = "zlib"
    out = bytearray()
    pos = start
    try:
        d = _decompressor(fmt)
        while pos < end and len(out) <= cap:
            chunk = bytes(buf[pos : min(end, pos + _CHUNK)])
            pos += len(chunk)
            if fmt in ("zlib", "gzip"):
                out += d.decompress(chunk, cap + 1 - len(out))
                while d.unconsumed_tail and len(out) <= cap:
                    out += d.decompress(d.unconsumed_tail, cap + 1 - len(out))
                if d.eof and fmt == "gzip" and d.unused_data[:2] == b"\x1f\x8b":
                    break  # a second gzip member: rare; joblib never writes one
            else:
                out += d.decompress(chunk, max_length=cap + 1 - len(out))
                while not d.eof and not d.needs_input and len(out) <= cap:
                    out += d.decompress(b"", max_length=cap + 1 - len(out))
            ctx.check_time()
            if getattr(d, "eof", False):
                break
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError, gzip.BadGzipFile) as error:
        ctx.add("unparseable", "compressed-corrupt", f"{fmt} stream does not decompress: {error}", member)
        return None
    if len(out) > cap:
        ctx.add(
            "unparseable",
            "compressed-too-large",
            f"{fmt} stream inflates past the {cap}-byte limit; not scanned",
            member,
        )
        return None
    if end - start and len(out) / max(1, end - start) > ctx.max_ratio and len(out) > (64 << 20):
        ctx.add("suspicious", "archive-bomb", f"{fmt} stream inflates {len(out) / (end - start):.0f}:1", member)
    return bytes(out)
