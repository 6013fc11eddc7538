"""The key store beside a format-2 store: an erasure reaches older copies of the data
file, and a data file and key store that do not go together are refused.

The canary: a customer is erased; a copy of the data file taken before the erasure is
put back beside the current key store. No command shows the customer, and the raw
bytes no longer decrypt: the test opens the old file with the owner's key as an
attacker with a copy and the key would, takes every key it can find (the key store
keys and the index key sealed in the old header, every data key of the current key
store) and tries each on the erased customer's chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custrec import crypto
from custrec.store import KeySource, open_store
from custrec.store import keystore as keystore_module
from custrec.store.fileformat import int8, read_header
from custrec.store.holders import find_holder, holder_aad
from custrec.store.keyschedule import KeystoreKeys, MasterKeys, open_match_keys, open_value
from custrec.store.vault import PART_AAD_VERSION

from .conftest import REPO, InvokeCli, copy_store, write
from .test_rights import CANARY_EMAIL, CANARY_NAME, csv_text, rows

ERASED = "C-005"


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: InvokeCli) -> Path:
    key = tmp_path / "officer.key"
    assert cli("key", "new", str(key)).exit_code == 0
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    for name in ("CUSTREC_PASSPHRASE", "CUSTREC_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return key


@pytest.fixture
def store(cli: InvokeCli, tmp_path: Path) -> Path:
    """The store of tests/test_rights.py: 12 customers, chunks of 4."""
    path = tmp_path / "customers.crec"
    assert cli("init", str(path), "--region", "GB", "--chunk-records", "4").exit_code == 0
    result = cli("collect", str(path), str(write(tmp_path / "in.csv", csv_text(rows()))))
    assert result.exit_code == 0, result.stderr
    return path


def keys_of(store: Path) -> Path:
    return store.with_name(store.name + ".keys")


def commands(store: Path, tmp_path: Path) -> list[list[str]]:
    """Every command that opens a store with its key, as a user would run them."""
    policy = write(tmp_path / "keep.yaml", "default: keep\n")
    retention = write(
        tmp_path / "retention.yaml",
        "version: 1\nrules:\n  - id: all\n    when: {field: customer_id}\n    keep: 0d\n"
        "    trigger: {field: customer_id}\n    action: delete\n",
    )
    s = str(store)
    return [
        ["find", s, "--phone", "+44 7911 100005", "--format", "json"],
        ["find", s, "--name", CANARY_NAME, "--fields", "name", "--format", "json"],
        ["validate", s, "--format", "json"],
        ["audit", "verify", s],
        ["audit", "head", s],
        ["hold", s, ERASED, "--reason", "case"],
        ["restrict", s, "C-001", "--reason", "objection"],
        ["reapply-erasures", s],
        ["purge", s, "--policy", str(retention), "--dry-run"],
        ["key", "rotate", s],
        ["get", s, ERASED, "--format", "json"],
        ["get", s, "C-001", "--format", "json"],
        ["find", s, "--email", CANARY_EMAIL, "--format", "json"],
        ["export", s, "--format", "ndjson"],
        ["redact", s, "-o", "-", "--format", "ndjson", "--policy", str(policy)],
        ["scan", s, "--field", "notes"],
        ["access", s, ERASED, "--reason", "request", "-o", str(tmp_path / "access.json")],
        ["verify", s],
        ["audit", "show", s, "--format", "json"],
        ["update", s, ERASED, "--set", "notes=back"],
        ["collect", s, str(write(tmp_path / "again.csv", csv_text(rows()[4:5])))],
    ]


def test_an_old_copy_of_the_data_file_beside_the_current_key_store_shows_no_erased_customer(
    cli: InvokeCli, store: Path, tmp_path: Path, key_env: Path
) -> None:
    before = tmp_path / "before-erasure.crec"
    shutil.copy(store, before)  # the data file only, as a file backup would take it
    assert cli("erase", str(store), ERASED, "--reason", "request").exit_code == 0
    current = tmp_path / "current.crec"
    shutil.copy(store, current)
    shutil.copy(before, store)
    for args in commands(store, tmp_path):
        result = cli(*args)
        assert result.exit_code == 4, (args, result.exit_code, result.stderr)
        assert "older than its key store" in result.stderr, (args, result.stderr)
        for canary in (CANARY_EMAIL, CANARY_NAME):
            assert canary not in result.stdout + result.stderr, args
    assert not (tmp_path / "access.json").exists()
    assert raw_attempts(store, keys_of(store), key_env) == 0
    with sqlite3.connect(store) as db:  # the erased chunk version's data key is gone
        erased_key_nos = {r[0] for r in db.execute("SELECT key_no FROM chunks")}
    with sqlite3.connect(keys_of(store)) as db:
        assert not erased_key_nos <= {r[0] for r in db.execute("SELECT key_no FROM data_keys")}
    shutil.copy(current, store)  # the current data file back: everything reads again
    assert cli("verify", str(store)).exit_code == 0
    assert cli("get", str(store), ERASED).exit_code == 6
    assert cli("get", str(store), "C-001").exit_code == 0


def raw_attempts(data_file: Path, key_store: Path, key_file: Path) -> int:
    """How many keys found in the two files open the erased customer's chunk of
    ``data_file`` (docs/format.md; read with plain SQLite and the owner's key)."""
    db = sqlite3.connect(data_file)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "data_keys" not in tables  # format 2: no data key in the data file
        header = read_header(db, data_file)
        slot, secret = find_holder(header, KeySource.from_key_file(key_file))
        wrapped = crypto.WrappedKey(bytes(slot["ephemeral"]), bytes(slot["sealed"]))
        master = crypto.unwrap_from_holder(
            secret, wrapped, holder_aad(header.store_id, str(slot["key_id"]))
        )
        keys = MasterKeys(master, header.store_id)
        index_key = open_value(keys, header, "index_key", "index key")
        assert index_key is not None
        packed = open_value(keys, header, "keystore_keys", "ksk") or b""
        ksks = KeystoreKeys.unpack(packed, header.format)
        match_keys = open_match_keys(keys, header)
        token = crypto.mac(index_key, b"id", ERASED.encode())[:16]
        (chunk_id,) = db.execute(
            "SELECT chunk_id FROM id_index WHERE token = ?", (token,)
        ).fetchone()
        meta = db.execute(
            "SELECT generation, key_no, epoch, records FROM chunks WHERE chunk_id = ?",
            (chunk_id,),
        ).fetchone()
        parts = db.execute(
            "SELECT part, key_no, payload FROM chunk_parts WHERE chunk_id = ?", (chunk_id,)
        ).fetchall()
    finally:
        db.close()
    assert parts  # format 3: one part per field group

    def aad(part: int, part_key: int) -> bytes:
        return b"".join(
            [b"custrec chunk v1", int8(PART_AAD_VERSION), header.store_id, int8(chunk_id)]
            + [int8(v) for v in (*meta, part, part_key)]
        )

    candidates = [index_key, *match_keys.values(), *(key for _, key in ksks.keys.values())]
    with sqlite3.connect(key_store) as keys_db:
        stored = keys_db.execute("SELECT key_no, ksk_no, sealed FROM data_keys").fetchall()
    for key_no, ksk_no, sealed in stored:
        aad_key = keystore_module.data_key_aad(header.store_id, key_no, ksk_no)
        ksk = ksks.key(ksk_no)
        assert ksk is not None
        candidates.append(crypto.open_sealed(ksk, bytes(sealed), aad_key, "data key"))
    opened = 0
    for candidate in candidates:
        for part, part_key, payload in parts:
            try:
                crypto.open_sealed(candidate, bytes(payload), aad(part, part_key), "chunk")
            except Exception:  # noqa: BLE001 - InvalidTag or custrec's IntegrityError
                continue
            opened += 1
    return opened


def test_the_raw_check_opens_the_chunk_while_its_key_is_there(store: Path, key_env: Path) -> None:
    """The attempt above can succeed: with the key store the file goes with, the
    erased customer's chunk (not yet erased) opens with exactly one key."""
    assert raw_attempts(store, keys_of(store), key_env) == 1


@pytest.mark.parametrize(
    "how",
    ["older keys", "no keys", "foreign keys", "keys symlink", "truncated keys", "not a key store"],
)
def test_a_key_store_that_does_not_go_with_the_data_file_is_refused(
    cli: InvokeCli, store: Path, tmp_path: Path, how: str
) -> None:
    keys = keys_of(store)
    older = tmp_path / "older.keys"
    shutil.copy(keys, older)
    assert cli("update", str(store), "C-001", "--set", "notes=changed").exit_code == 0
    expected = {
        "older keys": "key store is older than the data file",
        "no keys": "key store of",
        "foreign keys": "belongs to another store",
        "keys symlink": "key store of",
        "truncated keys": str(keys),
        "not a key store": "not a custrec key store",
    }[how]
    saved = tmp_path / "saved.keys"
    shutil.copy(keys, saved)
    if how == "older keys":
        shutil.copy(older, keys)
    elif how == "no keys":
        keys.unlink()
    elif how == "foreign keys":
        other = tmp_path / "other.crec"
        assert cli("init", str(other)).exit_code == 0
        shutil.copy(keys_of(other), keys)
    elif how == "truncated keys":
        keys.write_bytes(saved.read_bytes()[: len(saved.read_bytes()) // 2])
    elif how == "not a key store":
        keys.write_bytes(b"SQLite format 3\x00" + bytes(200))
    else:
        keys.unlink()
        keys.symlink_to(saved)
    for args in (["get", str(store), "C-001"], ["verify", str(store)], ["export", str(store)]):
        result = cli(*args)
        assert result.exit_code == 4, (how, args, result.stderr)
        assert expected in result.stderr, (how, result.stderr)
    keys.unlink(missing_ok=True)
    shutil.copy(saved, keys)
    assert cli("verify", str(store)).exit_code == 0


def test_init_makes_an_owner_only_key_store_and_never_overwrites_one(
    cli: InvokeCli, tmp_path: Path
) -> None:
    store = tmp_path / "new.crec"
    made = cli("init", str(store), "--format", "json")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["key_store"] == str(keys_of(store))
    assert keys_of(store).stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other.crec"
    shutil.copy(keys_of(store), keys_of(other))  # a key store left where a store is made
    before = keys_of(other).read_bytes()
    refused = cli("init", str(other))
    assert refused.exit_code == 2
    assert "refusing to overwrite" in refused.stderr
    assert keys_of(other).read_bytes() == before
    assert not other.exists()


def test_a_backup_of_both_files_restores_together(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.crec"
    copy_store(store, backup)
    assert cli("update", str(store), "C-001", "--set", "notes=changed").exit_code == 0
    copy_store(backup, store)
    got = cli("get", str(store), "C-001", "--format", "json")
    assert got.exit_code == 0, got.stderr
    assert '"notes": "note 1"' in got.stdout
    assert cli("verify", str(store)).exit_code == 0


KILLED_CHILD = r"""
import os, sys
from custrec.store import KeySource, open_store
path, key = sys.argv[1:3]
with open_store(path, KeySource.from_key_file(key)) as store:
    session = store._session
    real_commit = session._commit
    def dying_commit():
        # the key store has committed the new keys (pending); the data file has not
        if session.keystore is not None and session.keystore.state()[1]:
            os._exit(9)
        real_commit()
    session._commit = dying_commit
    store.update("C-001", set_fields={"notes": "lost"})
"""


def test_a_change_killed_between_the_key_store_and_the_data_file_leaves_no_trace(
    store: Path, key_env: Path
) -> None:
    """New keys are committed to the key store first; a process that dies before the
    data file's commit leaves unused keys marked pending, which the next open removes
    (verify then finds no left-over key)."""
    with sqlite3.connect(keys_of(store)) as db:
        count_before = db.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(store), str(key_env)], env=env, check=False
    )
    assert child.returncode == 9
    with sqlite3.connect(keys_of(store)) as db:
        assert db.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0] == count_before + 1
        assert db.execute("SELECT value FROM header WHERE name = 'pending'").fetchone()[0] == b"1"
    with open_store(store, KeySource.from_key_file(key_env)) as opened:
        assert opened.get("C-001").data["notes"] == "note 1"
        assert opened.verify() == 12
    with sqlite3.connect(keys_of(store)) as db:
        assert db.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0] == count_before
        assert db.execute("SELECT value FROM header WHERE name = 'pending'").fetchone()[0] == b"0"


