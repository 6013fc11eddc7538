"""The validation report a steward acts on, from small hand-made files: the record's id
and the fields a rule read beside each failure, one failure per cause per cell, one
rule vocabulary for ``validate`` and ``collect``, a header checked (and mapped) before
any record, failing rules first, and expectations in words."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest

from custrec.cli import main
from custrec.schema.registry import CHECKS

from .conftest import REPO, InvokeCli, write

SCHEMA = REPO / "schemas" / "customer.yaml"
AS_OF = "2026-06-01"
COLUMNS = [
    "customer_id",
    "first_name",
    "email",
    "phone",
    "country",
    "postcode",
    "created_at",
    "updated_at",
    "consent_marketing",
]
GOOD = {
    "first_name": "Ann",
    "phone": "",
    "country": "GB",
    "postcode": "SW1A 1AA",
    "created_at": "2025-01-01T09:00:00Z",
    "updated_at": "2025-02-01T09:00:00Z",
    "consent_marketing": "true",
}
ROWS: list[dict[str, str]] = [
    {**GOOD, "customer_id": "C-000001", "email": "ann@example.com"},
    {**GOOD, "customer_id": "C-000002", "email": "amy chen@example.com"},  # line 3
    {**GOOD, "customer_id": "C-000003", "email": "bo@example.com", "consent_marketing": "yes"},
    {**GOOD, "customer_id": "C-000004", "email": "cy@example.com", "country": "BR"},  # line 5
    {**GOOD, "customer_id": "C-000005", "email": "not-an-email"},  # line 6
    {**GOOD, "customer_id": "C-000006", "email": "di@@example.com"},  # line 7
    {**GOOD, "customer_id": "C-000007", "email": "ed@example", "postcode": "12345-678"},
    {**GOOD, "customer_id": "C-000008", "email": "fay@example.com", "country": "BR"},  # line 9
]
"""Eight rows: bad emails on lines 3, 6, 7, 8; consent 'yes' on line 4; the British
postcode of a Brazilian record on line 5 (line 9 has it too, and line 8 a Brazilian
postcode of a British record)."""

CROSS_FIELD = {("C-000004", 5), ("C-000007", 8), ("C-000008", 9)}
"""(id, line) of the records failing ``postcode.postcode``."""


def csv_text(rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CUSTREC_SCHEMA", "CUSTREC_FORMAT", "CUSTREC_DEBUG", "CUSTREC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")


@pytest.fixture
def eight(tmp_path: Path) -> Path:
    return write(tmp_path / "eight.csv", csv_text(ROWS))


def run_validate(cli: InvokeCli, source: Path | str, *args: str, **kwargs: Any) -> Any:
    return cli("validate", str(source), "--schema", str(SCHEMA), "--as-of", AS_OF, *args, **kwargs)


def json_report(cli: InvokeCli, source: Path | str, *args: str) -> dict[str, Any]:
    result = run_validate(cli, source, *args, "--format", "json")
    assert result.exit_code == 1, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def rules_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in document["rules"]}


def table_rows(out: str, title: str) -> list[list[str]]:
    """The rows of the table titled ``title`` in ``table`` output, split into cells."""
    block = out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]
    return [re.split(r"\s{2,}", line.strip()) for line in block.splitlines()[2:]]


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the record's id, and the fields a rule read -------------------------------------


def test_failures_file_names_the_record_by_its_id_and_line(
    cli: InvokeCli, eight: Path, tmp_path: Path
) -> None:
    failures = tmp_path / "fix-these.ndjson"
    json_report(cli, eight, "--failures", str(failures))
    got = {(f["rule"], f["id"], f["line"]) for f in ndjson(failures)}
    assert ("email.email", "C-000002", 3) in got
    assert ("consent_marketing.type", "C-000003", 4) in got
    assert all(f["id"] is not None for f in ndjson(failures))


def test_examples_name_the_record_by_its_id(cli: InvokeCli, eight: Path) -> None:
    email = rules_of(json_report(cli, eight))["email.email"]
    assert [(e["id"], e["line"], e["value"]) for e in email["examples"]] == [
        ("C-000002", 3, "amy chen@example.com"),
        ("C-000005", 6, "not-an-email"),
        ("C-000006", 7, "di@@example.com"),
        ("C-000007", 8, "ed@example"),
    ]
    table = run_validate(cli, eight).stdout
    assert table_rows(table, "Examples of email.email (4 of 4)")[0] == [
        "line 3",
        "C-000002",
        "email",
        "amy chen@example.com",
    ]


def test_a_cross_field_failure_shows_the_other_field(
    cli: InvokeCli, eight: Path, tmp_path: Path
) -> None:
    failures = tmp_path / "f.ndjson"
    postcode = rules_of(json_report(cli, eight, "--failures", str(failures)))["postcode.postcode"]
    assert postcode["reads"] == ["country"]
    assert [(e["id"], e["value"], e["other_fields"]) for e in postcode["examples"]] == [
        ("C-000004", "SW1A 1AA", {"country": "BR"}),
        ("C-000007", "12345-678", {"country": "GB"}),
        ("C-000008", "SW1A 1AA", {"country": "BR"}),
    ]
    lines = [f for f in ndjson(failures) if f["rule"] == "postcode.postcode"]
    assert {(f["id"], f["line"]) for f in lines} == CROSS_FIELD
    assert [f["other_fields"] for f in lines] == [{"country": c} for c in ("BR", "GB", "BR")]
    table = run_validate(cli, eight).stdout
    assert "other fields" in table
    assert table_rows(table, "Examples of postcode.postcode (3 of 3)")[0] == [
        "line 5",
        "C-000004",
        "postcode",
        "SW1A 1AA",
        "country=BR",
    ]


def test_a_rule_across_fields_shows_every_field_it_read(cli: InvokeCli, tmp_path: Path) -> None:
    rows = [{**ROWS[0], "email": "", "phone": ""}]  # reachable: email or phone
    rows.append({**ROWS[0], "customer_id": "C-000009", "updated_at": "2024-01-01T00:00:00Z"})
    rows[1]["email"] = "gil@example.com"
    source = write(tmp_path / "two.csv", csv_text(rows))
    rules = rules_of(json_report(cli, source))
    reachable = rules["reachable"]
    assert (reachable["field"], reachable["reads"]) == (None, ["email", "phone"])
    assert reachable["examples"][0]["other_fields"] == {"email": None, "phone": None}
    compare = rules["updated-after-created"]
    assert (compare["field"], compare["reads"]) == ("updated_at", ["created_at"])
    example = compare["examples"][0]
    assert (example["value"], example["other_fields"]) == (
        "2024-01-01T00:00:00Z",
        {"created_at": "2025-01-01T09:00:00Z"},
    )
    assert compare["expected"] == (
        "updated_at on or after created_at (records without either value pass)"
    )


# --- one failure per cause per cell, one vocabulary ----------------------------------


@pytest.fixture
def schema_store(cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "steward.key"
    assert cli("key", "new", str(key)).exit_code == 0
    monkeypatch.setenv("CUSTREC_KEY_FILE", str(key))
    path = tmp_path / "customers.crec"
    created = cli("init", str(path), "--schema", str(SCHEMA), "--region", "GB")
    assert created.exit_code == 0, created.stderr
    return path


def collect_rejects(cli: InvokeCli, store: Path, source: Path, rejects: Path) -> dict[str, Any]:
    result = cli(
        "collect", str(store), str(source), "--on-invalid", "reject", "--rejects", str(rejects),
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_collect_gives_a_value_of_the_wrong_type_one_failure(
    cli: InvokeCli, schema_store: Path, eight: Path, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    document = collect_rejects(cli, schema_store, eight, rejects)
    consent = [p for p in document["problems"] if p["field"] == "consent_marketing"]
    assert [(p["line"], p["rule"]) for p in consent] == [(4, "consent_marketing.type")]
    with rejects.open(newline="", encoding="utf-8") as handle:
        rules = {row["customer_id"]: row["_rules"] for row in csv.DictReader(handle)}
    assert rules["C-000003"] == "consent_marketing.type"


def test_collect_gives_an_empty_id_one_failure(
    cli: InvokeCli, schema_store: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "no-id.csv", csv_text([{**ROWS[0], "customer_id": " "}]))
    document = collect_rejects(cli, schema_store, source, tmp_path / "r.csv")
    assert [(p["rule"], p["field"]) for p in document["problems"]] == [
        ("customer_id.required", "customer_id")
    ]


def test_collect_and_validate_name_the_same_failures_alike(
    cli: InvokeCli, schema_store: Path, eight: Path, tmp_path: Path
) -> None:
    failures = tmp_path / "f.ndjson"
    json_report(cli, eight, "--failures", str(failures))
    validated = {(f["line"], f["rule"], f["column"]) for f in ndjson(failures)}
    document = collect_rejects(cli, schema_store, eight, tmp_path / "r.csv")
    collected = {(p["line"], p["rule"], p["field"]) for p in document["problems"]}
    assert collected == validated
    assert {rule for _, rule, _ in collected} == {
        "email.email",
        "consent_marketing.type",
        "postcode.postcode",
    }


def test_collect_names_repeats_by_the_unique_rule(
    cli: InvokeCli, schema_store: Path, tmp_path: Path
) -> None:
    rows = [ROWS[0], {**ROWS[0], "email": "other@example.com"}]
    rows.append({**ROWS[7], "country": "GB", "email": "ANN@example.com"})
    source = write(tmp_path / "repeats.csv", csv_text(rows))
    document = collect_rejects(cli, schema_store, source, tmp_path / "r.csv")
    assert [(p["line"], p["rule"], p["field"]) for p in document["problems"]] == [
        (3, "customer_id.unique", "customer_id"),
        (4, "email.unique", "email"),
    ]
    failures = tmp_path / "f.ndjson"
    json_report(cli, source, "--failures", str(failures))
    assert [(f["line"], f["rule"]) for f in ndjson(failures)] == [
        (3, "customer_id.unique"),
        (4, "email.unique"),
    ]


# --- the header first, and --map -----------------------------------------------------

EXCEL_HEADER = [
    "Customer ID",
    "First Name",
    "E-mail",
    "Phone",
    "Country",
    "Postcode",
    "Created At",
    "Updated At",
    "Consent Marketing",
]
MAP_LINES = [f"{field}={column}" for field, column in zip(COLUMNS, EXCEL_HEADER, strict=True)]


@pytest.fixture
def excel(tmp_path: Path) -> Path:
    """The eight rows as a spreadsheet saves them: a byte-order mark, CRLF line ends
    and headings for people."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXCEL_HEADER)
    writer.writerows([[row[c] for c in COLUMNS] for row in ROWS])
    return write(tmp_path / "crm-export.csv", ("\ufeff" + out.getvalue()).encode("utf-8"))


