"""``custrec init``, ``verify``, ``migrate`` and ``backup``: create a store, check it,
convert it to the current format, copy it with its key store."""

from __future__ import annotations

import click

from custrec.cli.core import (
    audit_context,
    emit,
    format_option,
    key_file_option,
    lock_timeout_option,
    note_store,
    open_cli_store,
    reason_option,
    store_argument,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.errors import UsageError
from custrec.render import Fields


@click.command("init", short_help="Create an empty encrypted store.")
@store_argument()
@key_file_option()
@click.option(
    "--id-field",
    default="customer_id",
    show_default=True,
    help="Field holding each record's unique id.",
)
@click.option(
    "--match-field",
    "match_fields",
    multiple=True,
    metavar="FIELD",
    help="Field to find records by (repeatable). Default: email and phone.",
)
@click.option(
    "--region",
    metavar="CC",
    help="Country (ISO 3166, e.g. GB) for phone numbers written without +code.",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False),
    metavar="NAME|FILE",
    help="Record schema (docs/schema.md), shipped (custrec schemas list) or a file: the "
    "store declares its fields, takes its id and match fields from it, and checks every "
    "record collected or updated against it.",
)
@click.option(
    "--chunk-records",
    type=click.IntRange(min=1, max=65_536),
    default=1024,
    show_default=True,
    help="Records per encrypted chunk (point access reads one).",
)
@reason_option()
@format_option("table", "json")
def init(
    store: str,
    key_file: str | None,
    id_field: str,
    match_fields: tuple[str, ...],
    region: str | None,
    schema_file: str | None,
    chunk_records: int,
    reason: str | None,
    output_format: str,
) -> None:
    """Create an empty encrypted store STORE, opened by your key.

    The key is a key file (--key-file or CUSTREC_KEY_FILE; make one with
    `custrec key new`) or a passphrase of at least 12 characters (CUSTREC_PASSPHRASE,
    or asked on a terminal). Add more keys later with `custrec key add`. STORE must
    not exist.

    The store's data keys are kept in a key store beside it, STORE.keys: an erasure
    destroys a customer's data key there, so an older copy of STORE cannot show them.
    Back up STORE and STORE.keys together, key-store backups under a short retention
    and apart from the data (docs/rights.md, "Backups"); without STORE.keys no record
    can be read.

    With --schema, each field group the schema declares (`custrec schemas roles
    customer` shows them) is sealed apart, under keys of its own (docs/format.md).

    \b
    Examples:
      custrec key new steward.key
      custrec init customers.crec --key-file steward.key --region GB
      custrec init customers.crec --schema customer --region GB
      CUSTREC_PASSPHRASE=... custrec init customers.crec --match-field email
    """
    from custrec.store import StoreSettings, create_store, resolve_key_source

    columns = None
    schema_text = None
    if schema_file is not None:
        from custrec.schema import dump_schema, load_schema

        schema = load_schema(schema_file)
        if id_field != "customer_id" and id_field != schema.id_field:
            raise UsageError(
                f"--id-field {id_field} differs from the schema's id field {schema.id_field}"
            )
        id_field = schema.id_field
        match_fields = match_fields or tuple(schema.match_fields)
        columns = schema.store_columns()
        schema_text = dump_schema(schema)
    source = resolve_key_source(key_file, confirm=True, new=True, what=f"the new store {store}")
    settings = StoreSettings(
        id_field=id_field,
        match_fields=match_fields or ("email", "phone"),
        region=region.upper() if region else None,
        chunk_records=chunk_records,
        schema=schema_text,
    )
    with create_store(
        store, source, settings=settings, columns=columns, context=audit_context(reason)
    ) as created:
        emit(
            Fields(
                "init",
                [
                    ("path", "created store", store),
                    ("key_store", "key store", str(created.keystore_path)),
                    ("store_id", "store id", created.store_id),
                    ("key_id", "opened by key", created.key_id),
                    ("id_field", "id field", settings.id_field),
                    ("match_fields", "match fields", list(settings.match_fields)),
                    ("region", "phone region", settings.region),
                    ("schema", "schema", schema_file),
                ],
            ),
            output_format,
        )


