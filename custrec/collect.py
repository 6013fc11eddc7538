"""Collecting new records into a store from CSV, NDJSON or Parquet files.

:func:`collect_records` streams its inputs into the store batch by batch, in one
transaction under the store's lock: it maps and checks each batch's columns, converts
text to the store's declared types (and nothing else: a CSV's ``007`` or
``+44 7911 123456`` stays text), and checks every row: a non-blank id, values of the
right type, the store's schema. The store's ingest then finds duplicates (by id and by
normalised email/phone, against earlier rows of the collect and against the store),
and the batch is written; the whole collect is committed at the end, or nothing. Only
the refused rows are kept in memory.

Every problem is a :class:`Problem` naming the input, its row and line, the rule and
the field; messages never quote values (they may be personal data). Rejected rows can
be written, with their reasons, to a rejects file for correction.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import CheckFailedError, InputError, UsageError
from custrec.io import (
    batch_rows,
    format_from_extension,
    open_row_writer,
    open_table,
    regrouped,
    source_name,
)
from custrec.mapping import check_mapping
from custrec.progress import NO_PROGRESS, Progress
from custrec.protected import refuse_protected
from custrec.render import Summary, Table, capped
from custrec.store.records import (
    DECIMAL_TEXT,
    EXPECTED,
    FALSE_TEXTS,
    INTEGER_TEXT,
    TRUE_TEXTS,
)
from custrec.types import INT64, arrow_type, column_type_of_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from custrec.store import Store
    from custrec.store.ingest import IngestBatch
    from custrec.validate import SchemaGate

ON_INVALID = ("abort", "reject")
ON_DUPLICATE = ("reject", "skip", "update")
REJECT_COLUMNS = ("_file", "_row", "_line", "_rules", "_reasons")
"""Columns a rejects file adds before the rejected row's own columns."""
REPORT_PROBLEMS = 1000
"""At most this many problems are listed in a report (all are counted; all rejected
rows go to the rejects file)."""


@dataclass(frozen=True)
class Problem:
    """Why a row was refused: ``rule`` is a stable id, the same as ``validate``'s
    (``FIELD.type``, ``FIELD.required``, ``FIELD.unique`` for a repeated id or contact,
    and the schema's rule ids), or one of the store's refusals (``erased``,
    ``in-grace``) or the structural ``unknown-column``."""

    file: str
    row: int | None
    line: int | None
    rule: str
    field: str | None
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "line": self.line,
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class CollectResult:
    """What a collect did (or, when ``written`` is false, would not do)."""

    store: str
    files: list[str]
    on_invalid: str
    on_duplicate: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    problems_total: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    rejects_file: str | None = None
    written: bool = False
    kind: str = "collect"

    @property
    def failed(self) -> bool:
        """True when the batch was refused (nothing written)."""
        return not self.written

    def add_problem(self, problem: Problem) -> None:
        self.problems_total += 1
        if len(self.problems) < REPORT_PROBLEMS:
            self.problems.append(problem)

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "files": self.files,
            "written": self.written,
            "on_invalid": self.on_invalid,
            "on_duplicate": self.on_duplicate,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "rejects_file": self.rejects_file,
            "added_columns": self.added_columns,
            "ignored_columns": self.ignored_columns,
            "problems_total": self.problems_total,
            "problems": [p.to_json() for p in self.problems],
        }

    def tables(self) -> list[Table]:
        columns = ("file", "row", "line", "rule", "field", "message")
        rows = [(p.file, p.row, p.line, p.rule, p.field, p.message) for p in self.problems]
        title = "Problems"
        if self.problems_total > len(self.problems):
            title += f" (first {len(self.problems)} of {self.problems_total})"
        return [Table(columns, rows, title=title)] if rows else []

    def display_tables(self) -> list[Table]:
        """For a person: the first problems, and where the others are."""
        if self.written and self.rejects_file:
            rest = f"in {self.rejects_file}"
        elif self.problems_total > len(self.problems):
            rest = f"(--format json lists the first {len(self.problems):,})"
        else:
            rest = "(use --format json for all)"
        return [
            capped(table._replace(title="Problems"), total=self.problems_total, rest=rest)
            for table in self.tables()
        ]

    def summary(self) -> Summary:
        return Summary(
            (
                ("store", self.store),
                ("written", self.written),
                ("rows read", self.rows_read),
                ("inserted", self.inserted),
                ("updated", self.updated),
                ("skipped (duplicates)", self.skipped),
                ("rejected", self.rejected),
                ("rejects file", self.rejects_file),
                ("new columns", ", ".join(self.added_columns) or None),
                ("ignored columns", ", ".join(self.ignored_columns) or None),
            )
        )


