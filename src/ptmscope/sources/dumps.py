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

import codecs
import csv
import gzip
import hashlib
import json
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ptmscope.errors import AggregateFileError, InputError, UnknownFormatError
from ptmscope.records import (
    MAX_ID_CHARS,
    BadRecord,
    CardRecord,
    ModelRecord,
    MonthlyDownloads,
    OrgRecord,
    Record,
    RegistryDownloads,
    as_int,
    clean_id,
    clean_namespace,
    clean_repo_id,
    clean_text,
    id_from_hub_url,
    model_record_from_api,
    repo_id_problem,
)

Item = tuple[str, Record]

# Memory bounds (docs/store.md, "Bounds"): nothing a dump holds is read whole past these.
MAX_LINE = 64 * 1024**2
"""A JSON Lines record (one line) or one value of a streamed JSON document; longer ones are skipped."""
MAX_WHOLE_DOCUMENT = 16 * 1024**2
"""A JSON document up to this size is parsed at once; a bigger one is streamed value by value."""
MAX_CARD_BYTES = 16 * 1024**2
MAX_CSV_FIELD = 16 * 1024**2
"""A CSV field (and a CSV line) longer than this is a per-row error; the default of csv is 128 KiB."""
MAX_TEXT_LINE = 1024**2
"""A line of a list of repo ids."""
SNIFF_BYTES = 1024**2
"""Blank text skipped while deciding whether a file is JSON Lines, before deciding."""
READ_CHUNK = 1024**2


def _size(limit: int) -> str:
    return f"{limit // 1024**2} MiB" if limit % 1024**2 == 0 else f"{limit:,} bytes"


# What the scraper behind the 2022 card dump wrote when a repo had no README.
_NO_README = re.compile(r"^Error: the path '[^']*' does not exist in the given tree\s*$")


# -- opening ---------------------------------------------------------------------------


