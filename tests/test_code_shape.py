"""The shape of the code, held by a test so that it does not drift back (issue 13).

- No function longer than ``MAX_LINES`` lines, counted from ``def`` to its last line with
  Python's own ``ast`` (docstring and comments included). Cyclomatic complexity (at most 25)
  is ruff's ``C901`` rule, configured in pyproject.toml and run by ``ruff check`` in CI.
- No import inside a function, except of an optional or heavy dependency that only one path
  needs (``LAZY``), and each such import says why in a comment on its line or the line above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ptmscope

PACKAGE = Path(ptmscope.__file__).parent
MAX_LINES = 100
LONG_ALLOWED: dict[str, str] = {
    # None today: even the pickle walker's inline fast path (scanners/pickle.py Walker._walk_chunk, the
    # hottest opcodes inline, the rest through a dispatch table) fits. An entry is "path:Qual.name": "why".
}
LAZY = {
    "torch": "optional extra (verify)",
    "transformers": "optional extra (verify)",
    "datasets": "optional (verify reads a datasets folder only when given one)",
    "dask": "optional extra (dask)",
    "distributed": "optional extra (dask)",
    "matplotlib": "heavy; only figure rendering needs it",
    "py7zr": "heavy; only 7z archives need it",
    "cyclonedx": "heavy; only --cyclonedx needs it",
    "packageurl": "comes with cyclonedx-python-lib; only --cyclonedx needs it (the model's purl)",
    # huggingface_hub and httpx2 (through ptmscope's Hub client) cost ~0.5 s and 12 MiB at start-up: a scan of
    # local files (a pre-commit hook) or a command that only reads the store must not pay them, so only the
    # paths that talk to a hub, validate a repo id or parse a card's front matter import them.
    "huggingface_hub": "heavy; only Hub requests, repo-id validation and card parsing need it",
    "httpx2": "only Hub targets of scan need it",
    "ptmscope.scanners.hub": "only Hub targets of scan need it (it imports huggingface_hub)",
    "ptmscope.cli.scan_snapshot": "only scan --snapshot needs the store; a local scan (a pre-commit hook) must not",
}


def _modules() -> list[tuple[str, ast.Module, list[str]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        out.append((path.relative_to(PACKAGE).as_posix(), ast.parse(text), text.splitlines()))
    return out


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((f"{prefix}{child.name}", child))
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _commented(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or on a line above it within the same run of imports and comments."""
    if "#" in lines[lineno - 1]:
        return True
    above = lineno - 2
    while above >= 0 and lines[above].strip().startswith(("import ", "from ", "#", "try:", "except")):
        if "#" in lines[above]:
            return True
        above -= 1
    return False


def test_no_function_is_longer_than_100_lines() -> None:
    long = []
    for name, tree, _ in _modules():
        for qualname, fn in _functions(tree):
            lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            key = f"{name}:{qualname}"
            if lines > MAX_LINES and key not in LONG_ALLOWED:
                long.append(f"{key} ({lines} lines)")
    assert not long, "split these functions:\n" + "\n".join(long)


def test_the_allowed_long_functions_still_exist() -> None:
    known = {f"{name}:{qualname}" for name, tree, _ in _modules() for qualname, _ in _functions(tree)}
    assert set(LONG_ALLOWED) <= known, "an allowance names a function that is gone: remove it"


def test_imports_inside_functions_are_only_the_lazy_heavy_ones_and_say_why() -> None:
    bad = []
    for name, tree, lines in _modules():
        for qualname, fn in _functions(tree):
            for node in ast.walk(fn):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                where = f"{name}:{node.lineno} in {qualname}: import {', '.join(modules)}"
                if not all(any(m == lazy or m.startswith(lazy + ".") for lazy in LAZY) for m in modules):
                    bad.append(f"{where} (move it to the module's top)")
                    continue
                if not _commented(lines, node.lineno):
                    bad.append(f"{where} (say why it is imported here, in a comment)")
    assert not bad, "\n".join(bad)
