"""Fault injection against the encrypted store (``custrec.store``).

Wrong keys and passphrases, tampering with the SQLite container by hand, truncation,
random byte flips, plaintext or keys leaking to disk, ``kill -9`` in the middle of
writes, concurrent writers and lock timeouts. Each test asserts the exact outcome: the
error class, its exit code and what its message names, or exactly the original data.

The tests near the end of the file pin problems found this way: false integrity
alarms on multi-chunk writes, counts from unauthenticated metadata, damaged SQLite
pages or odd column types escaping as internal errors, and writes trusting the id index.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from custrec.errors import (
    CustrecError,
    ExitCode,
    IntegrityError,
    NotFoundError,
    StoreBusyError,
    WrongKeyError,
)
from custrec.keyfile import new_key_file
from custrec.store import KeySource, Record, Store, StoreSettings, create_store, open_store

from .conftest import REPO, InvokeCli, run_custrec

Value = str | int | float | bool | None
Snapshot = dict[str, tuple[int, dict[str, Value]]]
"""Every record of a store by id: (version, data)."""

PAGE = 4096
IDS = [f"C-{i}" for i in range(10)]
"""The records of :func:`make_store`: chunk 0 holds C-0..C-3, chunk 1 C-4..C-7, chunk 2
C-8 and C-9 (chunk_records=4), all in manifest group 0."""
CHUNK_IDS = {0: IDS[0:4], 1: IDS[4:8], 2: IDS[8:10]}

WRONG_KEY_WORDS = re.compile(r"wrong (key|passphrase)", re.IGNORECASE)
DAMAGE_WORDS = re.compile(r"integrity|altered|damaged|tampered|truncated", re.IGNORECASE)


# --- helpers --------------------------------------------------------------------------


@dataclass
class StoreFiles:
    """A closed store on disk, the key file that opens it, and what it holds."""

    path: Path
    key: Path
    source: KeySource
    expected: Snapshot = field(default_factory=dict)


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def spawn(script: str, *args: object) -> subprocess.Popen[str]:
    """Run ``script`` in a child Python process with ``args``, pipes for its output."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def fail_child(proc: subprocess.Popen[str], what: str) -> None:
    """Kill a child that did not behave, then fail with what it wrote to stderr."""
    proc.kill()
    _, err = proc.communicate(timeout=30)
    pytest.fail(f"{what}; child stderr:\n{err}")


def snapshot(store: Store) -> Snapshot:
    """Every record with its version, by id, read through a full (verifying) scan."""
    settings = store.settings
    records: Snapshot = {}
    for batch in store.iter_batches(system=True):
        for row in batch.to_pylist():
            version = int(row.pop("_version"))
            fields = {k: v for k, v in row.items() if not k.startswith("_")}
            records[str(row[settings.id_field])] = (version, fields)
    return records


