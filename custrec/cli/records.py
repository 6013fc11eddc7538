"""The bulk record commands: ``collect`` (records in) and ``export`` (records out).

The one-record commands ``get``, ``find`` and ``update`` live in
:mod:`custrec.cli.lookup`, so that a lookup does not build these commands' options.
"""

from __future__ import annotations

import click

from custrec.cli.core import (
    INPUT_FORMATS,
    add_columns_option,
    csv_delimiter,
    csv_options,
    emit,
    fields_option,
    format_option,
    input_format_option,
    key_file_option,
    lock_timeout_option,
    mapping_options,
    note,
    note_restricted,
    open_cli_store,
    output_option,
    read_mapping,
    reason_option,
    split_fields,
    store_argument,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import CheckFailedError


@click.command("collect", short_help="Collect new records into STORE from files.")
@store_argument()
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@key_file_option()
@input_format_option(INPUT_FORMATS)
@csv_options
@mapping_options
@click.option(
    "--on-invalid",
    type=click.Choice(["abort", "reject"]),
    default="abort",
    show_default=True,
    help="abort: write nothing if any row is invalid (exit 1). reject: write the valid "
    "rows, and the invalid ones with their reasons to --rejects.",
)
@click.option(
    "--on-duplicate",
    type=click.Choice(["reject", "skip", "update"]),
    default="reject",
    show_default=True,
    help="A row whose id, email or phone is already in the store or earlier in the "
    "batch: reject it as invalid, skip it, or (same id) update the stored record.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write refused rows here (.csv or .ndjson, mode 0600) with _file, _row, _line, "
    "_rules and _reasons columns; fix them and collect the file again.",
)
@add_columns_option()
@click.option(
    "--source",
    metavar="LABEL",
    help="Provenance recorded with each record. Default: the input's file name.",
)
@click.option(
    "--readmit-erased",
    is_flag=True,
    help="Collect rows matching a customer who was erased (by id, email or phone); "
    "without it the batch is refused. Only for customers who came back of their own accord.",
)
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
@quiet_option()
def collect(
    store: str,
    inputs: tuple[str, ...],
    key_file: str | None,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    mapping: tuple[str, ...],
    map_file: str | None,
    on_invalid: str,
    on_duplicate: str,
    rejects: str | None,
    add_columns: bool,
    source: str | None,
    readmit_erased: bool,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Collect new records into STORE from INPUTS (CSV, NDJSON or Parquet; '-' for stdin).

    Every row is checked: the id must be present, every column must be a field of the
    store (a new store takes the fields of its first input; --add-columns adds more),
    and values must fit the field types (CSV values stay text unless the field is
    typed: '007' and '+44 7911 123456' are kept as written). Duplicates are found by id
    and by normalised email and phone, within the inputs and against the store. The
    inputs stream into the store in one transaction, which holds the store's write lock
    while they are read: all of it is written, or nothing, and memory does not grow
    with the inputs. Each record remembers its source and when it was collected.

    Exit 0 when written; 1 when rows were invalid and nothing was written
    (--on-invalid abort); 3 for an unreadable input.

    \b
    Examples:
      custrec collect customers.crec new-customers.csv --source crm-2026-11
      custrec collect customers.crec export.csv --map phone=Telephone --map email=E-mail
      custrec collect customers.crec nightly/*.csv --on-invalid reject --rejects rejects.csv
      custrec collect customers.crec fixes.ndjson --on-duplicate update
      custrec collect customers.crec semicolons.csv --delimiter ';' --encoding cp1252
      cat feed.ndjson | custrec collect customers.crec - --format json
    """
    from custrec.collect import CollectOptions, collect_records

    options = CollectOptions(
        readmit_erased=readmit_erased,
        mapping=read_mapping(mapping, map_file),
        on_invalid=on_invalid,
        on_duplicate=on_duplicate,
        rejects=rejects,
        add_columns=add_columns,
        source=source,
        input_format=input_format,
        delimiter=csv_delimiter(delimiter),
        encoding=encoding,
    )
    options.check()
    if rejects and map_file:
        from custrec.protected import refuse_protected

        refuse_protected(rejects, (map_file,))  # the map file is read, not written
    with (
        open_cli_store(store, key_file, lock_timeout, reason) as opened,
        command_progress("collect") as progress,
    ):
        result = collect_records(
            opened, inputs or ("-",), options, key_file=key_file, progress=progress
        )
    emit(result, output_format)
    if result.failed:
        first = result.problems[0] if result.problems else None
        where = ""
        if first is not None:
            line = f" line {first.line}" if first.line is not None else ""
            where = f"{first.file}{line}: {first.message}; "
        raise CheckFailedError(
            f"{where}{result.problems_total} problem(s) in the input; nothing was written "
            "(see the report; --on-invalid reject writes the valid rows)"
        )
    if result.rejected:
        note(f"{result.rejected} row(s) refused, written to {result.rejects_file}")


@click.command("export", short_help="Write the records of STORE in plaintext.")
@store_argument()
@key_file_option()
@output_option()
@click.option(
    "--format",
    "--output-format",
    "output_format",
    type=click.Choice(["csv", "ndjson", "parquet"]),
    default=None,
    help="Data format: csv, ndjson or parquet. Default: from the file extension, else csv.",
)
@fields_option()
@click.option(
    "--where",
    "conditions",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Export only records where FIELD=VALUE (or FIELD!=VALUE; FIELD= means empty). "
    "Repeatable: all must hold.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="CSV: write cells starting with = + - @ as they are, instead of prefixing ' "
    "so spreadsheets cannot run them as formulas (numbers and phone numbers such as "
    "+44 7911 123456 are never prefixed).",
)
@click.option(
    "--with-meta",
    is_flag=True,
    help="Add _version, _source and _collected_at columns.",
)
@lock_timeout_option()
@reason_option()
@quiet_option()
def export(
    store: str,
    key_file: str | None,
    output: str,
    output_format: str | None,
    fields: tuple[str, ...],
    conditions: tuple[str, ...],
    raw: bool,
    with_meta: bool,
    lock_timeout: float,
    reason: str | None,
) -> None:
    """Write the records of STORE in plaintext (CSV, NDJSON or Parquet).

    This takes personal data out of encryption: every export is recorded in the audit
    trail (fields and record count, never values), files are created readable by their
    owner only, and the file appears only once complete. Export only the fields and
    records the purpose needs (--fields, --where).

    CSV cells beginning with =, +, -, @, a tab or a carriage return are written with a
    leading ' so that spreadsheets show them as text instead of running them as
    formulas. Plain numbers (-12.5) and phone numbers in international format (+44 7911
    123456, +1 (555) 010-0199: a + then digits, spaces, dots, dashes, slashes and an
    area code in parentheses) hold nothing a spreadsheet can run and are written as
    they are, so contact lists work in SMS and dialling tools. --raw turns the quoting
    off (use it, or ndjson, when the file goes back into a program).

    \b
    Examples:
      custrec export customers.crec -o customers.csv --reason 'quarterly review'
      custrec export customers.crec --fields customer_id,email --where consent_marketing=true
      custrec export customers.crec --format ndjson | jq -r .email
      custrec export customers.crec -o backup.parquet --with-meta
    """
    from custrec.export import Condition, export_records

    with (
        open_cli_store(store, key_file, lock_timeout, reason) as opened,
        command_progress("export") as progress,
    ):
        result = export_records(
            opened,
            output,
            output_format=output_format,
            fields=split_fields(fields),
            where=[Condition.parse(c) for c in conditions],
            raw=raw,
            with_meta=with_meta,
            inputs=(key_file,),
            progress=progress,
        )
        note_restricted(opened)
    note(f"exported {result.records} record(s) to {result.destination}")
