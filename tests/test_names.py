"""Person names in free text after a word that introduces a person; capitalised words
that are not names are left alone. (Names found by the shipped name lists, with no
cue: tests/test_gazetteer.py.)"""

from __future__ import annotations

import pytest

from custrec.redaction.detect import Detector


def names(text: str) -> list[str]:
    return [text[f.start : f.end] for f in Detector().find(text) if f.type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "Wife Bianca Brunello-Saraceno is authorised to speak on the account.",
            "Bianca Brunello-Saraceno",
        ),
        ("Spoke to Mr. O'Neil about the refund", "O'Neil"),
        ("Parcel signed for by Jan de Vries at the door", "Jan de Vries"),
        ("My name is Océane F. Bourgeau and I moved", "Océane F. Bourgeau"),
        ("Name: Søren Kleist", "Søren Kleist"),
        ("Hello, this is Mrs. Kimberly Laaksonen. Who are you?", "Kimberly Laaksonen"),
        ("Herr Schröder called back", "Schröder"),
        ("please add her son Liam as a second user", "Liam"),
        ("Dear Ms Nakamura,", "Nakamura"),
        ("I'm Ryan's daughter", "Ryan"),
        ("ask for Dr Anna-Lena Maier-Hofstetter on Monday", "Anna-Lena Maier-Hofstetter"),
    ],
)
def test_a_name_after_a_cue_is_found(text: str, name: str) -> None:
    assert names(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "Dear Customer Service, my card was declined",
        "Spoke to the manager on Monday",
        "my name is on the account",  # no capitalised word
        "Product Manager Review scheduled",  # a common word after a cue
        "Address: 12 Doctor Gravemeijerstraat",
        "signed by Mrs. Apt. 4",
        "Dear Sir or Madam",
        "customer ABCPE1234F verified",  # letters and digits: a code, not a name
    ],
)
def test_no_name_without_a_name_shape(text: str) -> None:
    assert names(text) == []


def test_a_name_is_redacted_like_any_other_finding() -> None:
    found = Detector(types=["PERSON"]).find("Wife Bianca Brunello-Saraceno, mobile 07700 900123")
    assert [(f.type, f.rule) for f in found] == [("PERSON", "person_name")]
    assert Detector(types=["EMAIL_ADDRESS"]).find("Wife Bianca Brunello-Saraceno") == []
