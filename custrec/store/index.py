"""Blind indexes: records found by keyed tokens of their id, email and phone.

``id_index`` maps the token of each record id to its chunk; ``match_index`` maps the
token of each match field's normal form (an email case-folded, a phone number in
E.164) to the id token of the record holding it. Tokens are HMACs under the index key
(in format 3, a match field's tokens under its field group's own match key), so the
file shows which records share a value and nothing else; a reader decrypts the chunk a
token points to and compares the real values.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence

from custrec import crypto
from custrec.errors import IntegrityError
from custrec.store import packed
from custrec.store.fileformat import integer
from custrec.store.normalise import COUNTRY_FIELD, normalise_match_value, record_region
from custrec.store.records import Value
from custrec.store.session import StoreSession

_PACKED_LOOKUP = 64
"""Above this many ids, the id index is asked in one packed statement."""


class BlindIndex:
    """The id and match indexes of one open store."""

    def __init__(self, session: StoreSession) -> None:
        self.session = session
        self._id_tokens: dict[str, bytes] = {}
        self._deferred: _Entries | None = None

    # -- tokens -------------------------------------------------------------------------

    def id_token(self, record_id: str) -> bytes:
        known = self._id_tokens.get(record_id)
        if known is not None:
            return known
        return crypto.token(self.session.index_key, b"id", record_id.encode("utf-8"))

    def token_hex(self, record_id: str) -> str:
        """The record's id token in hex: how record states and tombstones name it."""
        return self.id_token(record_id).hex()

    def id_tokens(self, record_ids: Iterable[str]) -> list[bytes]:
        """The id tokens of many records, worked out together."""
        values = (str(record_id).encode("utf-8") for record_id in record_ids)
        return crypto.tokens(self.session.index_key, [b"id"], values)

    @contextlib.contextmanager
    def tokens_of(self, record_ids: Sequence[str]) -> Iterator[None]:
        """The id tokens of many records worked out at once, and reused by every step
        of the operation that needs them (locating, guarding, indexing)."""
        self._id_tokens = dict(zip(record_ids, self.id_tokens(record_ids), strict=True))
        try:
            yield
        finally:
            self._id_tokens = {}

    def match_tokens(self, row: Mapping[str, Value]) -> list[tuple[str, bytes]]:
        """(field, token) of each match field the record has a value in."""
        return [(name, self.normal_token(name, normal)) for name, normal in self._normals(row)]

    def _normals(self, row: Mapping[str, Value]) -> list[tuple[str, str]]:
        """(field, normal form) of each match field the record has a value in."""
        region = self.region_of(row.get(COUNTRY_FIELD))
        return [
            (name, normalise_match_value(name, value, region))
            for name in self.session.require_header().settings.match_fields
            if (value := row.get(name)) is not None and str(value).strip()
        ]

    def region_of(self, country: Value) -> str | None:
        """The region for a record's phone numbers: its country (ISO 3166 alpha-2)
        when it has one, else the store's region."""
        return record_region(country) or self.session.require_header().settings.region

    def normal_token(self, name: str, normal: str) -> bytes:
        key = self.session.match_key(name)
        return crypto.token(key, b"match", name.encode(), normal.encode("utf-8"))

    def contact_tokens(self, row: Mapping[str, Value]) -> list[bytes]:
        """The tokens a tombstone keeps of a record's contact details: under the index
        key in every format, so that tombstones written before format 3 (when match
        tokens were too) keep the erased customer out after a migration."""
        return [
            crypto.token(self.session.index_key, b"match", name.encode(), normal.encode("utf-8"))
            for name, normal in self._normals(row)
        ]

    def contact_normal_tokens(self, name: str, normals: Iterable[bytes]) -> list[bytes]:
        """:meth:`contact_tokens` of many normal forms (UTF-8) of field ``name``."""
        return crypto.tokens(self.session.index_key, [b"match", name.encode()], normals)

    def normal_tokens(self, name: str, normals: Iterable[bytes]) -> list[bytes]:
        """:meth:`normal_token` of many normal forms (UTF-8), worked out together."""
        return crypto.tokens(self.session.match_key(name), [b"match", name.encode()], normals)

    # -- lookups --------------------------------------------------------------------------

    def chunks_of(
        self, db: sqlite3.Connection, record_ids: Iterable[str]
    ) -> tuple[dict[int, list[str]], list[str]]:
        """Where the id index says these ids are: ids by chunk, and the ids it lacks."""
        by_chunk: dict[int, list[str]] = {}
        absent: list[str] = []
        unique = list(dict.fromkeys(record_ids))
        if len(unique) > _PACKED_LOOKUP:  # many ids: one statement for all
            tokens = [self.id_token(record_id) for record_id in unique]
            located = packed.find_ids(db, tokens)
            for record_id, token in zip(unique, tokens, strict=True):
                chunk = located.get(token)
                if chunk is None:
                    absent.append(record_id)
                else:
                    by_chunk.setdefault(chunk, []).append(record_id)
            return by_chunk, absent
        for record_id in unique:
            row = db.execute(
                "SELECT chunk_id FROM id_index WHERE token = ?", (self.id_token(record_id),)
            ).fetchone()
            if row is None:
                absent.append(record_id)
            else:
                by_chunk.setdefault(integer(row[0]), []).append(record_id)
        return by_chunk, absent

    def chunk_of_token(self, db: sqlite3.Connection, token: bytes) -> int | None:
        row = db.execute("SELECT chunk_id FROM id_index WHERE token = ?", (token,)).fetchone()
        return None if row is None else integer(row[0])

    def chunks_matching(self, db: sqlite3.Connection, field_name: str, token: bytes) -> list[int]:
        """The chunks holding records whose ``field_name`` has this match token."""
        return [
            integer(r[0])
            for r in db.execute(
                "SELECT DISTINCT i.chunk_id FROM match_index AS m "
                "JOIN id_index AS i ON i.token = m.record "
                "WHERE m.field = ? AND m.token = ? ORDER BY i.chunk_id",
                (field_name, token),
            )
        ]

    def placed(self, present: Sequence[Value], ids: Iterable[str]) -> dict[str, int]:
        """Where each id is in a chunk's id column; an id the index placed in this
        chunk but that is not there means the index was altered."""
        positions = {str(record_id): i for i, record_id in enumerate(present)}
        for record_id in ids:
            if record_id not in positions:
                raise IntegrityError(
                    f"{self.session.path}: the id index points to a chunk without the "
                    "record: the index was altered"
                )
        return positions

    def positions(
        self, rows: list[dict[str, Value]], ids: Iterable[str], id_field: str
    ) -> dict[str, int]:
        """:meth:`placed` from a chunk's rows."""
        return self.placed([row[id_field] for row in rows], ids)

    # -- changes --------------------------------------------------------------------------

    def reindex(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        changes: Mapping[str, Mapping[str, Value] | None],
    ) -> None:
        """Index entries of added, changed (a new row) or removed (None) records; the
        other records' entries stay as they are. Within :meth:`deferred`, they are
        gathered and written when it ends."""
        if not changes:
            return
        entries = self._deferred if self._deferred is not None else _Entries()
        tokens = {record_id: self.id_token(record_id) for record_id in changes}
        entries.unmatched.extend(tokens.values())
        for record_id, row in changes.items():
            if row is None:
                entries.removed.append(tokens[record_id])
                continue
            entries.placed.append((tokens[record_id], chunk_id))
            entries.matched.extend(
                (name, token, tokens[record_id]) for name, token in self.match_tokens(row)
            )
        if self._deferred is None:
            entries.write(db)

    @contextlib.contextmanager
    def deferred(self, db: sqlite3.Connection) -> Iterator[None]:
        """Index changes of many chunks (a purge's) gathered and written at the end, each
        kind in key order in one statement: removals spread over the whole index visit
        each page once, not once per chunk (a purge of 10% of 1M records spent a third of
        its time on them, chunk by chunk). Nothing may read the index before the end."""
        self._deferred = _Entries()
        try:
            yield
            self._deferred.write(db)
        finally:
            self._deferred = None

    def add_entries(
        self,
        db: sqlite3.Connection,
        id_entries: list[tuple[bytes, int]],
        match_entries: Mapping[str, list[tuple[bytes, bytes]]],
        *,
        staged: bool = False,
    ) -> None:
        """Index entries of new records in bulk: (id token, chunk) and, per match
        field, (match token, id token); ``staged``: into the staging tables, moved
        into the indexes later (:class:`packed.Staged`)."""
        ids, matches = (
            (packed.Staged.IDS, packed.Staged.MATCHES) if staged else ("id_index", "match_index")
        )
        packed.insert_id_entries(db, id_entries, ids)
        for name, entries in match_entries.items():
            packed.insert_match_entries(db, name, entries, matches)


class _Entries:
    """Index changes not yet written: every removal before every addition, as
    :meth:`BlindIndex.reindex` makes them for one chunk."""

    def __init__(self) -> None:
        self.unmatched: list[bytes] = []
        """Id tokens of records whose match entries go (changed or removed)."""
        self.removed: list[bytes] = []
        """Id tokens of removed records."""
        self.placed: list[tuple[bytes, int]] = []
        self.matched: list[tuple[str, bytes, bytes]] = []

    def write(self, db: sqlite3.Connection) -> None:
        # in key order: each index page is visited once, not once per record on it
        db.executemany(
            "DELETE FROM match_index WHERE record = ?", [(t,) for t in sorted(self.unmatched)]
        )
        db.executemany("DELETE FROM id_index WHERE token = ?", [(t,) for t in sorted(self.removed)])
        db.executemany(
            "INSERT OR REPLACE INTO id_index (token, chunk_id) VALUES (?, ?)", sorted(self.placed)
        )
        db.executemany(
            "INSERT OR IGNORE INTO match_index (field, token, record) VALUES (?, ?, ?)",
            sorted(self.matched),
        )
