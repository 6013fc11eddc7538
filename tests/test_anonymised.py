"""Anonymised records: the schema's ``anonymised`` section, refused with its line when
it cannot be used, and the rules every record a purge anonymises passes."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.anonymised import ID_PATTERN, AnonymisedRules
from custrec.schema import dump_schema, load_schema, parse_schema, shipped_schema

from .test_schema import assert_error

HEAD = """\
    name: t
    id: id
    fields:
      id: {type: string, pii: true}
      name: {type: string, pii: true, redaction: replace}
      city: {type: string}
      postcode: {type: string, pii: true, redaction: generalise}
      born: {type: date, pii: true, redaction: generalise}
      score: {type: number, pii: true, redaction: generalise}
      email: {type: string, pii: true, redaction: keep}
"""


def _section(lines: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(lines), "    ")


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("anonymised:\n  keep: [town]  # <-\n", "'town' is not one of the fields"),
        ("anonymised:\n  keep: [id]  # <-\n", "always replaced by a random id"),
        ("anonymised:\n  keep: [name]  # <-\n", "'name' is personal data"),
        ("anonymised:\n  keep: [city]\n  generalise: [city]  # <-\n", "listed already"),
        ("anonymised:\n  generalise: [score]  # <-\n", "only text (postcodes), dates"),
        ("anonymised:\n  keep: city  # <-\n", "must be a list of field names"),
        ("anonymised:\n  drop: [city]  # <-\n", "drop"),
        ("anonymised: [city]  # <-\n", "must be a mapping"),
    ],
)
def test_an_anonymised_section_that_cannot_be_used_is_refused_with_its_line(
    tmp_path: Path, section: str, fragment: str
) -> None:
    assert_error(tmp_path, _section(section), fragment)


def test_the_section_round_trips_and_a_schema_without_one_derives_it(tmp_path: Path) -> None:
    declared = parse_schema(
        textwrap.dedent(_section("anonymised:\n  keep: [city, email]\n  generalise: [born]\n"))
    )
    assert parse_schema(dump_schema(declared)) == declared
    assert declared.anonymised.keep == ["city", "email"]
    assert declared.anonymised.generalise == ["born"]
    derived = parse_schema(textwrap.dedent(HEAD)).anonymised
    assert derived.declared is False
    assert derived.keep == ["city", "email"]  # not personal, or redacted keep
    assert derived.generalise == ["postcode", "born"]  # a number cannot hold a band
    path = tmp_path / "s.yaml"
    path.write_text(dump_schema(parse_schema(textwrap.dedent(HEAD))), encoding="utf-8")
    assert "anonymised" not in path.read_text(encoding="utf-8")  # derived, not written
    assert load_schema(path).anonymised == derived


def test_the_shipped_customer_schema_declares_what_its_fields_imply() -> None:
    schema = shipped_schema("customer")
    declared = schema.anonymised
    assert declared.declared
    schema.anonymised_section = None
    derived = schema.anonymised
    assert (declared.keep, declared.generalise) == (derived.keep, derived.generalise)


SCHEMA = shipped_schema("customer")
RULES = AnonymisedRules(SCHEMA, "customer_id")
NAMES = st.sampled_from(["Ann", "Bob", "Zoë", "Leeds", "Paris", "O'Neil", "Mary Jane"])
PERSONAL = [
    "call +44 20 7946 0018",
    "ann.lee@example.com",
    "card 4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "NI number JG 10 37 59 A",
    "from 10.0.0.7",
]
LEAKS = st.sampled_from([*PERSONAL, "", "nothing here"])
POSTCODES = st.sampled_from(["SW1A 1AA", "LS1 4AP", "90210", "90210-1234", "K1A 0B1", "??", ""])
DATES = st.dates().map(lambda d: d.isoformat()) | st.sampled_from(["not a date", "1987"])


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    first, last = draw(NAMES), draw(NAMES)
    return {
        "customer_id": f"C-{draw(st.integers(0, 999_999)):06d}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}@example.com",
        "phone": draw(st.sampled_from(["+44 20 7946 0018", "07700 900123", None])),
        "country": draw(st.sampled_from(["GB", "US", "FR", None])),
        "postcode": draw(POSTCODES),
        "city": draw(NAMES | LEAKS),  # a kept field holding someone's data
        "date_of_birth": draw(DATES),
        "created_at": "2020-01-01T00:00:00Z",
        "last_contact_at": draw(st.sampled_from(["2021-05-06T07:08:09Z", None])),
        "consent_marketing": draw(st.booleans()),
        "preferred_channel": draw(LEAKS | st.sampled_from(["email", "phone"])),
        "notes": draw(LEAKS),
        "unknown_column": draw(LEAKS),  # not in the schema: personal data until shown not
    }


@settings(max_examples=300, deadline=None)
@given(records())
def test_an_anonymised_record_passes_the_anonymised_record_rules(record: dict[str, Any]) -> None:
    out = RULES.anonymise(record, "r1", ["updated_at"])
    assert RULES.problems(out, record) == []
    assert ID_PATTERN.fullmatch(out["customer_id"])
    assert out["_source"] == "anonymised by purge (rule r1)"
    assert set(out) == {*record, "updated_at", "_source"}
    kept = {"country", "city", "created_at", "last_contact_at", "consent_marketing",
            "preferred_channel", "postcode", "date_of_birth"}  # fmt: skip
    for name, value in out.items():
        if name not in kept and name not in ("customer_id", "_source"):
            assert value is None, name
    for name in ("email", "phone"):
        if record[name]:
            assert all(record[name] not in str(v) for v in out.values()), name
    assert not set(PERSONAL) & set(out.values())  # found by the scanner wherever kept
    if out["date_of_birth"] is not None:
        assert len(out["date_of_birth"]) == 4
    assert out["postcode"] in (None, "SW1A", "LS1", "902XX", "K1A")


def test_the_rules_catch_what_an_anonymised_record_must_not_hold() -> None:
    original = {
        "customer_id": "C-000001",
        "first_name": "Ann",
        "email": "ann@example.com",
        "city": "Leeds",
        "postcode": "LS1 4AP",
    }
    fine = RULES.anonymise(original, "r")
    assert RULES.problems(fine, original) == []
    cases = {
        "anonymised.id": {"customer_id": "C-000001"},
        "anonymised.empty": {"first_name": "Ann"},
        "anonymised.generalised": {"postcode": "LS1 4AP"},
        "anonymised.personal-data": {"city": "write to ann@example.com"},
    }
    for rule, change in cases.items():
        problems = RULES.problems({**fine, **change}, original)
        assert [(p.rule, p.field) for p in problems] == [(rule, next(iter(change)))]
    # the customer's own name in a kept field is found with the original at hand
    named = RULES.problems({**fine, "city": "Ann"}, original)
    assert [p.rule for p in named] == ["anonymised.personal-data"]
    # the id of another anonymised record is no problem; the old id always is
    assert RULES.problems({**fine, "customer_id": "ANON-0123456789abcdef"}, original) == []
    without_schema = AnonymisedRules(None, "customer_id").anonymise(original, "r")
    assert {k for k, v in without_schema.items() if v is not None} == {"customer_id", "_source"}
