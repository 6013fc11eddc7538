"""Retention purges: policies refused with their line, dry runs that change no byte,
plans applied only while the store still matches them, holds, anonymisation, and a
purge killed at any moment."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custrec.store import KeySource, StoreSettings, create_store, open_store

from .conftest import REPO, InvokeCli, copy_store, custrec_command, write

SCHEMA = REPO / "schemas" / "customer.yaml"
POLICY = REPO / "schemas" / "retention.yaml"
AS_OF = "2030-01-01"
COLUMNS = ["customer_id", "first_name", "last_name", "email", "country", "city",
           "date_of_birth", "created_at", "updated_at", "last_contact_at",
           "consent_marketing"]  # fmt: skip


def customers(n: int = 30) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        contact = None if i % 5 == 0 else f"20{10 + i % 15:02d}-03-0{1 + i % 8}T10:00:00Z"
        out.append(
            {
                "customer_id": f"C-{i:06d}",
                "first_name": f"Name{i}",
                "last_name": f"Family{i}",
                "email": f"person{i}@example.com",
                "country": "GB",
                "city": "Leeds",
                "date_of_birth": f"19{50 + i:02d}-0{1 + i % 9}-1{i % 10}",
                "created_at": f"20{10 + i % 10:02d}-01-01T00:00:00Z",
                "updated_at": f"20{10 + i % 10:02d}-01-01T00:00:00Z",
                "last_contact_at": contact,
                "consent_marketing": "true" if i % 2 else "false",
            }
        )
    return out


def csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: InvokeCli) -> Path:
    key = tmp_path / "officer.key"
    assert cli("key", "new", str(key)).exit_code == 0
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    monkeypatch.setenv("CUSTREC_ACTOR", "officer")
    monkeypatch.delenv("CUSTREC_FORMAT", raising=False)
    return key


@pytest.fixture
def store(cli: InvokeCli, tmp_path: Path) -> Path:
    path = tmp_path / "data" / "customers.crec"
    path.parent.mkdir()
    assert cli("init", str(path), "--schema", str(SCHEMA), "--chunk-records", "8").exit_code == 0
    result = cli("collect", str(path), str(write(tmp_path / "c.csv", csv_text(customers()))))
    assert result.exit_code == 0, result.stderr
    return path


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def purge(cli: InvokeCli, store: Path, *args: str) -> Any:
    return cli("purge", str(store), "--policy", str(POLICY), "--format", "json", *args)


def expected_due() -> tuple[set[str], set[str]]:
    """(ids to anonymise, ids to delete) under schemas/retention.yaml as of AS_OF,
    worked out here from the rules' words, not by the code under test."""
    anonymise, delete = set(), set()
    as_of = dt.date.fromisoformat(AS_OF)
    for row in customers():
        if row["last_contact_at"]:
            last = dt.date.fromisoformat(row["last_contact_at"][:10])
            if dt.date(last.year + 6, last.month, last.day) <= as_of:
                anonymise.add(row["customer_id"])
        else:
            created = dt.date.fromisoformat(row["created_at"][:10])
            if dt.date(created.year + 2, created.month, created.day) <= as_of:
                delete.add(row["customer_id"])
    return anonymise, delete


