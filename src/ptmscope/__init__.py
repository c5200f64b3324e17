"""ptmscope: measure pre-trained model registries and audit models for reuse.

The library is organised along one data flow, held by the import-linter contract in
pyproject.toml: sources -> records -> store -> checks -> scores -> reports -> cli.
``import ptmscope`` imports nothing else, and ``ptmscope --help`` imports no command
(``ptmscope.cli.main`` imports a command's module only when it runs).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
