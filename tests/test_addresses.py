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
        ("moved to 85 Old Dear Lane, Unionville", "85 Old Dear Lane, Unionville"),
        ("deliver to 2480 Dorp St tomorrow", "2480 Dorp St"),
        ("new flat: 14 Iliou Street, Suite 360", "14 Iliou Street, Suite 360"),
        ("elle habite 12 rue de la Paix depuis mars", "12 rue de la Paix"),
        ("abita in Via Acrone 69 a Roma", "Via Acrone 69"),
        ("vive en Avenida Praia 27", "Avenida Praia 27"),
        ("wohnt in der Floridusgasse 89 in Wien", "Floridusgasse 89"),
        ("bor på Gamla Svedalavägen 75", "Gamla Svedalavägen 75"),
        ("return to P.O. Box 272", "P.O. Box 272"),
        ("mail PSC 4485, Box 2343 please", "PSC 4485, Box 2343"),
        ("lives at 221B Baker Street, London", "221B Baker Street, London"),
        # the city, region, country and postcode on the address's line
        (
            "send it to 14 Linden Road  Apt. 5  Tromsø  Norway 9008",
            "14 Linden Road  Apt. 5  Tromsø  Norway 9008",
        ),
        (
            "ship to 4 Rua das Flores 12, Porto, Portugal today",
            "4 Rua das Flores 12, Porto, Portugal",
        ),
        # US forces' post
        ("return it to USNS Comfort FPO AE 09587 please", "USNS Comfort FPO AE 09587"),
        ("mail Unit 2050 Box 4190 DPO AP 96520", "Unit 2050 Box 4190 DPO AP 96520"),
        ("PSC 1200, Box 77 APO AA 34001 is the address", "PSC 1200, Box 77 APO AA 34001"),
        # a street word of its own after the name
        ("lakás: Petőfi Sándor u. 7. a második emeleten", "Petőfi Sándor u. 7."),
        ("bor på Tuborg allé 3 nu", "Tuborg allé 3"),
        ("wohnt Landsberger Allee 12 seit Mai", "Landsberger Allee 12"),
        # a building number, a street without a street word, a house number
        ("delivered to 2211 Aeropuerto 118 yesterday", "2211 Aeropuerto 118"),
        # an intersection
        (
            "meet me at the corner of Mannerheimintie 12 and Albert Road",
            "the corner of Mannerheimintie 12 and Albert Road",
        ),
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
        "paid on 12 March 2024 by card",  # a date: a number, a month, a number
        "seen on 3 Mon 5 times",
    ],
)
def test_no_address_without_a_number_and_a_street_word(text: str) -> None:
    assert addresses(text) == []


def test_a_zip_after_a_state_code_is_left_to_the_zip_finder() -> None:
    text = "ship to 12 Main Street, Austin, TX 78701 today"
    found = [(f.type, text[f.start : f.end]) for f in Detector().find(text)]
    assert found == [("LOCATION", "12 Main Street, Austin, TX"), ("US_ZIP", "78701")]


def test_an_address_is_a_location_finding_and_can_be_left_out() -> None:
    found = Detector(types=["LOCATION"]).find("Ship to 12 Main Street, call 020 7946 0958")
    assert [(f.type, f.rule) for f in found] == [("LOCATION", "street_address")]
    assert Detector(types=["PHONE_NUMBER"]).find("12 Main Street") == []
