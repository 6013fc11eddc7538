"""The chunk vault: records sealed in chunks, one fresh data key per chunk version.

A chunk holds up to ``chunk_records`` records in custrec's Arrow-like layout
(:mod:`custrec.store.chunkcodec`), sealed with AES-256-GCM under a data key used for
exactly one encryption; the data key is kept sealed in the key store beside the data
file (:mod:`custrec.store.keystore`; in format 1, in the data file). The
AAD binds the payload to its chunk id, generation, data key number, epoch and record
count, which the manifest authenticates (:mod:`custrec.store.session`). Rewriting a
chunk destroys the old version's data key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from custrec import crypto
from custrec.errors import IntegrityError
from custrec.store import chunkcodec
from custrec.store.fileformat import GROUP_CHUNKS, blob, int8, integer
from custrec.store.records import SYSTEM_COLUMNS, Value, check_types
from custrec.store.session import StoreSession

if TYPE_CHECKING:
    import pyarrow as pa


CHUNK_AAD_VERSION = 1
"""The version in a chunk's AAD: 1 in both formats (format 2 moved the data keys, not
the chunks, so a migration re-encrypts nothing)."""


class ChunkVault:
    """Reading and sealing chunks of one open store."""

    def __init__(self, session: StoreSession) -> None:
        self.session = session

    def chunk_aad(
        self, chunk_id: int, generation: int, key_no: int, epoch: int, records: int
    ) -> bytes:
        header = self.session.require_header()
        return b"".join(
            [b"custrec chunk v1", int8(CHUNK_AAD_VERSION), header.store_id]
            + [int8(v) for v in (chunk_id, generation, key_no, epoch, records)]
        )

    def read(self, db: sqlite3.Connection, chunk_id: int) -> chunkcodec.Chunk:
        """Chunk ``chunk_id``, authenticated (its group's MAC, then its seal)."""
        path = self.session.path
        row = db.execute(
            "SELECT generation, key_no, epoch, records, payload FROM chunks "
            "JOIN chunk_payloads USING (chunk_id) WHERE chunk_id = ?",
            (chunk_id,),
        ).fetchone()
        if row is None:
            raise IntegrityError(
                f"{path}: chunk {chunk_id} is missing although the index refers to it"
            )
        self.session.ensure_group(db, chunk_id // GROUP_CHUNKS)
        generation, key_no, epoch, records, payload = row
        plain = crypto.open_sealed(
            self.session.data_key(db, key_no),
            blob(payload),
            self.chunk_aad(chunk_id, generation, key_no, epoch, records),
            f"chunk {chunk_id}",
        )
        chunk = chunkcodec.Chunk(plain)
        if chunk.rows != records:
            raise IntegrityError(f"{path}: chunk {chunk_id} holds the wrong record count")
        return chunk

    def seal(
        self,
        db: sqlite3.Connection,
        chunk_id: int,
        plain: bytes,
        records: int,
        old: tuple[int, int] | None,
    ) -> None:
        """Store the laid-out chunk ``plain`` as chunk ``chunk_id``, sealed under a fresh
        data key; the old version's data key (``old`` = generation, key_no) is destroyed."""
        header = self.session.require_header()
        if old is not None:
            self.session.retire_data_key(db, old[1])
        generation = old[0] + 1 if old is not None else 1
        data_key = crypto.random_bytes()
        key_no = self.session.new_data_key(data_key)
        aad = self.chunk_aad(chunk_id, generation, key_no, header.epoch, records)
        db.execute(
            "INSERT OR REPLACE INTO chunks (chunk_id, generation, key_no, epoch, records) "
            "VALUES (?, ?, ?, ?, ?)",
            (chunk_id, generation, key_no, header.epoch, records),
        )
        db.execute(
            "INSERT OR REPLACE INTO chunk_payloads (chunk_id, payload) VALUES (?, ?)",
            (chunk_id, crypto.seal(data_key, plain, aad)),
        )

    def drop(self, db: sqlite3.Connection, chunk_id: int, old: tuple[int, int] | None) -> None:
        """Remove chunk ``chunk_id`` and destroy its data key."""
        if old is not None:
            self.session.retire_data_key(db, old[1])
        db.execute("DELETE FROM chunks WHERE chunk_id = ?", (chunk_id,))
        db.execute("DELETE FROM chunk_payloads WHERE chunk_id = ?", (chunk_id,))

    def generation(self, db: sqlite3.Connection, chunk_id: int) -> tuple[int, int] | None:
        """The chunk's (generation, key_no), None when it does not exist."""
        old = db.execute(
            "SELECT generation, key_no FROM chunks WHERE chunk_id = ?", (chunk_id,)
        ).fetchone()
        return (integer(old[0]), integer(old[1])) if old else None

    def chunk_ids(self, db: sqlite3.Connection) -> list[int]:
        """Every chunk id, in order."""
        return [int(r[0]) for r in db.execute("SELECT chunk_id FROM chunks ORDER BY 1")]

    def first_before(self, db: sqlite3.Connection, epoch: int) -> int | None:
        """The first chunk written before ``epoch`` (a rotation's next), or None."""
        row = db.execute(
            "SELECT chunk_id FROM chunks WHERE epoch < ? ORDER BY chunk_id LIMIT 1", (epoch,)
        ).fetchone()
        return None if row is None else int(row[0])

    def chunk_counts(self, db: sqlite3.Connection, epoch: int) -> tuple[int, int]:
        """Chunks in all, and chunks written before ``epoch``."""
        row = db.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE epoch < ?) FROM chunks", (epoch,)
        ).fetchone()
        return int(row[0]), int(row[1] or 0)

    def last_chunk(self, db: sqlite3.Connection) -> tuple[int, int] | None:
        """The last chunk's (id, record count), None in an empty store."""
        last = db.execute(
            "SELECT chunk_id, records FROM chunks ORDER BY chunk_id DESC LIMIT 1"
        ).fetchone()
        return (int(last[0]), int(last[1])) if last else None

    def count(self, db: sqlite3.Connection) -> int:
        """Records in the store, from the manifest (every group checked)."""
        self.session.ensure_all_groups(db)
        return sum(integer(r[0]) for r in db.execute("SELECT records FROM chunks"))

    # -- layout ---------------------------------------------------------------------------

    def columns(self) -> list[tuple[str, str]]:
        """The store's columns and the system columns, as a chunk lays them out."""
        return [*self.session.require_header().columns, *SYSTEM_COLUMNS]

    def names(self) -> list[str]:
        return [name for name, _ in self.columns()]

    def encode(
        self, rows: list[dict[str, Value]], changed: Iterable[Mapping[str, Value] | None]
    ) -> bytes:
        """The chunk layout of ``rows``; the ``changed`` ones (the others were read from
        the store) are checked against the column types first."""
        columns = self.columns()
        check_types([row for row in changed if row is not None], columns)
        return chunkcodec.encode(rows, columns)

    def arrow_schema(self, *, system: bool) -> pa.Schema:
        import pyarrow as pa

        from custrec.types import arrow_type

        header = self.session.require_header()
        fields = [pa.field(name, arrow_type(kind)) for name, kind in header.columns]
        if system:
            fields += [pa.field(name, arrow_type(kind)) for name, kind in SYSTEM_COLUMNS]
        return pa.schema(fields)

    def rows(self, db: sqlite3.Connection, chunk_id: int) -> list[dict[str, Value]]:
        return self.read(db, chunk_id).records(self.names())

    def rows_with_ids(
        self, db: sqlite3.Connection, chunk_id: int, id_field: str, ids: Sequence[str]
    ) -> list[dict[str, Value]]:
        """The rows of a chunk holding these ids (decoding only those rows)."""
        return self.read(db, chunk_id).records_where(self.names(), id_field, set(ids))
