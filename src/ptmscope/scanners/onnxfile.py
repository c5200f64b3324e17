"""ONNX models: external-data paths that escape the model folder, and custom operator domains.

ONNX itself runs no Python, but a loader follows ``external_data`` locations to read
tensor bytes from files (so ``../../etc/passwd`` or an absolute path leaks files into a
model), and nodes in a non-standard domain need a native custom-op library.
"""

from __future__ import annotations

from ptmscope.scanners.archives import unsafe_path
from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.protobuf import LEN, ProtobufError, fields, text

STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "org.pytorch.aten",
        "com.ms.internal.nhwc",
    }
)


class _Onnx:
    def __init__(self, buf: BufferLike, ctx: PickleContext, member: str | None, base: int) -> None:
        self.buf, self.ctx, self.member, self.base = buf, ctx, member, base
        self.domains: dict[str, int] = {}
        self.functions: set[str] = set()

    def tensor(self, a: int, b: int) -> None:
        for num, wire, x, y in fields(self.buf, a, b):
            if num == 13 and wire == LEN:  # external_data: StringStringEntryProto
                key = value = ""
                for k, kw, kx, ky in fields(self.buf, x, y):
                    if kw == LEN and k == 1:
                        key = text(self.buf, kx, ky)
                    elif kw == LEN and k == 2:
                        value = text(self.buf, kx, ky)
                if key == "location":
                    reason = unsafe_path(value) or ("URL" if "://" in value else None)
                    if reason:
                        self.ctx.add(
                            "dangerous",
                            "onnx-external-data-escape",
                            f"external data location {value!r} is unsafe ({reason}): loading reads files "
                            "outside the model folder",
                            self.member,
                            x - self.base,
                            value,
                        )

    def graph(self, a: int, b: int, depth: int = 0) -> None:
        if depth > 16:
            return
        for num, wire, x, y in fields(self.buf, a, b):
            if wire != LEN:
                continue
            if num == 1:
                self.node(x, y, depth)
            elif num in (5, 15):  # initializer, sparse_initializer
                self.tensor(x, y)
        self.ctx.check_time()

    def node(self, a: int, b: int, depth: int) -> None:
        domain = ""
        for num, wire, x, y in fields(self.buf, a, b):
            if wire != LEN:
                continue
            if num == 7:
                domain = text(self.buf, x, y)
            elif num == 5:  # AttributeProto: t=5, g=6, tensors=10, graphs=11
                for an, aw, ax, ay in fields(self.buf, x, y):
                    if aw == LEN and an in (6, 11):
                        self.graph(ax, ay, depth + 1)
                    elif aw == LEN and an in (5, 10):
                        self.tensor(ax, ay)
        self.domains.setdefault(domain, a)

    def model(self, a: int, b: int) -> None:
        for num, wire, x, y in fields(self.buf, a, b):
            if num == 7 and wire == LEN:
                self.graph(x, y)
            elif num == 8 and wire == LEN:  # opset_import
                for on, ow, ox, oy in fields(self.buf, x, y):
                    if on == 1 and ow == LEN:
                        self.domains.setdefault(text(self.buf, ox, oy), x)
            elif num == 25 and wire == LEN:  # FunctionProto: name 1, domain 10, node 7
                name = domain = ""
                for fn, fw, fx, fy in fields(self.buf, x, y):
                    if fw != LEN:
                        continue
                    if fn == 1:
                        name = text(self.buf, fx, fy)
                    elif fn == 10:
                        domain = text(self.buf, fx, fy)
                    elif fn == 7:
                        self.node(fx, fy, 1)
                self.functions.add(f"{domain}:{name}")


def scan_onnx(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Check an ONNX ModelProto's external-data paths and operator domains."""
    onnx = _Onnx(buf, ctx, member, start)
    try:
        onnx.model(start, end)
    except ProtobufError as error:
        ctx.add("unparseable", "onnx-unparseable", f"ONNX protobuf is malformed: {error}", member)
    local = {f.split(":", 1)[0] for f in onnx.functions}
    for domain, offset in sorted(onnx.domains.items()):
        if domain not in STANDARD_DOMAINS and domain not in local:
            ctx.add(
                "suspicious",
                "onnx-custom-domain",
                f"operators of domain {domain!r} need a custom native op library to run",
                member,
                offset - start,
                domain,
            )
