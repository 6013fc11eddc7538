"""The checks of a schema on one record at a time, in plain Python.

``update`` must answer at once, so it cannot load pandas and pandera (about a second)
to check one changed record. :class:`RecordGate` runs the same rules as the pandera
checks of :mod:`custrec.schema.checks` (which ``collect`` and ``validate`` use), on a
single record; both build on the primitives here (patterns, phone and card tests,
value conversion), and a property test holds them to the same verdicts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from typing import Any, TypeVar

from custrec.schema.expectations import describe_rule, describe_type
from custrec.schema.model import Rule, Schema
from custrec.schema.postcodes import POSTCODE_PATTERNS
from custrec.store.records import DECIMAL_TEXT, FALSE_TEXTS, TRUE_TEXTS

T = TypeVar("T")

EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
E164 = r"\+[1-9][0-9]{6,14}"
NUMBER = DECIMAL_TEXT
DATE = r"(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME = (
    r"(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
INT64 = (-(2**63), 2**63)
"""Integers must fit 64 bits (as their float value: what both paths compare)."""
TRUE, FALSE = TRUE_TEXTS, FALSE_TEXTS
_PHONE_TEXT = re.compile(r"\+?[0-9()./ -]+((?: ?(?:ext\.?|x|#) ?)[0-9]{1,6})?", re.IGNORECASE)


def phone_ok(value: str, region: str | None, level: str = "valid") -> bool:
    """A phone number written with digits and usual separators (no letters) that is
    ``valid`` (in an assigned range) or ``possible`` (a full number's length; a
    number that needs an area code is not) for ``region`` or its +code."""
    import phonenumbers

    number = _parsed_phone(value.strip(), region)
    if number is None:
        return False
    if level == "valid":
        return bool(phonenumbers.is_valid_number(number))
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


@lru_cache(maxsize=1 << 16)
def _parsed_phone(text: str, region: str | None) -> Any:
    """The parsed number, or None (cached: a schema may test a number twice, e.g. as
    possible and as valid)."""
    import phonenumbers

    if not _PHONE_TEXT.fullmatch(text):
        return None
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def phone_key(value: str, region: str | None) -> str:
    """The normal form of a phone number for matching duplicates: the same as
    :func:`custrec.store.normalise.normalise_phone`, reusing a parse already made by
    :func:`phone_ok` for the same number."""
    import phonenumbers

    from custrec.store.normalise import normalise_phone

    number = _parsed_phone(value.strip(), region)
    if number is not None and phonenumbers.is_possible_number(number):
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return normalise_phone(value, region)


@cache
def _card_and_id_detector() -> Any:
    from custrec.redaction.detect import Detector

    return Detector(types=("CREDIT_CARD", "US_SSN", "UK_NINO"))


def holds_card_or_id_number(text: str) -> bool:
    """A payment card number, a US Social Security number or a UK National Insurance
    number, as :mod:`custrec.redaction.detect` finds them (issuer ranges and Luhn;
    never-issued SSN ranges refused; HMRC's prefix rules), which ``scan`` and
    ``redact`` use too."""
    if not any(c.isdigit() for c in text):
        return False
    return bool(_card_and_id_detector().find(text))


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (pycountry)."""
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


def postcode_ok(value: str, country: object) -> bool:
    pattern = POSTCODE_PATTERNS.get(str(country).upper()) if isinstance(country, str) else None
    return pattern is None or re.fullmatch(pattern, value) is not None


def as_of_day(as_of: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of the day ``as_of`` (``YYYY-MM-DD``; default: now for both).
    "Not in the future" is judged against the end (a time that day is not in the
    future), freshness against the start (a date exactly N days old is N days old)."""
    if not as_of:
        now = dt.datetime.now(dt.UTC)
        return now, now
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise ValueError(f"as_of must be a date YYYY-MM-DD, not {as_of!r}") from None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1, microseconds=-1)


def day_end(day: str) -> dt.datetime:
    """The last instant of a day ``YYYY-MM-DD`` (a ``max`` date includes its day)."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    return start + dt.timedelta(days=1, microseconds=-1)


class Unconvertible(ValueError):
    """A value that does not convert to its field's type."""


def convert(value: object, kind: str) -> object:
    """One value in a field's type (None stays None; blank text is None)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
    else:
        text = str(value)
    if kind == "string":
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            raise Unconvertible(kind)
        if isinstance(value, int | float):
            number = float(value)
        elif re.fullmatch(NUMBER, text):
            number = float(text)
        else:
            raise Unconvertible(kind)
        if not math.isfinite(number) or (kind == "integer" and number % 1):
            raise Unconvertible(kind)
        if kind == "integer" and not INT64[0] <= number < INT64[1]:
            raise Unconvertible(kind)
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        lowered = text.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise Unconvertible(kind)
    shape = DATE if kind == "date" else DATETIME
    if not re.fullmatch(shape, text):
        raise Unconvertible(kind)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unconvertible(kind) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class RecordGate:
    """The rules a record must pass on its own (as :class:`custrec.validate.SchemaGate`
    for batches): types, required fields, and the field and cross-field checks of
    severity error without a tolerance."""

    def __init__(self, schema: Schema, as_of: str | None = None) -> None:
        self.schema = schema
        self.start, self.now = as_of_day(as_of)
        self.rules = [
            rule
            for rule in schema.all_rules()
            if rule.severity == "error"
            and rule.max_fail_pct is None
            and rule.spec.scope in ("field", "row")
        ]
        types = {name: item.type for name, item in schema.fields.items()}
        self._types = {name: describe_type(kind) for name, kind in types.items()}
        self._expected = {r.id: describe_rule(r.check, r.params, types) for r in self.rules}

    def failures(self, record: Mapping[str, object]) -> list[tuple[str, str | None, str]]:
        """(rule id, field, message) for each rule the record fails."""
        out: list[tuple[str, str | None, str]] = []
        values: dict[str, object] = {}
        for item in self.schema.fields.values():
            raw = record.get(item.name)
            try:
                values[item.name] = convert(raw, item.type)
            except Unconvertible:
                values[item.name] = None
                out.append((f"{item.name}.type", item.name, f"expected {self._types[item.name]}"))
            if item.required and blank(raw):
                out.append((f"{item.name}.required", item.name, "expected a value"))
        for rule in self.rules:
            if not self._passes(rule, values, record):
                where = rule.field or rule.params.get("left")
                out.append((rule.id, where, f"rule {rule.id}: expected {self._expected[rule.id]}"))
        return out

    def _passes(self, rule: Rule, values: Mapping[str, Any], raw: Mapping[str, object]) -> bool:
        p = rule.params
        if rule.check == "at_least_one_of":
            return any(values.get(name) is not None for name in p["fields"])
        if rule.check == "compare":
            left, right = values.get(p["left"]), values.get(p["right"])
            if left is None or right is None:
                return True
            return bool(
                {
                    "<": left < right,
                    "<=": left <= right,
                    "==": left == right,
                    "!=": left != right,
                    ">=": left >= right,
                    ">": left > right,
                }[p["op"]]
            )
        assert rule.field is not None
        value = values.get(rule.field)
        if value is None:
            return True
        return _field_passes(rule, value, values, self.now, self.start)


def _field_passes(
    rule: Rule, value: Any, values: Mapping[str, Any], now: dt.datetime, start: dt.datetime
) -> bool:
    p = rule.params
    text = str(value)
    check = rule.check
    if check == "email":
        return re.fullmatch(EMAIL, text.strip() if p.get("allow_spaces") else text) is not None
    if check == "e164":
        return re.fullmatch(E164, text) is not None
    if check == "phone":
        region = p.get("region")
        if "region_field" in p:
            chosen = values.get(p["region_field"])
            region = chosen if isinstance(chosen, str) and chosen else region
        return phone_ok(text, region.upper() if region else None, p.get("level", "valid"))
    if check == "country_code":
        return text in country_codes()
    if check == "postcode":
        return postcode_ok(text, values.get(p["country_field"]))
    if check in ("date_range", "freshness"):
        moment = value if isinstance(value, dt.datetime) else None
        if moment is None:
            return True
        if check == "freshness":
            return moment >= start - dt.timedelta(days=p["max_age_days"])
        if p.get("not_future") and moment > now:
            return False
        if "max_age_years" in p and moment < now - dt.timedelta(days=365.2425 * p["max_age_years"]):
            return False
        if "min" in p and moment < dt.datetime.fromisoformat(p["min"]).replace(tzinfo=dt.UTC):
            return False
        return not ("max" in p and moment > day_end(p["max"]))
    if check == "one_of":
        if p.get("ignore_case"):
            return text.casefold() in {str(v).casefold() for v in p["values"]}
        return value in p["values"]
    if check == "matches":
        return re.fullmatch(p["pattern"], text) is not None
    if check == "length":
        return bool(p.get("min", 0) <= len(text) <= p.get("max", len(text)))
    if check == "range":
        number = float(value)
        return bool(p.get("min", number) <= number <= p.get("max", number))
    if check == "no_card_or_id_numbers":
        return not holds_card_or_id_number(text)
    raise ValueError(f"no per-record test for check {check!r}")


def per_distinct(function: Callable[..., T], arguments: Iterable[tuple[Any, ...]]) -> list[T]:
    """``function(*args)`` for each of ``arguments``, computed once per distinct tuple:
    a batch repeats values (a household's phone, a company's domain), and the library
    calls behind a check cost 20-60 µs each (``phonenumbers``' parse and validity)."""
    done: dict[tuple[Any, ...], T] = {}
    out: list[T] = []
    for args in arguments:
        if args in done:
            out.append(done[args])
        else:
            out.append(done.setdefault(args, function(*args)))
    return out
