"""``custrec validate`` against ``schemas/customer.yaml``: the exit-code contract, exact
counts at scale, the generator's defect list as ground truth, the report's details, the
failures file, stores that keep to a schema (``collect`` and ``update`` gates) and the
demo's validation step. Exit code, stdout and stderr are checked separately."""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import json
import random
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from custrec.cli import main
from custrec.generate.customers import generate_customers

from .conftest import REPO, InvokeCli, run_custrec, write

Row = dict[str, Any]

SCHEMA = REPO / "schemas" / "customer.yaml"
GENERATOR_TODAY: dt.date = inspect.signature(generate_customers).parameters["today"].default
AS_OF = GENERATOR_TODAY.isoformat()
"""The generator's reference day: every instant it writes is before it and every age is
18-95 on it, so clean data stays clean judged as of this day (whatever the clock says)."""

REPORT_KEYS = [
    "version",
    "kind",
    "source",
    "source_kind",
    "schema",
    "as_of",
    "rows",
    "ok",
    "fail_on",
    "failures_file",
    "rules",
]
RULE_KEYS = [
    "id",
    "check",
    "field",
    "reads",
    "severity",
    "passed",
    "failed",
    "failed_pct",
    "max_fail_pct",
    "expected",
    "detail",
    "examples",
]
EXAMPLE_KEYS = ["row", "line", "id", "column", "value", "other_fields", "expected"]
FAILURE_KEYS = ["line", "row", "id", "column", "rule", "severity", "value", "other_fields"]
EMAIL_EXPECTED = (
    "a valid email address (name@domain.tld); spaces allowed only before or after it, none inside"
)
DATASET_RULES = {"postcode-completeness", "schema.unknown-columns"}
"""Rules without per-record failures (a completeness rule, the undeclared columns)."""
HEAVY = {"pandas", "pandera", "pyarrow", "numpy"}
ENV_CLEAN = ("CUSTREC_SCHEMA", "CUSTREC_FORMAT", "CUSTREC_DEBUG", "CUSTREC_PASSPHRASE")


def _schema_rules() -> tuple[list[str], list[str], dict[str, str]]:
    """Rule ids read from the schema file itself (not through custrec): the rules it
    declares (field checks, then its rules), the built-in ones, and each id's severity."""
    document = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    declared: list[str] = []
    builtin: list[str] = []
    severity: dict[str, str] = {}
    for name, spec in document["fields"].items():
        spec = spec or {}
        if spec.get("type", "string") != "string":
            builtin.append(f"{name}.type")
        if spec.get("required"):
            builtin.append(f"{name}.required")
        if spec.get("unique"):
            builtin.append(f"{name}.unique")
        for check in spec.get("checks") or []:
            if isinstance(check, str):
                check = {"check": check}
            rule_id = check.get("id", f"{name}.{check['check']}")
            declared.append(rule_id)
            severity[rule_id] = check.get("severity", "error")
    for rule in document.get("rules") or []:
        rule_id = rule.get("id", rule["check"])
        declared.append(rule_id)
        severity[rule_id] = rule.get("severity", "error")
    if document.get("strict", True):
        builtin.append("schema.unknown-columns")
    severity.update(dict.fromkeys(builtin, "error"))
    return declared, builtin, severity


DECLARED_RULES, BUILTIN_RULES, SEVERITY = _schema_rules()
ALL_RULES = {*DECLARED_RULES, *BUILTIN_RULES}
ERROR_RULES = {r for r in ALL_RULES if SEVERITY[r] == "error"}


# --- helpers ----------------------------------------------------------------------


def invoke(*args: str) -> Result:
    """The CLI in-process, for module-scoped fixtures (``cli`` is per test)."""
    env: dict[str, str | None] = dict.fromkeys(ENV_CLEAN)
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def generate(
    path: Path, rows: int, seed: int, bad_share: float, defects: Path | None = None
) -> Path:
    args = ["generate", "customers", "--rows", str(rows), "--seed", str(seed)]
    args += ["--bad-share", str(bad_share), "-o", str(path)]
    if defects is not None:
        args += ["--defects", str(defects)]
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return path


def read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and the physical line each row starts on."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows, lines = [], []
        start = reader.line_num + 1
        for row in reader:
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    return header, rows, lines


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def validate(cli: InvokeCli, source: Path | str, *args: str) -> Result:
    return cli("validate", str(source), *args)


def report(result: Result) -> Row:
    document = json.loads(result.stdout)
    assert list(document) == REPORT_KEYS
    assert document["version"] == 1
    assert document["kind"] == "validate"
    return document


def rules_of(document: Row) -> dict[str, Row]:
    return {rule["id"]: rule for rule in document["rules"]}


def failing(document: Row, severities: tuple[str, ...] = ("error",)) -> list[str]:
    return [r["id"] for r in document["rules"] if not r["passed"] and r["severity"] in severities]


def failed_message(ids: list[str]) -> str:
    shown = ", ".join(ids[:5])
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f"Error: {len(ids)} rule(s) failed: {shown}{more}\n"


