"""Reading registry dumps from files: the shapes Hub data has been shared in.

``read_path`` detects what a file or folder holds from its content (compression
magic, the first JSON value, a CSV header, the SQLite magic) and yields
``(location, record)`` pairs. It never decides anything about the data; the writer
does. A record that cannot be read becomes a ``BadRecord`` with its reason, and a
file that breaks off (a truncated gzip) yields what it held before the break plus one
``BadRecord`` saying where it broke.

Shapes read (see ``ptmscope import --help``):

- model listings and model infos: ``/api/models?full=true`` pages, ``model_info``
  objects, huggingface_hub ``ModelInfo`` dumps; JSON array, JSON object keyed by id,
  JSONL; optionally gzip-compressed; records may carry a card inline (``card``);
- card collections: JSONL of ``{modelId|id, readme|card|content}``; ``.md`` files;
  folders of ``<owner>/<name>/README.md`` (plus ``infos.json`` beside them);
- a local model folder (``config.json``, weights, ``README.md``);
- organization lists (CSV ``Organization Name,URL,Type``);
- monthly download series (CSV ``model,month_start,total_downloads``);
- package download tables of npm / PyPI / Hugging Face (the ICSE'23 artifact's
  ``transformed_packages.csv`` and ``top20*_downloads.csv``);
- SQLite tables with a model id column (``modelId``) and optional downloads;
- an architecture map ``{ArchitectureClass: [[model_id, downloads], ...]}``;
- plain lists of repo ids (one per line, or one line of quoted, comma-separated ids).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ptmscope.errors import InputError, UnknownFormatError
from ptmscope.records import (
    BadRecord,
    CardRecord,
    ModelRecord,
    MonthlyDownloads,
    OrgRecord,
    Record,
    RegistryDownloads,
    as_int,
    clean_id,
    clean_text,
    model_record_from_api,
)

Item = tuple[str, Record]

MAX_JSON_DOCUMENT = 2 * 1024**3
MAX_LINE = 64 * 1024**2
MAX_CARD_BYTES = 16 * 1024**2

# What the scraper behind the 2022 card dump wrote when a repo had no README.
_NO_README = re.compile(r"^Error: the path '[^']*' does not exist in the given tree\s*$")


class AggregateFileError(InputError):
    """The file holds aggregate figures (counts per category), not records."""


# -- opening ---------------------------------------------------------------------------


def _open(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently decompressing gzip."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _head(path: Path, size: int = 65_536) -> bytes:
    try:
        with _open(path) as handle:
            return handle.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{path}: cannot read ({error})") from error


_TRUNCATION_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


# -- model records from JSON values ----------------------------------------------------


def _card_from_dict(record: dict[str, Any]) -> Record | None:
    """A card record ``{modelId|id, readme|card|content}`` (without other model metadata)."""
    text = None
    for key in ("readme", "content", "card"):
        if key in record:
            text = record[key]
            break
    else:
        return None
    model_keys = {"sha", "siblings", "tags", "downloads", "lastModified", "last_modified", "metadata", "pipeline_tag"}
    if model_keys & record.keys():
        return None
    repo_id = clean_id(record.get("modelId") or record.get("id") or record.get("model_id") or record.get("repo_id"))
    if repo_id is None:
        return BadRecord("card record without a usable model id")
    if text is None:
        return CardRecord(repo_id, None)
    if not isinstance(text, str):
        return BadRecord(f"card text is a {type(text).__name__}, not a string", repo_id)
    if _NO_README.match(text[:300]):
        return CardRecord(repo_id, None)
    return CardRecord(repo_id, text)


def records_from_value(value: Any) -> Iterator[Record]:
    """Records from one JSON value of a dump (a model object, a card object, a wrapper)."""
    if not isinstance(value, dict):
        yield BadRecord(f"expected a JSON object, found {type(value).__name__}")
        return
    card = _card_from_dict(value)
    if card is not None:
        yield card
        return
    metadata = value.get("metadata")
    if "metadata" in value and ("model_id" in value or "card" in value):
        # model-metadata-analyses (2025): {model_id, card, metadata: ModelInfo dump | null, ...}
        repo_id = clean_id(value.get("model_id"))
        if isinstance(metadata, dict):
            merged = dict(metadata)
            merged.setdefault("id", value.get("model_id"))
            if isinstance(value.get("card"), str):
                merged["card"] = value["card"]
            yield model_record_from_api(merged)
        elif repo_id is None:
            yield BadRecord("record without metadata or a usable model id")
        else:
            yield ModelRecord(repo_id=repo_id, field_issues=["metadata"] if metadata is not None else [])
            if isinstance(value.get("card"), str):
                yield CardRecord(repo_id, value["card"])
        return
    yield model_record_from_api(value)


# Keys only model records carry; a JSON value with none of them is not a model.
MODEL_KEYS = frozenset(
    {
        "modelId",
        "id",
        "model_id",
        "repo_id",
        "sha",
        "siblings",
        "tags",
        "downloads",
        "likes",
        "lastModified",
        "last_modified",
        "pipeline_tag",
        "library_name",
        "cardData",
        "card_data",
        "private",
        "author",
        "metadata",
        "readme",
    }
)
ID_KEYS = ("modelId", "id", "model_id", "repo_id")


def _is_model_like(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in ID_KEYS)


def _has_model_keys(value: Any) -> bool:
    return isinstance(value, dict) and len(MODEL_KEYS & value.keys()) >= 2


def _check_sample(values: list[Any], path: Path, test: Any) -> None:
    """Refuse a document none of whose first values look like model records."""
    sample = values[:50]
    if sample and not any(test(v) for v in sample):
        raise UnknownFormatError(f"{path}: JSON values without model ids or model metadata; not a model dump")


def _records_from_document(doc: Any, path: Path) -> Iterator[Item]:
    """Records from a whole (non-lines) JSON document."""
    if isinstance(doc, list):
        _check_sample(doc, path, _is_model_like)
        for i, value in enumerate(doc):
            for record in records_from_value(value):
                yield f"item {i}", record
        return
    if not isinstance(doc, dict):
        raise UnknownFormatError(f"{path}: a JSON {type(doc).__name__} is not a model dump")
    if _is_model_like(doc) and not all(_is_model_like(v) for v in doc.values()):
        for record in records_from_value(doc):  # a single model_info object
            yield "document", record
        return
    values = list(doc.values())
    if values and all(isinstance(v, int | float) for v in values):
        raise AggregateFileError(
            f"{path}: holds aggregate counts per category ({len(values)} numbers), not model records"
        )
    if values and all(isinstance(v, list) for v in values):
        _check_sample(
            [e for v in values[:5] for e in v[:10]],
            path,
            lambda e: isinstance(e, str) or (isinstance(e, list) and e and isinstance(e[0], str)),
        )
        yield from _architecture_map(doc)
        return
    if values and all(isinstance(v, dict) for v in values):
        _check_sample(values, path, _has_model_keys)
        for key, value in doc.items():  # {model_id: model_info}, as in the paper's modelinfo.json
            if isinstance(value, dict) and not any(k in value for k in ("id", "modelId")):
                value = {**value, "id": key}
            for record in records_from_value(value):
                yield f"key {str(key)[:100]!r}", record
        return
    raise UnknownFormatError(f"{path}: a JSON object whose values are neither models nor lists")


def _architecture_map(doc: dict[str, Any]) -> Iterator[Item]:
    """``{ArchitectureClass: [[model_id, downloads], ...]}`` (PTM-Naming): one record per model."""
    models: dict[str, ModelRecord] = {}
    for arch, entries in doc.items():
        arch_name = clean_text(arch, 200)
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = [entry]
            if not (isinstance(entry, list | tuple) and entry and clean_id(entry[0])):
                yield f"{str(arch)[:100]}[{i}]", BadRecord("expected a model id or [model_id, downloads]")
                continue
            repo_id = clean_id(entry[0])
            assert repo_id is not None
            downloads = as_int(entry[1]) if len(entry) > 1 else None
            existing = models.get(repo_id)
            if existing is not None and existing.downloads is None:
                existing.downloads = downloads
            if existing is None:
                models[repo_id] = ModelRecord(
                    repo_id=repo_id, downloads=downloads, architectures=[arch_name] if arch_name else None
                )
            elif arch_name and existing.architectures is not None and arch_name not in existing.architectures:
                existing.architectures.append(arch_name)
    for repo_id, record in models.items():
        yield repo_id, record


def parse_jsonl_line(line: bytes, line_no: int) -> Iterator[Item]:
    """The records of one line of a JSON Lines dump (nothing for a blank line)."""
    if not line.strip():
        return
    location = f"line {line_no}"
    if len(line) > MAX_LINE:
        yield location, BadRecord(f"line longer than {MAX_LINE // 1024**2} MiB")
        return
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        yield location, BadRecord(f"invalid JSON: {str(error)[:200]}")
        return
    for record in records_from_value(value):
        yield location, record


def truncation_record(after_line: int, error: BaseException) -> Item:
    """The record that says where a file broke off."""
    return f"after line {after_line}", BadRecord(f"file is truncated or corrupt after line {after_line}: {error}")


def jsonl_chunks(
    path: Path, lines_per_chunk: int, bytes_per_chunk: int = 2 * 1024**2
) -> Iterator[tuple[int, list[bytes]] | Item]:
    """Raw lines of a JSON Lines file in chunks ``(first_line_no, lines)``, for parallel parsing.

    A chunk ends at ``lines_per_chunk`` lines or ``bytes_per_chunk`` bytes, whichever comes
    first: a card dump's lines are a thousand times heavier to analyse than a listing's, and
    chunks of similar weight keep every worker busy to the end. A file that breaks off ends
    with a truncation record instead of a chunk.
    """
    line_no = 0
    chunk: list[bytes] = []
    size = 0
    first = 1
    try:
        with _open(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                chunk.append(line)
                size += len(line)
                if len(chunk) >= lines_per_chunk or size >= bytes_per_chunk:
                    yield first, chunk
                    chunk, first, size = [], line_no + 1, 0
    except _TRUNCATION_ERRORS as error:
        if chunk:
            yield first, chunk
        yield truncation_record(line_no, error)
        return
    if chunk:
        yield first, chunk


def is_jsonl(path: Path) -> bool:
    """Whether ``path`` (possibly gzip-compressed) holds JSON Lines.

    True when its first non-blank line (read whole, up to ``MAX_LINE``: a Hub record with
    thousands of files listed is a long line) is a JSON value and the next non-blank text
    starts another object or array, or there is none.
    """
    if not path.is_file():
        return False
    try:
        with _open(path) as handle:
            first = b""
            while not first.strip():
                first = handle.readline(MAX_LINE)
                if not first:
                    return False
            if not first.endswith(b"\n"):
                return False  # one line (a JSON document), or a line over MAX_LINE
            after = b""
            while not after.strip():
                chunk = handle.read(4096)
                if not chunk:
                    break
                after += chunk
    except _TRUNCATION_ERRORS as error:
        raise InputError(f"{path}: cannot read ({error})") from error
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return after.lstrip()[:1] in (b"{", b"[", b"")


def _read_jsonl(handle: IO[bytes], path: Path) -> Iterator[Item]:
    line_no = 0
    try:
        for line_no, line in enumerate(handle, start=1):
            yield from parse_jsonl_line(line, line_no)
    except _TRUNCATION_ERRORS as error:
        yield truncation_record(line_no, error)


def _read_json(path: Path) -> Iterator[Item]:
    if is_jsonl(path):
        with _open(path) as handle:
            yield from _read_jsonl(handle, path)
        return
    try:
        with _open(path) as handle:
            data = handle.read(MAX_JSON_DOCUMENT + 1)
    except _TRUNCATION_ERRORS as error:
        raise InputError(f"{path}: file is truncated or corrupt ({error})") from error
    if len(data) > MAX_JSON_DOCUMENT:
        raise InputError(f"{path}: a single JSON document over 2 GiB; convert it to JSON Lines")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InputError(f"{path}: invalid JSON ({str(error)[:200]})") from error
    yield from _records_from_document(doc, path)


# -- CSV -----------------------------------------------------------------------------------


def _number(text: str) -> int | None:
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return int(number) if number == number and abs(number) < 2**62 else None


def _registry_from_name(path: Path) -> str | None:
    name = path.name.lower()
    for key, registry in (("npm", "npm"), ("pypi", "pypi"), ("model", "huggingface"), ("hf", "huggingface")):
        if key in name:
            return registry
    return None


def _read_csv(path: Path, head: bytes, registry: str | None) -> Iterator[Item]:
    text_head = head.decode("utf-8", errors="replace")
    first_line = text_head.splitlines()[0] if text_head else ""
    header = [h.strip().lower() for h in next(csv.reader([first_line]))] if first_line else []
    with _open(path) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=""))
        try:
            yield from _csv_rows(path, header, reader, registry)
        except _TRUNCATION_ERRORS as error:
            yield f"row {reader.line_num}", BadRecord(f"file is truncated or corrupt: {error}")


def _csv_rows(path: Path, header: list[str], reader: Any, registry: str | None) -> Iterator[Item]:
    columns = set(header)
    if {"organization name", "url"} <= columns:
        next(reader)
        name_i, url_i = header.index("organization name"), header.index("url")
        type_i = header.index("type") if "type" in columns else None
        for row in reader:
            loc = f"row {reader.line_num}"
            if len(row) <= max(name_i, url_i):
                yield loc, BadRecord("short row")
                continue
            handle = clean_id(row[url_i].strip().strip("/"))
            if handle is None:
                yield loc, BadRecord("organization without a URL handle")
                continue
            kind = clean_text(row[type_i].strip(), 100) if type_i is not None and type_i < len(row) else None
            yield (
                loc,
                OrgRecord(
                    name=handle,
                    fullname=clean_text(row[name_i].strip(), 300),
                    kind=None if kind in (None, "No Type Found") else kind,
                ),
            )
        return
    if {"model", "month_start", "total_downloads"} <= columns:
        next(reader)
        m_i, d_i, t_i = header.index("model"), header.index("month_start"), header.index("total_downloads")
        for row in reader:
            loc = f"row {reader.line_num}"
            repo_id = clean_id(row[m_i]) if len(row) > m_i else None
            downloads = _number(row[t_i]) if len(row) > t_i else None
            month = row[d_i].strip()[:10] if len(row) > d_i else ""
            if repo_id is None or downloads is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", month):
                yield loc, BadRecord("expected model, month_start (YYYY-MM-DD), total_downloads", repo_id)
                continue
            yield loc, MonthlyDownloads(repo_id, month, downloads)
        return
    if (columns & {"model", "repo", "package"}) and (columns & {"monthly_downloads", "weekly_downloads"}):
        # top20*_downloads.csv of the ICSE'23 artifact
        next(reader)
        registry = registry or _registry_from_name(path)
        if registry is None:
            raise InputError(f"{path}: a package download table; say which registry it is with --registry")
        name_i = next(header.index(c) for c in ("model", "repo", "package") if c in columns)
        period = "week" if "weekly_downloads" in columns else "month"
        d_i = header.index(f"{period}ly_downloads")
        for row in reader:
            loc = f"row {reader.line_num}"
            downloads = _number(row[d_i]) if len(row) > d_i else None
            if downloads is None:
                yield loc, BadRecord("row without a download count")
                continue
            yield loc, RegistryDownloads(registry, clean_text(row[name_i].strip(), 300), downloads, period)
        return
    if columns in ({"field", "missing_count", "missing_freq"}, {"downloads", "count"}):
        raise AggregateFileError(f"{path}: holds aggregate figures ({', '.join(header)}), not records")
    if header and _number(header[0]) is not None and len(header) >= 2 and header[1] in ("pypi", "npm", "huggingface"):
        # transformed_packages.csv: downloads, registry (no header row)
        for row in reader:
            loc = f"row {reader.line_num}"
            downloads = _number(row[0]) if row else None
            reg = row[1].strip().lower() if len(row) > 1 else ""
            if downloads is None or reg not in ("pypi", "npm", "huggingface"):
                yield loc, BadRecord("expected downloads, registry")
                continue
            yield loc, RegistryDownloads(reg, None, downloads, "month")
        return
    raise UnknownFormatError(f"{path}: a CSV whose columns ptmscope does not know ({', '.join(header[:8])})")


# -- SQLite ----------------------------------------------------------------------------------


def _ident(name: str) -> str:
    """A SQLite identifier from an untrusted file, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _read_sqlite(path: Path) -> Iterator[Item]:
    uri = f"file:{path.resolve().as_posix()}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise InputError(f"{path}: cannot open SQLite database ({error})") from error
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        used = False
        for table in tables:
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({_ident(table)})")]
            id_col = next((c for c in columns if c in ("modelId", "model_id", "id", "repo_id")), None)
            if id_col is None:
                continue
            used = True
            dl_col = next((c for c in columns if c.startswith("downloads")), None)
            selected = _ident(id_col) + (f", {_ident(dl_col)}" if dl_col else "")
            for i, row in enumerate(con.execute(f"SELECT {selected} FROM {_ident(table)}")):  # noqa: S608
                repo_id = clean_id(row[0])
                loc = f"{table} row {i + 1}"
                if repo_id is None:
                    yield loc, BadRecord("row without a usable model id")
                    continue
                downloads = None
                if dl_col and row[1] is not None:
                    downloads = as_int(row[1]) if not isinstance(row[1], float) else int(row[1])
                yield loc, ModelRecord(repo_id=repo_id, downloads=downloads)
        if not used:
            raise UnknownFormatError(f"{path}: no table with a model id column (modelId, id, repo_id)")
    except sqlite3.DatabaseError as error:
        raise InputError(f"{path}: unreadable SQLite database ({error})") from error
    finally:
        con.close()


