"""Anonymised records: what a retention rule's ``anonymise`` action leaves, and the
rules such a record must pass.

The schema's ``anonymised`` section (:class:`custrec.schema.model.Anonymised`; without
one, derived from the fields' ``pii`` and ``redaction`` settings) names the fields an
anonymised record keeps as they are and those it keeps generalised. The rules:

- ``anonymised.id``: the id is a random ``ANON-`` id (16 hex digits), never the old one;
- ``anonymised.empty``: every other field is empty (fields the schema does not know
  are taken as personal data);
- ``anonymised.generalised``: a generalised field is empty or in its generalised form
  (a date or time: its year; text: a postcode's outward code, or a ZIP code's first
  three digits and ``XX``);
- ``anonymised.personal-data``: no kept or generalised text holds personal data the
  scanner finds (:class:`custrec.redaction.detect.Detector`), nor, when the original
  record is known, the customer's own name, email, phone or address.

:meth:`AnonymisedRules.anonymise` builds a record that passes them: a value that would
fail is emptied, never kept. ``custrec validate`` checks a store's anonymised records
(``_source`` ``anonymised by purge``) against these rules instead of the schema's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from custrec.redaction.detect import Detector
    from custrec.redaction.scan import KnownFields
    from custrec.schema import Schema

ANONYMISED_SOURCE = "anonymised by purge"
"""The provenance (``_source``) an anonymised record gets, followed by its rule."""

ID_PATTERN = re.compile(r"ANON-[0-9a-f]{16}")
_GENERALISED = {
    "date": re.compile(r"[0-9]{4}"),
    "postcode": re.compile(r"[0-9]{3}XX|[A-Z0-9]{1,5}"),
}

RULES: dict[str, tuple[str, str]] = {
    "anonymised.id": ("anonymised_id", "a random id: ANON- and 16 hex digits"),
    "anonymised.empty": ("anonymised_empty", "no value (not kept by the anonymised section)"),
    "anonymised.generalised": (
        "anonymised_generalised",
        "a generalised value: a year, a postcode's outward code, or NNNXX",
    ),
    "anonymised.personal-data": (
        "anonymised_personal_data",
        "no personal data (the scanner finds none)",
    ),
}
"""Rule id -> (check name, what it expects), as ``validate`` reports them."""


class Problem(NamedTuple):
    """An anonymised record failing a rule at a field."""

    rule: str
    field: str
    value: object


def is_anonymised(source: object) -> bool:
    """Whether a record's provenance (``_source``) says a purge anonymised it."""
    return isinstance(source, str) and source.startswith(ANONYMISED_SOURCE)


def _kind(field_type: str) -> str:
    return "date" if field_type in ("date", "datetime") else "postcode"


class AnonymisedRules:
    """The rules of ``schema`` (None: no field is kept) for records with ``id_field``."""

    def __init__(self, schema: Schema | None, id_field: str) -> None:
        self.id_field = id_field
        self.keep: frozenset[str] = frozenset()
        self.generalise: dict[str, str] = {}
        self._known: KnownFields | None = None
        if schema is not None:
            from custrec.redaction.scan import KnownFields

            section = schema.anonymised
            self.keep = frozenset(section.keep)
            self.generalise = {n: _kind(schema.fields[n].type) for n in section.generalise}
            self._known = KnownFields.of(schema)
        self._detector: Detector | None = None

    def _known_values(self, original: Mapping[str, Any] | None) -> Any:
        """The customer's own values in ``original``, for the scanner to find."""
        return self._known.values(original) if self._known and original else None

    def _finds(self, value: object, known: Any) -> bool:
        """Whether the scanner finds personal data (or ``known`` values) in a kept
        text value."""
        if not isinstance(value, str) or not value.strip():
            return False
        if self._detector is None:
            from custrec.redaction.detect import Detector

            self._detector = Detector()
        return bool(self._detector.find(value, known))

    def _generalised(self, name: str, value: object) -> bool:
        return isinstance(value, str) and bool(_GENERALISED[self.generalise[name]].fullmatch(value))

    def anonymise(
        self, record: Mapping[str, Any], rule: str, names: Iterable[str] = ()
    ) -> dict[str, Any]:
        """``record`` anonymised under retention rule ``rule``: a new random id, the
        kept fields, the generalised ones in their generalised form, every other field
        (``names`` are more to include, e.g. the store's columns) empty."""
        from custrec.redaction.operators import generalise

        out: dict[str, Any] = {"_source": f"{ANONYMISED_SOURCE} (rule {rule})"}
        known = self._known_values(record)
        for name in [*record, *(n for n in names if n not in record)]:
            if name.startswith("_"):
                continue
            value = record.get(name)
            if name == self.id_field:
                out[name] = f"ANON-{secrets.token_hex(8)}"
                continue
            kept: object = None
            if value is not None and name in self.keep:
                kept = value
            elif value is not None and name in self.generalise:
                try:
                    kept = generalise(str(value), self.generalise[name])
                except ValueError:
                    kept = None
                if not self._generalised(name, kept):
                    kept = None
            if kept is not None and self._finds(kept, known):
                kept = None
            out[name] = kept
        return out

    def problems(
        self, record: Mapping[str, Any], original: Mapping[str, Any] | None = None
    ) -> list[Problem]:
        """The rules ``record`` fails (none for what :meth:`anonymise` makes);
        ``original``, the record before, lets the customer's own values be found."""
        out: list[Problem] = []
        known = self._known_values(original)
        for name, value in record.items():
            if name.startswith("_"):
                continue
            empty = value is None or (isinstance(value, str) and not value.strip())
            if name == self.id_field:
                fresh = isinstance(value, str) and bool(ID_PATTERN.fullmatch(value))
                if not fresh or (original is not None and value == original.get(name)):
                    out.append(Problem("anonymised.id", name, value))
                continue
            if empty:
                continue
            if name in self.generalise:
                if not self._generalised(name, value):
                    out.append(Problem("anonymised.generalised", name, value))
                    continue
            elif name not in self.keep:
                out.append(Problem("anonymised.empty", name, value))
                continue
            if self._finds(value, known):
                out.append(Problem("anonymised.personal-data", name, value))
        return out
