"""A snapshot as the Hub API would describe it: the data half of ``ptmscope serve-hub``.

``ReplayData`` copies one snapshot out of the store into an in-memory DuckDB database when the
server starts (so the store file stays free for a crawler to write into) and answers the
questions the HTTP layer asks: a page of the model listing, one model, an organization's
overview, a stored file, a repo's commits, where a repo's bare clone lives. It builds the JSON
the Hub sends (camelCase keys, ``siblings``, ``cardData``...) from stored rows only; a field the
snapshot does not hold is left out, never invented.

``FileTree`` is the other source of files: a folder laid out as ``DIR/<repo_id>/<path in repo>``
(``serve-hub --files DIR``) whose real files are served, listed (siblings, the tree API) and
hashed like the Hub would: git blob ids, and for LFS-style files (weights, or over 10 MiB) the
sha256 and LFS pointer. Paths are checked segment by segment and every file's real path must be
a regular file inside DIR (a symlink out of it is refused); digests are computed in chunks, once
per (real path, size, mtime).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shlex
import stat
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ptmscope.sample import BUNDLES, sample_paths
from ptmscope.store.rows import git_blob_id
from ptmscope.store.store import Store, connect_waiting

if TYPE_CHECKING:
    import duckdb

    from ptmscope.store.store import Snapshot

MAX_PAGE = 1_000
TREE_PAGE = 1_000
"""Entries per page of the tree API (the Hub's page size without ``expand``)."""
LFS_SIZE = 10 * 1024**2
"""A file of ``--files`` larger than this is served as an LFS file (redirect to the CDN path), as on the Hub."""
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".safetensors", ".gguf", ".h5", ".keras", ".onnx", ".pkl",
                   ".pickle", ".joblib", ".npy", ".npz", ".msgpack", ".tflite", ".zip")  # fmt: skip
"""Names the Hub's default ``.gitattributes`` stores with LFS, whatever their size."""
HASH_CHUNK = 1024**2

# Sort keys the listing accepts (the Hub's names) -> column.
SORT_COLUMNS = {
    "downloads": "downloads",
    "likes": "likes",
    "lastModified": "last_modified",
    "last_modified": "last_modified",
    "createdAt": "created_at",
    "created_at": "created_at",
    "id": "repo_id",
    "modelId": "repo_id",
}

# What a plain listing returns (no full, no expand), as the Hub does.
BASIC_KEYS = frozenset({"id", "modelId", "likes", "downloads", "private", "tags", "pipeline_tag", "library_name",
                        "createdAt"})  # fmt: skip
# Expand names -> our JSON keys (names the snapshot cannot serve are accepted and ignored).
EXPAND_KEYS = {
    "author": "author",
    "cardData": "cardData",
    "config": "config",
    "createdAt": "createdAt",
    "disabled": "disabled",
    "downloads": "downloads",
    "downloadsAllTime": "downloadsAllTime",
    "gated": "gated",
    "lastModified": "lastModified",
    "library_name": "library_name",
    "likes": "likes",
    "pipeline_tag": "pipeline_tag",
    "private": "private",
    "safetensors": "safetensors",
    "securityRepoStatus": "securityRepoStatus",
    "sha": "sha",
    "siblings": "siblings",
    "tags": "tags",
    "usedStorage": "usedStorage",
}

_MODEL_COLUMNS = (
    "repo_id, author, sha, last_modified, created_at, private, gated, disabled, downloads, downloads_all_time,"
    " likes, pipeline_tag, library_name, model_type, architectures, has_auto_map, quantization, num_files,"
    " parameters, used_storage,"
    " security_status::VARCHAR, card_data::VARCHAR, tags, files"
)


def iso(value: datetime | None) -> str | None:
    """A timestamp as the Hub writes it (``2022-01-20T12:13:34.000Z``), keeping microseconds when there are any."""
    if value is None:
        return None
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    text = value.isoformat(timespec=spec)
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class Page:
    """One page of the model listing."""

    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class StoredFile:
    """A small file the snapshot holds."""

    content: bytes
    blob_id: str | None
    sha: str | None
    """The repo revision the file belongs to."""


