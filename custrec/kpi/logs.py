"""Reading interaction logs for the KPI reports: mapped, validated, typed.

Each log (CSV, NDJSON, Parquet, or ``-``) is read in batches, its columns renamed by
``--map canonical=source``, and every row checked against the shipped
``interaction`` schema, or a schema that extends it
(:func:`custrec.kpi.checks.interaction_schema`): required columns, types, ranges of
survey answers, times that do not run backwards, unique interaction ids, before any
number is computed. Invalid rows stop the report (exit 3, naming file, line and
rule), or are left out and counted with ``skip_invalid``. Timestamps with an offset
are honoured; those without one are read in ``tz``.

Each column is converted once: the schema's rules run on each batch as ``validate``
runs them (:class:`custrec.schema.batch.BatchRules`), and the values they converted
are what the KPI definitions read; only the typed columns the caller asks for are
kept, as one polars frame in the types of :mod:`custrec.kpi.definitions` (text,
instants as integer microseconds, numbers, flags; missing is null), and a Parquet log
is read only for the columns needed by the checks and the caller.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import InputError, UnknownColumnError, UsageError
from custrec.kpi.columns import (
    CANONICAL,
    DTYPES,
    FLAGS,
    NUMBERS,
    TEXT,
    TIMES,
    KpiColumns,
    kind_of,
)
from custrec.mapping import read_map_file
from custrec.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from custrec.io import TableReader
    from custrec.schema import Schema
    from custrec.schema.batch import BatchRules
    from custrec.store import Store

__all__ = [
    "CANONICAL",
    "FLAGS",
    "NUMBERS",
    "TEXT",
    "TIMES",
    "LoadedLogs",
    "load_logs",
    "read_map_file",
]

REQUIRED = ("interaction_id", "case_id", "channel", "created_at")
SHOWN_PROBLEMS = 10
BATCH_ROWS = 131_072
_UTC_ZONES = frozenset({"UTC", "Etc/UTC"})


@dataclass
class LoadedLogs:
    """The rows kept (``contacts``: a polars DataFrame of the columns loaded, in the
    types :mod:`custrec.kpi.definitions` reads), how many were read and refused, and
    the first problems found (each with where it is)."""

    contacts: Any
    rows: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def columns(self) -> KpiColumns:
        """The rows kept as :class:`KpiColumns` (made when asked for)."""
        return KpiColumns.from_polars(self.contacts)

    @property
    def frame(self) -> pd.DataFrame:
        """The rows kept as a pandas DataFrame of the columns loaded."""
        return self.columns.to_frame()


def load_logs(
    sources: Sequence[str],
    *,
    mapping: Mapping[str, str] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    tz: str = "UTC",
    skip_invalid: bool = False,
    schema: Schema | None = None,
    open_store: Callable[[str], Store] | None = None,
    columns: Collection[str] | None = None,
    group_by: Collection[str] = (),
    progress: Progress = NO_PROGRESS,
) -> LoadedLogs:
    """The logs' valid rows, typed (see the module); ``columns`` are the canonical
    columns to keep (default: all). A source that is a custrec store is read through
    ``open_store`` (its key). Each log must have the columns of ``group_by`` (after
    ``mapping``): a missing one is an :class:`~custrec.errors.UnknownColumnError`.
    ``progress`` counts the rows read."""
    from custrec.io import open_table
    from custrec.kpi.calendar import zone
    from custrec.schema import shipped_schema

    unknown = [target for target in (mapping or {}) if target not in CANONICAL]
    if unknown:
        raise UsageError(
            f"--map {unknown[0]}=...: {unknown[0]!r} is not a column of an interaction log "
            f"(columns: {', '.join(CANONICAL)})"
        )
    chosen = schema or shipped_schema("interaction")
    wanted = tuple(CANONICAL if columns is None else [c for c in CANONICAL if c in columns])
    reading = _Reading(
        schema=chosen,
        renames={source: target for target, source in (mapping or {}).items()},
        tz=zone(tz),
        wanted=wanted,
        group_by=tuple(group_by),
        progress=progress,
    )
    progress.start(None, "rows")
    for source in sources:
        if source != "-" and open_store is not None and _is_store(source):
            from custrec.io import regrouped

            with open_store(source) as store:
                batches = regrouped(store.iter_batches(action="report"), BATCH_ROWS)
                reading.consume(batches, source, None)
            continue
        with open_table(
            source, input_format=input_format, delimiter=delimiter, encoding=encoding
        ) as reader:
            reading.consume(reading.batches(reader), reader.name, reader)
    progress.close()
    return reading.finish(skip_invalid)


_SQLITE = b"SQLite format 3\x00"


def _is_store(path: str) -> bool:
    """Whether ``path`` is a custrec store (the store module is loaded only for an
    SQLite file)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_SQLITE)) != _SQLITE:
                return False
    except OSError:
        return False
    from custrec.protected import is_store_file

    return is_store_file(path)


