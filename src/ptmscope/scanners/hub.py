"""Scan a Hugging Face Hub repository: list its files, download only those worth scanning.

Requests go through ``huggingface_hub``'s HTTP session (its proxies, offline mode and request ids)
to a configurable endpoint (``--endpoint`` or ``HF_ENDPOINT``), so the same code runs against the
Hub, a mirror, or ``serve-hub``. A file already in the Hugging Face cache at the listed revision is
scanned there; any other is downloaded into a temporary folder (under ``cache_dir`` when given),
checked against the listed size and LFS sha256, scanned, and deleted. Nothing is loaded or executed.

Tokens: an explicit ``token`` is sent to the endpoint given. Without one, huggingface_hub's own
resolution is used (``huggingface_hub.get_token()``: ``HF_TOKEN``, or the token saved by
``hf auth login``), and that token is sent only to the endpoint it belongs to (``HF_ENDPOINT``,
else ``https://huggingface.co``); any other endpoint gets no token.
The ``Authorization`` header is dropped when a request is redirected to another host.

Network bounds (every wait has one): ``CONNECT_TIMEOUT`` to connect, ``READ_TIMEOUT`` between
bytes, and a total deadline per request, waits included: ``LIST_DEADLINE`` for the listing (whose
body may not exceed ``MAX_LISTING_BYTES``), and ``DOWNLOAD_DEADLINE`` plus one second per
``DOWNLOAD_MIN_RATE`` bytes of the file for a download. A 429 or 5xx answer is tried again at most
``ATTEMPTS - 1`` times, after its ``Retry-After`` capped at ``RETRY_AFTER_CAP`` (with a warning
when capped; 1 s, then 2 s without one). A DNS failure, a refused connection or a timeout is not
retried: it is one error line at once.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from ptmscope import __version__
from ptmscope.hub.client import COMMAND_MAX_PAUSE, CONNECT_TIMEOUT, READ_TIMEOUT, token_for
from ptmscope.scanners.api import scan_file
from ptmscope.scanners.interface import FileResult, ScanOptions, SkippedFile
from ptmscope.scanners.targets import RepoRef

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


def wants(filename: str) -> bool:
    """True when a repository file should be downloaded and scanned."""
    lower = filename.lower()
    return not lower.endswith(SKIP_SUFFIXES)


# CONNECT_TIMEOUT (seconds to connect) and READ_TIMEOUT (seconds between bytes) are the crawler's.
LIST_DEADLINE = 60.0
"""Seconds the file listing may take in all (retries and waits included)."""
MAX_LISTING_BYTES = 64 << 20
DOWNLOAD_DEADLINE = 120.0
DOWNLOAD_MIN_RATE = 64 << 10
"""A download may take DOWNLOAD_DEADLINE seconds plus one per DOWNLOAD_MIN_RATE bytes of its size."""
RETRY_AFTER_CAP = COMMAND_MAX_PAUSE
"""Longest pause a Retry-After header can impose (a longer one is cut, with a warning)."""
ATTEMPTS = 3
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
HUB_HOST = "huggingface.co"


def is_the_hub(endpoint: str) -> bool:
    """True for the Hugging Face Hub itself (https, huggingface.co), the only home of a saved token."""
    parts = urlsplit(endpoint)
    return parts.scheme == "https" and parts.hostname == HUB_HOST and parts.port in (None, 443)


def hub_token(endpoint: str | None, token: str | None = None) -> str | bool:
    """The token to send to ``endpoint``, or False to send none.

    The rule of every command (``ptmscope.hub.client.token_for``): an explicit ``token`` goes to
    the endpoint it was given for; otherwise huggingface_hub's resolution (``get_token()``:
    ``HF_TOKEN`` or the saved login), only for the endpoint that token belongs to (``HF_ENDPOINT``,
    else the Hugging Face Hub): a mirror, a local ``serve-hub`` or a hostile ``--endpoint`` never
    receives the user's Hub token.
    """
    from huggingface_hub import constants  # heavy, for Hub scans only: see _fetch

    return token_for(endpoint or constants.ENDPOINT, token) or False


class FetchError(Exception):
    """A request that failed; the message is one line for the report."""


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Any
    """The response's headers (case-insensitive)."""
    body: bytes
    """The body of an error answer (first 2 KiB); empty for a 200 streamed to a sink."""