@dataclass(frozen=True)
class FileRecord:
    """One file of a repo as the tree API and ``siblings`` describe it (from ``--files`` or the snapshot)."""

    path: str
    size: int | None
    blob_id: str | None
    """git's blob id (for an LFS file: of its pointer, as git stores it)."""
    lfs_sha256: str | None = None
    mode: str | None = None
    """git's file mode (``100644``, ``100755``); None when not known (the snapshot does not say)."""

    def lfs(self, key: str) -> dict[str, Any] | None:
        """The ``lfs`` object, its digest under ``key`` (``oid`` in the tree API, ``sha256`` in siblings)."""
        if self.lfs_sha256 is None:
            return None
        pointer = None if self.size is None else len(lfs_pointer(self.lfs_sha256, self.size))
        return {key: self.lfs_sha256, "size": self.size, "pointerSize": pointer}

    def tree_entry(self) -> dict[str, Any]:
        """The tree API's entry."""
        entry: dict[str, Any] = {"type": "file", "oid": self.blob_id, "size": self.size, "path": self.path}
        lfs = self.lfs("oid")
        if lfs is not None:
            entry["lfs"] = lfs
        return entry

    def sibling(self) -> dict[str, Any]:
        """The ``siblings`` entry of ``/api/models/{id}?blobs=true``."""
        entry: dict[str, Any] = {"rfilename": self.path, "size": self.size, "blobId": self.blob_id}
        lfs = self.lfs("sha256")
        if lfs is not None:
            entry["lfs"] = lfs
        return entry


@dataclass(frozen=True)
class LocalFile:
    """A regular file of ``--files``, found by ``FileTree.lookup``."""

    repo_id: str
    path: str
    """Its path in the repo."""
    real: Path
    """Its real path (symlinks resolved), inside the files folder."""
    size: int
    mtime_ns: int
    executable: bool

    @property
    def lfs(self) -> bool:
        """Served as the Hub serves an LFS file: a redirect to the CDN path, with a sha256."""
        return is_lfs(self.path, self.size)


