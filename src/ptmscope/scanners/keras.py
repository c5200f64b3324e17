"""Keras models (``.h5`` and ``.keras``) without TensorFlow: read the JSON config, flag code in it.

A Keras model config names every layer's class and, in Keras 3, its module. ``Lambda``
layers carry a Python function (marshalled bytecode in ``.h5``, source or a module
reference in ``.keras``) that runs when the model is loaded or called; custom objects and
modules outside Keras import code from wherever the loader finds it.

``.h5`` files store the config as an HDF5 string attribute. Rather than depend on h5py,
the scanner finds the JSON documents in the file's bytes (``{"class_name": ...`` or
``{"module": ...``) and decodes them with ``json.JSONDecoder.raw_decode``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ptmscope.scanners import policy
from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.interface import Severity

_KERAS_MODULES = ("keras", "tf_keras", "keras_nlp", "keras_hub", "keras_cv", "tensorflow")
_CONFIG_START = re.compile(rb'\{\s*"(class_name|module)"\s*:')
_MAX_CONFIG = 64 << 20


def _is_keras_module(module: str) -> bool:
    return module.split(".", 1)[0] in _KERAS_MODULES


def check_config(ctx: PickleContext, config: Any, member: str | None, offset: int | None = None) -> None:
    """Walk a decoded Keras config and record Lambda layers, custom objects and foreign modules."""
    todo = [config]
    seen = 0
    while todo and seen < 1_000_000:
        node = todo.pop()
        seen += 1
        if isinstance(node, list):
            todo.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        todo.extend(node.values())
        class_name = node.get("class_name")
        module = node.get("module")
        if class_name == "Lambda":
            cfg = node.get("config")
            fn = cfg.get("function") if isinstance(cfg, dict) else None
            ctx.add(
                "dangerous",
                "keras-lambda",
                "Lambda layer: its Python function is deserialised and runs when the model loads or runs",
                member,
                offset,
                str(fn)[:120] if fn is not None else "?",
            )
        if isinstance(module, str) and not _is_keras_module(module):
            name = node.get("class_name") or node.get("function_name") or node.get("name") or "?"
            verdict, reason = policy.classify(module, str(name), ctx.allow_globals, ctx.deny_globals)
            severity: Severity = "dangerous" if verdict == "dangerous" else "suspicious"
            ctx.add(
                severity,
                "keras-module-reference",
                f"config references {module}.{name} outside Keras ({reason})",
                member,
                offset,
                f"{module}.{name}",
            )
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered and not _is_keras_module(registered):
            ctx.add(
                "suspicious",
                "keras-custom-object",
                f"custom registered object {registered!r} needs code outside the model file",
                member,
                offset,
                registered,
            )


def check_config_bytes(ctx: PickleContext, data: bytes, member: str | None) -> None:
    """Decode a ``.keras`` ``config.json`` and check it."""
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as error:
        ctx.add("unparseable", "keras-bad-config", f"config.json is not JSON: {type(error).__name__}", member)
        return
    check_config(ctx, config, member)


def scan_hdf5(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Find the JSON configs stored in an HDF5 (Keras ``.h5``) file and check them."""
    decoder = json.JSONDecoder()
    window = 8 << 20
    pos = start
    found = 0
    while pos < end:
        chunk = bytes(buf[pos : min(end, pos + window)])
        cursor = 0
        for match in _CONFIG_START.finditer(chunk):
            if match.start() < cursor:
                continue
            doc_start = pos + match.start()
            raw = bytes(buf[doc_start : min(end, doc_start + _MAX_CONFIG)])
            text = raw.split(b"\x00", 1)[0].decode("utf-8", "replace")
            try:
                config, length = decoder.raw_decode(text)
            except (ValueError, RecursionError):
                continue
            found += 1
            check_config(ctx, config, member, doc_start - start)
            cursor = match.start() + len(text[:length].encode("utf-8", "replace"))
        ctx.check_time()
        if pos + window >= end:
            break
        pos += window - 64  # overlap so a config start split across windows is seen
    if found == 0:
        ctx.add("info", "hdf5-no-keras-config", "HDF5 file without a Keras model config (weights only?)", member)
