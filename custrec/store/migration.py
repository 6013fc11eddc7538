"""Migration of a store of an older format to the current one (3), in place.

A format-1 store is migrated to format 2, then to format 3; each step is atomic (a
process killed at any instant leaves the store in the format before or after the
step, readable, and the next ``migrate`` goes on from there).

From format 1 to format 2:

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

From format 2 to format 3, one change of the store like any other (new data keys in
the key store first, then the data file, then the old keys destroyed;
``docs/format.md``, "Order of a change"): the field groups are taken from the store's
schema, each group gets its key store key and match index key, every chunk is sealed
again as one part per group under new data keys (the old ones destroyed), the match
index is rebuilt under the groups' match keys, and the whole-chunk payloads and their
table are removed.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from custrec import crypto
from custrec.errors import IntegrityError, UsageError
from custrec.store import keyschedule, keystore
from custrec.store.creation import seal_group_keys, store_groups
from custrec.store.fileformat import (
    CHUNK_PARTS_TABLE,
    FORMAT_VERSION,
    GROUP_CHUNKS,
    integer,
    used_data_keys,
)
from custrec.store.normalise import COUNTRY_FIELD
from custrec.store.parts import UsesParts


class MigrationResult(NamedTuple):
    from_format: int
    to_format: int
    data_keys: int
    """Data keys moved into the key store (0 when the store was already current)."""
    chunks: int = 0
    """Chunks sealed again as parts (to format 3)."""


class Migration(UsesParts):
    def run(self) -> MigrationResult:
        header = self.session.require_header()
        start = header.format
        if start == FORMAT_VERSION:
            return MigrationResult(start, start, 0)
        moved = chunks = 0
        if start == 1:
            moved = self._to_format_2()
            self.session.open_keystore()
        if self.session.require_header().format == 2:
            chunks = self._to_format_3()
        return MigrationResult(start, FORMAT_VERSION, moved, chunks)

    def _to_format_3(self) -> int:
        """Format 2 to format 3 in one change (see the module docstring); the number of
        chunks sealed again."""
        with self.auditor.change("migrate") as op:
            db = self.session.db
            header = self.session.require_header()
            self.session.ensure_all_groups(db)
            db.execute(CHUNK_PARTS_TABLE)
            header.format = 3
            header.groups = store_groups(header.settings)
            # new key store keys beside the old one, which opens the chunks' current
            # data keys until they are destroyed (then the old key store key goes)
            seal_group_keys(self.session.require_keys(), header, self.session.keystore_keys)
            self.session.open_header_keys(header)
            db.execute("DELETE FROM match_index")
            # what the match index reads of a record: its id, match fields and country
            indexed = [self.id_field, *header.settings.match_fields, COUNTRY_FIELD]
            chunk_ids = self.vault.chunk_ids(db)
            for chunk_id in chunk_ids:
                plain, chunk = self.vault.open_whole(db, chunk_id)
                current = self.vault.generation(db, chunk_id)
                self.vault.seal(db, chunk_id, plain, chunk.rows, current)  # split as it is
                keyed = chunk.records(indexed)
                self.index.reindex(db, chunk_id, {str(r[self.id_field]): r for r in keyed})
            db.execute("DELETE FROM chunk_payloads")
            db.execute("DROP TABLE chunk_payloads")
            db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            self.session.update_manifest(db, {c // GROUP_CHUNKS for c in chunk_ids})
            op.counts = {"chunks": len(chunk_ids), "from_format": 2, "to_format": 3}
        self.session.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(chunk_ids)

    def _to_format_2(self) -> int:
        """Format 1 to format 2 (see the module docstring); the data keys moved."""
        with self.auditor.change("migrate") as op:
            db = self.session.db
            header = self.session.require_header()
            moved, ksk = self._write_keystore(db)
            db.execute("DELETE FROM data_keys")
            db.execute("DROP TABLE data_keys")
            db.execute("CREATE TABLE pending_destroy (key_no INTEGER PRIMARY KEY)")
            db.execute("PRAGMA user_version = 2")
            header.format = 2
            header.generation = 1
            ksks = keyschedule.KeystoreKeys({1: (0, ksk)})
            keyschedule.seal_value(
                self.session.require_keys(), header, "keystore_keys", ksks.pack(2)
            )
            self.session.keystore_keys = ksks
            self.session.write_header(db, header)
            op.counts = {"data_keys": moved, "from_format": 1, "to_format": 2}
        self.session.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return moved

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
        used = used_data_keys(db, 1)
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
