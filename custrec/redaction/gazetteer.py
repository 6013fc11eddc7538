"""The name lists, and the cutting of text into the capitalised word runs that may be
names: what :mod:`custrec.redaction.names` reads names with (rule ``listed_name``
for a name the lists know: "Parcel left with Katarzyna Nowak", "Kowalczyk rang
twice", "Tomasz K. Wiśniewski").

The lists ship with custrec (``custrec/resources/names/``, built by
``tools/build_name_lists.py``; sources and licences in ``SOURCES.md`` there): given
names and surnames of some eighty locales and the US Census lists, the common English
words (*Will*, *Rose*, *Review*), and country and language names. No library finds
names offline without a model: spaCy and Flair need weights downloaded, and Presidio's
offline recognizers leave names out. So the matching is ours:

1. The text is cut into *chains*: capitalised words (any cased script) separated by
   one space on one line, with initials (*S.*, *H*) and surname particles (*van der*,
   *de la*) between them. A possessive (*Ryan's*) or a word ending a sentence ends a
   chain.
2. A chain right after a house number ("93 Platt Hollow"), before a state code
   ("Austin, TX"), or holding or followed by a street or company word ("Baker Hughes
   Company") is no name. The rest is cut into *segments* at words that are not names
   (*Customer*, *Monday*, country, language and nationality names, contractions such
   as *I'm*), and before a place's first word (*New*, *San*, *Port*: the rest is a
   place).
3. A segment is a listed name when, common words at its ends dropped ("Producer"),
   it holds one to four words and
   - one of them is a listed name that is not a common word (*Nowak*, *Katarzyna*),
     or ends like a surname in many languages (*-ová*, *-sson*, *-dóttir*, *-ić*,
     *-enko*) without being a common word; or
   - it starts with a listed given name that is also a common word and has an
     initial (*Will J. Smith*): without one, "Will Power" would be a name;
   and it is not one word right after *in*, *from*, *near*... ("lives in Austin").

Text written all in lower case ("spoke to anna kowalska") has no capital letter to
mark a name: there a listed given name followed by a listed surname (an initial
between), neither a common word nor a place, is a name, score 0.6. Elsewhere: 0.8 for
two or more words, 0.7 for one. The lists are read once, on the first text that could
hold a name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import NamedTuple

from custrec.redaction.findings import Finding

__all__ = [
    "PARTICLES", "SURNAME_ENDINGS", "Segment", "Token", "is_not_a_name", "is_plain_word",
    "listed_name", "lower_case_names", "name_chains", "name_lists", "name_segments",
    "name_words", "trimmed", "up_to_words",
]  # fmt: skip

SURNAME_ENDINGS: tuple[str, ...] = tuple(
    """
    ov ova ev eva ovich ovna evich evna ić ič ski ska sky skaya cki cka dzki dzka sen son
    sson ssen dóttir dottir escu eanu ian yan enko chuk uk yuk shvili dze poulos oglu oğlu
    ez aitė ienė ytė aitis auskas evičius inen lainen ová ný
    """.split()  # noqa: SIM905 - a word list, kept readable
)
"""Endings of surnames in many languages (Slavic, Nordic, Romanian, Armenian,
Ukrainian, Georgian, Greek, Turkish, Spanish, Baltic, Finnish, Czech)."""

_NOT_NAMES = frozenset(
    """
    a an the i we you he she they it this that these those my your his her our their and
    or but if for of to in on at by with from as is are was were be been am customer
    customers client service services support team department desk office account accounts
    card cards bank monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december mr mrs
    ms miss mx dr prof sir madam dear hello hi thanks regards yes no ok okay please phone
    mobile email address city town country phd md dds dvm esq jr sr junior senior mba msc
    agent manager apt apartment suite unit flat floor building box po
    bsc ii iii iv old africa europe asia america americas oceania antarctica arctic
    american british english scottish welsh irish french german dutch flemish belgian
    swiss austrian italian spanish portuguese brazilian mexican canadian australian
    indian chinese japanese korean russian ukrainian polish czech slovak hungarian
    romanian bulgarian greek turkish swedish norwegian danish finnish icelandic estonian
    latvian lithuanian croatian serbian slovenian maltese cypriot european african asian
    """.split()  # noqa: SIM905 - a word list, kept readable
)
"""Capitalised words that are not names (lower case), continents and nationalities
among them: they split a chain."""
_PLACE_PREFIXES = frozenset(
    """
    new north south east west port san santa saint st sankt las los cite fort mount lake
    upper lower great little neu
    """.split()  # noqa: SIM905 - a word list, kept readable
)
"""Words that start a place name: the rest of their chain is a place ("New Severin",
"San Antonio", "Las Flores")."""

_ORGANISATION = frozenset(
    """
    inc ltd limited llc plc corp corporation company co group holdings holding gmbh ag sa se nv
    bv ab asa oyj kg spa srl sas sarl bank trust fund partners associates international
    technologies systems solutions industries university college school hotel inn
    restaurant church hospital foundation institute society club
    """.split()  # noqa: SIM905 - a word list, kept readable
)
_STREET = frozenset(
    """
    street st road rd avenue ave lane ln drive way court ct place pl square sq boulevard
    blvd crescent terrace close parkway highway trail circle park walk gardens hill row grove
    alley plaza rue via viale piazza corso calle avenida paseo rua ulica ul allee allé
    chaussee straße strasse gasse weg platz gatan vägen vej gade straat laan plein utca
    fpo apo dpo
    """.split()  # noqa: SIM905 - a word list, kept readable
)
PARTICLES = frozenset(
    "van von der den de del della di da das dos du la le bin binti ibn al el ter ten zu y e".split()  # noqa: SIM905
)
"""Small words between the parts of a name (*Jan de Vries*, *Ludwig van der Rohe*)."""
_TOKEN = re.compile(r"[^\W\d_][^\W\d_'\u2019\-]*(?:['\u2019\-][^\W\d_]+)*\.?")


class NameLists:
    """The shipped lists: given names, surnames, and the common words among them."""

    def __init__(
        self, given: frozenset[str], surnames: frozenset[str], common: frozenset[str],
        places: frozenset[str],
    ) -> None:  # fmt: skip
        self.given = given
        self.surnames = surnames
        self.common = common
        """Common English words, in lower case."""
        self.places = places
        """Country and language names: capitalised, listed as surnames, not people."""

    def is_listed(self, word: str) -> bool:
        return word in self.given or word in self.surnames

    def is_strong(self, word: str) -> bool:
        """A word that by itself says "a person": a listed name, or a word ending like
        a surname, that is neither a common word nor a place."""
        if word in self.places or word.lower() in self.common:
            return False
        if self.is_listed(word):
            return True
        if "-" in word:  # "Brunello-Saraceno", "Veli-Pekka"
            return any(self.is_strong(part) for part in word.split("-") if part)
        return len(word) > 4 and word.endswith(SURNAME_ENDINGS)


def _read(name: str) -> frozenset[str]:
    text = resources.files("custrec.resources").joinpath("names", name).read_text("utf-8")
    return frozenset(text.split())


@cache
def name_lists() -> NameLists:
    """The lists, read once (about 130,000 names, some 30 ms)."""
    return NameLists(
        _read("given-names.txt"),
        _read("surnames.txt"),
        _read("common-words.txt"),
        _read("places.txt"),
    )


Token = tuple[int, int, str]
"""start, end, word; the word is "" for a particle between names."""


_CAPITAL_WORD = r"[^\W\d_a-zß-ÿ][^\W\d_'\u2019\-]*(?:['\u2019\-][^\W\d_]+)*\.?"
_CHAIN = re.compile(
    rf"{_CAPITAL_WORD}(?:[ ](?:(?:{'|'.join(sorted(PARTICLES))})[ ])*{_CAPITAL_WORD})*"
)
"""Where chains can be: runs of words starting with a letter that is not a small Latin
one, particles between. Finding them by one pattern leaves the many small words of a
text to the regex engine; `name_chains` checks the capitals of what it finds."""


def name_chains(text: str) -> list[list[Token]]:
    """Runs of capitalised words, initials and particles (see the module docstring)."""
    chains: list[list[Token]] = []
    for run in _CHAIN.finditer(text):
        chain: list[Token] = []
        last_end = -1
        for match in _TOKEN.finditer(text, run.start(), run.end()):
            word = match.group()
            start = match.start()
            bare = word.rstrip(".")
            possessive = bare.endswith(("'s", "\u2019s"))
            if possessive:
                bare = bare[:-2]
            joined = bool(chain) and start - last_end == 1
            if bare and bare[0].isupper() and (len(bare) == 1 or not bare[1:].isupper()):
                if chain and not joined:
                    chains.append(chain)
                    chain = []
                initial = len(bare) == 1 and word.endswith(".")
                chain.append((start, start + len(bare) + initial, bare))
                last_end = match.end()
                if possessive or (word.endswith(".") and len(bare) > 1):
                    chains.append(chain)  # "Hasti's Cautionary Tales"; "... Daigle. Who"
                    chain = []
            elif joined and bare in PARTICLES:
                chain.append((start, match.end(), ""))
                last_end = match.end()
            elif chain:
                chains.append(chain)
                chain = []
        if chain:
            chains.append(chain)
    return chains


def _is_initial(word: str) -> bool:
    return len(word) == 1 and word != "I"


_CONTRACTION = re.compile(r".+['\u2019](?:m|ll|ve|d|re|t)$", re.IGNORECASE)
"""*I'm*, *Don't*, *We'll*: not names (*O'Neil*, *D'Angelo* are)."""


