"""Reading and writing tabular files: CSV, NDJSON (JSON Lines) and Parquet.

Reading streams Arrow record batches of bounded size, so memory does not grow with
the file. Every problem in an input file becomes an :class:`~custrec.errors.InputError`
that names the file, the line and the column, and says what was expected; error
messages never quote the offending values (they may be personal data).

- CSV is read as text: every column is a string column and an empty field is null.
  Types are the schema's business, not the reader's. The header line is required.
  Quoted fields may span lines. A UTF-8 byte-order mark is ignored. The field
  delimiter (default ``,``) and the text encoding (default UTF-8) can be given.
  Files in UTF-8 go through Arrow's fast parser; standard input and other encodings
  go through the exact Python parser, which records where each row starts.
- NDJSON: one JSON object per line; values must be scalars (string, number,
  true/false, null) and keep one type per key across the file. Blank lines are skipped.
  Columns are the keys in the order first seen; a batch holds every column seen so far.
- Parquet: read as stored, with two changes: dictionary-encoded columns are
  decoded, and unsigned 64-bit integers become signed ones (a value beyond the
  signed range is an error). Columns read must hold scalars (no lists, structs or maps),
  and dates and times must lie within the years 1 to 9999. From standard input the
  file is buffered in memory first, because the format needs random access.

Limits, so that no input runs for minutes or takes unbounded memory (each is an
:class:`~custrec.errors.InputError` naming the file, and the line where there is one):
at most :data:`MAX_COLUMNS` columns; a record (a CSV row with all its fields, the
header line, an NDJSON line) of at most :data:`MAX_RECORD_BYTES` bytes. Column names
must be non-empty and distinct in every format, as an NDJSON object's keys must be.

``-`` means standard input (reading) or standard output (writing).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import re
import stat
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from custrec.atomic import atomic_file as atomic_file
from custrec.errors import InputError, UsageError, reporting_no_space
from custrec.protected import Input
from custrec.render import json_text

if TYPE_CHECKING:
    import pyarrow as pa

STDIN = "-"
STDIN_NAME = "<stdin>"
STDOUT_NAME = "<stdout>"

INPUT_FORMATS = ("csv", "ndjson", "parquet")
OUTPUT_FORMATS = ("csv", "ndjson", "parquet")

_EXTENSIONS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}

DEFAULT_CHUNK_ROWS = 65_536
MAX_COLUMNS = 4_096
"""The most columns an input may have (CSV header, NDJSON keys over the whole file,
Parquet schema). Customer exports have tens of columns, rarely hundreds; every command
does work per column (profiles, rules, conversions), so a file of 100,000 columns
would run for minutes. Profiling 4,096 columns takes about a second."""
MAX_RECORD_BYTES = 4 << 20
"""The most bytes one record may take: a CSV row with all its fields (and the header
line), or an NDJSON line. Arrow's CSV parser needs a row to fit in one block, so this
is also its block size; the exact parser refuses the same rows, and no line is read
into memory whole beyond it (a file without line breaks is refused early)."""
_CSV_BLOCK_BYTES = MAX_RECORD_BYTES
LIGHT_CSV_BYTES = 8 << 20
"""The largest CSV file a light reader (``light=True``) reads with the exact Python
parser; a larger one goes through Arrow, which is faster once pyarrow is loaded."""
_CELLS_PER_BATCH = 1 << 22
"""Rows times columns of one batch at most: a batch of a wide input has fewer rows, so
that its memory does not grow with the number of columns (4,096 columns of 65,536
rows would be a billion cells)."""


def batch_rows(columns: int, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> int:
    """The rows of a batch of an input with ``columns`` columns: ``chunk_rows``, or
    fewer so that a batch holds at most about four million cells."""
    return max(1, min(chunk_rows, _CELLS_PER_BATCH // max(1, columns)))


_TEXT_CHUNK_BYTES = 1 << 16
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"

_UTF8_HINT = "if the file is in another encoding, give --encoding, e.g. --encoding cp1252"
# Delimiters that, found in a one-column header, mean the file is not comma-separated.
_OTHER_DELIMITERS = {
    ";": ("';'", "--delimiter ';'"),
    "\t": ("a tab", "--delimiter tab"),
    "|": ("'|'", "--delimiter '|'"),
}


def regrouped(batches: Iterable[Any], rows: int = 65_536) -> Iterator[Any]:
    """Batches (a store's chunks of about a thousand records, a reader's blocks) joined
    into batches of about ``rows``, fewer for wide ones (at most about four million
    cells): each batch costs a fixed overhead of conversions and library calls. A
    batch whose columns differ from the ones before (NDJSON keys appearing) starts a
    new one."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        if pending and batch.schema != pending[0].schema:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
        pending.append(batch)
        count += batch.num_rows
        if count >= batch_rows(batch.num_columns, rows):
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
    if pending and count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def source_name(source: str) -> str:
    """How a source is named in messages: the path, or ``<stdin>`` for ``-``."""
    return STDIN_NAME if source == STDIN else source


def format_from_extension(path: str) -> str | None:
    """The tabular format implied by a file name, or None if the suffix is unknown."""
    return _EXTENSIONS.get(Path(path).suffix.lower())


def detect_input_format(source: str, explicit: str | None, head: bytes = b"") -> str:
    """Decide the format of an input: ``explicit`` wins, then the file extension,
    then (for standard input) the first bytes: ``PAR1`` is Parquet, ``{`` NDJSON."""
    if explicit is not None:
        if explicit not in INPUT_FORMATS:
            raise UsageError(
                f"unknown input format {explicit!r}; expected one of {', '.join(INPUT_FORMATS)}"
            )
        return explicit
    if source != STDIN:
        fmt = format_from_extension(source)
        if fmt is None:
            raise InputError(
                source,
                "cannot tell the format from the file name; expected a .csv, .ndjson, "
                ".jsonl or .parquet file, or give --input-format",
            )
        return fmt
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PAR1"):
        return "parquet"
    if stripped.startswith(b"{"):
        return "ndjson"
    return "csv"


