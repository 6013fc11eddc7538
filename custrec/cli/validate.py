"""``custrec validate``: check records against a schema, with a report to act on."""

from __future__ import annotations

import os
from typing import Any

import click

from custrec.cli.core import (
    INPUT_FORMATS,
    csv_delimiter,
    csv_options,
    emit,
    engine_options,
    format_option,
    input_format_option,
    key_file_option,
    lock_timeout_option,
    mapping_options,
    note_restricted,
    open_cli_store,
    read_mapping,
    reason_option,
    resolved_engine,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import CheckFailedError, InputError, UsageError


@click.command("validate", short_help="Check records against a schema.")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    envvar="CUSTREC_SCHEMA",
    help="Schema (docs/schema.md): a shipped one by name (custrec schemas list) or a "
    "file. Default: for a store, the schema it was created with; else $CUSTREC_SCHEMA.",
)
@key_file_option()
@input_format_option(INPUT_FORMATS)
@csv_options
@mapping_options
@click.option(
    "--examples",
    type=click.IntRange(min=0, max=1000),
    default=5,
    show_default=True,
    metavar="N",
    help="Examples shown per failing rule.",
)
@click.option(
    "--all-rules",
    is_flag=True,
    help="List the rules that passed too, after those that failed (JSON always lists every rule).",
)
@click.option(
    "--failures",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write every failure (line, record id, column, rule, value, the other fields "
    "the rule read, severity) as NDJSON to FILE (mode 0600; it holds the failing values; "
    "- for stdout).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warn"]),
    default="error",
    show_default=True,
    help="Exit 1 when a rule of this severity (or worse) fails.",
)
@click.option(
    "--as-of",
    metavar="DATE",
    help="Judge dates ('not in the future', freshness) as of this day (YYYY-MM-DD). "
    "Default: today.",
)
@engine_options("the rules run")
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
@quiet_option()
def validate(
    source: str,
    schema_file: str | None,
    key_file: str | None,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    mapping: tuple[str, ...],
    map_file: str | None,
    examples: int,
    all_rules: bool,
    failures: str | None,
    fail_on: str,
    as_of: str | None,
    engine: str | None,
    memory_limit: str | None,
    spark_remote: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Check the records of SOURCE (a store, or a CSV/NDJSON/Parquet file; '-' for
    stdin) for accuracy, sufficiency and relevance, against a schema.

    A file's header is checked first: a field whose column is missing, while a column
    of another spelling looks like it ('Customer ID' for customer_id), or a required
    field without a column, stops the run (exit 3) with the --map that reads it.
    Then every rule runs on every record, in chunks (memory stays bounded), and the
    report counts exactly how many records fail each rule, failing rules first, with
    examples naming the line (files) or position (stores), the record's id, the
    field, the value, the other fields the rule read (a postcode's country) and what
    was expected. Rules of severity warn do not fail the run unless --fail-on warn.
    A store's records that a purge anonymised are checked by the schema's
    anonymised-record rules (anonymised.*) instead. With --engine duckdb or spark the
    same rules run as one query over the whole input there, with the same counts,
    examples and failures file, which the engine writes; a store, stdin and NDJSON
    are read here and streamed in. On Spark --failures may also name a directory on
    the cluster's storage (s3a://..., hdfs://...), written by its workers as part
    files (docs/scale-out.md).

    Exit 0 when every error rule passes; 1 when one fails (the report is still on
    stdout); 2 for a wrong schema file (the message names its line); 3 for an
    unreadable input or a header the schema cannot read; 4 for a key problem.

    \b
    Examples:
      custrec validate customers.crec                     # the store's own schema
      custrec validate export.csv --schema customer --examples 10
      custrec validate crm.csv --schema customer --map customer_id='Customer ID'
      custrec validate export.csv --schema my-customer.yaml --failures fix-these.ndjson
      custrec validate customers.crec --fail-on warn --format json > nightly.json
      custrec validate 'lake/customers/*.parquet' --schema customer --engine duckdb
    """
    from custrec.protected import is_store_file
    from custrec.schema import load_schema
    from custrec.validate import validate_source

    if as_of is not None:
        import datetime as dt

        try:
            dt.date.fromisoformat(as_of)
        except ValueError:
            raise UsageError(f"--as-of {as_of!r}: expected a date YYYY-MM-DD") from None
    chosen = resolved_engine(engine, [source], holds_all=False)
    if chosen != "polars":
        if memory_limit and chosen != "duckdb":
            raise UsageError("--memory-limit is for --engine duckdb")
        report = _validate_on_engine(
            chosen,
            source,
            schema_file,
            key_file=key_file,
            lock_timeout=lock_timeout,
            reason=reason,
            input_format=input_format,
            delimiter=delimiter,
            encoding=encoding,
            mapping=read_mapping(mapping, map_file),
            examples=examples,
            failures=failures,
            fail_on=fail_on,
            as_of=as_of,
            memory_limit=memory_limit,
            spark_remote=spark_remote,
        )
        _finish(report, all_rules, output_format)
        return
    if memory_limit or spark_remote:
        raise UsageError("--memory-limit and --spark-remote go with --engine duckdb or spark")
    if source != "-" and not os.path.exists(source):
        raise InputError(source, "no such file")
    schema = load_schema(schema_file) if schema_file else None
    columns = read_mapping(mapping, map_file)
    progress = click.get_current_context().with_resource(command_progress("validate"))
    if source != "-" and is_store_file(source):
        if columns:
            raise UsageError("--map reads a file's columns; a store's fields have their names")
        with open_cli_store(source, key_file, lock_timeout, reason) as opened:
            schema = schema or _store_schema(opened, source)
            report = validate_source(
                source,
                schema,
                store=opened,
                examples=examples,
                failures=failures,
                fail_on=fail_on,
                as_of=as_of,
                progress=progress,
                inputs=(schema_file, key_file),
            )
            note_restricted(opened)
    else:
        if schema is None:
            raise UsageError("give --schema FILE (or set CUSTREC_SCHEMA) to validate a file")
        report = validate_source(
            source,
            schema,
            input_format=input_format,
            delimiter=csv_delimiter(delimiter),
            encoding=encoding,
            examples=examples,
            failures=failures,
            fail_on=fail_on,
            as_of=as_of,
            progress=progress,
            inputs=(schema_file, key_file, map_file),
            mapping=columns,
        )
    _finish(report, all_rules, output_format)


def _finish(report: Any, all_rules: bool, output_format: str) -> None:
    report.all_rules = all_rules
    emit(report, output_format)
    if not report.ok:
        names = ", ".join(o.id for o in report.failing[:5])
        more = f" and {len(report.failing) - 5} more" if len(report.failing) > 5 else ""
        raise CheckFailedError(f"{len(report.failing)} rule(s) failed: {names}{more}")


def _validate_on_engine(
    name: str,
    source: str,
    schema_file: str | None,
    *,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    mapping: dict[str, str],
    examples: int,
    failures: str | None,
    fail_on: str,
    as_of: str | None,
    memory_limit: str | None,
    spark_remote: str | None,
) -> Any:
    """``validate`` on DuckDB or Spark: files as the engine reads them; a store and
    standard input streamed into it by custrec."""
    from custrec.engines import open_engine
    from custrec.protected import is_store_file
    from custrec.schema import load_schema
    from custrec.validate import validate_on_engine

    schema = load_schema(schema_file) if schema_file else None
    progress = click.get_current_context().with_resource(command_progress("validate"))

    def run(schema: Any, store: Any = None) -> Any:
        with open_engine(name, memory_limit=memory_limit, remote=spark_remote) as engine:
            return validate_on_engine(
                [source],
                schema,
                engine,
                store=store,
                input_format=input_format,
                delimiter=csv_delimiter(delimiter),
                encoding=encoding,
                examples=examples,
                fail_on=fail_on,
                as_of=as_of,
                mapping=mapping,
                failures=failures,
                inputs=(schema_file, key_file),
                progress=progress,
            )

    if source != "-" and os.path.isfile(source) and is_store_file(source):
        if mapping:
            raise UsageError("--map reads a file's columns; a store's fields have their names")
        with open_cli_store(source, key_file, lock_timeout, reason) as opened:
            schema = schema or _store_schema(opened, source)
            report = run(schema, opened)
            note_restricted(opened)
            return report
    if schema is None:
        raise UsageError("give --schema FILE (or set CUSTREC_SCHEMA) to validate a file")
    return run(schema)


def _store_schema(opened: Any, source: str) -> Any:
    """The schema a store was created with (``validate`` without --schema)."""
    from custrec.schema import parse_schema

    text = opened.settings.schema
    if text is None:
        raise UsageError(f"{source} was created without a schema: give --schema FILE")
    return parse_schema(text, f"{source} (its schema)")
