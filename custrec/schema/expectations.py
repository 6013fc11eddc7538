"""What a rule expects, in words a data steward reads next to a rejected value.

:func:`describe_rule` turns a rule's check and parameters into one plain sentence
("a valid email address; spaces allowed only before or after it, none inside"),
:func:`describe_type` does the same for a field's type, and :func:`fields_read` names
the fields a rule reads, so a report can show them beside the failing value. Every
parameter of every check in :mod:`custrec.schema.registry` has its wording here (a
test holds the two lists together). Nothing heavy is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from custrec.schema.registry import CHECKS

if TYPE_CHECKING:
    from custrec.schema.model import Schema

PATTERN_CHARS = 60
"""A longer regular expression is cut in an expectation (the schema file has it whole)."""
LISTED_VALUES = 12
"""At most this many allowed values are listed; the rest are counted."""

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number (e.g. 42)",
    "number": "a number (e.g. 4.5)",
    "boolean": "true or false (also 1 or 0, in any letter case)",
    "date": "a date written YYYY-MM-DD (e.g. 2026-11-22)",
    "datetime": "a date and time in ISO 8601 (e.g. 2026-11-22T09:30:00Z)",
}
"""What a value of each field type looks like (the shapes :mod:`custrec.schema.scalar`
accepts)."""

MOMENTS = ("date", "datetime")
_OPS = {
    "<": ("less than", "before"),
    "<=": ("at most", "on or before"),
    "==": ("equal to", "the same as"),
    "!=": ("different from", "not the same as"),
    ">=": ("at least", "on or after"),
    ">": ("greater than", "after"),
}
"""A comparison in words: for numbers and text, and for dates and times."""


def describe_type(kind: str) -> str:
    """What a value of a field of type ``kind`` must look like."""
    return TYPE_WORDS.get(kind, "text")


def expectations(schema: Schema, *, dataset: bool = True) -> dict[str, str]:
    """What each rule of ``schema`` expects, in words, by rule id, in the order their
    failures are listed: per field its built-in ``<field>.type``, ``<field>.required``
    and ``<field>.unique`` rules, then the written rules (field rules in field order,
    then the schema-level ones). ``dataset=False`` leaves out the data-set rules
    (completeness), which judge no record on its own."""
    out: dict[str, str] = {}
    for item in schema.fields.values():
        if item.type != "string":
            out[f"{item.name}.type"] = describe_type(item.type)
        if item.required:
            out[f"{item.name}.required"] = "a value"
        if item.unique:
            out[f"{item.name}.unique"] = "a value no other record has"
    types = {name: item.type for name, item in schema.fields.items()}
    for rule in schema.all_rules():
        if dataset or rule.spec.scope != "dataset":
            out[rule.id] = describe_rule(rule.check, rule.params, types)
    return out


def fields_read(check: str, params: Mapping[str, Any], field: str | None) -> list[str]:
    """Every field a rule reads: its own ``field`` first, then those its parameters
    name (``country_field``, ``region_field``, ``left``/``right``, ``fields``)."""
    names = [field] if field else []
    for name, spec in CHECKS[check].params.items():
        value = params.get(name)
        if not spec.is_field or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if str(item) not in names:
                names.append(str(item))
    return names


def describe_rule(
    check: str, params: Mapping[str, Any], types: Mapping[str, str] | None = None
) -> str:
    """What a value must be to pass rule ``check`` with ``params``, in words.

    ``types`` (field name -> schema type) lets a comparison of dates say "on or after"
    rather than "at least"."""
    words = _WORDS.get(check)
    return words(params, types or {}) if words else CHECKS[check].expectation


def _email(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    text = "a valid email address (name@domain.tld)"
    if p.get("allow_spaces"):
        return text + "; spaces allowed only before or after it, none inside"
    return text + " with no spaces"


def _phone(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    if p.get("level") == "possible":
        text = "a phone number of a possible length"
    else:
        text = "a phone number in a range its country assigns"
    field, region = p.get("region_field"), p.get("region")
    if field and region:
        text += f" for the record's country (field {field}, else {str(region).upper()})"
    elif field:
        text += f" for the record's country (field {field})"
    elif region:
        text += f" for {str(region).upper()}"
    else:
        return text + ", written with + and its country code"
    return text + "; a number written with + and a country code is read for that country"


def _postcode(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return (
        f"a postcode in the format of the record's country (field {p['country_field']}; "
        "countries without a known format pass)"
    )


def _date_range(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    parts = []
    if p.get("not_future"):
        parts.append("not in the future")
    if p.get("max_age_years") is not None:
        parts.append(f"at most {p['max_age_years']:g} years ago")
    if p.get("min") is not None:
        parts.append(f"on or after {p['min']}")
    if p.get("max") is not None:
        parts.append(f"on or before {p['max']}")
    return "a date " + " and ".join(parts) if parts else "a date"


def _freshness(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return f"a date at most {p['max_age_days']} days ago (older is out of date)"


def _one_of(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    values = [str(v) for v in p["values"]]
    shown = ", ".join(values[:LISTED_VALUES])
    if len(values) > LISTED_VALUES:
        shown += f" (and {len(values) - LISTED_VALUES} more)"
    case = "in any letter case" if p.get("ignore_case") else "written exactly so"
    return f"one of: {shown}; {case}"


def _matches(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    pattern = str(p["pattern"])
    if len(pattern) > PATTERN_CHARS:
        pattern = pattern[: PATTERN_CHARS - 1] + "…"
    return f"the whole value matching the regular expression {pattern}"


def _between(p: Mapping[str, Any], what: str, unit: str) -> str:
    low, high = p.get("min"), p.get("max")
    if low is not None and high is not None:
        return f"{what} from {low:g} to {high:g}{unit}"
    if low is not None:
        return f"{what} of at least {low:g}{unit}"
    if high is not None:
        return f"{what} of at most {high:g}{unit}"
    return what


def _length(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return _between(p, "text", " characters")


def _range(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return _between(p, "a number", "")


def _at_least_one_of(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return "a value in at least one of: " + ", ".join(map(str, p["fields"]))


def _compare(p: Mapping[str, Any], types: Mapping[str, str]) -> str:
    left, right = p["left"], p["right"]
    moments = types.get(left) in MOMENTS or types.get(right) in MOMENTS
    words = _OPS[p["op"]][1 if moments else 0]
    return f"{left} {words} {right} (records without either value pass)"


def _completeness(p: Mapping[str, Any], _: Mapping[str, str]) -> str:
    return f"a value in {p['field']} in at least {p['min_pct']:g}% of the records"


_WORDS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], str]] = {
    "email": _email,
    "phone": _phone,
    "postcode": _postcode,
    "date_range": _date_range,
    "freshness": _freshness,
    "one_of": _one_of,
    "matches": _matches,
    "length": _length,
    "range": _range,
    "at_least_one_of": _at_least_one_of,
    "compare": _compare,
    "completeness": _completeness,
}
"""The checks with parameters; the others (``e164``, ``country_code``,
``no_card_or_id_numbers``) are described by their registry expectation alone."""
