"""Reading interaction logs for the KPI reports: mapped, validated, typed.

Each log (CSV, NDJSON, Parquet, or ``-``) is read in batches, its columns renamed by
``--map canonical=source``, and every row checked against the shipped
``interaction`` schema, or a schema that extends it
(:func:`custrec.kpi.checks.interaction_schema`): required columns, types, ranges of
survey answers, times that do not run backwards, unique interaction ids, before any
number is computed. Invalid rows stop the report (exit 3, naming file, line and
rule), or are left out and counted with ``skip_invalid``. Timestamps with an offset
are honoured; those without one are read in ``tz``.

Each column is converted once: the checks of :class:`custrec.kpi.gate.ArrowGate` give
the typed values the engine uses, and only the narrow typed columns the caller asks
for are kept (:class:`custrec.kpi.columns.KpiColumns`); a Parquet log is read only for
the columns needed by the checks and the caller. A schema with rules that gate does
not evaluate, or a column of an unusual type, goes through
:class:`custrec.validate.SchemaGate` and pandas instead, with the same verdicts.
"""

from __future__ import annotations

import re
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
    FLAGS,
    NAT,
    NUMBERS,
    TEXT,
    TIMES,
    Appender,
    KpiColumns,
    kind_of,
)
from custrec.mapping import read_map_file
from custrec.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from custrec.io import TableReader
    from custrec.kpi.checks import GateRules
    from custrec.kpi.gate import ArrowGate, Typed
    from custrec.schema import Schema
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
_OFFSET = re.compile(r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$")
SHOWN_PROBLEMS = 10
BATCH_ROWS = 32_768
_UTC_ZONES = frozenset({"UTC", "Etc/UTC"})
_SCHEMA_KIND = {"text": "string", "time": "datetime", "number": "number", "flag": "boolean"}
"""The schema type each kind of canonical column is converted as."""


@dataclass
class LoadedLogs:
    """The rows kept (``columns``), how many were read and refused, and the first
    problems found (each with where it is)."""

    columns: KpiColumns
    rows: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

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
    from custrec.kpi.checks import gate_rules
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
        rules=gate_rules(chosen),
        renames={source: target for target, source in (mapping or {}).items()},
        tz=zone(tz),
        wanted=wanted,
        group_by=tuple(group_by),
        progress=progress,
    )
    progress.start(None, "rows")
    for source in sources:
        if source != "-" and open_store is not None and _is_store(source):
            from custrec.validate import regrouped

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
    rules: GateRules | None  # None: the schema has checks only SchemaGate evaluates
    renames: dict[str, str]
    tz: Any
    wanted: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    progress: Progress = NO_PROGRESS
    table: Appender = field(init=False)
    ids: list[pa.Array] = field(default_factory=list)
    failures: list[tuple[str, np.ndarray]] = field(default_factory=list)
    sources: list[_Source] = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        self.table = Appender(self.wanted)
        # A schema that extends the interaction schema checks its own fields too.
        self.checked = (*CANONICAL, *(f for f in self.schema.fields if f not in CANONICAL))
        self._schema_gate: Any = None
        self._gate: ArrowGate | None = None

    def _arrow_gate(self) -> ArrowGate:
        """:class:`ArrowGate` of the rules (loaded when the first batch is read, so
        that reading starts first)."""
        if self._gate is None:
            from custrec.kpi.gate import ArrowGate

            assert self.rules is not None
            self._gate = ArrowGate(self.rules)
        return self._gate

    def _legacy(self) -> Any:
        """:class:`SchemaGate` of the schema (made when a batch first needs it)."""
        if self._schema_gate is None:
            from custrec.validate import SchemaGate

            self._schema_gate = SchemaGate(self.schema)
        return self._schema_gate

    @property
    def read(self) -> frozenset[str]:
        """The columns read: those kept, required and checked."""
        if self.rules is None:
            return frozenset(self.checked)
        needed = frozenset(self.wanted) | frozenset(REQUIRED) | frozenset(self.group_by)
        return needed | (self.rules.needs & set(self.checked))

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
            self.table.reserve(parquet.metadata.num_rows)
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=names)
        yield from parquet_scalars(guard_arrow(_ahead(batches), reader.name), reader.name)

    def consume(
        self, batches: Iterable[pa.RecordBatch], name: str, reader: TableReader | None
    ) -> None:
        """Check and type every batch of one log."""
        first = self.rows
        for batch in batches:
            names = [self.renames.get(c, c) for c in batch.schema.names]
            self._require(names, name)
            rows = batch.num_rows
            columns = {n: batch.column(i) for i, n in enumerate(names) if n in self.read}
            done = self._fast(columns, rows) if self.rules is not None else None
            part, failures, ids = done if done is not None else self._slow(batch, names)
            self.table.append(part)
            self.ids.append(ids)
            self.failures += [(rule, self.rows + at) for rule, at in failures]
            self.rows += rows
            self.progress.advance(rows)
        self.sources.append(_Source(name, first, self.rows - first, reader))

    def _require(self, names: Sequence[str], name: str) -> None:
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise InputError(
                name,
                f"no {missing[0]!r} column (map one with --map {missing[0]}=COLUMN)",
                line=1,
            )
        absent = [c for c in self.group_by if c not in names]
        if absent:
            raise UnknownColumnError(
                name,
                f"no {absent[0]!r} column to group by (map one with --map {absent[0]}=COLUMN)",
                line=1,
            )

    def _fast(
        self, columns: Mapping[str, pa.Array], rows: int
    ) -> tuple[KpiColumns, list[tuple[str, np.ndarray]], pa.Array] | None:
        """A batch checked and typed by the Arrow gate; None when it cannot."""
        import numpy as np

        from custrec.kpi.gate import as_text, converted

        gate = self._arrow_gate()
        fields = self.schema.fields
        shared = [
            n
            for n in self.wanted
            if n in fields and fields[n].type in _kinds(_SCHEMA_KIND[kind_of(n)])
        ]
        checked = gate.check(columns, rows, convert=shared)
        ids = as_text(columns["interaction_id"])
        if checked is None or ids is None:
            return None
        typed, failures = checked
        part = KpiColumns(rows=rows)
        for name in self.wanted:
            column: Typed | None = typed.get(name) if name in shared else None
            if column is None:
                column = converted(columns.get(name), _SCHEMA_KIND[kind_of(name)], rows)
                if column is None:
                    return None
            _keep(part, name, column, self.tz)
        return part, [(rule, np.flatnonzero(mask)) for rule, mask in failures], ids

    def _slow(
        self, batch: pa.RecordBatch, names: list[str]
    ) -> tuple[KpiColumns, list[tuple[str, np.ndarray]], pa.Array]:
        """A batch checked by :class:`SchemaGate` and typed by pandas."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        frame = batch.to_pandas()
        frame.columns = names
        frame = frame[[c for c in self.checked if c in frame.columns]].copy()
        for column in self.checked:
            if column not in frame.columns:
                frame[column] = None
        frame.index = pd.RangeIndex(0, len(frame))
        order = {rule: n for n, rule in enumerate(_rule_order(self.schema))}
        by_rule: dict[str, list[int]] = {}
        # Checked as pandas holds it (NaN is missing, integers pass through floats), as
        # this path always has; the rule engine takes Arrow.
        checked = pa.Table.from_pandas(frame, preserve_index=False)
        for position, reasons in self._legacy().failures(checked).items():
            for rule, _, _ in reasons:
                by_rule.setdefault(rule, []).append(position)
        failures = [
            (rule, np.array(sorted(set(by_rule[rule])), dtype="int64"))
            for rule in sorted(by_rule, key=lambda r: order.get(r, len(order)))
        ]
        raw = frame["interaction_id"]
        texts = np.full(len(frame), None, dtype=object)
        present = raw.notna().to_numpy()
        texts[present] = raw[present].astype(str).to_numpy(dtype=object)
        ids = pa.array(texts, type=pa.string())
        part = KpiColumns.from_frame(_typed(frame, self.tz), self.wanted)
        return part, failures, ids

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
        loaded = LoadedLogs(columns=KpiColumns(rows=0), rows=self.rows)
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
        columns = self.table.columns()
        loaded.columns = columns.where(~refused) if loaded.invalid else columns
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
                    import pyarrow as pa

                    ids = pa.chunked_array(self.ids, type=pa.string())
                where = {
                    int(r): f"{source.name}: record {ids[source.first + int(r)].as_py()}"
                    for r in rows
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


def _kinds(schema_kind: str) -> tuple[str, ...]:
    """The schema types whose converted values the engine takes as they are."""
    return ("integer", "number") if schema_kind == "number" else (schema_kind,)


def _rule_order(schema: Schema) -> list[str]:
    """Rule ids in the order :class:`SchemaGate` reports them."""
    out = []
    for item in schema.fields.values():
        out += [f"{item.name}.type", f"{item.name}.required"]
    return out + [rule.id for rule in schema.all_rules()]


def _keep(part: KpiColumns, name: str, column: Typed, tz: Any) -> None:
    """A converted column, in the engine's form, into ``part``."""
    import pyarrow as pa

    kind = kind_of(name)
    if kind == "text":
        assert column.text is not None
        text = column.text if column.text.type == pa.string() else column.text.cast(pa.string())
        part.text[name] = pa.chunked_array([text])
    elif kind == "number":
        assert column.numbers is not None
        part.numbers[name] = column.numbers
    elif kind == "flag":
        assert column.flags is not None
        part.flags[name] = pa.chunked_array([column.flags])
    else:
        assert column.instants is not None
        assert column.offset is not None
        part.times[name] = _local(column.instants, column.offset, tz)


