"""The one-record commands: ``get``, ``find`` and ``update``.

They stay on the light path: no pandas, pandera or pyarrow, and no tabulate unless a
table is shown.
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
    note,
    open_cli_store,
    reason_option,
    split_fields,
    store_argument,
)
from custrec.errors import NotFoundError


@click.command("get", short_help="Show the records of STORE with these ids.")
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


@click.command("find", short_help="Find records by email, phone number or name.")
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


@click.command("update", short_help="Change one record of STORE, or many from a file.")
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
@click.option(
    "--show-records",
    is_flag=True,
    help="With --from: show the updated records in full (they may hold personal data). "
    "Default: a summary of counts per field.",
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
    show_records: bool,
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
    per row. Shows the updated record (ID), or a summary of how many records were
    updated and which fields changed (--from; --show-records shows the records).

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
        UpdateSummary,
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
    summary: UpdateSummary | None = None
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        if from_file is not None:
            changes = read_changes(
                opened,
                from_file,
                input_format=input_format,
                delimiter=csv_delimiter(delimiter),
                encoding=encoding,
                add_columns=add_columns,
            )
            gate = schema_gate(opened)
            checked = None
            if gate is not None:
                checked = lambda record, change: gate(record, change.where())  # noqa: E731
            records = opened.update_many(changes, check=checked) if changes else []
            if not show_records:
                from custrec.io import source_name

                summary = UpdateSummary(source_name(from_file), changes, len(records))
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
    if summary is not None:
        emit(summary, output_format)
    else:
        emit(RecordsResult(id_field=id_field, fields=fields, records=records), output_format)
    note(f"updated {len(records)} record(s)")
