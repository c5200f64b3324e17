"""The scanner as a library: ``scan_file`` and ``scan_paths`` (``audit`` calls these).

Each file is read with ordinary reads (``reader``: whole when small, a window at a time when
large; never memory-mapped) and its format detected by content; the matching module
scans it and writes findings into one ``PickleContext``. Archives recurse into their
members through the same dispatcher. Any failure on one file becomes data (a finding or a
``SkippedFile``), never an exception out of ``scan_paths``. A remote file is scanned by the same
code (``scan_contents``) through ``scanners.remote``, which reads it with HTTP range requests.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ptmscope.scanners import archives, joblib, reader
from ptmscope.scanners.context import BufferLike, PickleContext, ScanTimeout
from ptmscope.scanners.detect import detect
from ptmscope.scanners.gguf import scan_gguf
from ptmscope.scanners.interface import (
    FileResult,
    Finding,
    ScannedFile,
    ScanOptions,
    ScanReport,
    SkippedFile,
    severity_rank,
)
from ptmscope.scanners.keras import scan_hdf5
from ptmscope.scanners.npy import scan_npy
from ptmscope.scanners.onnxfile import scan_onnx
from ptmscope.scanners.pickle import analyze_pickle
from ptmscope.scanners.reader import FileBuffer, FileChanged, ReadStopped, kind_of
from ptmscope.scanners.safetensors import scan_safetensors
from ptmscope.scanners.savedmodel import scan_saved_model

Progress = Callable[[str, int], None]
"""Called after each file with its path and size (the CLI drives a progress bar with it)."""

_COMPRESSED = ("gzip", "bz2", "xz", "lzma", "zlib", "joblib-zfile")
# format -> its scanner, function(buf, start, end, ctx, member)
_SIMPLE: dict[str, Callable[[BufferLike, int, int, PickleContext, str | None], None]] = {
    "npy": scan_npy,
    "hdf5": scan_hdf5,
    "gguf": scan_gguf,
    "safetensors": scan_safetensors,
    "onnx": scan_onnx,
    "tf-savedmodel": scan_saved_model,
}


def scan_buffer(
    buf: BufferLike,
    start: int,
    end: int,
    ctx: PickleContext,
    member: str | None = None,
    name: str = "",
    depth: int = 0,
) -> str:
    """Detect the format of ``buf[start:end]``, scan it into ``ctx``, and return the format id."""
    fmt = detect(buf, start, end, name, nested=depth > 0)
    if depth == 0 and fmt not in ("zip", "empty", "unknown"):
        _check_polyglot(buf, start, end, ctx, member, depth)

    def recurse(b: BufferLike, s: int, e: int, where: str, nm: str, d: int) -> str:
        return scan_buffer(b, s, e, ctx, where, nm, d)

    if fmt == "pickle":
        analyze_pickle(buf, start, end, ctx, member)
    elif fmt in ("zip", "tar", "7z"):
        scanner = {"zip": archives.scan_zip, "tar": archives.scan_tar, "7z": archives.scan_7z}[fmt]
        return scanner(buf, start, end, ctx, member, depth, recurse)
    elif fmt in _COMPRESSED:
        if depth + 1 > ctx.max_depth:
            ctx.add("suspicious", "archive-too-deep", "compressed streams nest deeper than the limit", member)
            return fmt
        data = joblib.inflate(buf, start, end, fmt, ctx, member)
        if data is not None:
            return f"{fmt}+{scan_buffer(data, 0, len(data), ctx, member, name, depth + 1)}"
    elif fmt in _SIMPLE:
        _SIMPLE[fmt](buf, start, end, ctx, member)
    return fmt


def _check_polyglot(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None, depth: int) -> None:
    """A file that is also a zip (central directory at its end) is scanned as a zip too.

    ``torch.load`` decides by the first bytes, but ``zipfile``-based loaders (numpy, Keras,
    skops) look at the end: a pickle with a zip appended would hide the zip's members.
    """
    if end - start < 22 or bytes(buf[max(start, end - 65557) : end]).rfind(b"PK\x05\x06") < 0:
        return
    members, used_cd = archives.read_zip(buf, start, end)
    if not used_cd or not members:
        return
    ctx.add("suspicious", "polyglot-zip", "the file is also a zip archive; its members were scanned too", member)

    def recurse(b: BufferLike, s: int, e: int, where: str, nm: str, d: int) -> str:
        return scan_buffer(b, s, e, ctx, where, nm, d)

    archives.scan_zip(buf, start, end, ctx, member, depth, recurse)


def _sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    unique = list(dict.fromkeys(findings))
    return tuple(sorted(unique, key=lambda f: (-severity_rank(f.severity), f.member or "", f.offset or 0)))


def scan_file(
    path: str | os.PathLike[str], options: ScanOptions | None = None, display: str | None = None
) -> FileResult:
    """Scan one file statically and return what was found.

    Args:
        path: the file to read; it is read with ordinary reads (never memory-mapped, so a file
            truncated meanwhile cannot kill the process) and never executed. Symbolic links are
            followed; anything that is not a regular file (FIFO, device, socket) is never opened.
        options: limits (size, time, depth); defaults to ``ScanOptions()``.
        display: the path to show in results (defaults to ``str(path)``).

    Returns:
        A ``ScannedFile`` with findings, or a ``SkippedFile``: too large (``unscanned=True``),
        unreadable or not a regular file (``error=True``), empty, or of a format ptmscope does not
        read. A file that changed while it was read is a ``ScannedFile`` with the findings made so
        far and an ``unparseable`` ``file-changed`` finding.
    """
    options = options or ScanOptions()
    shown = display or str(path)
    started = time.monotonic()
    try:
        st = Path(path).stat()
    except OSError as error:
        return SkippedFile(shown, _cannot_read(error), error=True)
    size = st.st_size
    skipped = _not_to_read(st, shown, options)  # checked before the open: a device is never opened
    if skipped is not None:
        return skipped
    try:
        # O_NONBLOCK: if the path became a FIFO since the stat, the open returns instead of waiting
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return SkippedFile(shown, _cannot_read(error), error=True, size=size)
    try:
        opened = os.fstat(fd)
        size = opened.st_size
        skipped = _not_to_read(opened, shown, options)  # and again on what was opened: the path may have changed
        if skipped is not None:
            return skipped
        return _scan_open(fd, opened, shown, Path(path).name, options, started)
    except OSError as error:
        return SkippedFile(shown, _cannot_read(error), error=True, size=size)
    finally:
        os.close(fd)


def _not_to_read(st: os.stat_result, shown: str, options: ScanOptions) -> SkippedFile | None:
    """The result for a file that is not read (not a regular file, over the size limit, empty), else None."""
    kind = kind_of(st.st_mode)
    if kind is not None:
        return SkippedFile(shown, f"not a regular file: {kind}; not read", error=True)
    if options.max_file_size is not None and st.st_size > options.max_file_size:
        return too_large(shown, st.st_size, options.max_file_size)
    if st.st_size == 0:
        return SkippedFile(shown, "empty file", size=0)
    return None


def _cannot_read(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file (or a broken symbolic link)"
    return f"cannot read: {error.strerror or error}"


def too_large(shown: str, size: int, limit: int) -> SkippedFile:
    """The result of a file larger than ``--max-file-size``: not read, so unscanned."""
    return SkippedFile(
        shown, f"not scanned: larger than --max-file-size ({size:,} > {limit:,} bytes)", size=size, unscanned=True
    )


def _scan_open(
    fd: int, opened: os.stat_result, shown: str, name: str, options: ScanOptions, started: float
) -> ScannedFile | SkippedFile:
    """Read and scan an open regular file (see ``scan_file``)."""
    size = opened.st_size
    ctx = new_context(options, started)
    changed: ReadStopped | None = None
    buf: BufferLike
    if size <= reader.WHOLE_READ:
        data = reader.read_exactly(fd, size, 0)
        if len(data) < size:
            changed = FileChanged(size, len(data))
        buf, end = data, len(data)
    else:
        buf, end = FileBuffer(fd, size), size
    fmt, stopped = scan_contents(buf, end, ctx, name, options)
    changed = changed or stopped
    if changed is None and isinstance(buf, FileBuffer):
        changed = buf.shrunk  # a format reader may have caught the exception as a damaged file
    after = os.fstat(fd)
    if changed is None and (after.st_size != size or after.st_mtime_ns != opened.st_mtime_ns):
        changed = FileChanged(size, after.st_size)
    if changed is not None:
        shrank = isinstance(changed, FileChanged) and changed.got < size
        what = str(changed) if shrank else "the file was modified while it was being scanned"
        ctx.add("unparseable", "file-changed", f"{what}; findings are partial: scan it again", None)
    return file_result(ctx, fmt, shown, size, options, started)


def new_context(options: ScanOptions, started: float) -> PickleContext:
    """The context of one file's scan, with the limits of ``options`` (the deadline counts from ``started``)."""
    return PickleContext(
        deadline=started + options.timeout,
        max_depth=options.max_depth,
        max_member_size=options.max_member_size,
        max_ratio=options.max_ratio,
        allow_globals=options.allow_globals,
        deny_globals=options.deny_globals,
    )


