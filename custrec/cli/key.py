"""``custrec key``: create and describe key files."""

from __future__ import annotations

import click

from custrec.cli.core import emit, format_option, note


@click.group()
def key() -> None:
    """Create and inspect key files (the keys that unlock stores).

    A key file holds one 256-bit key, readable by its owner only (mode 0600). Keys are
    never given on the command line: commands take --key-file or CUSTREC_KEY_FILE.

    \b
    Examples:
      custrec key new ~/.config/custrec/steward.key
      custrec key show ~/.config/custrec/steward.key
    """


@key.command("new")
@click.argument("keyfile", type=click.Path(dir_okay=False))
@format_option("table", "json")
def key_new(keyfile: str, output_format: str) -> None:
    """Create KEYFILE with a fresh random key, readable by you only.

    Refuses to overwrite an existing file (exit 2): a lost key loses the data it
    protects. Keep a copy of the key file somewhere safe.

    \b
    Examples:
      custrec key new steward.key
      custrec key new --format json steward.key    # prints the key id, not the key
    """
    from custrec.keyfile import describe_key_file, new_key_file

    created = new_key_file(keyfile)
    emit(describe_key_file(created.path), output_format)
    note(f"Created key file {keyfile} (mode 0600). Back it up: without it the data is lost.")


@key.command("show")
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