@dataclass
class _Source:
    name: str
    first: int
    rows: int
    reader: TableReader | None  # None: a store


@dataclass
class _Reading:
    """State while reading several logs: the typed parts, the raw ids (for the
    uniqueness of ``interaction_id``), and the failures as (rule, rows)."""

    schema: Schema
    renames: dict[str, str]
    tz: Any
    wanted: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    progress: Progress = NO_PROGRESS
    parts: list[Any] = field(default_factory=list)
    ids: list[pl.Series] = field(default_factory=list)
    failures: list[tuple[str, np.ndarray]] = field(default_factory=list)
    sources: list[_Source] = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        # A schema that extends the interaction schema checks its own fields too.
        self.checked = (*CANONICAL, *(f for f in self.schema.fields if f not in CANONICAL))
        self.needs = _needs(self.schema)
        self._engine: BatchRules | None = None

    def _rules(self) -> BatchRules:
        """The record rules of the schema on batches (loaded when the first batch is
        read, so that reading starts first)."""
        if self._engine is None:
            from custrec.schema.batch import BatchRules

            self._engine = BatchRules(self.schema, chosen=self.schema.record_rules())
        return self._engine

    @property
    def read(self) -> frozenset[str]:
        """The columns read: those kept, required and checked."""
        needed = frozenset(self.wanted) | frozenset(REQUIRED) | frozenset(self.group_by)
        return needed | (self.needs & set(self.checked))

    def batches(self, reader: TableReader) -> Iterator[pa.RecordBatch]:
        """The batches of a file; of a Parquet file, only its columns read."""
        if reader.format != "parquet" or reader.source == "-":
            yield from reader
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        from custrec.io import arrow_reason, guard_arrow, parquet_scalars

        try:
            # pre_buffer: Arrow would hold the needed column chunks of the whole file
            parquet = pq.ParquetFile(reader.source, pre_buffer=False)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                reader.name, f"not a readable Parquet file ({arrow_reason(exc)})"
            ) from None
        read = self.read
        names = [n for n in parquet.schema_arrow.names if self.renames.get(n, n) in read]
        if parquet.metadata.num_rows:
            self._require([self.renames.get(n, n) for n in names], reader.name)
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=names)
        yield from parquet_scalars(guard_arrow(_ahead(batches), reader.name), reader.name)

    def consume(
        self, batches: Iterable[pa.RecordBatch], name: str, reader: TableReader | None
    ) -> None:
        """Check and type every batch of one log."""
        import pyarrow as pa

        first = self.rows
        for batch in batches:
            names = [self.renames.get(c, c) for c in batch.schema.names]
            self._require(names, name)
            rows = batch.num_rows
            columns = {n: batch.column(i) for i, n in enumerate(names) if n in self.read}
            part, failures, ids = self._checked(pa.table(columns), rows)
            self.parts.append(part)
            self.ids.append(ids)
            self.failures += [(rule, self.rows + at) for rule, at in failures]
            self.rows += rows
            self.progress.advance(rows)
        self.sources.append(_Source(name, first, self.rows - first, reader))

    def _require(self, names: Sequence[str], name: str) -> None:
        require_columns(names, name, self.group_by)

    def _checked(
        self, table: pa.Table, rows: int
    ) -> tuple[Any, list[tuple[str, np.ndarray]], pa.Array]:
        """A batch checked by the schema's rules (:class:`BatchRules`, as ``validate``
        and ``collect`` check records), with the values those rules converted, in the
        engine's form: each column is converted once."""
        import numpy as np
        import polars as pl

        from custrec.schema.batch import fail_column
        from custrec.schema.rules import stripped_column, value_column, zoned_column

        evaluated = self._rules().evaluate(table)
        frame = evaluated.frame
        counts = evaluated.counts()
        failures = [
            (v.rule_id, frame[fail_column(v.rule_id)].fill_null(False).arg_true().to_numpy())
            for v in evaluated.verdicts
            if counts.get(v.rule_id)
        ]
        typed: list[pl.Expr] = []
        for name in self.wanted:
            value = pl.col(value_column(name))
            kind = kind_of(name)
            if kind == "text":  # trimmed; blank text is missing
                text = pl.col(stripped_column(name))
                typed.append(pl.when(text != "").then(text).alias(name))
            elif kind == "number":
                typed.append(value.cast(pl.Float64).alias(name))
            elif kind == "flag":
                typed.append(value.alias(name))
            else:
                typed.append(value.dt.epoch("us").alias(name))
                typed.append(pl.col(zoned_column(name)).fill_null(False).alias(f"{name}\x1fz"))
        typed.append(pl.col("interaction_id").cast(pl.String).alias("\x1fid"))
        values = frame.select(typed)
        local = []
        for name in self.wanted:
            if kind_of(name) != "time":
                continue
            zoned = values.get_column(f"{name}\x1fz")
            column = values.get_column(name)
            if getattr(self.tz, "key", None) not in _UTC_ZONES and not zoned.all():
                column = _local(column, zoned, self.tz.key)
            local.append(column)
        part = values.select(self.wanted).with_columns(local)
        return (
            part,
            [(rule, rows.astype(np.int64)) for rule, rows in failures],
            values.get_column("\x1fid"),
        )

    def finish(self, skip_invalid: bool) -> LoadedLogs:
        """The loaded logs, once every source is read; raises :class:`InputError`
        on invalid rows unless ``skip_invalid``."""
        import numpy as np

        repeated = _repeated(self.ids)
        if repeated is not None:
            self.failures.append(("interaction_id.unique", repeated))
        refused = np.zeros(self.rows, dtype=bool)
        for _, rows in self.failures:
            refused[rows] = True
        loaded = LoadedLogs(contacts=None, rows=self.rows)
        loaded.invalid = int(refused.sum())
        if loaded.invalid:
            self._note(refused, loaded)
        if loaded.invalid and not skip_invalid:
            shown = "; ".join(loaded.problems[:3])
            raise InputError(
                "interaction log",
                f"{loaded.invalid} invalid row(s) (first: {shown}); fix them, or leave "
                "them out with --skip-invalid (the report says how many)",
            )
        self.ids = []
        import polars as pl

        schema = {name: getattr(pl, DTYPES[kind_of(name)]) for name in self.wanted}
        contacts = (
            pl.concat(self.parts, rechunk=False) if self.parts else pl.DataFrame(schema=schema)
        )
        self.parts = []
        loaded.contacts = contacts.filter(pl.Series(~refused)) if loaded.invalid else contacts
        return loaded

    def _note(self, refused: np.ndarray, loaded: LoadedLogs) -> None:
        """The first refused rows, source by source, each with where it is and why."""
        import numpy as np

        ids = None
        for source in self.sources:
            room = SHOWN_PROBLEMS - len(loaded.problems)
            if room <= 0:
                break
            rows = np.flatnonzero(refused[source.first : source.first + source.rows])[:room]
            if not len(rows):
                continue
            if source.reader is not None:
                lines = source.reader.row_lines([int(r) + 1 for r in rows])
                where = {int(r): f"{source.name}:{lines.get(int(r) + 1, int(r) + 2)}" for r in rows}
            else:
                if ids is None:
                    import polars as pl

                    ids = pl.concat(self.ids, rechunk=False)
                where = {
                    int(r): f"{source.name}: record {ids[source.first + int(r)]}" for r in rows
                }
            for row in rows:
                reasons = self._reasons(source.first + int(row))
                loaded.problems.append(f"{where[int(row)]}: {', '.join(reasons)}")

    def _reasons(self, row: int) -> list[str]:
        import numpy as np

        found = []
        for rule, rows in self.failures:
            place = int(np.searchsorted(rows, row))
            if place < len(rows) and rows[place] == row:
                found.append(rule)
        return list(dict.fromkeys(found))


