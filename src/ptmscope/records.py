"""Records: what a source yields, converted once from whatever shape it arrived in.

The Hub API has returned models in several shapes over the years (``modelId`` or ``id``,
``cardData`` or ``card_data``, ``lastModified`` or ``last_modified``, siblings as objects
or as ``RepoSibling(...)`` reprs). ``model_record_from_api`` accepts all of them and
returns one strict ``ModelRecord``. Missing fields are None, never guessed; a value of
the wrong type is dropped (None) and reported through ``ModelRecord.field_issues``.

Everything here is untrusted input: strings are bounded, lists are capped, and no
value is evaluated (Python reprs are read with regular expressions and
``ast.literal_eval`` of single string literals only).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, NewType

from ptmscope.cards.analysis import load_front_matter_yaml

RepoId = NewType("RepoId", str)

MAX_ID_CHARS = 1_024
MAX_TEXT_CHARS = 1_000
MAX_TAGS = 2_000
MAX_FILES = 100_000
MAX_LIST = 500

# Every integer column of the store is a signed 64-bit integer (BIGINT): a value outside is NULL, with a note.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True)
class FileEntry:
    """One file of a model repository (a "sibling" in the Hub API)."""

    path: str
    """Path inside the repository (``rfilename``)."""
    size: int | None = None
    """Bytes, when the source listed it."""
    blob_id: str | None = None
    """Git blob id, when listed."""
    lfs_sha256: str | None = None
    """sha256 of the LFS object, when the file is stored in LFS."""


@dataclass(slots=True)
class ModelRecord:
    """One model as a registry described it, in strict types."""

    repo_id: str
    """``owner/name``, or a legacy un-namespaced name such as ``bert-base-uncased``."""
    author: str | None = None
    sha: str | None = None
    last_modified: str | None = None
    """ISO-8601 text as given; the store parses it (malformed -> NULL)."""
    created_at: str | None = None
    private: bool | None = None
    gated: str | None = None
    """'no', 'auto' or 'manual'."""
    disabled: bool | None = None
    downloads: int | None = None
    downloads_all_time: int | None = None
    likes: int | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    model_type: str | None = None
    architectures: list[str] | None = None
    tags: list[str] | None = None
    """None when the source did not list tags; [] when it listed none."""
    files: list[FileEntry] | None = None
    """None when the source did not list files."""
    card_data: dict[str, Any] | None = None
    """The API's parsed card metadata (``cardData``), bounded."""
    model_index: Any = None
    """A top-level ``model-index`` field (2022 API responses carried one)."""
    parameters: int | None = None
    has_auto_map: bool | None = None
    """config.json maps Auto classes to code in the repo (loading needs trust_remote_code)."""
    quantization: str | None = None
    """config.json quantization_config method (gptq, awq, bitsandbytes...) or bits."""
    used_storage: int | None = None
    security_status: dict[str, Any] | None = None
    card_text: str | None = None
    """Full README text when the record carried it inline (2025 dumps do)."""
    field_issues: list[str] = field(default_factory=list)
    """Names of fields present but unusable (wrong type, too long)."""
    notes: list[str] = field(default_factory=list)
    """Why a field was dropped, when that deserves a row of ``import_errors`` (a number out of range)."""

    @property
    def namespace(self) -> str | None:
        """The owner part of the repo id, or None for legacy un-namespaced ids."""
        head, sep, _ = self.repo_id.partition("/")
        return head if sep else None


@dataclass(slots=True)
class CardRecord:
    """A model card (README.md) for one repo."""

    repo_id: str
    content: str | bytes | None
    """The README bytes or text; None when the source says there is none."""


@dataclass(slots=True)
class OrgRecord:
    """An organization (or user namespace) on the registry."""

    name: str
    fullname: str | None = None
    kind: str | None = None
    is_verified: bool | None = None
    num_users: int | None = None
    num_models: int | None = None
    num_followers: int | None = None


@dataclass(slots=True)
class MonthlyDownloads:
    """Downloads of one model in one calendar month."""

    repo_id: str
    month: str
    """``YYYY-MM-DD`` of the month's first day."""
    downloads: int


@dataclass(slots=True)
class RegistryDownloads:
    """Downloads of one package of another registry (npm, PyPI) for the Fig. 1 comparison."""

    registry: str
    package: str | None
    downloads: int
    period: str
    """'week' or 'month'."""


@dataclass(slots=True)
class BadRecord:
    """An input record that could not be used, and why."""

    reason: str
    repo_id: str | None = None


