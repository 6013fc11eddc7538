"""Reading and writing tabular files: CSV, NDJSON (JSON Lines) and Parquet.

Reading streams Arrow record batches of bounded size, so memory does not grow with
the file. Every problem in an input file becomes an :class:`~custrec.errors.InputError`
that names the file, the line and the column, and says what was expected; error
messages never quote the offending values (they may be personal data).

- CSV is read as text: every column is a string column and an empty field is null.
  Types are the schema's business, not the reader's. The header line is required.
  Quoted fields may span lines. A UTF-8 byte-order mark is ignored.
- NDJSON: one JSON object per line; values must be scalars (string, number,
  true/false, null) and keep one type per key across the file. Blank lines are skipped.
  Columns are the keys in the order first seen; a batch holds every column seen so far.
- Parquet: read as stored. From standard input it is buffered in memory first,
  because the format needs random access.

``-`` means standard input (reading) or standard output (writing).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from custrec.errors import InputError, UsageError

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
_CSV_BLOCK_BYTES = 4 << 20


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


class TableReader:
    """A tabular input opened for streaming. Use as a context manager and iterate
    over it to get ``pyarrow.RecordBatch`` objects.

    ``columns`` lists the column names known so far (for CSV and Parquet: all of
    them, from the header or the file's schema, even when there are no rows).
    ``rows_read`` counts data rows yielded so far.
    """

    def __init__(
        self,
        source: str,
        *,
        input_format: str | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.source = source
        self.name = source_name(source)
        self.chunk_rows = chunk_rows
        self.rows_read = 0
        self._stream = _open_binary(source)
        try:
            head = self._stream.peek(4)[:4] if source == STDIN else b""
            self.format = detect_input_format(source, input_format, head)
            self.columns: list[str] = []
            self._batches = self._open_batches()
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
        for batch in self._batches:
            self.rows_read += batch.num_rows
            yield batch

    def _open_batches(self) -> Iterator[pa.RecordBatch]:
        if self.format == "csv":
            self.columns = _read_csv_header(self._stream, self.name)
            if self.source == STDIN:
                return _csv_batches_python(self._stream, self.name, self.columns, self.chunk_rows)
            return _csv_batches_arrow(self._stream, self.name, self.columns)
        if self.format == "ndjson":
            return _ndjson_batches(self._stream, self.name, self.columns, self.chunk_rows)
        return self._parquet_batches()

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target: BinaryIO = self._stream
        if self.source == STDIN:
            target = io.BytesIO(self._stream.read())
        try:
            parquet = pq.ParquetFile(target)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                self.name, f"not a readable Parquet file ({_arrow_reason(exc)})"
            ) from None
        self.columns = list(parquet.schema_arrow.names)
        return _guard_arrow(parquet.iter_batches(batch_size=self.chunk_rows), self.name)


def open_table(
    source: str, *, input_format: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> TableReader:
    """Open ``source`` (a path or ``-``) for streaming; see :class:`TableReader`."""
    return TableReader(source, input_format=input_format, chunk_rows=chunk_rows)


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


def _arrow_reason(exc: BaseException) -> str:
    """Arrow's message without the row text it sometimes appends after a colon."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for marker in ("CSV parse error: ", "JSON parse error: "):
        if text.startswith(marker):
            text = text[len(marker) :]
    head, sep, _ = text.partition(": ")
    return head if sep and head.startswith("Expected") else text


def _guard_arrow(batches: Iterable[pa.RecordBatch], name: str) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise InputError(name, f"unreadable ({_arrow_reason(exc)})") from None


# --- CSV -----------------------------------------------------------------------------


def _decoded_lines(stream: BinaryIO, name: str, first_line: int) -> Iterator[str]:
    """Lines of ``stream`` decoded as UTF-8, with exact positions for bad bytes."""
    for offset, raw in enumerate(stream):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                name,
                "invalid UTF-8 byte; expected UTF-8 text (re-export the file as UTF-8)",
                line=first_line + offset,
                column=exc.start + 1,
            ) from None


def _read_csv_header(stream: BinaryIO, name: str) -> list[str]:
    first = stream.readline()
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if not first.strip():
        raise InputError(name, "empty file; expected a header line naming the columns", line=1)
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            name, "invalid UTF-8 byte in the header line", line=1, column=exc.start + 1
        ) from None
    try:
        header = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise InputError(name, f"malformed header line ({exc})", line=1) from None
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


def _csv_rows(stream: BinaryIO, name: str, columns: Sequence[str]) -> Iterator[list[str]]:
    """Data rows after the header, checked for field count, with exact positions."""
    reader = csv.reader(_decoded_lines(stream, name, first_line=2), strict=True)
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
        if not row:
            continue
        if len(row) != expected:
            raise InputError(
                name,
                f"expected {expected} fields ({_column_list(columns)}), found {len(row)}",
                line=start,
                column=min(expected, len(row)) + 1,
            )
        yield row


