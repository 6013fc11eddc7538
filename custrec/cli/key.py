"""``custrec key``: create and describe key files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from custrec.cli.core import (
    emit,
    format_option,
    key_file_option,
    lock_timeout_option,
    note,
    open_cli_store,
    reason_option,
    store_argument,
)
from custrec.cli.progress import command_progress, quiet_option
from custrec.locking import DEFAULT_LOCK_TIMEOUT
from custrec.render import Summary, Table

if TYPE_CHECKING:
    from custrec.store import Holder


@click.group(short_help="Create and inspect key files.")
def key() -> None:
    """Create and inspect key files (the keys that unlock stores).

    A key file holds one 256-bit key, readable by its owner only (mode 0600). Keys are
    never given on the command line: commands take --key-file or CUSTREC_KEY_FILE.

    \b
    Examples:
      custrec key new ~/.config/custrec/steward.key
      custrec key show ~/.config/custrec/steward.key
      custrec key add customers.crec --key-file steward.key --new-key-file officer.key
    """


@key.command("new", short_help="Create a key file with a fresh random key.")
@click.argument("keyfile", type=click.Path(dir_okay=False))
@format_option("table", "json")
def key_new(keyfile: str, output_format: str) -> None:
    """Create KEYFILE with a fresh random key, readable by you only.

    Refuses to overwrite an existing file (exit 2): a lost key loses the data it
    protects. Keep a copy of the key file somewhere safe. Missing directories on
    the way are created, readable by you only (mode 0700).

    \b
    Examples:
      custrec key new steward.key
      custrec key new --format json steward.key    # prints the key id, not the key
    """
    from custrec.keyfile import describe_key_file, new_key_file

    created = new_key_file(keyfile)
    emit(describe_key_file(created.path), output_format)
    note(f"Created key file {keyfile} (mode 0600). Back it up: without it the data is lost.")


@key.command("show", short_help="Check a key file and show its key id.")
@click.argument("keyfile", type=click.Path(dir_okay=False), required=False)
@format_option("table", "json")
def key_show(keyfile: str | None, output_format: str) -> None:
    """Check KEYFILE and show its key id and creation time (never the key).

    KEYFILE defaults to $CUSTREC_KEY_FILE. Exit 4 when the file is missing, readable by
    group or others, or damaged.

    \b
    Examples:
      custrec key show steward.key
      CUSTREC_KEY_FILE=steward.key custrec key show --format json
    """
    from custrec.keyfile import describe_key_file, resolve_key_path

    emit(describe_key_file(resolve_key_path(keyfile)), output_format)


@dataclass
class HolderList:
    store: str
    holders: list[Holder]
    verified: bool
    kind: str = "key-list"

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "verified": self.verified,
            "keys": [
                {"key_id": h.key_id, "kind": h.kind, "added_at": h.added_at} for h in self.holders
            ],
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                columns=("key id", "kind", "added"),
                rows=[(h.key_id, h.kind, h.added_at) for h in self.holders],
            )
        ]

    def summary(self) -> Summary:
        return Summary(
            (("store", self.store), ("verified", "yes" if self.verified else "no (no key given)"))
        )


@key.command("list", short_help="List the keys that open STORE.")
@store_argument()
@key_file_option()
@format_option()
def key_list(store: str, key_file: str | None, output_format: str) -> None:
    """List the keys that open STORE: key id, kind, when added.

    Key ids only, never keys. With a key (--key-file, CUSTREC_KEY_FILE or
    CUSTREC_PASSPHRASE) the list is authenticated; without one it is read as stored.

    \b
    Examples:
      custrec key list customers.crec
      custrec key list customers.crec --key-file steward.key --format json
    """
    import os

    from custrec.store import read_holders_unverified

    if key_file or os.environ.get("CUSTREC_KEY_FILE") or os.environ.get("CUSTREC_PASSPHRASE"):
        with open_cli_store(store, key_file, DEFAULT_LOCK_TIMEOUT) as opened:
            emit(HolderList(store, opened.holders(), verified=True), output_format)
    else:
        emit(HolderList(store, read_holders_unverified(store), verified=False), output_format)


@key.command("add", short_help="Let another key open STORE (re-wrap only).")
@store_argument()
@key_file_option()
@click.option(
    "--new-key-file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Key file of the new holder. Without it: the passphrase (at least 12 "
    "characters) in $CUSTREC_NEW_PASSPHRASE, or asked on a terminal.",
)
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
def key_add(
    store: str,
    key_file: str | None,
    new_key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Let another key open STORE (re-wrap only: no record is re-encrypted).

    Opens the store with your key, then wraps its master key to the new key file or
    passphrase, e.g. the compliance officer's own key.

    \b
    Examples:
      custrec key add customers.crec --key-file steward.key --new-key-file officer.key
      CUSTREC_NEW_PASSPHRASE=... custrec key add customers.crec --key-file steward.key
    """
    from custrec.store import resolve_key_source
    from custrec.store.keys import NEW_PASSPHRASE_ENV

    new = resolve_key_source(
        new_key_file,
        passphrase_env=NEW_PASSPHRASE_ENV,
        key_file_env=None,
        confirm=True,
        new=True,
        what="the new key",
    )
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        added = opened.add_holder(new)
        emit(HolderList(store, opened.holders(), verified=True), output_format)
    note(f"Added key {added.key_id}.")


@key.command("remove", short_help="Revoke a key's access to STORE.")
@store_argument()
@click.argument("key_id")
@key_file_option()
@lock_timeout_option()
@reason_option()
@format_option("table", "json")
def key_remove(
    store: str,
    key_id: str,
    key_file: str | None,
    lock_timeout: float,
    reason: str | None,
    output_format: str,
) -> None:
    """Revoke KEY_ID's access to STORE (re-wrap: the master key is replaced).

    The removed key can no longer open the store, even with a copy of the old master
    key. To re-encrypt the records under new data keys as well, run `key rotate`.
    The last key cannot be removed. Exit 6 when KEY_ID is not a key of the store.

    \b
    Examples:
      custrec key remove customers.crec 3f2a9c41d07be8a5 --key-file steward.key
      custrec key rotate customers.crec --key-file steward.key   # then re-encrypt
    """
    with open_cli_store(store, key_file, lock_timeout, reason) as opened:
        opened.remove_holder(key_id)
        emit(HolderList(store, opened.holders(), verified=True), output_format)
    note(f"Removed key {key_id}.")


@key.command("rotate", short_help="Re-encrypt every record under new data keys.")
@store_argument()
@key_file_option()
@lock_timeout_option()
@reason_option()
@quiet_option()
def key_rotate(store: str, key_file: str | None, lock_timeout: float, reason: str | None) -> None:
    """Re-encrypt every record of STORE under new data keys (re-encrypt, not re-wrap).

    Also replaces the master key. Each chunk is re-encrypted in its own transaction:
    if interrupted, run the command again and it finishes the rest. Other commands
    keep working meanwhile.

    \b
    Examples:
      custrec key rotate customers.crec --key-file steward.key
    """
    with (
        open_cli_store(store, key_file, lock_timeout, reason) as opened,
        command_progress("key rotate") as progress,
    ):
        chunks = opened.rotate_data_keys(progress)
    note(f"Rotated the data keys: {chunks} chunks re-encrypted.")
