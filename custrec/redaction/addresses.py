"""Street addresses in free text that are not the record's own (``LOCATION``, rule
``street_address``): a house number with a street name and a street word, in the
ways the major languages write them, and post-office boxes and flat numbers.

- number first, then a street word at the end: *12 Main Street*, *22 Pollen
  Crescent*, *2480 Dorp St*, *85 Old Dear Lane* (English street words, long and
  abbreviated);
- a street word first: *Rue de la Paix 12*, *Via Acrone 69*, *Avenida Praia 27*,
  *ul. Długa 5*, and *12 rue de la Paix*;
- one word ending in a street word, then the number: *Floridusgasse 89*, *Gamla
  Svedalavägen 75*, *Jagtvej 12*, *Wesselényi utca 94* (German, Nordic, Dutch,
  Hungarian, Finnish);
- *P.O. Box 123*, *PSC 4485, Box 2343*; a flat or suite (*Apt. 4*, *Suite 210*) joined
  to the address before it, or alone.

A street written without a street word (*Castelao 66*) is not found: a name and a
number are too often something else. Score 0.8. Hand-written, because no library
finds addresses in free text offline (libpostal parses a string already known to be
an address, and needs a 2 GB model).
"""

from __future__ import annotations

import re

from custrec.redaction.findings import Finding

__all__ = ["find_street_addresses"]

_EN_STREET_WORDS = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq|"
    "Squares|Boulevard|Blvd|Crescent|Cres|Terrace|Ter|Close|Parkway|Pkwy|Highway|Hwy|"
    "Trail|Circle|Cir|Park|Walk|Gardens|Hill|Hills|Row|Grove|Alley|Plaza|Crossing|Mission|"
    "Glen|Glens|Heights|Green|Greens|Mews|Rise|View|Vale|Path|Pike|Loop|Ridge|Point|"
    "Harbor|Harbour|Port|Island|Creek|Stream|Bridge|Meadow|Meadows|Field|Fields|Wood|Woods|"
    "Valley|Springs|Spring|Estate|Estates|Manor|Center|Centre|Commons|Corner|Cove|Crest|"
    "Dale|Downs|Falls|Ferry|Ford|Forest|Fort|Gateway|Haven|Junction|Knoll|Lake|Lakes|"
    "Landing|Lodge|Mall|Mill|Mills|Mount|Mountain|Orchard|Oval|Pass|Passage|Pines|Plains|"
    "Prairie|Quay|Ranch|Rapids|Shore|Shores|Station|Summit|Trace|Track|Turnpike|Village|"
    "Vista|Wells|Run|Expressway|Freeway|Parade|Esplanade|Promenade|Wharf|Wynd|Causeway|"
    "Chase|Drove|Gate|Lawn|Lawns|Mead|Paddock|Reach|Retreat|Strand|Approach|Arcade|Bend|"
    "Brae|Bypass|Circuit|Courtyard|Grange|Heath|Hollow|Link|Nook|Ramble|Range|Ridgeway|"
    "Ring|Route|Spur|Tarn|Towers|Waters|Yard"
)
_STREET_WORD_FIRST = (
    "Rue|Avenue|Av\\.|Boulevard|Bd|Chemin|Allée|Place|Impasse|Quai|Route|Via|Viale|Vicolo|"
    "Piazza|Piazzale|Corso|Largo|Calle|Avenida|Avda\\.?|Paseo|Plaza|Carrer|Rua|Travessa|"
    "Praça|Estrada|Rodovia|Ulica|ul\\.|Aleja|al\\.|Strada|Str\\.|Bulevardul|Calea|Náměstí|"
    "Trg|Cesta|Plac|Osiedle|Rynek|Ctra\\.|Carretera|Trav\\.|Pça\\.|Largo"
)
_STREET_WORD_AFTER = (
    "utca|út|u\\.|tér|körút|sétány|köz|allé|vej|gade|gata|gatan|vägen|väg|veien|vegen|"
    "straße|strasse|str\\.|weg|allee|gasse|platz|straat|laan|plein|tie|katu|kuja|tee|"
    "mnt\\.|pst\\.|iela|gatvė|g\\.|cesta|ulica|ul\\.|trg|náměstí|nám\\.|třída|útja|"
    "krt\\.|rkp\\.|rakpart"
)
"""Street words written as a word of their own after the name: *Kossuth Lajos u. 62*,
*Fredbo allé 14*, *Pärnu mnt. 5*, *Brīvības iela 9*."""
_STREET_ENDINGS = (
    "straße|strasse|str\\.|gasse|weg|allee|platz|ring|damm|ufer|steig|pfad|chaussee|"
    "gatan|vägen|gata|gränd|vej|veien|vegen|gade|gate|straat|laan|plein|gracht|kade|dreef|"
    "singel|utca|út|tie|katu|kuja|polku|tori|braut|stígur|vegur|gården|vænget"
)
_CAPITALISED = r"[^\W\d_a-zß-ÿ][\w'\u2019\-]*"
_PARTICLE = r"(?:de|del|della|des|du|la|le|les|da|do|dos|das|di|von|van|der|den|y|e)"
_NAME = r"[^\W\d_][\w'\u2019\-]*\.?"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[\-/]\d{1,4}[A-Za-z]?)?"
_UNIT_WORD = r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm)"
_UNIT = rf"(?:,?[ ]+{_UNIT_WORD}\.?[ ]*#?[ ]*{_NUMBER})"
_B = r"(?<![\w\-.,])"
_MILITARY = r"(?:[ ]+[AFD]PO[ ]+A[AEP][ ]+\d{5})"
"""The US forces' post: ``FPO AE 09704`` ends *USNS Gordon*, *PSC 3248, Box 3543*."""


