"""Output files that appear only once complete and never leave plaintext behind.

:func:`atomic_file` is the one way custrec writes a file (``-o``, ``--rejects``,
``--failures``, ``--defects``, ``--plan``, reports):

1. It refuses a destination that is a key file, a store, a store's companion file or
   a file the command reads (:func:`custrec.protected.refuse_protected`, exit 2).
2. The data goes into an *unnamed* file (``O_TMPFILE``) in the destination's
   directory. Until it is complete it has no name, so nothing that ends the process
   early (an error, Ctrl-C, SIGTERM, ``kill -9``, a power cut) can leave it behind.
3. Complete, it is flushed to disk, given its permissions and linked into the
   directory: under the destination's name if that is free, else under a part name
   that is then renamed over the destination (which replaces a symbolic link there
   instead of writing through it). Then the directory is flushed.

Where the filesystem has no ``O_TMPFILE`` (some network and FUSE filesystems) the
data goes to a named part file, ``.NAME.custrec-PID-XXXXXXXX.part``, which its
writer holds under an exclusive ``flock`` while it lives. An error or a signal that
unwinds removes it; after ``kill -9`` the next write into that directory removes it
(its writer is gone: the lock is free and the PID is not running), saying so on
stderr. The same goes for the short moment between linking and renaming above.

A full disk or quota (ENOSPC, EDQUOT) while writing raises
:class:`~custrec.errors.NoSpaceError` (exit 7) naming the output; nothing is left.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from custrec.errors import NO_SPACE_ERRNOS, InputError, UsageError, reporting_no_space
from custrec.protected import Input, refuse_protected

NAMED_PARTS_ENV = "CUSTREC_TEST_NAMED_PARTS"
"""For tests only: when set (non-empty), write named part files, as custrec does on
a filesystem without ``O_TMPFILE``."""

_UNNAMED_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL})
"""What ``open(O_TMPFILE)`` fails with where the filesystem (or kernel) lacks it."""

_PART_NAME = re.compile(r"\.(?P<name>.*)\.custrec-(?P<pid>[0-9]+)-[0-9a-f]{8}\.part")
_NAME_CHARS = 120
"""Characters of the destination's name kept in a part file's name (NAME_MAX is 255)."""


@contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    mode: int = 0o644,
    inputs: Iterable[Input] = (),
    companion: bool = False,
) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` only once the ``with`` block completes.

    ``mode`` is its permission (``0o600`` for personal data). ``inputs`` are the files
    the command reads: ``path`` may not be one of them, nor a key file, a store or a
    store's companion file (:class:`~custrec.errors.UsageError`). On any exception
    (including KeyboardInterrupt) nothing is left and ``path`` stays as it was; a full
    disk raises :class:`~custrec.errors.NoSpaceError`. ``companion`` is for the store
    itself writing one of its companion files (the tombstone file): the protection
    against replacing protected files is then skipped.
    """
    target = os.fspath(path)
    inputs = tuple(inputs)
    if not overwrite and os.path.lexists(target):
        raise UsageError(f"{target} already exists; refusing to overwrite it")
    if not companion:
        refuse_protected(target, inputs)
    directory, name = os.path.split(target)
    directory = directory or "."
    if not name or (os.path.isdir(target) and not os.path.islink(target)):
        raise InputError(target, "is a directory; give a file name")
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(target, f"directory {directory!r} does not exist") from None
    except OSError as exc:
        raise InputError(target, f"cannot write here ({exc.strerror})") from None
    try:
        with reporting_no_space(target):
            remove_stale_parts(dir_fd, directory)
            part = _Part.create(dir_fd, name, target)
            try:
                with open(part.fd, "wb", closefd=False) as handle:
                    yield handle
                os.fsync(part.fd)
                os.fchmod(part.fd, mode)
                if not companion:
                    refuse_protected(target, inputs)  # again: it may have appeared meanwhile
                try:
                    part.put_in_place(name, overwrite=overwrite)
                except FileExistsError:  # not overwrite, and it appeared meanwhile
                    raise UsageError(f"{target} already exists; refusing to overwrite it") from None
                os.fsync(dir_fd)
            except BaseException:
                part.discard()
                raise
            finally:
                os.close(part.fd)
    finally:
        os.close(dir_fd)