def _local(instants: np.ndarray, offset: np.ndarray, tz: Any) -> np.ndarray:
    """Instants whose text had no offset (read as UTC) read in ``tz`` instead."""
    import numpy as np

    if getattr(tz, "key", None) in _UTC_ZONES:
        return instants
    naive = ~offset & (instants != NAT)
    if not naive.any():
        return instants
    import pandas as pd

    wall = pd.Series(instants[naive].view("datetime64[us]"))
    local = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    utc = local.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
    out = instants.copy()
    out[naive] = utc.to_numpy(dtype="datetime64[us]").view("int64")
    return np.asarray(out)


def _repeated(chunks: list[pa.Array]) -> np.ndarray | None:
    """The rows (over all logs read) whose interaction id appeared in an earlier row;
    missing ids are not compared. None when there are none."""
    import numpy as np
    import pyarrow as pa

    from custrec.kpi import arrays

    ids = pa.chunked_array(chunks, type=pa.string())
    if not len(ids) or ids.null_count == len(ids):
        return None
    if ids.null_count == 0 and _increasing(ids):
        return None  # strictly increasing: all different
    parts = []
    for chunk in ids.chunks:
        part = arrays.hashes(chunk)
        if part is None:  # very long ids: compare them all
            return _first_seen(ids, np.arange(len(ids)))
        parts.append(part)
    hashes = np.concatenate(parts) if parts else np.empty(0, dtype="uint64")
    present = arrays.valid(ids)
    ordered = np.sort(hashes[present])
    shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(shared):
        return None
    # Only the ids whose hash another id has can repeat: compare those exactly.
    return _first_seen(ids, np.flatnonzero(present & np.isin(hashes, shared)))