def is_lfs(path: str, size: int) -> bool:
    """True for a file the Hub would hold in LFS: a weight file by its name, or one over ``LFS_SIZE``."""
    return size > LFS_SIZE or path.lower().endswith(WEIGHT_SUFFIXES)


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git LFS pointer file of a blob (what git stores; its length is the Hub's ``pointerSize``)."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _safe_parts(parts: list[str]) -> bool:
    return bool(parts) and all(p not in ("", ".", "..") and "\\" not in p and "\x00" not in p for p in parts)


def _hidden(parts: list[str]) -> bool:
    """Not part of the repo: git's own folder, huggingface_hub's ``local_dir`` metadata."""
    return parts[0] == ".git" or parts[:2] == [".cache", "huggingface"]


class FileTree:
    """The folder of ``serve-hub --files``: ``root/<repo_id>/<path in repo>``. Thread-safe.

    A repo's folder is ``root/owner/name`` or ``root/name``; in the folder of a repo without an owner,
    a subfolder that is itself a repo of the snapshot (``root/name/other`` for ``name/other``) is not
    part of it. Digests are cached per (kind, real path) with the size and mtime they were computed at.
    """

    def __init__(self, root: Path, is_repo: Callable[[str], bool]) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"not a folder: {root}")
        self._is_repo = is_repo
        self._lock = threading.Lock()
        self._digests: dict[tuple[str, str], tuple[int, int, str]] = {}
        self._busy: dict[tuple[str, str], threading.Lock] = {}
        self.hashed: Counter[str] = Counter()
        """Digests computed (``sha256``, ``blob``): a file's are computed once while it does not change."""

    def repo_dir(self, repo_id: str) -> Path | None:
        """The real path of a repo's folder, when there is one inside the root."""
        parts = repo_id.split("/")
        if len(parts) > 2 or not _safe_parts(parts):
            return None
        try:
            real = self.root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return real if real != self.root and real.is_relative_to(self.root) and real.is_dir() else None

    def repos(self) -> int:
        """How many repos of the snapshot have a folder here."""
        count = 0
        with os.scandir(self.root) as top:
            for entry in top:
                count += self._is_repo(entry.name)
                with contextlib.suppress(OSError), os.scandir(entry.path) as inner:  # not a folder, or unreadable
                    count += sum(self._is_repo(f"{entry.name}/{sub.name}") for sub in inner)
        return count

    def lookup(self, repo_id: str, path: str) -> LocalFile | None:
        """The regular file at ``path`` in a repo's folder, or None (also for any path that leaves the root)."""
        parts = path.split("/")
        if not _safe_parts(parts) or _hidden(parts) or ("/" not in repo_id and self._is_repo(f"{repo_id}/{parts[0]}")):
            return None
        base = self.repo_dir(repo_id)
        return None if base is None else self._stat(repo_id, base, parts)

    def _stat(self, repo_id: str, base: Path, parts: list[str]) -> LocalFile | None:
        try:
            real = base.joinpath(*parts).resolve(strict=True)
            info = real.stat()
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not stat.S_ISREG(info.st_mode):
            return None
        return LocalFile(repo_id, "/".join(parts), real, info.st_size, info.st_mtime_ns, bool(info.st_mode & 0o100))

    def listing(self, repo_id: str) -> list[LocalFile] | None:
        """A repo's files, sorted by path; None when the root has no folder for it. Symlinked folders are not walked."""
        base = self.repo_dir(repo_id)
        if base is None:
            return None
        found: list[LocalFile] = []
        for dirpath, dirnames, filenames in os.walk(base):
            folder = list(Path(dirpath).relative_to(base).parts)
            dirnames[:] = sorted(
                d for d in dirnames
                if not _hidden([*folder, d, ""]) and (folder or "/" in repo_id or not self._is_repo(f"{repo_id}/{d}"))
            )  # fmt: skip
            for name in filenames:
                local = self._stat(repo_id, base, [*folder, name])
                if local is not None:
                    found.append(local)
        return sorted(found, key=lambda f: f.path)

    def records(self, repo_id: str) -> list[FileRecord] | None:
        """A repo's files with their digests (computed now, the first time), or None without a folder."""
        listing = self.listing(repo_id)
        if listing is None:
            return None
        mode = {True: "100755", False: "100644"}
        return [
            FileRecord(f.path, f.size, self.blob_id(f), self.sha256(f) if f.lfs else None, mode[f.executable])
            for f in listing
        ]

    def siblings(self, repo_id: str, *, blobs: bool) -> list[dict[str, Any]] | None:
        """A repo's ``siblings`` (with ``blobs``: sizes, blob ids and LFS digests), or None without a folder."""
        if blobs:
            records = self.records(repo_id)
            return None if records is None else [r.sibling() for r in records]
        listing = self.listing(repo_id)
        return None if listing is None else [{"rfilename": f.path} for f in listing]

    def sha256(self, local: LocalFile) -> str:
        """The file's sha256 (the LFS oid), computed in chunks once per (real path, size, mtime)."""
        return self._digest("sha256", local)

    def blob_id(self, local: LocalFile) -> str:
        """git's blob id: of the file, or for an LFS-style file of its pointer (what the Hub lists)."""
        if local.lfs:
            return git_blob_id(lfs_pointer(self.sha256(local), local.size))
        return self._digest("blob", local)

    def _digest(self, kind: str, local: LocalFile) -> str:
        key = (kind, str(local.real))
        with self._lock:
            known = self._digests.get(key)
            if known is not None and known[:2] == (local.size, local.mtime_ns):
                return known[2]
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:  # one computation per file at a time: a second request waits for the first's digest
            with self._lock:
                known = self._digests.get(key)
            if known is not None and known[:2] == (local.size, local.mtime_ns):
                return known[2]
            digest = _hash_file(local.real, kind, local.size)
            with self._lock:
                self._digests[key] = (local.size, local.mtime_ns, digest)
                self.hashed[kind] += 1
        return digest


