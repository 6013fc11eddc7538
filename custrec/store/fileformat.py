"""The store file: its SQLite layout, its header rows, and opening the file.

A store is one SQLite database (``docs/format.md``). This module owns what a reader
needs before any key is used: the table definitions, the header (settings, columns,
sealed values, MACs) and how it is read back and checked for form, the parts the
header MAC covers, and the connection settings (WAL, full sync, zeroed free pages).
It also turns SQLite's and the file system's errors into custrec's: a busy store
(exit 5), a full disk (exit 7), a damaged or truncated file (exit 4).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from custrec import audit
from custrec.errors import (
    InputError,
    IntegrityError,
    NoSpaceError,
    StoreBusyError,
    UsageError,
)
from custrec.protected import SQLITE_MAGIC, STORE_APPLICATION_ID
from custrec.store.holders import read_holders
from custrec.types import COLUMN_TYPES

FORMAT_VERSION = 3
"""The format new stores are written in: format 2 keeps the data keys in a key store
beside the data file (:mod:`custrec.store.keystore`); format 3 seals each field group
of a chunk apart, under data keys of its own group (``chunk_parts``)."""
READABLE_FORMATS = (1, 2, 3)
"""Formats a reader opens; a store of an older format is read, and changed only by
``migrate``."""
HEADER_REVISION = 2
"""Revision 2 of the format-1 header: its MAC also covers the manifest MAC and the
audit head, so neither can be rolled back or removed on its own. A revision-1 header
(no ``revision`` row) is read as before and upgraded by the next write."""
APPLICATION_ID = STORE_APPLICATION_ID  # "crec"
MAGIC = b"CUSTREC-STORE"
GROUP_CHUNKS = 256
DEFAULT_CHUNK_RECORDS = 1024

CHUNK_PARTS_TABLE = """
CREATE TABLE chunk_parts (
    chunk_id INTEGER NOT NULL, part INTEGER NOT NULL, key_no INTEGER NOT NULL,
    payload BLOB NOT NULL, PRIMARY KEY (chunk_id, part)
);
"""
"""Format 3's chunk parts (created by the migration from format 2 too)."""
INDEX_TABLES = """
CREATE TABLE id_index (token BLOB PRIMARY KEY, chunk_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX id_index_chunk ON id_index (chunk_id);
CREATE TABLE match_index (
    field TEXT NOT NULL, token BLOB NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (field, token, record)
) WITHOUT ROWID;
CREATE INDEX match_index_record ON match_index (record);
"""
"""The blind indexes (:mod:`custrec.store.index`)."""

SCHEMA = (
    """
CREATE TABLE header (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE holders (
    key_id TEXT PRIMARY KEY, kind TEXT NOT NULL, public_key BLOB NOT NULL,
    kdf TEXT NOT NULL, salt BLOB NOT NULL, ephemeral BLOB NOT NULL, sealed BLOB NOT NULL,
    added_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE pending_destroy (key_no INTEGER PRIMARY KEY);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, key_no INTEGER NOT NULL,
    epoch INTEGER NOT NULL, records INTEGER NOT NULL
);
CREATE TABLE chunk_groups (group_id INTEGER PRIMARY KEY, mac BLOB NOT NULL);
"""
    + CHUNK_PARTS_TABLE
    + INDEX_TABLES
    + audit.SCHEMA
)


