"""Profile a tabular file without showing its values.

``inspect_table`` streams a CSV, NDJSON or Parquet file once and reports, per column,
the inferred type and how many values are present or missing; with an id column, how
many ids are missing or repeated, and at which rows given ids occur. The profile
never contains a value from the file (values are personal data), only counts, types
and row numbers, so it can be shared and logged.

Row numbers count data rows from 1 (a CSV header is not a row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custrec.errors import CheckFailedError, NotFoundError, UnknownColumnError
from custrec.io import DEFAULT_CHUNK_ROWS, open_table
from custrec.render import Summary, Table

if TYPE_CHECKING:
    import pyarrow as pa

# Text patterns tried in order; a text column gets the first type that all its
# present values match. The patterns are RE2 syntax (used by Arrow compute).
_TEXT_TYPES: tuple[tuple[str, str], ...] = (
    ("boolean", r"^(?i)(true|false)$"),
    ("integer", r"^[+-]?\d+$"),
    ("number", r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"),
    ("date", r"^\d{4}-\d{2}-\d{2}$"),
    ("datetime", r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"),
)
_ID_CANDIDATES = ("interaction_id", "customer_id", "id")


@dataclass
class ColumnProfile:
    name: str
    present: int = 0
    missing: int = 0
    stored_type: str | None = None
    candidates: list[str] = field(default_factory=lambda: [name for name, _ in _TEXT_TYPES])

    @property
    def inferred_type(self) -> str:
        if self.stored_type is not None:
            return self.stored_type
        if self.present == 0:
            return "empty"
        return self.candidates[0] if self.candidates else "text"

    @property
    def missing_pct(self) -> float:
        total = self.present + self.missing
        return 100.0 * self.missing / total if total else 0.0


@dataclass(frozen=True)
class IdLookup:
    """Where one asked-for id occurs (data row numbers)."""

    record_id: str
    rows: list[int]


@dataclass
class TableProfile:
    """The result of :func:`inspect_table`."""

    source: str
    format: str
    rows: int
    columns: list[ColumnProfile]
    id_column: str | None = None
    missing_ids: int = 0
    duplicate_ids: int = 0
    """Number of distinct id values that occur more than once."""
    duplicate_rows: int = 0
    """Number of rows whose id occurs on an earlier row too."""
    lookups: list[IdLookup] = field(default_factory=list)
    kind: str = "inspect"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "columns": [
                {
                    "name": c.name,
                    "type": c.inferred_type,
                    "present": c.present,
                    "missing": c.missing,
                    "missing_pct": round(c.missing_pct, 2),
                }
                for c in self.columns
            ],
            "id_column": self.id_column,
        }
        if self.id_column is not None:
            data["missing_ids"] = self.missing_ids
            data["duplicate_ids"] = self.duplicate_ids
            data["duplicate_rows"] = self.duplicate_rows
        if self.lookups:
            data["lookups"] = [{"id": lk.record_id, "rows": lk.rows} for lk in self.lookups]
        return data

    def tables(self) -> list[Table]:
        columns = Table(
            columns=("column", "type", "present", "missing", "missing %"),
            rows=[
                (c.name, c.inferred_type, c.present, c.missing, round(c.missing_pct, 1))
                for c in self.columns
            ],
        )
        tables = [columns]
        if self.lookups:
            tables.append(
                Table(
                    columns=("id", "rows"),
                    rows=[
                        (lk.record_id, ", ".join(map(str, lk.rows)) or "not found")
                        for lk in self.lookups
                    ],
                    title="ids",
                )
            )
        return tables

    def summary(self) -> Summary:
        items: list[tuple[str, str | int | None]] = [
            ("file", self.source),
            ("format", self.format),
            ("rows", self.rows),
            ("columns", len(self.columns)),
        ]
        if self.id_column is not None:
            items += [
                ("id column", self.id_column),
                ("missing ids", self.missing_ids),
                ("repeated ids", f"{self.duplicate_ids} ids on {self.duplicate_rows} extra rows"),
            ]
        return Summary(items)


def inspect_table(
    source: str,
    *,
    input_format: str | None = None,
    id_column: str | None = None,
    find_ids: Sequence[str] = (),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> TableProfile:
    """Profile ``source`` (a path or ``-``) in one streaming pass.

    ``delimiter`` and ``encoding`` apply to CSV input (see
    :class:`~custrec.io.TableReader`).

    ``id_column`` defaults to the first of ``interaction_id``, ``customer_id``, ``id``
    that exists; naming a column that does not exist raises
    :class:`~custrec.errors.UnknownColumnError`. ``find_ids`` lists ids whose rows are
    reported in ``lookups``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    profiles: dict[str, ColumnProfile] = {}
    id_chunks: list[pa.Array] = []
    found: dict[str, list[int]] = {record_id: [] for record_id in find_ids}
    wanted = pa.array(list(found), type=pa.string())
    with open_table(
        source,
        input_format=input_format,
        chunk_rows=chunk_rows,
        delimiter=delimiter,
        encoding=encoding,
    ) as reader:
        chosen_id: str | None = None
        id_checked = False
        for batch in _batches_with_header(reader):
            if not id_checked:
                chosen_id = _choose_id_column(reader.name, reader.columns, id_column)
                if chosen_id is None and find_ids:
                    raise _no_id_column(reader.name)
                id_checked = True
            for column in batch.schema.names:
                _profile_array(
                    profiles.setdefault(column, ColumnProfile(column)), batch.column(column)
                )
            if chosen_id is not None and chosen_id in batch.schema.names:
                ids = batch.column(chosen_id).cast(pa.string())
                id_chunks.append(ids)
                if found:
                    offset = reader.rows_read - batch.num_rows
                    hits = pc.indices_nonzero(pc.is_in(ids, value_set=wanted))
                    for index in hits.to_pylist():
                        found[ids[index].as_py()].append(offset + index + 1)
        rows = reader.rows_read
        for column in reader.columns:
            # An NDJSON key first seen on a later line is missing on the earlier ones.
            column_profile = profiles.setdefault(column, ColumnProfile(column))
            column_profile.missing = rows - column_profile.present
        profile = TableProfile(
            source=reader.name,
            format=reader.format,
            rows=rows,
            columns=[profiles[c] for c in reader.columns],
            id_column=chosen_id,
            lookups=[IdLookup(record_id, found[record_id]) for record_id in found],
        )
    if chosen_id is not None:
        _count_ids(profile, id_chunks)
    return profile


