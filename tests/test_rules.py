"""The rule definitions (custrec.schema.rules) and their executions: boundary verdicts
pinned with explicit expected values on both the batch engine and the one-record path
(two paths can agree and both be wrong), the regular expressions handed to the engine,
the pandera-polars schema compiled from the same definitions, and the one-record
namespace's null logic."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.schema import parse_schema, rules
from custrec.schema.batch import BatchRules, fail_column
from custrec.schema.record import RecordNamespace, RecordRules, Value

from .conftest import iso_instant

SCHEMA = parse_schema(
    """\
name: t
id: id
fields:
  id: {}
  qty: {type: integer}
  price: {type: number}
  born: {type: date}
  at: {type: datetime}
  flag: {type: boolean}
"""
)


def batch_failures(field: str, value: str | None) -> set[str]:
    batch = pa.table({"id": ["a"], field: pa.array([value], pa.string())})
    evaluated = BatchRules(SCHEMA).evaluate(batch)
    return {v.rule_id for v in evaluated.verdicts if evaluated.frame[fail_column(v.rule_id)][0]}


def record_failures(field: str, value: str | None) -> set[str]:
    return {f[0] for f in RecordRules(SCHEMA).failures({"id": "a", field: value})}


PINNED = [
    # integers: whole-number text is exact at the 64-bit bounds
    ("qty", "9223372036854775807", True),
    ("qty", "-9223372036854775808", True),
    ("qty", "+0009223372036854775807", True),
    ("qty", "9223372036854775808", False),
    ("qty", "-9223372036854775809", False),
    ("qty", "99999999999999999999", False),
    ("qty", "1e3", True),
    ("qty", " 42 ", True),
    ("qty", "4.2", False),
    ("qty", "٤٢", False),  # Arabic-Indic digits: not the shape of a number here
    ("qty", "9.3e18", False),
    ("price", "1e999", False),
    ("price", "nan", False),
    ("price", "-0.5", True),
    # dates and times
    ("born", "2024-02-29", True),
    ("born", "2023-02-29", False),
    ("born", "0000-01-01", False),
    ("born", "2024-1-01", False),
    ("at", "2024-01-01T23:59:59Z", True),
    ("at", "2024-01-01T23:59:60Z", False),  # a leap second: Python refuses it too
    ("at", "2024-01-01T24:00", False),
    ("at", "2024-01-01T10:00+12:59", True),
    ("at", "2024-01-01T10:00+12:60", False),  # offset minutes are 00-59
    ("at", "2024-01-01T10:00+24:00", False),
    ("at", "0001-01-01T00:00+05:00", False),  # before the first instant in UTC
    ("at", "9999-12-31T23:59:59-01:00", False),  # after the last one
    ("at", "2024-01-01 10:00:00.123456", True),
    ("at", "2024-01-01T10:00:00.1234567", False),
    ("at", "2024-01-01Z", False),
    # true/false
    ("flag", " TRUE ", True),
    ("flag", "0", True),
    ("flag", "yes", False),
]


@pytest.mark.parametrize(("field", "value", "accepted"), PINNED)
def test_boundary_verdicts_are_pinned_on_both_paths(field: str, value: str, accepted: bool) -> None:
    expected = set() if accepted else {f"{field}.type"}
    assert batch_failures(field, value) == expected, "batch"
    assert record_failures(field, value) == expected, "one record"


def test_days_and_times_are_read_as_python_reads_them() -> None:
    """Every month and day number around the edges, in years of each leap rule, and
    times at every boundary of hours, minutes, seconds, fractions and offsets: the
    batch engine's value equals Python's, and a refusal is exactly what Python refuses."""
    years = ["0000", "0001", "0004", "0100", "1900", "2000", "2023", "2024", "2100", "2400"]
    days = [
        f"{y}-{m:02d}-{d:02d}"
        for y in [*years, "9999"]
        for m in range(14)
        for d in (0, 1, 28, 29, 30, 31, 32)
    ]
    clocks = [
        f"T{h:02d}:{m:02d}" + tail
        for h in (0, 23, 24)
        for m in (0, 59, 60)
        for tail in (
            "",
            ":00",
            ":59",
            ":60",
            ":59.5",
            ":59.999999",
            "Z",
            ":00+23:59",
            ":00-24:00",
            ":00+05:60",
            ":00.25-04:30",
        )
    ]
    times = [f"2024-02-29{c}" for c in clocks] + [f"9999-12-31{c}" for c in clocks]
    times += ["0001-01-01T00:00+00:01", "0001-01-01T00:00-00:01", "2024-02-29 10:00:00Z"]
    for field, kind, values in (("born", "date", days), ("at", "datetime", days + times)):
        batch = pa.table({"id": ["a"] * len(values), field: pa.array(values, pa.string())})
        frame = BatchRules(SCHEMA).evaluate(batch).frame
        got = frame[rules.value_column(field)].to_list()
        bad = frame[rules.bad_column(field)].to_list()
        for value, read, refused in zip(values, got, bad, strict=True):
            expected = iso_instant(value, kind)
            assert read == expected, value
            assert refused == (expected is None), value
            assert (f"{field}.type" in record_failures(field, value)) == refused, value


def test_exact_integers_keep_their_value() -> None:
    batch = pa.table({"id": ["a", "b"], "qty": ["9223372036854775807", "-9223372036854775808"]})
    frame = BatchRules(SCHEMA).evaluate(batch).frame
    assert frame.get_column(rules.value_column("qty")).to_list() == [2**63 - 1, -(2**63)]


def test_blank_is_what_python_strips() -> None:
    assert set(rules.PYTHON_WHITESPACE) == {
        chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()
    }


# --- regular expressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "engine"),
    [
        ("C-[0-9]{6}", True),
        (r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}", True),
        (r"(ab|cd)+\.x?", True),
        (r"\w+", False),  # Unicode word sets differ between engines
        (r"\s", False),
        (r"a\b", False),
        ("(?i)abc", False),
        ("(?!SA)[A-Z]{2}", False),
        (r"(a)\1", False),
        ("[[:alpha:]]", False),
        ("[a-z&&[^e]]", False),
        ("a{,3}", False),
        ("a++", False),  # possessive: Python 3.11 reads it, Rust's regex does not
        ("[0-9]{2000}", False),
        ("a{", False),
        ("a$", False),
    ],
)
def test_patterns_the_engines_read_alike(pattern: str, engine: bool) -> None:
    assert rules.engine_regex(pattern) is engine


PATTERNS = ["C-[0-9]{6}", r"(ab|cd)+\.x?", r"\w+", "(?i)abc", "[a-c]*d?", r"a\b.*"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="abcdABC-0123456789.x\n é_", max_size=8), min_size=1))
def test_full_match_agrees_with_python_on_every_path(values: list[str]) -> None:
    """Engine patterns on polars and Python-only ones (looked up per distinct value)
    give Python's fullmatch; so does the one-record path."""
    for pattern in PATTERNS:
        schema = parse_schema(
            "name: t\nid: id\nfields:\n  id: {}\n  x:\n    checks:\n"
            f"      - {{id: r, check: matches, pattern: '{pattern}'}}\n"
        )
        batch = pa.table({"id": ["i"] * len(values), "x": values})
        evaluated = BatchRules(schema).evaluate(batch)
        failed = evaluated.frame.get_column(fail_column("r")).to_list()
        expected = [
            bool(v.strip()) and re.fullmatch(pattern, v) is None for v in values
        ]  # blank values are empty, and empty values pass
        assert failed == expected, pattern
        single = [bool(RecordRules(schema).failures({"x": v})) for v in values]
        assert single == expected, pattern


