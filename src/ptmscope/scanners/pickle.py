"""Static pickle analysis: walk the opcodes, simulate the stack symbolically, never unpickle.

The engine reads a bytes-like buffer (``bytes``, ``mmap`` or ``stream.StreamBuffer``)
between two offsets. It understands every opcode of protocols 0-5 and keeps just enough of
the stack to answer the questions that matter:

* which globals are imported (GLOBAL, STACK_GLOBAL through the memo, INST, EXT via the
  copyreg registry) and which of them are called (REDUCE, NEWOBJ, OBJ, INST);
* whether an imported object is mutated (BUILD / SETITEM / APPENDS applied to a global:
  the ``sys.modules`` override trick);
* whether bytes handed to ``pickle.loads``/``torch.load`` are themselves a malicious pickle
  (analysed recursively, with ``_codecs.encode`` and base64 wrappers undone statically);
* several pickles in one stream (legacy ``torch.save``; stacked payloads), and joblib's
  ``NumpyArrayWrapper`` arrays that sit raw between pickle opcodes.

Large string and bytes arguments are never copied: the walker jumps over them. What a pickle
can make the walker hold is bounded (checked every ``CHUNK`` bytes of opcodes): the memo holds at
most ``MEMO_MAX_ENTRIES`` entries, and past the first ``MEMO_BASE_ENTRIES`` no more than one per
``MEMO_BYTES_PER_ENTRY`` bytes of pickle walked, with an estimated footprint (entry plus the
strings, bytes and containers it holds) of at most ``MEMO_MAX_BYTES``; past a bound the memo stops
growing (later look-ups of untracked entries are opaque) and the file gets an ``unparseable``
finding (``pickle-memo-limit``). The stack and marks hold at most ``STACK_MAX`` entries (more is
a parse error). Bytes values are copied up to ``COPY_BUDGET`` bytes per file, then kept as
offsets into the buffer.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import copyreg
import re
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from ptmscope.scanners import policy
from ptmscope.scanners.interface import Finding, Severity

# Strings longer than this are replaced by OPAQUE on the stack (module and attribute names
# are short; a longer operand of STACK_GLOBAL is reported as an unresolved import).
STR_KEEP = 4096
# Bytes longer than this are kept as a Blob (offset, length) when the buffer allows random
# access, so a nested pickle can still be analysed in place.
BYTES_KEEP = 1 << 20
# Items kept per container: enough for joblib's wrapper state and torch persistent ids.
CONTAINER_KEEP = 32
# Check the deadline and the memory bounds every CHUNK bytes of opcodes.
CHUNK = 1 << 16
# The memo of one pickle: at most this many entries ...
MEMO_MAX_ENTRIES = 1 << 23
# ... and, past this many, at most one entry per MEMO_BYTES_PER_ENTRY bytes of pickle walked (real
# pickles spend 10-60 bytes per memoized object; a run of MEMOIZE opcodes spends one) ...
MEMO_BASE_ENTRIES = 1 << 20
MEMO_BYTES_PER_ENTRY = 4
# ... and at most this estimated footprint (_MEMO_ENTRY bytes per entry plus what it holds).
MEMO_MAX_BYTES = 1 << 30
_MEMO_ENTRY = 72
# Stack entries plus marks of one pickle (real pickles stay in the thousands).
STACK_MAX = 1 << 20
# Bytes values copied out of the buffer per file; past it they are kept as offsets (Blob).
COPY_BUDGET = 256 << 20
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


class BufferLike(Protocol):
    """What the walker needs from a buffer: integer indexing, slicing and ``find``."""

    def __getitem__(self, key: Any) -> Any: ...

    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...


class PickleParseError(Exception):
    """The opcode stream is malformed at ``offset``; the pickle being read began at ``start``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.start = offset

    @property
    def progress(self) -> int:
        """Bytes of this pickle that parsed before the failing opcode (0: the first opcode failed)."""
        return self.offset - self.start


class ScanTimeout(Exception):
    """The per-file deadline passed while scanning."""


# --- symbolic values ---------------------------------------------------------------


