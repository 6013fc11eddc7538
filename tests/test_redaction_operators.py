"""Redaction operators (mask, replace, pseudonymise, generalise, free-text spans) and
redaction policy files: examples, error messages with file and line, and properties."""

from __future__ import annotations

import hashlib
import hmac
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.errors import UsageError
from custrec.redaction.operators import (
    PSEUDONYM_HEX_CHARS,
    STRATEGIES,
    Pseudonymiser,
    canonical_strategy,
    generalise,
    mask,
    normalise_for_pseudonym,
    redact_text,
    replace,
)
from custrec.redaction.policy import (
    DEFAULT_TYPE_STRATEGIES,
    ENTITY_TYPES,
    FieldRule,
    PolicyFileError,
    RedactionPolicy,
    load_policy,
    parse_policy,
)

from .conftest import REPO

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _hex(key: bytes, normal: str) -> str:
    """The expected hex of a pseudonym, computed independently of custrec."""
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]


# --- strategies, replace ----------------------------------------------------------------


def test_strategies_and_alias() -> None:
    assert STRATEGIES == (
        "keep",
        "drop",
        "mask",
        "replace",
        "pseudonymise",
        "generalise",
        "scan",
    )
    assert canonical_strategy("pseudonym") == "pseudonymise"
    assert canonical_strategy("mask") == "mask"
    assert canonical_strategy("hide") is None


def test_replace_gives_the_type_tag() -> None:
    assert replace("EMAIL_ADDRESS") == "<EMAIL_ADDRESS>"
    assert replace("PERSON") == "<PERSON>"


