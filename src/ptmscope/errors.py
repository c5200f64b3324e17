"""The single exception hierarchy of ptmscope.

Library code raises these; only the CLI turns them into user-facing text
(``ptmscope.cli.main.ERROR_HINTS``). A failure on *one* record, card or file is not an
exception: it is stored as data (an import error row, a card status, a finding) and the
run goes on.
"""

from __future__ import annotations


class PtmscopeError(Exception):
    """Base class of every error ptmscope raises on purpose."""


# STORE ERRORS


class StoreError(PtmscopeError):
    """The DuckDB store could not be opened, migrated or written."""


class StoreLockedError(StoreError):
    """Another process holds the store open for writing."""


class StoreCorruptError(StoreError):
    """The store file is damaged (truncated, overwritten) or is not a ptmscope store at all."""


class SnapshotNotFoundError(StoreError):
    """No snapshot with the requested name exists in the store."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        listed = ", ".join(available[:10]) if available else "none"
        super().__init__(f"no snapshot named {name!r} in the store (available: {listed})")


class SnapshotExistsError(StoreError):
    """A snapshot with this name already exists and would be overwritten."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a snapshot named {name!r} already exists")


# INPUT ERRORS


class InputError(PtmscopeError):
    """An input file as a whole cannot be used (not found, unknown shape, unreadable)."""


class UnknownFormatError(InputError):
    """ptmscope does not recognise the shape of an input file."""


# SOURCE ERRORS


class SourceError(PtmscopeError):
    """A registry source failed. Concrete sources subclass this."""


class SourceUnreachableError(SourceError):
    """The registry endpoint could not be reached at all."""


# STUDY ERRORS


class StudyError(PtmscopeError):
    """A study cannot be run as asked (an unknown definition, a snapshot that lacks what it needs)."""


# VERIFY ERRORS


class VerifyError(PtmscopeError):
    """``ptmscope verify`` could not re-run a model's evaluation. Concrete failures subclass this."""


class MissingExtraError(VerifyError):
    """torch or transformers is not installed (they are the optional ``verify`` extra)."""


class DatasetError(VerifyError):
    """The evaluation data cannot be found or read, lacks a column, or is empty."""


class ModelLoadError(VerifyError):
    """The model cannot be loaded: no config, unknown architecture, missing weights or heads."""


class UnsafeModelError(ModelLoadError):
    """Loading the model would unpickle weights or run its code, and the user did not allow it."""


class LabelMappingError(VerifyError):
    """The dataset's labels do not map onto the model's labels (config.json id2label/label2id)."""


class ListingFailedError(SourceError):
    """The registry's model listing failed after retries; a rerun continues from the page that failed."""


class CrawlMismatchError(SourceError):
    """A crawl was asked to continue a snapshot that is not the same crawl (another endpoint or query)."""


class ExecutorError(SourceError):
    """Per-repo units could not run (Dask missing or unreachable, a cluster where no unit finishes)."""


class FileScanError(SourceError):
    """A registry scan could not run at all (an unusable parts folder); per-repo failures are stored instead."""


class CloneError(SourceError):
    """Cloning could not run at all (no git, an unusable destination); per-repo failures are stored instead."""


class ModelNotFoundError(SourceError):
    """The Hub has no such model (or it is private or gated for this token)."""


class ModelNotInSnapshotError(PtmscopeError):
    """The repo id is not in the snapshot and fetching it was not allowed."""


class AggregateFileError(InputError):
    """The file holds aggregate figures (counts per category), not records."""


class HistoryError(CloneError):
    """A repository's history could not be read (stored as the repo's ``history_error``)."""
