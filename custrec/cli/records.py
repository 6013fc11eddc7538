"""The everyday record commands: ``collect``, ``get``, ``find``, ``update``, ``export``.

``get``, ``find`` and ``update`` (one record) stay on the light path: no pandas,
pandera or pyarrow, and no tabulate unless a table is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from custrec.cli.core import emit, format_option, input_format_option, lock_timeout_option, note
from custrec.cli.store import key_file_option, open_cli_store, reason_option, store_argument
from custrec.errors import CheckFailedError, NotFoundError

F = TypeVar("F", bound=Callable[..., Any])
INPUT_FORMATS = ("csv", "ndjson", "parquet")


def fields_option() -> Callable[[F], F]:
    return click.option(
        "--fields",
        "fields",
        multiple=True,
        metavar="F1,F2",
        help="Show only these fields, in this order (comma-separated or repeated). "
        "Select what the request needs, nothing more.",
    )


def split_fields(values: tuple[str, ...]) -> list[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def csv_options(func: F) -> F:
    """--delimiter and --encoding, for CSV inputs."""
    func = click.option(
        "--encoding",
        metavar="CODEC",
        help="Character encoding of CSV input (e.g. cp1252, latin-1, utf-16). Default: UTF-8.",
    )(func)
    return click.option(
        "--delimiter",
        metavar="CHAR",
        help="Field separator of CSV input (e.g. ';' or '\\t'). Default: ','.",
    )(func)


def _delimiter(value: str | None) -> str | None:
    return "\t" if value in ("\\t", "tab", "TAB") else value


def add_columns_option() -> Callable[[F], F]:
    return click.option(
        "--add-columns",
        is_flag=True,
        help="Accept fields the store does not have yet (added as new fields). Without "
        "it, an unknown field is refused.",
    )


@click.command("collect")
@store_argument()
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@key_file_option()
@input_format_option(INPUT_FORMATS)
@csv_options
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read store field FIELD from input column COLUMN (repeatable), e.g. "
    "--map phone=Telephone.",
)
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
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
def collect(
    store: str,
    inputs: tuple[str, ...],
    key_file: str | None,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    mapping: tuple[str, ...],
    on_invalid: str,
    on_duplicate: str,
    rejects: str | None,
    add_columns: bool,
    source: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Collect new records into STORE from INPUTS (CSV, NDJSON or Parquet; '-' for stdin).

    Every input is read and checked before anything is written: the id must be present,
    every column must be a field of the store (a new store takes the fields of its first
    input; --add-columns adds more), and values must fit the field types (CSV values
    stay text unless the field is typed: '007' and '+44 7911 123456' are kept as
    written). Duplicates are found by id and by normalised email and phone, within the
    batch and against the store. The batch is written in one transaction: all of it, or
    nothing. Each record remembers its source and when it was collected.

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
    from custrec.collect import CollectOptions, collect_records, parse_mapping

    options = CollectOptions(
        mapping=parse_mapping(mapping),
        on_invalid=on_invalid,
        on_duplicate=on_duplicate,
        rejects=rejects,
        add_columns=add_columns,
        source=source,
        input_format=input_format,
        delimiter=_delimiter(delimiter),
        encoding=encoding,
    )
    options.check()
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        result = collect_records(opened, inputs or ("-",), options)
    emit(result, output_format)
    if result.failed:
        raise CheckFailedError(
            f"{result.problems_total} problem(s) in the input; nothing was written "
            "(see the report; --on-invalid reject writes the valid rows)"
        )
    if result.rejected:
        note(f"{result.rejected} row(s) refused, written to {result.rejects_file}")


@click.command("get")
@store_argument()
@click.argument("record_ids", nargs=-1, required=True, metavar="ID...")
@key_file_option()
@fields_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json", "ndjson", "csv")
def get(
    store: str,
    record_ids: tuple[str, ...],
    key_file: str | None,
    fields: tuple[str, ...],
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Show the records of STORE with these ids.

    Records found are shown (in the order asked); if any id is not found, the others
    are still shown and the command exits 6 naming the missing ones. The access is
    recorded in the audit trail (ids as pseudonyms, never values).

    ndjson and csv give one line per record with a final _version column, which
    `custrec update --from` uses to refuse changes to records changed meanwhile.

    \b
    Examples:
      custrec get customers.crec C-000042
      custrec get customers.crec C-000042 --fields email,phone --reason 'ticket 4711'
      custrec get customers.crec C-000042 C-000043 --format ndjson
      custrec get customers.crec C-000042 --format json | jq -r .records[0].fields.email
    """
    from custrec.lookup import get_records

    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        result = get_records(opened, record_ids, split_fields(fields))
    emit(result, output_format)
    if result.missing:
        raise NotFoundError(f"not found: {', '.join(result.missing)}")