class _Opaque:
    """A value the analysis does not track (persistent ids, long strings, floats)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<opaque>"


OPAQUE = _Opaque()


class Global:
    """An imported object: ``module.name``."""

    __slots__ = ("module", "name", "offset")

    def __init__(self, module: str, name: str, offset: int) -> None:
        self.module = module
        self.name = name
        self.offset = offset

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


class Call:
    """The result of calling ``func`` with ``args`` (REDUCE, NEWOBJ, OBJ, INST)."""

    __slots__ = ("args", "func", "offset", "state")

    def __init__(self, func: Any, args: Any, offset: int) -> None:
        self.func = func
        self.args = args
        self.offset = offset
        self.state: Any = None

    def __repr__(self) -> str:
        return f"{self.func!r}(...)"


def _dict_get(items: list[Any], key: str) -> Any:
    """In a pickled dict kept as a list of alternating keys and values: the value of ``key``."""
    for i in range(0, len(items) - 1, 2):
        if items[i] == key:
            return items[i + 1]
    return None


class Blob:
    """Bytes too long to copy, kept as a range of the buffer."""

    __slots__ = ("length", "start")

    def __init__(self, start: int, length: int) -> None:
        self.start = start
        self.length = length


# --- what the walk collects ------------------------------------------------------------


@dataclass
class ImportSite:
    """Where one global was first imported, and whether it was called."""

    module: str
    name: str
    offset: int
    opcode: str
    called: bool = False
    count: int = 1


@dataclass
class PickleContext:
    """Shared state of one file's analysis: limits and the facts collected so far.

    Every format scanner writes into the same context, so a zip member's pickle findings and
    the zip's own findings end up in one list; ``max_depth`` bounds nesting of archives and
    pickles alike.
    """

    deadline: float
    max_depth: int = 4
    max_member_size: int = 1 << 30
    max_ratio: float = 200.0
    findings: list[Finding] = field(default_factory=list)
    imports: dict[tuple[str | None, str, str], ImportSite] = field(default_factory=dict)
    pickles: int = 0
    max_memo_entries: int = MEMO_MAX_ENTRIES
    max_memo_bytes: int = MEMO_MAX_BYTES
    memo_base_entries: int = MEMO_BASE_ENTRIES
    max_stack: int = STACK_MAX
    copy_budget: int = COPY_BUDGET
    """Bytes values still to be copied out of the buffer (then kept as offsets)."""

    def check_time(self) -> None:
        """Raise ``ScanTimeout`` once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise ScanTimeout

    def add(
        self,
        severity: Severity,
        rule: str,
        message: str,
        member: str | None,
        offset: int | None = None,
        evidence: str | None = None,
    ) -> None:
        """Record a finding."""
        self.findings.append(Finding(severity, rule, message, member, offset, evidence))

    def record_import(self, member: str | None, module: str, name: str, offset: int, opcode: str) -> Global:
        """Note an import and return the symbolic value for it."""
        key = (member, module, name)
        site = self.imports.get(key)
        if site is None:
            self.imports[key] = ImportSite(module, name, offset, opcode)
        else:
            site.count += 1
        return Global(module, name, offset)

    def mark_called(self, member: str | None, func: Global) -> None:
        """Note that an imported global is called."""
        site = self.imports.get((member, func.module, func.name))
        if site is not None:
            site.called = True

    def import_findings(self) -> list[Finding]:
        """Classify every import seen once and turn the risky ones into findings."""
        out: list[Finding] = []
        for (member, module, name), site in self.imports.items():
            verdict, reason = policy.classify(module, name)
            if verdict == "safe":
                continue
            called = "imported and called" if site.called else "imported"
            rule = f"pickle-{verdict}-import"
            msg = f"{module}.{name} is {called} ({reason})"
            out.append(Finding(verdict, rule, msg, member, site.offset, f"{module}.{name}"))
        return out


# --- the walker ----------------------------------------------------------------------

_OPNAMES: dict[int, str] = {
    ord("c"): "GLOBAL",
    ord("i"): "INST",
    0x93: "STACK_GLOBAL",
    0x82: "EXT1",
    0x83: "EXT2",
    0x84: "EXT4",
}


class _Memo(dict[int, Any]):
    """A pickle's memo (a plain dict; a subclass so that it can become ``_FrozenMemo`` in place)."""

    __slots__ = ()


class _FrozenMemo(_Memo):
    """A memo past its bounds: it takes no new keys, and an untracked key reads as OPAQUE."""

    __slots__ = ()

    def __setitem__(self, key: int, value: Any) -> None:
        if key in self:
            super().__setitem__(key, value)

    def __missing__(self, key: int) -> Any:
        return OPAQUE


def _memo_cost(value: Any) -> int:
    """Estimated bytes one memo entry holds (the entry, and the value when it is its own)."""
    kind = type(value)
    if kind is str or kind is bytes:
        return _MEMO_ENTRY + 49 + len(value)
    if kind is list:
        return _MEMO_ENTRY + 56 + 8 * CONTAINER_KEEP
    if kind is tuple:
        return _MEMO_ENTRY + 40 + 8 * len(value)
    if kind is Call:
        return _MEMO_ENTRY + 72
    return _MEMO_ENTRY


