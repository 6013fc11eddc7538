"""Field groups and roles in the schema (``docs/schema.md``, "Field groups and roles";
:mod:`custrec.schema.groups`): the shipped customer schema's groups and the shipped
roles, every loading error at its line, the round trip through ``dump_schema``, and
``custrec schemas roles``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from custrec.schema import dump_schema, load_schema
from custrec.schema.groups import WHOLE_RECORD
from custrec.schema.model import parse_schema

from .conftest import REPO, InvokeCli
from .test_schema import assert_error

CUSTOMER = REPO / "schemas" / "customer.yaml"

HEAD = """\
version: 1
name: people
id: person_id
fields:
  person_id: {pii: true, category: identity.id}
  name: {pii: true, category: identity.name}
  email: {pii: true, category: contact.email}
  health: {category: special.health, purpose: [adjustments], lawful_basis: explicit consent}
  visits: {type: integer}
"""


def _schema(text: str) -> str:
    return HEAD + textwrap.dedent(text)


GROUPS = """\
groups:
  identity: {fields: [person_id, name]}
  contact: {fields: [email]}
  special: {fields: [health]}
  service: {fields: [visits]}
"""


# --- the shipped customer schema ---------------------------------------------------------


def test_every_customer_field_is_in_exactly_one_group() -> None:
    schema = load_schema(CUSTOMER)
    listed = [name for group in schema.groups.values() for name in group.fields]
    assert sorted(listed) == sorted(schema.fields)
    assert len(listed) == len(set(listed))
    assert list(schema.groups) == ["identity", "contact", "verification", "service", "pseudonymous"]
    assert schema.group_of("date_of_birth") == "verification"
    assert schema.group_of("customer_ref") == "pseudonymous"


def test_shipped_roles_read_what_their_job_needs() -> None:
    schema = load_schema(CUSTOMER)
    roles = schema.roles
    assert list(roles) == ["agent", "analyst", "steward", "officer", "writer"]
    groups = schema.field_groups

    def readable(role: str) -> set[str]:
        return {n for g in roles[role].read for n in groups[g].names}

    # an agent reaches and names the customer, checks a date of birth, never reads it
    assert {"first_name", "email", "phone", "notes"} <= readable("agent")
    assert "date_of_birth" not in readable("agent")
    assert roles["agent"].check == ("verification",)
    assert roles["agent"].withheld(groups) == [
        "date_of_birth",
        "customer_ref",
        "birth_year",
        "postcode_district",
    ]
    # an analyst reads nothing that identifies or reaches a customer, and writes nothing
    identifying = {
        name
        for name, item in schema.fields.items()
        if (item.category or "").split(".")[0] in ("identity", "contact")
    }
    assert identifying
    assert not identifying & readable("analyst")
    assert {"customer_ref", "birth_year", "postcode_district"} <= readable("analyst")
    assert roles["analyst"].write == ()
    # the writer writes every group and reads none; only the officer runs rights commands
    assert roles["writer"].read == ()
    assert roles["writer"].write == tuple(groups)
    assert [r.name for r in roles.values() if r.rights] == ["officer"]
    assert readable("steward") == readable("officer")  # the customer schema has no special group


def test_special_category_data_is_read_only_by_the_officer(tmp_path: Path) -> None:
    schema = parse_schema(_schema(GROUPS))
    readers = [r.name for r in schema.roles.values() if "special" in r.read]
    assert readers == ["officer"]
    assert "health" in schema.roles["steward"].withheld(schema.field_groups)


def test_a_schema_without_groups_has_one_and_no_partial_roles() -> None:
    schema = parse_schema(HEAD)
    assert list(schema.field_groups) == [WHOLE_RECORD]
    assert schema.field_groups[WHOLE_RECORD].fields == tuple(schema.fields)
    assert list(schema.roles) == ["steward", "officer", "writer"]
    assert "groups" not in dump_schema(schema)


def test_groups_and_roles_survive_dump_and_load() -> None:
    text = _schema(GROUPS) + textwrap.dedent(
        """\
          stats:
            derived:
              person_ref: {from: person_id, redaction: pseudonymise}
        roles:
          agent: {read: [identity, contact], write: [contact], check: [special]}
          auditor: {description: Reads the service record only., read: [service]}
        """
    )
    schema = parse_schema(text)
    again = parse_schema(dump_schema(schema))
    assert again == schema
    assert again.roles["agent"].write == ("contact",)
    assert again.roles["agent"].check == ("special",)
    assert again.roles["auditor"].read == ("service",)
    assert "analyst" not in again.roles_section
    assert "analyst" in again.roles


# --- loading errors, each at its line ------------------------------------------------------


def test_error_field_in_no_group(tmp_path: Path) -> None:
    text = HEAD.replace("  visits: {type: integer}", "  visits: {type: integer}  # <-") + (
        "groups:\n  identity: {fields: [person_id, name, email]}\n  special: {fields: [health]}\n"
    )
    assert_error(tmp_path, text, "field 'visits' is in no group")


def test_error_field_in_two_groups(tmp_path: Path) -> None:
    assert_error(
        tmp_path,
        _schema(
            """\
            groups:
              identity: {fields: [person_id, name]}
              contact:
                fields:
                  - email
                  - name  # <-
              special: {fields: [health]}
              service: {fields: [visits]}
            """
        ),
        "field 'name' is in group 'identity' already",
    )


@pytest.mark.parametrize(
    ("groups", "fragments"),
    [
        (
            "  identity: {fields: [person_id, name, health]}  # <-\n"
            "  contact: {fields: [email, visits]}\n",
            ("'health' is special-category data", "belongs in group 'special'"),
        ),
        (
            "  everything: {fields: [person_id, name, email, visits, age]}  # <-\n",
            ("'age' is not one of the fields",),
        ),
        (
            "  identity: {fields: [person_id, name], colour: red}  # <-\n",
            ("unknown key 'colour'",),
        ),
        ("  empty: {fields: []}  # <-\n", ("group 'empty' has no fields",)),
    ],
)
def test_error_in_a_group(tmp_path: Path, groups: str, fragments: tuple[str, ...]) -> None:
    assert_error(tmp_path, HEAD + "groups:\n" + groups, *fragments)


@pytest.mark.parametrize(
    ("derived", "fragments"),
    [
        ("      ref: {from: nobody, redaction: pseudonymise}  # <-\n", ("'from' must name",)),
        ("      ref: {from: name, redaction: mask}  # <-\n", ("must be one of pseudonymise",)),
        ("      band: {from: visits, redaction: generalise}  # <-\n", ("only text",)),
        ("      name: {from: name, redaction: pseudonymise}  # <-\n", ("name of another field",)),
    ],
)
def test_error_in_a_derived_field(tmp_path: Path, derived: str, fragments: tuple[str, ...]) -> None:
    text = _schema(GROUPS) + "  stats:\n    derived:\n" + derived
    assert_error(tmp_path, text, *fragments)


def test_error_role_naming_an_unknown_group(tmp_path: Path) -> None:
    text = _schema(GROUPS) + "roles:\n  agent:\n    read: [identity,\n      billing]  # <-\n"
    assert_error(tmp_path, text, "role 'agent': 'billing' is not a group")


def test_error_role_rights_not_a_flag(tmp_path: Path) -> None:
    text = _schema(GROUPS) + "roles:\n  agent: {read: [identity], rights: sometimes}  # <-\n"
    assert_error(tmp_path, text, "'rights' must be true or false")


# --- custrec schemas roles -------------------------------------------------------------------


def test_schemas_roles_shows_groups_and_roles(cli: InvokeCli) -> None:
    result = cli("schemas", "roles", "customer", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"] == 1
    assert out["kind"] == "roles"
    assert out["schema"] == "customer"
    assert out["groups"]["verification"]["fields"] == ["date_of_birth"]
    assert out["roles"]["agent"]["withheld"][0] == "date_of_birth"
    assert out["roles"]["officer"]["rights"] is True
    assert out["roles"]["writer"]["read"] == []
    table = cli("schemas", "roles")
    assert table.exit_code == 0
    agent_row = next(line for line in table.stdout.splitlines() if line.startswith("agent "))
    assert "verification" in agent_row
    assert agent_row.split()[-1] == "4"


def test_schemas_roles_of_a_broken_file_names_the_line(cli: InvokeCli, tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(_schema("groups:\n  identity: {fields: [person_id, name]}\n"))
    result = cli("schemas", "roles", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{path}:7: field 'email' is in no group" in result.stderr.replace("\n", " ")
