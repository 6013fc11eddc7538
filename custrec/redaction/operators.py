"""The redaction operators: what replaces a value (a whole field, or a finding inside
free text) under each strategy.

Strategies (:data:`STRATEGIES`):

- ``keep``: the value is left as it is;
- ``drop``: the field is left out of the output (the caller removes it);
- ``mask``: most of the value becomes ``*``, as fits its type (:func:`mask`);
- ``replace``: the value becomes its type tag, ``<EMAIL_ADDRESS>`` (:func:`replace`);
- ``pseudonymise`` (alias ``pseudonym``): the value becomes a keyed pseudonym,
  ``<EMAIL_ADDRESS_3f2a9c1d4e5b6a70>``, the same for the same person in every file,
  run and field (:class:`Pseudonymiser`);
- ``generalise``: a date becomes its year or month, a postcode its area, an age its
  band of ten years (:func:`generalise`);
- ``scan``: free text is searched for personal data and each finding is replaced by
  the operator its type is given (the caller finds them; :func:`redact_text`
  replaces them).

This module imports only the standard library when it is loaded; ``phonenumbers`` and
the HMAC of :mod:`custrec.crypto` are loaded the first time they are needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from custrec.redaction.detect import Detector

STRATEGIES = ("keep", "drop", "mask", "replace", "pseudonymise", "generalise", "scan")
STRATEGY_ALIASES = {"pseudonym": "pseudonymise"}
"""Other accepted spellings of a strategy, and the strategy each one means."""

GENERALISE_KINDS = ("date", "datetime", "postcode", "age")
DATE_LEVELS = ("year", "month")
"""What ``generalise`` keeps of a date: ``year`` (the default) or ``month``."""

PSEUDONYM_KEY_BYTES = 32
PSEUDONYM_HEX_CHARS = 16
"""Hex characters of a pseudonym: 16 (64 bits of the HMAC). Among 10 million
different values the chance that any two share a pseudonym is about 3 in a million
(birthday bound n²/2⁶⁵); 12 characters (48 bits) would give about 16 %."""

MASK_KEEP = 4
"""Trailing digits (letters and digits for an IBAN) that ``mask`` leaves readable."""
MASK_MIN_TO_REVEAL = 8
"""``mask`` shows the last :data:`MASK_KEEP` digits only of a value with at least
this many, so that at most half of a short number is shown; a shorter one is masked
completely."""
MASK_MAX_STARS = 8
"""The longest run of ``*`` that masks a value of another type, so that the mask of a
long value does not tell its length."""

_DIGIT_MASKED = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN"})
_IDENTIFIERS = frozenset({"CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO", "UK_POSTCODE", "US_ZIP"})
_SPACES = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def canonical_strategy(name: str) -> str | None:
    """The strategy ``name`` means (an alias gives its strategy), or None if it is not
    one."""
    name = STRATEGY_ALIASES.get(name, name)
    return name if name in STRATEGIES else None


# --- pseudonyms ----------------------------------------------------------------------


def normalise_for_pseudonym(entity_type: str, value: str, region: str | None = None) -> str:
    """The form of ``value`` that is pseudonymised, so that the ways of writing the
    same email, phone number or identifier give the same pseudonym:

    - ``EMAIL_ADDRESS``: surrounding spaces removed, case folded;
    - ``PHONE_NUMBER``: E.164 (``+447911123456``), reading a number without ``+code``
      in ``region`` (ISO 3166 alpha-2); a number that does not parse keeps its digits
      only, with a leading ``+`` if it had one. This is the normal form the store
      matches duplicates by (:func:`custrec.store.normalise.normalise_phone`);
    - ``CREDIT_CARD``, ``IBAN_CODE``, ``US_SSN``, ``UK_NINO``, ``UK_POSTCODE``,
      ``US_ZIP``: the letters and digits only (after Unicode NFKC), upper-cased;
    - ``IP_ADDRESS``: the address's standard text (``2001:db8::1``) when it is one,
      else as the other types;
    - ``PERSON``, ``LOCATION`` and every other type: Unicode NFKC, case folded, each
      run of white space made one space, surrounding spaces removed.
    """
    if entity_type == "EMAIL_ADDRESS":
        return value.strip().casefold()
    if entity_type == "PHONE_NUMBER":
        from custrec.store.normalise import normalise_phone

        return normalise_phone(value, region.upper() if region else None)
    if entity_type in _IDENTIFIERS:
        return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", value)).upper()
    if entity_type == "IP_ADDRESS":
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            pass
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()


class Pseudonymiser:
    """Keyed pseudonyms: ``<TYPE_hex>``, where ``hex`` is the first
    :data:`PSEUDONYM_HEX_CHARS` hex characters of HMAC-SHA256(key, normalised value).

    Only the normalised value (:func:`normalise_for_pseudonym`, UTF-8) goes into the
    HMAC, not the type, so an email in an ``email`` field and the same email found in
    free text get the same hex; the tag in front tells the type. Without the key a
    pseudonym cannot be computed from a guessed value, nor turned back into one.
    """

    def __init__(self, key: bytes) -> None:
        """``key``: 32 bytes, which callers derive from the user's key file."""
        from custrec.crypto import hmac_sha256

        if len(key) != PSEUDONYM_KEY_BYTES:
            raise ValueError(f"a pseudonym key is {PSEUDONYM_KEY_BYTES} bytes, not {len(key)}")
        self._key = bytes(key)
        self._hmac: Callable[[bytes, bytes], bytes] = hmac_sha256

    def __repr__(self) -> str:
        return "Pseudonymiser(<key>)"

    def digest(self, entity_type: str, value: str, region: str | None = None) -> str:
        """The hex part of the pseudonym of ``value``."""
        normal = normalise_for_pseudonym(entity_type, value, region)
        return self._hmac(self._key, normal.encode("utf-8")).hex()[:PSEUDONYM_HEX_CHARS]

    def token(self, entity_type: str, value: str, region: str | None = None) -> str:
        """The pseudonym of ``value``: ``<EMAIL_ADDRESS_3f2a9c1d4e5b6a70>``.

        ``region`` (ISO 3166 alpha-2) tells how to read a phone number written
        without its ``+code``."""
        return f"<{entity_type}_{self.digest(entity_type, value, region)}>"


