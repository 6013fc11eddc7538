"""Moving columns between Arrow and numpy through their buffers.

pyarrow's own conversions (``Array.to_numpy``, ``pyarrow.array``, Python scalars as
arguments of compute functions) load pandas, which takes a noticeable share of a
report's time; the KPI engine needs none of it. These helpers read and build the
buffers of primitive arrays directly (numbers, instants, booleans, small string arrays
and scalars), so that the report runs on numpy and Arrow alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

_DTYPES = {
    pa.int8(): "int8",
    pa.int16(): "int16",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.uint8(): "uint8",
    pa.uint16(): "uint16",
    pa.uint32(): "uint32",
    pa.uint64(): "uint64",
    pa.float32(): "float32",
    pa.float64(): "float64",
}


def _dtype(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind) or pa.types.is_duration(kind) or pa.types.is_date64(kind):
        return "int64"
    if pa.types.is_date32(kind):
        return "int32"
    if kind in _DTYPES:
        return _DTYPES[kind]
    raise TypeError(f"no numpy view of Arrow type {kind}")


def valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Where ``values`` is not null."""
    if isinstance(values, pa.ChunkedArray):
        return _joined([valid(c) for c in values.chunks], "bool")
    rows = len(values)
    if values.null_count == 0:
        return np.ones(rows, dtype=bool)
    if values.null_count == rows:
        return np.zeros(rows, dtype=bool)
    return _bits(values.buffers()[0], values.offset, rows)


def numbers(values: pa.Array | pa.ChunkedArray, null: Any = None) -> np.ndarray:
    """A primitive array (integers, floats, instants as int64, booleans) as numpy, nulls
    replaced by ``null`` (which must be given when there are nulls). The result may
    share memory with ``values`` and be read-only."""
    if isinstance(values, pa.ChunkedArray):
        kind = values.type
        dtype = "bool" if pa.types.is_boolean(kind) else _dtype(kind)
        return _joined([numbers(c, null) for c in values.chunks], dtype)
    rows = len(values)
    kind = values.type
    if pa.types.is_null(kind):
        if rows and null is None:
            raise ValueError("nulls without a value to put in their place")
        return np.full(rows, null)
    buffers = values.buffers()
    out: np.ndarray
    if pa.types.is_boolean(kind):
        out = _bits(buffers[1], values.offset, rows)
    else:
        count = values.offset + rows
        out = np.frombuffer(buffers[1], dtype=_dtype(kind), count=count)[values.offset :]
    if values.null_count:
        if null is None:
            raise ValueError("nulls without a value to put in their place")
        out = np.where(valid(values), out, null)
    return out


def flags(values: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    """Booleans as numpy, nulls as ``null``."""
    return numbers(values, null)


def booleans(values: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """numpy booleans as an Arrow array, null where ``present`` is false."""
    rows = len(values)
    data = pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
    validity = None
    if present is not None and not present.all():
        validity = pa.py_buffer(np.packbits(np.asarray(present, dtype=bool), bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), rows, [validity, data])


def integers(values: np.ndarray) -> pa.Array:
    """numpy integers as an Arrow int64 array."""
    data = np.ascontiguousarray(values, dtype="int64")
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def floats(values: np.ndarray) -> pa.Array:
    """numpy numbers as an Arrow float64 array (NaN stays NaN, not null)."""
    data = np.ascontiguousarray(values, dtype="float64")
    return pa.Array.from_buffers(pa.float64(), len(data), [None, pa.py_buffer(data)])


def strings(values: Sequence[str]) -> pa.Array:
    """Python text as an Arrow string array."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype="int32")
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])


def text(value: str) -> pa.Scalar:
    """A string as an Arrow scalar (an argument of compute functions)."""
    return strings([value])[0]


def layout(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The value offsets (``len + 1``, int64) and the bytes of a string array."""
    rows = len(values)
    _, offsets_buffer, data_buffer = values.buffers()
    wide = "int32" if values.type.id == pa.string().id else "int64"
    offsets = np.frombuffer(offsets_buffer, dtype=wide, count=values.offset + rows + 1)
    data = np.frombuffer(data_buffer, dtype="uint8") if data_buffer is not None else None
    return offsets[values.offset :].astype("int64"), np.empty(0, "uint8") if data is None else data


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def hashes(values: pa.Array, longest: int = 64) -> np.ndarray | None:
    """A 64-bit hash of each string's bytes (equal strings have equal hashes; a null
    hashes as an empty string), or None when a value is longer than ``longest`` bytes.
    Different strings may share a hash: compare the strings of equal hashes."""
    rows = len(values)
    offsets, data = layout(values)
    lengths = np.diff(offsets)
    widest = int(lengths.max()) if rows else 0
    if widest > longest:
        return None
    width = 8 * max(1, -(-widest // 8))
    if not len(data):
        matrix = np.zeros((rows, width), dtype="uint8")
    else:
        places = offsets[:-1, None] + np.arange(width)
        np.minimum(places, len(data) - 1, out=places)
        matrix = data[places]
        matrix[np.arange(width) >= lengths[:, None]] = 0
    words = matrix.view("<u8")
    out = lengths.astype("uint64") * _MIX[0]
    for column in range(words.shape[1]):
        out ^= words[:, column]
        out *= _MIX[1]
        out ^= out >> np.uint64(31)
    out ^= out >> np.uint64(30)
    out *= _MIX[2]
    out ^= out >> np.uint64(27)
    return out


TRUE = booleans(np.array([True]))[0]
FALSE = booleans(np.array([False]))[0]


def _bits(buffer: pa.Buffer, offset: int, rows: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype="uint8")
    out: np.ndarray = np.unpackbits(packed, count=offset + rows, bitorder="little")[offset:]
    return out.view(bool)


def _joined(parts: list[np.ndarray], dtype: str) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=dtype)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts)