def _first_seen(ids: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray | None:
    """Of ``rows`` (ascending), those whose id is the id of an earlier one of them."""
    import numpy as np
    import pyarrow.compute as pc

    from custrec.kpi import arrays

    encoded = pc.dictionary_encode(ids.take(arrays.integers(rows)))
    codes = np.concatenate([arrays.numbers(c.indices, -1).astype("int64") for c in encoded.chunks])
    # Codes are given in order of first appearance: a code not above every earlier one
    # was seen before.
    highest = np.maximum.accumulate(codes) if len(codes) else codes
    earlier = np.concatenate([[-1], highest[:-1]])
    repeated = rows[(codes >= 0) & (codes <= earlier)]
    return repeated if len(repeated) else None


def _increasing(ids: pa.ChunkedArray) -> bool:
    import pyarrow.compute as pc

    previous = None
    for chunk in ids.chunks:
        if not len(chunk):
            continue
        if len(chunk) > 1 and not pc.all(pc.less(chunk[:-1], chunk[1:])).as_py():
            return False
        if previous is not None and not previous < chunk[0].as_py():
            return False
        previous = chunk[-1].as_py()
    return True


# --- the pandas path ------------------------------------------------------------------


def _typed(frame: pd.DataFrame, tz: Any) -> pd.DataFrame:
    """The canonical columns in the engine's types (values that do not convert are
    missing)."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for name in TEXT:
        values = frame[name].astype("string[pyarrow]").str.strip()
        out[name] = values.where(values.ne("").fillna(False))  # blank text is missing
    for name in TIMES:
        out[name] = _instants(frame[name], tz)
    for name in NUMBERS:
        out[name] = pd.to_numeric(frame[name].astype("string").str.strip(), errors="coerce").astype(
            "float64"
        )
    for name in FLAGS:
        text = frame[name].astype("string").str.strip().str.lower()
        out[name] = text.map({"true": True, "1": True, "false": False, "0": False}).astype(
            "boolean"
        )
    return out


def _instants(values: pd.Series, tz: Any) -> pd.Series:
    """UTC instants: offsets honoured, times without one read in ``tz``."""
    import pandas as pd

    text = values.astype("string").str.strip()
    text = text.where(text.ne("").fillna(False))
    has_offset = text.str.contains(_OFFSET.pattern, regex=True).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(
            text[has_offset], format="ISO8601", utc=True, errors="coerce"
        )
    naive = text.notna() & ~has_offset
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        out[naive] = local.dt.tz_localize(
            tz, ambiguous="NaT", nonexistent="shift_forward"
        ).dt.tz_convert("UTC")
    return out
