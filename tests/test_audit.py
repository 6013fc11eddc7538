"""The audit trail: exact entries per command, tamper evidence, queries, no personal data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from custrec.audit import AuditContext
from custrec.audit_read import AuditEntries, AuditQuery
from custrec.errors import CheckFailedError, ExitCode
from custrec.keyfile import new_key_file
from custrec.store import KeySource, Store, StoreSettings, create_store, open_store

from .conftest import REPO, InvokeCli


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return new_key_file(tmp_path / "k.key").path


def store_at(tmp_path: Path, key: Path, actor: str = "script") -> Store:
    context = AuditContext(command="test", actor=actor, reason="case 42")
    return create_store(
        tmp_path / "s.crec",
        KeySource.from_key_file(key),
        settings=StoreSettings(chunk_records=2),
        context=context,
    )


def entries(cli: InvokeCli, store: Path, key: Path, *args: str) -> list[dict[str, object]]:
    result = cli("audit", "show", str(store), "--key-file", str(key), "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["entries"]  # type: ignore[no-any-return]


def summary(entry: dict[str, object]) -> tuple[object, ...]:
    return (
        entry["actor"],
        entry["command"],
        entry["action"],
        entry["phase"],
        entry["outcome"],
        entry["exit_code"],
        entry["fields"],
        entry.get("pseudonyms"),
    )


def test_commands_write_exactly_these_entries(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    store = tmp_path / "s.crec"
    officer = new_key_file(tmp_path / "officer.key")
    assert (
        cli(
            "--actor", "alice", "init", str(store), "--key-file", str(key), "--reason", "T-1"
        ).exit_code
        == 0
    )
    with open_store(
        store, KeySource.from_key_file(key), context=AuditContext(command="load", actor="loader")
    ) as opened:
        opened.put(
            [
                {"customer_id": "C-1", "email": "a@example.com"},
                {"customer_id": "C-2", "phone": "+44 7700 900002"},
            ]
        )
        opened.get("C-1")
        opened.find("email", "A@example.com")
        opened.update("C-2", set_fields={"email": "b@example.com"}, unset=["phone"])
        opened.delete(["C-1"])
        pseudonym = {i: opened.pseudonym_of(i) for i in ("C-1", "C-2")}
    assert (
        cli(
            "--actor",
            "bob",
            "key",
            "add",
            str(store),
            "--key-file",
            str(key),
            "--new-key-file",
            str(officer.path),
        ).exit_code
        == 0
    )
    assert cli("--actor", "bob", "verify", str(store), "--key-file", str(key)).exit_code == 0
    both = sorted(pseudonym.values())
    assert [summary(e) for e in entries(cli, store, key)] == [
        ("alice", "custrec init", "init", "outcome", "ok", None, [], None),
        (
            "loader",
            "load",
            "put",
            "intent",
            "started",
            None,
            ["customer_id", "email", "phone"],
            both,
        ),
        ("loader", "load", "put", "outcome", "ok", None, ["customer_id", "email", "phone"], None),
        ("loader", "load", "get", "access", "ok", None, [], [pseudonym["C-1"]]),
        ("loader", "load", "find", "access", "ok", None, ["email"], [pseudonym["C-1"]]),
        (
            "loader",
            "load",
            "update",
            "intent",
            "started",
            None,
            ["email", "phone"],
            [pseudonym["C-2"]],
        ),
        ("loader", "load", "update", "outcome", "ok", None, ["email", "phone"], None),
        ("loader", "load", "delete", "intent", "started", None, [], [pseudonym["C-1"]]),
        ("loader", "load", "delete", "outcome", "ok", None, [], None),
        ("bob", "custrec key add", "key-add", "intent", "started", None, [], None),
        ("bob", "custrec key add", "key-add", "outcome", "ok", None, [], None),
        ("bob", "custrec verify", "verify", "access", "ok", None, [], None),
    ]
    listed = entries(cli, store, key)
    assert listed[0]["reason"] == "T-1"
    assert listed[2]["counts"] == {"inserted": 2, "replaced": 0}
    assert listed[-1]["scope"] == "all"
    assert listed[-1]["counts"] == {"records": 1}
    assert [e["seq"] for e in listed] == list(range(1, 13))


def test_failed_and_refused_operations_are_recorded(tmp_path: Path, key: Path) -> None:
    with store_at(tmp_path, key) as store:
        store.put([{"customer_id": "C-1", "email": "a@example.com"}])

        def refuse(record: object) -> None:
            raise CheckFailedError("email: not an address")

        with pytest.raises(CheckFailedError):
            store.update("C-1", set_fields={"email": "nope"}, check=refuse)
        with pytest.raises(Exception, match="no record"):
            store.delete(["C-9"])
        found = store.audit_query(AuditQuery()).entries
    tail = [(e["action"], e["phase"], e["outcome"], e["exit_code"]) for e in found[-4:]]
    assert tail == [
        ("update", "intent", "started", None),
        ("update", "outcome", "failed", int(ExitCode.CHECK_FAILED)),
        ("delete", "intent", "started", None),
        ("delete", "outcome", "failed", int(ExitCode.NOT_FOUND)),
    ]


CRASH = """
import os, sys
from custrec.audit import AuditContext
from custrec.store import KeySource, open_store
from custrec.store.session import StoreSession
store = open_store(sys.argv[1], KeySource.from_key_file(sys.argv[2]),
                   context=AuditContext(command="crash", actor="victim"))
