"""Legal hold, restriction of processing and erasure: what each refuses, what erasure
leaves in the files (nothing), tombstones, and re-erasure after a backup is restored."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.store import KeySource, StoreSettings, create_store, open_store
from custrec.store.states import LegalHoldError, RecordRestrictedError

from .conftest import InvokeCli, copy_store, write

CANARY_EMAIL = "zq.canary.erase@example.org"
CANARY_NAME = "Quixotelle"
COLUMNS = ["customer_id", "name", "email", "phone", "country", "notes"]


def rows(n: int = 12) -> list[dict[str, Any]]:
    out = [
        {
            "customer_id": f"C-{i:03d}",
            "name": f"Person {i}",
            "email": f"p{i}@example.com",
            "phone": f"+44 7911 {100000 + i}",
            "country": "GB",
            "notes": f"note {i}",
        }
        for i in range(1, n + 1)
    ]
    out[4].update(name=CANARY_NAME, email=CANARY_EMAIL, notes=f"{CANARY_NAME} called")
    return out


def csv_text(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: InvokeCli) -> Path:
    key = tmp_path / "officer.key"
    assert cli("key", "new", str(key)).exit_code == 0
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    monkeypatch.setenv("CUSTREC_ACTOR", "officer")
    for name in ("CUSTREC_PASSPHRASE", "CUSTREC_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return key


@pytest.fixture
def store(cli: InvokeCli, tmp_path: Path) -> Path:
    path = tmp_path / "customers.crec"
    assert cli("init", str(path), "--region", "GB", "--chunk-records", "4").exit_code == 0
    source = write(tmp_path / "in.csv", csv_text(rows()))
    result = cli("collect", str(path), str(source))
    assert result.exit_code == 0, result.stderr
    return path


def audit_entries(cli: InvokeCli, store: Path) -> list[dict[str, Any]]:
    result = cli("audit", "show", str(store), "--format", "json")
    entries: list[dict[str, Any]] = json.loads(result.stdout)["entries"]
    return entries


def test_a_held_record_cannot_be_erased_until_released(cli: InvokeCli, store: Path) -> None:
    assert cli("hold", str(store), "C-005", "--reason", "litigation 17").exit_code == 0
    refused = cli("erase", str(store), "C-005", "--reason", "request 1")
    assert refused.exit_code == 1
    assert "legal hold" in refused.stderr
    assert cli("get", str(store), "C-005").exit_code == 0  # still there
    again = cli("hold", str(store), "C-005", "--reason", "litigation 17")
    assert "already" in again.stderr
    assert cli("release", str(store), "C-005", "--reason", "closed").exit_code == 0
    assert cli("erase", str(store), "C-005", "--reason", "request 1").exit_code == 0
    assert cli("get", str(store), "C-005").exit_code == 6
    actions = [e["action"] for e in audit_entries(cli, store)]
    assert {"hold", "release", "erase"} <= set(actions)


def test_hold_is_checked_at_the_moment_of_deletion(
    cli: InvokeCli, store: Path, key_env: Path
) -> None:
    """A hold set by another process after this one opened the store still stops it."""
    with open_store(store, KeySource.from_key_file(key_env)) as first:
        with open_store(store, KeySource.from_key_file(key_env)) as second:
            second.set_state("hold", "C-002", True)
        with pytest.raises(LegalHoldError):
            first.delete(["C-002"])
        with pytest.raises(LegalHoldError):
            first.erase("C-002")
        assert first.get("C-002").id == "C-002"


def test_a_restricted_record_is_refused_or_left_out_by_processing_commands(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    assert cli("restrict", str(store), "C-003", "--reason", "accuracy contested").exit_code == 0
    get = cli("get", str(store), "C-003")
    assert get.exit_code == 1
    assert "restricted" in get.stderr
    assert cli("get", str(store), "C-004").exit_code == 0
    update = cli("update", str(store), "C-003", "--set", "notes=x", "--reason", "fix")
    assert update.exit_code == 1
    exported = cli("export", str(store), "--format", "ndjson")
    ids = [json.loads(line)["customer_id"] for line in exported.stdout.splitlines()]
    assert "C-003" not in ids
    assert len(ids) == 11
    assert "1 restricted record(s) left out" in exported.stderr
    found = cli("find", str(store), "--email", "p3@example.com")
    assert found.exit_code == 6
    redacted = cli("redact", str(store), "-o", "-", "--format", "ndjson", "--policy",
                   str(write(tmp_path / "p.yaml", "default: keep\n")))  # fmt: skip
    assert redacted.exit_code == 0, redacted.stderr
    assert "p3@example.com" not in redacted.stdout
    assert "p4@example.com" in redacted.stdout
    scanned = cli("scan", str(store), "--field", "email")
    assert '"C-003"' not in scanned.stdout
    assert "1 restricted record(s) left out" in scanned.stderr
    assert cli("unrestrict", str(store), "C-003", "--reason", "resolved").exit_code == 0
    assert cli("get", str(store), "C-003").exit_code == 0
    assert cli("update", str(store), "C-003", "--set", "notes=x").exit_code == 0


def test_a_restricted_record_can_still_be_erased(cli: InvokeCli, store: Path) -> None:
    assert cli("restrict", str(store), "C-007", "--reason", "objection").exit_code == 0
    assert cli("erase", str(store), "C-007", "--reason", "request").exit_code == 0
    assert cli("get", str(store), "C-007").exit_code == 6


def _raw_chunk(store: Path, record_id: str, key: Path) -> tuple[bytes, bytes]:
    """The ciphertext of the chunk holding ``record_id`` and its sealed data key, read
    from the data file and the key store as an attacker with a copy would."""
    with open_store(store, KeySource.from_key_file(key)) as opened:
        token = bytes.fromhex(opened.token_hex(record_id))
    db = sqlite3.connect(store)
    try:
        chunk_id = db.execute("SELECT chunk_id FROM id_index WHERE token = ?", (token,)).fetchone()
        payload = db.execute(
            "SELECT payload FROM chunk_parts WHERE chunk_id = ? AND part = 0", (chunk_id[0],)
        ).fetchone()[0]
        key_no = db.execute(
            "SELECT key_no FROM chunks WHERE chunk_id = ?", (chunk_id[0],)
        ).fetchone()[0]
    finally:
        db.close()
    keys = sqlite3.connect(store.with_name(store.name + ".keys"))
    try:
        sealed_key = keys.execute(
            "SELECT sealed FROM data_keys WHERE key_no = ?", (key_no,)
        ).fetchone()[0]
    finally:
        keys.close()
    return bytes(payload), bytes(sealed_key)


def test_erasure_leaves_nothing_of_the_record_in_any_file(
    cli: InvokeCli, store: Path, key_env: Path
) -> None:
    payload, sealed_key = _raw_chunk(store, "C-005", key_env)
    with open_store(store, KeySource.from_key_file(key_env)) as opened:
        email_token = opened._index.normal_token("email", CANARY_EMAIL)  # white-box
        id_token = bytes.fromhex(opened.token_hex("C-005"))
        pseudonym = opened.pseudonym_of("C-005")
    result = cli("erase", str(store), "C-005", "--reason", "erasure request 88")
    assert result.exit_code == 0, result.stderr
    files = [p for p in store.parent.iterdir() if p.name.startswith(store.name)]
    assert {p.name for p in files} >= {store.name, f"{store.name}.erasures", f"{store.name}.keys"}
    for path in files:
        raw = path.read_bytes()
        for secret in (CANARY_EMAIL.encode(), CANARY_NAME.encode(), b"C-005"):
            assert secret not in raw, (path.name, secret)
        # The old ciphertext and its data key are gone, not merely unreferenced.
        assert payload[16:80] not in raw, path.name
        assert sealed_key[16:] not in raw, path.name
        assert email_token not in raw or path.name.endswith(".erasures"), path.name
    wal = store.with_name(store.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    db = sqlite3.connect(store)
    try:
        assert (
            db.execute("SELECT COUNT(*) FROM id_index WHERE token = ?", (id_token,)).fetchone()[0]
            == 0
        )
        assert (
            db.execute(
                "SELECT COUNT(*) FROM match_index WHERE token = ?", (email_token,)
            ).fetchone()[0]
            == 0
        )
    finally:
        db.close()
    erase_entries = [e for e in audit_entries(cli, store) if e["action"] == "erase"]
    assert erase_entries
    assert any(pseudonym in json.dumps(e) for e in erase_entries)
    assert "C-005" not in json.dumps(audit_entries(cli, store))
    assert cli("verify", str(store)).exit_code == 0


def test_collect_refuses_an_erased_customer_unless_readmitted(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    assert cli("erase", str(store), "C-005", "--reason", "request").exit_code == 0
    back = write(tmp_path / "back.csv", csv_text([rows()[4]]))
    refused = cli("collect", str(store), str(back))
    assert refused.exit_code == 1
    assert "erased" in refused.stderr
    assert "C-005" in refused.stderr
    new_id = dict(rows()[4], customer_id="C-900", email=CANARY_EMAIL.upper())
    other = write(tmp_path / "other.csv", csv_text([new_id]))
    assert cli("collect", str(store), str(other)).exit_code == 1  # same email, new id
    assert cli("get", str(store), "C-900").exit_code == 6
    readmitted = cli("collect", str(store), str(back), "--readmit-erased")
    assert readmitted.exit_code == 0, readmitted.stderr
    assert cli("get", str(store), "C-005").exit_code == 0


def test_reapply_erasures_after_restoring_an_older_backup(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.crec"
    copy_store(store, backup)
    assert cli("erase", str(store), "C-005", "--reason", "request").exit_code == 0
    assert cli("erase", str(store), "C-009", "--reason", "request").exit_code == 0
    copy_store(backup, store)  # the restore brings both back, but the file remembers
    hidden = cli("get", str(store), "C-005")
    assert hidden.exit_code == 6
    assert "reapply-erasures" in hidden.stderr
    result = cli("reapply-erasures", str(store), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["erased_again"] == 2
    for record_id in ("C-005", "C-009"):
        assert cli("get", str(store), record_id).exit_code == 6
    assert CANARY_EMAIL.encode() not in store.read_bytes()
    again = cli("reapply-erasures", str(store), "--format", "json")
    assert json.loads(again.stdout)["erased_again"] == 0
    back = write(tmp_path / "back.csv", csv_text([rows()[4]]))
    assert cli("collect", str(store), str(back)).exit_code == 1  # tombstones restored


def test_altered_tombstones_are_refused(cli: InvokeCli, store: Path) -> None:
    assert cli("erase", str(store), "C-005", "--reason", "request").exit_code == 0
    side = store.with_name(store.name + ".erasures")
    text = side.read_text()
    side.write_text(text.replace('"at":"', '"at":"1', 1))
    result = cli("reapply-erasures", str(store))
    assert result.exit_code == 4
    assert "erasures" in result.stderr


def test_the_states_cannot_be_removed_from_the_file_unnoticed(cli: InvokeCli, store: Path) -> None:
    assert cli("hold", str(store), "C-002", "--reason", "case").exit_code == 0
    db = sqlite3.connect(store)
    db.execute("DELETE FROM header WHERE name = 'states'")
    db.commit()
    db.close()
    result = cli("erase", str(store), "C-002", "--reason", "x")
    assert result.exit_code == 4
    assert "altered" in result.stderr


def test_erase_except_keeps_only_the_named_fields_and_records_the_ground(
    cli: InvokeCli, store: Path
) -> None:
    missing = cli("erase", str(store), "C-005", "--reason", "r", "--except", "country")
    assert missing.exit_code == 2
    result = cli(
        "erase", str(store), "C-005", "--reason", "request 9",
        "--except", "country", "--ground", "tax records, 10 years",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    record = json.loads(cli("get", str(store), "C-005", "--format", "json").stdout)
    fields = record["records"][0]["fields"]
    assert fields["country"] == "GB"
    assert fields["email"] is None
    assert fields["name"] is None
    assert CANARY_EMAIL.encode() not in store.read_bytes()
    entries = [e for e in audit_entries(cli, store) if e["action"] == "erase"]
    assert any("tax records" in json.dumps(e) for e in entries)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    held=st.sets(st.integers(1, 10), max_size=5),
    erase=st.lists(st.integers(1, 10), max_size=8),
    restricted=st.sets(st.integers(1, 10), max_size=3),
)
def test_no_held_record_is_ever_erased(
    tmp_path_factory: pytest.TempPathFactory,
    held: set[int],
    erase: list[int],
    restricted: set[int],
) -> None:
    from custrec.keyfile import new_key_file

    directory = tmp_path_factory.mktemp("prop")
    source = KeySource.from_key_file(new_key_file(directory / "k.key").path)
    with create_store(
        directory / "s.crec", source, settings=StoreSettings(chunk_records=3)
    ) as opened:
        opened.put(rows(10))
        for n in held:
            opened.set_state("hold", f"C-{n:03d}", True)
        for n in restricted:
            opened.set_state("restricted", f"C-{n:03d}", True)
        erased: set[int] = set()
        for n in erase:
            if n in erased:
                continue
            try:
                opened.erase(f"C-{n:03d}")
                erased.add(n)
            except LegalHoldError:
                assert n in held
        remaining = {int(str(b)[2:]) for b in _ids(opened)}
        assert held <= remaining
        assert not (erased & remaining)
        assert remaining == set(range(1, 11)) - erased
        for n in restricted - erased:
            with pytest.raises(RecordRestrictedError):
                opened.get(f"C-{n:03d}")


def _ids(opened: Any) -> list[str]:
    return [
        i
        for batch in opened.iter_batches(include_restricted=True)
        for i in batch.column("customer_id").to_pylist()
    ]


def test_erasure_empties_the_journal_while_the_store_stays_open(store: Path, key_env: Path) -> None:
    """Old page images in ``-wal`` would hold the deleted ciphertext until the last
    connection closes; erase moves them out at once."""
    payload, sealed_key = _raw_chunk(store, "C-005", key_env)
    other = sqlite3.connect(store)
    other.execute("SELECT COUNT(*) FROM chunks").fetchone()
    try:
        with open_store(store, KeySource.from_key_file(key_env)) as opened:
            opened.put([dict(rows()[0], customer_id="C-500", email="x500@example.com")])
            opened.erase("C-005")
            wal = store.with_name(store.name + "-wal")
            raw = store.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
            assert payload[16:80] not in raw
            assert sealed_key[16:] not in raw
            assert not wal.exists() or wal.stat().st_size == 0
    finally:
        other.close()


def test_access_reports_everything_held_even_when_restricted(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    log = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,customer_id,channel,created_at\n"
        "I-1,K-1,C-005,phone,2026-03-02T09:00:00Z\n"
        "I-2,K-2,C-006,chat,2026-03-02T10:00:00Z\n"
        "I-3,K-3,C-005,email,2026-03-03T09:00:00Z\n",
    )
    assert cli("restrict", str(store), "C-005", "--reason", "contested").exit_code == 0
    out = tmp_path / "sar.json"
    result = cli(
        "access", str(store), "C-005", "--reason", "SAR 31", "--logs", str(log), "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["version"] == 1
    assert report["kind"] == "access"
    assert report["restricted"] is True
    values = {f["name"]: f["value"] for f in report["fields"]}
    assert values["email"] == CANARY_EMAIL
    assert values["name"] == CANARY_NAME
    assert [r["interaction_id"] for r in report["interactions"]["rows"]] == ["I-1", "I-3"]
    assert {"collect", "restrict"} <= {h["action"] for h in report["history"]}
    assert all("actor" not in h for h in report["history"])
    assert report["provenance"]["version"] == 1
    audit = [e for e in audit_entries(cli, store) if e["action"] == "access"]
    assert audit
    assert audit[-1]["reason"] == "SAR 31"
    as_csv = cli("access", str(store), "C-005", "--reason", "SAR 31", "--format", "csv")
    assert f"field,email,{CANARY_EMAIL}" in as_csv.stdout
    assert cli("access", str(store), "C-404", "--reason", "SAR 32").exit_code == 6


def test_access_states_when_each_retention_period_ends(cli: InvokeCli, tmp_path: Path) -> None:
    from .conftest import REPO

    path = tmp_path / "c.crec"
    schema = REPO / "schemas" / "customer.yaml"
    assert cli("init", str(path), "--schema", str(schema)).exit_code == 0
    examples = REPO / "examples" / "customers.csv"
    collected = cli(
        "collect", str(path), str(examples), "--on-invalid", "reject",
        "--rejects", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert collected.exit_code == 0, collected.stderr
    report = json.loads(cli("access", str(path), "C-000004", "--reason", "SAR").stdout)
    ends = {r["class"]: (r["trigger_value"], r["ends_on"]) for r in report["retention"]}
    assert ends == {
        "customer": ("2025-07-18", "2031-07-18"),
        "marketing": ("2025-07-18", "2027-07-18"),
    }
    purposes = set(report["purposes"])
    assert {"service", "marketing"} <= purposes


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        ("2024-02-29", "1y", "2025-02-28"),
        ("2026-01-31", "1m", "2026-02-28"),
        ("2026-01-31", "30d", "2026-03-02"),
        ("2020-06-15", "6y", "2026-06-15"),
        ("2026-12-31", "2w", "2027-01-14"),
    ],
)
def test_periods_add_to_dates_as_calendars_do(start: str, period: str, end: str) -> None:
    import datetime as dt

    from custrec.access import add_period

    assert add_period(dt.date.fromisoformat(start), period).isoformat() == end


def test_erase_and_purge_replace_the_customer_in_interaction_log_stores(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    from .conftest import REPO

    log = tmp_path / "calls.crec"
    schema = REPO / "schemas" / "interaction.yaml"
    assert cli("init", str(log), "--schema", str(schema)).exit_code == 0
    rows_text = "interaction_id,case_id,customer_id,channel,created_at,csat\n" + "".join(
        f"I-{n},K-{n},C-00{1 + n % 3},phone,2026-03-0{1 + n % 5}T09:00:00Z,{1 + n % 5}\n"
        for n in range(1, 13)
    )
    assert cli("collect", str(log), str(write(tmp_path / "calls.csv", rows_text))).exit_code == 0
    before = json.loads(cli("report", "kpi", str(log), "--format", "json").stdout)["total"]
    held = cli("hold", str(store), "C-002", "--reason", "case")
    assert held.exit_code == 0
    refused = cli("erase", str(store), "C-002", "--reason", "r", "--logs", str(log))
    assert refused.exit_code == 1
    exported = cli("export", str(log), "--format", "ndjson").stdout
    assert '"C-002"' in exported  # nothing changed for a held customer
    result = cli("erase", str(store), "C-003", "--reason", "request 12", "--logs", str(log))
    assert result.exit_code == 0, result.stderr
    rows = [
        json.loads(line)
        for line in cli("export", str(log), "--format", "ndjson").stdout.splitlines()
    ]
    customers = [r["customer_id"] for r in rows]
    assert "C-003" not in customers
    replaced = {c for c in customers if c.startswith("P-")}
    assert len(replaced) == 1  # one pseudonym, the same on each of their contacts
    assert customers.count(next(iter(replaced))) == 4
    after = json.loads(cli("report", "kpi", str(log), "--format", "json").stdout)["total"]
    assert after["csat"] == before["csat"]  # the KPIs stay computable, unchanged


def test_validate_and_report_leave_a_restricted_record_out_and_say_so(
    cli: InvokeCli, tmp_path: Path
) -> None:
    from .conftest import REPO

    customers = tmp_path / "c.crec"
    assert (
        cli("init", str(customers), "--schema", str(REPO / "schemas" / "customer.yaml")).exit_code
        == 0
    )
    cli(
        "collect", str(customers), str(REPO / "examples" / "customers.csv"),
        "--on-invalid", "reject", "--rejects", str(tmp_path / "r.csv"),
    )  # fmt: skip
    before = json.loads(cli("validate", str(customers), "--format", "json").stdout)
    assert cli("restrict", str(customers), "C-000004", "--reason", "contested").exit_code == 0
    after = cli("validate", str(customers), "--format", "json")
    assert "1 restricted record(s) left out" in after.stderr
    assert json.loads(after.stdout)["rows"] == before["rows"] - 1

    log = tmp_path / "calls.crec"
    assert (
        cli("init", str(log), "--schema", str(REPO / "schemas" / "interaction.yaml")).exit_code == 0
    )
    rows_text = "interaction_id,case_id,customer_id,channel,created_at,csat\n" + "".join(
        f"I-{n},K-{n},C-{n},phone,2026-03-02T09:00:00Z,{1 + n % 5}\n" for n in range(1, 11)
    )
    assert cli("collect", str(log), str(write(tmp_path / "calls.csv", rows_text))).exit_code == 0
    assert cli("restrict", str(log), "I-3", "--reason", "objection").exit_code == 0
    report = cli("report", "kpi", str(log), "--format", "json")
    assert report.exit_code == 0, report.stderr
    assert "1 restricted record(s) left out" in report.stderr
    assert json.loads(report.stdout)["total"]["interactions"] == 9


def test_erasing_a_record_in_a_grace_period_ends_the_grace_period(tmp_path: Path) -> None:
    """A record erased whole while a purge's grace period hides it leaves no grace
    state naming a record the store lacks (verify failed on it); one erased with fields
    kept stays in its grace period."""
    from custrec.keyfile import new_key_file

    source = KeySource.from_key_file(new_key_file(tmp_path / "k.key").path)
    rows = [{"customer_id": f"C-{i}", "email": f"c{i}@example.com", "tier": i} for i in range(6)]
    with create_store(tmp_path / "s.crec", source, settings=StoreSettings(chunk_records=4)) as s:
        s.put(rows)
        due = {
            "C-3": (1, "rule", "delete", "2099-01-01"),
            "C-4": (1, "rule", "delete", "2099-01-01"),
        }
        s.mark_purged(due, counts={})
        s.erase("C-3")
        s.erase("C-4", keep=["tier"], ground="tax law")
        assert s.verify() == 5
        plan_hidden = s._guard.states().purged  # white-box: the grace periods
        assert s.token_hex("C-3") not in plan_hidden
        assert s.token_hex("C-4") in plan_hidden