def _batches_with_header(reader: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    """The reader's batches, or one empty batch when the file has no rows, so that the
    id column is still checked against the header."""
    import pyarrow as pa

    empty = True
    for batch in reader:
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_pylist([])


def _choose_id_column(name: str, columns: Sequence[str], requested: str | None) -> str | None:
    if requested is not None:
        if requested not in columns:
            raise UnknownColumnError(
                name,
                f"no column {requested!r}; the columns are: {', '.join(columns) or '(none)'}",
            )
        return requested
    return next((c for c in _ID_CANDIDATES if c in columns), None)


def _no_id_column(name: str) -> UnknownColumnError:
    return UnknownColumnError(
        name, f"no id column ({', '.join(_ID_CANDIDATES)}); name one with --id-column"
    )


def _profile_array(profile: ColumnProfile, array: pa.Array) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = array.null_count
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        blank = pc.sum(pc.equal(pc.utf8_trim_whitespace(array), "")).as_py() or 0
        missing += blank
        if profile.stored_type is None and profile.candidates:
            present = pc.drop_null(array)
            present = present.filter(pc.not_equal(pc.utf8_trim_whitespace(present), ""))
            if len(present):
                profile.candidates = [
                    name
                    for name, pattern in _TEXT_TYPES
                    if name in profile.candidates
                    and pc.all(pc.match_substring_regex(present, pattern)).as_py()
                ]
    elif not pa.types.is_null(array.type):
        profile.stored_type = _arrow_type_name(array.type)
    profile.missing += missing
    profile.present += len(array) - missing


def _arrow_type_name(arrow_type: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    if pa.types.is_date(arrow_type):
        return "date"
    return str(arrow_type)


def _count_ids(profile: TableProfile, id_chunks: list[pa.Array]) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.chunked_array(id_chunks, type=pa.string()) if id_chunks else pa.array([], pa.string())
    trimmed = pc.utf8_trim_whitespace(ids)
    blank = pc.or_kleene(pc.is_null(trimmed), pc.equal(trimmed, ""))
    profile.missing_ids = pc.sum(blank).as_py() or 0
    present = trimmed.filter(pc.invert(pc.fill_null(blank, True)))
    counts = pc.value_counts(present)
    repeated = pc.greater(counts.field("counts"), 1)
    profile.duplicate_ids = pc.sum(repeated).as_py() or 0
    extra = pc.subtract(counts.field("counts").filter(repeated), 1)
    profile.duplicate_rows = pc.sum(extra).as_py() or 0


def require_no_duplicates(profile: TableProfile) -> None:
    """Raise :class:`CheckFailedError` (exit 1) when the id column has repeated ids."""
    if profile.id_column is None:
        raise _no_id_column(profile.source)
    if profile.duplicate_ids:
        raise CheckFailedError(
            f"{profile.source}: {profile.duplicate_ids} ids in column {profile.id_column!r} "
            f"occur more than once ({profile.duplicate_rows} extra rows)"
        )


def require_found(profile: TableProfile) -> None:
    """Raise :class:`NotFoundError` (exit 6) when an asked-for id occurs nowhere."""
    absent = [lk.record_id for lk in profile.lookups if not lk.rows]
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise NotFoundError(
            f"{profile.source}: no row with {profile.id_column} {shown} "
            f"({len(absent)} of {len(profile.lookups)} ids not found)"
        )
