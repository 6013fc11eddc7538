"""The encrypted record store: one SQLite file holding encrypted chunks of records.

Layout and cryptography are specified in ``docs/format.md``. In short:

- SQLite (WAL mode, FULL sync) is the container: every change is one transaction, so
  a process killed at any instant leaves the old or the new state, and concurrent
  writers queue on SQLite's lock (``--lock-timeout``, then exit 5);
- records live in *chunks* of at most ``chunk_records`` records, each an Arrow IPC
  stream sealed with AES-256-GCM under a fresh data key (DEK) per chunk version. A point
  read decrypts one chunk; a point update re-encrypts one chunk; a scan streams chunks;
- ids, emails and phone numbers are found through *blind indexes* (keyed HMAC tokens);
- a master key (MK), wrapped to each key holder with X25519, seals the DEKs and the
  index key, and authenticates the header and a two-level manifest of chunk versions
  (so that swapping, dropping or rolling back chunks is detected).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from custrec import audit, crypto
from custrec.errors import (
    CheckFailedError,
    CustrecError,
    ExitCode,
    InputError,
    IntegrityError,
    NotFoundError,
    StoreBusyError,
    UsageError,
)
from custrec.locking import DEFAULT_LOCK_TIMEOUT
from custrec.store import chunkcodec, packed, states
from custrec.store.holders import (
    Holder,
    find_holder,
    holder_aad,
    insert_slot,
    new_slot,
    read_holders,
    utc_now,
)
from custrec.store.keys import KeySource
from custrec.store.normalise import (
    COUNTRY_FIELD,
    is_phone_field,
    normalise_match_value,
    record_region,
    text_words,
    words_match,
)
from custrec.store.records import (
    COLLECTED_COLUMN,
    SOURCE_COLUMN,
    SYSTEM_COLUMNS,
    VERSION_COLUMN,
    Record,
    Value,
    by_id,
    check_types,
    clean_record,
    infer_type,
    to_record,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from custrec.audit_read import AuditEntries, AuditQuery, AuditVerification
    from custrec.store import ingest as bulk

FORMAT_VERSION = 1
APPLICATION_ID = 0x63726563  # "crec"
MAGIC = b"CUSTREC-STORE"
GROUP_CHUNKS = 256
_GROUP_ROW = struct.Struct(">5q")  # chunk_id, generation, key_no, epoch, records
DEFAULT_CHUNK_RECORDS = 1024
_PACKED_LOOKUP = 64
"""Above this many ids, the id index is asked in one packed statement."""
COLUMN_TYPES = ("string", "int64", "float64", "bool")
_ARROW_KINDS = {"string": "string", "int64": "int64", "double": "float64", "bool": "bool"}


_SCHEMA = (
    """
