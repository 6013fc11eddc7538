"""The personal-data detector (``custrec.redaction.detect``): each detector's positives
and negatives, context words, overlap resolution, a record's own values, the corpus
targets and no network access."""

from __future__ import annotations

import itertools
import json
import random
import socket
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.pii_eval import evaluate, load_hard_cases
from custrec.redaction import context, detect, findings, phones
from custrec.redaction.detect import (
    DEFAULT_REGIONS,
    ENTITY_TYPES,
    Detector,
    Finding,
    KnownValues,
    iban_valid,
    luhn_valid,
)
from tests.pii_corpus import corpus

REPO = Path(__file__).resolve().parent.parent
DETECTOR = Detector()


def spans(text: str, detector: Detector = DETECTOR, known: KnownValues | None = None) -> set:
    """``{(matched text, type)}`` of the findings in ``text``."""
    return {(text[f.start : f.end], f.type) for f in detector.find(text, known)}


def types_found(text: str) -> set[str]:
    return {f.type for f in DETECTOR.find(text)}


# Luhn and mod-97 computed here, independently of the module under test.
def with_luhn(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return payload + str((10 - total % 10) % 10)


def card(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(prefix)))
    return with_luhn(body)


def iban_check(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


# --------------------------------------------------------------------------------------
# Module shape


def test_import_is_light_and_phonenumbers_lazy() -> None:
    code = (
        "import sys, custrec.redaction\n"
        "assert 'custrec.redaction.detect' not in sys.modules\n"
        "import custrec.redaction.detect as d\n"
        "heavy = [m for m in ('phonenumbers', 'pandas', 'numpy', 'pyarrow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "d.Detector().find('Email ann@example.com, IBAN GB82 WEST 1234 5698 7654 32')\n"
        "assert 'phonenumbers' not in sys.modules\n"
        "d.Detector().find('call 020 7946 0958')\n"
        "assert 'phonenumbers' in sys.modules\n"
        "assert not [m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_public_names() -> None:
    assert ENTITY_TYPES == (
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO",
        "IP_ADDRESS", "DATE_OF_BIRTH", "UK_POSTCODE", "US_ZIP", "PERSON", "LOCATION",
        "US_ITIN", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "FR_NIR", "DE_TAX_ID", "NL_BSN",
        "SE_PERSONNUMMER", "PL_PESEL", "IN_AADHAAR", "IN_PAN", "BR_CPF", "US_DRIVER_LICENSE",
    )  # fmt: skip
    assert Finding._fields == ("start", "end", "type", "score", "rule", "explanation")
    assert {"GB", "US", "DE", "FR"} <= set(DEFAULT_REGIONS)


def test_findings_carry_offsets_rule_and_explanation() -> None:
    text = "Card 4111 1111 1111 1111 declined"
    (f,) = DETECTOR.find(text)
    assert text[f.start : f.end] == "4111 1111 1111 1111"
    assert (f.type, f.rule) == ("CREDIT_CARD", "credit_card")
    assert 0 < f.score <= 1
    assert "Luhn checksum valid" in f.explanation
    assert "context word 'card'" in f.explanation


# --------------------------------------------------------------------------------------
# Validators


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1111", True),
        ("4111111111111112", False),
        ("79927398713", True),
        ("79927398710", False),
        ("0", False),
        ("4111x111111111111", False),
        ("", False),
        ("٤١١١١١١١١١١١١١١١", False),  # non-ASCII digits
    ],
)
def test_luhn_valid(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("GB82WEST12345698765432", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("gb82 west 1234 5698 7654 32", True),
        ("DE89370400440532013000", True),
        ("NO9386011117947", True),
        ("MT84MALT011000012345MTLCAST001S", True),
        ("GB82WEST12345698765433", False),  # check digits
        ("GB82WEST1234569876543", False),  # length
        ("DE8937040044053201300", False),
        ("XX82WEST12345698765432", False),  # not a registry country
        ("GB82WEST12345698765432!", False),
    ],
)
def test_iban_valid(text: str, valid: bool) -> None:
    assert iban_valid(text) is valid


# --------------------------------------------------------------------------------------
# Email addresses


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Email: ann.oneil@example.com, thanks", "ann.oneil@example.com"),
        ("link https://x.com/?u=a@b.com&t=1", "a@b.com"),
        ("mailto:Zoe.Muller+orders@Example.CO.UK.", "Zoe.Muller+orders@Example.CO.UK"),
        (
            "Kontakt: jürgen.schröder@post.example.de (Herr Schröder)",
            "jürgen.schröder@post.example.de",
        ),
        ("李雷 <li.lei@example.cn>", "li.lei@example.cn"),
    ],
)
def test_email_positive(text: str, email: str) -> None:
    assert {s for s in spans(text) if s[1] != "PERSON"} == {(email, "EMAIL_ADDRESS")}


