"""The engines a validation runs on: polars in this process (the default, batch by
batch), DuckDB (out of core, one query over the whole input) and Apache Spark through
pyspark (``local[*]``, or a cluster through Spark Connect).

DuckDB and pyspark are optional (``pip install 'custrec[duckdb]'``,
``'custrec[spark]'``); asking for an engine whose package is missing is a usage error
(exit 2) naming the extra. An engine reads CSV (every column as text, as the local
reader does) and Parquet paths, numbers the records in file order (column
:data:`custrec.schema.batch.ROW`), and makes small tables of values computed here
(the per-value library calls of the rules) to join to its data.

Spill and shuffle files hold plaintext personal data: DuckDB spills into a directory
created here with mode 0700 and removed when the engine closes; Spark is started with
``spark.io.encryption.enabled`` (its spill and shuffle files encrypted) and its UI off.
Both run in UTC (``TimeZone``, ``spark.sql.session.timeZone``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custrec.errors import InputError, UsageError

ENGINES = ("polars", "duckdb", "spark")
ENGINE_ENV = "CUSTREC_ENGINE"
SPARK_REMOTE_ENV = "CUSTREC_SPARK_REMOTE"
CONNECT_TRIES = 4
"""Retries of the first request to a Spark Connect server (about 4 s in all)."""
EXTRAS = {"duckdb": ("duckdb", "custrec[duckdb]"), "spark": ("pyspark", "custrec[spark]")}


def engine_name(given: str | None) -> str:
    """The engine asked for: ``given``, else ``CUSTREC_ENGINE``, else polars (or
    ``auto``: :func:`auto_engine` chooses)."""
    name = (given or os.environ.get(ENGINE_ENV) or "polars").strip().lower()
    if name not in (*ENGINES, AUTO):
        raise UsageError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}, {AUTO}")
    return name


AUTO = "auto"
AUTO_SHARE = 0.5
"""``--engine auto`` keeps polars while its estimated peak memory is under this share
of the memory available when the command starts."""
HOLDING_FACTOR = 3.0
"""Peak memory of ``report kpi`` on polars per byte of the logs' values (measured on
10M generated interactions by channel and month: 1.33 GB of values in Parquet, 3.92 GB
peak RSS). A CSV file's bytes are taken as its values (text is larger than the values
it holds)."""


def auto_engine(sources: Sequence[str], *, holds_all: bool) -> tuple[str, str]:
    """The engine ``--engine auto`` runs on, and why (a sentence for stderr).

    polars reads what only custrec reads (stores, standard input, NDJSON) and, when
    it streams (``holds_all`` false: ``validate``, whose memory stays bounded), any
    file; duckdb reads directories and globs, which polars does not. When the command
    holds its whole input (``report kpi``), polars is kept while the input's
    estimated peak (:data:`HOLDING_FACTOR` times its values) is under
    :data:`AUTO_SHARE` of the memory available now, else duckdb (when installed)."""
    files = [s for s in sources if s != "-" and os.path.isfile(s)]
    if len(files) < len(sources) and all(s != "-" for s in sources):
        if _installed("duckdb"):
            return "duckdb", "the input names directories or globs, which duckdb reads"
        return "polars", "duckdb is not installed"
    if not holds_all or len(files) < len(sources):
        return "polars", "polars reads its input batch by batch"
    need = int(sum(values_size(path) for path in files) * HOLDING_FACTOR)
    free = available_memory()
    if need <= free * AUTO_SHARE:
        return "polars", f"about {_gb(need)} needed, {_gb(free)} available"
    if not _installed("duckdb"):
        return (
            "polars",
            f"about {_gb(need)} needed, {_gb(free)} available, but duckdb is not installed",
        )
    return "duckdb", f"about {_gb(need)} needed in memory, {_gb(free)} available"


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), else the machine's."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def values_size(path: str) -> int:
    """The bytes of a file's values: a Parquet file's uncompressed row groups (from
    its footer), else the file's size (a store's records are compressed: three
    times its size)."""
    from custrec.protected import is_store_file

    size = os.path.getsize(path)
    if path.lower().endswith((".parquet", ".pq")):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, pa.ArrowException):  # unreadable: the reader says why, later
            return size
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return size * 3 if is_store_file(path) else size


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(EXTRAS[name][0]) is not None


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"


def _require(name: str) -> Any:
    import importlib

    module, extra = EXTRAS[name]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"--engine {name} needs the {module} package: pip install '{extra}'"
        ) from None


def _input_kind(path: str, input_format: str | None) -> str:
    kind = (input_format or "").lower()
    if not kind:
        suffix = Path(path.rstrip("/*")).suffix.lower()
        kind = "parquet" if suffix in (".parquet", ".pq") else "csv"
    if kind not in ("csv", "parquet"):
        raise UsageError(f"the {kind} input format is read by the polars engine only")
    return kind


@dataclass(frozen=True)
class Column:
    """A column of the frame an export reads (as opposed to a constant)."""

    name: str


@dataclass(frozen=True)
class Part:
    """One part of an NDJSON export: the records of the frame where the boolean column
    ``where`` holds, each written as an object of ``fields`` (name -> a
    :class:`Column`, or a constant: text, a whole number or None; every part gives
    the same names, a name's constants of one kind) then ``objects`` (name -> an
    object of key -> the text :class:`Column` it holds)."""

    where: str
    fields: Mapping[str, Column | str | int | None]
    objects: Mapping[str, Mapping[str, Column]] = field(default_factory=dict)


class Engine:
    """One engine session: reads inputs as Narwhals lazy frames, makes tables."""

    name = ""
    ranks_quantiles = False
    """Whether medians and percentiles are worked out by rank
    (:func:`custrec.kpi.definitions.ranked_quantiles`): the engine's own aggregate
    holds all the values of a group in memory, outside its limit."""

    def read(self, paths: Sequence[str], input_format: str | None, row: str) -> Any:
        """A Narwhals LazyFrame of the records of ``paths`` with column ``row``
        numbering them in file order (0-based)."""
        raise NotImplementedError

    def table(self, columns: Mapping[str, Sequence[Any]], types: Mapping[str, str]) -> Any:
        """A Narwhals LazyFrame of ``columns`` (``types``: ``string``, ``int64`` or
        ``bool`` per column), to join to the engine's data."""
        raise NotImplementedError

    def read_batches(self, batches: Iterable[Any], columns: Sequence[str], row: str) -> Any:
        """A Narwhals LazyFrame of Arrow record ``batches`` that custrec reads itself
        (a store's decrypted records, standard input), streamed into the engine in
        order, with column ``row`` as :meth:`read`. Every batch is cast to the first
        one's types (a batch that cannot be is an :class:`InputError`); without any,
        the frame has ``columns``, as text, and no record."""
        raise NotImplementedError

    @contextmanager
    def reading(self, source: str) -> Iterator[None]:
        """Errors of reading ``source`` (a missing file, text that is not CSV) as
        :class:`custrec.errors.InputError` (exit 3)."""
        yield

    def looked_up_table(
        self,
        keys: Any,
        key: str,
        compute: Callable[[list[str]], list[Any]],
        types: Mapping[str, str],
        chunk: int,
    ) -> Any:
        """A table of the non-null values of column ``key`` of ``keys`` (distinct) and
        ``compute`` of them, built ``chunk`` keys at a time (the driver holds one
        chunk); its columns are named by ``types`` (key first). None when there are
        no keys."""
        key_name, value_name = list(types)
        parts = (
            {key_name: part, value_name: compute(part)}
            for part in self.key_chunks(keys, key, chunk)
            if part
        )
        return self.loaded_table(parts, types)

    def loaded_table(
        self, parts: Iterable[Mapping[str, Sequence[Any]]], types: Mapping[str, str]
    ) -> Any:
        """A table of the rows of ``parts`` (columns of values, typed as in
        :meth:`table`), made one part at a time: the driver holds one part, the
        engine the table. None when there are no parts."""
        made = None
        for part in parts:
            table = self.table(part, types)
            made = table if made is None else self.append(made, table)
        return made

    def key_chunks(self, keys: Any, key: str, chunk: int) -> Iterator[list[str]]:
        """The non-null values of column ``key``, ``chunk`` at a time."""
        values = [v for v in keys.collect().get_column(key).to_list() if v is not None]
        for start in range(0, len(values), chunk):
            yield values[start : start + chunk]

    def append(self, table: Any, more: Any) -> Any:
        """``table`` with the rows of ``more`` (tables made by :meth:`table`)."""
        import narwhals as nw

        return nw.concat([table, more], how="vertical")

    def materialise(self, frame: Any) -> Any:
        """``frame`` computed once and kept (in memory, spilling to the engine's private
        or encrypted files), for queries that read it more than once."""
        raise NotImplementedError

    def after_join(self, frame: Any) -> Any:
        """``frame``, just joined to a table as large as the input (a lookup's
        results): as it is, for an engine that runs a chain of joins in bounded
        memory."""
        return frame

    def record_numbers(self, frame: Any, row: str, rows: Sequence[int]) -> dict[int, int]:
        """The 1-based record number of each of ``rows`` (values of column ``row``)."""
        return {value: value + 1 for value in rows}

    def numbered(self, frame: Any, row: str, out: str) -> Any:
        """``frame`` with column ``out``: each record's 1-based number in file order
        (what :meth:`record_numbers` gives, as a column)."""
        import narwhals as nw

        return frame.with_columns((nw.col(row) + 1).alias(out))

    def ndjson(self, frame: Any, parts: Sequence[Part], order: Sequence[str], into: str) -> None:
        """Write the records of ``parts`` of ``frame``, sorted by the fields ``order``,
        one JSON object per line, to the new local file ``into``, in one query.
        ``into`` is in a private directory of the caller's
        (:func:`private_directory`: the file holds what the frame holds), where the
        engine may write beside it while it works."""
        raise NotImplementedError

    def epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        """``frame`` with, for each ``out: column`` of ``columns``, the instants of the
        datetime ``column`` as integer microseconds since 1970 (Narwhals has no such
        expression on every engine; each engine's own function)."""
        raise NotImplementedError

    def from_epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        """``frame`` with, for each ``out: column`` of ``columns``, the integer
        microseconds since 1970 of ``column`` as an aware datetime (UTC) in column
        ``out``, which replaces one of that name (:meth:`epoch_micros` reversed)."""
        raise NotImplementedError

    def set_zone(self, tz: str) -> None:
        """Set the session's time zone (periods and local times are read in it), and
        check that the session says so."""
        if tz not in ("UTC", "Etc/UTC"):
            raise NotImplementedError

    def close(self) -> None:
        """Stop the session; remove what it wrote."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def arrow_table(columns: Mapping[str, Sequence[Any]], types: Mapping[str, str]) -> Any:
    """An Arrow table of ``columns``, each of type ``string``, ``int64`` or ``bool``
    (``types``): what the engines make small tables from."""
    import pyarrow as pa

    kinds = {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_()}
    return pa.table({n: pa.array(list(v), kinds[types[n]]) for n, v in columns.items()})


MEMORY_SHARE = 0.4
"""DuckDB's memory limit by default: this share of the machine's memory (DuckDB's own
default, 80%, leaves little to the rest of the process and the machine)."""


def default_memory_limit() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2GB"
    return f"{max(256, int(total * MEMORY_SHARE) >> 20)}MB"


KEEP_JOINS_FROM = 2_000_000
"""Records of an input from which DuckDB keeps the result of each large join
(:meth:`DuckDBEngine.after_join`)."""

SPILL_PREFIX = "custrec-spill-"
OWNER_FILE = "pid"


def remove_stale_spills(directory: str | None = None) -> list[str]:
    """Remove the spill directories of DuckDB runs whose process is gone (killed
    before it could remove its own): they hold plaintext pages of personal data. Only
    this user's directories are touched; a directory whose process still runs, or
    that names no process, is left. Returns the directories removed."""
    removed = []
    root = Path(directory or tempfile.gettempdir())
    for place in root.glob(SPILL_PREFIX + "*"):
        try:
            if place.is_symlink() or not place.is_dir() or place.stat().st_uid != os.getuid():
                continue
            pid = int((place / OWNER_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if pid <= 0 or _running(pid):
            continue
        shutil.rmtree(place, ignore_errors=True)
        removed.append(str(place))
    return removed


def private_directory() -> str:
    """A new directory of mode 0700 for plaintext an engine writes (DuckDB's spill,
    an export before it is put in place), naming this process so that
    :func:`remove_stale_spills` removes it if the process is killed; those of killed
    runs are removed first."""
    remove_stale_spills()
    place = tempfile.mkdtemp(prefix=SPILL_PREFIX)
    Path(place, OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
    return place


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


class DuckDBEngine(Engine):
    """DuckDB in this process, with a memory limit and a private spill directory."""

    name = "duckdb"
    ranks_quantiles = True

    def __init__(self, memory_limit: str | None = None, threads: int | None = None) -> None:
        duckdb = _require("duckdb")
        self.spill = private_directory()
        self.memory_limit = memory_limit or default_memory_limit()
        config: dict[str, Any] = {
            "temp_directory": self.spill,
            "preserve_insertion_order": True,
            "memory_limit": self.memory_limit,
        }
        if threads:
            config["threads"] = str(threads)
        try:
            # A database file in the private directory, not an in-memory one: its
            # tables (the input, the kept results) are paged out under the memory
            # limit instead of failing; it holds plaintext, so it lives and dies
            # with the spill directory.
            self.connection = duckdb.connect(os.path.join(self.spill, "work.duckdb"), config=config)
        except duckdb.Error as error:
            shutil.rmtree(self.spill, ignore_errors=True)
            raise UsageError(f"DuckDB would not start: {error}") from None
        self.connection.execute("SET TimeZone = 'UTC'")
        self._tables = 0
        self._rows = 0  # of the input read

    def read(self, paths: Sequence[str], input_format: str | None, row: str) -> Any:

        kinds = {_input_kind(path, input_format) for path in paths}
        if len(kinds) > 1:
            raise UsageError("the inputs of one run are all CSV or all Parquet")
        listed = "[" + ", ".join(_sql_text(path) for path in paths) + "]"
        if kinds == {"parquet"}:
            source = f"read_parquet({listed})"
        else:
            # The dialect named, not sniffed: a ragged record is an error (exit 3), as
            # for the polars engine, not a file read as one column.
            source = (
                f"read_csv({listed}, header = true, all_varchar = true, delim = ',', "
                "quote = '\"', escape = '\"', strict_mode = true, null_padding = false)"
            )
        # The input is loaded into a table first: a table keeps the files' order
        # (preserve_insertion_order) in its rowid, which numbers the records without
        # a window over the whole input (one partition: all of it in memory at once).
        name = self._new_name()
        with self.reading(", ".join(paths)):
            self.connection.execute(f"CREATE TABLE {name} AS SELECT * FROM {source}")
        return self._input(name, row)

    @contextmanager
    def reading(self, source: str) -> Iterator[None]:
        import duckdb

        try:
            yield
        except duckdb.OutOfMemoryException:
            raise UsageError(
                f"DuckDB needed more memory than --memory-limit {self.memory_limit} for "
                f"{source}: give a larger --memory-limit (or run it on --engine spark)"
            ) from None
        except duckdb.IOException as error:
            raise InputError(source, _first_line(error)) from None
        except duckdb.InvalidInputException as error:
            if "CSV" not in str(error):  # not the input's fault: ours (exit 70)
                raise
            raise InputError(source, _first_line(error)) from None

    def table(self, columns: Mapping[str, Sequence[Any]], types: Mapping[str, str]) -> Any:
        import narwhals as nw

        return nw.from_native(self.connection.from_arrow(arrow_table(columns, types)))

    def read_batches(self, batches: Iterable[Any], columns: Sequence[str], row: str) -> Any:
        import pyarrow as pa

        given = iter(batches)
        first = next(given, None)
        first = _no_records(columns) if first is None else first
        # Pushed from this thread a batch at a time, not pulled by DuckDB's threads
        # through an Arrow reader: a store's reader belongs to the thread that opened it.
        tables = (
            pa.Table.from_batches([_cast_batch(batch, first.schema)])
            for batch in itertools.chain([first], given)
        )
        return self._input(self._stored(tables), row)

    def materialise(self, frame: Any) -> Any:
        import narwhals as nw

        name = self._new_name()
        # Without the order kept: a kept result is read by ROW, never by rowid, and
        # keeping the order buffers the out-of-order parts of a parallel query
        # (DuckDB's advice for memory-bound runs). The input's table keeps it.
        self.connection.execute("SET preserve_insertion_order = false")
        try:
            nw.to_native(frame).create(name)
        finally:
            self.connection.execute("SET preserve_insertion_order = true")
        return nw.from_native(self.connection.table(name))

    def _new_name(self) -> str:
        self._tables += 1
        return f"custrec_{self._tables}"

    def _input(self, table: str | None, row: str) -> Any:
        """The input loaded into ``table``, its records numbered (column ``row``) by
        the table's rowid: the files' order, kept by preserve_insertion_order."""
        import narwhals as nw

        self._rows = self._count(table)
        query = f"SELECT *, rowid AS {_sql_name(row)} FROM {table}"
        return nw.from_native(self.connection.sql(query))

    def _count(self, table: str | None) -> int:
        if table is None:
            return 0
        # fetchall: a result left half read blocks the connection's next query
        ((found,),) = self.connection.execute(f"SELECT count(*) FROM {table}").fetchall()
        return int(found)

    def after_join(self, frame: Any) -> Any:
        # Kept after each join of a large input: a chain of joins in one query holds
        # every join's hash table at once (10M customers, three unique fields and
        # four lookups: more than a 1 GB limit at times); one at a time, each fits or
        # spills. A small input's chain fits: it runs as one query (each keeping
        # copies the records: 2x the time at 1M).
        if self._rows <= KEEP_JOINS_FROM:
            return frame
        return self.materialise(frame)

    def epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        import duckdb
        import narwhals as nw

        native = nw.to_native(frame)
        made = [
            duckdb.FunctionExpression("epoch_us", duckdb.ColumnExpression(c)).alias(o)
            for o, c in columns.items()
        ]
        return nw.from_native(native.select(duckdb.StarExpression(), *made))

    def from_epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        import duckdb
        import narwhals as nw

        native = nw.to_native(frame.drop([o for o in columns if o in frame.columns]))
        utc = duckdb.ConstantExpression("UTC")
        made = [
            duckdb.FunctionExpression(
                "timezone",
                utc,
                duckdb.FunctionExpression("make_timestamp", duckdb.ColumnExpression(c)),
            ).alias(o)
            for o, c in columns.items()
        ]
        return nw.from_native(native.select(duckdb.StarExpression(), *made))

    def set_zone(self, tz: str) -> None:
        self.connection.execute(f"SET TimeZone = {_sql_text(tz)}")
        (found,) = self.connection.execute("SELECT current_setting('TimeZone')").fetchall()[0]
        if found != tz:
            raise UsageError(f"DuckDB did not take the time zone {tz!r} (it says {found!r})")

    def key_chunks(self, keys: Any, key: str, chunk: int) -> Iterator[list[str]]:
        import narwhals as nw

        # Kept in a table and read a page of rowids at a time, not streamed through an
        # Arrow reader: DuckDB may buffer a streamed result whole, outside its memory
        # limit (duckdb-python#617; 10M distinct phone numbers: 0.9 GB more RSS).
        name = self._new_name()
        nw.to_native(keys.select(key)).create(name)
        try:
            total = self._count(name)
            page = f"SELECT {_sql_name(key)} FROM {name} WHERE rowid >= $1 AND rowid < $2"
            for start in range(0, total, chunk):
                found = self.connection.execute(page, [start, start + chunk]).fetchall()
                yield [value for (value,) in found if value is not None]
        finally:
            self.connection.execute(f"DROP TABLE IF EXISTS {name}")

    def loaded_table(
        self, parts: Iterable[Mapping[str, Sequence[Any]]], types: Mapping[str, str]
    ) -> Any:
        import narwhals as nw

        name = self._stored(arrow_table(part, types) for part in parts)
        return None if name is None else nw.from_native(self.connection.table(name))

    def _stored(self, tables: Iterable[Any]) -> str | None:
        """A new table of the rows of the Arrow ``tables``, inserted one at a time (the
        engine keeps them, spilling); its name, or None when there are none."""
        name = None
        writer = self.connection.cursor()  # the tables may stream from a query on the other
        try:
            for rows in tables:
                if name is None:
                    name = self._new_name()
                    writer.from_arrow(rows).create(name)
                else:
                    writer.from_arrow(rows).insert_into(name)
        finally:
            writer.close()
        return name

    def ndjson(self, frame: Any, parts: Sequence[Part], order: Sequence[str], into: str) -> None:
        import narwhals as nw

        view = self._new_name()
        nw.to_native(frame).create_view(view)
        selects = []
        for part in parts:
            made = [f"{_duck_value(v)} AS {_sql_name(n)}" for n, v in part.fields.items()]
            for name, pairs in part.objects.items():
                keys = ", ".join(_sql_text(k) for k in pairs)
                values = ", ".join(f"{_sql_name(c.name)}::VARCHAR" for c in pairs.values())
                made.append(f"MAP([{keys}]::VARCHAR[], [{values}]::VARCHAR[]) AS {_sql_name(name)}")
            selects.append(f"SELECT {', '.join(made)} FROM {view} WHERE {_sql_name(part.where)}")
        ordered = ", ".join(_sql_name(n) for n in order)
        query = " UNION ALL ".join(f"({q})" for q in selects) + (
            f" ORDER BY {ordered}" if order else ""
        )
        self.connection.execute(f"COPY ({query}) TO {_sql_text(into)} (FORMAT json)")

    def close(self) -> None:
        try:
            self.connection.close()
        finally:
            shutil.rmtree(self.spill, ignore_errors=True)


class SparkEngine(Engine):
    """A Spark session: ``local[*]`` by default, a cluster through Spark Connect."""

    name = "spark"

    def __init__(self, remote: str | None = None, master: str | None = None) -> None:
        _require("spark")
        from pyspark.sql import SparkSession

        remote = remote or os.environ.get(SPARK_REMOTE_ENV) or None
        self.remote = remote
        self._kept: list[Any] = []
        self._owned = SparkSession.getActiveSession() is None
        """Whether closing stops the session: not one this process had already."""
        if remote:
            # Nothing else set on the builder: a Spark Connect server refuses to change
            # its static settings (the application's name among them) for a client.
            self.session = self._connected(remote)
            return
        builder = SparkSession.builder.appName("custrec").master(master or "local[*]")
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.io.encryption.enabled", "true")
        # Spark's 200 shuffle partitions, coalesced by adaptive execution to about
        # 64 MB each: a fixed few (4 before) made blocks of ~25M rows out of 100M
        # interactions, too large to read back (a Java heap exhausted).
        builder = builder.config("spark.sql.adaptive.enabled", "true")
        builder = builder.config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        # In local mode the driver's JVM does all the work: its heap, not Spark's
        # default 1 GB, is what a large input needs (the same share as DuckDB's).
        builder = builder.config("spark.driver.memory", default_memory_limit()[:-1].lower())
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        self.session = builder.getOrCreate()
        self.session.conf.set("spark.sql.session.timeZone", "UTC")
        self.session.sparkContext.setLogLevel("ERROR")

    @staticmethod
    def _connected(remote: str) -> Any:
        """A Spark Connect session in UTC. A server that does not answer within a few
        seconds, or refuses the client, is a :class:`UsageError` (the address is the
        caller's); once connected, the client's own retries (up to 10 minutes of a
        server away) apply."""
        from pyspark.errors.exceptions.connect import SparkConnectGrpcException
        from pyspark.sql import SparkSession
        from pyspark.sql.connect.client.retries import DefaultPolicy

        session = SparkSession.builder.remote(remote).getOrCreate()
        client = session.client
        usual = client.get_retry_policies()
        try:
            client.set_retry_policies([DefaultPolicy(max_retries=CONNECT_TRIES)])
            session.conf.set("spark.sql.session.timeZone", "UTC")
        except SparkConnectGrpcException as error:
            found = re.search(r'details = "([^"]*)"', str(error))
            said = found.group(1) if found else _first_line(error)
            # stopped now, with the few retries: at exit it would retry for 10 minutes
            with contextlib.suppress(SparkConnectGrpcException):
                session.stop()
            raise UsageError(
                # the address without its parameters: ";token=" is a secret
                f"Spark Connect at {remote.split('/;')[0]} did not answer: {said[:200]} "
                "(check --spark-remote or CUSTREC_SPARK_REMOTE, and its ;token=)"
            ) from None
        client.set_retry_policies(usual)
        return session

    def read(self, paths: Sequence[str], input_format: str | None, row: str) -> Any:
        import narwhals as nw
        from pyspark.sql import functions as F

        kinds = {_input_kind(path, input_format) for path in paths}
        if len(kinds) > 1:
            raise UsageError("the inputs of one run are all CSV or all Parquet")
        reader = self.session.read
        with self.reading(", ".join(paths)):
            if kinds == {"parquet"}:
                frame = reader.parquet(*paths)
            else:  # every column as text, quoted fields across lines read whole
                frame = reader.options(
                    header=True, multiLine=True, escape='"', mode="FAILFAST"
                ).csv(list(paths))
            # Analysed here: through Spark Connect a missing path is found only when
            # the plan is analysed (classic Spark finds it above).
            frame.schema  # noqa: B018
        # Increasing in file order, not consecutive: record_numbers makes them so.
        return nw.from_native(frame.withColumn(row, F.monotonically_increasing_id()))

    def table(self, columns: Mapping[str, Sequence[Any]], types: Mapping[str, str]) -> Any:
        import narwhals as nw

        table = arrow_table(columns, types)
        return nw.from_native(self.session.createDataFrame(table))

    def read_batches(self, batches: Iterable[Any], columns: Sequence[str], row: str) -> Any:
        import narwhals as nw
        import pyarrow as pa
        from pyspark.sql import functions as F

        given = iter(batches)
        first = next(given, None)
        first = _no_records(columns) if first is None else first
        schema = first.schema
        made = self.session.createDataFrame(pa.Table.from_batches([first]))
        for batch in given:
            part = self.session.createDataFrame(pa.Table.from_batches([_cast_batch(batch, schema)]))
            made = made.unionByName(part)
        # One partition per batch, in order: the row ids increase in the batches' order.
        kept = self.materialise(nw.from_native(made))
        return nw.from_native(nw.to_native(kept).withColumn(row, F.monotonically_increasing_id()))

    @contextmanager
    def reading(self, source: str) -> Iterator[None]:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import AnalysisException, SparkRuntimeException

        try:
            yield
        except (AnalysisException, SparkRuntimeException, Py4JJavaError) as error:
            text = str(error)
            said = [
                line.strip()
                for line in text.splitlines()
                if "PATH_NOT_FOUND" in line or "MALFORMED_RECORD" in line
            ]
            if not said and "java.lang.OutOfMemoryError" in text:
                raise UsageError(
                    f"Spark ran out of memory on {source}: give its driver more "
                    "(spark.driver.memory in the cluster's or SPARK_CONF_DIR's "
                    "spark-defaults.conf) or run it on --engine duckdb"
                ) from None
            if not said:
                raise
            # Spark quotes the malformed record after "parsing:": personal data, left out
            message = re.sub(r"^Caused by: [\w.]+: ", "", said[0]).split(": [", 1)[0]
            raise InputError(source, message[:300]) from None

    def materialise(self, frame: Any) -> Any:
        import narwhals as nw
        from pyspark import StorageLevel

        # A local checkpoint, not a cache: the plan after it starts from the kept rows,
        # so later queries (a union of one top-N per rule) are analysed in the driver
        # without copying the whole plan above each branch (a Java heap exhausted).
        # On disk only: a block kept in memory and disk that has spilled is read
        # back whole into the heap when used (BlockManager.maybeCacheDiskBytesInMemory,
        # an OutOfMemoryError on 100M interactions); on disk only it is streamed.
        native = nw.to_native(frame).localCheckpoint(
            eager=True, storageLevel=StorageLevel.DISK_ONLY
        )
        self._kept.append(native)
        return nw.from_native(native)

    def after_join(self, frame: Any) -> Any:
        # Through Spark Connect the plan travels as a protobuf message, which the
        # client decodes to a depth of 100 at most: a chain of a schema's lookups goes
        # deeper (exit 70 before); a kept result starts a new plan.
        return self.materialise(frame) if self.remote else frame

    def epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        import narwhals as nw
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        made = [F.unix_micros(F.col(c)).alias(o) for o, c in columns.items()]
        return nw.from_native(native.select("*", *made))

    def from_epoch_micros(self, frame: Any, columns: Mapping[str, str]) -> Any:
        import narwhals as nw
        from pyspark.sql import functions as F

        native = nw.to_native(frame.drop([o for o in columns if o in frame.columns]))
        made = [F.timestamp_micros(F.col(c)).alias(o) for o, c in columns.items()]
        return nw.from_native(native.select("*", *made))

    def set_zone(self, tz: str) -> None:
        self.session.conf.set("spark.sql.session.timeZone", tz)
        found = self.session.conf.get("spark.sql.session.timeZone")
        if found != tz:
            raise UsageError(f"Spark did not take the time zone {tz!r} (it says {found!r})")

    def key_chunks(self, keys: Any, key: str, chunk: int) -> Iterator[list[str]]:
        import narwhals as nw

        part: list[str] = []
        for record in nw.to_native(keys.select(key)).toLocalIterator(prefetchPartitions=True):
            if record[0] is not None:
                part.append(record[0])
                if len(part) >= chunk:
                    yield part
                    part = []
        yield part

    def record_numbers(self, frame: Any, row: str, rows: Sequence[int]) -> dict[int, int]:
        """A row id holds its partition in its upper 31 bits and its place in the
        partition in the lower 33 (``monotonically_increasing_id``): the record number
        is the records of the earlier partitions, plus the place, plus one."""
        if not rows:
            return {}
        starts = self._partition_starts(frame, row)
        return {value: starts[value >> 33] + (value & _PLACE) + 1 for value in rows}

    def numbered(self, frame: Any, row: str, out: str) -> Any:
        import narwhals as nw
        from pyspark.sql import functions as F

        starts = self._partition_starts(frame, row)
        if not starts:
            return super().numbered(frame, row, out)
        table = F.create_map(*[F.lit(v) for pair in sorted(starts.items()) for v in pair])
        part = F.shiftright(F.col(row), 33)
        number = F.element_at(table, part) + F.col(row).bitwiseAND(F.lit(_PLACE)) + F.lit(1)
        return nw.from_native(nw.to_native(frame).withColumn(out, number.cast("long")))

    def _partition_starts(self, frame: Any, row: str) -> dict[int, int]:
        """Partition -> the records of the partitions before it."""
        import narwhals as nw
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        part = F.shiftright(F.col(row), 33)
        sizes = dict(native.groupBy(part.alias("p")).count().collect())
        starts, total = {}, 0
        for partition in sorted(sizes):
            starts[partition] = total
            total += sizes[partition]
        return starts

    def ndjson(self, frame: Any, parts: Sequence[Part], order: Sequence[str], into: str) -> None:
        if self.remote:
            raise UsageError(
                "with --spark-remote the cluster writes the failures: name a directory on "
                "its storage (hdfs://, s3a://, ...), not a local file"
            )
        # Spark writes a directory of part files: one part, beside ``into`` in the
        # caller's private directory, then renamed to it.
        written = os.path.join(os.path.dirname(into), ".spark-" + os.path.basename(into))
        try:
            self._exported(frame, parts, order).coalesce(1).write.option(
                "ignoreNullFields", "false"
            ).json(written)
            made = sorted(Path(written).glob("part-*"))  # none when no record was picked
            if made:
                os.replace(made[0], into)
            else:
                Path(into).touch(mode=0o600)
        finally:
            shutil.rmtree(written, ignore_errors=True)

    def ndjson_directory(
        self, frame: Any, parts: Sequence[Part], order: Sequence[str], uri: str
    ) -> None:
        """As :meth:`ndjson`, written by the engine's workers as a directory of part
        files at ``uri`` (a path on the cluster's storage, which must not exist yet)."""
        from pyspark.errors import AnalysisException

        try:
            # "error", not "errorifexists": Spark Connect's client knows only the former
            self._exported(frame, parts, order).write.mode("error").option(
                "ignoreNullFields", "false"
            ).json(uri)
        except AnalysisException as error:
            if "PATH_ALREADY_EXISTS" in str(error) or "already exists" in str(error):
                raise UsageError(f"{uri} already exists; refusing to overwrite it") from None
            raise

    def _exported(self, frame: Any, parts: Sequence[Part], order: Sequence[str]) -> Any:
        import narwhals as nw
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        made = None
        for part in parts:
            columns = [_spark_value(v).alias(n) for n, v in part.fields.items()]
            for name, pairs in part.objects.items():
                items = [
                    x for k, c in pairs.items() for x in (F.lit(k), F.col(c.name).cast("string"))
                ]
                columns.append(F.create_map(*items).cast("map<string,string>").alias(name))
            chosen = native.filter(F.col(part.where)).select(*columns)
            made = chosen if made is None else made.unionByName(chosen)
        if made is None:
            raise ValueError("an export has at least one part")
        return made.orderBy(*order) if order else made

    def close(self) -> None:
        for kept in self._kept:
            kept.unpersist()
        self._kept.clear()
        if self._owned:
            self.session.stop()


def open_engine(name: str, *, memory_limit: str | None = None, remote: str | None = None) -> Engine:
    """A session of engine ``name`` (duckdb or spark)."""
    if name == "duckdb":
        return DuckDBEngine(memory_limit)
    if name == "spark":
        return SparkEngine(remote)
    raise UsageError(f"engine {name!r} runs in this process; it has no session")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


BATCHES = "input"
"""The source an :class:`InputError` of :meth:`Engine.read_batches` names; its caller
names the file (:func:`read_streamed`)."""


def read_here(path: str, input_format: str | None, stores: bool = False) -> bool:
    """Whether custrec reads ``path`` for an engine and streams it in: standard input,
    NDJSON (which the engines do not read as custrec does) and, when ``stores``, a
    store (which only custrec can decrypt)."""
    from custrec.io import format_from_extension
    from custrec.protected import is_store_file

    if path == "-" or (input_format or format_from_extension(path)) == "ndjson":
        return True
    return stores and is_store_file(path)


def read_streamed(
    engine: Engine, batches: Iterable[Any], columns: Sequence[str], row: str, at: Callable[[], str]
) -> Any:
    """:meth:`Engine.read_batches`, its :class:`InputError` naming the input ``at()``
    says the batches were coming from when it arose."""
    try:
        return engine.read_batches(batches, columns, row)
    except InputError as error:
        if error.source != BATCHES:
            raise
        raise InputError(at(), error.message) from None


def _no_records(columns: Sequence[str]) -> Any:
    """An Arrow record batch of ``columns`` (text) without records."""
    import pyarrow as pa

    return pa.record_batch([pa.array([], pa.string()) for _ in columns], names=list(columns))


def _cast_batch(batch: Any, schema: Any) -> Any:
    """``batch`` in the types of ``schema`` (the first batch's), or an
    :class:`InputError` saying which columns differ."""
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    if batch.schema.names != schema.names:
        raise InputError(
            BATCHES,
            f"its records change columns ({', '.join(batch.schema.names)} after "
            f"{', '.join(schema.names)}); an engine reads one set of columns",
        )
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InputError(BATCHES, f"a column changes type ({error})") from None


def _constant(value: object) -> None:
    """Refuse a constant of an export other than text, a whole number or None."""
    if isinstance(value, bool) or not isinstance(value, int | str | None):
        raise TypeError(f"an export's constant is text, a whole number or None: {value!r}")


def _duck_value(value: Column | str | int | None) -> str:
    if isinstance(value, Column):
        return _sql_name(value.name)
    _constant(value)
    if value is None:
        return "NULL::VARCHAR"
    return f"{value}::BIGINT" if isinstance(value, int) else f"{_sql_text(value)}::VARCHAR"


_PLACE = (1 << 33) - 1
"""The bits of a Spark row id that hold the row's place in its partition."""


def _spark_value(value: Column | str | int | None) -> Any:
    from pyspark.sql import functions as F

    if isinstance(value, Column):
        return F.col(value.name)
    _constant(value)
    if value is None:
        return F.lit(None).cast("string")
    return F.lit(value).cast("long" if isinstance(value, int) else "string")


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