def require_columns(names: Sequence[str], name: str, group_by: Sequence[str] = ()) -> None:
    """Refuse a log (``name``) whose columns ``names`` lack a required column or one
    to group by."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(
            name,
            f"no {missing[0]!r} column (map one with --map {missing[0]}=COLUMN)",
            line=1,
        )
    absent = [c for c in group_by if c not in names]
    if absent:
        raise UnknownColumnError(
            name,
            f"no {absent[0]!r} column to group by (map one with --map {absent[0]}=COLUMN)",
            line=1,
        )


def _ahead(batches: Iterator[Any], depth: int = 4) -> Generator[Any, None, None]:
    """``batches``, the next ones decoded by a thread while the caller works on the
    current one (Arrow decodes without holding the interpreter's lock). An error of
    the reader is raised here, at the batch where it happened."""
    import queue
    import threading

    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(kind: str, item: Any) -> bool:
        """Queue an item unless the caller has stopped; whether it was queued."""
        while not stop.is_set():
            try:
                pending.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not offer("batch", batch):
                    return
        except Exception as exc:  # noqa: BLE001 - raised again in the caller's thread
            offer("error", exc)
            return
        offer("end", None)

    worker = threading.Thread(target=read, name="custrec-parquet", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = pending.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _needs(schema: Schema) -> frozenset[str]:
    """The fields whose values can refuse a record: required ones, typed ones and
    those the record rules read (a Parquet log is read for these and the kept ones)."""
    from custrec.schema.expectations import fields_read

    needs = {f.name for f in schema.fields.values() if f.required or f.type != "string"}
    for rule in schema.record_rules():
        needs |= set(fields_read(rule.check, rule.params, rule.field))
    return frozenset(needs)


def _local(instants: pl.Series, offset: pl.Series, tz: str) -> pl.Series:
    """Instants whose text had no offset (read as UTC) read in ``tz`` instead, by the
    rule every engine runs (:func:`custrec.kpi.zones.instants_of_readings`)."""
    import narwhals as nw
    import polars as pl

    from custrec.kpi.zones import instants_of_readings

    naive = instants.filter(~offset)
    first: Any = naive.min()
    last: Any = naive.max()
    if first is None or last is None:
        return instants
    frame = pl.DataFrame({"t": instants, "z": offset})
    local = instants_of_readings(nw.col("t"), tz, int(first), int(last))
    moved = nw.from_native(frame).select(
        nw.when(nw.col("z")).then(nw.col("t")).otherwise(local).alias(instants.name)
    )
    return nw.to_native(moved).get_column(instants.name)


def _repeated(chunks: list[pl.Series]) -> np.ndarray | None:
    """The rows (over all logs read) whose interaction id appeared in an earlier row;
    missing ids are not compared. None when there are none."""
    import polars as pl

    if not chunks:
        return None
    ids = pl.concat(chunks, rechunk=False)
    if not ids.null_count() and (ids.slice(1) > ids.slice(0, len(ids) - 1)).all():
        return None  # strictly increasing, as most systems number them: 10x quicker
    rows = (ids.is_not_null() & ~ids.is_first_distinct()).arg_true().to_numpy()
    return rows if len(rows) else None
