"""The bundled sample snapshot: the Hugging Face Hub of February 2022, with its cards.

``ensure_sample`` imports it into the store on first use (about ten seconds), so
``ptmscope study`` works offline on a fresh machine. See data/sample/README.md for
where the files come from.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ptmscope.importer import ImportReport, ProgressFn, import_paths
from ptmscope.store.store import Snapshot, Store

SAMPLE_SNAPSHOT = "hub-2022-02"
SAMPLE_FILES = (
    "model_infos_2022-02.jsonl.gz",
    "model_cards_2022-02.jsonl.gz",
    "icse23_transformed_packages.csv.gz",
)


def sample_dir() -> Path:
    """The folder holding the sample files inside the installed package."""
    return Path(str(resources.files("ptmscope.data") / "sample"))


def sample_paths() -> list[Path]:
    """The sample's files, in import order."""
    folder = sample_dir()
    return [folder / name for name in SAMPLE_FILES]


def ensure_sample(store: Store, progress: ProgressFn | None = None) -> tuple[Snapshot, ImportReport | None]:
    """The sample snapshot, imported first if the store lacks it (or holds a partial one)."""
    existing = store.find_snapshot(SAMPLE_SNAPSHOT)
    if existing is not None and existing.is_complete:
        return existing, None
    if existing is not None:
        store.delete_snapshot(SAMPLE_SNAPSHOT)
    report = import_paths(store, sample_paths(), SAMPLE_SNAPSHOT, source="bundled", progress=progress)
    return report.snapshot, report