def _words(alternation: str) -> frozenset[str]:
    return frozenset(w.replace("\\", "").rstrip(".?").lower() for w in alternation.split("|"))


_EN_WORDS = _words(_EN_STREET_WORDS)
_FIRST_WORDS = _words(_STREET_WORD_FIRST)
_PATTERNS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        rf"{_B}{_NUMBER}(?:[ ]+{_NUMBER})?[ ]+(?:{_CAPITALISED}\.?[ ]+){{0,4}}?"
        rf"(?:{_EN_STREET_WORDS})\b\.?"
        rf"{_UNIT}?",
        _EN_WORDS,
    ),
    (
        rf"{_B}(?:{_NUMBER}[ ]+){{0,2}}(?i:{_STREET_WORD_FIRST})[ ]+(?:{_NAME}[ ]+){{0,5}}?"
        rf"{_NUMBER}\b{_UNIT}?",
        _FIRST_WORDS,
    ),
    (
        rf"{_B}{_NUMBER},?[ ]+(?i:{_STREET_WORD_FIRST})[ ]+(?:{_PARTICLE}[ ]+){{0,2}}"
        rf"{_CAPITALISED}(?:[ ]+(?:{_PARTICLE}[ ]+)?{_CAPITALISED}){{0,2}}{_UNIT}?",
        _FIRST_WORDS,
    ),
    (
        rf"{_B}(?:P\.?[ ]?O\.?[ ]?Box|(?:PSC|Unit|CMR)[ ]+\d+,?[ ]+Box)[ ]+\d+{_MILITARY}?",
        frozenset({"box"}),
    ),
    (
        rf"{_B}(?:USNS|USNV|USS|USCGC|USAS)(?:[ ]+{_CAPITALISED}){{1,3}}?{_MILITARY}",
        frozenset({"fpo", "apo", "dpo"}),
    ),
    (
        rf"{_B}(?:{_CAPITALISED}[ ]+){{1,2}}(?i:{_STREET_WORD_AFTER})[ ]+{_NUMBER}\b\.?{_UNIT}?",
        _words(_STREET_WORD_AFTER),
    ),
    (  # an intersection: "the corner of Harjukuja 54 and Rodrigues Path"
        rf"(?i:\b(?:the[ ]+)?corner[ ]+of)[ ]+(?:[\w'\u2019.\-]+[ ]+){{1,6}}?and[ ]+"
        rf"{_CAPITALISED}(?:[ ]+(?:{_PARTICLE}[ ]+)?{_CAPITALISED}){{0,3}}",
        frozenset({"corner"}),
    ),
    (
        rf"{_B}(?:Apt|Apartment|Suite|Unit)\.?[ ]*#?[ ]*\d+[A-Za-z]?\b",
        frozenset({"apt", "apartment", "suite", "unit"}),
    ),
)
"""Each pattern with the words (lower case) one of which a text must hold for it to
be tried: most texts hold none, and a pattern not tried costs nothing."""
_ADDRESS = tuple((re.compile(pattern), triggers) for pattern, triggers in _PATTERNS)
# "Floridusgasse 89": a word and a number, the word's ending checked apart (one
# alternation of endings tried at every letter would cost most of a scan).
_WORD_AND_NUMBER = re.compile(
    rf"{_B}(?:{_CAPITALISED}[ ]+)?(?P<word>[^\W\d_][\w\-]{{2,}}\.?)[ ]+{_NUMBER}\b{_UNIT}?"
)
# "35484 Aeropuerto 4037", "609 Dalmatinova 43": a building number, a street name
# without a street word, and a house number; not a date ("12 March 2024").
_NUMBER_NAME_NUMBER = re.compile(
    rf"{_B}\d{{1,5}}[ ]+(?P<name>(?:{_CAPITALISED}\.?[ ]+){{1,3}}?){_NUMBER}\b(?![\-/.]?\d)"
    rf"{_UNIT}?"
)
_NOT_STREETS = frozenset(
    """
    jan feb mar apr jun jul aug sep sept oct nov dec january february march april may june
    july august september october november december mon tue wed thu fri sat sun monday
    tuesday wednesday thursday friday saturday sunday am pm gb mb kb tb usd eur gbp chf
    """.split()  # noqa: SIM905 - a word list, kept readable
)
# The city, region, country and postcode after an address on its line: "Apt. 446,
# NANTERRE, France", "Suite 633  MYNÄMÄKI  Finland 86285": up to four capitalised
# names, then one postcode of digits, joined by a comma or one or two spaces.
_PLACE_WORD = r"[^\W\d_a-zß-ÿ][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*"
_PLACE_PART = rf"(?:{_PLACE_WORD}(?:[ \-](?:{_PARTICLE}[ ])?{_PLACE_WORD}){{0,2}})"
_SEPARATOR = r"(?:[ ]?,[ ]{0,2}|[ ]{1,2})"
_TRAILER = re.compile(
    rf"(?:{_SEPARATOR}(?!{_UNIT_WORD}\b){_PLACE_PART}(?![\w\-])){{0,4}}"
    rf"(?:{_SEPARATOR}(?:\d{{4,6}}|\d{{4}}-\d{{3}})(?![\w\-]))?"
)
"""Names, then one postcode: a phone number after an address is not taken for more
postcodes."""
_US_STATE_AND_ZIP = re.compile(r"\b[A-Z]{2},?[ ]{1,2}\d{5}$")
_WORD = re.compile(r"[^\W\d_]+")
_ENDINGS = tuple(ending.replace("\\", "") for ending in _STREET_ENDINGS.split("|"))
_DIGIT = re.compile(r"\d")
_EXPLANATION = "a house number with a street name and a street word"