def make_store(
    directory: Path, *, chunk_records: int = 4, records: Sequence[Mapping[str, Value]] = ()
) -> StoreFiles:
    """A closed store in ``directory`` (its key file beside it in ``directory/keys``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(exist_ok=True)
    key = new_key_file(directory / "keys" / "owner.key")
    source = KeySource.from_key_file(key.path)
    path = directory / "s.crec"
    rows: Sequence[Mapping[str, Value]] = records or [
        {"customer_id": f"C-{i}", "email": f"c{i}@example.com", "n": i} for i in range(10)
    ]
    with create_store(path, source, settings=StoreSettings(chunk_records=chunk_records)) as store:
        store.put(rows)
        if not records:
            store.update("C-1", set_fields={"n": 100})  # chunk 0 at generation 2
        expected = snapshot(store)
    assert not Path(f"{path}-wal").exists(), "close() must checkpoint and remove the WAL"
    return StoreFiles(path=path, key=key.path, source=source, expected=expected)


@contextlib.contextmanager
def raw_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain SQLite connection for tampering, in one committed transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    finally:
        db.close()


def flip_bit(blob: bytes, position: int, bit: int = 0) -> bytes:
    return blob[:position] + bytes([blob[position] ^ (1 << bit)]) + blob[position + 1 :]


def flip_file_byte(path: Path, offset: int, mask: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        old = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([old[0] ^ mask]))


def verified(cli: InvokeCli, path: Path, *args: str, env: dict[str, str] | None = None) -> int:
    """``custrec verify PATH ARGS --format json`` succeeds: the number of records."""
    result = cli("verify", str(path), *args, "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    return int(report["records"])


def open_or_refusal(files: StoreFiles) -> Store | IntegrityError:
    """The opened store, or the IntegrityError that refused to open it."""
    try:
        return open_store(files.path, files.source)
    except IntegrityError as exc:
        return exc


def get_or_refusal(store: Store, record_id: str) -> Record | IntegrityError:
    try:
        return store.get(record_id)
    except IntegrityError as exc:
        return exc


def assert_rejected(
    files: StoreFiles,
    cli: InvokeCli,
    message: str,
    *,
    must_fail: list[str] | None = None,
    scan_may_pass: bool = False,
) -> None:
    """The tampered store is refused with an IntegrityError (exit 4) naming ``message``.

    Opening or ``verify()`` raises it. A full scan raises IntegrityError too (or, with
    ``scan_may_pass``, when only an index was altered, returns exactly the records as
    they were). A point read of an id in ``must_fail`` raises IntegrityError; any other
    point read either raises it or returns exactly the record as it was: never other
    data, never another error. ``custrec verify`` exits 4 with the same message, not a
    wrong-key one, and prints no result."""
    opened = open_or_refusal(files)
    if isinstance(opened, IntegrityError):
        refusal = opened
    else:
        with opened as store:
            with pytest.raises(IntegrityError) as caught:
                store.verify()
            refusal = caught.value
            if scan_may_pass:
                scan = open_or_refusal(files)  # a fresh handle: no half-done snapshot
                assert not isinstance(scan, IntegrityError)
                with scan, contextlib.suppress(IntegrityError):
                    assert snapshot(scan) == files.expected
            else:
                with pytest.raises(IntegrityError):
                    list(store.iter_batches())
            for record_id in files.expected:
                read = get_or_refusal(store, record_id)
                if isinstance(read, IntegrityError):
                    continue
                assert record_id not in (must_fail or []), f"get({record_id}) did not fail"
                assert (read.version, read.data) == files.expected[record_id]
    assert re.search(message, str(refusal)), str(refusal)
    assert refusal.exit_code == 4
    assert not WRONG_KEY_WORDS.search(str(refusal)), str(refusal)
    result = cli("verify", str(files.path), "--key-file", str(files.key))
    assert result.exit_code == 4, result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert not WRONG_KEY_WORDS.search(result.stderr), result.stderr
    assert result.stdout == ""


# --- 1. wrong key ------------------------------------------------------------------------


def test_wrong_key_file_is_reported_as_wrong_key(tmp_path: Path, cli: InvokeCli) -> None:
    files = make_store(tmp_path)
    other = new_key_file(tmp_path / "keys" / "other.key")

    with pytest.raises(WrongKeyError, match=r"^wrong key: key file .*other\.key") as caught:
        open_store(files.path, KeySource.from_key_file(other.path))
    assert caught.value.exit_code == 4
    assert other.key_id in str(caught.value)
    assert not DAMAGE_WORDS.search(str(caught.value))

    result = cli("verify", str(files.path), "--key-file", str(other.path))
    assert result.exit_code == 4
    assert "wrong key" in result.stderr
    assert not DAMAGE_WORDS.search(result.stderr), result.stderr
    assert result.stdout == ""

    # The right key still opens it: the refusal was about the key, not the store.
    assert verified(cli, files.path, "--key-file", str(files.key)) == 10


def test_wrong_passphrase_is_reported_as_wrong_passphrase(
    tmp_path: Path, cli: InvokeCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUSTREC_KEY_FILE", raising=False)
    monkeypatch.delenv("CUSTREC_PASSPHRASE", raising=False)
    path = tmp_path / "p.crec"
    with create_store(path, KeySource.from_passphrase("correct horse battery")) as store:
        store.put([{"customer_id": "C-1", "email": "a@example.com"}])

    with pytest.raises(WrongKeyError, match=r"^wrong passphrase for this store") as caught:
        open_store(path, KeySource.from_passphrase("correct horse battery!"))
    assert caught.value.exit_code == 4
    assert not DAMAGE_WORDS.search(str(caught.value))
    # A key file is no key of a passphrase-only store either.
    stranger = new_key_file(tmp_path / "stranger.key")
    with pytest.raises(WrongKeyError, match="wrong"):
        open_store(path, KeySource.from_key_file(stranger.path))

    bad = cli("verify", str(path), env={"CUSTREC_PASSPHRASE": "Correct horse battery"})
    assert bad.exit_code == 4
    assert "wrong passphrase" in bad.stderr
    assert not DAMAGE_WORDS.search(bad.stderr), bad.stderr
    assert bad.stdout == ""

    assert verified(cli, path, env={"CUSTREC_PASSPHRASE": "correct horse battery"}) == 1


# --- 2. tampering ------------------------------------------------------------------------


def edit_header(files: StoreFiles, name: str, pattern: bytes, replacement: bytes) -> None:
    with raw_db(files.path) as db:
        (old,) = db.execute("SELECT value FROM header WHERE name = ?", (name,)).fetchone()
        new = re.sub(pattern, replacement, bytes(old), count=1)
        assert new != bytes(old), f"the tamper did not change header {name}: {old!r}"
        db.execute("UPDATE header SET value = ? WHERE name = ?", (new, name))


def tamper_settings(files: StoreFiles) -> None:
    edit_header(files, "settings", rb'("chunk_records"\s*:\s*)4', rb"\g<1>5")


def tamper_settings_id_field(files: StoreFiles) -> None:
    edit_header(files, "settings", rb'("id_field"\s*:\s*)"customer_id"', rb'\g<1>"email"')


def tamper_columns(files: StoreFiles) -> None:
    edit_header(files, "columns", rb'("n"\s*,\s*)"int64"', rb'\g<1>"string"')


def tamper_epoch(files: StoreFiles) -> None:
    edit_header(files, "epoch", rb"^1$", b"2")


def tamper_created_at(files: StoreFiles) -> None:
    edit_header(files, "created_at", rb"^\d{4}", b"1999")


def tamper_manifest_mac(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (old,) = db.execute("SELECT value FROM header WHERE name = 'manifest_mac'").fetchone()
        db.execute(
            "UPDATE header SET value = ? WHERE name = 'manifest_mac'", (flip_bit(old, 7, 3),)
        )


def tamper_group_mac(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (old,) = db.execute("SELECT mac FROM chunk_groups WHERE group_id = 0").fetchone()
        db.execute("UPDATE chunk_groups SET mac = ? WHERE group_id = 0", (flip_bit(old, 0),))


def tamper_payload_bit(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (old,) = db.execute(
            "SELECT payload FROM chunk_parts WHERE chunk_id = 1 AND part = 0"
        ).fetchone()
        db.execute(
            "UPDATE chunk_parts SET payload = ? WHERE chunk_id = 1 AND part = 0",
            (flip_bit(bytes(old), len(old) // 2, 5),),
        )


def tamper_swap_payloads(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        payloads = dict(
            db.execute("SELECT chunk_id, payload FROM chunk_parts WHERE chunk_id < 2 AND part = 0")
        )
        db.executemany(
            "UPDATE chunk_parts SET payload = ? WHERE chunk_id = ? AND part = 0",
            [(payloads[1], 0), (payloads[0], 1)],
        )


def tamper_swap_rows(files: StoreFiles) -> None:
    """Swap everything but the chunk id between chunks 0 and 1 (both hold 4 records)."""
    with raw_db(files.path) as db:
        rows = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT c.chunk_id, generation, c.key_no, epoch, records, p.key_no, payload "
                "FROM chunks AS c JOIN chunk_parts AS p USING (chunk_id) "
                "WHERE c.chunk_id IN (0, 1) AND part = 0"
            )
        }
        for chunk_id, other in ((0, 1), (1, 0)):
            db.execute(
                "UPDATE chunks SET generation = ?, key_no = ?, epoch = ?, records = ? "
                "WHERE chunk_id = ?",
                (*rows[other][:4], chunk_id),
            )
            db.execute(
                "UPDATE chunk_parts SET key_no = ?, payload = ? WHERE chunk_id = ? AND part = 0",
                (*rows[other][4:], chunk_id),
            )


def roll_back_chunk(files: StoreFiles, *, restore_key: bool, restore_group: bool) -> None:
    """Save chunk 1 (its data key from the key store, its group MAC), update a record
    in it through the library, then put the saved rows back: a consistent old version of
    the chunk."""
    keys_path = files.path.with_name(files.path.name + ".keys")
    with raw_db(files.path) as db:
        chunk = db.execute("SELECT * FROM chunks WHERE chunk_id = 1").fetchone()
        parts = db.execute("SELECT * FROM chunk_parts WHERE chunk_id = 1").fetchall()
        group = db.execute("SELECT * FROM chunk_groups WHERE group_id = 0").fetchone()
    assert parts[0][2] == chunk[2]  # one part: its data key is the chunk's
    with raw_db(keys_path) as keys:
        key = keys.execute("SELECT * FROM data_keys WHERE key_no = ?", (chunk[2],)).fetchone()
    with open_store(files.path, files.source) as store:
        store.update("C-5", set_fields={"n": 500})
        files.expected = snapshot(store)
    assert files.expected["C-5"][1]["n"] == 500
    with raw_db(keys_path) as keys:
        assert (
            keys.execute("SELECT 1 FROM data_keys WHERE key_no = ?", (chunk[2],)).fetchone() is None
        )
        if restore_key:
            keys.execute("INSERT INTO data_keys VALUES (?, ?, ?)", key)
    with raw_db(files.path) as db:
        db.execute("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)", chunk)
        db.execute("DELETE FROM chunk_parts WHERE chunk_id = 1")
        db.executemany("INSERT INTO chunk_parts VALUES (?, ?, ?, ?)", parts)
        if restore_group:
            db.execute("INSERT OR REPLACE INTO chunk_groups VALUES (?, ?)", group)


def tamper_rollback_chunk(files: StoreFiles) -> None:
    roll_back_chunk(files, restore_key=False, restore_group=False)


def tamper_rollback_chunk_and_key(files: StoreFiles) -> None:
    roll_back_chunk(files, restore_key=True, restore_group=False)


def tamper_rollback_chunk_key_and_group(files: StoreFiles) -> None:
    roll_back_chunk(files, restore_key=True, restore_group=True)


def copy_chunk_0(files: StoreFiles, new_id: int) -> None:
    """Duplicate chunk 0 (metadata and sealed payload) under ``new_id``."""
    with raw_db(files.path) as db:
        db.execute(
            "INSERT INTO chunks SELECT ?, generation, key_no, epoch, records "
            "FROM chunks WHERE chunk_id = 0",
            (new_id,),
        )
        db.execute(
            "INSERT INTO chunk_parts SELECT ?, part, key_no, payload FROM chunk_parts "
            "WHERE chunk_id = 0",
            (new_id,),
        )


def tamper_duplicate_chunk(files: StoreFiles) -> None:
    copy_chunk_0(files, 3)  # inside group 0


def tamper_duplicate_chunk_new_group(files: StoreFiles) -> None:
    copy_chunk_0(files, 256)  # the first chunk of group 1


def tamper_delete_chunk(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        assert db.execute("DELETE FROM chunks WHERE chunk_id = 1").rowcount == 1


def tamper_delete_data_key(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (key_no,) = db.execute("SELECT key_no FROM chunks WHERE chunk_id = 1").fetchone()
    with raw_db(files.path.with_name(files.path.name + ".keys")) as keys:
        deleted = keys.execute("DELETE FROM data_keys WHERE key_no = ?", (key_no,))
        assert deleted.rowcount == 1


def tamper_records_column(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        db.execute("UPDATE chunks SET records = 3 WHERE chunk_id = 0")


def tamper_holder_sealed(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (key_id, sealed) = db.execute("SELECT key_id, sealed FROM holders").fetchone()
        db.execute(
            "UPDATE holders SET sealed = ? WHERE key_id = ?",
            (flip_bit(bytes(sealed), len(sealed) // 2, 2), key_id),
        )


def tamper_holder_public_key(files: StoreFiles) -> None:
    with raw_db(files.path) as db:
        (key_id, public) = db.execute("SELECT key_id, public_key FROM holders").fetchone()
        db.execute(
            "UPDATE holders SET public_key = ? WHERE key_id = ?",
            (flip_bit(bytes(public), 3), key_id),
        )


ALL = IDS
GROUP_0 = IDS  # every chunk of make_store() is in manifest group 0
HEADER_ALTERED = r"store header (failed its integrity check|is damaged or was altered)"

TAMPERING: list[tuple[str, Callable[[StoreFiles], None], str, list[str]]] = [
    # (id, tamper, message the error must name, ids whose get() must raise)
    ("header-settings-json", tamper_settings, HEADER_ALTERED, ALL),
    ("header-settings-id-field", tamper_settings_id_field, HEADER_ALTERED, ALL),
    ("header-columns-json", tamper_columns, HEADER_ALTERED, ALL),
    ("header-epoch", tamper_epoch, HEADER_ALTERED, ALL),
    ("header-created-at", tamper_created_at, HEADER_ALTERED, ALL),
    ("header-manifest-mac", tamper_manifest_mac, r"chunk manifest failed", ALL),
    ("chunk-group-mac", tamper_group_mac, r"chunk manifest failed", ALL),
    (
        "payload-bit-flip",
        tamper_payload_bit,
        r"chunk 1 part 0 failed its integrity check",
        IDS[4:8],
    ),
    ("swap-payloads", tamper_swap_payloads, r"chunk [01] part 0 failed its integrity", IDS[0:8]),
    ("swap-rows", tamper_swap_rows, r"chunk group 0 failed its integrity", GROUP_0),
    ("rollback-chunk", tamper_rollback_chunk, r"chunk group 0 failed", GROUP_0),
    ("rollback-chunk-and-key", tamper_rollback_chunk_and_key, r"chunk group 0 failed", GROUP_0),
    (
        "rollback-chunk-key-and-group",
        tamper_rollback_chunk_key_and_group,
        r"chunk manifest failed its integrity check",
        ALL,
    ),
    ("duplicate-chunk", tamper_duplicate_chunk, r"chunk group 0 failed", GROUP_0),
    (
        "duplicate-chunk-new-group",
        tamper_duplicate_chunk_new_group,
        r"chunks are outside the manifest",
        [],  # the copy is reachable by no index entry: only full scans meet it
    ),
    ("delete-chunk", tamper_delete_chunk, r"chunk group 0 failed", GROUP_0),
    ("delete-data-key", tamper_delete_data_key, r"data key \d+ is missing", IDS[4:8]),
    ("records-column", tamper_records_column, r"chunk group 0 failed", GROUP_0),
    ("holder-sealed-master-key", tamper_holder_sealed, r"master key failed its integrity", ALL),
    ("holder-public-key", tamper_holder_public_key, r"key slot \w+ was altered", ALL),
]


@pytest.mark.parametrize(
    ("tamper", "message", "must_fail"),
    [pytest.param(t, m, f, id=name) for name, t, m, f in TAMPERING],
)
def test_tampering_is_detected(
    tmp_path: Path,
    cli: InvokeCli,
    tamper: Callable[[StoreFiles], None],
    message: str,
    must_fail: list[str],
) -> None:
    files = make_store(tmp_path)
    assert verified(cli, files.path, "--key-file", str(files.key)) == len(IDS)
    tamper(files)
    assert_rejected(files, cli, message, must_fail=must_fail)


def move_index_entry(files: StoreFiles) -> str:
    """Point the id-index entry of one record of chunk 0 at chunk 2; return its id (the
    one id of chunk 0 that a point read now refuses)."""
    with raw_db(files.path) as db:
        (token,) = db.execute("SELECT token FROM id_index WHERE chunk_id = 0 LIMIT 1").fetchone()
        db.execute("UPDATE id_index SET chunk_id = 2 WHERE token = ?", (token,))
    with open_store(files.path, files.source) as store:
        reads = {record_id: get_or_refusal(store, record_id) for record_id in CHUNK_IDS[0]}
    failed = [i for i, read in reads.items() if isinstance(read, IntegrityError)]
    for record_id, read in reads.items():
        if isinstance(read, IntegrityError):
            assert "the id index points to a chunk without the record" in str(read)
        else:
            assert (read.version, read.data) == files.expected[record_id]
    assert len(failed) == 1, failed  # exactly the moved entry is refused
    return failed[0]


def test_id_index_pointing_to_another_chunk_is_detected(tmp_path: Path, cli: InvokeCli) -> None:
    files = make_store(tmp_path)
    moved = move_index_entry(files)
    with open_store(files.path, files.source) as store:
        with pytest.raises(IntegrityError, match=r"the id index points to a chunk without"):
            store.get(moved)
        with pytest.raises(
            IntegrityError, match=r"the id index: it does not match the records of chunk [02]"
        ):
            store.verify()
    assert_rejected(
        files,
        cli,
        r"id index: it does not match the records of chunk",
        must_fail=[moved],
        scan_may_pass=True,
    )


def test_replace_through_an_altered_id_index_is_refused(tmp_path: Path) -> None:
    files = make_store(tmp_path)
    moved = move_index_entry(files)
    with open_store(files.path, files.source) as store, pytest.raises(IntegrityError):
        store.put([{"customer_id": moved, "n": -1}], replace=True)
    with raw_db(files.path) as db:  # nothing was written: the record is still in chunk 0
        assert db.execute("SELECT generation FROM chunks WHERE chunk_id = 0").fetchone() == (2,)
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone() == (3,)


# --- 3. truncation -----------------------------------------------------------------------


TRUNCATIONS: list[tuple[str, Callable[[int], int]]] = [
    ("half", lambda size: size // 2),
    ("minus-one-page", lambda size: size - PAGE),
    ("minus-one-byte", lambda size: size - 1),
    ("first-page-only", lambda size: PAGE),
    ("100-bytes", lambda size: 100),
    ("empty", lambda size: 0),
]


@pytest.mark.parametrize("new_size", [pytest.param(f, id=name) for name, f in TRUNCATIONS])
def test_truncated_store_is_refused(
    tmp_path: Path, cli: InvokeCli, new_size: Callable[[int], int]
) -> None:
    records = [
        {"customer_id": f"C-{i}", "email": f"c{i}@example.com", "note": f"note {i} " * 40}
        for i in range(60)
    ]
    files = make_store(tmp_path, records=records)
    size = files.path.stat().st_size
    assert size % PAGE == 0, size
    assert size >= 8 * PAGE, size
    target = new_size(size)
    with open(files.path, "r+b") as handle:
        handle.truncate(target)
    assert files.path.stat().st_size == target

    with pytest.raises(IntegrityError) as caught, open_store(files.path, files.source) as store:
        store.verify()
        list(store.iter_batches())
    assert caught.value.exit_code == 4
    assert DAMAGE_WORDS.search(str(caught.value)), str(caught.value)

    result = cli("verify", str(files.path), "--key-file", str(files.key))
    assert result.exit_code == 4, result.stderr
    assert DAMAGE_WORDS.search(result.stderr), result.stderr
    assert result.stdout == ""


# --- 4. random byte flips ----------------------------------------------------------------


FLIP_SEED = 20261122
FLIP_ATTEMPTS = 40
SQLITE_MAGIC = range(0, 16)
"""``SQLite format 3\\0``: a file without it is not an SQLite file at all (exit 3)."""
STORE_IDENTITY = (range(60, 64), range(68, 72))
"""SQLite's user_version (custrec's format number) and application_id ("crec"): with
either changed the file no longer says it is a custrec store of this format (exit 3)."""


def read_everything(path: Path, source: KeySource) -> tuple[int, Snapshot]:
    with open_store(path, source) as store:
        return store.verify(), snapshot(store)


def test_random_byte_flips_are_detected_or_harmless(tmp_path: Path) -> None:
    records: list[dict[str, Value]] = [
        {
            "customer_id": f"C-{i}",
            "email": f"c{i}@example.com",
            "phone": f"+44 7700 9{i:05d}",
            "n": i,
            "note": "n" * (i * 7),
        }
        for i in range(40)
    ]
    files = make_store(tmp_path / "base", records=records)
    with open_store(files.path, files.source) as store:  # leave updated and free pages
        store.update("C-3", set_fields={"n": 333})
        store.delete(["C-7"])  # one chunk per call: see test_multi_chunk_writes_...
        store.delete(["C-8"])
        expected = snapshot(store)
    original = files.path.read_bytes()
    keys_name = files.path.name + ".keys"
    original_keys = files.path.with_name(keys_name).read_bytes()
    rng = random.Random(FLIP_SEED)
    outcomes: dict[str, int] = {}
    problems: list[str] = []
    for attempt in range(FLIP_ATTEMPTS):
        in_keys = attempt % 5 == 4  # one flip in five lands in the key store
        offset = rng.randrange(len(original_keys if in_keys else original))
        mask = rng.randrange(1, 256)
        directory = tmp_path / f"flip-{attempt}"
        directory.mkdir()
        damaged = directory / "s.crec"
        damaged.write_bytes(original)
        (directory / keys_name).write_bytes(original_keys)
        flip_file_byte(directory / keys_name if in_keys else damaged, offset, mask)
        where = (
            f"{'keys ' if in_keys else ''}offset {offset} (page {offset // PAGE + 1}) ^ {mask:#04x}"
        )
        identity = not in_keys and (
            offset in SQLITE_MAGIC or any(offset in r for r in STORE_IDENTITY)
        )
        try:
            count, seen = read_everything(damaged, files.source)
        except CustrecError as exc:
            allowed = {ExitCode.KEY_OR_INTEGRITY} | ({ExitCode.BAD_INPUT} if identity else set())
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            if exc.exit_code not in allowed:
                problems.append(f"{where}: {type(exc).__name__} exit {exc.exit_code}: {exc}")
        except Exception as exc:  # noqa: BLE001 - any other error is what this test looks for
            outcomes["other"] = outcomes.get("other", 0) + 1
            problems.append(f"{where}: {type(exc).__name__}: {exc}")
        else:
            outcomes["unchanged"] = outcomes.get("unchanged", 0) + 1
            if seen != expected or count != len(expected):
                problems.append(f"{where}: the store opened with different data")
    assert not problems, "\n".join(problems)
    # Sanity: the flips did hit both checked data and unused space.
    assert outcomes.get("IntegrityError", 0) > 0, outcomes
    assert outcomes.get("unchanged", 0) > 0, outcomes


# --- 5. no plaintext on disk --------------------------------------------------------------


CANARY_EMAIL = "zz-canary-email-7741@example.org"
CANARY_NAME = "Canary Ødegaard-Přemysl"
CANARY_PHONE = "+44 7700 900417"
CANARY_NOTE = "canary-note-3308: " + " ".join(f"lorem{i:04d} ipsum" for i in range(300))
CANARY_UPDATED_EMAIL = "zz-updated-canary-8812@example.org"
CANARY_DELETED_EMAIL = "zz-deleted-canary-3390@example.org"
CANARY_DELETED_NAME = "Deleted Canary Žofie Quartermaine"


def canary_needles() -> dict[str, bytes]:
    texts = {
        "email": CANARY_EMAIL,
        "email (lower)": CANARY_EMAIL.lower(),
        "email (upper)": CANARY_EMAIL.upper(),
        "email local part": CANARY_EMAIL.split("@")[0],
        "updated email": CANARY_UPDATED_EMAIL,
        "deleted email": CANARY_DELETED_EMAIL,
        "deleted email (upper)": CANARY_DELETED_EMAIL.upper(),
        "name": CANARY_NAME,
        "name (NFD)": unicodedata.normalize("NFD", CANARY_NAME),
        "surname": "Ødegaard-Přemysl",
        "deleted name": CANARY_DELETED_NAME,
        "phone": CANARY_PHONE,
        "phone (E.164)": "+447700900417",
        "phone (national digits)": "7700900417",
        "phone (national)": "07700 900417",
        "note (start)": CANARY_NOTE[:40],
        "note (middle)": CANARY_NOTE[2000:2040],
        "note (end)": CANARY_NOTE[-40:],
    }
    return {name: text.encode("utf-8") for name, text in texts.items()}


def find_leaks(directory: Path, needles: dict[str, bytes]) -> list[str]:
    leaks = []
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    assert files, f"no files in {directory}"
    for path in files:
        data = path.read_bytes()
        leaks += [f"{name} in {path.name}" for name, needle in needles.items() if needle in data]
    return leaks


def key_needles(name: str, key: bytes) -> dict[str, bytes]:
    return {
        f"{name} (raw)": key,
        f"{name} (base64)": base64.urlsafe_b64encode(key).rstrip(b"="),
        f"{name} (hex)": key.hex().encode(),
    }


def test_no_plaintext_or_keys_on_disk(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    key = new_key_file(tmp_path / "owner.key")  # outside the scanned directory
    source = KeySource.from_key_file(key.path)
    path = store_dir / "s.crec"
    filler = [
        {
            "customer_id": f"C-{i}",
            "email": f"c{i}@example.com",
            "name": f"Person {i}",
            "phone": f"+44 7700 91{i:04d}",
            "note": f"ordinary note {i}",
        }
        for i in range(30)
    ]
    canary = {
        "customer_id": "C-canary",
        "email": CANARY_EMAIL,
        "name": CANARY_NAME,
        "phone": CANARY_PHONE,
        "note": CANARY_NOTE,
    }
    doomed = {
        "customer_id": "C-doomed",
        "email": CANARY_DELETED_EMAIL,
        "name": CANARY_DELETED_NAME,
        "phone": CANARY_PHONE,
        "note": CANARY_NOTE,
    }
    store = create_store(path, source, settings=StoreSettings(chunk_records=8))
    try:
        store.put(filler[:10])
        store.put([canary, doomed])
        store.put(filler[10:])
        assert store.find("email", CANARY_EMAIL.upper())[0].id == "C-canary"
        store.update("C-canary", set_fields={"email": CANARY_UPDATED_EMAIL, "n": 1})
        store.update("C-canary", set_fields={"email": CANARY_EMAIL})
        store.delete(["C-doomed"])  # one chunk per call: see test_multi_chunk_writes_...
        store.delete(["C-3"])
        store.put([{**canary, "customer_id": "C-canary-2"}])
        store.put([{**canary, "customer_id": "C-canary-2", "note": "replaced"}], replace=True)
        assert store.get("C-canary").data["note"] == CANARY_NOTE

        keys = store._session.keys  # white-box: the keys must not be on disk in the clear
        assert keys is not None
        secrets = {
            **key_needles("key-file key", key.key),
            **key_needles("master key", keys.master),
            **key_needles("index key", store._session.index_key),
        }
        needles = {**canary_needles(), **secrets}
        assert Path(f"{path}-wal").stat().st_size > 0  # the WAL is scanned while it exists
        open_leaks = find_leaks(store_dir, needles)
    finally:
        store.close()
    closed_leaks = find_leaks(store_dir, needles)
    assert (open_leaks, closed_leaks) == ([], [])
    # Sanity: the scan does find a needle that is there (the key file holds its key).
    assert find_leaks(tmp_path, key_needles("key-file key", key.key)) == [
        "key-file key (base64) in owner.key"
    ]


# --- 6. kill -9 during writes ---------------------------------------------------------------


KILL_CHILD = r"""
import sys
from custrec.store import KeySource, open_store

