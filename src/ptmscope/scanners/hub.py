"""Scan a Hugging Face Hub repository: list its files, download only those worth scanning.

Everything goes through ``huggingface_hub`` with a configurable endpoint (``--endpoint`` or
``HF_ENDPOINT``), so the same code runs against the Hub, a mirror, or ``serve-hub``.
Downloads land in the normal Hugging Face cache; nothing is loaded or executed.

Tokens: an explicit ``token`` is sent to the endpoint given. Without one, huggingface_hub's own
resolution is used (``huggingface_hub.get_token()``: ``HF_TOKEN``, or the token saved by
``hf auth login``), and that token, which belongs to the Hugging Face Hub, is sent only when the
endpoint is the Hub itself (``https://huggingface.co``); any other endpoint gets no token.
huggingface_hub drops the ``Authorization`` header when a download is redirected to another host.

Network bounds: the file listing waits at most ``LIST_TIMEOUT`` seconds to connect and between
bytes, and is not retried (a DNS failure or a refused connection is one error line at once);
downloads use huggingface_hub's bounds (``HF_HUB_ETAG_TIMEOUT`` and ``HF_HUB_DOWNLOAD_TIMEOUT``,
10 s each by default).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

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


LIST_TIMEOUT = 30.0
"""Seconds the repository listing waits to connect, and then between bytes."""
HUB_HOST = "huggingface.co"


def is_the_hub(endpoint: str) -> bool:
    """True for the Hugging Face Hub itself (https, huggingface.co), the only home of a saved token."""
    parts = urlsplit(endpoint)
    return parts.scheme == "https" and parts.hostname == HUB_HOST and parts.port in (None, 443)


def hub_token(endpoint: str | None, token: str | None = None) -> str | bool:
    """The token to send to ``endpoint``, or False to send none.

    An explicit ``token`` goes to the endpoint it was given for. Otherwise huggingface_hub's
    resolution (``get_token()``: ``HF_TOKEN`` or the saved login) is used, but only for the
    Hugging Face Hub itself: a mirror, a local ``serve-hub`` or a hostile ``--endpoint`` never
    receives the user's Hub token.
    """
    if token:
        return token
    from huggingface_hub import constants, get_token

    if not is_the_hub(endpoint or constants.ENDPOINT):
        return False
    return get_token() or False


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def scan_repo(
    ref: RepoRef,
    options: ScanOptions,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    token: str | None = None,
) -> tuple[list[FileResult], list[str]]:
    """Scan the files of one Hub repository.

    Args:
        ref: which repository and revision.
        options: per-file limits; ``max_file_size`` also avoids downloading larger files.
        endpoint: the Hub endpoint (default: ``HF_ENDPOINT`` or the public Hub).
        cache_dir: the Hugging Face cache folder to download into.
        progress: called after each file.
        token: a token to send to ``endpoint``; None: huggingface_hub's token, for the Hub only
            (see ``hub_token``).

    Returns:
        (results, errors): one result per scanned or skipped file, and the errors that stopped
        the listing or a download.
    """
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    send = hub_token(endpoint, token)
    where = (endpoint or constants.ENDPOINT).rstrip("/")
    api = HfApi(endpoint=endpoint, token=send)
    results: list[FileResult] = []
    errors: list[str] = []
    label = f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id
    try:
        info = api.repo_info(
            ref.repo_id, repo_type=ref.repo_type, revision=ref.revision, files_metadata=True, timeout=LIST_TIMEOUT
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        hint = ""
        if send is False and not is_the_hub(where):
            hint = f"; no token was sent to {where} (pass --token to send one)"
        return results, [f"{label}: repository or revision not found ({type(error).__name__}){hint}"]
    except Exception as error:
        return results, [f"{label}: cannot list files at {where}: {_first_line(error)}"]
    siblings = getattr(info, "siblings", None) or []
    for sibling in sorted(siblings, key=lambda s: s.rfilename):
        name = sibling.rfilename
        shown = f"{ref.repo_id}/{name}"
        if not wants(name):
            continue
        size = sibling.size
        if options.max_file_size is not None and size is not None and size > options.max_file_size:
            results.append(
                SkippedFile(
                    shown,
                    f"not scanned: larger than --max-file-size ({size:,} > {options.max_file_size:,} bytes); "
                    "not downloaded",
                    size=size,
                    unscanned=True,
                )
            )
            continue
        try:
            local = hf_hub_download(
                ref.repo_id,
                name,
                repo_type=ref.repo_type,
                revision=info.sha or ref.revision,
                endpoint=endpoint,
                cache_dir=cache_dir,
                token=send,
            )
        except Exception as error:
            results.append(SkippedFile(shown, f"download failed: {_first_line(error)}", error=True))
            continue
        result = scan_file(local, options, shown)
        results.append(result)
        if progress is not None:
            progress(shown, result.size or 0)
    return results, errors
