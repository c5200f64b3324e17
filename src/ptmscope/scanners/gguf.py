"""GGUF (llama.cpp): validate the header and metadata, and inspect chat templates.

GGUF holds no code, but ``tokenizer.chat_template`` is a Jinja2 template that runtimes
render; a template that reaches Python internals (``__class__``, ``__globals__``,
``__subclasses__``, ``__import__``...) is a server-side template injection payload
(CVE-2024-34359 in llama-cpp-python). Counts and lengths are checked against the file
before anything is allocated.
"""

from __future__ import annotations

import re
import struct

from ptmscope.scanners.context import BufferLike, PickleContext

_FIXED = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9
_SSTI = re.compile(
    r"__(class|mro|base|bases|subclasses|globals|builtins|import|init|getattribute|code|func)__"
    r"|\|\s*attr\s*\(|\bos\.(system|popen)|\bsubprocess\b|\beval\s*\(|\bexec\s*\(|\bimport\s+os\b"
    r"|\b(lipsum|cycler|joiner|namespace)\s*\.\s*__|\bself\._TemplateReference__context",
    re.IGNORECASE,
)
MAX_COUNT = 1 << 24


class GGUFError(ValueError):
    """The GGUF structure is inconsistent with the file."""


class _Reader:
    def __init__(self, buf: BufferLike, pos: int, end: int, version: int) -> None:
        self.buf, self.pos, self.end, self.version = buf, pos, end, version

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise GGUFError(f"needs {n} bytes at offset {self.pos}, past the end of the file")
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def count(self) -> int:
        return struct.unpack("<I" if self.version == 1 else "<Q", self.take(4 if self.version == 1 else 8))[0]

    def string(self, keep: int = 1 << 20) -> str:
        n = self.count()
        if n > self.end - self.pos:
            raise GGUFError(f"string of {n} bytes runs past the end of the file")
        raw = bytes(self.buf[self.pos : self.pos + min(n, keep)])
        self.pos += n
        return raw.decode("utf-8", "replace")

    def value(self, vtype: int, keep: bool) -> object:
        if vtype in _FIXED:
            fmt = _FIXED[vtype]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if vtype == STRING:
            return self.string(1 << 20 if keep else 256)
        if vtype == ARRAY:
            etype = struct.unpack("<I", self.take(4))[0]
            n = self.count()
            if n > MAX_COUNT * 64:
                raise GGUFError(f"array of {n} items is implausible")
            if etype in _FIXED:
                self.take(n * struct.calcsize(_FIXED[etype]))
                return None
            if n * 8 > self.end - self.pos:  # every non-fixed item takes at least 8 bytes
                raise GGUFError(f"array of {n} items cannot fit in the rest of the file")
            for _ in range(n):
                self.value(etype, False)
            return None
        raise GGUFError(f"unknown metadata value type {vtype}")


def scan_gguf(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Validate a GGUF header, walk its metadata and tensor infos, check the chat template."""
    head = bytes(buf[start : start + 8])
    version = struct.unpack("<I", head[4:8])[0] if len(head) == 8 else 0
    if version not in (1, 2, 3):
        ctx.add("unparseable", "gguf-invalid", f"unsupported GGUF version {version}", member, 4)
        return
    r = _Reader(buf, start + 8, end, version)
    try:
        n_tensors, n_kv = r.count(), r.count()
        if n_tensors > MAX_COUNT or n_kv > MAX_COUNT:
            raise GGUFError(f"implausible counts: {n_tensors} tensors, {n_kv} metadata entries")
        alignment = 32
        for _ in range(n_kv):
            key = r.string(4096)
            vtype = struct.unpack("<I", r.take(4))[0]
            at = r.pos - start
            value = r.value(vtype, keep=key.endswith("chat_template") or key == "general.alignment")
            if key == "general.alignment" and isinstance(value, int) and value > 0:
                alignment = value
            if "chat_template" in key and isinstance(value, str):
                hit = _SSTI.search(value)
                if hit:
                    ctx.add(
                        "dangerous",
                        "gguf-template-injection",
                        f"chat template {key!r} reaches Python internals ({hit.group(0)!r}): server-side "
                        "template injection when a runtime renders it",
                        member,
                        at,
                        hit.group(0),
                    )
            ctx.check_time()
        infos: list[tuple[str, int, int]] = []
        for _ in range(n_tensors):
            name = r.string(4096)
            n_dims = struct.unpack("<I", r.take(4))[0]
            if n_dims > 8:
                raise GGUFError(f"tensor {name!r} has {n_dims} dimensions")
            for _ in range(n_dims):
                r.count()
            _ggml_type = struct.unpack("<I", r.take(4))[0]
            offset = struct.unpack("<Q", r.take(8))[0]
            infos.append((name, offset, _ggml_type))
        data_start = r.pos + (-(r.pos - start) % alignment)
        for name, offset, _ in infos:
            if data_start + offset > end:
                raise GGUFError(f"tensor {name!r} starts at {offset}, past the end of the file")
    except (GGUFError, struct.error) as error:
        ctx.add("unparseable", "gguf-invalid", f"GGUF structure is invalid: {error}", member, r.pos - start)
