"""ptmscope: measure pre-trained model registries and audit models for reuse.

The library is organised along one data flow, held by the import-linter contract in
pyproject.toml: sources -> records -> store -> checks -> scores -> reports -> cli.
``import ptmscope`` imports nothing else until an API function (docs/api.md) is used, and
``ptmscope --help`` imports no command (``ptmscope.cli.main`` imports a command's module only
when it runs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ptmscope.api import audit, open_store, scan, select, study

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "open_store", "scan", "select", "study"]
_API = frozenset({"audit", "open_store", "scan", "select", "study"})


def __getattr__(name: str) -> Any:
    """The API functions of ``ptmscope.api``, loaded on first use so that ``import ptmscope`` stays light."""
    if name in _API:
        return getattr(importlib.import_module("ptmscope.api"), name)
    raise AttributeError(f"module 'ptmscope' has no attribute {name!r}")
