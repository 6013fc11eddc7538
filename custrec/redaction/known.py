"""A record's own values (name, email, phone, address) found in its free text
whatever their case, spacing, punctuation or phone format
(:class:`KnownValues`, used by :mod:`custrec.redaction.detect`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from custrec.redaction.context import APOSTROPHES, DASHES
from custrec.redaction.findings import ENTITY_TYPES, TYPE_ORDER, Finding
from custrec.redaction.numbers import parse_date
from custrec.redaction.patterns import DATE, NON_DIGIT

_TOKEN = re.compile(r"\w+")
_GAP_CHARS = frozenset(" \t\r\n\u00a0\u2009\u202f-.,/" + DASHES + APOSTROPHES)
_MAX_GAP = 3
_DIGIT_RUN = re.compile(r"\d(?:(?:[ \-./]|[ ]?[()][ ]?){0,2}\d)*")
_LOCATION_SPLIT = re.compile(r"[,;\n]+")
_NAME_SPLIT = re.compile(rf"[\s\-{DASHES}]+")


@lru_cache(maxsize=65536)
def _fold(token: str) -> str:
    """``token`` in lower case without accents (for comparisons only)."""
    low = token.lower()
    if low.isascii():
        return low
    # the modifier letter apostrophe counts as a letter in words: drop it like "'"
    decomposed = unicodedata.normalize("NFKD", low.replace("\u02bc", ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _key(value: str) -> str:
    return "".join(_fold(t) for t in _TOKEN.findall(value))


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _gap_ok(gap: str) -> bool:
    if len(gap) > _MAX_GAP:
        return False
    return all(c in _GAP_CHARS or unicodedata.combining(c) for c in gap)


class _KnownPhone(NamedTuple):
    nsn: str
    prefixes: tuple[str, ...]  # longest first; "" last
    number: tuple[int, int] | None  # (country code, national number) when it parsed


class KnownValues:
    """A record's own values, to be found in its free text.

    ``values`` maps an entity type (one of :data:`ENTITY_TYPES`) to the record's values
    of that type; ``region`` is the default region for reading phone numbers written
    without a country code. ``PERSON`` values are also matched part by part (each part
    of two or more characters, as a whole word); ``LOCATION`` values also by their
    comma-separated components.
    """

    def __init__(self, values: Mapping[str, Iterable[str]], region: str | None = None) -> None:
        self.region = region
        self._keys: dict[str, str] = {}
        self._emails: list[str] = []
        self._phones: list[_KnownPhone] = []
        self._dates: set[date] = set()
        self.types: frozenset[str] = frozenset()
        types = set()
        for etype in sorted(values, key=lambda t: TYPE_ORDER.get(t, len(TYPE_ORDER))):
            if etype not in TYPE_ORDER:
                raise ValueError(f"unknown entity type {etype!r}; expected one of {ENTITY_TYPES}")
            given = values[etype]
            for value in [given] if isinstance(given, str) else given:
                if not isinstance(value, str) or not value.strip():
                    continue
                types.add(etype)
                self._add(etype, value.strip())
        self.types = frozenset(types)
        self._phone_numbers = frozenset(p.number for p in self._phones if p.number is not None)
        self._prefixes = frozenset(key[:i] for key in self._keys for i in range(1, len(key) + 1))

    def _add_key(self, key: str, etype: str, minimum: int = 2) -> None:
        if len(key) >= minimum and key not in self._keys:
            self._keys[key] = etype

    def _add(self, etype: str, value: str) -> None:
        if etype == "EMAIL_ADDRESS":
            email = _lower_same_length(value)
            if email not in self._emails:
                self._emails.append(email)
            return
        if etype == "PHONE_NUMBER":
            phone = _known_phone(value, self.region)
            if phone is not None and phone not in self._phones:
                self._phones.append(phone)
            return
        if etype == "DATE_OF_BIRTH":
            for m in DATE.finditer(value):
                self._dates.update(parse_date(m))
        if etype == "PERSON":
            self._add_key(_key(value), etype)
            # each part, and each run of consecutive parts ("García López" of
            # "José García López")
            parts = [k for k in (_key(p) for p in _NAME_SPLIT.split(value)) if k]
            for i in range(len(parts)):
                for j in range(i + 1, min(len(parts), i + 6) + 1):
                    self._add_key("".join(parts[i:j]), etype)
            return
        if etype == "LOCATION":
            self._add_key(_key(value), etype)
            for part in _LOCATION_SPLIT.split(value):
                key = _key(part)
                if key.isdigit() and len(key) < 4:
                    continue  # a house number alone is not the address
                self._add_key(key, etype)
            return
        self._add_key(_key(value), etype)

    def find(self, text: str, types: frozenset[str] | None = None) -> list[Finding]:
        """The record's values found in ``text`` (rule ``known_value``, score 1.0)."""
        out: list[Finding] = []
        wanted = self.types if types is None else self.types & types
        if not wanted or not text:
            return out
        if "EMAIL_ADDRESS" in wanted and self._emails and "@" in text:
            self._find_emails(text, out)
        if "PHONE_NUMBER" in wanted and self._phones:
            self._find_phones(text, out)
        if "DATE_OF_BIRTH" in wanted and self._dates:
            for m in DATE.finditer(text):
                if self._dates.intersection(parse_date(m)):
                    out.append(
                        Finding(
                            m.start(), m.end(), "DATE_OF_BIRTH", 1.0, "known_value",
                            "the same date as the record's DATE_OF_BIRTH value",
                        )
                    )  # fmt: skip
        if self._keys:
            self._find_keys(text, out, wanted)
        return out

    def _find_emails(self, text: str, out: list[Finding]) -> None:
        low = _lower_same_length(text)
        for email in self._emails:
            i = low.find(email)
            while i >= 0:
                end = i + len(email)
                before = low[i - 1] if i > 0 else " "
                after = low[end] if end < len(low) else " "
                if not (before.isalnum() or before in "._%+-") and not (
                    after.isalnum() or after in "_-"
                ):
                    out.append(
                        Finding(
                            i, end, "EMAIL_ADDRESS", 1.0, "known_value",
                            "the record's EMAIL_ADDRESS value (case ignored)",
                        )
                    )  # fmt: skip
                i = low.find(email, i + 1)

    def _find_phones(self, text: str, out: list[Finding]) -> None:
        for run in _DIGIT_RUN.finditer(text):
            raw = run.group()
            base = run.start()
            positions = [base + i for i, c in enumerate(raw) if c.isdigit()]
            digits = "".join(text[p] for p in positions)
            found_here = False
            for phone in self._phones:
                nsn = phone.nsn
                i = digits.find(nsn)
                while i >= 0:
                    last = i + len(nsn) - 1
                    glued_after = (
                        last + 1 < len(digits) and positions[last + 1] == positions[last] + 1
                    )
                    if not glued_after:
                        span = _phone_prefix(text, digits, positions, i, phone.prefixes)
                        if span is not None:
                            found_here = True
                            out.append(
                                Finding(
                                    span, positions[last] + 1, "PHONE_NUMBER", 1.0,
                                    "known_value",
                                    "the same number as the record's PHONE_NUMBER value",
                                )
                            )  # fmt: skip
                    i = digits.find(nsn, i + 1)
            if not found_here and len(digits) >= 6 and self._phone_numbers:
                self._parse_run(text, run.start(), run.end(), out)

    def _parse_run(self, text: str, start: int, end: int, out: list[Finding]) -> None:
        """A run of digits read as one phone number of the record's region: national
        formats that do not hold the national number as it is ("011 15-2345-6789" in
        Argentina) are found so."""
        import phonenumbers

        if start > 0 and text[start - 1] == "+":
            start -= 1
        try:
            number = phonenumbers.parse(text[start:end], self.region)
        except phonenumbers.NumberParseException:
            return
        if (number.country_code, number.national_number) in self._phone_numbers:
            out.append(
                Finding(
                    start, end, "PHONE_NUMBER", 1.0, "known_value",
                    "the same number as the record's PHONE_NUMBER value (read as a whole)",
                )
            )  # fmt: skip

    def _find_keys(self, text: str, out: list[Finding], wanted: frozenset[str]) -> None:
        tokens = [(m.start(), m.end(), _fold(m.group())) for m in _TOKEN.finditer(text)]
        keys = self._keys
        prefixes = self._prefixes
        n = len(tokens)
        for i in range(n):
            acc = tokens[i][2]
            if acc not in prefixes:
                continue
            best: tuple[int, str] | None = None
            j = i
            while True:
                etype = keys.get(acc)
                if etype is not None:
                    best = (j, etype)
                j += 1
                if j >= n or not _gap_ok(text[tokens[j - 1][1] : tokens[j][0]]):
                    break
                acc += tokens[j][2]
                if acc not in prefixes:
                    break
            if best is not None and best[1] in wanted:
                out.append(
                    Finding(
                        tokens[i][0], tokens[best[0]][1], best[1], 1.0, "known_value",
                        f"the record's {best[1]} value (case, accents and spacing ignored)",
                    )
                )  # fmt: skip


