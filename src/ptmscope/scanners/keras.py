"""Keras models (``.h5`` and ``.keras``) without TensorFlow: read the JSON config, flag code in it.

A Keras model config names every layer's class and, in Keras 3, its module. ``Lambda``
layers carry a Python function (marshalled bytecode in ``.h5``, source or a module
reference in ``.keras``) that runs when the model is loaded or called; custom objects and
modules outside Keras import code from wherever the loader finds it.

``.h5`` files store the config in the root group's attributes (``model_config``, and
``training_config``, which can name custom losses and metrics): that is all
``keras.models.load_model`` reads of a file besides weights. ``hdf5.root_attributes`` reads those
attributes from the file's structure (without h5py), so a weights-only file is decided from a few
blocks; every attribute value is searched for JSON documents (``{"class_name": ...`` or
``{"module": ...``, decoded with ``json.JSONDecoder.raw_decode``). A file whose structure is not read
there (an unsupported layout, a damaged file) is searched whole, as is a small file whose root group
has no attribute at all (a model saved into a subgroup).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ptmscope.scanners import policy
from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.hdf5 import Attribute, HDF5Unreadable, root_attributes
from ptmscope.scanners.interface import Severity

_KERAS_MODULES = ("keras", "tf_keras", "keras_nlp", "keras_hub", "keras_cv", "tensorflow")
_CONFIG_START = re.compile(rb'\{\s*"(class_name|module)"\s*:')
_MAX_CONFIG = 64 << 20
SMALL_HDF5 = 8 << 20
"""An HDF5 file up to this size whose root group has no attribute is also searched whole."""


def _is_keras_module(module: str) -> bool:
    return module.split(".", 1)[0] in _KERAS_MODULES


def check_config(
    ctx: PickleContext, config: Any, member: str | None, offset: int | None = None, where: str | None = None
) -> bool:
    """Walk a decoded Keras config and record Lambda layers, custom objects and foreign modules.

    ``where`` (the HDF5 attribute the config was read from, ``attrs['model_config']``) starts each evidence.
    Returns whether the JSON looks like a Keras config (an object in it has a ``class_name`` or ``module``).
    """
    prefix = f"{where}: " if where else ""
    keras_like = False
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
        keras_like = keras_like or "class_name" in node or "module" in node
        if class_name == "Lambda":
            cfg = node.get("config")
            fn = cfg.get("function") if isinstance(cfg, dict) else None
            ctx.add(
                "dangerous",
                "keras-lambda",
                "Lambda layer: its Python function is deserialised and runs when the model loads or runs",
                member,
                offset,
                prefix + (str(fn)[:120] if fn is not None else "?"),
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
                f"{prefix}{module}.{name}",
            )
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered and not _is_keras_module(registered):
            ctx.add(
                "suspicious",
                "keras-custom-object",
                f"custom registered object {registered!r} needs code outside the model file",
                member,
                offset,
                prefix + registered,
            )
    return keras_like


def check_config_bytes(ctx: PickleContext, data: bytes, member: str | None) -> None:
    """Decode a ``.keras`` ``config.json`` and check it."""
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as error:
        ctx.add("unparseable", "keras-bad-config", f"config.json is not JSON: {type(error).__name__}", member)
        return
    check_config(ctx, config, member)


def scan_hdf5(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Check the Keras configs of an HDF5 (Keras ``.h5``) file: its root group's attributes, else the whole file."""
    try:
        attributes: list[Attribute] | None = root_attributes(buf, start, end, ctx.check_time)
        unread = ""
    except (HDF5Unreadable, ValueError, IndexError, OverflowError) as error:
        attributes, unread = None, f"; its structure was not read ({str(error)[:200]}), so the whole file was searched"
    found = 0
    for attribute in attributes or ():
        ctx.check_time()
        where = f"attrs[{attribute.name[:100]!r}]"
        for offset, data in attribute.pieces:
            found += _check_value(data, offset - start, ctx, member, where)
    if attributes is None or (not attributes and end - start <= SMALL_HDF5):
        found += _search(buf, start, end, ctx, member, start, None)
    if found == 0:
        message = f"HDF5 file without a Keras model config (weights only?){unread}"
        ctx.add("info", "hdf5-no-keras-config", message, member)


def _check_value(data: bytes, offset: int, ctx: PickleContext, member: str | None, where: str) -> int:
    """Check an attribute value (at ``offset``): as one JSON document (what Keras decodes), else search it.

    A value that decodes (up to its first NUL) is walked whole, whatever the order of its keys; what
    follows a NUL (the other strings of a fixed-length string array) is searched. Returns how many
    Keras configs were found.
    """
    head = data.split(b"\x00", 1)[0]
    text = head.decode("utf-8", "replace")
    try:
        config = json.loads(text) if text.lstrip()[:1] in ("{", "[") else None
    except (ValueError, RecursionError):
        config = None
    if config is None:
        return _search(data, 0, len(data), ctx, member, -offset, where)
    found = int(check_config(ctx, config, member, offset, where))
    return found + (_search(data, len(head), len(data), ctx, member, -offset, where) if len(head) < len(data) else 0)


def _search(
    buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None, origin: int, where: str | None
) -> int:
    """Find the JSON configs in ``buf[start:end]``, check them, and return how many there were.

    Findings are at ``offset - origin``; ``where`` names the attribute searched (None: the whole file).
    """
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
            check_config(ctx, config, member, doc_start - origin, where)
            cursor = match.start() + len(text[:length].encode("utf-8", "replace"))
        ctx.check_time()
        if pos + window >= end:
            break
        pos += window - 64  # overlap so a config start split across windows is seen
    return found
