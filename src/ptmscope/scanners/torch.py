"""PyTorch-specific checks: TorchScript code in ``code/`` and the zip checkpoint layout.

The pickles of a PyTorch zip checkpoint (``data.pkl``) or TorchScript archive
(``constants.pkl``, ``data.pkl``) are found by content and analysed by ``pickle.py`` like
any other member; legacy ``torch.save`` files (stacked pickles after a magic number) are
handled by the stream walker. What is left here is TorchScript source: the archive ships
Python-like code that TorchScript compiles at load time, which can call file and process
operators (``torch.ops.aten.from_file``, ``torch.ops.<custom>``) and the ``__torch__``
classes it defines.
"""

from __future__ import annotations

import re

from ptmscope.scanners.context import PickleContext

# TorchScript operators that touch files, processes or native libraries.
_DANGEROUS_CALLS = re.compile(
    rb"\b(ops\.aten\.(from_file|save|_save_jit_module|to_file)|ops\.load_library|torch\.ops\.load_library"
    rb"|__import__|builtins\.(eval|exec|open)|os\.(system|popen)|subprocess\.)"
)
_CUSTOM_OPS = re.compile(
    rb"\bops\.(?!aten\b|prim\b|quantized\b|_caffe2\b|profiler\b|_c10d_functional\b)"
    rb"([A-Za-z_][A-Za-z0-9_]*)\."
)


def check_torchscript_code(ctx: PickleContext, code: bytes, member: str) -> None:
    """Flag file/process operators and custom operator namespaces in TorchScript source."""
    for match in _DANGEROUS_CALLS.finditer(code):
        text = match.group(0).decode("latin-1")
        ctx.add(
            "dangerous",
            "torchscript-dangerous-op",
            f"TorchScript code calls {text}, which reads or writes files or runs code when the model runs",
            member,
            match.start(),
            text,
        )
    seen: set[bytes] = set()
    for match in _CUSTOM_OPS.finditer(code):
        ns = match.group(1)
        if ns not in seen:
            seen.add(ns)
            text = ns.decode("latin-1")
            ctx.add(
                "suspicious",
                "torchscript-custom-op",
                f"TorchScript code calls operators of the custom namespace {text!r}, which need native code",
                member,
                match.start(),
                text,
            )
