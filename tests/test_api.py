"""The Python API (docs/api.md): its examples run here, in an empty folder.

The store is a copy of the suite's Feb-2022 store (imported and audited once per run), so the
examples' first use of the bundled snapshot finds it current instead of importing it again.
"""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import ptmscope
from tests.conftest import copy_of

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


@pytest.mark.slow
def test_the_examples_of_docs_api_md_run(tmp_path, monkeypatch, feb2022_pristine, tmp_path_factory):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PTMSCOPE_DB", str(copy_of(feb2022_pristine, tmp_path_factory, "api-docs")))
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(DOCS), module_relative=False, optionflags=flags, raise_on_error=False)
    assert result.attempted > 20
    assert result.failed == 0


def test_the_api_names_are_the_functions_even_after_the_internal_modules_load():
    import ptmscope.audits.run  # the internal packages, loaded before the API
    import ptmscope.studies.run

    assert callable(ptmscope.audit) and callable(ptmscope.study)
    assert {ptmscope.scan, ptmscope.audit, ptmscope.study, ptmscope.select, ptmscope.open_store} == {
        getattr(ptmscope.api, name) for name in ptmscope.api.__all__
    }


def test_import_ptmscope_loads_nothing_else_until_the_api_is_used():
    code = (
        "import sys, ptmscope\n"
        "assert not [m for m in sys.modules if m.startswith('ptmscope.')], sorted(sys.modules)\n"
        "assert 'duckdb' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_one_line_scan_of_the_issue_works(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # never loaded, only scanned
    code = "import ptmscope; print(ptmscope.scan(['model.bin']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("DANGEROUS 'model.bin' [pickle]: pickle-dangerous-import")


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ptmscope.nope