store = open_store(sys.argv[1], KeySource.from_key_file(sys.argv[2]), lock_timeout=30)
n = int(store.get("C-0").data["n"])
print("ready", n, flush=True)
while True:
    n = int(store.get("C-0").data["n"]) + 1
    store.put([{"customer_id": f"R-{n}", "n": n, "email": f"r{n}@example.com"}], replace=True)
    print("r", n, flush=True)
    store.update("C-0", set_fields={"n": n})
    print("n", n, flush=True)
"""


def stress_iterations(default: int = 50) -> int:
    return int(os.environ.get("CUSTREC_STRESS_ITERATIONS", default))


@pytest.mark.slow
def test_kill_9_during_writes_leaves_a_consistent_store(tmp_path: Path) -> None:
    """Each round: a child writes in a loop (put record R-n, then set counter n) and is
    killed with SIGKILL at a random moment. The store then verifies; the counter is the
    last value the child reported committed, or one more (the write in flight); records
    R-1..R-n exist, R-(n+1) at most (its put committed, the counter update not)."""
    files = make_store(
        tmp_path, chunk_records=8, records=[{"customer_id": "C-0", "n": 0, "email": "c@x.org"}]
    )
    rng = random.Random(41)
    iterations = stress_iterations()
    n = 0
    in_flight = 0
    for round_no in range(iterations):
        proc = spawn(KILL_CHILD, files.path, files.key)
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline().split()
            if ready != ["ready", str(n)]:
                fail_child(proc, f"round {round_no}: child said {ready}, expected ready {n}")
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"round {round_no}: child died: {err}"
        lines = [line.split() for line in out.splitlines(keepends=True) if line.endswith("\n")]
        reported_n = max([int(v) for k, v in lines if k == "n"], default=n)
        reported_r = max([int(v) for k, v in lines if k == "r"], default=0)

        with open_store(files.path, files.source) as store:
            count = store.verify()
            counter = store.get("C-0")
            records = snapshot(store)
        stored_n = int(counter.data["n"])  # type: ignore[arg-type]
        assert stored_n in (reported_n, reported_n + 1), (round_no, stored_n, reported_n)
        in_flight += stored_n - reported_n
        expected_ids = {"C-0"} | {f"R-{i}" for i in range(1, stored_n + 1)}
        extra = set(records) - expected_ids
        assert extra <= {f"R-{stored_n + 1}"}, (round_no, stored_n, sorted(extra))
        assert expected_ids <= set(records), (round_no, sorted(expected_ids - set(records)))
        if reported_r:
            assert f"R-{reported_r}" in records, (round_no, reported_r)  # committed = durable
        assert count == len(records) == stored_n + 1 + len(extra)
        for record_id, (_version, data) in records.items():
            if record_id.startswith("R-"):
                assert data["n"] == int(record_id[2:])
        n = stored_n
    assert n >= iterations, f"the children committed too few writes ({n} in {iterations} rounds)"
    print(f"{iterations} kills, {n} committed increments, {in_flight} kills after a commit")


# --- 7. concurrent writers ---------------------------------------------------------------


WRITER_CHILD = r"""
import os, sys, time
from custrec.errors import StoreBusyError
from custrec.store import KeySource, open_store