def is_not_a_name(word: str) -> bool:
    """A capitalised word that is no part of a name: a title, a common word of notes
    (*Customer*, *Monday*, *Suite*), a company or street word, a country, language or
    nationality, a contraction (*I'm*)."""
    lowered = word.lower()
    return (
        lowered in _NOT_NAMES
        or lowered in _ORGANISATION
        or lowered in _STREET
        or _CONTRACTION.match(word) is not None
        or word in name_lists().places
    )


_STATE_AFTER = re.compile(r",?[ ][A-Z]{2}\b(?![.\-'\u2019])")
"""A chain followed by a two-letter code (a US state, a Canadian province) is a city."""
_PLACE_BEFORE = re.compile(
    r"\b(?:in|from|near|via|outside|inside|around|across|towards|visiting|visited)[ ]+$",
    re.IGNORECASE,
)


def _next_word(text: str, end: int) -> str:
    match = _TOKEN.match(text[end : end + 16].lstrip(" ,"))
    return match.group().rstrip(".").lower() if match else ""


class Segment(NamedTuple):
    """Capitalised words of one chain that may be a name, between words that are not."""

    tokens: list[Token]
    alone_is_place: bool
    """One word here would be a place: it follows *in*, *from*, *near*..."""


def name_segments(text: str, splits: Callable[[str], bool]) -> Iterator[Segment]:
    """The segments of the chains of ``text`` that may be names: chains that are no
    street or city (rule 2 of the module docstring) cut at words that are not names,
    at the words ``splits`` says cut too, and before a place's first word."""
    for chain in name_chains(text):
        first = chain[0][0]
        before = first - 1
        while before >= 0 and text[before] == " ":
            before -= 1
        if before >= 0 and text[before].isdigit():
            continue  # "93 Platt Hollow": a street after its house number
        if _STATE_AFTER.match(text, chain[-1][1]):
            continue  # "Washington, DC", "Austin TX 78701": a city
        words = {w.lower() for _, _, w in chain}
        if not words.isdisjoint(_STREET) or not words.isdisjoint(_ORGANISATION):
            continue
        following = _next_word(text, chain[-1][1])
        if following in _STREET or following in _ORGANISATION:
            continue
        alone_is_place = _PLACE_BEFORE.search(text, max(0, first - 16), first) is not None
        segment: list[Token] = []
        for token in (*chain, (0, 0, ".")):  # "." ends the last segment
            word = token[2]
            place = word.lower() in _PLACE_PREFIXES  # the rest of the chain is a place
            if (
                place
                or word == "."
                or (word and not _is_initial(word) and (is_not_a_name(word) or splits(word)))
            ):
                if segment:
                    yield Segment(segment, alone_is_place and segment[0][0] == first)
                segment = []
                if place:
                    break
            else:
                segment.append(token)