def _retry_after(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None when absent or unreadable."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def _fetch(
    url: str,
    headers: dict[str, str],
    deadline_seconds: float,
    warn: Callable[[str], None],
    sink: Callable[[bytes], None] | None = None,
    max_bytes: int | None = None,
) -> _Answer:
    """GET ``url`` within the bounds above; a 200's body goes to ``sink`` (or into the answer, up to ``max_bytes``).

    Raises:
        FetchError: a network failure (not retried), the deadline passed, or a body over ``max_bytes``.
    """
    # huggingface_hub and httpx2 are heavy (~0.3 s and 12 MiB at start-up): imported only when the
    # Hub is scanned, not by every `ptmscope scan` of local files (the CLI imports this module)
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled
    from huggingface_hub.utils import get_session

    deadline = time.monotonic() + deadline_seconds
    timeout = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    for attempt in range(1, ATTEMPTS + 1):
        wait: float | None = None
        try:
            with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
                status = response.status_code
                if status in RETRY_STATUS and attempt < ATTEMPTS:
                    asked = _retry_after(response.headers)
                    wait = float(attempt) if asked is None else min(asked, RETRY_AFTER_CAP)
                    if time.monotonic() + wait > deadline:
                        raise FetchError(
                            f"HTTP {status}; the endpoint asks to wait {asked or wait:,.0f} s, past this request's "
                            f"{deadline_seconds:,.0f} s deadline"
                        )
                    if asked is not None and asked > RETRY_AFTER_CAP:
                        warn(f"{url}: HTTP {status} asks to wait {asked:,.0f} s; waiting {wait:g} s (the cap)")
                elif status != 200:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= 2048:
                            break
                    return _Answer(status, response.headers, body[:2048])
                else:
                    received = 0
                    parts: list[bytes] = []
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if max_bytes is not None and received > max_bytes:
                            raise FetchError(f"the answer is larger than {max_bytes:,} bytes")
                        if sink is None:
                            parts.append(chunk)
                        else:
                            sink(chunk)
                        if time.monotonic() > deadline:
                            raise FetchError(f"not received within {deadline_seconds:,.0f} s")
                    return _Answer(200, response.headers, b"".join(parts))
        except OfflineModeIsEnabled:
            raise FetchError("offline mode is enabled (HF_HUB_OFFLINE=1)") from None
        except httpx2.ConnectTimeout:
            raise FetchError(f"no connection within {CONNECT_TIMEOUT:g} s") from None
        except httpx2.ReadTimeout:
            raise FetchError(f"no bytes for {READ_TIMEOUT:g} s") from None
        except httpx2.HTTPError as error:
            raise FetchError(_first_line(error)) from None
        time.sleep(wait or 0.0)
    raise FetchError("no answer")  # not reached: the last attempt returns or raises


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
    warn: Callable[[str], None] | None = None,
) -> tuple[list[FileResult], list[str]]:
    """Scan the files of one Hub repository.

    Args:
        ref: which repository and revision.
        options: per-file limits; ``max_file_size`` also avoids downloading larger files.
        endpoint: the Hub endpoint (default: ``HF_ENDPOINT`` or the public Hub).
        cache_dir: the Hugging Face cache folder to read cached files from; downloads go to a
            temporary folder inside it (default: the Hugging Face cache, and the system's temporary folder).
        progress: called after each file.
        token: a token to send to ``endpoint``; None: huggingface_hub's token, for the Hub only
            (see ``hub_token``).
        warn: where to say that a wait was capped (default: stderr).

    Returns:
        (results, errors): one result per scanned or skipped file, and the errors that stopped
        the listing. Every request is bounded (see the module's docstring).
    """
    from huggingface_hub import constants, hf_hub_url  # heavy, for Hub scans only: see _fetch
    from huggingface_hub.utils import build_hf_headers

    say = warn or (lambda message: print(message, file=sys.stderr))
    send = hub_token(endpoint, token)
    where = (endpoint or constants.ENDPOINT).rstrip("/")
    headers = build_hf_headers(token=send, library_name="ptmscope", library_version=__version__)
    results: list[FileResult] = []
    label = f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id
    kind = {"model": "models", "dataset": "datasets", "space": "spaces"}[ref.repo_type]
    url = f"{where}/api/{kind}/{ref.repo_id}"
    if ref.revision:
        url += f"/revision/{quote(ref.revision, safe='')}"
    try:
        answer = _fetch(url + "?blobs=true", headers, LIST_DEADLINE, say, max_bytes=MAX_LISTING_BYTES)
    except FetchError as error:
        return results, [f"{label}: cannot list files at {where}: {error}"]
    if answer.status in (401, 403, 404):
        hint = f"; no token was sent to {where} (pass --token to send one)" if send is False else ""
        return results, [f"{label}: repository or revision not found (HTTP {answer.status}){hint}"]
    if answer.status != 200:
        return results, [f"{label}: cannot list files at {where}: HTTP {answer.status}"]
    try:
        info = orjson.loads(answer.body)
        siblings = [s for s in info.get("siblings") or [] if isinstance(s.get("rfilename"), str)]
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return results, [f"{label}: cannot list files at {where}: the answer is not a repository's JSON"]
    sha = info.get("sha") if isinstance(info.get("sha"), str) else None
    revision = sha or ref.revision or "main"
    try:
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        scratch_dir = tempfile.TemporaryDirectory(prefix="ptmscope-scan-", dir=cache_dir)
    except OSError as error:
        return results, [f"{label}: cannot make a download folder in {cache_dir}: {error.strerror or error}"]
    with scratch_dir as scratch:
        for sibling in sorted(siblings, key=lambda s: s["rfilename"]):
            name = sibling["rfilename"]
            shown = f"{ref.repo_id}/{name}"
            if not wants(name):
                continue
            size = sibling.get("size") if isinstance(sibling.get("size"), int) else None
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
            cached = _cached(ref, name, sha, cache_dir)
            if cached is not None:
                result = scan_file(cached, options, shown)
            else:
                lfs = sibling.get("lfs") if isinstance(sibling.get("lfs"), dict) else {}
                target = Path(scratch) / "download"
                file_url = hf_hub_url(ref.repo_id, name, repo_type=ref.repo_type, revision=revision, endpoint=where)
                problem = _download(file_url, headers, target, size, lfs.get("sha256"), options.max_file_size, say)
                if problem is not None:
                    results.append(SkippedFile(shown, f"download failed: {problem}", error=True, size=size))
                    continue
                result = scan_file(target, options, shown)
                target.unlink(missing_ok=True)
            results.append(result)
            if progress is not None:
                progress(shown, result.size or 0)
    return results, []