@pytest.mark.parametrize(
    "text",
    ["ping user@localhost now", "admin@intranet", "@support_team", "ann at example dot com",
     "a@b.c is too short"],
)  # fmt: skip
def test_email_negative(text: str) -> None:
    assert "EMAIL_ADDRESS" not in types_found(text)


# --------------------------------------------------------------------------------------
# Phone numbers


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call me on 020 7946 0958 tomorrow", "020 7946 0958"),
        ("Tel. (415) 555-2671 ext. 22", "(415) 555-2671 ext. 22"),
        ("fax 650-752-7354x549 mobile", "650-752-7354x549"),
        ("Phone:\\n439 4166\\nE-mail", "439 4166"),  # escaped line breaks
        ("They're not answering at 96 466712", "96 466712"),
        ("Fax: +41 53 147 37 99", "+41 53 147 37 99"),  # possible, not assigned
        ("Desk: 088.147.4350", "088.147.4350"),
        ("reach her at +44 20 7946 0958", "+44 20 7946 0958"),
        ("+44 (0) 20 7946 0958 is the office", "+44 (0) 20 7946 0958"),
        ("Fax 0049 30 12345678 (office)", "0049 30 12345678"),
        ("mobile 06 12 34 56 78", "06 12 34 56 78"),
        ("WhatsApp +91 98765 43210", "+91 98765 43210"),
        ("rang from +86 138 0013 8000", "+86 138 0013 8000"),
        ("call 415.555.2671", "415.555.2671"),
    ],
)
def test_phone_positive(text: str, phone: str) -> None:
    assert spans(text) == {(phone, "PHONE_NUMBER")}


@pytest.mark.parametrize(
    "text",
    [
        "Delivered 2026-03-02 at 10:30",
        "Delivered 02/03/2026 and 02.03.2026",
        "Order 07400 123456 shipped",
        "order #4155552671",
        "Invoice 0161 496 0000 is overdue",
        "ref 0207 946 0958",
        "Tracking 9400 1000 0000 0000 0000 00",
        "tracking number 774987654321",
        "Price $4155552671 and €4155552671",
        "Pi is 3.14159265",
        "app version 1.2.3.4567890",
        "Serial number 8004561230",
        "began on 1970-06-13 13:34:05.298954, the government",  # a time
        "call a taxi to 0662 3441 rue Saint-Antoine",  # a house number
        "Address: 0305 530 Briarwood Drive Suite 210",
        "call me about order 458 2231 today",  # an order number after "call"
        "the office paid 1 234 567.89 last year",  # an amount
        "phone plan 12 months",
    ],
)
def test_phone_negative(text: str) -> None:
    assert "PHONE_NUMBER" not in types_found(text)


def test_phone_regions_are_configurable() -> None:
    text = "01 23 45 67 89 today"  # a French national number, no context word
    assert ("01 23 45 67 89", "PHONE_NUMBER") in spans(text)
    assert spans(text, Detector(regions=["US", "GB"])) == set()
    # after a word saying so, a number written as phone numbers are is one anywhere
    assert spans("ring 01 23 45 67 89", Detector(regions=["US"])) == {
        ("01 23 45 67 89", "PHONE_NUMBER")
    }
    # international numbers are read whatever the regions
    assert spans("ring +33 1 23 45 67 89", Detector(regions=["US"])) == {
        ("+33 1 23 45 67 89", "PHONE_NUMBER")
    }


def test_cards_and_ibans_are_not_phone_numbers() -> None:
    assert spans("card 4111 1111 1111 1111") == {("4111 1111 1111 1111", "CREDIT_CARD")}
    assert spans("IBAN NO93 8601 1117 947") == {("NO93 8601 1117 947", "IBAN_CODE")}
    assert spans("IBAN NO93 8601 1117 948") == set()  # wrong check digits: nothing at all
    assert spans("SSN 536-22-1234") == {("536-22-1234", "US_SSN")}


# --------------------------------------------------------------------------------------
# Card numbers

ISSUER_PREFIXES = [
    ("4", 13), ("4", 16), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
    ("34", 15), ("37", 15), ("6011", 16), ("644", 16), ("649", 19), ("65", 16),
    ("622126", 16), ("622925", 19), ("3528", 16), ("3589", 19), ("300", 14), ("305", 14),
    ("36", 14), ("38", 16), ("39", 19), ("50", 13), ("56", 16), ("69", 19), ("62", 17),
    ("1800", 15), ("2131", 15), ("3522", 16), ("6759", 12), ("5018", 12), ("58", 12),
]  # fmt: skip


def _grouped(digits: str, sep: str) -> str:
    if len(digits) == 15:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    if len(digits) == 14:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@pytest.mark.parametrize(("prefix", "length"), ISSUER_PREFIXES)