def scan_contents(
    buf: BufferLike, end: int, ctx: PickleContext, name: str, options: ScanOptions
) -> tuple[str, ReadStopped | None]:
    """Scan a whole file, ``buf[0:end]``, into ``ctx``; return its format and the failed read that stopped it, if any.

    The one code path of local (``scan_file``) and remote (``scanners.remote``) scans. A scanner that
    times out, runs out of memory or recursion, or fails is a finding; a failed read (``ReadStopped``:
    the file shrank, a remote read failed or ran out of budget) is returned for the caller to report,
    with the findings made so far kept in ``ctx``.
    """
    fmt = "unknown"
    try:
        fmt = scan_buffer(buf, 0, end, ctx, None, name)
    except ReadStopped as error:
        return fmt, error
    except ScanTimeout:
        ctx.add(
            "unparseable",
            "scan-timeout",
            f"scanning stopped after the {options.timeout:g}s per-file limit; findings are partial",
            None,
        )
    except (MemoryError, RecursionError) as error:
        ctx.add("unparseable", "scan-resource-limit", f"scanning ran out of {type(error).__name__}", None)
    except Exception as error:
        ctx.add(
            "unparseable",
            "scanner-error",
            f"internal scanner error ({type(error).__name__}: {str(error)[:200]}); please report it",
            None,
        )
    return fmt, None


