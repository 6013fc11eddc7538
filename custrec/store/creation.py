"""Creating a store: the data file, its key store and its tombstone file, laid out and
put in place so that a crash leaves nothing or a complete empty store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from custrec import audit, crypto
from custrec.errors import InputError, UsageError
from custrec.locking import DEFAULT_LOCK_TIMEOUT
from custrec.store import keyschedule, keystore, tombstones
from custrec.store.auditing import Auditor, Operation
from custrec.store.container import Store, open_store
from custrec.store.fileformat import (
    APPLICATION_ID,
    FORMAT_VERSION,
    MAGIC,
    SCHEMA,
    Header,
    StoreSettings,
    connect,
    initial_columns,
    new_file_beside,
    put_in_place,
    read_header,
)
from custrec.store.holders import Holder, insert_slot, new_slot, read_holders, utc_now
from custrec.store.keys import KeySource
from custrec.store.keyschedule import MasterKeys
from custrec.store.session import StoreSession


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
    nothing or a complete empty store; its key store and its (empty) tombstone file are
    written beside it first. Mode 0600."""
    target = Path(path)
    chosen = settings or StoreSettings()
    if chosen.chunk_records < 1:
        raise UsageError("chunk_records must be at least 1")
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target} already exists; refusing to overwrite a store")
    keys_path = keystore.path_of(target)
    if keys_path.exists() or keys_path.is_symlink():
        raise UsageError(
            f"{keys_path} already exists (the key store of another store?); refusing to "
            "overwrite it: move it away first"
        )
    if not target.parent.is_dir() and str(target.parent):
        raise InputError(str(target), f"directory {str(target.parent)!r} does not exist")
    with new_file_beside(target) as temp:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            store_id, index_key = _build(db, target, source, chosen, columns, context)
        finally:
            db.close()
        keystore.create(keys_path, store_id, keystore.mac_key(index_key, store_id))
        try:
            sidecar = tombstones.write(target, index_key, store_id, {})
        except BaseException:
            keys_path.unlink(missing_ok=True)
            raise
        try:
            put_in_place(temp, target)
        except BaseException:
            sidecar.unlink(missing_ok=True)
            keys_path.unlink(missing_ok=True)
            raise
    return open_store(target, source, lock_timeout=lock_timeout, context=context)


def _build(
    db: sqlite3.Connection,
    target: Path,
    source: KeySource,
    settings: StoreSettings,
    columns: Sequence[tuple[str, str]] | None,
    context: audit.AuditContext | None,
) -> tuple[bytes, bytes]:
    """Lay out a new store in the empty database ``db``: its store id and index key."""
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    db.executescript(SCHEMA)
    store_id = crypto.random_bytes(16)
    keys = MasterKeys(crypto.random_bytes(), store_id)
    index_key = crypto.random_bytes()
    db.execute("BEGIN")
    insert_slot(db, new_slot(source, store_id, keys.master))
    header = Header(
        store_id=store_id,
        created_at=utc_now(),
        settings=settings,
        columns=initial_columns(settings.id_field, columns),
        epoch=1,
        sealed={},
        holders=read_holders(db),
        generation=1,
        groups=store_groups(settings),
    )
    keyschedule.seal_value(keys, header, "index_key", index_key)
    seal_group_keys(keys, header)
    db.executemany(
        "INSERT INTO header (name, value) VALUES (?, ?)",
        [
            ("magic", MAGIC),
            ("format", str(FORMAT_VERSION).encode()),
            ("store_id", store_id),
            ("created_at", header.created_at.encode()),
        ],
    )
    session = StoreSession(target, db, DEFAULT_LOCK_TIMEOUT)
    session.keys, session.header, session.index_key = keys, header, index_key
    header.manifest_mac = session.top_mac(db)
    auditor = Auditor(session, context or audit.AuditContext())
    auditor.append(db, Operation("init", counts={"holders": 1}), "outcome", "ok")
    db.execute("COMMIT")
    return store_id, index_key


def read_holders_unverified(path: str | Path) -> list[Holder]:
    """The key holders listed in a store's header, without a key (so unauthenticated)."""
    target = Path(path)
    db = connect(target, 0)
    try:
        header = read_header(db, target)
    finally:
        db.close()
    return [Holder(str(h["key_id"]), str(h["kind"]), str(h["added_at"])) for h in header.holders]


def store_groups(settings: StoreSettings) -> list[tuple[str, tuple[str, ...]]]:
    """The field groups a format-3 store seals apart: the schema's (each with its
    fields and derived fields), or one group, ``record``, without a schema or groups.
    A column no group names (system columns, columns added later) is in the id
    field's group (:meth:`~custrec.store.fileformat.Header.part_of`)."""
    from custrec.schema.groups import WHOLE_RECORD

    if settings.schema is None:
        return [(WHOLE_RECORD, ())]
    from custrec.schema.model import parse_schema

    groups = parse_schema(settings.schema, "the store's schema").field_groups
    return [(group.name, group.names) for group in groups.values()]


def seal_group_keys(
    keys: MasterKeys, header: Header, ksks: keyschedule.KeystoreKeys | None = None
) -> None:
    """New key store keys and match index keys, one of each per field group of
    ``header``, sealed into it; the key store keys added to ``ksks`` when given."""
    parts = len(header.groups)
    ksks = keyschedule.KeystoreKeys({}) if ksks is None else ksks
    ksks.add(range(parts))
    keyschedule.seal_value(keys, header, "keystore_keys", ksks.pack(header.format))
    keyschedule.seal_match_keys(keys, header, {p: crypto.random_bytes() for p in range(parts)})
