"""Errors raised by the custrec library and the exit codes they map to.

Library code raises subclasses of :class:`CustrecError`; it never calls ``sys.exit``.
The command line turns an error into a one-line message on stderr and the error's
``exit_code`` (see ``docs/exit-codes.md``, which documents the same contract).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes of every ``custrec`` command. A stable contract."""

    OK = 0
    """Success."""
    CHECK_FAILED = 1
    """The data failed a check: validation errors, audit verification failed,
    findings when asked to fail on them."""
    USAGE = 2
    """Usage error: unknown option, missing argument, conflicting options."""
    BAD_INPUT = 3
    """Bad input: unreadable or malformed file, unknown column, wrong format."""
    KEY_OR_INTEGRITY = 4
    """Key or integrity error: wrong or missing key, unsafe key file permissions,
    tampered or truncated store."""
    BUSY = 5
    """Store busy: a lock was not obtained within the timeout."""
    NOT_FOUND = 6
    """Not found: no such record."""
    NO_SPACE = 7
    """The disk (or the user's quota) is full: nothing was changed; free space and
    run the command again. Never a sign of tampering."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C or SIGINT); nothing is left half-written."""
    TERMINATED = 143
    """Terminated by SIGTERM (128 + 15, as a shell reports it); nothing is left
    half-written."""


class CustrecError(Exception):
    """Base class of every error the library raises on purpose.

    ``str(error)`` is a complete, one-line message meant for the person who ran the
    command; it names the file, line and column where that applies.
    """

    exit_code: ExitCode = ExitCode.CHECK_FAILED


class CheckFailedError(CustrecError):
    """The data was read but failed a check the caller asked for."""

    exit_code = ExitCode.CHECK_FAILED


class UsageError(CustrecError):
    """The request itself is wrong (conflicting options, refusing to overwrite)."""

    exit_code = ExitCode.USAGE


class InputError(CustrecError):
    """An input file is missing, unreadable, malformed or in the wrong format.

    ``source`` is the file name (``<stdin>`` for standard input); ``line`` and
    ``column`` are 1-based and given when they are known.
    """

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self,
        source: str,
        message: str,
        *,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if isinstance(self.column, int):
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if isinstance(self.column, str):
            text = f"{where}: column {self.column!r}: {self.message}"
        return text


class UnknownColumnError(InputError):
    """A column named by the caller does not exist in the input."""


class KeyOrIntegrityError(CustrecError):
    """Base of key and integrity errors: a wrong, missing or unsafe key, or stored
    data that failed an integrity check."""

    exit_code = ExitCode.KEY_OR_INTEGRITY


class KeyMissingError(KeyOrIntegrityError):
    """No key was given, or the key file does not exist."""


class UnsafeKeyFileError(KeyOrIntegrityError):
    """The key file can be read by group or others."""


class WrongKeyError(KeyOrIntegrityError):
    """The key or passphrase given is not one of the store's keys."""


class MalformedKeyFileError(KeyOrIntegrityError):
    """The key file is not a custrec key file, or it is damaged."""


class IntegrityError(KeyOrIntegrityError):
    """Stored data failed an integrity check (tampered or truncated)."""


class StoreBusyError(CustrecError):
    """A lock could not be obtained within the timeout."""

    exit_code = ExitCode.BUSY


class NoSpaceError(CustrecError):
    """The disk or quota is full (ENOSPC, EDQUOT, SQLITE_FULL): nothing was changed."""

    exit_code = ExitCode.NO_SPACE


NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""The ``OSError`` numbers of a full disk or quota."""


def no_space_error(name: str, exc: OSError, *, stream: bool = False) -> NoSpaceError:
    """The error (exit 7) for a full disk or quota met while writing ``name``;
    ``stream``: ``name`` is a stream (stdout), where part of the output may be out."""
    why = (exc.strerror or os.strerror(exc.errno or errno.ENOSPC)).lower()
    left = "the output is incomplete" if stream else "nothing was written"
    return NoSpaceError(
        f"cannot write {name}: {why} (the disk or your quota is full); {left}: "
        "free some space and run the command again"
    )


@contextmanager
def reporting_no_space(name: str, *, stream: bool = False) -> Iterator[None]:
    """Turn a full disk or quota met while writing ``name`` into NoSpaceError."""
    try:
        yield
    except OSError as exc:
        if exc.errno in NO_SPACE_ERRNOS:
            raise no_space_error(name, exc, stream=stream) from None
        raise


class NotFoundError(CustrecError):
    """A record (or another named thing) that was asked for does not exist."""

    exit_code = ExitCode.NOT_FOUND
