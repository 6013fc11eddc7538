"""Find personal data in short free texts (customer-service notes, transcripts).

:class:`Detector` scans a text with pattern detectors that each validate what they
match, and returns :class:`Finding` objects (Python ``str`` offsets, a type named as
Presidio names it, a score in 0..1, the rule and a readable explanation):

- ``EMAIL_ADDRESS``: local part, ``@``, a dotted domain with an alphabetic top-level
  label (also inside URLs and ``mailto:`` links);
- ``PHONE_NUMBER``: runs of digits read by ``phonenumbers.PhoneNumberMatcher``
  (``Leniency.VALID``) for a list of regions; dates, IP addresses, IBANs, card-length
  runs, prices and numbers next to words such as "order", "invoice" or "ref" are not
  phone numbers;
- ``CREDIT_CARD``: 12-19 digits in an issuer range of the right length, Luhn valid,
  not written as an international phone number (after a ``+`` or a calling code);
- ``IBAN_CODE``: a country's IBAN length and ``mod 97 == 1``;
- ``US_SSN``: ``AAA-GG-SSSS`` without the never-issued ranges (spaces or no
  separator only next to a context word);
- ``UK_NINO``: HMRC prefix letters, six digits, suffix A-D;
- ``IP_ADDRESS``: IPv4 (not inside a longer dotted run) and IPv6 (``ipaddress``);
- ``DATE_OF_BIRTH``: a date next to "born", "DOB", "date of birth", ...;
- ``UK_POSTCODE`` and ``US_ZIP``: only next to address words (or, for a ZIP code, a
  state abbreviation just before it).

Context words count only as whole words ("lic" is not found in "public"). A record's
own values (:class:`KnownValues`) are found in its text whatever their case, spacing or
written format (rule ``known_value``, score 1.0); ``PERSON`` and ``LOCATION`` findings
come only from them.

Overlapping findings are resolved deterministically: the longer span wins, then the
higher score, then the earlier start, then the type name.

The module imports only the standard library when it is loaded; ``phonenumbers`` is
imported the first time a phone number has to be read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from custrec.redaction.addresses import find_street_addresses
from custrec.redaction.findings import DEFAULT_REGIONS, ENTITY_TYPES, TYPE_ORDER, Finding, resolve
from custrec.redaction.known import KnownValues
from custrec.redaction.names import find_person_names
from custrec.redaction.national_ids import NATIONAL_ID_TYPES, find_national_ids
from custrec.redaction.numbers import (
    card_issuer,
    find_cards,
    find_dobs,
    find_emails,
    find_iban,
    find_ipv4,
    find_ipv6,
    find_ninos,
    find_postcodes,
    find_ssns,
    find_zips,
)
from custrec.redaction.patterns import (
    ESCAPED_SEPARATOR,
    NON_DIGIT,
    NUM_RUN,
    PHONE_MIN_DIGITS,
    iban_valid,
    luhn_valid,
)
from custrec.redaction.phones import find_phones_in_run

__all__ = [
    "DEFAULT_REGIONS",
    "ENTITY_TYPES",
    "Detector",
    "Finding",
    "KnownValues",
    "card_issuer",
    "iban_valid",
    "luhn_valid",
]


class Detector:
    """Scan short texts for personal data.

    ``types`` limits the entity types reported (default: all of :data:`ENTITY_TYPES`);
    ``regions`` are the regions whose national phone formats are read; only findings
    scoring at least ``threshold`` are reported. ``entities``, a named-entity finder
    such as :class:`custrec.redaction.ner.SpacyEntities`, adds the names and places it
    finds to custrec's own.
    """

    def __init__(
        self,
        *,
        types: Iterable[str] | None = None,
        regions: Sequence[str] = DEFAULT_REGIONS,
        threshold: float = 0.5,
        entities: Callable[[str], list[Finding]] | None = None,
    ) -> None:
        chosen = ENTITY_TYPES if types is None else tuple(types)
        unknown = [t for t in chosen if t not in TYPE_ORDER]
        if unknown:
            raise ValueError(f"unknown entity types {unknown}; expected some of {ENTITY_TYPES}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, not {threshold}")
        if isinstance(regions, str):
            raise TypeError("regions must be a sequence of region codes, not one string")
        self.types: frozenset[str] = frozenset(chosen)
        self.regions: tuple[str, ...] = tuple(r.upper() for r in regions)
        self.threshold = float(threshold)
        t = self.types
        self._email = "EMAIL_ADDRESS" in t
        self._phone = "PHONE_NUMBER" in t
        self._card = "CREDIT_CARD" in t
        self._iban = "IBAN_CODE" in t
        self._ssn = "US_SSN" in t
        self._nino = "UK_NINO" in t
        self._ipv4 = self._ipv6 = "IP_ADDRESS" in t
        self._dob = "DATE_OF_BIRTH" in t
        self._postcode = "UK_POSTCODE" in t
        self._zip = "US_ZIP" in t
        self._national = not self.types.isdisjoint(NATIONAL_ID_TYPES)
        self._names = "PERSON" in t
        self._addresses = "LOCATION" in t
        self._entities = entities if (self._names or self._addresses) else None
        self._runs = any(
            (self._phone, self._card, self._iban, self._ssn, self._nino, self._ipv4,
             self._postcode, self._zip)
        )  # fmt: skip

    def find(self, text: str, known: KnownValues | None = None) -> list[Finding]:
        """Findings in ``text``: sorted by start, non-overlapping, of the detector's
        types, each scoring at least the threshold."""
        found: list[Finding] = []
        if "\\" in text:
            # Escaped exports write a line break as the two characters "\n": read them
            # as the separators they stand for (two spaces keep every offset).
            text = ESCAPED_SEPARATOR.sub("  ", text)
        if text:
            if self._email and "@" in text:
                find_emails(text, found)
            if self._ipv6 and ("::" in text or text.count(":") >= 6):
                find_ipv6(text, found)
            if self._dob:
                find_dobs(text, found)
            if self._runs:
                self._find_in_runs(text, found)
            if self._national:
                found.extend(
                    Finding(c.start, c.end, c.type, c.score, "national_id", c.explanation)
                    for c in find_national_ids(text, self.types)
                )
            if self._names:
                found.extend(find_person_names(text))
            if self._addresses:
                found.extend(find_street_addresses(text))
            if self._entities is not None:
                found.extend(f for f in self._entities(text) if f.type in self.types)
        if known is not None:
            found.extend(known.find(text, self.types))
        threshold = self.threshold
        if any(f.score < threshold for f in found):
            found = [f for f in found if f.score >= threshold]
        return resolve(found)

    def _find_in_runs(self, text: str, found: list[Finding]) -> None:
        """The detectors of values holding digits, each run on the few characters around
        one run of digits (groups joined by single separators)."""
        n = len(text)
        for run in NUM_RUN.finditer(text):
            start, end = run.span()
            letter_before = start > 0 and text[start - 1].isalpha()
            if end - start < 4 and not letter_before:
                continue  # too short for any of them but a postcode or IBAN
            raw = run.group()
            nd = len(raw) if raw.isdigit() else len(NON_DIGIT.sub("", raw))
            after = min(n, end + 2)
            if (
                self._iban
                and start >= 2
                and letter_before
                and text[start - 2].isalpha()
                and text[start - 2 : start].isupper()
                and text[start - 2 : start].isascii()
            ):
                find_iban(text, found, start - 2)
            if nd >= 12:
                if self._card:
                    find_cards(text, found, start, after)
            elif nd >= 9 and self._ssn and raw[:3].isdigit() and (len(raw) == 9 or raw[3] in " -"):
                find_ssns(text, found, start, after)
            if (
                self._zip
                and nd >= 5
                and raw[:5].isdigit()
                and (len(raw) == 5 or not raw[5].isdigit())
            ):
                find_zips(text, found, start, after)
            if self._ipv4 and nd >= 4 and raw.count(".") >= 3:
                find_ipv4(text, found, start, after)
            if self._nino and nd == 6 and len(raw) in (6, 8) and start >= 2:
                find_ninos(text, found, max(0, start - 3), min(n, end + 3))
            if self._postcode and letter_before and nd <= 3:
                find_postcodes(text, found, max(0, start - 2), min(n, start + 9))
            if self._phone and nd >= PHONE_MIN_DIGITS:
                find_phones_in_run(text, found, start, end, self.regions, self.threshold)
