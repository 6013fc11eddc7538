"""Redaction policies: which strategy each field, and each type of personal data found
in free text, is redacted with.

A policy file is YAML::

    version: 1
    description: Extract for the analytics team    # optional, free text
    fields:
      email: pseudonymise
      phone: mask
      date_of_birth: {strategy: generalise, to: month}
      postcode: {strategy: generalise, kind: postcode}
      notes: scan
      internal_code: drop
    types:
      EMAIL_ADDRESS: pseudonymise
      CREDIT_CARD: mask
      default: replace
    default: drop

Top-level keys (every one is optional; any other key is an error):

``version``
    The format version: ``1``, the only one so far.
``description``
    Free text, for people; custrec does not use it.
``fields``
    A mapping of field names to the rule for that field. A rule is a strategy name,
    or a mapping with the key ``strategy`` and, where they apply, ``to`` and
    ``kind``:

    - ``strategy``: one of ``keep``, ``drop``, ``mask``, ``replace``,
      ``pseudonymise`` (also written ``pseudonym``), ``generalise``, ``scan``
      (see :mod:`custrec.redaction.operators`). ``scan`` searches the field's free
      text and replaces each finding as ``types`` says;
    - ``kind``: for ``generalise``, what the value is: ``date``, ``datetime``,
      ``postcode`` or ``age``; for ``mask``, ``replace`` and ``pseudonymise``, the
      type of personal data the field holds (one of :data:`ENTITY_TYPES`, e.g.
      ``PHONE_NUMBER``), which decides the shape of the mask, the tag and how the
      value is normalised before it is pseudonymised. Not allowed with ``keep``,
      ``drop`` and ``scan``. When it is not given, the caller decides from the field
      (its type and category in the schema);
    - ``to``: for ``generalise`` of a date, ``year`` (the default) or ``month``;
      ``to`` without ``kind`` means ``kind: date``.

    A field's entry here wins over the ``redaction:`` of the field in the schema.
``types``
    A mapping of entity type names (:data:`ENTITY_TYPES`) to the strategy that
    replaces a finding of that type in scanned free text: ``keep``, ``mask``,
    ``replace`` or ``pseudonymise``. The key ``default`` gives the strategy of every
    type the mapping does not list; without it, an unlisted type takes its entry in
    :data:`DEFAULT_TYPE_STRATEGIES`.
``default``
    The rule (as under ``fields``) of a field that has neither an entry under
    ``fields`` nor a ``redaction:`` in the schema. Without it: ``drop``, so that a
    field nobody classified never leaves unredacted; write ``default: keep`` or
    ``default: scan`` to pass such fields through, or through the scanner.

Each field name and type name may appear once. Every error is a
:class:`PolicyFileError` (exit 2) naming the file, the line and what was expected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from custrec.errors import UsageError
from custrec.redaction.national_ids import NATIONAL_ID_TYPES
from custrec.redaction.operators import (
    DATE_LEVELS,
    GENERALISE_KINDS,
    STRATEGIES,
    STRATEGY_ALIASES,
    canonical_strategy,
)
from custrec.schema.model import SchemaFileError
from custrec.yamldoc import YamlDocument

FORMAT_VERSION = 1

from custrec.redaction.detect import ENTITY_TYPES  # noqa: E402  (the one list)

TYPE_STRATEGIES = ("keep", "mask", "replace", "pseudonymise")
"""The strategies a finding in free text can be given (under ``types``)."""

DEFAULT_TYPE_STRATEGIES: dict[str, str] = {
    "EMAIL_ADDRESS": "pseudonymise",
    "PHONE_NUMBER": "pseudonymise",
    "PERSON": "pseudonymise",
    "CREDIT_CARD": "mask",
    "IBAN_CODE": "mask",
    "US_SSN": "replace",
    "UK_NINO": "replace",
    "IP_ADDRESS": "replace",
    "DATE_OF_BIRTH": "replace",
    "UK_POSTCODE": "replace",
    "US_ZIP": "replace",
    "LOCATION": "replace",
    **dict.fromkeys(NATIONAL_ID_TYPES, "replace"),
}
"""What replaces a finding in free text when the policy does not say.

