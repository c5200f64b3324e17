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

The walker handles the opcodes that dominate real checkpoints and vocabularies inline, in one
loop (``Walker._walk_chunk``); every other opcode has a small handler, found through the
``_RARE`` table. What it finds goes into the file's ``PickleContext`` (``context``).

Large string and bytes arguments are never copied: the walker jumps over them. What a pickle
can make the walker hold is bounded (checked every ``CHUNK`` bytes of opcodes): the memo holds at
most ``MEMO_MAX_ENTRIES`` entries, and past the first ``MEMO_BASE_ENTRIES`` no more than one per
``MEMO_BYTES_PER_ENTRY`` bytes of pickle walked, with an estimated footprint (entry plus the
strings, bytes and containers it holds) of at most ``MEMO_MAX_BYTES``; past a bound the memo stops
growing (later look-ups of untracked entries are opaque) and the file gets an ``unparseable``
finding (``pickle-memo-limit``). The stack and marks hold at most ``STACK_MAX`` entries (more is
a parse error). Bytes values are copied up to ``COPY_BUDGET`` bytes per file, then kept as
offsets into the buffer. (The bounds are the defaults of ``PickleContext``, in ``context``.)
"""

from __future__ import annotations

import base64
import binascii
import codecs
import copyreg
import re
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

from ptmscope.scanners import policy
from ptmscope.scanners.context import MEMO_BYTES_PER_ENTRY, BufferLike, Global, PickleContext, ScanTimeout

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
# Estimated bytes of one memo entry, before what it holds (see ``_memo_cost``).
_MEMO_ENTRY = 72
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


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


# --- symbolic values ---------------------------------------------------------------


class _Opaque:
    """A value the analysis does not track (persistent ids, long strings, floats)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<opaque>"


OPAQUE = _Opaque()


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


# --- the walker ----------------------------------------------------------------------

_OPNAMES: dict[int, str] = {
    ord("c"): "GLOBAL",
    ord("i"): "INST",
    0x93: "STACK_GLOBAL",
    0x82: "EXT1",
    0x83: "EXT2",
    0x84: "EXT4",
    0x52: "REDUCE",
    0x81: "NEWOBJ",
    0x92: "NEWOBJ_EX",
}
# Argument widths of EXT1, EXT2, EXT4.
_EXT_WIDTHS = {0x82: 1, 0x83: 2, 0x84: 4}
# What NONE, NEWTRUE, NEWFALSE, EMPTY_TUPLE and NEXT_BUFFER push.
_CONSTANTS: dict[int, Any] = {0x4E: None, 0x88: True, 0x89: False, 0x29: (), 0x97: OPAQUE}
# The opcodes ``Walker._walk_chunk`` handles inline; every other one goes through ``_RARE``.
# MEMOIZE SHORT_BINUNICODE TUPLE2 BINPUT BINGET EMPTY_DICT LONG_BINPUT BININT1 MARK BINUNICODE
# BININT BININT2 BINFLOAT EMPTY_LIST STOP
FAST_OPS = frozenset(b"\x94\x8c\x86qh}rK(XJMG].")


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


class _PickleState:
    """One pickle being walked: its stack, marks and memo, and the walk's bookkeeping."""

    __slots__ = ("counted", "end", "first", "last_op", "marks", "memo", "memo_bytes", "stack", "stopped")

    def __init__(self, first: int, end: int) -> None:
        self.first = first  # offset of the pickle's first opcode
        self.end = end  # the pickle may not run past this offset
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: _Memo = _Memo()
        self.counted = 0  # memo entries whose cost is in memo_bytes
        self.memo_bytes = 0
        self.last_op = first  # offset of the last opcode of the chunk just walked
        self.stopped = False  # STOP was reached


