"""``custrec init`` and ``custrec verify``: create a store, check a store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from custrec.cli.core import emit, format_option, lock_timeout_option
from custrec.render import Fields

F = TypeVar("F", bound=Callable[..., Any])


def key_file_option() -> Callable[[F], F]:
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Key file that opens the store. Default: $CUSTREC_KEY_FILE; else the "
        "passphrase in $CUSTREC_PASSPHRASE, or a prompt on a terminal.",
    )


def store_argument() -> Callable[[F], F]:
    return click.argument("store", type=click.Path(dir_okay=False))


@click.command("init")
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
    "--chunk-records",
    type=click.IntRange(min=1, max=65_536),
    default=1024,
    show_default=True,
    help="Records per encrypted chunk (point access reads one).",
)
@format_option("table", "json")
def init(
    store: str,
    key_file: str | None,
    id_field: str,
    match_fields: tuple[str, ...],
    region: str | None,
    chunk_records: int,
    output_format: str,
) -> None:
    """Create an empty encrypted store STORE, opened by your key.

    The key is a key file (--key-file or CUSTREC_KEY_FILE; make one with
    `custrec key new`) or a passphrase (CUSTREC_PASSPHRASE, or asked on a terminal).
    Add more keys later with `custrec key add`. STORE must not exist.

    \b
    Examples:
      custrec key new steward.key
      custrec init customers.crec --key-file steward.key --region GB
      CUSTREC_PASSPHRASE=... custrec init customers.crec --match-field email
    """
    from custrec.store import StoreSettings, create_store, resolve_key_source

    source = resolve_key_source(key_file, confirm=True, what=f"the new store {store}")
    settings = StoreSettings(
        id_field=id_field,
        match_fields=match_fields or ("email", "phone"),
        region=region.upper() if region else None,
        chunk_records=chunk_records,
    )
    with create_store(store, source, settings=settings) as created:
        emit(
            Fields(
                "init",
                [
                    ("path", "created store", store),
                    ("store_id", "store id", created.store_id),
                    ("key_id", "opened by key", created.key_id),
                    ("id_field", "id field", settings.id_field),
                    ("match_fields", "match fields", list(settings.match_fields)),
                    ("region", "phone region", settings.region),
                ],
            ),
            output_format,
        )


@click.command("verify")
@store_argument()
@key_file_option()
@lock_timeout_option()
@format_option("table", "json")
def verify(store: str, key_file: str | None, lock_timeout: float, output_format: str) -> None:
    """Check the integrity of STORE end to end.

    Authenticates the header, the manifest of chunk versions, every encrypted chunk and
    the id index. Exit 4 names what was wrong key, damaged or altered.

    \b
    Examples:
      custrec verify customers.crec --key-file steward.key
      custrec verify customers.crec --format json    # key from CUSTREC_KEY_FILE
    """
    from custrec.store import open_store, resolve_key_source

    with open_store(store, resolve_key_source(key_file), lock_timeout=lock_timeout) as opened:
        records = opened.verify()
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
