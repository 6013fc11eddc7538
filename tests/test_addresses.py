"""Street addresses in free text: a house number with a street name and a street word
in the ways the major languages write them, post-office boxes and flats; a number and
a name without a street word, and street words without a number, are not."""

from __future__ import annotations

import pytest

from custrec.redaction.detect import Detector


def addresses(text: str) -> list[str]:
    return [text[f.start : f.end] for f in Detector().find(text) if f.type == "LOCATION"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("please send it to 12 Main Street from now on", "12 Main Street"),
        ("moved to 85 Old Dear Lane, Unionville", "85 Old Dear Lane"),
        ("deliver to 2480 Dorp St tomorrow", "2480 Dorp St"),
        ("new flat: 14 Iliou Street, Suite 360", "14 Iliou Street, Suite 360"),
        ("elle habite 12 rue de la Paix depuis mars", "12 rue de la Paix"),
        ("abita in Via Acrone 69 a Roma", "Via Acrone 69"),
        ("vive en Avenida Praia 27", "Avenida Praia 27"),
        ("wohnt in der Floridusgasse 89 in Wien", "Floridusgasse 89"),
        ("bor på Gamla Svedalavägen 75", "Gamla Svedalavägen 75"),
        ("return to P.O. Box 272", "P.O. Box 272"),
        ("mail PSC 4485, Box 2343 please", "PSC 4485, Box 2343"),
        ("lives at 221B Baker Street, London", "221B Baker Street"),
    ],
)
def test_a_street_address_is_found(text: str, address: str) -> None:
    assert addresses(text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "During 1977 the office moved",  # "ring" inside a word is not a street
        "order 12 shipped on Monday",
        "Castelao 66 was the score",  # a name and a number, no street word
        "the street was closed",  # no number
        "took 3 days",
        "the Ring 5 tour",  # a short word before the ending
        "version 2.1 on the Main Street branch",  # the number is not the house's
    ],
)
def test_no_address_without_a_number_and_a_street_word(text: str) -> None:
    assert addresses(text) == []


def test_an_address_is_a_location_finding_and_can_be_left_out() -> None:
    found = Detector(types=["LOCATION"]).find("Ship to 12 Main Street, call 020 7946 0958")
    assert [(f.type, f.rule) for f in found] == [("LOCATION", "street_address")]
    assert Detector(types=["PHONE_NUMBER"]).find("12 Main Street") == []
