"""Tests of the seeded example-data generators (custrec.generate).

The validators here are written independently of the generator's own code: they are
the oracle that the defect list is ground truth for.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.generate import (
    CUSTOMER_COLUMNS,
    CUSTOMER_DEFECT_KINDS,
    DEFECT_KINDS,
    INTERACTION_COLUMNS,
    INTERACTION_DEFECT_KINDS,
    Chunk,
    Defect,
    Value,
    generate_customers,
    generate_interactions,
)
from custrec.generate._common import COUNTRIES

from .conftest import REPO, best_seconds

CUSTREC = [sys.executable, "-m", "custrec"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

Row = dict[str, Value]
TODAY = date(2026, 11, 1)
MIDNIGHT = datetime(2026, 11, 1, tzinfo=UTC)

COUNTRY_CODES = {"GB", "US", "DE", "FR", "IE", "ES", "PL", "NL", "SE", "IN", "BR", "JP"}
EMAIL = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?@example\.(?:com|org|net)", re.IGNORECASE)
PHONE_CHARS = re.compile(r"[0-9 ()+.\-]+")
# National significant number lengths of the numbers generated per country.
NSN_LENGTH = {"GB": 10, "US": 10, "DE": 11, "FR": 9, "IE": 9, "ES": 9, "PL": 9, "NL": 9,
              "SE": 9, "IN": 10, "BR": 11, "JP": 10}  # fmt: skip
POSTCODE = {
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
    "US": r"\d{5}(-\d{4})?",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "ES": r"\d{5}",
    "IE": r"[A-Z]\d[\dW] [A-Z\d]{4}",
    "PL": r"\d{2}-\d{3}",
    "NL": r"[1-9]\d{3} [A-Z]{2}",
    "SE": r"\d{3} \d{2}",
    "IN": r"[1-9]\d{5}",
    "BR": r"\d{5}-\d{3}",
    "JP": r"\d{3}-\d{4}",
}
PLANS = {country.code: country.phone for country in COUNTRIES}
TEST_CARD_NUMBERS = {
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "5105105105105100",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
}


# -- helpers ----------------------------------------------------------------------------


def collect(chunks: Iterator[Chunk]) -> tuple[list[Row], list[Defect]]:
    rows: list[Row] = []
    defects: list[Defect] = []
    for chunk in chunks:
        rows.extend(chunk.rows)
        defects.extend(chunk.defects)
    return rows, defects


def good_rows(rows: list[Row], defects: list[Defect]) -> list[tuple[int, Row]]:
    bad = {d.row for d in defects}
    return [(n, row) for n, row in enumerate(rows, 1) if n not in bad]


def e164(phone: str, country: str) -> str:
    """Normalise a phone number written in any of the usual ways to E.164."""
    plan = PLANS[country]
    text = phone.strip().replace("(0)", "")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return "+" + digits
    if text.startswith("00"):
        return "+" + digits[2:]
    if plan.calling_code == "1" and len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    if plan.trunk and digits.startswith(plan.trunk):
        digits = digits[len(plan.trunk) :]
    return f"+{plan.calling_code}{digits}"


def plausible_phone(phone: str, country: str) -> bool:
    if not PHONE_CHARS.fullmatch(phone):
        return False
    number = e164(phone, country)
    code = PLANS[country].calling_code
    return number.startswith(f"+{code}") and len(number) - 1 - len(code) == NSN_LENGTH[country]


def valid_email(email: str) -> bool:
    bare = email.strip()
    return bool(EMAIL.fullmatch(bare)) and ".." not in bare


def instant(text: object) -> datetime:
    assert isinstance(text, str)
    assert text.endswith(("Z", "+01:00")), text
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value


def calendar_date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of payment card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """Runs of 15-16 digits, single spaces or dashes allowed between them, that are not
    international phone numbers (those start with +)."""
    pattern = r"(?<![+\d])\d(?:[ -]?\d){14,15}(?!\d)"
    return [re.sub(r"[ -]", "", match) for match in re.findall(pattern, text)]


# -- shared data ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def customers() -> tuple[list[Row], list[Defect]]:
    return collect(generate_customers(5000, seed=11))


@pytest.fixture(scope="module")
def messy_customers() -> tuple[list[Row], list[Defect]]:
    return collect(generate_customers(3000, seed=12, bad_share=0.4))


@pytest.fixture(scope="module")
def interactions() -> tuple[list[Row], list[Defect]]:
    return collect(generate_interactions(5000, customers=800, seed=13))


@pytest.fixture(scope="module")
def messy_interactions() -> tuple[list[Row], list[Defect]]:
    return collect(generate_interactions(3000, customers=300, seed=14, bad_share=0.4))


# -- arguments, shape, determinism ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, "rows"),
        ({"rows": 10, "bad_share": -0.01}, "bad_share"),
        ({"rows": 10, "bad_share": 1.5}, "bad_share"),
        ({"rows": 10, "chunk_rows": 0}, "chunk_rows"),
    ],
)
@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_bad_arguments_raise_at_call_time(
    generate: object, kwargs: dict[str, float], message: str
) -> None:
    assert callable(generate)
    # Raised by the call itself, before any iteration (callers wrap only the call).
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


def test_interactions_need_at_least_one_customer() -> None:
    with pytest.raises(ValueError, match="customers"):
        generate_interactions(10, customers=0)


def test_columns_are_exact_and_in_order() -> None:
    assert CUSTOMER_COLUMNS[:5] == ("customer_id", "first_name", "last_name", "email", "phone")
    assert len(CUSTOMER_COLUMNS) == 16
    assert INTERACTION_COLUMNS[0] == "interaction_id"
    assert INTERACTION_COLUMNS[-4:] == ("csat", "nps", "ces", "survey_sent")
    assert len(INTERACTION_COLUMNS) == 22
    for rows, columns in (
        (collect(generate_customers(50, bad_share=0.5))[0], CUSTOMER_COLUMNS),
        (collect(generate_interactions(50, bad_share=0.5))[0], INTERACTION_COLUMNS),
    ):
        for row in rows:
            assert tuple(row) == columns
            assert all(isinstance(v, str | int | float | bool | type(None)) for v in row.values())


@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_row_count_and_chunk_sizes_are_exact(generate: object) -> None:
    assert callable(generate)
    chunks = list(generate(25, chunk_rows=10))
    assert [len(chunk.rows) for chunk in chunks] == [10, 10, 5]
    assert list(generate(0)) == []
    assert sum(len(chunk.rows) for chunk in generate(1001, chunk_rows=1000)) == 1001


@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_same_seed_same_output_other_seed_other_output(generate: object) -> None:
    assert callable(generate)
    first = collect(generate(300, seed=5, bad_share=0.2))
    assert collect(generate(300, seed=5, bad_share=0.2)) == first
    other = collect(generate(300, seed=6, bad_share=0.2))
    assert other[0] != first[0]


@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_output_does_not_depend_on_chunk_size(generate: object) -> None:
    assert callable(generate)
    small = collect(generate(700, seed=3, bad_share=0.3, chunk_rows=7))
    large = collect(generate(700, seed=3, bad_share=0.3, chunk_rows=1000))
    assert small == large
    assert len(small[1]) > 100


def test_today_anchors_every_date() -> None:
    anchor = date(2020, 3, 1)
    customers, _ = collect(generate_customers(300, bad_share=0.0, today=anchor))
    interactions, _ = collect(generate_interactions(300, bad_share=0.0, today=anchor))
    midnight = datetime(2020, 3, 1, tzinfo=UTC)
    for row in customers:
        assert instant(row["updated_at"]) < midnight
        assert str(row["last_verified"]) < "2020-03-01"
    for row in interactions:
        assert midnight - timedelta(days=90) <= instant(row["created_at"]) < midnight


# -- defects ---------------------------------------------------------------------------


def test_defect_kinds_are_documented() -> None:
    assert set(CUSTOMER_DEFECT_KINDS) | set(INTERACTION_DEFECT_KINDS) == set(DEFECT_KINDS)
    assert set(CUSTOMER_DEFECT_KINDS) == {
        "bad_email", "bad_phone", "impossible_date", "missing_required", "bad_country",
        "bad_postcode", "duplicate_id", "duplicate_contact",
    }  # fmt: skip
    assert set(INTERACTION_DEFECT_KINDS) == {
        "negative_duration", "ended_before_created", "out_of_range_score",
        "missing_required", "duplicate_id", "bad_timestamp",
    }  # fmt: skip
    for description in DEFECT_KINDS.values():
        assert description
        assert "\n" not in description


@pytest.mark.parametrize(
    ("generate", "kinds"),
    [
        (generate_customers, CUSTOMER_DEFECT_KINDS),
        (generate_interactions, INTERACTION_DEFECT_KINDS),
    ],
)
def test_defect_share_follows_bad_share(generate: object, kinds: tuple[str, ...]) -> None:
    assert callable(generate)
    _, defects = collect(generate(5000, seed=21))
    assert 0.04 <= len(defects) / 5000 <= 0.06
    assert {d.kind for d in defects} == set(kinds)
    assert collect(generate(2000, seed=21, bad_share=0.0))[1] == []
    rows, every = collect(generate(300, seed=21, bad_share=1.0))
    # Every row, the first included (no earlier row to duplicate), has exactly one.
    assert [d.row for d in every] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("fixture", ["messy_customers", "messy_interactions"])
def test_defects_are_sorted_one_per_row_with_the_written_id(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    rows, defects = request.getfixturevalue(fixture)
    id_column = "customer_id" if fixture == "messy_customers" else "interaction_id"
    numbers = [d.row for d in defects]
    assert numbers == sorted(set(numbers))
    for defect in defects:
        written = rows[defect.row - 1][id_column]
        if defect.record_id is None:
            assert (defect.kind, defect.field) == ("missing_required", id_column)
            assert written in ("", None)
        else:
            assert defect.record_id == written


def test_customer_defects_are_really_wrong(
    messy_customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = messy_customers
    seen: Counter[tuple[str, str]] = Counter()
    for defect in defects:
        row = rows[defect.row - 1]
        seen[defect.kind, defect.field] += 1
        country = str(row["country"])
        if defect.kind == "bad_email":
            assert defect.field == "email"
            assert not valid_email(str(row["email"]))
        elif defect.kind == "bad_phone":
            phone = str(row["phone"])
            assert defect.field == "phone"
            assert re.search(r"[A-Za-z]", phone) or len(re.sub(r"\D", "", phone)) < 7
        elif defect.kind == "impossible_date" and defect.field == "date_of_birth":
            born = calendar_date(row["date_of_birth"])
            assert born is None or born > TODAY
        elif defect.kind == "impossible_date":
            assert defect.field == "created_at|updated_at"
            assert instant(row["created_at"]) > instant(row["updated_at"])
        elif defect.kind == "missing_required" and defect.field == "customer_id":
            assert row["customer_id"] in ("", None)
        elif defect.kind == "missing_required":
            assert defect.field == "email|phone"
            assert row["email"] in ("", None)
            assert row["phone"] in ("", None)
        elif defect.kind == "bad_country":
            assert defect.field == "country"
            assert country not in COUNTRY_CODES
        elif defect.kind == "bad_postcode":
            assert defect.field == "postcode"
            assert not re.fullmatch(POSTCODE[country], str(row["postcode"]))
        else:
            assert defect.kind in ("duplicate_id", "duplicate_contact")
            assert defect.field == ""
    assert seen["impossible_date", "date_of_birth"]
    assert seen["impossible_date", "created_at|updated_at"]
    assert seen["missing_required", "customer_id"]
    assert seen["missing_required", "email|phone"]


def test_customer_ids_are_unique_except_declared_duplicates(
    messy_customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = messy_customers
    kinds = {d.row: d for d in defects}
    first_row_of: dict[object, int] = {}
    duplicates = 0
    for n, row in enumerate(rows, 1):
        customer_id = row["customer_id"]
        if customer_id in ("", None):
            continue
        if customer_id in first_row_of:
            assert kinds[n].kind == "duplicate_id", (n, customer_id)
            duplicates += 1
        else:
            assert n not in kinds or kinds[n].kind != "duplicate_id"
            if n not in kinds or kinds[n].kind != "missing_required":
                assert customer_id == f"C-{n:06d}"
            first_row_of[customer_id] = n
    assert duplicates == sum(1 for d in defects if d.kind == "duplicate_id") > 10


def test_duplicate_contacts_repeat_an_earlier_rows_contact_written_differently(
    messy_customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = messy_customers
    checked = 0
    for defect in defects:
        if defect.kind != "duplicate_contact":
            continue
        row = rows[defect.row - 1]
        assert row["customer_id"] == f"C-{defect.row:06d}"  # a new id
        matches = []
        for earlier in rows[: defect.row - 1]:
            email, earlier_email = row["email"], earlier["email"]
            if (
                isinstance(email, str)
                and isinstance(earlier_email, str)
                and email.strip().lower() == earlier_email.strip().lower()
            ):
                matches.append(("email", earlier_email))
            if isinstance(row["phone"], str) and isinstance(earlier["phone"], str):
                country = str(row["country"])
                if earlier["country"] == country and e164(row["phone"], country) == e164(
                    earlier["phone"], country
                ):
                    matches.append(("phone", earlier["phone"]))
        assert matches, defect
        field, earlier_value = matches[0]
        assert row[field] != earlier_value  # differently cased or formatted
        checked += 1
    assert checked > 20


def test_customer_defect_list_is_complete(
    messy_customers: tuple[list[Row], list[Defect]],
) -> None:
    """Rows that are not declared bad pass every check of a careful validator."""
    rows, defects = messy_customers
    declared = {d.row for d in defects}
    emails: dict[str, int] = {}
    phones: dict[str, int] = {}
    for n, row in enumerate(rows, 1):
        country = str(row["country"])
        problems = []
        if row["customer_id"] in ("", None):
            problems.append("id")
        email, phone = row["email"], row["phone"]
        if email in ("", None) and phone in ("", None):
            problems.append("contact")
        if isinstance(email, str) and email:
            if not valid_email(email):
                problems.append("email")
            elif emails.setdefault(email.strip().lower(), n) != n:
                problems.append("duplicate email")
        if country not in COUNTRY_CODES:
            problems.append("country")
        elif isinstance(phone, str) and phone:
            if not plausible_phone(phone, country):
                problems.append("phone")
            elif phones.setdefault(e164(phone, country), n) != n:
                problems.append("duplicate phone")
        postcode = row["postcode"]
        checkable = country in COUNTRY_CODES and postcode is not None
        if checkable and not re.fullmatch(POSTCODE[country], str(postcode)):
            problems.append("postcode")
        born = calendar_date(row["date_of_birth"])
        if born is None or born > TODAY:
            problems.append("birth")
        if instant(row["created_at"]) > instant(row["updated_at"]):
            problems.append("order")
        if problems:
            assert n in declared, (n, problems, row)


# -- good customer rows ----------------------------------------------------------------


def test_good_customer_rows_are_realistic_and_valid(
    customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = customers
    good = good_rows(rows, defects)
    seen_countries: set[str] = set()
    for n, row in good:
        assert row["customer_id"] == f"C-{n:06d}"
        country = str(row["country"])
        assert country in COUNTRY_CODES
        seen_countries.add(country)
        email, phone = row["email"], row["phone"]
        assert email is not None or phone is not None
        if email is not None:
            assert valid_email(str(email)), email
        if phone is not None:
            assert plausible_phone(str(phone), country), (phone, country)
        postcode = row["postcode"]
        if postcode is not None:
            assert re.fullmatch(POSTCODE[country], str(postcode)), (postcode, country)
        born = calendar_date(row["date_of_birth"])
        assert born is not None
        age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
        assert 18 <= age <= 95
        created, updated = instant(row["created_at"]), instant(row["updated_at"])
        assert created <= updated < MIDNIGHT
        if row["last_contact_at"] is not None:
            assert created <= instant(row["last_contact_at"]) < MIDNIGHT
        verified = calendar_date(row["last_verified"])
        assert verified is not None
        assert created.date() <= verified < TODAY
        assert isinstance(row["consent_marketing"], bool)
        assert row["preferred_channel"] in ("email", "phone", "sms", "chat", "post")
        if email is None:
            assert row["preferred_channel"] != "email"
        assert isinstance(row["first_name"], str)
        assert row["first_name"].strip()
        assert isinstance(row["city"], str)
        assert row["city"]
    assert seen_countries == COUNTRY_CODES


def test_customer_values_have_realistic_variety(
    customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = customers
    good = [row for _, row in good_rows(rows, defects)]
    names = [f"{row['first_name']} {row['last_name']}" for row in good]
    assert sum(not name.isascii() for name in names) / len(names) > 0.3
    assert any("-" in str(row["last_name"]) for row in good)
    assert any("'" in str(row["last_name"]) for row in good)
    for letter in "ëłüøñřş":
        assert any(letter in name.lower() for name in names), letter
    emails = [str(row["email"]) for row in good if row["email"] is not None]
    assert any(email != email.strip() for email in emails)
    assert any(email.strip() != email.strip().lower() for email in emails)
    phones = [str(row["phone"]) for row in good if row["phone"] is not None]
    assert (
        0.15
        < sum(phone.startswith("+") and phone[1:].isdigit() for phone in phones) / len(phones)
        < 0.4
    )
    assert any(phone.startswith("(0)") for phone in phones)
    assert any(re.fullmatch(r"\(\d{3}\) \d{3}[ -]\d{4}", phone) for phone in phones)
    assert 0.01 < sum(row["postcode"] is None for row in good) / len(good) < 0.1
    assert 0.3 < sum(row["consent_marketing"] is True for row in good) / len(good) < 0.6
    assert sum(row["phone"] is None for row in good) > 0
    assert sum(row["email"] is None for row in good) > 0
    verified = [calendar_date(row["last_verified"]) for row in good]
    assert all(v is not None and (TODAY - v).days <= 365 for v in verified)
    assert sum(v is not None and (TODAY - v).days > 300 for v in verified) > 0  # spread out


def test_small_datasets_use_fictional_phone_ranges() -> None:
    rows, _ = collect(generate_customers(1000, seed=4, bad_share=0.0))
    checked: Counter[object] = Counter()
    for row in rows:
        if row["phone"] is None or row["country"] not in ("GB", "US"):
            continue
        number = e164(str(row["phone"]), str(row["country"]))
        if row["country"] == "GB":
            # Ofcom drama ranges: 020 7946 0xxx, 0113 496 0xxx, ..., 0191 498 0xxx
            drama = r"\+44(?:2079460|11[3-8]4960|1[2-6]14960|1914980)\d{3}"
            assert re.fullmatch(drama, number), number
        else:
            assert number[5:10] == "55501", number  # NANP 555-0100..0199
        checked[row["country"]] += 1
    assert checked["GB"] > 50
    assert checked["US"] > 50


def test_notes_mention_cards_contacts_and_other_languages(
    customers: tuple[list[Row], list[Defect]],
) -> None:
    rows, _ = customers
    notes = [row["notes"] for row in rows]
    texts = [note for note in notes if isinstance(note, str) and note]
    assert 0.3 < notes.count(None) / len(notes) < 0.55
    assert "" in notes
    cards = [number for text in texts for number in card_numbers(text)]
    assert len(cards) > 100
    assert all(luhn_valid(number) for number in cards)
    assert set(cards) <= TEST_CARD_NUMBERS
    assert any(re.search(r"\d{4} \d{4} \d{4} \d{4}", text) for text in texts)
    assert any(re.search(r"\d{4}-\d{4}-\d{4}-\d{4}", text) for text in texts)
    assert sum("@example." in text for text in texts) > 100
    assert sum(bool(re.search(r"\+?\d[\d ()-]{7,}\d", text)) for text in texts) > 300
    assert any(re.search(r"[\u3040-\u30ff]", text) for text in texts)  # Japanese
    assert any("Rückruf" in text for text in texts)


def test_luhn_checker_catches_a_wrong_digit() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_phones_parse_with_libphonenumber(customers: tuple[list[Row], list[Defect]]) -> None:
    phonenumbers = pytest.importorskip("phonenumbers")
    rows, defects = customers
    for _, row in good_rows(rows, defects):
        if row["phone"] is None:
            continue
        parsed = phonenumbers.parse(str(row["phone"]), str(row["country"]))
        # Fictional drama ranges are "possible" but, by design, not "valid" numbers.
        assert phonenumbers.is_possible_number(parsed), row["phone"]
        assert str(parsed.country_code) == PLANS[str(row["country"])].calling_code
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert e164(str(row["phone"]), str(row["country"])) == expected


# -- interactions ----------------------------------------------------------------------


def test_good_interactions_are_consistent(
    interactions: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = interactions
    good = good_rows(rows, defects)
    previous = MIDNIGHT - timedelta(days=90)
    for n, row in good:
        assert row["interaction_id"] == f"I-{n:07d}"
        assert re.fullmatch(r"K-\d{6}", str(row["case_id"]))
        assert re.fullmatch(r"C-\d{6}", str(row["customer_id"]))
        assert 1 <= int(str(row["customer_id"])[2:]) <= 800
        channel = row["channel"]
        assert channel in ("phone", "email", "chat", "social", "sms")
        assert row["direction"] in ("inbound", "outbound")
        assert row["team"] in ("billing", "technical", "accounts", "retention", "general")
        assert row["category"] in (
            "billing",
            "delivery",
            "technical",
            "account",
            "complaint",
            "other",
        )
        created = instant(row["created_at"])
        assert previous <= created < MIDNIGHT  # in created_at order, inside the window
        previous = created
        ended = instant(row["ended_at"])
        assert created <= ended < MIDNIGHT
        durations = [row["talk_seconds"], row["hold_seconds"], row["wrap_seconds"]]
        assert all(value is None or (isinstance(value, int) and value >= 0) for value in durations)
        if row["answered_at"] is None:  # abandoned in the queue
            assert channel in ("phone", "chat")
            assert row["agent_id"] is None
            assert row["first_response_at"] is None
            assert durations == [None, None, None]
            assert row["resolved"] is False
        else:
            answered, first = instant(row["answered_at"]), instant(str(row["first_response_at"]))
            assert created <= answered <= first <= ended
            assert re.fullmatch(r"A-\d{3}", str(row["agent_id"]))
            assert row["wrap_seconds"] is not None
            talk, hold = row["talk_seconds"], row["hold_seconds"]
            if channel in ("email", "sms", "social"):
                assert talk is None
                assert hold is None
            elif channel == "chat":
                assert isinstance(talk, int)
                assert hold is None
            else:
                assert isinstance(talk, int)
                assert isinstance(hold, int)
            if isinstance(talk, int):
                talk_and_hold = talk + (hold if isinstance(hold, int) else 0)
                assert talk_and_hold <= (ended - answered).total_seconds()
        assert isinstance(row["resolved"], bool)
        assert isinstance(row["escalated"], bool)
        assert (row["resolved_at"] is not None) == row["resolved"]
        if row["resolved_at"] is not None:
            assert ended <= instant(row["resolved_at"]) < MIDNIGHT
        for score, low, high in (("csat", 1, 5), ("nps", 0, 10), ("ces", 1, 7)):
            value = row[score]
            assert value is None or (isinstance(value, int) and low <= value <= high)


def test_interactions_have_realistic_mix(interactions: tuple[list[Row], list[Defect]]) -> None:
    rows, defects = interactions
    good = [row for _, row in good_rows(rows, defects)]

    def share(test: Callable[[Row], bool]) -> float:
        return sum(1 for row in good if test(row)) / len(good)

    assert 0.25 < share(lambda r: r["csat"] is not None) < 0.35
    assert 0.15 < share(lambda r: r["nps"] is not None) < 0.25
    assert 0.10 < share(lambda r: r["ces"] is not None) < 0.20
    csat = Counter(row["csat"] for row in good if row["csat"] is not None)
    assert csat[5] + csat[4] > 2 * (csat[1] + csat[2])  # skewed positive
    assert 0.8 < share(lambda r: r["direction"] == "inbound") < 0.97
    assert 0.03 < share(lambda r: r["answered_at"] is None) < 0.12
    assert 0.05 < share(lambda r: str(r["created_at"]).endswith("+01:00")) < 0.2
    assert len({row["channel"] for row in good}) == 5
    hours = Counter(instant(row["created_at"]).astimezone(UTC).hour for row in good)
    assert hours[10] > 5 * hours[3]  # business hours
    weekdays = Counter(instant(row["created_at"]).weekday() for row in good)
    assert weekdays[2] > 2 * weekdays[6]


def test_follow_ups_share_case_and_customer_and_come_later(
    interactions: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = interactions
    cases: dict[object, list[tuple[int, Row]]] = defaultdict(list)
    for n, row in good_rows(rows, defects):
        cases[row["case_id"]].append((n, row))
    follow_ups = 0
    for case_id, members in cases.items():
        first_n, first = members[0]
        assert case_id == f"K-{first_n:06d}"  # named after the opening row
        for _, later in members[1:]:
            assert later["customer_id"] == first["customer_id"]
            assert instant(later["created_at"]) > instant(first["ended_at"])
            follow_ups += 1
        if len(members) > 1:
            assert first["resolved"] is False
    assert 0.08 < follow_ups / len(rows) < 0.3


def test_interaction_defects_are_really_wrong(
    messy_interactions: tuple[list[Row], list[Defect]],
) -> None:
    rows, defects = messy_interactions
    ids: dict[object, int] = {}
    for n, row in enumerate(rows, 1):
        ids.setdefault(row["interaction_id"], n)
    seen: Counter[str] = Counter()
    for defect in defects:
        row = rows[defect.row - 1]
        value = row[defect.field] if defect.field else None
        seen[defect.kind] += 1
        if defect.kind == "negative_duration":
            assert isinstance(value, int)
            assert value < 0
        elif defect.kind == "ended_before_created":
            assert defect.field == "ended_at"
            assert instant(row["ended_at"]) < instant(row["created_at"])
        elif defect.kind == "out_of_range_score":
            low, high = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}[defect.field]
            assert isinstance(value, int)
            assert not low <= value <= high
        elif defect.kind == "missing_required":
            assert defect.field in ("case_id", "channel", "created_at")
            assert value in ("", None)
        elif defect.kind == "bad_timestamp":
            with pytest.raises(ValueError, match=r"isoformat|out of range|must be in"):
                datetime.fromisoformat(str(value))
        else:
            assert defect.kind == "duplicate_id"
            assert defect.field == ""
            assert ids[row["interaction_id"]] < defect.row
            assert row["interaction_id"] == defect.record_id
    assert set(seen) == set(INTERACTION_DEFECT_KINDS)
    declared = {d.row for d in defects if d.kind == "duplicate_id"}
    for n, row in enumerate(rows, 1):
        if ids[row["interaction_id"]] != n:
            assert n in declared


# -- laziness and memory ---------------------------------------------------------------


@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_generation_is_lazy(generate: object) -> None:
    """The first chunk of a billion rows comes as soon as the first of two thousand."""
    assert callable(generate)

    def first_chunk(rows: int) -> object:
        chunk = next(iter(generate(rows, chunk_rows=1000)))
        assert len(chunk.rows) == 1000
        return chunk

    assert best_seconds(lambda: first_chunk(10**9)) < 3 * best_seconds(lambda: first_chunk(2000))


@pytest.mark.parametrize("generate", [generate_customers, generate_interactions])
def test_earlier_chunks_are_not_kept(generate: object) -> None:
    assert callable(generate)
    refs = []
    for chunk in generate(6000, chunk_rows=1000):
        refs.append(weakref.ref(chunk))
        del chunk
        gc.collect()
        # Only the chunk just yielded may still be alive inside the generator.
        assert sum(ref() is not None for ref in refs) <= 1


# -- properties --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    rows=st.integers(min_value=0, max_value=60),
    chunk_rows=st.integers(min_value=1, max_value=20),
    bad_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_any_seed_gives_consistent_chunk_independent_output(
    seed: int, rows: int, chunk_rows: int, bad_share: float
) -> None:
    for generate, kinds in (
        (generate_customers, CUSTOMER_DEFECT_KINDS),
        (generate_interactions, INTERACTION_DEFECT_KINDS),
    ):
        chunks = list(generate(rows, seed=seed, bad_share=bad_share, chunk_rows=chunk_rows))
        assert all(len(chunk.rows) <= chunk_rows for chunk in chunks)
        out_rows, defects = collect(iter(chunks))
        assert (out_rows, defects) == collect(generate(rows, seed=seed, bad_share=bad_share))
        assert len(out_rows) == rows
        assert [d.row for d in defects] == sorted({d.row for d in defects})
        assert all(d.kind in kinds and 1 <= d.row <= rows for d in defects)
        if bad_share == 0.0:
            assert defects == []
        if bad_share == 1.0:
            assert len(defects) == rows
        for n, row in good_rows(out_rows, defects):
            if generate is generate_customers:
                assert row["customer_id"] == f"C-{n:06d}"
                assert row["country"] in COUNTRY_CODES
                assert row["email"] is None or valid_email(str(row["email"]))
            else:
                assert row["interaction_id"] == f"I-{n:07d}"
                assert instant(row["created_at"]) <= instant(row["ended_at"]) < MIDNIGHT


@pytest.mark.parametrize(
    ("dest", "defects"), [("x.csv", "./x.csv"), ("x.csv", "sub/../x.csv"), ("-", "-")]
)
def test_rows_and_defects_in_one_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dest: str, defects: str
) -> None:
    """One file for both outputs would leave one written over the other."""
    from custrec.datasets import write_dataset
    from custrec.errors import UsageError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(UsageError, match="both go to"):
        write_dataset("customers", dest, rows=5, defects_dest=defects)
    assert not (tmp_path / "x.csv").exists()


def test_good_rows_pass_the_phone_range_and_freshness_rules(tmp_path: Path) -> None:
    """With --bad-share 0, validation against schemas/customer.yaml gives no warning
    of phone.assigned-range or last_verified.fresh, as of the generator's day and a
    year later (beyond the fictional phone blocks: 15,000 rows)."""
    source = tmp_path / "customers.csv"
    written = subprocess.run(
        [*CUSTREC, "generate", "customers", "--rows", "15000", "--bad-share", "0", "-o",
         str(source)],
        env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    for as_of in (TODAY, TODAY + timedelta(days=364)):
        checked = subprocess.run(
            [*CUSTREC, "validate", str(source), "--schema", str(REPO / "schemas" /
             "customer.yaml"), "--as-of", as_of.isoformat(), "--format", "json"],
            env=ENV, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        failed = {r["id"]: r["failed"] for r in json.loads(checked.stdout)["rules"]}
        assert failed["phone.assigned-range"] == 0, as_of
        assert failed["last_verified.fresh"] == 0, as_of