def find_street_addresses(text: str) -> list[Finding]:
    """Street addresses in ``text`` (see the module docstring): overlapping or
    adjacent matches are joined into one."""
    if _DIGIT.search(text) is None:
        return []
    words = set(_WORD.findall(text.lower()))
    found = [
        m.span()
        for pattern, triggers in _ADDRESS
        if not words.isdisjoint(triggers)
        for m in pattern.finditer(text)
    ]
    for m in _WORD_AND_NUMBER.finditer(text):
        word = m.group("word").lower()
        if word.endswith(_ENDINGS) and len(word) > 3 + min(
            len(e) for e in _ENDINGS if word.endswith(e)
        ):
            found.append(m.span())
    for m in _NUMBER_NAME_NUMBER.finditer(text):
        if _NOT_STREETS.isdisjoint(w.rstrip(".").lower() for w in m.group("name").split()):
            found.append(m.span())
    spans = sorted(
        ((start, _extended(text, end)) for start, end in found),
        key=lambda span: (span[0], -span[1]),
    )
    joined: list[list[int]] = []
    for start, end in spans:
        if joined and start <= joined[-1][1] + 2 and not text[joined[-1][1] : start].strip(", "):
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [
        Finding(start, end, "LOCATION", 0.8, "street_address", _EXPLANATION)
        for start, end in joined
    ]


def _extended(text: str, end: int) -> int:
    """The end of an address found ending at ``end``, with the city, region, country
    and postcode that follow it on its line."""
    trailer = _TRAILER.match(text, end)  # always matches: every part is optional
    assert trailer is not None
    stop = trailer.end()
    if _US_STATE_AND_ZIP.search(text, end, stop) is not None:
        # "Austin, TX 78701": the ZIP is left to the US_ZIP finder, so that a policy
        # can treat it apart (keep its first three digits, say)
        stop -= 5
        while text[stop - 1] == " ":
            stop -= 1
    return stop