def check_delimiter(delimiter: str | None) -> str:
    """The CSV field delimiter to use: ``delimiter``, or ``,`` when it is None.

    Raises :class:`UsageError` unless it is exactly one character other than a
    double quote or a line break.
    """
    if delimiter is None:
        return ","
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise UsageError("the delimiter must be exactly one character")
    if delimiter in '"\r\n':
        raise UsageError("the delimiter cannot be a double quote or a line break")
    try:
        csv.reader([], delimiter=delimiter)
    except (TypeError, csv.Error):
        raise UsageError("the delimiter is not usable as a CSV field separator") from None
    return delimiter


def check_encoding(encoding: str | None) -> str:
    """The normalised codec name for ``encoding`` (``utf-8`` when None).

    ``utf-8-sig`` counts as ``utf-8`` (a byte-order mark is ignored either way).
    Raises :class:`UsageError` for an unknown codec or one that does not decode
    bytes to text (such as ``hex``).
    """
    if encoding is None:
        return "utf-8"
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise UsageError(
            f"unknown encoding {encoding!r}; expected a codec name such as utf-8, cp1252, "
            "latin-1 or utf-16"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise UsageError(f"{encoding!r} is not a text encoding")
    return "utf-8" if info.name in ("utf-8", "utf-8-sig") else info.name


class TableReader:
    """A tabular input opened for streaming. Use as a context manager and iterate
    over it to get ``pyarrow.RecordBatch`` objects.

    ``columns`` lists the column names known so far (for CSV and Parquet: all of
    them, from the header or the file's schema, even when there are no rows).
    ``rows_read`` counts data rows yielded so far.

    ``delimiter`` (one character, default ``,``) and ``encoding`` (a Python codec
    name, default UTF-8) apply to CSV input only; giving either for NDJSON or
    Parquet input is a :class:`UsageError`.

    With ``light=True`` a CSV file of at most :data:`LIGHT_CSV_BYTES` is read by the
    exact Python parser rather than Arrow's; :meth:`records` then reads NDJSON and
    such CSV input without importing pyarrow (a command on a small file starts fast).
    """

    def __init__(
        self,
        source: str,
        *,
        input_format: str | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        delimiter: str | None = None,
        encoding: str | None = None,
        light: bool = False,
    ) -> None:
        self.source = source
        self.name = source_name(source)
        self.chunk_rows = chunk_rows
        self.rows_read = 0
        self._single_lines: tuple[int, bool] | None = None
        self.delimiter = check_delimiter(delimiter)
        self.encoding = check_encoding(encoding)
        self._delimiter_given = delimiter is not None
        self._light = light
        # Where each row starts, recorded while reading; None when read by Arrow.
        self._lines: _LineIndex | None = None
        # Chunks of rows as dicts, for inputs read by Python (NDJSON, the exact CSV
        # parser); None when Arrow reads the input.
        self._row_chunks: Iterator[list[dict[str, Any]]] | None = None
        self._batches: Iterator[pa.RecordBatch] = iter(())
        self._stream = _open_binary(source)
        try:
            head = self._stream.peek(4)[:4] if source == STDIN else b""
            self.format = detect_input_format(source, input_format, head)
            if self.format != "csv":
                for option, value in (("--delimiter", delimiter), ("--encoding", encoding)):
                    if value is not None:
                        raise UsageError(
                            f"{option} applies to CSV input only; {self.name} is "
                            f"{self.format} input"
                        )
            self.columns: list[str] = []
            self._open()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.source != STDIN:
            self._stream.close()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._row_chunks is not None:
            for chunk in self._row_chunks:
                self.rows_read += len(chunk)
                yield self._to_batch(chunk)
            return
        for batch in self._batches:
            self.rows_read += batch.num_rows
            yield batch

    @property
    def python_rows(self) -> bool:
        """Whether the input is read by Python (NDJSON, CSV by the exact parser), so
        that :meth:`records` needs no pyarrow."""
        return self._row_chunks is not None

    def records(self) -> Iterator[list[dict[str, Any]]]:
        """The rows in chunks of dicts (column name to value; an NDJSON row holds the
        keys on its line, a CSV row every column, None for an empty field). NDJSON and
        CSV read by the exact parser come without pyarrow; other input is read as
        Arrow batches and converted. Iterate either this or the reader, not both."""
        if self._row_chunks is None:
            for batch in self:
                yield batch.to_pylist()
            return
        for chunk in self._row_chunks:
            self.rows_read += len(chunk)
            yield chunk

    @property
    def lines_recorded(self) -> bool:
        """Whether :meth:`row_lines` answers without reading the input again (NDJSON,
        and CSV read by the exact parser); Parquet has no lines."""
        return self.format == "ndjson" or self._lines is not None

    def row_lines(self, rows: Iterable[int]) -> dict[int, int]:
        """Map data row numbers to the physical line where each row starts.

        Rows are numbered from 1 over all batches yielded so far (the header and
        blank NDJSON lines are not rows); lines are numbered from 1 in the input.
        They differ when quoted CSV fields span lines or lines are blank. Rows not
        yet yielded are left out, and Parquet has no lines (the result is empty).

        For NDJSON and for CSV read by the exact parser (standard input, encodings
        other than UTF-8) the lines were recorded while reading. A CSV file read by
        Arrow is scanned again with the exact parser, up to the last row asked for.
        """
        if self.format == "parquet":
            return {}
        wanted = sorted({row for row in rows if 1 <= row <= self.rows_read})
        if not wanted:
            return {}
        if self._lines is not None:
            return {row: self._lines.line_of(row) for row in wanted}
        return self._rescan_row_lines(wanted)

    def lines_in_order(self, rows: Iterable[int]) -> Iterator[int | None]:
        """The line of each of ``rows`` (1-based, read already, in non-decreasing
        order), one at a time as :meth:`row_lines` finds them, without a mapping of
        them all (a failures file may name millions of rows); None for Parquet. The
        rows are consumed as the lines are asked for."""
        if self.format == "parquet":
            for _ in rows:
                yield None
            return
        if self._lines is not None:
            for row in rows:
                yield self._lines.line_of(row)
            return
        if self._one_line_per_row():
            for row in rows:
                yield row + 1
            return
        with _open_binary(self.source) as stream:
            stream.readline(MAX_RECORD_BYTES + 1)  # the header, already read
            starts = _exact_csv_rows(stream, self.name, self.columns, self.delimiter)
            number, start = 0, 0
            for row in rows:
                while number < row:
                    start, _ = next(starts)
                    number += 1
                yield start

    def _rescan_row_lines(self, wanted: Sequence[int]) -> dict[int, int]:
        if self._one_line_per_row():
            return {row: row + 1 for row in wanted}
        found: dict[int, int] = {}
        targets = iter(wanted)
        target = next(targets)
        with _open_binary(self.source) as stream:
            stream.readline(MAX_RECORD_BYTES + 1)  # the header, already read
            rows = _exact_csv_rows(stream, self.name, self.columns, self.delimiter)
            for number, (start, _) in enumerate(rows, start=1):
                if number == target:
                    found[number] = start
                    next_target = next(targets, None)
                    if next_target is None:
                        break
                    target = next_target
        return found

    def _one_line_per_row(self) -> bool:
        """Whether the file, read to its end, has one line per row after a one-line
        header and no blank line: then row ``r`` starts on line ``r + 1``. A row that
        spans lines or a blank line each add a line, so the count of lines tells (no
        row takes less than one); newline bytes are counted, which is exact in UTF-8,
        the only encoding Arrow reads. Many times faster than parsing the file again."""
        if self._single_lines is None or self._single_lines[0] != self.rows_read:
            lines = count_lines(self.source)
            self._single_lines = (self.rows_read, lines == self.rows_read + 1)
        return self._single_lines[1]

    def _open(self) -> None:
        if self.format == "csv":
            self._open_csv()
        elif self.format == "ndjson":
            self._lines = _LineIndex()
            self._row_chunks = _ndjson_chunks(
                self._stream, self.name, self.columns, self.chunk_rows, self._lines
            )
        else:
            self._batches = self._parquet_batches()

    def _to_batch(self, rows: list[dict[str, Any]]) -> pa.RecordBatch:
        if self.format == "ndjson":
            return _ndjson_batch(rows, self.columns, self.name)
        return _csv_batch(rows, self.columns)

    def _open_csv(self) -> None:
        guess = not self._delimiter_given
        if self.encoding == "utf-8":
            self.columns = _read_csv_header(self._stream, self.name, self.delimiter, guess)
            # Arrow's reader would take a U+FEFF opening the first row for a byte-order
            # mark and drop it: such a file takes the exact parser.
            if (
                self.source != STDIN
                and _is_regular_file(self._stream)
                and _arrow_delimiter(self.delimiter)
                and not self._stream.peek(3).startswith(b"\xef\xbb\xbf")
                and not (self._light and _file_size(self._stream) <= LIGHT_CSV_BYTES)
            ):
                self._batches = _csv_batches_arrow(
                    self._stream, self.name, self.columns, self.delimiter
                )
                return
            rows = _exact_csv_rows(self._stream, self.name, self.columns, self.delimiter)
        else:
            budget = _RecordBudget(1)
            lines = _text_lines(self._stream, self.name, self.encoding, budget)
            first = next(lines, "").removeprefix("\ufeff")
            self.columns = _parse_csv_header(first, self.name, self.delimiter, guess)
            budget.next_record(2)
            rows = _csv_rows(lines, self.name, self.columns, self.delimiter, budget)
        self._lines = _LineIndex()
        self._row_chunks = _csv_chunks(rows, self.columns, self.chunk_rows, self._lines)

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target: BinaryIO = self._stream
        if self.source == STDIN:
            target = io.BytesIO(self._stream.read())
        try:
            parquet = pq.ParquetFile(target)
            schema = parquet.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                self.name, f"not a readable Parquet file ({arrow_reason(exc)})"
            ) from None
        _check_parquet_names(schema, self.name)
        self.columns = list(schema.names)
        size = batch_rows(len(schema), self.chunk_rows)
        batches = guard_arrow(parquet.iter_batches(batch_size=size), self.name)
        return parquet_scalars(batches, self.name)