@pytest.mark.parametrize("sep", ["", " ", "-"])
def test_card_every_issuer_range(prefix: str, length: int, sep: str) -> None:
    rng = random.Random(f"{prefix}{length}{sep}")
    number = card(prefix, length, rng)
    written = _grouped(number, sep)
    assert spans(f"paid with {written} today") == {(written, "CREDIT_CARD")}


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1112",  # Luhn
        with_luhn("5000000000"),  # 11 digits
        with_luhn("4111111111111111111"),  # 20 digits
        "4111 1111 1111 1111 1111 2",  # inside a longer run
    ],
)
def test_card_negative(number: str) -> None:
    assert "CREDIT_CARD" not in types_found(f"card {number} declined")


@pytest.mark.parametrize(
    "number",
    [
        with_luhn("123456789012345"),  # no issuer starts with 1
        with_luhn("378282246310001"),  # Amex with 16 digits
        with_luhn("51051051051051"),  # Mastercard with 15 digits
        with_luhn("41111111111"),  # 12 digits, but no Maestro range
        with_luhn("18010000000000"),  # JCB 15 starts 1800 or 2131
    ],
)
def test_a_number_in_no_issuer_range_is_a_card_only_where_the_text_says_card(
    number: str,
) -> None:
    assert "CREDIT_CARD" not in types_found(f"ref {number} noted")
    found = [f for f in DETECTOR.find(f"card {number} declined") if f.type == "CREDIT_CARD"]
    assert [(f.score, f.explanation.split(";")[0]) for f in found] == [
        (0.75, "no listed issuer range")
    ]


# International phone numbers whose digits (without the "+") are Luhn-valid numbers in
# the Visa range: each is a valid number by phonenumbers, and each would be a card
# number if the "+" were ignored.
PHONES_THAT_LOOK_LIKE_CARDS = [
    "+4917990297922",
    "+4915123456787",
    "+4312345678960",
    "(+49) 17990297922",
    "+49 15123456787",
]
# Published test card numbers (Luhn-valid), written as people write them.
TEST_CARDS = [
    "4111 1111 1111 1111",
    "5555555555554444",
    "3782 822463 10005",
    "6011-1111-1111-1117",
    "3530111333300000",
    "4012888888881881",
    "4000 0566 5566 5556",
]


@pytest.mark.parametrize("phone", PHONES_THAT_LOOK_LIKE_CARDS)
def test_international_phone_is_not_a_card(phone: str) -> None:
    digits = "".join(ch for ch in phone if ch.isdigit())
    assert detect.card_issuer(digits) is not None  # card-shaped
    assert luhn_valid(digits)
    assert phonenumbers.is_valid_number(phonenumbers.parse(phone.replace("(", "").replace(")", "")))
    cards_only = Detector(types=["CREDIT_CARD"])
    assert spans(f"call {phone} after six", cards_only) == set()
    assert spans(phone, cards_only) == set()
    assert "CREDIT_CARD" not in types_found(f"mobile {phone}")


@pytest.mark.parametrize("number", TEST_CARDS)
def test_test_cards_are_cards_next_to_phones(number: str) -> None:
    cards_only = Detector(types=["CREDIT_CARD"])
    assert spans(f"paid with {number}", cards_only) == {(number, "CREDIT_CARD")}
    # a calling code with which the digits make no valid phone number: still a card
    assert spans(f"(+49) {number}", cards_only) == {(number, "CREDIT_CARD")}
    text = f"call +4917990297922, card {number}"
    assert spans(text, cards_only) == {(number, "CREDIT_CARD")}
    assert spans(text) == {("+4917990297922", "PHONE_NUMBER"), (number, "CREDIT_CARD")}


def test_luhn_invalid_cards_find_nothing() -> None:
    """10,000 Luhn-invalid 16-digit numbers in issuer ranges, in 4-4-4-4 groups: no
    finding of any type; unformatted: no card."""
    rng = random.Random(1122)
    prefixes = [p for p, n in ISSUER_PREFIXES if n == 16]
    bad_found = []
    for _ in range(10_000):
        good = card(rng.choice(prefixes), 16, rng)
        bad = good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)
        grouped = _grouped(bad, " ")
        if DETECTOR.find(f"card {grouped} was declined"):
            bad_found.append(grouped)
        if "CREDIT_CARD" in types_found(f"card {bad} was declined"):
            bad_found.append(bad)
    assert bad_found == []


# --------------------------------------------------------------------------------------
# IBANs

IBAN_FORMATS = {"GB": (4, 14), "DE": (0, 18), "FR": (0, 23), "NL": (4, 10), "ES": (0, 20),
                "IT": (1, 22), "BE": (0, 12), "NO": (0, 11), "PL": (0, 24), "CH": (0, 17),
                "SA": (0, 20), "MT": (4, 23), "BR": (0, 25), "QA": (4, 21)}  # fmt: skip


def random_iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    letters, digits = IBAN_FORMATS[country]
    bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(letters))
    bban += "".join(rng.choice("0123456789") for _ in range(digits))
    return iban_check(country, bban)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("spaced", [False, True])
