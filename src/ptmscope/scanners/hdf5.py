"""The root group's attributes of an HDF5 file, read from its structure without h5py.

``keras.models.load_model`` on an ``.h5`` file (Keras 2, and Keras 3's legacy HDF5 loader) reads the
root group's ``model_config`` and ``training_config`` attributes (JSON: the layers, Lambda code,
custom objects, losses); weights are datasets, read as numbers. So the verdict of a Keras ``.h5``
file needs the root group's attributes and nothing else, and this module reads exactly those:

* the superblock (versions 0 to 3), found at offset 0, 512, 1024, 2048... as the library finds it;
  its offsets are relative to the superblock, as the library reads them;
* the root group's object header (version 1, or version 2 ``OHDR``), with its continuation blocks
  (``OCHK`` for version 2), and its Attribute messages (versions 1 to 3);
* attribute values: fixed-size data as stored, and each variable-length element (h5py writes
  ``str`` and ``bytes`` values as variable-length strings) from its global heap collection (``GCOL``);
* dense attribute storage (an Attribute Info message, written by h5py with ``libver='v108'`` or later
  for more than 8 attributes or one too large for the object header): the attribute-name v2 B-tree, every
  record of it, and each attribute message it names in the fractal heap (managed objects through
  the doubling table, huge objects through the huge-object v2 B-tree, tiny objects in the heap ID).

Anything else raises ``HDF5Unreadable``: a version or layout this module does not read (filtered
heaps, shared messages or datatypes), or a damaged file (a signature missing, an address outside
the file, a count or size past its bound, a cycle). Its caller then falls back to reading the whole
file. Every count, size, chain and depth is bounded; ``tick`` is called in every loop (the scan's
deadline). Checksums are not verified (the library refuses a file whose checksum is wrong, so
reading such a file anyway can only find more).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ptmscope.scanners.context import BufferLike

MAGIC = b"\x89HDF\r\n\x1a\n"
SEARCH_LIMIT = 1 << 20
"""The superblock is looked for up to this offset (as ``detect`` does)."""
MAX_CHUNKS = 256
"""Object header chunks (the first and its continuations) read for the root group."""
MAX_MESSAGES = 1 << 16
MAX_CHUNK = 16 << 20
"""Bytes of one object header chunk (a message is at most 64 KiB)."""
MAX_ATTRIBUTES = 1 << 16
MAX_ELEMENTS = 1 << 20
"""Variable-length elements of one attribute whose heap objects are read."""
MAX_VALUE = 64 << 20
"""Bytes of one value (one fixed-size data block, one heap object) read; the rest of it is not."""
MAX_READ = 256 << 20
"""Bytes of object header chunks, attribute messages and values read in all; past it the file is
unreadable here (the caller falls back)."""
MAX_HEAP_OBJECTS = 1 << 22
"""Global heap object headers walked in all (to find the objects variable-length values name)."""
MAX_BTREE_DEPTH = 16
MAX_BTREE_NODE = 1 << 20
MAX_HEAP_DEPTH = 16
"""Indirect blocks of a fractal heap walked through to find one object."""

_ATTRIBUTE, _CONTINUATION, _ATTRIBUTE_INFO = 0x000C, 0x0010, 0x0015
_SHARED = 0x02
"""Object header message flag: the message is shared (stored elsewhere)."""


class HDF5Unreadable(Exception):
    """The structure cannot be read here (an unsupported layout or a damaged file)."""


@dataclass(frozen=True)
class Attribute:
    """A root group attribute: its name and the bytes of its value, each piece with its offset in the buffer."""

    name: str
    pieces: tuple[tuple[int, bytes], ...]
    """``(offset in the buffer, bytes)``: the fixed-size data, or one piece per variable-length element."""


def _uint(data: bytes, pos: int, n: int) -> int:
    if pos < 0 or pos + n > len(data):
        raise HDF5Unreadable(f"a {n}-byte field at {pos} is past the end of a {len(data)}-byte structure")
    return int.from_bytes(data[pos : pos + n], "little")


def _align8(n: int) -> int:
    return (n + 7) & ~7


def _enc_size(value: int) -> int:
    """Bytes the library uses to encode counts up to ``value`` (``H5VM_limit_enc_size``)."""
    return (max(value, 1).bit_length() - 1) // 8 + 1


def _log2(value: int) -> int:
    if value <= 0 or value & (value - 1):
        raise HDF5Unreadable(f"{value} is not a power of two")
    return value.bit_length() - 1


@dataclass
class _FractalHeap:
    """What locating an object of a fractal heap needs from its header."""

    id_len: int
    width: int
    start_block: int
    max_direct_rows: int
    first_row_bits: int
    off_size: int
    len_size: int
    root: int
    root_rows: int
    huge: dict[int, tuple[int, int]]
    """Huge object ID -> (address, length), from the huge-object v2 B-tree."""
    huge_direct: bool

    def row_block_size(self, row: int) -> int:
        return self.start_block if row == 0 else self.start_block << (row - 1)

    def row_block_offset(self, row: int) -> int:
        return 0 if row == 0 else (self.start_block * self.width) << (row - 1)

    def lookup(self, offset: int) -> tuple[int, int]:
        """Row and column of the block holding heap offset ``offset`` (``H5HF__dtable_lookup``)."""
        if offset < self.start_block * self.width:
            return 0, offset // self.start_block
        row = offset.bit_length() - 1 - self.first_row_bits + 1
        return row, (offset - (1 << (offset.bit_length() - 1))) // self.row_block_size(row)


class _File:
    """The HDF5 structure of ``buf[start:end]``: bounded reads at addresses relative to the superblock."""

    def __init__(self, buf: BufferLike, start: int, end: int, tick: Callable[[], None]) -> None:
        self.buf, self.start, self.end, self.tick = buf, start, end, tick
        self.base = self._find_superblock()
        self.so = self.sl = 8
        self.root = self._superblock()
        self.undef = (1 << (8 * self.so)) - 1
        self.bytes_read = 0
        self.heap_objects = 0
        self.collections: dict[int, dict[int, tuple[int, int]]] = {}

    # -- reading --------------------------------------------------------------------------------

    def where(self, addr: int) -> int:
        """The buffer offset of file address ``addr``."""
        return self.base + addr

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at file address ``addr``, which must lie inside the file."""
        if addr < 0 or n < 0 or self.base + addr + n > self.end:
            raise HDF5Unreadable(f"{n} bytes at address {addr} are outside the file")
        return bytes(self.buf[self.base + addr : self.base + addr + n])

    def _count(self, n: int) -> None:
        self.bytes_read += min(n, MAX_VALUE)
        if self.bytes_read > MAX_READ:
            raise HDF5Unreadable(f"the root group's attributes take more than {MAX_READ:,} bytes")

    def value(self, addr: int, n: int) -> tuple[int, bytes]:
        """A value's bytes (at most ``MAX_VALUE`` of them) and their buffer offset, counted against ``MAX_READ``."""
        self._count(n)
        return self.where(addr), self.read(addr, min(n, MAX_VALUE))

    def _find_superblock(self) -> int:
        offset = 0
        while offset + 8 <= min(self.end - self.start, SEARCH_LIMIT):
            self.tick()
            if bytes(self.buf[self.start + offset : self.start + offset + 8]) == MAGIC:
                return self.start + offset
            offset = 512 if offset == 0 else offset * 2
        raise HDF5Unreadable("no HDF5 superblock")

    def _superblock(self) -> int:
        """Read the superblock's sizes and return the root group's object header address."""
        head = bytes(self.buf[self.base : min(self.end, self.base + 256)])
        version = head[8] if len(head) > 8 else -1
        if version in (0, 1):
            self.so, self.sl = _uint(head, 13, 1), _uint(head, 14, 1)
            entry = 24 + (4 if version == 1 else 0) + 4 * self.so  # base, free space, EOF, driver addresses
            root_at = entry + self.so  # the root symbol table entry: link name offset, object header address
        elif version in (2, 3):
            self.so, self.sl = _uint(head, 9, 1), _uint(head, 10, 1)
            root_at = 12 + 3 * self.so  # base, superblock extension, EOF addresses
        else:
            raise HDF5Unreadable(f"superblock version {version}")
        if self.so not in (2, 4, 8, 16, 32) or self.sl not in (2, 4, 8, 16, 32):
            raise HDF5Unreadable(f"superblock sizes of offsets {self.so} and lengths {self.sl}")
        return _uint(head, root_at, self.so)

    # -- object header --------------------------------------------------------------------------

    def messages(self, addr: int) -> list[tuple[int, int, int, bytes]]:
        """The messages of the object header at ``addr``: ``(type, flags, data address, data)``."""
        prefix = self.read(addr, 4)
        if prefix == b"OHDR":
            chunk, extra = self._ohdr_chunk(addr)
            version = 2
        elif prefix[0] == 1:
            head = self.read(addr, 16)
            chunk, extra = (addr + 16, _uint(head, 8, 4)), 0
            version = 1
        else:
            raise HDF5Unreadable(f"object header version {prefix[0]}")
        out: list[tuple[int, int, int, bytes]] = []
        todo, seen = [chunk], set[int]()
        while todo:
            at, size = todo.pop(0)
            if at in seen or len(seen) >= MAX_CHUNKS or size > MAX_CHUNK:
                raise HDF5Unreadable("object header continuations repeat, or are too many or too large")
            seen.add(at)
            self.tick()
            self._count(size)
            data = self.read(at, size)
            for message in self._chunk_messages(data, at, version, extra):
                out.append(message)
                if message[0] == _CONTINUATION:
                    todo.append(self._continuation(message[3], version))
            if len(out) > MAX_MESSAGES:
                raise HDF5Unreadable(f"more than {MAX_MESSAGES} object header messages")
        return out

    def _ohdr_chunk(self, addr: int) -> tuple[tuple[int, int], int]:
        """The first chunk ``(address, size)`` of a version 2 object header, and its message header extra bytes."""
        head = self.read(addr, 6)
        if head[4] != 2:
            raise HDF5Unreadable(f"OHDR version {head[4]}")
        flags = head[5]
        pos = addr + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        size = _uint(self.read(pos, width), 0, width)
        return (pos + width, size), (2 if flags & 0x04 else 0)

    def _continuation(self, data: bytes, version: int) -> tuple[int, int]:
        at, length = _uint(data, 0, self.so), _uint(data, self.so, self.sl)
        if version == 1:
            return at, length
        if length < 8 or self.read(at, 4) != b"OCHK":
            raise HDF5Unreadable(f"continuation block at {at} is not an OCHK block")
        return at + 4, length - 8  # the signature, then messages, then a checksum

    def _chunk_messages(self, data: bytes, at: int, version: int, extra: int) -> list[tuple[int, int, int, bytes]]:
        out: list[tuple[int, int, int, bytes]] = []
        head = 8 if version == 1 else 4 + extra
        pos = 0
        while pos + head <= len(data):
            if version == 1:
                kind, size, flags = _uint(data, pos, 2), _uint(data, pos + 2, 2), data[pos + 4]
            else:
                kind, size, flags = data[pos], _uint(data, pos + 1, 2), data[pos + 3]
            body = pos + head
            if body + size > len(data):
                raise HDF5Unreadable(f"object header message at {at + pos} runs past its chunk")
            out.append((kind, flags, at + body, data[body : body + size]))
            if len(out) > MAX_MESSAGES:
                raise HDF5Unreadable(f"more than {MAX_MESSAGES} object header messages")
            pos = body + size
        return out

    # -- attributes -----------------------------------------------------------------------------

    def attribute(self, data: bytes, at: int) -> Attribute:
        """Decode an Attribute message (``data``, at file address ``at``) and read its value."""
        version, flags = _uint(data, 0, 1), _uint(data, 1, 1)
        if version not in (1, 2, 3):
            raise HDF5Unreadable(f"attribute message version {version}")
        if version > 1 and flags & 0x03:
            raise HDF5Unreadable("an attribute with a shared datatype or dataspace")
        name_len, type_len, space_len = _uint(data, 2, 2), _uint(data, 4, 2), _uint(data, 6, 2)
        if version == 1:  # each field padded to a multiple of 8 bytes
            name_len, type_len, space_len = _align8(name_len), _align8(type_len), _align8(space_len)
        pos = 9 if version == 3 else 8  # version 3 adds the name's character set
        name = data[pos : pos + name_len].split(b"\0", 1)[0].decode("utf-8", "replace")
        size, variable = self._datatype(data[pos + name_len : pos + name_len + type_len])
        pos += name_len + type_len
        count = self._elements(data[pos : pos + space_len])
        pos += space_len
        if count * size > len(data) - pos:
            raise HDF5Unreadable(f"attribute {name!r} holds more data than its message")
        raw = data[pos : pos + count * size]
        if variable:
            return Attribute(name, self._variable(raw, count, size))
        self._count(len(raw))
        return Attribute(name, ((self.where(at + pos), raw[:MAX_VALUE]),) if raw else ())

    def _datatype(self, data: bytes) -> tuple[int, bool]:
        """The stored size of one element, and whether it is variable-length (a global heap reference)."""
        kind = _uint(data, 0, 1) & 0x0F
        if kind == 9:
            return 4 + self.so + 4, True
        return _uint(data, 4, 4), False

    def _elements(self, data: bytes) -> int:
        version, rank = _uint(data, 0, 1), _uint(data, 1, 1)
        if version == 1:
            kind, dims = (1 if rank else 0), 8
        elif version == 2:
            kind, dims = _uint(data, 3, 1), 4
        else:
            raise HDF5Unreadable(f"dataspace version {version}")
        if kind == 2:
            return 0  # null dataspace: no value
        if rank > 32:
            raise HDF5Unreadable(f"dataspace of rank {rank}")
        count = 1
        for i in range(rank):
            count *= _uint(data, dims + i * self.sl, self.sl)
        return count

    def _variable(self, raw: bytes, count: int, size: int) -> tuple[tuple[int, bytes], ...]:
        """The heap objects of ``count`` variable-length elements (length, collection address, object index)."""
        if count > MAX_ELEMENTS:
            raise HDF5Unreadable(f"more than {MAX_ELEMENTS} variable-length elements")
        pieces: dict[tuple[int, int], tuple[int, bytes]] = {}
        for i in range(count):
            if i % 1024 == 0:
                self.tick()
            length = _uint(raw, i * size, 4)
            collection, index = _uint(raw, i * size + 4, self.so), _uint(raw, i * size + 4 + self.so, 4)
            if length == 0 or (collection, index) in pieces:
                continue
            addr, n = self._heap_object(collection, index)
            pieces[collection, index] = self.value(addr, n)
        return tuple(pieces.values())

    def _heap_object(self, collection: int, index: int) -> tuple[int, int]:
        """Address and size of object ``index`` of the global heap collection at ``collection``."""
        if collection not in self.collections:
            self.collections[collection] = self._collection(collection)
        found = self.collections[collection].get(index)
        if found is None:
            raise HDF5Unreadable(f"global heap collection at {collection} has no object {index}")
        return found

    def _collection(self, addr: int) -> dict[int, tuple[int, int]]:
        header = _align8(8 + self.sl)  # the collection's header and each object's, padded to 8 bytes
        head = self.read(addr, header)
        if head[:4] != b"GCOL" or head[4] != 1:
            raise HDF5Unreadable(f"no global heap collection at {addr}")
        stop = addr + _uint(head, 8, self.sl)
        if stop > self.end - self.base:
            raise HDF5Unreadable(f"global heap collection at {addr} runs past the file")
        objects: dict[int, tuple[int, int]] = {}
        pos = addr + header
        while pos + header <= stop:
            self.heap_objects += 1
            if self.heap_objects % 1024 == 0:
                self.tick()
            if self.heap_objects > MAX_HEAP_OBJECTS:
                raise HDF5Unreadable(f"more than {MAX_HEAP_OBJECTS:,} global heap objects")
            entry = self.read(pos, header)
            index, size = _uint(entry, 0, 2), _uint(entry, 8, self.sl)
            if index == 0:
                break  # free space: the end of the objects
            data = pos + header
            if data + size > stop:
                raise HDF5Unreadable(f"global heap object {index} at {pos} runs past its collection")
            objects[index] = (data, size)
            pos = data + _align8(size)
        return objects

    # -- dense attribute storage ----------------------------------------------------------------

    def dense(self, info: bytes) -> list[tuple[int, bytes]]:
        """The attribute messages ``(address, bytes)`` of dense storage, from an Attribute Info message."""
        if _uint(info, 0, 1) != 0:
            raise HDF5Unreadable(f"attribute info message version {info[0]}")
        pos = 2 + (2 if _uint(info, 1, 1) & 0x01 else 0)
        heap_addr, names = _uint(info, pos, self.so), _uint(info, pos + self.so, self.so)
        if heap_addr == self.undef:
            return []
        heap = self._fractal_heap(heap_addr)
        out = []
        for at, record in self.btree(names, 8):
            if len(record) < heap.id_len + 1:
                raise HDF5Unreadable("attribute name record shorter than a heap ID")
            if record[heap.id_len] & _SHARED:
                raise HDF5Unreadable("a shared attribute message")
            out.append(self._heap_id(heap, record[: heap.id_len], at))
            if len(out) > MAX_ATTRIBUTES:
                raise HDF5Unreadable(f"more than {MAX_ATTRIBUTES} attributes")
        return out

    def _fractal_heap(self, addr: int) -> _FractalHeap:
        so, sl = self.so, self.sl
        data = self.read(addr, 22 + 12 * sl + 3 * so)
        if data[:4] != b"FRHP" or data[4] != 0:
            raise HDF5Unreadable(f"no fractal heap header at {addr}")
        id_len, filters, max_managed = _uint(data, 5, 2), _uint(data, 7, 2), _uint(data, 10, 4)
        if filters:
            raise HDF5Unreadable("a filtered fractal heap")
        huge_tree = _uint(data, 14 + sl, so)
        pos = 14 + 10 * sl + 2 * so  # past the counters, to the doubling table's parameters
        width, start_block = _uint(data, pos, 2), _uint(data, pos + 2, sl)
        max_direct, max_bits = _uint(data, pos + 2 + sl, sl), _uint(data, pos + 2 + 2 * sl, 2)
        root, root_rows = _uint(data, pos + 6 + 2 * sl, so), _uint(data, pos + 6 + 2 * sl + so, 2)
        start_bits, direct_bits = _log2(start_block), _log2(max_direct)
        if not 0 < max_bits <= 64 or direct_bits < start_bits or id_len < 2 or root_rows > 64:
            raise HDF5Unreadable(f"fractal heap at {addr} has an impossible doubling table")
        huge_direct = so + sl <= id_len - 1
        huge = {} if huge_tree == self.undef else self._huge_objects(huge_tree, huge_direct)
        return _FractalHeap(
            id_len=id_len,
            width=width,
            start_block=start_block,
            max_direct_rows=direct_bits - start_bits + 2,
            first_row_bits=start_bits + _log2(width),
            off_size=(max_bits + 7) // 8,
            len_size=min((direct_bits + 7) // 8, _enc_size(max_managed)),
            root=root,
            root_rows=root_rows,
            huge=huge,
            huge_direct=huge_direct,
        )

    def _huge_objects(self, tree: int, direct: bool) -> dict[int, tuple[int, int]]:
        if direct:
            return {}  # the heap IDs hold the address and length: the tree is not needed
        so, sl = self.so, self.sl
        out = {}
        for _, record in self.btree(tree, 1):
            out[_uint(record, so + sl, sl)] = (_uint(record, 0, so), _uint(record, so, sl))
        return out

    def _heap_id(self, heap: _FractalHeap, heap_id: bytes, at: int) -> tuple[int, bytes]:
        """The object a fractal heap ID names: ``(address, bytes)``."""
        first = heap_id[0]
        if first >> 6:
            raise HDF5Unreadable(f"fractal heap ID version {first >> 6}")
        kind = (first >> 4) & 0x03
        if kind == 0:
            offset = _uint(heap_id, 1, heap.off_size)
            length = _uint(heap_id, 1 + heap.off_size, heap.len_size)
            addr = self._managed(heap, offset, length)
        elif kind == 1 and heap.huge_direct:
            addr, length = _uint(heap_id, 1, self.so), _uint(heap_id, 1 + self.so, self.sl)
        elif kind == 1:
            found = heap.huge.get(_uint(heap_id, 1, min(heap.id_len - 1, 8)))
            if found is None:
                raise HDF5Unreadable("a huge heap object missing from its B-tree")
            addr, length = found
        elif kind == 2:  # tiny: the object is in the ID itself
            extended = heap.id_len > 18
            length = (((first & 0x0F) << 8 | heap_id[1]) if extended else first & 0x0F) + 1
            skip = 2 if extended else 1
            if skip + length > len(heap_id):
                raise HDF5Unreadable("a tiny heap object longer than its ID")
            return at + skip, heap_id[skip : skip + length]
        else:
            raise HDF5Unreadable(f"fractal heap ID type {kind}")
        if length > MAX_VALUE:
            raise HDF5Unreadable(f"an attribute message of {length:,} bytes")
        self._count(length)
        return addr, self.read(addr, length)

    def _managed(self, heap: _FractalHeap, offset: int, length: int) -> int:
        """The address of the managed object at heap ``offset`` (``H5HF__man_dblock_locate``)."""
        if heap.root == self.undef:
            raise HDF5Unreadable("a managed heap object in an empty heap")
        if heap.root_rows == 0:  # the root is a direct block, at heap offset 0
            if offset + length > heap.start_block:
                raise HDF5Unreadable("a managed heap object past its direct block")
            return heap.root + offset
        block, rows, block_offset = heap.root, heap.root_rows, 0
        for _ in range(MAX_HEAP_DEPTH):
            self.tick()
            row, col = heap.lookup(offset - block_offset)
            if row >= rows or col >= heap.width:
                raise HDF5Unreadable("a managed heap object outside its indirect block")
            header = 5 + self.so + heap.off_size
            if self.read(block, 4) != b"FHIB":
                raise HDF5Unreadable(f"no fractal heap indirect block at {block}")
            child = _uint(self.read(block + header + (row * heap.width + col) * self.so, self.so), 0, self.so)
            child_offset = block_offset + heap.row_block_offset(row) + col * heap.row_block_size(row)
            if child == self.undef:
                raise HDF5Unreadable("a managed heap object in a block never allocated")
            if row < heap.max_direct_rows:
                if offset + length > child_offset + heap.row_block_size(row):
                    raise HDF5Unreadable("a managed heap object past its direct block")
                return child + offset - child_offset
            rows = heap.row_block_size(row).bit_length() - 1 - heap.first_row_bits + 1
            block, block_offset = child, child_offset
        raise HDF5Unreadable(f"fractal heap indirect blocks nest deeper than {MAX_HEAP_DEPTH}")

    # -- version 2 B-trees ----------------------------------------------------------------------

    def btree(self, addr: int, kind: int) -> list[tuple[int, bytes]]:
        """Every record ``(address, bytes)`` of the v2 B-tree of type ``kind`` at ``addr``."""
        so, sl = self.so, self.sl
        head = self.read(addr, 16 + so + sl)
        if head[:4] != b"BTHD" or head[4] != 0 or head[5] != kind:
            raise HDF5Unreadable(f"no type {kind} v2 B-tree header at {addr}")
        node_size, record_size, depth = _uint(head, 6, 4), _uint(head, 10, 2), _uint(head, 12, 2)
        root, root_records = _uint(head, 16, so), _uint(head, 16 + so, 2)
        if not 10 < node_size <= MAX_BTREE_NODE or record_size == 0 or depth > MAX_BTREE_DEPTH:
            raise HDF5Unreadable(f"v2 B-tree at {addr} has impossible node sizes")
        if root == self.undef:
            return []
        widths = self._btree_widths(node_size, record_size, depth)
        out: list[tuple[int, bytes]] = []
        todo, seen = [(root, depth, root_records)], set[int]()
        while todo:
            node, level, count = todo.pop()
            self.tick()
            if node in seen or len(out) + count > MAX_ATTRIBUTES:
                raise HDF5Unreadable(f"v2 B-tree at {addr} repeats a node or holds too many records")
            seen.add(node)
            pointer = 0 if level == 0 else so + widths[0] + (widths[level - 1] if level > 1 else 0)
            size = 6 + count * record_size + (count + 1) * pointer
            if size + 4 > node_size:
                raise HDF5Unreadable(f"v2 B-tree node at {node} holds more records than it can")
            data = self.read(node, size)
            if data[:4] != (b"BTLF" if level == 0 else b"BTIN") or data[5] != kind:
                raise HDF5Unreadable(f"no v2 B-tree node at {node}")
            for i in range(count):
                out.append((node + 6 + i * record_size, data[6 + i * record_size : 6 + (i + 1) * record_size]))
            pos = 6 + count * record_size
            for _ in range(count + 1 if level else 0):
                child, records = _uint(data, pos, so), _uint(data, pos + so, widths[0])
                todo.append((child, level - 1, records))
                pos += pointer
        return out

    def _btree_widths(self, node_size: int, record_size: int, depth: int) -> list[int]:
        """Bytes of the record counts in child pointers (``H5B2__hdr_init``): ``[0]`` the count of a child's
        own records, ``[d]`` (d >= 1) the total records under a child at depth ``d``."""
        leaf = (node_size - 10) // record_size
        count_width = _enc_size(leaf)
        widths, total, total_width = [count_width], leaf, 0
        for level in range(1, depth + 1):
            pointer = self.so + count_width + (total_width if level > 1 else 0)
            most = (node_size - 10) // (record_size + pointer)
            total = (most + 1) * total + most
            total_width = _enc_size(total)
            widths.append(total_width)
        return widths


def root_attributes(buf: BufferLike, start: int, end: int, tick: Callable[[], None]) -> list[Attribute]:
    """The attributes of the root group of the HDF5 file ``buf[start:end]``.

    Raises ``HDF5Unreadable`` when the structure cannot be read here (the caller falls back).
    """
    f = _File(buf, start, end, tick)
    attributes: list[Attribute] = []
    for kind, flags, addr, data in f.messages(f.root):
        if kind == _ATTRIBUTE:
            if flags & _SHARED:
                raise HDF5Unreadable("a shared attribute message")
            attributes.append(f.attribute(data, addr))
        elif kind == _ATTRIBUTE_INFO:
            attributes.extend(f.attribute(message, at) for at, message in f.dense(data))
        if len(attributes) > MAX_ATTRIBUTES:
            raise HDF5Unreadable(f"more than {MAX_ATTRIBUTES} attributes")
    return attributes