# --- mask -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "entity_type", "masked"),
    [
        ("+44 7911 123456", "PHONE_NUMBER", "+** **** **3456"),
        ("(212) 555-0123", "PHONE_NUMBER", "(***) ***-0123"),
        ("555 1234", "PHONE_NUMBER", "*** ****"),  # under 8 digits: nothing shown
        ("4111 1111 1111 1111", "CREDIT_CARD", "**** **** **** 1111"),
        ("4111-1111-1111-1111", "CREDIT_CARD", "****-****-****-1111"),
        ("123-45-6789", "US_SSN", "***-**-6789"),
        ("GB82 WEST 1234 5698 7654 32", "IBAN_CODE", "**** **** **** **** **54 32"),
        ("QQ 12 34 56 C", "UK_NINO", "** ** ** ** *"),
        ("ann.lee@example.com", "EMAIL_ADDRESS", "a***@example.com"),
        (" Ann.Lee@Example.com ", "EMAIL_ADDRESS", "A***@Example.com"),
        ("@example.com", "EMAIL_ADDRESS", "***@example.com"),
        ("not an email", "EMAIL_ADDRESS", "********"),
        ("Ann Lee", "PERSON", "A. L."),
        ("ann  van der lee", "PERSON", "A. V. D. L."),
        ("Mary-Jane O'Neil", "PERSON", "M. O."),
        ("London", None, "******"),
        ("London", "LOCATION", "******"),
        ("a long value of many characters", None, "********"),
        ("", None, ""),
    ],
)
def test_mask_examples(value: str, entity_type: str | None, masked: str) -> None:
    assert mask(value, entity_type) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("dana.lee@example.com", "d***@example.com"),
        (" Dana@Example.org ", "D***@Example.org"),
        ("+44 7911 128222", "+** **** **8222"),
        ("+4917990297922", "+*********7922"),
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("GB82 WEST 1234 5698 7654 32", "**** **** **** **** **54 32"),
        ("London", "******"),
        ("call dana.lee@example.com", "********"),  # not one value of a kind: all stars
    ],
)
def test_mask_without_a_type_masks_by_the_kind_the_value_is(value: str, masked: str) -> None:
    assert mask(value) == masked


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A card or phone number written with separators, and its type."""
    kind = draw(st.sampled_from(["CREDIT_CARD", "PHONE_NUMBER", "US_SSN"]))
    size = {"CREDIT_CARD": (13, 19), "PHONE_NUMBER": (5, 15), "US_SSN": (9, 9)}[kind]
    digits = draw(st.text(alphabet="0123456789", min_size=size[0], max_size=size[1]))
    out = "+" if kind == "PHONE_NUMBER" and draw(st.booleans()) else ""
    for digit in digits:
        out += digit + draw(st.sampled_from(["", "", " ", "-", ".", "(", ")"]))
    return out, kind


@given(written_numbers())
def test_mask_shows_at_most_the_last_four_digits(case: tuple[str, str]) -> None:
    value, kind = case
    masked = mask(value, kind)
    original = _digits(value)
    shown = _digits(masked)
    assert len(masked) == len(value)
    for before, after in zip(value, masked, strict=True):  # separators stay in place
        assert after == before if not before.isdigit() else after in (before, "*")
    assert len(shown) <= 4
    assert shown == (original[-4:] if len(original) >= 8 else "")
    for start in range(len(original) - 4):
        assert original[start : start + 5] not in shown


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1, max_size=40))
def test_mask_iban_shows_at_most_four_characters(value: str) -> None:
    masked = mask(value, "IBAN_CODE")
    secret = [ch for ch in value if ch.isalnum()]
    shown = [ch for ch in masked if ch.isalnum()]
    assert shown == (secret[-4:] if len(secret) >= 8 else [])
    assert [ch == " " for ch in masked] == [ch == " " for ch in value]


# --- generalise -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "to", "result"),
    [
        ("1987-06-15", "date", None, "1987"),
        ("1987-06-15", "date", "year", "1987"),
        ("1987-06-15", "date", "month", "1987-06"),
        (" 1987-06-15 ", "date", "month", "1987-06"),
        ("1987-06-15T23:30:00+02:00", "datetime", None, "1987"),
        ("1987-06-15 10:20:30", "datetime", "month", "1987-06"),
        ("1987-12-31T23:59:59Z", "date", "month", "1987-12"),
        ("SW1A 1AA", "postcode", None, "SW1A"),
        ("sw1a1aa", "postcode", None, "SW1A"),
        ("M1 1AE", "postcode", None, "M1"),
        ("EC1A  1BB", "postcode", None, "EC1A"),
        ("90210", "postcode", None, "902XX"),
        ("90210-1234", "postcode", None, "902XX"),
        ("K1A 0B1", "postcode", None, "K1A"),
        ("1011 AB", "postcode", None, "101"),
        ("100-0001", "postcode", None, "100"),
        ("37", "age", None, "30-39"),
        ("0", "age", None, "0-9"),
        ("9", "age", None, "0-9"),
        ("10", "age", None, "10-19"),
        ("89", "age", None, "80-89"),
        ("90", "age", None, "90+"),
        ("104", "age", None, "90+"),
    ],
)
def test_generalise_examples(value: str, kind: str, to: str | None, result: str) -> None:
    assert generalise(value, kind, to=to) == result


@pytest.mark.parametrize(
    ("value", "kind", "to", "message"),
    [
        ("15/06/1987", "date", None, "not an ISO 8601 date"),
        ("1987-13-01", "date", None, "not an ISO 8601 date"),
        ("", "datetime", None, "not an ISO 8601 date"),
        ("1987-06-15", "date", "day", "year or month, not 'day'"),
        ("SW1A 1AA", "postcode", "month", "'to' applies to dates only"),
        ("!", "postcode", None, "is not a postcode"),
        ("thirty", "age", None, "is not an age"),
        ("-3", "age", None, "is not an age"),
        ("37.5", "age", None, "is not an age"),
        ("37", "height", None, "cannot generalise a value of kind 'height'"),
    ],
)
def test_generalise_refuses_what_it_cannot_read(
    value: str, kind: str, to: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generalise(value, kind, to=to)


@given(st.dates(), st.sampled_from(["year", "month"]))
def test_generalise_date_keeps_year_and_month_only(day: object, to: str) -> None:
    text = str(day)
    result = generalise(text, "date", to=to)
    assert result == (text[:4] if to == "year" else text[:7])


@given(st.integers(min_value=0, max_value=150))
def test_generalise_age_band_holds_the_age(age: int) -> None:
    band = generalise(str(age), "age")
    if age >= 90:
        assert band == "90+"
    else:
        low, high = (int(part) for part in band.split("-"))
        assert low <= age <= high
        assert high - low == 9
        assert low % 10 == 0


# --- pseudonyms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity_type", "value", "region", "normal"),
    [
        ("EMAIL_ADDRESS", "  Ann.Lee@Example.COM ", None, "ann.lee@example.com"),
        ("PHONE_NUMBER", "07911 123456", "GB", "+447911123456"),
        ("PHONE_NUMBER", "07911 123456", "gb", "+447911123456"),
        ("PHONE_NUMBER", "+44 (0)7911 123456", None, "+447911123456"),
        ("PHONE_NUMBER", "(212) 555-0123", "US", "+12125550123"),
        ("PHONE_NUMBER", "+12 34", None, "+1234"),  # not a number: digits and its +
        ("PHONE_NUMBER", "call 12-34", None, "1234"),
        ("CREDIT_CARD", "4111-1111 1111 1111", None, "4111111111111111"),
        ("IBAN_CODE", "gb82 west 1234 5698 7654 32", None, "GB82WEST12345698765432"),
        ("US_SSN", "123-45-6789", None, "123456789"),
        ("UK_NINO", "qq 12 34 56 c", None, "QQ123456C"),
        ("UK_POSTCODE", "sw1a 1aa", None, "SW1A1AA"),
        ("IP_ADDRESS", " 2001:DB8:0:0::1 ", None, "2001:db8::1"),
        ("IP_ADDRESS", "not an address", None, "not an address"),
        ("PERSON", "  Ann \t  LEE ", None, "ann lee"),
        ("PERSON", "Ａｎｎ", None, "ann"),  # full-width letters: NFKC
        ("LOCATION", "Straße", None, "strasse"),
        ("SOMETHING_ELSE", " A  B ", None, "a b"),
    ],
)
def test_normalise_for_pseudonym(
    entity_type: str, value: str, region: str | None, normal: str
) -> None:
    assert normalise_for_pseudonym(entity_type, value, region) == normal


def test_token_is_the_hmac_of_the_normalised_value_only() -> None:
    pseudonymiser = Pseudonymiser(KEY)
    token = pseudonymiser.token("EMAIL_ADDRESS", " Ann.Lee@Example.com")
    assert token == f"<EMAIL_ADDRESS_{_hex(KEY, 'ann.lee@example.com')}>"
    assert re.fullmatch(r"<EMAIL_ADDRESS_[0-9a-f]{16}>", token)
    # the type is not part of the HMAC: the same normal form gives the same hex
    same = pseudonymiser.token("LOCATION", "ann.lee@example.com")
    assert same == f"<LOCATION_{_hex(KEY, 'ann.lee@example.com')}>"
    phone = pseudonymiser.token("PHONE_NUMBER", "07911 123456", "GB")
    assert phone == f"<PHONE_NUMBER_{_hex(KEY, '+447911123456')}>"


def test_pseudonymiser_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes, not 16"):
        Pseudonymiser(b"k" * 16)
    assert KEY.hex() not in repr(Pseudonymiser(KEY))


def test_operators_import_only_the_standard_library() -> None:
    code = (
        "import sys\n"
        "import custrec.redaction.operators, custrec.redaction.policy\n"
        "heavy = ('pandas', 'numpy', 'pyarrow', 'phonenumbers', 'yaml', 'cryptography')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == ""


@st.composite
def case_variants(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    changed = "".join(ch.upper() if flip else ch for ch, flip in zip(text, flips, strict=True))
    before = draw(st.sampled_from(["", " ", "  ", "\t"]))
    after = draw(st.sampled_from(["", " ", "\n"]))
    return before + changed + after


emails = st.emails().map(str.lower)


@given(emails, st.data())
def test_pseudonym_same_for_every_written_form_of_an_email(email: str, data: st.DataObject) -> None:
    pseudonymiser = Pseudonymiser(KEY)
    variant = data.draw(case_variants(email))
    first = pseudonymiser.token("EMAIL_ADDRESS", email)
    assert pseudonymiser.token("EMAIL_ADDRESS", variant) == first
    assert Pseudonymiser(KEY).token("EMAIL_ADDRESS", email) == first  # deterministic
    assert Pseudonymiser(OTHER_KEY).token("EMAIL_ADDRESS", email) != first
    assert email not in first
    assert variant.strip() not in first


@st.composite
def phone_forms(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A region and several ways of writing one number: national and international."""
    if draw(st.booleans()):
        rest = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
        national = "7" + rest
        forms = [
            f"0{national[:4]} {national[4:]}",
            f"0{national}",
            f"+44 {national[:4]} {national[4:]}",
            f"+44{national}",
            f"0044 {national}",
        ]
        return "GB", forms
    area = draw(st.sampled_from(["212", "415", "617", "303"]))
    line = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    forms = [
        f"({area}) {line[:3]}-{line[3:]}",
        f"{area}-{line[:3]}-{line[3:]}",
        f"+1 {area} {line[:3]} {line[3:]}",
        f"+1{area}{line}",
    ]
    return "US", forms


