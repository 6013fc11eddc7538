"""Index entries written and looked up packed, many per statement, give exactly what
one statement per row gives."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.store import packed

SCHEMA = """
CREATE TABLE id_index (token BLOB PRIMARY KEY, chunk_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE match_index (
    field TEXT NOT NULL, token BLOB NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (field, token, record)
) WITHOUT ROWID;
CREATE TABLE audit_subjects (op TEXT NOT NULL, pseudonym TEXT NOT NULL,
    PRIMARY KEY (op, pseudonym)) WITHOUT ROWID;
"""

tokens = st.binary(min_size=16, max_size=16)


def database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return db


def rows(db: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    return [
        tuple(bytes(v) if isinstance(v, bytes) else v for v in row)
        for row in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
    ]


@settings(max_examples=60, deadline=None)
@given(
    ids=st.dictionaries(tokens, st.integers(min_value=0, max_value=2**63 - 1), max_size=40),
    pairs=st.lists(st.tuples(st.sampled_from(["email", "phone"]), tokens, tokens), max_size=40),
    pseudonyms=st.lists(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)),
)
def test_packed_inserts_equal_one_row_per_statement(
    ids: dict[bytes, int], pairs: list[tuple[str, bytes, bytes]], pseudonyms: list[str]
) -> None:
    ours, plain = database(), database()
    packed.insert_id_entries(ours, ids.items())
    plain.executemany("INSERT INTO id_index VALUES (?, ?)", ids.items())
    for field in ("email", "phone"):
        packed.insert_match_entries(ours, field, [(t, r) for f, t, r in pairs if f == field])
    plain.executemany("INSERT OR IGNORE INTO match_index VALUES (?, ?, ?)", pairs)
    packed.insert_subjects(ours, "op1", pseudonyms)
    plain.executemany(
        "INSERT OR IGNORE INTO audit_subjects VALUES (?, ?)", [("op1", p) for p in pseudonyms]
    )
    for table in ("id_index", "match_index", "audit_subjects"):
        assert rows(ours, table) == rows(plain, table)
    assert all(isinstance(t, bytes) and isinstance(c, int) for t, c in rows(ours, "id_index"))
    assert all(isinstance(p, str) for _, p in rows(ours, "audit_subjects"))


@settings(max_examples=60, deadline=None)
@given(
    stored=st.dictionaries(tokens, st.integers(min_value=0, max_value=10**6), max_size=30),
    holders=st.lists(st.tuples(tokens, tokens), max_size=30),
    asked=st.lists(tokens, max_size=20),
    picks=st.lists(st.integers(min_value=0, max_value=60), max_size=20),
)
def test_packed_lookups_find_exactly_the_stored_entries(
    stored: dict[bytes, int],
    holders: list[tuple[bytes, bytes]],
    asked: list[bytes],
    picks: list[int],
) -> None:
    db = database()
    packed.insert_id_entries(db, stored.items())
    packed.insert_match_entries(db, "email", holders)
    packed.insert_match_entries(db, "phone", holders[:3])
    known = list(stored) + [t for t, _ in holders]
    wanted = asked + [known[p % len(known)] for p in picks if known]
    assert packed.find_ids(db, wanted) == {t: stored[t] for t in wanted if t in stored}
    expected: dict[bytes, set[bytes]] = {}
    for token, record in holders:
        if token in wanted:
            expected.setdefault(token, set()).add(record)
    assert packed.find_contacts(db, "email", wanted) == expected


def test_rows_of_the_wrong_width_are_refused() -> None:
    db = database()
    with pytest.raises(ValueError, match="bytes each"):
        packed.insert_id_entries(db, [(b"short", 1)])
    with pytest.raises(ValueError, match="bytes each"):
        packed.find_ids(db, [b"x" * 15])
    with pytest.raises(ValueError, match="differ in length"):
        packed.insert_subjects(db, "op", ["ab", "abc"])
