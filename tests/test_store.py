"""The encrypted store: round trips, point and batch access, keys, rotation."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.crypto import ARGON2_LIMITS, check_argon2_parameters
from custrec.errors import (
    CheckFailedError,
    NotFoundError,
    StoreBusyError,
    UsageError,
    WrongKeyError,
)
from custrec.keyfile import new_key_file
from custrec.store import KeySource, Store, StoreSettings, create_store, open_store


@pytest.fixture
def source(tmp_path: Path) -> KeySource:
    return KeySource.from_key_file(new_key_file(tmp_path / "k.key").path)


@pytest.fixture
def store(tmp_path: Path, source: KeySource) -> Store:
    created = create_store(
        tmp_path / "s.crec", source, settings=StoreSettings(chunk_records=3, region="GB")
    )
    return created


def raw(store: Store) -> sqlite3.Connection:
    """A plain SQLite connection to the store file, for looking at its tables."""
    return sqlite3.connect(store.path)


def customers(n: int, start: int = 1) -> list[dict[str, object]]:
    return [
        {
            "customer_id": f"C-{i}",
            "email": f"p{i}@example.com",
            "phone": f"07700 900{i:03d}",
            "n": i,
            "vip": i % 2 == 0,
        }
        for i in range(start, start + n)
    ]


def test_create_refuses_existing_path_and_makes_an_owner_only_file(
    tmp_path: Path, source: KeySource
) -> None:
    path = tmp_path / "s.crec"
    create_store(path, source).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(UsageError, match="already exists"):
        create_store(path, source)
    assert [p.name for p in tmp_path.iterdir() if "creating" in p.name] == []


def test_put_get_count_and_versions(store: Store) -> None:
    result = store.put(customers(10))
    assert (result.inserted, result.replaced) == (10, 0)
    assert result.chunks_written == 4  # 3 records per chunk
    assert store.count() == 10
    record = store.get("C-7")
    assert record.version == 1
    assert record.data == {
        "customer_id": "C-7",
        "email": "p7@example.com",
        "phone": "07700 900007",
        "n": 7,
        "vip": False,
    }
    with pytest.raises(NotFoundError, match="no record with customer_id C-404"):
        store.get("C-404")


def test_batch_is_all_or_nothing(store: Store) -> None:
    store.put(customers(2))
    with pytest.raises(CheckFailedError, match="C-2 already exists"):
        store.put(customers(3, start=2))
    assert store.count() == 2
    with pytest.raises(CheckFailedError, match="appears twice in the batch"):
        store.put(customers(1, start=5) + customers(1, start=5))
    with pytest.raises(CheckFailedError, match="the id field 'customer_id' is missing"):
        store.put([{"customer_id": "C-9"}, {"email": "x@example.com"}])
    with pytest.raises(CheckFailedError, match="field 'n' must be int64, got str"):
        store.put([{"customer_id": "C-9", "n": "nine"}])
    assert store.count() == 2
    assert store.verify() == 2


def test_replace_bumps_the_version(store: Store) -> None:
    store.put(customers(4))
    result = store.put([{"customer_id": "C-2", "email": "new@example.com"}], replace=True)
    assert (result.inserted, result.replaced) == (0, 1)
    record = store.get("C-2")
    assert record.version == 2
    assert record.data["email"] == "new@example.com"
    assert record.data["n"] is None  # replaced whole, not merged


def test_update_changes_one_record_and_checks_versions(store: Store) -> None:
    store.put(customers(5))
    updated = store.update("C-4", set_fields={"email": "four@example.com"}, unset=["phone"])
    assert updated.version == 2
    assert updated.data["phone"] is None
    assert store.get("C-4") == updated
    assert store.get("C-5").version == 1
    with pytest.raises(StoreBusyError, match="changed since version 1"):
        store.update("C-4", set_fields={"n": 0}, if_version=1)
    assert store.update("C-4", set_fields={"n": 0}, if_version=2).version == 3
    with pytest.raises(UsageError, match="cannot be changed"):
        store.update("C-4", set_fields={"customer_id": "C-40"})
    with pytest.raises(NotFoundError):
        store.update("C-404", set_fields={"n": 1})


def test_update_refused_by_check_leaves_the_record(store: Store) -> None:
    store.put(customers(2))

    def refuse(record: object) -> None:
        raise CheckFailedError("email: not a valid address")

    with pytest.raises(CheckFailedError):
        store.update("C-1", set_fields={"email": "nope"}, check=refuse)
    assert store.get("C-1").version == 1
    assert store.get("C-1").data["email"] == "p1@example.com"


def test_mixed_integers_and_decimals_make_a_decimal_column(store: Store) -> None:
    store.put([{"customer_id": "C-1", "score": 1}, {"customer_id": "C-2", "score": 2.5}])
    assert ("score", "float64") in store.columns
    assert store.get("C-1").data["score"] == 1.0


def test_new_fields_extend_the_columns(store: Store) -> None:
    store.put(customers(2))
    store.put([{"customer_id": "C-3", "loyalty": "gold"}])
    assert ("loyalty", "string") in store.columns
    rows = [row for batch in store.iter_batches() for row in batch.to_pylist()]
    assert [r["loyalty"] for r in rows] == [None, None, "gold"]


def test_find_by_normalised_email_and_phone(store: Store) -> None:
    store.put(customers(6))
    assert [r.id for r in store.find("email", "  P3@EXAMPLE.com ")] == ["C-3"]
    assert [r.id for r in store.find("phone", "+44 7700 900005")] == ["C-5"]
    assert [r.id for r in store.find("phone", "07700900005")] == ["C-5"]
    assert store.find("email", "nobody@example.com") == []
    with pytest.raises(UsageError, match="not a match field"):
        store.find("n", "3")


def test_delete_removes_records_and_their_index(store: Store) -> None:
    store.put(customers(7))
    result = store.delete(["C-1", "C-2", "C-3"])  # a whole chunk disappears
    assert result.deleted == 3
    assert store.count() == 4
    assert store.find("email", "p2@example.com") == []
    with pytest.raises(NotFoundError):
        store.delete(["C-1"])
    assert store.verify() == 4


def test_stream_in_chunks_and_to_pandas(store: Store) -> None:
    store.put(customers(8))
    sizes = [batch.num_rows for batch in store.iter_batches()]
    assert sizes == [3, 3, 2]
    frame = store.to_pandas()
    assert list(frame["customer_id"]) == [f"C-{i}" for i in range(1, 9)]
    assert "_version" not in frame.columns


def test_reopen_with_another_holder_and_revoke(
    tmp_path: Path, store: Store, source: KeySource
) -> None:
    store.put(customers(4))
    officer = KeySource.from_key_file(new_key_file(tmp_path / "officer.key").path)
    added = store.add_holder(officer)
    with pytest.raises(UsageError, match="already a key"):
        store.add_holder(officer)
    store.close()
    with open_store(tmp_path / "s.crec", officer) as reopened:
        assert reopened.get("C-2").data["n"] == 2
        assert len(reopened.holders()) == 2
        assert added.key_id in {h.key_id for h in reopened.holders()}
        reopened.remove_holder(
            next(h.key_id for h in reopened.holders() if h.key_id != added.key_id)
        )
        with pytest.raises(UsageError, match="only key"):
            reopened.remove_holder(added.key_id)
    with pytest.raises(WrongKeyError, match="wrong key"):
        open_store(tmp_path / "s.crec", source)
    with open_store(tmp_path / "s.crec", officer) as reopened:
        assert reopened.verify() == 4


def test_passphrase_holder(tmp_path: Path, store: Store) -> None:
    store.put(customers(1))
    store.add_holder(KeySource.from_passphrase("correct horse battery staple"))
    store.close()
    with open_store(
        tmp_path / "s.crec", KeySource.from_passphrase("correct horse battery staple")
    ) as reopened:
        assert reopened.get("C-1").version == 1
    with pytest.raises(WrongKeyError, match="wrong passphrase"):
        open_store(tmp_path / "s.crec", KeySource.from_passphrase("Tr0ub4dor&3"))


def test_rotation_re_encrypts_every_chunk_and_keeps_the_data(
    tmp_path: Path, store: Store, source: KeySource
) -> None:
    store.put(customers(10))
    before = [b.to_pylist() for b in store.iter_batches()]
    payloads = dict(raw(store).execute("SELECT chunk_id, payload FROM chunk_parts").fetchall())
    seen = ChunkCounter()
    assert store.rotate_data_keys(seen) == 4
    assert (seen.total, seen.done, seen.closed) == (4, 4, True)
    after = dict(raw(store).execute("SELECT chunk_id, payload FROM chunk_parts").fetchall())
    assert all(payloads[c] != after[c] for c in payloads)
    assert [b.to_pylist() for b in store.iter_batches()] == before
    store.close()
    with open_store(tmp_path / "s.crec", source) as reopened:
        assert reopened.verify() == 10


class ChunkCounter:
    """A Progress that counts, and can stop the run after ``stop_after`` units."""

    class Stop(Exception):
        pass

    def __init__(self, stop_after: int | None = None) -> None:
        self.total: int | None = None
        self.done = 0
        self.closed = False
        self.stop_after = stop_after

    def start(self, total: int | None, unit: str, stage: str | None = None) -> None:
        assert unit == "chunks"
        self.total, self.done = total, 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done == self.stop_after:
            raise self.Stop

    def close(self) -> None:
        self.closed = True


def test_interrupted_rotation_resumes(store: Store) -> None:
    store.put(customers(10))
    with pytest.raises(ChunkCounter.Stop):
        store.rotate_data_keys(ChunkCounter(stop_after=2))
    epochs = [r[0] for r in raw(store).execute("SELECT epoch FROM chunks ORDER BY chunk_id")]
    assert epochs == [2, 2, 1, 1]
    rest = ChunkCounter()
    assert store.rotate_data_keys(rest) == 2  # only the rest
    assert (rest.total, rest.done) == (2, 2)
    assert store.verify() == 10


def test_argon2_parameters_are_capped() -> None:
    too_much = {"memory_kib": ARGON2_LIMITS["memory_kib"] * 2, "iterations": 3, "lanes": 4}
    with pytest.raises(Exception, match="outside the accepted range"):
        check_argon2_parameters(too_much)


record_values = st.one_of(
    st.none(),
    st.text(max_size=200),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(
        st.fixed_dictionaries(
            {
                "name": record_values,
                "note": record_values,
                "count": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                "score": st.one_of(st.none(), st.floats(allow_nan=False)),
                "flag": st.one_of(st.none(), st.booleans()),
            }
        ),
        min_size=1,
        max_size=12,
    )
)
def test_round_trip_of_arbitrary_records(
    tmp_path_factory: pytest.TempPathFactory, data: list[dict[str, object]]
) -> None:
    directory = tmp_path_factory.mktemp("rt")
    source = KeySource.from_key_file(new_key_file(directory / "k.key").path)
    records = [{"customer_id": f"Ç-{i}-ü", **values} for i, values in enumerate(data)]
    with create_store(
        directory / "s.crec", source, settings=StoreSettings(chunk_records=5)
    ) as created:
        created.put(records)
    with open_store(directory / "s.crec", source) as reopened:
        back = [row for batch in reopened.iter_batches() for row in batch.to_pylist()]
        assert back == records
        assert reopened.get(records[-1]["customer_id"]).data == records[-1]  # type: ignore[arg-type]


def test_changes_keep_the_match_index_exact(store: Store) -> None:
    store.put(customers(5))
    store.update("C-2", set_fields={"email": "changed@example.com"})
    assert store.find("email", "p2@example.com") == []
    assert [r.id for r in store.find("email", "changed@example.com")] == ["C-2"]
    store.put([{"customer_id": "C-3", "email": "p1@example.com"}], replace=True)
    assert sorted(r.id for r in store.find("email", "p1@example.com")) == ["C-1", "C-3"]
    assert store.find("phone", "07700 900003") == []  # replaced whole: no phone now
    store.delete(["C-1"])
    assert [r.id for r in store.find("email", "p1@example.com")] == ["C-3"]
    rows = raw(store).execute("SELECT COUNT(*) FROM match_index").fetchone()[0]
    assert rows == 4 + 3  # emails of C-2..C-5, phones of C-2, C-4, C-5
    assert store.verify() == 4


def test_many_ids_are_found_and_deleted_as_one_at_a_time_would(store: Store) -> None:
    """Above a few dozen ids the id index is asked in one packed statement."""
    store.put(customers(200))
    wanted = [f"C-{n}" for n in range(1, 200, 2)] + ["C-9998", "C-9999"]
    many = store.get_many(wanted)
    one_by_one = {i: r for i in wanted for r in store.get_many([i]).values()}
    assert many == one_by_one
    assert len(many) == 100
    with pytest.raises(NotFoundError):
        store.delete(wanted)  # two of them are absent: nothing is deleted
    assert store.count() == 200
    store.delete(wanted[:100])
    assert store.count() == 100
    assert store.get_many(wanted) == {}