def ndjson(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def imported_modules(stderr: bytes) -> set[str]:
    """Top-level modules named by ``-X importtime`` (PYTHONPROFILEIMPORTTIME)."""
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV_CLEAN, "CUSTREC_KEY_FILE", "CUSTREC_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")


@pytest.fixture(scope="module")
def clean300(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 clean customers (no deliberate defects), seed 3."""
    return generate(tmp_path_factory.mktemp("clean") / "clean.csv", 300, 3, 0)


@dataclass(frozen=True)
class GroundTruth:
    """2,000 generated customers (a fifth deliberately bad), their defect list, and one
    validation of them with a failures file."""

    csv: Path
    defects: list[dict[str, str]]
    result: Result
    failures: Path


@pytest.fixture(scope="module")
def ground_truth(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    directory = tmp_path_factory.mktemp("truth")
    defects_path = directory / "defects.csv"
    source = generate(directory / "customers.csv", 2000, 11, 0.2, defects_path)
    with defects_path.open(newline="", encoding="utf-8") as handle:
        defects = list(csv.DictReader(handle))
    failures = directory / "failures.ndjson"
    result = invoke(
        "validate",
        str(source),
        "--schema",
        str(SCHEMA),
        "--as-of",
        AS_OF,
        "--failures",
        str(failures),
        "--format",
        "json",
    )
    return GroundTruth(source, defects, result, failures)


@pytest.fixture
def key(cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file that every command (in-process or a real process) opens stores with."""
    path = tmp_path / "steward.key"
    result = cli("key", "new", str(path))
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(path))
    return path


@pytest.fixture
def schema_store(cli: InvokeCli, key: Path, tmp_path: Path) -> Path:
    """An empty store created with the customer schema (16 records per chunk)."""
    path = tmp_path / "customers.crec"
    result = cli(
        "init", str(path), "--schema", str(SCHEMA), "--region", "GB", "--chunk-records", "16"
    )
    assert result.exit_code == 0, result.stderr
    return path


# --- 1. the exit-code contract ----------------------------------------------------


