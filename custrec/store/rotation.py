"""Key holders and key changes: adding and revoking holders, replacing the master key,
and re-encrypting every chunk under new data keys.

Replacing the master key goes through the key schedule
(:func:`custrec.store.keyschedule.reseal_under`), which re-seals everything sealed
under it, so that no part of the store is left under a key that is gone.
"""

from __future__ import annotations

import sqlite3

from custrec import crypto
from custrec.errors import NotFoundError, UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.store import keyschedule
from custrec.store.auditing import Auditor
from custrec.store.fileformat import GROUP_CHUNKS
from custrec.store.holders import Holder, insert_slot, new_slot, read_holders
from custrec.store.keys import KeySource
from custrec.store.keyschedule import MasterKeys
from custrec.store.session import StoreSession
from custrec.store.vault import ChunkVault
from custrec.store.writes import RecordWriter


class KeyHolders:
    """The key holders and key changes of one open store."""

    def __init__(
        self,
        session: StoreSession,
        vault: ChunkVault,
        auditor: Auditor,
        writer: RecordWriter,
    ) -> None:
        self.session = session
        self.vault = vault
        self.auditor = auditor
        self.writer = writer

    def holders(self) -> list[Holder]:
        return [
            Holder(key_id=str(h["key_id"]), kind=str(h["kind"]), added_at=str(h["added_at"]))
            for h in self.session.require_header().holders
        ]

    def add(self, source: KeySource) -> Holder:
        with self.auditor.change("key-add") as op:
            db = self.session.db
            header = self.session.require_header()
            slot = new_slot(source, header.store_id, self.session.require_keys().master)
            op.counts["holders"] = len(header.holders) + 1
            if any(h["key_id"] == slot["key_id"] for h in header.holders):
                raise UsageError(f"key {slot['key_id']} is already a key of this store")
            insert_slot(db, slot)
            header.holders = read_holders(db)
            self.session.write_header(db, header)
        return Holder(slot["key_id"], slot["kind"], slot["added_at"])

    def remove(self, key_id: str) -> None:
        with self.auditor.change("key-remove") as op:
            db = self.session.db
            header = self.session.require_header()
            ids = [str(h["key_id"]) for h in header.holders]
            op.counts["holders"] = len(ids) - 1
            if key_id not in ids:
                raise NotFoundError(f"{key_id} is not a key of this store (keys: {', '.join(ids)})")
            if len(ids) == 1:
                raise UsageError("refusing to remove the store's only key: add another first")
            db.execute("DELETE FROM holders WHERE key_id = ?", (key_id,))
            self.replace_master_key(db)

    def rotate(self, progress: Progress = NO_PROGRESS) -> int:
        with self.auditor.change("key-rotate", scope="all", single_transaction=False) as op:
            op.counts["chunks"] = done = self._rotate(progress)
        return done

    def _rotate(self, progress: Progress) -> int:
        with self.session.transaction(write=True) as db:
            header = self.session.require_header()
            if self.vault.first_before(db, header.epoch) is None:  # a new rotation
                header.epoch += 1
                self.replace_master_key(db)
            progress.start(self.vault.chunk_counts(db, header.epoch)[1], "chunks")
        done = 0
        while True:
            with self.session.transaction(write=True) as db:
                header = self.session.require_header()
                chunk_id = self.vault.first_before(db, header.epoch)
                if chunk_id is None:
                    progress.close()
                    return done
                self.writer.rewrite(db, chunk_id, self.vault.rows(db, chunk_id), {})
                self.session.update_manifest(db, [chunk_id // GROUP_CHUNKS])
                done += 1
            progress.advance()

    def replace_master_key(self, db: sqlite3.Connection) -> None:
        """A new master key, wrapped to every remaining holder's public key; everything
        the key schedule lists re-sealed under it, manifest and header
        re-authenticated, in the caller's transaction."""
        header = self.session.require_header()
        old = self.session.require_keys()
        self.session.ensure_all_groups(db)
        new = MasterKeys(crypto.random_bytes(), header.store_id)
        keyschedule.reseal_under(db, header, old, new)
        self.session.keys = new
        self.session.replace_keystore_key()
        self.session.update_manifest(db, self.session.all_groups(db))