StoreSession.update_manifest = lambda *args, **kwargs: os._exit(9)  # die inside the change
store.update("C-1", set_fields={"email": "changed@example.com"})
"""


def test_a_crash_between_intent_and_outcome_is_visible(tmp_path: Path, key: Path) -> None:
    with store_at(tmp_path, key) as store:
        store.put([{"customer_id": "C-1", "email": "a@example.com"}])
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(tmp_path / "s.crec"), str(key)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    with open_store(tmp_path / "s.crec", KeySource.from_key_file(key)) as store:
        assert store.get("C-1").data["email"] == "a@example.com"  # the change was lost whole
        found = store.audit_query(AuditQuery(actor="victim")).entries
        assert [(e["action"], e["phase"], e["outcome"]) for e in found] == [
            ("update", "intent", "started")
        ]
        assert store.audit_verify().ok


def fill(tmp_path: Path, key: Path, entries_wanted: int = 6) -> Path:
    with store_at(tmp_path, key) as store:
        for i in range(entries_wanted // 2):
            store.put([{"customer_id": f"C-{i}"}])
    return tmp_path / "s.crec"


def audit_rows(path: Path) -> list[tuple[int, bytes, bytes, bytes]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seq, entry, hash, mac FROM audit ORDER BY seq").fetchall()


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    db = sqlite3.connect(path)
    with db:
        for sql, args in statements:
            db.execute(sql, args)
    db.close()


def verify_fails_at(cli: InvokeCli, path: Path, key: Path, seq: int, problem: str) -> None:
    result = cli("audit", "verify", str(path), "--key-file", str(key), "--format", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["first_bad_seq"] == seq
    assert problem in document["problem"]
    assert f"first bad entry is {seq}" in result.stderr


def test_intact_log_verifies_and_prints_its_head(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    result = cli("audit", "verify", str(path), "--key-file", str(key), "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    rows = audit_rows(path)
    assert document["entries"] == len(rows) == 7  # init + 3 x (intent, outcome)
    assert document["head_seq"] == 7
    assert document["head_hash"] == rows[-1][2].hex()


def test_edited_entry(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    entry = audit_rows(path)[3][1].replace(b'"actor":"script"', b'"actor":"nobody"')
    tamper(path, ("UPDATE audit SET entry = ? WHERE seq = 4", (entry,)))
    verify_fails_at(cli, path, key, 4, "content or its place")


def test_flipped_byte(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    entry = bytearray(audit_rows(path)[2][1])
    entry[10] ^= 0x01
    tamper(path, ("UPDATE audit SET entry = ? WHERE seq = 3", (bytes(entry),)))
    verify_fails_at(cli, path, key, 3, "content or its place")


def test_deleted_entry(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    tamper(path, ("DELETE FROM audit WHERE seq = 5", ()))
    verify_fails_at(cli, path, key, 5, "entry 5 is missing")


def test_swapped_entries(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    rows = audit_rows(path)
    a, b = rows[2], rows[3]
    tamper(
        path,
        ("UPDATE audit SET entry = ?, hash = ?, mac = ? WHERE seq = 3", (b[1], b[2], b[3])),
        ("UPDATE audit SET entry = ?, hash = ?, mac = ? WHERE seq = 4", (a[1], a[2], a[3])),
    )
    verify_fails_at(cli, path, key, 3, "content or its place")


def test_inserted_entry(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    rows = audit_rows(path)
    # Move the last entry up and insert a copy of entry 6 in its place.
    tamper(
        path,
        ("UPDATE audit SET seq = 8 WHERE seq = 7", ()),
        ("INSERT INTO audit (seq, entry, hash, mac) VALUES (7, ?, ?, ?)", rows[5][1:]),
    )
    verify_fails_at(cli, path, key, 7, "content or its place")


def test_truncated_tail(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = fill(tmp_path, key)
    tamper(path, ("DELETE FROM audit WHERE seq >= 6", ()))
    verify_fails_at(cli, path, key, 6, "entries 6..7 were removed")


def test_rechained_forgery_without_the_key(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    import hashlib

    path = fill(tmp_path, key)
    rows = audit_rows(path)
    # Rewrite entry 2 onwards with a consistent hash chain; the MACs cannot be forged.
    previous = rows[0][2]
    statements = []
    for seq, entry, _, _ in rows[1:]:
        forged = entry.replace(b'"actor":"script"', b'"actor":"someone"')
        new_hash = hashlib.sha256(previous + forged).digest()
        statements.append(
            ("UPDATE audit SET entry = ?, hash = ? WHERE seq = ?", (forged, new_hash, seq))
        )
        previous = new_hash
    tamper(path, *statements)
    verify_fails_at(cli, path, key, 2, "rewritten without the key")


def test_subjects_of_an_operation_cannot_be_changed(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    path = fill(tmp_path, key)
    tamper(
        path,
        (
            "DELETE FROM audit_subjects WHERE (op, pseudonym) IN "
            "(SELECT op, pseudonym FROM audit_subjects LIMIT 1)",
            (),
        ),
    )
    result = cli("audit", "verify", str(path), "--key-file", str(key), "--format", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "list of records" in json.loads(result.stdout)["problem"]


def test_expect_head_proves_the_log_was_not_rewritten(
    cli: InvokeCli, tmp_path: Path, key: Path
) -> None:
    path = fill(tmp_path, key)
    head = audit_rows(path)[-1][2].hex()
    with open_store(path, KeySource.from_key_file(key)) as store:
        store.put([{"customer_id": "later"}])
    ok = cli("audit", "verify", str(path), "--key-file", str(key), "--expect-head", head)
    assert ok.exit_code == 0, ok.stderr
    unknown = cli("audit", "verify", str(path), "--key-file", str(key), "--expect-head", "00" * 32)
    assert unknown.exit_code == ExitCode.CHECK_FAILED
    assert "expected head hash is no longer in the log" in unknown.stderr


def test_rotation_and_revocation_keep_the_log_verifiable(tmp_path: Path, key: Path) -> None:
    officer = KeySource.from_key_file(new_key_file(tmp_path / "o.key").path)
    with store_at(tmp_path, key) as store:
        store.put([{"customer_id": f"C-{i}"} for i in range(5)])
        store.add_holder(officer)
        store.rotate_data_keys()
    with open_store(tmp_path / "s.crec", officer) as store:
        store.remove_holder(next(h.key_id for h in store.holders() if h.key_id != store.key_id))
        result = store.audit_verify()
        assert result.ok, result.problem
        actions = [e["action"] for e in store.audit_query(AuditQuery()).entries]
        assert actions[-6:] == [
            "key-add",
            "key-add",
            "key-rotate",
            "key-rotate",
            "key-remove",
            "key-remove",
        ]


def test_query_filters(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    path = tmp_path / "s.crec"
    with store_at(tmp_path, key, actor="alice") as store:
        store.put([{"customer_id": "C-1"}, {"customer_id": "C-2"}])
    with open_store(
        path, KeySource.from_key_file(key), context=AuditContext(command="custrec get", actor="bob")
    ) as store:
        store.get("C-2")
        store.to_pandas()
    assert {e["actor"] for e in entries(cli, path, key, "--actor", "bob")} == {"bob"}
    gets = entries(cli, path, key, "--command", "get")
    assert {e["command"] for e in gets} == {"custrec get"}
    c1 = entries(cli, path, key, "--customer", "C-1")
    # the put listing C-1, and bob's read of every record; not bob's read of C-2
    assert [(e["actor"], e["action"], e["phase"]) for e in c1] == [
        ("alice", "put", "intent"),
        ("alice", "put", "outcome"),
        ("bob", "read-all", "access"),
    ]
    assert entries(cli, path, key, "--since", "2999-01-01") == []
    assert len(entries(cli, path, key, "--until", "2999-01-01")) == len(entries(cli, path, key))
    resolved = entries(cli, path, key, "--actor", "bob", "--command", "get", "--resolve-ids")
    assert resolved[0]["ids"] == ["C-2"]
    bad = cli("audit", "show", str(path), "--key-file", str(key), "--since", "last tuesday")
    assert bad.exit_code == ExitCode.USAGE


def test_no_personal_data_in_the_log(cli: InvokeCli, tmp_path: Path, key: Path) -> None:
    canaries = {
        "customer_id": "CANARY-ID-99317",
        "email": "zz.canary.7741@example.org",
        "phone": "+44 7700 900417",
        "name": "Canary Ødegaard-Přemysl",
        "note": "canary note: card 4111 1111 1111 1111",
    }
    path = tmp_path / "s.crec"
    with store_at(tmp_path, key) as store:
        store.put([canaries])
        store.get(canaries["customer_id"])
        store.find("email", canaries["email"])
        store.find("phone", canaries["phone"])
        store.update(canaries["customer_id"], set_fields={"name": "Canary Renamed-Ølsen"})
        store.to_pandas()
        store.delete([canaries["customer_id"]])
    assert cli("verify", str(path), "--key-file", str(key)).exit_code == 0
    with sqlite3.connect(path) as db:
        logged = b"".join(
            bytes(row[0]) if isinstance(row[0], bytes) else str(row[0]).encode()
            for table, column in (
                ("audit", "entry"),
                ("audit_subjects", "pseudonym"),
                ("audit_subjects", "op"),
            )
            for row in db.execute(f"SELECT {column} FROM {table}")
        )
    shown = entries(cli, path, key)
    assert len(shown) >= 10
    # (not "4111" alone: four digits occur by chance in the log's hex MACs and times)
    card = ["4111 1111 1111 1111", "4111111111111111"]
    for value in [*canaries.values(), "Canary Renamed-Ølsen", "7700900417", *card]:
        for form in {value, value.lower(), value.upper()}:
            assert form.encode() not in logged, form
            assert form not in json.dumps(shown, ensure_ascii=False), form


# --- audit show in a terminal ----------------------------------------------------------


@pytest.fixture
def busy_store(cli: InvokeCli, tmp_path: Path, key: Path) -> Path:
    """A store whose audit trail has wide entries (a collect of many fields)."""
    store = tmp_path / "wide.crec"
    assert cli("init", str(store), "--key-file", str(key)).exit_code == 0
    names = [f"a_rather_long_field_name_{i}" for i in range(12)]
    source = tmp_path / "in.csv"
    source.write_text(
        "customer_id," + ",".join(names) + "\nC-1," + ",".join("x" * 12) + "\n", encoding="utf-8"
    )
    collected = cli("collect", str(store), str(source), "--key-file", str(key), "--reason", "r")
    assert collected.exit_code == 0, collected.stderr
    return store


def _header(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return lines[lines.index("") + 1].split()


@pytest.mark.parametrize("width", [80, 120])
def test_audit_show_table_fits_the_terminal(
    cli: InvokeCli, busy_store: Path, key: Path, width: int
) -> None:
    result = cli(
        "audit", "show", str(busy_store), "--key-file", str(key), env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= width
    header = _header(result.stdout)
    assert header[:5] == ["seq", "at", "actor", "command", "action"]
    assert "--wide" in result.stderr


def test_audit_show_is_80_columns_wide_when_not_a_terminal(busy_store: Path, key: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "custrec", "audit", "show", str(busy_store), "--key-file", str(key)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80


def test_audit_show_wide_columns_and_other_formats_keep_every_column(
    cli: InvokeCli, busy_store: Path, key: Path
) -> None:
    args = ["audit", "show", str(busy_store), "--key-file", str(key)]
    env = {"COLUMNS": "80"}
    wide = cli(*args, "--wide", env=env)
    assert _header(wide.stdout) == list(AuditEntries.COLUMNS)
    assert max(len(line) for line in wide.stdout.splitlines()) > 200
    picked = cli(*args, "--columns", "seq,fields", env=env)
    assert _header(picked.stdout) == ["seq", "fields"]
    as_csv = cli(*args, "--format", "csv", env=env)
    assert as_csv.stdout.splitlines()[0].split(",") == list(AuditEntries.COLUMNS)
    assert "a_rather_long_field_name_11" in as_csv.stdout
    bad = cli(*args, "--columns", "seq,nope")
    assert bad.exit_code == ExitCode.USAGE
    assert "--columns nope" in bad.stderr