def test_clean_data_exits_0(cli: InvokeCli, clean300: Path) -> None:
    result = validate(cli, clean300, "--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    document = report(result)
    assert document["ok"] is True
    assert document["rows"] == 300
    assert document["as_of"] == AS_OF
    assert document["source"] == str(clean300)
    assert document["source_kind"] == "file"
    assert document["schema"] == "customer"
    errors = {r["id"]: r["failed"] for r in document["rules"] if r["severity"] == "error"}
    assert errors == dict.fromkeys(ERROR_RULES, 0)


def test_clean_data_table_exits_0(cli: InvokeCli, clean300: Path) -> None:
    result = validate(cli, clean300, "--schema", str(SCHEMA), "--as-of", AS_OF)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "records:        300\n" in result.stdout
    assert "result:         ok\n" in result.stdout


def test_failing_error_rule_exits_1_with_the_report(
    cli: InvokeCli, clean300: Path, tmp_path: Path
) -> None:
    header, rows, _ = read_rows(clean300)
    rows[9][header.index("email")] = "a@b"  # row 10, line 11
    source = write_rows(tmp_path / "one-bad.csv", header, rows)
    result = validate(cli, source, "--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == "Error: 1 rule(s) failed: email.email\n"
    document = report(result)
    assert document["ok"] is False
    assert failing(document) == ["email.email"]
    email = rules_of(document)["email.email"]
    assert (email["passed"], email["failed"], email["failed_pct"]) == (False, 1, 0.3333)
    assert email["examples"] == [
        {
            "row": 10,
            "line": 11,
            "id": rows[9][header.index("customer_id")],
            "column": "email",
            "value": "a@b",
            "other_fields": {},
            "expected": EMAIL_EXPECTED,
        }
    ]
    table = validate(cli, source, "--schema", str(SCHEMA), "--as-of", AS_OF)
    assert table.exit_code == 1
    assert table.stderr == "Error: 1 rule(s) failed: email.email\n"
    assert "result:         FAILED\n" in table.stdout
    assert "email.email" in table.stdout


def test_warn_failures_exit_0_unless_fail_on_warn(cli: InvokeCli, clean300: Path) -> None:
    args = ["--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json"]
    lenient = validate(cli, clean300, *args)
    assert lenient.exit_code == 0
    assert lenient.stderr == ""
    document = report(lenient)
    warned = failing(document, ("warn",))
    # The generator keeps test card numbers in notes on purpose; its phones are in
    # assigned ranges and its verifications fresh.
    assert "notes.no-card-or-id" in warned
    assert not {"last_verified.fresh", "phone.assigned-range"} & set(warned)
    assert (document["ok"], document["fail_on"]) == (True, "error")

    strict = validate(cli, clean300, *args, "--fail-on", "warn")
    assert strict.exit_code == 1
    assert strict.stderr == failed_message(warned)
    again = report(strict)
    assert (again["ok"], again["fail_on"]) == (False, "warn")
    assert failing(again, ("error", "warn")) == warned
    assert again["rules"] == document["rules"]


def test_schema_error_exits_2_naming_file_and_line(
    cli: InvokeCli, clean300: Path, tmp_path: Path
) -> None:
    schema = write(
        tmp_path / "broken.yaml",
        "version: 1\n"
        "name: broken\n"
        "id: customer_id\n"
        "fields:\n"
        "  customer_id: {required: true}\n"
        "  email:\n"
        "    checks: [{check: emial}]\n",
    )
    result = validate(cli, clean300, "--schema", str(schema), "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {schema}:7: unknown check 'emial' (known: ")
    assert result.stderr.count("\n") == 1


def test_file_without_schema_exits_2(cli: InvokeCli, clean300: Path) -> None:
    result = validate(cli, clean300, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: give --schema FILE (or set CUSTREC_SCHEMA) to validate a file\n"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.csv", None, "no such file"),
        (
            "fields.csv",
            "customer_id,country,created_at,updated_at,consent_marketing\n"
            "C-000001,GB,2026-01-01,2026-01-01,true\nC-000002,GB,2026-01-01,2026-01-01,true,x\n",
            "3:6: expected 5 fields (customer_id, country, created_at, updated_at, "
            "consent_marketing), found 6",
        ),
        (
            "broken.ndjson",
            '{"customer_id": "C-000001"}\n{"customer_id": "C-000002",, "email": "x"}\n',
            "2:28: invalid JSON (Expecting property name enclosed in double quotes)",
        ),
    ],
)
def test_unreadable_input_exits_3(
    cli: InvokeCli, tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        write(path, text)
    result = validate(cli, path, "--schema", str(SCHEMA), "--format", "json")
    assert result.exit_code == 3
    assert result.stdout == ""
    separator = ": " if text is None else ":"
    assert result.stderr == f"Error: {path}{separator}{message}\n"


def test_store_with_a_wrong_key_exits_4(cli: InvokeCli, schema_store: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    assert cli("key", "new", str(other)).exit_code == 0
    result = validate(cli, schema_store, "--key-file", str(other), "--format", "json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: wrong key: key file {other} (key id ")
    assert "is not a key of this store" in result.stderr


# --- 2. exact counts at scale -----------------------------------------------------


def test_exact_counts_at_scale(cli: InvokeCli, tmp_path: Path) -> None:
    """200,000 clean rows with exactly 100,000 errors injected into disjoint rows:
    every count, share and first example is exact (about 40 s, most of it phone
    parsing in validate)."""
    rows_total = 200_000
    header, rows, _ = read_rows(generate(tmp_path / "clean.csv", rows_total, 5, 0))
    assert len(rows) == rows_total
    col = {name: i for i, name in enumerate(header)}
    rng = random.Random(2026)
    # Country XX only on rows whose phone has a +code or is blank: a local number read
    # in an unknown country would also fail phone.phone, and the counts must stay exact.
    international = [
        i for i, row in enumerate(rows) if not row[col["phone"]] or row[col["phone"]][0] == "+"
    ]
    bad_country = rng.sample(international, 25_000)
    taken = set(bad_country)
    others = rng.sample([i for i in range(rows_total) if i not in taken], 75_000)
    injected = {
        "email.email": others[:25_000],
        "country.country_code": bad_country,
        "date_of_birth.date_range": others[25_000:45_000],
        "updated-after-created": others[45_000:60_000],
        "customer_id.required": others[60_000:],
    }
    assert sum(len(v) for v in injected.values()) == 100_000
    assert len({i for v in injected.values() for i in v}) == 100_000
    for i in injected["email.email"]:
        rows[i][col["email"]] = f"customer{i}.example.com"  # no @, unique
    for i in injected["country.country_code"]:
        rows[i][col["country"]] = "XX"
    for i in injected["date_of_birth.date_range"]:
        rows[i][col["date_of_birth"]] = (
            GENERATOR_TODAY + dt.timedelta(days=1 + i % 3650)
        ).isoformat()
    for i in injected["updated-after-created"]:
        created = dt.datetime.fromisoformat(rows[i][col["created_at"]].replace("Z", "+00:00"))
        rows[i][col["updated_at"]] = (created - dt.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    for i in injected["customer_id.required"]:
        rows[i][col["customer_id"]] = ""
    # The physical line of each row (a quoted value may span lines).
    lines, line = [], 2
    for row in rows:
        lines.append(line)
        line += 1 + sum(value.count("\n") for value in row)
    source = write_rows(tmp_path / "dirty.csv", header, rows)

    result = validate(cli, source, "--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 1
    document = report(result)
    assert result.stderr == failed_message(failing(document))
    assert set(failing(document)) == set(injected)
    assert document["rows"] == rows_total
    assert document["ok"] is False
    rules = rules_of(document)
    counts = {r: rules[r]["failed"] for r in ERROR_RULES}
    assert counts == {r: len(injected.get(r, ())) for r in ERROR_RULES}
    expected_pct = {
        "email.email": 12.5,
        "country.country_code": 12.5,
        "date_of_birth.date_range": 10.0,
        "updated-after-created": 7.5,
        "customer_id.required": 7.5,
    }
    assert {r: rules[r]["failed_pct"] for r in injected} == expected_pct
    for rule_id, indexes in injected.items():
        first = min(indexes)
        example = rules[rule_id]["examples"][0]
        assert len(rules[rule_id]["examples"]) == 5
        assert (example["row"], example["line"]) == (first + 1, lines[first]), rule_id
        column = rules[rule_id]["field"]
        expected_value = rows[first][col[column]] if column != "customer_id" else None
        assert example["value"] == expected_value, rule_id


# --- 3. the generator's defects as ground truth -----------------------------------

# Which rules catch each kind of deliberate defect (each defect row must fail at least
# one of them). Every kind is catchable with the shipped schema, provided dates are
# judged as of the generator's day: its "future" birth dates start the day after it.
CATCHING_RULES = {
    "bad_email": {"email.email"},
    "bad_phone": {"phone.phone"},
    "bad_country": {"country.country_code"},
    "bad_postcode": {"postcode.postcode"},
    "impossible_date": {"date_of_birth.type", "date_of_birth.date_range", "updated-after-created"},
    "missing_required": {"customer_id.required", "reachable"},
    "duplicate_id": {"customer_id.unique"},
    "duplicate_contact": {"email.unique", "phone.unique"},
}


def test_every_defect_is_caught_and_nothing_else(ground_truth: GroundTruth) -> None:
    assert ground_truth.result.exit_code == 1
    kinds = Counter(d["kind"] for d in ground_truth.defects)
    assert set(kinds) == set(CATCHING_RULES)  # every kind occurs in 2,000 rows
    errors: dict[int, set[str]] = {}
    for failure in ndjson(ground_truth.failures):
        if failure["severity"] == "error":
            errors.setdefault(failure["row"], set()).add(failure["rule"])
    defect_rows = {int(d["row"]): d for d in ground_truth.defects}
    uncaught = {
        row: (d["kind"], sorted(errors.get(row, ())))
        for row, d in defect_rows.items()
        if not errors.get(row, set()) & CATCHING_RULES[d["kind"]]
    }
    assert uncaught == {}
    false_alarms = {row: sorted(rules) for row, rules in errors.items() if row not in defect_rows}
    assert false_alarms == {}


# --- 4. report details ------------------------------------------------------------


def test_report_details(cli: InvokeCli, clean300: Path, tmp_path: Path) -> None:
    header, rows, _ = read_rows(clean300)
    rows = rows[:20]
    col = {name: i for i, name in enumerate(header)}
    header = [*header, "health_condition", "loyalty_tier"]
    rows = [[*row, "", "gold"] for row in rows]
    rows[0][col["notes"]] = "called twice\nsecond call: moved house\nthird line"  # lines 2-4
    rows[1][col["email"]] = "x" * 300  # row 2, line 5
    rows[2][col["date_of_birth"]] = "1990-02-30"  # row 3, line 6
    rows[2][col["consent_marketing"]] = "maybe"
    rows[2][col["email"]] = "nope"
    rows[3][col["email"]] = "also bad"  # row 4, line 7
    rows[4][col["email"]] = "@example.com"  # row 5, line 8
    source = write_rows(tmp_path / "details.csv", header, rows)

    result = validate(
        cli,
        source,
        "--schema",
        str(SCHEMA),
        "--as-of",
        AS_OF,
        "--examples",
        "2",
        "--format",
        "json",
    )
    assert result.exit_code == 1
    document = report(result)
    assert {k: v for k, v in document.items() if k != "rules"} == {
        "version": 1,
        "kind": "validate",
        "source": str(source),
        "source_kind": "file",
        "schema": "customer",
        "as_of": AS_OF,
        "rows": 20,
        "ok": False,
        "fail_on": "error",
        "failures_file": None,
    }
    expected_failing = [
        "date_of_birth.type",
        "consent_marketing.type",
        "email.email",
        "schema.unknown-columns",
    ]
    assert sorted(failing(document)) == sorted(expected_failing)
    assert result.stderr == failed_message(failing(document))
    assert len(result.stderr) <= 200

    # Every rule is listed, once, with every key and consistent numbers.
    assert sorted(r["id"] for r in document["rules"]) == sorted(ALL_RULES)
    for rule in document["rules"]:
        assert list(rule) == RULE_KEYS, rule["id"]
        assert rule["severity"] == SEVERITY[rule["id"]], rule["id"]
        if rule["id"] != "schema.unknown-columns":
            assert rule["failed_pct"] == round(100 * rule["failed"] / 20, 4), rule["id"]
        assert len(rule["examples"]) <= 2, rule["id"]
        assert len(rule["expected"]) <= 200, rule["id"]
        assert rule["detail"] is None or len(rule["detail"]) <= 200, rule["id"]
        for example in rule["examples"]:
            assert list(example) == EXAMPLE_KEYS
            assert example["value"] is None or len(example["value"]) <= 80
            assert len(example["expected"]) <= 200
    rules = rules_of(document)

    # --examples 2 caps the examples, not the count; the 300-character value is cut to 80.
    email = rules["email.email"]
    assert (email["failed"], email["failed_pct"], email["passed"]) == (4, 20.0, False)
    expected = EMAIL_EXPECTED
    assert email["examples"] == [
        {
            "row": 2,
            "line": 5,
            "id": rows[1][col["customer_id"]],
            "column": "email",
            "value": "x" * 79 + "…",
            "other_fields": {},
            "expected": expected,
        },
        {
            "row": 3,
            "line": 6,
            "id": rows[2][col["customer_id"]],
            "column": "email",
            "value": "nope",
            "other_fields": {},
            "expected": expected,
        },
    ]

    # Values that do not convert fail <field>.type; the other rules still run on the row.
    assert rules["date_of_birth.type"]["failed"] == 1
    assert rules["date_of_birth.type"]["examples"] == [
        {
            "row": 3,
            "line": 6,
            "id": rows[2][col["customer_id"]],
            "column": "date_of_birth",
            "value": "1990-02-30",
            "other_fields": {},
            "expected": "a date written YYYY-MM-DD (e.g. 2026-11-22)",
        }
    ]
    assert rules["consent_marketing.type"]["failed"] == 1
    assert rules["consent_marketing.type"]["examples"] == [
        {
            "row": 3,
            "line": 6,
            "id": rows[2][col["customer_id"]],
            "column": "consent_marketing",
            "value": "maybe",
            "other_fields": {},
            "expected": "true or false (also 1 or 0, in any letter case)",
        }
    ]
    assert rules["date_of_birth.date_range"]["failed"] == 0  # not judged twice
    assert rules["consent_marketing.required"]["failed"] == 0  # a value is there

    # Undeclared columns: counted, named, and the special category pointed out.
    unknown = rules["schema.unknown-columns"]
    assert (unknown["failed"], unknown["passed"], unknown["examples"]) == (2, False, [])
    assert unknown["detail"] == (
        "undeclared columns: health_condition, loyalty_tier; these look like special "
        "categories of personal data, refused unless declared with a purpose and lawful "
        "basis: health_condition"
    )


def test_report_examples_default_to_five_and_name_stdin(
    cli: InvokeCli, ground_truth: GroundTruth
) -> None:
    text = ground_truth.csv.read_text(encoding="utf-8")
    result = cli(
        "validate", "-", "--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json", input=text
    )
    assert result.exit_code == 1
    document = report(result)
    assert document["source"] == "<stdin>"
    assert document["rules"] == json.loads(ground_truth.result.stdout)["rules"]
    caps = {r["id"]: len(r["examples"]) for r in document["rules"]}
    assert caps == {
        r["id"]: 0 if r["id"] in DATASET_RULES else min(r["failed"], 5) for r in document["rules"]
    }


def test_as_of_today_agrees_with_the_default(
    cli: InvokeCli, clean300: Path, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - midnight < dt.timedelta(seconds=10):
        pytest.skip("too close to midnight to have an instant earlier today")
    earlier_today = (midnight + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    header, rows, _ = read_rows(clean300)
    rows = rows[:3]
    rows[0][header.index("created_at")] = earlier_today
    rows[0][header.index("updated_at")] = earlier_today
    source = write_rows(tmp_path / "today.csv", header, rows)
    default = validate(cli, source, "--schema", str(SCHEMA), "--format", "json")
    assert default.exit_code == 0, default.stderr
    explicit = validate(
        cli, source, "--schema", str(SCHEMA), "--as-of", now.date().isoformat(), "--format", "json"
    )
    assert explicit.stderr == ""
    assert explicit.exit_code == 0


def test_rules_listed_in_documented_order(cli: InvokeCli, clean300: Path) -> None:
    result = validate(cli, clean300, "--schema", str(SCHEMA), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0
    # Failed rules first (errors, then warnings), then those that passed; each group in
    # schema order: built-in field rules (in field order), the declared checks, unknown
    # columns last.
    field_builtins = [r for r in BUILTIN_RULES if r != "schema.unknown-columns"]
    expected = [*field_builtins, *DECLARED_RULES, "schema.unknown-columns"]
    rules = report(result)["rules"]
    failed = [r["id"] for r in rules if not r["passed"]]
    assert failed  # the generator's warnings (stale verifications...)
    assert [r["id"] for r in rules] == [
        *(r for r in expected if r in failed and SEVERITY[r] == "error"),
        *(r for r in expected if r in failed and SEVERITY[r] == "warn"),
        *(r for r in expected if r not in failed),
    ]


def test_ordinary_column_names_are_not_special_categories(cli: InvokeCli, tmp_path: Path) -> None:
    source = write(
        tmp_path / "ids.csv",
        "customer_id,country,created_at,updated_at,consent_marketing,trace_id,grace_period\n"
        "C-000001,GB,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,true,t1,30\n",
    )
    result = validate(cli, source, "--schema", str(SCHEMA), "--format", "json")
    assert result.exit_code == 1
    unknown = rules_of(report(result))["schema.unknown-columns"]
    assert unknown["detail"] == "undeclared columns: trace_id, grace_period"


# --- 5. the failures file ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "ndjson", "stdin"])
def test_the_failures_file_is_written_batch_by_batch_in_record_order(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds one batch's failures, not the input's (batches of 40 records
    here): each batch's are written before the next is checked, by record then rule,
    with their lines (a quoted field over two lines shifts the lines after it; a CSV
    file read by Arrow gets them on the way out)."""
    import functools

    from custrec import io as custrec_io
    from custrec import validate as module
    from custrec.schema import shipped_schema

    rows = [
        dict(row) for chunk in generate_customers(300, seed=5, bad_share=0.6) for row in chunk.rows
    ]
    rows[10]["notes"] = "over\ntwo lines"
    columns = list(rows[0])
    path = tmp_path / ("in.ndjson" if kind == "ndjson" else "in.csv")
    if kind == "ndjson":
        text = "".join(
            json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows
        )
        path.write_text(text, encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    monkeypatch.setattr(custrec_io, "regrouped", functools.partial(custrec_io.regrouped, rows=40))
    monkeypatch.setattr(custrec_io, "_CELLS_PER_BATCH", 40 * len(columns))
    monkeypatch.setattr(custrec_io, "_CSV_BLOCK_BYTES", 8192)
    pending: list[int] = []
    chunk = module.Validation.chunk

    def counted(self: Any, batch: Any, ids: Any) -> None:
        pending.append(len(self.failures))
        chunk(self, batch, ids)

    monkeypatch.setattr(module.Validation, "chunk", counted)
    out = tmp_path / "failures.ndjson"
    source = str(path)
    if kind == "stdin":
        source = "-"
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    schema = shipped_schema("customer")
    module.validate_source(source, schema, failures=str(out), as_of="2026-11-01")
    assert len(pending) >= 7
    assert set(pending) == {0}  # every batch's failures were written before the next
    failures = ndjson(out)
    assert len(failures) > 100
    order = [(f["row"], f["rule"]) for f in failures]
    assert order == sorted(order)
    if kind != "ndjson":
        header, lines = read_rows(path)[0], read_rows(path)[2]
        assert header == columns
        assert all(f["line"] == lines[f["row"] - 1] for f in failures)
        assert any(f["line"] == f["row"] + 2 for f in failures)  # after the record on two lines
    else:
        assert all(f["line"] == f["row"] for f in failures)


def test_failures_file_lists_every_failure(ground_truth: GroundTruth) -> None:
    document = report(ground_truth.result)
    assert document["failures_file"] == str(ground_truth.failures)
    assert mode_of(ground_truth.failures) == 0o600
    failures = ndjson(ground_truth.failures)
    per_record = {r["id"]: r["failed"] for r in document["rules"] if r["id"] not in DATASET_RULES}
    # Uncapped: one line per failing cell or row, as many as the report counts.
    assert len(failures) == sum(per_record.values())
    assert len(failures) > 5 * len([n for n in per_record.values() if n])
    by_rule = Counter(f["rule"] for f in failures)
    assert by_rule == Counter({r: n for r, n in per_record.items() if n})
    header, rows, lines = read_rows(ground_truth.csv)
    col = {name: i for i, name in enumerate(header)}
    rules = rules_of(document)
    for failure in failures:
        assert list(failure) == FAILURE_KEYS
        row = failure["row"]
        assert failure["line"] == lines[row - 1]
        assert (failure["id"] or "") == rows[row - 1][col["customer_id"]]  # the id field
        reads = rules[failure["rule"]]["reads"]
        assert list(failure["other_fields"]) == reads
        for name, value in failure["other_fields"].items():
            assert (value or "") == rows[row - 1][col[name]], failure
        assert failure["severity"] == SEVERITY[failure["rule"]]
        assert failure["column"] == rules[failure["rule"]]["field"]
        if failure["column"] is None:
            assert failure["value"] is None
        else:
            assert (failure["value"] or "") == rows[row - 1][col[failure["column"]]], failure
    # The examples in the report are the first lines of each rule in the file.
    for rule_id, rule in rules.items():
        firsts = [f for f in failures if f["rule"] == rule_id][: len(rule["examples"])]
        assert [(e["row"], e["line"]) for e in rule["examples"]] == [
            (f["row"], f["line"]) for f in firsts
        ], rule_id


# --- 6. stores that keep to a schema ----------------------------------------------


def test_schema_store_validates_with_its_own_schema(
    cli: InvokeCli, schema_store: Path, tmp_path: Path
) -> None:
    defects_path = tmp_path / "defects.csv"
    source = generate(tmp_path / "customers.csv", 300, 8, 0.2, defects_path)
    rejects = tmp_path / "rejects.csv"
    collected = cli(
        "collect",
        str(schema_store),
        str(source),
        "--on-invalid",
        "reject",
        "--rejects",
        str(rejects),
        "--format",
        "json",
    )
    assert collected.exit_code == 0, collected.stderr
    outcome = json.loads(collected.stdout)
    with defects_path.open(newline="", encoding="utf-8") as handle:
        defect_rows = {int(d["row"]) for d in csv.DictReader(handle)}
    with rejects.open(newline="", encoding="utf-8") as handle:
        rejected_rows = {int(r["_row"]) for r in csv.DictReader(handle)}
    assert outcome["rejected"] == len(rejected_rows) > 0
    assert outcome["inserted"] == 300 - len(rejected_rows)
    assert rejected_rows <= defect_rows  # no clean row is refused

    failures = tmp_path / "store-failures.ndjson"
    result = validate(cli, schema_store, "--failures", str(failures), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = report(result)
    assert (document["source"], document["source_kind"]) == (str(schema_store), "store")
    assert (document["schema"], document["rows"], document["ok"]) == (
        "customer",
        outcome["inserted"],
        True,
    )
    assert failing(document) == []
    warned = [r for r in document["rules"] if r["failed"] and r["examples"]]
    assert warned  # stale verifications, card numbers in notes...
    lines = ndjson(failures)
    assert lines
    assert all(f["line"] is None and f["id"] for f in lines)
    examples = [(r["id"], e) for r in warned for e in r["examples"]]
    for rule_id, example in examples:
        assert example["line"] is None, rule_id
        fields = _record(cli, schema_store, example["id"])["fields"]
        value = fields[example["column"]]
        cut = value if len(value) <= 80 else value[:79] + "…"
        assert cut == example["value"], rule_id


def test_store_without_schema_needs_one(cli: InvokeCli, key: Path, tmp_path: Path) -> None:
    store = tmp_path / "plain.crec"
    assert cli("init", str(store)).exit_code == 0
    source = write(tmp_path / "one.csv", "customer_id,email\nC-000001,a@example.com\n")
    assert cli("collect", str(store), str(source)).exit_code == 0
    result = validate(cli, store, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {store} was created without a schema: give --schema FILE\n"
    given = validate(cli, store, "--schema", str(SCHEMA), "--format", "json")
    assert given.exit_code == 1  # created_at, consent_marketing... are required
    assert report(given)["source_kind"] == "store"


def _base_row(clean300: Path, index: int) -> dict[str, str]:
    with clean300.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[index]


def _csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _record(cli: InvokeCli, store: Path, record_id: str) -> Row:
    result = cli("get", str(store), record_id, "--format", "json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["records"]
    assert len(records) == 1
    return records[0]


def test_collect_into_schema_store_refuses_errors_not_warnings(
    cli: InvokeCli, schema_store: Path, clean300: Path, tmp_path: Path
) -> None:
    bad = _base_row(clean300, 0)
    bad.update(customer_id="C-900001", email="bad@@example.com", phone="")
    refused = cli("collect", str(schema_store), "-", "--format", "json", input=_csv_text([bad]))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: <stdin> line 2: rule email.email: expected {EMAIL_EXPECTED}; "
        "1 problem(s) in the input; nothing was written "
        "(see the report; --on-invalid reject writes the valid rows)\n"
    )
    document = json.loads(refused.stdout)
    assert (document["written"], document["inserted"], document["rejected"]) == (False, 0, 1)
    assert [(p["row"], p["line"], p["rule"], p["field"]) for p in document["problems"]] == [
        (1, 2, "email.email", "email")
    ]
    assert cli("get", str(schema_store), "C-900001", "--format", "json").exit_code == 6

    warned = _base_row(clean300, 1)
    warned.update(customer_id="X-900002", email="new.customer@example.com", phone="")
    accepted = cli("collect", str(schema_store), "-", "--format", "json", input=_csv_text([warned]))
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["inserted"] == 1
    assert _record(cli, schema_store, "X-900002")["fields"]["email"] == "new.customer@example.com"
    check = validate(cli, schema_store, "--format", "json")
    assert check.exit_code == 0
    assert rules_of(report(check))["customer_id.format"]["failed"] == 1  # a warning only


@pytest.fixture
def filled_store(cli: InvokeCli, schema_store: Path, clean300: Path, tmp_path: Path) -> Path:
    header, rows, _ = read_rows(clean300)
    source = write_rows(tmp_path / "first.csv", header, rows[:20])
    result = cli("collect", str(schema_store), str(source), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 20
    return schema_store


def test_update_refuses_a_value_that_fails_a_rule(cli: InvokeCli, filled_store: Path) -> None:
    before = _record(cli, filled_store, "C-000002")
    result = cli("update", str(filled_store), "C-000002", "--set", "email=bad", "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: C-000002: field 'email' fails rule email.email: expected {EMAIL_EXPECTED}; "
        "the record is unchanged\n"
    )
    assert _record(cli, filled_store, "C-000002") == before


def test_update_from_file_with_one_bad_row_writes_nothing(
    cli: InvokeCli, filled_store: Path, tmp_path: Path
) -> None:
    before = {i: _record(cli, filled_store, i) for i in ("C-000003", "C-000004")}
    changes = write(
        tmp_path / "changes.csv",
        "customer_id,email\nC-000003,fixed.three@example.com\nC-000004,not-an-email\n",
    )
    result = cli("update", str(filled_store), "--from", str(changes), "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"Error: {changes}:3: C-000004: field 'email' fails rule email.email: "
    )
    assert {i: _record(cli, filled_store, i) for i in before} == before


def test_update_on_schema_store_stays_light(filled_store: Path) -> None:
    env = {"PYTHONPROFILEIMPORTTIME": "1"}
    ok = run_custrec(
        ["update", str(filled_store), "C-000005", "--set", "city=Bath", "--format", "json"],
        env=env,
    )
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    assert json.loads(ok.stdout)["records"][0]["fields"]["city"] == "Bath"
    modules = imported_modules(ok.stderr)
    assert "custrec" in modules  # the probe sees imports at all
    assert sorted(modules & HEAVY) == []
    refused = run_custrec(
        ["update", str(filled_store), "C-000005", "--set", "date_of_birth=2999-01-01"], env=env
    )
    assert refused.returncode == 1
    assert refused.stdout == b""
    assert b"field 'date_of_birth' fails rule date_of_birth.date_range" in refused.stderr
    assert sorted(imported_modules(refused.stderr) & HEAVY) == []


# --- 7. the demo ------------------------------------------------------------------


def test_demo_validates_the_example_store(cli: InvokeCli, tmp_path: Path) -> None:
    result = cli(
        "demo",
        "--workdir",
        str(tmp_path / "demo"),
        "--customers",
        "300",
        "--interactions",
        "200",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    checked = document["validation"]["store"]
    assert checked["source_kind"] == "store"
    assert checked["rows"] == document["store"]["records"]
    assert checked["ok"] is True  # the store's schema refused the rows with errors
    assert sorted(r["id"] for r in checked["rules"]) == sorted(ALL_RULES)
    assert [r["id"] for r in checked["rules"] if r["failed"]]  # some warnings remain
    before = document["validation"]["customers_csv"]
    assert before["source_kind"] == "file"
    assert before["ok"] is False  # the deliberate defects, before loading


# --- the values seen for uniqueness: in memory, then in runs written out ------------


def test_seen_values_written_out_answer_as_held_in_memory(tmp_path: Path) -> None:
    """A small limit writes the seen hashes out as runs: every verdict equals a plain
    set's; the runs are private (0700 directory, 0600 files) and close removes them."""
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from custrec.seen import SeenValues

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=12), st.integers(1, 9))
    def check(batches: list[list[int]], limit: int) -> None:
        seen = SeenValues(limit=limit)
        model: set[int] = set()
        try:
            for batch in batches:
                got = seen.repeated(np.array(batch, dtype=np.uint64)).tolist()
                expected = []
                for value in batch:
                    expected.append(value in model)
                    model.add(value)
                assert got == expected
        finally:
            directory = seen._directory
            if directory is not None:
                assert stat.S_IMODE(Path(directory).stat().st_mode) == 0o700
                assert all(
                    stat.S_IMODE(p.stat().st_mode) == 0o600 for p in Path(directory).iterdir()
                )
            seen.close()
            assert directory is None or not Path(directory).exists()

    check()


def test_uniqueness_over_runs_written_out_reports_as_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate in batches of 400 rows with the seen values written out every 500 gives
    the report it gives in memory, and leaves no run behind."""
    import tempfile

    import custrec.io as io_module
    import custrec.seen as seen

    path = tmp_path / "c.csv"
    rows = [row for chunk in generate_customers(5_000, seed=3) for row in chunk.rows]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    schema = str(REPO / "schemas" / "customer.yaml")
    args = ["validate", str(path), "--schema", schema, "--format", "json", "--as-of", "2026-11-01"]
    in_memory = json.loads(CliRunner().invoke(main, args).stdout)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(seen, "SPILL_BYTES", 500 * 8)  # 500 hashes
    monkeypatch.setattr(io_module.regrouped, "__defaults__", (400,))  # batches of 400 rows
    monkeypatch.setattr(io_module, "_CSV_BLOCK_BYTES", 100_000)  # read in blocks of 100 kB
    written_out = json.loads(CliRunner().invoke(main, args).stdout)
    for report in (in_memory, written_out):
        report.pop("seconds", None)
    assert written_out == in_memory
    unique = {r["id"]: r["failed"] for r in in_memory["rules"] if r["id"].endswith(".unique")}
    assert any(unique.values())  # the data repeats ids, emails or phones
    assert list((tmp_path / "tmp").iterdir()) == []