@click.command("verify", short_help="Check the integrity of STORE end to end.")
@store_argument()
@key_file_option()
@click.option(
    "--witness",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="A file of audit heads kept elsewhere (lines of `custrec audit head`): exit 4 "
    "unless the store still holds the last head it saw of this store (a store rolled "
    "back or restored from an older copy does not).",
)
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
@quiet_option()
def verify(
    store: str,
    key_file: str | None,
    witness: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Check the integrity of STORE end to end.

    Checks SQLite's structure (of STORE and its key store), the header, the manifest
    of chunk versions, every encrypted chunk, that the id and match indexes hold
    exactly the records' tokens, the record states, the tombstone file beside the
    store (it verifies and agrees with the store), and the whole audit trail. Exit 4
    names the part that failed: the key, damage, or tampering; exit 7 a full disk.
    The run is recorded in the audit trail.

    A rollback of the whole file to an older copy is consistent in itself: keep the
    audit head elsewhere (`custrec audit head STORE >> /elsewhere/heads`, from cron)
    and give that file as --witness.

    \b
    Examples:
      custrec verify customers.crec --key-file steward.key
      custrec verify customers.crec --format json    # key from CUSTREC_KEY_FILE
      custrec verify customers.crec --witness /mnt/audit/customers.heads
    """
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        seen = None
        if witness is not None:
            from custrec.store.verification import read_witness

            seen = read_witness(witness, opened.store_id)
            if seen is None:
                raise UsageError(f"{witness}: no audit head of store {opened.store_id} in it")
        try:
            with command_progress("verify") as progress:
                records = opened.verify(witness=seen, progress=progress)
        finally:
            note_store(opened)
        emit(
            Fields(
                "verify",
                [
                    ("path", "store", store),
                    ("store_id", "store id", opened.store_id),
                    ("records", "records", records),
                    ("ok", "integrity ok", True),
                ],
            ),
            output_format,
        )


@click.command("migrate", short_help="Convert STORE to the current store format.")
@store_argument()
@key_file_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
@quiet_option()
def migrate(
    store: str,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Convert STORE, in place, to the current store format (3), then verify it.

    Format 2 keeps the data keys in a key store beside the data file (STORE.keys), so
    that an erasure also reaches older copies of the data file; format 3 seals each
    field group of the store's schema (docs/schema.md) apart, under keys of its own
    (docs/format.md). A format-1 store goes to format 2, then to format 3; each step is
    atomic: a process killed at any instant leaves the store in the format before or
    after it, readable, and running migrate again goes on. Going to format 3 seals every
    chunk again. A store already in the current format is left as it is (exit 0).
    Recorded in the audit trail.

    Back up STORE and STORE.keys together from now on (docs/rights.md, "Backups").

    \b
    Examples:
      custrec migrate customers.crec --key-file steward.key
      custrec migrate customers.crec --format json
    """
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        try:
            with command_progress("verify") as progress:
                result = opened.migrate(progress=progress)
        finally:
            note_store(opened)
        emit(
            Fields(
                "migrate",
                [
                    ("path", "store", store),
                    ("from_format", "from format", result.from_format),
                    ("to_format", "to format", result.to_format),
                    ("migrated", "migrated", result.from_format != result.to_format),
                    ("data_keys", "data keys moved", result.data_keys),
                    ("chunks", "chunks sealed as field groups", result.chunks),
                ],
            ),
            output_format,
        )


@click.command("backup", short_help="Copy STORE and its key store, together and consistent.")
@store_argument()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--keys-to",
    type=click.Path(file_okay=False),
    metavar="DIRECTORY",
    help="Put the copy of the key store (STORE.keys) here instead, for separate custody.",
)
@key_file_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
def backup(
    store: str,
    directory: str,
    keys_to: str | None,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Copy STORE and its key store STORE.keys into DIRECTORY, as one consistent pair.

    The two files must be backed up together: a data file beside a key store of
    another moment is refused (exit 4). The backup holds the store's write lock while
    it copies both (a consistent snapshot of each, whatever a reader is doing), and
    writes each copy complete or not at all, mode 0600; an existing file is never
    overwritten (exit 2). STORE.erasures is not copied: back it up apart and never
    restore an older one. Recorded in the audit trail.

    Keep key-store backups for a short time (an erasure reaches a backed-up data file
    once every key-store backup older than the erasure is gone) and apart from the
    data (--keys-to). To restore, put both files back while no command runs, then
    run `custrec reapply-erasures STORE` (docs/rights.md, "Backups").

    \b
    Examples:
      custrec backup customers.crec /backups/$(date +%F)/
      custrec backup customers.crec /backups/data/$(date +%F)/ --keys-to /vault/keys/$(date +%F)/
    """
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        try:
            result = opened.backup(directory, keys_to)
        finally:
            note_store(opened)
        key_store = None if result.key_store is None else str(result.key_store)
        emit(
            Fields(
                "backup",
                [
                    ("path", "store", store),
                    ("data_file", "data file copied to", str(result.data_file)),
                    ("key_store", "key store copied to", key_store),
                    ("generation", "generation", result.generation),
                ],
            ),
            output_format,
        )