def test_a_header_of_other_spellings_is_diagnosed_first(cli: InvokeCli, excel: Path) -> None:
    result = run_validate(cli, excel, "--format", "json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"Error: {excel}:1: column customer_id missing; found 'Customer ID' — map it with "
        "--map customer_id='Customer ID'; 8 more fields are spelled differently: "
        "first_name='First Name', email=E-mail, phone=Phone, country=Country, "
    )
    assert result.stderr.count("\n") == 1
    assert "required" not in result.stderr


def test_mapped_columns_are_validated(cli: InvokeCli, excel: Path, tmp_path: Path) -> None:
    map_file = write(tmp_path / "crm.map", "# CRM export\n" + "\n".join(MAP_LINES[1:]) + "\n")
    failures = tmp_path / "f.ndjson"
    args = ["--map", "customer_id=Customer ID", "--map-file", str(map_file)]
    mapped = rules_of(json_report(cli, excel, *args, "--failures", str(failures)))
    assert mapped["schema.unknown-columns"]["passed"] is True
    postcodes = {(f["id"], f["line"]) for f in ndjson(failures) if f["rule"] == "postcode.postcode"}
    assert postcodes == CROSS_FIELD
    assert [e["id"] for e in mapped["email.email"]["examples"]][:1] == ["C-000002"]


