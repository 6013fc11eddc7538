"""The schemas and policies shipped inside the package (``custrec.resources``):
``schemas/`` is an identical copy, ``custrec schemas list|show|copy``, and a shipped
name wherever ``--schema`` or ``--policy`` takes a file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from custrec import resources
from custrec.resources import SHIPPED, locate, shipped

from .conftest import REPO, InvokeCli, write

PACKAGE_DIR = REPO / "custrec" / "resources"
CUSTOMERS = (
    "customer_id,first_name,last_name,email,phone,country,postcode,city,date_of_birth,"
    "created_at,updated_at,last_contact_at,last_verified,consent_marketing,"
    "preferred_channel,notes\n"
    "C-000001,Ann,Lee,ann.lee@example.org,+44 20 7946 0958,GB,SW1A 1AA,London,1980-05-17,"
    "2024-01-02T10:00:00Z,2024-03-04T10:00:00Z,2024-03-04T10:00:00Z,2024-03-04,true,email,"
    "Call back on +44 20 7946 0958 or mail ann.lee@example.org\n"
    "C-000002,Bo,Ng,bo.ng@example.com,,GB,M1 1AE,Manchester,1990-11-30,"
    "2024-02-02T10:00:00Z,2024-02-02T10:00:00Z,,,false,phone,\n"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTREC_ACTOR", "tester")
    for name in ("CUSTREC_KEY_FILE", "CUSTREC_PASSPHRASE", "CUSTREC_FORMAT", "CUSTREC_SCHEMA"):
        monkeypatch.delenv(name, raising=False)


# --- one source of truth --------------------------------------------------------------


def test_the_readable_copies_in_schemas_equal_the_shipped_files() -> None:
    shipped_files = sorted(p.name for p in PACKAGE_DIR.glob("*.yaml"))
    assert shipped_files == sorted(item.filename for item in SHIPPED)
    assert sorted(p.name for p in (REPO / "schemas").glob("*.yaml")) == shipped_files
    for item in SHIPPED:
        copy = (REPO / "schemas" / item.filename).read_bytes()
        assert copy == (PACKAGE_DIR / item.filename).read_bytes(), (
            f"schemas/{item.filename} differs from custrec/resources/{item.filename}: "
            "edit the latter and copy it over"
        )
        assert item.read_text().encode("utf-8") == copy


def test_every_shipped_file_loads_as_what_it_is() -> None:
    from custrec import retention
    from custrec.redaction.policy import load_policy
    from custrec.schema import load_schema, shipped_schema

    customer = shipped_schema("customer")
    assert shipped_schema("interaction").id_field == "interaction_id"
    assert load_schema("customer") == customer
    fields = {name: field.type for name, field in customer.fields.items()}
    policy = retention.load_policy("retention", fields, customer)
    assert [rule.id for rule in policy.rules] == ["customer-inactive", "never-contacted"]
    vendor = load_policy("vendor-redaction")
    # The vendor policy decides every customer field itself: none is left to a default.
    assert set(vendor.fields) == set(customer.fields)
    assert {n for n, r in vendor.fields.items() if r.strategy == "drop"} == {
        "first_name",
        "last_name",
        "email",
        "phone",
    }


def test_locate_prefers_an_existing_file_and_refuses_an_unknown_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custrec.errors import UsageError
    from custrec.yamldoc import YamlFileError

    assert locate("customer", resources.SCHEMA) == shipped("customer").resource
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "customer", "version: 1\n")
    assert locate("customer", resources.SCHEMA) == "customer"
    assert locate("missing/customer.yaml", resources.SCHEMA) == "missing/customer.yaml"
    with pytest.raises(YamlFileError, match=r"shipped: customer, interaction") as info:
        locate("retention", resources.SCHEMA)
    assert "'retention' is a shipped retention policy, not a schema" in str(info.value)
    with pytest.raises(UsageError, match="vendor-redaction"):
        shipped("nope")


# --- custrec schemas ------------------------------------------------------------------


def test_schemas_list_names_kinds_and_descriptions(cli: InvokeCli) -> None:
    result = cli("schemas", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "schemas"
    assert [(i["name"], i["kind"], i["file"]) for i in document["shipped"]] == [
        ("customer", "schema", "customer.yaml"),
        ("interaction", "schema", "interaction.yaml"),
        ("retention", "retention policy", "retention.yaml"),
        ("vendor-redaction", "redaction policy", "vendor-redaction.yaml"),
    ]
    assert all(i["description"] for i in document["shipped"])
    table = cli("schemas", "list")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["name", "kind", "description"]
    assert "vendor-redaction  redaction policy" in table.stdout
    rows = list(csv.DictReader(io.StringIO(cli("schemas", "list", "--format", "csv").stdout)))
    assert [r["name"] for r in rows] == ["customer", "interaction", "retention", "vendor-redaction"]


def test_schemas_show_prints_the_file_and_refuses_an_unknown_name(cli: InvokeCli) -> None:
    result = cli("schemas", "show", "retention")
    assert result.exit_code == 0
    assert result.stdout == (REPO / "schemas" / "retention.yaml").read_text(encoding="utf-8")
    assert result.stderr == ""
    unknown = cli("schemas", "show", "customers")
    assert unknown.exit_code == 2
    assert unknown.stdout == ""
    assert "customer, interaction, retention, vendor-redaction" in unknown.stderr


def test_schemas_copy_writes_refuses_to_overwrite_and_forces(
    cli: InvokeCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = shipped("customer").read_text()
    result = cli("schemas", "copy", "customer")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "customer.yaml").read_text(encoding="utf-8") == text
    assert result.stdout == ""
    assert "wrote customer.yaml" in result.stderr

    mine = write(tmp_path / "mine.yaml", "my own\n")
    refused = cli("schemas", "copy", "customer", str(mine))
    assert refused.exit_code == 2
    assert "already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert mine.read_text() == "my own\n"
    forced = cli("schemas", "copy", "customer", str(mine), "--force")
    assert forced.exit_code == 0
    assert mine.read_text(encoding="utf-8") == text

    (tmp_path / "policies").mkdir()
    assert cli("schemas", "copy", "retention", "policies").exit_code == 0
    assert (tmp_path / "policies" / "retention.yaml").read_text(encoding="utf-8") == (
        shipped("retention").read_text()
    )
    to_stdout = cli("schemas", "copy", "vendor-redaction", "-")
    assert to_stdout.exit_code == 0
    assert to_stdout.stdout == shipped("vendor-redaction").read_text()
    assert cli("schemas", "copy", "nope", str(tmp_path / "x.yaml")).exit_code == 2
    assert not (tmp_path / "x.yaml").exists()


def test_schemas_list_stays_light(tmp_path: Path) -> None:
    from .test_cli import heavy_modules_after

    assert heavy_modules_after("schemas", "list", tmp_path=tmp_path) == []
    assert heavy_modules_after("schemas", "show", "customer", tmp_path=tmp_path) == []


# --- a shipped name wherever a schema or policy file is taken --------------------------


def test_schema_and_policy_options_take_shipped_names(cli: InvokeCli, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    env = {"CUSTREC_KEY_FILE": str(key)}
    assert cli("key", "new", str(key)).exit_code == 0
    data = write(tmp_path / "customers.csv", CUSTOMERS)

    validated = cli("validate", str(data), "--schema", "customer", "--format", "json")
    assert validated.exit_code == 0, validated.stderr
    assert json.loads(validated.stdout)["schema"] == "customer"

    scanned = cli("scan", str(data), "--schema", "customer", "--field", "notes")
    assert scanned.exit_code == 0, scanned.stderr
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER"} <= {
        json.loads(line)["type"] for line in scanned.stdout.splitlines()
    }

    out = tmp_path / "vendor.csv"
    redacted = cli(
        "redact",
        str(data),
        "-o",
        str(out),
        "--schema",
        "customer",
        "--policy",
        "vendor-redaction",
        env=env,
    )
    assert redacted.exit_code == 0, redacted.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert not {"first_name", "last_name", "email", "phone"} & set(rows[0])
    assert rows[0]["postcode"] == "SW1A"
    assert rows[0]["date_of_birth"] == "1980"
    assert rows[0]["customer_id"].startswith("<CUSTOMER_ID_")
    shared = out.read_text(encoding="utf-8")
    assert "ann.lee@example.org" not in shared
    assert "7946 0958" not in shared

    store = tmp_path / "customers.crec"
    assert cli("init", str(store), "--schema", "customer", env=env).exit_code == 0
    assert cli("collect", str(store), str(data), env=env).exit_code == 0
    purge = cli(
        "purge", str(store), "--policy", "retention", "--dry-run", "--as-of", "2031-01-01", env=env
    )
    assert purge.exit_code == 0, purge.stderr
    assert "customer-inactive" in purge.stdout
    access = cli(
        "access", str(store), "C-000001", "--schema", "customer", "--reason", "SAR 1", env=env
    )
    assert access.exit_code == 0, access.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "{data}", "--schema", "{name}"],
        ["scan", "{data}", "--schema", "{name}"],
        ["redact", "{data}", "-o", "{out}", "--policy", "{name}"],
        ["report", "kpi", "{data}", "--schema", "{name}"],
    ],
)
def test_an_unknown_name_that_is_no_file_is_exit_2_listing_the_shipped_names(
    cli: InvokeCli, tmp_path: Path, args: list[str]
) -> None:
    data = write(tmp_path / "customers.csv", CUSTOMERS)
    filled = [a.format(data=data, out=tmp_path / "out.csv", name="custmer-v2") for a in args]
    result = cli(*filled)
    assert result.exit_code == 2, result.stderr
    assert "custmer-v2: no such file, and not a shipped" in result.stderr
    assert "see custrec schemas list" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_purge_with_an_unknown_policy_name_lists_the_shipped_policy(
    cli: InvokeCli, tmp_path: Path
) -> None:
    key = tmp_path / "k.key"
    env = {"CUSTREC_KEY_FILE": str(key)}
    assert cli("key", "new", str(key)).exit_code == 0
    store = tmp_path / "customers.crec"
    assert cli("init", str(store), "--schema", "customer", env=env).exit_code == 0
    result = cli("purge", str(store), "--policy", "retain", "--dry-run", env=env)
    assert result.exit_code == 2
    assert "not a shipped retention policy (shipped: retention;" in result.stderr


# --- report kpi --schema --------------------------------------------------------------

LOG = (
    "interaction_id,case_id,channel,created_at,csat,resolved,region\n"
    "I-1,K-1,phone,2026-03-02T09:00:00Z,5,true,north\n"
    "I-2,K-2,email,2026-03-02T10:00:00Z,2,false,mars\n"
)


@pytest.mark.parametrize(
    ("check", "rule"),
    [
        ("{check: one_of, values: [north, south]}", "region.one_of"),  # the Arrow gate
        ("{check: matches, pattern: 'north|south'}", "region.matches"),  # SchemaGate
    ],
)
def test_report_kpi_checks_logs_against_a_schema_that_extends_the_interaction_one(
    cli: InvokeCli, tmp_path: Path, check: str, rule: str
) -> None:
    log = write(tmp_path / "log.csv", LOG)
    base = shipped("interaction").read_text()
    extended = write(
        tmp_path / "helpdesk.yaml",
        base.replace("name: interaction\n", "name: helpdesk-interaction\n").replace(
            "\nfields:\n",
            "\nfields:\n  region:\n    type: string\n    description: Sales region.\n"
            f"    checks:\n      - {check}\n",
        ),
    )
    assert cli("report", "kpi", str(log), "--format", "json").exit_code == 0
    assert cli("report", "kpi", str(log), "--schema", "interaction").exit_code == 0
    refused = cli("report", "kpi", str(log), "--schema", str(extended), "--format", "json")
    assert refused.exit_code == 3, refused.stderr
    assert f"{log}:3: {rule}" in refused.stderr
    skipped = cli(
        "report", "kpi", str(log), "--schema", str(extended), "--skip-invalid", "--format", "json"
    )
    assert skipped.exit_code == 0, skipped.stderr
    assert json.loads(skipped.stdout)["invalid_skipped"] == 1

    not_an_extension = cli("report", "kpi", str(log), "--schema", "customer")
    assert not_an_extension.exit_code == 2
    assert "not an extension of the interaction schema" in not_an_extension.stderr
