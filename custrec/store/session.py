"""One open store: its connection, the header as the current transaction read it, the
keys that opened it, and the authenticated manifest of chunk versions.

Every part of an open store (:mod:`~custrec.store.vault`, :mod:`~custrec.store.index`,
:mod:`~custrec.store.guard`, ...) works through one :class:`StoreSession`:
transactions start here, and each one re-reads and authenticates the header and the
top of the manifest, since another process may have changed them.

The manifest authenticates which version of each chunk is current: chunks are grouped
by 256, each group has a MAC over its chunks' metadata, and the manifest MAC covers
the groups. A point read checks the top and its chunk's group; a scan checks all.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from custrec import crypto
from custrec.errors import IntegrityError, UsageError
from custrec.store import keyschedule
from custrec.store.fileformat import (
    GROUP_CHUNKS,
    HEADER_REVISION,
    Header,
    blob,
    database_error,
    int8,
    integer,
    read_header,
    write_header_rows,
)
from custrec.store.holders import find_holder, holder_aad
from custrec.store.keys import KeySource
from custrec.store.keyschedule import MasterKeys

_GROUP_ROW = struct.Struct(">5q")  # chunk_id, generation, key_no, epoch, records


class StoreSession:
    """The shared state of one open store (see the module docstring)."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock_timeout: float) -> None:
        self.path = path
        self.db = db
        self.lock_timeout = lock_timeout
        self.header: Header | None = None
        self.keys: MasterKeys | None = None
        self.index_key = b""
        self.key_id: str | None = None
        self._verified_groups: set[int] = set()
        self._data_version: int | None = None

    def require_header(self) -> Header:
        if self.header is None:
            raise UsageError("the store is not unlocked")
        return self.header

    def require_keys(self) -> MasterKeys:
        if self.keys is None:
            raise UsageError("the store is not unlocked")
        return self.keys

    # -- unlocking and the header -------------------------------------------------------

    def unlock(self, source: KeySource) -> None:
        header = read_header(self.db, self.path)
        slot, secret = find_holder(header, source)
        wrapped = crypto.WrappedKey(bytes(slot["ephemeral"]), bytes(slot["sealed"]))
        master = crypto.unwrap_from_holder(
            secret, wrapped, holder_aad(header.store_id, slot["key_id"])
        )
        self.keys = MasterKeys(master, header.store_id)
        self.verify_header(header)
        self.header = header
        self.key_id = str(slot["key_id"])

    def verify_header(self, header: Header) -> None:
        keys = self.require_keys()
        if not crypto.equal(crypto.mac(keys.header, *header.mac_parts()), header.header_mac):
            self.header = header
            if _manifest_differs(self, header):  # the manifest's own message
                self.verify_top(self.db)
            raise IntegrityError(
                f"{self.path}: the store header failed its integrity check"
                f"{_header_hint(self.db, header)}: it was altered"
            )
        index_key = keyschedule.open_value(keys, header, "index_key", "the index key")
        if index_key is None:
            raise IntegrityError(f"{self.path}: the store header lacks its index key")
        self.index_key = index_key

    def write_header(self, db: sqlite3.Connection, header: Header | None = None) -> None:
        """Authenticate ``header`` (default: the current one) and write its rows. A
        revision-1 header is written as the current revision."""
        chosen = header or self.require_header()
        chosen.revision = HEADER_REVISION
        chosen.header_mac = crypto.mac(self.require_keys().header, *chosen.mac_parts())
        write_header_rows(db, chosen)
        self.header = chosen

    # -- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(
        self, write: bool, *, check: bool = True, manifest: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """A read snapshot or a write transaction. With ``check`` the header is re-read
        and authenticated at its start, and with ``manifest`` the top of the manifest
        too; chunk groups are checked once each, before they are read or changed (see
        :meth:`ensure_group`). ``check=False`` is for transactions that touch neither
        the header nor any chunk."""
        try:
            self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise database_error(exc, self.path, self.lock_timeout) from None
        try:
            if check:
                self.header = read_header(self.db, self.path)
                # Groups checked earlier stay checked while no other connection has
                # committed (our own writes keep their MACs current).
                version = self.db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._verified_groups = set()
                    self._data_version = version
                self.verify_header(self.header)
                if manifest:
                    self.verify_top(self.db)
            yield self.db
        except sqlite3.DatabaseError as exc:
            self.rollback()
            raise database_error(exc, self.path, self.lock_timeout) from None
        except BaseException:
            self.rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.rollback()
            raise database_error(exc, self.path, self.lock_timeout) from None

    def rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")

    @contextlib.contextmanager
    def relaxed_sync(self) -> Iterator[None]:
        """Commit without waiting for the disk (kept across a killed process; a power
        failure may lose it). For audit entries that need no durability of their own."""
        self.db.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous = FULL")

    # -- the manifest ---------------------------------------------------------------------

    def group_mac(self, db: sqlite3.Connection, group_id: int) -> bytes | None:
        header = self.require_header()
        rows = db.execute(
            "SELECT chunk_id, generation, key_no, epoch, records FROM chunks "
            "WHERE chunk_id >= ? AND chunk_id < ? ORDER BY chunk_id",
            (group_id * GROUP_CHUNKS, (group_id + 1) * GROUP_CHUNKS),
        ).fetchall()
        if not rows:
            return None
        parts = [header.store_id, b"group", int8(group_id)]
        try:
            parts += [_GROUP_ROW.pack(*row) for row in rows]
        except struct.error:
            raise IntegrityError(
                f"{self.path}: chunk metadata is damaged or was altered (not an integer)"
            ) from None
        return crypto.mac(self.require_keys().manifest, *parts)

    def top_mac(self, db: sqlite3.Connection) -> bytes:
        header = self.require_header()
        rows = db.execute("SELECT group_id, mac FROM chunk_groups ORDER BY group_id").fetchall()
        parts = [header.store_id, b"top", int8(len(rows))]
        parts += [int8(group_id) + blob(mac) for group_id, mac in rows]
        return crypto.mac(self.require_keys().manifest, *parts)

    def verify_top(self, db: sqlite3.Connection) -> None:
        if not crypto.equal(self.top_mac(db), self.require_header().manifest_mac):
            raise IntegrityError(
                f"{self.path}: the chunk manifest failed its integrity check: chunks were "
                "added, removed or rolled back"
            )

    def ensure_group(self, db: sqlite3.Connection, group_id: int) -> None:
        """Check a chunk group's MAC, once per transaction and before any change to the
        group (so a change never re-authenticates altered metadata)."""
        if group_id in self._verified_groups:
            return
        row = db.execute("SELECT mac FROM chunk_groups WHERE group_id = ?", (group_id,)).fetchone()
        actual = self.group_mac(db, group_id)
        if row is None and actual is None:  # a group that does not exist yet
            self._verified_groups.add(group_id)
            return
        if row is None or actual is None or not crypto.equal(actual, blob(row[0])):
            raise IntegrityError(
                f"{self.path}: chunk group {group_id} failed its integrity check: chunks "
                "were swapped, removed or rolled back"
            )
        self._verified_groups.add(group_id)

    def ensure_all_groups(self, db: sqlite3.Connection) -> None:
        for (group_id,) in db.execute("SELECT group_id FROM chunk_groups").fetchall():
            self.ensure_group(db, integer(group_id))
        orphans = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE chunk_id / ? NOT IN "
            "(SELECT group_id FROM chunk_groups)",
            (GROUP_CHUNKS,),
        ).fetchone()[0]
        if orphans:
            raise IntegrityError(
                f"{self.path}: {orphans} chunks are outside the manifest: chunks were added"
            )

    def update_manifest(self, db: sqlite3.Connection, groups: Iterable[int]) -> None:
        """Re-authenticate the changed ``groups`` and the top, and write the header."""
        for group_id in sorted(set(groups)):
            mac = self.group_mac(db, group_id)
            if mac is None:
                db.execute("DELETE FROM chunk_groups WHERE group_id = ?", (group_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO chunk_groups (group_id, mac) VALUES (?, ?)",
                    (group_id, mac),
                )
        header = self.require_header()
        header.manifest_mac = self.top_mac(db)
        self.write_header(db, header)

    def all_groups(self, db: sqlite3.Connection) -> list[int]:
        return [int(r[0]) for r in db.execute("SELECT group_id FROM chunk_groups")]


def _manifest_differs(session: StoreSession, header: Header) -> bool:
    try:
        return not crypto.equal(session.top_mac(session.db), header.manifest_mac)
    except (sqlite3.Error, IntegrityError):
        return False


def _header_hint(db: sqlite3.Connection, header: Header) -> str:
    """Which part of a header that failed its check looks altered, where that can be
    told without the key (for the message only)."""
    if header.revision >= 2 and header.audit_head is None:
        return " (the audit trail's head was removed)"
    try:
        entries = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    except sqlite3.Error:
        return ""
    if header.audit_head is not None and len(header.audit_head) >= 8:
        head_seq = int.from_bytes(header.audit_head[:8], "big", signed=True)
        if head_seq != entries:
            return " (the audit trail and its head disagree)"
    if header.revision < 2 and entries > 1:
        return " (its revision was rolled back)"
    return ""
