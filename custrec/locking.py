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
def exclusive_lock(lock_path: str | Path, *, timeout: float, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the ``with`` block.

    ``what`` names the locked thing in the busy message (e.g. ``store customers.cst``).
    A ``timeout`` of 0 tries once.
    """
    path = Path(lock_path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(str(path), f"cannot create lock file ({exc.strerror})") from None
    try:
        _acquire(fd, timeout=timeout, what=what)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
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