Contact details and names are pseudonymised: nobody can read them, yet the same
customer is still recognised across notes and records. Card numbers and IBANs are
masked to their last 4 digits, as on a receipt or statement (PCI DSS allows showing
the last four). National ids (US SSN, UK NINO, the ones of
:mod:`custrec.redaction.national_ids`) are replaced outright: their last
digits are used to confirm identity, so not even those are shown. IP addresses, dates
of birth, postcodes and places are replaced by their tag."""

DEFAULT_TYPE_STRATEGY = "replace"
"""What replaces a finding of a type that neither the policy nor
:data:`DEFAULT_TYPE_STRATEGIES` names."""

_TOP_KEYS = ("version", "description", "fields", "types", "default")
_RULE_KEYS = ("strategy", "kind", "to")
_NO_KIND = ("keep", "drop", "scan")


class PolicyFileError(SchemaFileError):
    """The redaction policy file is wrong; the message names the file and line and
    what was expected (exit 2)."""


class FieldRule(NamedTuple):
    """How one field is redacted: a strategy of
    :data:`~custrec.redaction.operators.STRATEGIES`; ``to`` (``year`` or ``month``)
    for dates generalised; ``kind``: for ``generalise`` one of ``date``,
    ``datetime``, ``postcode``, ``age``, for ``mask``, ``replace`` and
    ``pseudonymise`` an entity type; None when the caller decides from the field."""

    strategy: str
    to: str | None = None
    kind: str | None = None


DEFAULT_FIELD_RULE = FieldRule("drop")
"""The rule of a field nobody classified, when the policy has no ``default``."""


@dataclass
class RedactionPolicy:
    """A redaction policy (see the module docstring). ``RedactionPolicy()`` is the
    policy used when none is given: no field entries, :data:`DEFAULT_TYPE_STRATEGIES`
    and ``drop`` for fields without a schema ``redaction:``.

    ``types`` holds the strategy of every type of :data:`ENTITY_TYPES`;
    ``type_default`` is for any other type name. ``field_lines`` gives the line of
    each field's entry in the policy file, for messages about it."""

    fields: dict[str, FieldRule] = dataclasses.field(default_factory=dict)
    types: dict[str, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_TYPE_STRATEGIES))
    default: FieldRule = DEFAULT_FIELD_RULE
    type_default: str = DEFAULT_TYPE_STRATEGY
    source: str = dataclasses.field(default="<policy>", compare=False)
    field_lines: dict[str, int | None] = dataclasses.field(default_factory=dict, compare=False)

    def for_field(self, name: str, schema_redaction: str | None = None) -> FieldRule:
        """The rule of field ``name``: the policy's entry for it, else the schema's
        ``redaction:`` of the field (``schema_redaction``: a strategy name), else the
        policy's default. A ``schema_redaction`` that is not a strategy raises
        :class:`~custrec.errors.UsageError`."""
        rule = self.fields.get(name)
        if rule is not None:
            return rule
        if schema_redaction is not None:
            strategy = canonical_strategy(schema_redaction)
            if strategy is None:
                raise UsageError(
                    f"field {name!r}: the schema's redaction {schema_redaction!r} is not a "
                    f"strategy (expected one of: {', '.join(STRATEGIES)})"
                )
            return FieldRule(strategy)
        return self.default

    def for_type(self, entity_type: str) -> str:
        """The strategy (:data:`TYPE_STRATEGIES`) of a finding of ``entity_type`` in
        scanned free text."""
        return self.types.get(entity_type, self.type_default)


# --- loading -------------------------------------------------------------------------


class _PolicyDoc(YamlDocument):
    """The policy's YAML with the line of every node (errors: :class:`PolicyFileError`)."""

    error_class = PolicyFileError

    def error(self, message: str, *path: Any) -> PolicyFileError:
        return PolicyFileError(self.source, message, self.line(*path))


def load_policy(path: str | Path) -> RedactionPolicy:
    """Read and check a policy file, or a shipped policy by name (``vendor-redaction``;
    see :func:`custrec.resources.locate`). Errors: :class:`PolicyFileError`."""
    from custrec.resources import REDACTION_POLICY, read_named_yaml

    return parse_policy(*read_named_yaml(path, REDACTION_POLICY, "policy file", PolicyFileError))


