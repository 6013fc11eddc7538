"""Verifying a whole store: every table, every sealed part, the tombstone file and the
audit trail, each named when it fails.

:meth:`Verifier.verify` checks, in order: SQLite's own structure (``integrity_check``:
pages, b-trees, that each index matches its table); the header MAC and the manifest of
chunk versions; every chunk's seal and record count; that the id index holds exactly
the records' ids and the match index exactly their contact tokens; that no data key,
payload or index entry belongs to nothing; that the record states name records the
store holds; that the tombstone file verifies and agrees with the store's tombstones;
and the audit trail (chain, MACs, head, the records each operation names, and no
subject rows for no entry), optionally against heads an external witness kept.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from custrec.errors import IntegrityError, UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.store.fileformat import used_data_keys
from custrec.store.normalise import COUNTRY_FIELD, normalise_match_value
from custrec.store.parts import StoreParts, UsesParts
from custrec.store.rights import DataSubjectRights
from custrec.store.states import in_force

WITNESS_MAGIC = "custrec-audit-head"


def witness_line(store_id: str, seq: int, head_hash: str, at: str) -> str:
    """One line of an audit-head witness file (``custrec audit head``)."""
    return f"{WITNESS_MAGIC} v1 {store_id} {seq} {head_hash} {at}"


def read_witness(path: str | Path, store_id: str) -> tuple[int, str] | None:
    """The last head that the witness file ``path`` saw of store ``store_id``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the witness file ({exc})") from None
    last = None
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] != WITNESS_MAGIC or len(parts) < 5 or parts[1] != "v1":
            raise UsageError(
                f"{path}:{number}: not an audit-head line (expected the output of "
                "`custrec audit head`)"
            )
        if parts[2] == store_id:
            try:
                last = (int(parts[3]), parts[4])
            except ValueError:
                raise UsageError(f"{path}:{number}: the sequence number is not a number") from None
    return last