@given(phone_forms())
def test_pseudonym_same_for_national_and_international_phone(case: tuple[str, list[str]]) -> None:
    region, forms = case
    pseudonymiser = Pseudonymiser(KEY)
    tokens = {pseudonymiser.token("PHONE_NUMBER", form, region) for form in forms}
    assert len(tokens) == 1
    token = tokens.pop()
    assert re.fullmatch(r"<PHONE_NUMBER_[0-9a-f]{16}>", token)
    assert Pseudonymiser(OTHER_KEY).token("PHONE_NUMBER", forms[0], region) != token
    for form in forms:
        assert form not in token
        assert _digits(form)[-8:] not in token


@given(
    st.sampled_from(ENTITY_TYPES),
    st.text(min_size=1, max_size=40),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_pseudonym_deterministic_and_keyed(
    entity_type: str, value: str, key: bytes, other: bytes
) -> None:
    token = Pseudonymiser(key).token(entity_type, value, "GB")
    assert Pseudonymiser(key).token(entity_type, value, "GB") == token
    assert token.startswith(f"<{entity_type}_")
    assert re.fullmatch(rf"<{entity_type}_[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}>", token)
    if other != key:
        assert Pseudonymiser(other).token(entity_type, value, "GB") != token


# --- free text --------------------------------------------------------------------------


class Span(NamedTuple):
    start: int
    end: int
    type: str


GAP_CHARS = "abc .,\n"
SECRET_CHARS = "#@%0123456789"


@st.composite
def texts_with_spans(draw: st.DrawFn) -> tuple[str, list[str], list[Span]]:
    parts = draw(
        st.lists(
            st.tuples(
                st.text(alphabet=GAP_CHARS, max_size=6),
                st.text(alphabet=SECRET_CHARS, min_size=1, max_size=8),
                st.sampled_from(ENTITY_TYPES),
            ),
            max_size=8,
        )
    )
    text = ""
    gaps: list[str] = []
    spans: list[Span] = []
    for gap, secret, entity_type in parts:
        gaps.append(gap)
        text += gap
        spans.append(Span(len(text), len(text) + len(secret), entity_type))
        text += secret
    tail = draw(st.text(alphabet=GAP_CHARS, max_size=6))
    gaps.append(tail)
    text += tail
    return text, gaps, draw(st.permutations(spans))


@given(texts_with_spans())
def test_redact_text_replaces_spans_and_nothing_else(
    case: tuple[str, list[str], list[Span]],
) -> None:
    text, gaps, spans = case
    calls: list[tuple[str, str]] = []

    def apply(entity_type: str, value: str) -> str:
        calls.append((entity_type, value))
        return f"<{entity_type}>"

    out = redact_text(text, spans, apply)
    assert re.split(r"<[A-Z_]+>", out) == gaps  # text outside the spans is unchanged
    assert not set(out) & set(SECRET_CHARS)  # every span's value is gone
    assert sorted(calls) == sorted((s.type, text[s.start : s.end]) for s in spans)
    assert re.findall(r"<([A-Z_]+)>", out) == [s.type for s in sorted(spans)]


def test_redact_text_example_with_operators() -> None:
    text = "Call Ann on +44 7911 123456 or mail ann@example.com."
    spans = [Span(36, 51, "EMAIL_ADDRESS"), Span(12, 27, "PHONE_NUMBER"), Span(5, 8, "PERSON")]
    out = redact_text(text, spans, lambda kind, value: mask(value, kind))
    assert out == "Call A. on +** **** **3456 or mail a***@example.com."
    assert redact_text(text, [], lambda kind, value: "?") == text


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([Span(0, 5, "PERSON"), Span(4, 8, "PERSON")], "overlaps another one"),
        ([Span(2, 2, "PERSON")], "is not a span"),
        ([Span(5, 3, "PERSON")], "is not a span"),
        ([Span(-1, 3, "PERSON")], "is not a span"),
        ([Span(8, 11, "PERSON")], "is not a span of a text of 10 characters"),
    ],
)
def test_redact_text_refuses_bad_spans(spans: list[Span], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        redact_text("0123456789", spans, lambda kind, value: "")


# --- policies ---------------------------------------------------------------------------

EXAMPLE = """\
version: 1
fields:
  email: pseudonymise
  phone: mask
  date_of_birth: {strategy: generalise, to: month}
  postcode: {strategy: generalise, kind: postcode}
  notes: scan
  internal_code: drop
  mobile: {strategy: mask, kind: PHONE_NUMBER}
  customer_id: pseudonym
types:
  EMAIL_ADDRESS: pseudonymise
  CREDIT_CARD: mask
  PERSON: pseudonym
  default: replace
default: keep
"""


def test_policy_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    policy = load_policy(path)
    assert policy.fields == {
        "email": FieldRule("pseudonymise", None, None),
        "phone": FieldRule("mask", None, None),
        "date_of_birth": FieldRule("generalise", "month", "date"),
        "postcode": FieldRule("generalise", None, "postcode"),
        "notes": FieldRule("scan", None, None),
        "internal_code": FieldRule("drop", None, None),
        "mobile": FieldRule("mask", None, "PHONE_NUMBER"),
        "customer_id": FieldRule("pseudonymise", None, None),
    }
    assert policy.field_lines["email"] == 3
    assert policy.field_lines["customer_id"] == 10
    assert policy.for_type("EMAIL_ADDRESS") == "pseudonymise"
    assert policy.for_type("CREDIT_CARD") == "mask"
    assert policy.for_type("PERSON") == "pseudonymise"
    assert policy.for_type("PHONE_NUMBER") == "replace"  # types' default, not built-in
    assert policy.for_type("NOT_A_TYPE") == "replace"
    assert policy.default == FieldRule("keep")


def test_for_field_policy_then_schema_then_default() -> None:
    policy = parse_policy(EXAMPLE)
    assert policy.for_field("email", "keep") == FieldRule("pseudonymise")
    assert policy.for_field("city", "generalise") == FieldRule("generalise")
    assert policy.for_field("city", "pseudonym") == FieldRule("pseudonymise")
    assert policy.for_field("city") == FieldRule("keep")
    with pytest.raises(UsageError, match="field 'city': the schema's redaction 'hide'") as info:
        policy.for_field("city", "hide")
    assert info.value.exit_code == 2


def test_policy_defaults_when_none_is_given() -> None:
    policy = RedactionPolicy()
    assert policy.for_field("anything") == FieldRule("drop")
    assert policy.for_field("anything", "keep") == FieldRule("keep")
    assert {name: policy.for_type(name) for name in ENTITY_TYPES} == DEFAULT_TYPE_STRATEGIES
    assert set(DEFAULT_TYPE_STRATEGIES) == set(ENTITY_TYPES)
    assert policy.for_type("EMAIL_ADDRESS") == "pseudonymise"
    assert policy.for_type("CREDIT_CARD") == "mask"
    assert policy.for_type("US_SSN") == "replace"
    assert policy.for_type("NOT_A_TYPE") == "replace"
    assert parse_policy("version: 1\n") == policy


def test_policy_types_without_default_keep_the_built_in_ones() -> None:
    policy = parse_policy("types:\n  EMAIL_ADDRESS: keep\nfields:\n")
    assert policy.for_type("EMAIL_ADDRESS") == "keep"
    assert policy.for_type("CREDIT_CARD") == DEFAULT_TYPE_STRATEGIES["CREDIT_CARD"]
    assert policy.fields == {}
    keep_all = parse_policy("types: {default: keep}\n")
    assert {keep_all.for_type(name) for name in ENTITY_TYPES} == {"keep"}
    assert keep_all.for_type("NOT_A_TYPE") == "keep"


MARK = "# <-"


def assert_policy_error(tmp_path: Path, text: str, *fragments: str) -> PolicyFileError:
    """Loading ``text`` fails (exit 2) naming the file and the line marked ``# <-``."""
    text = textwrap.dedent(text)
    marked = [n for n, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(marked) == 1
    path = tmp_path / "bad-policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    error = info.value
    assert isinstance(error, UsageError)
    assert error.exit_code == 2
    assert error.line == marked[0]
    assert str(error).startswith(f"{path}:{marked[0]}: "), str(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    return error


POLICY_ERRORS = [
    pytest.param(
        """\
        fields:
          email: @mask  # <-
        """,
        ["not valid YAML"],
        id="invalid-yaml",
    ),
    pytest.param("- mask  # <-\n", ["expected a mapping"], id="not-a-mapping"),
    pytest.param(
        """\
        version: 1
        field:  # <-
          email: mask
        """,
        ["unknown key 'field'", "version, description, fields, types, default"],
        id="unknown-top-key",
    ),
    pytest.param(
        "fields: {}\nversion: 2  # <-\n",
        ["version 2 is not supported", "expected 1"],
        id="version-2",
    ),
    pytest.param("version: '1'  # <-\n", ["version '1' is not supported"], id="version-text"),
    pytest.param("version: true  # <-\n", ["version True"], id="version-bool"),
    pytest.param(
        """\
        version: 1
        fields:
          email: pseudonymise
          phone: hide  # <-
        """,
        ["field 'phone': unknown strategy 'hide'", "keep, drop, mask", "pseudonym"],
        id="unknown-strategy",
    ),
    pytest.param(
        """\
        fields:
          dob:
            to: month
            strategy: blur  # <-
        """,
        ["field 'dob': unknown strategy 'blur'"],
        id="unknown-strategy-in-mapping",
    ),
    pytest.param(
        """\
        fields:
          dob: {to: month}  # <-
        """,
        ["field 'dob': 'strategy' is missing"],
        id="missing-strategy",
    ),
    pytest.param(
        """\
        fields:
          dob:
            strategy: generalise
            level: month  # <-
        """,
        ["unknown key 'level'", "strategy, kind, to"],
        id="unknown-rule-key",
    ),
    pytest.param(
        """\
        fields:
          dob:
            strategy: generalise
            to: week  # <-
        """,
        ["field 'dob': bad 'to' 'week'", "year or month"],
        id="bad-to",
    ),
    pytest.param(
        """\
        fields:
          dob: {strategy: mask, to: month}  # <-
        """,
        ["'to' applies to generalise of a date, not to mask"],
        id="to-without-generalise",
    ),
    pytest.param(
        """\
        fields:
          postcode:
            strategy: generalise
            kind: postcode
            to: year  # <-
        """,
        ["'to' applies to dates only, not to kind 'postcode'"],
        id="to-with-postcode",
    ),
    pytest.param(
        """\
        fields:
          postcode:
            strategy: generalise
            kind: zipcode  # <-
        """,
        ["unknown kind 'zipcode' for generalise", "date, datetime, postcode, age"],
        id="unknown-generalise-kind",
    ),
    pytest.param(
        """\
        fields:
          phone:
            strategy: mask
            kind: PHONE  # <-
        """,
        ["unknown kind 'PHONE' for mask", "PHONE_NUMBER"],
        id="unknown-entity-kind",
    ),
    pytest.param(
        """\
        fields:
          notes:
            strategy: scan
            kind: PERSON  # <-
        """,
        ["'kind' does not apply to scan"],
        id="kind-with-scan",
    ),
    pytest.param(
        """\
        fields:
          email: 3  # <-
        """,
        ["field 'email': expected a strategy name or a mapping"],
        id="rule-not-text",
    ),
    pytest.param(
        "fields: [email]  # <-\n", ["'fields' must map each field name"], id="fields-list"
    ),
    pytest.param(
        """\
        fields:
          email: mask
          email: keep  # <-
        """,
        ["'email' is given twice (first on line 2)"],
        id="duplicate-field",
    ),
    pytest.param(
        """\
        fields:
          1: keep  # <-
        """,
        ["field name 1: expected non-empty text"],
        id="field-name-number",
    ),
    pytest.param(
        """\
        types:
          EMAIL_ADDRESS: mask
          EMAIL: mask  # <-
        """,
        ["unknown type name 'EMAIL'", "EMAIL_ADDRESS, PHONE_NUMBER", "default"],
        id="unknown-type-name",
    ),
    pytest.param(
        """\
        types:
          PERSON: scan  # <-
        """,
        ["type 'PERSON': 'scan' applies to fields, not to types", "keep, mask, replace"],
        id="scan-in-types",
    ),
    pytest.param(
        """\
        types:
          PERSON: drop  # <-
        """,
        ["type 'PERSON': unknown strategy 'drop'", "keep, mask, replace, pseudonymise"],
        id="drop-in-types",
    ),
    pytest.param(
        """\
        types:
          default: generalise  # <-
        """,
        ["type 'default': unknown strategy 'generalise'"],
        id="generalise-as-type-default",
    ),
    pytest.param("types: replace  # <-\n", ["'types' must map each type name"], id="types-text"),
    pytest.param(
        """\
        fields: {}
        default: hide  # <-
        """,
        ["'default': unknown strategy 'hide'"],
        id="bad-default",
    ),
    pytest.param("description: [a, b]  # <-\n", ["'description' must be text"], id="description"),
]


@pytest.mark.parametrize(("text", "fragments"), POLICY_ERRORS)
def test_policy_errors_name_file_and_line(tmp_path: Path, text: str, fragments: list[str]) -> None:
    assert_policy_error(tmp_path, text, *fragments)


def test_policy_file_missing_or_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyFileError, match=re.escape(f"{missing}: no such policy file")):
        load_policy(missing)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PolicyFileError, match=":1: column 1: invalid UTF-8 byte") as info:
        load_policy(binary)
    assert info.value.exit_code == 2


def test_parse_policy_names_its_source() -> None:
    with pytest.raises(PolicyFileError, match=r"^team-policy:2: field 'x': unknown strategy"):
        parse_policy("fields:\n  x: nope\n", "team-policy")


@settings(max_examples=50)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
        st.sampled_from([*STRATEGIES, "pseudonym"]),
        max_size=6,
    ),
    st.sampled_from(["keep", "mask", "replace", "pseudonymise", "pseudonym"]),
)
def test_policy_field_strategies_round_trip(fields: dict[str, str], type_default: str) -> None:
    lines = ["version: 1", "fields:"]
    # quoted: YAML reads a bare yes, no, on, off, y or n as true/false, which the parser
    # refuses as a field name (tested apart)
    lines += [f'  "{name}": {strategy}' for name, strategy in fields.items()]
    lines += ["types:", f"  default: {type_default}"]
    policy = parse_policy("\n".join(lines) + "\n")
    assert {name: rule.strategy for name, rule in policy.fields.items()} == {
        name: canonical_strategy(strategy) for name, strategy in fields.items()
    }
    assert {policy.for_type(name) for name in ENTITY_TYPES} == {canonical_strategy(type_default)}
    for position, name in enumerate(fields):
        assert policy.field_lines[name] == position + 3


def test_a_field_name_yaml_reads_as_true_or_false_is_refused_with_the_fix() -> None:
    with pytest.raises(PolicyFileError, match=r"field name True: .*put the name in quotes"):
        parse_policy("version: 1\nfields:\n  yes: keep\n")
    assert parse_policy('version: 1\nfields:\n  "yes": keep\n').fields["yes"].strategy == "keep"