@click.command("find")
@store_argument()
@key_file_option()
@click.option("--email", metavar="EMAIL", help="Email address (case and spaces ignored).")
@click.option(
    "--phone",
    metavar="NUMBER",
    help="Phone number in any format: '+44 7911 123456' = '07911 123456' with --region GB.",
)
@click.option(
    "--name",
    metavar="TEXT",
    help="Words that begin the name fields' words, ignoring case and accents "
    "('ann sm' finds Anne Smith). Reads every record: slower than --email/--phone.",
)
@click.option(
    "--region",
    metavar="CC",
    help="Country (ISO 3166, e.g. GB) of a --phone number written without +code. "
    "Default: the store's region.",
)
@fields_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json", "ndjson", "csv")
def find(
    store: str,
    key_file: str | None,
    email: str | None,
    phone: str | None,
    name: str | None,
    region: str | None,
    fields: tuple[str, ...],
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Find records of STORE by email, phone number or name.

    Email and phone are matched after normalising both sides (case, spacing, phone
    formats to E.164) through the store's blind index, so a lookup reads one chunk.
    Several criteria must all match. Exit 6 when nothing matches.

    \b
    Examples:
      custrec find customers.crec --email ' Lena.Ozturk2@Example.com'
      custrec find customers.crec --phone '07911 123456' --region GB
      custrec find customers.crec --name 'lena öz' --fields customer_id,email
      custrec find customers.crec --email a@example.com --format json | jq -r .records[0].id
    """
    from custrec.lookup import find_records

    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        result = find_records(
            opened,
            email=email,
            phone=phone,
            name=name,
            region=region.upper() if region else None,
            fields=split_fields(fields),
        )
    emit(result, output_format)
    if not result.records:
        raise NotFoundError("no record matches")


@click.command("update")
@store_argument()
@click.argument("record_id", required=False, metavar="[ID]")
@key_file_option()
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Set a field (repeatable). Text is converted to the field's type.",
)
@click.option("--unset", multiple=True, metavar="FIELD", help="Clear a field (repeatable).")
@click.option(
    "--if-version",
    type=click.IntRange(min=1),
    metavar="N",
    help="Refuse (exit 5) if the record changed since version N was read.",
)
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="Apply the changes in FILE (CSV, NDJSON or Parquet; '-' for stdin) keyed by the "
    "id field, all or nothing.",
)
@input_format_option(INPUT_FORMATS)
@csv_options
@add_columns_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json", "ndjson", "csv")
def update(
    store: str,
    record_id: str | None,
    key_file: str | None,
    assignments: tuple[str, ...],
    unset: tuple[str, ...],
    if_version: int | None,
    from_file: str | None,
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    add_columns: bool,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Change one record of STORE (ID with --set/--unset), or many (--from FILE).

    Changes are checked before anything is written: every field must be a field of the
    store and every value must fit its type; a refused change names the field and the
    rule, and leaves the record unchanged (exit 1). --from applies all its rows in one
    transaction: a row naming an unknown id (exit 6), a stale _version (exit 5) or an
    invalid value (exit 1) writes nothing. In the file, each column other than the id
    sets that field, an empty cell clears it, and a _version column acts as --if-version
    per row. Shows the updated records.

    \b
    Examples:
      custrec update customers.crec C-000042 --set city=Leeds --reason 'ticket 4711'
      custrec update customers.crec C-000042 --unset phone --if-version 3
      custrec update customers.crec --from corrections.csv --reason 'CRM clean-up'
      custrec export customers.crec --format ndjson --with-meta \\
        | jq -c 'select(.country == "UK") | {customer_id, _version, country: "GB"}' \\
        | custrec update customers.crec --from - --input-format ndjson
    """
    from custrec.errors import UsageError
    from custrec.lookup import (
        RecordsResult,
        parse_assignments,
        read_changes,
        schema_gate,
        update_record,
    )

    if from_file is not None:
        if record_id is not None or assignments or unset or if_version is not None:
            raise UsageError("give either ID with --set/--unset, or --from FILE, not both")
    elif record_id is None:
        raise UsageError("give the ID of the record to change, or --from FILE")
    elif not assignments and not unset:
        raise UsageError("nothing to change: give --set FIELD=VALUE or --unset FIELD")
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        if from_file is not None:
            changes = read_changes(
                opened,
                from_file,
                input_format=input_format,
                delimiter=_delimiter(delimiter),
                encoding=encoding,
                add_columns=add_columns,
            )
            gate = schema_gate(opened)
            checked = None
            if gate is not None:
                checked = lambda record, change: gate(record, change.where())  # noqa: E731
            records = opened.update_many(changes, check=checked) if changes else []
        else:
            assert record_id is not None
            records = [
                update_record(
                    opened,
                    record_id,
                    set_fields=parse_assignments(assignments),
                    unset=unset,
                    if_version=if_version,
                    add_columns=add_columns,
                )
            ]
        fields = [name for name, _ in opened.columns]
        id_field = opened.settings.id_field
    emit(RecordsResult(id_field=id_field, fields=fields, records=records), output_format)
    note(f"updated {len(records)} record(s)")


@click.command("export")
@store_argument()
@key_file_option()
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="Where to write ('-' for stdout, the default). The file is created with mode 0600.",
)
@click.option(
    "--format",
    "--output-format",
    "output_format",
    type=click.Choice(["csv", "ndjson", "parquet"]),
    default=None,
    help="Data format. Default: from the file extension, else csv.",
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
    "so spreadsheets cannot run them as formulas.",
)
@click.option(
    "--with-meta",
    is_flag=True,
    help="Add _version, _source and _collected_at columns.",
)
@lock_timeout_option()
@reason_option()
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

    CSV cells beginning with =, +, -, @, a tab or a carriage return (other than plain
    numbers such as -12.5) are written with a leading ' so that spreadsheets show them
    as text instead of running them as formulas; --raw turns this off (use it, or
    ndjson, when the file goes back into a program).

    \b
    Examples:
      custrec export customers.crec -o customers.csv --reason 'quarterly review'
      custrec export customers.crec --fields customer_id,email --where consent_marketing=true
      custrec export customers.crec --format ndjson | jq -r .email
      custrec export customers.crec -o backup.parquet --with-meta
    """
    from custrec.export import Condition, export_records

    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        result = export_records(
            opened,
            output,
            output_format=output_format,
            fields=split_fields(fields),
            where=[Condition.parse(c) for c in conditions],
            raw=raw,
            with_meta=with_meta,
        )
    note(f"exported {result.records} record(s) to {result.destination}")
