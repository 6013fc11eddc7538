"""Remembering the values seen across the batches of a stream, in bounded memory.

``validate`` (uniqueness) and ``collect`` (repeated ids and contact details) both ask,
batch after batch, which values were seen before. A Python set of every value grows
with the input (about 100 bytes a value); :class:`SeenValues` keeps fixed-width keys
(hashes or keyed tokens) in sorted numpy arrays, writes them out as sorted runs beyond
a limit and searches the runs through memory maps. Written here because no library
used by custrec offers an on-disk sorted set with per-key payloads that numpy's
``searchsorted`` cannot already serve (SQLite would, at ten times the cost per key).
"""

from __future__ import annotations

import mmap
from typing import Any

SPILL_BYTES = 16 << 20
"""Keys (and labels) of one kind kept in memory before they are written out as a run:
two million 8-byte hashes, or about 700,000 16-byte tokens with their labels."""


class SeenValues:
    """The keys seen so far, sorted, each with the label of its first occurrence when
    labels are given (``labelled``). Up to ``limit`` keys (default: SPILL_BYTES worth)
    are held in memory; beyond, each sorted set
    is written out as a run in a private temporary directory (0700, files 0600; removed
    by :meth:`close`, or when the object is collected or the interpreter exits) and
    searched through a memory map, so memory does not grow with the input (an external
    sort's runs, kept apart: a batch's keys are looked up in each run by binary search).
    Keys are what the caller makes them: seeded hashes (``validate``) or keyed tokens
    (``collect``), so a run left behind by a killed process tells nothing about a value.
    """

    def __init__(
        self, limit: int | None = None, dtype: Any = None, *, labelled: bool = False
    ) -> None:
        import numpy as np

        self.dtype = np.dtype(np.uint64 if dtype is None else dtype)
        if self.dtype.itemsize not in (8, 16):
            raise ValueError("keys are 8 or 16 bytes")
        # Keys, and their labels when ``labelled``, up to SPILL_BYTES in memory.
        self.limit = limit or SPILL_BYTES // (self.dtype.itemsize + (8 if labelled else 0))
        # A 16-byte key is held as two 64-bit words, ``high`` (sorted, searched) and
        # ``low`` (compared): numpy searches 64-bit integers eight times faster than
        # 16-byte strings.
        self._memory = _Part.empty(self.dtype.itemsize == 16)
        self._runs: list[_Part] = []
        self._maps: list[Any] = []  # the runs' memory maps
        self._directory: str | None = None
        self._removal: Any = None

    def repeated(self, hashes: Any) -> Any:
        """For each of ``hashes`` (a numpy array, one key per value): whether it was
        seen before, earlier in ``hashes`` or in an earlier call; the others are
        remembered."""
        return self.first_labels(hashes, None)[0]

    def first_labels(self, keys: Any, labels: Any) -> tuple[Any, Any]:
        """For each of ``keys``: whether it was seen before (earlier in ``keys`` or in
        an earlier call), and the label of its first occurrence (-1 for a first one).
        ``labels`` (int64, one per key; None: no labels kept) label the keys not seen
        before, which are remembered."""
        import numpy as np

        high, low = _words(np.asarray(keys, dtype=self.dtype))
        count = len(high)
        order = np.lexsort((high,) if low is None else (low, high))  # stable
        starts = np.ones(count, dtype=bool)
        if count > 1:
            starts[1:] = high[order[1:]] != high[order[:-1]]
            if low is not None:
                starts[1:] |= low[order[1:]] != low[order[:-1]]
        # Each key's first copy in this call (the sort is stable: the smallest index).
        group_start = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
        earlier = np.zeros(count, dtype=bool)
        earlier[order] = ~starts
        first = np.full(count, -1, dtype=np.int64)
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64)
            first[order] = np.where(starts, -1, labels[order[group_start]])
        for part in (*self._runs, self._memory):
            if not len(part.high):
                continue
            found, places = part.find(high, low)
            if labels is not None:  # a key found here was first seen before this call
                first = np.where(found, part.labels[places], first)
            earlier |= found
        # The pages of the runs that the searches touched count in the resident memory
        # of the process while they stay mapped: let them go (the kernel's page cache
        # keeps them for the next batch), so that memory does not grow with the runs.
        for mapped in self._maps:
            mapped.madvise(mmap.MADV_DONTNEED)
        # Keep only the keys not seen before: one copy of the set at a time.
        new = order[starts & ~earlier[order]]
        self._memory = self._memory.with_keys(
            high[new], None if low is None else low[new], None if labels is None else labels[new]
        )
        if len(self._memory.high) >= self.limit:
            self._spill()
        return earlier, first

    def _spill(self) -> None:
        part = self._memory
        number = len(self._runs)
        self._runs.append(
            _Part(
                self._write(part.high, f"high-{number}"),
                None if part.low is None else self._write(part.low, f"low-{number}"),
                self._write(part.labels, f"labels-{number}") if len(part.labels) else part.labels,
            )
        )
        self._memory = _Part.empty(part.low is not None)

    def _write(self, values: Any, name: str) -> Any:
        import os
        import tempfile

        import numpy as np

        if self._directory is None:
            import shutil
            import weakref

            self._directory = tempfile.mkdtemp(prefix="custrec-seen-")  # mode 0700
            self._removal = weakref.finalize(self, shutil.rmtree, self._directory, True)
        path = os.path.join(self._directory, name)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "r+b") as handle:
            handle.write(values.tobytes())
            handle.flush()
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=values.dtype)

    def close(self) -> None:
        """Remove the runs written out now (nothing to do when none were)."""
        self._runs = []
        self._maps = []  # unmapped when the last array over them goes
        if self._removal is not None:
            self._removal()
            self._removal = self._directory = None