# --- masks ---------------------------------------------------------------------------


def recognised_type(value: str, detector: Detector | None = None) -> str | None:
    """The type of personal data that ``value`` is as a whole (``EMAIL_ADDRESS``,
    ``PHONE_NUMBER``, ``CREDIT_CARD``, ``IBAN_CODE``, ...), as ``detector`` (default:
    a :class:`~custrec.redaction.detect.Detector` of every type and the default
    regions) finds it; None when no single finding covers the whole value."""
    text = value.strip()
    if not text:
        return None
    for finding in (detector or _default_detector()).find(text):
        if finding.start == 0 and finding.end == len(text):
            return finding.type
    return None


@lru_cache(maxsize=1)
def _default_detector() -> Detector:
    from custrec.redaction.detect import Detector

    return Detector()


def mask(value: str, entity_type: str | None = None, *, detector: Detector | None = None) -> str:
    """``value`` with most of it replaced by ``*``, by type (without one, the type
    the value is recognised as by :func:`recognised_type` with ``detector``):

    - ``PHONE_NUMBER``, ``CREDIT_CARD``, ``US_SSN``: every digit but the last 4 is
      ``*``, other characters stay: ``+44 7911 123456`` → ``+** **** **3456`` (the
      ``+`` stays, the country code is masked like every other digit);
    - ``IBAN_CODE``: the same with letters and digits: ``GB82 WEST 1234 5698 7654 32``
      → ``**** **** **** **** **54 32``;
    - a value of those types with fewer than 8 digits (letters and digits for an IBAN)
      has all of them masked, so that at most half of a number shows;
    - ``UK_NINO``: every letter and digit is ``*``, spacing stays (its last digits
      are not shown: ``QQ 12 34 56 C`` → ``** ** ** ** *``);
    - ``EMAIL_ADDRESS``: the first character of the local part, ``***``, ``@`` and
      the domain: ``ann.lee@example.com`` → ``a***@example.com`` (the domain stays);
    - ``PERSON``: the first letter of each part of the name, upper-cased, then ``.``:
      ``Ann Lee`` → ``A. L.``;
    - any other type, or a value not recognised: ``*`` once per character, at most 8
      (``London`` → ``******``; a longer value gives ``********`` whatever its
      length).
    """
    if entity_type is None:
        entity_type = recognised_type(value, detector)
    if entity_type in _DIGIT_MASKED:
        return _mask_all_but_last(value, str.isdigit)
    if entity_type == "IBAN_CODE":
        return _mask_all_but_last(value, str.isalnum)
    if entity_type == "UK_NINO":
        return "".join("*" if ch.isalnum() else ch for ch in value)
    if entity_type == "EMAIL_ADDRESS":
        local, at, domain = value.strip().rpartition("@")
        if at:
            return f"{local[:1]}***@{domain}"
    if entity_type == "PERSON":
        initials = [i for i in (_initial(part) for part in value.split()) if i]
        if initials:
            return " ".join(f"{initial}." for initial in initials)
    return "*" * min(len(value), MASK_MAX_STARS)


