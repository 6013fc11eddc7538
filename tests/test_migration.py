"""``custrec migrate``: a format-1 store (the committed vector) becomes a format-2 store,
then a format-3 store, and a format-2 store (the committed vector) a format-3 store, in
place, each step atomic, verified and audited; until then it is read but not changed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from custrec.store import KeySource, open_store

from .conftest import InvokeCli, write
from .store_model import KillPoints
from .test_store_vectors import EXPECTED, VECTORS

MAX_POINTS = 200


@pytest.fixture
def v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = Path(shutil.copy(VECTORS / "store-v1.crec", tmp_path / "customers.crec"))
    key = Path(shutil.copy(VECTORS / "store-v1.key", tmp_path / "store-v1.key"))
    key.chmod(0o600)
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    for name in ("CUSTREC_PASSPHRASE", "CUSTREC_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return store


def sealed_data_keys(store: Path) -> list[bytes]:
    with sqlite3.connect(store) as db:
        return [bytes(r[0]) for r in db.execute("SELECT sealed FROM data_keys")]


def records(store: Path) -> list[dict[str, object]]:
    with open_store(store, KeySource.from_key_file(os.environ["CUSTREC_KEY_FILE"])) as opened:
        return [row for batch in opened.iter_batches() for row in batch.to_pylist()]


def test_migrate_converts_verifies_and_audits(cli: InvokeCli, v1: Path) -> None:
    old_keys = sealed_data_keys(v1)
    assert len(old_keys) == 2
    result = cli("migrate", str(v1), "--format", "json", "--reason", "upgrade")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"] == 1
    assert (out["from_format"], out["to_format"], out["migrated"], out["data_keys"]) == (
        1,
        3,
        True,
        2,
    )
    assert out["chunks"] == 2
    with sqlite3.connect(v1) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert "data_keys" not in tables
    assert "chunk_payloads" not in tables
    for path in v1.parent.iterdir():  # the old sealed data keys are nowhere any more
        if path.name.startswith(v1.name):
            raw = path.read_bytes()
            assert not any(key[12:] in raw for key in old_keys), path.name
    assert records(v1) == EXPECTED
    shown = cli("audit", "show", str(v1), "--format", "json")
    entries = json.loads(shown.stdout)["entries"]
    migrated = [e for e in entries if e["action"] == "migrate"]
    assert [(e["phase"], e["outcome"]) for e in migrated] == [
        ("intent", "started"),
        ("outcome", "ok"),
    ] * 2
    assert migrated[1]["counts"]["data_keys"] == 2
    assert migrated[3]["counts"] == {"chunks": 2, "from_format": 2, "to_format": 3}
    assert cli("audit", "verify", str(v1)).exit_code == 0
    again = cli("migrate", str(v1), "--format", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["migrated"] is False


def test_a_format_1_store_is_read_and_other_commands_say_to_migrate(
    cli: InvokeCli, v1: Path, tmp_path: Path
) -> None:
    got = cli("get", str(v1), "C-000001", "--format", "json")
    assert got.exit_code == 0, got.stderr
    exported = cli("export", str(v1), "--format", "ndjson")
    assert exported.exit_code == 0
    assert len(exported.stdout.splitlines()) == 3
    new = write(tmp_path / "new.csv", "customer_id,name\nC-000009,Ana\n")
    other_key = tmp_path / "other.key"
    assert cli("key", "new", str(other_key)).exit_code == 0
    for args in (
        ["update", str(v1), "C-000001", "--set", "visits=4"],
        ["collect", str(v1), str(new)],
        ["erase", str(v1), "C-000001", "--reason", "request"],
        ["hold", str(v1), "C-000001", "--reason", "case"],
        ["key", "add", str(v1), "--new-key-file", str(other_key)],
        ["key", "rotate", str(v1)],
    ):
        result = cli(*args)
        assert result.exit_code == 3, (args, result.stderr)
        assert "custrec migrate" in result.stderr, args
    assert records(v1) == EXPECTED


def test_a_key_store_of_another_store_in_the_way_is_not_overwritten(
    cli: InvokeCli, v1: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.crec"
    assert cli("init", str(other)).exit_code == 0
    in_the_way = v1.with_name(v1.name + ".keys")
    shutil.copy(other.with_name(other.name + ".keys"), in_the_way)
    before = in_the_way.read_bytes()
    result = cli("migrate", str(v1))
    assert result.exit_code == 2, result.stderr
    assert "not a key store of this store" in result.stderr
    assert in_the_way.read_bytes() == before
    with sqlite3.connect(v1) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def migrate_killed_at(store: Path, key: Path, point: int) -> bool:
    """Migrate in a forked process killed with SIGKILL at kill point ``point`` (see
    :class:`tests.store_model.KillPoints`); whether it was killed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            points = KillPoints(point)
            with open_store(store, KeySource.from_key_file(key)) as opened:
                opened.migrate()
            points.point()
        except BaseException:  # noqa: BLE001 - reported by the exit code
            code = 70
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"migrate failed in the child (point {point})"
    return False