@dataclass(frozen=True)
class CollectOptions:
    """How to read the inputs and what to do with bad or repeated rows.

    ``mapping`` maps a store field to the input column that holds it
    (``{"phone": "Telephone"}``). ``on_invalid``: ``abort`` writes nothing when any
    row is invalid; ``reject`` writes the valid rows and the invalid ones to
    ``rejects``. ``on_duplicate``: ``reject`` treats a repeated id or contact detail as
    invalid, ``skip`` leaves it out, ``update`` updates the stored record with the
    row's columns. ``add_columns`` lets inputs bring fields the store lacks.
    ``source`` labels the records' provenance (default: each input's file name).
    ``readmit_erased`` collects rows matching an erased customer's tombstone.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    on_invalid: str = "abort"
    on_duplicate: str = "reject"
    rejects: str | None = None
    add_columns: bool = False
    source: str | None = None
    input_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    readmit_erased: bool = False

    def check(self) -> None:
        if self.on_invalid not in ON_INVALID:
            raise UsageError(f"on_invalid must be one of {', '.join(ON_INVALID)}")
        if self.on_duplicate not in ON_DUPLICATE:
            raise UsageError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
        if self.on_invalid == "reject" and not self.rejects:
            raise UsageError("--on-invalid reject needs --rejects FILE for the refused rows")
        if self.rejects == "-":
            raise UsageError("--rejects needs a file name (stdout carries the report)")
        if self.rejects and format_from_extension(self.rejects) == "parquet":
            raise UsageError("--rejects: write rejected rows as .csv or .ndjson")
        targets = list(self.mapping)
        repeated = {t for t in targets if targets.count(t) > 1}
        if repeated:
            raise UsageError(f"--map names field {sorted(repeated)[0]!r} twice")


LABEL_ROWS = 1 << 40
"""A row's label for the store's ingest: input index times this, plus its row number."""


@dataclass
class _Input:
    name: str
    source: str | None
    columns: list[str]  # the store fields the input brought, in order of appearance


HELD_ROWS = 20_000
"""Refused rows held in memory; beyond, they are written out sealed (see :class:`_Refused`)."""

RefusedRow = tuple[str, int, list[tuple[str, str | None, str]], dict[str, Any]]
"""A refused row: its input, row number, reasons (rule, field, message) and values."""


class _Refused:
    """Rows refused so far, in input order. Beyond ``HELD_ROWS`` they are written out to
    an unnamed temporary file (``tempfile.TemporaryFile``: no name on disk, 0600), each
    part sealed with AES-GCM under a key drawn for the collect and never written, so
    that an input of many bad rows does not fill memory, and no refused value reaches
    the disk in clear. The parts are pickles: authenticated before they are read, they
    can only be what this collect wrote."""

    def __init__(self) -> None:
        self.held: list[RefusedRow] = []
        self.count = 0
        self._file: Any = None
        self._key = b""
        self._parts = 0

    def __len__(self) -> int:
        return self.count

    def add(self, row: RefusedRow) -> None:
        self.held.append(row)
        self.count += 1
        if len(self.held) >= HELD_ROWS:
            self._write_out()

    def _write_out(self) -> None:
        import os
        import pickle
        import tempfile

        from custrec.crypto import seal

        if self._file is None:
            # Kept open across calls and closed by close(): no block holds its whole life.
            self._file = tempfile.TemporaryFile(prefix="custrec-refused-")  # noqa: SIM115
            self._key = os.urandom(32)
        sealed = seal(self._key, pickle.dumps(self.held), b"refused rows %d" % self._parts)
        self._file.write(len(sealed).to_bytes(8, "big") + sealed)
        self._parts += 1
        self.held = []

    def __iter__(self) -> Iterator[RefusedRow]:
        if self._file is not None:
            import pickle

            from custrec.crypto import open_sealed

            self._file.seek(0)
            for part in range(self._parts):
                size = int.from_bytes(self._file.read(8), "big")
                sealed = self._file.read(size)
                plain = open_sealed(self._key, sealed, b"refused rows %d" % part, "refused rows")
                yield from pickle.loads(plain)  # authenticated above: written by this collect
            self._file.seek(0, 2)
        yield from self.held

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def collect_records(
    store: Store,
    sources: Sequence[str],
    options: CollectOptions | None = None,
    *,
    key_file: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> CollectResult:
    """Collect the records of ``sources`` (paths, or ``-`` for stdin) into ``store``.
    The rejects file may not be the store, a source, a key file or ``key_file``.
    ``progress`` counts the rows read.

    The inputs stream into the store in batches, in one transaction that holds the
    store's write lock: memory does not grow with the inputs, and nothing is written
    unless the whole collect is. Returns the result; ``result.written`` is false when
    the batch was refused (``on_invalid="abort"`` and a row was invalid), in which case
    nothing was written. Unreadable or malformed inputs raise :class:`InputError`
    (nothing written)."""
    chosen = options or CollectOptions()
    chosen.check()
    if not sources:
        raise UsageError("no input given (use '-' for standard input)")
    result = CollectResult(
        store=str(store.path),
        files=[source_name(s) for s in sources],
        on_invalid=chosen.on_invalid,
        on_duplicate=chosen.on_duplicate,
    )
    read = (str(store.path), *sources, key_file)
    if chosen.rejects:
        refuse_protected(chosen.rejects, read)  # now, not after reading every input
        result.rejects_file = chosen.rejects
    collection = _Collection(store, chosen, result, read, progress)
    progress.start(None, "rows", "read")
    try:
        written = store.ingest(
            collection.batches(sources),
            collection.decide,
            collected_at=_now(),
            readmit_erased=chosen.readmit_erased,
        )
    except _Refusal:
        result.inserted = result.updated = result.skipped = 0
        return result
    finally:
        collection.refused.close()
        progress.close()
        order = {name: n for n, name in enumerate(result.files)}
        result.problems.sort(key=lambda p: (order.get(p.file, 0), p.row or 0))
    result.added_columns = [n for n in collection.target_types if n not in collection.initial]
    result.inserted, result.updated = written.inserted, written.updated
    result.written = True
    return result


class _Refusal(CheckFailedError):
    """Raised inside the store's transaction to write nothing."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Collection:
    """One collect: reads its inputs batch by batch into the store's ingest, and
    decides what becomes of each row. Only the refused rows are kept (for the report
    and the rejects file); their lines are looked up once an input has been read."""

    def __init__(
        self,
        store: Store,
        options: CollectOptions,
        result: CollectResult,
        read: Sequence[str | None],
        progress: Progress,
    ) -> None:
        self.options = options
        self.result = result
        self.read = read
        self.progress = progress
        self.id_field = store.settings.id_field
        self.initial = dict(store.columns)
        self.target_types = dict(self.initial)
        # A new store takes the fields of its first input; later ones need add_columns.
        self.accept_new = len(self.initial) == 1 and store.count() == 0
        self.refused = _Refused()
        self.inputs: list[_Input] = []
        self.gate: SchemaGate | None = None
        if store.settings.schema is not None:
            from custrec.schema import parse_schema
            from custrec.validate import SchemaGate

            schema = parse_schema(store.settings.schema, f"{store.path} (its schema)")
            self.gate = SchemaGate(schema)
        self._pending: dict[int, list[tuple[str, str | None, str]]] = {}
        self._values: dict[int, dict[str, Any]] = {}
        self._batch: tuple[Any, list[int]] | None = None  # the batch being decided

    def batches(self, sources: Sequence[str]) -> Iterator[IngestBatch]:
        """The valid rows of every input, converted, as ingest batches; raises
        :class:`_Refusal` at the end when nothing may be written."""
        structural = False
        for index, source in enumerate(sources):
            accept = self.accept_new or self.options.add_columns
            self.accept_new = False
            structural = yield from self._read(index, source, accept)
            if structural:
                break
        self.result.rejected = len(self.refused)
        if structural or (len(self.refused) and self.options.on_invalid == "abort"):
            raise _Refusal
        if self.options.rejects and (len(self.refused) or self.options.on_invalid == "reject"):
            _write_rejects(self.options.rejects, self.refused, self.inputs, self.read)

    def _read(
        self, index: int, source: str, accept_new: bool
    ) -> Generator[IngestBatch, None, bool]:
        """One input's batches; returns whether it brought a column the store lacks
        and may not add (then nothing is written: rejecting rows cannot help)."""

        options = self.options
        name = source_name(source)
        taken = _Input(name=name, source=options.source or name, columns=[])
        self.inputs.append(taken)
        renames = {column: target for target, column in options.mapping.items()}
        base = index * LABEL_ROWS
        structural = False
        yielded = False
        with open_table(
            source,
            input_format=options.input_format,
            delimiter=options.delimiter,
            encoding=options.encoding,
        ) as reader:
            if reader.columns:  # CSV and Parquet: the header is known before any row
                check_mapping(name, reader.columns, options.mapping, final=True)
            row_base = 0
            for raw in regrouped(reader):
                check_mapping(name, raw.schema.names, options.mapping, final=False)
                batch = _rename(raw, renames, self.result)
                if not _add_columns(
                    name, taken, batch.schema.names, self.target_types, accept_new,
                    self.id_field, self.result,
                ):  # fmt: skip
                    structural = True
                    break
                converted, row_problems = _convert(batch, self.target_types, self.id_field)
                if self.gate is not None:
                    for position, reasons in self.gate.failures(converted).items():
                        _add_reasons(row_problems.setdefault(position, []), reasons)
                values = _present_values(batch, sorted(row_problems))
                for position, reasons in row_problems.items():
                    self._pending[row_base + position + 1] = reasons
                    self._values[row_base + position + 1] = values[position]
                keep = [i for i in range(batch.num_rows) if i not in row_problems]
                rows = [row_base + i + 1 for i in keep]
                row_base += batch.num_rows
                self.result.rows_read += batch.num_rows
                self.progress.advance(batch.num_rows)
                if keep:
                    import pyarrow as pa

                    kept = converted.take(pa.array(keep, type=pa.int64()))
                    yield self._ingest_batch(taken, kept, rows, base)
                    yielded = True
            if not row_base and not structural:  # no rows: still check the header
                header = [renames.get(c, c) for c in reader.columns if not c.startswith("_")]
                structural = not _add_columns(
                    name, taken, header, self.target_types, accept_new, self.id_field,
                    self.result,
                )  # fmt: skip
            if not structural:
                check_mapping(name, reader.columns, options.mapping, final=True)
                if not yielded and taken.columns:  # the store still learns the columns
                    yield self._ingest_batch(taken, None, [], base)
            lines = reader.row_lines(self._pending) if self._pending else {}
        for row in sorted(self._pending):
            reasons = self._pending[row]
            line = lines.get(row)
            for rule, field_name, message in reasons:
                self.result.add_problem(Problem(name, row, line, rule, field_name, message))
            self.refused.add((name, row, reasons, {"_line": line, **self._values[row]}))
        self._pending, self._values = {}, {}
        return structural

    def _ingest_batch(self, taken: _Input, batch: Any, rows: list[int], base: int) -> IngestBatch:
        """Rows of one input in the store's column order (id first), as an ingest batch;
        ``batch`` None: no rows, only the input's columns."""
        from custrec.store.ingest import IngestBatch, Segment

        names = [  # a column of no value yet has no type: an input of only a header
            self.id_field,
            *(n for n in taken.columns if n != self.id_field and n in self.target_types),
        ]
        table = _in_store_order(batch, names, self.target_types)
        self._batch = (table, rows)
        segment = Segment(0, table.num_rows, frozenset(taken.columns), taken.source)
        return IngestBatch(table, [segment], [base + row for row in rows])

    def decide(self, matches: Any) -> list[Any]:
        """The action for each row of the batch being written, by ``on_duplicate``;
        refused rows wait for their lines (see :meth:`_read`)."""
        assert self._batch is not None
        table, rows = self._batch
        actions, refused_at = _decide(
            matches, self.options.on_duplicate, table, self.result, self.origin
        )
        if refused_at:
            import pyarrow as pa

            wanted = pa.array([p for p, *_ in refused_at], type=pa.int64())
            values = table.take(wanted).to_pylist()
            for (position, rule, field_name, message), row_values in zip(
                refused_at, values, strict=True
            ):
                if rule in ("erased", "in-grace"):
                    message = message.format(
                        record=f"{self.id_field} {row_values.get(self.id_field)}"
                    )
                row = rows[position]
                self._pending.setdefault(row, []).append((rule, field_name, message))
                self._values[row] = {k: v for k, v in row_values.items() if v is not None}
        return actions

    def origin(self, label: int) -> tuple[str, int]:
        """The input name and row number of a row's label."""
        return self.inputs[label // LABEL_ROWS].name, label % LABEL_ROWS


def _add_reasons(
    known: list[tuple[str, str | None, str]], more: Sequence[tuple[str, str | None, str]]
) -> None:
    """The schema's reasons for a row, after those of the conversion: one failure per
    cause per cell. A value refused by its type (or an empty id) reaches the schema
    as empty, so the schema's word on that field (``required``...) is not a second
    cause."""
    refused = {field_name for _, field_name, _ in known}
    known.extend(reason for reason in more if reason[1] is None or reason[1] not in refused)


def _add_columns(
    name: str,
    taken: _Input,
    columns: Sequence[str],
    target_types: dict[str, str],
    accept_new: bool,
    id_field: str,
    result: CollectResult,
) -> bool:
    """Note the input's columns not seen before (an NDJSON key may first appear on any
    line). False when one is unknown to the store and may not be added: then nothing
    is written (rejecting rows cannot help)."""
    new = [c for c in columns if c not in taken.columns]
    if not new:
        return True
    if not taken.columns and id_field not in columns:
        raise InputError(
            name,
            f"no {id_field!r} column: every record needs its id "
            f"(map one with --map {id_field}=COLUMN)",
            line=1,
        )
    unknown = [c for c in new if c not in target_types]
    if unknown and not accept_new:
        line = None if taken.columns else 1  # the header, or a key first seen later
        for column in unknown:
            result.add_problem(
                Problem(
                    name,
                    None,
                    line,
                    "unknown-column",
                    column,
                    "the store has no such field: map it with --map FIELD=COLUMN, or "
                    "add it to the store with --add-columns",
                )
            )
        return False
    taken.columns.extend(new)
    return True


def _rename(batch: pa.RecordBatch, renames: Mapping[str, str], result: CollectResult) -> Any:
    names = [renames.get(n, n) for n in batch.schema.names]
    keep = [i for i, n in enumerate(names) if not n.startswith("_")]
    for n in names:
        if n.startswith("_") and n not in result.ignored_columns:
            result.ignored_columns.append(n)
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(
        [batch.column(i) for i in keep], names=[names[i] for i in keep]
    )


def _convert(
    batch: pa.RecordBatch, target_types: dict[str, str], id_field: str
) -> tuple[pa.RecordBatch, dict[int, list[tuple[str, str | None, str]]]]:
    """The batch in the store's types (new columns take their input type; text stays
    text), and the problems of the rows that do not fit."""
    import pyarrow as pa
    import pyarrow.compute as pc

    problems: dict[int, list[tuple[str, str | None, str]]] = {}
    arrays = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        kind = target_types.get(name) or column_type_of_arrow(column.type)
        target_types.setdefault(name, kind)
        converted, bad = _to_kind(column, kind)
        for index in bad:
            problems.setdefault(index, []).append(
                (f"{name}.type", name, f"field {name!r}: expected {EXPECTED[kind]}")
            )
        arrays.append(converted)
    ids = batch.column(id_field)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids.cast(pa.string())), ""), True)
    for index in pc.indices_nonzero(blank).to_pylist():
        problems.setdefault(index, []).insert(
            0, (f"{id_field}.required", id_field, f"the id field {id_field!r} is empty")
        )
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names), problems