def _open(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently decompressing gzip."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def read_some(handle: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (fewer is not the end; b"" is), from one step of the stream.

    ``read1``, not ``read``: ``GzipFile.read(n)`` drops the bytes it decompressed when the file
    breaks off before ``n``, and a truncated gzip must keep what it held.
    """
    read1 = getattr(handle, "read1", None)
    return read1(size) if read1 is not None else handle.read(size)


def _head(path: Path, size: int = 65_536) -> bytes:
    parts: list[bytes] = []
    held = 0
    try:
        with _open(path) as handle:
            while held < size:
                chunk = read_some(handle, size - held)
                if not chunk:
                    break
                parts.append(chunk)
                held += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        if not parts:
            raise InputError(f"{path}: cannot read ({error})") from error
    return b"".join(parts)


_TRUNCATION_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


class LineReader:
    """The non-blank lines of a byte stream as ``(line_no, line)``, read in chunks, never held past a bound.

    A line longer than ``limit`` bytes is yielded as ``(line_no, None)``: its bytes are dropped as they
    stream past, so a 3 GB line costs ``limit`` bytes of memory, not 3 GB. Blank lines are counted,
    not yielded, at the speed of ``bytes.count`` (a gigabyte of newlines takes about a second).
    Lines are yielded without their newline. ``line_no`` holds the lines read so far, also when the
    stream breaks off (a truncated gzip raises from the iteration).
    """

    def __init__(self, handle: IO[bytes], limit: int | None = None, chunk: int = READ_CHUNK) -> None:
        self.handle = handle
        self.limit = MAX_LINE if limit is None else limit
        self.chunk = chunk
        self.line_no = 0

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        parts: list[bytes] = []  # the start of the current line, at most `limit` bytes in all
        held = 0
        skipping = False  # the current line is over the limit: drop its bytes until its end
        limit = self.limit
        while True:
            chunk = read_some(self.handle, self.chunk)
            if not chunk:
                break
            start = 0
            if parts or skipping:
                end = chunk.find(b"\n")
                if end < 0:
                    if not skipping:
                        held += len(chunk)
                        parts.append(chunk)
                        if held > limit:
                            parts, held, skipping = [], 0, True
                    continue
                self.line_no += 1
                if skipping or held + end > limit:
                    yield self.line_no, None
                else:
                    line = b"".join(parts) + chunk[:end]
                    if line.strip():
                        yield self.line_no, line
                parts, held, skipping = [], 0, False
                start = end + 1
            last = chunk.rfind(b"\n")
            if last >= start:
                body = chunk[start:last]
                if not body.strip():
                    self.line_no += body.count(b"\n") + 1
                else:
                    for line in body.split(b"\n"):
                        self.line_no += 1
                        if len(line) > limit:
                            yield self.line_no, None
                        elif line.strip():
                            yield self.line_no, line
                start = last + 1
            if start < len(chunk):
                tail = chunk[start:]
                if len(tail) > limit:
                    skipping = True
                else:
                    parts, held = [tail], len(tail)
        if parts or skipping:
            self.line_no += 1
            if skipping:
                yield self.line_no, None
            else:
                line = b"".join(parts)
                if line.strip():
                    yield self.line_no, line


def text_lines(handle: IO[bytes], limit: int) -> Iterator[str | None]:
    """Every line of a byte stream as text with its line ending (UTF-8, bad bytes replaced).

    A line over ``limit`` bytes is ``None``, read past in ``limit``-sized steps (never held whole).
    """
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = handle.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line.decode("utf-8", errors="replace")


# -- model records from JSON values ----------------------------------------------------


def _bad_id(raw: object) -> BadRecord:
    """The record for a model id that cannot be stored (``..``, ``a/b/../../c``, a control character)."""
    repo_id = clean_id(raw)
    if repo_id is None:
        return BadRecord(f"not a usable model id: {str(raw)[:100]!r}")
    return BadRecord(f"model id {repo_id[:100]!r} is not a valid repo id: {repo_id_problem(repo_id)}")


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
    raw_id = record.get("modelId") or record.get("id") or record.get("model_id") or record.get("repo_id")
    repo_id = clean_id(raw_id)
    if repo_id is None:
        return BadRecord("card record without a usable model id")
    if repo_id_problem(repo_id) is not None:
        return _bad_id(repo_id)
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
        repo_id = id_from_hub_url(repo_id) if repo_id is not None else None
        if isinstance(metadata, dict):
            merged = dict(metadata)
            merged.setdefault("id", value.get("model_id"))
            if isinstance(value.get("card"), str):
                merged["card"] = value["card"]
            yield model_record_from_api(merged)
        elif repo_id is None:
            yield BadRecord("record without metadata or a usable model id")
        elif repo_id_problem(repo_id) is not None:
            yield _bad_id(repo_id)
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
        yield from _architecture_map(doc.items())
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


def _architecture_map(pairs: Iterable[tuple[Any, Any]]) -> Iterator[Item]:
    """``{ArchitectureClass: [[model_id, downloads], ...]}`` (PTM-Naming): one record per model."""
    models: dict[str, ModelRecord] = {}
    for arch, entries in pairs:
        arch_name = clean_text(arch, 200)
        if not isinstance(entries, list):
            yield str(arch)[:100], BadRecord(f"expected a list of models, found {type(entries).__name__}")
            continue
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = [entry]
            if not (isinstance(entry, list | tuple) and entry and clean_id(entry[0])):
                yield f"{str(arch)[:100]}[{i}]", BadRecord("expected a model id or [model_id, downloads]")
                continue
            repo_id = clean_repo_id(entry[0])
            if repo_id is None:
                yield f"{str(arch)[:100]}[{i}]", _bad_id(entry[0])
                continue
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


def parse_jsonl_line(line: bytes | None, line_no: int) -> Iterator[Item]:
    """The records of one line of a JSON Lines dump (nothing for a blank line; None: a line over the limit)."""
    location = f"line {line_no}"
    if line is None or len(line) > MAX_LINE:
        yield location, BadRecord(f"line longer than {_size(MAX_LINE)} (skipped)")
        return
    if not line.strip():
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
) -> Iterator[tuple[int, list[tuple[int, bytes | None]]] | Item]:
    """Lines of a JSON Lines file in chunks ``(first_line_no, [(line_no, line), ...])``, for parallel parsing.

    A chunk ends at ``lines_per_chunk`` lines or ``bytes_per_chunk`` bytes, whichever comes
    first: a card dump's lines are a thousand times heavier to analyse than a listing's, and
    chunks of similar weight keep every worker busy to the end. Blank lines are left out and a
    line over ``MAX_LINE`` is ``(line_no, None)`` (see ``LineReader``). A file that breaks off ends
    with a truncation record instead of a chunk.
    """
    chunk: list[tuple[int, bytes | None]] = []
    size = 0
    reader: LineReader | None = None
    try:
        with _open(path) as handle:
            reader = LineReader(handle)
            for line_no, line in reader:
                chunk.append((line_no, line))
                size += len(line) if line is not None else 0
                if len(chunk) >= lines_per_chunk or size >= bytes_per_chunk:
                    yield chunk[0][0], chunk
                    chunk, size = [], 0
    except _TRUNCATION_ERRORS as error:
        if chunk:
            yield chunk[0][0], chunk
        yield truncation_record(reader.line_no if reader else 0, error)
        return
    if chunk:
        yield chunk[0][0], chunk


def is_jsonl(path: Path) -> bool:
    """Whether ``path`` (possibly gzip-compressed) holds JSON Lines.

    True when its first non-blank line is a JSON value and the next non-blank text starts
    another object or array, or there is none within ``SNIFF_BYTES``; also when the first line is
    over ``MAX_LINE`` (a record of a million files, or garbage) and another record follows it: that
    line is then a per-record error. Linear and bounded: at most ``SNIFF_BYTES`` of leading blank
    text, the first line (held up to ``MAX_LINE``, streamed past beyond), ``SNIFF_BYTES`` after it.
    """
    if not path.is_file():
        return False
    try:
        with _open(path) as handle:
            skipped = 0
            while True:  # leading blank text
                chunk = read_some(handle, 65_536)
                if not chunk:
                    return False
                start = len(chunk) - len(chunk.lstrip())
                if start < len(chunk):
                    break
                skipped += len(chunk)
                if skipped > SNIFF_BYTES:
                    return False
            parts = [chunk[start:]]
            held = len(parts[0])
            too_long = False
            while b"\n" not in parts[-1]:  # the first line
                more = read_some(handle, READ_CHUNK)
                if not more:
                    return False  # one line: a JSON document
                held += len(more)
                if held > MAX_LINE + READ_CHUNK:
                    too_long, parts = True, [more]  # stream past it, holding one chunk
                else:
                    parts.append(more)
            data = b"".join(parts)
            end = data.index(b"\n")
            first, after = data[:end], data[end + 1 :].lstrip()
            too_long = too_long or len(first) > MAX_LINE
            seen = 0
            while not after and seen <= SNIFF_BYTES:  # the next non-blank text
                more = read_some(handle, 65_536)
                if not more:
                    break
                seen += len(more)
                after = more.lstrip()
    except _TRUNCATION_ERRORS as error:
        raise InputError(f"{path}: cannot read ({error})") from error
    if too_long:
        return after[:1] in (b"{", b"[")  # nothing after it: one (big) JSON document
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return after[:1] in (b"{", b"[", b"")


def _read_jsonl(handle: IO[bytes], path: Path) -> Iterator[Item]:
    reader = LineReader(handle)
    try:
        for line_no, line in reader:
            yield from parse_jsonl_line(line, line_no)
    except _TRUNCATION_ERRORS as error:
        yield truncation_record(reader.line_no, error)


def _read_json(path: Path) -> Iterator[Item]:
    if is_jsonl(path):
        with _open(path) as handle:
            yield from _read_jsonl(handle, path)
        return
    with _open(path) as handle:
        parts: list[bytes] = []
        held = 0
        try:
            while held <= MAX_WHOLE_DOCUMENT:  # read in chunks: never more than the bound before deciding
                chunk = read_some(handle, READ_CHUNK)
                if not chunk:
                    break
                parts.append(chunk)
                held += len(chunk)
            else:
                yield from _stream_document(path, JsonStream(handle, b"".join(parts), path))
                return
        except _TRUNCATION_ERRORS as error:
            raise InputError(f"{path}: file is truncated or corrupt ({error})") from error
    try:
        doc = orjson.loads(b"".join(parts))
    except orjson.JSONDecodeError as error:
        raise InputError(f"{path}: invalid JSON ({str(error)[:200]})") from error
    del parts
    yield from _records_from_document(doc, path)


_WHITESPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


class JsonStream:
    """The values of a big JSON document read one at a time, each at most ``MAX_LINE`` bytes.

    Text is decoded incrementally; a value is located with the stdlib's C scanner
    (``raw_decode``) and then parsed again with orjson, so that a streamed document reads
    exactly as a small one does (orjson refuses lone surrogates and NaN, as the JSON Lines path
    does). Memory: the current value and one read chunk, grown by doubling up to ``MAX_LINE``.
    """

    def __init__(self, handle: IO[bytes], prefix: bytes, path: Path) -> None:
        self.handle = handle
        self.path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = self._decoder.decode(prefix)
        self.pos = 0
        self.eof = False
        self.consumed = 0
        """Characters of the document before ``text`` (for messages)."""

    def _fill(self, at_least: int = READ_CHUNK) -> bool:
        """Read more text; False at the end of the stream."""
        if self.eof:
            return False
        self.consumed += self.pos
        rest = self.text[self.pos :]
        try:
            data = read_some(self.handle, max(at_least, READ_CHUNK))
        except _TRUNCATION_ERRORS as error:
            raise InputError(f"{self.path}: file is truncated or corrupt ({error})") from error
        if not data:
            self.eof = True
            self.text, self.pos = rest + self._decoder.decode(b"", final=True), 0
            return False
        self.text, self.pos = rest + self._decoder.decode(data), 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill():
                return ""

    def expect(self, char: str, where: str) -> None:
        """Consume ``char`` (after whitespace) or fail."""
        found = self.peek()
        if found != char:
            raise InputError(f"{self.path}: invalid JSON: expected {char!r} {where}, found {found[:1]!r}")
        self.pos += 1

    def value(self, where: str) -> Any:
        """The next JSON value, parsed by orjson; InputError past ``MAX_LINE`` or when it is not JSON."""
        self.peek()
        while True:
            try:
                _, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                incomplete = error.msg.startswith("Unterminated") or error.pos >= len(self.text) - 1
                if not incomplete or self.eof:
                    raise InputError(f"{self.path}: invalid JSON at {where} ({error.msg})") from None
                if len(self.text) - self.pos > MAX_LINE:
                    raise InputError(
                        f"{self.path}: a JSON value over {_size(MAX_LINE)} at {where}: the rest of the document cannot "
                        "be read; convert it to JSON Lines (jq -c '.[]')"
                    ) from None
                self._fill(len(self.text) - self.pos)  # double what is held: linear in the value's size
                continue
            if end == len(self.text) and not self.eof and self._fill():
                continue  # a number may go on in the next chunk
            if end - self.pos > MAX_LINE:
                raise InputError(
                    f"{self.path}: a JSON value over {_size(MAX_LINE)} at {where}: the rest of the document cannot "
                    "be read; convert it to JSON Lines (jq -c '.[]')"
                )
            raw = self.text[self.pos : end]
            self.pos = end
            try:
                return orjson.loads(raw.encode("utf-8", errors="surrogatepass"))
            except orjson.JSONDecodeError as error:
                raise InputError(f"{self.path}: invalid JSON at {where} ({str(error)[:200]})") from None


def _stream_items(stream: JsonStream, close: str) -> Iterator[None]:
    """Step through the members of an open array or object: one ``None`` per member, before it is read."""
    if stream.peek() == close:
        stream.pos += 1
        return
    while True:
        yield None
        following = stream.peek()
        if following == close:
            stream.pos += 1
            return
        stream.expect(",", "between values")


def _stream_document(path: Path, stream: JsonStream) -> Iterator[Item]:
    """Records of a JSON document over ``MAX_WHOLE_DOCUMENT``: an array of models, or an object keyed by id."""
    opening = stream.peek()
    if opening == "[":
        stream.pos += 1
        sample: list[tuple[int, Any]] = []  # the first 50 values, held until they show a model dump

        def release() -> Iterator[Item]:
            _check_sample([v for _, v in sample], path, _is_model_like)
            for j, held in sample:
                for record in records_from_value(held):
                    yield f"item {j}", record
            sample.clear()

        checked = False
        try:
            for i, _ in enumerate(_stream_items(stream, "]")):
                value = stream.value(f"item {i}")
                if checked:
                    for record in records_from_value(value):
                        yield f"item {i}", record
                    continue
                sample.append((i, value))
                if len(sample) >= 50:
                    yield from release()
                    checked = True
        except InputError:
            if sample:  # what was read before the break is kept, as for a truncated file
                yield from release()
            raise
        yield from release()
        return
    if opening != "{":
        raise UnknownFormatError(f"{path}: a big JSON document that is neither an array nor an object")
    stream.pos += 1
    members = _stream_members(stream)
    first = next(members, None)
    if first is None:
        return
    if isinstance(first[1], list):
        yield from _architecture_map(_chain_first(first, members))
        return
    if not isinstance(first[1], dict):
        raise UnknownFormatError(
            f"{path}: a JSON object over {_size(MAX_WHOLE_DOCUMENT)} whose values are neither models nor "
            "lists; convert it to JSON Lines"
        )
    sample_members: list[tuple[str, Any]] = [first]
    for member in members:
        sample_members.append(member)
        if len(sample_members) >= 50:
            break
    _check_sample([v for _, v in sample_members], path, _has_model_keys)
    for key, value in _chain(sample_members, members):
        if not isinstance(value, dict):
            yield f"key {str(key)[:100]!r}", BadRecord(f"expected a model object, found {type(value).__name__}")
            continue
        if not any(k in value for k in ("id", "modelId")):
            value = {**value, "id": key}
        for record in records_from_value(value):
            yield f"key {str(key)[:100]!r}", record


def _stream_members(stream: JsonStream) -> Iterator[tuple[str, Any]]:
    for i, _ in enumerate(_stream_items(stream, "}")):
        key = stream.value(f"member {i}")
        if not isinstance(key, str):
            raise InputError(f"{stream.path}: invalid JSON: an object key is not a string (member {i})")
        stream.expect(":", f"after key {key[:100]!r}")
        yield key, stream.value(f"key {key[:100]!r}")


def _chain_first(first: tuple[str, Any], rest: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    yield first
    yield from rest


def _chain(held: list[tuple[str, Any]], rest: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    yield from held
    yield from rest


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


class _CsvLines:
    """Text lines for ``csv.reader``, each at most ``MAX_CSV_FIELD`` bytes; longer ones are dropped and counted."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._lines = text_lines(raw, MAX_CSV_FIELD)
        self.dropped = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if line is None:
            self.dropped += 1
            return "\n"  # an empty row in its place; the row loop reports it
        return line


def _csv_rows_of(raw: IO[bytes]) -> Iterator[tuple[str, list[str] | BadRecord]]:
    """``(location, row)`` of a CSV stream; an over-long line or field is a ``BadRecord`` and the rows go on."""
    csv.field_size_limit(MAX_CSV_FIELD)
    lines = _CsvLines(raw)
    reader = csv.reader(lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a quoted field over MAX_CSV_FIELD, a NUL byte: this row only
            lines.dropped = 0
            yield f"row {reader.line_num}", BadRecord(f"unreadable CSV row: {str(error)[:200]}")
            continue
        if lines.dropped:
            lines.dropped = 0
            yield f"row {reader.line_num}", BadRecord(f"line longer than {_size(MAX_CSV_FIELD)} (skipped)")
            continue
        yield f"row {reader.line_num}", row


def _read_csv(path: Path, head: bytes, registry: str | None) -> Iterator[Item]:
    text_head = head.decode("utf-8", errors="replace")
    first_line = text_head.splitlines()[0] if text_head else ""
    header = [h.strip().lower() for h in next(csv.reader([first_line]))] if first_line else []
    with _open(path) as raw:
        rows = _csv_rows_of(raw)
        last = "row 0"
        try:
            for location, record in _csv_rows(path, header, rows, registry):
                last = location
                yield location, record
        except _TRUNCATION_ERRORS as error:
            yield f"after {last}", BadRecord(f"file is truncated or corrupt: {error}")


def _csv_rows(
    path: Path, header: list[str], rows: Iterator[tuple[str, list[str] | BadRecord]], registry: str | None
) -> Iterator[Item]:
    columns = set(header)

    def body() -> Iterator[tuple[str, list[str] | BadRecord]]:
        """The rows after the header; unreadable ones are yielded as they are."""
        next(rows, None)
        yield from rows

    if {"organization name", "url"} <= columns:
        name_i, url_i = header.index("organization name"), header.index("url")
        type_i = header.index("type") if "type" in columns else None
        for loc, row in body():
            if isinstance(row, BadRecord):
                yield loc, row
                continue
            if len(row) <= max(name_i, url_i):
                yield loc, BadRecord("short row")
                continue
            handle = clean_namespace(row[url_i].strip().strip("/"))
            if handle is None:
                yield loc, BadRecord("organization without a usable URL handle")
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
        m_i, d_i, t_i = header.index("model"), header.index("month_start"), header.index("total_downloads")
        for loc, row in body():
            if isinstance(row, BadRecord):
                yield loc, row
                continue
            if len(row) > m_i and clean_id(row[m_i]) is not None and clean_repo_id(row[m_i]) is None:
                yield loc, _bad_id(row[m_i])
                continue
            repo_id = clean_repo_id(row[m_i]) if len(row) > m_i else None
            downloads = _number(row[t_i]) if len(row) > t_i else None
            month = row[d_i].strip()[:10] if len(row) > d_i else ""
            if repo_id is None or downloads is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", month):
                yield loc, BadRecord("expected model, month_start (YYYY-MM-DD), total_downloads", repo_id)
                continue
            yield loc, MonthlyDownloads(repo_id, month, downloads)
        return
    if (columns & {"model", "repo", "package"}) and (columns & {"monthly_downloads", "weekly_downloads"}):
        # top20*_downloads.csv of the ICSE'23 artifact
        registry = registry or _registry_from_name(path)
        if registry is None:
            raise InputError(f"{path}: a package download table; say which registry it is with --registry")
        name_i = next(header.index(c) for c in ("model", "repo", "package") if c in columns)
        period = "week" if "weekly_downloads" in columns else "month"
        d_i = header.index(f"{period}ly_downloads")
        for loc, row in body():
            if isinstance(row, BadRecord):
                yield loc, row
                continue
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
        for loc, row in rows:
            if isinstance(row, BadRecord):
                yield loc, row
                continue
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
                if repo_id_problem(repo_id) is not None:
                    yield loc, _bad_id(repo_id)
                    continue
                downloads = None
                if dl_col and row[1] is not None:
                    value = row[1]
                    if isinstance(value, float) and value == value and -(2.0**63) <= value < 2.0**63:
                        value = int(value)  # a REAL column: truncated, as before; NaN, inf, 1e30 are NULL
                    downloads = as_int(value)
                yield loc, ModelRecord(repo_id=repo_id, downloads=downloads)
        if not used:
            raise UnknownFormatError(f"{path}: no table with a model id column (modelId, id, repo_id)")
    except sqlite3.DatabaseError as error:
        raise InputError(f"{path}: unreadable SQLite database ({error})") from error
    finally:
        con.close()


# -- text -----------------------------------------------------------------------------------


def _id_list_entries(handle: IO[bytes], quoted: bool) -> Iterator[str | None]:
    """The raw entries of an id list, streamed: one per line, or every "quoted" id of a one-line list.

    ``None`` stands for a line over ``MAX_TEXT_LINE`` (or a quoted entry over ``MAX_ID_CHARS``), skipped.
    """
    if not quoted:
        for line in text_lines(handle, MAX_TEXT_LINE):
            if line is None:
                yield None
                continue
            entry = line.strip()
            if entry and not entry.startswith("#"):
                yield entry
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        data = read_some(handle, READ_CHUNK)
        text = pending + decoder.decode(data, final=not data)
        position = 0
        for match in _QUOTED_ID.finditer(text):
            yield match.group(1)
            position = match.end()
        pending = text[position:]
        opened = pending.rfind('"')  # keep an entry that the chunk cut, drop what cannot be one
        if pending.count('"') % 2 == 0:
            pending = ""
        elif len(pending) - opened > MAX_ID_CHARS + 2:
            yield None
            pending = ""
        else:
            pending = pending[opened:]
        if not data:
            return


_QUOTED_ID = re.compile(r'"([^"\n]*)"')


def _read_id_list(path: Path) -> Iterator[Item]:
    with _open(path) as handle:
        quoted = _head(path, 4096).lstrip().startswith(b'"')
        seen: set[str] = set()
        i = 0
        try:
            for i, raw in enumerate(_id_list_entries(handle, quoted), start=1):
                if raw is None:
                    yield f"entry {i}", BadRecord(f"line longer than {_size(MAX_TEXT_LINE)} (skipped)")
                    continue
                repo_id = clean_repo_id(raw)
                if repo_id is None or " " in repo_id:
                    yield f"entry {i}", BadRecord(f"not a repo id: {raw[:100]!r}")
                    continue
                if repo_id in seen:
                    continue  # id lists repeat entries (the HFTorrent split lists do); one model each
                seen.add(repo_id)
                yield f"entry {i}", ModelRecord(repo_id=repo_id)
        except _TRUNCATION_ERRORS as error:
            yield f"after entry {i}", BadRecord(f"file is truncated or corrupt after entry {i}: {error}")


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
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _boundary(root: Path) -> Path:
    """The folder a folder's files must resolve into: itself, or for a Hugging Face cache snapshot
    (``models--org--name/snapshots/<rev>``, whose files link to ``../../blobs``) the repo's cache folder."""
    resolved = root.resolve()
    if resolved.parent.name == "snapshots" and (resolved.parent.parent / "blobs").is_dir():
        return resolved.parent.parent
    return resolved


def _escapes(path: Path, boundary: Path) -> str | None:
    """Why ``path`` must not be read: a symlink that leads out of ``boundary`` (or nowhere); None when it is safe."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as error:  # a dangling link, a loop
        return f"unresolvable link ({error.__class__.__name__})"
    if resolved.is_relative_to(boundary):
        return None
    try:
        target = str(path.readlink()) if path.is_symlink() else str(resolved)
    except OSError:
        target = str(resolved)
    return f"symlink leading out of the folder ({path.name} -> {target[:200]}); not followed"


def _folder_files(root: Path, boundary: Path) -> Iterator[tuple[Path, str | None]]:
    """Every file under ``root`` (not under .git) with why it must not be read (None: it may)."""
    for item in sorted(root.rglob("*")):
        if ".git" in item.relative_to(root).parts:
            continue
        if item.is_symlink() or not item.resolve().is_relative_to(boundary):
            problem = _escapes(item, boundary)
            if problem is not None:
                yield item, problem
                continue
        if item.is_file():
            yield item, None


def _model_folder(root: Path, repo_id: str) -> Iterator[Item]:
    """A local model folder: its file list (with sizes and sha256), config.json facts and README.

    A symlink is followed only when it resolves inside the folder (or, for a Hugging Face cache
    snapshot, inside the repo's cache folder): one leading elsewhere (``README.md -> ~/.bashrc``) is
    an import error, and its target is neither listed, hashed nor read.
    """
    problem = repo_id_problem(repo_id)
    if problem is not None:
        raise InputError(f"{root}: {repo_id!r} is not a valid repo id ({problem}); name the model with --repo-id")
    boundary = _boundary(root)
    siblings: list[dict[str, Any]] = []
    refused: set[str] = set()
    for item, why in _folder_files(root, boundary):
        name = item.relative_to(root).as_posix()
        if why is not None:
            refused.add(name)
            yield str(item), BadRecord(why, repo_id)
            continue
        siblings.append({"rfilename": name, "size": item.stat().st_size, "lfs": {"sha256": _sha256(item)}})
    record: dict[str, Any] = {"id": repo_id, "siblings": siblings}
    config = root / "config.json"
    if "config.json" not in refused and config.is_file() and config.stat().st_size < MAX_LINE:
        try:
            record["config"] = orjson.loads(config.read_bytes())
        except orjson.JSONDecodeError:
            yield str(config), BadRecord("config.json is not valid JSON", repo_id)
    yield str(root), model_record_from_api(record)
    readme = root / "README.md"
    if "README.md" not in refused and readme.is_file():
        yield _read_card_file(readme, repo_id)
    else:
        yield str(root), CardRecord(repo_id, None)


def _is_model_folder(root: Path) -> bool:
    names = {p.name for p in root.iterdir() if p.is_file()}
    return "config.json" in names or any(n.endswith(_WEIGHT_SUFFIXES) for n in names)


def _card_item(path: Path, repo_id: str) -> Item:
    """A card file read as the card of ``repo_id``, or why that id cannot be stored."""
    if repo_id_problem(repo_id) is not None:
        return str(path), _bad_id(repo_id)
    return _read_card_file(path, repo_id)


def _read_folder(root: Path, repo_id: str | None, registry: str | None) -> Iterator[Item]:
    if _is_model_folder(root):
        yield from _model_folder(root, repo_id or root.name)
        return
    found = False
    for path, why in _folder_files(root, _boundary(root)):
        relative = path.relative_to(root)
        wanted = path.name == "infos.json" or path.suffix.lower() == ".md"
        if why is not None:
            if wanted:
                found = True
                yield str(path), BadRecord(why)
            continue
        if path.name == "infos.json":
            found = True
            yield from read_path(path)
        elif path.name.lower() == "readme.md" and len(relative.parts) > 1:
            found = True
            yield _card_item(path, "/".join(relative.parts[:-1]))
        elif path.suffix.lower() == ".md" and path.name.lower() != "readme.md":
            found = True
            yield _card_item(path, relative.with_suffix("").as_posix())
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
        yield _card_item(path, name)
    elif b"," in head.split(b"\n", 1)[0] and not stripped.startswith(b'"'):
        yield from _read_csv(path, head, registry)
    elif _looks_like_id_list(head):
        yield from _read_id_list(path)
    elif b"<html" in head[:2000].lower() or b"<!doctype" in head[:200].lower():
        raise UnknownFormatError(f"{path}: an HTML page, not a registry dump")
    else:
        raise UnknownFormatError(f"{path}: not a format ptmscope reads")