@pytest.mark.parametrize("vector", ["store-v1", "store-v2"])
def test_migrate_killed_at_every_kill_point_leaves_a_readable_format(
    vector: str, tmp_path: Path
) -> None:
    """Killed at each moment where what is durable changes (each SQL BEGIN, COMMIT and
    checkpoint, each os.open, replace, fsync, unlink ...): the store then opens in the
    format before or after a step (1, 2 or 3) with every record, verifies, and a second
    migrate completes."""
    store = tmp_path / "customers.crec"
    key = Path(shutil.copy(VECTORS / f"{vector}.key", tmp_path / "k.key"))
    key.chmod(0o600)
    originals = tmp_path / "originals"
    originals.mkdir()
    for suffix in ("", ".keys", ".erasures"):
        if (VECTORS / f"{vector}.crec{suffix}").exists():
            shutil.copy(VECTORS / f"{vector}.crec{suffix}", originals / f"customers.crec{suffix}")
    seen = set()
    for point in range(1, MAX_POINTS):
        for leftover in tmp_path.glob("*customers.crec*"):
            leftover.unlink()
        for original in originals.iterdir():
            shutil.copy(original, tmp_path / original.name)
        killed = migrate_killed_at(store, key, point)
        with open_store(store, KeySource.from_key_file(key)) as opened:
            seen.add(opened.format)
            assert opened.verify() == 3, point
            assert [r for b in opened.iter_batches() for r in b.to_pylist()] == EXPECTED, point
        with open_store(store, KeySource.from_key_file(key)) as opened:
            opened.migrate()
            assert opened.format == 3
            assert [r for b in opened.iter_batches() for r in b.to_pylist()] == EXPECTED, point
        if not killed:
            break
    else:
        raise AssertionError(f"migrate passed more than {MAX_POINTS} kill points")
    assert seen == ({1, 2, 3} if vector == "store-v1" else {2, 3}), seen
    assert point > 5


def test_an_erased_customer_stays_out_after_migrating_to_format_3(
    cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The format-2 vector's tombstone holds its erased customer's email token as format
    2 made it; after the migration (match tokens under the contact group's key) a row
    under a new id with that email is still refused as erased's."""
    for name in ("store-v2.crec", "store-v2.crec.keys", "store-v2.crec.erasures"):
        shutil.copy(VECTORS / name, tmp_path / name)
    key = Path(shutil.copy(VECTORS / "store-v2.key", tmp_path / "k.key"))
    key.chmod(0o600)
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    store = tmp_path / "store-v2.crec"
    assert cli("migrate", str(store)).exit_code == 0
    back = write(
        tmp_path / "back.csv", "customer_id,name,email\nC-000777,Someone,GONE@example.com\n"
    )
    refused = cli("collect", str(store), str(back))
    assert refused.exit_code == 1, refused.stderr
    assert "erased" in refused.stderr
    assert cli("get", str(store), "C-000777").exit_code == 6
    fresh = write(tmp_path / "fresh.csv", "customer_id,name,email\nC-000778,New,new@example.com\n")
    assert cli("collect", str(store), str(fresh)).exit_code == 0
    assert cli("erase", str(store), "C-000778", "--reason", "request").exit_code == 0
    again = write(tmp_path / "again.csv", "customer_id,name,email\nC-000779,New,NEW@example.com\n")
    assert cli("collect", str(store), str(again)).exit_code == 1  # a format-3 tombstone
