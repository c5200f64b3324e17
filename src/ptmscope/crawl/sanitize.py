"""What the hub sends, made safe to store: ids a URL can be built from, integers the store can hold."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from ptmscope.records import ModelRecord, as_int

INT64 = (-(2**63), 2**63 - 1)
_ID_PART = re.compile(r"[A-Za-z0-9_.-]{1,400}")


def repo_id_problem(repo_id: str) -> str | None:
    """Why ``repo_id`` is not a Hub model id that is safe to build a URL from, or None.

    huggingface_hub's ``validate_repo_id`` judges, except that names over 96 characters and a ``.git``
    ending are allowed: real older Hub ids have them. A ``..`` (which a URL would normalise onto
    another repo), an empty or ``.`` segment, more than one ``/`` and characters outside letters,
    digits and ``-_.`` are refused.
    """
    parts = repo_id.split("/")
    if ".." in repo_id or any(part in ("", ".") for part in parts):
        return "a '..', '.' or empty path segment"
    try:
        validate_repo_id(repo_id)
        return None
    except HFValidationError as error:
        reason = str(error).splitlines()[0][:300]
    if len(parts) <= 2 and all(_ID_PART.fullmatch(p) and p[0] not in ".-" for p in parts) and "--" not in repo_id:
        return None  # a long name or a '.git' ending: the Hub has such ids from its early years
    return reason


def clamp_ints(record: ModelRecord) -> list[str]:
    """Set integers outside the 64-bit range (``likes: 1e30``) to None; return what was dropped, for the note."""
    dropped = []
    for spec in fields(record):
        value = getattr(record, spec.name)
        if type(value) is int and not INT64[0] <= value <= INT64[1]:
            setattr(record, spec.name, None)
            dropped.append(f"{spec.name} {_digits(value)}")
    for entry in record.files or []:
        if entry.size is not None and not INT64[0] <= entry.size <= INT64[1]:
            dropped.append(f"size of {entry.path[:200]} {_digits(entry.size)}")
            entry.size = None
    return dropped


def int64(value: Any) -> int | None:
    """An integer within the store's 64-bit range, else None (a count of 1e30 is not one)."""
    number = as_int(value)
    return number if number is not None and INT64[0] <= number <= INT64[1] else None


def _digits(value: int) -> str:
    text = str(value) if value.bit_length() < 4_000 else "a number of more than 1,200 digits"
    return text if len(text) <= 40 else f"{text[:12]}... ({len(text)} digits)"
