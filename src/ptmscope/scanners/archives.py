"""Zip, tar and 7z archives: list members, report traversal and bombs, scan members in memory.

Nothing is ever extracted to disk. Stored (uncompressed) zip and tar members are scanned in
place, as a range of the memory-mapped file, so a multi-GB PyTorch checkpoint costs no
copy. Compressed members are inflated into memory up to ``max_member_size``.

The zip reader is our own and deliberately tolerant, like PyTorch's loader: it trusts the
central directory for sizes and offsets, ignores CRCs and the "patched data" / "strong
encryption" flag bits that make :mod:`zipfile` refuse an archive, survives a local header
whose name disagrees with the central directory, and falls back to walking local headers
when the central directory is missing or broken.
"""

from __future__ import annotations

import bz2
import io
import lzma
import posixpath
import re
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.keras import check_config_bytes
from ptmscope.scanners.torch import check_torchscript_code

# recurse(buf, start, end, member_path, name, depth) -> detected format
Recurse = Callable[[BufferLike, int, int, str, str, int], str]

_CHUNK = 1 << 20
_STORAGE = re.compile(r"(^|/)data/\d+$")


@dataclass(frozen=True)
class ZipMember:
    """One zip entry as the central directory (or its local header) describes it."""

    name: str
    method: int
    flags: int
    compressed_size: int
    size: int
    data_offset: int
    """Where the member's bytes start; -1 until the local header has been read."""
    header_offset: int = -1
    """Where the member's local header starts."""
    mode: int = 0
    """Unix mode bits from the central directory (high 16 bits of the external attributes), 0 when unknown."""


def join_member(parent: str | None, name: str) -> str:
    """The display path of ``name`` inside ``parent`` (``a.zip::b/c.pkl``)."""
    return name if not parent else f"{parent}::{name}"