def _phone_prefix(
    text: str, digits: str, positions: list[int], i: int, prefixes: tuple[str, ...]
) -> int | None:
    """Start offset of a known number whose national digits begin at digit ``i``: the
    longest allowed prefix (country code, trunk prefix, ...) written just before them,
    with a leading ``+`` or ``(`` included; None when digits are glued to it."""
    for prefix in prefixes:
        k = i - len(prefix)
        if k < 0 or digits[k:i] != prefix:
            continue
        if k > 0 and positions[k - 1] == positions[k] - 1:
            continue  # more digits directly before: another number
        start = positions[k]
        if start > 0 and text[start - 1] == "+":
            start -= 1
        if start > 0 and text[start - 1] == "(":
            start -= 1
        return start
    return None


_KNOWN_PHONE_DIGITS = 6
"""The fewest digits of a record's phone value looked for in its text: no numbering
plan has shorter subscriber numbers, and a masked number keeps only 4."""


def _known_phone(value: str, region: str | None) -> _KnownPhone | None:
    import phonenumbers  # slow to import: only when a record has phone numbers

    digits = NON_DIGIT.sub("", value)
    if len(digits) < _KNOWN_PHONE_DIGITS:
        return None  # not a phone number (e.g. a masked one): nothing to look for
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.national_number:
        nsn = phonenumbers.national_significant_number(number)
        cc = str(number.country_code)
        prefixes = {"", "0", cc, cc + "0", "00" + cc, "00" + cc + "0", "011" + cc, "+" + cc}
        own = phonenumbers.region_code_for_number(number) or region
        if own:
            ndd = phonenumbers.ndd_prefix_for_region(own, True)
            if ndd:
                prefixes.add(ndd)
        prefixes = {p for p in prefixes if p.isdigit() or p == ""}
        return _KnownPhone(
            nsn,
            tuple(sorted(prefixes, key=lambda p: (-len(p), p))),
            (number.country_code or 0, number.national_number),
        )
    if len(digits) < 4:
        return None
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    return _KnownPhone(digits, ("0", "00", ""), None)