def _hash_file(path: Path, kind: str, size: int) -> str:
    """sha256 of the first ``size`` bytes, or git's blob id of them, read ``HASH_CHUNK`` bytes at a time."""
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1(b"blob %d\x00" % size, usedforsecurity=False)
    left = size
    with path.open("rb") as handle:
        while left > 0:
            chunk = handle.read(min(left, HASH_CHUNK))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def git_tree_ids(records: list[FileRecord]) -> dict[str, str]:
    """git's tree id of every folder (``""``: the root), when every file's blob id and mode are known; else {}."""
    children: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    folders: set[str] = set()
    for record in records:
        if record.blob_id is None or record.mode is None:
            return {}
        parent, _, name = record.path.rpartition("/")
        children[parent].append((name, record.mode, record.blob_id))
        parts = record.path.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    ids: dict[str, str] = {}
    for folder in [*sorted(folders, key=lambda f: f.count("/"), reverse=True), ""]:
        entries = list(children[folder])
        parent, _, name = folder.rpartition("/")
        if folder:
            children[parent].append((name, "40000", ""))  # filled in below, once this folder's id is known
        entries = [(n, m, ids[f"{folder}/{n}" if folder else n] if m == "40000" else o) for n, m, o in entries]
        entries.sort(key=lambda e: e[0] + "/" if e[1] == "40000" else e[0])
        body = b"".join(f"{m} {n}".encode() + b"\x00" + bytes.fromhex(o) for n, m, o in entries)
        ids[folder] = hashlib.sha1(b"tree %d\x00" % len(body) + body, usedforsecurity=False).hexdigest()
    return ids


def tree_entries(records: list[FileRecord], folder: str, recursive: bool) -> list[dict[str, Any]] | None:
    """The tree API's entries under ``folder`` (``""``: the root), sorted by path; None when it is not a folder."""
    folders: set[str] = set()
    for record in records:
        parts = record.path.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    if folder and folder not in folders:
        return None
    ids = git_tree_ids(records)
    start = f"{folder}/" if folder else ""

    def wanted(path: str) -> bool:
        return path.startswith(start) and (recursive or "/" not in path[len(start) :])

    entries = [{"type": "directory", "oid": ids.get(f), "size": 0, "path": f} for f in folders if wanted(f)]
    entries += [r.tree_entry() for r in records if wanted(r.path)]
    return sorted(entries, key=lambda e: e["path"])


def paths_info(records: list[FileRecord], paths: list[str]) -> list[dict[str, Any]]:
    """The entries of ``POST /api/models/{id}/paths-info/{rev}``: the paths asked for that exist, files or folders."""
    every = {e["path"]: e for e in tree_entries(records, "", True) or []}
    return [every[p.strip("/")] for p in dict.fromkeys(paths) if p.strip("/") in every]


def tree_page(entries: list[dict[str, Any]], cursor: str | None) -> Page:
    """One page of tree entries (``TREE_PAGE`` of them) and the cursor of the next (None at the end)."""
    raw = _decode_cursor(cursor).get("t")
    offset = raw if isinstance(raw, int) and raw > 0 else 0
    items = entries[offset : offset + TREE_PAGE]
    more = offset + TREE_PAGE < len(entries)
    return Page(items, _encode_cursor({"t": offset + TREE_PAGE}) if more else None)


