"""Interaction logs on DuckDB or Spark (:mod:`custrec.engines`): the log is read by the
engine, checked by the interaction schema's rules as one query
(:mod:`custrec.schema.lazy`, the rules ``report kpi`` checks locally), typed into the
columns :mod:`custrec.kpi.definitions` reads, and its KPIs computed by the same
definitions as on polars. Nothing of the log comes back to this process but counts,
the figures per group and (for an error message) the first invalid records' numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

import narwhals as nw

from custrec.errors import InputError, UsageError

if TYPE_CHECKING:
    from custrec.kpi.engine import KpiOptions, KpiResult
    from custrec.schema.model import Schema
    from custrec.store import Store

SHOWN_PROBLEMS = 10
_BAD = "\x1fbad"
_UTC = ("UTC", "Etc/UTC")


@dataclass
class EngineLog:
    """Logs read and checked on an engine: the valid contacts (``frame``, the Narwhals
    frame :mod:`custrec.kpi.definitions` reads, kept in the engine), the rows read and
    left out, and the first problems."""

    frame: Any
    source: str
    rows: int
    invalid: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class EngineKpis:
    """The KPIs of logs computed on an engine, with the rows read and left out."""

    result: KpiResult
    rows: int
    invalid: int = 0
    problems: list[str] = field(default_factory=list)


def kpis_on_engine(
    paths: Sequence[str], options: KpiOptions, engine: Any, **reading: Any
) -> EngineKpis:
    """The KPIs of the logs ``paths`` on ``engine``, read as :func:`load_on_engine`
    reads them (``reading``: its keyword arguments); invalid rows are an
    :class:`InputError` unless ``skip_invalid``."""
    log = load_on_engine(paths, options, engine, **reading)
    with engine.reading(log.source):
        result = kpis_of(log.frame, options, engine)
    return EngineKpis(result=result, rows=log.rows, invalid=log.invalid, problems=log.problems)


def kpis_of(frame: Any, options: KpiOptions, engine: Any, *, overall: bool = False) -> KpiResult:
    """:func:`custrec.kpi.definitions.kpi_result` of contacts kept on ``engine``: its
    tables for the calendar of business hours, its materialise for the cases, its
    quantiles by rank where its own aggregate would hold a group's values in memory
    (``overall``: also the rows of all groups together)."""
    from custrec.kpi import definitions

    return definitions.kpi_result(
        frame,
        options,
        make_table=engine.table,
        keep=engine.materialise,
        ranked=engine.ranks_quantiles,
        overall=overall,
    )


def load_on_engine(
    paths: Sequence[str],
    options: KpiOptions,
    engine: Any,
    *,
    input_format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    schema: Schema | None = None,
    open_store: Callable[[str], Store] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> EngineLog:
    """The logs ``paths`` (CSV or Parquet, as the engine reads them) on ``engine``,
    checked and typed, the session left in the reporting zone of ``options``; invalid
    rows are an :class:`InputError` unless ``skip_invalid``.

    When one of ``paths`` is standard input (``-``) or a store (read through
    ``open_store``, with its key), custrec reads them all (``delimiter`` and
    ``encoding`` as for the polars engine) and streams their records into the
    engine (:meth:`custrec.engines.Engine.read_batches`)."""
    from custrec.kpi.columns import CANONICAL
    from custrec.kpi.logs import require_columns
    from custrec.schema import lazy, shipped_schema
    from custrec.schema.batch import ROW, BatchRules, fail_column
    from custrec.schema.rules import stripped_column, value_column, zoned_column

    options.check()
    unknown = [target for target in (mapping or {}) if target not in CANONICAL]
    if unknown:
        raise UsageError(f"--map {unknown[0]}=...: not a column of an interaction log")
    chosen = schema or shipped_schema("interaction")
    source = ", ".join(paths)
    engine.set_zone("UTC")  # the rules read times in UTC; periods in the reporting zone
    from custrec.engines import read_here

    stores = open_store is not None
    if any(read_here(path, input_format, stores) for path in paths):
        frame = _streamed(paths, engine, input_format, delimiter, encoding, open_store)
    else:
        frame = engine.read(paths, input_format, ROW)
    columns = [c for c in frame.collect_schema().names() if c != ROW]
    renames = {given: target for target, given in (mapping or {}).items()}
    named = [renames.get(c, c) for c in columns]
    require_columns(named, source, options.by)
    if renames:
        frame = frame.rename({c: n for c, n in zip(columns, named, strict=True) if c != n})
    rules = BatchRules(chosen, chosen=chosen.record_rules())
    unique: list[tuple[str, Any, list[Any]]] = [
        ("interaction_id.unique", nw.col(value_column("interaction_id")), [])
    ]
    with engine.reading(source):
        read = [f(n) for n in named for f in (value_column, stripped_column, zoned_column)]
        evaluated, verdicts, _ = lazy.evaluate(rules, frame, engine, unique=unique, keep=read)
        fails = [nw.col(fail_column(v.rule_id)).fill_null(False) for v in verdicts]
        bad = reduce(lambda a, b: a | b, fails, nw.lit(False))
        checked = evaluated.with_columns(bad.alias(_BAD))
        business = options.business_hours is not None
        zoned = options.tz not in _UTC
        typed = engine.materialise(_typed(checked, engine, named, business, zoned))
        counts = typed.select(
            nw.len().alias("rows"),
            nw.col(_BAD).cast(nw.Int64).sum().alias("bad"),
            nw.col("\x1fnaive").cast(nw.Int64).sum().alias("naive"),
        ).collect()
        rows, invalid, naive = (int(counts.item(0, n) or 0) for n in ("rows", "bad", "naive"))
        if naive and zoned:
            typed = engine.materialise(_in_zone(typed, engine, named, options.tz, business))
    found = EngineLog(frame=typed, source=source, rows=rows, invalid=invalid)
    if invalid:
        with engine.reading(source):
            found.problems = _problems(checked, verdicts, engine, source)
        if not skip_invalid:
            raise InputError(
                "interaction log",
                f"{invalid} invalid row(s) (first: {'; '.join(found.problems[:3])}); fix "
                "them, or leave them out with --skip-invalid (the report says how many)",
            )
        found.frame = typed.filter(~nw.col(_BAD))
    engine.set_zone(options.tz)
    return found


def _streamed(
    paths: Sequence[str],
    engine: Any,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    open_store: Callable[[str], Store] | None,
) -> Any:
    """The records of ``paths`` read by custrec (a store decrypted batch by batch) and
    streamed into ``engine``."""
    from custrec import engines
    from custrec.io import open_table, regrouped
    from custrec.kpi.logs import BATCH_ROWS
    from custrec.protected import is_store_file
    from custrec.schema.batch import ROW

    columns: list[str] = []  # a store's, known once opened; read_batches reads it last
    current = ["<stdin>"]

    def batches() -> Iterator[Any]:
        for path in paths:
            current[0] = "<stdin>" if path == "-" else path
            if path != "-" and open_store is not None and is_store_file(path):
                with open_store(path) as store:
                    columns[:] = [name for name, _ in store.columns]
                    yield from regrouped(store.iter_batches(action="report"), BATCH_ROWS)
                continue
            with open_table(
                path, input_format=input_format, delimiter=delimiter, encoding=encoding
            ) as reader:
                columns[:] = list(reader.columns)
                yield from reader

    return engines.read_streamed(engine, batches(), columns, ROW, lambda: current[0])


def _typed(
    frame: Any, engine: Any, named: Sequence[str], business: bool = False, zoned: bool = False
) -> Any:
    """The canonical columns in the definitions' types (see
    :mod:`custrec.kpi.definitions`), from the values the schema's rules converted; a
    column the log lacks is missing throughout. ``\\x1fnaive`` flags a row with a time
    written without an offset; when ``zoned`` (such times are read in another zone
    than UTC), each time column's flag too (:func:`_naive`)."""
    from custrec.kpi.columns import CANONICAL, DTYPES, kind_of
    from custrec.kpi.definitions import CLOCKED, PERIOD_TIME, datetime_column
    from custrec.schema.batch import ROW
    from custrec.schema.rules import stripped_column, value_column, zoned_column

    present = set(named)
    times = {name: value_column(name) for name in CANONICAL if kind_of(name) == "time"}
    frame = engine.epoch_micros(
        frame, {f"\x1fus:{n}": column for n, column in times.items() if n in present}
    )
    out: list[Any] = [nw.col(ROW), nw.col(_BAD)]
    naive: dict[str, Any] = {}  # per time column: written without an offset
    for name in CANONICAL:
        kind = kind_of(name)
        if name not in present:
            out.append(nw.lit(None, getattr(nw, DTYPES[kind])).alias(name))
        elif kind == "text":
            text = nw.col(stripped_column(name))
            out.append(nw.when(text != "").then(text).alias(name))
        elif kind == "time":
            out.append(nw.col(f"\x1fus:{name}").alias(name))
            naive[name] = ~nw.col(value_column(name)).is_null() & ~nw.col(zoned_column(name))
        elif kind == "number":
            out.append(nw.col(value_column(name)).cast(nw.Float64).alias(name))
        else:
            out.append(nw.col(value_column(name)).alias(name))
    out.append(nw.col(value_column("created_at")).alias(PERIOD_TIME))
    if business:  # the business clock reads these in local time
        for name in CLOCKED:
            if name in present:
                out.append(nw.col(value_column(name)).alias(datetime_column(name)))
            else:
                out.append(nw.lit(None, nw.Datetime("us", "UTC")).alias(datetime_column(name)))
    flags = [n.fill_null(False) for n in naive.values()]
    out.append(reduce(lambda a, b: a | b, flags, nw.lit(False)).alias("\x1fnaive"))
    if zoned:
        out += [flag.alias(_naive(name)) for name, flag in naive.items()]
    return frame.select(*out)