def _column_list(columns: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (", ..." if len(columns) > limit else "")


def _csv_batches_python(
    stream: BinaryIO, name: str, columns: Sequence[str], chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    chunk: list[list[str]] = []
    schema = pa.schema([(c, pa.string()) for c in columns])

    def to_batch(rows: list[list[str]]) -> pa.RecordBatch:
        arrays = [
            pa.array([row[i] or None for row in rows], type=pa.string())
            for i in range(len(columns))
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    for row in _csv_rows(stream, name, columns):
        chunk.append(row)
        if len(chunk) >= chunk_rows:
            yield to_batch(chunk)
            chunk = []
    if chunk:
        yield to_batch(chunk)


def _csv_batches_arrow(
    stream: io.BufferedReader, name: str, columns: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """Fast path for files: Arrow's parser. On any error, the file is scanned again
    with the exact (slower) parser to say where the problem is."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    body_start = stream.tell()
    if not stream.peek(1):  # a header and no rows
        return
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=list(columns), block_size=_CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
        for batch in reader:
            if batch.num_rows:
                yield batch
    except pa.ArrowException as exc:
        stream.seek(body_start)
        for _ in _csv_rows(stream, name, columns):
            pass
        raise InputError(name, f"malformed CSV ({_arrow_reason(exc)})") from None


# --- NDJSON --------------------------------------------------------------------------

_JSON_KINDS = {str: "string", bool: "true/false", int: "number", float: "number"}


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _JSON_KINDS[type(value)]


def _ndjson_batches(
    stream: BinaryIO, name: str, columns: list[str], chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    kinds: dict[str, str] = {}
    chunk: list[dict[str, Any]] = []

    def to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
        arrays = []
        for column in columns:
            try:
                arrays.append(pa.array([row.get(column) for row in rows]))
            except (pa.ArrowException, OverflowError):
                raise InputError(
                    name, f"column {column!r}: number out of range for a 64-bit value"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, names=list(columns))

    for line_number, text in enumerate(_decoded_lines(stream, name, first_line=1), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                name, f"invalid JSON ({exc.msg})", line=line_number, column=exc.colno
            ) from None
        if not isinstance(record, dict):
            raise InputError(
                name,
                f"expected one JSON object per line, found {_json_kind(record)}",
                line=line_number,
                column=1,
            )
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
                known = kinds.get(key)
                if known and known != kind:
                    raise InputError(
                        name,
                        f"expected {known} as on earlier lines, found {kind}",
                        line=line_number,
                        column=key,
                    )
                kinds[key] = kind
            if key not in columns:
                columns.append(key)
        chunk.append(record)
        if len(chunk) >= chunk_rows:
            yield to_batch(chunk)
            chunk = []
    if chunk:
        yield to_batch(chunk)


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


class _CsvWriter:
    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self._columns = list(columns)
        self._writer = CsvLineWriter(stream)
        self._writer.writerow(self._columns)

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._writer.writerows([_csv_value(row.get(c)) for c in self._columns] for row in rows)


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
            json.dumps({c: row.get(c) for c in self._columns}, ensure_ascii=False) + "\n"
            for row in rows
        )


class _ParquetWriter:
    def __init__(self, sink: BinaryIO, columns: Sequence[str], types: Mapping[str, str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow_types = {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
        }
        self._schema = pa.schema([(c, arrow_types[types.get(c, "string")]) for c in columns])
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
) -> Iterator[RowWriter]:
    """Write rows (mappings) to ``dest`` (a path or ``-``) in ``output_format``.

    A file appears only when writing completed: rows go to a temporary file in the
    same directory that is renamed over ``dest`` at the end and removed on any error
    or interruption, so a failed run leaves no partial file. ``types`` maps columns
    to ``string``/``int``/``float``/``bool`` for Parquet (default ``string``).
    """
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(
            f"unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}"
        )
    if dest == STDIN:
        if output_format == "parquet":
            with _parquet_to(sys.stdout.buffer, columns, types or {}) as writer:
                yield writer
        else:
            yield _text_writer(sys.stdout, output_format, columns)
            sys.stdout.flush()
        return
    with atomic_file(dest, overwrite=overwrite) as binary:
        if output_format == "parquet":
            with _parquet_to(binary, columns, types or {}) as writer:
                yield writer
        else:
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            try:
                yield _text_writer(text, output_format, columns)
            finally:
                text.flush()
                text.detach()


def _text_writer(stream: IO[str], output_format: str, columns: Sequence[str]) -> RowWriter:
    if output_format == "csv":
        return _CsvWriter(stream, columns)
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


@contextmanager
def atomic_file(path: str, *, overwrite: bool = True, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only once the ``with`` block completes.

    The data is written to a temporary file beside ``path``, flushed to disk, and
    renamed over ``path``; on any exception (including KeyboardInterrupt) the temporary
    file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise UsageError(f"{path} already exists; refusing to overwrite it")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(path, f"directory {str(directory)!r} does not exist")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise InputError(path, f"cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