path, key, go, worker, increments = sys.argv[1:6]
store = open_store(path, KeySource.from_key_file(key), lock_timeout=30)
store.get("C-0")
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
conflicts = 0
for i in range(int(increments)):
    while True:
        current = store.get("C-0")
        try:
            store.update(
                "C-0", set_fields={"n": current.data["n"] + 1}, if_version=current.version
            )
            break
        except StoreBusyError:
            conflicts += 1
    while True:
        try:
            store.put([{"customer_id": f"W{worker}-{i}", "n": i, "email": f"w{worker}.{i}@x.org"}])
            break
        except StoreBusyError:
            conflicts += 1
store.close()
print("done", conflicts, flush=True)
"""

INCREMENTS = 15


@pytest.mark.slow
@pytest.mark.parametrize("writers", [2, 4, 8])
def test_concurrent_writers_lose_no_update(tmp_path: Path, writers: int) -> None:
    files = make_store(
        tmp_path, chunk_records=8, records=[{"customer_id": "C-0", "n": 0, "email": "c@x.org"}]
    )
    go = tmp_path / "go"
    procs = [
        spawn(WRITER_CHILD, files.path, files.key, go, worker, INCREMENTS)
        for worker in range(writers)
    ]
    started = time.monotonic()
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line != "ready\n":
                fail_child(proc, f"writer said {line!r} instead of ready")
        go.touch()
        conflicts = 0
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            conflicts += int(out.split()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - started

    with open_store(files.path, files.source) as store:
        assert store.verify() == 1 + writers * INCREMENTS
        counter = store.get("C-0")
        records = snapshot(store)
    assert counter.data["n"] == writers * INCREMENTS
    assert counter.version == 1 + writers * INCREMENTS
    assert set(records) == {"C-0"} | {
        f"W{w}-{i}" for w in range(writers) for i in range(INCREMENTS)
    }
    assert all(records[f"W{w}-{i}"][1]["n"] == i for w in range(writers) for i in range(INCREMENTS))
    print(f"{writers} writers: {conflicts} retries, {elapsed:.1f} s")


UPDATER_CHILD = r"""
import sys
from custrec.store import KeySource, open_store

