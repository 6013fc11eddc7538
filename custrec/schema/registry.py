"""The checks a schema can name: their scope, their parameters, and what they test.

This module only *describes* the checks (it imports nothing heavy), so a schema file
can be loaded and checked without an engine. :mod:`custrec.schema.rules` defines
them once, as expressions; :mod:`custrec.schema.batch` runs them on batches and
:mod:`custrec.schema.record` on one record.

Scopes:

- ``field``: a rule on one field's values (under the field's ``checks``);
- ``row``: a rule across fields of each record (schema-level ``rules``);
- ``dataset``: a rule over all records at once (schema-level ``rules``), e.g. the
  share of records with a postcode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    """A check parameter: ``kind`` is ``text``, ``number``, ``integer``, ``bool``,
    ``texts`` (a list of text), ``field`` or ``fields`` (names of schema fields)."""

    kind: str
    required: bool = False
    help: str = ""

    @property
    def is_field(self) -> bool:
        return self.kind in ("field", "fields")

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        if self.kind == "date":
            import datetime as dt

            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return None
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                return "must be a date YYYY-MM-DD"
            return None
        if self.kind in ("text", "field"):
            ok = isinstance(value, str) and bool(value)
            return None if ok else "must be non-empty text"
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind in ("number", "integer"):
            wanted = int if self.kind == "integer" else int | float
            ok = isinstance(value, wanted) and not isinstance(value, bool)
            return (
                None if ok else f"must be a{'n integer' if self.kind == 'integer' else ' number'}"
            )
        if self.kind in ("texts", "fields"):
            ok = isinstance(value, list) and bool(value)
            ok = ok and all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
            )
            if self.kind == "fields":
                ok = ok and all(isinstance(v, str) for v in value)
            return None if ok else "must be a non-empty list"
        return None


TEXT = ("string",)
NUMBERS = ("integer", "number")
MOMENTS = ("date", "datetime")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    scope: str
    summary: str
    expectation: str
    params: dict[str, Param] = field(default_factory=dict)
    types: tuple[str, ...] = ()
    """Field types a field check applies to (empty: any)."""


def _spec(
    name: str,
    scope: str,
    summary: str,
    expectation: str,
    types: tuple[str, ...] = (),
    **params: Param,
) -> CheckSpec:
    return CheckSpec(name, scope, summary, expectation, params, types)


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "email",
            "field",
            "Email address syntax: one @, a local part, a domain of dot-separated "
            "labels ending in a top-level domain of 2+ letters; surrounding spaces "
            "are refused unless allow_spaces.",
            "a valid email address",
            TEXT,
            allow_spaces=Param("bool", help="accept leading or trailing spaces"),
        ),
        _spec(
            "phone",
            "field",
            "A phone number valid for its region (phonenumbers): the record's "
            "region_field (e.g. country) for numbers without +code, else region.",
            "a valid phone number",
            TEXT,
            region=Param("text", help="ISO 3166 code for numbers without +code"),
            region_field=Param("field", help="field holding each record's country code"),
            level=Param(
                "text",
                help="valid (default: a number of an assigned range) or possible (the length fits)",
            ),
        ),
        _spec(
            "e164",
            "field",
            "The value is written in E.164 (+, country code, number; no spaces).",
            "a phone number in E.164 form (e.g. +447911123456)",
            TEXT,
        ),
        _spec(
            "country_code",
            "field",
            "An ISO 3166-1 alpha-2 country code (pycountry), upper case.",
            "an ISO 3166-1 alpha-2 code (e.g. GB)",
            TEXT,
        ),
        _spec(
            "postcode",
            "field",
            "A postcode of the format of the record's country (country_field); "
            "countries without a known format pass.",
            "a postcode of the record's country",
            TEXT,
            country_field=Param("field", required=True),
        ),
        _spec(
            "date_range",
            "field",
            "A date or time not in the future (not_future) and not older than "
            "max_age_years; or between min and max (ISO dates).",
            "a date in the allowed range",
            MOMENTS,
            not_future=Param("bool"),
            max_age_years=Param("number"),
            min=Param("date"),
            max=Param("date"),
        ),
        _spec(
            "freshness",
            "field",
            "A date no older than max_age_days (e.g. last_verified): older is stale.",
            "a date within the freshness period",
            MOMENTS,
            max_age_days=Param("integer", required=True),
        ),
        _spec(
            "one_of",
            "field",
            "A value from a fixed set (case-sensitive unless ignore_case).",
            "one of the allowed values",
            (*TEXT, *NUMBERS),
            values=Param("texts", required=True),
            ignore_case=Param("bool"),
        ),
        _spec(
            "matches",
            "field",
            "The whole value matches a regular expression.",
            "a value matching the pattern",
            TEXT,
            pattern=Param("text", required=True),
        ),
        _spec(
            "length",
            "field",
            "Text length between min and max characters.",
            "a value of the allowed length",
            TEXT,
            min=Param("integer"),
            max=Param("integer"),
        ),
        _spec(
            "range",
            "field",
            "A number between min and max (inclusive).",
            "a number in the allowed range",
            NUMBERS,
            min=Param("number"),
            max=Param("number"),
        ),
        _spec(
            "no_card_or_id_numbers",
            "field",
            "Free text holds no payment card number (13-19 digits passing Luhn) and "
            "no national id (UK NINO, US SSN).",
            "text without card or national id numbers",
            TEXT,
        ),
        _spec(
            "at_least_one_of",
            "row",
            "At least one of the fields has a value (e.g. a customer is reachable by "
            "email or phone).",
            "a value in at least one of the fields",
            fields=Param("fields", required=True),
        ),
        _spec(
            "compare",
            "row",
            "A comparison between two fields of the record, e.g. updated_at >= "
            "created_at; records missing either value pass.",
            "the comparison to hold",
            left=Param("field", required=True),
            op=Param("text", required=True),
            right=Param("field", required=True),
        ),
        _spec(
            "completeness",
            "dataset",
            "At least min_pct percent of records have a value in field.",
            "the share of records with a value to reach min_pct",
            field=Param("field", required=True),
            min_pct=Param("number", required=True),
        ),
    )
}

COMPARE_OPS = ("<", "<=", "==", "!=", ">=", ">")
PHONE_LEVELS = ("valid", "possible")
