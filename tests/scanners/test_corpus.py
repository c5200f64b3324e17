"""Evaluation on the labelled corpora in tests/corpora (read as bytes, never loaded).

The bar (issue 3): every malicious file whose payload runs at load time is flagged
(dangerous or suspicious), no benign file is flagged, and no valid benign file errors.
Files whose MANIFEST evidence carries ``NOTE:`` hold their payload only as data (nothing
runs at load time); they are reported but not required.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from ptmscope.scanners.api import scan_file
from ptmscope.scanners.interface import ScannedFile, ScanOptions

from .conftest import CORPORA, corpus_rows

ROWS = corpus_rows()
FLAGGED = ("dangerous", "suspicious")
# Benign files that are not valid model files at all; an "unparseable" verdict or a skip is right for them.
INVALID_BENIGN = {"picklescan/tests/data/not_a_pickle.bin", "picklescan/tests/data/bad_pytorch.pt"}


def _verdict(path: str) -> tuple[str, str]:
    result = scan_file(CORPORA / path, ScanOptions(timeout=30))
    if isinstance(result, ScannedFile):
        return result.verdict, result.format
    return ("error" if result.error else "skipped"), "-"


def _runs_at_load(row: dict[str, str]) -> bool:
    return row["expected"] == "malicious" and "NOTE:" not in row["evidence"]


@pytest.mark.parametrize("row", [r for r in ROWS if _runs_at_load(r)], ids=lambda r: r["path"])
def test_malicious_files_are_flagged(row):
    verdict, _ = _verdict(row["path"])
    assert verdict in FLAGGED, f"{row['path']}: {verdict}"


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"] == "benign"], ids=lambda r: r["path"])
def test_benign_files_are_not_flagged_and_do_not_error(row):
    verdict, _ = _verdict(row["path"])
    assert verdict not in FLAGGED, f"{row['path']}: {verdict}"
    if row["path"] not in INVALID_BENIGN:
        assert verdict in ("clean", "skipped"), f"{row['path']}: {verdict}"
        assert verdict != "error"


def test_corpus_table(capsys):
    """Print the per-format table of docs/scanner.md (run with -s to see it)."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for row in ROWS:
        verdict, _ = _verdict(row["path"])
        fmt = row.get("baseline_format", "?")
        c = per[fmt]
        if _runs_at_load(row):
            c["malicious"] += 1
            c["flagged"] += verdict in FLAGGED
            for tool in ("picklescan", "modelscan", "fickling_cli", "modelaudit"):
                c[tool] += row.get(f"baseline_{tool}") == "malicious"
        elif row["expected"] == "benign":
            c["benign"] += 1
            c["fp"] += verdict in FLAGGED
            c["errors"] += verdict in ("error", "unparseable") and row["path"] not in INVALID_BENIGN
    with capsys.disabled():
        print(
            "\n| format | malicious (load-time) | ptmscope | picklescan | modelscan | fickling | modelaudit "
            "| benign | ptmscope FP | ptmscope errors |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for fmt, c in sorted(per.items()):
            print(
                f"| {fmt} | {c['malicious']} | {c['flagged']} | {c['picklescan']} | {c['modelscan']} | "
                f"{c['fickling_cli']} | {c['modelaudit']} | {c['benign']} | {c['fp']} | {c['errors']} |"
            )
    total = Counter[str]()
    for c in per.values():
        total.update(c)
    assert total["flagged"] == total["malicious"]
    assert total["fp"] == 0 and total["errors"] == 0