def unsafe_path(name: str) -> str | None:
    """Why an archive member name would escape the extraction folder, or None."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        return "absolute path"
    if ".." in normalized.split("/"):
        return "parent-directory (..) component"
    return None


def link_escapes(name: str, target: str, hard: bool = False) -> bool:
    """True when a link member ``name`` pointing at ``target`` leads outside the extraction folder.

    A symbolic link's target is relative to the link's folder, a tar hard link's to the
    archive's root. Absolute targets (``/etc/passwd``, ``C:\\x``) always escape.
    """
    normalized = target.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        return True
    base = "" if hard else posixpath.dirname(name.replace("\\", "/"))
    resolved = posixpath.normpath(posixpath.join(base, normalized))
    return resolved == ".." or resolved.startswith(("../", "/"))


def report_link(ctx: PickleContext, where: str, name: str, target: str, hard: bool = False) -> None:
    """Report a link member whose target leads outside the extraction folder (tar and zip alike)."""
    if link_escapes(name, target, hard):
        shown = target if len(target) <= 200 else target[:197] + "..."
        ctx.add(
            "dangerous",
            "archive-link-escape",
            f"link points outside the archive ({shown}): extracting it exposes or overwrites files outside "
            "the target folder",
            where,
            None,
            shown,
        )


def check_member_name(ctx: PickleContext, where: str, name: str, offset: int | None) -> None:
    """Report a member name that would escape the extraction folder."""
    reason = unsafe_path(name)
    if reason:
        ctx.add(
            "dangerous",
            "archive-path-traversal",
            f"unsafe member name ({reason}): extracting it writes outside the target folder",
            where,
            offset,
            name,
        )


# --- zip -------------------------------------------------------------------------------


def _u16(buf: BufferLike, pos: int) -> int:
    return int.from_bytes(bytes(buf[pos : pos + 2]), "little")


def _u32(buf: BufferLike, pos: int) -> int:
    return int.from_bytes(bytes(buf[pos : pos + 4]), "little")


def _u64(buf: BufferLike, pos: int) -> int:
    return int.from_bytes(bytes(buf[pos : pos + 8]), "little")


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag = int.from_bytes(extra[pos : pos + 2], "little")
        length = int.from_bytes(extra[pos + 2 : pos + 4], "little")
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            values = [int.from_bytes(body[i : i + 8], "little") for i in range(0, len(body) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return usize, csize, offset


def _central_directory(buf: BufferLike, start: int, end: int) -> list[ZipMember] | None:
    tail_start = max(start, end - 65557)
    tail = bytes(buf[tail_start:end])
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0 or eocd + 22 > len(tail):
        return None
    eocd_pos = tail_start + eocd
    count = _u16(buf, eocd_pos + 10)
    cd_size = _u32(buf, eocd_pos + 12)
    cd_offset = _u32(buf, eocd_pos + 16)
    # a zip64 end record (PyTorch always writes one) sits between the directory and the EOCD
    loc = eocd_pos - 20
    if loc >= start and bytes(buf[loc : loc + 4]) == b"PK\x06\x07":
        rec = loc - 56
        if rec >= start and bytes(buf[rec : rec + 4]) == b"PK\x06\x06":
            count = _u64(buf, rec + 32)
            cd_size = _u64(buf, rec + 40)
            cd_offset = _u64(buf, rec + 48)
            eocd_pos = rec
    # data prepended to the archive shifts every offset (zipfile calls this "concat")
    cd_start = eocd_pos - cd_size
    delta = cd_start - (start + cd_offset)
    if cd_start < start:
        return None
    members: list[ZipMember] = []
    pos = cd_start
    while pos + 46 <= eocd_pos and bytes(buf[pos : pos + 4]) == b"PK\x01\x02" and len(members) < 1_000_000:
        mode = _u32(buf, pos + 38) >> 16  # Unix st_mode, as zip and Info-ZIP write it
        flags = _u16(buf, pos + 8)
        method = _u16(buf, pos + 10)
        csize = _u32(buf, pos + 20)
        usize = _u32(buf, pos + 24)
        nlen, elen, clen = _u16(buf, pos + 28), _u16(buf, pos + 30), _u16(buf, pos + 32)
        local = _u32(buf, pos + 42)
        raw_name = bytes(buf[pos + 46 : pos + 46 + nlen])
        extra = bytes(buf[pos + 46 + nlen : pos + 46 + nlen + elen])
        usize, csize, local = _zip64_extra(extra, usize, csize, local)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        # the local header is read later, only for members that are scanned: touching every
        # header of a checkpoint with thousands of storages would page in the whole file
        members.append(ZipMember(name, method, flags, csize, usize, -1, start + local + delta, mode))
        pos += 46 + nlen + elen + clen
    return members if members or count == 0 else None


def _local_headers(buf: BufferLike, start: int, end: int) -> list[ZipMember]:
    """Walk local file headers from the start when there is no usable central directory."""
    members: list[ZipMember] = []
    pos = start
    while pos + 30 <= end and bytes(buf[pos : pos + 4]) == b"PK\x03\x04":
        flags = _u16(buf, pos + 6)
        method = _u16(buf, pos + 8)
        csize = _u32(buf, pos + 18)
        usize = _u32(buf, pos + 22)
        nlen, elen = _u16(buf, pos + 26), _u16(buf, pos + 28)
        name = bytes(buf[pos + 30 : pos + 30 + nlen]).decode("utf-8", "replace")
        data = pos + 30 + nlen + elen
        if flags & 0x08 and csize == 0:
            # sizes follow the data in a descriptor: find the next header
            nxt = bytes(buf[data : min(end, data + (64 << 20))]).find(b"PK\x07\x08")
            csize = nxt if nxt >= 0 else end - data
            usize = csize if method == 0 else usize
        members.append(ZipMember(name, method, flags, csize, usize, data, pos))
        pos = data + csize
        if bytes(buf[pos : pos + 4]) == b"PK\x07\x08":
            pos += 16
    return members


def _with_data_offset(buf: BufferLike, m: ZipMember, end: int) -> ZipMember | None:
    pos = m.header_offset
    if pos < 0 or pos + 30 > end or bytes(buf[pos : pos + 4]) != b"PK\x03\x04":
        return None
    data = pos + 30 + _u16(buf, pos + 26) + _u16(buf, pos + 28)
    return ZipMember(m.name, m.method, m.flags, m.compressed_size, m.size, data, pos, m.mode)


def is_storage(flavour: str, name: str) -> bool:
    """True for the raw tensor storages of a PyTorch/TorchScript zip (``.../data/<n>``)."""
    return flavour in ("pytorch-zip", "torchscript") and _STORAGE.search(name) is not None


def read_zip(buf: BufferLike, start: int, end: int) -> tuple[list[ZipMember], bool]:
    """List the members of the zip in ``[start, end)``; the flag tells if the central directory was used.

    Data offsets are resolved for every member except PyTorch storages (which are never
    scanned). If a local header is missing where the central directory points, the
    directory is not trusted and local headers are walked from the start instead.
    """
    members = _central_directory(buf, start, end)
    if members is not None:
        flavour = zip_flavour([m.name for m in members])
        resolved: list[ZipMember] = []
        for m in members:
            if is_storage(flavour, m.name):
                resolved.append(m)
                continue
            r = _with_data_offset(buf, m, end)
            if r is None:
                break
            resolved.append(r)
        else:
            return resolved, True
    return _local_headers(buf, start, end), False


def zip_flavour(names: list[str]) -> str:
    """Name the kind of zip from its member names (PyTorch, TorchScript, npz, Keras, skops)."""
    base = {n.rsplit("/", 1)[-1] for n in names}
    if any("/code/" in f"/{n}" for n in names) and "constants.pkl" in base:
        return "torchscript"
    if "data.pkl" in base and ("version" in base or any("/data/" in f"/{n}" for n in names)):
        return "pytorch-zip"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
        return "keras"
    if "schema.json" in names:
        return "skops"
    return "zip"


def _inflate(ctx: PickleContext, buf: BufferLike, m: ZipMember, where: str) -> bytes | None:
    cap = ctx.max_member_size
    if m.method == 8:
        d: Any = zlib.decompressobj(-15)
    elif m.method == 12:
        d = bz2.BZ2Decompressor()
    elif m.method == 14:
        props = bytes(buf[m.data_offset : m.data_offset + 4])
        psize = int.from_bytes(props[2:4], "little")
        filt = lzma._decode_filter_properties(  # type: ignore[attr-defined]
            lzma.FILTER_LZMA1, bytes(buf[m.data_offset + 4 : m.data_offset + 4 + psize])
        )
        d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])
        m = ZipMember(
            m.name,
            m.method,
            m.flags,
            m.compressed_size - 4 - psize,
            m.size,
            m.data_offset + 4 + psize,
            m.header_offset,
            m.mode,
        )
    else:
        ctx.add(
            "info",
            "archive-unsupported-compression",
            f"compression method {m.method} is not supported; member not scanned",
            where,
        )
        return None
    out = bytearray()
    pos, end = m.data_offset, m.data_offset + m.compressed_size
    while pos < end and len(out) <= cap:
        chunk = bytes(buf[pos : min(end, pos + _CHUNK)])
        pos += len(chunk)
        out += d.decompress(chunk, max_length=cap + 1 - len(out)) if m.method != 14 else d.decompress(chunk)
        ctx.check_time()
    if len(out) > cap:
        ctx.add(
            "unparseable",
            "archive-member-too-large",
            f"member inflates past the {cap}-byte limit; only checked partly",
            where,
        )
        return None
    return bytes(out)


def scan_zip(
    buf: BufferLike,
    start: int,
    end: int,
    ctx: PickleContext,
    member: str | None,
    depth: int,
    recurse: Recurse,
) -> str:
    """Scan every member of a zip (PyTorch, TorchScript, npz, Keras, skops or plain)."""
    members, used_cd = read_zip(buf, start, end)
    names = [m.name for m in members]
    flavour = zip_flavour(names)
    if not used_cd:
        ctx.add(
            "info",
            "zip-no-central-directory",
            "the zip's central directory is missing or damaged; members were found by walking local headers",
            member,
        )
    total_in = total_out = 0
    for m in members:
        where = join_member(member, m.name)
        check_member_name(ctx, where, m.name, m.header_offset)
        _check_zip_mode(ctx, buf, m, where, end)
        if is_storage(flavour, m.name):
            # raw tensor bytes: torch.load never interprets a storage as anything but numbers,
            # and random floats can look like any magic number, so they are not probed
            continue
        if m.data_offset < 0 or m.data_offset + m.compressed_size > end:
            ctx.add("unparseable", "archive-member-unreadable", "member data lies outside the archive", where)
            continue
        total_in += m.compressed_size
        total_out += m.size
        if m.compressed_size and m.size / m.compressed_size > ctx.max_ratio and m.size > (1 << 20):
            ctx.add(
                "suspicious",
                "archive-bomb",
                f"member claims a {m.size / m.compressed_size:.0f}:1 compression ratio ({m.size} bytes)",
                where,
                m.data_offset,
            )
        if m.name.endswith("/") and m.size == 0:
            continue
        if depth + 1 > ctx.max_depth:
            ctx.add("suspicious", "archive-too-deep", "archives nest deeper than the limit", where)
            continue
        if m.method == 0:
            fmt = recurse(buf, m.data_offset, m.data_offset + m.compressed_size, where, m.name, depth + 1)
        else:
            if m.flags & 1:
                ctx.add("info", "archive-encrypted-member", "member is encrypted and was not scanned", where)
                continue
            try:
                data = _inflate(ctx, buf, m, where)
            except (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError) as error:
                ctx.add("unparseable", "archive-member-corrupt", f"member does not decompress: {error}", where)
                continue
            if data is None:
                continue
            fmt = recurse(data, 0, len(data), where, m.name, depth + 1)
        if m.flags & 1 and fmt == "unknown":
            ctx.add("info", "archive-encrypted-member", "member is encrypted and was not scanned", where)
        elif flavour == "keras" and m.name == "config.json":
            check_config_bytes(ctx, _member_bytes(ctx, buf, m, where), where)
        elif flavour == "torchscript" and m.name.endswith(".py") and "/code/" in f"/{m.name}":
            check_torchscript_code(ctx, _member_bytes(ctx, buf, m, where), where)
    if total_in and total_out / total_in > ctx.max_ratio and total_out > (64 << 20):
        ctx.add(
            "suspicious",
            "archive-bomb",
            f"archive inflates {total_out / total_in:.0f}:1 to {total_out} bytes",
            member,
        )
    return flavour


_LINK_MAX = 4096  # PATH_MAX: a longer link target is not a path any system follows


def _check_zip_mode(ctx: PickleContext, buf: BufferLike, m: ZipMember, where: str, end: int) -> None:
    """Report symbolic links that escape (unzip and most extractors create them) and special files.

    The member is still scanned as data afterwards: ``zipfile``-based loaders ignore the mode and
    read a "link" member's bytes as its content.
    """
    kind = stat.S_IFMT(m.mode)
    if kind == stat.S_IFLNK:
        target = _link_target(ctx, buf, m, where, end)
        if target is None:
            ctx.add("unparseable", "archive-member-unreadable", "symbolic link target cannot be read", where)
        elif len(target) > _LINK_MAX or b"\x00" in target:
            ctx.add("suspicious", "archive-special-file", "symbolic link with a target that is not a path", where)
        else:
            report_link(ctx, where, m.name, target.decode("utf-8", "replace"))
    elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        ctx.add("suspicious", "archive-special-file", "archive holds a device, FIFO or socket", where)


def _link_target(ctx: PickleContext, buf: BufferLike, m: ZipMember, where: str, end: int) -> bytes | None:
    """The first ``_LINK_MAX + 1`` bytes of a link member (its target), or None when unreadable."""
    if m.data_offset < 0 or m.data_offset + m.compressed_size > end:
        return None
    raw = bytes(buf[m.data_offset : m.data_offset + min(m.compressed_size, 64 << 10)])
    if m.method == 0:
        return raw[: _LINK_MAX + 1]
    if m.method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw, _LINK_MAX + 1)
        except zlib.error:
            return None
    try:
        data = _inflate(ctx, buf, m, where)
    except (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError):
        return None
    return None if data is None else data[: _LINK_MAX + 1]


def _member_bytes(ctx: PickleContext, buf: BufferLike, m: ZipMember, where: str) -> bytes:
    if m.method == 0:
        return bytes(buf[m.data_offset : m.data_offset + min(m.compressed_size, 64 << 20)])
    return _inflate(ctx, buf, m, where) or b""


# --- tar ---------------------------------------------------------------------------------


class _RangeReader:
    """A read-only file object over ``buf[start:end]`` (for tarfile), without copying it all."""

    def __init__(self, buf: BufferLike, start: int, end: int) -> None:
        self.buf, self.start, self.end, self.pos = buf, start, end, start

    def read(self, n: int = -1) -> bytes:
        stop = self.end if n is None or n < 0 else min(self.end, self.pos + n)
        data = bytes(self.buf[self.pos : stop])
        self.pos = stop
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: self.start, 1: self.pos, 2: self.end}[whence]
        self.pos = max(self.start, min(self.end, base + offset))
        return self.pos - self.start

    def tell(self) -> int:
        return self.pos - self.start


def scan_tar(
    buf: BufferLike,
    start: int,
    end: int,
    ctx: PickleContext,
    member: str | None,
    depth: int,
    recurse: Recurse,
) -> str:
    """Scan a tar archive's members in place; report traversal, links and device files."""
    try:
        tar = tarfile.open(fileobj=_RangeReader(buf, start, end), mode="r:")  # type: ignore[call-overload]  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError, ValueError) as error:
        ctx.add("unparseable", "archive-unparseable", f"tar archive cannot be read: {error}", member)
        return "tar"
    with tar:
        try:
            for info in tar:
                ctx.check_time()
                where = join_member(member, info.name)
                check_member_name(ctx, where, info.name, None)
                if info.issym() or info.islnk():
                    report_link(ctx, where, info.name, info.linkname, hard=info.islnk())
                    continue
                if info.isdev() or info.isfifo():
                    ctx.add("suspicious", "archive-special-file", "archive holds a device or FIFO", where)
                    continue
                if not info.isreg() or info.size == 0:
                    continue
                data_start = start + info.offset_data
                if info.sparse or data_start + info.size > end:
                    ctx.add("unparseable", "archive-member-unreadable", "member data cannot be read", where)
                    continue
                recurse(buf, data_start, data_start + info.size, where, info.name, depth + 1)
        except (tarfile.TarError, OSError, ValueError) as error:
            ctx.add("unparseable", "archive-unparseable", f"tar archive is damaged: {error}", member)
    return "tar"