class ReplayData:
    """One snapshot, copied into memory, answering Hub API questions. Thread-safe (a cursor per call)."""

    def __init__(self, db_path: str | Path, snapshot_name: str | None = None) -> None:
        with Store(db_path, read_only=True) as store:
            self.snapshot: Snapshot = store.snapshot(snapshot_name or "latest")
        self._con = connect_waiting(":memory:", read_only=False, patience=0.0)  # in memory: nothing to wait for
        self._con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.Lock()
        self._load(Path(db_path), self.snapshot.snapshot_id)

    def _load(self, path: Path, sid: int) -> None:
        con = self._con
        escaped = str(path).replace("'", "''")
        con.execute(f"ATTACH '{escaped}' AS src (READ_ONLY)")
        try:
            con.execute(
                "CREATE TABLE tags AS SELECT repo_id, list(tag ORDER BY rowid) AS tags FROM src.model_tags"
                " WHERE snapshot_id = ? GROUP BY repo_id",
                [sid],
            )
            con.execute(
                "CREATE TABLE files AS SELECT repo_id, list({'path': path, 'size': size, 'blob': blob_id,"
                " 'lfs': lfs_sha256} ORDER BY rowid) AS files FROM src.model_files WHERE snapshot_id = ?"
                " GROUP BY repo_id",
                [sid],
            )
            con.execute(
                "CREATE TABLE models AS SELECT m.* EXCLUDE (snapshot_id, source_file), t.tags, f.files"
                " FROM src.models m LEFT JOIN tags t USING (repo_id) LEFT JOIN files f USING (repo_id)"
                " WHERE m.snapshot_id = ? ORDER BY m.repo_id",
                [sid],
            )
            con.execute("DROP TABLE tags")
            con.execute("DROP TABLE files")
            con.execute(
                "CREATE TABLE orgs AS SELECT * EXCLUDE (snapshot_id) FROM src.organizations WHERE snapshot_id = ?",
                [sid],
            )
            con.execute(
                "CREATE TABLE repo_files AS SELECT repo_id, path, blob_id, content FROM src.repo_files"
                " WHERE snapshot_id = ?",
                [sid],
            )
            con.execute(
                "CREATE TABLE clones AS SELECT repo_id, path FROM src.repo_clones WHERE snapshot_id = ?"
                " AND status = 'ok' AND path IS NOT NULL",
                [sid],
            )
            con.execute(
                "CREATE TABLE commits AS SELECT * EXCLUDE (snapshot_id) FROM src.commits WHERE snapshot_id = ?",
                [sid],
            )
            con.execute(
                "CREATE TABLE card_status AS SELECT repo_id, status FROM src.cards WHERE snapshot_id = ?", [sid]
            )
        finally:
            con.execute("DETACH src")
        self.models = int(con.execute("SELECT count(*) FROM models").fetchall()[0][0])
        self.readmes = int(
            con.execute(
                "SELECT count(DISTINCT repo_id) FROM repo_files WHERE path = 'README.md' AND content IS NOT NULL"
            ).fetchall()[0][0]
        )
        """Models whose README.md bytes the snapshot holds (what ``/resolve/.../README.md`` can serve)."""
        self.cards = int(con.execute("SELECT count(*) FROM card_status WHERE status <> 'missing'").fetchall()[0][0])
        """Models whose card the snapshot read (with or without keeping its bytes)."""
        self._clones = {r[0]: Path(r[1]) for r in con.execute("SELECT repo_id, path FROM clones").fetchall()}
        self._shas: dict[str, str | None] = dict(con.execute("SELECT repo_id, sha FROM models").fetchall())

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()

    def close(self) -> None:
        """Free the in-memory copy (requests still in flight then fail with a 500)."""
        with self._lock:
            self._con.close()

    # -- models ----------------------------------------------------------------------

    def has_model(self, repo_id: str) -> bool:
        """True when the snapshot holds this model."""
        return repo_id in self._shas

    def list_models(
        self,
        *,
        search: str | None = None,
        author: str | None = None,
        filters: list[str] | None = None,
        sort: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        cursor: str | None = None,
        keys: frozenset[str] | None = None,
    ) -> Page:
        """One page of models matching the query, and the cursor of the next page (None at the end)."""
        where, params = ["true"], []
        if search:
            where.append("contains(lower(repo_id), lower(?))")
            params.append(search[:200])
        if author:
            where.append("(namespace = ? OR author = ?)")
            params += [author[:200], author[:200]]
        for value in (filters or [])[:20]:
            where.append("(list_contains(tags, ?) OR pipeline_tag = ? OR library_name = ?)")
            params += [value[:200]] * 3
        size = max(1, min(limit or MAX_PAGE, MAX_PAGE))
        state = _decode_cursor(cursor)
        column = SORT_COLUMNS.get(sort or "")
        keyset = column is None or column == "repo_id"
        if keyset:
            # Keyset pagination on the id: constant cost per page however deep.
            order = "repo_id DESC" if column and descending else "repo_id"
            after = state.get("k")
            if isinstance(after, str):
                where.append("repo_id < ?" if column and descending else "repo_id > ?")
                params.append(after)
            offset = 0
        else:
            order = f"{column} {'DESC' if descending else 'ASC'} NULLS LAST, repo_id"
            raw = state.get("o")
            offset = raw if isinstance(raw, int) else 0
        sql = (
            f"SELECT {_MODEL_COLUMNS} FROM models WHERE {' AND '.join(where)} ORDER BY {order}"
            f" LIMIT {size + 1} OFFSET {max(0, int(offset))}"
        )
        rows = self._cursor().execute(sql, params).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        items = [model_json(row, keys) for row in rows]
        next_cursor = None
        if more and rows:
            next_cursor = _encode_cursor({"k": rows[-1][0]} if keyset else {"o": offset + size})
        return Page(items, next_cursor)

    def model(self, repo_id: str, keys: frozenset[str] | None = None) -> dict[str, Any] | None:
        """One model, with everything the snapshot holds about it (or the expanded keys)."""
        rows = self._cursor().execute(f"SELECT {_MODEL_COLUMNS} FROM models WHERE repo_id = ?", [repo_id]).fetchall()
        return model_json(rows[0], keys) if rows else None

    def model_sha(self, repo_id: str) -> str | None:
        """The revision of a model in the snapshot."""
        return self._shas.get(repo_id)

    # -- files, organizations, commits, clones ------------------------------------------

    def file(self, repo_id: str, path: str) -> StoredFile | None:
        """A stored file of a model, or None."""
        rows = (
            self._cursor()
            .execute("SELECT content, blob_id FROM repo_files WHERE repo_id = ? AND path = ? LIMIT 1", [repo_id, path])
            .fetchall()
        )
        if not rows or rows[0][0] is None:
            return None
        return StoredFile(bytes(rows[0][0]), rows[0][1], self.model_sha(repo_id))

    def file_records(self, repo_id: str) -> list[FileRecord]:
        """A model's files as the snapshot lists them (its ``model_files`` rows)."""
        rows = self._cursor().execute("SELECT files FROM models WHERE repo_id = ?", [repo_id]).fetchall()
        files = rows[0][0] if rows else None
        return [FileRecord(f["path"], f["size"], f["blob"], f["lfs"]) for f in files or []]

    def missing_file_reason(self, repo_id: str, path: str) -> str:
        """Why ``file(repo_id, path)`` has nothing to serve, in one or two sentences for the 404 body."""
        if path != "README.md":
            return f"Entry not found: serve-hub serves README.md only; the snapshot holds no copy of {path[:200]}"
        cursor = self._cursor()
        status = cursor.execute("SELECT status FROM card_status WHERE repo_id = ? LIMIT 1", [repo_id]).fetchall()
        has_readme = cursor.execute("SELECT has_readme FROM models WHERE repo_id = ?", [repo_id]).fetchall()
        if (status and status[0][0] == "missing") or (has_readme and has_readme[0][0] is False):
            return f"Entry not found: {repo_id} had no README.md when the snapshot was taken"
        if status:
            return (
                f"Entry not found: the snapshot read {repo_id}'s card but did not keep its bytes (imported without "
                "--keep-cards). To serve READMEs, import its files again with --keep-cards and serve that snapshot "
                "(serve-hub printed the exact command when it started)"
            )
        return f"Entry not found: the snapshot holds no card for {repo_id} (its cards were not imported or crawled)"

    def organization(self, name: str) -> dict[str, Any] | None:
        """An organization's overview as the Hub sends it."""
        rows = (
            self._cursor()
            .execute(
                "SELECT name, fullname, is_verified, num_users, num_models, num_followers FROM orgs WHERE name = ?",
                [name],
            )
            .fetchall()
        )
        if not rows:
            return None
        name_, fullname, verified, users, models, followers = rows[0]
        out = {"name": name_, "fullname": fullname, "isVerified": verified, "numUsers": users,
               "numModels": models, "numFollowers": followers, "type": "org"}  # fmt: skip
        return {k: v for k, v in out.items() if v is not None}

    def commits(self, repo_id: str, page: int, per_page: int = 100) -> tuple[list[dict[str, Any]], bool]:
        """A page of a repo's commits, newest first, as ``/api/models/{id}/commits/{rev}`` sends them."""
        rows = (
            self._cursor()
            .execute(
                "SELECT sha, author, committed_at, message FROM commits WHERE repo_id = ?"
                " ORDER BY position, committed_at DESC, sha LIMIT ? OFFSET ?",
                [repo_id, per_page + 1, max(0, page) * per_page],
            )
            .fetchall()
        )
        items = []
        for sha, author, committed_at, message in rows[:per_page]:
            text = message or ""
            items.append(
                {
                    "id": sha,
                    "title": text.split("\n", 1)[0],
                    "message": text,
                    "authors": [{"user": author or ""}],
                    "date": iso(committed_at),
                }
            )
        return items, len(rows) > per_page

    def clone_path(self, repo_id: str) -> Path | None:
        """Where the bare clone of a repo lives, when the snapshot has one."""
        return self._clones.get(repo_id)


