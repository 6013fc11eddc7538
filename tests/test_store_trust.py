"""The store as a whole: regression tests for what broke where features meet.

Each test reproduces one finding of the store's adversarial review (key changes after
record states, erasures undone by rotation and restore, audit wiping, lost or unsafe
tombstone files, partial rollback, unverified indexes, unscrubbed erasures, a full
disk, contract defects, an erased customer in a nightly ingest) through the command
line, as a user or an attacker with file access would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from custrec.store import KeySource, open_store

from .conftest import REPO, InvokeCli, copy_store, write

COLUMNS = ["customer_id", "name", "email", "phone", "country", "notes", "created"]
CANARY = "Quintessa.Vandermolen"
GRACE_POLICY = (
    "version: 1\ngrace: 30d\nrules:\n  - id: gone\n    where: \"notes == 'note 5'\"\n"
    "    trigger: created\n    period: 1d\n    action: delete\n"
)


def rows(n: int = 40) -> list[dict[str, Any]]:
    out = [
        {
            "customer_id": f"C-{i:06d}",
            "name": f"Person {i}",
            "email": f"p{i}@example.com",
            "phone": f"+44 7911 {100000 + i}",
            "country": "GB",
            "notes": f"note {i}",
            "created": "2020-01-01",
        }
        for i in range(1, n + 1)
    ]
    out[9].update(name=CANARY, email=f"{CANARY.lower()}@example.org", notes=f"{CANARY} rang")
    return out


def csv_text(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: InvokeCli) -> Path:
    key = tmp_path / "k.key"
    assert cli("key", "new", str(key)).exit_code == 0
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    monkeypatch.setenv("CUSTREC_ACTOR", "officer")
    for name in ("CUSTREC_PASSPHRASE", "CUSTREC_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return key


@pytest.fixture
def store(cli: InvokeCli, tmp_path: Path) -> Path:
    path = tmp_path / "s.crec"
    assert cli("init", str(path), "--region", "GB", "--chunk-records", "8").exit_code == 0
    source = write(tmp_path / "c.csv", csv_text(rows()))
    result = cli("collect", str(path), str(source))
    assert result.exit_code == 0, result.stderr
    return path


def everything_reads(cli: InvokeCli, store: Path) -> None:
    """Every reading and writing command still works on ``store``."""
    assert cli("get", str(store), "C-000006").exit_code == 0
    found = cli("find", str(store), "--email", "p7@example.com")
    assert found.exit_code == 0, found.stderr
    assert cli("export", str(store), "--format", "ndjson").exit_code == 0
    update = cli("update", str(store), "C-000008", "--set", "notes=changed")
    assert update.exit_code == 0, update.stderr
    assert cli("access", str(store), "C-000006", "--reason", "t", "--format", "json").exit_code == 0
    verified = cli("verify", str(store))
    assert verified.exit_code == 0, verified.stderr
    assert cli("audit", "verify", str(store)).exit_code == 0


# --- F1: key changes after record states --------------------------------------------


@pytest.mark.parametrize("state", ["hold", "restrict", "erase", "purge-grace"])
def test_key_rotation_after_a_record_state_keeps_the_store_readable(
    cli: InvokeCli, store: Path, state: str, tmp_path: Path
) -> None:
    if state == "purge-grace":
        policy = write(
            tmp_path / "p.yaml",
            GRACE_POLICY,
        )
        applied = cli("purge", str(store), "--policy", str(policy), "--yes")
        assert applied.exit_code == 0, applied.stderr
    else:
        assert cli(state, str(store), "C-000005", "--reason", "t").exit_code == 0
    rotated = cli("key", "rotate", str(store))
    assert rotated.exit_code == 0, rotated.stderr
    everything_reads(cli, store)
    if state in ("hold", "restrict"):
        undo = "release" if state == "hold" else "unrestrict"
        assert cli(undo, str(store), "C-000005", "--reason", "t").exit_code == 0
    again = cli("key", "rotate", str(store))
    assert again.exit_code == 0, again.stderr
    everything_reads(cli, store)


def test_removing_the_old_holder_after_a_hold_keeps_the_store_readable(
    cli: InvokeCli, store: Path, tmp_path: Path, key_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("hold", str(store), "C-000005", "--reason", "t").exit_code == 0
    second = tmp_path / "second.key"
    assert cli("key", "new", str(second)).exit_code == 0
    assert cli("key", "add", str(store), "--new-key-file", str(second)).exit_code == 0
    old_id = key_env.read_text().split("id: ")[1].split()[0]
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(second))
    removed = cli("key", "remove", str(store), old_id)
    assert removed.exit_code == 0, removed.stderr
    everything_reads(cli, store)
    assert cli("release", str(store), "C-000005", "--reason", "t").exit_code == 0


# --- F2: erasure, rotation, backup restore ---------------------------------------------


def test_an_erasure_survives_rotation_and_a_backup_restore(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "b.crec"
    copy_store(store, backup)
    assert cli("key", "rotate", str(store)).exit_code == 0
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    copy_store(backup, store)
    reapplied = cli("reapply-erasures", str(store))
    assert reapplied.exit_code == 0, reapplied.stderr
    assert cli("get", str(store), "C-000010").exit_code == 6
    assert CANARY.encode() not in store.read_bytes()
    everything_reads(cli, store)


def test_a_restored_backup_hides_erased_records_even_before_reapply(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "b.crec"
    copy_store(store, backup)
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    copy_store(backup, store)
    got = cli("get", str(store), "C-000010")
    assert got.exit_code == 6
    assert "reapply-erasures" in got.stderr
    exported = cli("export", str(store), "--format", "ndjson")
    assert CANARY not in exported.stdout
    assert "reapply-erasures" in exported.stderr
    verified = cli("verify", str(store))
    assert verified.exit_code == 4
    assert "reapply-erasures" in verified.stderr
    assert cli("reapply-erasures", str(store)).exit_code == 0
    assert cli("verify", str(store)).exit_code == 0


# --- F3: wiping the audit trail ---------------------------------------------------------


def wipe_audit(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM audit")
        db.execute("DELETE FROM audit_subjects")
        db.execute("DELETE FROM header WHERE name = 'audit_head'")


def test_wiping_the_whole_audit_trail_is_caught(cli: InvokeCli, store: Path) -> None:
    wipe_audit(store)
    audit = cli("audit", "verify", str(store))
    assert audit.exit_code in (1, 4)
    assert "intact" not in audit.stdout
    verified = cli("verify", str(store))
    assert verified.exit_code == 4
    assert "audit" in verified.stderr
    # no fresh chain can be started on the wiped log
    assert cli("get", str(store), "C-000006").exit_code == 4
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 0


def test_truncating_the_audit_trail_and_its_head_is_caught(cli: InvokeCli, store: Path) -> None:
    with sqlite3.connect(store) as db:
        (seq,) = db.execute("SELECT MAX(seq) FROM audit").fetchone()
        db.execute("DELETE FROM audit WHERE seq > ?", (seq - 2,))
        db.execute("DELETE FROM header WHERE name = 'audit_head'")
    assert cli("verify", str(store)).exit_code == 4
    assert cli("audit", "verify", str(store)).exit_code in (1, 4)


# --- F4: a kill between the erase commit and the tombstone file ---------------------------


def test_a_lost_tombstone_file_is_recreated_and_reported(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "b.crec"
    copy_store(store, backup)
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    sidecar = store.with_name(store.name + ".erasures")
    sidecar.unlink()  # as if killed between the commit and writing the file
    got = cli("get", str(store), "C-000006")
    assert got.exit_code == 0
    assert "erasures" in got.stderr  # said, not silent
    assert sidecar.exists()
    again = cli("erase", str(store), "C-000010", "--reason", "r")
    assert again.exit_code == 0, again.stderr
    assert "already" in again.stderr
    copy_store(backup, store)
    assert cli("reapply-erasures", str(store)).exit_code == 0
    assert cli("get", str(store), "C-000010").exit_code == 6


ERASE_CHILD = r"""
import sys
from custrec.store import KeySource, open_store
path, key = sys.argv[1:3]
with open_store(path, KeySource.from_key_file(key)) as store:
    print("ready", flush=True)
    store.erase("C-000010")
    print("erased", flush=True)