def test_one_missing_column_is_named_with_its_map(cli: InvokeCli, tmp_path: Path) -> None:
    columns = ["Customer ID", *COLUMNS[1:]]
    rows = [{**{c: row[c] for c in COLUMNS[1:]}, "Customer ID": row["customer_id"]} for row in ROWS]
    source = write(tmp_path / "one.csv", csv_text(rows, columns))
    result = run_validate(cli, source)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        f"Error: {source}:1: column customer_id missing; found 'Customer ID' — map it with "
        "--map customer_id='Customer ID'\n"
    )
    mapped = run_validate(cli, source, "--map", "customer_id=Customer ID", "--format", "json")
    assert mapped.exit_code == 1, mapped.stderr
    assert json.loads(mapped.stdout)["rows"] == 8


def test_a_required_column_missing_is_bad_input(cli: InvokeCli, tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c != "consent_marketing"]
    rows = [{c: row[c] for c in columns} for row in ROWS]
    source = write(tmp_path / "no-consent.csv", csv_text(rows, columns))
    result = run_validate(cli, source)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        f"Error: {source}:1: no column for required field consent_marketing (columns: "
        "customer_id, first_name, email, phone, country, postcode, created_at, updated_at); "
        "map one with --map consent_marketing=COLUMN\n"
    )