Record = ModelRecord | CardRecord | OrgRecord | MonthlyDownloads | RegistryDownloads | BadRecord


# -- value coercion ------------------------------------------------------------------


def clean_text(value: object, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A string value, bounded, or None when it is not a string or is empty."""
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


def clean_id(value: object) -> str | None:
    """A repo id or name: a non-empty string without control characters or surrounding space."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_ID_CHARS or _CONTROL.search(value):
        return None
    return value


# One segment of a name the Hub once served but huggingface_hub's validator now refuses: over 96
# characters, ending in '.git', holding '--', '=' or ',', starting with '-' or ending with '.'
# (PeaTMOSS and the 2022 listings hold all of these). Never a separator, a URL delimiter, '%', space or
# a character Windows refuses in a path; never '.' or '..' alone (checked apart).
_LEGACY_SEGMENT = r"[^\s/\\?#%:\"<>|*\x00-\x1f\x7f]+"
_LEGACY_REPO_ID = re.compile(rf"(?:{_LEGACY_SEGMENT}/)?{_LEGACY_SEGMENT}")
_NAMESPACE = re.compile(_LEGACY_SEGMENT)


_HUB_MODEL_URL = re.compile(r"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?!datasets/|spaces/)([^?#]+?)/?")


def id_from_hub_url(value: str) -> str:
    """``https://huggingface.co/org/name`` -> ``org/name`` (2025 dumps name some models by URL); else ``value``."""
    if value.startswith("http"):
        match = _HUB_MODEL_URL.fullmatch(value)
        if match:
            return match.group(1)
    return value


def repo_id_problem(repo_id: str) -> str | None:
    """Why ``repo_id`` cannot name a repository (a ``..`` segment, an empty one, a third part), or None.

    ``huggingface_hub.utils.validate_repo_id`` accepts the ids of today's Hub. An id it refuses is
    still a model id when it is a name the Hub once served (``_LEGACY_SEGMENT``: too long, ``.git``,
    ``--``, ``=``...): one or two segments, none of them ``.`` or ``..``, without separators, URL
    delimiters, ``%`` or spaces. So a stored id can never step out of its place in a URL or a path.
    """
    # huggingface_hub.utils pulls the library's HTTP client (~0.5 s): imported on first use, not by every command.
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    parts = repo_id.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "an empty, '.' or '..' path segment"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        if len(parts) <= 2 and _LEGACY_REPO_ID.fullmatch(repo_id):
            return None  # a name the Hub served before its rules tightened
        return str(error)[:200]
    return None


def clean_repo_id(value: object) -> str | None:
    """A model (repo) id that is safe to store, serve and join into a URL or a path, else None."""
    repo_id = clean_id(value)
    if repo_id is None or repo_id_problem(repo_id) is not None:
        return None
    return repo_id


def clean_namespace(value: object) -> str | None:
    """An organization or user name: one segment of a repo id (no '/', no '..'), else None."""
    name = clean_id(value)
    if name is None or not _NAMESPACE.fullmatch(name) or name in (".", ".."):
        return None
    return name


def as_int(value: object) -> int | None:
    """An integer value (ints, integral floats, digit strings) in the signed 64-bit range, else None.

    Booleans are not ints. A value outside the range (``1e30`` likes) is None: the store's integer
    columns are 64-bit, and one absurd value must not fail a batch.
    """
    if type(value) is int:
        return value if INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if INT64_MIN <= value < 2.0**63 else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and len(text) < 21:
            number = int(text)
            return number if INT64_MIN <= number <= INT64_MAX else None
    return None


def out_of_range(value: object) -> bool:
    """True for a number (or digit string) that is integral but outside the signed 64-bit range."""
    if type(value) is int:
        return not INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return value == value and not INT64_MIN <= value < 2.0**63  # NaN is no number at all; inf is out
    if isinstance(value, str):
        text = value.strip()
        return text.lstrip("-").isdigit() and (len(text) >= 21 or not INT64_MIN <= int(text) <= INT64_MAX)
    return False


def as_bool(value: object) -> bool | None:
    """A boolean value (also the strings 'true'/'false' that some dumps hold), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def str_list(value: object, limit: int = MAX_LIST, item_limit: int = MAX_TEXT_CHARS) -> list[str] | None:
    """A list of strings from a string or a list (non-strings dropped), or None."""
    if isinstance(value, str):
        text = clean_text(value, item_limit)
        return [text] if text else []
    if isinstance(value, list | tuple):
        out = []
        for item in value[:limit]:
            text = clean_text(item, item_limit)
            if text:
                out.append(text)
        return out
    return None


def _pick(record: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None


def _gated(value: object) -> str | None:
    if value is None:
        return None
    if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "no", "")):
        return "no"
    if isinstance(value, str) and value.strip().lower() in ("auto", "manual"):
        return value.strip().lower()
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        return "auto"  # the Hub's older boolean form meant automatic approval
    return None


_REPR_FIELD = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|None|-?\d+)")


def _repr_value(literal: str) -> str | int | None:
    if literal == "None":
        return None
    if literal[0] in "'\"":
        try:
            value = ast.literal_eval(literal)  # a single string literal: literal_eval never runs code
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, str) else None
    return as_int(literal)  # None past 64 bits (int() of 5,000 digits would even raise)


def file_entry(value: object) -> FileEntry | None:
    """One sibling: an API object, a ``RepoSibling(...)`` repr string, or a bare path."""
    if type(value) is dict and len(value) == 1:  # the common {"rfilename": ...} of listings
        path = value.get("rfilename")
        if type(path) is str and 0 < len(path) <= 2_000:
            return FileEntry(path)
    if isinstance(value, dict):
        path = clean_text(_pick(value, "rfilename", "path", "name"), 2_000)
        if path is None:
            return None
        lfs = value.get("lfs")
        sha = clean_text(lfs.get("sha256"), 100) if isinstance(lfs, dict) else None
        size = as_int(value.get("size"))
        if size is None and isinstance(lfs, dict):
            size = as_int(lfs.get("size"))
        return FileEntry(path, size, clean_text(_pick(value, "blobId", "blob_id", "oid"), 100), sha)
    if isinstance(value, str):
        if value.startswith("RepoSibling("):
            fields: dict[str, str | int | None] = {}
            for key, literal in _REPR_FIELD.findall(value):
                fields.setdefault(key, _repr_value(literal))
            name = fields.get("rfilename")
            if not isinstance(name, str) or not name:
                return None
            size_value = fields.get("size")
            blob = fields.get("blob_id")
            return FileEntry(
                name[:2_000],
                size_value if isinstance(size_value, int) else None,
                blob if isinstance(blob, str) else None,
                None,
            )
        return FileEntry(value[:2_000]) if value else None
    return None


def _yaml_mapping(text: str) -> dict[str, Any] | None:
    try:
        data = load_front_matter_yaml(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# Field readers for model_record_from_api, which runs millions of times per crawl:
# module-level functions (not closures made per call), fast paths first.


def _text(issues: list[str], name: str, value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value[:limit] if value else None
    issues.append(name)
    return None


def _integer(issues: list[str], name: str, value: Any, notes: list[str]) -> int | None:
    if value is None:
        return None
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    out = as_int(value)
    if out is None:
        issues.append(name)
        if out_of_range(value):
            notes.append(f"{name} is outside the 64-bit integer range (stored as NULL)")
    return out


def _boolean(issues: list[str], name: str, value: Any) -> bool | None:
    if value is None or value is True or value is False:
        return value
    out = as_bool(value)
    if out is None:
        issues.append(name)
    return out


def _config_fields(config: Any, issues: list[str]) -> tuple[str | None, list[str] | None, bool | None, str | None]:
    """``(model_type, architectures, has_auto_map, quantization)`` from the API's ``config`` object."""
    model_type = architectures = quantization = None
    has_auto_map: bool | None = None
    if type(config) is dict:
        model_type = clean_text(config.get("model_type"), 200)
        architectures = str_list(config.get("architectures"), 50, 200)
        has_auto_map = bool(config.get("auto_map"))
        quantization_config = config.get("quantization_config")
        if isinstance(quantization_config, dict):
            method, bits = quantization_config.get("quant_method"), quantization_config.get("bits")
            quantization = clean_text(method, 50) or (f"{bits}-bit" if type(bits) is int else "unspecified")
    elif config is not None:
        issues.append("config")
    return model_type, architectures, has_auto_map, quantization


def _tags(tags: Any, issues: list[str]) -> list[str] | None:
    """The tags as given when they are clean (the common case, not copied), else cleaned; None when absent."""
    tag_list = None
    if type(tags) is list and all(type(t) is str and 0 < len(t) <= 500 for t in tags) and len(tags) <= MAX_TAGS:
        tag_list = tags
    elif tags is not None:
        tag_list = str_list(tags, MAX_TAGS, 500)
        if tag_list is None:
            issues.append("tags")
    return tag_list


def _files(siblings: Any, issues: list[str]) -> list[FileEntry] | None:
    """The repo's files from the API's ``siblings``; None when it did not list them."""
    files: list[FileEntry] | None = None
    if type(siblings) is list:
        files = []
        append = files.append
        for sibling in siblings[:MAX_FILES]:
            if type(sibling) is dict and len(sibling) == 1:  # the common {"rfilename": ...} of listings
                path = sibling.get("rfilename")
                if type(path) is str and 0 < len(path) <= 2_000:
                    append(FileEntry(path))
                    continue
            entry = file_entry(sibling)
            if entry is not None:
                append(entry)
    elif siblings is not None:
        issues.append("siblings")
    return files


def _card_data(card_data: Any, issues: list[str]) -> dict[str, Any] | None:
    """The card's metadata: a mapping, or the YAML text huggingface_hub dumps hold, read into one."""
    if isinstance(card_data, str):  # huggingface_hub dumps hold the YAML text
        card_data = _yaml_mapping(card_data)
        if card_data is None:
            issues.append("card_data")
    elif card_data is not None and not isinstance(card_data, dict):
        issues.append("card_data")
        card_data = None
    return card_data


def _parameters(safetensors: Any, issues: list[str], notes: list[str]) -> int | None:
    """The parameter count the API read from the safetensors headers (``safetensors.total``)."""
    total = safetensors.get("total") if isinstance(safetensors, dict) else None
    parameters = as_int(total)
    if parameters is None and out_of_range(total):
        issues.append("safetensors")
        notes.append("safetensors.total is outside the 64-bit integer range (stored as NULL)")
    return parameters


def model_record_from_api(record: dict[str, Any]) -> ModelRecord | BadRecord:
    """Convert one Hub API model object, of any vintage, to a ``ModelRecord``."""
    get = record.get
    raw_id = _pick(record, "id", "modelId", "model_id", "repo_id")
    repo_id = clean_id(raw_id)
    if repo_id is None:
        reason = "no model id" if raw_id is None else "model id is not a usable string"
        return BadRecord(reason)
    repo_id = id_from_hub_url(repo_id)
    problem = repo_id_problem(repo_id)
    if problem is not None:
        return BadRecord(f"model id {repo_id[:100]!r} is not a valid repo id: {problem}")
    issues: list[str] = []
    notes: list[str] = []

    def either(a: str, b: str) -> Any:
        value = get(a)
        return value if value is not None else get(b)

    model_type, architectures, has_auto_map, quantization = _config_fields(get("config"), issues)
    tag_list = _tags(get("tags"), issues)
    files = _files(get("siblings"), issues)
    card_data = _card_data(either("cardData", "card_data"), issues)
    parameters = _parameters(get("safetensors"), issues, notes)

    security = either("securityRepoStatus", "security_repo_status")
    gated_value = get("gated")
    gated = _gated(gated_value)
    if gated_value is not None and gated is None:
        issues.append("gated")

    card_text = get("card")
    return ModelRecord(
        repo_id=repo_id,
        author=_text(issues, "author", get("author"), MAX_ID_CHARS),
        sha=_text(issues, "sha", get("sha"), 100),
        last_modified=_text(issues, "lastModified", either("lastModified", "last_modified"), 64),
        created_at=_text(issues, "createdAt", either("createdAt", "created_at"), 64),
        private=_boolean(issues, "private", get("private")),
        gated=gated,
        disabled=_boolean(issues, "disabled", get("disabled")),
        downloads=_integer(issues, "downloads", get("downloads"), notes),
        downloads_all_time=_integer(
            issues, "downloadsAllTime", either("downloadsAllTime", "downloads_all_time"), notes
        ),
        likes=_integer(issues, "likes", get("likes"), notes),
        pipeline_tag=_text(issues, "pipeline_tag", either("pipeline_tag", "pipelineTag"), 100),
        library_name=_text(issues, "library_name", either("library_name", "libraryName"), 100),
        model_type=model_type,
        architectures=architectures,
        tags=tag_list,
        files=files,
        card_data=card_data,
        model_index=_pick(record, "model-index", "model_index", "modelIndex"),
        parameters=parameters,
        has_auto_map=has_auto_map,
        quantization=quantization,
        used_storage=_integer(issues, "usedStorage", either("usedStorage", "used_storage"), notes),
        security_status=security if isinstance(security, dict) else None,
        card_text=card_text if isinstance(card_text, str) else None,
        field_issues=issues,
        notes=notes,
    )
