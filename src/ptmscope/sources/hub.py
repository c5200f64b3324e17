"""One model from a Hugging Face-compatible Hub, read through ptmscope's bounded Hub client.

The endpoint is configurable (``--endpoint``, ``HF_ENDPOINT``), so the same code reads
the real Hub, a mirror, or ptmscope's own replay server. The model's API record is
read as the Hub's JSON and normalised by ``model_record_from_api`` like every other
record; its README is read at the exact revision the record names.

Requests go through ``ptmscope.hub.client.HubClient`` (huggingface_hub's headers, hooks and
error names), so every wait is bounded: a connect timeout (``CONNECT_TIMEOUT``, 10 s), a read
timeout (``timeout``, 30 s of silence), a total deadline per request (``deadline``, 60 s,
redirects and body included), retries of 429 and 5xx with backoff (``retries``, 4), and any
pause the server asks for (``Retry-After``, ``RateLimit``) capped at ``max_pause`` (60 s, with a
warning; a longer one fails the request instead of waiting). Redirects are followed on the
endpoint only (files also to the real Hub's CDN), and the token is sent to the endpoint only.
A DNS failure or refused connection is ``SourceUnreachableError`` at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from ptmscope.errors import ModelNotFoundError, SourceError
from ptmscope.hub import DEFAULT_ENDPOINT
from ptmscope.hub.client import COMMAND_MAX_PAUSE, FetchFailed, HubClient, token_for
from ptmscope.records import BadRecord, ModelRecord, model_record_from_api

MAX_README_BYTES = 16 * 1024**2
DEADLINE = 60.0
"""Seconds one request may take in all (one model's audit, not a crawl: shorter than the crawler's)."""
MAX_PAUSE = COMMAND_MAX_PAUSE
"""The longest Retry-After / RateLimit pause one model's audit waits."""


def endpoint_or_default(endpoint: str | None) -> str:
    """The endpoint to use: the argument, else HF_ENDPOINT, else the real Hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass(frozen=True)
class HubModel:
    """A model as the Hub describes it now."""

    record: ModelRecord
    readme: bytes | None
    """README.md at the record's revision, or None when the repo has none."""
    endpoint: str


def fetch_model(repo_id: str, *, endpoint: str | None = None, revision: str | None = None,
                token: str | bool | None = None, timeout: float = 30.0, retries: int = 4, deadline: float = DEADLINE,
                max_pause: float = MAX_PAUSE) -> HubModel:  # fmt: skip
    """Read one model's API record (with file sizes and the Hub's scan status) and its README.

    ``token``: a string is sent to the endpoint; False sends none; None sends huggingface_hub's
    token when the endpoint is the one it belongs to (``ptmscope.hub.client.token_for``).

    Raises:
        ModelNotFoundError: the Hub has no such model (or it is private or gated for this token).
        SourceError: the Hub answered something unusable, or kept failing within the bounds.
        SourceUnreachableError: the endpoint cannot be reached at all.
    """
    base = endpoint_or_default(endpoint)
    send = token if isinstance(token, str) else None if token is False else token_for(base)
    client = HubClient(base, token=send or None, timeout=timeout, deadline=deadline, max_retries=retries,
                       max_pause=max_pause, backoff_base=0.5)  # fmt: skip
    name = quote(repo_id, safe="/")
    path = f"/api/models/{name}" + (f"/revision/{quote(revision, safe='')}" if revision else "")
    try:
        try:
            fetched = client.get("api", client.url(path), {"blobs": "true", "securityStatus": "true"},
                                 expect_json=True)  # fmt: skip
        except FetchFailed as error:
            if error.status in (401, 403, 404):
                raise ModelNotFoundError(f"{repo_id}: no such model at {base} (or it is private/gated)") from error
            raise SourceError(f"{repo_id}: the Hub at {base} answered {error.reason}") from error
        data: Any = orjson.loads(fetched.body)
        if not isinstance(data, dict):
            raise SourceError(f"{repo_id}: the Hub at {base} sent a {type(data).__name__}, not a model record")
        record = model_record_from_api(data)
        if isinstance(record, BadRecord):
            raise SourceError(f"{repo_id}: unusable model record ({record.reason})")
        readme = None
        if record.files is None or any(f.path.lower() == "readme.md" for f in record.files):
            readme = _download_readme(client, repo_id, record.sha or revision or "main")
    finally:
        client.close()
    return HubModel(record, readme, base)


def _download_readme(client: HubClient, repo_id: str, revision: str) -> bytes | None:
    url = client.url(f"/{quote(repo_id, safe='/')}/resolve/{quote(revision, safe='')}/README.md")
    try:
        fetched = client.get("resolvers", url, cdn=True)
    except FetchFailed as error:
        if error.status == 404:
            return None
        raise SourceError(f"{repo_id}: cannot download README.md ({error.reason})") from error
    return bytes(fetched.body[:MAX_README_BYTES])
