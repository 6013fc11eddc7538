"""Bulk ingest: many records in one transaction, from a stream of Arrow tables (see
:mod:`custrec.store.ingest` for the types callers use).

:meth:`BulkIngest.ingest` takes the lock and, batch by batch, computes the blind-index
tokens of incoming rows (:meth:`BulkIngest.prepare`), finds which rows repeat an id or
a contact detail (an earlier row of the stream, or a record in the store) and which the
store refuses (an erased customer, a record in a purge's grace period), asks the
caller what to do with each row, and writes whole chunks straight from Arrow buffers.
Loaded only by commands that collect, so that point reads never import it.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import pyarrow as pa

from custrec.errors import UsageError
from custrec.store import chunkcodec, packed
from custrec.store.auditing import Operation
from custrec.store.fileformat import GROUP_CHUNKS, integer
from custrec.store.ingest import (
    Decide,
    IngestBatch,
    IngestResult,
    IngestRows,
    RowAction,
    RowMatches,
    RunRepeats,
    Segment,
    merge_update,
    sources_of,
)
from custrec.store.normalise import COUNTRY_FIELD, is_phone_field, normalise_match_value
from custrec.store.parts import StoreParts, UsesParts
from custrec.store.records import COLLECTED_COLUMN, SOURCE_COLUMN, VERSION_COLUMN, Value
from custrec.store.writes import RecordWriter


class BulkIngest(UsesParts):
    """Bulk writes into one open store."""

    def __init__(self, parts: StoreParts, writer: RecordWriter) -> None:
        super().__init__(parts)
        self.writer = writer

    def prepare(self, batch: IngestBatch, first: int) -> IngestRows:
        """The tokens of ``batch``'s rows; ``first`` is the position in the stream of its
        first row (its label by default)."""
        import numpy as np

        table = batch.table
        settings = self.session.require_header().settings
        if settings.id_field not in table.column_names:
            raise UsageError(f"the rows lack the id field {settings.id_field!r}")
        ids = table.column(settings.id_field).to_pylist()
        if any(value is None for value in ids):
            raise UsageError(f"every row needs a value in {settings.id_field!r}")
        id_tokens = self.index.id_tokens(ids)
        countries = (
            table.column(COUNTRY_FIELD).to_pylist()
            if COUNTRY_FIELD in table.column_names
            else [None] * table.num_rows
        )
        regions = {country: self.index.region_of(country) for country in set(countries)}
        match_tokens: dict[str, list[bytes | None]] = {}
        match_normals: dict[str, list[bytes | None]] = {}
        for name in settings.match_fields:
            if name not in table.column_names:
                continue
            values = table.column(name).to_pylist()
            # Normal forms and tokens once per distinct value of the batch: a phone
            # number costs microseconds to read, and households and companies share them.
            normals: dict[tuple[Value, str | None], bytes] = {}
            forms: list[bytes | None] = [None] * len(values)
            for position, (value, country) in enumerate(zip(values, countries, strict=True)):
                if value is None or not str(value).strip():
                    continue
                key = (value, regions[country])
                normal = normals.get(key)
                if normal is None:
                    normal = normals[key] = normalise_match_value(name, value, key[1]).encode()
                forms[position] = normal
            match_tokens[name] = _per_row(forms, partial(self.index.normal_tokens, name))
            match_normals[name] = forms
        all_columns = frozenset(table.column_names)
        if batch.labels is None:
            labels = np.arange(first, first + table.num_rows, dtype=np.int64)
        else:
            labels = np.asarray(batch.labels, dtype=np.int64)
            if len(labels) != table.num_rows:
                raise ValueError("an ingest batch needs one label per row")
        return IngestRows(
            table=table,
            segments=list(batch.segments or [Segment(0, table.num_rows, all_columns)]),
            id_tokens=id_tokens,
            match_tokens=match_tokens,
            labels=labels,
            match_normals=match_normals,
        )

    def ingest(
        self,
        batches: Iterable[IngestBatch],
        decide: Decide,
        *,
        collected_at: str | None,
        action: str,
        readmit_erased: bool,
    ) -> IngestResult:
        result = IngestResult()
        touched: set[int] = set()
        lifted: set[str] = set()
        settings = self.session.require_header().settings
        repeats = RunRepeats(settings.match_fields)
        try:
            with packed.Staged.on_disk(self.session.db), self.auditor.change(action) as op:
                db = self.session.db
                packed.Staged.create(db)
                position = 0
                for batch in batches:
                    rows = self.prepare(batch, position)
                    position += rows.rows
                    fields = {name for segment in rows.segments for name in segment.columns}
                    op.fields |= fields
                    result.fields |= fields
                    touched |= self._write_batch(
                        db, op, rows, repeats, decide, result, lifted, collected_at,
                        readmit_erased,
                    )  # fmt: skip
                packed.Staged.move_index_entries(db)
                result.chunks_written = len(touched)
                self.session.update_manifest(db, (c // GROUP_CHUNKS for c in touched))
                op.counts.update(
                    inserted=result.inserted, updated=result.updated, skipped=result.skipped
                )
        finally:
            repeats.close()
        if lifted:
            self.guard.write_tombstone_file()
        return result

    def _write_batch(
        self,
        db: sqlite3.Connection,
        op: Operation,
        rows: IngestRows,
        repeats: RunRepeats,
        decide: Decide,
        result: IngestResult,
        lifted: set[str],
        collected_at: str | None,
        readmit_erased: bool,
    ) -> set[int]:
        """One batch of an ingest, in its transaction: the chunks it changed."""
        table = rows.table
        ids = [str(v) for v in table.column(self.writer.id_field).to_pylist()]
        self.auditor.record_subjects(db, op, ids)
        self.writer.declare_columns(db, table.schema)
        refused, tombstones = self.guard.refused_rows(
            rows.id_tokens, lambda: self._contact_tokens(rows)
        )
        if readmit_erased:
            refused = {p: why for p, why in refused.items() if why != "erased"}
        located = packed.find_ids(db, rows.id_tokens)
        self._reread_phone_regions(db, rows, located, ids)
        matches = self._matches(db, rows, located, repeats)
        matches.refused = refused
        actions = list(decide(matches))
        if len(actions) != rows.rows:
            raise ValueError("decide() must return one action per row")
        inserts: list[int] = []
        updates: dict[int, list[int]] = {}
        skipped = 0
        for position, row_action in enumerate(actions):
            if row_action is RowAction.SKIP or position in refused:
                skipped += 1
                continue
            if matches.repeat_of[position] is not None:
                raise ValueError("a repeated id in the stream can only be skipped")
            token = rows.id_tokens[position]
            if row_action is RowAction.UPDATE:
                if token not in located:
                    raise ValueError("only a record in the store can be updated")
                updates.setdefault(located[token], []).append(position)
            elif token in located:
                raise ValueError("a record in the store cannot be inserted again")
            else:
                inserts.append(position)
        readmitted = {
            key
            for position in (*inserts, *(p for group in updates.values() for p in group))
            for key in tombstones.get(position, ())
        }
        if readmitted:  # readmitted: the tombstones no longer keep these customers out
            op.counts["readmitted"] = op.counts.get("readmitted", 0) + self.guard.readmit(
                db, readmitted
            )
            lifted |= readmitted
        result.skipped += skipped
        touched = self._updates(db, rows, updates, ids, collected_at)
        result.updated += sum(len(p) for p in updates.values())
        fresh = table.take(pa.array(inserts, type=pa.int64()))
        touched |= self._inserts(db, fresh, rows, inserts, collected_at)
        result.inserted += len(inserts)
        return touched

    def _contact_tokens(self, rows: IngestRows) -> dict[str, list[bytes | None]]:
        """The rows' contact tokens as tombstones keep them (under the index key; the
        match tokens themselves before format 3)."""
        if self.session.require_header().format < 3:
            return rows.match_tokens
        return {
            name: _per_row(forms, partial(self.index.contact_normal_tokens, name))
            for name, forms in rows.match_normals.items()
        }

    def _matches(
        self,
        db: sqlite3.Connection,
        rows: IngestRows,
        located: Mapping[bytes, int],
        repeats: RunRepeats,
    ) -> RowMatches:
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
        repeat_of, contact_repeat = repeats.find(rows)
        return RowMatches(
            in_store=[token in located for token in rows.id_tokens],
            contact_in_store=contact_in_store,
            repeat_of=repeat_of,
            contact_repeat_of=contact_repeat,
        )

    def _reread_phone_regions(
        self,
        db: sqlite3.Connection,
        rows: IngestRows,
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
            chunk = self.vault.read(db, chunk_id)
            stored = dict(
                zip(
                    (str(v) for v in chunk.values(self.writer.id_field)),
                    chunk.values(COUNTRY_FIELD),
                    strict=True,
                )
            )
            for position in positions:
                region = self.index.region_of(stored.get(ids[position]))
                for name in phones:
                    value = rows.table.column(name)[position].as_py()
                    if value is not None and str(value).strip():
                        normal = normalise_match_value(name, value, region)
                        rows.match_tokens[name][position] = self.index.normal_token(name, normal)
                        rows.match_normals[name][position] = normal.encode()

    def _updates(
        self,
        db: sqlite3.Connection,
        rows: IngestRows,
        updates: Mapping[int, list[int]],
        ids: Sequence[str],
        collected_at: str | None,
    ) -> set[int]:
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
            chunk_rows = self.vault.rows(db, chunk_id)
            wanted = [ids[p] for p in group]
            places = self.index.positions(chunk_rows, wanted, self.writer.id_field)
            changed: dict[str, Mapping[str, Value] | None] = {}
            for position, record_id in zip(group, wanted, strict=True):
                segment = rows.segments[bisect.bisect_right(starts, position) - 1]
                old = chunk_rows[places[record_id]]
                new = merge_update(old, incoming[position], segment.columns)
                new[SOURCE_COLUMN] = segment.source
                new[COLLECTED_COLUMN] = collected_at
                new[VERSION_COLUMN] = integer(old[VERSION_COLUMN] or 0) + 1
                chunk_rows[places[record_id]] = changed[record_id] = new
            self.writer.rewrite(db, chunk_id, chunk_rows, changed)
        return set(updates)

    def _inserts(
        self,
        db: sqlite3.Connection,
        fresh: pa.Table,
        rows: IngestRows,
        positions: Sequence[int],
        collected_at: str | None,
    ) -> set[int]:
        """New records: the last chunk is filled first, then whole chunks are laid out
        from Arrow buffers, with their index entries from the prepared tokens."""
        count = fresh.num_rows
        if not count:
            return set()
        sources = sources_of(rows.segments, positions)
        tokens = [rows.id_tokens[p] for p in positions]
        fresh = fresh.append_column(VERSION_COLUMN, pa.array([1] * count, type=pa.int64()))
        fresh = fresh.append_column(SOURCE_COLUMN, pa.array(sources, type=pa.string()))
        fresh = fresh.append_column(
            COLLECTED_COLUMN, pa.array([collected_at] * count, type=pa.string())
        )
        size = self.session.require_header().settings.chunk_records
        start, next_id, touched = self.writer.fill_last_chunk(
            db, lambda room: fresh.slice(0, room).to_pylist(), count
        )
        columns = self.vault.columns()
        id_entries: list[tuple[bytes, int]] = []
        match_entries: dict[str, list[tuple[bytes, bytes]]] = {n: [] for n in rows.match_tokens}
        for offset in range(start, count, size):
            piece = fresh.slice(offset, size).combine_chunks().to_batches()[0]
            chunk_id = next_id
            next_id += 1
            self.session.ensure_group(db, chunk_id // GROUP_CHUNKS)
            plain = chunkcodec.encode_arrow(piece, columns)
            self.vault.seal(db, chunk_id, plain, piece.num_rows, None)
            stop = offset + piece.num_rows
            id_entries.extend((token, chunk_id) for token in tokens[offset:stop])
            for name, column in rows.match_tokens.items():
                match_entries[name].extend(
                    (match, tokens[n])
                    for n in range(offset, stop)
                    if (match := column[positions[n]]) is not None
                )
            touched.add(chunk_id)
        self.index.add_entries(db, id_entries, match_entries, staged=True)
        return touched


def _per_row(
    forms: list[bytes | None], tokens: Callable[[list[bytes]], list[bytes]]
) -> list[bytes | None]:
    """The token of each row's normal form (None where it has none), worked out once
    per distinct form."""
    distinct = list(dict.fromkeys(f for f in forms if f is not None))
    made = dict(zip(distinct, tokens(distinct), strict=True))
    return [None if f is None else made[f] for f in forms]