def keep_cards_command(snapshot: Snapshot, db: str | None = None) -> str:
    """The commands that make a snapshot like ``snapshot`` whose README.md files serve-hub can serve.

    ``db``: the store file named on the command line (None: the default store).
    """
    name = shlex.quote(f"{snapshot.name}-cards") + (f" --db {shlex.quote(db)}" if db else "")
    front = " --front-matter hub-2022" if snapshot.front_matter == "hub-2022" else ""
    if snapshot.source == "bundled" and snapshot.name in BUNDLES:
        files = " ".join(shlex.quote(str(p)) for p in sample_paths(snapshot.name))
        return (
            f"ptmscope import {files} --snapshot {name} --keep-cards{front}, then ptmscope serve-hub --snapshot {name}"
        )
    if snapshot.source == "crawl":
        return "rerun the crawl that made the snapshot (a crawl keeps README bytes; an interrupted one continues)"
    files = " ".join(shlex.quote(f) for f in (snapshot.source_detail or "").split(", ") if f) or "FILES..."
    return (
        f"ptmscope import {files} --snapshot {name} --keep-cards{front} (the files this snapshot was imported from), "
        f"then ptmscope serve-hub --snapshot {name}"
    )


def model_json(row: tuple[Any, ...], keys: frozenset[str] | None = None) -> dict[str, Any]:
    """The Hub's JSON for one model row; ``keys`` limits it (None: everything known). Unknown values are left out."""
    (repo_id, author, sha, last_modified, created_at, private, gated, disabled, downloads, downloads_all_time,
     likes, pipeline_tag, library_name, model_type, architectures, has_auto_map, quantization, num_files,
     parameters, used_storage, security, card_data, tags, files) = row  # fmt: skip
    out: dict[str, Any] = {"_id": repo_id, "id": repo_id, "modelId": repo_id}
    config: dict[str, Any] | None = None
    if model_type is not None or architectures is not None or has_auto_map is not None or quantization is not None:
        # The store keeps what ptmscope reads from config.json, not the file: serve that much back.
        config = {}
        if model_type is not None:
            config["model_type"] = model_type
        if architectures is not None:
            config["architectures"] = list(architectures)
        if has_auto_map:
            config["auto_map"] = {"AutoModel": "(the mapping is not stored in the snapshot)"}
        if quantization is not None:
            bits = quantization.removesuffix("-bit")
            config["quantization_config"] = (
                {"bits": int(bits)} if bits.isdigit() else {} if quantization == "unspecified"
                else {"quant_method": quantization}
            )  # fmt: skip
    siblings = None
    if files:
        siblings = []
        for f in files:
            entry: dict[str, Any] = {"rfilename": f["path"]}
            if f["size"] is not None:
                entry["size"] = f["size"]
            if f["blob"] is not None:
                entry["blobId"] = f["blob"]
            if f["lfs"] is not None:  # with its size and pointer size: huggingface_hub reads all three
                entry["lfs"] = FileRecord(f["path"], f["size"], None, f["lfs"]).lfs("sha256")
            siblings.append(entry)
    elif num_files == 0:
        siblings = []
    values = {
        "author": author,
        "sha": sha,
        "lastModified": iso(last_modified),
        "createdAt": iso(created_at),
        "private": private,
        "gated": None if gated is None else (False if gated == "no" else gated),
        "disabled": disabled,
        "downloads": downloads,
        "downloadsAllTime": downloads_all_time,
        "likes": likes,
        "pipeline_tag": pipeline_tag,
        "library_name": library_name,
        "tags": list(tags) if tags is not None else None,
        "siblings": siblings,
        "config": config,
        "cardData": orjson.loads(card_data) if card_data is not None else None,
        "safetensors": {"total": parameters} if parameters is not None else None,
        "usedStorage": used_storage,
        "securityRepoStatus": orjson.loads(security) if security is not None else None,
    }
    for key, value in values.items():
        if value is not None and (keys is None or key in keys):
            out[key] = value
    return out


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The listing position a cursor names; a cursor that is not ours means the first page."""
    if not cursor or len(cursor) > 4_000:
        return {}
    try:
        state = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}