def ids(cli: InvokeCli, store: Path) -> list[dict[str, Any]]:
    out = cli("export", str(store), "--format", "ndjson")
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_a_dry_run_lists_what_is_due_and_changes_no_byte(cli: InvokeCli, store: Path) -> None:
    before = digests(store.parent)
    result = purge(cli, store, "--dry-run", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert digests(store.parent) == before
    plan = json.loads(result.stdout)
    anonymise, delete = expected_due()
    counts = {rule["id"]: rule["count"] for rule in plan["rules"]}
    assert counts == {"customer-inactive": len(anonymise), "never-contacted": len(delete)}
    assert plan["applied"] is False
    assert all("id" not in r for r in plan["records"])
    assert "C-0000" not in result.stdout  # pseudonyms only


def test_a_dry_run_labels_store_size_due_and_records_without_a_trigger_date(
    cli: InvokeCli, store: Path
) -> None:
    anonymise, delete = expected_due()
    never_contacted = sum(1 for row in customers() if not row["last_contact_at"])
    table = cli("purge", str(store), "--policy", str(POLICY), "--dry-run", "--as-of", AS_OF)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "records in the store:      30" in lines
    assert f"due (purged when applied): {len(anonymise) + len(delete)}" in lines
    header = next(line for line in lines if line.startswith("rule "))
    assert header.split() == ["rule", "action", "due", "no", "trigger", "date"]
    row = next(line for line in lines if line.startswith("customer-inactive"))
    assert row.split()[-1] == str(never_contacted)
    assert "no trigger date: records a rule applies to that have no date" in table.stderr
    document = json.loads(purge(cli, store, "--dry-run", "--as-of", AS_OF).stdout)
    assert document["store_records"] == 30
    assert document["due"] == len(anonymise) + len(delete) == len(document["records"])
    inactive = next(r for r in document["rules"] if r["id"] == "customer-inactive")
    assert inactive["without_trigger_date"] == never_contacted  # the old key stays


def test_show_ids_lists_the_ids_in_a_table_and_the_plan_message_says_how(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    anonymise, delete = expected_due()
    args = ["purge", str(store), "--policy", str(POLICY), "--as-of", AS_OF]
    shown = cli(*args, "--dry-run", "--show-ids")
    assert shown.exit_code == 0, shown.stderr
    listed = {line.split()[0] for line in shown.stdout.splitlines() if line.startswith("C-")}
    assert listed == anonymise | delete
    plain = cli(*args, "--plan", str(tmp_path / "plan.json"))
    assert plain.exit_code == 0, plain.stderr
    assert "C-0000" not in (tmp_path / "plan.json").read_text(encoding="utf-8")
    assert "audit pseudonym only" in plain.stderr
    assert "--show-ids" in plain.stderr
    with_ids = cli(*args, "--plan", str(tmp_path / "ids.json"), "--show-ids")
    assert with_ids.exit_code == 0, with_ids.stderr
    saved = json.loads((tmp_path / "ids.json").read_text(encoding="utf-8"))
    assert {r["id"] for r in saved["records"]} == anonymise | delete
    assert "by id and audit pseudonym" in with_ids.stderr


def test_apply_purges_exactly_the_plan_and_leaves_a_receipt(
    cli: InvokeCli, store: Path, tmp_path: Path, key_env: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert purge(cli, store, "--plan", str(plan_file), "--as-of", AS_OF).exit_code == 0
    planned = json.loads(plan_file.read_text())
    result = purge(cli, store, "--apply", str(plan_file))
    assert result.exit_code == 0, result.stderr
    anonymise, delete = expected_due()
    left = ids(cli, store)
    left_ids = {r["customer_id"] for r in left}
    assert not left_ids & (anonymise | delete)
    assert left_ids - {i for i in left_ids if i.startswith("ANON-")} == (
        {r["customer_id"] for r in customers()} - anonymise - delete
    )
    anonymous = [r for r in left if r["customer_id"].startswith("ANON-")]
    assert len(anonymous) == len(anonymise)
    for record in anonymous:
        assert record["email"] is None
        assert record["first_name"] is None
        assert record["last_name"] is None
        assert record["city"] == "Leeds"  # not personal: kept for statistics
        assert len(record["date_of_birth"]) == 4  # generalised to the year
    audit = json.loads(cli("audit", "show", str(store), "--format", "json").stdout)["entries"]
    receipt = [e for e in audit if e["action"] == "purge" and e["phase"] == "intent"][-1]
    assert set(receipt["pseudonyms"]) == {r["pseudonym"] for r in planned["records"]}
    with open_store(store, KeySource.from_key_file(key_env)) as opened:  # one at a time
        assert set(receipt["pseudonyms"]) == {opened.pseudonym_of(i) for i in anonymise | delete}
    outcome = [e for e in audit if e["action"] == "purge" and e["phase"] == "outcome"][-1]
    assert outcome["counts"]["rule:never-contacted"] == len(delete)
    again = purge(cli, store, "--dry-run", "--as-of", AS_OF)
    assert json.loads(again.stdout)["records"] == []  # anonymised ones are not due again


def test_validate_checks_anonymised_records_by_their_own_rules(
    cli: InvokeCli, store: Path, key_env: Path
) -> None:
    assert purge(cli, store, "--yes", "--as-of", AS_OF).exit_code == 0
    anonymise, _ = expected_due()
    result = cli("validate", str(store), "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    rules = {r["id"]: r for r in report["rules"]}
    for rule in ("anonymised.id", "anonymised.empty", "anonymised.generalised"):
        assert rules[rule]["failed"] == 0
    assert rules["reachable"]["failed"] == 0  # no email or phone: not a customer's rule
    assert report["rows"] == len(customers()) - len(expected_due()[1])

    # A record marked anonymised that still names its customer is caught.
    from custrec.anonymised import ANONYMISED_SOURCE

    with open_store(store, KeySource.from_key_file(key_env)) as opened:
        anonymous = [
            row
            for batch in opened.iter_batches(system=True)
            for row in batch.to_pylist()
            if str(row["customer_id"]).startswith("ANON-")
        ]
        victim = anonymous[0]
        bad = {k: v for k, v in victim.items() if k not in ("_version", "_collected")}
        bad.update(first_name="Name1", postcode="LS1 4AP", customer_id="C-999999")
        bad["_source"] = f"{ANONYMISED_SOURCE} (rule test)"
        opened.purge({victim["customer_id"]: (victim["_version"], bad)})
    result = cli("validate", str(store), "--format", "json")
    assert result.exit_code == 1
    rules = {r["id"]: r for r in json.loads(result.stdout)["rules"]}
    assert rules["anonymised.empty"]["failed"] == 1
    assert rules["anonymised.empty"]["examples"][0]["column"] == "first_name"
    assert rules["anonymised.generalised"]["failed"] == 1
    assert rules["anonymised.id"]["failed"] == 1
    assert len(anonymise) == len(anonymous)


def test_a_plan_is_refused_when_the_store_changed(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    purge(cli, store, "--plan", str(plan_file), "--as-of", AS_OF)
    anonymise, _ = expected_due()
    victim = sorted(anonymise)[0]
    assert cli("update", str(store), victim, "--set", "city=York").exit_code == 0
    before = {r["customer_id"] for r in ids(cli, store)}
    result = purge(cli, store, "--apply", str(plan_file))
    assert result.exit_code == 1
    assert "no longer matches the plan" in result.stderr
    assert {r["customer_id"] for r in ids(cli, store)} == before


def test_a_hold_set_after_the_plan_stops_it(cli: InvokeCli, store: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    purge(cli, store, "--plan", str(plan_file), "--as-of", AS_OF)
    _, delete = expected_due()
    held = sorted(delete)[0]
    assert cli("hold", str(store), held, "--reason", "litigation").exit_code == 0
    assert purge(cli, store, "--apply", str(plan_file)).exit_code == 1
    assert cli("get", str(store), held).exit_code == 0
    result = purge(cli, store, "--yes", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["held_skipped"] == 1
    assert cli("get", str(store), held).exit_code == 0


def test_store_purge_rechecks_the_hold_inside_its_transaction(store: Path, key_env: Path) -> None:
    from custrec.store.states import LegalHoldError

    with open_store(store, KeySource.from_key_file(key_env)) as opened:
        version = opened.get("C-000005").version
        opened.set_state("hold", "C-000005", True)
        with pytest.raises(LegalHoldError):
            opened.purge({"C-000005": (version, None)})
        assert opened.get("C-000005").version == version


@pytest.mark.parametrize(
    ("policy", "line", "words"),
    [
        ("rules:\n  - trigger: last_seen\n    period: 2y\n", 2, "unknown field 'last_seen'"),
        ("rules:\n  - trigger: created_at\n    period: two years\n", 3, "period 'two years'"),
        ("rules:\n  - class: forever\n", 2, "unknown retention class 'forever'"),
        (
            "rules:\n  - trigger: created_at\n    period: 1y\n    where: colour == 'red'\n",
            4,
            "unknown field 'colour'",
        ),
        ("rules:\n  - trigger: created_at\n    period: 1y\n    action: shred\n", 4, "action"),
    ],
)
def test_a_policy_that_cannot_be_used_is_refused_with_its_line(
    cli: InvokeCli, store: Path, tmp_path: Path, policy: str, line: int, words: str
) -> None:
    path = write(tmp_path / "p.yaml", policy)
    result = cli("purge", str(store), "--policy", str(path), "--dry-run")
    assert result.exit_code == 2
    assert f"p.yaml:{line}:" in result.stderr
    assert words in result.stderr


def test_one_mode_must_be_chosen(cli: InvokeCli, store: Path) -> None:
    assert purge(cli, store).exit_code == 2
    assert purge(cli, store, "--dry-run", "--yes").exit_code == 2


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    held=st.sets(st.integers(1, 30), max_size=6),
    period=st.integers(1, 20),
    unit=st.sampled_from(["y", "m"]),
    as_of=st.dates(dt.date(2012, 1, 1), dt.date(2040, 1, 1)),
)
def test_the_purged_set_is_the_planned_set_and_never_a_held_record(
    tmp_path_factory: pytest.TempPathFactory,
    held: set[int],
    period: int,
    unit: str,
    as_of: dt.date,
) -> None:
    from custrec import retention
    from custrec.keyfile import new_key_file
    from custrec.schema import load_schema

    directory = tmp_path_factory.mktemp("purge")
    source = KeySource.from_key_file(new_key_file(directory / "k.key").path)
    schema = load_schema(SCHEMA)
    rows = [{k: v for k, v in r.items() if v is not None} for r in customers()]
    for row in rows:
        row["consent_marketing"] = row["consent_marketing"] == "true"
    with create_store(
        directory / "s.crec", source, settings=StoreSettings(chunk_records=7)
    ) as opened:
        opened.put(rows)
        for n in held:
            opened.set_state("hold", f"C-{n:06d}", True)
        text = f"rules:\n  - trigger: created_at\n    period: {period}{unit}\n"
        policy = retention.parse_policy(text, "p.yaml", dict(opened.columns), schema)

        # -shm is SQLite's shared-memory index of the journal (read marks, no data).
        def files() -> dict[str, bytes]:
            return {
                p.name: p.read_bytes()
                for p in directory.iterdir()
                if p.name.startswith("s.crec") and not p.name.endswith("-shm")
            }

        before = files()
        plan = retention.plan_purge(opened, policy, as_of, audited=False)
        assert files() == before  # planning wrote nothing
        planned = {r.record_id for r in plan.records}
        assert not planned & {f"C-{n:06d}" for n in held}
        retention.apply_purge(opened, plan, policy, schema)
        remaining = {i for b in opened.iter_batches() for i in b.column("customer_id").to_pylist()}
    every = {r["customer_id"] for r in rows}
    assert remaining == every - planned
    assert {f"C-{n:06d}" for n in held} <= remaining


def test_a_purge_killed_at_any_moment_ends_as_one_uninterrupted_run(
    store: Path, tmp_path: Path, key_env: Path
) -> None:
    """kill -9 at several points of `purge --yes`, then run it again: the same records
    are left as after one uninterrupted purge of a copy."""
    reference = tmp_path / "reference.crec"
    copy_store(store, reference)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUSTREC_KEY_FILE": str(key_env)}
    command = ["purge", "--policy", str(POLICY), "--yes", "--as-of", AS_OF]

    def run(path: Path, kill_after: float | None = None) -> None:
        process = subprocess.Popen(
            custrec_command(command[0], str(path), *command[1:]),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if kill_after is None:
            assert process.wait(timeout=120) == 0
            return
        time.sleep(kill_after)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)

    run(reference)
    for delay in (0.05, 0.3, 0.6, 0.9, 1.2):
        run(store, kill_after=delay)
    run(store)
    with (
        open_store(store, KeySource.from_key_file(key_env)) as killed,
        open_store(reference, KeySource.from_key_file(key_env)) as whole,
    ):

        def shape(opened: Any) -> tuple[set[str], int]:
            found = [i for b in opened.iter_batches() for i in b.column("customer_id").to_pylist()]
            return {i for i in found if not i.startswith("ANON-")}, sum(
                1 for i in found if i.startswith("ANON-")
            )

        assert shape(killed) == shape(whole)
        assert killed.verify() == whole.verify()
    assert sys.executable  # the processes ran under this interpreter


def test_a_grace_period_hides_then_destroys_and_restore_brings_back(
    cli: InvokeCli, store: Path
) -> None:
    anonymise, delete = expected_due()
    first = purge(cli, store, "--yes", "--as-of", AS_OF, "--grace", "30d")
    assert first.exit_code == 0, first.stderr
    plan = json.loads(first.stdout)
    assert {r["until"] for r in plan["records"]} == {"2030-01-31"}
    gone = sorted(delete)[0]
    back = sorted(delete)[1]
    assert cli("get", str(store), gone).exit_code == 6  # invisible
    assert not {r["customer_id"] for r in ids(cli, store)} & (anonymise | delete)
    assert cli("restore", str(store), back, "--reason", "purged in error").exit_code == 0
    assert cli("get", str(store), back).exit_code == 0
    assert cli("restore", str(store), back, "--reason", "again").exit_code == 6
    early = json.loads(purge(cli, store, "--dry-run", "--as-of", "2030-01-15").stdout)
    assert early["in_grace"] == len(anonymise | delete) - 1
    # Only the restored record is due again (this dry run gives no grace period).
    assert [(r["rule"], r["until"]) for r in early["records"]] == [("never-contacted", None)]
    late = purge(cli, store, "--yes", "--as-of", "2030-02-01")
    assert late.exit_code == 0, late.stderr
    done = json.loads(late.stdout)
    assert done["grace_ended"] == len(anonymise | delete) - 1
    left = {r["customer_id"] for r in ids(cli, store)}
    assert gone not in left
    assert back not in left  # restored, then due again by its rule: deleted at once
    assert cli("restore", str(store), gone, "--reason", "too late").exit_code == 6
    anonymous = [i for i in left if i.startswith("ANON-")]
    assert len(anonymous) == len(anonymise)


def test_purge_replaces_the_purged_customers_in_interaction_log_stores(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    log = tmp_path / "calls.crec"
    assert (
        cli("init", str(log), "--schema", str(REPO / "schemas" / "interaction.yaml")).exit_code == 0
    )
    rows_text = "interaction_id,case_id,customer_id,channel,created_at\n" + "".join(
        f"I-{n},K-{n},C-{n:06d},phone,2026-03-02T09:00:00Z\n" for n in range(1, 31)
    )
    assert cli("collect", str(log), str(write(tmp_path / "calls.csv", rows_text))).exit_code == 0
    result = purge(cli, store, "--yes", "--as-of", AS_OF, "--logs", str(log))
    assert result.exit_code == 0, result.stderr
    anonymise, delete = expected_due()
    customers = [
        json.loads(line)["customer_id"]
        for line in cli("export", str(log), "--format", "ndjson").stdout.splitlines()
    ]
    assert len(customers) == 30
    assert not set(customers) & (anonymise | delete)
    assert sum(1 for c in customers if c.startswith("P-")) == len(anonymise | delete)
    kept = {f"C-{n:06d}" for n in range(1, 31)} - anonymise - delete
    assert kept <= set(customers)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rules=st.lists(
        st.tuples(
            st.sampled_from(["created_at", "last_contact_at", "updated_at"]),
            st.integers(0, 30),
            st.sampled_from(["d", "w", "m", "y"]),
            st.sampled_from(
                [
                    "",
                    "consent_marketing == false",
                    "country != 'GB'",
                    "customer_id < 'C-000015'",
                    "last_contact_at == null",
                    "city == 'Leeds' and consent_marketing == true",
                ]
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    as_of=st.dates(dt.date(2009, 1, 1), dt.date(2045, 12, 31)),
    odd=st.lists(
        st.sampled_from(["", " 2020-01-01", "2020-02-30", "20200101", "soon"]), max_size=4
    ),
)
def test_the_arrow_prefilter_plans_exactly_what_the_exact_reading_plans(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    rules: list[tuple[str, int, str, str]],
    as_of: dt.date,
    odd: list[str],
) -> None:
    import pyarrow as pa

    from custrec import retention
    from custrec.keyfile import new_key_file

    directory = tmp_path_factory.mktemp("prefilter")
    source = KeySource.from_key_file(new_key_file(directory / "k.key").path)
    rows = [{k: v for k, v in r.items() if v is not None} for r in customers()]
    from custrec.retention import latest_start

    limit = latest_start(f"{rules[0][1]}{rules[0][2]}", as_of)
    named = {"LIMIT": limit, "AFTER": limit + dt.timedelta(days=1)}
    for n, text in enumerate(odd):  # trigger values the exact reading must judge
        rows[n][rules[0][0]] = named[text].isoformat() if text in named else text
    for row in rows:
        row["consent_marketing"] = row["consent_marketing"] == "true"
    text = "rules:\n" + "".join(
        f"  - trigger: {trigger}\n    period: {n}{unit}\n"
        + (f'    where: "{where}"\n' if where else "")
        for trigger, n, unit, where in rules
    )
    with create_store(
        directory / "s.crec", source, settings=StoreSettings(chunk_records=7)
    ) as opened:
        opened.put(rows)
        policy = retention.parse_policy(text, "p.yaml", dict(opened.columns), None)

        def summary(plan: Any) -> Any:
            return sorted((r.record_id, r.rule) for r in plan.records), plan.without_trigger

        fast = summary(retention.plan_purge(opened, policy, as_of, audited=False))
        with monkeypatch.context() as patch:
            patch.setattr(retention, "_maybe_due", lambda b, limits: pa.array([True] * b.num_rows))
            exact = summary(retention.plan_purge(opened, policy, as_of, audited=False))
    assert fast == exact


@pytest.mark.parametrize(
    ("period", "as_of", "last_due"),
    [
        ("30d", "2030-01-01", "2029-12-02"),
        ("1m", "2030-03-31", "2030-02-28"),  # a month after Feb 28 is Mar 28
        ("1m", "2030-03-27", "2030-02-27"),
        ("2y", "2028-02-28", "2026-02-28"),
        ("0d", "2030-01-01", "2030-01-01"),
    ],
)
def test_a_record_is_due_on_its_last_day_and_not_the_day_after(
    tmp_path: Path, period: str, as_of: str, last_due: str
) -> None:
    """The days worked out here by hand from the period's words: a record whose
    trigger is the last due day is planned, one a day later is not."""
    from custrec import retention
    from custrec.keyfile import new_key_file

    source = KeySource.from_key_file(new_key_file(tmp_path / "k.key").path)
    due = dt.date.fromisoformat(last_due)
    rows = [
        {"customer_id": "C-due", "created_at": f"{due.isoformat()}T23:59:59Z"},
        {"customer_id": "C-kept", "created_at": f"{due + dt.timedelta(days=1)}T00:00:00Z"},
    ]
    with create_store(tmp_path / "s.crec", source) as opened:
        opened.put(rows)
        text = f"rules:\n  - trigger: created_at\n    period: {period}\n"
        policy = retention.parse_policy(text, "p.yaml", dict(opened.columns), None)
        plan = retention.plan_purge(opened, policy, dt.date.fromisoformat(as_of), audited=False)
    assert [r.record_id for r in plan.records] == ["C-due"]


@pytest.mark.parametrize("period", ["1d", "3w", "1m", "13m", "6y", "0d"])
def test_latest_start_is_the_last_due_day(period: str) -> None:
    from custrec.access import add_period
    from custrec.retention import latest_start

    for as_of in (dt.date(2024, 2, 29), dt.date(2026, 3, 31), dt.date(2026, 1, 1)):
        last = latest_start(period, as_of)
        assert add_period(last, period) <= as_of
        assert add_period(last + dt.timedelta(days=1), period) > as_of


def test_a_key_given_twice_in_a_policy_is_refused(
    cli: InvokeCli, store: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "p.yaml",
        "rules:\n  - trigger: created_at\n    period: 1y\n    period: 9y\n",
    )
    result = cli("purge", str(store), "--policy", str(path), "--dry-run")
    assert result.exit_code == 2
    assert "p.yaml:4: 'period' is given twice (first on line 3)" in result.stderr