def test_ndjson_keys_are_checked_once_all_are_known(cli: InvokeCli, tmp_path: Path) -> None:
    records = [
        {("Customer ID" if k == "customer_id" else k): v for k, v in r.items()} for r in ROWS
    ]
    source = write(tmp_path / "crm.ndjson", "".join(json.dumps(r) + "\n" for r in records))
    result = run_validate(cli, source)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith(f"Error: {source}: column customer_id missing; found ")
    mapped = run_validate(cli, source, "--map", "customer_id=Customer ID", "--format", "json")
    assert mapped.exit_code == 1
    assert json.loads(mapped.stdout)["rows"] == 8


def test_a_parquet_header_is_checked_before_any_row(cli: InvokeCli, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "crm.parquet"
    columns = {("Customer ID" if c == "customer_id" else c): [r[c] for r in ROWS] for c in COLUMNS}
    pq.write_table(pa.table(columns), path)
    result = run_validate(cli, path)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (  # a Parquet file has no lines
        f"Error: {path}: column customer_id missing; found 'Customer ID' — map it with "
        "--map customer_id='Customer ID'\n"
    )


def test_a_map_of_a_column_the_file_lacks_is_bad_input(cli: InvokeCli, eight: Path) -> None:
    result = run_validate(cli, eight, "--map", "city=Town")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {eight}:1: --map city=Town: no column 'Town' ")


def test_map_is_refused_for_a_store(cli: InvokeCli, schema_store: Path) -> None:
    result = cli("validate", str(schema_store), "--map", "phone=Telephone")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --map reads a file's columns; a store's fields have their names\n"
    )