def _to_kind(column: pa.Array, kind: str) -> tuple[pa.Array, list[int]]:
    """``column`` converted to ``kind``, with the positions of values that cannot be
    (they become null). Only text is parsed; other mismatches are refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = arrow_type(kind)
    source = column.type
    if source == target or pa.types.is_null(source):
        return column.cast(target), []
    if kind == "float64" and pa.types.is_integer(source):
        return column.cast(target), []
    if kind == "int64" and pa.types.is_integer(source):
        return column.cast(target), []
    if not (pa.types.is_string(source) or pa.types.is_large_string(source)):
        bad = pc.indices_nonzero(pc.is_valid(column)).to_pylist()
        return pa.nulls(len(column), target), bad
    text = column.cast(pa.string())
    if kind == "bool":
        lower = pc.utf8_lower(text)
        ok = pc.is_in(lower, value_set=pa.array([*TRUE_TEXTS, *FALSE_TEXTS]))
        values = pc.is_in(lower, value_set=pa.array(TRUE_TEXTS))
    else:
        ok = pc.match_substring_regex(
            text, f"^{INTEGER_TEXT if kind == 'int64' else DECIMAL_TEXT}$"
        )
        values = None
    ok = pc.or_(pc.fill_null(ok, False), pc.is_null(text))
    bad = pc.indices_nonzero(pc.invert(ok)).to_pylist()
    clean = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if values is not None:
        return pc.if_else(pc.is_valid(clean), values, pa.scalar(None, pa.bool_())), bad
    if kind == "int64":
        try:
            return clean.cast(target), bad
        except pa.ArrowInvalid:  # a value out of the 64-bit range
            pass  # (outside the handler: Arrow's message quotes the value)
        return _int64_or_null(clean, bad)
    return clean.cast(target), bad


def _int64_or_null(text: pa.Array, bad: list[int]) -> tuple[pa.Array, list[int]]:
    import pyarrow as pa

    out: list[int | None] = []
    more = list(bad)
    for index, value in enumerate(text.to_pylist()):
        if value is None:
            out.append(None)
            continue
        number = int(value)
        if -(2**63) <= number < 2**63:
            out.append(number)
        else:
            out.append(None)
            more.append(index)
    return pa.array(out, type=pa.int64()), sorted(set(more))


def _present_values(batch: pa.RecordBatch, indices: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The values that are not null of rows ``indices`` of ``batch``, column by column:
    refused rows of a wide, sparse input (thousands of columns, a few values a row)
    are kept at the size of their values, not rows times columns."""
    import pyarrow as pa

    out: dict[int, dict[str, Any]] = {index: {} for index in indices}
    if not indices:
        return out
    taken = pa.array(indices, type=pa.int64())
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if column.null_count == len(column):
            continue
        for index, value in zip(indices, column.take(taken).to_pylist(), strict=True):
            if value is not None:
                out[index][name] = value
    return out