class _Part:
    """The file being written: unnamed (``name`` None) or a named part file."""

    def __init__(self, dir_fd: int, fd: int, name: str | None) -> None:
        self.dir_fd = dir_fd
        self.fd = fd
        self.name = name

    @classmethod
    def create(cls, dir_fd: int, target_name: str, target: str) -> _Part:
        name: str | None = None
        try:
            fd = _open_unnamed(dir_fd)
            if fd is None:
                name = _part_name(target_name)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS:
                raise
            raise InputError(target, f"cannot write here ({exc.strerror})") from None
        # Held until the writer closes it or dies, even by kill -9: while it is held,
        # remove_stale_parts leaves the file alone (once it has a name).
        fcntl.flock(fd, fcntl.LOCK_EX)
        return cls(dir_fd, fd, name)

    def put_in_place(self, target_name: str, *, overwrite: bool) -> None:
        """Give the complete file the name ``target_name``, replacing what is there
        (atomically, by a rename); FileExistsError if something is and not
        ``overwrite``."""
        at = self.dir_fd
        if self.name is None:
            # src_dir_fd makes Python (< 3.14) call linkat() with AT_SYMLINK_FOLLOW
            # rather than link(), which on Linux would not follow the /proc link.
            source = f"/proc/self/fd/{self.fd}"
            try:
                os.link(source, target_name, src_dir_fd=at, dst_dir_fd=at, follow_symlinks=True)
                return
            except FileExistsError:
                if not overwrite:
                    raise
            self.name = _part_name(target_name)  # before it exists: discard() removes it
            os.link(source, self.name, src_dir_fd=at, dst_dir_fd=at, follow_symlinks=True)
        elif not overwrite:
            os.link(self.name, target_name, src_dir_fd=at, dst_dir_fd=at)
            self.discard()
            return
        os.replace(self.name, target_name, src_dir_fd=at, dst_dir_fd=at)
        self.name = None

    def discard(self) -> None:
        """Remove the part file's name, if it has one (an unnamed file vanishes alone)."""
        if self.name is not None:
            with suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)
            self.name = None


def _open_unnamed(dir_fd: int) -> int | None:
    """An unnamed file in the directory, or None where that is not supported (then
    a named part file is used): no ``O_TMPFILE`` in the OS or the filesystem, or no
    ``/proc`` to link it into place through."""
    if not hasattr(os, "O_TMPFILE") or os.environ.get(NAMED_PARTS_ENV):
        return None
    if not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _UNNAMED_UNSUPPORTED:
            return None
        raise


def _part_name(target_name: str) -> str:
    return f".{target_name[:_NAME_CHARS]}.custrec-{os.getpid()}-{os.urandom(4).hex()}.part"


def remove_stale_parts(dir_fd: int, directory: str) -> list[str]:
    """Remove the part files in a directory whose writers are gone, saying so on
    stderr; returns their names.

    A part file is stale when its name says custrec wrote it, it belongs to this user,
    no process holds its lock (a writer holds it until it exits, even by ``kill -9``)
    and no process runs with the PID in its name."""
    removed: list[str] = []
    try:
        names = [n for n in os.listdir(dir_fd) if n.endswith(".part")]
    except OSError:
        return removed
    for name in names:
        found = _PART_NAME.fullmatch(name)
        if found is None or _process_exists(int(found["pid"])):
            continue
        if _remove_if_unlocked(dir_fd, name):
            removed.append(name)
            path = os.path.normpath(os.path.join(directory, name))
            sys.stderr.write(
                f"removed {path}: a partial output left by custrec process {found['pid']}, "
                "which ended before it completed\n"
            )
    return removed


def _remove_if_unlocked(dir_fd: int, name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its writer is alive
        try:
            if os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino != found.st_ino:
                return False
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, as another user's process
    return True
