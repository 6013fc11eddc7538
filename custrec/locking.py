"""Advisory file locks with a timeout, shared by every command that writes.

A writer holds an exclusive POSIX lock (``fcntl.lockf``) on a lock file beside the
thing it changes. The lock is released when the holder exits or dies, even by
``kill -9``, so a crash never leaves a stale lock behind. A process that cannot get
the lock within its timeout raises :class:`~custrec.errors.StoreBusyError` (exit 5).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from custrec.errors import InputError, StoreBusyError

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for a lock before giving up with exit 5."""

LOCK_TIMEOUT_ENV = "CUSTREC_LOCK_TIMEOUT"

_POLL_SECONDS = 0.05


@contextmanager
def exclusive_lock(
    lock_path: str | Path, *, timeout: float, what: str, remove: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the ``with`` block.

    ``what`` names the locked thing in the busy message (e.g. ``store customers.cst``).
    A ``timeout`` of 0 tries once. With ``remove``, the lock file is deleted when the
    block ends without an exception, while the lock is still held.

    Deleting a lock file is safe because a lock counts only while its file is still
    the one at ``lock_path``: a process that got the lock on a file another holder
    has since deleted (it opened the path before the deletion) lets it go and locks
    the file now there instead.
    """
    path = Path(lock_path)
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        fd = _open(path)
        try:
            _acquire(fd, deadline=deadline, timeout=timeout, what=what)
        except BaseException:
            os.close(fd)
            raise
        if _is_current(fd, path):
            break
        os.close(fd)  # locked a deleted file: try the one at the path now
    try:
        yield
        if remove:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(str(path), f"cannot create lock file ({exc.strerror})") from None


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is the file now at ``path`` (not one deleted since it was opened)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _acquire(fd: int, *, deadline: float, timeout: float, what: str) -> None:
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StoreBusyError(
                f"{what} is busy: another custrec process holds its lock "
                f"(waited {timeout:g} s); try again later or raise --lock-timeout"
            )
        time.sleep(min(_POLL_SECONDS, remaining))
