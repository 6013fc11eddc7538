"""Person names in free text that are not the record's own (``PERSON``).

Notes name people the record does not: "Wife Bianca Brunello-Saraceno is authorised
to speak on the account", "spoke to Mr. O'Neil", "Parcel left with Katarzyna Nowak".
The text is cut into the capitalised word runs that may be names
(:func:`custrec.redaction.gazetteer.name_segments`); a run is a name

- (rule ``person_name``, score 0.85) when the text says a person follows: right
  after a title (*Mr*, *Mrs*, *Ms*, *Dr*, *Herr*, *Frau*, *Mme*, *Sr.*, ...), a
  relation or a role (*wife*, *husband*, *son*, *mother*, *partner*, *guardian*,
  *customer*, *agent*, *colleague*, ...) or a phrase (*my name is*, *name:*, *this
  is*, *I'm*, *call me*, *spoke to*, *signed for by*, *dear*, *ask for*, *regards,*,
  ...). One to four words, with inner hyphens and apostrophes (*Brunello-Saraceno*,
  *O'Neil*), initials (*E.*) and particles (*van den*, *de la*); not one common word
  that is no name (*Manager Review*), nor one letter or two;
- (rule ``listed_name``, score 0.7 or 0.8) else, when the shipped name lists know it
  (:func:`custrec.redaction.gazetteer.listed_name`: "Katarzyna Nowak", "Kowalczyk");
  not a value of one word alone (a city field holding "Leeds" or "London": with no
  context, as likely a place as a name).

The title or cue is not part of the finding. In text written all in lower case, a
listed given name and surname side by side are a name (score 0.6).
"""

from __future__ import annotations

import re

from custrec.redaction.findings import Finding
from custrec.redaction.gazetteer import (
    Segment,
    is_plain_word,
    listed_name,
    lower_case_names,
    name_segments,
    name_words,
    trimmed,
    up_to_words,
)

__all__ = ["TITLES", "find_person_names"]

TITLES: tuple[str, ...] = (
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame", "lord", "lady",
    "herr", "frau", "mme", "mlle", "sr", "sra", "srta", "sig", "sig.ra", "dott",
    "dhr", "mevr", "pan", "pani", "hr", "fru",
)  # fmt: skip
"""Titles before a name, in lower case, without their dot."""

_RELATIONS = (
    "wife", "husband", "partner", "spouse", "son", "daughter", "mother", "father",
    "mum", "mom", "dad", "brother", "sister", "grandmother", "grandfather", "grandson",
    "granddaughter", "aunt", "uncle", "nephew", "niece", "cousin", "fiancé", "fiancee",
    "fiancée", "boyfriend", "girlfriend", "guardian", "carer", "caregiver", "neighbour",
    "neighbor", "landlord", "tenant", "employer", "colleague", "manager", "agent",
    "customer", "client", "caller", "beneficiary", "executor", "solicitor", "lawyer",
    "attorney", "accountant", "doctor", "nurse", "technician", "courier", "driver",
)  # fmt: skip
_PHRASES = (
    "my name is", "name is", "name", "named", "this is", "i am", "i'm", "im", "call me",
    "calls me", "called", "spoke to", "spoke with", "speak to", "speak with",
    "talked to", "talk to", "ask for", "asked for", "signed for by", "signed by",
    "received by", "delivered to", "collected by", "authorised", "authorized",
    "dear", "hello", "hi", "regards", "thanks", "thank you", "sincerely", "cheers",
    "contact person", "account holder", "cardholder", "on behalf of", "care of", "c/o",
    "attn", "attention", "ich bin", "je suis", "je m'appelle", "me llamo", "mi chiamo",
)  # fmt: skip

_STREET_ENDINGS = ("straat", "strasse", "straße", "gasse", "weg", "vej", "veien", "gatan",
                   "vägen", "gade", "laan", "plein", "platz")  # fmt: skip
"""A word ending so is a street ("Gravemeijerstraat"), not a name."""


def _alternatives(words: tuple[str, ...]) -> str:
    parts = sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return "|".join(parts)


_CUE_BEFORE = re.compile(
    rf"(?<![^\W_])(?:(?:{_alternatives(TITLES)})\.?"
    rf"|(?:{_alternatives(_RELATIONS)})(?:'s)?,?"
    rf"|(?:{_alternatives(_PHRASES)})\s*[:,]?)"
    r"[ \t]+$",
    re.IGNORECASE,
)
"""A cue ending right before a segment (searched in the few characters before it)."""
_CUE_WORDS = frozenset(
    word.rstrip(".").lower()
    for phrase in (*TITLES, *_RELATIONS, *_PHRASES)
    for word in phrase.split()
)
"""The words of the cues: capitalised, they are no part of the name after them
("Wife Bianca", "Dear Ms Nakamura")."""
_CUE_REACH = 40


def _splits(word: str) -> bool:
    lowered = word.lower()
    return lowered in _CUE_WORDS or lowered.endswith(_STREET_ENDINGS)


def find_person_names(text: str) -> list[Finding]:
    """Person names in ``text`` (see the module docstring)."""
    if not any(ch.isupper() for ch in text):
        return lower_case_names(text) if any(ch.isalpha() for ch in text) else []
    out: list[Finding] = []
    whole = text.strip()
    one_word = " " not in whole
    for segment in name_segments(text, _splits):
        start = segment.tokens[0][0]
        cue = _CUE_BEFORE.search(text, max(0, start - _CUE_REACH), start)
        if cue is not None:
            found = _cued(segment, cue)
        elif one_word and whole == text[start : segment.tokens[-1][1]]:
            continue  # one word alone, "Leeds", "London": as likely a place as a name
        else:
            found = listed_name(segment)
        if found is not None:
            out.append(found)
    return out


def _cued(segment: Segment, cue: re.Match[str]) -> Finding | None:
    tokens = up_to_words(trimmed(segment.tokens), 4)  # a name of four words at most
    words = name_words(tokens)
    if not words or (len(words) == 1 and (len(words[0]) <= 2 or is_plain_word(words[0]))):
        return listed_name(segment)  # "Manager Review": a common word, no name
    cue_words = cue.group().strip()
    return Finding(
        tokens[0][0], tokens[-1][1], "PERSON", 0.85, "person_name",
        f"a capitalised name after {cue_words!r}",
    )  # fmt: skip