def test_iban_positive(seed: int, spaced: bool) -> None:
    iban = random_iban(random.Random(seed))
    if spaced:
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert spans(f"refund to {iban} please") == {(iban, "IBAN_CODE")}


@pytest.mark.parametrize(
    "text",
    [
        "IBAN GB82 WEST 1234 5698 7654 33",  # check digits
        "IBAN GB82 WEST 1234 5698 7654 3",  # too short
        "IBAN GB82WEST123456987654321",  # too long
        "IBAN XX82 WEST 1234 5698 7654 32",  # not a registry country
        "IBAN GB82 WES T123 4569 8765 432",  # not in groups of four
    ],
)
def test_iban_negative(text: str) -> None:
    assert "IBAN_CODE" not in types_found(text)


def test_mod97_invalid_ibans_find_nothing() -> None:
    rng = random.Random(2026)
    wrong = []
    for _ in range(10_000):
        good = random_iban(rng)
        check = int(good[2:4])
        bad_check = rng.choice([c for c in range(2, 99) if c != check])
        bad = f"{good[:2]}{bad_check:02d}{good[4:]}"
        if rng.random() < 0.5:
            bad = " ".join(bad[i : i + 4] for i in range(0, len(bad), 4))
        found = types_found(f"IBAN {bad} bounced")
        if found & {"IBAN_CODE", "CREDIT_CARD", "PHONE_NUMBER"}:
            wrong.append((bad, found))
    assert wrong == []


# --------------------------------------------------------------------------------------
# SSN, NINO


@pytest.mark.parametrize(
    ("text", "ssn"),
    [
        ("SSN 536-22-1234 on file", "536-22-1234"),
        ("verified 536-22-1234", "536-22-1234"),
        ("social security number 536 22 1234", "536 22 1234"),
        ("SSN is 536221234", "536221234"),
        ("SS# 536-22-1234", "536-22-1234"),
    ],
)
def test_ssn_positive(text: str, ssn: str) -> None:
    assert spans(text) == {(ssn, "US_SSN")}


@pytest.mark.parametrize(
    "text",
    [
        "ref 536 22 1234",  # spaces only with context
        "number 536221234",
        "SSN 000-22-1234",
        "SSN 666-22-1234",
        "SSN 912-22-1234",
        "SSN 536-00-1234",
        "SSN 536-22-0000",
        "SSN 078-05-1120",
        "SSN 123-45-6789",
        "SSN 111-11-1111",
        "order 536-22-1234",
        "SSN 536-22-12345",
    ],
)
def test_ssn_negative(text: str) -> None:
    assert "US_SSN" not in types_found(text)


@pytest.mark.parametrize("nino", ["AB123456C", "AB 12 34 56 C", "ZY 98 76 54 D", "CE123456A"])
def test_nino_positive(nino: str) -> None:
    assert spans(f"NI number {nino} checked") == {(nino, "UK_NINO")}


@pytest.mark.parametrize(
    "nino",
    ["BG123456A", "GB123456A", "KN123456A", "NK123456A", "NT123456A", "TN123456A",
     "ZZ123456A", "DA123456A", "FA123456A", "IA123456A", "QA123456A", "UA123456A",
     "VA123456A", "AD123456A", "AO123456A", "AQ123456A", "AB123456E", "AB12345C"],
)  # fmt: skip
def test_nino_negative(nino: str) -> None:
    assert "UK_NINO" not in types_found(f"NI number {nino} checked")


# --------------------------------------------------------------------------------------
# IP addresses


@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("logged in from 192.168.1.20.", "192.168.1.20"),
        ("8.8.8.8 answered", "8.8.8.8"),
        ("client 2001:db8:85a3::8a2e:370:7334 blocked", "2001:db8:85a3::8a2e:370:7334"),
        ("from 2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:0db8:0000:0000:0000:ff00:0042:8329"),
        ("loopback ::1 only", "::1"),
        ("mapped ::ffff:192.0.2.128 seen", "::ffff:192.0.2.128"),
    ],
)
def test_ip_positive(text: str, ip: str) -> None:
    assert spans(text) == {(ip, "IP_ADDRESS")}


@pytest.mark.parametrize(
    "text",
    [
        "firmware 1.2.3.4.5",
        "1.2.3.4.5.6 and 256.1.1.1",
        "app version 1.2.3.4",
        "v1.2.3.4",
        "at 10:30:45 sharp",
        "the std::vector type",
        "MAC 00:1A:2B:3C:4D:5E",
        "2001:db8::g1 is not hex",
    ],
)
def test_ip_negative(text: str) -> None:
    assert "IP_ADDRESS" not in types_found(text)


# --------------------------------------------------------------------------------------
# Dates of birth, postcodes, ZIP codes


