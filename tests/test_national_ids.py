"""National identifiers in free text: found when valid in their own written form or
next to a word naming them; look-alikes (a wrong check digit, bare digits with no such
word, a product code) are not."""

from __future__ import annotations

import pytest

from custrec.redaction.detect import ENTITY_TYPES, Detector
from custrec.redaction.national_ids import NATIONAL_ID_TYPES


def found(text: str) -> set[tuple[str, str]]:
    return {(text[f.start : f.end], f.type) for f in Detector().find(text)}


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        # their own written form is enough
        ("Applicant X1234567L signed", "X1234567L", "ES_NIE"),
        ("copy of 12345678Z attached", "12345678Z", "ES_NIF"),
        ("client RSSMRA85T10A562S called", "RSSMRA85T10A562S", "IT_FISCAL_CODE"),
        ("carte vitale 2 95 10 99 126 111 93 reçue", "2 95 10 99 126 111 93", "FR_NIR"),
        ("id 36 574 261 809 checked", "36 574 261 809", "DE_TAX_ID"),
        ("sent 1112.22.333 by post", "1112.22.333", "NL_BSN"),
        ("born as 19880320-0016 per the form", "19880320-0016", "SE_PERSONNUMMER"),
        ("titular 390.533.447-05 confirmou", "390.533.447-05", "BR_CPF"),
        ("filed with 912-70-1234 last year", "912-70-1234", "US_ITIN"),
        # bare digits, next to the word naming them
        ("PESEL: 44051401359", "44051401359", "PL_PESEL"),
        ("her BSN is 111222333", "111222333", "NL_BSN"),
        ("Aadhaar 2345 6789 0124 verified", "2345 6789 0124", "IN_AADHAAR"),
        ("CPF 39053344705", "39053344705", "BR_CPF"),
        ("Steuer-ID 36574261809", "36574261809", "DE_TAX_ID"),
        ("PAN ABCPE1234F on file", "ABCPE1234F", "IN_PAN"),
        ("numéro de sécurité sociale 295109912611193", "295109912611193", "FR_NIR"),
        # no check digits: only the number the words introduce
        ("Her driver's license number is 481226730", "481226730", "US_DRIVER_LICENSE"),
        ("DL# D1234567 expires 2027", "D1234567", "US_DRIVER_LICENSE"),
        ("driving licence: 58213390", "58213390", "US_DRIVER_LICENSE"),
    ],
)
def test_national_id_found(text: str, value: str, kind: str) -> None:
    assert (value, kind) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "PESEL: 44051401358",  # wrong check digit
        "NIE X1234567K",
        "codice fiscale RSSMRA85T10A562T",
        "CPF 390.533.447-06",
        "BSN 111222334",
        "Aadhaar 2345 6789 0125",
        "Steuer-ID 36 574 261 808",
        "order 44051401359 shipped",  # bare digits, no word naming an identifier
        "invoice 111222333",
        "SKU ABCPE1234F in stock",  # a PAN's shape without the word
        "ref 12345678z",  # lower-case letter: not written as a DNI
        "order 481226730 shipped",  # a licence's digits without the words
        "driver's license renewed in 2024 at office 12345",  # not right after the words
        "DL# D1234567 expires 2027 at 10:00",  # the year after it is not a licence
    ],
)
def test_national_id_look_alikes(text: str) -> None:
    kinds = {(value, kind) for value, kind in found(text) if kind in NATIONAL_ID_TYPES}
    assert kinds <= {("D1234567", "US_DRIVER_LICENSE")}, found(text)


def test_national_id_types_are_detector_types() -> None:
    assert set(NATIONAL_ID_TYPES) <= set(ENTITY_TYPES)
    only = Detector(types=["PL_PESEL"])
    assert {f.type for f in only.find("PESEL 44051401359, call 020 7946 0958")} == {"PL_PESEL"}
    assert Detector(types=["EMAIL_ADDRESS"]).find("PESEL 44051401359") == []
