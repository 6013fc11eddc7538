"""Writing records: put, update and delete, and the chunk rewrites every write uses.

Every write goes through :meth:`RecordWriter.rewrite` (or, for new chunks built from
Arrow, through the vault and the index directly): the guard checks the changes for
the write's purpose, the index follows the changed records, and the chunk is sealed
again under a fresh data key. All of one operation is one transaction, audited.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from custrec.errors import CheckFailedError, NotFoundError, StoreBusyError, UsageError
from custrec.store.fileformat import GROUP_CHUNKS, integer
from custrec.store.guard import Purpose
from custrec.store.parts import StoreParts, UsesParts
from custrec.store.records import (
    COLLECTED_COLUMN,
    SOURCE_COLUMN,
    VERSION_COLUMN,
    Record,
    Value,
    by_id,
    clean_record,
    infer_type,
    to_record,
)
from custrec.types import ARROW_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

Changes = Mapping[str, Mapping[str, Value] | None]
"""Record id -> its new row, or None when it is removed."""


class WriteResult:
    """What a write did: records inserted, replaced and deleted, chunks written."""

    __slots__ = ("already_erased", "chunks_written", "deleted", "inserted", "replaced", "scrubbed")

    def __init__(
        self,
        inserted: int = 0,
        replaced: int = 0,
        deleted: int = 0,
        chunks_written: int = 0,
        scrubbed: bool = True,
    ) -> None:
        self.inserted = inserted
        self.replaced = replaced
        self.deleted = deleted
        self.chunks_written = chunks_written
        self.scrubbed = scrubbed
        """False when the journal could not be emptied yet (another process was
        reading): old page images stay in ``STORE-wal`` until the next open."""
        self.already_erased = False
        """An erasure found the record erased already (nothing more was removed)."""

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


class RecordWriter(UsesParts):
    """Writes to one open store."""

    def __init__(self, parts: StoreParts) -> None:
        super().__init__(parts)

    # -- chunk rewrites ---------------------------------------------------------------------

    def rewrite(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        rows: list[dict[str, Value]],
        changes: Changes,
        purpose: Purpose = Purpose.CHANGE,
    ) -> None:
        """Replace chunk ``chunk_id`` with ``rows`` (removing it when empty) under a
        fresh data key; ``changes`` are the records added, changed or removed, whose
        index entries follow (the guard checks them for ``purpose`` first)."""
        self.guard.check(changes, purpose)
        plain = self.vault.encode(rows, changes.values()) if rows else None
        self.store(db, chunk_id, plain, len(rows), changes)

    def store(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        plain: bytes | None,
        records: int,
        changes: Changes,
    ) -> None:
        """:meth:`rewrite` of an already laid-out chunk (None: no rows left)."""
        self.session.ensure_group(db, chunk_id // GROUP_CHUNKS)
        old = self.vault.generation(db, chunk_id)
        self.index.reindex(db, chunk_id, changes)
        if plain is None:
            self.vault.drop(db, chunk_id, old)
        else:
            self.vault.seal(db, chunk_id, plain, records, old)

    def append(self, db: sqlite3.Connection, rows: list[dict[str, Value]]) -> set[int]:
        """Add new rows: first into the last chunk while it has room, then new chunks."""
        if not rows:
            return set()
        size = self.session.require_header().settings.chunk_records
        start, next_id, touched = self.fill_last_chunk(db, lambda room: rows[:room], len(rows))
        for offset in range(start, len(rows), size):
            part = rows[offset : offset + size]
            self.rewrite(db, next_id, part, by_id(part, self.id_field))
            touched.add(next_id)
            next_id += 1
        return touched

    def fill_last_chunk(
        self,
        db: sqlite3.Connection,
        first: Callable[[int], list[dict[str, Value]]],
        count: int,
    ) -> tuple[int, int, set[int]]:
        """Put the first new rows (``first(room)``) into the last chunk while it has
        room. Returns how many rows went there, the id of the next new chunk, and the
        chunks changed."""
        last = self.vault.last_chunk(db)
        if last is None:
            return 0, 0, set()
        last_id, last_count = last
        room = min(self.session.require_header().settings.chunk_records - last_count, count)
        if room <= 0:
            return 0, last_id + 1, set()
        part = first(room)
        merged = self.vault.rows(db, last_id) + part
        self.rewrite(db, last_id, merged, by_id(part, self.id_field))
        return room, last_id + 1, {last_id}

    def extend_columns(self, db: sqlite3.Connection, rows: Iterable[Mapping[str, Value]]) -> None:
        """Add columns for fields not seen before. The first value decides the type
        (integers mixed with decimals make decimals); a field only ever empty is text."""
        header = self.session.require_header()
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
            self.session.write_header(db, header)

    def declare_columns(self, db: sqlite3.Connection, schema: pa.Schema) -> None:
        """Add the columns of ``schema`` the store lacks; refuse a known column whose
        type differs (the caller converts values to the store's types first)."""
        header = self.session.require_header()
        known = header.column_types()
        added: list[tuple[str, str]] = []
        for arrow_field in schema:
            kind = ARROW_NAMES.get(str(arrow_field.type))
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
            self.session.write_header(db, header)

    # -- record writes ------------------------------------------------------------------------

    def put(
        self,
        records: Iterable[Mapping[str, Value]],
        *,
        replace: bool = False,
        source: str | None = None,
        collected_at: str | None = None,
    ) -> WriteResult:
        result = WriteResult()
        id_field = self.id_field
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
        with self.auditor.change("put", subjects=list(incoming), fields=fields) as op:
            db = self.session.db
            self.extend_columns(db, incoming.values())
            existing, _ = self.index.chunks_of(db, incoming)
            if existing and not replace:
                record_id = next(iter(existing.values()))[0]
                raise CheckFailedError(
                    f"{id_field} {record_id} already exists in the store (nothing was written)"
                )
            touched: set[int] = set()
            for chunk_id, ids in existing.items():
                rows = self.vault.rows(db, chunk_id)
                positions = self.index.positions(rows, ids, id_field)
                replaced: dict[str, Mapping[str, Value] | None] = {}
                for record_id in ids:
                    old = rows[positions[record_id]]
                    new = dict(incoming.pop(record_id))
                    new[VERSION_COLUMN] = integer(old[VERSION_COLUMN] or 0) + 1
                    rows[positions[record_id]] = replaced[record_id] = new
                    result.replaced += 1
                self.rewrite(db, chunk_id, rows, replaced)
                touched.add(chunk_id)
            fresh = [{**r, VERSION_COLUMN: 1} for r in incoming.values()]
            result.inserted = len(fresh)
            touched |= self.append(db, fresh)
            result.chunks_written = len(touched)
            self.session.update_manifest(db, (c // GROUP_CHUNKS for c in touched))
            op.counts.update(inserted=result.inserted, replaced=result.replaced)
        return result

    def update_many(
        self,
        changes: Sequence[RecordChange],
        *,
        check: Callable[[Record, RecordChange], None] | None = None,
    ) -> list[Record]:
        id_field = self.id_field
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
        with self.auditor.change("update", subjects=ids, fields=fields) as op:
            db = self.session.db
            by_chunk, absent = self.index.chunks_of(db, ids)
            if absent:
                where = next(c.where() for c in changes if c.record_id == absent[0])
                raise NotFoundError(f"{where}no record with {id_field} {absent[0]}")
            wanted = {change.record_id: change for change in changes}
            new_rows: list[dict[str, Value]] = []
            rewrites: list[tuple[int, list[dict[str, Value]], Changes]] = []
            for chunk_id, chunk_ids in by_chunk.items():
                rows = self.vault.rows(db, chunk_id)
                positions = self.index.positions(rows, chunk_ids, id_field)
                changed: dict[str, Mapping[str, Value] | None] = {}
                for record_id in chunk_ids:
                    change = wanted[record_id]
                    new = self._changed_row(rows[positions[record_id]], change)
                    if check is not None:
                        check(to_record(new, id_field), change)
                    rows[positions[record_id]] = changed[record_id] = new
                    new_rows.append(new)
                rewrites.append((chunk_id, rows, changed))
            self.extend_columns(db, new_rows)
            for chunk_id, rows, chunk_changes in rewrites:
                self.rewrite(db, chunk_id, rows, chunk_changes)
            self.session.update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts["updated"] = len(new_rows)
            by_record = {str(row[id_field]): row for row in new_rows}
            return [to_record(by_record[i], id_field) for i in ids]

    def _changed_row(self, current: dict[str, Value], change: RecordChange) -> dict[str, Value]:
        id_field = self.id_field
        version = integer(current[VERSION_COLUMN] or 0)
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
        result = WriteResult()
        wanted = list(dict.fromkeys(record_ids))
        with self.auditor.change("delete", subjects=wanted) as op:
            db = self.session.db
            id_field = self.id_field
            by_chunk, absent = self.index.chunks_of(db, wanted)
            if absent:
                raise NotFoundError(f"no record with {id_field} {absent[0]}")
            with self.index.deferred(db):
                for chunk_id, ids in by_chunk.items():
                    rows = self.vault.rows(db, chunk_id)
                    doomed = {self.index.positions(rows, ids, id_field)[i] for i in ids}
                    kept = [r for n, r in enumerate(rows) if n not in doomed]
                    self.rewrite(db, chunk_id, kept, dict.fromkeys(ids))
                    result.deleted += len(ids)
            result.chunks_written = len(by_chunk)
            self.session.update_manifest(db, (c // GROUP_CHUNKS for c in by_chunk))
            op.counts["deleted"] = result.deleted
        return result