def test_collect_reads_a_map_file(
    cli: InvokeCli, schema_store: Path, excel: Path, tmp_path: Path
) -> None:
    map_file = write(tmp_path / "crm.map", "\n".join(MAP_LINES) + "\n")
    unmapped = cli("collect", str(schema_store), str(excel))
    assert unmapped.exit_code == 3
    assert "--map customer_id=COLUMN" in unmapped.stderr
    result = cli(
        "collect", str(schema_store), str(excel), "--map-file", str(map_file),
        "--on-invalid", "reject", "--rejects", str(tmp_path / "r.csv"), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 1  # the others fail a rule


@pytest.mark.parametrize("command", [["collect"], ["validate"], ["report", "kpi"]])
def test_map_options_are_defined_once(command: list[str]) -> None:
    group: Any = main
    context = click.Context(main)
    for name in command:
        group = group.get_command(context, name)
    params = {p.name: p.to_info_dict() for p in group.params if p.name in ("mapping", "map_file")}
    validate_command = main.get_command(context, "validate")
    assert validate_command is not None
    reference = {
        p.name: p.to_info_dict()
        for p in validate_command.params
        if p.name in ("mapping", "map_file")
    }
    assert list(params) == ["mapping", "map_file"]
    assert params == reference


# --- failing rules first, counted examples -----------------------------------------


def test_the_table_lists_failing_rules_first_and_counts_examples(
    cli: InvokeCli, eight: Path
) -> None:
    result = run_validate(cli, eight, "--examples", "3")
    assert result.exit_code == 1
    out = result.stdout
    assert "Failed rules\n" in out
    assert "customer_id.unique" not in out  # passed: listed with --all-rules
    assert "passed:         32 (listed with --all-rules)\n" in out
    assert "Examples of email.email (first 3 of 4)\n" in out
    assert "Examples of consent_marketing.type (1 of 1)\n" in out
    failed = ["consent_marketing.type", "email.email", "postcode.postcode"]
    assert [row[0] for row in table_rows(out, "Failed rules")] == failed
    assert out.index("Failed rules") < out.index("Examples of")
    everything = run_validate(cli, eight, "--examples", "3", "--all-rules").stdout
    listed = table_rows(everything, "Rules")
    assert len(listed) == 35
    assert [row[0] for row in listed[:3]] == failed
    assert {row[2] for row in listed[3:]} == {"pass"}


def test_json_lists_every_rule_failing_first(cli: InvokeCli, eight: Path) -> None:
    document = json_report(cli, eight)
    passed = [r["passed"] for r in document["rules"]]
    assert len(passed) == 35
    assert passed == sorted(passed)  # False (failed) before True
    assert [r["id"] for r in document["rules"][:3]] == [
        "consent_marketing.type",
        "email.email",
        "postcode.postcode",
    ]


# --- expectations in words ---------------------------------------------------------


def test_the_expectation_says_what_is_allowed_in_words(cli: InvokeCli, eight: Path) -> None:
    rules = rules_of(json_report(cli, eight))
    assert rules["email.email"]["expected"] == (
        "a valid email address (name@domain.tld); spaces allowed only before or after it, "
        "none inside"
    )
    assert rules["postcode.postcode"]["expected"] == (
        "a postcode in the format of the record's country (field country; countries "
        "without a known format pass)"
    )
    assert rules["preferred_channel.one_of"]["expected"] == (
        "one of: email, phone, sms, chat, post; written exactly so"
    )
    assert rules["date_of_birth.date_range"]["expected"] == (
        "a date not in the future and at most 120 years ago"
    )
    for rule in rules.values():
        assert "=" not in rule["expected"], rule


EXAMPLE_VALUES: dict[str, Any] = {
    "bool": True,
    "number": 7.5,
    "integer": 30,
    "date": "2020-01-01",
    "text": "GB",
    "texts": ["a", "b"],
    "field": "country",
    "fields": ["email", "phone"],
}
REQUIRED_EXTRA = {"compare": {"op": ">="}, "phone": {"level": "possible"}}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_every_parameter_of_every_check_has_words(check: str) -> None:
    from custrec.schema.expectations import describe_rule

    spec = CHECKS[check]
    base = {
        name: EXAMPLE_VALUES[param.kind] for name, param in spec.params.items() if param.required
    }
    base.update(REQUIRED_EXTRA.get(check, {}))
    plain = describe_rule(check, base)
    assert plain
    assert not [name for name in spec.params if f"{name}=" in plain]
    for name, param in spec.params.items():
        if param.required:
            continue
        value = EXAMPLE_VALUES[param.kind]
        if name == "level":
            value = "valid"
        described = describe_rule(check, {**base, name: value})
        assert described != plain, (check, name)
        assert f"{name}=" not in described, (check, name)


def test_fields_read_and_type_words() -> None:
    from custrec.schema.expectations import describe_type, fields_read

    assert fields_read("postcode", {"country_field": "country"}, "postcode") == [
        "postcode",
        "country",
    ]
    assert fields_read("at_least_one_of", {"fields": ["email", "phone"]}, None) == [
        "email",
        "phone",
    ]
    assert describe_type("boolean") == "true or false (also 1 or 0, in any letter case)"


def test_update_says_what_is_expected_in_the_same_words(
    cli: InvokeCli, schema_store: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "one.csv", csv_text(ROWS[:1]))
    assert cli("collect", str(schema_store), str(source)).exit_code == 0
    wrong_date = cli("update", str(schema_store), "C-000001", "--set", "created_at=yesterday")
    assert wrong_date.exit_code == 1
    assert wrong_date.stderr == (
        "Error: C-000001: field 'created_at' fails rule created_at.type: expected a date and "
        "time in ISO 8601 (e.g. 2026-11-22T09:30:00Z); the record is unchanged\n"
    )
    spaced = cli("update", str(schema_store), "C-000001", "--set", "email=amy chen@example.com")
    assert spaced.exit_code == 1
    assert spaced.stderr == (
        "Error: C-000001: field 'email' fails rule email.email: expected a valid email address "
        "(name@domain.tld); spaces allowed only before or after it, none inside; the record "
        "is unchanged\n"
    )


@pytest.mark.parametrize("command", ["validate", "collect"])
def test_the_map_file_is_never_an_output(
    cli: InvokeCli, schema_store: Path, eight: Path, tmp_path: Path, command: str
) -> None:
    map_file = write(tmp_path / "crm.map", "first_name=first_name\n")
    if command == "validate":
        args = [str(eight), "--schema", str(SCHEMA), "--failures", str(map_file)]
    else:
        args = [str(schema_store), str(eight), "--on-invalid", "reject", "--rejects", str(map_file)]
    result = cli(command, *args, "--map-file", str(map_file))
    assert result.exit_code == 2, result.stderr
    assert str(map_file) in result.stderr
    assert map_file.read_text(encoding="utf-8") == "first_name=first_name\n"