class _LineIndex:
    """The physical line where each data row starts, stored compactly: only rows
    where the gap between row number and line number changes (a field spanning
    lines, a blank line) take space, so a plain file costs a few bytes in all."""

    __slots__ = ("_rows", "_shifts", "count")

    def __init__(self) -> None:
        self._rows: array[int] = array("q")
        self._shifts: array[int] = array("q")
        self.count = 0

    def add(self, line: int) -> None:
        self.count += 1
        shift = line - self.count
        if not self._shifts or self._shifts[-1] != shift:
            self._rows.append(self.count)
            self._shifts.append(shift)

    def line_of(self, row: int) -> int:
        return row + self._shifts[bisect_right(self._rows, row) - 1]


def open_table(
    source: str,
    *,
    input_format: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str | None = None,
    encoding: str | None = None,
    light: bool = False,
) -> TableReader:
    """Open ``source`` (a path or ``-``) for streaming; see :class:`TableReader`."""
    return TableReader(
        source,
        input_format=input_format,
        chunk_rows=chunk_rows,
        delimiter=delimiter,
        encoding=encoding,
        light=light,
    )


def _open_binary(source: str) -> io.BufferedReader:
    if source == STDIN:
        stdin = sys.stdin.buffer
        # A test harness may give a BytesIO without peek(); buffer it like a real stdin.
        return stdin if isinstance(stdin, io.BufferedReader) else io.BufferedReader(stdin)  # type: ignore[arg-type]
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory, expected a file") from None
    except PermissionError:
        raise InputError(source, "permission denied") from None
    except OSError as exc:
        raise InputError(source, f"cannot open ({exc.strerror})") from None