path, key, rounds = sys.argv[1:4]
with open_store(path, KeySource.from_key_file(key), lock_timeout=30) as store:
    print("ready", flush=True)
    for i in range(int(rounds)):
        store.update(f"C-{i % 40}", set_fields={"n": 1000 + i})  # a chunk and its key replaced
print("done", flush=True)
"""


def test_reads_beside_a_writer_always_find_their_data_keys(tmp_path: Path) -> None:
    """A reader takes the key store's snapshot before the data file's (docs/format.md,
    "The key store"): while another process rewrites chunks and destroys their old
    data keys, every read finds the keys of the chunk versions it sees. Reading the
    data file first would miss keys destroyed in between (an integrity error)."""
    records = [{"customer_id": f"C-{i}", "n": i, "email": f"c{i}@x.org"} for i in range(40)]
    files = make_store(tmp_path, chunk_records=4, records=records)
    writer = spawn(UPDATER_CHILD, files.path, files.key, 300)
    reads = 0
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
        with open_store(files.path, files.source, lock_timeout=30) as store:
            while writer.poll() is None:
                # unaudited: an audited read would wait for the writer's lock
                seen = [r for b in store.iter_batches(audited=False) for r in b.to_pylist()]
                assert len(seen) == 40
                reads += 1
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        assert out.endswith("done\n"), out
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert reads > 5, f"only {reads} reads ran beside the writer"
    with open_store(files.path, files.source) as store:
        assert store.verify() == 40


# --- 8. lock timeout -------------------------------------------------------------------------


LOCK_HOLDER = r"""
import sys, time
from custrec.store import KeySource, open_store