def _naive(name: str) -> str:
    return f"\x1fnaive:{name}"


def _in_zone(frame: Any, engine: Any, named: Sequence[str], tz: str, business: bool) -> Any:
    """``frame`` (of :func:`_typed`, ``zoned``) with its times written without an
    offset read in ``tz``: the rule of :func:`custrec.kpi.zones.instants_of_readings`,
    as on the polars engine, for the readings' range (one query finds it)."""
    from custrec.kpi.columns import CANONICAL, kind_of
    from custrec.kpi.definitions import CLOCKED, PERIOD_TIME, datetime_column
    from custrec.kpi.zones import instants_of_readings

    times = [n for n in CANONICAL if kind_of(n) == "time" and n in named]
    readings = [nw.when(nw.col(_naive(n))).then(nw.col(n)) for n in times]
    bounds = frame.select(
        *[r.min().alias(f"{i}\x1ffirst") for i, r in enumerate(readings)],
        *[r.max().alias(f"{i}\x1flast") for i, r in enumerate(readings)],
    ).collect()
    found = bounds.to_polars().row(0)
    first = min(v for v in found[: len(times)] if v is not None)
    last = max(v for v in found[len(times) :] if v is not None)
    moved = [
        nw.when(nw.col(_naive(n)))
        .then(instants_of_readings(nw.col(n), tz, int(first), int(last)))
        .otherwise(nw.col(n))
        .alias(n)
        for n in times
    ]
    frame = frame.with_columns(*moved).drop([_naive(n) for n in times])
    # The datetimes read from the instants: the period's, and the business clock's.
    again = {PERIOD_TIME: "created_at"} if "created_at" in times else {}
    if business:
        again.update({datetime_column(n): n for n in CLOCKED if n in times})
    return engine.from_epoch_micros(frame, again) if again else frame


def _problems(frame: Any, verdicts: Sequence[Any], engine: Any, source: str) -> list[str]:
    """The first invalid records: their numbers and the rules they fail."""
    from custrec.schema.batch import ROW, fail_column

    names = {fail_column(v.rule_id): v.rule_id for v in verdicts}
    first = (
        frame.filter(nw.col(_BAD))
        .select(ROW, *names)
        .sort(ROW)
        .head(SHOWN_PROBLEMS)
        .collect()
        .to_polars()
    )
    if not len(first):
        return []
    numbers = engine.record_numbers(frame, ROW, first.get_column(ROW).to_list())
    out = []
    for row in first.iter_rows(named=True):
        failed = [rule for column, rule in names.items() if row[column]]
        out.append(f"{source}: record {numbers[row[ROW]]}: {', '.join(failed)}")
    return out