def test_every_shipped_pattern_is_an_engine_pattern() -> None:
    """The shapes custrec checks run on the engine, not value by value in Python."""
    from custrec.schema import scalar
    from custrec.schema.postcodes import POSTCODE_PATTERNS

    shipped = [*POSTCODE_PATTERNS.values(), scalar.EMAIL, scalar.E164, scalar.NUMBER]
    assert [p for p in shipped if not rules.engine_regex(p)] == []


def test_rules_that_python_matches_look_up_their_own_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every pattern left to Python (looked up once per distinct input), an email
    rule on the value as written and one on the stripped value do not share a lookup."""
    monkeypatch.setattr(rules, "engine_regex", lambda pattern: False)
    schema = parse_schema(
        "name: t\nid: id\nfields:\n  id: {}\n  email:\n    checks:\n"
        "      - {id: exact, check: email}\n"
        "      - {id: spaced, check: email, allow_spaces: true}\n"
    )
    batch = pa.table({"id": ["a", "b"], "email": [" a@example.com ", "a@example.com"]})
    frame = BatchRules(schema).evaluate(batch).frame
    assert frame.get_column(fail_column("exact")).to_list() == [True, False]
    assert frame.get_column(fail_column("spaced")).to_list() == [False, False]


# --- the pandera-polars schema ------------------------------------------------------------


def test_the_compiled_pandera_schema_reports_the_rules_validate_counts(tmp_path: Path) -> None:
    """docs/schema.md's example: pandera on polars, custrec's rules as its checks."""
    import polars as pl
    from pandera.errors import SchemaErrors

    from custrec.schema import load_schema
    from custrec.schema.compile import to_pandera
    from custrec.validate import validate_source

    csv = tmp_path / "customers.csv"
    csv.write_text(
        "customer_id,email,country,created_at,updated_at,consent_marketing,phone\n"
        "C-000001,ana@example.com,GB,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,true,\n"
        "C-000002,not-an-email,GB,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,true,\n"
        "C-000001,ANA@example.com ,GB,2024-01-01T00:00:00Z,2023-01-02T00:00:00Z,maybe,\n",
        encoding="utf-8",
    )
    schema = load_schema("schemas/customer.yaml")
    frame = pl.read_csv(csv, infer_schema=False)
    with pytest.raises(SchemaErrors) as caught:
        to_pandera(schema, as_of="2026-11-01").validate(frame, lazy=True)
    cases = caught.value.failure_cases
    found: dict[str, int] = {}
    for check in cases.get_column("check").to_list():
        rule_id = str(check).split(":", 1)[0]
        found[rule_id] = found.get(rule_id, 0) + 1
    report = validate_source(str(csv), schema, as_of="2026-11-01")
    counted = {o.id: o.failed for o in report.outcomes if o.failed and o.check != "completeness"}
    assert found == counted
    assert counted["email.unique"] == 1  # ANA@example.com with a space: the same address
    assert counted["customer_id.unique"] == 1


# --- the one-record namespace -------------------------------------------------------------


def v(value: Any) -> Value:
    return Value(value)


@pytest.mark.parametrize(
    ("a", "b", "conj", "disj"),
    [
        (True, None, None, True),
        (False, None, False, None),
        (None, None, None, None),
        (True, False, False, True),
    ],
)
def test_kleene_logic_as_the_engines(a: Any, b: Any, conj: Any, disj: Any) -> None:
    import polars as pl

    assert (v(a) & v(b)).v is conj
    assert (v(a) | v(b)).v is disj
    frame = pl.DataFrame({"a": [a], "b": [b]}, schema={"a": pl.Boolean, "b": pl.Boolean})
    row = frame.select(
        (pl.col("a") & pl.col("b")).alias("c"), (pl.col("a") | pl.col("b")).alias("d")
    )
    assert row.row(0) == (conj, disj)


def test_when_takes_the_first_true_condition() -> None:
    ns = RecordNamespace({})
    chain = ns.when(v(None)).then(1).when(v(False)).then(2).when(v(True)).then(3).otherwise(4)
    assert chain.v == 3
    assert ns.when(v(False)).then(1).v is None
    assert ns.when(v(True)).then(1).when(v(True)).then(2).otherwise(3).v == 1


ATOMS = st.sampled_from(
    ["a", "b", "-", r"\.", r"\d", "[a-c]", "[^b]", ".", "é", r"\+", " ", "[]a]", "[^]a]", "[a:]"]
)
QUANTIFIERS = st.sampled_from(["", "", "*", "+", "?", "{1,2}", "{2}", "*?"])


@st.composite
def engine_patterns(draw: st.DrawFn, depth: int = 2) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth and draw(st.booleans()):
            inner = draw(engine_patterns(depth - 1))
            alternative = draw(engine_patterns(depth - 1))
            parts.append(f"(?:{inner}|{alternative})" if draw(st.booleans()) else f"({inner})")
        else:
            parts.append(draw(ATOMS))
        parts[-1] += draw(QUANTIFIERS)
    return "".join(parts)


@settings(max_examples=200, deadline=None)
@given(engine_patterns(), st.lists(st.text(alphabet="ab-.1é+ \n", max_size=6), max_size=6))
def test_engine_patterns_match_as_python_reads_them(pattern: str, values: list[str]) -> None:
    import polars as pl

    assert rules.engine_regex(pattern), pattern
    found = pl.Series(values, dtype=pl.String).str.contains(f"^(?:{pattern})$").to_list()
    assert found == [re.fullmatch(pattern, v) is not None for v in values], pattern


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("NI number JG 10 37 54 A on file", True),  # a NINO: exactly six digits
        ("SSN 078-05-1121", True),
        ("card 4111 1111 1111 1111", True),
        ("ref 12345, room 6", False),
        ("no digits at all", False),
    ],
)
def test_card_and_id_pre_check_keeps_the_shortest_numbers(text: str, holds: bool) -> None:
    schema = parse_schema(
        "name: t\nid: id\nfields:\n  id: {}\n  notes:\n    checks:\n"
        "      - {id: r, check: no_card_or_id_numbers}\n"
    )
    evaluated = BatchRules(schema).evaluate(pa.table({"id": ["a"], "notes": [text]}))
    assert evaluated.frame.get_column(fail_column("r")).to_list() == [holds]
    assert bool(RecordRules(schema).failures({"notes": text})) is holds
    assert min(6, rules.CARD_OR_ID_DIGITS) == rules.CARD_OR_ID_DIGITS


def test_the_polars_plan_equals_narwhals_own_evaluation() -> None:
    """BatchRules translates the Narwhals stages to polars once and reuses them; the
    columns they make equal those of Narwhals' evaluation of the same stages."""
    import narwhals as nw
    import polars as pl

    values = ["1", " 2 ", "x", "", None, "2024-02-29T10:00:00+01:00", "2023-02-29", "1e3"]
    batch = pa.table({"id": ["a"] * len(values), **{f: values for f in SCHEMA.fields if f != "id"}})
    ours = BatchRules(SCHEMA).evaluate(batch).frame
    stages = rules.Stages(nw)
    for item in SCHEMA.fields.values():
        rules.conversion(stages, item.name, item.type, nw.col(item.name), nw.String)
    lazy = nw.from_native(pl.from_arrow(batch)).lazy()
    for stage in stages.stages:
        lazy = lazy.with_columns(list(stage.values()))
    theirs = nw.to_native(lazy.collect())
    compared = [
        column(item.name)
        for item in SCHEMA.fields.values()
        for column in (rules.value_column, rules.bad_column, rules.empty_column)
    ]
    assert ours.select(compared).equals(theirs.select(compared))
    assert ours[rules.bad_column("qty")].to_list() == [
        False,
        False,
        True,
        False,
        False,
        True,
        True,
        False,
    ]


def test_without_narwhals_private_translation_the_verdicts_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BatchRules translates the stages with a call Narwhals does not publish; a
    Narwhals without it (or with another signature) gets each batch evaluated by
    Narwhals itself, with the same columns and verdicts."""
    from custrec.schema import batch as batch_module

    values = ["1", " 2 ", "x", "", None, "2024-02-29T10:00:00+01:00", "2023-02-29", "1e3"]
    batch = pa.table({"id": ["a"] * len(values), **{f: values for f in SCHEMA.fields if f != "id"}})
    translated = BatchRules(SCHEMA).evaluate(batch)
    for name in ("_no_such_translation", "alias"):  # gone; or another signature
        monkeypatch.setattr(batch_module, "_TRANSLATION", name)
        evaluated = BatchRules(SCHEMA).evaluate(batch)
        assert evaluated.frame.equals(translated.frame)
        assert evaluated.counts() == translated.counts()
        assert any(translated.counts().values())  # the values break rules