"""


def test_kill_9_around_an_erasure_never_loses_the_tombstone(
    store: Path, tmp_path: Path, key_env: Path, cli: InvokeCli
) -> None:
    backup = tmp_path / "b.crec"
    copy_store(store, backup)
    sidecar = store.with_name(store.name + ".erasures")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outcomes = set()
    rng = random.Random(16)
    for round_no in range(int(os.environ.get("CUSTREC_STRESS_ITERATIONS", 12))):
        copy_store(backup, store)
        sidecar.unlink(missing_ok=True)
        for extra in tmp_path.glob(f".{store.name}*"):
            extra.unlink()
        for suffix in ("-wal", "-shm"):
            store.with_name(store.name + suffix).unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-c", ERASE_CHILD, str(store), str(key_env)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.1))  # an erase takes about 60 ms here
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open_store(store, KeySource.from_key_file(key_env)) as opened:
            erased = opened.record_states("C-000010")["erased"]
        outcomes.add(erased)
        if erased:
            assert sidecar.exists(), f"round {round_no}: the tombstone file was lost"
            copy_store(backup, store)
            for suffix in ("-wal", "-shm"):
                store.with_name(store.name + suffix).unlink(missing_ok=True)
            assert cli("reapply-erasures", str(store)).exit_code == 0
            assert cli("get", str(store), "C-000010").exit_code == 6
        leftovers = [p.name for p in tmp_path.glob(f".{store.name}.erasures*")]
        assert not leftovers, leftovers
    assert outcomes == {False, True}, "the kills should land before and after the commit"


# --- F7: partial and whole-file rollback ------------------------------------------------


def graft_chunk_0(old: Path, store: Path) -> None:
    """Put chunk 0, its data key (from the old key store), its group MAC and the
    manifest MAC of an older copy of the same store into the current one (no key
    needed)."""
    with sqlite3.connect(old) as before:
        chunk = before.execute("SELECT * FROM chunks WHERE chunk_id = 0").fetchone()
        payload = before.execute(
            "SELECT key_no, payload FROM chunk_parts WHERE chunk_id = 0 AND part = 0"
        ).fetchone()
        group = before.execute("SELECT mac FROM chunk_groups WHERE group_id = 0").fetchone()
        top = before.execute("SELECT value FROM header WHERE name = 'manifest_mac'").fetchone()
    with sqlite3.connect(old.with_name(old.name + ".keys")) as before_keys:
        key = before_keys.execute(
            "SELECT * FROM data_keys WHERE key_no = ?", (chunk[2],)
        ).fetchone()
    with sqlite3.connect(store) as db:
        current = db.execute("SELECT key_no FROM chunks WHERE chunk_id = 0").fetchone()
    with sqlite3.connect(store.with_name(store.name + ".keys")) as keys:
        keys.execute("DELETE FROM data_keys WHERE key_no = ?", (current[0],))
        keys.execute("INSERT OR REPLACE INTO data_keys VALUES (?, ?, ?)", key)
    with sqlite3.connect(store) as db:
        db.execute("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)", chunk)
        db.execute(
            "UPDATE chunk_parts SET key_no = ?, payload = ? WHERE chunk_id = 0 AND part = 0",
            payload,
        )
        db.execute("UPDATE chunk_groups SET mac = ? WHERE group_id = 0", group)
        db.execute("UPDATE header SET value = ? WHERE name = 'manifest_mac'", top)


def test_a_partial_rollback_of_a_chunk_is_caught(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.crec"
    copy_store(store, old)
    assert cli("update", str(store), "C-000003", "--set", "notes=new").exit_code == 0
    graft_chunk_0(old, store)
    verified = cli("verify", str(store))
    assert verified.exit_code == 4
    assert cli("get", str(store), "C-000003").exit_code == 4


def test_a_whole_file_rollback_is_caught_by_the_witness(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.crec"
    shutil.copy(store, old)
    witness = tmp_path / "elsewhere" / "heads.txt"
    witness.parent.mkdir()
    assert cli("update", str(store), "C-000003", "--set", "notes=new").exit_code == 0
    head = cli("audit", "head", str(store))
    assert head.exit_code == 0, head.stderr
    witness.write_text(head.stdout)
    assert cli("verify", str(store), "--witness", str(witness)).exit_code == 0
    shutil.copy(old, store)
    rolled = cli("verify", str(store), "--witness", str(witness))
    assert rolled.exit_code == 4
    assert "older" in rolled.stderr or "rolled back" in rolled.stderr


# --- F8: verify covers every table -------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM match_index",
        "DELETE FROM match_index WHERE token = (SELECT token FROM match_index LIMIT 1)",
        "UPDATE match_index SET token = randomblob(16) WHERE field = 'email'",
        "DELETE FROM audit_subjects",
        "INSERT INTO audit_subjects VALUES ('deadbeef', 'cafe')",
        "INSERT INTO match_index VALUES ('email', randomblob(16), randomblob(16))",
    ],
)
def test_verify_covers_the_indexes_and_audit_subjects(
    cli: InvokeCli, store: Path, statement: str
) -> None:
    with sqlite3.connect(store) as db:
        db.execute(statement)
    verified = cli("verify", str(store))
    assert verified.exit_code == 4, (statement, verified.stdout, verified.stderr)


def test_a_deleted_match_index_is_not_silently_trusted(cli: InvokeCli, store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM match_index")
    assert cli("verify", str(store)).exit_code == 4
    assert "match index" in cli("verify", str(store)).stderr


# --- F9: the tombstone file never follows a symbolic link ----------------------------------


def test_writing_tombstones_never_follows_a_symlink(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    victim = write(tmp_path / "victim.txt", "precious\n")
    # every temporary name the writer could pick by process id, and the file itself
    for pid in range(os.getpid() - 50, os.getpid() + 50):
        link = tmp_path / f".{store.name}.erasures.{pid}"
        link.symlink_to(victim)
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    assert victim.read_text() == "precious\n"
    # the file itself a link to something else: refused as not a tombstone file,
    # and what the link points to is left alone
    sidecar = store.with_name(store.name + ".erasures")
    sidecar.unlink()
    sidecar.symlink_to(victim)
    refused = cli("erase", str(store), "C-000011", "--reason", "r")
    assert refused.exit_code == 4
    assert "erasures" in refused.stderr
    assert victim.read_text() == "precious\n"


# --- F13: an erasure while another process reads ----------------------------------------


def test_erase_under_a_long_read_never_claims_a_scrub_it_did_not_do(
    cli: InvokeCli, store: Path, key_env: Path
) -> None:
    reader = sqlite3.connect(store, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM chunks").fetchone()  # holds a read snapshot
    try:
        erased = cli("erase", str(store), "C-000010", "--reason", "r", "--lock-timeout", "0.5")
        assert erased.exit_code == 0, erased.stderr
        assert "pending" in erased.stderr
    finally:
        reader.execute("COMMIT")
        reader.close()
    # the next command completes the scrub
    assert cli("get", str(store), "C-000006").exit_code == 0
    wal = store.with_name(store.name + "-wal")
    for path in (store, wal):
        if path.exists():
            assert CANARY.encode() not in path.read_bytes()
    with open_store(store, KeySource.from_key_file(key_env)) as opened:
        assert opened.scrub_pending is False


# --- F14: a full disk is not tampering -----------------------------------------------------


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_a_full_disk_is_reported_as_such(store: Path, tmp_path: Path, key_env: Path) -> None:
    if not _can_mount_tmpfs():
        pytest.skip("needs unshare and tmpfs mounts in a user namespace to make a full disk")
    full = tmp_path / "full"
    full.mkdir()
    script = (
        f'mount -t tmpfs -o size=900k tmpfs "{full}" && cp "{store}" "{full}/s.crec" && '
        f'dd if=/dev/zero of="{full}/fill" bs=4k count=100000 2>/dev/null; '
        f'"{sys.executable}" -m custrec "$@"'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUSTREC_KEY_FILE": str(key_env)}
    for args, expected in [
        (["update", f"{full}/s.crec", "C-000006", "--set", "notes=x"], 7),
        (["get", f"{full}/s.crec", "C-000006"], 7),
        (["verify", f"{full}/s.crec"], 7),
    ]:
        proc = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script, "sh", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == expected, (args, proc.stderr)
        assert "full" in proc.stderr, proc.stderr
        assert "damaged" not in proc.stderr
        assert "altered" not in proc.stderr


# --- F15: contract defects of the store --------------------------------------------------


@pytest.mark.parametrize("size", [10, 50, 99, 100, 1000, 4096])
def test_every_truncation_is_an_integrity_error(cli: InvokeCli, store: Path, size: int) -> None:
    data = store.read_bytes()
    store.write_bytes(data[:size])
    assert cli("get", str(store), "C-000006").exit_code == 4


def test_a_deleted_tombstone_file_is_not_silent(cli: InvokeCli, store: Path) -> None:
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    store.with_name(store.name + ".erasures").unlink()
    verified = cli("verify", str(store))
    assert "erasures" in verified.stderr


# --- F16: one erased customer in a nightly file -----------------------------------------


def collect_with_rejects(
    cli: InvokeCli, store: Path, source: Path, on_duplicate: str
) -> list[dict[str, str]]:
    """Collect ``source`` as a nightly cron job does; the rows of the rejects file."""
    rejects = source.with_name("rejects.csv")
    result = cli(
        "collect",
        str(store),
        str(source),
        *("--on-invalid", "reject", "--rejects", str(rejects)),
        *("--on-duplicate", on_duplicate, "--format", "json"),
    )
    assert result.exit_code == 0, result.stderr
    with rejects.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_an_erased_customer_in_a_nightly_file_goes_to_the_rejects(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    nightly = rows(42)[38:]  # C-39 .. C-42: two new
    nightly.append(rows()[9])  # the erased customer again, on line 6
    source = write(tmp_path / "nightly.csv", csv_text(nightly))
    rejected = collect_with_rejects(cli, store, source, "skip")
    assert [r["customer_id"] for r in rejected] == ["C-000010"]
    assert "erased" in json.dumps(rejected[0])
    assert rejected[0]["_line"] == "6"
    assert cli("get", str(store), "C-000041").exit_code == 0
    assert cli("get", str(store), "C-000010").exit_code == 6
    aborted = cli("collect", str(store), str(source), "--on-duplicate", "skip")
    assert aborted.exit_code == 1
    assert "nightly.csv" in aborted.stderr
    assert "line 6" in aborted.stderr


def test_a_record_in_its_grace_period_in_a_nightly_file_goes_to_the_rejects(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    policy = write(tmp_path / "p.yaml", GRACE_POLICY)
    assert cli("purge", str(store), "--policy", str(policy), "--yes").exit_code == 0
    source = write(tmp_path / "nightly.csv", csv_text([rows()[4], *rows(41)[40:]]))
    rejected = collect_with_rejects(cli, store, source, "update")
    assert [r["customer_id"] for r in rejected] == ["C-000005"]
    assert "grace" in json.dumps(rejected[0])
    assert cli("get", str(store), "C-000041").exit_code == 0


# --- an erased customer who comes back --------------------------------------------------


def test_a_readmitted_customer_stays_and_a_restore_erases_only_the_old_data(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    """Erasure, then the customer comes back of their own accord: the nightly ingest
    keeps them from then on, verify passes, and a restore of a backup from before the
    erasure still erases the old data (but one from after the readmission keeps it)."""
    before = tmp_path / "before.crec"
    copy_store(store, before)
    assert cli("erase", str(store), "C-000010", "--reason", "r").exit_code == 0
    time.sleep(1.05)  # provenance times are to the second: a readmission comes later
    back = write(tmp_path / "back.csv", csv_text([dict(rows()[9], notes="came back")]))
    readmitted = cli("collect", str(store), str(back), "--readmit-erased")
    assert readmitted.exit_code == 0, readmitted.stderr
    assert cli("verify", str(store)).exit_code == 0
    update = write(tmp_path / "update.csv", csv_text([dict(rows()[9], notes="moved")]))
    nightly = cli("collect", str(store), str(update), "--on-duplicate", "update")
    assert nightly.exit_code == 0, nightly.stderr  # no longer refused as erased
    after = tmp_path / "after.crec"
    copy_store(store, after)
    copy_store(after, store)
    assert cli("reapply-erasures", str(store)).exit_code == 0
    assert cli("get", str(store), "C-000010").exit_code == 0  # readmitted data stays
    copy_store(before, store)
    assert cli("reapply-erasures", str(store)).exit_code == 0
    assert cli("get", str(store), "C-000010").exit_code == 6  # pre-erasure data goes
    assert CANARY.encode() not in store.read_bytes()
    assert cli("verify", str(store)).exit_code == 0
