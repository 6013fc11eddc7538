"""Person names found by the shipped name lists, with no word introducing them
(custrec/redaction/gazetteer.py), and the capitalised words that look like names and
are not: common words, places, companies, streets."""

from __future__ import annotations

import pytest

from custrec.redaction.detect import Detector
from custrec.redaction.gazetteer import name_lists
from custrec.redaction.names import find_person_names


def names(text: str) -> list[str]:
    return [text[f.start : f.end] for f in Detector().find(text) if f.type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "Bianca Brunello-Saraceno is authorised to speak on the account",
            "Bianca Brunello-Saraceno",
        ),
        ("Parcel left with Katarzyna Nowak next door", "Katarzyna Nowak"),
        ("Refund approved by Tomasz K. Wiśniewski yesterday", "Tomasz K. Wiśniewski"),
        ("Callback requested, Okonkwo prefers mornings", "Okonkwo"),
        ("Jörg Baumgartner confirmed the new address", "Jörg Baumgartner"),
        ("Complaint logged for Dragana Jovanović on the phone", "Dragana Jovanović"),
        ("Ahmed Karimi's order arrived late", "Ahmed Karimi"),
        ("Kowalczyk rang twice about the invoice", "Kowalczyk"),
        ("Meeting with Sigrún Pálsdóttir moved to Friday", "Sigrún Pálsdóttir"),
        ("Transferred to Supervisor Marta Lindqvist", "Marta Lindqvist"),  # a common word before
        ("spoke to anna kowalska about the late fee", "anna kowalska"),  # lower case
        ("Escalated by Will J. Carter", "Will J. Carter"),  # a common given name + initial
    ],
)
def test_a_listed_name_is_found_without_a_cue(text: str, name: str) -> None:
    assert names(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "Will you call me back on Monday",  # a common word that is also a given name
        "Grace Period extended by a week",  # ... and without an initial
        "The package arrived in Jordan on time",  # a country
        "Customer lives in Austin now",  # one word after "in": a place
        "Ship to Washington, DC please",  # before a state code: a city
        "Baker Hughes Company invoice overdue",  # a company
        "Rose Garden Hotel booking",
        "Order shipped to 17 Morgan Hollow",  # a street after its house number
        "I'm not sure the card works",  # a contraction
        "German and French speakers available",  # languages
        "New Hampshire office closed",  # a place name's first word
        "Thanks, Support Team",
        "THE ACCOUNT HOLDER CALLED",  # all capitals: no name shape
        "the refund was sent on monday",  # lower case, no listed pair
        "Leeds",  # one word alone (a city field): as likely a place as a name
    ],
)
def test_no_name_in_look_alikes(text: str) -> None:
    assert names(text) == []


def test_the_lists_ship_with_the_package_and_hold_what_they_say() -> None:
    lists = name_lists()
    assert len(lists.given) > 20_000
    assert len(lists.surnames) > 100_000
    assert {"Katarzyna", "Jörg", "Sigrún", "Ahmed"} <= lists.given
    assert {"Nowak", "Baumgartner", "Okonkwo"} <= lists.surnames
    assert {"will", "grace", "rose", "review"} <= lists.common
    assert {"Jordan", "English", "Poland"} <= lists.places
    assert lists.is_strong("Nowak")
    assert not lists.is_strong("Will")
    assert lists.is_strong("Zyxwvović")  # a surname's ending, though no list has it
    assert not lists.is_strong("Jordan")


def test_a_listed_name_reports_its_rule_and_score() -> None:
    [full] = find_person_names("Parcel left with Katarzyna Nowak next door")
    [alone] = find_person_names("Kowalczyk rang twice")
    assert (full.type, full.rule, full.score) == ("PERSON", "listed_name", 0.8)
    assert (alone.rule, alone.score) == ("listed_name", 0.7)