# --- 7z ----------------------------------------------------------------------------------


def scan_7z(
    buf: BufferLike,
    start: int,
    end: int,
    ctx: PickleContext,
    member: str | None,
    depth: int,
    recurse: Recurse,
) -> str:
    """Scan a 7z archive's members, decompressed in memory (py7zr with an in-memory writer)."""
    try:  # py7zr is heavy (its compression and crypto backends, ~0.3 s): only imported for a 7z archive
        import py7zr
        from py7zr.io import BytesIOFactory
    except ImportError:  # pragma: no cover - a dependency
        ctx.add("unparseable", "archive-unsupported", "py7zr is not installed; 7z archive not scanned", member)
        return "7z"
    data = bytes(buf[start:end])
    try:
        with py7zr.SevenZipFile(io.BytesIO(data), mode="r") as archive:
            infos = archive.list()
            for info in infos:
                where = join_member(member, info.filename)
                check_member_name(ctx, where, info.filename, None)
                if (
                    info.uncompressed
                    and info.compressed
                    and info.uncompressed / info.compressed > ctx.max_ratio
                    and info.uncompressed > (1 << 20)
                ):
                    ctx.add("suspicious", "archive-bomb", "member claims an extreme compression ratio", where)
            if archive.needs_password():
                ctx.add("info", "archive-encrypted-member", "7z archive is encrypted; not scanned", member)
                return "7z"
            factory = BytesIOFactory(ctx.max_member_size + 1)
            safe = [i.filename for i in infos if not i.is_directory and not unsafe_path(i.filename)]
            archive.extract(targets=safe, factory=factory)
    except Exception as error:
        ctx.add("unparseable", "archive-unparseable", f"7z archive cannot be read: {error}", member)
        return "7z"
    cwd = str(Path.cwd()).rstrip("/") + "/"
    for key, product in sorted(factory.products.items()):
        name = key[len(cwd) :] if key.startswith(cwd) else key
        product.seek(0)
        content = product.read()
        where = join_member(member, name)
        if len(content) > ctx.max_member_size:
            ctx.add(
                "unparseable",
                "archive-member-too-large",
                "member is larger than the limit; not scanned",
                where,
            )
            continue
        recurse(content, 0, len(content), where, name, depth + 1)
    return "7z"