def arrow_reason(exc: BaseException) -> str:
    """Arrow's message without the row text it sometimes appends after a colon."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for marker in ("CSV parse error: ", "JSON parse error: "):
        if text.startswith(marker):
            text = text[len(marker) :]
    head, sep, _ = text.partition(": ")
    return head if sep and head.startswith("Expected") else text


def guard_arrow(batches: Iterable[pa.RecordBatch], name: str) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise InputError(name, f"unreadable ({arrow_reason(exc)})") from None


def text_lines(source: str, encoding: str | None = None) -> Iterator[str]:
    """The lines of a plain-text file (or ``-``), one document each, decoded with
    ``encoding`` (default UTF-8) and split at ``\\n``, ``\\r\\n`` or ``\\r`` (which
    they keep). A line longer than :data:`MAX_RECORD_BYTES` characters, or bytes that
    do not decode, are an :class:`InputError` naming the line; no line is read into
    memory beyond the limit."""
    codec = check_encoding(encoding)
    name = source_name(source)
    binary = _open_binary(source)
    stream = io.TextIOWrapper(binary, encoding=codec, newline="")
    number = 0
    try:
        while True:
            number += 1
            try:
                line = stream.readline(MAX_RECORD_BYTES + 1)
            except UnicodeDecodeError as exc:
                raise InputError(
                    name,
                    f"not valid {codec} ({exc.reason}); give --encoding (e.g. cp1252)",
                    line=number,
                ) from None
            if not line:
                return
            if len(line) > MAX_RECORD_BYTES and not line.endswith(("\n", "\r")):
                raise InputError(
                    name,
                    f"a line of more than {MAX_RECORD_BYTES:,} characters; expected at most "
                    "that per document (one document per line)",
                    line=number,
                )
            yield line
    finally:
        stream.detach()
        if source != STDIN:
            binary.close()


# --- Parquet -------------------------------------------------------------------------


def _check_parquet_names(schema: pa.Schema, name: str) -> None:
    """Column names as in a CSV header: at most :data:`MAX_COLUMNS`, none empty, none
    twice."""
    check_column_count(len(schema), name)
    seen: set[str] = set()
    for position, field in enumerate(schema, start=1):
        if not field.name.strip():
            raise InputError(name, f"column {position} has an empty name; expected a name")
        if field.name in seen:
            raise InputError(name, f"column {field.name!r} appears twice in the schema")
        seen.add(field.name)


def _check_scalar_types(schema: pa.Schema, name: str) -> None:
    """Scalar types only: a list, struct, map or union column is an error."""
    import pyarrow as pa

    for field in schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_nested(kind) or pa.types.is_union(kind):
            raise InputError(
                name,
                f"column {field.name!r} holds {_type_name(kind)} values; expected scalars "
                "(text, numbers, true/false, dates or times), one per row",
            )


def _type_name(kind: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return "struct"
    if pa.types.is_map(kind):
        return "map"
    if pa.types.is_union(kind):
        return "union"
    return "list"


# The range of Python's datetime (years 1 to 9999), a day inside each end so that a
# time zone cannot push a value over it; in seconds since 1970.
_FIRST_SECOND = -62_135_596_800 + 86_400
_LAST_SECOND = 253_402_300_799 - 86_400
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, from 1970
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def parquet_scalars(batches: Iterable[pa.RecordBatch], name: str) -> Iterator[pa.RecordBatch]:
    """Batches read from Parquet file ``name`` as the other readers give them: scalar
    columns only (a list, struct or map column is an :class:`InputError`), dictionary
    columns decoded, unsigned 64-bit integers made signed (a value beyond the signed
    range is an error), and every date or time within the years 1 to 9999 (what Python
    and pandas can hold). Columns are checked as they are read: a file's other
    columns may be of any type."""
    import pyarrow as pa

    rows = 0
    checked: pa.Schema | None = None
    for batch in batches:
        if checked is None or not batch.schema.equals(checked):
            _check_scalar_types(batch.schema, name)
            checked = batch.schema
        changed = False
        columns = []
        for field, values in zip(batch.schema, batch.columns, strict=True):
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
                changed = True
            if pa.types.is_uint64(values.type):
                values = _signed(values, field.name, name, rows)
                changed = True
            elif pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
                _check_time_range(values, field.name, name, rows)
            columns.append(values)
        rows += batch.num_rows
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if changed else batch


def _first_row(mask: pa.Array) -> int:
    import pyarrow.compute as pc

    return int(pc.index(mask, True).as_py()) + 1


def _signed(array: pa.Array, column: str, name: str, rows_before: int) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    over = pc.greater(array, pa.scalar(_INT64[1], pa.uint64()))
    if pc.any(over).as_py():
        raise InputError(
            name,
            f"row {rows_before + _first_row(over)}: a number beyond the 64-bit signed "
            "integer range; expected at most 2^63-1",
            column=column,
        )
    return array.cast(pa.int64())


def _check_time_range(array: pa.Array, column: str, name: str, rows_before: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_timestamp(kind):
        per = _PER_SECOND[kind.unit]
        low, high, values = _FIRST_SECOND * per, _LAST_SECOND * per, array.cast(pa.int64())
    elif pa.types.is_date32(kind):  # days: a date has no time zone to allow for
        low, high, values = _FIRST_DAY, _LAST_DAY, array.cast(pa.int32())
    else:
        low, high, values = _FIRST_DAY * 86_400_000, _LAST_DAY * 86_400_000, array.cast(pa.int64())
    # Nanoseconds in 64 bits cover only the years 1677 to 2262: clamped, nothing is out.
    low, high = max(low, _INT64[0]), min(high, _INT64[1])
    outside = pc.or_(
        pc.less(values, pa.scalar(low, values.type)),
        pc.greater(values, pa.scalar(high, values.type)),
    )
    if pc.any(outside).as_py():
        raise InputError(
            name,
            f"row {rows_before + _first_row(outside)}: a date or time outside the years 1 to 9999",
            column=column,
        )


# --- CSV -----------------------------------------------------------------------------

# The exact parser refuses a field longer than the csv module's limit (131,072
# characters by default), which Arrow's parser does not have: raised to the record
# limit so that both parsers accept the same files. (The limit is the module's, for
# the whole process; it is only ever raised here.)
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))


class _RecordBudget:
    """The bytes read since the record being parsed began, and the line it began on:
    the line readers count, the CSV row reader starts a new record."""

    __slots__ = ("start", "used")

    def __init__(self, start: int) -> None:
        self.start = start
        self.used = 0

    def take(self, size: int, name: str) -> None:
        self.used += size
        if self.used > MAX_RECORD_BYTES:
            raise _record_too_long(name, self.start)

    def next_record(self, start: int) -> None:
        self.start = start
        self.used = 0


def _record_too_long(name: str, line: int) -> InputError:
    return InputError(
        name,
        f"a record longer than {MAX_RECORD_BYTES >> 20} MiB; expected at most "
        f"{MAX_RECORD_BYTES >> 20} MiB per row or line (is a quote left open, or are the "
        "line breaks missing?)",
        line=line,
    )


def _bounded_lines(stream: BinaryIO, name: str, first_line: int) -> Iterator[bytes]:
    """The raw lines of ``stream`` (split at ``\\n``, which they keep). A line is never
    read into memory beyond :data:`MAX_RECORD_BYTES`: a longer one is an error."""
    line = first_line
    while True:
        raw = stream.readline(MAX_RECORD_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            raise _record_too_long(name, line)
        yield raw
        line += 1


def _decoded_lines(
    stream: BinaryIO,
    name: str,
    first_line: int,
    hint: str = "re-export the file as UTF-8",
    budget: _RecordBudget | None = None,
) -> Iterator[str]:
    """Lines of ``stream`` decoded as UTF-8, with exact positions for bad bytes
    (the column counts bytes: it is the position of the first bad byte). With a
    ``budget``, the bytes of each line count towards the record being parsed."""
    for offset, raw in enumerate(_bounded_lines(stream, name, first_line)):
        if budget is not None:
            budget.take(len(raw), name)
        yield _decode_utf8(raw, name, first_line + offset, hint)


def _decode_utf8(raw: bytes, name: str, line: int, hint: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            name,
            f"invalid UTF-8 byte; expected UTF-8 text ({hint})",
            line=line,
            column=exc.start + 1,
        ) from None


def _text_lines(
    stream: BinaryIO, name: str, encoding: str, budget: _RecordBudget | None = None
) -> Iterator[str]:
    """Lines of ``stream`` decoded with ``encoding``, split at ``\\n`` only (kept, like
    the UTF-8 path, so line numbers agree). Works for multi-byte encodings such as
    UTF-16. A byte that does not decode is reported at its line and column (the
    column counts characters). A line longer than :data:`MAX_RECORD_BYTES` characters
    is an error; with a ``budget``, lines count towards the record being parsed."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    carry: list[str] = []  # the text of the current, unfinished line
    carried = 0
    line = 1

    def emit(text: str) -> str:
        if budget is not None:
            budget.take(len(text), name)
        return text

    while True:
        chunk = stream.read(_TEXT_CHUNK_BYTES)
        final = not chunk
        state = decoder.getstate()
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError:
            decoder.setstate(state)
            before = "".join(carry) + _decodable_prefix(decoder, chunk, final)
            raise InputError(
                name,
                f"a byte sequence is not valid {encoding} text; check the encoding "
                "given with --encoding",
                line=line + before.count("\n"),
                column=len(before) - before.rfind("\n"),
            ) from None
        parts = text.split("\n")
        if len(parts) > 1:
            carry.append(parts[0])
            yield emit("".join(carry) + "\n")
            line += 1
            for part in parts[1:-1]:
                if len(part) > MAX_RECORD_BYTES:
                    raise _record_too_long(name, line)
                yield emit(part + "\n")
                line += 1
            carry, carried = [], 0
        if parts[-1]:
            carry.append(parts[-1])
            carried += len(parts[-1])
            if carried > MAX_RECORD_BYTES:
                raise _record_too_long(name, line)
        if final:
            break
    if carry:
        yield emit("".join(carry))


