"""Scan a Hugging Face Hub repository: list its files, download only those worth scanning.

Everything goes through ``huggingface_hub`` with a configurable endpoint (``--endpoint`` or
``HF_ENDPOINT``), so the same code runs against the Hub, a mirror, or ``serve-hub``.
Downloads land in the normal Hugging Face cache; nothing is loaded or executed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ptmscope.scanners.api import scan_file
from ptmscope.scanners.interface import FileResult, ScanOptions, SkippedFile

REPO_ID = re.compile(r"^(?:(?P<kind>models|datasets|spaces)/)?(?P<id>[\w.\-]+/[\w.\-]+)(?:@(?P<rev>[\w.\-/]+))?$")

# Files that are never model weights: documentation, configs, tokenizer text, images, code.
# Everything else is downloaded and detected by content (a pickle renamed .txt still counts,
# which is why the list is of text-like names and not of "model extensions").
SKIP_SUFFIXES = (
    ".md",
    ".txt",
    ".json",
    ".yaml",
    ".yml",
    ".gitattributes",
    ".gitignore",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
    ".csv",
    ".tsv",
    ".py",
    ".ipynb",
    ".model.license",
    ".cfg",
    ".ini",
    ".toml",
    ".html",
    ".css",
    ".js",
)


@dataclass(frozen=True)
class RepoRef:
    """A parsed ``[models/|datasets/|spaces/]owner/name[@revision]`` argument."""

    repo_id: str
    repo_type: str
    revision: str | None


def parse_repo_ref(text: str) -> RepoRef | None:
    """Parse a repository argument, or return None when it does not look like one."""
    match = REPO_ID.match(text)
    if match is None:
        return None
    kind = {"models": "model", "datasets": "dataset", "spaces": "space"}.get(match.group("kind") or "", "model")
    return RepoRef(match.group("id"), kind, match.group("rev"))


def wants(filename: str) -> bool:
    """True when a repository file should be downloaded and scanned."""
    lower = filename.lower()
    return not lower.endswith(SKIP_SUFFIXES)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def scan_repo(
    ref: RepoRef,
    options: ScanOptions,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[list[FileResult], list[str]]:
    """Scan the files of one Hub repository.

    Args:
        ref: which repository and revision.
        options: per-file limits; ``max_file_size`` also avoids downloading larger files.
        endpoint: the Hub endpoint (default: ``HF_ENDPOINT`` or the public Hub).
        cache_dir: the Hugging Face cache folder to download into.
        progress: called after each file.

    Returns:
        (results, errors): one result per scanned or skipped file, and the errors that stopped
        the listing or a download.
    """
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    api = HfApi(endpoint=endpoint)
    results: list[FileResult] = []
    errors: list[str] = []
    label = f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id
    try:
        info = api.repo_info(ref.repo_id, repo_type=ref.repo_type, revision=ref.revision, files_metadata=True)
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        return results, [f"{label}: repository or revision not found ({type(error).__name__})"]
    except Exception as error:
        return results, [f"{label}: cannot list files: {_first_line(error)}"]
    siblings = getattr(info, "siblings", None) or []
    for sibling in sorted(siblings, key=lambda s: s.rfilename):
        name = sibling.rfilename
        shown = f"{ref.repo_id}/{name}"
        if not wants(name):
            continue
        size = sibling.size
        if options.max_file_size is not None and size is not None and size > options.max_file_size:
            results.append(SkippedFile(shown, f"larger than --max-file-size ({size} bytes); not downloaded", size=size))
            continue
        try:
            local = hf_hub_download(
                ref.repo_id,
                name,
                repo_type=ref.repo_type,
                revision=info.sha or ref.revision,
                endpoint=endpoint,
                cache_dir=cache_dir,
            )
        except Exception as error:
            results.append(SkippedFile(shown, f"download failed: {_first_line(error)}", error=True))
            continue
        result = scan_file(local, options, shown)
        results.append(result)
        if progress is not None:
            progress(shown, result.size or 0)
    return results, errors