def _words(keys: Any) -> tuple[Any, Any]:
    """8-byte keys as they are; 16-byte keys as two 64-bit words (high, low)."""
    import numpy as np

    if keys.dtype.itemsize == 8:
        return keys.view(np.uint64), None
    pairs = np.ascontiguousarray(keys).view(np.uint64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


class _Part:
    """Keys sorted by their high word (equal high words in any order), with their low
    words and labels alongside: the keys in memory, or a run written out."""

    __slots__ = ("high", "labels", "low")

    def __init__(self, high: Any, low: Any, labels: Any) -> None:
        self.high, self.low, self.labels = high, low, labels

    @classmethod
    def empty(cls, two_words: bool) -> _Part:
        import numpy as np

        none = np.empty(0, dtype=np.uint64)
        return cls(none, none if two_words else None, np.empty(0, dtype=np.int64))

    def find(self, high: Any, low: Any) -> tuple[Any, Any]:
        """Whether each key is here, and where."""
        import numpy as np

        size = len(self.high)
        places = np.searchsorted(self.high, high).clip(max=size - 1)  # one binary search
        found = self.high[places] == high
        if low is None:
            return found, places
        same = found & (self.low[places] == low)
        # Two keys sharing a high word (one pair in about 10^12 among a million keys):
        # the others with that word are looked at one by one.
        for index in np.flatnonzero(found & ~same).tolist():
            place = int(places[index]) + 1
            while place < size and self.high[place] == high[index]:
                if self.low[place] == low[index]:
                    same[index], places[index] = True, place
                    break
                place += 1
        return same, places

    def with_keys(self, high: Any, low: Any, labels: Any) -> _Part:
        """These keys (not here yet) added, in order of their high words."""
        import numpy as np

        if not len(high):
            return self
        order = np.argsort(high, kind="stable")
        high = high[order]
        at = np.searchsorted(self.high, high)
        return _Part(
            np.insert(self.high, at, high),
            None if low is None else np.insert(self.low, at, low[order]),
            self.labels if labels is None else np.insert(self.labels, at, labels[order]),
        )