_LOWER_PAIR = re.compile(
    r"(?<![\w'\u2019\-])(?P<given>[^\W\d_A-Z][^\W\d_]+)(?: [^\W\d_]\.?)? "
    r"(?P<surname>[^\W\d_A-Z][^\W\d_]+(?:-[^\W\d_]{2,})?)(?![\w'\u2019\-])"
)


def lower_case_names(text: str) -> list[Finding]:
    """In text written all in lower case, a listed given name followed by a listed
    surname (an initial between), neither a common word: "spoke to anna kowalska"."""
    lists = name_lists()
    out: list[Finding] = []
    position = 0
    while (match := _LOWER_PAIR.search(text, position)) is not None:
        given, surname = match.group("given").title(), match.group("surname").title()
        if given in lists.given and lists.is_strong(given) and lists.is_strong(surname):
            out.append(
                Finding(match.start(), match.end(), "PERSON", 0.6, "listed_name",
                        "a listed given name and surname, in lower case")
            )  # fmt: skip
            position = match.end()
        else:
            position = match.start("surname")
    return out


def _plain(word: str, lists: NameLists) -> bool:
    """A common word that is no listed name."""
    return len(word) > 1 and word.lower() in lists.common and not lists.is_listed(word)


def is_plain_word(word: str) -> bool:
    """A common English word that is no listed name (*Review*, *Producer*)."""
    return _plain(word, name_lists())