# What a malformed pickle makes an opcode raise; the walker turns each into a PickleParseError.
_WALK_ERRORS = (
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    OverflowError,
    UnicodeDecodeError,
    AttributeError,
    RecursionError,
)
_ERROR_KINDS: dict[type, str] = {
    IndexError: "stack underflow or truncated input",
    KeyError: "memo key missing",
}


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

    def run_one(self, pos: int, end: int) -> tuple[int, Any]:
        """Walk one pickle from ``pos`` to its STOP; return (offset after STOP, top value).

        The opcodes are walked ``CHUNK`` bytes at a time (``_walk_chunk``); between chunks the
        deadline and the bounds on the stack and the memo are checked (``_check_bounds``).
        Containers are plain lists holding at most CONTAINER_KEEP items.
        """
        st = _PickleState(pos, end)
        try:
            while True:
                if pos >= end:
                    raise PickleParseError("pickle ends without STOP", pos)
                pos = self._walk_chunk(st, pos, min(pos + CHUNK, end))
                if st.stopped:
                    self.ctx.pickles += 1
                    return pos, (st.stack[-1] if st.stack else None)
                self._check_bounds(st, pos)
        except PickleParseError as error:
            error.start = st.first
            raise

    # The hot loop. Opcodes are split by value range, then tested roughly in the order of how
    # often they occur in real checkpoints and vocabularies; everything else goes through _RARE.
    def _walk_chunk(self, st: _PickleState, pos: int, chunk_end: int) -> int:
        """Walk opcodes from ``pos`` until ``chunk_end`` or STOP; return the offset reached.

        The frequent opcodes (``FAST_OPS``: memo, strings, small ints, marks, empty containers)
        are handled here, each rarer one by its handler in ``_RARE``. Sets ``st.last_op`` to the
        offset of the last opcode walked, and ``st.stopped`` at STOP.
        """
        buf = self.buf
        end = st.end
        stack = st.stack
        marks = st.marks
        memo = st.memo
        push = stack.append
        pop = stack.pop
        rare = _RARE
        start_op = pos
        try:
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
                    else:
                        pos = rare[op](self, st, op, pos, start_op)
                elif op >= 0x60:
                    if op == 0x71:  # BINPUT
                        memo[buf[pos]] = stack[-1]
                        pos += 1
                    elif op == 0x68:  # BINGET
                        push(memo[buf[pos]])
                        pos += 1
                    elif op == 0x7D:  # EMPTY_DICT (+ MEMOIZE)
                        items: list[Any] = []
                        push(items)
                        if pos < end and buf[pos] == 0x94:
                            memo[len(memo)] = items
                            pos += 1
                    elif op == 0x72:  # LONG_BINPUT
                        memo[int.from_bytes(buf[pos : pos + 4], "little")] = stack[-1]
                        pos += 4
                    else:
                        pos = rare[op](self, st, op, pos, start_op)
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
                elif op == 0x2E:  # STOP
                    st.stopped = True
                    break
                else:
                    pos = rare[op](self, st, op, pos, start_op)
        except _WALK_ERRORS as error:
            kind = _ERROR_KINDS.get(type(error), type(error).__name__)
            raise PickleParseError(f"{kind} at opcode {buf[start_op]:#04x}", start_op) from None
        st.last_op = start_op
        return pos

    def _check_bounds(self, st: _PickleState, pos: int) -> None:
        """Between chunks: the deadline, then the bounds on the stack and on the memo (which may freeze)."""
        ctx = self.ctx
        ctx.check_time()
        if len(st.stack) + len(st.marks) > ctx.max_stack:
            raise PickleParseError(f"the stack grows past {ctx.max_stack:,} entries", st.last_op)
        memo = st.memo
        if len(memo) > st.counted and type(memo) is _Memo:
            grown = len(memo) - st.counted
            st.memo_bytes += sum(map(_memo_cost, islice(reversed(memo.values()), grown)))
            st.counted = len(memo)
            allowed = min(ctx.max_memo_entries, ctx.memo_base_entries + (pos - st.first) // MEMO_BYTES_PER_ENTRY)
            if st.counted > allowed or st.memo_bytes > ctx.max_memo_bytes:
                memo.__class__ = _FrozenMemo
                self._memo_limit(st.counted, st.memo_bytes, pos)

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
        sub = PickleContext(
            self.ctx.deadline,
            self.ctx.max_depth,
            allow_globals=self.ctx.allow_globals,
            deny_globals=self.ctx.deny_globals,
        )
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

    # --- the opcodes outside the hot loop, found through _RARE ------------------------
    # Each handler gets the pickle's state, its opcode, the offset of its argument (``pos``) and
    # of the opcode itself (``at``, where an error or finding points), and returns the offset of
    # the next opcode.

    def _op_proto(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """PROTO: protocols 0-5 are understood."""
        if self.buf[pos] > 5:
            raise PickleParseError(f"unsupported protocol {self.buf[pos]}", at)
        return pos + 1

    def _op_frame(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """FRAME: the frame's length is not needed."""
        return pos + 8

    def _op_constant(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """NONE, NEWTRUE, NEWFALSE, EMPTY_TUPLE, NEXT_BUFFER: push a constant."""
        st.stack.append(_CONSTANTS[op])
        return pos

    def _op_call(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """REDUCE, NEWOBJ, NEWOBJ_EX: call the callable below the arguments."""
        stack = st.stack
        if op == 0x92:  # NEWOBJ_EX: its keyword arguments are not needed
            stack.pop()
        args = stack.pop()
        stack[-1] = self._call(stack[-1], args, at, _OPNAMES[op])
        return pos

    def _op_build(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """BUILD: set an object's state; on a global that is a mutation."""
        stack = st.stack
        state = stack.pop()
        target = stack[-1]
        if isinstance(target, Call):
            target.state = state
            func = target.func
            if isinstance(func, Global) and func.name == "NumpyArrayWrapper":
                return self._joblib_array(target, pos, st.end)
        elif type(target) is not list and type(target) is not tuple:
            self._mutate(target, at)
        return pos

    def _op_stack_global(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """STACK_GLOBAL: import the global named by the two strings on the stack."""
        stack = st.stack
        name = stack.pop()
        module = stack[-1]
        if isinstance(module, str) and isinstance(name, str):
            stack[-1] = self.ctx.record_import(self.member, module, name, at, "STACK_GLOBAL")
        else:
            shown = f"{_show(module)}, {_show(name)}"
            self.ctx.add(
                "suspicious",
                "pickle-unresolved-import",
                f"STACK_GLOBAL with operands that are not visible strings ({shown})",
                self.member,
                at,
                shown,
            )
            stack[-1] = Global("?", "?", at)
        return pos

    def _op_global(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """GLOBAL, INST: import the global named on two text lines (INST also calls it)."""
        buf = self.buf
        ctx = self.ctx
        raw_mod, pos = _readline(buf, pos, st.end)
        raw_name, pos = _readline(buf, pos, st.end)
        if raw_mod is None or raw_name is None:
            ctx.add(
                "suspicious",
                "pickle-unresolved-import",
                f"{_OPNAMES[op]} names a global longer than {LINE_KEEP} bytes",
                self.member,
                at,
            )
            g = Global("?", "?", at)
        else:
            g = ctx.record_import(self.member, raw_mod.decode("utf-8"), raw_name.decode("utf-8"), at, _OPNAMES[op])
        if op == 0x63:
            st.stack.append(g)
        else:
            args = tuple(_mark_slice(st.stack, st.marks))
            st.stack.append(self._call(g, args, at, "INST"))
        return pos

    def _op_obj(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """OBJ: call the first item above the MARK with the others."""
        items = _mark_slice(st.stack, st.marks)
        if not items:
            raise PickleParseError("OBJ without a class", at)
        st.stack.append(self._call(items[0], tuple(items[1:]), at, "OBJ"))
        return pos

    def _op_ext(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """EXT1, EXT2, EXT4: import a global through the copyreg extension registry."""
        ctx = self.ctx
        width = _EXT_WIDTHS[op]
        code = int.from_bytes(self.buf[pos : pos + width], "little")
        pair = copyreg._inverted_registry.get(code)  # type: ignore[attr-defined]
        if pair is None:
            ctx.add(
                "suspicious",
                "pickle-unresolved-import",
                f"extension code {code} is not registered here; the loading process may map it to any global",
                self.member,
                at,
                f"EXT {code}",
            )
            st.stack.append(Global("?ext", str(code), at))
        else:
            st.stack.append(ctx.record_import(self.member, pair[0], pair[1], at, _OPNAMES[op]))
        return pos + width

    def _op_pop(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """POP: the top item, or the top MARK when the stack above it is empty."""
        if st.stack:
            st.stack.pop()
        elif st.marks:
            st.marks.pop()
        else:
            raise PickleParseError("POP on an empty stack", at)
        return pos

    def _op_pop_mark(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """POP_MARK."""
        _mark_slice(st.stack, st.marks)
        return pos

    def _op_dup(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """DUP."""
        st.stack.append(st.stack[-1])
        return pos

    def _op_add_one(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """SETITEM, APPEND: add to the container below (to a global: a mutation)."""
        stack = st.stack
        values = [stack.pop()] if op == 0x61 else [stack.pop(-2), stack.pop()]
        target = stack[-1]
        if type(target) is list:
            if len(target) < CONTAINER_KEEP:
                target += values
        else:
            self._mutate(target, at)
        return pos

    def _op_add_marked(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """SETITEMS, APPENDS: add the items above the MARK to the container below it."""
        stack = st.stack
        m = st.marks.pop()  # IndexError (no MARK) -> parse error, as in pickle
        if m == 0:
            raise PickleParseError("no container below the MARK", at)
        target = stack[m - 1]
        if type(target) is list:
            room = CONTAINER_KEEP - len(target)
            if room > 0:
                target += stack[m : m + room]
        else:
            self._mutate(target, at)
        del stack[m:]
        return pos

    def _op_additems(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """ADDITEMS: add the items above the MARK to the set below it."""
        stack = st.stack
        m = st.marks.pop()
        if m == 0:
            raise PickleParseError("no set below the MARK", at)
        target = stack[m - 1]
        if type(target) is list:
            target += stack[m : m + max(0, CONTAINER_KEEP - len(target))]
        else:
            self._mutate(target, at)
        del stack[m:]
        return pos

    def _op_tuple(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """TUPLE: the items above the MARK."""
        st.stack.append(tuple(_mark_slice(st.stack, st.marks)))
        return pos

    def _op_tuple1(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """TUPLE1."""
        stack = st.stack
        stack[-1] = (stack[-1],)
        return pos

    def _op_tuple3(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """TUPLE3."""
        stack = st.stack
        c = stack.pop()
        b = stack.pop()
        stack[-1] = (stack[-1], b, c)
        return pos

    def _op_list(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """LIST, DICT, FROZENSET: a container of the items above the MARK."""
        st.stack.append(_mark_slice(st.stack, st.marks)[:CONTAINER_KEEP])
        return pos

    def _op_empty_set(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """EMPTY_SET."""
        st.stack.append([])
        return pos

    def _op_long_binget(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """LONG_BINGET."""
        st.stack.append(st.memo[int.from_bytes(self.buf[pos : pos + 4], "little")])
        return pos + 4

    def _op_short_binbytes(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """SHORT_BINBYTES."""
        n = self.buf[pos]
        st.stack.append(self._bytes_value(pos + 1, n, st.end, at))
        return pos + 1 + n

    def _op_binbytes(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """BINBYTES (4-byte length), BINBYTES8, BYTEARRAY8 (8-byte length)."""
        width = 4 if op == 0x42 else 8
        n = int.from_bytes(self.buf[pos : pos + width], "little")
        st.stack.append(self._bytes_value(pos + width, n, st.end, at))
        return pos + width + n

    def _op_binunicode8(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """BINUNICODE8."""
        buf = self.buf
        n = int.from_bytes(buf[pos : pos + 8], "little")
        if pos + 8 + n > st.end:
            raise PickleParseError("truncated string", at)
        st.stack.append(_decode_utf8(bytes(buf[pos + 8 : pos + 8 + n])) if n <= STR_KEEP else OPAQUE)
        return pos + 8 + n

    def _op_binstring(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """SHORT_BINSTRING, BINSTRING: a py2 str, decoded as text as py3 does."""
        buf = self.buf
        width = 1 if op == 0x55 else 4
        n = int.from_bytes(buf[pos : pos + width], "little", signed=(op == 0x54))
        if n < 0 or pos + width + n > st.end:
            raise PickleParseError("bad BINSTRING length", at)
        st.stack.append(bytes(buf[pos + width : pos + width + n]).decode("latin-1") if n <= STR_KEEP else OPAQUE)
        return pos + width + n

    def _op_long1(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """LONG1."""
        buf = self.buf
        n = buf[pos]
        st.stack.append(int.from_bytes(buf[pos + 1 : pos + 1 + n], "little", signed=True))
        return pos + 1 + n

    def _op_long4(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """LONG4: integers longer than 64 bytes are opaque."""
        buf = self.buf
        n = int.from_bytes(buf[pos : pos + 4], "little", signed=True)
        if n < 0 or pos + 4 + n > st.end:
            raise PickleParseError("bad LONG4 length", at)
        st.stack.append(int.from_bytes(buf[pos + 4 : pos + 4 + n], "little", signed=True) if n <= 64 else OPAQUE)
        return pos + 4 + n

    def _op_string(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """STRING: a quoted, escaped protocol-0 string."""
        line, pos = _readline(self.buf, pos, st.end)
        if line is None:
            st.stack.append(OPAQUE)
            return pos
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise PickleParseError("STRING argument is not quoted", at)
        raw = codecs.escape_decode(line[1:-1])[0]
        st.stack.append(raw.decode("latin-1") if len(raw) <= STR_KEEP else OPAQUE)
        return pos

    def _op_unicode(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """UNICODE: a raw-unicode-escaped protocol-0 string."""
        line, pos = _readline(self.buf, pos, st.end)
        st.stack.append(line.decode("raw-unicode-escape") if line is not None and len(line) <= STR_KEEP else OPAQUE)
        return pos

    def _op_int(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """INT (protocol 0: also the booleans 01 and 00)."""
        line, pos = _short_line(self.buf, pos, st.end)
        st.stack.append(True if line == b"01" else False if line == b"00" else int(line))
        return pos

    def _op_long(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """LONG."""
        line, pos = _short_line(self.buf, pos, st.end)
        st.stack.append(int(line[:-1] if line.endswith(b"L") else line))
        return pos

    def _op_float(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """FLOAT: checked to parse; the value is not kept."""
        line, pos = _short_line(self.buf, pos, st.end)
        float(line)
        st.stack.append(0.0)
        return pos

    def _op_put(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """PUT (a text memo key)."""
        line, pos = _short_line(self.buf, pos, st.end)
        st.memo[int(line)] = st.stack[-1]
        return pos

    def _op_get(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """GET (a text memo key)."""
        line, pos = _short_line(self.buf, pos, st.end)
        st.stack.append(st.memo[int(line)])
        return pos

    def _op_persid(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """PERSID: a persistent id on a text line, opaque."""
        _, pos = _readline(self.buf, pos, st.end)
        st.stack.append(OPAQUE)
        return pos

    def _op_binpersid(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """BINPERSID: the persistent id on the stack becomes opaque."""
        st.stack[-1] = OPAQUE
        return pos

    def _op_readonly_buffer(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """READONLY_BUFFER: needs an item on the stack, changes nothing."""
        st.stack[-1]  # IndexError on an empty stack, as in pickle
        return pos

    def _op_unknown(self, st: _PickleState, op: int, pos: int, at: int) -> int:
        """A byte that is no opcode of protocols 0-5."""
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


_Handler = Callable[[Walker, _PickleState, int, int, int], int]

# The handler of each opcode outside FAST_OPS.
_HANDLERS: dict[int, _Handler] = {
    0x80: Walker._op_proto,  # PROTO
    0x95: Walker._op_frame,  # FRAME
    0x4E: Walker._op_constant,  # NONE
    0x88: Walker._op_constant,  # NEWTRUE
    0x89: Walker._op_constant,  # NEWFALSE
    0x29: Walker._op_constant,  # EMPTY_TUPLE
    0x97: Walker._op_constant,  # NEXT_BUFFER
    0x52: Walker._op_call,  # REDUCE
    0x81: Walker._op_call,  # NEWOBJ
    0x92: Walker._op_call,  # NEWOBJ_EX
    0x62: Walker._op_build,  # BUILD
    0x93: Walker._op_stack_global,  # STACK_GLOBAL
    0x63: Walker._op_global,  # GLOBAL
    0x69: Walker._op_global,  # INST
    0x6F: Walker._op_obj,  # OBJ
    0x82: Walker._op_ext,  # EXT1
    0x83: Walker._op_ext,  # EXT2
    0x84: Walker._op_ext,  # EXT4
    0x30: Walker._op_pop,  # POP
    0x31: Walker._op_pop_mark,  # POP_MARK
    0x32: Walker._op_dup,  # DUP
    0x73: Walker._op_add_one,  # SETITEM
    0x61: Walker._op_add_one,  # APPEND
    0x75: Walker._op_add_marked,  # SETITEMS
    0x65: Walker._op_add_marked,  # APPENDS
    0x90: Walker._op_additems,  # ADDITEMS
    0x74: Walker._op_tuple,  # TUPLE
    0x85: Walker._op_tuple1,  # TUPLE1
    0x87: Walker._op_tuple3,  # TUPLE3
    0x6C: Walker._op_list,  # LIST
    0x64: Walker._op_list,  # DICT
    0x91: Walker._op_list,  # FROZENSET
    0x8F: Walker._op_empty_set,  # EMPTY_SET
    0x6A: Walker._op_long_binget,  # LONG_BINGET
    0x43: Walker._op_short_binbytes,  # SHORT_BINBYTES
    0x42: Walker._op_binbytes,  # BINBYTES
    0x8E: Walker._op_binbytes,  # BINBYTES8
    0x96: Walker._op_binbytes,  # BYTEARRAY8
    0x8D: Walker._op_binunicode8,  # BINUNICODE8
    0x55: Walker._op_binstring,  # SHORT_BINSTRING
    0x54: Walker._op_binstring,  # BINSTRING
    0x8A: Walker._op_long1,  # LONG1
    0x8B: Walker._op_long4,  # LONG4
    0x53: Walker._op_string,  # STRING
    0x56: Walker._op_unicode,  # UNICODE
    0x49: Walker._op_int,  # INT
    0x4C: Walker._op_long,  # LONG
    0x46: Walker._op_float,  # FLOAT
    0x70: Walker._op_put,  # PUT
    0x67: Walker._op_get,  # GET
    0x50: Walker._op_persid,  # PERSID
    0x51: Walker._op_binpersid,  # BINPERSID
    0x98: Walker._op_readonly_buffer,  # READONLY_BUFFER
}
# Every byte value has an entry (so the hot loop needs no test): a byte that is no opcode raises.
# The FAST_OPS never get here.
_RARE: dict[int, _Handler] = {op: _HANDLERS.get(op, Walker._op_unknown) for op in range(256)}


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
