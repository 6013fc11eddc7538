"""Files that no output may replace: key files, stores, a store's companion files,
and the files the running command reads.

Every file custrec writes goes through :func:`custrec.atomic.atomic_file`, which asks
:func:`refuse_protected` first, so ``export -o customers.crec`` or ``-o steward.key``
is refused (exit 2) instead of destroying the store or the key. A destination is
compared with each protected file by its resolved path and by its device and inode
number, so a symbolic link or a hard link to a protected file is refused like the
file itself. (A symbolic link that points elsewhere is replaced, never written
through: see :mod:`custrec.atomic`.)

The checks read at most 100 bytes of a file and import only the standard library:
the formats are recognised here from their first bytes, as documented in
``docs/format.md`` (``tests/test_outputs_safety.py`` checks that they agree with
:mod:`custrec.keyfile` and :mod:`custrec.store`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import NamedTuple

from custrec.errors import UsageError

KEY_FILE_FIRST_LINE = b"custrec-key v1"
"""The first line of every key file (see :mod:`custrec.keyfile`)."""

STORE_APPLICATION_ID = 0x63726563
"""``PRAGMA application_id`` of a store (``crec``), at byte offset 68 of the file."""

SQLITE_MAGIC = b"SQLite format 3\x00"

STORE_COMPANIONS = {
    "-wal": "write-ahead log",
    "-shm": "shared-memory index",
    "-journal": "rollback journal",
    ".erasures": "tombstone file",
    ".keys": "key store",
    ".keys-wal": "key store's write-ahead log",
    ".keys-shm": "key store's shared-memory index",
}
"""Files kept beside a store ``STORE``, named ``STORE`` + suffix, and what they are."""

KEY_FILE_ENV = "CUSTREC_KEY_FILE"  # custrec.keyfile.KEY_FILE_ENV, without its imports

Input = str | os.PathLike[str] | None
"""A file a command reads; ``None`` and ``-`` (standard input) are skipped."""


def is_key_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is (or links to) a custrec key file, from its first line."""
    return _head(path, 64).split(b"\n", 1)[0].strip() == KEY_FILE_FIRST_LINE


def is_store_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is (or links to) a custrec store: an SQLite file whose header
    holds custrec's application id, judged from its first 100 bytes."""
    head = _head(path, 100)
    return (
        len(head) == 100
        and head.startswith(SQLITE_MAGIC)
        and int.from_bytes(head[68:72], "big") == STORE_APPLICATION_ID
    )


def store_companion(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``(store, what)`` when ``path`` is named like a companion file of an existing
    store (``customers.crec-wal`` beside the store ``customers.crec``), else None."""
    text = os.fspath(path)
    for suffix, what in STORE_COMPANIONS.items():
        if text.endswith(suffix) and len(text) > len(suffix):
            store = text[: -len(suffix)]
            if is_store_file(store):
                return store, what
    return None


def protected_reason(path: str | os.PathLike[str], inputs: Iterable[Input] = ()) -> str | None:
    """Why ``path`` must not be replaced by an output, or None when it may be.

    ``inputs`` are the files the command reads (its store, key file, input files,
    policy...). The key file named by ``$CUSTREC_KEY_FILE`` is always protected."""
    text = os.fspath(path)
    target = _Identity.of(text)
    resolved = os.path.realpath(text)
    via = f"it links to {resolved}, which is " if os.path.islink(text) else "it is "
    if target.stat is not None and stat.S_ISREG(target.stat.st_mode):
        if is_key_file(text):
            return via + "a custrec key file (custrec never overwrites a key)"
        if is_store_file(text):
            return via + "a custrec store"
    for name in dict.fromkeys((text, resolved)):
        companion = store_companion(name)
        if companion is not None:
            store, what = companion
            return f"{via}the {what} of the store {store}"
    key_file = os.environ.get(KEY_FILE_ENV)
    if key_file and target.same_file(_Identity.of(key_file)):
        return f"{via}the key file in ${KEY_FILE_ENV} ({key_file})"
    for given in inputs:
        if given is None or os.fspath(given) in ("", "-"):
            continue
        name = os.fspath(given)
        if target.same_file(_Identity.of(name)):
            return f"{via}an input of this command ({name})"
        if is_store_file(name):
            for suffix, what in STORE_COMPANIONS.items():
                if target.same_file(_Identity.of(name + suffix)):
                    return f"{via}the {what} of the store {name}, an input of this command"
    return None


def refuse_protected(path: str | os.PathLike[str], inputs: Iterable[Input] = ()) -> None:
    """Raise :class:`~custrec.errors.UsageError` (exit 2), naming ``path`` and why,
    when an output written to ``path`` would replace a protected file."""
    reason = protected_reason(path, inputs)
    if reason is not None:
        raise UsageError(f"refusing to write {os.fspath(path)}: {reason}; choose another path")


class _Identity(NamedTuple):
    """A path as a file: where it resolves to, and its device and inode if it exists."""

    resolved: str
    stat: os.stat_result | None

    @classmethod
    def of(cls, path: str) -> _Identity:
        try:
            found: os.stat_result | None = os.stat(path)
        except (OSError, ValueError):
            found = None
        return cls(os.path.realpath(path), found)

    def same_file(self, other: _Identity) -> bool:
        if self.resolved == other.resolved:
            return True
        return (
            self.stat is not None
            and other.stat is not None
            and (self.stat.st_dev, self.stat.st_ino) == (other.stat.st_dev, other.stat.st_ino)
        )


def _head(path: str | os.PathLike[str], size: int) -> bytes:
    """The first ``size`` bytes of a regular file (following links), else ``b""``.
    A FIFO or a device is never opened just to look at it."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return b""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""  # replaced meanwhile
        return os.pread(fd, size, 0)
    except OSError:
        return b""
    finally:
        os.close(fd)
