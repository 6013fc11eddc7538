"""Key files: 256-bit secret keys kept in small text files readable by their owner only.

A key file holds one key-encryption key (KEK). Its format (also in ``docs/format.md``)::

    custrec-key v1
    id: 3f2a9c41d07be8a5
    created: 2026-11-22T07:00:00Z
    key: <the 32 key bytes in URL-safe base64, no padding>

``id`` is derived from the key (the first 8 bytes of HMAC-SHA256(key, "custrec key id
v1"), in hex), so a key can be named in listings and logs without revealing it, and a
damaged file is noticed. Keys are never accepted on the command line: a key file path
comes from ``--key-file`` or ``CUSTREC_KEY_FILE``.

Like ssh, custrec refuses a key file that group or others may read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import re
import stat
from pathlib import Path
from typing import NamedTuple

from custrec import crypto
from custrec.errors import (
    KeyMissingError,
    MalformedKeyFileError,
    UnsafeKeyFileError,
    UsageError,
)
from custrec.render import Summary, Table

KEY_BYTES = 32
KEY_FILE_ENV = "CUSTREC_KEY_FILE"
_MAGIC = "custrec-key v1"
_ID_LABEL = b"custrec key id v1"
_MAX_KEY_FILE_BYTES = 4096


class KeyFile(NamedTuple):
    """A key read from (or written to) a key file."""

    path: Path
    key: bytes
    created: dt.datetime

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def __repr__(self) -> str:  # never show the key itself
        return f"KeyFile(path={str(self.path)!r}, key_id={self.key_id!r})"


class KeyFileInfo(NamedTuple):
    """What ``custrec key show`` reports: everything about a key file but the key."""

    path: str
    key_id: str
    created: dt.datetime
    mode: str
    kind: str = "key"

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "key_id": self.key_id,
            "created": _utc_text(self.created),
            "mode": self.mode,
        }

    def tables(self) -> list[Table]:
        return []

    def summary(self) -> Summary:
        return Summary(
            (
                ("path", self.path),
                ("key id", self.key_id),
                ("created", _utc_text(self.created)),
                ("mode", self.mode),
            )
        )


def key_id(key: bytes) -> str:
    """The public name of a key: 16 hex digits derived from it by HMAC-SHA256."""
    return crypto.hmac_sha256(key, _ID_LABEL).hex()[:16]


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key_file(path: str | Path, *, now: dt.datetime | None = None) -> KeyFile:
    """Create a key file with a fresh random key, readable by its owner only.

    Refuses to overwrite an existing file: losing a key loses the data it protects.
    Missing parent directories are created readable by their owner only (mode 0700),
    as ssh-keygen does for ``~/.ssh``; existing ones are left as they are.
    """
    target = Path(path)
    _make_private_parents(target)
    key = os.urandom(KEY_BYTES)
    created = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    text = (
        f"{_MAGIC}\n"
        f"id: {key_id(key)}\n"
        f"created: {_utc_text(created)}\n"
        f"key: {base64.urlsafe_b64encode(key).decode('ascii').rstrip('=')}\n"
    )
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(
            f"{target} already exists; refusing to overwrite a key file (choose another path)"
        ) from None
    except FileNotFoundError:
        raise UsageError(f"{target}: directory does not exist") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)
    return KeyFile(path=target, key=key, created=created)


def _make_private_parents(target: Path) -> None:
    """Create the missing directories above ``target``, each with mode 0700.

    Written out because ``Path.mkdir(parents=True)`` gives intermediate directories
    the default mode, ignoring ``mode``; the umask can still only remove bits.
    """
    missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # created meanwhile by someone else: use it as it is
            continue
        except OSError as exc:
            raise UsageError(
                f"{target}: cannot create directory {directory} ({exc.strerror})"
            ) from None


def resolve_key_path(path: str | Path | None) -> Path:
    """The key file to use: ``path`` if given, else ``$CUSTREC_KEY_FILE``."""
    chosen = path if path is not None else os.environ.get(KEY_FILE_ENV)
    if not chosen:
        raise KeyMissingError(f"no key given; use --key-file FILE or set {KEY_FILE_ENV}")
    return Path(chosen)


def check_key_file_permissions(path: Path, st: os.stat_result) -> None:
    """Refuse a key file that is not a regular file or that group/others may access."""
    if not stat.S_ISREG(st.st_mode):
        raise MalformedKeyFileError(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        raise UnsafeKeyFileError(
            f"key file {path} is accessible by group or others (mode {mode:04o}); "
            f"restrict it with: chmod 600 {path}"
        )


_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def read_key_file(path: str | Path) -> KeyFile:
    """Read and check a key file. Raises a key error (exit 4) when it is missing,
    readable by others, or not a well-formed custrec key file."""
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise KeyMissingError(f"key file {target} not found") from None
    except PermissionError:
        raise KeyMissingError(f"key file {target}: permission denied") from None
    except OSError as exc:  # a symbolic link (ELOOP) or similar
        raise MalformedKeyFileError(f"key file {target}: cannot open ({exc.strerror})") from None
    try:
        check_key_file_permissions(target, os.fstat(fd))
        raw = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    return _parse_key_file(target, raw)


def _parse_key_file(path: Path, raw: bytes) -> KeyFile:
    def damaged(why: str) -> MalformedKeyFileError:
        return MalformedKeyFileError(f"key file {path} is not a valid custrec key file: {why}")

    if len(raw) > _MAX_KEY_FILE_BYTES:
        raise damaged("too large")
    try:
        lines = raw.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise damaged("not ASCII text") from None
    if not lines or lines[0].strip() != _MAGIC:
        raise damaged(f"first line must be {_MAGIC!r}")
    fields: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise damaged(f"line {number}: expected 'name: value'")
        fields[name.strip()] = value.strip()
    for required in ("id", "created", "key"):
        if required not in fields:
            raise damaged(f"missing {required!r} line")
    encoded = fields["key"]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise damaged("the key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise damaged(f"the key must be {KEY_BYTES} bytes, found {len(key)}")
    if not crypto.equal(key_id(key).encode(), fields["id"].encode()):
        raise damaged("the key does not match its id (the file was altered)")
    try:
        # A strict pattern, then fromisoformat (strptime would load locale modules).
        if not _UTC_TIME.fullmatch(fields["created"]):
            raise ValueError(fields["created"])
        created = dt.datetime.fromisoformat(fields["created"][:-1]).replace(tzinfo=dt.UTC)
    except ValueError:
        raise damaged("'created' must be a UTC time like 2026-11-22T07:00:00Z") from None
    return KeyFile(path=path, key=key, created=created)


def describe_key_file(path: str | Path) -> KeyFileInfo:
    """Read a key file and describe it without the key (for ``custrec key show``)."""
    key_file = read_key_file(path)
    mode = stat.S_IMODE(os.stat(key_file.path).st_mode)
    return KeyFileInfo(
        path=str(key_file.path),
        key_id=key_file.key_id,
        created=key_file.created,
        mode=f"{mode:04o}",
    )
