"""One model from a Hugging Face-compatible Hub, through huggingface_hub.

The endpoint is configurable (``--endpoint``, ``HF_ENDPOINT``), so the same code reads
the real Hub, a mirror, or ptmscope's own replay server. The model's API record is
read as the Hub's JSON (huggingface_hub's HTTP session, headers and error mapping)
and normalised by ``model_record_from_api`` like every other record; its README is
downloaded through ``hf_hub_download`` at the exact revision the record names.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptmscope.errors import SourceError, SourceUnreachableError
from ptmscope.records import BadRecord, ModelRecord, model_record_from_api

DEFAULT_ENDPOINT = "https://huggingface.co"
MAX_README_BYTES = 16 * 1024**2


# The HTTP stacks huggingface_hub has used (httpx, its httpx2 fork, requests): their transport errors.
_TRANSPORT_MODULES = ("httpx", "httpcore", "requests", "urllib3")


class ModelNotFoundError(SourceError):
    """The Hub has no such model (or it is private or gated for this token)."""


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
                token: str | bool | None = None, timeout: float = 30.0, retries: int = 4) -> HubModel:  # fmt: skip
    """Read one model's API record (with file sizes and the Hub's scan status) and its README.

    ``token``: a string is sent to the endpoint; False sends none; None lets huggingface_hub send its own.
    """
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

    base = endpoint_or_default(endpoint)
    path = f"{base}/api/models/{repo_id}" + (f"/revision/{revision}" if revision else "")
    try:
        # huggingface_hub's backoff retries 429 and 5xx (and dropped connections) with exponential waits.
        response = http_backoff(
            "GET",
            path,
            headers=build_hf_headers(token=token),
            params={"blobs": True, "securityStatus": True},
            timeout=timeout,
            max_retries=retries,
            base_wait_time=0.5,
        )
        hf_raise_for_status(response)
        data: Any = response.json()
    except RepositoryNotFoundError as error:
        raise ModelNotFoundError(f"{repo_id}: no such model at {base} (or it is private/gated)") from error
    except HfHubHTTPError as error:
        raise SourceError(f"{repo_id}: the Hub at {base} answered {error}") from error
    except ValueError as error:  # JSON decoding
        raise SourceError(f"{repo_id}: the Hub at {base} sent a response that is not JSON") from error
    except OSError as error:  # connection refused, DNS, timeouts (httpx and requests errors are OSErrors)
        raise SourceUnreachableError(f"cannot reach {base}: {error}") from error
    except Exception as error:  # the HTTP client's own transport errors
        if type(error).__module__.startswith(_TRANSPORT_MODULES):
            raise SourceUnreachableError(f"cannot reach {base}: {error}") from error
        raise
    if not isinstance(data, dict):
        raise SourceError(f"{repo_id}: the Hub at {base} sent a {type(data).__name__}, not a model record")
    record = model_record_from_api(data)
    if isinstance(record, BadRecord):
        raise SourceError(f"{repo_id}: unusable model record ({record.reason})")
    readme = None
    if record.files is None or any(f.path.lower() == "readme.md" for f in record.files):
        readme = _download_readme(repo_id, base, record.sha or revision, token)
    return HubModel(record, readme, base)


def _download_readme(repo_id: str, endpoint: str, revision: str | None, token: str | bool | None) -> bytes | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    with tempfile.TemporaryDirectory(prefix="ptmscope-readme-") as cache:
        try:
            path = hf_hub_download(
                repo_id, "README.md", revision=revision, endpoint=endpoint, token=token, cache_dir=cache
            )
        except EntryNotFoundError:
            return None
        except (HfHubHTTPError, OSError) as error:
            raise SourceError(f"{repo_id}: cannot download README.md ({error})") from error
        with Path(path).open("rb") as handle:
            return handle.read(MAX_README_BYTES)
