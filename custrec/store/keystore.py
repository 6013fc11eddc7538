"""The key store beside a format-2 store: the data keys, kept apart from the data.

``STORE.keys`` holds one sealed data key per chunk version. Rewriting a chunk (an
update, a deletion, an erasure, a purge) destroys the old version's data key here, so
a copy of the data file taken before an erasure, put back beside the current key
store, no longer decrypts the erased customer's chunk: crypto-shredding that reaches
backups of the data file (``docs/format.md``, "The key store").

The two files are SQLite databases in WAL mode and do not commit atomically together,
so every change follows one order (see :class:`KeyStore`): new data keys are committed
here first, then the data file that uses them (and lists the keys it no longer
needs), then the old keys are destroyed here. A crash between the steps leaves unused
keys here, marked pending (removed by the next command), or keys listed for
destruction in the data file (destroyed by the next command). A generation counter in
both files, and the pending mark, tell an older data file beside a newer key store (or
the reverse) from a crash between the steps.

Written by hand, not taken from a library: the keys must live in a file of their own
that custrec can change in step with the data file under the same lock; no key
management library offers that for a local file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from custrec import crypto
from custrec.errors import IntegrityError, UsageError
from custrec.store.fileformat import (
    blob,
    database_error,
    int8,
    integer,
    new_file_beside,
    put_in_place,
)

APPLICATION_ID = 0x6372656B  # "crek"
FORMAT_VERSION = 1
MAGIC = b"CUSTREC-KEYS"

SCHEMA = """
CREATE TABLE header (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE data_keys (
    key_no INTEGER PRIMARY KEY AUTOINCREMENT, ksk_no INTEGER NOT NULL, sealed BLOB NOT NULL
);
"""


def path_of(store: str | Path) -> Path:
    """Where the key store of ``store`` is kept beside it."""
    path = Path(store)
    return path.with_name(path.name + ".keys")


def mac_key(index_key: bytes, store_id: bytes) -> bytes:
    """The key of the key store's header MAC: from the index key, which no rotation
    replaces, so a master key change never rewrites the key store's header."""
    return crypto.hkdf(index_key, "custrec keystore mac v1", salt=store_id)


def data_key_aad(store_id: bytes, key_no: int, ksk_no: int) -> bytes:
    return b"custrec data key v2" + store_id + int8(key_no) + int8(ksk_no)


def _header_mac(key: bytes, store_id: bytes, generation: int, pending: bool) -> bytes:
    return crypto.mac(
        key,
        MAGIC,
        int8(FORMAT_VERSION),
        store_id,
        b"generation",
        int8(generation),
        b"pending",
        int8(int(pending)),
    )


def _connect(path: Path, lock_timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw",
        uri=True,
        isolation_level=None,
        timeout=lock_timeout,
    )
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA secure_delete = ON")
    db.execute("PRAGMA temp_store = MEMORY")
    return db


def create(
    target: Path,
    store_id: bytes,
    key: bytes,
    rows: Iterable[tuple[int, int, bytes]] = (),
    *,
    sequence: int = 0,
    generation: int = 1,
    replace: bool = False,
) -> None:
    """Write a complete key store at ``target``: built beside it and renamed into
    place, so a crash leaves the old state or the new file, never a partial one.
    ``rows`` are (key_no, ksk_no, sealed); ``sequence`` the last key number ever used.
    An existing file is refused unless ``replace`` (a leftover the caller checked)."""
    if not replace and (target.exists() or target.is_symlink()):
        raise UsageError(f"{target} already exists; refusing to overwrite a key store")
    with new_file_beside(target) as temp:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            db.execute("PRAGMA secure_delete = ON")
            db.executescript(SCHEMA)
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO header (name, value) VALUES (?, ?)",
                [
                    ("magic", MAGIC),
                    ("format", str(FORMAT_VERSION).encode()),
                    ("store_id", store_id),
                    ("generation", str(generation).encode()),
                    ("pending", b"0"),
                    ("mac", _header_mac(key, store_id, generation, False)),
                ],
            )
            db.executemany("INSERT INTO data_keys (key_no, ksk_no, sealed) VALUES (?, ?, ?)", rows)
            if sequence:
                db.execute(
                    "INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('data_keys', ?)",
                    (sequence,),
                )
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()
        put_in_place(temp, target)


