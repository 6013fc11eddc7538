"""National identifiers of our users' countries in free text.

Each identifier has a candidate pattern (ours: where such a number starts and ends in
a text, how it is grouped, which words announce it) and a validator from
`python-stdnum <https://arthurdejong.org/python-stdnum/>`_, which knows the formats
and check digits of 200+ number kinds; no check digit is written by hand here.

A candidate counts when its validator accepts it, and:

- a **written form that is its own** (letters where the kind has letters, its usual
  grouping: ``X1234567L``, ``RSSMRA85T10A562S``, ``390.533.447-05``,
  ``880320-0016``, ``2 95 10 99 126 111 93``) is enough (score 0.85, 0.95 with a
  context word);
- a **bare run of digits** (``44051401359``) could be a phone, an order or an account
  number that happens to pass a check digit: it counts only next to a word naming
  its kind (``PESEL``, ``BSN``, ``Steuer-ID``, ``Aadhaar``, ``CPF``...; score 0.95);
- a kind with **no check digits** (a US driver's licence) counts only right after the
  words naming it, nothing but *number*, *is*, ``:`` or ``#`` between (score 0.85).

Types are named as Presidio names them where it has them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["NATIONAL_ID_TYPES", "find_national_ids"]


class _Kind(NamedTuple):
    type: str
    what: str
    validator: str  # the stdnum module whose is_valid() decides; "" when no check digits exist
    distinct: re.Pattern[str]  # its own written form: enough alone
    bare: re.Pattern[str] | None  # digits only: counts next to a context word
    context: re.Pattern[str]


_WORD = re.compile(r"[^\W\d_]+")
_FIRST_WORDS: dict[re.Pattern[str], set[str]] = {}
"""The first word of each context phrase (lower case), by context pattern: a text
without any of them is not searched for the pattern."""


def _words(*words: str) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"[\s\-]?") for w in words)
    pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
    _FIRST_WORDS[pattern] = {_WORD.findall(w)[0].lower() for w in words}
    return pattern


_B = r"(?<![\w\-./])"  # not inside a longer word or number
_E = r"(?![\w\-]|[./]\w)"

_KINDS: tuple[_Kind, ...] = (
    _Kind(
        "US_ITIN",
        "US individual taxpayer identification number",
        "stdnum.us.itin",
        re.compile(rf"{_B}9\d\d-\d\d-\d{{4}}{_E}"),
        re.compile(rf"{_B}9\d{{8}}{_E}"),
        _words("ITIN", "taxpayer identification", "tax id", "TIN"),
    ),
    _Kind(
        "ES_NIF",
        "Spanish DNI/NIF",
        "stdnum.es.dni",
        re.compile(rf"{_B}\d{{8}}-?[A-Z]{_E}"),
        None,
        _words("DNI", "NIF", "documento nacional", "identificación fiscal"),
    ),
    _Kind(
        "ES_NIE",
        "Spanish NIE",
        "stdnum.es.nie",
        re.compile(rf"{_B}[XYZ]-?\d{{7}}-?[A-Z]{_E}"),
        None,
        _words("NIE", "extranjero"),
    ),
    _Kind(
        "IT_FISCAL_CODE",
        "Italian codice fiscale",
        "stdnum.it.codicefiscale",
        re.compile(
            rf"{_B}[A-Za-z]{{6}}[0-9LMNPQRSTUVlmnpqrstuv]{{2}}[A-EHLMPRSTa-ehlmprst]"
            rf"[0-9LMNPQRSTUVlmnpqrstuv]{{2}}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{{3}}[A-Za-z]{_E}"
        ),
        None,
        _words("codice fiscale", "CF", "fiscal code", "tax code"),
    ),
    _Kind(
        "FR_NIR",
        "French NIR (social security number)",
        "stdnum.fr.nir",
        re.compile(rf"{_B}[12] \d\d \d\d (?:\d\d|2[AB]) \d{{3}} \d{{3}} \d\d{_E}"),
        re.compile(rf"{_B}[12]\d{{4}}(?:\d\d|2[AB])\d{{8}}{_E}"),
        _words("NIR", "sécurité sociale", "securite sociale", "numéro de sécu", "INSEE"),
    ),
    _Kind(
        "DE_TAX_ID",
        "German tax identification number (Steuer-ID)",
        "stdnum.de.idnr",
        re.compile(rf"{_B}\d\d \d{{3}} \d{{3}} \d{{3}}{_E}"),
        re.compile(rf"{_B}\d{{11}}{_E}"),
        _words(
            "Steuer-ID",
            "Steuer-IdNr",
            "IdNr",
            "Steueridentifikationsnummer",
            "Steuer-Identifikationsnummer",
            "steuerliche Identifikationsnummer",
        ),
    ),
    _Kind(
        "NL_BSN",
        "Dutch citizen service number (BSN)",
        "stdnum.nl.bsn",
        re.compile(rf"{_B}\d{{4}}\.\d\d\.\d{{3}}{_E}"),
        re.compile(rf"{_B}\d{{9}}{_E}"),
        _words("BSN", "burgerservicenummer", "sofinummer", "sofi-nummer"),
    ),
    _Kind(
        "SE_PERSONNUMMER",
        "Swedish personal identity number",
        "stdnum.se.personnummer",
        re.compile(rf"{_B}(?:19|20)?\d{{6}}[\-+]\d{{4}}{_E}"),
        re.compile(rf"{_B}(?:19|20)?\d{{10}}{_E}"),
        _words("personnummer", "personnr", "pnr", "personal identity number"),
    ),
    _Kind(
        "PL_PESEL",
        "Polish PESEL",
        "stdnum.pl.pesel",
        re.compile("(?!)"),
        re.compile(rf"{_B}\d{{11}}{_E}"),
        _words("PESEL"),
    ),
    _Kind(
        "IN_AADHAAR",
        "Indian Aadhaar number",
        "stdnum.in_.aadhaar",
        re.compile("(?!)"),
        re.compile(rf"{_B}[2-9]\d{{3}}[ \-]?\d{{4}}[ \-]?\d{{4}}{_E}"),
        _words("Aadhaar", "Aadhar", "UIDAI", "UID"),
    ),
    _Kind(
        "IN_PAN",
        "Indian permanent account number (PAN)",
        "stdnum.in_.pan",
        re.compile("(?!)"),  # a product code has the same shape: only with a context word
        re.compile(rf"{_B}[A-Z]{{3}}[ABCFGHLJPT][A-Z]\d{{4}}[A-Z]{_E}"),
        _words("PAN", "permanent account number", "income tax"),
    ),
    _Kind(
        "BR_CPF",
        "Brazilian CPF",
        "stdnum.br.cpf",
        re.compile(rf"{_B}\d{{3}}\.\d{{3}}\.\d{{3}}-\d\d{_E}"),
        re.compile(rf"{_B}\d{{11}}{_E}"),
        _words("CPF", "cadastro de pessoas"),
    ),
    # Licence numbers have no check digits and a format per US state: a run of digits
    # (a few letters around them allowed) counts only right after words naming it.
    _Kind(
        "US_DRIVER_LICENSE",
        "driver's licence number",
        "",
        re.compile("(?!)"),
        re.compile(rf"{_B}[A-Z]{{0,3}}\d{{4,14}}[A-Z]{{0,2}}{_E}"),
        _words(
            "driver's license",
            "driver\u2019s license",
            "drivers license",
            "driver license",
            "driver's licence",
            "driving licence",
            "driving license",
            "DL",
            "DL#",
        ),
    ),
)


NATIONAL_ID_TYPES: tuple[str, ...] = tuple(dict.fromkeys(kind.type for kind in _KINDS))
# One pass over a text tells which kinds may be in it: any kind's own written form, and
# the context words present (by kind). Most texts hold neither.
# (A looser pattern than the kinds': without the boundary checks, which cost most.)
_ANY_DISTINCT = re.compile(
    "|".join(f"(?:{kind.distinct.pattern.removeprefix(_B).removesuffix(_E)})" for kind in _KINDS)
)
_KINDS_BY_WORD: dict[str, set[int]] = {}
for _number, _kind in enumerate(_KINDS):
    for _first in _FIRST_WORDS[_kind.context]:
        _KINDS_BY_WORD.setdefault(_first, set()).add(_number)
_ANY_SIGN = re.compile(r"\d")
_CONTEXT_BEFORE = 40
_CONTEXT_AFTER = 20


def _validator(module: str) -> Callable[[str], bool]:
    if not module:  # no check digits: the context word decides alone
        return lambda _: True
    found: Callable[[str], bool] = importlib.import_module(module).is_valid
    return found


def _near(kind: _Kind, text: str, start: int, end: int) -> str | None:
    """The context word naming ``kind`` shortly before or after the candidate, on its
    line."""
    lo = max(0, start - _CONTEXT_BEFORE)
    line_start = text.rfind("\n", lo, start)
    before = kind.context.search(text, line_start + 1 if line_start >= 0 else lo, start)
    if before is not None:
        return before.group()
    line_end = text.find("\n", end, end + _CONTEXT_AFTER)
    after = kind.context.search(text, end, line_end if line_end >= 0 else end + _CONTEXT_AFTER)
    return after.group() if after is not None else None


_LINKING = re.compile(
    r"(?:[\s:#.\-]|(?<![^\W_])(?:number|num|no|is|was|reads)(?![^\W_]))*", re.IGNORECASE
)


def _named_right_before(kind: _Kind, text: str, start: int) -> bool:
    """Whether the words naming ``kind`` come right before ``start``, with only
    linking words between ("driver's license number is 736250914")."""
    line_start = text.rfind("\n", max(0, start - _CONTEXT_BEFORE), start) + 1
    lo = max(line_start, start - _CONTEXT_BEFORE)
    return any(
        _LINKING.fullmatch(text, m.end(), start) is not None
        for m in kind.context.finditer(text, lo, start)
    )


class Candidate(NamedTuple):
    start: int
    end: int
    type: str
    score: float
    explanation: str


def find_national_ids(text: str, types: frozenset[str]) -> list[Candidate]:
    """National identifiers of ``types`` in ``text`` (see the module docstring)."""
    out: list[Candidate] = []
    if _ANY_SIGN.search(text) is None:
        return out
    own_form = _ANY_DISTINCT.search(text) is not None
    words = set(_WORD.findall(text.lower()))
    maybe = {n for word in words for n in _KINDS_BY_WORD.get(word, ())}
    named = {n for n in maybe if _KINDS[n].context.search(text) is not None}
    for number, kind in enumerate(_KINDS):
        if kind.type not in types or not (own_form or number in named):
            continue
        valid = None
        for pattern, wanted in ((kind.distinct, own_form), (kind.bare, number in named)):
            if pattern is None or not wanted:
                continue  # bare digits count only next to a word naming them
            for match in pattern.finditer(text):
                start, end = match.span()
                word = _near(kind, text, start, end) if number in named else None
                if pattern is kind.bare and word is None:
                    continue
                if not kind.validator and not _named_right_before(kind, text, start):
                    continue  # no check digits: only the number the words introduce
                valid = valid or _validator(kind.validator)
                if not valid(match.group()):
                    continue
                note = f"; context word {word!r}" if word else ""
                checked = (
                    "format and check digits valid (python-stdnum)"
                    if kind.validator
                    else "no check digits; named by the text"
                )
                score = 0.95 if word and kind.validator else 0.85
                out.append(Candidate(start, end, kind.type, score, f"{kind.what}: {checked}{note}"))
    return out