def _mark_slice(stack: list[Any], marks: list[int]) -> list[Any]:
    m = marks.pop()  # IndexError without a MARK: a parse error, as in pickle
    if m > len(stack):
        m = len(stack)
    items = stack[m:]
    del stack[m:]
    return items


def _decode_utf8(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


LINE_KEEP = 1 << 16


def _readline(buf: BufferLike, pos: int, end: int) -> tuple[bytes | None, int]:
    """A protocol-0 text argument, or None (not copied) when it is longer than LINE_KEEP."""
    nl = buf.find(b"\n", pos, end)
    if nl < 0:
        raise PickleParseError("no newline found for a text argument", pos)
    return (bytes(buf[pos:nl]) if nl - pos <= LINE_KEEP else None), nl + 1


def _short_line(buf: BufferLike, pos: int, end: int) -> tuple[bytes, int]:
    """A text argument that must be short (numbers, memo keys)."""
    line, pos = _readline(buf, pos, end)
    if line is None:
        raise PickleParseError("text argument is implausibly long", pos)
    return line, pos


_DIGITS = re.compile(r"(\d+)")


def _itemsize(dtype: Any) -> tuple[int, bool] | None:
    """(itemsize, hasobject) of a pickled ``numpy.dtype`` call, or None when unknown."""
    if not isinstance(dtype, Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None
    typestr = dtype.args[0]
    if not isinstance(typestr, str):
        return None
    state = dtype.state
    hasobject = typestr.startswith("O")
    elsize = -1
    if isinstance(state, tuple) and len(state) >= 8:
        if isinstance(state[5], int):
            elsize = state[5]
        if isinstance(state[7], int) and state[7] & 1:
            hasobject = True
    if hasobject:
        return 0, True
    if elsize > 0:
        return elsize, False
    match = _DIGITS.search(typestr)
    if typestr[:1] in "Mm":
        return 8, False
    if match is None:
        return None
    return int(match.group(1)) * (4 if typestr[:1] == "U" else 1), False


class Walker:
    """Walks the pickles of one buffer range and feeds a ``PickleContext``."""

    def __init__(self, buf: BufferLike, ctx: PickleContext, member: str | None, depth: int = 0) -> None:
        self.buf = buf
        self.ctx = ctx
        self.member = member
        self.depth = depth

    # The hot loop. Opcodes are tested roughly in the order of how often they occur in real
    # checkpoints and vocabularies; everything rare goes through ``_slow``.
    def run_one(self, pos: int, end: int) -> tuple[int, Any]:
        """Walk one pickle from ``pos`` to its STOP; return (offset after STOP, top value).

        The dispatch splits opcodes by value range first and tests the frequent ones
        (memo, strings, small ints, marks, container fills) before the rest, which go
        through ``_slow``. Containers are plain lists holding at most CONTAINER_KEEP items.
        """
        buf = self.buf
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = _Memo()
        push = stack.append
        pop = stack.pop
        first = start_op = pos
        ctx = self.ctx
        keep = CONTAINER_KEEP
        counted = 0  # memo entries whose cost is in memo_bytes
        memo_bytes = 0
        try:
            while True:
                chunk_end = pos + CHUNK
                if chunk_end > end:
                    chunk_end = end
                if pos >= end:
                    raise PickleParseError("pickle ends without STOP", pos)
                while pos < chunk_end:
                    start_op = pos
                    op = buf[pos]
                    pos += 1
                    if op >= 0x80:
                        if op == 0x94:  # MEMOIZE
                            memo[len(memo)] = stack[-1]
                        elif op == 0x8C:  # SHORT_BINUNICODE (+ the MEMOIZE that usually follows)
                            n = buf[pos]
                            pos += 1 + n
                            if pos >= end:
                                raise PickleParseError("truncated string", start_op)
                            text = buf[pos - n : pos].decode("utf-8", "surrogatepass")
                            push(text)
                            if buf[pos] == 0x94:
                                memo[len(memo)] = text
                                pos += 1
                        elif op == 0x86:  # TUPLE2
                            b = pop()
                            stack[-1] = (stack[-1], b)
                        elif op == 0x85:  # TUPLE1
                            stack[-1] = (stack[-1],)
                        elif op == 0x87:  # TUPLE3
                            c = pop()
                            b = pop()
                            stack[-1] = (stack[-1], b, c)
                        elif op == 0x88:  # NEWTRUE
                            push(True)
                        elif op == 0x89:  # NEWFALSE
                            push(False)
                        elif op == 0x95:  # FRAME
                            pos += 8
                        else:
                            pos = self._slow(op, pos, end, stack, marks, memo, start_op)
                    elif op >= 0x60:
                        if op == 0x71:  # BINPUT
                            memo[buf[pos]] = stack[-1]
                            pos += 1
                        elif op == 0x68:  # BINGET
                            push(memo[buf[pos]])
                            pos += 1
                        elif op == 0x75 or op == 0x65:  # SETITEMS, APPENDS
                            m = marks.pop()  # IndexError (no MARK) -> parse error, as in pickle
                            if m == 0:
                                raise PickleParseError("no container below the MARK", start_op)
                            target = stack[m - 1]
                            if type(target) is list:
                                room = keep - len(target)
                                if room > 0:
                                    target += stack[m : m + room]
                            else:
                                self._mutate(target, start_op)
                            del stack[m:]
                        elif op == 0x7D:  # EMPTY_DICT (+ MEMOIZE)
                            items: list[Any] = []
                            push(items)
                            if pos < end and buf[pos] == 0x94:
                                memo[len(memo)] = items
                                pos += 1
                        elif op == 0x72:  # LONG_BINPUT
                            memo[int.from_bytes(buf[pos : pos + 4], "little")] = stack[-1]
                            pos += 4
                        elif op == 0x6A:  # LONG_BINGET
                            push(memo[int.from_bytes(buf[pos : pos + 4], "little")])
                            pos += 4
                        else:
                            pos = self._slow(op, pos, end, stack, marks, memo, start_op)
                    elif op == 0x4B:  # BININT1
                        push(buf[pos])
                        pos += 1
                    elif op == 0x28:  # MARK
                        marks.append(len(stack))
                    elif op == 0x58:  # BINUNICODE
                        n = int.from_bytes(buf[pos : pos + 4], "little")
                        pos += 4 + n
                        if pos > end:
                            raise PickleParseError("truncated string", start_op)
                        push(buf[pos - n : pos].decode("utf-8", "surrogatepass") if n <= STR_KEEP else OPAQUE)
                    elif op == 0x4A:  # BININT
                        push(int.from_bytes(buf[pos : pos + 4], "little", signed=True))
                        pos += 4
                    elif op == 0x4D:  # BININT2
                        push(buf[pos] | (buf[pos + 1] << 8))
                        pos += 2
                    elif op == 0x47:  # BINFLOAT
                        push(0.0)
                        pos += 8
                    elif op == 0x5D:  # EMPTY_LIST (+ MEMOIZE)
                        items = []
                        push(items)
                        if pos < end and buf[pos] == 0x94:
                            memo[len(memo)] = items
                            pos += 1
                    elif op == 0x4E:  # NONE
                        push(None)
                    elif op == 0x29:  # EMPTY_TUPLE
                        push(())
                    elif op == 0x2E:  # STOP
                        self.ctx.pickles += 1
                        return pos, (stack[-1] if stack else None)
                    else:
                        pos = self._slow(op, pos, end, stack, marks, memo, start_op)
                ctx.check_time()
                if len(stack) + len(marks) > ctx.max_stack:
                    raise PickleParseError(f"the stack grows past {ctx.max_stack:,} entries", start_op)
                if len(memo) > counted and type(memo) is _Memo:
                    grown = len(memo) - counted
                    memo_bytes += sum(map(_memo_cost, islice(reversed(memo.values()), grown)))
                    counted = len(memo)
                    allowed = min(ctx.max_memo_entries, ctx.memo_base_entries + (pos - first) // MEMO_BYTES_PER_ENTRY)
                    if counted > allowed or memo_bytes > ctx.max_memo_bytes:
                        memo.__class__ = _FrozenMemo
                        self._memo_limit(counted, memo_bytes, pos)
        except PickleParseError as error:
            error.start = first
            raise
        except (
            IndexError,
            KeyError,
            ValueError,
            TypeError,
            OverflowError,
            UnicodeDecodeError,
            AttributeError,
            RecursionError,
        ) as error:
            kinds: dict[type, str] = {
                IndexError: "stack underflow or truncated input",
                KeyError: "memo key missing",
            }
            kind = kinds.get(type(error), type(error).__name__)
            failure = PickleParseError(f"{kind} at opcode {buf[start_op]:#04x}", start_op)
            failure.start = first
            raise failure from None

    def _memo_limit(self, entries: int, estimate: int, pos: int) -> None:
        ctx = self.ctx
        self.ctx.add(
            "unparseable",
            "pickle-memo-limit",
            f"the pickle's memo grew to {entries:,} entries (about {estimate >> 20:,} MiB) by byte {pos}, past the "
            f"scanner's bound ({ctx.max_memo_entries:,} entries, {ctx.memo_base_entries:,} plus one per "
            f"{MEMO_BYTES_PER_ENTRY} bytes of pickle, {ctx.max_memo_bytes >> 20:,} MiB); later memo entries are "
            "not tracked, so the rest of the pickle is checked with less context",
            self.member,
            pos,
        )

    def _bytes_value(self, start: int, n: int, end: int, op_at: int) -> Any:
        if start + n > end:
            raise PickleParseError("truncated bytes", op_at)
        if n <= BYTES_KEEP and n <= self.ctx.copy_budget:
            self.ctx.copy_budget -= n
            data = bytes(self.buf[start : start + n])
            if n >= 8 and data[0] == 0x80 and data[1] <= 5 and self.depth < self.ctx.max_depth:
                self._embedded(data, op_at)
            return data
        return Blob(start, n)

    def _embedded(self, data: bytes, at: int) -> None:
        """Bytes in the data that are themselves a pickle: not run at load, but a staged payload."""
        sub = PickleContext(self.ctx.deadline, self.ctx.max_depth)
        analyze_stream(Walker(data, sub, None, self.depth + 1), 0, len(data))
        risky = sorted({f.evidence or f.rule for f in sub.import_findings() + sub.findings if f.severity != "info"})
        if risky:
            self.ctx.add(
                "info",
                "pickle-embedded-pickle",
                "bytes in the data are a pickle that imports "
                + ", ".join(risky[:5])
                + "; loading this file does not run it, code that unpickles the bytes later would",
                self.member,
                at,
                ", ".join(risky[:5]),
            )

    def _slow(
        self, op: int, pos: int, end: int, stack: list[Any], marks: list[int], memo: dict[int, Any], at: int
    ) -> int:
        buf = self.buf
        push = stack.append
        ctx = self.ctx
        member = self.member
        if op == 0x80:  # PROTO
            if buf[pos] > 5:
                raise PickleParseError(f"unsupported protocol {buf[pos]}", at)
            return pos + 1
        if op == 0x52:  # REDUCE
            args = stack.pop()
            func = stack[-1]
            stack[-1] = self._call(func, args, at, "REDUCE")
            return pos
        if op == 0x62:  # BUILD
            state = stack.pop()
            target = stack[-1]
            if isinstance(target, Call):
                target.state = state
                func = target.func
                if isinstance(func, Global) and func.name == "NumpyArrayWrapper":
                    return self._joblib_array(target, pos, end)
            elif type(target) is not list and type(target) is not tuple:
                self._mutate(target, at)
            return pos
        if op == 0x81:  # NEWOBJ
            args = stack.pop()
            cls = stack[-1]
            stack[-1] = self._call(cls, args, at, "NEWOBJ")
            return pos
        if op == 0x92:  # NEWOBJ_EX
            stack.pop()
            args = stack.pop()
            cls = stack[-1]
            stack[-1] = self._call(cls, args, at, "NEWOBJ_EX")
            return pos
        if op == 0x93:  # STACK_GLOBAL
            name = stack.pop()
            module = stack[-1]
            if isinstance(module, str) and isinstance(name, str):
                stack[-1] = ctx.record_import(member, module, name, at, "STACK_GLOBAL")
            else:
                shown = f"{_show(module)}, {_show(name)}"
                ctx.add(
                    "suspicious",
                    "pickle-unresolved-import",
                    f"STACK_GLOBAL with operands that are not visible strings ({shown})",
                    member,
                    at,
                    shown,
                )
                stack[-1] = Global("?", "?", at)
            return pos
        if op == 0x63 or op == 0x69:  # GLOBAL, INST
            raw_mod, pos = _readline(buf, pos, end)
            raw_name, pos = _readline(buf, pos, end)
            if raw_mod is None or raw_name is None:
                ctx.add(
                    "suspicious",
                    "pickle-unresolved-import",
                    f"{_OPNAMES[op]} names a global longer than {LINE_KEEP} bytes",
                    member,
                    at,
                )
                g = Global("?", "?", at)
            else:
                g = ctx.record_import(member, raw_mod.decode("utf-8"), raw_name.decode("utf-8"), at, _OPNAMES[op])
            if op == 0x63:
                push(g)
            else:
                args = tuple(_mark_slice(stack, marks))
                push(self._call(g, args, at, "INST"))
            return pos
        if op == 0x6F:  # OBJ
            items = _mark_slice(stack, marks)
            if not items:
                raise PickleParseError("OBJ without a class", at)
            push(self._call(items[0], tuple(items[1:]), at, "OBJ"))
            return pos
        if op in (0x82, 0x83, 0x84):  # EXT1, EXT2, EXT4
            width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
            code = int.from_bytes(buf[pos : pos + width], "little")
            pair = copyreg._inverted_registry.get(code)  # type: ignore[attr-defined]
            if pair is None:
                ctx.add(
                    "suspicious",
                    "pickle-unresolved-import",
                    f"extension code {code} is not registered here; the loading process may map it to any global",
                    member,
                    at,
                    f"EXT {code}",
                )
                push(Global("?ext", str(code), at))
            else:
                push(ctx.record_import(member, pair[0], pair[1], at, _OPNAMES[op]))
            return pos + width
        if op == 0x30:  # POP
            if stack:
                stack.pop()
            elif marks:
                marks.pop()
            else:
                raise PickleParseError("POP on an empty stack", at)
            return pos
        if op == 0x31:  # POP_MARK
            _mark_slice(stack, marks)
            return pos
        if op == 0x32:  # DUP
            push(stack[-1])
            return pos
        if op == 0x73 or op == 0x61:  # SETITEM, APPEND
            values = [stack.pop()] if op == 0x61 else [stack.pop(-2), stack.pop()]
            target = stack[-1]
            if type(target) is list:
                if len(target) < CONTAINER_KEEP:
                    target += values
            else:
                self._mutate(target, at)
            return pos
        if op == 0x90:  # ADDITEMS
            m = marks.pop()
            if m == 0:
                raise PickleParseError("no set below the MARK", at)
            target = stack[m - 1]
            if type(target) is list:
                target += stack[m : m + max(0, CONTAINER_KEEP - len(target))]
            else:
                self._mutate(target, at)
            del stack[m:]
            return pos
        if op == 0x74:  # TUPLE
            push(tuple(_mark_slice(stack, marks)))
            return pos
        if op == 0x6C or op == 0x64 or op == 0x91:  # LIST, DICT, FROZENSET
            push(_mark_slice(stack, marks)[:CONTAINER_KEEP])
            return pos
        if op == 0x8F:  # EMPTY_SET
            push([])
            return pos
        if op == 0x43:  # SHORT_BINBYTES
            n = buf[pos]
            push(self._bytes_value(pos + 1, n, end, at))
            return pos + 1 + n
        if op == 0x42:  # BINBYTES
            n = int.from_bytes(buf[pos : pos + 4], "little")
            push(self._bytes_value(pos + 4, n, end, at))
            return pos + 4 + n
        if op == 0x8E or op == 0x96:  # BINBYTES8, BYTEARRAY8
            n = int.from_bytes(buf[pos : pos + 8], "little")
            push(self._bytes_value(pos + 8, n, end, at))
            return pos + 8 + n
        if op == 0x8D:  # BINUNICODE8
            n = int.from_bytes(buf[pos : pos + 8], "little")
            if pos + 8 + n > end:
                raise PickleParseError("truncated string", at)
            push(_decode_utf8(bytes(buf[pos + 8 : pos + 8 + n])) if n <= STR_KEEP else OPAQUE)
            return pos + 8 + n
        if op == 0x55 or op == 0x54:  # SHORT_BINSTRING, BINSTRING (py2 str, decoded as text by py3)
            width = 1 if op == 0x55 else 4
            n = int.from_bytes(buf[pos : pos + width], "little", signed=(op == 0x54))
            if n < 0 or pos + width + n > end:
                raise PickleParseError("bad BINSTRING length", at)
            push(bytes(buf[pos + width : pos + width + n]).decode("latin-1") if n <= STR_KEEP else OPAQUE)
            return pos + width + n
        if op == 0x8A:  # LONG1
            n = buf[pos]
            push(int.from_bytes(buf[pos + 1 : pos + 1 + n], "little", signed=True))
            return pos + 1 + n
        if op == 0x8B:  # LONG4
            n = int.from_bytes(buf[pos : pos + 4], "little", signed=True)
            if n < 0 or pos + 4 + n > end:
                raise PickleParseError("bad LONG4 length", at)
            push(int.from_bytes(buf[pos + 4 : pos + 4 + n], "little", signed=True) if n <= 64 else OPAQUE)
            return pos + 4 + n
        if op == 0x53:  # STRING
            line, pos = _readline(buf, pos, end)
            if line is None:
                push(OPAQUE)
                return pos
            if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
                raise PickleParseError("STRING argument is not quoted", at)
            raw = codecs.escape_decode(line[1:-1])[0]
            push(raw.decode("latin-1") if len(raw) <= STR_KEEP else OPAQUE)
            return pos
        if op == 0x56:  # UNICODE
            line, pos = _readline(buf, pos, end)
            push(line.decode("raw-unicode-escape") if line is not None and len(line) <= STR_KEEP else OPAQUE)
            return pos
        if op == 0x49:  # INT
            line, pos = _short_line(buf, pos, end)
            push(True if line == b"01" else False if line == b"00" else int(line))
            return pos
        if op == 0x4C:  # LONG
            line, pos = _short_line(buf, pos, end)
            push(int(line[:-1] if line.endswith(b"L") else line))
            return pos
        if op == 0x46:  # FLOAT
            line, pos = _short_line(buf, pos, end)
            float(line)
            push(0.0)
            return pos
        if op == 0x70:  # PUT
            line, pos = _short_line(buf, pos, end)
            memo[int(line)] = stack[-1]
            return pos
        if op == 0x67:  # GET
            line, pos = _short_line(buf, pos, end)
            push(memo[int(line)])
            return pos
        if op == 0x50:  # PERSID
            _, pos = _readline(buf, pos, end)
            push(OPAQUE)
            return pos
        if op == 0x51:  # BINPERSID
            stack[-1] = OPAQUE
            return pos
        if op == 0x97:  # NEXT_BUFFER
            push(OPAQUE)
            return pos
        if op == 0x98:  # READONLY_BUFFER
            stack[-1]
            return pos
        raise PickleParseError(f"unknown opcode {op:#04x}", at)

    # --- semantics of calls and mutations --------------------------------------------

    def _call(self, func: Any, args: Any, at: int, opcode: str) -> Call:
        ctx = self.ctx
        if isinstance(func, Global):
            ctx.mark_called(self.member, func)
            if policy.is_nested_loader(func.module, func.name):
                self._nested(func, args, at)
        elif isinstance(func, Call):
            ctx.add(
                "suspicious",
                "pickle-indirect-call",
                f"{opcode} calls the result of another call ({_show(func)})",
                self.member,
                at,
                _show(func),
            )
        elif func is not OPAQUE:
            raise PickleParseError(f"{opcode} on a value that is not callable ({_show(func)})", at)
        return Call(func, args, at)

    def _mutate(self, target: Any, at: int) -> None:
        if isinstance(target, Global):
            self.ctx.add(
                "dangerous",
                "pickle-global-mutation",
                f"the pickle modifies the imported object {target} (BUILD/SETITEM on a global "
                "rewrites modules, e.g. to turn an allowlisted name into eval)",
                self.member,
                at,
                repr(target),
            )
        elif isinstance(target, Call | list | _Opaque):
            return
        else:
            raise PickleParseError(f"cannot add items to {_show(target)}", at)

    def _nested(self, func: Global, args: Any, at: int) -> None:
        if func.module == "marshal":
            return  # a code object, not a pickle; marshal is on the denylist anyway
        arg = args[0] if isinstance(args, tuple) and args else None
        where = f"{self.member or ''}>nested pickle at {at}".lstrip(">")
        if isinstance(arg, Blob):
            buf, start, end = self.buf, arg.start, arg.start + arg.length
        else:
            data = _constant_bytes(arg)
            if data is None:
                self.ctx.add(
                    "suspicious",
                    "pickle-nested-unseen",
                    f"{func} unpickles bytes that are computed at load time and cannot be checked",
                    self.member,
                    at,
                    repr(func),
                )
                return
            buf, start, end = data, 0, len(data)
        if self.depth >= self.ctx.max_depth:
            self.ctx.add(
                "suspicious",
                "pickle-nested-too-deep",
                "nested pickles nest deeper than the limit",
                self.member,
                at,
                repr(func),
            )
            return
        self.ctx.add(
            "info",
            "pickle-nested",
            f"{func} unpickles an embedded pickle, analysed as {where!r}",
            self.member,
            at,
            repr(func),
        )
        analyze_stream(Walker(buf, self.ctx, where, self.depth + 1), start, end)

    def _joblib_array(self, wrapper: Call, pos: int, end: int) -> int:
        """Skip the raw array bytes joblib writes right after a NumpyArrayWrapper's BUILD."""
        state = wrapper.state
        if type(state) is not list:
            raise PickleParseError("NumpyArrayWrapper state is not a dict", pos)
        shape = _dict_get(state, "shape")
        size = _itemsize(_dict_get(state, "dtype"))
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or size is None:
            raise PickleParseError("cannot size the array that follows a NumpyArrayWrapper", pos)
        itemsize, hasobject = size
        if hasobject:
            # joblib pickles object arrays with pickle.dump right here: a nested pickle stream
            new_pos, _ = self.run_one(pos, end)
            return new_pos
        if _dict_get(state, "numpy_array_alignment_bytes") is not None:
            pos += 1 + self.buf[pos]
        count = 1
        for d in shape:
            count *= d
        nbytes = count * itemsize
        if pos + nbytes > end:
            raise PickleParseError("joblib array data runs past the end of the file", pos)
        return pos + nbytes


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _constant_bytes(value: Any) -> bytes | None:
    """The bytes an argument evaluates to, undoing known pure wrappers statically; else None."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, Call) and isinstance(value.func, Global) and isinstance(value.args, tuple):
        module, name = policy.normalize(value.func.module, value.func.name)
        args = value.args
        if (module, name) in (("_codecs", "encode"), ("codecs", "encode")) and args and isinstance(args[0], str):
            encoding = args[1] if len(args) > 1 and isinstance(args[1], str) else "utf-8"
            if encoding.replace("-", "").replace("_", "").lower() in ("latin1", "iso88591", "utf8", "ascii"):
                try:
                    return args[0].encode(encoding, "surrogatepass")
                except (UnicodeError, LookupError):
                    return None
        if module == "base64" and name in ("b64decode", "standard_b64decode", "decodebytes") and args:
            inner = args[0].encode("latin-1", "replace") if isinstance(args[0], str) else args[0]
            if isinstance(inner, bytes):
                try:
                    return base64.b64decode(inner)
                except (binascii.Error, ValueError):
                    return None
        if module == "builtins" and name in ("bytes", "bytearray") and args:
            return _constant_bytes(args[0])
    return None


def analyze_stream(walker: Walker, start: int, end: int) -> None:
    """Walk every pickle in ``[start, end)``, recording findings in ``walker.ctx``.

    Stacked pickles are all walked. After the legacy ``torch.save`` magic number the walk
    stops after the storage-key list, where raw storage bytes begin. Data after the last
    pickle that is not a pickle is an info finding; a malformed pickle is ``unparseable``.
    """
    ctx = walker.ctx
    pos = start
    index = 0
    legacy_at: int | None = None
    while pos < end:
        first = pos
        try:
            pos, top = walker.run_one(pos, end)
        except PickleParseError as error:
            if index > 0 and error.progress == 0:
                ctx.add(
                    "info",
                    "pickle-trailing-data",
                    f"{end - first} bytes after the last pickle are not a pickle",
                    walker.member,
                    first,
                )
            else:
                ctx.add(
                    "unparseable",
                    "pickle-unparseable",
                    f"the pickle is malformed at byte {error.offset}: {error}",
                    walker.member,
                    error.offset,
                )
            return
        index += 1
        if legacy_at is None and top == LEGACY_TORCH_MAGIC:
            legacy_at = index
        elif legacy_at is not None and index >= legacy_at + 4:
            return  # protocol version, sys_info, the object, the storage keys: raw storages follow
        ctx.check_time()


def analyze_pickle(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Analyse the pickle stream in ``buf[start:end]`` and record findings in ``ctx``."""
    analyze_stream(Walker(buf, ctx, member), start, end)


def looks_like_pickle(head: bytes) -> bool:
    """Cheap test on the first bytes: could a pickle start here?

    True for ``PROTO 0-5`` and for the opcodes a protocol 0/1 pickle starts with; the first
    opcode must then also parse (see ``probe_pickle``).
    """
    if not head:
        return False
    if head[0] == 0x80:
        return len(head) > 1 and head[1] <= 5
    return head[0] in _START_OPS


# Opcodes that can start a pickle (they need nothing on the stack).
_START_OPS = frozenset(b"(cNIJKLMFGSTUVX}])P\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x95\x96BC\x93\x82\x83\x84ghj")


def probe_pickle(buf: BufferLike, start: int, end: int) -> bool:
    """True when ``buf`` starts like a pickle: its first opcodes parse (no findings are kept).

    A real pickle reaches STOP, imports something, or parses for at least 16 bytes; text
    that merely starts with an opcode letter (``(c) 2020``, ``I think``) fails sooner.
    """
    head = bytes(buf[start : start + 2])
    if not looks_like_pickle(head):
        return False
    if head[0] == 0x80:
        return True  # PROTO 0-5 is a strong signature
    window = min(end, start + (1 << 16))
    ctx = PickleContext(deadline=time.monotonic() + 1.0)
    try:
        Walker(buf, ctx, None).run_one(start, window)
    except PickleParseError as error:
        return error.progress >= 16 or bool(ctx.imports)
    except ScanTimeout:
        return True
    return True