@pytest.mark.parametrize(
    ("text", "dob"),
    [
        ("born 12/03/1985 in Cork", "12/03/1985"),
        ("DOB: 1985-03-12", "1985-03-12"),
        ("date of birth 12 March 1985", "12 March 1985"),
        ("d.o.b. 12.03.1985", "12.03.1985"),
        ("her birthday is March 12, 1985", "March 12, 1985"),
        ("12-Mar-1985 (DOB)", "12-Mar-1985"),
    ],
)
def test_dob_positive(text: str, dob: str) -> None:
    assert spans(text) == {(dob, "DATE_OF_BIRTH")}


@pytest.mark.parametrize(
    "text",
    [
        "delivered 12/03/1985",  # no context word
        "DOB: 1985-02-30",  # no such day
        "born in 1985",
        "stubborn 12/03/1985",  # "born" inside a word
    ],
)
def test_dob_negative(text: str) -> None:
    assert "DATE_OF_BIRTH" not in types_found(text)


def test_dob_context_belongs_to_the_nearest_date() -> None:
    assert spans("Delivery 02/03/2026, DOB 12/03/1985.") == {("12/03/1985", "DATE_OF_BIRTH")}
    assert spans("Born 1985-03-12; account opened 2026-03-02.") == {("1985-03-12", "DATE_OF_BIRTH")}


@pytest.mark.parametrize(
    ("text", "value", "etype"),
    [
        ("Postcode SW1A 1AA for the flat", "SW1A 1AA", "UK_POSTCODE"),
        ("lives at 221B Baker Street, London NW1 6XE", "NW1 6XE", "UK_POSTCODE"),
        ("new address: M1 1AE", "M1 1AE", "UK_POSTCODE"),
        ("Ship to Washington, DC 20500", "20500", "US_ZIP"),
        ("zip code 90210-1234", "90210-1234", "US_ZIP"),
        ("lives in Austin TX, 78701", "78701", "US_ZIP"),
    ],
)
def test_address_positive(text: str, value: str, etype: str) -> None:
    assert {s for s in spans(text) if s[1] != "LOCATION"} == {(value, etype)}


@pytest.mark.parametrize(
    "text",
    ["Code SW1A 1AA", "Order 12345 placed", "order 62704 shipped to the address", "PO box 12345",
     "flat fee of $12345"],
)  # fmt: skip
def test_address_negative(text: str) -> None:
    assert types_found(text) & {"UK_POSTCODE", "US_ZIP"} == set()


# --------------------------------------------------------------------------------------
# Context words


def test_context_words_are_whole_words() -> None:
    lic = context.Words(["lic"])
    assert context.context("the public 1234", 11, 15, lic).sign == 0
    assert context.context("the lic 1234", 8, 12, lic).sign == 1
    assert context.context("licence 1234", 8, 12, lic).sign == 0


def test_context_raises_and_lowers_scores() -> None:
    def score(text: str) -> float | None:
        found = [f.score for f in Detector(threshold=0).find(text) if f.type == "PHONE_NUMBER"]
        return found[0] if found else None

    plain = score("note: 020 7946 0958")
    assert plain is not None
    assert score("tel 020 7946 0958") > plain  # type: ignore[operator]
    assert score("hotel 020 7946 0958") == plain  # "tel" inside "hotel" is not context
    assert score("order 020 7946 0958") < plain  # type: ignore[operator]
    assert score("border 020 7946 0958") == plain
    assert spans("order 020 7946 0958") == set()  # below the default threshold
    ip = [f.score for f in DETECTOR.find("ship 10.0.0.1")]  # "ip" inside "ship" is not context
    assert len(ip) == 1
    assert ip[0] < DETECTOR.find("ip 10.0.0.1")[0].score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a negative word after "and" is about the next item
        ("lives in Madison WI, 53703 and PO box 22094", {("53703", "US_ZIP")}),
        ("4,425,466 points and new number: +43 664 120115.", {("+43 664 120115", "PHONE_NUMBER")}),
        # "(SSN)" after a number is about that number, not the next one
        (
            "501-20-8940 (SSN), customer gave +55-11-2345-5256 for contact",
            {("501-20-8940", "US_SSN"), ("+55-11-2345-5256", "PHONE_NUMBER")},
        ),
        # a sentence ends after "EUR." and after a domain name
        (
            "total 8013404.00 EUR. Rückruf unter 0065 8123 6800",
            {("0065 8123 6800", "PHONE_NUMBER")},
        ),
        (
            "Sent to jose+orders@example.com. 287-65-0976 (SSN).",
            {("jose+orders@example.com", "EMAIL_ADDRESS"), ("287-65-0976", "US_SSN")},
        ),
        # a phone context word before a comma does not reach a ZIP+4 code after it
        (
            "customer gave 074104 13721 for contact, mailing address zip 78701-3805",
            {("074104 13721", "PHONE_NUMBER"), ("78701-3805", "US_ZIP")},
        ),
        # a date is read whole even when it ends far from its context word
        (
            "d.o.b. 13 April 1945, VPN endpoint 203.0.113.54. / born 07/28/1979.",
            {
                ("13 April 1945", "DATE_OF_BIRTH"),
                ("203.0.113.54", "IP_ADDRESS"),
                ("07/28/1979", "DATE_OF_BIRTH"),
            },
        ),
    ],
)
def test_context_stays_in_its_clause(text: str, expected: set) -> None:
    assert spans(text) == expected