import sqlite3
store = sqlite3.connect(sys.argv[1], isolation_level=None)
store.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_timeout_gives_store_busy(tmp_path: Path, cli: InvokeCli) -> None:
    files = make_store(tmp_path)
    second = new_key_file(tmp_path / "keys" / "second.key")
    holder = spawn(LOCK_HOLDER, files.path, files.key)
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        if line != "locked\n":
            fail_child(holder, f"the lock holder said {line!r}")

        with open_store(files.path, files.source, lock_timeout=0.3) as store:
            # Reads are audited in the store before their result is returned, so a read
            # waits for the writer too, and discloses nothing when it gives up.
            with pytest.raises(StoreBusyError, match="busy"):
                store.get("C-1")
            with pytest.raises(StoreBusyError, match="busy"):
                store.verify()
            started = time.monotonic()
            with pytest.raises(StoreBusyError, match=r"is busy.*waited 0\.3 s") as caught:
                store.put([{"customer_id": "C-new"}])
            waited = time.monotonic() - started
            assert caught.value.exit_code == 5
            assert 0.29 <= waited < 5, waited
            with pytest.raises(StoreBusyError, match="busy"):
                store.update("C-1", set_fields={"n": 1})

        key_add = ["key", "add", str(files.path), "--key-file", str(files.key),
                   "--new-key-file", str(second.path), "--lock-timeout", "0.3"]  # fmt: skip
        started = time.monotonic()
        result = cli(*key_add)
        waited = time.monotonic() - started
        assert result.exit_code == 5, result.stderr
        assert "busy" in result.stderr
        assert 0.29 <= waited < 5, waited

        process = run_custrec(key_add)
        assert process.returncode == 5, process.stderr
        assert b"busy" in process.stderr

        reader = cli(
            "verify", str(files.path), "--key-file", str(files.key), "--lock-timeout", "0.3"
        )
        assert reader.exit_code == 5, reader.stderr
        assert reader.stdout == ""
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)

    # The killed holder's lock is gone, and the refused writes left nothing behind.
    with pytest.raises(WrongKeyError):
        open_store(files.path, KeySource.from_key_file(second.path))
    with open_store(files.path, files.source, lock_timeout=5) as store:
        with pytest.raises(NotFoundError):
            store.get("C-new")
        assert store.get("C-1").data["n"] == 100
        store.put([{"customer_id": "C-new"}])
        assert store.verify() == 11


