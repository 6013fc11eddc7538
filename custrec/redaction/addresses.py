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
    "Praça|Estrada|Rodovia|Ulica|ul\\.|Aleja|al\\.|Strada|Str\\.|Bulevardul|Calea|Náměstí"
)
_STREET_ENDINGS = (
    "straße|strasse|str\\.|gasse|weg|allee|platz|ring|damm|ufer|steig|pfad|chaussee|"
    "gatan|vägen|gata|gränd|vej|veien|vegen|gade|gate|straat|laan|plein|gracht|kade|dreef|"
    "singel|utca|út|tie|katu|kuja|polku|tori"
)
_CAPITALISED = r"[^\W\d_a-zß-ÿ][\w'\u2019\-]*"
_PARTICLE = r"(?:de|del|della|des|du|la|le|les|da|do|dos|das|di|von|van|der|den|y|e)"
_NAME = r"[^\W\d_][\w'\u2019\-]*\.?"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[\-/]\d{1,4}[A-Za-z]?)?"
_UNIT = rf"(?:,?[ ]+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm)\.?[ ]*#?[ ]*{_NUMBER})"
_B = r"(?<![\w\-.,])"
_PATTERNS = (
    rf"{_B}{_NUMBER}(?:[ ]+{_NUMBER})?[ ]+(?:{_CAPITALISED}\.?[ ]+){{0,4}}?"
    rf"(?:{_EN_STREET_WORDS})\b\.?"
    rf"{_UNIT}?",
    rf"{_B}(?:{_NUMBER}[ ]+)?(?i:{_STREET_WORD_FIRST})[ ]+(?:{_NAME}[ ]+){{0,5}}?{_NUMBER}\b"
    rf"{_UNIT}?",
    rf"{_B}{_NUMBER},?[ ]+(?i:{_STREET_WORD_FIRST})[ ]+(?:{_PARTICLE}[ ]+){{0,2}}{_CAPITALISED}"
    rf"(?:[ ]+(?:{_PARTICLE}[ ]+)?{_CAPITALISED}){{0,2}}{_UNIT}?",
    rf"{_B}(?:P\.?[ ]?O\.?[ ]?Box|PSC[ ]+\d+,[ ]+Box)[ ]+\d+",
    rf"{_B}(?:Apt|Apartment|Suite|Unit)\.?[ ]*#?[ ]*\d+[A-Za-z]?\b",
)
_ADDRESS = tuple(re.compile(pattern) for pattern in _PATTERNS)
# "Floridusgasse 89": a word and a number, the word's ending checked apart (one
# alternation of endings tried at every letter would cost most of a scan).
_WORD_AND_NUMBER = re.compile(
    rf"{_B}(?:{_CAPITALISED}[ ]+)?(?P<word>[^\W\d_][\w\-]{{2,}})[ ]+{_NUMBER}\b{_UNIT}?"
)
_STREET_WORD_FIRST_PATTERNS = (1, 2)
"""The patterns that start from a street word (Rue, Via, ...): tried only on a text
holding one of those words."""
_WORD = re.compile(r"[^\W\d_]+")
_FIRST_WORDS = frozenset(
    word.replace("\\", "").rstrip(".?").lower() for word in _STREET_WORD_FIRST.split("|")
)
_ENDINGS = tuple(ending.replace("\\", "") for ending in _STREET_ENDINGS.split("|"))
_DIGIT = re.compile(r"\d")
_EXPLANATION = "a house number with a street name and a street word"


def find_street_addresses(text: str) -> list[Finding]:
    """Street addresses in ``text`` (see the module docstring): overlapping or
    adjacent matches are joined into one."""
    if _DIGIT.search(text) is None:
        return []
    words = set(_WORD.findall(text.lower()))
    romance = not words.isdisjoint(_FIRST_WORDS)
    found = [
        m.span()
        for n, pattern in enumerate(_ADDRESS)
        if romance or n not in _STREET_WORD_FIRST_PATTERNS
        for m in pattern.finditer(text)
    ]
    for m in _WORD_AND_NUMBER.finditer(text):
        word = m.group("word").lower()
        if word.endswith(_ENDINGS) and len(word) > 3 + min(
            len(e) for e in _ENDINGS if word.endswith(e)
        ):
            found.append(m.span())
    spans = sorted(found, key=lambda span: (span[0], -span[1]))
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