def test_threshold_and_types() -> None:
    text = "note: 020 7946 0958, mail ann@example.com"
    assert {f.type for f in Detector(types=["EMAIL_ADDRESS"]).find(text)} == {"EMAIL_ADDRESS"}
    assert {f.type for f in Detector(threshold=0.9).find(text)} == {"EMAIL_ADDRESS"}
    assert all(f.score >= 0.9 for f in Detector(threshold=0.9).find(text))
    with pytest.raises(ValueError, match="unknown entity types"):
        Detector(types=["EMAIL"])
    with pytest.raises(ValueError, match="threshold"):
        Detector(threshold=1.5)


# --------------------------------------------------------------------------------------
# Overlaps


def test_resolve_order_of_preference() -> None:
    f = Finding
    longer = f(0, 10, "PHONE_NUMBER", 0.6, "r", "")
    shorter = f(2, 8, "US_SSN", 1.0, "r", "")
    assert findings.resolve([shorter, longer]) == [longer]
    high = f(0, 5, "US_ZIP", 0.9, "r", "")
    low = f(0, 5, "PHONE_NUMBER", 0.6, "r", "")
    assert findings.resolve([low, high]) == [high]
    early = f(0, 5, "US_ZIP", 0.8, "r", "")
    late = f(3, 8, "US_ZIP", 0.8, "r", "")
    assert findings.resolve([late, early]) == [early]
    by_name_a = f(0, 5, "PHONE_NUMBER", 0.8, "r", "")
    by_name_b = f(0, 5, "US_ZIP", 0.8, "r", "")
    assert findings.resolve([by_name_b, by_name_a]) == [by_name_a]
    apart = [f(0, 3, "US_ZIP", 0.8, "r", ""), f(3, 6, "US_ZIP", 0.8, "r", "")]
    assert findings.resolve(list(reversed(apart))) == apart


def test_resolve_is_independent_of_input_order() -> None:
    f = Finding
    found = [
        f(0, 10, "PHONE_NUMBER", 0.6, "a", ""), f(2, 8, "US_SSN", 1.0, "b", ""),
        f(9, 14, "US_ZIP", 0.9, "c", ""), f(12, 20, "IBAN_CODE", 0.9, "d", ""),
        f(12, 20, "CREDIT_CARD", 0.9, "e", ""), f(21, 22, "PERSON", 1.0, "f", ""),
    ]  # fmt: skip
    results = {tuple(findings.resolve(list(p))) for p in itertools.permutations(found)}
    assert len(results) == 1
    (result,) = results
    assert [x.rule for x in result] == ["a", "e", "f"]


@given(st.text(alphabet="0123456789 -./()+:@abcXYZ#$", max_size=80))
@settings(max_examples=300, deadline=None)
def test_findings_are_sorted_non_overlapping_and_in_bounds(text: str) -> None:
    found = Detector(threshold=0).find(text)
    assert found == sorted(found, key=lambda f: f.start)
    for a, b in itertools.pairwise(found):
        assert a.end <= b.start
    for f in found:
        assert 0 <= f.start < f.end <= len(text)
        assert f.type in ENTITY_TYPES
        assert 0 <= f.score <= 1


def test_output_is_deterministic() -> None:
    texts = [t for t, _ in corpus(300, seed=5)]
    first = [Detector().find(t) for t in texts]
    second = [DETECTOR.find(t) for t in reversed(texts)][::-1]
    assert first == second


# --------------------------------------------------------------------------------------
# A record's own values


def test_known_names() -> None:
    known = KnownValues({"PERSON": ["Ann O'Neil", "José García-López", "J"]})
    text = "ANN O’NEIL called; o neil later; Annual review by ann; García López, José; j."
    found = spans(text, known=known)
    assert ("ANN O’NEIL", "PERSON") in found
    assert ("o neil", "PERSON") in found
    assert ("ann", "PERSON") in found
    assert ("García López", "PERSON") in found
    assert ("José", "PERSON") in found
    assert not any(v.lower().startswith("annual") for v, _ in found)  # whole words only
    assert ("j", "PERSON") not in found  # parts shorter than two characters are skipped
    assert all(f.score == 1.0 and f.rule == "known_value" for f in DETECTOR.find(text, known))


def test_known_name_spellings() -> None:
    known = KnownValues({"PERSON": ["Mary-Jane Ní Bhriain"]})
    for written in ("mary jane ni bhriain", "MARY-JANE NÍ BHRIAIN", "Mary Jane  Ní Bhriain"):
        assert spans(f"spoke to {written} today", known=known) == {(written, "PERSON")}