class Verifier(UsesParts):
    """The end-to-end check of one open store."""

    def __init__(self, parts: StoreParts, rights: DataSubjectRights) -> None:
        super().__init__(parts)
        self.rights = rights

    def _fail(self, part: str, problem: str) -> IntegrityError:
        return IntegrityError(f"{self.session.path}: verify: {part}: {problem}")

    def verify(
        self, witness: tuple[int, str] | None = None, progress: Progress = NO_PROGRESS
    ) -> int:
        """Check everything (see the module docstring); the number of records.
        ``progress`` counts the chunks checked."""
        with self.session.transaction(write=False) as db:
            self._structure(db)
            self.session.ensure_all_groups(db)
            records, id_tokens = self._chunks_and_indexes(db, progress)
            self._leftovers(db)
            self._states(id_tokens)
        self._tombstones()
        self._audit(witness)
        return records

    def _structure(self, db: sqlite3.Connection) -> None:
        problems = [str(r[0]) for r in db.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise self._fail("the file structure", "; ".join(problems))
        self._length(db)
        keystore = self.session.keystore
        if keystore is not None:
            try:
                found = [str(r[0]) for r in keystore.db.execute("PRAGMA integrity_check(5)")]
            except sqlite3.DatabaseError as exc:
                found = [str(exc)]
            if found != ["ok"]:
                raise self._fail("the key store's file structure", "; ".join(found))

    def _length(self, db: sqlite3.Connection) -> None:
        """With nothing in the journal, the file holds every page its header counts,
        whole. integrity_check reads no page of the free list but its trunks, so a file
        cut inside or after a free page at its end passed it; a cut file is damaged even
        when no record was lost, and a backup made of it is not the store."""
        path = self.session.path
        journal = path.with_name(path.name + "-wal")
        if journal.exists() and journal.stat().st_size > 0:
            return  # pages may live in the journal until a checkpoint
        page = int(db.execute("PRAGMA page_size").fetchone()[0])
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        size = path.stat().st_size
        if size % page or size < pages * page:
            raise self._fail(
                "the file structure",
                f"the file is {size} bytes, not the {pages} whole pages of {page} bytes its "
                "header counts: it was truncated",
            )

    def _chunks_and_indexes(
        self, db: sqlite3.Connection, progress: Progress
    ) -> tuple[int, set[bytes]]:
        settings = self.session.require_header().settings
        records = 0
        all_ids: set[bytes] = set()
        expected_matches: set[tuple[str, bytes, bytes]] = set()
        chunk_ids = self.vault.chunk_ids(db)
        progress.start(len(chunk_ids), "chunks")
        for chunk_id in chunk_ids:
            chunk = self.vault.read(db, chunk_id)
            ids = [str(i) for i in chunk.values(settings.id_field)]
            tokens = self.index.id_tokens(ids)
            indexed = {
                bytes(r[0])
                for r in db.execute("SELECT token FROM id_index WHERE chunk_id = ?", (chunk_id,))
            }
            if indexed != set(tokens) or len(set(tokens)) != len(ids):
                raise self._fail(
                    "the id index", f"it does not match the records of chunk {chunk_id}"
                )
            all_ids.update(tokens)
            records += len(ids)
            countries = chunk.values(COUNTRY_FIELD)
            regions = {c: self.index.region_of(c) for c in set(countries)}
            for name in settings.match_fields:
                values = chunk.values(name)
                normals = [
                    (token, normalise_match_value(name, value, regions[country]).encode())
                    for token, value, country in zip(tokens, values, countries, strict=True)
                    if value is not None and str(value).strip()
                ]
                made = self.index.normal_tokens(name, (n for _, n in normals))
                expected_matches.update(
                    (name, match, record) for (record, _), match in zip(normals, made, strict=True)
                )
            progress.advance()
        progress.close()
        indexed_ids = int(db.execute("SELECT COUNT(*) FROM id_index").fetchone()[0])
        if indexed_ids != records:
            raise self._fail("the id index", "it has entries for no record")
        stored = {
            (str(field), bytes(token), bytes(record))
            for field, token, record in db.execute("SELECT field, token, record FROM match_index")
        }
        if stored != expected_matches:
            missing, extra = len(expected_matches - stored), len(stored - expected_matches)
            raise self._fail(
                "the match index",
                f"{missing} entries of the records' emails and phones are missing and "
                f"{extra} belong to no record: it was altered or damaged",
            )
        return records, all_ids

    def _leftovers(self, db: sqlite3.Connection) -> None:
        file_format = self.session.require_header().format
        table = "chunk_parts" if file_format >= 3 else "chunk_payloads"
        payloads = db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        ).fetchone()[0]
        used = used_data_keys(db, file_format)
        keystore = self.session.keystore
        if keystore is None:  # format 1
            stored = {int(r[0]) for r in db.execute("SELECT key_no FROM data_keys")}
        else:
            stored = keystore.key_numbers()
        keys = len(stored - used)
        if payloads:
            raise self._fail("the chunks", f"{payloads} payloads belong to no chunk")
        if keys:
            raise self._fail("the data keys", f"{keys} data keys belong to no chunk")

    def _states(self, id_tokens: set[bytes]) -> None:
        current = self.guard.states()
        present = {token.hex() for token in id_tokens}
        for name, table in (
            ("legal holds", current.hold),
            ("restrictions", current.restricted),
            ("grace periods", current.purged),
        ):
            unknown = [t for t in table if t not in present]
            if unknown:
                raise self._fail(
                    "the record states", f"{len(unknown)} {name} name records the store lacks"
                )
        for token, entry in current.erased.items():
            if token in present and not entry.get("kept") and in_force(entry):
                raise self._fail("the record states", "an erased record is still in the store")

    def _tombstones(self) -> None:
        found = self.rights.reconcile_tombstones(full=True)
        self.rights.notes.extend(found.notes)
        if found.pending:
            raise self._fail(
                "the tombstones",
                f"{len(found.pending)} erasure(s) in the tombstone file are not applied to "
                "the store (restored from a backup?): run `custrec reapply-erasures`",
            )

    def _audit(self, witness: tuple[int, str] | None) -> None:
        result = self.auditor.verify()
        if not result.ok:
            raise self._fail("the audit trail", f"entry {result.first_bad}: {result.problem}")
        with self.session.transaction(write=False) as db:
            ops = _ops_with_subjects(db)
            orphans = db.execute("SELECT DISTINCT op FROM audit_subjects").fetchall()
            if any(str(op) not in ops for (op,) in orphans):
                raise self._fail(
                    "the audit trail", "it lists records for an operation it has no entry of"
                )
            if witness is not None:
                self._against_witness(db, result.entries, witness)

    def _against_witness(
        self, db: sqlite3.Connection, entries: int, witness: tuple[int, str]
    ) -> None:
        seq, head_hash = witness
        if seq > entries:
            raise self._fail(
                "the audit trail",
                f"it ends at entry {entries} but the witness saw entry {seq}: the store is "
                "older than its witness (rolled back, or restored from a backup)",
            )
        row = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        if row is None or bytes(row[0]).hex() != head_hash:
            raise self._fail(
                "the audit trail",
                f"entry {seq} differs from the one the witness saw: the trail was rewritten",
            )


def _ops_with_subjects(db: sqlite3.Connection) -> set[str]:
    ops = set()
    for (data,) in db.execute("SELECT entry FROM audit"):
        entry = json.loads(bytes(data))
        if entry.get("subjects_digest") is not None:
            ops.add(str(entry["op"]))
    return ops