def _cached(ref: RepoRef, name: str, sha: str | None, cache_dir: str | None) -> str | None:
    """The file in the Hugging Face cache at the listed revision, if it is there."""
    if sha is None:
        return None
    from huggingface_hub import try_to_load_from_cache  # heavy, for Hub scans only: see _fetch

    found = try_to_load_from_cache(ref.repo_id, name, cache_dir=cache_dir, revision=sha, repo_type=ref.repo_type)
    return found if isinstance(found, str) else None


def _download(
    url: str,
    headers: dict[str, str],
    target: Path,
    size: int | None,
    sha256: str | None,
    max_size: int | None,
    warn: Callable[[str], None],
) -> str | None:
    """Download ``url`` to ``target`` within the bounds; None when done, else why it failed (one line)."""
    digest = hashlib.sha256()
    limit = size if size is not None else max_size
    try:
        with target.open("wb") as out:

            def sink(chunk: bytes) -> None:
                out.write(chunk)
                digest.update(chunk)

            deadline = DOWNLOAD_DEADLINE + (size or 0) / DOWNLOAD_MIN_RATE
            answer = _fetch(url, headers, deadline, warn, sink=sink, max_bytes=limit)
    except FetchError as error:
        return str(error)
    except OSError as error:
        return f"cannot write the download: {error.strerror or error}"
    if answer.status != 200:
        reason = answer.headers.get("X-Error-Message") or ""
        return f"HTTP {answer.status}{': ' + reason[:200] if reason else ''}"
    got = target.stat().st_size
    if size is not None and got != size:
        return f"received {got:,} bytes where the listing says {size:,}"
    if sha256 and digest.hexdigest() != sha256.lower():
        return "the bytes received do not match the listed LFS sha256"
    return None