# -- text -----------------------------------------------------------------------------------


def _read_id_list(path: Path) -> Iterator[Item]:
    with _open(path) as handle:
        try:
            data = handle.read(MAX_JSON_DOCUMENT)
        except _TRUNCATION_ERRORS as error:
            raise InputError(f"{path}: file is truncated or corrupt ({error})") from error
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith('"'):
        ids = re.findall(r'"([^"\n]*)"', text)
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    for i, raw in enumerate(ids, start=1):
        repo_id = clean_id(raw)
        if repo_id is None or " " in repo_id:
            yield f"entry {i}", BadRecord(f"not a repo id: {raw[:100]!r}")
            continue
        if repo_id in seen:
            continue  # id lists repeat entries (the HFTorrent split lists do); one model each
        seen.add(repo_id)
        yield f"entry {i}", ModelRecord(repo_id=repo_id)


_ID_LINE = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def _looks_like_id_list(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace").strip()
    if not text:
        return False
    if text.startswith('"'):
        return bool(re.match(r'^"[^"\s]+"\s*(,|$)', text))
    lines = [line.strip() for line in text.splitlines()[:50] if line.strip()]
    return all(_ID_LINE.match(line) for line in lines[:-1] or lines)


# -- folders and cards -------------------------------------------------------------------------

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".h5", ".msgpack", ".pkl")


