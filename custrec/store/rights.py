"""Data-subject rights on an open store: legal hold and restriction, erasure with its
tombstones, retention purges with grace periods, and re-erasure after a restore.

An erasure removes the record in one transaction that also writes its tombstone into
the sealed record states; the tombstone file beside the store is derived from them
afterwards (:mod:`custrec.store.tombstones`). Erasures and purges end with a scrub of
the journal, so no page image with the old ciphertext stays in ``STORE-wal``; when
another process's read keeps the scrub from finishing, the result says so and the
next open of the store completes it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping, Sequence

from custrec.errors import NotFoundError, UsageError
from custrec.store import chunkcodec, states, tombstones
from custrec.store.fileformat import GROUP_CHUNKS, SCRUB_PENDING, integer
from custrec.store.guard import Purpose
from custrec.store.holders import utc_now, utc_now_precise
from custrec.store.parts import StoreParts, UsesParts
from custrec.store.records import (
    COLLECTED_COLUMN,
    SOURCE_COLUMN,
    SYSTEM_COLUMNS,
    VERSION_COLUMN,
    Value,
)
from custrec.store.writes import Changes, RecordWriter, WriteResult

Planned = Mapping[str, tuple[int, Mapping[str, Value] | None]]
"""A purge plan: id -> (the version it must still have, its anonymised row or None)."""


def _collected_after(collected: Value, tombstone: Mapping[str, object]) -> bool:
    """Whether a record was collected after the erasure ``tombstone`` records (to the
    second: a collection in the same second counts as before, and is erased again)."""
    if not collected:
        return False
    return str(collected)[:19] > str(tombstone.get("at", ""))[:19]


def _same_version(planned: int, now: object) -> None:
    """Refuse a plan whose record changed since it was made."""
    if integer(now) != planned:
        raise states.PlanMismatchError(
            "a planned record changed since the plan was made (version "
            f"{planned} planned, {now} now): make a new plan"
        )


class DataSubjectRights(UsesParts):
    """Hold, restrict, erase, purge and restore on one open store."""

    def __init__(self, parts: StoreParts, writer: RecordWriter) -> None:
        super().__init__(parts)
        self.writer = writer
        self.notes: list[str] = []
        """What the user should be told about the store's tombstones and scrubs."""

    # -- hold and restriction -----------------------------------------------------------------

    def set_state(self, state: str, record_id: str, on: bool) -> bool:
        action = {("hold", True): "hold", ("hold", False): "release"}.get(
            (state, on), "restrict" if on else "unrestrict"
        )
        token = self.index.token_hex(record_id)
        with self.auditor.change(action, subjects=[record_id]) as op:
            db = self.session.db
            _, absent = self.index.chunks_of(db, [record_id])
            if absent or token in self.guard.pending_erasures:
                raise NotFoundError(f"no record with {self.id_field} {record_id}")
            current = self.guard.states()
            table = current.hold if state == "hold" else current.restricted
            changed = (token in table) != on
            if on:
                table.setdefault(token, utc_now())
            else:
                table.pop(token, None)
            if changed:
                self.guard.save(db, current)
            op.counts["changed"] = int(changed)
        return changed

    # -- erasure ------------------------------------------------------------------------------

    def erase(
        self,
        record_id: str,
        keep: Sequence[str],
        ground: str | None,
        *,
        tombstone: dict[str, object] | None = None,
    ) -> WriteResult:
        """Erase one record (see :meth:`Store.erase`); ``tombstone`` is the one to keep
        when an erasure is applied again (its original time and readmission)."""
        columns = [name for name, _ in self.session.require_header().columns]
        unknown = [name for name in keep if name not in columns]
        if unknown:
            raise UsageError(f"--except {unknown[0]}: no such field in this store")
        if keep and not ground:
            raise UsageError("--except needs --ground: the legal obligation to keep the fields")
        id_field = self.id_field
        result = WriteResult()
        fields = sorted(set(columns) - set(keep) - {id_field})
        token = self.index.token_hex(record_id)
        with self.auditor.change("erase", subjects=[record_id], fields=fields) as op:
            db = self.session.db
            by_chunk, absent = self.index.chunks_of(db, [record_id])
            current = self.guard.states()
            if absent and token in current.erased:  # erased already: the file may lag
                op.counts["already_erased"] = 1
                result.already_erased = True
            elif absent:
                raise NotFoundError(f"no record with {id_field} {record_id}")
            else:
                ((chunk_id, _),) = by_chunk.items()
                contacts = self._erase_in_chunk(db, chunk_id, record_id, keep, columns, result)
                current = self.guard.states()
                current.erased[token] = tombstone or {
                    "at": utc_now_precise(),
                    "tokens": states.hex_tokens(contacts),
                    "kept": sorted(keep),
                    "ground": ground,
                }
                current.restricted.pop(token, None)
                if not keep:  # gone: no grace period names a record the store lacks
                    current.purged.pop(token, None)
                self.guard.save(db, current)
                self.session.update_manifest(db, [chunk_id // GROUP_CHUNKS])
                op.counts.update({"erased": 1, "fields_kept": len(keep)})
        self.guard.pending_erasures.pop(token, None)
        result.scrubbed = self.scrub()
        self.guard.write_tombstone_file()
        return result

    def _erase_in_chunk(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        record_id: str,
        keep: Sequence[str],
        columns: Sequence[str],
        result: WriteResult,
    ) -> list[bytes]:
        """Remove the record from its chunk (or keep only ``keep``); the match tokens
        of its contact details, for its tombstone."""
        rows = self.vault.rows(db, chunk_id)
        position = self.index.positions(rows, [record_id], self.id_field)[record_id]
        record = rows[position]
        contacts = self.index.contact_tokens(record)
        change: dict[str, Mapping[str, Value] | None]
        if keep:
            self.guard.refuse_if_held(record_id)
            kept = {name: (record.get(name) if name in keep else None) for name in columns}
            kept[self.id_field] = record_id
            kept.update({name: record.get(name) for name, _ in SYSTEM_COLUMNS})
            kept[VERSION_COLUMN] = integer(record[VERSION_COLUMN]) + 1
            rows[position] = kept
            change = {record_id: kept}
            result.replaced = 1
        else:
            del rows[position]
            change = {record_id: None}
            result.deleted = 1
        self.writer.rewrite(db, chunk_id, rows, change, Purpose.ERASE)
        result.chunks_written = 1
        return contacts

    def reconcile_tombstones(self, *, full: bool = False) -> tombstones.Reconciled:
        """Compare the tombstone file with the store's tombstones (see
        :func:`custrec.store.tombstones.reconcile`); pending ones are hidden from reads."""
        if full:
            with self.session.transaction(write=False):
                in_store = dict(self.guard.states().erased)
        else:  # at open: the header unlocking just read and checked
            in_store = self.guard.states().erased
        header = self.session.require_header()
        found = tombstones.reconcile(
            self.session.path,
            in_store,
            self.session.index_key,
            header.store_id,
            self.session.require_keys().header,
            full=full,
        )
        self.guard.pending_erasures = found.pending
        return found

    def reapply_erasures(self) -> list[str]:
        found = self.reconcile_tombstones(full=True)
        self.notes.extend(note for note in found.notes if "reapply-erasures" not in note)
        with self.session.transaction(write=False):
            wanted = tombstones.merge(found.pending, self.guard.states().erased)
        todo: list[tuple[str, dict[str, object]]] = []
        with self.session.transaction(write=False) as db:
            columns = [name for name, _ in self.session.require_header().columns]
            for token_hex, entry in wanted.items():
                chunk_id = self.index.chunk_of_token(db, bytes.fromhex(token_hex))
                if chunk_id is None:
                    continue
                keep = [str(name) for name in entry.get("kept") or []]  # type: ignore[attr-defined]
                for row in self.vault.rows(db, chunk_id):
                    record_id = str(row[self.id_field])
                    if self.index.token_hex(record_id) != token_hex:
                        continue
                    if _collected_after(row.get(COLLECTED_COLUMN), entry):
                        continue  # collected again after the erasure: a readmission
                    held = [n for n in columns if n not in keep and n != self.id_field]
                    if any(row.get(name) is not None for name in held):
                        todo.append((record_id, entry))
        again: list[str] = []
        for record_id, entry in todo:
            keep = [str(name) for name in entry.get("kept") or []]  # type: ignore[attr-defined]
            ground = (str(entry.get("ground") or "") or None) if keep else None
            self.erase(record_id, keep, ground, tombstone=entry)
            again.append(self.auditor.keys.pseudonym_of(record_id))
        with self.auditor.change("reapply-erasures", scope="all") as op:
            current = self.guard.states()
            missing = {t: e for t, e in wanted.items() if current.erased.get(t) != e}
            if missing:
                current.erased.update(missing)
                self.guard.save(self.session.db, current)
            op.counts.update({"erased_again": len(again), "tombstones_restored": len(missing)})
        self.guard.pending_erasures = {}
        self.guard.write_tombstone_file()
        return again

    # -- purges -----------------------------------------------------------------------------

    def purge(self, planned: Planned, counts: Mapping[str, int]) -> WriteResult:
        result = WriteResult()
        subjects = list(planned)
        with (
            self.auditor.change("purge", subjects=subjects, scope="policy") as op,
            self.index.tokens_of(subjects),
        ):
            db = self.session.db
            by_chunk = self._planned_chunks(db, subjects)
            with self.index.deferred(db):
                self._purge_chunks(db, by_chunk, planned, result)
            current = self.guard.states()
            ended = (
                [t for t in map(self.index.token_hex, subjects) if t in current.purged]
                if current.purged
                else []
            )
            if ended:
                for token in ended:
                    del current.purged[token]
                self.guard.save(db, current)
            result.chunks_written = len(by_chunk)
            self.session.update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts.update({"deleted": result.deleted, "anonymised": result.replaced})
            op.counts.update(dict(counts))
        result.scrubbed = self.scrub()
        return result

    def _purge_chunks(
        self,
        db: sqlite3.Connection,
        by_chunk: Mapping[int, Sequence[str]],
        planned: Planned,
        result: WriteResult,
    ) -> None:
        """Each chunk of ``by_chunk`` without its planned records or with their
        anonymised rows."""
        id_field = self.id_field
        for chunk_id, ids in by_chunk.items():
            if all(planned[record_id][1] is None for record_id in ids):
                result.deleted += self._purge_deletions(db, chunk_id, ids, planned)
                continue
            rows = self.vault.rows(db, chunk_id)
            positions = self.index.positions(rows, ids, id_field)
            changes: dict[str, Mapping[str, Value] | None] = {}
            doomed: set[int] = set()
            for record_id in ids:
                self.guard.refuse_if_held(record_id)
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
            self.writer.rewrite(db, chunk_id, kept, changes, Purpose.PURGE)

    def _purge_deletions(
        self, db: sqlite3.Connection, chunk_id: int, ids: Sequence[str], planned: Planned
    ) -> int:
        """Delete the planned records of one chunk (only deletions there), reading just
        their ids and versions; the records kept are copied column by column."""
        chunk = self.vault.read(db, chunk_id)
        positions = self.index.placed(chunk.values(self.id_field), ids)
        versions = chunk.values(VERSION_COLUMN)
        doomed = set()
        for record_id in ids:
            self.guard.refuse_if_held(record_id)
            at = positions[record_id]
            _same_version(planned[record_id][0], versions[at])
            doomed.add(at)
        changes: Changes = dict.fromkeys(ids)
        if len(doomed) == chunk.rows:
            self.writer.rewrite(db, chunk_id, [], changes, Purpose.PURGE)
        else:
            self._rewrite_without(db, chunk_id, chunk, doomed, changes)
        return len(doomed)

    def _rewrite_without(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        chunk: chunkcodec.Chunk,
        doomed: set[int],
        changes: Changes,
    ) -> None:
        """Chunk ``chunk_id`` without the rows at ``doomed`` (whose records ``changes``
        removes), its other rows' buffers copied by Arrow, not decoded."""
        import pyarrow as pa

        self.guard.check(changes, Purpose.PURGE)
        batch = chunk.to_arrow(self.vault.arrow_schema(system=True))
        kept = batch.filter(pa.array([n not in doomed for n in range(chunk.rows)]))
        plain = chunkcodec.encode_arrow(kept, self.vault.columns())
        self.writer.store(db, chunk_id, plain, kept.num_rows, changes)

    def mark_purged(
        self, planned: Mapping[str, tuple[int, str, str, str]], counts: Mapping[str, int]
    ) -> int:
        subjects = list(planned)
        with self.auditor.change("purge", subjects=subjects, scope="policy") as op:
            db = self.session.db
            by_chunk = self._planned_chunks(db, subjects)
            current = self.guard.states()
            for chunk_id, ids in by_chunk.items():
                rows = self.vault.rows_with_ids(db, chunk_id, self.id_field, ids)
                positions = self.index.positions(rows, ids, self.id_field)
                for record_id in ids:
                    self.guard.refuse_if_held(record_id)
                    version, rule, action, until = planned[record_id]
                    if integer(rows[positions[record_id]][VERSION_COLUMN]) != version:
                        raise states.PlanMismatchError(
                            "a planned record changed since the plan was made: make a new plan"
                        )
                    current.purged[self.index.token_hex(record_id)] = {
                        "at": utc_now(),
                        "until": until,
                        "rule": rule,
                        "action": action,
                    }
            self.guard.save(db, current)
            op.counts.update({"in_grace": len(subjects), **dict(counts)})
        return len(subjects)

    def restore(self, record_id: str) -> None:
        token = self.index.token_hex(record_id)
        with self.auditor.change("restore", subjects=[record_id]):
            current = self.guard.states()
            if token not in current.purged:
                raise NotFoundError(
                    f"no purged record with {self.id_field} {record_id} in its grace "
                    "period (restored already, destroyed, or never purged)"
                )
            del current.purged[token]
            self.guard.save(self.session.db, current)

    def _planned_chunks(
        self, db: sqlite3.Connection, subjects: Sequence[str]
    ) -> dict[int, list[str]]:
        by_chunk, absent = self.index.chunks_of(db, subjects)
        if absent:
            raise states.PlanMismatchError(
                f"{len(absent)} planned record(s) are no longer in the store: make a new plan"
            )
        return by_chunk

    # -- the journal scrub ------------------------------------------------------------------

    def scrub(self) -> bool:
        """Move every committed page into the database file and empty the journal, so
        that no earlier page image (with deleted ciphertext) stays in ``-wal``; freed
        pages were already zeroed (``secure_delete``). SQLite waits up to the lock
        timeout for other readers; when one still holds an older snapshot, the scrub is
        marked pending in the header, completed by the next open, and False returned."""
        db = self.session.db
        busy = _checkpoint(db) | (not self.session.checkpoint_keystore())
        if not busy:
            return True
        with contextlib.suppress(sqlite3.Error):
            db.execute(
                "INSERT OR REPLACE INTO header (name, value) VALUES (?, x'01')", (SCRUB_PENDING,)
            )
        self.notes.append(
            f"{self.session.path}: another process is still reading an older snapshot, so "
            "page images of what was removed stay in the journal (-wal) for now: the scrub "
            "is pending and completes at the next open of the store"
        )
        return False

    def finish_pending_scrub(self) -> bool:
        """Complete a scrub an earlier erasure or purge left pending (at open)."""
        db = self.session.db
        if _checkpoint(db) or not self.session.checkpoint_keystore():
            return False
        with contextlib.suppress(sqlite3.Error):
            db.execute("DELETE FROM header WHERE name = ?", (SCRUB_PENDING,))
            _checkpoint(db)
        return True


def _checkpoint(db: sqlite3.Connection) -> bool:
    """``wal_checkpoint(TRUNCATE)``; whether a reader kept it from completing."""
    try:
        row = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error:
        return True
    return bool(row and row[0])