class StoreSettings(NamedTuple):
    id_field: str = "customer_id"
    match_fields: tuple[str, ...] = ("email", "phone")
    region: str | None = None
    chunk_records: int = DEFAULT_CHUNK_RECORDS
    schema: str | None = None
    """The record schema (YAML, ``docs/schema.md``) the store checks records against."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id_field": self.id_field,
            "match_fields": list(self.match_fields),
            "region": self.region,
            "chunk_records": self.chunk_records,
        }
        if self.schema is not None:
            out["schema"] = self.schema
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreSettings:
        return cls(
            id_field=str(data["id_field"]),
            match_fields=tuple(str(f) for f in data["match_fields"]),
            region=data.get("region"),
            chunk_records=int(data["chunk_records"]),
            schema=data.get("schema"),
        )


# --- values as stored --------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def int8(value: int) -> bytes:
    return integer(value).to_bytes(8, "big", signed=True)


def integer(value: object) -> int:
    """An integer read from the file; anything else means the metadata was altered."""
    if type(value) is not int:
        raise IntegrityError("store metadata is damaged or was altered (not an integer)")
    return value


def blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise IntegrityError("store metadata is damaged or was altered (not a byte string)")
    return value


def used_data_keys(db: sqlite3.Connection, file_format: int) -> set[int]:
    """The numbers of the data keys the chunks use (format 3: every part's)."""
    used = {integer(r[0]) for r in db.execute("SELECT key_no FROM chunks")}
    if file_format >= 3:
        used |= {integer(r[0]) for r in db.execute("SELECT key_no FROM chunk_parts")}
    return used


# --- the header --------------------------------------------------------------------


class Header:
    """The store's header rows, as read from or written to the ``header`` table.

    ``sealed`` holds the values sealed under the master key's wrap key, by header
    row name (``index_key`` always, ``states`` once a record had a state); the key
    schedule (:mod:`custrec.store.keyschedule`) lists them. ``audit_head`` is the
    audit trail's head row (``int8(seq) || hash || mac``), None in an empty trail."""

    __slots__ = (
        "audit_head",
        "columns",
        "created_at",
        "epoch",
        "format",
        "generation",
        "groups",
        "header_mac",
        "holders",
        "manifest_mac",
        "revision",
        "scrub_pending",
        "sealed",
        "settings",
        "store_id",
    )

    def __init__(
        self,
        store_id: bytes,
        created_at: str,
        settings: StoreSettings,
        columns: list[tuple[str, str]],
        epoch: int,
        sealed: dict[str, bytes],
        header_mac: bytes = b"",
        manifest_mac: bytes = b"",
        holders: list[dict[str, Any]] | None = None,
        revision: int = HEADER_REVISION,
        audit_head: bytes | None = None,
        scrub_pending: bool = False,
        format: int = FORMAT_VERSION,
        generation: int = 0,
        groups: list[tuple[str, tuple[str, ...]]] | None = None,
    ) -> None:
        self.store_id = store_id
        self.created_at = created_at
        self.settings = settings
        self.columns = columns
        self.epoch = epoch
        self.sealed = sealed
        self.header_mac = header_mac
        self.manifest_mac = manifest_mac
        self.holders = holders if holders is not None else []
        self.revision = revision
        self.audit_head = audit_head
        self.scrub_pending = scrub_pending
        self.format = format
        self.generation = generation
        self.groups = groups if groups is not None else []
        """Format 3: the field groups, each sealed as one part of every chunk: (name,
        the columns it names). A column no group names is in the id field's group."""

    def part_of(self, column: str) -> int:
        """The part (index in :attr:`groups`) a column is sealed in; 0 before format 3."""
        home = 0
        for number, (_, names) in enumerate(self.groups):
            if column in names:
                return number
            if self.settings.id_field in names:
                home = number
        return home

    def groups_json(self) -> bytes:
        return canonical_json([[name, list(names)] for name, names in self.groups])

    def column_types(self) -> dict[str, str]:
        return dict(self.columns)

    def settings_json(self) -> bytes:
        return canonical_json(self.settings.to_json())

    def columns_json(self) -> bytes:
        return canonical_json(self.columns)

    def mac_parts(self) -> list[bytes]:
        """What the header MAC covers (``docs/format.md``, "Authentication")."""
        parts = [
            MAGIC,
            int8(self.format),
            self.store_id,
            self.created_at.encode(),
            self.settings_json(),
            self.columns_json(),
            int8(self.epoch),
            self.sealed["index_key"],
        ]
        for holder in self.holders:
            parts += [
                str(holder["key_id"]).encode(),
                str(holder["kind"]).encode(),
                bytes(holder["public_key"]),
                str(holder["kdf"]).encode(),
                bytes(holder["salt"]),
                bytes(holder["ephemeral"]),
                bytes(holder["sealed"]),
                str(holder["added_at"]).encode(),
            ]
        if "states" in self.sealed:  # absent from stores that never had one
            parts += [b"states", self.sealed["states"]]
        if self.revision >= 2:
            parts += [
                b"revision",
                int8(self.revision),
                b"manifest",
                self.manifest_mac,
                b"audit",
                self.audit_head or b"",
            ]
        if self.format >= 2:
            parts += [
                b"keystore",
                self.sealed["keystore_keys"],
                b"generation",
                int8(self.generation),
            ]
        if self.format >= 3:
            parts += [b"groups", self.groups_json(), b"match_keys", self.sealed["match_keys"]]
        return parts

    def rows(self) -> dict[str, bytes]:
        """The header rows a write sets (the fixed ones are written once, at creation)."""
        rows = {
            "columns": self.columns_json(),
            "epoch": str(self.epoch).encode(),
            "settings": self.settings_json(),
            "header_mac": self.header_mac,
            "manifest_mac": self.manifest_mac,
            "revision": str(self.revision).encode(),
            "format": str(self.format).encode(),
            **self.sealed,
        }
        if self.format >= 2:
            rows["generation"] = str(self.generation).encode()
        if self.format >= 3:
            rows["groups"] = self.groups_json()
        return rows


def read_header(db: sqlite3.Connection, path: Path) -> Header:
    """The header as stored, checked for form (not yet for authenticity)."""
    try:
        values = {str(k): bytes(v) for k, v in db.execute("SELECT name, value FROM header")}
        holders = read_holders(db)
    except sqlite3.DatabaseError as exc:
        raise database_error(exc, path) from None
    try:
        file_format = int(values["format"])
        if (
            values["magic"] != MAGIC
            or file_format not in READABLE_FORMATS
            or file_format != db.execute("PRAGMA user_version").fetchone()[0]
        ):
            raise ValueError("magic")
        sealed = {"index_key": values["index_key"]}
        if "states" in values:
            sealed["states"] = values["states"]
        if file_format >= 2:
            sealed["keystore_keys"] = values["keystore_keys"]
        groups: list[tuple[str, tuple[str, ...]]] = []
        if file_format >= 3:
            sealed["match_keys"] = values["match_keys"]
            groups = [
                (str(name), tuple(str(n) for n in names))
                for name, names in json.loads(values["groups"])
            ]
        header = Header(
            store_id=values["store_id"],
            created_at=values["created_at"].decode(),
            settings=StoreSettings.from_json(json.loads(values["settings"])),
            columns=[(str(n), str(t)) for n, t in json.loads(values["columns"])],
            epoch=int(values["epoch"].decode("ascii")),
            sealed=sealed,
            header_mac=values["header_mac"],
            manifest_mac=values["manifest_mac"],
            holders=holders,
            revision=int(values.get("revision", b"1").decode("ascii")),
            audit_head=values.get(audit.HEAD_NAME),
            scrub_pending=SCRUB_PENDING in values,
            format=file_format,
            generation=int(values["generation"].decode("ascii")) if file_format >= 2 else 0,
            groups=groups,
        )
        if (
            (file_format >= 3 and (not groups or header.groups_json() != values["groups"]))
            or header.settings_json() != values["settings"]
            or header.columns_json() != values["columns"]
            or header.revision not in (1, HEADER_REVISION)
        ):
            raise ValueError("not in canonical form")
        return header
    except (KeyError, ValueError, TypeError) as exc:
        raise IntegrityError(
            f"{path}: the store header is damaged or was altered ({type(exc).__name__})"
        ) from None


SCRUB_PENDING = "scrub_pending"
"""Header row present while an erasure's journal scrub waits for readers to finish."""


def write_header_rows(db: sqlite3.Connection, header: Header) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO header (name, value) VALUES (?, ?)", list(header.rows().items())
    )


