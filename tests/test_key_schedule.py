"""The key schedule lists every part of a store file, and key changes re-seal all of it.

A store that went through every kind of operation is opened as a plain SQLite file:
each header row and each column of each table must be classified in
``keyschedule.SCHEDULE``, so that a part added to the file without an entry (and so
possibly forgotten by rotation or verification) fails here. Then the master key is
replaced in every way the store allows, after every kind of record state, and the
store must open, read and verify each time.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from custrec.errors import IntegrityError, WrongKeyError
from custrec.keyfile import new_key_file
from custrec.store import KeySource, StoreSettings, create_store, open_store
from custrec.store.keyschedule import (
    FORMAT_1_SCHEDULE,
    FORMAT_2_SCHEDULE,
    SCHEDULE,
    WRAPPED_HEADER_ROWS,
    Protection,
)

VECTORS = Path(__file__).resolve().parent / "vectors"


def records(n: int) -> list[dict[str, object]]:
    return [
        {
            "customer_id": f"C-{i}",
            "email": f"c{i}@example.com",
            "phone": f"+44 7911 {100000 + i}",
            "created": "2020-01-01",
        }
        for i in range(n)
    ]


def busy_store(tmp_path: Path) -> tuple[Path, KeySource]:
    """A store with records, every record state, a second holder and a rotation."""
    key = KeySource.from_key_file(new_key_file(tmp_path / "k.key").path)
    path = tmp_path / "s.crec"
    with create_store(path, key, settings=StoreSettings(chunk_records=4)) as store:
        store.put(records(20))
        store.set_state("hold", "C-1", True)
        store.set_state("restricted", "C-2", True)
        store.erase("C-3")
        store.mark_purged({"C-4": (1, "rule", "delete", "2099-01-01")}, counts={})
        store.add_holder(KeySource.from_key_file(new_key_file(tmp_path / "b.key").path))
        store.rotate_data_keys()
        with sqlite3.connect(path) as db:  # a scrub left pending, as a reader would
            db.execute("INSERT OR REPLACE INTO header VALUES ('scrub_pending', x'01')")
    return path, key


def file_parts(path: Path, prefix: str = "") -> set[str]:
    with sqlite3.connect(path) as db:
        parts = {f"{prefix}header:{name}" for (name,) in db.execute("SELECT name FROM header")}
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            if table == "header":  # its rows are listed one by one
                continue
            parts |= {
                f"{prefix}{table}.{row[1]}" for row in db.execute(f"PRAGMA table_info({table})")
            }
    return parts


def test_every_part_of_the_file_is_in_the_key_schedule(tmp_path: Path) -> None:
    path, _ = busy_store(tmp_path)
    parts = file_parts(path) | file_parts(path.with_name(path.name + ".keys"), "keys:")
    assert parts - SCHEDULE.keys() == set(), "parts of the file missing from the schedule"
    listed = {name for name in SCHEDULE if not name.startswith("file:")}
    assert listed - parts == set(), "schedule entries that the file no longer has"
    assert path.with_name(path.name + ".erasures").exists()


def test_every_part_of_a_format_1_file_is_in_the_schedules() -> None:
    """Format 1 (the committed vector) is read and migrated: its parts are those of
    format 3 but the key store's and the field groups', plus its data keys
    (FORMAT_1_SCHEDULE) and its whole chunks (FORMAT_2_SCHEDULE)."""
    parts = file_parts(VECTORS / "store-v1.crec")
    known = SCHEDULE.keys() | FORMAT_1_SCHEDULE.keys() | FORMAT_2_SCHEDULE.keys()
    assert parts - known == set()
    assert FORMAT_1_SCHEDULE.keys() <= parts
    assert FORMAT_2_SCHEDULE.keys() <= parts


def test_every_part_of_a_format_2_file_is_in_the_schedules() -> None:
    parts = file_parts(VECTORS / "store-v2.crec")
    assert parts - (SCHEDULE.keys() | FORMAT_2_SCHEDULE.keys()) == set()
    assert FORMAT_2_SCHEDULE.keys() <= parts


def test_every_part_of_a_format_3_file_with_field_groups_is_in_the_schedule() -> None:
    path = VECTORS / "store-v3.crec"
    parts = file_parts(path) | file_parts(path.with_name(path.name + ".keys"), "keys:")
    assert parts - SCHEDULE.keys() == set()


def test_the_wrapped_header_rows_are_exactly_those_the_schedule_seals() -> None:
    sealed = {
        name.removeprefix("header:")
        for name, protection in SCHEDULE.items()
        if name.startswith("header:") and protection is Protection.SEALED_WRAP
    }
    assert sealed == set(WRAPPED_HEADER_ROWS)


def test_every_key_change_after_every_state_keeps_the_store_whole(tmp_path: Path) -> None:
    path, key = busy_store(tmp_path)
    second = KeySource.from_key_file(tmp_path / "b.key")
    third = KeySource.from_key_file(new_key_file(tmp_path / "c.key").path)
    with open_store(path, key) as store:
        first = store.key_id
        store.rotate_data_keys()
        store.add_holder(third)
    with open_store(path, third) as store:
        assert first is not None
        store.remove_holder(first)
    with pytest.raises(WrongKeyError):
        open_store(path, key)
    for source in (second, third):
        with open_store(path, source) as store:
            assert store.verify() == 19  # 20, less one erased (one in grace still counts)
            assert store.record_states("C-1")["hold"]
            assert store.record_states("C-2")["restricted"]
            assert store.record_states("C-3")["erased"]
            assert store.get("C-5").data["email"] == "c5@example.com"
            assert store.purged_states()
            store.set_state("hold", "C-1", False)
            store.rotate_data_keys()
            store.set_state("hold", "C-1", True)


def test_a_revision_1_header_is_read_and_upgraded(tmp_path: Path) -> None:
    store_path = Path(shutil.copy(VECTORS / "store-v1.crec", tmp_path / "v1.crec"))
    key_path = Path(shutil.copy(VECTORS / "store-v1.key", tmp_path / "v1.key"))
    key_path.chmod(0o600)
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT value FROM header WHERE name = 'revision'").fetchone() is None
    with open_store(store_path, KeySource.from_key_file(key_path)) as store:
        count = store.verify()
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT value FROM header WHERE name = 'revision'").fetchone() == (b"2",)
        # once upgraded, removing the revision row is an alteration, not a downgrade
        db.execute("DELETE FROM header WHERE name = 'revision'")
    with pytest.raises(IntegrityError, match="header failed its integrity check"):
        open_store(store_path, KeySource.from_key_file(key_path))
    assert count > 0