def parse_policy(text: str, source: str = "<policy>") -> RedactionPolicy:
    """A policy from YAML text (``source`` names it in messages)."""
    doc = _PolicyDoc(text, source)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error(
            "expected a mapping with 'version' and some of 'fields', 'types', 'default'"
        )
    _no_unknown_keys(doc, data, _TOP_KEYS, ())
    version = data.get("version", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise doc.error(
            f"policy format version {version!r} is not supported (expected {FORMAT_VERSION})",
            "version",
        )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise doc.error("'description' must be text", "description")

    fields_data = _mapping(doc, data.get("fields"), "fields", "each field name to its rule")
    fields: dict[str, FieldRule] = {}
    lines: dict[str, int | None] = {}
    for name, spec in fields_data.items():
        if not isinstance(name, str) or not name:
            raise doc.error(
                f"field name {name!r}: expected non-empty text (put the name in quotes)",
                "fields",
                str(name),
            )
        fields[name] = _rule(doc, spec, ("fields", name), f"field {name!r}")
        lines[name] = doc.line("fields", name)

    types_data = _mapping(doc, data.get("types"), "types", "each type name to its strategy")
    types = dict(DEFAULT_TYPE_STRATEGIES)
    type_default = DEFAULT_TYPE_STRATEGY
    if "default" in types_data:
        type_default = _type_strategy(doc, types_data["default"], "default")
        types = dict.fromkeys(ENTITY_TYPES, type_default)
    for name, value in types_data.items():
        if name == "default":
            continue
        if name not in ENTITY_TYPES:
            raise doc.error(
                f"unknown type name {name!r} (expected one of: {', '.join(ENTITY_TYPES)}, default)",
                "types",
                name,
            )
        types[name] = _type_strategy(doc, value, name)

    default = DEFAULT_FIELD_RULE
    if "default" in data:
        default = _rule(doc, data["default"], ("default",), "'default'")
    return RedactionPolicy(
        fields=fields,
        types=types,
        default=default,
        type_default=type_default,
        source=source,
        field_lines=lines,
    )


def _no_unknown_keys(
    doc: _PolicyDoc, data: dict[Any, Any], allowed: tuple[str, ...], path: tuple[Any, ...]
) -> None:
    for key in data:
        if key not in allowed:
            raise doc.error(
                f"unknown key {key!r} (expected one of: {', '.join(allowed)})", *path, key
            )


def _mapping(doc: _PolicyDoc, value: Any, key: str, what: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(f"'{key}' must map {what}", key)
    return value


def _strategy_names() -> str:
    aliases = ", ".join(f"{alias} (= {name})" for alias, name in STRATEGY_ALIASES.items())
    return f"{', '.join(STRATEGIES)}; also {aliases}"


def _rule(doc: _PolicyDoc, spec: Any, path: tuple[Any, ...], what: str) -> FieldRule:
    if isinstance(spec, str):
        spec = {"strategy": spec}
        strategy_path = path
    elif isinstance(spec, dict):
        _no_unknown_keys(doc, spec, _RULE_KEYS, path)
        strategy_path = (*path, "strategy")
    else:
        raise doc.error(
            f"{what}: expected a strategy name or a mapping with 'strategy' "
            "(and 'kind' or 'to' where they apply)",
            *path,
        )
    name = spec.get("strategy")
    if name is None:
        raise doc.error(f"{what}: 'strategy' is missing (one of: {_strategy_names()})", *path)
    strategy = canonical_strategy(name) if isinstance(name, str) else None
    if strategy is None:
        raise doc.error(
            f"{what}: unknown strategy {name!r} (expected one of: {_strategy_names()})",
            *strategy_path,
        )
    kind = spec.get("kind")
    to = spec.get("to")
    if to is not None:
        if strategy != "generalise":
            raise doc.error(
                f"{what}: 'to' applies to generalise of a date, not to {strategy}", *path, "to"
            )
        if to not in DATE_LEVELS:
            raise doc.error(
                f"{what}: bad 'to' {to!r} (expected {' or '.join(DATE_LEVELS)})", *path, "to"
            )
        if kind is None:
            kind = "date"
        elif kind not in ("date", "datetime"):
            raise doc.error(
                f"{what}: 'to' applies to dates only, not to kind {kind!r}", *path, "to"
            )
    if kind is not None:
        if strategy in _NO_KIND:
            raise doc.error(f"{what}: 'kind' does not apply to {strategy}", *path, "kind")
        allowed = GENERALISE_KINDS if strategy == "generalise" else ENTITY_TYPES
        if kind not in allowed:
            raise doc.error(
                f"{what}: unknown kind {kind!r} for {strategy} "
                f"(expected one of: {', '.join(allowed)})",
                *path,
                "kind",
            )
    return FieldRule(strategy, to, kind)


def _type_strategy(doc: _PolicyDoc, value: Any, name: str) -> str:
    strategy = canonical_strategy(value) if isinstance(value, str) else None
    if strategy == "scan":
        raise doc.error(
            f"type {name!r}: 'scan' applies to fields, not to types "
            f"(expected one of: {', '.join(TYPE_STRATEGIES)})",
            "types",
            name,
        )
    if strategy is None or strategy not in TYPE_STRATEGIES:
        raise doc.error(
            f"type {name!r}: unknown strategy {value!r} for a finding in free text "
            f"(expected one of: {', '.join(TYPE_STRATEGIES)})",
            "types",
            name,
        )
    return strategy
