"""The bundled snapshots: real Hub data shipped with ptmscope, imported on first use.

``hub-2022-02``
    The whole Hugging Face Hub of February 2022 (29,432 models, 15,195 cards), the era of
    the ICSE'23 paper; cards are read as the Hub read them then (``hub-2022`` front matter).
``hub-2025-04-sample``
    2,057 models of April 2025: the fine-tune trees of about 25 popular base models
    (Llama-2, DeepSeek-R1, gemma-7b, phi-2, Stable Diffusion 2.1, ...), with cards,
    cardData, base-model tags, safetensors and gated flags. Not a random sample: every
    model descends from one of those bases (see data/sample/README.md).

``ensure_bundled`` imports one into the store (seconds, offline) when the store lacks it,
holds a partial one, or holds one read by an older card analysis. See data/sample/README.md
for where the files come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from ptmscope.cards.analysis import CARD_ANALYSIS
from ptmscope.cards.frontmatter import FrontMatterRule
from ptmscope.importer import ImportReport, import_paths
from ptmscope.progress import ProgressFn
from ptmscope.store.store import Snapshot, Store


@dataclass(frozen=True)
class Bundle:
    """A snapshot shipped with ptmscope."""

    name: str
    files: tuple[str, ...]
    """Files under data/sample, in import order."""
    front_matter: FrontMatterRule
    """How the Hub found card metadata when the data was collected."""
    taken_at: datetime
    """When the data was collected (the scrape's or the dump's date)."""
    description: str


BUNDLES: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle(
            "hub-2022-02",
            ("model_infos_2022-02.jsonl.gz", "model_cards_2022-02.jsonl.gz", "icse23_transformed_packages.csv.gz"),
            "hub-2022",
            datetime(2022, 2, 21, tzinfo=UTC),
            "the whole Hugging Face Hub of February 2022 (29,432 models)",
        ),
        Bundle(
            "hub-2025-04-sample",
            ("models_finetune_trees_2025-04.jsonl.gz",),
            "hub-2023",
            datetime(2025, 4, 26, tzinfo=UTC),
            "2,057 models of April 2025 from the fine-tune trees of ~25 popular base models (not a random sample)",
        ),
    )
}

SAMPLE_SNAPSHOT = "hub-2022-02"
"""The snapshot commands use when none is named."""
SAMPLE_FILES = BUNDLES[SAMPLE_SNAPSHOT].files


def sample_dir() -> Path:
    """The folder holding the bundled files inside the installed package."""
    return Path(str(resources.files("ptmscope.data") / "sample"))


def sample_paths(name: str = SAMPLE_SNAPSHOT) -> list[Path]:
    """A bundled snapshot's files, in import order."""
    folder = sample_dir()
    return [folder / file for file in BUNDLES[name].files]


def is_current(snapshot: Snapshot | None) -> bool:
    """The store's copy of a bundled snapshot is complete and read by this card analysis."""
    return snapshot is not None and snapshot.is_complete and snapshot.card_analysis == CARD_ANALYSIS


def ensure_bundled(
    store: Store, name: str = SAMPLE_SNAPSHOT, progress: ProgressFn | None = None
) -> tuple[Snapshot, ImportReport | None]:
    """The bundled snapshot ``name``, (re-)imported first unless the store holds a current copy."""
    bundle = BUNDLES[name]
    existing = store.find_snapshot(name)
    if is_current(existing):
        assert existing is not None
        return existing, None
    if existing is not None:
        store.delete_snapshot(name)
    report = import_paths(
        store, sample_paths(name), name, source="bundled", progress=progress, front_matter=bundle.front_matter
    )
    store.con.execute(
        "UPDATE snapshots SET taken_at = ?, notes = ? WHERE snapshot_id = ?",
        [bundle.taken_at, bundle.description, report.snapshot.snapshot_id],
    )
    return store.snapshot(name), report


def ensure_sample(store: Store, progress: ProgressFn | None = None) -> tuple[Snapshot, ImportReport | None]:
    """The default bundled snapshot (``hub-2022-02``)."""
    return ensure_bundled(store, SAMPLE_SNAPSHOT, progress)
