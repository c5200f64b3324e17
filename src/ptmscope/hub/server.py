"""``ptmscope serve-hub``: a Hugging Face-compatible HTTP API over one snapshot, with seeded faults.

Enough of the Hub for ``huggingface_hub.HfApi(endpoint=...)``, ``hf_hub_download`` and
``git clone`` to work against a frozen snapshot:

- ``GET /api/models`` (search, author, filter, sort, direction, limit, full, cardData, config,
  expand; ``Link`` header pagination with an opaque cursor),
- ``GET /api/models/{repo_id}`` and ``/api/models/{repo_id}/revision/{rev}``,
- ``GET /api/models/{repo_id}/commits/{rev}``, ``GET /api/organizations/{name}/overview``,
- ``GET /api/models/{repo_id}/tree/{rev}[/{path}]`` (``recursive``; 1,000 entries a page, ``Link``
  header with a cursor) and ``POST /api/models/{repo_id}/paths-info/{rev}`` (form or JSON ``paths``),
  from the files folder when it has the repo, else from the snapshot's file list,
- ``GET|HEAD /{repo_id}/resolve/{rev}/{path}``: a file of the files folder (``files``, laid out as
  ``DIR/<repo_id>/<path>``), else a stored small file (README.md). A weight file (``WEIGHT_SUFFIXES``)
  or one over 10 MiB answers as the Hub's LFS files do: ``302`` to the CDN path with ``X-Linked-Size``,
  ``X-Linked-Etag``/``ETag`` (its sha256) and ``X-Repo-Commit``; a smaller one answers 200 with its
  bytes under ``ETag`` = git's blob id, and honours ``Range``,
- ``GET|HEAD /cdn-lfs/{sha256}?repo=...&path=...``: the "CDN": the bytes of that file if its sha256
  matches (else 404), ``application/octet-stream``, ``Accept-Ranges: bytes``, single ranges
  (``a-b``, ``a-``, ``-n``: 206 with ``Content-Range``; unsatisfiable: 416 ``bytes */size``), a
  malformed or multi-range ``Range`` ignored (the full 200, as RFC 9110 allows), ``If-Range``
  and ``If-None-Match`` (304); bodies are streamed in chunks,
- git smart HTTP (fetch only) for stored bare clones, through the real ``git http-backend``.

With a files folder, ``siblings`` of ``/api/models/{repo_id}`` (and of the listing) are that
folder's files: names only, or with ``blobs=true`` their size, ``blobId`` and ``lfs`` (sha256,
size, pointerSize) as the Hub sends them.

Every response carries the Hub's ``RateLimit`` / ``RateLimit-Policy`` headers for its bucket
(api, resolvers, pages; git counts as resolvers) and, with ``rate_limits``, the budget is
enforced (429 + ``Retry-After``). The CDN path counts in its own bucket, ``cdn``, which is never
limited and sends no RateLimit headers (the Hub's CDN is not under the resolvers budget).
``faults`` injects errors at seeded random: ``429``, ``500``, ``slow`` (a delayed answer),
``drop`` (the connection closes with no answer) and ``badjson`` (a truncated JSON body; for
files, resolve and CDN alike, corrupted bytes under the right ETag and length).

Names in requests are looked up, never used to build file-system paths; file paths with
``..``, empty or absolute segments are refused with 400. A file of the files folder is found
segment by segment and served only if its real path (symlinks resolved) is a regular file inside
the folder. It binds 127.0.0.1 unless told.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import random
import re
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import orjson

from ptmscope.hub.ratelimit import PLANS, WINDOW_SECONDS, Budget, FixedWindow, ratelimit_headers
from ptmscope.hub.replay import (
    BASIC_KEYS,
    EXPAND_KEYS,
    FileRecord,
    FileTree,
    LocalFile,
    ReplayData,
    paths_info,
    tree_entries,
    tree_page,
)

FAULT_KINDS = ("429", "500", "slow", "drop", "badjson")
MAX_REQUEST_BODY = 4 * 1024**2
"""Largest request body read (git's fetch negotiation is kilobytes); more is refused with 413."""
BODY_SECONDS = 60.0
"""Longest time reading one request body may take (a client trickling bytes is cut off with 400)."""
MAX_TRAILERS = 64
_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
_UNSAFE_HEADER = re.compile(r"[^\x20-\x7e]")
_CDN_PATH = re.compile(r"^/cdn-lfs/[0-9a-f]{64}$")
_RANGE = re.compile(r"^(\d{0,18})-(\d{0,18})$")
STREAM_CHUNK = 256 * 1024
"""Bytes of a file read and sent at a time (a file is never read whole)."""


def _header_value(value: str) -> str:
    """A header value with anything but printable ASCII replaced (no CR/LF: no header injection)."""
    return _UNSAFE_HEADER.sub("?", value)[:1_000]


class _BadBody(Exception):
    """A request body that is not read: malformed (400) or over ``MAX_REQUEST_BODY`` (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_GIT_SUFFIXES = ("/info/refs", "/git-upload-pack", "/git-receive-pack")


@dataclass
class FaultPlan:
    """Seeded random faults: each request draws at most one, with these probabilities."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 1.5
    retry_after: int = 1

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - a seeded fault plan, not secrets
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    @classmethod
    def parse(cls, spec: str | None, *, seed: int = 0, slow_seconds: float = 1.5, retry_after: int = 1) -> FaultPlan:
        """Parse ``429=0.1,500=0.05,slow=0.05,drop=0.02,badjson=0.01``.

        Raises:
            ValueError: an unknown fault kind, or probabilities outside [0, 1] or summing past 1.
        """
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            kind, sep, value = part.partition("=")
            kind = kind.strip()
            if kind not in FAULT_KINDS or not sep:
                raise ValueError(
                    f"bad fault {part!r}: expected KIND=PROBABILITY with KIND one of {', '.join(FAULT_KINDS)}"
                )
            try:
                rate = float(value)
            except ValueError:
                raise ValueError(f"bad fault probability in {part!r}") from None
            if not 0 <= rate <= 1:
                raise ValueError(f"fault probability out of [0, 1] in {part!r}")
            rates[kind] = rate
        if sum(rates.values()) > 1:
            raise ValueError("fault probabilities add up to more than 1")
        return cls(rates, seed, slow_seconds, retry_after)

    def draw(self, allowed: tuple[str, ...] = FAULT_KINDS) -> str | None:
        """The fault for the next request, or None."""
        if not self.rates:
            return None
        with self._lock:
            roll = self._random.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rates.get(kind, 0.0)
            if roll < edge:
                if kind in allowed:
                    self.injected[kind] += 1
                    return kind
                return None
        return None


class HubServer(ThreadingHTTPServer):
    """The replay hub: a threading HTTP server over ``ReplayData``."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        data: ReplayData,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        rate_limits: dict[str, Budget] | None = None,
        enforce: bool = True,
        verbose: bool = False,
        files: FileTree | None = None,
    ) -> None:
        self.data = data
        self.files = files
        """The files folder served by resolve, the CDN path, siblings and the tree API (None: stored files only)."""
        self.faults = faults or FaultPlan()
        budgets = {b: Budget(b, q, WINDOW_SECONDS) for b, q in PLANS["anonymous"].items()}
        budgets.update(rate_limits or {})
        self.windows = {name: FixedWindow(budget) for name, budget in budgets.items()}
        self.enforce = enforce and bool(rate_limits)
        """Refuse requests past the budget (only when a budget was configured; headers are always sent)."""
        self.verbose = verbose
        self.counts: Counter[str] = Counter()
        """Requests per bucket, and per status (``api:200``)."""
        self._counts_lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, key: str) -> None:
        """Count one event."""
        with self._counts_lock:
            self.counts[key] += 1

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Mark one request as in flight until the block ends (``server_close`` waits for them)."""
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def server_close(self, drain_seconds: float = 30.0) -> None:
        """Stop listening, let requests in flight finish, and free the snapshot's in-memory copy here.

        Connection threads are daemons (an idle keep-alive connection must not hold the process),
        so the copy is freed here and not in whichever thread drops it last, and not while a
        thread is still inside a DuckDB query: a daemon thread in DuckDB's C++ code while the
        interpreter exits aborts the process. A request arriving after this gets a 500.
        """
        super().server_close()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=drain_seconds)
        self.data.close()

    def serve_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests, benchmarks); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, name="ptmscope-serve-hub", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    server_version = "ptmscope-serve-hub"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall on keep-alive

    # -- plumbing -----------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        # One handler serves every request of a keep-alive connection: reset the per-request state.
        self._fault: str | None = None
        self._rate: tuple[int, float, Budget] | None = None
        self._refused = False
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        bucket = self._bucket(path)
        self.server.count(bucket)
        self._bucket_name = bucket
        # Any body is read first, within MAX_REQUEST_BODY and BODY_SECONDS: a malformed or oversized one
        # is refused here (400/413, connection closed) whatever the route would have said.
        self._body = b""
        if self.headers.get("Transfer-Encoding") is not None or self.headers.get("Content-Length") is not None:
            try:
                self._body = self._read_body()
            except _BadBody as refused:
                with contextlib.suppress(OSError):
                    self._error(refused.status, refused.message)
                return
        self._rate = self._take(bucket)
        try:
            with self.server.serving():
                self._serve(method, path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # a bug in the server must not kill the connection thread silently
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(500, f"internal error: {type(error).__name__}")

    def _serve(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        """Refuse past the budget, inject the drawn fault, or route the request."""
        bucket = self._bucket_name
        if self._refused:
            return  # over budget: answered already
        every = bucket in ("api", "cdn") or "/resolve/" in path  # git and pages: no slow answer, no bad body
        fault = self.server.faults.draw(FAULT_KINDS if every else ("429", "500", "drop"))
        self._fault = fault
        if fault == "429":
            self._error(
                429, "Injected fault: too many requests", extra={"Retry-After": str(self.server.faults.retry_after)}
            )
            return
        if fault == "500":
            self._error(500, "Injected fault: internal error")
            return
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "slow":
            time.sleep(self.server.faults.slow_seconds)
        self._route(method, path, query)

    def _bucket(self, path: str) -> str:
        if _CDN_PATH.match(path):
            return "cdn"
        if path.startswith("/api/"):
            return "api"
        if "/resolve/" in path or path.endswith(_GIT_SUFFIXES):
            return "resolvers"
        return "pages"

    def _take(self, bucket: str) -> tuple[int, float, Budget] | None:
        """Count the request in its bucket's window: what its RateLimit headers say (None: send none).

        Past an enforced budget, answer 429 here and set ``_refused``. The ``cdn`` bucket has no budget.
        """
        window = self.server.windows.get(bucket) if bucket != "cdn" else None
        if window is None:
            return None
        admitted, remaining, reset = window.take()
        if not admitted and self.server.enforce:
            self._rate = (0, reset, window.budget)
            self._fault = None
            self._refused = True
            self._error(
                429,
                f"Rate limit reached for the {bucket} bucket",
                extra={"Retry-After": str(max(1, int(reset + 0.999)))},
            )
        return remaining, reset, window.budget

    def _headers(self, status: int, content_type: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        if self._rate is not None:
            remaining, reset, budget = self._rate
            for key, value in ratelimit_headers(self._bucket_name, remaining, reset, budget).items():
                self.send_header(key, value)
        for key, value in (extra or {}).items():
            self.send_header(key, _header_value(value))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.server.count(f"{self._bucket_name}:{status}")

    def _json(self, status: int, document: Any, extra: dict[str, str] | None = None) -> None:
        body = orjson.dumps(document)
        if self._fault == "badjson":
            body = body[: max(1, len(body) // 2)]
        self._headers(status, "application/json; charset=utf-8", len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(
        self, status: int, message: str, *, code: str | None = None, extra: dict[str, str] | None = None
    ) -> None:
        headers = dict(extra or {})
        if code:
            headers["X-Error-Code"] = code
        headers["X-Error-Message"] = message[:200]
        body = orjson.dumps({"error": message})
        self._headers(status, "application/json; charset=utf-8", len(body), headers)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        """The request body, read within ``MAX_REQUEST_BODY`` bytes and ``BODY_SECONDS`` seconds.

        Raises:
            _BadBody: 413 for a body over the limit (announced or counted), 400 for a malformed one (a
                chunk size that is not hexadecimal, negative, missing CRLFs, too many trailers, a body
                that ends early or arrives too slowly). The connection is then closed: what follows on it
                cannot be framed.
        """
        deadline = time.monotonic() + BODY_SECONDS
        try:
            encoding = self.headers.get("Transfer-Encoding")
            if encoding is not None:
                if encoding.strip().lower() != "chunked":
                    raise _BadBody(400, f"unsupported Transfer-Encoding: {encoding[:50]}")
                return self._read_chunked(deadline)
            length = (self.headers.get("Content-Length") or "0").strip()
            if not length.isdigit() or len(length) > 18:
                raise _BadBody(400, "malformed Content-Length")
            if int(length) > MAX_REQUEST_BODY:
                raise _BadBody(413, f"request body over {MAX_REQUEST_BODY:,} bytes")
            return self._read_exactly(int(length), deadline)
        except _BadBody:
            self.close_connection = True
            raise
        except TimeoutError:
            self.close_connection = True
            raise _BadBody(400, f"request body not received within {BODY_SECONDS:g} s") from None
        finally:
            with contextlib.suppress(OSError):
                self.connection.settimeout(self.timeout)

    def _read_chunked(self, deadline: float) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self._read_line(deadline)
            text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.match(text):
                raise _BadBody(400, "malformed chunk size")
            size = int(text, 16)
            if size == 0:
                for _ in range(MAX_TRAILERS):
                    if not self._read_line(deadline).strip():
                        return b"".join(parts)
                raise _BadBody(400, "too many trailers")
            total += size
            if total > MAX_REQUEST_BODY:
                raise _BadBody(413, f"request body over {MAX_REQUEST_BODY:,} bytes")
            parts.append(self._read_exactly(size, deadline))
            if self._read_exactly(2, deadline) != b"\r\n":
                raise _BadBody(400, "chunk not followed by CRLF")

    def _read_line(self, deadline: float) -> bytes:
        self._timeout(deadline)
        line = self.rfile.readline(8_192)
        if not line.endswith(b"\n"):
            raise _BadBody(400, "malformed chunked body (line too long or body ends early)")
        return line

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        parts: list[bytes] = []
        while n > 0:
            self._timeout(deadline)
            piece = self.rfile.read(min(n, 64 * 1024))
            if not piece:
                raise _BadBody(400, "request body ends early")
            parts.append(piece)
            n -= len(piece)
        return b"".join(parts)

    def _timeout(self, deadline: float) -> None:
        """Let the next socket read wait only until the body's deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.connection.settimeout(min(remaining, float(self.timeout or remaining)))

    def _base_url(self) -> str:
        host = self.headers.get("Host") or ""
        if not _HOST.match(host):
            host = f"{self.server.server_address[0]!s}:{self.server.server_address[1]}"
        return f"http://{host}"

    # -- routes -----------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        if path.endswith(_GIT_SUFFIXES):
            self._git(method, path, query)
            return
        if method == "POST" and not (path.startswith("/api/models/") and "/paths-info/" in path):
            self._error(405, "method not allowed")
            return
        if self._bucket_name == "cdn":
            self._cdn(path.removeprefix("/cdn-lfs/"), query)
        elif path in ("/api/models", "/api/models/"):
            self._list_models(query)
        elif path.startswith("/api/models/"):
            self._model_routes(method, path.removeprefix("/api/models/"), query)
        elif path.startswith("/api/organizations/") and path.endswith("/overview"):
            name = unquote(path.removeprefix("/api/organizations/").removesuffix("/overview"))
            org = self.server.data.organization(name) if "/" not in name else None
            if org is None:
                self._error(404, "Organization not found", code="RepoNotFound")
            else:
                self._json(200, org)
        elif "/resolve/" in path:
            self._resolve(path)
        else:
            self._error(404, "Not found")

    def _list_models(self, query: dict[str, list[str]]) -> None:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        expand = query.get("expand", []) + query.get("expand[]", [])
        if expand:
            keys = frozenset(EXPAND_KEYS[e] for e in expand if e in EXPAND_KEYS)
        elif _truthy(one("full")):
            keys = frozenset(EXPAND_KEYS.values()) - {"cardData", "config"}
        else:
            keys = BASIC_KEYS
        if _truthy(one("cardData")):
            keys = keys | {"cardData"}
        if _truthy(one("config")):
            keys = keys | {"config"}
        limit_text = one("limit")
        limit = int(limit_text) if limit_text and limit_text.isdigit() else None
        direction = one("direction")
        page = self.server.data.list_models(
            search=one("search"),
            author=one("author"),
            filters=query.get("filter", []) + query.get("filter[]", []),
            sort=one("sort"),
            descending=direction != "1",
            limit=limit,
            cursor=one("cursor"),
            keys=keys,
        )
        files = self.server.files
        if files is not None and "siblings" in keys:
            for item in page.items:
                siblings = files.siblings(item["id"], blobs=False)
                if siblings is not None:
                    item["siblings"] = siblings
        self._json(200, page.items, self._next_link("/api/models", query, page.next_cursor))

    def _next_link(self, path: str, query: dict[str, list[str]], cursor: str | None) -> dict[str, str]:
        """The ``Link`` header of the next page: the same query, with the next page's cursor ({} at the end)."""
        if not cursor:
            return {}
        params = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
        params.append(("cursor", cursor))
        return {"Link": f'<{self._base_url()}{path}?{urlencode(params)}>; rel="next"'}

    def _split_repo(self, rest: str, markers: tuple[str, ...]) -> tuple[str, str | None, list[str]] | None:
        """(repo_id, marker, remaining segments) for ``ns/name/marker/...`` or ``name/marker/...``."""
        segments = [unquote(s) for s in rest.split("/")]
        data = self.server.data
        for cut in (2, 1):
            if len(segments) >= cut:
                repo = "/".join(segments[:cut])
                tail = segments[cut:]
                if (not tail or tail[0] in markers) and data.has_model(repo):
                    return repo, (tail[0] if tail else None), tail[1:]
        return None

    def _model_routes(self, method: str, rest: str, query: dict[str, list[str]]) -> None:
        found = self._split_repo(rest.rstrip("/"), ("revision", "commits", "tree", "paths-info"))
        if found is None:
            self._error(404, "Repository not found", code="RepoNotFound")
            return
        repo_id, marker, tail = found
        data = self.server.data
        if marker is not None and not tail:
            self._error(404, "Not found")
            return
        if (method == "POST") != (marker == "paths-info"):
            self._error(405, "method not allowed")
            return
        if marker in ("tree", "paths-info"):
            self._tree(repo_id, marker == "tree", tail, query)
            return
        revision = "/".join(tail) if tail else None
        if revision is not None and not self._revision_ok(repo_id, revision):
            self._error(404, f"Invalid rev id: {revision[:100]}", code="RevisionNotFound")
            return
        if marker == "commits":
            page_text = (query.get("p") or ["0"])[-1]
            page = int(page_text) if page_text.isdigit() else 0
            items, more = data.commits(repo_id, page)
            extra = {}
            if more:
                rev = quote(revision or "main", safe="")
                base = f"{self._base_url()}/api/models/{quote(repo_id)}"
                extra["Link"] = f'<{base}/commits/{rev}?p={page + 1}>; rel="next"'
            self._json(200, items, extra)
            return
        expand = query.get("expand", []) + query.get("expand[]", [])
        keys = frozenset(EXPAND_KEYS[e] for e in expand if e in EXPAND_KEYS) if expand else None
        document = data.model(repo_id, keys)
        files = self.server.files
        if document is not None and files is not None and (keys is None or "siblings" in keys):
            siblings = files.siblings(repo_id, blobs=_truthy(_one(query, "blobs")))
            if siblings is not None:
                document["siblings"] = siblings
        self._json(200, document)

    def _records(self, repo_id: str) -> list[FileRecord]:
        """A repo's files: from the files folder when it has the repo, else as the snapshot lists them."""
        records = self.server.files.records(repo_id) if self.server.files is not None else None
        return records if records is not None else self.server.data.file_records(repo_id)

    def _tree(self, repo_id: str, tree: bool, tail: list[str], query: dict[str, list[str]]) -> None:
        """``tree/{rev}[/{path}]`` (a page of entries) or ``paths-info/{rev}`` (the entries of the paths posted)."""
        revision, folder = tail[0], "/".join(tail[1:]).strip("/")
        if not self._revision_ok(repo_id, revision):
            self._error(404, f"Invalid rev id: {revision[:100]}", code="RevisionNotFound")
            return
        if not tree:
            self._json(200, paths_info(self._records(repo_id), self._posted_paths()))
            return
        entries = tree_entries(self._records(repo_id), folder, _truthy(_one(query, "recursive") or "false"))
        if entries is None:
            self._error(404, f"Entry not found: no folder {folder[:200]} in {repo_id}", code="EntryNotFound")
            return
        page = tree_page(entries, _one(query, "cursor"))
        where = f"/api/models/{quote(repo_id)}/tree/{quote(revision, safe='')}"
        if folder:
            where += "/" + quote(folder)
        self._json(200, page.items, self._next_link(where, query, page.next_cursor))

    def _posted_paths(self) -> list[str]:
        """The ``paths`` of a paths-info request: a form (as huggingface_hub sends it) or a JSON object."""
        if "json" in (self.headers.get("Content-Type") or ""):
            with contextlib.suppress(orjson.JSONDecodeError):
                document = orjson.loads(self._body)
                paths = document.get("paths") if isinstance(document, dict) else None
                return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []
            return []
        form = parse_qs(self._body.decode("utf-8", "replace"), keep_blank_values=True)
        return form.get("paths", []) + form.get("paths[]", [])

    def _revision_ok(self, repo_id: str, revision: str) -> bool:
        sha = self.server.data.model_sha(repo_id)
        return revision in ("main", "HEAD") or (sha is not None and revision == sha)

    def _resolve(self, path: str) -> None:
        found = self._split_repo(path.lstrip("/"), ("resolve",))
        if found is None:
            self._error(404, "Repository not found", code="RepoNotFound")
            return
        repo_id, _, tail = found
        if len(tail) < 2:
            self._error(400, "missing revision or file path")
            return
        revision, parts = tail[0], tail[1:]
        if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts) or len("/".join(parts)) > 1_000:
            self._error(400, "invalid file path")
            return
        if not self._revision_ok(repo_id, revision):
            self._error(404, f"Invalid rev id: {revision[:100]}", code="RevisionNotFound")
            return
        files, name = self.server.files, "/".join(parts)
        local = files.lookup(repo_id, name) if files is not None else None
        if files is not None and local is not None:
            self._serve_local(files, local)
            return
        stored = self.server.data.file(repo_id, name)
        if stored is None:
            # the body says why: no README then, its bytes not kept at import, or not a file serve-hub holds
            reason = self.server.data.missing_file_reason(repo_id, name)
            if files is not None and name != "README.md":
                reason = f"Entry not found: {name[:200]} is not in the files folder of {repo_id}"
            if "--keep-cards" in reason:
                self.server.count("readme-bytes-not-kept")
            self._error(404, reason, code="EntryNotFound")
            return
        body = stored.content
        if self._fault == "badjson":  # corrupted bytes under the right ETag
            body = bytes(reversed(body)) if len(body) > 1 else b"\xff"
        headers = {"X-Repo-Commit": stored.sha or ""}
        if stored.blob_id:
            headers["ETag"] = f'"{stored.blob_id}"'
        self._headers(200, "text/plain; charset=utf-8", len(body), headers)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve_local(self, files: FileTree, local: LocalFile) -> None:
        """A file of the files folder: a redirect to the CDN path for an LFS-style file, else its bytes."""
        commit = self.server.data.model_sha(local.repo_id) or ""
        if not local.lfs:
            kind = mimetypes.guess_type(local.path)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind == "application/json":
                kind += "; charset=utf-8"
            self._send_file(local, f'"{files.blob_id(local)}"', kind, {"X-Repo-Commit": commit})
            return
        sha256 = files.sha256(local)
        location = (
            f"{self._base_url()}/cdn-lfs/{sha256}?repo={quote(local.repo_id, safe='')}"
            f"&path={quote(local.path, safe='')}"
        )
        headers = {"Location": location, "X-Linked-Size": str(local.size), "X-Linked-Etag": f'"{sha256}"',
                   "ETag": f'"{sha256}"', "X-Repo-Commit": commit}  # fmt: skip
        self._headers(302, "text/plain; charset=utf-8", 0, headers)

    def _cdn(self, sha256: str, query: dict[str, list[str]]) -> None:
        """``/cdn-lfs/{sha256}?repo=&path=``: the bytes of that file of the files folder, if its sha256 matches."""
        files, repo_id, name = self.server.files, _one(query, "repo") or "", _one(query, "path") or ""
        local = files.lookup(repo_id, name) if files is not None and self.server.data.has_model(repo_id) else None
        if files is None or local is None or files.sha256(local) != sha256:
            self._error(404, "Entry not found: no such file on the CDN", code="EntryNotFound")
            return
        commit = self.server.data.model_sha(repo_id) or ""
        self._send_file(local, f'"{sha256}"', "application/octet-stream", {"X-Repo-Commit": commit})

    def _send_file(self, local: LocalFile, etag: str, content_type: str, extra: dict[str, str]) -> None:
        """A file's bytes, streamed; ``Range`` (one range: 206, unsatisfiable: 416), ``If-Range``, ``If-None-Match``."""
        try:
            handle = open(local.real, "rb", opener=_open_regular)  # noqa: SIM115 - closed below, after the headers
        except OSError:
            self._error(404, "Entry not found: the file is gone", code="EntryNotFound")
            return
        with handle:
            size, headers = local.size, {**extra, "ETag": etag, "Accept-Ranges": "bytes"}
            if _etag_matches(self.headers.get("If-None-Match"), etag):
                self._headers(304, content_type, size, headers)
                return
            if_range = self.headers.get("If-Range")
            try:
                span = _byte_range(self.headers.get("Range"), size) if if_range in (None, etag) else None
            except _Unsatisfiable:
                self._error(416, "Range not satisfiable", extra={**headers, "Content-Range": f"bytes */{size}"})
                return
            start, end = span or (0, size - 1)
            if span is not None:
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self._headers(206 if span else 200, content_type, end - start + 1, headers)
            if self.command != "HEAD":
                self._stream(handle, start, end - start + 1)

    def _stream(self, handle: IO[bytes], start: int, length: int) -> None:
        """Send ``length`` bytes from ``start``, ``STREAM_CHUNK`` at a time (corrupted under a ``badjson`` fault)."""
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(length, STREAM_CHUNK))
            if not chunk:  # the file shrank since it was looked up: the body is short, so the connection must end
                self.close_connection = True
                return
            if self._fault == "badjson":
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            self.wfile.write(chunk)
            length -= len(chunk)

    def _git(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        suffix = next(s for s in _GIT_SUFFIXES if path.endswith(s))
        if suffix == "/git-receive-pack" or (query.get("service") or [""])[-1] == "git-receive-pack":
            self._error(403, "this hub is read-only")
            return
        repo_part = path[: -len(suffix)].lstrip("/").removesuffix(".git")
        found = self._split_repo(repo_part, ())
        clone = self.server.data.clone_path(found[0]) if found else None
        if clone is None or not clone.is_dir():
            self._error(404, "Repository not found", code="RepoNotFound")
            return
        self._run_backend(method, clone, suffix, self._body)

    def _run_backend(self, method: str, clone: Path, suffix: str, body: bytes) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(clone.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(clone.parent),
            "PATH_INFO": f"/{clone.name}{suffix}",
            "REQUEST_METHOD": method,
            "QUERY_STRING": urlsplit(self.path).query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for header, variable in (("Git-Protocol", "HTTP_GIT_PROTOCOL"), ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            value = self.headers.get(header)
            if value:
                env[variable] = value
        # The pack is streamed to the client as git writes it (a repository can be far bigger than memory).
        try:
            process = subprocess.Popen(
                ["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env,
            )  # fmt: skip
        except OSError as error:
            self._error(500, f"git http-backend failed: {type(error).__name__}")
            return
        assert process.stdin is not None and process.stdout is not None
        feeder = threading.Thread(target=_feed, args=(process.stdin, body), daemon=True)
        feeder.start()
        try:
            self._relay_cgi(process.stdout)
        finally:
            process.stdout.close()
            try:
                process.wait(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            feeder.join(timeout=5)

    def _relay_cgi(self, out: IO[bytes]) -> None:
        """Relay a CGI response: its headers (Status, Content-Type), then its body as it comes."""
        head: list[str] = []
        while True:
            line = out.readline(8_192)
            if not line:
                self._error(500, "git http-backend gave no response")
                return
            if line in (b"\r\n", b"\n"):
                break
            head.append(line.decode("latin-1").strip())
            if len(head) > 100:
                self._error(500, "git http-backend sent too many headers")
                return
        status, content_type = 200, "application/octet-stream"
        extra: dict[str, str] = {}
        for text in head:
            key, _, value = text.partition(":")
            key, value = key.strip(), value.strip()
            if key.lower() == "status":
                status = int(value.split()[0]) if value.split() and value.split()[0].isdigit() else 500
            elif key.lower() == "content-type":
                content_type = value
            elif key.lower() in ("cache-control", "expires", "pragma"):
                extra[key] = value
        # No length is known in advance: the body ends when the connection closes.
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", _header_value(content_type))
        if self._rate is not None:
            remaining, reset, budget = self._rate
            for key, value in ratelimit_headers(self._bucket_name, remaining, reset, budget).items():
                self.send_header(key, value)
        for key, value in extra.items():
            self.send_header(key, _header_value(value))
        self.send_header("Connection", "close")
        self.end_headers()
        self.server.count(f"{self._bucket_name}:{status}")
        if self.command == "HEAD":
            return
        while chunk := out.read(64 * 1024):
            self.wfile.write(chunk)


def _feed(stdin: IO[bytes], body: bytes) -> None:
    """Write a request body to git's stdin (in its own thread, so a big body cannot deadlock the pipes)."""
    try:
        stdin.write(body)
    except OSError:
        pass  # git stopped reading: its answer says why
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


class _Unsatisfiable(Exception):
    """A ``Range`` no byte of the file satisfies (416)."""


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range (first, last byte) a ``Range`` header asks for, or None to send the whole file.

    ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` are honoured; a header that does not parse, or asks
    for several ranges, is ignored (the full 200, as RFC 9110 allows a server to do).

    Raises:
        _Unsatisfiable: the range starts past the end, or asks for the last 0 bytes (or any of an empty file).
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    match = _RANGE.match(spec.strip())
    if unit.strip().lower() != "bytes" or match is None or match.group(0) == "-":
        return None
    first, last = match.groups()
    if not first:  # the last n bytes
        if int(last) == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - int(last)), size - 1
    if last and int(last) < int(first):
        return None  # an invalid range-spec: ignored
    if int(first) >= size:
        raise _Unsatisfiable
    return int(first), min(int(last), size - 1) if last else size - 1


def _etag_matches(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names this ETag (weakly compared) or is ``*``."""
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _open_regular(path: str, flags: int) -> int:
    """Open a file for reading only if it is a regular file and not a symlink (it was resolved before)."""
    fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(path)
    return fd


def serve(
    db_path: str | Path,
    snapshot_name: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | None = None,
    rate_limits: dict[str, Budget] | None = None,
    verbose: bool = False,
    files: Path | None = None,
) -> HubServer:
    """Load a snapshot and return a bound (not yet serving) ``HubServer``.

    ``files``: a folder laid out as ``files/<repo_id>/<path in repo>`` whose files resolve, the CDN path,
    ``siblings`` and the tree API serve (repos must still be in the snapshot).

    Raises:
        ValueError: ``files`` is not a folder.
    """
    if files is not None and not Path(files).is_dir():
        raise ValueError(f"not a folder: {files}")
    data = ReplayData(db_path, snapshot_name)
    tree = FileTree(Path(files), data.has_model) if files is not None else None
    return HubServer(data, host=host, port=port, faults=faults, rate_limits=rate_limits, verbose=verbose, files=tree)
