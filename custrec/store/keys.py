"""Where the key that opens a store comes from: a key file or a passphrase.

Never from the command line. In order: ``--key-file`` / ``CUSTREC_KEY_FILE``, then
``CUSTREC_PASSPHRASE``, then (only when stdin is a terminal) a prompt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from custrec.errors import KeyMissingError, UsageError
from custrec.keyfile import KEY_FILE_ENV, read_key_file

PASSPHRASE_ENV = "CUSTREC_PASSPHRASE"
NEW_PASSPHRASE_ENV = "CUSTREC_NEW_PASSPHRASE"
MIN_NEW_PASSPHRASE = 12
"""The fewest characters of a new passphrase (``init``, ``key add``). The key is
derived with scrypt, which slows each guess, not the number of guesses: a short
passphrase is found by trying them all. Passphrases already in use still open their
store whatever their length."""


class KeySource:
    """A key-encryption key as given by its holder: a key file's key, or a passphrase
    (stretched later, with the salt and parameters of the store's slot).

    Immutable, compared and hashed by value. A plain class, not a tuple, so that no
    code that unpacks or serialises tuples can reveal the secret; its repr never
    shows it either."""

    __slots__ = ("key", "kind", "label", "passphrase")

    kind: str  # "keyfile" or "passphrase"
    label: str
    key: bytes | None
    passphrase: str | None

    def __init__(
        self, kind: str, label: str, key: bytes | None = None, passphrase: str | None = None
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "passphrase", passphrase)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a KeySource is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a KeySource is immutable")

    def __repr__(self) -> str:
        return f"KeySource(kind={self.kind!r}, label={self.label!r})"

    def _values(self) -> tuple[str, str, bytes | None, str | None]:
        return (self.kind, self.label, self.key, self.passphrase)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeySource) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type[KeySource], tuple[str, str, bytes | None, str | None]]:
        return (KeySource, self._values())  # copy and pickle through __init__

    @classmethod
    def from_key_file(cls, path: str | Path) -> KeySource:
        key_file = read_key_file(path)
        return cls(kind="keyfile", label=f"key file {path}", key=key_file.key)

    @classmethod
    def from_passphrase(cls, passphrase: str) -> KeySource:
        if not passphrase:
            raise UsageError("the passphrase is empty")
        return cls(kind="passphrase", label="passphrase", passphrase=passphrase)

    @classmethod
    def from_new_passphrase(cls, passphrase: str) -> KeySource:
        """A passphrase about to protect a store (see :data:`MIN_NEW_PASSPHRASE`)."""
        check_new_passphrase(passphrase)
        return cls.from_passphrase(passphrase)


def check_new_passphrase(passphrase: str) -> None:
    """Raise :class:`UsageError` when ``passphrase`` is too weak to protect a store:
    fewer than :data:`MIN_NEW_PASSPHRASE` characters, or one character repeated."""
    if len(passphrase.strip()) < MIN_NEW_PASSPHRASE or len(set(passphrase)) < 2:
        raise UsageError(
            f"a new passphrase needs at least {MIN_NEW_PASSPHRASE} characters, not all the "
            "same (four or five unrelated words make a good one); or use a key file: "
            "custrec key new FILE"
        )


def resolve_key_source(
    key_file: str | Path | None,
    *,
    passphrase_env: str = PASSPHRASE_ENV,
    key_file_env: str | None = KEY_FILE_ENV,
    confirm: bool = False,
    what: str = "the store",
    new: bool = False,
) -> KeySource:
    """The key the caller gave, from the places listed in the module docstring.
    ``new``: the key is about to protect a store, so a passphrase must be strong
    enough (:func:`check_new_passphrase`)."""
    chosen = key_file or (os.environ.get(key_file_env) if key_file_env else None)
    if chosen:
        return KeySource.from_key_file(chosen)
    make = KeySource.from_new_passphrase if new else KeySource.from_passphrase
    passphrase = os.environ.get(passphrase_env)
    if passphrase:
        return make(passphrase)
    if sys.stdin is not None and sys.stdin.isatty():
        return make(_prompt(what, confirm))
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
