"""Migration of a format-1 store to format 2, in place.

Format 1 kept the data keys in the data file; format 2 keeps them in a key store
beside it (:mod:`custrec.store.keystore`). The migration holds the data file's write
lock throughout and works in this order, so that a process killed at any instant leaves
a format-1 store or a format-2 store, never neither:

1. every data key is opened under the master key's wrap key and sealed again under a
   new key store key, and the key store is written complete beside the data file (built
   under a temporary name and renamed into place); a key store left by an earlier,
   interrupted migration of the same store is replaced, one of another store refused;
2. in one transaction of the data file: the data keys are deleted (their pages zeroed)
   and their table dropped, the key store key sealed into the header, the format set to
   2 (header and ``user_version``), and the audit entry written; then the journal is
   emptied, so no page image of the old data keys stays in ``STORE-wal``.

Until step 2 commits, the data file is a format-1 store that ignores the key store;
after it, the key store it needs is in place. Chunks are not re-encrypted: their AAD
and layout are the same in both formats.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from custrec import crypto
from custrec.errors import IntegrityError, UsageError
from custrec.store import keyschedule, keystore
from custrec.store.fileformat import FORMAT_VERSION, integer
from custrec.store.parts import UsesParts


class MigrationResult(NamedTuple):
    from_format: int
    to_format: int
    data_keys: int
    """Data keys moved into the key store (0 when the store was already current)."""


class Migration(UsesParts):
    def run(self) -> MigrationResult:
        header = self.session.require_header()
        if header.format == FORMAT_VERSION:
            return MigrationResult(header.format, header.format, 0)
        with self.auditor.change("migrate") as op:
            db = self.session.db
            header = self.session.require_header()
            moved, ksk = self._write_keystore(db)
            db.execute("DELETE FROM data_keys")
            db.execute("DROP TABLE data_keys")
            db.execute("CREATE TABLE pending_destroy (key_no INTEGER PRIMARY KEY)")
            db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            header.format = FORMAT_VERSION
            header.generation = 1
            keyschedule.seal_value(
                self.session.require_keys(),
                header,
                "keystore_keys",
                keyschedule.pack_keystore_keys({1: ksk}),
            )
            self.session.write_header(db, header)
            op.counts = {"data_keys": moved, "from_format": 1, "to_format": FORMAT_VERSION}
        self.session.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return MigrationResult(1, FORMAT_VERSION, moved)

    def _write_keystore(self, db: sqlite3.Connection) -> tuple[int, bytes]:
        """Step 1: the key store, complete, beside the data file; how many keys it
        holds, and the key store key they are sealed under."""
        header = self.session.require_header()
        keys = self.session.require_keys()
        self.session.ensure_all_groups(db)
        ksk = crypto.random_bytes()
        rows = []
        for key_no, sealed in db.execute("SELECT key_no, sealed FROM data_keys ORDER BY 1"):
            number = integer(key_no)
            plain = keyschedule.open_data_key(keys, header.store_id, number, bytes(sealed))
            aad = keystore.data_key_aad(header.store_id, number, 1)
            rows.append((number, 1, crypto.seal(ksk, plain, aad)))
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'data_keys'").fetchone()
        target = keystore.path_of(self.session.path)
        leftover = target.exists() or target.is_symlink()
        if leftover and keystore.stored_id(target) != header.store_id:
            raise UsageError(
                f"{target} already exists and is not a key store of this store: move it "
                "away, then run the migration again"
            )
        used = {integer(r[0]) for r in db.execute("SELECT key_no FROM chunks")}
        if not used <= {row[0] for row in rows}:
            raise IntegrityError(
                f"{self.session.path}: chunks use data keys the store lacks: run "
                "`custrec verify` before migrating"
            )
        keystore.create(
            target,
            header.store_id,
            keystore.mac_key(self.session.index_key, header.store_id),
            rows,
            sequence=int(sequence[0]) if sequence else 0,
            replace=leftover,
        )
        return len(rows), ksk