CREATE TABLE header (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE holders (
    key_id TEXT PRIMARY KEY, kind TEXT NOT NULL, public_key BLOB NOT NULL,
    kdf TEXT NOT NULL, salt BLOB NOT NULL, ephemeral BLOB NOT NULL, sealed BLOB NOT NULL,
    added_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE data_keys (key_no INTEGER PRIMARY KEY AUTOINCREMENT, sealed BLOB NOT NULL);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, key_no INTEGER NOT NULL,
    epoch INTEGER NOT NULL, records INTEGER NOT NULL
);
CREATE TABLE chunk_payloads (chunk_id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE chunk_groups (group_id INTEGER PRIMARY KEY, mac BLOB NOT NULL);
CREATE TABLE id_index (token BLOB PRIMARY KEY, chunk_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX id_index_chunk ON id_index (chunk_id);
CREATE TABLE match_index (
    field TEXT NOT NULL, token BLOB NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (field, token, record)
) WITHOUT ROWID;
CREATE INDEX match_index_record ON match_index (record);
"""
    + audit.SCHEMA
)


# --- results -----------------------------------------------------------------------

# Named tuples and plain classes rather than dataclasses: building a dataclass at
# import takes several times longer, and every command that opens a store imports them.


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


class WriteResult:
    """What a write did: records inserted, replaced and deleted, chunks written."""

    __slots__ = ("chunks_written", "deleted", "inserted", "replaced")

    def __init__(
        self, inserted: int = 0, replaced: int = 0, deleted: int = 0, chunks_written: int = 0
    ) -> None:
        self.inserted = inserted
        self.replaced = replaced
        self.deleted = deleted
        self.chunks_written = chunks_written

    def _values(self) -> tuple[int, int, int, int]:
        return (self.inserted, self.replaced, self.deleted, self.chunks_written)

    def __repr__(self) -> str:
        return (
            f"WriteResult(inserted={self.inserted!r}, replaced={self.replaced!r}, "
            f"deleted={self.deleted!r}, chunks_written={self.chunks_written!r})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WriteResult) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented


class _RecordChangeFields(NamedTuple):
    record_id: str
    set_fields: Mapping[str, Value]
    unset: Sequence[str]
    if_version: int | None
    origin: str | None


class RecordChange(_RecordChangeFields):
    """One record's change for :meth:`Store.update_many`: fields to set, fields to
    clear, the version it was read at (optional), and where it came from (for
    messages, e.g. ``fixes.csv:12``)."""

    __slots__ = ()

    def __new__(
        cls,
        record_id: str,
        set_fields: Mapping[str, Value] | None = None,
        unset: Sequence[str] = (),
        if_version: int | None = None,
        origin: str | None = None,
    ) -> RecordChange:
        fields = {} if set_fields is None else set_fields
        return super().__new__(cls, record_id, fields, unset, if_version, origin)

    def where(self) -> str:
        return f"{self.origin}: " if self.origin else ""


class _Operation:
    """One audited operation: entries of one operation share its ``id``."""

    def __init__(
        self,
        id: str,
        action: str,
        fields: set[str] | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.id = id
        self.action = action
        self.fields = fields if fields is not None else set()
        self.counts = counts if counts is not None else {}


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, CustrecError):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    return 70


# --- the header ----------------------------------------------------------------------


class _Header:
    """The store's header rows, as read from or written to the ``header`` table."""

    __slots__ = (
        "columns",
        "created_at",
        "epoch",
        "header_mac",
        "holders",
        "index_key_sealed",
        "manifest_mac",
        "settings",
        "states_sealed",
        "store_id",
    )

    def __init__(
        self,
        store_id: bytes,
        created_at: str,
        settings: StoreSettings,
        columns: list[tuple[str, str]],
        epoch: int,
        index_key_sealed: bytes,
        header_mac: bytes,
        manifest_mac: bytes,
        holders: list[dict[str, Any]] | None = None,
        states_sealed: bytes | None = None,
    ) -> None:
        self.store_id = store_id
        self.states_sealed = states_sealed
        self.created_at = created_at
        self.settings = settings
        self.columns = columns
        self.epoch = epoch
        self.index_key_sealed = index_key_sealed
        self.header_mac = header_mac
        self.manifest_mac = manifest_mac
        self.holders = holders if holders is not None else []

    def column_types(self) -> dict[str, str]:
        return dict(self.columns)

    def settings_json(self) -> bytes:
        return _canonical_json(self.settings.to_json())

    def columns_json(self) -> bytes:
        return _canonical_json(self.columns)


def _same_version(planned: int, now: object) -> None:
    """Refuse a plan whose record changed since it was made."""
    if _integer(now) != planned:
        raise states.PlanMismatchError(
            "a planned record changed since the plan was made (version "
            f"{planned} planned, {now} now): make a new plan"
        )


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _int8(value: int) -> bytes:
    return _integer(value).to_bytes(8, "big", signed=True)


def _integer(value: object) -> int:
    """An integer read from the file; anything else means the metadata was altered."""
    if type(value) is not int:
        raise IntegrityError("store metadata is damaged or was altered (not an integer)")
    return value


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise IntegrityError("store metadata is damaged or was altered (not a byte string)")
    return value


class _Keys:
    """Keys derived from the master key of one store."""

    def __init__(self, master: bytes, store_id: bytes) -> None:
        self.master = master
        self.header = crypto.hkdf(master, "custrec header mac v1", salt=store_id)
        self.manifest = crypto.hkdf(master, "custrec manifest mac v1", salt=store_id)
        self.wrap = crypto.hkdf(master, "custrec key wrap v1", salt=store_id)


# --- the store -----------------------------------------------------------------------


class Store:
    """An open store. Use :func:`create_store` and :func:`open_store` to get one, and
    close it (or use it as a context manager) when done."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        lock_timeout: float,
        context: audit.AuditContext | None = None,
    ) -> None:
        self.path = path
        self._db = connection
        self._lock_timeout = lock_timeout
        self.context = context or audit.AuditContext()
        self._verified_groups: set[int] = set()
        self._data_version: int | None = None
        self._keys: _Keys | None = None
        self._index_key = b""
        self._id_tokens: dict[str, bytes] = {}
        self._header: _Header | None = None
        self.key_id: str | None = None
        self._states_cache: tuple[bytes, states.RecordStates] | None = None
        self._audit_keys_cache: tuple[tuple[bytes, bytes], audit.AuditKeys] | None = None
        self._erasing = False
        self.restricted_skipped = 0
        """Restricted records the last bulk read left out."""

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        # The last connection to close checkpoints the WAL into the file, syncs both and
        # deletes the WAL: after a read, a few ms of disk waits. Kept on purpose, also
        # for read-only commands: a read's audit entry is committed without a sync
        # (synchronous=NORMAL), and this checkpoint is what puts it on disk before the
        # command ends; it also completes the checkpoint of a writer that closed while
        # this connection was open (e.g. a delete, whose destroyed data keys stay in
        # the file's old pages until then). wal_autocheckpoint acts on commits, not here;
        # skipping it (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, settable from Python 3.12) would
        # leave both to whichever writer comes next. A process killed before the
        # checkpoint leaves a WAL that the next connection recovers.
        self._db.close()

    @property
    def settings(self) -> StoreSettings:
        return self._require_header().settings

    @property
    def store_id(self) -> str:
        return self._require_header().store_id.hex()

    @property
    def columns(self) -> list[tuple[str, str]]:
        return list(self._require_header().columns)

    def _require_header(self) -> _Header:
        if self._header is None:
            raise UsageError("the store is not unlocked")
        return self._header

    def _require_keys(self) -> _Keys:
        if self._keys is None:
            raise UsageError("the store is not unlocked")
        return self._keys

    # -- transactions ---------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, write: bool, *, check: bool = True) -> Iterator[sqlite3.Connection]:
        """A read snapshot or a write transaction. The header and the top of the
        manifest are re-read and checked at its start, since another process may have
        changed them; chunk groups are checked once each, before they are read or
        changed (see :meth:`_ensure_group`). ``check=False`` is for transactions that
        only append audit entries, which touch neither the header nor any chunk."""
        try:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise _busy_or_damaged(exc, self.path, self._lock_timeout) from None
        try:
            if check:
                self._header = _read_header(self._db, self.path)
                # Groups checked earlier stay checked while no other connection has
                # committed (our own writes keep their MACs current).
                version = self._db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._verified_groups = set()
                    self._data_version = version
                self._verify_header(self._header)
                self._verify_top(self._db)
            yield self._db
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise _busy_or_damaged(exc, self.path, self._lock_timeout) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise _busy_or_damaged(exc, self.path, self._lock_timeout) from None

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    # -- audit trail ----------------------------------------------------------------

    @property
    def _audit_keys(self) -> audit.AuditKeys:
        """The audit keys, derived once per index key (HKDF costs a few microseconds,
        and a purge names a pseudonym per record)."""
        source = (self._index_key, self._require_header().store_id)
        cached = self._audit_keys_cache
        if cached is None or cached[0] != source:
            cached = self._audit_keys_cache = (source, audit.AuditKeys.derive(*source))
        return cached[1]

    @contextlib.contextmanager
    def _change(
        self,
        action: str,
        *,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
        fields: Iterable[str] = (),
        single_transaction: bool = True,
    ) -> Iterator[_Operation]:
        """A change, audited: an intent entry committed first, then the change and its
        outcome entry in one transaction (or, for a change made of many transactions,
        the outcome after the last); a failure leaves a failed outcome entry."""
        op = _Operation(os.urandom(8).hex(), action, set(fields))
        # The intent needs no sync of its own: the WAL is written in order, so the
        # change's synced commit makes the intent durable too, and an intent lost with a
        # power failure before the change commits concerned a change that never happened.
        with self._relaxed_sync(), self._transaction(write=True) as db:
            self._audit(db, op, "intent", "started", subjects=subjects, scope=scope)
        try:
            if single_transaction:
                with self._transaction(write=True) as db:
                    yield op
                    self._audit(db, op, "outcome", "ok", scope=scope)
            else:  # the caller runs its own transactions
                yield op
                with self._transaction(write=True) as db:
                    self._audit(db, op, "outcome", "ok", scope=scope)
        except BaseException as exc:
            self._audit_failure(op, exc, scope=scope)
            raise

    def _access(
        self,
        action: str,
        *,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
        fields: Iterable[str] = (),
        counts: dict[str, int] | None = None,
        failure: BaseException | None = None,
    ) -> None:
        """Record a read, before its result is returned (one entry: a read that never
        completes discloses nothing). Synchronous=NORMAL: kept across a process crash,
        not necessarily across a power loss."""
        op = _Operation(os.urandom(8).hex(), action, set(fields), dict(counts or {}))
        with self._relaxed_sync():
            if failure is None:
                with self._transaction(write=True, check=False) as db:
                    self._audit(db, op, "access", "ok", subjects=subjects, scope=scope)
            else:  # best effort: the failure itself is what the caller reports
                with (
                    contextlib.suppress(CustrecError, sqlite3.Error),
                    self._transaction(write=True, check=False) as db,
                ):
                    code = _exit_code(failure)
                    self._audit(db, op, "access", "failed", code, subjects, scope)

    @contextlib.contextmanager
    def _relaxed_sync(self) -> Iterator[None]:
        """Commit without waiting for the disk (kept across a killed process; a power
        failure may lose it). For audit entries that need no durability of their own."""
        self._db.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous = FULL")

    def _audit(
        self,
        db: sqlite3.Connection,
        op: _Operation,
        phase: str,
        outcome: str,
        exit_code: int | None = None,
        subjects: Sequence[str] | None = None,
        scope: str | None = None,
    ) -> None:
        audit.append(
            db,
            self._audit_keys,
            self.context,
            op=op.id,
            phase=phase,
            action=op.action,
            outcome=outcome,
            exit_code=exit_code,
            subjects=subjects,
            scope=scope,
            fields=op.fields,
            counts=op.counts,
        )

    def _audit_failure(self, op: _Operation, exc: BaseException, *, scope: str | None) -> None:
        """Best effort: a store too damaged or too busy to write to keeps its intent
        entry, which then shows the operation as never completed."""
        with contextlib.suppress(CustrecError, sqlite3.Error), self._transaction(write=True) as db:
            self._audit(db, op, "outcome", "failed", _exit_code(exc), scope=scope)

    def audit_verify(self, *, expect_head: str | None = None) -> AuditVerification:
        """Check the whole audit trail (see :func:`custrec.audit_read.verify`)."""
        from custrec import audit_read

        with self._transaction(write=False) as db:
            return audit_read.verify(db, self._audit_keys, expect_head=expect_head)

    def audit_query(self, wanted: AuditQuery, *, resolve_ids: bool = False) -> AuditEntries:
        """Audit entries matching ``wanted``. With ``resolve_ids``, the pseudonyms are
        mapped back to the ids of records still in the store (a read of every id,
        itself audited)."""
        from custrec import audit_read

        with self._transaction(write=False) as db:
            found = audit_read.query(db, self._audit_keys, wanted)
        if resolve_ids:
            id_field = self.settings.id_field
            ids = (
                str(i)
                for batch in self.iter_batches(action="resolve-ids", include_restricted=True)
                for i in batch.column(id_field).to_pylist()
            )
            audit_read.resolve(found, ids, self._audit_keys)
        return found

    def pseudonym_of(self, record_id: str) -> str:
        """The pseudonym that stands for ``record_id`` in the audit trail."""
        return self._audit_keys.pseudonym_of(record_id)

    def pseudonyms_of(self, record_ids: Iterable[str]) -> list[str]:
        """:meth:`pseudonym_of` of many records, worked out together."""
        return self._audit_keys.pseudonyms_of(record_ids)

    # -- unlocking --------------------------------------------------------------------

    def _unlock(self, source: KeySource) -> None:
        header = _read_header(self._db, self.path)
        slot, secret = find_holder(header, source)
        wrapped = crypto.WrappedKey(bytes(slot["ephemeral"]), bytes(slot["sealed"]))
        master = crypto.unwrap_from_holder(
            secret, wrapped, holder_aad(header.store_id, slot["key_id"])
        )
        self._keys = _Keys(master, header.store_id)
        self._verify_header(header)
        self._header = header
        self.key_id = str(slot["key_id"])

    def _verify_header(self, header: _Header) -> None:
        keys = self._require_keys()
        expected = crypto.mac(keys.header, *_header_parts(header))
        if not crypto.equal(expected, header.header_mac):
            raise IntegrityError(
                f"{self.path}: the store header failed its integrity check: it was altered"
            )
        self._index_key = crypto.open_sealed(
            keys.wrap, header.index_key_sealed, b"index key" + header.store_id, "the index key"
        )

    def _write_header(self, db: sqlite3.Connection, header: _Header) -> None:
        keys = self._require_keys()
        header.header_mac = crypto.mac(keys.header, *_header_parts(header))
        rows = {
            "columns": header.columns_json(),
            "epoch": str(header.epoch).encode(),
            "settings": header.settings_json(),
            "index_key": header.index_key_sealed,
            "header_mac": header.header_mac,
            "manifest_mac": header.manifest_mac,
        }
        if header.states_sealed is not None:
            rows["states"] = header.states_sealed
        db.executemany(
            "INSERT OR REPLACE INTO header (name, value) VALUES (?, ?)", list(rows.items())
        )
        self._header = header

    # -- manifest -----------------------------------------------------------------------

    def _group_mac(self, db: sqlite3.Connection, group_id: int) -> bytes | None:
        keys = self._require_keys()
        header = self._require_header()
        rows = db.execute(
            "SELECT chunk_id, generation, key_no, epoch, records FROM chunks "
            "WHERE chunk_id >= ? AND chunk_id < ? ORDER BY chunk_id",
            (group_id * GROUP_CHUNKS, (group_id + 1) * GROUP_CHUNKS),
        ).fetchall()
        if not rows:
            return None
        parts = [header.store_id, b"group", _int8(group_id)]
        try:
            parts += [_GROUP_ROW.pack(*row) for row in rows]
        except struct.error:
            raise IntegrityError(
                f"{self.path}: chunk metadata is damaged or was altered (not an integer)"
            ) from None
        return crypto.mac(keys.manifest, *parts)

    def _top_mac(self, db: sqlite3.Connection) -> bytes:
        keys = self._require_keys()
        header = self._require_header()
        rows = db.execute("SELECT group_id, mac FROM chunk_groups ORDER BY group_id").fetchall()
        parts = [header.store_id, b"top", _int8(len(rows))]
        parts += [_int8(group_id) + _blob(mac) for group_id, mac in rows]
        return crypto.mac(keys.manifest, *parts)

    def _verify_top(self, db: sqlite3.Connection) -> None:
        if not crypto.equal(self._top_mac(db), self._require_header().manifest_mac):
            raise IntegrityError(
                f"{self.path}: the chunk manifest failed its integrity check: chunks were "
                "added, removed or rolled back"
            )

    def _ensure_group(self, db: sqlite3.Connection, group_id: int) -> None:
        """Check a chunk group's MAC, once per transaction and before any change to the
        group (so a change never re-authenticates altered metadata)."""
        if group_id in self._verified_groups:
            return
        row = db.execute("SELECT mac FROM chunk_groups WHERE group_id = ?", (group_id,)).fetchone()
        actual = self._group_mac(db, group_id)
        if row is None and actual is None:  # a group that does not exist yet
            self._verified_groups.add(group_id)
            return
        if row is None or actual is None or not crypto.equal(actual, _blob(row[0])):
            raise IntegrityError(
                f"{self.path}: chunk group {group_id} failed its integrity check: chunks "
                "were swapped, removed or rolled back"
            )
        self._verified_groups.add(group_id)

    def _ensure_all_groups(self, db: sqlite3.Connection) -> None:
        for (group_id,) in db.execute("SELECT group_id FROM chunk_groups").fetchall():
            self._ensure_group(db, _integer(group_id))
        orphans = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE chunk_id / ? NOT IN "
            "(SELECT group_id FROM chunk_groups)",
            (GROUP_CHUNKS,),
        ).fetchone()[0]
        if orphans:
            raise IntegrityError(
                f"{self.path}: {orphans} chunks are outside the manifest: chunks were added"
            )

    def _update_manifest(self, db: sqlite3.Connection, groups: Iterable[int]) -> None:
        for group_id in sorted(set(groups)):
            mac = self._group_mac(db, group_id)
            if mac is None:
                db.execute("DELETE FROM chunk_groups WHERE group_id = ?", (group_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO chunk_groups (group_id, mac) VALUES (?, ?)",
                    (group_id, mac),
                )
        header = self._require_header()
        header.manifest_mac = self._top_mac(db)
        self._write_header(db, header)

    # -- chunks ---------------------------------------------------------------------

    def _chunk_aad(
        self, chunk_id: int, generation: int, key_no: int, epoch: int, records: int
    ) -> bytes:
        header = self._require_header()
        return b"".join(
            [b"custrec chunk v1", _int8(FORMAT_VERSION), header.store_id]
            + [_int8(v) for v in (chunk_id, generation, key_no, epoch, records)]
        )

    def _read_chunk(self, db: sqlite3.Connection, chunk_id: int) -> chunkcodec.Chunk:
        row = db.execute(
            "SELECT generation, key_no, epoch, records, payload FROM chunks "
            "JOIN chunk_payloads USING (chunk_id) WHERE chunk_id = ?",
            (chunk_id,),
        ).fetchone()
        if row is None:
            raise IntegrityError(
                f"{self.path}: chunk {chunk_id} is missing although the index refers to it"
            )
        self._ensure_group(db, chunk_id // GROUP_CHUNKS)
        generation, key_no, epoch, records, payload = row
        data_key = self._data_key(db, key_no)
        plain = crypto.open_sealed(
            data_key,
            _blob(payload),
            self._chunk_aad(chunk_id, generation, key_no, epoch, records),
            f"chunk {chunk_id}",
        )
        chunk = chunkcodec.Chunk(plain)
        if chunk.rows != records:
            raise IntegrityError(f"{self.path}: chunk {chunk_id} holds the wrong record count")
        return chunk

    def _data_key(self, db: sqlite3.Connection, key_no: int) -> bytes:
        row = db.execute("SELECT sealed FROM data_keys WHERE key_no = ?", (key_no,)).fetchone()
        if row is None:
            raise IntegrityError(
                f"{self.path}: data key {key_no} is missing: the store was altered or damaged"
            )
        header = self._require_header()
        return crypto.open_sealed(
            self._require_keys().wrap,
            bytes(row[0]),
            b"data key" + header.store_id + _int8(key_no),
            f"data key {key_no}",
        )

    def _write_chunk(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        rows: list[dict[str, Value]],
        old: tuple[int, int] | None,
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        """Replace chunk ``chunk_id`` with ``rows`` (deleting it when empty), under a
        fresh data key. ``old`` is its (generation, key_no) if it exists; ``changes``
        maps the ids of records added, changed (new row) or removed (None), whose index
        entries are updated; the other records' entries stay as they are."""
        plain = self._encode(rows, changes.values()) if rows else None
        self._store_chunk(db, chunk_id, plain, len(rows), old, changes)

    def _store_chunk(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        plain: bytes | None,
        records: int,
        old: tuple[int, int] | None,
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        """:meth:`_write_chunk` of the laid-out chunk ``plain`` of ``records`` rows
        (None: no rows left, the chunk goes)."""
        self._ensure_group(db, chunk_id // GROUP_CHUNKS)
        self._reindex(db, chunk_id, changes)
        if plain is None:
            if old is not None:
                db.execute("DELETE FROM data_keys WHERE key_no = ?", (old[1],))
            db.execute("DELETE FROM chunks WHERE chunk_id = ?", (chunk_id,))
            db.execute("DELETE FROM chunk_payloads WHERE chunk_id = ?", (chunk_id,))
            return
        self._seal_chunk(db, chunk_id, plain, records, old)

    def _seal_chunk(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        plain: bytes,
        records: int,
        old: tuple[int, int] | None,
    ) -> None:
        """Store the laid-out chunk ``plain`` as chunk ``chunk_id``, sealed under a fresh
        data key; the old version's data key (``old`` = generation, key_no) is destroyed."""
        header = self._require_header()
        if old is not None:
            db.execute("DELETE FROM data_keys WHERE key_no = ?", (old[1],))
        generation = old[0] + 1 if old is not None else 1
        data_key = crypto.random_bytes()
        cursor = db.execute("INSERT INTO data_keys (sealed) VALUES (x'')")
        key_no = int(cursor.lastrowid or 0)
        db.execute(
            "UPDATE data_keys SET sealed = ? WHERE key_no = ?",
            (
                crypto.seal(
                    self._require_keys().wrap,
                    data_key,
                    b"data key" + header.store_id + _int8(key_no),
                ),
                key_no,
            ),
        )
        aad = self._chunk_aad(chunk_id, generation, key_no, header.epoch, records)
        db.execute(
            "INSERT OR REPLACE INTO chunks (chunk_id, generation, key_no, epoch, records) "
            "VALUES (?, ?, ?, ?, ?)",
            (chunk_id, generation, key_no, header.epoch, records),
        )
        db.execute(
            "INSERT OR REPLACE INTO chunk_payloads (chunk_id, payload) VALUES (?, ?)",
            (chunk_id, crypto.seal(data_key, plain, aad)),
        )

    def _reindex(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        """Index entries of added, changed or removed records (see :meth:`_write_chunk`)."""
        if not changes:
            return
        match_fields = self._require_header().settings.match_fields
        tokens = {record_id: self._id_token(record_id) for record_id in changes}
        # in key order: each index page is visited once, not once per record on it
        db.executemany(
            "DELETE FROM match_index WHERE record = ?", [(t,) for t in sorted(tokens.values())]
        )
        db.executemany(
            "DELETE FROM id_index WHERE token = ?",
            sorted((tokens[i],) for i, row in changes.items() if row is None),
        )
        db.executemany(
            "INSERT OR REPLACE INTO id_index (token, chunk_id) VALUES (?, ?)",
            [(tokens[i], chunk_id) for i, row in changes.items() if row is not None],
        )
        db.executemany(
            "INSERT OR IGNORE INTO match_index (field, token, record) VALUES (?, ?, ?)",
            [
                (name, self._match_token(name, value, row), tokens[record_id])
                for record_id, row in changes.items()
                if row is not None
                for name in match_fields
                if (value := row.get(name)) is not None and str(value).strip()
            ],
        )

    def _encode(
        self, rows: list[dict[str, Value]], changed: Iterable[Mapping[str, Value] | None]
    ) -> bytes:
        """The chunk layout of ``rows``; the ``changed`` ones (the others were read from
        the store) are checked against the column types first."""
        columns = [*self._require_header().columns, *SYSTEM_COLUMNS]
        check_types([row for row in changed if row is not None], columns)
        return chunkcodec.encode(rows, columns)

    def _arrow_schema(self, *, system: bool) -> pa.Schema:
        import pyarrow as pa

        types = {
            "string": pa.string(),
            "int64": pa.int64(),
            "float64": pa.float64(),
            "bool": pa.bool_(),
        }
        fields = [pa.field(name, types[kind]) for name, kind in self._require_header().columns]
        if system:
            fields += [pa.field(name, types[kind]) for name, kind in SYSTEM_COLUMNS]
        return pa.schema(fields)

    def _names(self) -> list[str]:
        return [name for name, _ in [*self._require_header().columns, *SYSTEM_COLUMNS]]

    def _rows_with_ids(
        self, db: sqlite3.Connection, chunk_id: int, ids: Sequence[str]
    ) -> list[dict[str, Value]]:
        """The rows of a chunk holding these ids (decoding only those rows)."""
        chunk = self._read_chunk(db, chunk_id)
        return chunk.records_where(self._names(), self.settings.id_field, set(ids))

    def _chunk_rows(self, db: sqlite3.Connection, chunk_id: int) -> list[dict[str, Value]]:
        return self._read_chunk(db, chunk_id).records(self._names())

    # -- tokens ---------------------------------------------------------------------

    def _id_token(self, record_id: str) -> bytes:
        known = self._id_tokens.get(record_id)
        if known is not None:
            return known
        return crypto.token(self._index_key, b"id", record_id.encode("utf-8"))

    @contextlib.contextmanager
    def _tokens_of(self, record_ids: Sequence[str]) -> Iterator[None]:
        """The id tokens of many records worked out at once, and reused by every step
        of the operation that needs them (locating, guarding, indexing)."""
        values = [record_id.encode("utf-8") for record_id in record_ids]
        self._id_tokens = dict(
            zip(record_ids, crypto.tokens(self._index_key, [b"id"], values), strict=True)
        )
        try:
            yield
        finally:
            self._id_tokens = {}

    def _match_token(self, name: str, value: Value, row: Mapping[str, Value]) -> bytes:
        normal = normalise_match_value(name, value, self._region_of(row.get(COUNTRY_FIELD)))
        return self._normal_token(name, normal)

    def _region_of(self, country: Value) -> str | None:
        """The region for a record's phone numbers: its country (ISO 3166 alpha-2)
        when it has one, else the store's region."""
        return record_region(country) or self._require_header().settings.region

    def _normal_token(self, name: str, normal: str) -> bytes:
        return crypto.token(self._index_key, b"match", name.encode(), normal.encode("utf-8"))

    def _chunks_of(
        self, db: sqlite3.Connection, record_ids: Iterable[str]
    ) -> tuple[dict[int, list[str]], list[str]]:
        """Where the id index says these ids are: ids by chunk, and the ids it lacks."""
        by_chunk: dict[int, list[str]] = {}
        absent: list[str] = []
        unique = list(dict.fromkeys(record_ids))
        if len(unique) > _PACKED_LOOKUP:  # many ids: one statement for all
            tokens = [self._id_token(record_id) for record_id in unique]
            located = packed.find_ids(db, tokens)
            for record_id, token in zip(unique, tokens, strict=True):
                chunk = located.get(token)
                if chunk is None:
                    absent.append(record_id)
                else:
                    by_chunk.setdefault(chunk, []).append(record_id)
            return by_chunk, absent
        for record_id in unique:
            row = db.execute(
                "SELECT chunk_id FROM id_index WHERE token = ?", (self._id_token(record_id),)
            ).fetchone()
            if row is None:
                absent.append(record_id)
            else:
                by_chunk.setdefault(_integer(row[0]), []).append(record_id)
        return by_chunk, absent

    def _positions(self, rows: list[dict[str, Value]], ids: Iterable[str]) -> dict[str, int]:
        """Where each id is in a chunk's rows; an id the index placed in this chunk but
        that is not there means the index was altered."""
        id_field = self.settings.id_field
        return self._placed([row[id_field] for row in rows], ids)

    def _placed(self, present: Sequence[Value], ids: Iterable[str]) -> dict[str, int]:
        """:meth:`_positions` from a chunk's id column."""
        positions = {str(record_id): i for i, record_id in enumerate(present)}
        for record_id in ids:
            if record_id not in positions:
                raise IntegrityError(
                    f"{self.path}: the id index points to a chunk without the record: "
                    "the index was altered"
                )
        return positions

    # -- reading --------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """The record with this id; :class:`NotFoundError` (exit 6) when there is none."""
        found = self.get_many([record_id])
        if record_id not in found:
            raise NotFoundError(f"no record with {self.settings.id_field} {record_id}")
        return found[record_id]

    def get_many(
        self,
        record_ids: Sequence[str],
        *,
        include_restricted: bool = False,
        action: str = "get",
    ) -> dict[str, Record]:
        """The records with these ids that exist, by id (one snapshot). A restricted
        record is refused (exit 1) unless ``include_restricted`` (access export)."""
        found: dict[str, Record] = {}
        wanted = list(dict.fromkeys(record_ids))
        try:
            with self._transaction(write=False) as db:
                hidden = self._hidden(wanted)
                if not include_restricted:
                    self._refuse_restricted(wanted)
                by_chunk, _ = self._chunks_of(db, [i for i in wanted if i not in hidden])
                for chunk_id, ids in by_chunk.items():
                    rows = self._rows_with_ids(db, chunk_id, ids)
                    positions = self._positions(rows, ids)
                    for record_id in ids:
                        row = rows[positions[record_id]]
                        found[record_id] = to_record(row, self.settings.id_field)
        except CustrecError as exc:
            self._access(action, subjects=wanted, failure=exc)
            raise
        self._access(
            action, subjects=list(found), counts={"asked": len(wanted), "found": len(found)}
        )
        return found

    def find(self, field_name: str, value: str, *, region: str | None = None) -> list[Record]:
        """Records whose ``field_name`` (a match field, e.g. email or phone) equals
        ``value`` once both are normalised (case, spacing, phone formats). ``region``
        reads a phone number ``value`` written without its country code (default: the
        store's region)."""
        settings = self.settings
        if field_name not in settings.match_fields:
            raise UsageError(
                f"{field_name!r} is not a match field of this store "
                f"(match fields: {', '.join(settings.match_fields) or 'none'})"
            )
        wanted = normalise_match_value(field_name, value, region or settings.region)
        results: list[Record] = []
        try:
            results = self._find(field_name, wanted)
        except CustrecError as exc:
            self._access("find", fields=[field_name], failure=exc)
            raise
        self._access(
            "find",
            subjects=[r.id for r in results],
            fields=[field_name],
            counts={"found": len(results)},
        )
        return results

    def _find(self, field_name: str, wanted: str) -> list[Record]:
        settings = self.settings
        results: list[Record] = []
        digits = re.sub(r"\D", "", wanted)
        with self._transaction(write=False) as db:
            chunk_ids = [
                _integer(r[0])
                for r in db.execute(
                    "SELECT DISTINCT i.chunk_id FROM match_index AS m "
                    "JOIN id_index AS i ON i.token = m.record "
                    "WHERE m.field = ? AND m.token = ? ORDER BY i.chunk_id",
                    (field_name, self._normal_token(field_name, wanted)),
                )
            ]
            for chunk_id in chunk_ids:
                chunk = self._read_chunk(db, chunk_id)
                values = chunk.values(field_name)
                countries = chunk.values(COUNTRY_FIELD)
                ids = chunk.values(settings.id_field)
                same = set()
                for value, country, record_id in zip(values, countries, ids, strict=True):
                    if value is None:
                        continue
                    text = str(value)
                    # Only numbers ending in the same digits can be the same number.
                    if (
                        is_phone_field(field_name)
                        and len(digits) >= 6
                        and not re.sub(r"\D", "", text).endswith(digits[-6:])
                    ):
                        continue
                    region = self._region_of(country)
                    if normalise_match_value(field_name, text, region) == wanted:
                        same.add(str(record_id))
                for row in chunk.records_where(self._names(), settings.id_field, same):
                    results.append(to_record(row, settings.id_field))
            current = self._states()
            hidden = current.restricted.keys() | current.purged.keys()
            if hidden:
                results = [r for r in results if self._id_token(r.id).hex() not in hidden]
        return results

    def find_text(self, fields: Sequence[str], query: str) -> list[Record]:
        """Records where every word of ``query`` begins a word of ``fields`` (e.g. first
        and last name), ignoring case and accents. Not indexed: each chunk is decrypted,
        but only these fields are decoded until a record matches."""
        known = dict(self.columns)
        wanted = [name for name in fields if name in known]
        words = text_words(query)
        if not words:
            raise UsageError("the search text has no words")
        results: list[Record] = []
        try:
            with self._transaction(write=False) as db:
                self._ensure_all_groups(db)
                chunk_ids = [
                    int(r[0]) for r in db.execute("SELECT chunk_id FROM chunks ORDER BY 1")
                ]
                for chunk_id in chunk_ids:
                    chunk = self._read_chunk(db, chunk_id)
                    columns = [chunk.values(name) for name in wanted]
                    ids = chunk.values(self.settings.id_field)
                    hits = {
                        str(ids[i])
                        for i, values in enumerate(zip(*columns, strict=True))
                        if words_match(words, values)
                    }
                    if hits:
                        rows = chunk.records_where(self._names(), self.settings.id_field, hits)
                        results.extend(to_record(row, self.settings.id_field) for row in rows)
        except CustrecError as exc:
            self._access("find", fields=wanted, failure=exc)
            raise
        self._access(
            "find", subjects=[r.id for r in results], fields=wanted, counts={"found": len(results)}
        )
        return results

    def count(self) -> int:
        """The number of records (from the authenticated manifest; nothing decrypted)."""
        with self._transaction(write=False) as db:
            self._ensure_all_groups(db)
            return sum(_integer(r[0]) for r in db.execute("SELECT records FROM chunks"))

    def iter_batches(
        self,
        *,
        system: bool = False,
        action: str = "read-all",
        fields: Iterable[str] = (),
        include_restricted: bool = False,
        audited: bool = True,
        include_purged: bool = False,
    ) -> Iterator[pa.RecordBatch]:
        """Every record, chunk by chunk, as Arrow record batches in the store's current
        columns (one consistent snapshot; memory bounded by one chunk), with the
        version and provenance columns too when ``system``. The read is audited (scope
        ``all``) before the first batch is returned, as ``action``; ``audited=False``
        is for reads that disclose no personal data and must change no byte of the file
        (a purge's dry run). Restricted records are left out (counted in
        :attr:`restricted_skipped`) unless ``include_restricted``."""
        if audited:
            self._access(action, scope="all", fields=fields, counts={"records": self.count()})
        self.restricted_skipped = 0
        with self._transaction(write=False) as db:
            self._ensure_all_groups(db)
            schema = self._arrow_schema(system=True)
            system_names = [name for name, _ in SYSTEM_COLUMNS]
            chunk_ids = [int(r[0]) for r in db.execute("SELECT chunk_id FROM chunks ORDER BY 1")]
            for chunk_id in chunk_ids:
                batch = self._read_chunk(db, chunk_id).to_arrow(schema)
                batch = self._visible(batch, include_restricted, include_purged)
                yield batch if system else batch.drop_columns(system_names)

    def to_pandas(self) -> Any:
        """All records as one pandas DataFrame."""
        import pyarrow as pa

        batches = list(self.iter_batches())
        table = (
            pa.Table.from_batches(batches)
            if batches
            else self._arrow_schema(system=False).empty_table()
        )
        return table.to_pandas()

    def holders(self) -> list[Holder]:
        return [
            Holder(key_id=str(h["key_id"]), kind=str(h["kind"]), added_at=str(h["added_at"]))
            for h in self._require_header().holders
        ]

    # -- writing ----------------------------------------------------------------------

    def put(
        self,
        records: Iterable[Mapping[str, Value]],
        *,
        replace: bool = False,
        source: str | None = None,
        collected_at: str | None = None,
    ) -> WriteResult:
        """Add records in one all-or-nothing transaction. An id that already exists is
        an error (nothing is written) unless ``replace``, which overwrites it.
        ``source`` and ``collected_at`` are recorded as the records' provenance."""
        result = WriteResult()
        id_field = self.settings.id_field
        incoming: dict[str, dict[str, Value]] = {}
        for position, record in enumerate(records, start=1):
            clean = clean_record(record, id_field, position)
            record_id = str(clean[id_field])
            if record_id in incoming:
                raise CheckFailedError(
                    f"record {position}: {id_field} {record_id} appears twice in the batch"
                )
            clean[SOURCE_COLUMN] = source
            clean[COLLECTED_COLUMN] = collected_at
            incoming[record_id] = clean
        fields = {name for record in incoming.values() for name in record}
        fields -= {SOURCE_COLUMN, COLLECTED_COLUMN}
        with self._change("put", subjects=list(incoming), fields=fields) as op:
            db = self._db
            self._extend_columns(db, incoming.values())
            existing, _ = self._chunks_of(db, incoming)
            if existing and not replace:
                record_id = next(iter(existing.values()))[0]
                raise CheckFailedError(
                    f"{id_field} {record_id} already exists in the store (nothing was written)"
                )
            touched: set[int] = set()
            for chunk_id, ids in existing.items():
                rows = self._chunk_rows(db, chunk_id)
                positions = self._positions(rows, ids)
                replaced: dict[str, Mapping[str, Value] | None] = {}
                for record_id in ids:
                    old = rows[positions[record_id]]
                    new = dict(incoming.pop(record_id))
                    new[VERSION_COLUMN] = _integer(old[VERSION_COLUMN] or 0) + 1
                    rows[positions[record_id]] = replaced[record_id] = new
                    result.replaced += 1
                self._rewrite(db, chunk_id, rows, replaced)
                touched.add(chunk_id)
            fresh = [{**r, VERSION_COLUMN: 1} for r in incoming.values()]
            result.inserted = len(fresh)
            touched |= self._append(db, fresh)
            result.chunks_written = len(touched)
            self._update_manifest(db, (c // GROUP_CHUNKS for c in touched))
            op.counts.update(inserted=result.inserted, replaced=result.replaced)
        return result

    def update(
        self,
        record_id: str,
        *,
        set_fields: Mapping[str, Value] | None = None,
        unset: Sequence[str] = (),
        if_version: int | None = None,
        check: Callable[[Record], None] | None = None,
    ) -> Record:
        """Change one record in place (one chunk rewritten). ``if_version`` refuses the
        change (exit 5) when the record changed since that version was read; ``check``
        may raise to refuse the new record (the store is then left unchanged)."""
        change = RecordChange(record_id, dict(set_fields or {}), tuple(unset), if_version)
        checked = None if check is None else (lambda record, _: check(record))
        return self.update_many([change], check=checked)[0]

    def update_many(
        self,
        changes: Sequence[RecordChange],
        *,
        check: Callable[[Record, RecordChange], None] | None = None,
    ) -> list[Record]:
        """Apply many changes in one all-or-nothing transaction (each chunk rewritten
        once). An unknown id raises :class:`NotFoundError`, a stale ``if_version``
        :class:`StoreBusyError`, and ``check`` may raise to refuse a new record: in
        each case nothing is written."""
        id_field = self.settings.id_field
        ids = [change.record_id for change in changes]
        seen: set[str] = set()
        for change in changes:
            if change.record_id in seen:
                raise CheckFailedError(
                    f"{change.where()}{id_field} {change.record_id} is changed twice in one "
                    "batch; merge the two changes"
                )
            seen.add(change.record_id)
            if id_field in change.set_fields or id_field in change.unset:
                raise UsageError(
                    f"{change.where()}the id field {id_field} cannot be changed or removed"
                )
        fields = {name for c in changes for name in (*c.set_fields, *c.unset)}
        updated: list[Record] = []
        with self._change("update", subjects=ids, fields=fields) as op:
            db = self._db
            by_chunk, absent = self._chunks_of(db, ids)
            if absent:
                where = next(c.where() for c in changes if c.record_id == absent[0])
                raise NotFoundError(f"{where}no record with {id_field} {absent[0]}")
            wanted = {change.record_id: change for change in changes}
            new_rows: list[dict[str, Value]] = []
            rewrites: list[
                tuple[int, list[dict[str, Value]], dict[str, Mapping[str, Value] | None]]
            ] = []
            for chunk_id, chunk_ids in by_chunk.items():
                rows = self._chunk_rows(db, chunk_id)
                positions = self._positions(rows, chunk_ids)
                changed: dict[str, Mapping[str, Value] | None] = {}
                for record_id in chunk_ids:
                    change = wanted[record_id]
                    new = self._changed_row(rows[positions[record_id]], change)
                    if check is not None:
                        check(to_record(new, id_field), change)
                    rows[positions[record_id]] = changed[record_id] = new
                    new_rows.append(new)
                rewrites.append((chunk_id, rows, changed))
            self._extend_columns(db, new_rows)
            for chunk_id, rows, changed in rewrites:
                self._rewrite(db, chunk_id, rows, changed)
            self._update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts["updated"] = len(new_rows)
            by_record = {str(row[id_field]): row for row in new_rows}
            updated = [to_record(by_record[i], id_field) for i in ids]
        return updated

    def _changed_row(self, current: dict[str, Value], change: RecordChange) -> dict[str, Value]:
        id_field = self.settings.id_field
        version = _integer(current[VERSION_COLUMN] or 0)
        if change.if_version is not None and change.if_version != version:
            raise StoreBusyError(
                f"{change.where()}{id_field} {change.record_id} changed since version "
                f"{change.if_version} was read (now version {version}); read it again and retry"
            )
        new = {k: v for k, v in current.items() if k not in change.unset}
        new.update(clean_record({id_field: change.record_id, **change.set_fields}, id_field, 1))
        new[VERSION_COLUMN] = version + 1
        for name in change.unset:
            new[name] = None
        return new

    def delete(self, record_ids: Sequence[str]) -> WriteResult:
        """Remove records (all-or-nothing; unknown ids are an error). Each affected chunk
        is re-encrypted under a new data key and the old key is destroyed."""
        result = WriteResult()
        wanted = list(dict.fromkeys(record_ids))
        with self._change("delete", subjects=wanted) as op:
            db = self._db
            id_field = self.settings.id_field
            by_chunk, absent = self._chunks_of(db, wanted)
            if absent:
                raise NotFoundError(f"no record with {id_field} {absent[0]}")
            for chunk_id, ids in by_chunk.items():
                rows = self._chunk_rows(db, chunk_id)
                doomed = {self._positions(rows, ids)[i] for i in ids}
                kept = [r for n, r in enumerate(rows) if n not in doomed]
                self._rewrite(db, chunk_id, kept, dict.fromkeys(ids))
                result.deleted += len(ids)
            result.chunks_written = len(by_chunk)
            self._update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts["deleted"] = result.deleted
        return result

    # -- data-subject rights: legal hold, restriction, erasure -------------------------

    def _states(self) -> states.RecordStates:
        """The record states of the header read by the current transaction."""
        header = self._require_header()
        if header.states_sealed is None:
            return states.RecordStates()
        cached = self._states_cache
        if cached is None or cached[0] != header.states_sealed:
            opened = states.RecordStates.open(
                self._require_keys().wrap, header.states_sealed, header.store_id
            )
            cached = self._states_cache = (header.states_sealed, opened)
        return cached[1]

    def _save_states(self, db: sqlite3.Connection, changed: states.RecordStates) -> None:
        header = self._require_header()
        header.states_sealed = changed.seal(self._require_keys().wrap, header.store_id)
        self._write_header(db, header)

    def record_states(self, record_id: str) -> dict[str, bool]:
        """Whether the record is under legal hold, restricted, or was erased."""
        token = self._id_token(record_id).hex()
        with self._transaction(write=False):
            current = self._states()
        return {
            "hold": token in current.hold,
            "restricted": token in current.restricted,
            "erased": token in current.erased,
        }

    def set_state(self, state: str, record_id: str, on: bool) -> bool:
        """Put the record under (``on``) or out of ``state`` (``hold`` or
        ``restricted``); audited as hold/release or restrict/unrestrict. Whether it
        changed anything (setting a state twice is not an error)."""
        action = {("hold", True): "hold", ("hold", False): "release"}.get(
            (state, on), "restrict" if on else "unrestrict"
        )
        token = self._id_token(record_id).hex()
        with self._change(action, subjects=[record_id]) as op:
            _, absent = self._chunks_of(self._db, [record_id])
            if absent:
                raise NotFoundError(f"no record with {self.settings.id_field} {record_id}")
            current = self._states()
            table = current.hold if state == "hold" else current.restricted
            changed = (token in table) != on
            if on:
                table.setdefault(token, utc_now())
            else:
                table.pop(token, None)
            if changed:
                self._save_states(self._db, current)
            op.counts["changed"] = int(changed)
        return changed

    def _guard(self, changes: Mapping[str, Mapping[str, Value] | None]) -> None:
        """Refuse to delete a held record, or to change a restricted one (unless it is
        being erased). Checked inside the write, so a hold set after a plan was made
        still stops the deletion."""
        current = self._states()
        if not current.guarded:
            return
        for record_id, change in changes.items():
            token = self._id_token(record_id).hex()
            if change is None and token in current.hold:
                raise states.LegalHoldError(
                    f"record {record_id} is under legal hold: it cannot be erased or purged "
                    "until it is released (custrec release)"
                )
            if token in current.purged and not self._erasing:
                raise NotFoundError(f"no record with {self.settings.id_field} {record_id}")
            if change is not None and token in current.restricted and not self._erasing:
                raise states.RecordRestrictedError(
                    f"record {record_id} is restricted (processing limited, GDPR Art. 18): "
                    "only access and erase may use it until it is unrestricted"
                )

    def _hidden(self, record_ids: Iterable[str]) -> set[str]:
        """Those of ``record_ids`` that a purge made invisible (in their grace period)."""
        purged = self._states().purged
        if not purged:
            return set()
        return {i for i in record_ids if self._id_token(i).hex() in purged}

    def _refuse_restricted(self, record_ids: Iterable[str]) -> None:
        current = self._states()
        if not current.restricted:
            return
        for record_id in record_ids:
            if self._id_token(record_id).hex() in current.restricted:
                raise states.RecordRestrictedError(
                    f"record {record_id} is restricted (processing limited, GDPR Art. 18): "
                    "use custrec access to export it for its subject"
                )

    def _visible(
        self, batch: pa.RecordBatch, include_restricted: bool, include_purged: bool
    ) -> pa.RecordBatch:
        """``batch`` without the records in a purge's grace period and (unless asked
        for) the restricted ones, which are counted in :attr:`restricted_skipped`."""
        current = self._states()
        restricted = current.restricted if not include_restricted else {}
        purged = current.purged if not include_purged else {}
        if not restricted and not purged:
            return batch
        import pyarrow as pa

        tokens = [
            self._id_token(str(i)).hex() for i in batch.column(self.settings.id_field).to_pylist()
        ]
        self.restricted_skipped += sum(1 for t in tokens if t in restricted)
        keep = [t not in restricted and t not in purged for t in tokens]
        return batch.filter(pa.array(keep)) if not all(keep) else batch

    def _refuse_erased(self, rows: bulk.IngestRows, ids: Sequence[str]) -> None:
        """Refuse a batch with a row whose id, email or phone is an erased customer's."""
        current = self._states()
        if not current.erased:
            return
        gone = current.erased_tokens()
        for position, token in enumerate(rows.id_tokens):
            hit = token.hex() in gone or any(
                (t := tokens[position]) is not None and t.hex() in gone
                for tokens in rows.match_tokens.values()
            )
            if hit:
                raise states.ErasedRecordError(
                    f"record {position + 1} of the batch ({self.settings.id_field} "
                    f"{ids[position]}) matches a customer who was erased (by id, email or "
                    "phone): nothing was collected; if the customer came back of their own "
                    "accord, collect with --readmit-erased"
                )

    def erase(
        self, record_id: str, *, keep: Sequence[str] = (), ground: str | None = None
    ) -> WriteResult:
        """The right to erasure for one record: it is removed (or, with ``keep``, only
        those fields are kept, for the legal obligation ``ground``), its chunk is
        re-encrypted under a new data key and the old key destroyed, freed pages are
        overwritten and the journal emptied, and a tombstone of its id and contact
        tokens is kept (in the store and in ``STORE.erasures``). A record under legal
        hold is refused (exit 1)."""
        columns = [name for name, _ in self.columns]
        unknown = [name for name in keep if name not in columns]
        if unknown:
            raise UsageError(f"--except {unknown[0]}: no such field in this store")
        if keep and not ground:
            raise UsageError("--except needs --ground: the legal obligation to keep the fields")
        id_field = self.settings.id_field
        result = WriteResult()
        fields = sorted(set(columns) - set(keep) - {id_field})
        with self._change("erase", subjects=[record_id], fields=fields) as op:
            db = self._db
            by_chunk, absent = self._chunks_of(db, [record_id])
            if absent:
                raise NotFoundError(f"no record with {id_field} {record_id}")
            ((chunk_id, _),) = by_chunk.items()
            rows = self._chunk_rows(db, chunk_id)
            position = self._positions(rows, [record_id])[record_id]
            record = rows[position]
            tokens = [
                self._match_token(name, value, record)
                for name in self.settings.match_fields
                if (value := record.get(name)) is not None and str(value).strip()
            ]
            if keep:
                kept = {name: (record.get(name) if name in keep else None) for name in columns}
                kept[id_field] = record_id
                kept.update({name: record.get(name) for name, _ in SYSTEM_COLUMNS})
                kept[VERSION_COLUMN] = _integer(record[VERSION_COLUMN]) + 1
                rows[position] = kept
                change: dict[str, Mapping[str, Value] | None] = {record_id: kept}
                self._refuse_if_held(record_id)
            else:
                del rows[position]
                change = {record_id: None}
            self._erasing = True
            try:
                self._rewrite(db, chunk_id, rows, change)
            finally:
                self._erasing = False
            current = self._states()
            token = self._id_token(record_id).hex()
            current.erased[token] = {
                "at": utc_now(),
                "tokens": states.hex_tokens(tokens),
                "kept": sorted(keep),
                "ground": ground,
            }
            current.restricted.pop(token, None)
            self._save_states(db, current)
            self._update_manifest(db, [chunk_id // GROUP_CHUNKS])
            op.counts.update({"erased": 1, "fields_kept": len(keep)})
            result.deleted = 0 if keep else 1
            result.replaced = 1 if keep else 0
            result.chunks_written = 1
            erased = dict(current.erased)
        self._scrub()
        header = self._require_header()
        states.write_tombstone_file(self.path, self._require_keys().header, header.store_id, erased)
        return result

    def purge(
        self,
        planned: Mapping[str, tuple[int, Mapping[str, Value] | None]],
        *,
        counts: Mapping[str, int] | None = None,
    ) -> WriteResult:
        """Apply a retention purge in one all-or-nothing transaction: each record of
        ``planned`` (id -> (version it must still have, its anonymised row, or None to
        delete it)) is deleted or replaced. A record that is gone or changed since the
        plan refuses the whole purge (:class:`~custrec.store.states.PlanMismatchError`,
        exit 1), and so does a record under legal hold (checked in this transaction).
        Freed pages are zeroed and the journal emptied afterwards."""
        id_field = self.settings.id_field
        result = WriteResult()
        subjects = list(planned)
        with (
            self._change("purge", subjects=subjects, scope="policy") as op,
            self._tokens_of(subjects),
        ):
            db = self._db
            by_chunk = self._planned_chunks(db, subjects)
            for chunk_id, ids in by_chunk.items():
                if all(planned[record_id][1] is None for record_id in ids):
                    result.deleted += self._purge_deletions(db, chunk_id, ids, planned)
                    continue
                rows = self._chunk_rows(db, chunk_id)
                positions = self._positions(rows, ids)
                changes: dict[str, Mapping[str, Value] | None] = {}
                doomed: set[int] = set()
                for record_id in ids:
                    self._refuse_if_held(record_id)
                    version, replacement = planned[record_id]
                    row = rows[positions[record_id]]
                    _same_version(version, row[VERSION_COLUMN])
                    if replacement is None:
                        changes[record_id] = None
                        doomed.add(positions[record_id])
                        result.deleted += 1
                        continue
                    new = dict(replacement)
                    new_id = str(new[id_field])
                    new[VERSION_COLUMN] = version + 1
                    for name in (SOURCE_COLUMN, COLLECTED_COLUMN):
                        new.setdefault(name, row.get(name))
                    rows[positions[record_id]] = new
                    if new_id != record_id:
                        changes[record_id] = None  # the old id's index entries go
                    changes[new_id] = new
                    result.replaced += 1
                kept = [r for n, r in enumerate(rows) if n not in doomed]
                self._erasing = True  # records past their grace period may go
                try:
                    self._rewrite(db, chunk_id, kept, changes)
                finally:
                    self._erasing = False
            current = self._states()
            ended = (
                [t for t in map(self.token_hex, subjects) if t in current.purged]
                if current.purged
                else []
            )
            if ended:
                for token in ended:
                    del current.purged[token]
                self._save_states(db, current)
            result.chunks_written = len(by_chunk)
            self._update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts.update({"deleted": result.deleted, "anonymised": result.replaced})
            op.counts.update(dict(counts or {}))
        self._scrub()
        return result

    def _purge_deletions(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        ids: Sequence[str],
        planned: Mapping[str, tuple[int, Mapping[str, Value] | None]],
    ) -> int:
        """Delete the planned records of one chunk (only deletions there), reading just
        their ids and versions; the records kept are copied column by column."""
        chunk = self._read_chunk(db, chunk_id)
        positions = self._placed(chunk.values(self.settings.id_field), ids)
        versions = chunk.values(VERSION_COLUMN)
        doomed = set()
        for record_id in ids:
            self._refuse_if_held(record_id)
            at = positions[record_id]
            _same_version(planned[record_id][0], versions[at])
            doomed.add(at)
        changes: dict[str, Mapping[str, Value] | None] = dict.fromkeys(ids)
        self._erasing = True  # records past their grace period may go
        try:
            if len(doomed) == chunk.rows:
                self._rewrite(db, chunk_id, [], changes)
            else:
                self._rewrite_without(db, chunk_id, chunk, doomed, changes)
        finally:
            self._erasing = False
        return len(doomed)

    def _rewrite_without(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        chunk: chunkcodec.Chunk,
        doomed: set[int],
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        """Chunk ``chunk_id`` without the rows at ``doomed`` (whose records ``changes``
        removes), its other rows' buffers copied by Arrow, not decoded."""
        import pyarrow as pa

        self._guard(changes)
        batch = chunk.to_arrow(self._arrow_schema(system=True))
        kept = batch.filter(pa.array([n not in doomed for n in range(chunk.rows)]))
        columns = [*self._require_header().columns, *SYSTEM_COLUMNS]
        plain = chunkcodec.encode_arrow(kept, columns)
        old = self._generation(db, chunk_id)
        self._store_chunk(db, chunk_id, plain, kept.num_rows, old, changes)

    def mark_purged(
        self, planned: Mapping[str, tuple[int, str, str, str]], *, counts: Mapping[str, int]
    ) -> int:
        """Start the grace period of purged records: each of ``planned`` (id -> (version
        it must still have, rule, action, the day the grace ends)) becomes invisible
        to every read until :meth:`restore` brings it back, or a purge on or after
        that day destroys it. All or nothing; refused like :meth:`purge`."""
        subjects = list(planned)
        with self._change("purge", subjects=subjects, scope="policy") as op:
            db = self._db
            by_chunk = self._planned_chunks(db, subjects)
            current = self._states()
            for chunk_id, ids in by_chunk.items():
                rows = self._rows_with_ids(db, chunk_id, ids)
                positions = self._positions(rows, ids)
                for record_id in ids:
                    self._refuse_if_held(record_id)
                    version, rule, action, until = planned[record_id]
                    if _integer(rows[positions[record_id]][VERSION_COLUMN]) != version:
                        raise states.PlanMismatchError(
                            "a planned record changed since the plan was made: make a new plan"
                        )
                    current.purged[self.token_hex(record_id)] = {
                        "at": utc_now(),
                        "until": until,
                        "rule": rule,
                        "action": action,
                    }
            self._save_states(db, current)
            op.counts.update({"in_grace": len(subjects), **dict(counts)})
        return len(subjects)

    def restore(self, record_id: str) -> None:
        """Bring back a record a purge made invisible, before its grace period ends."""
        token = self.token_hex(record_id)
        with self._change("restore", subjects=[record_id]):
            current = self._states()
            if token not in current.purged:
                raise NotFoundError(
                    f"no purged record with {self.settings.id_field} {record_id} in its grace "
                    "period (restored already, destroyed, or never purged)"
                )
            del current.purged[token]
            self._save_states(self._db, current)

    def purged_states(self) -> dict[str, dict[str, str]]:
        """Records in a purge's grace period: id token (hex) -> their purge state."""
        with self._transaction(write=False):
            return dict(self._states().purged)

    def _planned_chunks(
        self, db: sqlite3.Connection, subjects: Sequence[str]
    ) -> dict[int, list[str]]:
        by_chunk, absent = self._chunks_of(db, subjects)
        if absent:
            raise states.PlanMismatchError(
                f"{len(absent)} planned record(s) are no longer in the store: make a new plan"
            )
        return by_chunk

    def token_hex(self, record_id: str) -> str:
        """The record's id token in hex: how record states and tombstones name it."""
        return self._id_token(record_id).hex()

    def guarded_tokens(self) -> dict[str, str]:
        """Id tokens (hex) of held records ("hold") and restricted ones ("restricted")."""
        with self._transaction(write=False):
            current = self._states()
        out = dict.fromkeys(current.restricted, "restricted")
        out.update(dict.fromkeys(current.hold, "hold"))
        return out

    def _refuse_if_held(self, record_id: str) -> None:
        hold = self._states().hold
        if hold and self._id_token(record_id).hex() in hold:
            raise states.LegalHoldError(
                f"record {record_id} is under legal hold: it cannot be erased or purged "
                "until it is released (custrec release)"
            )

    def _scrub(self) -> None:
        """Move every committed page into the database file and empty the journal, so
        that no earlier page image (with deleted ciphertext) stays in ``-wal``; freed
        pages were already zeroed (``secure_delete``)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def reapply_erasures(self) -> list[str]:
        """Erase again every record that ``STORE.erasures`` says was erased (after the
        store was restored from a backup taken before the erasures), and restore the
        tombstones in the store. The pseudonyms of the records erased again."""
        header = self._require_header()
        kept = states.read_tombstone_file(self.path, self._require_keys().header, header.store_id)
        with self._transaction(write=False) as db:
            tokens = {bytes.fromhex(t): t for t in kept}
            present = [
                bytes(row[0])
                for row in db.execute("SELECT token FROM id_index")
                if bytes(row[0]) in tokens
            ]
            todo: list[tuple[str, list[str]]] = []
            for token in present:
                chunk_id = _integer(
                    db.execute(
                        "SELECT chunk_id FROM id_index WHERE token = ?", (token,)
                    ).fetchone()[0]
                )
                entry = kept[tokens[token]]
                keep = [str(name) for name in entry.get("kept") or []]  # type: ignore[attr-defined]
                for row in self._chunk_rows(db, chunk_id):
                    record_id = str(row[self.settings.id_field])
                    if self._id_token(record_id) != token:
                        continue
                    held = [
                        n for n, _ in self.columns if n not in keep and n != self.settings.id_field
                    ]
                    if any(row.get(name) is not None for name in held):
                        todo.append((record_id, keep))
        again: list[str] = []
        for record_id, keep in todo:
            ground = str(kept[self._id_token(record_id).hex()].get("ground") or "") or None
            self.erase(record_id, keep=keep, ground=ground if keep else None)
            again.append(self.pseudonym_of(record_id))
        with self._change("reapply-erasures", scope="all") as op:
            current = self._states()
            missing = {t: e for t, e in kept.items() if t not in current.erased}
            if missing:
                current.erased.update(missing)
                self._save_states(self._db, current)
            op.counts.update({"erased_again": len(again), "tombstones_restored": len(missing)})
        return again

    # -- bulk writes (see custrec.store.ingest) --------------------------------------

    def prepare_ingest(
        self, table: pa.Table, segments: Sequence[bulk.Segment] | None = None
    ) -> bulk.IngestRows:
        """Compute the index tokens of ``table``'s rows for :meth:`ingest`, without the
        store's lock. ``table`` holds store fields (the id field required, non-null);
        ``segments`` say which columns each range of rows came with (default: all)."""
        from custrec.store import ingest as bulk

        settings = self.settings
        if settings.id_field not in table.column_names:
            raise UsageError(f"the rows lack the id field {settings.id_field!r}")
        ids = table.column(settings.id_field).to_pylist()
        if any(value is None for value in ids):
            raise UsageError(f"every row needs a value in {settings.id_field!r}")
        id_tokens = crypto.tokens(self._index_key, [b"id"], (str(v).encode() for v in ids))
        countries = (
            table.column(COUNTRY_FIELD).to_pylist()
            if COUNTRY_FIELD in table.column_names
            else [None] * table.num_rows
        )
        regions = {country: self._region_of(country) for country in set(countries)}
        match_tokens: dict[str, list[bytes | None]] = {}
        for name in settings.match_fields:
            if name not in table.column_names:
                continue
            values = table.column(name).to_pylist()
            wanted = [
                (position, normalise_match_value(name, value, regions[country]).encode())
                for position, (value, country) in enumerate(zip(values, countries, strict=True))
                if value is not None and str(value).strip()
            ]
            column: list[bytes | None] = [None] * len(values)
            made = crypto.tokens(self._index_key, [b"match", name.encode()], (w for _, w in wanted))
            for (position, _), token in zip(wanted, made, strict=True):
                column[position] = token
            match_tokens[name] = column
        all_columns = frozenset(table.column_names)
        return bulk.IngestRows(
            table=table,
            segments=list(segments or [bulk.Segment(0, table.num_rows, all_columns)]),
            id_tokens=id_tokens,
            match_tokens=match_tokens,
        )

    def ingest(
        self,
        rows: bulk.IngestRows,
        decide: bulk.Decide,
        *,
        collected_at: str | None = None,
        action: str = "collect",
        readmit_erased: bool = False,
    ) -> bulk.IngestResult:
        """Write prepared rows in one all-or-nothing transaction. Under the lock, finds
        which rows repeat an id or a contact detail (in the batch or the store) and asks
        ``decide`` what to do with each row: insert (a new id), update (an id in the
        store: the row's columns replace those fields), or skip. ``decide`` may raise
        to write nothing. Each written record's provenance is its segment's source and
        ``collected_at``. A row matching a tombstone (an erased customer's id, email
        or phone) refuses the batch unless ``readmit_erased``."""
        import pyarrow as pa

        from custrec.store import ingest as bulk

        result = bulk.IngestResult()
        id_field = self.settings.id_field
        table = rows.table
        ids = [str(v) for v in table.column(id_field).to_pylist()]
        result.fields = {name for segment in rows.segments for name in segment.columns}
        with self._change(action, subjects=ids, fields=result.fields) as op:
            db = self._db
            self._declare_columns(db, table.schema)
            if not readmit_erased:
                self._refuse_erased(rows, ids)
            located = packed.find_ids(db, rows.id_tokens)
            self._reread_phone_regions(db, rows, located, ids)
            holders = {
                name: packed.find_contacts(db, name, (t for t in tokens if t is not None))
                for name, tokens in rows.match_tokens.items()
            }
            contact_in_store: list[str | None] = [None] * rows.rows
            for name, tokens in rows.match_tokens.items():
                for position, token in enumerate(tokens):
                    if token is None or contact_in_store[position] is not None:
                        continue
                    owners = holders[name].get(token, set()) - {rows.id_tokens[position]}
                    if owners:
                        contact_in_store[position] = name
            repeat_of, contact_repeat = bulk.batch_matches(rows)
            matches = bulk.RowMatches(
                in_store=[token in located for token in rows.id_tokens],
                contact_in_store=contact_in_store,
                repeat_of=repeat_of,
                contact_repeat_of=contact_repeat,
            )
            actions = list(decide(matches))
            if len(actions) != rows.rows:
                raise ValueError("decide() must return one action per row")
            inserts: list[int] = []
            updates: dict[int, list[int]] = {}
            for position, row_action in enumerate(actions):
                if row_action is bulk.RowAction.SKIP:
                    result.skipped += 1
                    continue
                if repeat_of[position] is not None:
                    raise ValueError("a repeated id in the batch can only be skipped")
                token = rows.id_tokens[position]
                if row_action is bulk.RowAction.UPDATE:
                    if token not in located:
                        raise ValueError("only a record in the store can be updated")
                    updates.setdefault(located[token], []).append(position)
                elif token in located:
                    raise ValueError("a record in the store cannot be inserted again")
                else:
                    inserts.append(position)
            touched = self._ingest_updates(db, rows, updates, ids, collected_at)
            result.updated = sum(len(p) for p in updates.values())
            fresh = table.take(pa.array(inserts, type=pa.int64()))
            touched |= self._ingest_inserts(db, fresh, rows, inserts, collected_at)
            result.inserted = len(inserts)
            result.chunks_written = len(touched)
            self._update_manifest(db, (c // GROUP_CHUNKS for c in touched))
            op.counts.update(
                inserted=result.inserted, updated=result.updated, skipped=result.skipped
            )
        return result

    def _reread_phone_regions(
        self,
        db: sqlite3.Connection,
        rows: bulk.IngestRows,
        located: Mapping[bytes, int],
        ids: Sequence[str],
    ) -> None:
        """A row for a record already stored, from an input without a country field,
        leaves the record's country as it is: its phone numbers are matched in that
        country's region, as the record will be indexed after an update."""
        phones = [name for name in rows.match_tokens if is_phone_field(name)]
        if not phones or not located:
            return
        by_chunk: dict[int, list[int]] = {}
        for segment in rows.segments:
            if COUNTRY_FIELD in segment.columns:
                continue
            for position in range(segment.start, segment.stop):
                chunk_id = located.get(rows.id_tokens[position])
                if chunk_id is not None:
                    by_chunk.setdefault(chunk_id, []).append(position)
        for chunk_id, positions in by_chunk.items():
            chunk = self._read_chunk(db, chunk_id)
            stored = dict(
                zip(
                    (str(v) for v in chunk.values(self.settings.id_field)),
                    chunk.values(COUNTRY_FIELD),
                    strict=True,
                )
            )
            for position in positions:
                region = self._region_of(stored.get(ids[position]))
                for name in phones:
                    value = rows.table.column(name)[position].as_py()
                    if value is not None and str(value).strip():
                        normal = normalise_match_value(name, value, region)
                        rows.match_tokens[name][position] = self._normal_token(name, normal)

    def _declare_columns(self, db: sqlite3.Connection, schema: pa.Schema) -> None:
        """Add the columns of ``schema`` the store lacks; refuse a known column whose
        type differs (the caller converts values to the store's types first)."""
        header = self._require_header()
        known = header.column_types()
        added: list[tuple[str, str]] = []
        for arrow_field in schema:
            kind = _ARROW_KINDS.get(str(arrow_field.type))
            if kind is None:
                raise ValueError(f"column {arrow_field.name!r} has unsupported type")
            if arrow_field.name.startswith("_"):
                raise ValueError(f"column {arrow_field.name!r} is reserved")
            if arrow_field.name not in known:
                added.append((arrow_field.name, kind))
            elif known[arrow_field.name] != kind:
                raise ValueError(
                    f"column {arrow_field.name!r} is {kind}, the store has "
                    f"{known[arrow_field.name]}"
                )
        if added:
            header.columns = header.columns + added
            self._write_header(db, header)

    def _ingest_updates(
        self,
        db: sqlite3.Connection,
        rows: bulk.IngestRows,
        updates: Mapping[int, list[int]],
        ids: Sequence[str],
        collected_at: str | None,
    ) -> set[int]:
        import pyarrow as pa

        from custrec.store import ingest as bulk

        if not updates:
            return set()
        positions = sorted(p for group in updates.values() for p in group)
        incoming = dict(
            zip(
                positions,
                rows.table.take(pa.array(positions, type=pa.int64())).to_pylist(),
                strict=True,
            )
        )
        starts = [segment.start for segment in rows.segments]
        for chunk_id, group in updates.items():
            chunk_rows = self._chunk_rows(db, chunk_id)
            wanted = [ids[p] for p in group]
            places = self._positions(chunk_rows, wanted)
            changed: dict[str, Mapping[str, Value] | None] = {}
            for position, record_id in zip(group, wanted, strict=True):
                segment = rows.segments[bisect.bisect_right(starts, position) - 1]
                old = chunk_rows[places[record_id]]
                new = bulk.merge_update(old, incoming[position], segment.columns)
                new[SOURCE_COLUMN] = segment.source
                new[COLLECTED_COLUMN] = collected_at
                new[VERSION_COLUMN] = _integer(old[VERSION_COLUMN] or 0) + 1
                chunk_rows[places[record_id]] = changed[record_id] = new
            self._rewrite(db, chunk_id, chunk_rows, changed)
        return set(updates)

    def _ingest_inserts(
        self,
        db: sqlite3.Connection,
        fresh: pa.Table,
        rows: bulk.IngestRows,
        positions: Sequence[int],
        collected_at: str | None,
    ) -> set[int]:
        """New records: the last chunk is filled first, then whole chunks are laid out
        from Arrow buffers, with their index entries from the prepared tokens."""

        import pyarrow as pa

        count = fresh.num_rows
        if not count:
            return set()
        from custrec.store import ingest as bulk

        sources = bulk.sources_of(rows.segments, positions)
        tokens = [rows.id_tokens[p] for p in positions]
        fresh = fresh.append_column(VERSION_COLUMN, pa.array([1] * count, type=pa.int64()))
        fresh = fresh.append_column(SOURCE_COLUMN, pa.array(sources, type=pa.string()))
        fresh = fresh.append_column(
            COLLECTED_COLUMN, pa.array([collected_at] * count, type=pa.string())
        )
        size = self.settings.chunk_records
        start, next_id, touched = self._fill_last_chunk(
            db, lambda room: fresh.slice(0, room).to_pylist(), count
        )
        columns = [*self._require_header().columns, *SYSTEM_COLUMNS]
        id_entries: list[tuple[bytes, int]] = []
        match_entries: dict[str, list[tuple[bytes, bytes]]] = {n: [] for n in rows.match_tokens}
        for offset in range(start, count, size):
            piece = fresh.slice(offset, size).combine_chunks().to_batches()[0]
            chunk_id = next_id
            next_id += 1
            self._ensure_group(db, chunk_id // GROUP_CHUNKS)
            plain = chunkcodec.encode_arrow(piece, columns)
            self._seal_chunk(db, chunk_id, plain, piece.num_rows, None)
            stop = offset + piece.num_rows
            id_entries.extend((token, chunk_id) for token in tokens[offset:stop])
            for name, column in rows.match_tokens.items():
                match_entries[name].extend(
                    (match, tokens[n])
                    for n in range(offset, stop)
                    if (match := column[positions[n]]) is not None
                )
            touched.add(chunk_id)
        packed.insert_id_entries(db, id_entries)
        for name, entries in match_entries.items():
            packed.insert_match_entries(db, name, entries)
        return touched

    def _rewrite(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        rows: list[dict[str, Value]],
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        self._guard(changes)
        self._write_chunk(db, chunk_id, rows, self._generation(db, chunk_id), changes)

    def _generation(self, db: sqlite3.Connection, chunk_id: int) -> tuple[int, int] | None:
        """The chunk's (generation, key_no), None when it does not exist."""
        old = db.execute(
            "SELECT generation, key_no FROM chunks WHERE chunk_id = ?", (chunk_id,)
        ).fetchone()
        return (_integer(old[0]), _integer(old[1])) if old else None

    def _fill_last_chunk(
        self,
        db: sqlite3.Connection,
        first: Callable[[int], list[dict[str, Value]]],
        count: int,
    ) -> tuple[int, int, set[int]]:
        """Put the first new rows (``first(room)``) into the last chunk while it has
        room. Returns how many rows went there, the id of the next new chunk, and the
        chunks changed."""
        last = db.execute(
            "SELECT chunk_id, records FROM chunks ORDER BY chunk_id DESC LIMIT 1"
        ).fetchone()
        if last is None:
            return 0, 0, set()
        last_id, last_count = int(last[0]), int(last[1])
        room = min(self.settings.chunk_records - last_count, count)
        if room <= 0:
            return 0, last_id + 1, set()
        part = first(room)
        merged = self._chunk_rows(db, last_id) + part
        self._rewrite(db, last_id, merged, by_id(part, self.settings.id_field))
        return room, last_id + 1, {last_id}

    def _append(self, db: sqlite3.Connection, rows: list[dict[str, Value]]) -> set[int]:
        """Add new rows: first into the last chunk while it has room, then new chunks."""
        if not rows:
            return set()
        size = self.settings.chunk_records
        id_field = self.settings.id_field
        start, next_id, touched = self._fill_last_chunk(db, lambda room: rows[:room], len(rows))
        for offset in range(start, len(rows), size):
            part = rows[offset : offset + size]
            self._write_chunk(db, next_id, part, None, by_id(part, id_field))
            touched.add(next_id)
            next_id += 1
        return touched

    def _extend_columns(self, db: sqlite3.Connection, rows: Iterable[Mapping[str, Value]]) -> None:
        """Add columns for fields not seen before. The first value decides the type
        (integers mixed with decimals make decimals); a field only ever empty is text."""
        header = self._require_header()
        known = header.column_types()
        added: dict[str, str | None] = {}
        for row in rows:
            for name, value in row.items():
                if name in known or name.startswith("_"):
                    continue
                if value is None:
                    added.setdefault(name, None)
                    continue
                kind, current = infer_type(value), added.get(name)
                if current is None:
                    added[name] = kind
                elif {current, kind} == {"int64", "float64"}:
                    added[name] = "float64"
        if added:
            header.columns = header.columns + [(n, k or "string") for n, k in added.items()]
            self._write_header(db, header)

    # -- keys and holders ---------------------------------------------------------

    def add_holder(self, source: KeySource) -> Holder:
        """Give another key (a key file or passphrase) access: wraps the master key to
        it; no record is re-encrypted."""
        with self._change("key-add") as op:
            db = self._db
            header = self._require_header()
            slot = new_slot(source, header.store_id, self._require_keys().master)
            op.counts["holders"] = len(header.holders) + 1
            if any(h["key_id"] == slot["key_id"] for h in header.holders):
                raise UsageError(f"key {slot['key_id']} is already a key of this store")
            insert_slot(db, slot)
            header.holders = read_holders(db)
            self._write_header(db, header)
        return Holder(slot["key_id"], slot["kind"], slot["added_at"])

    def remove_holder(self, key_id: str) -> None:
        """Revoke one key holder, and replace the master key so that a copy of it kept
        by that holder no longer opens the data keys. Run :meth:`rotate_data_keys` to
        re-encrypt the records too."""
        with self._change("key-remove") as op:
            db = self._db
            header = self._require_header()
            ids = [str(h["key_id"]) for h in header.holders]
            op.counts["holders"] = len(ids) - 1
            if key_id not in ids:
                raise NotFoundError(f"{key_id} is not a key of this store (keys: {', '.join(ids)})")
            if len(ids) == 1:
                raise UsageError("refusing to remove the store's only key: add another first")
            db.execute("DELETE FROM holders WHERE key_id = ?", (key_id,))
            self._replace_master_key(db)

    def rotate_data_keys(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encrypt every chunk under new data keys (and replace the master key).

        Each chunk is re-encrypted in its own transaction, so an interrupted rotation
        keeps what it did; running it again finishes the rest. Returns the number of
        chunks re-encrypted by this call."""
        with self._change("key-rotate", scope="all", single_transaction=False) as op:
            op.counts["chunks"] = done = self._rotate(progress)
        return done

    def _rotate(self, progress: Callable[[int, int], None] | None) -> int:
        with self._transaction(write=True) as db:
            header = self._require_header()
            pending = db.execute(
                "SELECT COUNT(*) FROM chunks WHERE epoch < ?", (header.epoch,)
            ).fetchone()[0]
            if not pending:  # start a new rotation
                header.epoch += 1
                self._write_header(db, header)
                self._replace_master_key(db)
        done = 0
        while True:
            with self._transaction(write=True) as db:
                header = self._require_header()
                total = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
                row = db.execute(
                    "SELECT chunk_id FROM chunks WHERE epoch < ? ORDER BY chunk_id LIMIT 1",
                    (header.epoch,),
                ).fetchone()
                if row is None:
                    return done
                chunk_id = int(row[0])
                self._rewrite(db, chunk_id, self._chunk_rows(db, chunk_id), {})
                self._update_manifest(db, [chunk_id // GROUP_CHUNKS])
                done += 1
                remaining = int(
                    db.execute(
                        "SELECT COUNT(*) FROM chunks WHERE epoch < ?", (header.epoch,)
                    ).fetchone()[0]
                )
            if progress is not None:
                progress(total - remaining, total)

    def _replace_master_key(self, db: sqlite3.Connection) -> None:
        """New master key, wrapped to every remaining holder's public key; data keys and
        the index key re-sealed, manifest and header re-authenticated."""
        header = self._require_header()
        old = self._require_keys()
        self._ensure_all_groups(db)
        new = _Keys(crypto.random_bytes(), header.store_id)
        sealed_keys = db.execute("SELECT key_no, sealed FROM data_keys").fetchall()
        resealed = []
        for key_no, sealed in sealed_keys:
            aad = b"data key" + header.store_id + _int8(int(key_no))
            plain = crypto.open_sealed(old.wrap, bytes(sealed), aad, f"data key {key_no}")
            resealed.append((crypto.seal(new.wrap, plain, aad), int(key_no)))
        db.executemany("UPDATE data_keys SET sealed = ? WHERE key_no = ?", resealed)
        index_aad = b"index key" + header.store_id
        header.index_key_sealed = crypto.seal(new.wrap, self._index_key, index_aad)
        for holder in read_holders(db):
            wrapped = crypto.wrap_to_holder(
                new.master,
                bytes(holder["public_key"]),
                holder_aad(header.store_id, str(holder["key_id"])),
            )
            db.execute(
                "UPDATE holders SET ephemeral = ?, sealed = ? WHERE key_id = ?",
                (wrapped.ephemeral, wrapped.sealed, holder["key_id"]),
            )
        header.holders = read_holders(db)
        self._keys = new
        groups = [int(r[0]) for r in db.execute("SELECT group_id FROM chunk_groups")]
        self._update_manifest(db, groups)

    # -- verification -------------------------------------------------------------------

    def verify(self) -> int:
        """Check everything: header, manifest, every chunk's seal, and that the id index
        matches the records exactly. Returns the number of records."""
        try:
            records = self._verify_all()
        except CustrecError as exc:
            self._access("verify", scope="all", failure=exc)
            raise
        self._access("verify", scope="all", counts={"records": records})
        return records

    def _verify_all(self) -> int:
        records = 0
        with self._transaction(write=False) as db:
            id_field = self.settings.id_field
            self._ensure_all_groups(db)
            for (chunk_id,) in db.execute("SELECT chunk_id FROM chunks").fetchall():
                ids = self._read_chunk(db, _integer(chunk_id)).values(id_field)
                tokens = {
                    bytes(r[0])
                    for r in db.execute(
                        "SELECT token FROM id_index WHERE chunk_id = ?", (chunk_id,)
                    )
                }
                if tokens != {self._id_token(str(i)) for i in ids}:
                    raise IntegrityError(
                        f"{self.path}: the id index does not match chunk {chunk_id}: the store was "
                        "altered or damaged"
                    )
                records += len(ids)
            indexed = int(db.execute("SELECT COUNT(*) FROM id_index").fetchone()[0])
            if indexed != records:
                raise IntegrityError(f"{self.path}: the id index has entries for no record")
            orphans = db.execute(
                "SELECT (SELECT COUNT(*) FROM match_index WHERE record NOT IN "
                "(SELECT token FROM id_index)) + (SELECT COUNT(*) FROM chunk_payloads "
                "WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks))"
            ).fetchone()[0]
            if orphans:
                raise IntegrityError(
                    f"{self.path}: the indexes or payloads have entries for no record or "
                    "chunk: the store was altered or damaged"
                )
        return records


# --- module functions -------------------------------------------------------------------


def create_store(
    path: str | Path,
    source: KeySource,
    *,
    settings: StoreSettings | None = None,
    columns: Sequence[tuple[str, str]] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    context: audit.AuditContext | None = None,
) -> Store:
    """Create an empty store at ``path`` (which must not exist), opened by ``source``.
    ``columns`` declares its fields (name, type), the id field first; by default it
    has the id field only, and takes the fields of the first records collected.

    The file is built beside ``path`` and renamed into place, so a crash leaves either
    nothing or a complete empty store. Mode 0600."""
    target = Path(path)
    chosen = settings or StoreSettings()
    if chosen.chunk_records < 1:
        raise UsageError("chunk_records must be at least 1")
    if target.exists():
        raise UsageError(f"{target} already exists; refusing to overwrite a store")
    if not target.parent.is_dir() and str(target.parent):
        raise InputError(str(target), f"directory {str(target.parent)!r} does not exist")
    temp = target.with_name(f".{target.name}.creating-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            db.executescript(_SCHEMA)
            store_id = crypto.random_bytes(16)
            master = crypto.random_bytes()
            keys = _Keys(master, store_id)
            index_key = crypto.random_bytes()
            slot = new_slot(source, store_id, master)
            db.execute("BEGIN")
            insert_slot(db, slot)
            header = _Header(
                store_id=store_id,
                created_at=utc_now(),
                settings=chosen,
                columns=_initial_columns(chosen.id_field, columns),
                epoch=1,
                index_key_sealed=crypto.seal(keys.wrap, index_key, b"index key" + store_id),
                header_mac=b"",
                manifest_mac=b"",
                holders=read_holders(db),
            )
            db.executemany(
                "INSERT INTO header (name, value) VALUES (?, ?)",
                [
                    ("magic", MAGIC),
                    ("format", str(FORMAT_VERSION).encode()),
                    ("store_id", store_id),
                    ("created_at", header.created_at.encode()),
                ],
            )
            store = Store(target, db, lock_timeout, context)
            store._keys = keys
            store._header = header
            store._index_key = index_key
            header.manifest_mac = store._top_mac(db)
            store._write_header(db, header)
            init = _Operation(os.urandom(8).hex(), "init", set(), {"holders": 1})
            store._audit(db, init, "outcome", "ok")
            db.execute("COMMIT")
        finally:
            db.close()
        os.replace(temp, target)
        _fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    return open_store(target, source, lock_timeout=lock_timeout, context=context)


def open_store(
    path: str | Path,
    source: KeySource,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    context: audit.AuditContext | None = None,
) -> Store:
    """Open and unlock the store at ``path``. A wrong key raises
    :class:`WrongKeyError`; a damaged or altered file :class:`IntegrityError`.
    ``context`` (actor, command, reason) goes into the audit entries it writes."""
    target = Path(path)
    db = _connect(target, lock_timeout)
    store = Store(target, db, lock_timeout, context)
    try:
        try:
            store._unlock(source)
        except sqlite3.DatabaseError as exc:
            raise _damaged(target, exc) from None
    except BaseException:
        store.close()
        raise
    return store


def _initial_columns(
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


def is_store_file(path: str | Path) -> bool:
    """Whether ``path`` is a custrec store (an SQLite file with custrec's application
    id), judged from its first 100 bytes without opening it as a database."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except OSError:
        return False
    return (
        len(head) == 100
        and head.startswith(b"SQLite format 3\x00")
        and int.from_bytes(head[68:72], "big") == APPLICATION_ID
    )


def read_holders_unverified(path: str | Path) -> list[Holder]:
    """The key holders listed in a store's header, without a key (so unauthenticated)."""
    target = Path(path)
    db = _connect(target, 0)
    try:
        header = _read_header(db, target)
    finally:
        db.close()
    return [Holder(str(h["key_id"]), str(h["kind"]), str(h["added_at"])) for h in header.holders]


# --- helpers ---------------------------------------------------------------------------


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _connect(path: Path, lock_timeout: float) -> sqlite3.Connection:
    if not path.exists():
        raise InputError(str(path), "no such store")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if path.stat().st_size == 0:
        raise IntegrityError(f"{path}: the store file is empty (truncated)")
    if head != b"SQLite format 3\x00":
        raise InputError(str(path), "not a custrec store")
    try:
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=lock_timeout,
        )
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, exc) from None
    if application_id != APPLICATION_ID:
        db.close()
        raise InputError(str(path), "not a custrec store (an SQLite database of another kind)")
    if version != FORMAT_VERSION:
        db.close()
        raise InputError(
            str(path),
            f"store format {version} is not supported (this custrec reads "
            f"format {FORMAT_VERSION}); upgrade custrec",
        )
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA cache_size = -65536")  # KiB: bulk writes keep index pages in memory
        db.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _busy_or_damaged(exc, path, lock_timeout) from None
    return db


def _damaged(path: Path, exc: sqlite3.DatabaseError) -> IntegrityError:
    return IntegrityError(f"{path}: the store file is damaged or truncated ({exc})")


def _busy_or_damaged(
    exc: sqlite3.DatabaseError, path: Path, timeout: float
) -> StoreBusyError | IntegrityError:
    if "locked" in str(exc) or "busy" in str(exc):
        return StoreBusyError(
            f"store {path} is busy: another custrec process is writing to it "
            f"(waited {timeout:g} s); try again later or raise --lock-timeout"
        )
    return _damaged(path, exc)


def _read_header(db: sqlite3.Connection, path: Path) -> _Header:
    try:
        values = {str(k): bytes(v) for k, v in db.execute("SELECT name, value FROM header")}
        holders = read_holders(db)
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, exc) from None
    try:
        if values["magic"] != MAGIC or int(values["format"]) != FORMAT_VERSION:
            raise ValueError("magic")
        header = _Header(
            store_id=values["store_id"],
            created_at=values["created_at"].decode(),
            settings=StoreSettings.from_json(json.loads(values["settings"])),
            columns=[(str(n), str(t)) for n, t in json.loads(values["columns"])],
            epoch=int(values["epoch"].decode("ascii")),
            index_key_sealed=values["index_key"],
            header_mac=values["header_mac"],
            manifest_mac=values["manifest_mac"],
            holders=holders,
            states_sealed=values.get("states"),
        )
        if (
            header.settings_json() != values["settings"]
            or header.columns_json() != values["columns"]
        ):
            raise ValueError("not in canonical form")
        return header
    except (KeyError, ValueError, TypeError) as exc:
        raise IntegrityError(
            f"{path}: the store header is damaged or was altered ({type(exc).__name__})"
        ) from None


def _header_parts(header: _Header) -> list[bytes]:
    parts = [
        MAGIC,
        _int8(FORMAT_VERSION),
        header.store_id,
        header.created_at.encode(),
        header.settings_json(),
        header.columns_json(),
        _int8(header.epoch),
        header.index_key_sealed,
    ]
    for holder in header.holders:
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
    if header.states_sealed is not None:  # absent from stores that never had one
        parts += [b"states", header.states_sealed]
    return parts