def stored_id(target: Path) -> bytes | None:
    """The store id a key store file names (unauthenticated), None when it names none."""
    try:
        db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM header WHERE name = 'store_id'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return bytes(row[0]) if row else None


class KeyStore:
    """An open key store (see the module docstring).

    Order of a change, driven by :class:`~custrec.store.session.StoreSession` while it
    holds the data file's write lock: :meth:`add` (in a key-store transaction begun
    lazily) allocates and seals new keys; :meth:`commit_new` commits them with the new
    generation before the data file commits; :meth:`finish` removes the keys the data
    file no longer uses after it committed. A read takes the key store's snapshot
    first (:meth:`read_snapshot`): every key a later data snapshot uses was committed
    before it, unless the data file's generation is ahead, which the caller retries."""

    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection,
        store_id: bytes,
        key: bytes,
        lock_timeout: float = 0,
    ) -> None:
        self.path = path
        self.db = db
        self.lock_timeout = lock_timeout
        self.store_id = store_id
        self._mac_key = key
        self._writing = False

    @classmethod
    def open(cls, store: Path, store_id: bytes, key: bytes, lock_timeout: float) -> KeyStore:
        """The key store beside ``store``; exit 4 when it is missing, of another store,
        or altered."""
        target = path_of(store)
        if target.is_symlink() or not target.is_file():
            raise IntegrityError(
                f"{target}: the key store of {store} is missing: without it no record can "
                "be read; put back the key store (STORE.keys) from its backup, the one taken "
                "together with this data file"
            )
        try:
            with open(target, "rb") as handle:
                head = handle.read(100)
            if len(head) < 100 or int.from_bytes(head[68:72], "big") != APPLICATION_ID:
                raise IntegrityError(f"{target}: not a custrec key store, or truncated")
            db = _connect(target, lock_timeout)
        except sqlite3.DatabaseError as exc:
            raise database_error(exc, target) from None
        opened = cls(target, db, store_id, key, lock_timeout)
        try:
            opened.state()
        except BaseException:
            db.close()
            raise
        return opened

    def close(self) -> None:
        self.db.close()

    # -- the header ------------------------------------------------------------------------

    def generation(self) -> int:
        """The key store's generation, its header authenticated."""
        return self.state()[0]

    def state(self) -> tuple[int, bool]:
        """The key store's generation, and whether the change that set it may not have
        reached the data file yet (set with new keys, cleared once the data file has
        committed); the header authenticated."""
        try:
            rows = self.db.execute("SELECT name, value FROM header").fetchall()
            values = {str(k): bytes(v) for k, v in rows}
        except sqlite3.DatabaseError as exc:
            raise database_error(exc, self.path) from None
        try:
            if values["magic"] != MAGIC or int(values["format"]) != FORMAT_VERSION:
                raise ValueError("magic")
            generation = int(values["generation"].decode("ascii"))
            pending = {b"0": False, b"1": True}[values["pending"]]
            store_id = values["store_id"]
            mac = values["mac"]
        except (KeyError, ValueError) as exc:
            raise IntegrityError(
                f"{self.path}: the key store's header is damaged or was altered "
                f"({type(exc).__name__})"
            ) from None
        if store_id != self.store_id:
            raise IntegrityError(
                f"{self.path}: this key store belongs to another store "
                f"({store_id.hex()}, not {self.store_id.hex()})"
            )
        if not crypto.equal(mac, _header_mac(self._mac_key, store_id, generation, pending)):
            raise IntegrityError(f"{self.path}: the key store's header failed its integrity check")
        return generation, pending

    def _set_state(self, generation: int, pending: bool) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO header (name, value) VALUES (?, ?)",
            [
                ("generation", str(generation).encode()),
                ("pending", b"1" if pending else b"0"),
                ("mac", _header_mac(self._mac_key, self.store_id, generation, pending)),
            ],
        )

    # -- reading ------------------------------------------------------------------------

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[int]:
        """A read snapshot of the key store, yielding its generation."""
        try:
            self.db.execute("BEGIN")
            generation = self.generation()
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise database_error(exc, self.path) from None
        except BaseException:
            self._rollback()
            raise
        try:
            yield generation
        finally:
            self._rollback()

    def restart_read(self) -> int:
        """End the read snapshot and take a new one; its generation."""
        self._rollback()
        self.db.execute("BEGIN")
        return self.generation()

    def sealed(self, key_no: int) -> tuple[int, bytes] | None:
        """The data key ``key_no`` as stored: (ksk_no, sealed), None when it is gone."""
        try:
            row = self.db.execute(
                "SELECT ksk_no, sealed FROM data_keys WHERE key_no = ?", (key_no,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise database_error(exc, self.path) from None
        return None if row is None else (integer(row[0]), blob(row[1]))

    def key_numbers(self) -> set[int]:
        return {int(r[0]) for r in self.db.execute("SELECT key_no FROM data_keys")}

    def rows(self) -> list[tuple[int, int, bytes]]:
        return [
            (integer(k), integer(n), blob(s))
            for k, n, s in self.db.execute("SELECT key_no, ksk_no, sealed FROM data_keys")
        ]

    # -- changing -------------------------------------------------------------------------

    def _begin_write(self) -> None:
        if not self._writing:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise database_error(exc, self.path, self.lock_timeout) from None
            self._writing = True

    @property
    def writing(self) -> bool:
        return self._writing

    def add(self, ksk_no: int, seal: Callable[[int], bytes]) -> int:
        """A new data key number, its key sealed by ``seal(key_no)``, uncommitted."""
        self._begin_write()
        cursor = self.db.execute(
            "INSERT INTO data_keys (ksk_no, sealed) VALUES (?, x'')", (ksk_no,)
        )
        key_no = int(cursor.lastrowid or 0)
        self.db.execute("UPDATE data_keys SET sealed = ? WHERE key_no = ?", (seal(key_no), key_no))
        return key_no

    def reseal(self, rows: Iterable[tuple[int, int, bytes]]) -> None:
        """Replace stored keys (key_no, ksk_no, sealed), uncommitted."""
        self._begin_write()
        self.db.executemany(
            "UPDATE data_keys SET ksk_no = ?, sealed = ? WHERE key_no = ?",
            [(ksk_no, sealed, key_no) for key_no, ksk_no, sealed in rows],
        )

    def commit_new(self, generation: int, *, pending: bool = True) -> None:
        """Commit what this transaction added, as ``generation``, marked pending until
        :meth:`finish` (synced: the data file that uses the keys commits next)."""
        if not self._writing:
            return
        try:
            self._set_state(generation, pending)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise database_error(exc, self.path) from None
        finally:
            self._writing = False

    def finish(self, generation: int, key_nos: Iterable[int]) -> None:
        """After the data file committed (or after a change killed before it did):
        destroy the data keys no chunk uses (zeroed in the file), set the data file's
        ``generation`` and clear the pending mark. Committed without a sync of its
        own: a power failure that loses it leaves the mark set, and the next change
        destroys the keys again. An erasure empties the journal after it
        (:meth:`checkpoint`)."""
        try:
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("DELETE FROM data_keys WHERE key_no = ?", [(k,) for k in key_nos])
            self._set_state(generation, False)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise database_error(exc, self.path, self.lock_timeout) from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA synchronous = FULL")

    def checkpoint(self) -> bool:
        """``wal_checkpoint(TRUNCATE)``: whether it completed (no page image of a
        destroyed key left in ``STORE.keys-wal``)."""
        try:
            row = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return not (row and row[0])

    def rollback(self) -> None:
        if self._writing:
            self._rollback()
            self._writing = False

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")
