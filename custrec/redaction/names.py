"""Person names in free text that are not the record's own (``PERSON``, rule
``person_name``): a capitalised name right after a word that introduces a person.

Notes name people the record does not: "Wife Bianca Brunello-Saraceno is authorised
to speak on the account", "spoke to Mr. O'Neil", "signed for by Jan de Vries". Without
a name list (none that is both open and independent of the data we are measured on
could be shipped yet; see docs/redaction.md), a name is taken only where the text
says a person follows:

- a title (*Mr*, *Mrs*, *Ms*, *Dr*, *Herr*, *Frau*, *Mme*, *Sr.*, ...);
- a relation or a role (*wife*, *husband*, *son*, *mother*, *partner*, *guardian*,
  *customer*, *agent*, *colleague*, ...);
- a phrase (*my name is*, *name:*, *this is*, *I'm*, *call me*, *spoke to*, *signed
  for by*, *dear*, *ask for*, *regards,*, ...).

What follows must look like a name: one to four words, each starting with a capital
letter (any script with case) followed by small letters, with inner hyphens and
apostrophes (*Brunello-Saraceno*, *O'Neil*), initials (*E.*), and the particles of
surnames in small letters between them (*van den*, *de la*, *von*, *bin*). A word that
is not a name (*Customer*, *Service*, *Monday*, *The*) ends it. The title or cue is
not part of the finding. Score 0.85; lower-case text is not read.
"""

from __future__ import annotations

import re

from custrec.redaction.findings import Finding

__all__ = ["find_person_names"]

_TITLES = (
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame", "lord", "lady",
    "herr", "frau", "mme", "mlle", "sr", "sra", "srta", "sig", "sig.ra", "dott",
    "dhr", "mevr", "pan", "pani", "hr", "fru",
)  # fmt: skip
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

_NOT_NAMES = frozenset(
    """
    a an the i we you he she they it this that these those my your his her our their and
    or but if for of to in on at by with from as is are was were be been am customer
    customers client service services support team department desk office account accounts
    card cards bank company ltd limited inc llc plc gmbh corp corporation group agent
    manager monday tuesday wednesday thursday friday saturday sunday january february
    march april may june july august september october november december mr mrs ms miss dr
    prof sir madam dear hello hi thanks regards yes no ok okay please phone mobile email
    address street road avenue city town country suite apt apartment unit floor flat
    building box po phd md dds esq jr junior senior mba msc bsc
    """.split()  # noqa: SIM905 - a word list, kept readable
)
"""Capitalised words that are not names: they end a name (or stop one starting)."""

_STREET_ENDINGS = ("straat", "strasse", "straße", "gasse", "weg", "vej", "veien", "gatan",
                   "vägen", "gade", "laan", "plein", "platz")  # fmt: skip
"""A word ending so is a street ("Gravemeijerstraat"), not a name."""
_PARTICLES = frozenset(
    """
    van von der den de del della di da das dos du la le bin binti ibn al el ter ten zu y e
    """.split()  # noqa: SIM905 - a word list, kept readable
)

_WORD = r"[^\W\d_][^\W\d_'\u2019\-]*(?:['\u2019\-][^\W\d_]+)*"
_TOKEN = re.compile(rf"{_WORD}\.?|[.,:;!?]")


def _alternatives(words: tuple[str, ...]) -> str:
    parts = sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return "|".join(parts)


_CUE = re.compile(
    rf"(?<![^\W_])(?:(?P<title>{_alternatives(_TITLES)})\.?"
    rf"|(?:{_alternatives(_RELATIONS)})(?:'s)?,?"
    rf"|(?:{_alternatives(_PHRASES)})\s*[:,]?)"
    r"[ \t]+(?=[^\W\d_])",
    re.IGNORECASE,
)


def _is_capitalised(word: str) -> bool:
    head = word[0]
    return head.isupper() and (len(word) == 1 or not word[1:].replace("-", "").isupper())


def find_person_names(text: str) -> list[Finding]:
    """Names after a word that introduces a person (see the module docstring)."""
    out: list[Finding] = []
    if text.islower():
        return out
    for cue in _CUE.finditer(text):
        start = cue.end()
        words: list[tuple[int, int]] = []
        pos = start
        for token in _TOKEN.finditer(text, start):
            gap = text[pos : token.start()]
            if gap.strip() or (words and ("\n" in gap or len(gap) > 2)):
                break  # only spaces join the words of one name, on one line
            word = token.group()
            bare = word.rstrip(".")
            if not bare or not bare[0].isalpha():
                break
            if bare.lower() in _PARTICLES and words:
                pos = token.end()
                continue  # kept only if a capitalised word follows
            possessive = bare[-2:] in ("'s", "\u2019s")
            if possessive:
                bare = bare[:-2]
            lowered = bare.lower()
            if (
                not bare
                or not _is_capitalised(bare)
                or lowered in _NOT_NAMES
                or lowered.endswith(_STREET_ENDINGS)
            ):
                break
            initial = len(bare) == 1
            words.append((token.start(), token.start() + len(bare) + (1 if initial else 0)))
            pos = token.end()
            if len(words) == 4 or possessive or (word.endswith(".") and not initial):
                break  # "Ryan's daughter"; "... Daigle. Who are you?"
        while words and words[-1][1] - words[-1][0] <= 2:  # an initial does not end a name
            words.pop()
        if words and not (len(words) == 1 and words[0][1] - words[0][0] <= 2):
            cue_words = cue.group().strip()
            out.append(
                Finding(
                    words[0][0], words[-1][1], "PERSON", 0.85, "person_name",
                    f"a capitalised name after {cue_words!r}",
                )
            )  # fmt: skip
    return out