def trimmed(tokens: list[Token]) -> list[Token]:
    """The tokens without particles and initials at the end (a name does not end so)
    and without particles or *I* at the start."""
    end = len(tokens)
    while end and (not tokens[end - 1][2] or _is_initial(tokens[end - 1][2])):
        end -= 1
    start = 0
    while start < end and (not tokens[start][2] or tokens[start][2] == "I"):
        start += 1
    return tokens[start:end]


def name_words(tokens: list[Token]) -> list[str]:
    """The words of a name's tokens that are neither particles nor initials."""
    return [w for _, _, w in tokens if w and not _is_initial(w)]


def up_to_words(tokens: list[Token], count: int) -> list[Token]:
    """The tokens as far as their ``count``-th name word (see :func:`name_words`)."""
    seen = 0
    for index, (_, _, word) in enumerate(tokens):
        if word and not _is_initial(word):
            seen += 1
            if seen == count:
                return trimmed(tokens[: index + 1])
    return tokens


def listed_name(segment: Segment) -> Finding | None:
    """The segment as a name the lists know, or None (rule 3 of the module
    docstring)."""
    lists = name_lists()
    tokens = trimmed(segment.tokens)
    while tokens and _plain(tokens[0][2], lists):
        tokens = trimmed(tokens[1:])  # "Producer Ida Myrvold"
    while tokens and _plain(tokens[-1][2], lists):
        tokens = trimmed(tokens[:-1])
    words = name_words(tokens)
    if not words or len(words) > 4 or (segment.alone_is_place and len(words) == 1):
        return None  # "lives in Austin": one word after "in" is a place
    if any(lists.is_strong(w) for w in words):
        why = "a listed name"
    elif words[0] in lists.given and len(tokens) > len(words):
        why = "a listed given name with an initial"
    else:
        return None
    score = 0.8 if len(words) > 1 else 0.7
    return Finding(tokens[0][0], tokens[-1][1], "PERSON", score, "listed_name", why)