def test_known_email_phone_location_and_date() -> None:
    known = KnownValues(
        {
            "EMAIL_ADDRESS": ["Ann.ONeil@Example.com"],
            "PHONE_NUMBER": ["020 7946 0958"],
            "LOCATION": ["10 Downing St, London, SW1A 2AA"],
            "DATE_OF_BIRTH": ["1985-03-12"],
        },
        region="GB",
    )
    text = (
        "mail ANN.ONEIL@example.COM or ring +44 (0)20-7946-0958 / 2079460958 at "
        "10 downing st., london sw1a2aa; born 12 March 1985"
    )
    found = spans(text, known=known)
    assert ("ANN.ONEIL@example.COM", "EMAIL_ADDRESS") in found
    assert ("+44 (0)20-7946-0958", "PHONE_NUMBER") in found
    assert ("2079460958", "PHONE_NUMBER") in found
    assert ("10 downing st., london sw1a2aa", "LOCATION") in found
    assert ("12 March 1985", "DATE_OF_BIRTH") in found
    # another number ending in the same digits is not the record's number
    assert known.find("call 12079460958 or 020794609581") == []


def test_known_phone_in_a_national_format_that_reorders_digits() -> None:
    # Argentine mobiles: +54 9 11 2345-6789 is written 011 15-2345-6789 at home
    known = KnownValues({"PHONE_NUMBER": ["+54 9 11 2345-6789"]}, region="AR")
    text = "llamar al 011 15-2345-6789 hoy"
    assert ("011 15-2345-6789", "PHONE_NUMBER") in spans(text, known=known)
    assert [f.rule for f in known.find(text)] == ["known_value"]


def test_known_values_follow_the_detector_types() -> None:
    known = KnownValues({"PERSON": ["Ann"], "EMAIL_ADDRESS": ["ann@example.com"]})
    text = "Ann wrote from ann@example.com"
    assert {f.type for f in Detector(types=["PERSON"]).find(text, known)} == {"PERSON"}
    with pytest.raises(ValueError, match="unknown entity type"):
        KnownValues({"NAME": ["Ann"]})


NAMES = ["Ann O'Neil", "Siobhán Ní Bhriain", "José García-López", "Zoë Müller",
         "Łukasz Kowalski", "Mary-Jane Smith", "Ngozi Okafor", "Dmitri Ivanov"]  # fmt: skip
FILLER = st.lists(
    st.sampled_from(["the", "customer", "called", "about", "refund", "and", "said", "ok",
                     "Réunion", "déjà", "vu", "—", "(", ")", ",", ":"]),
    max_size=6,
).map(" ".join)  # fmt: skip
APOSTROPHES = ["'", "’", "‘", "ʼ"]
PHONE_REGIONS = ["GB", "US", "DE", "FR", "IE", "ES", "AU", "IT", "NL", "IN", "JP", "BR", "MX",
                 "AR", "CH", "CA"]  # fmt: skip
PHONE_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


def recase(value: str, how: int) -> str:
    return [value, value.lower(), value.upper(), value.title(), value.swapcase()][how]


def phone_written(num: phonenumbers.PhoneNumber, style: int) -> str:
    fmt = phonenumbers.PhoneNumberFormat
    national = phonenumbers.format_number(num, fmt.NATIONAL)
    international = phonenumbers.format_number(num, fmt.INTERNATIONAL)
    return [
        national,
        international,
        phonenumbers.format_number(num, fmt.E164),
        national.replace(" ", "-"),
        national.replace(" ", "."),
        international.replace(" ", ""),
        "00" + international[1:],
        international.replace(" ", "-"),
        phonenumbers.normalize_digits_only(national),
    ][style]


@given(
    name=st.sampled_from(NAMES),
    case=st.integers(0, 4),
    apostrophe=st.sampled_from(APOSTROPHES),
    hyphen=st.sampled_from(["-", " ", "‐"]),
    email_case=st.integers(0, 4),
    region=st.sampled_from(PHONE_REGIONS),
    kind=st.sampled_from(PHONE_TYPES),
    stored=st.integers(0, 8),
    written=st.integers(0, 8),
    before=FILLER,
    between=FILLER,
    after=FILLER,
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_known_values_recall_is_complete(
    name: str, case: int, apostrophe: str, hyphen: str, email_case: int, region: str,
    kind: int, stored: int, written: int, before: str, between: str, after: str,
) -> None:  # fmt: skip
    num = phonenumbers.example_number_for_type(region, kind)
    email = name.split()[0].lower() + ".customer@example.com"
    known = KnownValues(
        {"PERSON": [name], "EMAIL_ADDRESS": [email], "PHONE_NUMBER": [phone_written(num, stored)]},
        region=region,
    )
    name_text = recase(name.replace("'", apostrophe).replace("-", hyphen), case)
    email_text = recase(email, email_case)
    phone_text = phone_written(num, written)
    parts = [before, name_text, between, email_text, "tel", phone_text, after]
    text = " ".join(parts)
    findings = DETECTOR.find(text, known)
    offset = 0
    kinds = [None, "PERSON", None, "EMAIL_ADDRESS", None, "PHONE_NUMBER", None]
    for part, etype in zip(parts, kinds, strict=True):
        if etype is not None:
            covered = set()
            for f in findings:
                if f.type == etype:
                    covered.update(range(f.start, f.end))
            needed = {offset + i for i, c in enumerate(part) if c.isalnum()}
            assert needed <= covered, (etype, part, text, findings)
        offset += len(part) + 1


# --------------------------------------------------------------------------------------
# Corpus targets


TARGET_TYPES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
                "IP_ADDRESS"]  # fmt: skip


