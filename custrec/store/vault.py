"""The chunk vault: records sealed in chunks, one fresh data key per chunk version.

A chunk holds up to ``chunk_records`` records in custrec's Arrow-like layout
(:mod:`custrec.store.chunkcodec`), sealed with AES-256-GCM under a data key used for
exactly one encryption; the data key is kept sealed in the key store beside the data
file (:mod:`custrec.store.keystore`; in format 1, in the data file). The
AAD binds the payload to its chunk id, generation, data key number, epoch and record
count, which the manifest authenticates (:mod:`custrec.store.session`). Rewriting a
chunk destroys the old version's data key.

In format 3 a chunk is sealed as one *part* per field group of the store (the
header's ``groups``): each part holds that group's columns, under a data key of its
own sealed under that group's key store key, so a key for one group opens no other.
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
"""The version in a chunk's AAD in formats 1 and 2 (format 2 moved the data keys, not
the chunks, so that migration re-encrypts nothing)."""
PART_AAD_VERSION = 2
"""The version in the AAD of a format-3 chunk part, followed by its part number and
data key number."""


class ChunkVault:
    """Reading and sealing chunks of one open store."""

    def __init__(self, session: StoreSession) -> None:
        self.session = session

    def chunk_aad(
        self,
        chunk_id: int,
        generation: int,
        key_no: int,
        epoch: int,
        records: int,
        part: tuple[int, int] | None = None,
    ) -> bytes:
        """The AAD of a chunk (formats 1 and 2) or of its ``part`` (format 3: part
        number, data key number)."""
        header = self.session.require_header()
        version = CHUNK_AAD_VERSION if part is None else PART_AAD_VERSION
        values = [chunk_id, generation, key_no, epoch, records, *(part or ())]
        return b"".join(
            [b"custrec chunk v1", int8(version), header.store_id] + [int8(v) for v in values]
        )

    def read(self, db: sqlite3.Connection, chunk_id: int) -> chunkcodec.Chunk:
        """Chunk ``chunk_id``, authenticated (its group's MAC, then its seal)."""
        if self.session.require_header().format >= 3:
            return self._read_parts(db, chunk_id)
        return self.read_whole(db, chunk_id)

    def _metadata(self, db: sqlite3.Connection, chunk_id: int) -> tuple[int, int, int, int]:
        row = db.execute(
            "SELECT generation, key_no, epoch, records FROM chunks WHERE chunk_id = ?",
            (chunk_id,),
        ).fetchone()
        if row is None:
            raise IntegrityError(
                f"{self.session.path}: chunk {chunk_id} is missing although the index refers to it"
            )
        self.session.ensure_group(db, chunk_id // GROUP_CHUNKS)
        generation, key_no, epoch, records = (integer(v) for v in row)
        return generation, key_no, epoch, records

    def read_whole(self, db: sqlite3.Connection, chunk_id: int) -> chunkcodec.Chunk:
        """A chunk sealed whole (formats 1 and 2)."""
        return self.open_whole(db, chunk_id)[1]

    def open_whole(self, db: sqlite3.Connection, chunk_id: int) -> tuple[bytes, chunkcodec.Chunk]:
        """A chunk sealed whole: its layout as opened (a migration to format 3 seals it
        again as parts as it is) and the chunk it lays out."""
        generation, key_no, epoch, records = self._metadata(db, chunk_id)
        row = db.execute(
            "SELECT payload FROM chunk_payloads WHERE chunk_id = ?", (chunk_id,)
        ).fetchone()
        if row is None:
            raise IntegrityError(f"{self.session.path}: chunk {chunk_id} has no payload")
        plain = crypto.open_sealed(
            self.session.data_key(db, key_no),
            blob(row[0]),
            self.chunk_aad(chunk_id, generation, key_no, epoch, records),
            f"chunk {chunk_id}",
        )
        return plain, self._counted(chunkcodec.Chunk(plain), chunk_id, records)

    def _read_parts(self, db: sqlite3.Connection, chunk_id: int) -> chunkcodec.Chunk:
        generation, key_no, epoch, records = self._metadata(db, chunk_id)
        rows = db.execute(
            "SELECT part, key_no, payload FROM chunk_parts WHERE chunk_id = ? ORDER BY part",
            (chunk_id,),
        ).fetchall()
        expected = len(self.session.require_header().groups)
        if [integer(r[0]) for r in rows] != list(range(expected)) or integer(rows[0][1]) != key_no:
            raise IntegrityError(
                f"{self.session.path}: chunk {chunk_id} lacks parts or has parts of another "
                "version: the store was altered"
            )
        parts = []
        for part, part_key, payload in rows:
            plain = crypto.open_sealed(
                self.session.data_key(db, part_key),
                blob(payload),
                self.chunk_aad(chunk_id, generation, key_no, epoch, records, (part, part_key)),
                f"chunk {chunk_id} part {part}",
            )
            parts.append(chunkcodec.Chunk(plain))
        return self._counted(chunkcodec.Chunk.merged(parts), chunk_id, records)

    def _counted(self, chunk: chunkcodec.Chunk, chunk_id: int, records: int) -> chunkcodec.Chunk:
        if chunk.rows != records:
            raise IntegrityError(
                f"{self.session.path}: chunk {chunk_id} holds the wrong record count"
            )
        return chunk

    def part_names(self) -> list[list[str]]:
        """Format 3: the columns of each part (field group), system columns with the id."""
        header = self.session.require_header()
        out: list[list[str]] = [[] for _ in header.groups]
        for name in self.names():
            out[header.part_of(name)].append(name)
        return out

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
            self._retire(db, chunk_id, old)
        generation = old[0] + 1 if old is not None else 1
        if header.format >= 3:
            self._seal_parts(db, chunk_id, plain, records, generation)
            return
        data_key = crypto.random_bytes()
        key_no = self.session.new_data_key(data_key)
        aad = self.chunk_aad(chunk_id, generation, key_no, header.epoch, records)
        _put_chunk_row(db, chunk_id, generation, key_no, header.epoch, records)
        db.execute(
            "INSERT OR REPLACE INTO chunk_payloads (chunk_id, payload) VALUES (?, ?)",
            (chunk_id, crypto.seal(data_key, plain, aad)),
        )

    def _seal_parts(
        self, db: sqlite3.Connection, chunk_id: int, plain: bytes, records: int, generation: int
    ) -> None:
        epoch = self.session.require_header().epoch
        sealed = []
        for part, payload in enumerate(chunkcodec.split(plain, self.part_names())):
            data_key = crypto.random_bytes()
            sealed.append((part, self.session.new_data_key(data_key, part), data_key, payload))
        key_no = sealed[0][1]
        _put_chunk_row(db, chunk_id, generation, key_no, epoch, records)
        db.execute("DELETE FROM chunk_parts WHERE chunk_id = ?", (chunk_id,))
        db.executemany(
            "INSERT INTO chunk_parts (chunk_id, part, key_no, payload) VALUES (?, ?, ?, ?)",
            [
                (
                    chunk_id,
                    part,
                    part_key,
                    crypto.seal(
                        data_key,
                        payload,
                        self.chunk_aad(
                            chunk_id, generation, key_no, epoch, records, (part, part_key)
                        ),
                    ),
                )
                for part, part_key, data_key, payload in sealed
            ],
        )

    def _retire(self, db: sqlite3.Connection, chunk_id: int, old: tuple[int, int]) -> None:
        """Destroy the data keys of the chunk's current version: every part's in format
        3 (part 0's is the chunk's own); the one in ``old`` for a chunk sealed whole (a
        migration to format 3 rewrites those before the file has any part)."""
        retired = {old[1]}
        if self.session.require_header().format >= 3:
            parts = db.execute("SELECT key_no FROM chunk_parts WHERE chunk_id = ?", (chunk_id,))
            retired |= {integer(r[0]) for r in parts}
        for key_no in sorted(retired):
            self.session.retire_data_key(db, key_no)

    def drop(self, db: sqlite3.Connection, chunk_id: int, old: tuple[int, int] | None) -> None:
        """Remove chunk ``chunk_id`` and destroy its data keys."""
        if old is not None:
            self._retire(db, chunk_id, old)
        db.execute("DELETE FROM chunks WHERE chunk_id = ?", (chunk_id,))
        table = "chunk_parts" if self.session.require_header().format >= 3 else "chunk_payloads"
        db.execute(f"DELETE FROM {table} WHERE chunk_id = ?", (chunk_id,))

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


def _put_chunk_row(
    db: sqlite3.Connection, chunk_id: int, generation: int, key_no: int, epoch: int, records: int
) -> None:
    """A chunk version's metadata (what the manifest authenticates)."""
    db.execute(
        "INSERT OR REPLACE INTO chunks (chunk_id, generation, key_no, epoch, records) "
        "VALUES (?, ?, ?, ?, ?)",
        (chunk_id, generation, key_no, epoch, records),
    )
