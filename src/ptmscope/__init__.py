"""ptmscope: measure pre-trained model registries and audit models for reuse.

The library is organised along one data flow (see docs/design.md):
source -> records -> store -> checks -> findings -> scores -> reports.
Heavy modules (duckdb, pyarrow, matplotlib) are imported inside the functions that
need them, so ``import ptmscope`` and ``ptmscope --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