def test_corpus_is_deterministic_and_labelled() -> None:
    first = corpus(200)
    assert first == corpus(200)
    assert first != corpus(200, seed=1)
    for text, labels in first:
        for start, end, etype in labels:
            assert 0 <= start < end <= len(text)
            assert etype in ENTITY_TYPES
            assert text[start:end].strip() == text[start:end]


def test_hard_cases_file() -> None:
    lines = (REPO / "tests/data/pii/hard_cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    assert len(cases) >= 40
    for case in cases:
        for start, end, etype in case["entities"]:
            assert 0 <= start < end <= len(case["text"])
            assert etype in ENTITY_TYPES
    assert sum(1 for c in cases if not c["entities"]) >= 10  # cases with nothing to find


def test_corpus_precision_and_recall() -> None:
    cases = [*corpus(2000), *load_hard_cases()]
    table = evaluate(DETECTOR, cases)
    for etype in TARGET_TYPES:
        row = table[etype]
        assert row["support"] >= 50, (etype, row)
        assert row["precision"] >= 0.98, (etype, row)
        assert row["recall"] >= 0.95, (etype, row)
    for etype in ("UK_NINO", "DATE_OF_BIRTH", "UK_POSTCODE", "US_ZIP"):
        assert table[etype]["precision"] >= 0.9, (etype, table[etype])
        assert table[etype]["recall"] >= 0.9, (etype, table[etype])


def test_evaluate_counts_exact_and_overlapping_spans() -> None:
    class Fixed:
        def find(self, text: str) -> list[Finding]:
            return [Finding(0, 4, "US_ZIP", 1.0, "r", ""), Finding(6, 9, "US_SSN", 1.0, "r", "")]

    cases = [("abcdefghij", [(0, 5, "US_ZIP"), (6, 9, "US_SSN"), (9, 10, "PERSON")])]
    exact = evaluate(Fixed(), cases)
    assert exact["US_ZIP"] == {"precision": 0.0, "recall": 0.0, "support": 1.0, "found": 1.0}
    assert exact["US_SSN"]["precision"] == exact["US_SSN"]["recall"] == 1.0
    assert exact["PERSON"]["recall"] == 0.0
    loose = evaluate(Fixed(), cases, overlap=True)
    assert loose["US_ZIP"]["precision"] == loose["US_ZIP"]["recall"] == 1.0


# --------------------------------------------------------------------------------------
# No network


def test_scanning_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while scanning")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    phones.phone_support.cache_clear()  # phone support is built again under the block
    known = KnownValues({"PHONE_NUMBER": ["+44 20 7946 0958"], "PERSON": ["Ann"]}, region="GB")
    count = 0
    for text, _ in corpus(300, seed=77):
        count += len(Detector(regions=("GB", "US", "JP")).find(text, known))
    assert count > 100


def test_a_masked_or_too_short_known_phone_is_not_looked_for() -> None:
    """A record whose phone keeps only a few digits (a masked copy) must not turn
    those digits, wherever they occur, into findings."""
    text = "Called from <PHONE_NUMBER_248d4ffcb6c10d94>; room 10, floor 10."
    for value in ("+** *** ** 10", "10", "1234"):
        assert Detector().find(text, KnownValues({"PHONE_NUMBER": [value]}, "ES")) == []
    found = Detector().find("call 0612 3456 78", KnownValues({"PHONE_NUMBER": ["612345678"]}, "NL"))
    assert [f.rule for f in found] == ["known_value"]


def test_a_luhn_valid_number_the_text_calls_a_card_is_a_card_whatever_its_range() -> None:
    # 0604 5276 2564: Luhn-valid, 12 digits, in no issuer range custrec lists
    text = "Please block my card 0604 5276 2564, it was stolen"
    [found] = [f for f in DETECTOR.find(text) if f.type == "CREDIT_CARD"]
    assert text[found.start : found.end] == "0604 5276 2564"
    assert found.score == 0.75
    assert "no listed issuer range" in found.explanation
    # the same digits without a card word, or failing Luhn after one, are no card
    assert not any(f.type == "CREDIT_CARD" for f in DETECTOR.find("ref 0604 5276 2564 sent"))
    assert not any(f.type == "CREDIT_CARD" for f in DETECTOR.find("my card 0604 5276 2565"))