def _mask_all_but_last(value: str, secret: Callable[[str], bool]) -> str:
    count = sum(1 for ch in value if secret(ch))
    hidden = count - MASK_KEEP if count >= MASK_MIN_TO_REVEAL else count
    out: list[str] = []
    for ch in value:
        if secret(ch):
            out.append("*" if hidden > 0 else ch)
            hidden -= 1
        else:
            out.append(ch)
    return "".join(out)


def _initial(part: str) -> str:
    for ch in part:
        if ch.isalpha():
            return ch.upper()
    return ""


def replace(entity_type: str) -> str:
    """The type tag that replaces a value: ``<EMAIL_ADDRESS>``."""
    return f"<{entity_type}>"


# --- generalisation ------------------------------------------------------------------

_UK_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})")
_US_ZIP = re.compile(r"([0-9]{3})[0-9]{2}(?:-[0-9]{4})?")
_AGE = re.compile(r"[0-9]{1,3}")


def generalise(value: str, kind: str, *, to: str | None = None) -> str:
    """A coarser form of ``value``, by ``kind``:

    - ``date``, ``datetime``: an ISO 8601 date or date and time (``1987-06-15``,
      ``1987-06-15T10:30:00+02:00``) becomes its year (``to="year"``, the default:
      ``1987``) or its month (``to="month"``: ``1987-06``), as written (a time zone
      is not applied);
    - ``postcode``: a UK postcode becomes its outward code (``SW1A 1AA`` → ``SW1A``),
      five digits (a US ZIP code, optionally ``-NNNN``) their first three and ``XX``
      (``90210-1234`` → ``902XX``), any other postcode the first half of its letters
      and digits, upper-cased and rounded down (``K1A 0B1`` → ``K1A``, ``1011 AB`` →
      ``101``);
    - ``age``: a whole number of years becomes its band of ten (``37`` → ``30-39``),
      90 and over ``90+``.

    A value that cannot be read so raises :class:`ValueError` saying why.
    """
    text = value.strip()
    if kind in ("date", "datetime"):
        return _generalise_date(text, to or "year")
    if to is not None:
        raise ValueError(f"'to' applies to dates only, not to kind {kind!r}")
    if kind == "postcode":
        return _generalise_postcode(text)
    if kind == "age":
        if not _AGE.fullmatch(text):
            raise ValueError(f"{value!r} is not an age (a whole number of years)")
        age = int(text)
        if age >= 90:
            return "90+"
        low = age // 10 * 10
        return f"{low}-{low + 9}"
    raise ValueError(
        f"cannot generalise a value of kind {kind!r} (kinds: {', '.join(GENERALISE_KINDS)})"
    )


def _generalise_date(text: str, to: str) -> str:
    if to not in DATE_LEVELS:
        raise ValueError(f"a date is generalised to {' or '.join(DATE_LEVELS)}, not {to!r}")
    try:
        day = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or date and time") from None
    return f"{day.year:04d}" if to == "year" else f"{day.year:04d}-{day.month:02d}"


def _generalise_postcode(text: str) -> str:
    upper = _SPACES.sub(" ", text.upper())
    if upper in ("GIR 0AA", "GIR0AA"):
        return "GIR"
    match = _UK_POSTCODE.fullmatch(upper)
    if match:
        return match.group(1)
    match = _US_ZIP.fullmatch(upper)
    if match:
        return f"{match.group(1)}XX"
    chars = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", upper))
    if len(chars) < 2:
        raise ValueError(f"{text!r} is not a postcode")
    return chars[: len(chars) // 2]


# --- free text -----------------------------------------------------------------------


class SpanLike(Protocol):
    """A finding in a text: the characters ``start:end`` are of type ``type``."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def type(self) -> str: ...


def redact_text(text: str, findings: Sequence[SpanLike], apply: Callable[[str, str], str]) -> str:
    """``text`` with each finding's characters replaced by ``apply(type, value)``.

    The findings may come in any order but must not overlap; a finding that is empty,
    overlaps another or lies outside the text raises :class:`ValueError`. Text outside
    the findings is left exactly as it was.
    """
    pieces: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        start, end = finding.start, finding.end
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"finding {start}:{end} ({finding.type}) is not a span of a text "
                f"of {len(text)} characters"
            )
        if start < position:
            raise ValueError(f"finding {start}:{end} ({finding.type}) overlaps another one")
        pieces.append(text[position:start])
        pieces.append(apply(finding.type, text[start:end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
