"""Stores written by earlier versions must stay readable: read the committed vector."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from custrec.audit_read import AuditQuery
from custrec.errors import InputError, NotFoundError
from custrec.store import KeySource, Store, open_store

from .conftest import REPO

VECTORS = REPO / "tests" / "vectors"

EXPECTED = [
    {
        "customer_id": "C-000001",
        "name": "Zoë Ødegaard",
        "email": "zoe@example.com",
        "phone": "+44 7700 900001",
        "visits": 3,
        "vip": True,
        "note": None,
    },
    {
        "customer_id": "C-000002",
        "name": "Łukasz Dvořák",
        "email": "lukasz@example.org",
        "phone": "07700 900002",
        "visits": 1,
        "vip": False,
        "note": "moved to Kraków",
    },
    {
        "customer_id": "C-000003",
        "name": "María Núñez",
        "email": None,
        "phone": "07700 900003",
        "visits": None,
        "vip": None,
        "note": None,
    },
]


def copy_vector(tmp_path: Path) -> tuple[Path, KeySource]:
    store = shutil.copy(VECTORS / "store-v1.crec", tmp_path / "store-v1.crec")
    key = Path(shutil.copy(VECTORS / "store-v1.key", tmp_path / "store-v1.key"))
    key.chmod(0o600)  # git does not keep file modes
    return Path(store), KeySource.from_key_file(key)


def test_format_1_vector_reads_back(tmp_path: Path) -> None:
    path, source = copy_vector(tmp_path)
    with open_store(path, source) as store:
        assert store.verify() == 3
        rows = [row for batch in store.iter_batches() for row in batch.to_pylist()]
        assert rows == EXPECTED
        assert store.get("C-000002").version == 2
        assert [r.id for r in store.find("phone", "+447700900003")] == ["C-000003"]
        assert [r.id for r in store.find("email", "ZOE@example.com")] == ["C-000001"]
        first = store.audit_query(AuditQuery()).entries[:5]
        assert [(e["action"], e["phase"], e["outcome"]) for e in first] == [
            ("init", "outcome", "ok"),
            ("put", "intent", "started"),
            ("put", "outcome", "ok"),
            ("update", "intent", "started"),
            ("update", "outcome", "ok"),
        ]
        assert first[3]["fields"] == ["note", "visits"]
        assert store.audit_verify().ok


def test_format_1_vector_is_read_but_changed_only_after_migrate(tmp_path: Path) -> None:
    path, source = copy_vector(tmp_path)
    with open_store(path, source) as store:
        assert store.format == 1
        with pytest.raises(InputError, match="custrec migrate"):
            store.put([{"customer_id": "C-000004", "name": "Ana"}])
        with pytest.raises(InputError, match="custrec migrate"):
            store.update("C-000001", set_fields={"visits": 4})
        assert store.get("C-000001").data["visits"] == 3
        result = store.migrate()
        assert (result.from_format, result.to_format, result.data_keys) == (1, 3, 2)
        store.put([{"customer_id": "C-000004", "name": "Ana"}])
        store.update("C-000001", set_fields={"visits": 4})
    with open_store(path, source) as store:
        assert store.format == 3
        assert store.verify() == 4
        assert store.get("C-000001").data["visits"] == 4


def copy_vector_with_keystore(tmp_path: Path, version: int) -> tuple[Path, KeySource]:
    """A copy of the vector of format ``version`` (2 or later): data file, key store,
    tombstone file, and its key."""
    name = f"store-v{version}"
    for suffix in (".crec", ".crec.keys", ".crec.erasures"):
        shutil.copy(VECTORS / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    key = Path(shutil.copy(VECTORS / f"{name}.key", tmp_path / f"{name}.key"))
    key.chmod(0o600)
    return tmp_path / f"{name}.crec", KeySource.from_key_file(key)


def assert_vector_with_an_erasure_reads_back(store: Store, file_format: int) -> None:
    """What the vectors of formats 2 and 3 hold: the records of EXPECTED, C-000004
    erased, found by contact details, the audit trail whole."""
    assert store.format == file_format
    assert store.verify() == 3
    rows = [row for batch in store.iter_batches() for row in batch.to_pylist()]
    assert rows == EXPECTED
    assert store.record_states("C-000004")["erased"]
    with pytest.raises(NotFoundError):
        store.get("C-000004")
    assert [r.id for r in store.find("email", "LUKASZ@example.org")] == ["C-000002"]
    assert [r.id for r in store.find("phone", "+447700900003")] == ["C-000003"]
    assert store.audit_verify().ok


def test_format_2_vector_reads_back(tmp_path: Path) -> None:
    path, source = copy_vector_with_keystore(tmp_path, 2)
    with open_store(path, source) as store:
        assert_vector_with_an_erasure_reads_back(store, 2)
        with pytest.raises(InputError, match="custrec migrate"):
            store.update("C-000003", set_fields={"visits": 7})
        result = store.migrate()
        assert (result.from_format, result.to_format, result.chunks) == (2, 3, 2)
        store.update("C-000003", set_fields={"visits": 7})
    with open_store(path, source) as store:
        assert store.format == 3
        assert store.verify() == 3
        assert store.get("C-000003").data["visits"] == 7
        assert [r.id for r in store.find("phone", "+447700900002")] == ["C-000002"]


def test_format_3_vector_reads_back(tmp_path: Path) -> None:
    """Format 3: every chunk sealed as one part per field group of the store's schema
    (identity, contact, service, pseudonymous), each under a data key of its own."""
    path, source = copy_vector_with_keystore(tmp_path, 3)
    with open_store(path, source) as store:
        assert_vector_with_an_erasure_reads_back(store, 3)
        store.update("C-000003", set_fields={"visits": 7})
    with open_store(path, source) as store:
        assert store.verify() == 3
        assert store.get("C-000003").data["visits"] == 7
    with sqlite3.connect(path) as db:
        parts = db.execute(
            "SELECT chunk_id, COUNT(*), COUNT(DISTINCT key_no) FROM chunk_parts GROUP BY chunk_id"
        ).fetchall()
    assert parts
    assert all(count == 4 and keys == 4 for _, count, keys in parts)


def test_format_3_keys_of_one_field_group_open_no_other(tmp_path: Path) -> None:
    """On the raw bytes of the format-3 vector, with the owner's key: each part's data
    key, opened under its own group's key store key, opens its part and no other part;
    no group's key store key opens another group's data keys; and the email tokens are
    keyed by the contact group's match key, not by the index key or another group's."""
    from custrec import crypto
    from custrec.store.fileformat import int8, read_header
    from custrec.store.holders import find_holder, holder_aad
    from custrec.store.keyschedule import KeystoreKeys, MasterKeys, open_match_keys, open_value
    from custrec.store.keystore import data_key_aad
    from custrec.store.vault import PART_AAD_VERSION

    path, source = copy_vector_with_keystore(tmp_path, 3)
    with sqlite3.connect(path) as db:
        header = read_header(db, path)
        meta = db.execute(
            "SELECT generation, key_no, epoch, records FROM chunks WHERE chunk_id = 0"
        ).fetchone()
        parts = db.execute(
            "SELECT part, key_no, payload FROM chunk_parts WHERE chunk_id = 0 ORDER BY part"
        ).fetchall()
        tokens = {bytes(r[0]) for r in db.execute("SELECT token FROM match_index")}
    slot, secret = find_holder(header, source)
    wrapped = crypto.WrappedKey(bytes(slot["ephemeral"]), bytes(slot["sealed"]))
    master = crypto.unwrap_from_holder(secret, wrapped, holder_aad(header.store_id, slot["key_id"]))
    keys = MasterKeys(master, header.store_id)
    ksks = KeystoreKeys.unpack(open_value(keys, header, "keystore_keys", "ksk") or b"", 3)
    with sqlite3.connect(path.with_name(path.name + ".keys")) as keys_db:
        sealed = dict(
            (int(no), (int(ksk), bytes(s)))
            for no, ksk, s in keys_db.execute("SELECT key_no, ksk_no, sealed FROM data_keys")
        )

    def opens(key: bytes, blob: bytes, aad: bytes) -> bool:
        try:
            crypto.open_sealed(key, blob, aad, "probe")
        except Exception:  # noqa: BLE001 - InvalidTag or custrec's IntegrityError
            return False
        return True

    assert [p for p, _, _ in parts] == [0, 1, 2, 3]
    data_keys = {}
    for part, key_no, _ in parts:
        ksk_no, blob = sealed[key_no]
        assert ksks.part_of(ksk_no) == part
        aad = data_key_aad(header.store_id, key_no, ksk_no)
        openers = [p for no, (p, ksk) in ksks.keys.items() if opens(ksk, blob, aad)]
        assert openers == [part]
        data_keys[part] = crypto.open_sealed(dict(ksks.keys)[ksk_no][1], blob, aad, "dek")
    for part, key_no, payload in parts:
        aad = b"".join(
            [b"custrec chunk v1", int8(PART_AAD_VERSION), header.store_id, int8(0)]
            + [int8(v) for v in (*meta, part, key_no)]
        )
        assert [p for p, key in data_keys.items() if opens(key, bytes(payload), aad)] == [part]
    match_keys = open_match_keys(keys, header)
    index_key = open_value(keys, header, "index_key", "ik") or b""
    contact = [name for name, _ in header.groups].index("contact")
    email = b"zoe@example.com"
    made = {p: crypto.token(k, b"match", b"email", email) for p, k in match_keys.items()}
    assert made[contact] in tokens
    assert not ({t for p, t in made.items() if p != contact} & tokens)
    assert crypto.token(index_key, b"match", b"email", email) not in tokens