def _read_card_file(path: Path, repo_id: str) -> Item:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            content = handle.read(MAX_CARD_BYTES)
    except OSError as error:
        return str(path), BadRecord(f"cannot read card: {error}", repo_id)
    if size > MAX_CARD_BYTES:
        content = content[:MAX_CARD_BYTES]
    return str(path), CardRecord(repo_id, content)


def _sha256(path: Path) -> str | None:
    """The file's sha256, streamed (a local copy of an LFS object hashes to its LFS oid)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _model_folder(root: Path, repo_id: str) -> Iterator[Item]:
    """A local model folder: its file list (with sizes and sha256), config.json facts and README."""
    siblings: list[dict[str, Any]] = []
    for item in sorted(root.rglob("*")):
        if item.is_file() and ".git" not in item.relative_to(root).parts:
            siblings.append(
                {
                    "rfilename": item.relative_to(root).as_posix(),
                    "size": item.stat().st_size,
                    "lfs": {"sha256": _sha256(item)},
                }
            )
    record: dict[str, Any] = {"id": repo_id, "siblings": siblings}
    config = root / "config.json"
    if config.is_file() and config.stat().st_size < MAX_LINE:
        try:
            record["config"] = orjson.loads(config.read_bytes())
        except orjson.JSONDecodeError:
            yield str(config), BadRecord("config.json is not valid JSON", repo_id)
    yield str(root), model_record_from_api(record)
    readme = root / "README.md"
    if readme.is_file():
        yield _read_card_file(readme, repo_id)
    else:
        yield str(root), CardRecord(repo_id, None)


def _is_model_folder(root: Path) -> bool:
    names = {p.name for p in root.iterdir() if p.is_file()}
    return "config.json" in names or any(n.endswith(_WEIGHT_SUFFIXES) for n in names)


def _read_folder(root: Path, repo_id: str | None, registry: str | None) -> Iterator[Item]:
    if _is_model_folder(root):
        yield from _model_folder(root, repo_id or root.name)
        return
    found = False
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root)
        if path.name == "infos.json":
            found = True
            yield from read_path(path)
        elif path.name.lower() == "readme.md" and len(relative.parts) > 1:
            found = True
            yield _read_card_file(path, "/".join(relative.parts[:-1]))
        elif path.suffix.lower() == ".md" and path.name.lower() != "readme.md":
            found = True
            yield _read_card_file(path, relative.with_suffix("").as_posix())
    if not found:
        raise UnknownFormatError(f"{root}: a folder with no model folder, infos.json or .md cards in it")


# -- entry point ----------------------------------------------------------------------------------


def read_path(path: Path, *, repo_id: str | None = None, registry: str | None = None) -> Iterator[Item]:
    """Yield ``(location, record)`` for everything ``path`` holds.

    Raises InputError (or UnknownFormatError, AggregateFileError) when the file as a
    whole cannot be used; per-record problems are yielded as ``BadRecord``.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        yield from _read_folder(path, repo_id, registry)
        return
    head = _head(path)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"SQLite format 3\x00"):
        yield from _read_sqlite(path)
    elif stripped[:1] in (b"{", b"["):
        yield from _read_json(path)
    elif path.suffix.lower() == ".md" or stripped.startswith(b"---") or stripped.startswith(b"#"):
        name = repo_id or (path.stem if path.name.lower() != "readme.md" else path.parent.name)
        yield _read_card_file(path, name)
    elif b"," in head.split(b"\n", 1)[0] and not stripped.startswith(b'"'):
        yield from _read_csv(path, head, registry)
    elif _looks_like_id_list(head):
        yield from _read_id_list(path)
    elif b"<html" in head[:2000].lower() or b"<!doctype" in head[:200].lower():
        raise UnknownFormatError(f"{path}: an HTML page, not a registry dump")
    else:
        raise UnknownFormatError(f"{path}: not a format ptmscope reads")
