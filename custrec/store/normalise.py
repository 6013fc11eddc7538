"""Normal forms of contact details, so that the same email or phone number written
differently finds the same record (``+44 7911 123456`` = ``07911 123456`` in GB)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_SPACES = re.compile(r"\s+")


SIMPLE_PHONE = re.compile(r"\+?\(?[0-9][0-9 ().-]*")
_NON_DIGIT = re.compile(r"[^0-9]")
QUICK_MAX_CHARS = 64  # longer text takes the full parse
NATIONAL_MAX_DIGITS = 17  # the longest national number phonenumbers accepts


class PhonePlan:
    """What ``phonenumbers.parse`` needs of one region's metadata to read a string of
    digits, prepared once: the country code, the international and national prefixes,
    the pattern of national numbers, and the verdict of its length test for each
    length (that test looks at nothing but the length)."""

    __slots__ = (
        "code",
        "general",
        "idd",
        "keeps_prefix",
        "possible",
        "prefix",
        "strict",
        "too_long",
        "transform",
    )

    def __init__(self, metadata: Any) -> None:
        from phonenumbers import phonenumberutil as util

        self.code = str(metadata.country_code)
        idd = metadata.international_prefix
        self.idd = re.compile(idd) if idd else None
        prefix = metadata.national_prefix_for_parsing
        self.prefix = re.compile(prefix) if prefix else None
        self.transform: str | None = metadata.national_prefix_transform_rule or None
        pattern = metadata.general_desc.national_number_pattern
        self.general = re.compile(pattern) if pattern else None
        verdicts = [util.ValidationResult.TOO_SHORT] + [
            util._test_number_length("0" * size, metadata) for size in range(1, QUICK_MAX_CHARS + 1)
        ]
        possible = (util.ValidationResult.IS_POSSIBLE, util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY)
        # parse keeps the national prefix when the number without it would fail so
        keeps = (
            util.ValidationResult.TOO_SHORT,
            util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
            util.ValidationResult.INVALID_LENGTH,
        )
        self.possible = [v in possible for v in verdicts]
        # is_possible_number_with_reason says IS_POSSIBLE (a full number, not local only)
        self.strict = [v == util.ValidationResult.IS_POSSIBLE for v in verdicts]
        self.keeps_prefix = [v in keeps for v in verdicts]
        self.too_long = [v == util.ValidationResult.TOO_LONG for v in verdicts]

    def viable(self, national: str) -> bool:
        return self.general is not None and self.general.fullmatch(national) is not None

    def strip_prefix(self, number: str) -> str:
        """The number without its national prefix (and carrier code) when one can be
        removed and what is left stays viable (``_maybe_strip_national_prefix_carrier_code``)."""
        found = self.prefix.match(number) if number and self.prefix is not None else None
        if found is None:
            return number
        groups = found.groups()
        if self.transform is None or not groups or groups[-1] is None:
            stripped = number[found.end() :]
        else:
            stripped = found.re.sub(self.transform, number, count=1)
        if self.viable(number) and not self.viable(stripped):
            return number
        return stripped


_REGION_PLANS: dict[str, PhonePlan | None] = {}
_CODE_PLANS: dict[int, PhonePlan | None] = {}


def region_phone_plan(region: str) -> PhonePlan | None:
    key = region.upper()
    if key not in _REGION_PLANS:
        from phonenumbers import PhoneMetadata

        metadata = PhoneMetadata.metadata_for_region(key, None)
        _REGION_PLANS[key] = None if metadata is None else PhonePlan(metadata)
    return _REGION_PLANS[key]


def code_phone_plan(code: int) -> PhonePlan | None:
    """The plan of a calling code's main region, which ``parse`` and
    ``is_possible_number`` use for a number that carries the code."""
    if code not in _CODE_PLANS:
        from phonenumbers import PhoneMetadata
        from phonenumbers.phonenumberutil import region_code_for_country_code

        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            code, region_code_for_country_code(code)
        )
        _CODE_PLANS[code] = None if metadata is None else PhonePlan(metadata)
    return _CODE_PLANS[code]


def _calling_code(digits: str) -> tuple[int, str]:
    """The calling code ``digits`` begin with (0 if none) and the digits after it."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    if digits[:1] != "0":
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                return code, digits[size:]
    return 0, digits


def quick_phone_parts(text: str, region: str | None) -> tuple[int, str] | None:
    """The calling code and the national significant number (leading zeros kept) that
    ``phonenumbers.parse(text, region)`` reads from ``text``, when ``text`` is made of
    digits, plain separators and perhaps a leading ``+`` and the number has a possible
    length; None means "take the full parse" (errors and anything unusual). The steps
    ``parse`` takes for such text (international prefix or ``+`` and calling code, or
    the region's calling code written without ``+``, then the national prefix and the
    length tests), without its general text handling, which is most of its time (8 us
    instead of 24 us a number). Equality with the full parse is a tested property."""
    found = _quick_phone(text, region)
    return found if isinstance(found, tuple) else None


def _quick_phone(text: str, region: str | None) -> tuple[int, str] | str | None:
    """:func:`normalise_phone` of ``text`` (see :func:`quick_phone_parts`) as the
    number's parts when it has a possible length, its digits when it has not."""
    if len(text) > QUICK_MAX_CHARS or not SIMPLE_PHONE.fullmatch(text):
        return None
    digits = _NON_DIGIT.sub("", text)
    if not 6 <= len(digits) <= QUICK_MAX_CHARS:
        return None
    home = region_phone_plan(region) if region is not None else None
    code = 0
    national = digits
    if text.startswith("+"):
        code, national = _calling_code(digits)
        if code == 0:
            return None
    elif home is None:
        return None
    else:
        idd = home.idd.match(digits) if home.idd is not None else None
        if idd is not None and digits[idd.end() : idd.end() + 1] != "0":
            code, national = _calling_code(digits[idd.end() :])
            if code == 0 or len(digits) - idd.end() <= 2:
                return None
        elif digits.startswith(home.code):
            rest = home.strip_prefix(digits[len(home.code) :])
            if home.too_long[len(digits)] or (not home.viable(digits) and home.viable(rest)):
                code, national = int(home.code), rest
    plan = code_phone_plan(code) if code else home
    if code == 0 and home is not None:
        code = int(home.code)
    main = code_phone_plan(code)
    if plan is None or main is None or len(national) < 2:
        return None
    stripped = plan.strip_prefix(national)
    if len(stripped) > QUICK_MAX_CHARS:
        return None
    if not plan.keeps_prefix[len(stripped)]:
        national = stripped
    if len(national) > NATIONAL_MAX_DIGITS:
        return None
    if main.possible[len(national)]:
        return code, national
    return ("+" + digits) if text.startswith("+") else digits


def normalise_email(value: str) -> str:
    return value.strip().casefold()


def normalise_phone(value: str, region: str | None) -> str:
    """E.164 when the number parses (``region`` for numbers without a country code),
    else its digits (with a leading ``+`` if it had one)."""
    import phonenumbers

    text = value.strip()
    quick = _quick_phone(text, region)
    if isinstance(quick, tuple):
        return f"+{quick[0]}{quick[1]}"  # E.164: the calling code and national number
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