# --- problems found by the tests above, pinned ---------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(tamper_delete_chunk, id="delete-chunk"),
        pytest.param(tamper_duplicate_chunk, id="duplicate-chunk"),
        pytest.param(tamper_duplicate_chunk_new_group, id="duplicate-chunk-new-group"),
        pytest.param(tamper_records_column, id="records-column"),
    ],
)
def test_count_of_tampered_store_raises(
    tmp_path: Path, tamper: Callable[[StoreFiles], None]
) -> None:
    files = make_store(tmp_path)
    tamper(files)
    with open_store(files.path, files.source) as store:
        try:
            count = store.count()
        except IntegrityError:
            return
    assert count == len(files.expected), f"count() returned {count} for a tampered store"


def damage_key_store_table(files: StoreFiles, table: str) -> None:
    """Make the root page of ``table`` in the store's key store invalid."""
    keys = files.path.with_name(files.path.name + ".keys")
    with raw_db(keys) as db:
        query = "SELECT rootpage FROM sqlite_master WHERE name = ?"
        (root,) = db.execute(query, (table,)).fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    flip_file_byte(keys, (root - 1) * page_size, 0x0D ^ 0x01)  # leaf (13) -> 1: invalid


def test_a_damaged_page_of_the_key_store_fails_verify(tmp_path: Path, cli: InvokeCli) -> None:
    """A page no read needs (the key store's sqlite_sequence) is damaged: reads still
    work, verify checks the key store's structure too and names it."""
    files = make_store(tmp_path)
    damage_key_store_table(files, "sqlite_sequence")
    with open_store(files.path, files.source) as store:
        assert store.get("C-0").data["n"] == 0
        with pytest.raises(IntegrityError, match="the key store's file structure"):
            store.verify()
    result = cli("verify", str(files.path), "--key-file", str(files.key))
    assert result.exit_code == 4, result.stderr
    assert "key store" in result.stderr


