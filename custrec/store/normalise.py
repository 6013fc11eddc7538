"""Normal forms of contact details, so that the same email or phone number written
differently finds the same record (``+44 7911 123456`` = ``07911 123456`` in GB)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_SPACES = re.compile(r"\s+")


_INTERNATIONAL = re.compile(r"\+[1-9][0-9 ().-]*")
_NATIONAL = re.compile(r"[0-9][0-9 ().-]*")
_MAX_QUICK = 64  # longer text takes the full parse
_NATIONAL_PREFIXES: dict[int, re.Pattern[str] | None] = {}


def _international_digits(text: str) -> str | None:
    """The result :func:`normalise_phone` gives for ``+`` followed by digits and plain
    separators, computed without a full parse (a bulk collect normalises a million
    numbers): ``+`` and the digits, unless the digits after the country code begin
    with that country's national prefix (``+44 (0) 7911...``), which a parse removes.
    None means "parse it". Equality with the full parse is a tested property."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    digits = re.sub(r"[^0-9]", "", text)
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return "+" + digits  # no such country code: unparseable, so "+" and digits
    if code not in _NATIONAL_PREFIXES:
        from phonenumbers import PhoneMetadata
        from phonenumbers.phonenumberutil import region_code_for_country_code

        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            code, region_code_for_country_code(code)
        )
        if metadata is None:
            return None
        prefix = metadata.national_prefix_for_parsing
        _NATIONAL_PREFIXES[code] = re.compile(prefix) if prefix else None
    prefix_pattern = _NATIONAL_PREFIXES[code]
    if prefix_pattern is not None and prefix_pattern.match(digits[size:]):
        return None
    return "+" + digits


def _national_number(text: str, region: str) -> str | None:
    """The result :func:`normalise_phone` gives for digits and plain separators in
    ``region``, following the steps of ``phonenumbers.parse`` for such input but
    skipping its general text handling. None means "parse it": no metadata for the
    region, fewer than 6 digits, or digits that begin with the region's international
    prefix or country code. Equality with the full parse is a tested property."""
    rules = _region_rules(region)
    digits = re.sub(r"[^0-9]", "", text)
    if rules is None or len(digits) < 6:
        return None
    metadata, idd, code = rules
    if (idd is not None and idd.match(digits)) or digits.startswith(code):
        return None
    import phonenumbers
    from phonenumbers import phonenumberutil as util

    national = digits
    _, stripped, _ = util._maybe_strip_national_prefix_carrier_code(national, metadata)
    if util._test_number_length(stripped, metadata) not in _NO_STRIP:
        national = stripped
    if not 2 <= len(national) <= util._MAX_LENGTH_FOR_NSN:
        return digits
    number = phonenumbers.PhoneNumber(country_code=metadata.country_code)
    util._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    if not phonenumbers.is_possible_number(number):
        return digits
    return "+" + code + national  # E.164: the country code and the national number


_RULES: dict[str, tuple[Any, re.Pattern[str] | None, str] | None] = {}
_NO_STRIP: set[object] = set()


def _region_rules(region: str) -> tuple[Any, re.Pattern[str] | None, str] | None:
    """A region's phone metadata, international prefix and country code (cached)."""
    key = region.upper()
    if key not in _RULES:
        from phonenumbers import PhoneMetadata
        from phonenumbers import phonenumberutil as util

        if not _NO_STRIP:
            _NO_STRIP.update(
                (
                    util.ValidationResult.TOO_SHORT,
                    util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                    util.ValidationResult.INVALID_LENGTH,
                )
            )
        metadata = PhoneMetadata.metadata_for_region(key, None)
        if metadata is None:
            _RULES[key] = None
        else:
            idd = metadata.international_prefix
            _RULES[key] = (metadata, re.compile(idd) if idd else None, str(metadata.country_code))
    return _RULES[key]


def normalise_email(value: str) -> str:
    return value.strip().casefold()


def normalise_phone(value: str, region: str | None) -> str:
    """E.164 when the number parses (``region`` for numbers without a country code),
    else its digits (with a leading ``+`` if it had one)."""
    import phonenumbers

    text = value.strip()
    quick = None
    if len(text) <= _MAX_QUICK:
        if _INTERNATIONAL.fullmatch(text):
            quick = _international_digits(text)
        elif region is not None and _NATIONAL.fullmatch(text):
            quick = _national_number(text, region)
    if quick is not None:
        return quick
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", text)
    return ("+" + digits) if text.startswith("+") else digits


def normalise_text(value: str) -> str:
    return _SPACES.sub(" ", value.strip()).casefold()


COUNTRY_FIELD = "country"
"""A record's field whose ISO 3166 alpha-2 code tells how to read its phone numbers."""
_ALPHA2 = re.compile(r"[A-Za-z]{2}")


def record_region(country: object) -> str | None:
    """The phone region of a record from its country field, if that is a two-letter
    code (``gb`` -> ``GB``); None otherwise."""
    if isinstance(country, str):
        text = country.strip()
        if _ALPHA2.fullmatch(text):
            return text.upper()
    return None


def is_email_field(field: str) -> bool:
    return field == "email" or field.endswith("_email")


def is_phone_field(field: str) -> bool:
    return field == "phone" or field.endswith("_phone")


def normalise_match_value(field: str, value: object, region: str | None) -> str:
    """The normal form used for matching ``value`` of ``field``."""
    text = str(value)
    if is_email_field(field):
        return normalise_email(text)
    if is_phone_field(field):
        return normalise_phone(text, region)
    return normalise_text(text)


def text_words(text: str) -> list[str]:
    """The words of ``text`` without case or accents (``Zoë-Ann`` -> ``zoe``, ``ann``)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return re.findall(r"\w+", plain)


def words_match(words: Sequence[str], values: Sequence[object]) -> bool:
    """True when each of ``words`` begins some word of ``values`` (e.g. a first and a
    last name): ``["ann", "sm"]`` matches ``("Anne", "Smith")``."""
    if not any(isinstance(v, str) for v in values):
        return False
    have = text_words(" ".join(v for v in values if isinstance(v, str)))
    return all(any(h.startswith(w) for h in have) for w in words)
