"""Many index entries in one SQL statement.

``executemany`` binds every row from Python, a few microseconds a row, which is most of
the cost of indexing a million records. Here the values travel packed, fixed width, in
one blob per statement (numbers and hex pseudonyms as ASCII bytes: ``substr`` of a
text counts characters from its start, of a blob it jumps), and a recursive CTE counts
through them, so that SQLite splits them itself. Rows come
out in the order they were packed, and entries are packed in key order, so that each
B-tree page is touched once. Lookups put the packed rows first (``CROSS
JOIN`` fixes the order), one index probe each.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from custrec.crypto import TOKEN_BYTES

_NUMBER_WIDTH = 19  # decimal digits of any non-negative 64-bit integer (b"%019d")
_ROWS = (
    "WITH RECURSIVE packed_row(i) AS "
    "(SELECT 0 UNION ALL SELECT i + 1 FROM packed_row WHERE i + 1 < :count) "
)


def _token_at(parameter: str, width: int = TOKEN_BYTES, offset: int = 0) -> str:
    return f"substr(:{parameter}, i * {width} + {offset + 1}, {TOKEN_BYTES})"


def _join(rows: list[bytes], width: int, what: str) -> bytes:
    """``rows``, each ``width`` bytes, as one blob."""
    packed = b"".join(rows)
    if len(packed) != width * len(rows):
        raise ValueError(f"{what} must be {width} bytes each")
    return packed


def _pack(rows: list[bytes], width: int) -> bytes:
    """Index rows as one blob, sorted: in key order."""
    rows.sort()
    return _join(rows, width, "packed index rows")


def insert_id_entries(
    db: sqlite3.Connection, entries: Iterable[tuple[bytes, int]], table: str = "id_index"
) -> None:
    """``INSERT INTO id_index (token, chunk_id)`` each of ``entries``, in key order
    (``table``: a staging table, see :class:`Staged`)."""
    width = TOKEN_BYTES + _NUMBER_WIDTH
    rows = [token + b"%019d" % chunk for token, chunk in entries]
    if not rows:
        return
    db.execute(
        f"INSERT INTO {table} (token, chunk_id) {_ROWS}"
        f"SELECT {_token_at('rows', width)}, "
        f"CAST(substr(:rows, i * {width} + {TOKEN_BYTES + 1}, {_NUMBER_WIDTH}) AS INTEGER) "
        "FROM packed_row",
        {"count": len(rows), "rows": _pack(rows, width)},
    )


def insert_match_entries(
    db: sqlite3.Connection,
    field: str,
    entries: Iterable[tuple[bytes, bytes]],
    table: str = "match_index",
) -> None:
    """``INSERT OR IGNORE INTO match_index (field, token, record)`` each
    ``(token, record)`` of ``entries`` for ``field``, in key order (``table``: a
    staging table, see :class:`Staged`)."""
    width = 2 * TOKEN_BYTES
    rows = [token + record for token, record in entries]
    if not rows:
        return
    db.execute(
        f"INSERT OR IGNORE INTO {table} (field, token, record) {_ROWS}"
        f"SELECT :field, {_token_at('rows', width)}, "
        f"{_token_at('rows', width, TOKEN_BYTES)} FROM packed_row",
        {"count": len(rows), "field": field, "rows": _pack(rows, width)},
    )


def insert_subjects(
    db: sqlite3.Connection, op: str, pseudonyms: Sequence[str], table: str = "audit_subjects"
) -> None:
    """``INSERT OR IGNORE INTO audit_subjects (op, pseudonym)`` for each of
    ``pseudonyms`` (hex text, all of one length; ``table``: a staging table, see
    :class:`Staged`)."""
    if not pseudonyms:
        return
    width = len(pseudonyms[0])
    if any(len(p) != width for p in pseudonyms):
        raise ValueError("audit pseudonyms differ in length")
    db.execute(
        f"INSERT OR IGNORE INTO {table} (op, pseudonym) {_ROWS}"
        f"SELECT :op, CAST(substr(:pseudonyms, i * {width} + 1, {width}) AS TEXT) "
        "FROM packed_row",
        {"count": len(pseudonyms), "op": op, "pseudonyms": "".join(pseudonyms).encode("ascii")},
    )


class Staged:
    """Index entries and audit subjects of a write made of many batches, staged in
    temporary tables and moved into their indexes in key order at the end.

    Entries keyed by random tokens, inserted batch after batch, land on nearly every
    page of an index larger than SQLite's page cache, again for each batch: a million
    records took half as long again as in one batch. Staged, they are appended (a rowid
    table), and moved in one sorted pass that visits each index page once. The
    temporary tables live in a file SQLite removes itself (``temp_store = FILE`` for
    the write, so that they do not hold memory), and hold only keyed tokens, chunk
    numbers and pseudonyms: nothing from which a value could be read.
    """

    IDS = "temp.staged_ids"
    MATCHES = "temp.staged_matches"
    SUBJECTS = "temp.staged_subjects"

    @staticmethod
    @contextlib.contextmanager
    def on_disk(db: sqlite3.Connection) -> Iterator[None]:
        """Temporary tables in a file while the block runs (outside a transaction)."""
        db.execute("PRAGMA temp_store = FILE")
        try:
            yield
        finally:
            db.execute("PRAGMA temp_store = MEMORY")

    @classmethod
    def create(cls, db: sqlite3.Connection) -> None:
        """The staging tables, empty (in the caller's transaction)."""
        for table, columns in (
            (cls.IDS, "token BLOB NOT NULL, chunk_id INTEGER NOT NULL"),
            (cls.MATCHES, "field TEXT NOT NULL, token BLOB NOT NULL, record BLOB NOT NULL"),
            (cls.SUBJECTS, "op TEXT NOT NULL, pseudonym TEXT NOT NULL"),
        ):
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            db.execute(f"DELETE FROM {table}")

    @classmethod
    def move_index_entries(cls, db: sqlite3.Connection) -> None:
        """The staged id and match entries into their indexes, in key order."""
        db.execute(
            f"INSERT INTO id_index (token, chunk_id) SELECT token, chunk_id FROM {cls.IDS} "
            "ORDER BY token"
        )
        db.execute(
            "INSERT OR IGNORE INTO match_index (field, token, record) "
            f"SELECT field, token, record FROM {cls.MATCHES} ORDER BY field, token, record"
        )
        db.execute(f"DELETE FROM {cls.IDS}")
        db.execute(f"DELETE FROM {cls.MATCHES}")

    @classmethod
    def move_subjects(cls, db: sqlite3.Connection) -> None:
        """The staged audit subjects into ``audit_subjects``, in key order."""
        db.execute(
            "INSERT OR IGNORE INTO audit_subjects (op, pseudonym) "
            f"SELECT op, pseudonym FROM {cls.SUBJECTS} ORDER BY op, pseudonym"
        )
        db.execute(f"DELETE FROM {cls.SUBJECTS}")


def find_ids(db: sqlite3.Connection, tokens: Iterable[bytes]) -> dict[bytes, int]:
    """Id token -> chunk id, for those of ``tokens`` the id index holds."""
    unique = list(dict.fromkeys(tokens))
    if not unique:
        return {}
    found = db.execute(
        f"{_ROWS}SELECT id_index.token, id_index.chunk_id FROM packed_row "
        f"CROSS JOIN id_index ON id_index.token = {_token_at('tokens')}",
        {"count": len(unique), "tokens": _join(unique, TOKEN_BYTES, "index tokens")},
    )
    return {bytes(token): int(chunk_id) for token, chunk_id in found}


def find_contacts(
    db: sqlite3.Connection, field: str, tokens: Iterable[bytes]
) -> dict[bytes, set[bytes]]:
    """Match token -> the id tokens of the records holding it, for one match field."""
    unique = list(dict.fromkeys(tokens))
    if not unique:
        return {}
    holders: dict[bytes, set[bytes]] = {}
    for token, record in db.execute(
        f"{_ROWS}SELECT match_index.token, match_index.record FROM packed_row "
        "CROSS JOIN match_index ON match_index.field = :field "
        f"AND match_index.token = {_token_at('tokens')}",
        {
            "count": len(unique),
            "field": field,
            "tokens": _join(unique, TOKEN_BYTES, "index tokens"),
        },
    ):
        holders.setdefault(bytes(token), set()).add(bytes(record))
    return holders
