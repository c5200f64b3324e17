"""Search words in model ids: which ids contain a word, from an index of the ids' three-byte pieces.

``contains(lower(repo_id), word)`` over a million ids scans ~25 MB per word (~15 ms). Here each
id's lower-cased UTF-8 bytes are cut into overlapping three-byte pieces (trigrams), and each
piece lists the ids holding it (``postings``), built once at start. An id contains a word of
three bytes or more only if it holds every trigram of the word, so the ids of the word's rarest
trigrams, intersected, are the candidates, and ``match_substring`` over just those says which
really contain it. A word of two bytes is found exactly: it is where a trigram starts (the
trigrams beginning with it are one run of the sorted pieces) or an id's last two bytes. A word
of one byte is looked for by scanning every id. The answers are the scan's: tests/web/test_index.py
holds them to DuckDB's ``contains``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ptmscope.web.arrays import distinct

_SCAN_BELOW = 8
"""Candidates are intersected until the next trigram lists this many times more ids than the fewest."""


def _pieces(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code, id) of every trigram of the ids (bytes ``starts``..``ends`` of ``data``)."""
    lengths = np.maximum(ends - starts - 2, 0)
    total = int(lengths.sum())
    ids = np.repeat(np.arange(len(starts), dtype=np.int32), lengths)
    at = np.repeat((starts - np.cumsum(lengths) + lengths).astype(np.int32), lengths)
    at += np.arange(total, dtype=np.int32)
    codes = data[at].astype(np.int32) << 16
    codes |= data[at + 1].astype(np.int32) << 8
    codes |= data[at + 2]
    return codes, ids


def _postings(codes: np.ndarray, ids: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct codes ascending, where each code's ids start, ids): each code's ids ascending, once each."""
    keys = distinct(codes.astype(np.int64) * max(count, 1) + ids)
    codes, ids = keys // max(count, 1), (keys % max(count, 1)).astype(np.int32)
    first = np.flatnonzero(np.diff(codes, prepend=-1))
    return codes[first], np.append(first, len(ids)).astype(np.int64), ids


def _code(piece: bytes) -> int:
    return int.from_bytes(piece, "big")


class Words:
    """The ids of the index, in its order, cut into trigrams (and each id's last two bytes)."""

    def __init__(self, lowered: pa.Array) -> None:
        lowered = lowered.cast(pa.large_string())
        self._names = lowered
        count = len(lowered)
        offsets = np.frombuffer(lowered.buffers()[1], dtype=np.int64)[lowered.offset : lowered.offset + count + 1]
        starts, ends = offsets[:-1], offsets[1:]
        buffer = lowered.buffers()[2]
        data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, dtype=np.uint8)
        self._trigrams = _postings(*_pieces(data, starts, ends), count)
        tails = np.flatnonzero(ends - starts >= 2)
        last_two = (data[ends[tails] - 2].astype(np.int32) << 8) | data[ends[tails] - 1]
        self._tails = _postings(last_two, tails.astype(np.int32), count)

    @staticmethod
    def _of(postings: tuple[np.ndarray, np.ndarray, np.ndarray], low: int, high: int) -> np.ndarray:
        """The ids of the codes ``low``..``high`` (a run of the sorted codes)."""
        codes, starts, ids = postings
        first, last = np.searchsorted(codes, [low, high + 1])
        return ids[starts[first] : starts[last]]

    def matching(self, word: str) -> np.ndarray:
        """The ids that contain ``word`` (lower-cased already), ascending."""
        piece = word.encode("utf-8")
        if len(piece) < 2:
            found = np.asarray(pc.match_substring(self._names, word).to_numpy(zero_copy_only=False))
            return np.flatnonzero(found).astype(np.int32)
        if len(piece) == 2:
            code = _code(piece) << 8
            starting = self._of(self._trigrams, code, code + 255)
            ending = self._of(self._tails, _code(piece), _code(piece))
            return distinct(np.concatenate([starting, ending])).astype(np.int32)
        codes = {_code(piece[i : i + 3]) for i in range(len(piece) - 2)}
        lists = sorted((self._of(self._trigrams, c, c) for c in codes), key=len)
        candidates = lists[0]
        for ids in lists[1:]:
            if len(ids) > _SCAN_BELOW * len(candidates) or len(candidates) == 0:
                break
            candidates = np.intersect1d(candidates, ids, assume_unique=True)
        if len(candidates) == 0:
            return candidates.astype(np.int32)
        if 2 * len(candidates) > len(self._names):  # most ids: look at them all rather than copy most of them
            found = pc.match_substring(self._names, word)
            return np.flatnonzero(np.asarray(found.to_numpy(zero_copy_only=False))).astype(np.int32)
        found = pc.match_substring(self._names.take(pa.array(candidates)), word)
        return candidates[np.asarray(found.to_numpy(zero_copy_only=False))].astype(np.int32)

    @property
    def nbytes(self) -> int:
        """Memory held (the ids' text included)."""
        arrays = [*self._trigrams, *self._tails]
        return sum(a.nbytes for a in arrays) + self._names.nbytes
