"""The encrypted record store: one SQLite file holding encrypted chunks of records.

Layout and cryptography are specified in ``docs/format.md``. :class:`Store` is a small
front over the parts of an open store, each in its own module:

- :mod:`~custrec.store.fileformat`: the file, its tables and its header;
- :mod:`~custrec.store.keyschedule`: every key, and everything sealed under the master
  key, listed once; :mod:`~custrec.store.rotation`: holders and key changes;
- :mod:`~custrec.store.session`: transactions, the authenticated header and manifest;
- :mod:`~custrec.store.vault`: chunks sealed under one-time data keys, kept in
  :mod:`~custrec.store.keystore`, the key store beside the data file;
- :mod:`~custrec.store.index`: blind indexes of ids, emails and phones;
- :mod:`~custrec.store.guard`: record states (hold, restriction, erasure, grace);
- :mod:`~custrec.store.reads`, :mod:`~custrec.store.writes`,
  :mod:`~custrec.store.bulk`: reading, writing, bulk ingest;
- :mod:`~custrec.store.rights`, :mod:`~custrec.store.tombstones`: erasure, purges,
  and the tombstone file beside the store;
- :mod:`~custrec.store.auditing`: the audit trail of every read and change;
- :mod:`~custrec.store.verification`: the end-to-end check;
- :mod:`~custrec.store.creation`, :mod:`~custrec.store.migration`,
  :mod:`~custrec.store.backup`: a new store, formats 1 and 2 to 3, a consistent copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custrec import audit
from custrec.errors import CustrecError, NotFoundError
from custrec.locking import DEFAULT_LOCK_TIMEOUT
from custrec.progress import NO_PROGRESS, Progress
from custrec.store import keystore
from custrec.store.auditing import Auditor
from custrec.store.fileformat import (
    StoreSettings,
    connect,
    database_error,
    read_header,
)
from custrec.store.guard import RecordGuard
from custrec.store.holders import Holder
from custrec.store.index import BlindIndex
from custrec.store.keys import KeySource
from custrec.store.parts import StoreParts
from custrec.store.reads import RecordReader
from custrec.store.records import Record, Value
from custrec.store.rights import DataSubjectRights
from custrec.store.rotation import KeyHolders
from custrec.store.session import StoreSession
from custrec.store.vault import ChunkVault
from custrec.store.writes import RecordChange, RecordWriter, WriteResult

if TYPE_CHECKING:
    import pyarrow as pa

    from custrec.audit_read import AuditEntries, AuditQuery, AuditVerification
    from custrec.store import ingest as bulk_types
    from custrec.store.backup import BackupResult
    from custrec.store.bulk import BulkIngest
    from custrec.store.migration import MigrationResult


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
        self.context = context or audit.AuditContext()
        session = self._session = StoreSession(path, connection, lock_timeout)
        self._vault = ChunkVault(session)
        self._index = BlindIndex(session)
        self._guard = RecordGuard(session, self._index)
        self._auditor = Auditor(session, self.context)
        parts = self._parts = StoreParts(
            session, self._vault, self._index, self._guard, self._auditor
        )
        self._reader = RecordReader(parts)
        self._writer = RecordWriter(parts)
        self._rights = DataSubjectRights(parts, self._writer)
        self._keys = KeyHolders(session, self._vault, self._auditor, self._writer)
        self._bulk: BulkIngest | None = None

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
        # this connection was open. A process killed before the checkpoint leaves a WAL
        # that the next connection recovers.
        if self._session.keystore is not None:
            self._session.keystore.close()
        self._session.db.close()

    def _opened(self) -> None:
        """After unlocking: finish a scrub left pending, and check the tombstone file."""
        self._session.settle_if_needed()
        header = self._session.require_header()
        if header.scrub_pending and not self._rights.finish_pending_scrub():
            self._rights.notes.append(
                f"{self.path}: the scrub of an earlier erasure is still pending (another "
                "process is reading an older snapshot)"
            )
        found = self._rights.reconcile_tombstones()
        self._rights.notes.extend(found.notes)

    @property
    def notes(self) -> list[str]:
        """Things the user should be told about this store (a recreated tombstone file,
        erasures to apply again, a pending scrub): taken once."""
        taken, self._rights.notes = self._rights.notes, []
        return taken

    @property
    def scrub_pending(self) -> bool:
        """Whether an erasure's scrub of the journal still waits for other readers."""
        return read_header(self._session.db, self.path).scrub_pending

    @property
    def settings(self) -> StoreSettings:
        return self._session.require_header().settings

    @property
    def store_id(self) -> str:
        return self._session.require_header().store_id.hex()

    @property
    def columns(self) -> list[tuple[str, str]]:
        return list(self._session.require_header().columns)

    @property
    def key_id(self) -> str | None:
        return self._session.key_id

    @property
    def restricted_skipped(self) -> int:
        """Restricted records the last bulk read left out."""
        return self._reader.restricted_skipped

    # -- audit trail ----------------------------------------------------------------

    def audit_verify(self, *, expect_head: str | None = None) -> AuditVerification:
        """Check the whole audit trail (see :func:`custrec.audit_read.verify`)."""
        return self._auditor.verify(expect_head=expect_head)

    def audit_head(self) -> tuple[int, str]:
        """The audit trail's head (last sequence number, its hash in hex), for an
        external witness (``custrec audit head``)."""
        return self._auditor.head()

    def audit_query(self, wanted: AuditQuery, *, resolve_ids: bool = False) -> AuditEntries:
        """Audit entries matching ``wanted``. With ``resolve_ids``, the pseudonyms are
        mapped back to the ids of records still in the store (a read of every id,
        itself audited)."""
        from custrec import audit_read

        found = self._auditor.query(wanted)
        if resolve_ids:
            id_field = self.settings.id_field
            ids = (
                str(i)
                for batch in self.iter_batches(action="resolve-ids", include_restricted=True)
                for i in batch.column(id_field).to_pylist()
            )
            audit_read.resolve(found, ids, self._auditor.keys)
        return found

    def pseudonym_of(self, record_id: str) -> str:
        """The pseudonym that stands for ``record_id`` in the audit trail."""
        return self._auditor.keys.pseudonym_of(record_id)

    def pseudonyms_of(self, record_ids: Iterable[str]) -> list[str]:
        """:meth:`pseudonym_of` of many records, worked out together."""
        return self._auditor.pseudonyms_of(record_ids)

    # -- reading --------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """The record with this id; :class:`NotFoundError` (exit 6) when there is none."""
        found = self.get_many([record_id])
        if record_id not in found:
            raise NotFoundError(f"no record with {self.settings.id_field} {record_id}")
        return found[record_id]

    def get_many(
        self, record_ids: Sequence[str], *, include_restricted: bool = False, action: str = "get"
    ) -> dict[str, Record]:
        """The records with these ids that exist, by id (one snapshot). A restricted
        record is refused (exit 1) unless ``include_restricted`` (access export)."""
        return self._reader.get_many(
            record_ids, include_restricted=include_restricted, action=action
        )

    def find(self, field_name: str, value: str, *, region: str | None = None) -> list[Record]:
        """Records whose ``field_name`` (a match field, e.g. email or phone) equals
        ``value`` once both are normalised (case, spacing, phone formats). ``region``
        reads a phone number ``value`` written without its country code (default: the
        store's region)."""
        return self._reader.find(field_name, value, region=region)

    def find_text(self, fields: Sequence[str], query: str) -> list[Record]:
        """Records where every word of ``query`` begins a word of ``fields`` (e.g. first
        and last name), ignoring case and accents. Not indexed: each chunk is decrypted,
        but only these fields are decoded until a record matches."""
        return self._reader.find_text(fields, query)

    def count(self) -> int:
        """The number of records (from the authenticated manifest; nothing decrypted)."""
        return self._reader.count()

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
        return self._reader.iter_batches(
            system=system,
            action=action,
            fields=fields,
            include_restricted=include_restricted,
            audited=audited,
            include_purged=include_purged,
        )

    def to_pandas(self) -> Any:
        """All records as one pandas DataFrame."""
        return self._reader.to_pandas()

    def holders(self) -> list[Holder]:
        return self._keys.holders()

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
        return self._writer.put(records, replace=replace, source=source, collected_at=collected_at)

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
        return self._writer.update_many(changes, check=check)

    def delete(self, record_ids: Sequence[str]) -> WriteResult:
        """Remove records (all-or-nothing; unknown ids are an error). Each affected chunk
        is re-encrypted under a new data key and the old key is destroyed."""
        return self._writer.delete(record_ids)

    # -- bulk writes ----------------------------------------------------------------------

    def _bulk_ingest(self) -> BulkIngest:
        if self._bulk is None:
            from custrec.store.bulk import BulkIngest

            self._bulk = BulkIngest(self._parts, self._writer)
        return self._bulk

    def ingest(
        self,
        batches: Iterable[bulk_types.IngestBatch],
        decide: bulk_types.Decide,
        *,
        collected_at: str | None = None,
        action: str = "collect",
        readmit_erased: bool = False,
    ) -> bulk_types.IngestResult:
        """Write a stream of incoming batches in one all-or-nothing transaction, holding
        one batch at a time. Under the lock, for each batch: finds which rows repeat an
        id or a contact detail (an earlier row of the stream, or a record in the store),
        and which the store refuses (``RowMatches.refused``: an erased customer's id,
        email or phone unless ``readmit_erased``, or a record in a purge's grace period:
        they are skipped whatever ``decide`` says), and asks ``decide`` what to do with
        each row: insert (a new id), update (an id in the store: the row's columns
        replace those fields), or skip. ``decide`` or the iteration of ``batches`` may
        raise to write nothing (the caller counts progress as it yields batches). Each
        written record's provenance is its segment's source and ``collected_at``. The
        audit's outcome entry names every row's id (as pseudonyms)."""
        return self._bulk_ingest().ingest(
            batches,
            decide,
            collected_at=collected_at,
            action=action,
            readmit_erased=readmit_erased,
        )

    # -- data-subject rights ----------------------------------------------------------------

    def record_states(self, record_id: str) -> dict[str, bool]:
        """Whether the record is under legal hold, restricted, or was erased."""
        with self._session.transaction(write=False):
            return self._guard.of(record_id)

    def set_state(self, state: str, record_id: str, on: bool) -> bool:
        """Put the record under (``on``) or out of ``state`` (``hold`` or
        ``restricted``); audited as hold/release or restrict/unrestrict. Whether it
        changed anything (setting a state twice is not an error)."""
        return self._rights.set_state(state, record_id, on)

    def erase(
        self, record_id: str, *, keep: Sequence[str] = (), ground: str | None = None
    ) -> WriteResult:
        """The right to erasure for one record: it is removed (or, with ``keep``, only
        those fields are kept, for the legal obligation ``ground``), its chunk is
        re-encrypted under a new data key and the old key destroyed, freed pages are
        overwritten and the journal emptied (``result.scrubbed``), and a tombstone of
        its id and contact tokens is kept, in the same transaction, in the store (and
        then in ``STORE.erasures``). A record erased already is not an error
        (``result.already_erased``). A record under legal hold is refused (exit 1)."""
        return self._rights.erase(record_id, keep, ground)

    def reapply_erasures(self) -> list[str]:
        """Erase again every record that ``STORE.erasures`` says was erased (after the
        store was restored from a backup taken before the erasures), and restore the
        tombstones in the store. The pseudonyms of the records erased again."""
        return self._rights.reapply_erasures()

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
        return self._rights.purge(planned, counts or {})

    def mark_purged(
        self, planned: Mapping[str, tuple[int, str, str, str]], *, counts: Mapping[str, int]
    ) -> int:
        """Start the grace period of purged records: each of ``planned`` (id -> (version
        it must still have, rule, action, the day the grace ends)) becomes invisible
        to every read until :meth:`restore` brings it back, or a purge on or after
        that day destroys it. All or nothing; refused like :meth:`purge`."""
        return self._rights.mark_purged(planned, counts)

    def restore(self, record_id: str) -> None:
        """Bring back a record a purge made invisible, before its grace period ends."""
        self._rights.restore(record_id)

    def purged_states(self) -> dict[str, dict[str, str]]:
        """Records in a purge's grace period: id token (hex) -> their purge state."""
        with self._session.transaction(write=False):
            return dict(self._guard.states().purged)

    def token_hex(self, record_id: str) -> str:
        """The record's id token in hex: how record states and tombstones name it."""
        return self._index.token_hex(record_id)

    def guarded_tokens(self) -> dict[str, str]:
        """Id tokens (hex) of held records ("hold") and restricted ones ("restricted")."""
        with self._session.transaction(write=False):
            current = self._guard.states()
        out = dict.fromkeys(current.restricted, "restricted")
        out.update(dict.fromkeys(current.hold, "hold"))
        return out

    # -- keys and holders ---------------------------------------------------------

    def add_holder(self, source: KeySource) -> Holder:
        """Give another key (a key file or passphrase) access: wraps the master key to
        it; no record is re-encrypted."""
        return self._keys.add(source)

    def remove_holder(self, key_id: str) -> None:
        """Revoke one key holder, and replace the master key so that a copy of it kept
        by that holder no longer opens the data keys. Run :meth:`rotate_data_keys` to
        re-encrypt the records too."""
        self._keys.remove(key_id)

    def rotate_data_keys(self, progress: Progress = NO_PROGRESS) -> int:
        """Re-encrypt every chunk under new data keys (and replace the master key).

        Each chunk is re-encrypted in its own transaction, so an interrupted rotation
        keeps what it did; running it again finishes the rest. Returns the number of
        chunks re-encrypted by this call (``progress`` counts them)."""
        return self._keys.rotate(progress)

    # -- format -------------------------------------------------------------------------

    @property
    def keystore_path(self) -> Path:
        """Where the store's key store is (beside the data file; none in format 1)."""
        return keystore.path_of(self.path)

    @property
    def format(self) -> int:
        """The store's format version (1: data keys in the data file; 2: in the key
        store beside it; 3: each field group sealed apart)."""
        return self._session.require_header().format

    def migrate(self, progress: Progress = NO_PROGRESS) -> MigrationResult:
        """Convert a store of an older format (1 or 2) to the current format in place,
        each step atomic (see :mod:`custrec.store.migration`), then verify it whole. A
        store already in the current format is left as it is."""
        from custrec.store.migration import Migration

        result = Migration(self._parts).run()
        if result.from_format != result.to_format:
            self._session.open_keystore()
            self.verify(progress=progress)
        return result

    def backup(self, data_dir: str | Path, keys_dir: str | Path | None = None) -> BackupResult:
        """Copy the data file into ``data_dir`` and its key store into ``keys_dir``
        (default: the same directory), together and consistent (see
        :mod:`custrec.store.backup`); audited. Existing files are never overwritten."""
        from custrec.store.backup import Backup

        chosen = Path(data_dir)
        return Backup(self._parts).run(chosen, Path(keys_dir) if keys_dir else chosen)

    # -- verification -------------------------------------------------------------------

    def verify(
        self, *, witness: tuple[int, str] | None = None, progress: Progress = NO_PROGRESS
    ) -> int:
        """Check everything (see :mod:`custrec.store.verification`): the file's
        structure, header, manifest, every chunk's seal, that the indexes match the
        records exactly, the record states, the tombstone file and the audit trail (and
        that it still holds the head a ``witness`` saw). Returns the number of records;
        an :class:`IntegrityError` names the part that failed. ``progress`` counts the
        chunks checked."""
        from custrec.store.verification import Verifier

        checker = Verifier(self._parts, self._rights)
        try:
            records = checker.verify(witness, progress)
        except CustrecError as exc:
            self._auditor.access("verify", scope="all", failure=exc)
            raise
        self._auditor.access("verify", scope="all", counts={"records": records})
        return records


# --- module functions -------------------------------------------------------------------


def open_store(
    path: str | Path,
    source: KeySource,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    context: audit.AuditContext | None = None,
) -> Store:
    """Open and unlock the store at ``path``. A wrong key raises
    :class:`WrongKeyError`; a damaged or altered file :class:`IntegrityError`.
    ``context`` (actor, command, reason) goes into the audit entries it writes.
    :attr:`Store.notes` then says what the user should know (a tombstone file that
    was missing or behind, erasures a restored backup lacks)."""
    target = Path(path)
    db = connect(target, lock_timeout)
    store = Store(target, db, lock_timeout, context)
    try:
        try:
            store._session.unlock(source)
            store._session.open_keystore()
            store._opened()
        except sqlite3.DatabaseError as exc:
            raise database_error(exc, target, lock_timeout) from None
    except BaseException:
        store.close()
        raise
    return store
