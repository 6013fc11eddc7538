"""The plaintext layout of a chunk: Arrow's columnar buffers in a minimal container.

A chunk's columns are laid out exactly as Apache Arrow lays out arrays in memory
(validity bitmaps, int32 offsets and UTF-8 bytes for text, little-endian int64 and
float64, bit-packed booleans), behind a small header instead of Arrow's IPC framing.
That gives both access paths what they need:

- a point read decodes the few values it wants in pure Python (``struct`` and slices),
  so ``get``/``find``/``update`` never import pyarrow, numpy or pandas;
- a scan hands the same bytes to Arrow without copying (``pa.Array.from_buffers``).

Layout (all integers little-endian)::

    "CRCK" u8 version=1 u32 rows u16 columns
    per column: u16 name length, name (UTF-8), u8 type (1 text, 2 int64, 3 float64,
                4 bool), u32 null count, u32 validity length, u32 offsets length,
                u32 data length
    then each column's validity, offsets and data buffers, each padded with zeros to a
    multiple of 8 bytes

A validity buffer of length 0 means "no nulls". Bit ``i`` of a bitmap is
``byte[i // 8] >> (i % 8) & 1``. Text offsets are ``rows + 1`` int32 values.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from custrec.errors import IntegrityError
from custrec.store.records import Value

if TYPE_CHECKING:
    import pyarrow as pa

MAGIC = b"CRCK"
VERSION = 1
TYPE_CODES = {"string": 1, "int64": 2, "float64": 3, "bool": 4}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}
_HEADER = struct.Struct("<4sBIH")
_COLUMN = struct.Struct("<BIIII")
_LITTLE = sys.byteorder == "little"


def _pad(length: int) -> int:
    return -length % 8


def _bitmap(flags: Sequence[bool]) -> bytes:
    out = bytearray((len(flags) + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _numbers(code: str, values: Sequence[int] | Sequence[float]) -> bytes:
    packed = array(code, values)
    if not _LITTLE:
        packed.byteswap()
    return packed.tobytes()


def encode(rows: Sequence[Mapping[str, Value]], columns: Sequence[tuple[str, str]]) -> bytes:
    """Lay out ``rows`` (mappings; missing keys are null) in ``columns`` order."""
    count = len(rows)
    laid_out: list[_Column] = []
    for name, kind in columns:
        values = [row.get(name) for row in rows]
        present = [v is not None for v in values]
        nulls = count - sum(present)
        validity = _bitmap(present) if nulls else b""
        offsets = b""
        if kind == "string":
            encoded = [str(v).encode("utf-8") if v is not None else b"" for v in values]
            ends = array("i", [0])
            total = 0
            for item in encoded:
                total += len(item)
                ends.append(total)
            if not _LITTLE:
                ends.byteswap()
            offsets, data = ends.tobytes(), b"".join(encoded)
        elif kind == "int64":
            data = _numbers("q", [int(v) if v is not None else 0 for v in values])
        elif kind == "float64":
            data = _numbers("d", [float(v) if v is not None else 0.0 for v in values])
        elif kind == "bool":
            data = _bitmap([bool(v) for v in values])
        else:
            raise ValueError(f"unknown column type {kind!r}")
        laid_out.append((name, kind, nulls, validity, offsets, data))
    return _assemble(count, laid_out)


_Column = tuple[str, str, int, "bytes | memoryview", "bytes | memoryview", "bytes | memoryview"]
"""A column as laid out: name, type, null count, validity, offsets and data buffers."""


def _assemble(count: int, columns: Sequence[_Column]) -> bytes:
    """The layout of ``count`` rows of ``columns``: the header, then the buffers."""
    header = bytearray(_HEADER.pack(MAGIC, VERSION, count, len(columns)))
    body = bytearray()
    for name, kind, nulls, validity, offsets, data in columns:
        encoded_name = name.encode("utf-8")
        header += struct.pack("<H", len(encoded_name)) + encoded_name
        header += _COLUMN.pack(TYPE_CODES[kind], nulls, len(validity), len(offsets), len(data))
        for buffer in (validity, offsets, data):
            body += buffer
            body += bytes(_pad(len(buffer)))
    header += bytes(_pad(len(header)))
    return bytes(header + body)


def split(plain: bytes, groups: Sequence[Sequence[str]]) -> list[bytes]:
    """One layout per group of column names, holding that group's columns of the
    laid-out chunk ``plain`` (buffers copied as they are): a format-3 chunk's parts.
    A column of ``plain`` in no group is a ValueError (a caller's mistake)."""
    chunk = Chunk(plain)
    grouped = {name for group in groups for name in group}
    stray = [name for name in chunk.columns if name not in grouped]
    if stray:
        raise ValueError(f"columns in no group: {', '.join(stray)}")
    return [
        _assemble(
            chunk.rows,
            [(name, *chunk.columns[name]) for name in group if name in chunk.columns],
        )
        for group in groups
    ]


def encode_arrow(batch: pa.RecordBatch, columns: Sequence[tuple[str, str]]) -> bytes:
    """The same layout as :func:`encode`, built from an Arrow record batch whose
    columns already have the types of ``columns`` (missing columns are null). Copies
    Arrow's buffers instead of converting values one by one: the bulk-write path."""
    import pyarrow as pa
    import pyarrow.compute as pc

    count = batch.num_rows
    laid_out: list[_Column] = []
    names = set(batch.schema.names)
    for name, kind in columns:
        if name in names:
            column = batch.column(name)
            if column.offset:
                column = pa.concat_arrays([column])  # buffers starting at row 0
        else:
            column = pa.nulls(count, _arrow_type(kind))
        nulls = column.null_count
        validity = b""
        if nulls:
            validity = _trim_bits(pc.is_valid(column).buffers()[1], count)
        buffers = column.buffers()
        offsets = b""
        if kind == "string":
            if nulls == count or buffers[1] is None:
                offsets, data = bytes(4 * (count + 1)), b""
            else:
                offsets = buffers[1].to_pybytes()[: 4 * (count + 1)]
                (end,) = struct.unpack_from("<i", offsets, 4 * count)
                data = buffers[2].to_pybytes()[:end] if buffers[2] is not None else b""
        elif kind in ("int64", "float64"):
            if nulls:
                column = pc.fill_null(column, 0)
                buffers = column.buffers()
            data = buffers[1].to_pybytes()[: 8 * count]
        elif kind == "bool":
            if nulls:
                column = pc.fill_null(column, False)
                buffers = column.buffers()
            data = _trim_bits(buffers[1], count) if count else b""
        else:
            raise ValueError(f"unknown column type {kind!r}")
        laid_out.append((name, kind, nulls, validity, offsets, data))
    return _assemble(count, laid_out)


def _trim_bits(buffer: pa.Buffer, count: int) -> bytes:
    """A bitmap of exactly ``count`` bits, unused high bits of the last byte cleared."""
    out = bytearray(buffer.to_pybytes()[: (count + 7) // 8])
    if count % 8:
        out[-1] &= (1 << (count % 8)) - 1
    return bytes(out)


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {"string": pa.string, "int64": pa.int64, "float64": pa.float64, "bool": pa.bool_}[kind]()


class Chunk:
    """A decoded chunk: column metadata and zero-copy views of its buffers."""

    def __init__(self, payload: bytes) -> None:
        try:
            self._parse(memoryview(payload))
        except (struct.error, ValueError, UnicodeDecodeError, KeyError) as exc:
            raise IntegrityError(f"a chunk's layout is damaged ({exc})") from None

    @classmethod
    def merged(cls, parts: Sequence[Chunk]) -> Chunk:
        """One chunk of the columns of ``parts`` (a format-3 chunk's parts, each of the
        same rows), sharing their buffers."""
        if not parts:
            raise IntegrityError("a chunk without parts")
        whole = cls.__new__(cls)
        whole.rows = parts[0].rows
        whole.columns = {}
        for part in parts:
            if part.rows != whole.rows:
                raise IntegrityError("a chunk's parts hold different record counts")
            for name, column in part.columns.items():
                if name in whole.columns:
                    raise IntegrityError(f"a chunk's parts both hold column {name!r}")
                whole.columns[name] = column
        return whole

    def _parse(self, view: memoryview) -> None:
        magic, version, rows, count = _HEADER.unpack_from(view, 0)
        if magic != MAGIC or version != VERSION:
            raise ValueError("unknown chunk layout")
        self.rows: int = rows
        position = _HEADER.size
        specs = []
        for _ in range(count):
            (length,) = struct.unpack_from("<H", view, position)
            name = bytes(view[position + 2 : position + 2 + length]).decode("utf-8")
            position += 2 + length
            code, nulls, *lengths = _COLUMN.unpack_from(view, position)
            position += _COLUMN.size
            specs.append((name, TYPE_NAMES[code], nulls, lengths))
        position += _pad(position)
        self.columns: dict[str, tuple[str, int, memoryview, memoryview, memoryview]] = {}
        for name, kind, nulls, lengths in specs:
            buffers = []
            for length in lengths:
                buffers.append(view[position : position + length])
                position += length + _pad(length)
            if position > len(view):
                raise ValueError("buffers run past the end")
            self.columns[name] = (kind, nulls, buffers[0], buffers[1], buffers[2])

    def values(self, name: str) -> list[Value]:
        """One column as Python values (None for null, or for a column it lacks)."""
        if name not in self.columns:
            return [None] * self.rows
        kind, nulls, validity, offsets, data = self.columns[name]
        n = self.rows
        if kind == "string":
            ends = array("i")
            ends.frombytes(offsets)
            if not _LITTLE:
                ends.byteswap()
            raw = bytes(data)
            out: list[Value] = [raw[ends[i] : ends[i + 1]].decode("utf-8") for i in range(n)]
        elif kind in ("int64", "float64"):
            numbers = array("q" if kind == "int64" else "d")
            numbers.frombytes(data)
            if not _LITTLE:
                numbers.byteswap()
            out = list(numbers)
        else:
            bits = bytes(data)
            out = [bool(bits[i >> 3] >> (i & 7) & 1) for i in range(n)]
        if nulls:
            flags = bytes(validity)
            out = [v if flags[i >> 3] >> (i & 7) & 1 else None for i, v in enumerate(out)]
        return out

    def records(self, names: Sequence[str]) -> list[dict[str, Value]]:
        """Every row as a dict over ``names`` (columns the chunk lacks are None)."""
        columns = [self.values(name) for name in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    def records_where(
        self, names: Sequence[str], column: str, wanted: set[str]
    ) -> list[dict[str, Value]]:
        """The rows whose ``column`` value is in ``wanted``, decoding only those rows."""
        keys = self.values(column)
        picked = [i for i, key in enumerate(keys) if key in wanted]
        return [{name: self.value(name, i) for name in names} for i in picked]

    def value(self, name: str, row: int) -> Value:
        """One value, decoded on its own (for point reads)."""
        if name not in self.columns:
            return None
        kind, nulls, validity, offsets, data = self.columns[name]
        if nulls and not validity[row >> 3] >> (row & 7) & 1:
            return None
        if kind == "string":
            start, end = struct.unpack_from("<ii", offsets, 4 * row)
            return bytes(data[start:end]).decode("utf-8")
        if kind == "int64":
            return int(struct.unpack_from("<q", data, 8 * row)[0])
        if kind == "float64":
            return float(struct.unpack_from("<d", data, 8 * row)[0])
        return bool(data[row >> 3] >> (row & 7) & 1)

    def to_arrow(self, schema: pa.Schema) -> pa.RecordBatch:
        """The chunk as an Arrow record batch in ``schema`` (missing columns as nulls),
        sharing the chunk's memory."""
        import pyarrow as pa

        arrays = []
        for field in schema:
            if field.name not in self.columns:
                arrays.append(pa.nulls(self.rows, field.type))
                continue
            kind, nulls, validity, offsets, data = self.columns[field.name]
            mask = pa.py_buffer(validity) if nulls else None
            buffers = [mask, pa.py_buffer(offsets), pa.py_buffer(data)]
            if kind != "string":
                buffers = [mask, pa.py_buffer(data)]
            arrays.append(pa.Array.from_buffers(field.type, self.rows, buffers, null_count=nulls))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