def initial_columns(
    id_field: str, columns: Sequence[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    chosen = list(columns or [(id_field, "string")])
    if chosen[0] != (id_field, "string"):
        raise UsageError(f"the first column must be the id field {id_field} (text)")
    for name, kind in chosen:
        if kind not in COLUMN_TYPES or not name or name.startswith("_"):
            raise UsageError(f"column {name!r} of type {kind!r} is not allowed")
    if len({name for name, _ in chosen}) != len(chosen):
        raise UsageError("a column is declared twice")
    return chosen


# --- the file ----------------------------------------------------------------------


def companion_paths(path: Path) -> list[Path]:
    """SQLite's journal files beside a store."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


@contextlib.contextmanager
def new_file_beside(target: Path) -> Iterator[Path]:
    """A new, empty file (mode 0600, whatever the umask) beside ``target``, for a
    database built there and renamed over ``target`` when complete; removed when the
    block fails (an SQLite error becomes custrec's)."""
    temp = target.with_name(f".{target.name}.creating-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()  # left by a process of the same pid that was killed
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    try:
        yield temp
    except sqlite3.DatabaseError as exc:
        temp.unlink(missing_ok=True)
        raise database_error(exc, target) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def put_in_place(temp: Path, target: Path) -> None:
    """The complete file ``temp`` (from :func:`new_file_beside`) synced and renamed
    over ``target``, and the rename synced."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def connect(path: Path, lock_timeout: float) -> sqlite3.Connection:
    """A connection to the store at ``path``, checked to be a custrec store of this
    format, in WAL mode with full sync and zeroed free pages."""
    if not path.exists():
        raise InputError(str(path), "no such store")
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the store ({exc.strerror})") from None
    if not head:
        raise IntegrityError(f"{path}: the store file is empty (truncated)")
    if not (head.startswith(SQLITE_MAGIC) or SQLITE_MAGIC.startswith(head)):
        raise InputError(str(path), "not a custrec store")
    if len(head) < 100:
        raise IntegrityError(f"{path}: the store file is truncated ({len(head)} bytes)")
    if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        raise InputError(str(path), "not a custrec store (an SQLite database of another kind)")
    try:
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=lock_timeout,
        )
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise database_error(exc, path) from None
    if version not in READABLE_FORMATS:
        db.close()
        raise InputError(
            str(path),
            f"store format {version} is not supported (this custrec reads "
            f"formats {', '.join(map(str, READABLE_FORMATS))}); upgrade custrec",
        )
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA cache_size = -65536")  # KiB: bulk writes keep index pages in memory
        db.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise database_error(exc, path, lock_timeout) from None
    return db


_LOW_SPACE_BYTES = 1 << 20
"""Below this much free space, an I/O error is taken for a full disk."""


def disk_is_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has (nearly) no space left for us."""
    try:
        stats = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _LOW_SPACE_BYTES or stats.f_favail == 0


def no_space(path: Path) -> NoSpaceError:
    return NoSpaceError(
        f"{path}: the disk is full: nothing was changed; free some space and run the command again"
    )


def database_error(
    exc: sqlite3.DatabaseError, path: Path, timeout: float | None = None
) -> StoreBusyError | IntegrityError | NoSpaceError:
    """The custrec error an SQLite error stands for."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    if timeout is not None and ("locked" in text or "busy" in text):
        return StoreBusyError(
            f"store {path} is busy: another custrec process is writing to it "
            f"(waited {timeout:g} s); try again later or raise --lock-timeout"
        )
    if name == "SQLITE_FULL" or "disk is full" in text:
        return no_space(path)
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        if disk_is_full(path):
            return no_space(path)
        return IntegrityError(f"{path}: the store file could not be read or written ({text})")
    return IntegrityError(f"{path}: the store file is damaged or truncated ({text})")


def os_error(exc: OSError, path: Path) -> NoSpaceError | InputError:
    """The custrec error a file-system error on a store's companion file stands for."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(path)
    return InputError(str(path), f"cannot write ({exc.strerror})")