def test_backup_copies_a_consistent_pair_that_restores_together(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    data_dir, keys_dir = tmp_path / "backups", tmp_path / "vault"
    data_dir.mkdir()
    keys_dir.mkdir()
    made = cli("backup", str(store), str(data_dir), "--keys-to", str(keys_dir), "--format", "json")
    assert made.exit_code == 0, made.stderr
    out = json.loads(made.stdout)
    data_copy, keys_copy = Path(out["data_file"]), Path(out["key_store"])
    assert (data_copy, keys_copy) == (data_dir / store.name, keys_dir / f"{store.name}.keys")
    assert data_copy.stat().st_mode & 0o777 == 0o600
    assert keys_copy.stat().st_mode & 0o777 == 0o600
    assert not (data_dir / f"{store.name}.erasures").exists()  # kept apart, never restored
    again = cli("backup", str(store), str(data_dir), "--keys-to", str(keys_dir))
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.stderr
    assert cli("erase", str(store), ERASED, "--reason", "request").exit_code == 0
    shutil.copy(data_copy, store)  # the restore: both files of the backup, together
    shutil.copy(keys_copy, keys_of(store))
    hidden = cli("get", str(store), ERASED)
    assert hidden.exit_code == 6  # the tombstone beside the store still knows
    assert "reapply-erasures" in hidden.stderr
    assert cli("reapply-erasures", str(store)).exit_code == 0
    assert cli("verify", str(store)).exit_code == 0
    shown = json.loads(cli("audit", "show", str(store), "--format", "json").stdout)
    assert "backup" in {entry["action"] for entry in shown["entries"]}  # in the copy itself


BACKUP_WRITER = r"""
import sys, time
from custrec.store import KeySource, open_store

path, key = sys.argv[1:3]
with open_store(path, KeySource.from_key_file(key), lock_timeout=30) as store:
    print("ready", flush=True)
    for i in range(150):
        store.update(f"C-{i % 12 + 1:03d}", set_fields={"notes": f"n{i}"})
        time.sleep(0.004)  # lets the backups take the lock between updates
print("done", flush=True)
"""


def test_backups_taken_beside_a_writer_are_consistent_pairs(
    store: Path, tmp_path: Path, key_env: Path
) -> None:
    """Each backup holds the write lock while it copies both files: taken while another
    process rewrites chunks, every pair opens, verifies and is of one generation."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", BACKUP_WRITER, str(store), str(key_env)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    pairs = []
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
        with open_store(store, KeySource.from_key_file(key_env), lock_timeout=30) as opened:
            while writer.poll() is None and len(pairs) < 20:
                target = tmp_path / f"b{len(pairs)}"
                target.mkdir()
                pairs.append(opened.backup(target))
                time.sleep(0.01)  # lets the writer take the lock between backups
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert len(pairs) >= 5
    assert len({pair.generation for pair in pairs}) >= 2  # taken between different writes
    for pair in pairs:
        assert pair.key_store is not None
        with sqlite3.connect(pair.data_file) as db, sqlite3.connect(pair.key_store) as keys:
            query = "SELECT value FROM header WHERE name = 'generation'"
            generations = {
                int(db.execute(query).fetchone()[0]),
                int(keys.execute(query).fetchone()[0]),
            }
        assert generations == {pair.generation}
        with open_store(pair.data_file, KeySource.from_key_file(key_env)) as copy:
            assert copy.verify() == 12