def _in_store_order(batch: Any, names: Sequence[str], types: Mapping[str, str]) -> Any:
    """A table of ``batch``'s columns ``names`` in that order and in the store's
    ``types``; a column the batch lacks is null (None: an empty table)."""
    import pyarrow as pa

    schema = pa.schema([(n, arrow_type(types[n])) for n in names])
    if batch is None:
        return schema.empty_table()
    present = set(batch.schema.names)  # once per batch: a list lookup per column
    arrays = [  # would make wide inputs quadratic
        batch.column(n) if n in present else pa.nulls(batch.num_rows, f.type)
        for n, f in zip(names, schema, strict=True)
    ]
    return pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, schema=schema)])


_STORE_REFUSALS = {
    "erased": (
        "erased",
        None,
        "{record} matches a customer who was erased (by id, email or phone); if they "
        "came back of their own accord, collect with --readmit-erased",
    ),
    "in_grace": (
        "in-grace",
        None,
        "{record} is in a purge's grace period; bring it back with `custrec restore` first",
    ),
}
"""Rows the store refuses (``RowMatches.refused``): rule and message."""


def _decide(
    matches: Any,
    on_duplicate: str,
    table: pa.Table,
    result: CollectResult,
    origin: Callable[[int], tuple[str, int]],
) -> tuple[list[Any], list[tuple[int, str, str | None, str]]]:
    """The action for each row of a batch, by ``on_duplicate``, and the refused rows:
    (position, rule, field, message). ``origin`` names an earlier row's label."""
    from custrec.store.ingest import RowAction

    actions: list[RowAction] = []
    refused_at: list[tuple[int, str, str | None, str]] = []
    id_field = table.column_names[0]
    repeated_id = f"{id_field}.unique"
    for position in range(table.num_rows):
        repeat = matches.repeat_of[position]
        contact_repeat = matches.contact_repeat_of[position]
        contact = matches.contact_in_store[position]
        refusal = matches.refused.get(position)
        if refusal is not None:  # whatever --on-duplicate says
            refused_at.append((position, *_STORE_REFUSALS[refusal]))
            actions.append(RowAction.SKIP)
            continue
        if repeat is not None:
            file_name, row = origin(repeat)
            reason = (repeated_id, id_field, f"the same id as row {row} of {file_name}")
        elif contact_repeat is not None:
            name, earlier = contact_repeat
            file_name, row = origin(earlier)
            reason = (
                f"{name}.unique",
                name,
                f"the same {name} as row {row} of {file_name}, under another id",
            )
        elif contact is not None:
            reason = (
                f"{contact}.unique",
                contact,
                f"the same {contact} as a record already in the store, under another id",
            )
        elif matches.in_store[position]:
            if on_duplicate == "update":
                actions.append(RowAction.UPDATE)
                continue
            reason = (repeated_id, id_field, "a record with this id is already in the store")
        else:
            actions.append(RowAction.INSERT)
            continue
        if on_duplicate == "skip":
            result.skipped += 1
        elif on_duplicate == "update" and reason[0] == repeated_id and repeat is None:
            actions.append(RowAction.UPDATE)
            continue
        else:
            refused_at.append((position, *reason))
        actions.append(RowAction.SKIP)
    return actions, refused_at


def _write_rejects(
    path: str, refused: _Refused, inputs: Sequence[_Input], read: Sequence[str | None]
) -> None:
    """The refused rows, with why, in input order, in the format of the file name (CSV
    by default), readable only by the owner (they hold personal data)."""
    columns = list(dict.fromkeys(c for item in inputs for c in item.columns))
    output_format = format_from_extension(path) or "csv"
    step = batch_rows(len(columns))  # rows of every column: a wide input writes in parts
    with open_row_writer(
        path,
        output_format,
        [*REJECT_COLUMNS, *columns],
        types={"_row": INT64, "_line": INT64},
        mode=0o600,
        inputs=read,
    ) as writer:
        rows = iter(refused)  # in input order, then row order
        while part := list(itertools.islice(rows, step)):
            writer.write_rows(
                [
                    {
                        "_file": file_name,
                        "_row": row,
                        "_line": values.get("_line"),
                        "_rules": ";".join(rule for rule, _, _ in reasons),
                        "_reasons": "; ".join(message for _, _, message in reasons),
                        **{c: values.get(c) for c in columns},
                    }
                    for file_name, row, reasons, values in part
                ]
            )