@pytest.mark.parametrize("value", [b"\x01", 1.5, "one"], ids=["blob", "real", "text"])
def test_non_integer_chunk_metadata_is_an_integrity_error(
    tmp_path: Path, cli: InvokeCli, value: bytes | float | str
) -> None:
    files = make_store(tmp_path)
    with raw_db(files.path) as db:
        db.execute("UPDATE chunks SET generation = ? WHERE chunk_id = 0", (value,))
    assert_rejected(files, cli, r"integrity|altered|damaged", must_fail=GROUP_0)


def test_damaged_schema_is_an_integrity_error(tmp_path: Path, cli: InvokeCli) -> None:
    files = make_store(tmp_path)
    data = files.path.read_bytes()
    offset = data.index(b"CREATE TABLE chunks")
    flip_file_byte(files.path, offset + 2, 0x04)  # CREATE -> CRAATE
    with pytest.raises(IntegrityError, match="damaged"):
        open_store(files.path, files.source).close()
    result = cli("verify", str(files.path), "--key-file", str(files.key))
    assert result.exit_code == 4, result.stderr


def test_damaged_table_page_is_an_integrity_error(tmp_path: Path, cli: InvokeCli) -> None:
    files = make_store(tmp_path)
    damage_key_store_table(files, "data_keys")
    with open_store(files.path, files.source) as store:  # both headers are intact
        with pytest.raises(IntegrityError, match="damaged"):
            store.get("C-0")
        with pytest.raises(IntegrityError, match="damaged"):
            store.verify()
    result = cli("verify", str(files.path), "--key-file", str(files.key))
    assert result.exit_code == 4, result.stderr


@pytest.mark.parametrize(
    ("operation", "changed"),
    [
        pytest.param(
            lambda s: s.delete(["C-0", "C-5"]),
            {"C-0": None, "C-5": None},
            id="delete-in-two-chunks",
        ),
        pytest.param(
            lambda s: s.put(
                [{"customer_id": "C-0", "n": -1}, {"customer_id": "C-5", "n": -1}], replace=True
            ),
            {"C-0": -1, "C-5": -1},
            id="replace-in-two-chunks",
        ),
        pytest.param(
            lambda s: s.put(
                [{"customer_id": "C-0", "n": -1}, {"customer_id": "C-new", "n": -1}], replace=True
            ),
            {"C-0": -1, "C-new": -1},
            id="replace-and-append",
        ),
    ],
)
def test_multi_chunk_writes_do_not_raise_false_integrity_alarms(
    tmp_path: Path, operation: Callable[[Store], object], changed: dict[str, int | None]
) -> None:
    files = make_store(tmp_path)
    with open_store(files.path, files.source) as store:
        operation(store)
        after = snapshot(store)
        assert store.verify() == len(after)
    expected = {i: d["n"] for i, (_v, d) in files.expected.items()}
    for record_id, n in changed.items():
        if n is None:
            del expected[record_id]
        else:
            expected[record_id] = n
    assert {i: d["n"] for i, (_v, d) in after.items()} == expected


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda s, i: s.update(i, set_fields={"n": -1}), id="update"),
        pytest.param(lambda s, i: s.delete([i]), id="delete"),
    ],
)
def test_writes_through_an_altered_id_index_are_refused(
    tmp_path: Path, operation: Callable[[Store, str], object]
) -> None:
    files = make_store(tmp_path)
    moved = move_index_entry(files)
    with open_store(files.path, files.source) as store:
        with pytest.raises(IntegrityError, match="index"):
            operation(store, moved)
        with pytest.raises(IntegrityError, match="index"):
            store.get(moved)  # still refused, not "not found"
