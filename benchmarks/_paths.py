"""Import-path hygiene for the benchmark scripts; import it first.

``benchmarks/select.py`` is named like the standard library's ``select`` (the issue names
it so), and Python puts a script's own folder first on the import path, so ``import
subprocess`` in any script here would find our file instead. Importing this module takes
the folder off the path; ``sibling`` loads another benchmark module by file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def sibling(name: str) -> ModuleType:
    """The module ``benchmarks/<name>.py``, loaded by path (cached)."""
    key = f"ptmscope_bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
