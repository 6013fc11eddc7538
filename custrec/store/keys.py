"""Where the key that opens a store comes from: a key file or a passphrase.

Never from the command line. In order: ``--key-file`` / ``CUSTREC_KEY_FILE``, then
``CUSTREC_PASSPHRASE``, then (only when stdin is a terminal) a prompt.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from custrec.errors import KeyMissingError, UsageError
from custrec.keyfile import KEY_FILE_ENV, read_key_file

PASSPHRASE_ENV = "CUSTREC_PASSPHRASE"
NEW_PASSPHRASE_ENV = "CUSTREC_NEW_PASSPHRASE"


@dataclass(frozen=True)
class KeySource:
    """A key-encryption key as given by its holder: a key file's key, or a passphrase
    (stretched later, with the salt and parameters of the store's slot)."""

    kind: str  # "keyfile" or "passphrase"
    label: str
    key: bytes | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)

    @classmethod
    def from_key_file(cls, path: str | Path) -> KeySource:
        key_file = read_key_file(path)
        return cls(kind="keyfile", label=f"key file {path}", key=key_file.key)

    @classmethod
    def from_passphrase(cls, passphrase: str) -> KeySource:
        if not passphrase:
            raise UsageError("the passphrase is empty")
        return cls(kind="passphrase", label="passphrase", passphrase=passphrase)


def resolve_key_source(
    key_file: str | Path | None,
    *,
    passphrase_env: str = PASSPHRASE_ENV,
    key_file_env: str | None = KEY_FILE_ENV,
    confirm: bool = False,
    what: str = "the store",
) -> KeySource:
    """The key the caller gave, from the places listed in the module docstring."""
    chosen = key_file or (os.environ.get(key_file_env) if key_file_env else None)
    if chosen:
        return KeySource.from_key_file(chosen)
    passphrase = os.environ.get(passphrase_env)
    if passphrase:
        return KeySource.from_passphrase(passphrase)
    if sys.stdin is not None and sys.stdin.isatty():
        return KeySource.from_passphrase(_prompt(what, confirm))
    sources = "--key-file FILE, CUSTREC_KEY_FILE" if key_file_env else "--new-key-file FILE"
    raise KeyMissingError(
        f"no key given for {what}; use {sources}, or set {passphrase_env} "
        "(keys are never taken as command-line values)"
    )


def _prompt(what: str, confirm: bool) -> str:
    import getpass

    passphrase = getpass.getpass(f"Passphrase for {what}: ")
    if confirm and getpass.getpass("Repeat the passphrase: ") != passphrase:
        raise UsageError("the two passphrases differ")
    return passphrase
