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
from custrec.errors import InputError, IntegrityError, StoreBusyError, UsageError
from custrec.store import keyschedule
from custrec.store.fileformat import (
    FORMAT_VERSION,
    GROUP_CHUNKS,
    HEADER_REVISION,
    Header,
    blob,
    database_error,
    int8,
    integer,
    read_header,
    used_data_keys,
    write_header_rows,
)
from custrec.store.holders import find_holder, holder_aad
from custrec.store.keys import KeySource
from custrec.store.keyschedule import MasterKeys
from custrec.store.keystore import KeyStore, data_key_aad
from custrec.store.keystore import mac_key as keystore_mac_key

_SNAPSHOT_TRIES = 20
"""Read snapshots taken again while a writer is between its two commits (key store,
then data file): each try waits for one writer's single commit."""

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
        self.keystore: KeyStore | None = None
        self.keystore_keys = keyschedule.KeystoreKeys({})
        """The key store keys (KSK), by number and chunk part."""
        self.match_keys: dict[int, bytes] = {}
        """Format 3: the blind-index key of each chunk part's match fields."""
        self._keys_changed = False
        self._settle_after = False

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

    def open_keystore(self) -> None:
        """After unlocking a format-2 store: open its key store (exit 4 when it is
        missing, of another store or altered)."""
        header = self.require_header()
        if header.format >= 2 and self.keystore is None:
            self.keystore = KeyStore.open(
                self.path,
                header.store_id,
                keystore_mac_key(self.index_key, header.store_id),
                self.lock_timeout,
            )

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
        self.open_header_keys(header)

    def open_header_keys(self, header: Header) -> None:
        """The keys sealed in ``header`` (index key, key store keys, match keys), opened."""
        keys = self.require_keys()
        index_key = keyschedule.open_value(keys, header, "index_key", "the index key")
        if index_key is None:
            raise IntegrityError(f"{self.path}: the store header lacks its index key")
        self.index_key = index_key
        if header.format >= 2:
            packed = keyschedule.open_value(keys, header, "keystore_keys", "the key store keys")
            if not packed:
                raise IntegrityError(f"{self.path}: the store header lacks its key store keys")
            self.keystore_keys = keyschedule.KeystoreKeys.unpack(packed, header.format)
        if header.format >= 3:
            self.match_keys = keyschedule.open_match_keys(keys, header)

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
        the header nor any chunk.

        In a format-2 store a read takes the key store's snapshot before the data
        file's (see :class:`~custrec.store.keystore.KeyStore`); a write commits new data
        keys to the key store just before the data file, and destroys the keys it
        retired just after."""
        if self.keystore is not None and check and not write:
            with self.keystore.read_snapshot() as generation:
                first = generation
                for _ in range(_SNAPSHOT_TRIES):
                    self._begin(write)
                    if self._start(check, manifest, generation):
                        break
                    self.rollback()
                    generation = self.keystore.restart_read()
                else:
                    if generation == first:  # not a writer's: the key store is behind
                        raise self._generation_error(self.require_header().generation, first)
                    raise StoreBusyError(  # writers kept committing between the snapshots
                        f"store {self.path} is busy: other processes kept writing while "
                        f"this read took its snapshots ({_SNAPSHOT_TRIES} tries); try again"
                    )
                with self._guarded():
                    yield self.db
                self._commit()
            return
        self._begin(write)
        with self._guarded():
            self._start(check, manifest, None)
            if write and check and self.keystore is not None:
                self._settle_keys(self.db)
            yield self.db
            if self.keystore is not None and (self.keystore.writing or self._keys_changed):
                self.write_header(self.db)
                self.keystore.commit_new(self.require_header().generation)
        self._commit()
        if self._settle_after:
            self._settle_after = False
            # Destroys the retired keys (see _settle_keys). The change has committed:
            # when this cannot run now (another writer holds the lock), the next
            # command's first write does it, and an erasure's scrub reports it pending.
            with (
                contextlib.suppress(StoreBusyError),
                self.relaxed_sync(),
                self.transaction(write=True, manifest=False),
            ):
                pass

    def _commit(self) -> None:
        try:
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.rollback()
            raise database_error(exc, self.path, self.lock_timeout) from None
        finally:
            self._keys_changed = False

    def _begin(self, write: bool) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise database_error(exc, self.path, self.lock_timeout) from None

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            self.rollback()
            raise database_error(exc, self.path, self.lock_timeout) from None
        except BaseException:
            self.rollback()
            raise

    def _start(self, check: bool, manifest: bool, key_generation: int | None) -> bool:
        """Read and check the header; False when a read must be taken again (the data
        file is a generation ahead of the key store's snapshot)."""
        if not check:
            return True
        try:
            self.header = read_header(self.db, self.path)
            if key_generation is not None and self.header.generation > key_generation:
                return False
            # Groups checked earlier stay checked while no other connection has
            # committed (our own writes keep their MACs current).
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._verified_groups = set()
                self._data_version = version
            self.verify_header(self.header)
            if key_generation is not None and key_generation > self.header.generation + 1:
                raise self._generation_error(self.header.generation, key_generation)
            if manifest:
                self.verify_top(self.db)
        except BaseException:
            self.rollback()
            raise
        return True

    def _generation_error(self, data: int, keys: int) -> IntegrityError:
        if data > keys:
            return IntegrityError(
                f"{self.path}: the key store is older than the data file (generation "
                f"{keys}, the data file's {data}): it was put back from an older backup; "
                "put back the key store taken together with this data file"
            )
        return IntegrityError(
            f"{self.path}: the data file is older than its key store (generation {data}, "
            f"the key store's {keys}): the data file was put back from an older backup; "
            "records changed since are unreadable. Put back the key store taken together "
            'with it (docs/rights.md, "Backups")'
        )

    def _settle_keys(self, db: sqlite3.Connection) -> None:
        """At the start of a write (holding the data file's lock): finish what a killed
        process or the last transaction left to the key store. Keys of a key-store
        commit whose data file commit never came are removed; keys the data file
        retired are destroyed; keys sealed under a replaced key store key are sealed
        again under the current one, and the replaced key store key is dropped."""
        keystore = self.keystore
        assert keystore is not None
        header = self.require_header()
        generation, pending = keystore.state()
        if pending and generation == header.generation + 1:
            # A change committed its keys here and was killed before the data file's
            # commit: its keys are used by no chunk (swept below), its generation undone.
            generation = header.generation
        if generation != header.generation:
            raise self._generation_error(header.generation, generation)
        retired = [int(r[0]) for r in db.execute("SELECT key_no FROM pending_destroy")]
        if pending:  # keys of a killed change, or of a lost unsynced finish
            used = used_data_keys(db, header.format)
            retired = sorted(set(retired) | (keystore.key_numbers() - used))
        if retired or pending:
            keystore.finish(generation, retired)
            db.execute("DELETE FROM pending_destroy")
        ksks = self.keystore_keys
        currents = ksks.currents()
        if len(ksks.keys) > len(currents):
            resealed = []
            for no, ksk, sealed in keystore.rows():
                if ksk in currents:
                    continue
                data_key = self.open_data_key(no, ksk, sealed)  # an unknown ksk fails here
                target = ksks.current(ksks.part_of(ksk))
                resealed.append((no, target, self.seal_data_key(no, data_key, target)))
            keystore.reseal(resealed)
            keystore.commit_new(header.generation, pending=False)
            ksks.keep_current()
            self._seal_keystore_keys(header)
            self._keys_changed = True

    # -- data keys --------------------------------------------------------------------------

    def settle_if_needed(self) -> None:
        """At open: finish what a killed process left to the key store (see
        :meth:`_settle_keys`), taking the write lock only when there is something."""
        if self.keystore is None:
            return
        with self.transaction(write=False, manifest=False) as db:
            retired = db.execute("SELECT 1 FROM pending_destroy LIMIT 1").fetchone()
            generation, pending = self.keystore.state()
            needed = (
                retired is not None
                or pending
                or generation != self.require_header().generation
                or len(self.keystore_keys.keys) > len(self.keystore_keys.currents())
            )
        if needed:
            with self.relaxed_sync(), self.transaction(write=True, manifest=False):
                pass

    def checkpoint_keystore(self) -> bool:
        """After an erasure: whether every retired data key is destroyed and the key
        store's journal emptied."""
        if self.keystore is None:
            return True
        retired = self.db.execute("SELECT 1 FROM pending_destroy LIMIT 1").fetchone()
        return retired is None and self.keystore.checkpoint()

    def require_current_format(self) -> None:
        """Refuse a change to a store of an older format (exit 3)."""
        if self.require_header().format != FORMAT_VERSION:
            raise InputError(
                str(self.path),
                f"store format {self.require_header().format} must be migrated before it "
                f"can be changed: run `custrec migrate {self.path}` (get and export read it "
                "as it is)",
            )

    def data_key(self, db: sqlite3.Connection, key_no: int) -> bytes:
        """The data key ``key_no``, opened."""
        if self.keystore is None:
            row = db.execute("SELECT sealed FROM data_keys WHERE key_no = ?", (key_no,)).fetchone()
            if row is None:
                raise IntegrityError(
                    f"{self.path}: data key {key_no} is missing: the store was altered or damaged"
                )
            header = self.require_header()
            return keyschedule.open_data_key(
                self.require_keys(), header.store_id, key_no, bytes(row[0])
            )
        found = self.keystore.sealed(key_no)
        if found is None:
            raise IntegrityError(
                f"{self.path}: data key {key_no} is missing from the key store: it was "
                "destroyed (the data file is older than its key store) or the key store was "
                "altered"
            )
        return self.open_data_key(key_no, *found)

    def open_data_key(self, key_no: int, ksk_no: int, sealed: bytes) -> bytes:
        ksk = self.keystore_keys.key(ksk_no)
        if ksk is None:
            raise IntegrityError(
                f"{self.path}: data key {key_no} is sealed under a key store key this data "
                "file does not have: the key store belongs to another copy of the store"
            )
        aad = data_key_aad(self.require_header().store_id, key_no, ksk_no)
        return crypto.open_sealed(ksk, sealed, aad, f"data key {key_no}")

    def seal_data_key(self, key_no: int, data_key: bytes, ksk_no: int) -> bytes:
        aad = data_key_aad(self.require_header().store_id, key_no, ksk_no)
        ksk = self.keystore_keys.key(ksk_no)
        assert ksk is not None
        return crypto.seal(ksk, data_key, aad)

    def match_key(self, field_name: str) -> bytes:
        """The key of ``field_name``'s match tokens: in format 3, its field group's own
        (a holder without the group cannot compute or read them); before, the index key."""
        header = self.require_header()
        if header.format >= 3:
            return self.match_keys[header.part_of(field_name)]
        return self.index_key

    def new_data_key(self, data_key: bytes, part: int = 0) -> int:
        """Add ``data_key`` (of chunk part ``part``) to the key store, sealed under that
        part's current key store key (committed just before the data file); its number.
        Moves the data file's generation on, once per transaction."""
        self.require_current_format()
        keystore = self.keystore
        assert keystore is not None
        header = self.require_header()
        if not keystore.writing:
            header.generation += 1
            self._settle_after = True  # clears the key store's pending mark
        ksk_no = self.keystore_keys.current(part)
        return keystore.add(ksk_no, lambda no: self.seal_data_key(no, data_key, ksk_no))

    def retire_data_key(self, db: sqlite3.Connection, key_no: int) -> None:
        """Destroy data key ``key_no`` once this transaction has committed."""
        self.require_current_format()
        db.execute("INSERT OR IGNORE INTO pending_destroy (key_no) VALUES (?)", (key_no,))
        self._settle_after = True

    def replace_keystore_key(self) -> None:
        """A new key store key for the data keys (with the master key's replacement):
        the current transaction adds it; the next one re-seals the key store under it
        and drops the old one (see :meth:`_settle_keys`)."""
        if self.keystore is None:
            return
        header = self.require_header()
        self.keystore_keys.replace_all()
        self._seal_keystore_keys(header)
        self._settle_after = True

    def _seal_keystore_keys(self, header: Header) -> None:
        keyschedule.seal_value(
            self.require_keys(),
            header,
            "keystore_keys",
            self.keystore_keys.pack(header.format),
        )

    def rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")
        if self.keystore is not None:
            self.keystore.rollback()
        self._settle_after = False
        self._keys_changed = False

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