def _decodable_prefix(decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool) -> str:
    """The text ``chunk`` decodes to before its first bad byte (slow; errors only)."""
    out: list[str] = []
    try:
        for index in range(len(chunk)):
            out.append(decoder.decode(chunk[index : index + 1]))
        if final:
            out.append(decoder.decode(b"", True))
    except UnicodeDecodeError:
        pass
    return "".join(out)


def _read_csv_header(
    stream: BinaryIO, name: str, delimiter: str = ",", guess_delimiter: bool = False
) -> list[str]:
    first = stream.readline(MAX_RECORD_BYTES + 1)
    if len(first) > MAX_RECORD_BYTES and not first.endswith(b"\n"):
        raise _record_too_long(name, 1)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if not first.strip():
        raise InputError(name, "empty file; expected a header line naming the columns", line=1)
    text = _decode_utf8(first, name, 1, _UTF8_HINT)
    return _parse_csv_header(text, name, delimiter, guess_delimiter)


def _parse_csv_header(text: str, name: str, delimiter: str, guess_delimiter: bool) -> list[str]:
    """Column names from the (decoded) first line. With ``guess_delimiter`` (no
    delimiter was given), a one-column header holding ``;``, a tab or ``|`` is an
    error: the file is most likely separated by that character."""
    if not text.strip(_ASCII_WHITESPACE):
        raise InputError(name, "empty file; expected a header line naming the columns", line=1)
    try:
        header = next(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        if "\r" in text.rstrip("\r\n"):
            raise InputError(
                name,
                "lines end with a carriage return alone; expected line breaks \\n or \\r\\n "
                "(convert the file, e.g. with mac2unix)",
                line=1,
            ) from None
        raise InputError(name, f"malformed header line ({exc})", line=1) from None
    if guess_delimiter and len(header) == 1:
        for candidate, (described, option) in _OTHER_DELIMITERS.items():
            if candidate in header[0]:
                raise InputError(
                    name,
                    f"the header is a single column containing {described}; if fields are "
                    f"separated by {described}, give {option} (or --delimiter ',' to read "
                    "one column)",
                    line=1,
                )
    check_column_count(len(header), name, line=1)
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            raise InputError(name, "empty column name in the header", line=1, column=position)
        if column in seen:
            raise InputError(
                name, f"column {column!r} appears twice in the header", line=1, column=position
            )
        seen.add(column)
    return header


def check_column_count(count: int, name: str, line: int | None = None) -> None:
    """Raise :class:`InputError` when an input has more than :data:`MAX_COLUMNS`
    columns (``count``)."""
    if count > MAX_COLUMNS:
        raise InputError(
            name,
            f"{count:,} columns; expected at most {MAX_COLUMNS:,} (split the file by "
            "columns, keeping the id column in each part)",
            line=line,
        )


def _csv_rows(
    lines: Iterable[str],
    name: str,
    columns: Sequence[str],
    delimiter: str = ",",
    budget: _RecordBudget | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Data rows after the header (which is line 1), checked for field count, with
    exact positions; each comes with the physical line where it starts. ``budget``
    (given to the line reader too) bounds the size of each record."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    expected = len(columns)
    line = 2  # physical line where the next record starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(name, f"malformed CSV ({exc})", line=line) from None
        start, line = line, reader.line_num + 2
        if budget is not None:
            budget.next_record(line)
        if not row:
            continue
        if len(row) != expected:
            raise InputError(
                name,
                f"expected {expected} fields ({_column_list(columns)}), found {len(row)}",
                line=start,
                column=min(expected, len(row)) + 1,
            )
        yield start, row


def count_lines(path: str) -> int:
    """The lines of a file: its newline bytes, plus one for a last line without one
    (exact in UTF-8). A CSV file of ``n`` records after a one-line header, none
    spanning lines and no blank line, has ``n + 1``: record ``r`` is on line ``r + 1``."""
    lines, last = 0, b""
    with _open_binary(path) as stream:
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last not in (b"\n", b""))


def csv_record_lines(path: str, delimiter: str = ",") -> Iterator[int]:
    """The line on which each record of a UTF-8 CSV file with a one-line header
    starts, in file order, by the exact parser (for files whose quoted fields span
    lines, where :func:`count_lines` cannot tell)."""
    with _open_binary(path) as stream:
        header = stream.readline(MAX_RECORD_BYTES + 1).decode("utf-8", "replace")
        columns = next(csv.reader([header], delimiter=delimiter), [])
        for start, _ in _exact_csv_rows(stream, path, columns, delimiter):
            yield start


def _exact_csv_rows(
    stream: BinaryIO, name: str, columns: Sequence[str], delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header of a UTF-8 ``stream`` positioned after it, by the
    exact parser, each record bounded by :data:`MAX_RECORD_BYTES`."""
    budget = _RecordBudget(2)
    lines = _decoded_lines(stream, name, first_line=2, hint=_UTF8_HINT, budget=budget)
    return _csv_rows(lines, name, columns, delimiter, budget)


def _column_list(columns: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (", ..." if len(columns) > limit else "")


def _csv_chunks(
    rows: Iterable[tuple[int, list[str]]],
    columns: Sequence[str],
    chunk_rows: int,
    lines: _LineIndex,
) -> Iterator[list[dict[str, Any]]]:
    """CSV rows as dicts of every column (an empty field is None), in chunks."""
    chunk: list[dict[str, Any]] = []
    limit = batch_rows(len(columns), chunk_rows)
    for start, row in rows:
        lines.add(start)
        chunk.append({c: v or None for c, v in zip(columns, row, strict=True)})
        if len(chunk) >= limit:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _csv_batch(rows: list[dict[str, Any]], columns: Sequence[str]) -> pa.RecordBatch:
    import pyarrow as pa

    schema = pa.schema([(c, pa.string()) for c in columns])
    arrays = [pa.array([row[c] for row in rows], type=pa.string()) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _file_size(stream: io.BufferedReader) -> int:
    return os.fstat(stream.fileno()).st_size


def _arrow_delimiter(delimiter: str) -> bool:
    """Whether Arrow's parser takes this delimiter (a printable ASCII one or tab)."""
    return delimiter == "\t" or " " <= delimiter <= "~"


def _is_regular_file(stream: io.BufferedReader) -> bool:
    """Whether ``stream`` is a regular file (not a pipe, FIFO or device), which can be
    opened again and read from any position."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def _csv_batches_arrow(
    stream: io.BufferedReader, name: str, columns: Sequence[str], delimiter: str = ","
) -> Iterator[pa.RecordBatch]:
    """Fast path for files: Arrow's parser. On any error, the file is scanned again
    with the exact (slower) parser to say where the problem is.

    Arrow reads the file through a handle of its own (``pyarrow.OSFile``), not through
    ``stream``: its read-ahead runs on a background thread, and one reading a Python
    file object needs the interpreter lock; when a parse error ends the command while
    such a read is pending, the process could abort at exit (SIGABRT, "terminate
    called without an active exception"). Arrow's errors quote the offending row, so
    the error is located and raised outside their ``except`` block: no traceback
    carries them.

    Arrow accepts a quote left open at the end of the file (the field runs to the
    end); that is checked after the last batch, cheaply, and reported exactly.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    body_start = stream.tell()
    if not stream.peek(1):  # a header and no rows
        return
    last: pa.RecordBatch | None = None
    failure: str | None = None
    try:
        with pa.OSFile(stream.name) as native:
            native.seek(body_start)
            reader = pacsv.open_csv(
                native,
                read_options=pacsv.ReadOptions(
                    column_names=list(columns), block_size=_CSV_BLOCK_BYTES
                ),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in columns},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            try:
                for batch in reader:
                    if batch.num_rows:
                        last = batch
                        yield batch
            finally:
                reader.close()
    except (pa.ArrowException, OSError) as exc:
        failure = arrow_reason(exc)
    if failure is not None:
        _locate_csv_error(stream, body_start, name, columns, delimiter)
        raise InputError(name, f"malformed CSV ({failure})")
    if last is not None and not _csv_end_is_closed(stream, body_start, last, delimiter):
        _locate_csv_error(stream, body_start, name, columns, delimiter)


def _locate_csv_error(
    stream: BinaryIO, body_start: int, name: str, columns: Sequence[str], delimiter: str
) -> None:
    """Scan the body again with the exact parser, which raises at the first problem."""
    stream.seek(body_start)
    for _ in _exact_csv_rows(stream, name, columns, delimiter):
        pass


def _csv_end_is_closed(
    stream: BinaryIO, body_start: int, last: pa.RecordBatch, delimiter: str
) -> bool:
    """False if the last record may hold a quote left open (Arrow would then have
    read the rest of the file into one field). If the file ends with a line break,
    such a field would end with it, so only a last row with a line break in a
    value is suspect; otherwise the last physical line must parse on its own."""
    row = last.slice(last.num_rows - 1).to_pylist()[0]
    if any(isinstance(value, str) and ("\n" in value or "\r" in value) for value in row.values()):
        return False
    end = stream.seek(0, os.SEEK_END)
    stream.seek(end - 1)
    if stream.read(1) in (b"\n", b"\r"):
        return True
    tail, position = b"", end
    while position > body_start:
        step = min(_TEXT_CHUNK_BYTES, position - body_start)
        position -= step
        stream.seek(position)
        tail = stream.read(step) + tail
        cut = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
        if cut >= 0:
            tail = tail[cut + 1 :]
            break
    try:
        list(csv.reader([tail.decode("utf-8")], delimiter=delimiter, strict=True))
    except (csv.Error, UnicodeDecodeError):
        return False
    return True


# --- NDJSON --------------------------------------------------------------------------

_JSON_KINDS = {str: "string", bool: "true/false", int: "number", float: "number"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _JSON_KINDS[type(value)]


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__("duplicate key")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of the NDJSON decoder: an object giving a key twice is an
    error (``json`` would keep the last value silently)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return record


_NDJSON_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _ndjson_record(text: str, name: str, line: int) -> object:
    """One line parsed; every way it can fail is an :class:`InputError` at the line."""
    try:
        return _NDJSON_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"invalid JSON ({exc.msg})", line=line, column=exc.colno) from None
    except _DuplicateKey as exc:
        raise InputError(
            name,
            "the key is given twice in one object; expected each key once",
            line=line,
            column=_printable(exc.key),
        ) from None
    except RecursionError:
        raise InputError(
            name,
            "arrays or objects nested too deeply; expected one object of strings, numbers, "
            "true/false or null per line",
            line=line,
        ) from None
    except ValueError:  # an integer of more digits than int() converts
        raise InputError(
            name, "a number with too many digits; expected a 64-bit number", line=line
        ) from None


def _printable(key: str) -> str:
    """A key as messages may show it: lone surrogates (which cannot be printed) escaped."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_json_number(value: int | float, name: str, line: int, key: str) -> None:
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InputError(
                name,
                "a number beyond the 64-bit integer range; expected an integer from -2^63 "
                "to 2^63-1 (or the number as a string)",
                line=line,
                column=key,
            )
    elif not math.isfinite(value):
        raise InputError(
            name,
            "NaN, Infinity or a number beyond the 64-bit floating-point range; expected a "
            "finite number",
            line=line,
            column=key,
        )


def _check_surrogates(record: dict[str, Any], name: str, line: int) -> None:
    """A ``\\ud800``-style escape that is not half of a pair decodes to a lone
    surrogate, which is not text (it cannot be stored or printed)."""
    for key, value in record.items():
        if _SURROGATE.search(key) or (isinstance(value, str) and _SURROGATE.search(value)):
            raise InputError(
                name,
                "a \\u escape for half a UTF-16 surrogate pair (a lone surrogate); expected "
                "valid Unicode text",
                line=line,
                column=_printable(key),
            )


def _ndjson_batch(rows: list[dict[str, Any]], columns: Sequence[str], name: str) -> pa.RecordBatch:
    """A batch of every column seen so far from NDJSON rows. Built column by column
    from the values present: a row holds a few of many keys, and work in rows times
    columns would make a sparse file slow."""
    import pyarrow as pa

    present: dict[str, tuple[list[int], list[Any]]] = {}
    for index, row in enumerate(rows):
        for key, value in row.items():
            if value is not None:
                place = present.get(key)
                if place is None:
                    place = present[key] = ([], [])
                place[0].append(index)
                place[1].append(value)
    absent = pa.nulls(len(rows))
    arrays = []
    for column in columns:
        place = present.get(column)
        if place is None:
            arrays.append(absent)
            continue
        cells = place[1]
        if len(cells) < len(rows):
            cells = [None] * len(rows)
            for row_index, value in zip(*place, strict=True):
                cells[row_index] = value
        try:
            arrays.append(pa.array(cells))
        except (pa.ArrowException, OverflowError):
            raise InputError(
                name, f"column {column!r}: number out of range for a 64-bit value"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def _ndjson_chunks(
    stream: BinaryIO, name: str, columns: list[str], chunk_rows: int, lines: _LineIndex
) -> Iterator[list[dict[str, Any]]]:
    """The checked NDJSON objects in chunks; ``columns`` grows with the keys seen."""
    kinds: dict[str, str] = {}
    known = set(columns)
    chunk: list[dict[str, Any]] = []

    for line_number, text in enumerate(_decoded_lines(stream, name, first_line=1), start=1):
        if line_number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        record = _ndjson_record(text, name, line_number)
        if not isinstance(record, dict):
            raise InputError(
                name,
                f"expected one JSON object per line, found {_json_kind(record)}",
                line=line_number,
                column=1,
            )
        if "\\u" in text or "\\U" in text:
            _check_surrogates(record, name, line_number)
        for key, value in record.items():
            if value is None:
                kinds.setdefault(key, "")
            else:
                kind = _json_kind(value)
                if kind in ("object", "array"):
                    raise InputError(
                        name,
                        f"expected a string, number, true/false or null, found {kind}",
                        line=line_number,
                        column=key,
                    )
                if kind == "number":
                    _check_json_number(value, name, line_number, key)
                known_kind = kinds.get(key)
                if known_kind and known_kind != kind:
                    raise InputError(
                        name,
                        f"expected {known_kind} as on earlier lines, found {kind}",
                        line=line_number,
                        column=key,
                    )
                kinds[key] = kind
            if key not in known:
                if not key.strip():
                    raise InputError(name, "an empty key; expected a column name", line=line_number)
                check_column_count(len(columns) + 1, name, line=line_number)
                columns.append(key)
                known.add(key)
        lines.add(line_number)
        chunk.append(record)
        if len(chunk) >= chunk_rows or len(chunk) * len(columns) >= _CELLS_PER_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- writing -------------------------------------------------------------------------

Row = Mapping[str, object]


class RowWriter(Protocol):
    def write_rows(self, rows: Sequence[Row]) -> None: ...


class CsvLineWriter:
    """``csv.writer`` with ``\n`` line ends that also quotes fields holding ``\r``.

    (The standard writer quotes only the characters of its line terminator, so a bare
    carriage return would be lost on reading.)
    """

    def __init__(self, stream: IO[str]) -> None:
        self._plain = csv.writer(stream, lineterminator="\n")
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Sequence[object]) -> None:
        if any(isinstance(value, str) and "\r" in value for value in row):
            self._quoted.writerow(row)
        else:
            self._plain.writerow(row)

    def writerows(self, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            self.writerow(row)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A phone number in international format: "+", then digits with the separators people
# write (spaces, dots, dashes, slashes, an area code in parentheses), ending in a digit;
# a digit may be masked as "*" (``+** **** **3456``, as ``redact`` masks one).
_PHONE_NUMBER = re.compile(r"\+[0-9*](?:[ ./\-]?(?:[0-9*]|\([0-9*]{1,5}\)))+")
_PHONE_DIGITS = range(7, 18)  # E.164 allows 15, plus a trunk "(0)" or two


def _is_phone_number(value: str) -> bool:
    return bool(_PHONE_NUMBER.fullmatch(value)) and (
        sum(ch.isdigit() or ch == "*" for ch in value) in _PHONE_DIGITS
    )


def neutralise_formula(value: str) -> str:
    """``value`` made safe to open in a spreadsheet (OWASP's CSV injection advice).

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return could
    run as a formula, so it gets a leading single quote, which spreadsheets show as
    text. Two kinds of such text are left as they are, because they hold nothing a
    spreadsheet can run (no function name, cell reference or other operator) and a
    quote would break them for the programs that read them: a plain number (``-12.5``,
    ``+44``, ``1e5``) and a phone number in international format
    (``+44 7911 123456``, ``+1 (555) 010-0199``, ``+49-179-9029-7922``, also with
    masked digits: ``+** **** **3456``).
    """
    if (
        value.startswith(_FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
        and not _is_phone_number(value)
    ):
        return "'" + value
    return value


class _CsvWriter:
    def __init__(
        self, stream: IO[str], columns: Sequence[str], *, neutralise_formulas: bool = False
    ) -> None:
        self._columns = list(columns)
        self._neutralise = neutralise_formulas
        self._writer = CsvLineWriter(stream)
        self._writer.writerow([self._cell(c) for c in self._columns])

    def _cell(self, value: object) -> object:
        value = _csv_value(value)
        if self._neutralise and isinstance(value, str):
            return neutralise_formula(value)
        return value

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._writer.writerows([self._cell(row.get(c)) for c in self._columns] for row in rows)


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class _NdjsonWriter:
    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self._stream = stream
        self._columns = list(columns)

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._stream.writelines(
            json_text({c: row.get(c) for c in self._columns}, ensure_ascii=False) + "\n"
            for row in rows
        )


class _ParquetWriter:
    def __init__(self, sink: BinaryIO, columns: Sequence[str], types: Mapping[str, str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from custrec.types import STRING, arrow_type

        self._schema = pa.schema([(c, arrow_type(types.get(c, STRING))) for c in columns])
        self._writer = pq.ParquetWriter(sink, self._schema, compression="zstd")

    def write_rows(self, rows: Sequence[Row]) -> None:
        import pyarrow as pa

        self._writer.write_table(pa.Table.from_pylist(list(rows), schema=self._schema))

    def close(self) -> None:
        self._writer.close()


@contextmanager
def open_row_writer(
    dest: str,
    output_format: str,
    columns: Sequence[str],
    *,
    types: Mapping[str, str] | None = None,
    overwrite: bool = True,
    neutralise_formulas: bool = False,
    mode: int = 0o644,
    inputs: Iterable[Input] = (),
) -> Iterator[RowWriter]:
    """Write rows (mappings) to ``dest`` (a path or ``-``) in ``output_format``.

    A file appears only when writing completed, through :func:`atomic_file`: a failed
    or interrupted run leaves no partial file, and ``dest`` may not be a key file, a
    store or one of ``inputs`` (the files the command reads). ``mode`` is the
    permission of the file created (pass ``0o600`` for personal data). ``types`` maps
    columns to their column types (:data:`custrec.types.COLUMN_TYPES`: ``string``,
    ``int64``, ``float64``, ``bool``) for Parquet (default ``string``).
    A full disk raises :class:`~custrec.errors.NoSpaceError`, for stdout too. In
    NDJSON, NaN and infinite numbers are written as ``null`` (JSON has neither).

    With ``neutralise_formulas``, CSV text cells (the header included) go through
    :func:`neutralise_formula` so spreadsheets do not run them; NDJSON and Parquet
    are never changed.
    """
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(
            f"unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}"
        )
    if dest == STDIN:
        with reporting_no_space(STDOUT_NAME, stream=True):
            if output_format == "parquet":
                with _parquet_to(sys.stdout.buffer, columns, types or {}) as writer:
                    yield writer
            else:
                yield _text_writer(sys.stdout, output_format, columns, neutralise_formulas)
                sys.stdout.flush()
        return
    with atomic_file(dest, overwrite=overwrite, mode=mode, inputs=inputs) as binary:
        if output_format == "parquet":
            with _parquet_to(binary, columns, types or {}) as writer:
                yield writer
        else:
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            try:
                yield _text_writer(text, output_format, columns, neutralise_formulas)
            finally:
                text.flush()
                text.detach()


def _text_writer(
    stream: IO[str], output_format: str, columns: Sequence[str], neutralise_formulas: bool
) -> RowWriter:
    if output_format == "csv":
        return _CsvWriter(stream, columns, neutralise_formulas=neutralise_formulas)
    return _NdjsonWriter(stream, columns)


@contextmanager
def _parquet_to(
    sink: BinaryIO, columns: Sequence[str], types: Mapping[str, str]
) -> Iterator[RowWriter]:
    writer = _ParquetWriter(sink, columns, types)
    try:
        yield writer
    finally:
        writer.close()