def file_result(
    ctx: PickleContext, fmt: str, shown: str, size: int, options: ScanOptions, started: float
) -> ScannedFile | SkippedFile:
    """The result of a scan: its findings (imports classified, most severe first), or a skip for an unknown format."""
    findings = _sorted_findings([*ctx.findings, *ctx.import_findings()])
    if fmt == "unknown" and not findings and not options.scan_unknown:
        return SkippedFile(shown, "not a model file format ptmscope reads", size=size)
    return ScannedFile(shown, fmt, size, findings, time.monotonic() - started)


def _is_hf_blobs_dir(dirpath: str, name: str) -> bool:
    parent = Path(dirpath).name
    return name == "blobs" and parent.startswith(("models--", "datasets--", "spaces--"))


def iter_files(paths: Iterable[str | os.PathLike[str]], errors: list[str]) -> Iterator[tuple[Path, str]]:
    """Yield ``(file, display path)`` for files and folders (recursively), each file once.

    In a Hugging Face cache, ``snapshots/<rev>/`` symlinks point into ``blobs/``; snapshot
    paths are visited first so results show file names, and each blob is scanned once.
    Everything that is not a folder is yielded, FIFOs, devices and broken links included
    (``scan_file`` reports them without opening them). Missing paths are appended to ``errors``.
    """
    seen: set[tuple[int, int]] = set()

    def once(p: Path) -> bool:
        try:
            st = p.stat()
        except OSError:
            return True
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in paths:
        root = Path(raw)
        try:
            is_dir = stat.S_ISDIR(root.stat().st_mode)
        except FileNotFoundError:
            errors.append(f"{raw}: no such file or folder")
            continue
        except OSError as error:
            errors.append(f"{raw}: cannot read: {error.strerror or error}")
            continue
        if not is_dir:
            if once(root):
                yield root, str(raw)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort(key=lambda d: (_is_hf_blobs_dir(dirpath, d), d))
            dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__")]
            for filename in sorted(filenames):
                p = Path(dirpath) / filename
                if once(p):
                    yield p, str(p)


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan files and folders (recursively) and return one report.

    Args:
        paths: files and folders; folders are walked recursively (Hugging Face cache folders
            included). Nothing is executed and nothing is written.
        options: limits per file.
        progress: optional callback after each file (for progress bars).

    Returns:
        A ``ScanReport``; paths that do not exist are listed in ``report.errors``.
    """
    options = options or ScanOptions()
    started_wall = time.time()
    started = time.monotonic()
    errors: list[str] = []
    results: list[FileResult] = []
    for file, shown in iter_files(paths, errors):
        result = scan_file(file, options, shown)
        results.append(result)
        if progress is not None:
            progress(shown, result.size or 0)
    return ScanReport(tuple(results), tuple(errors), started_wall, time.monotonic() - started)
