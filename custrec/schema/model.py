"""The schema file: custrec's YAML format for record schemas (``docs/schema.md``).

A schema names the fields a record may have, their types, whether they are required,
the rules (checks) their values must pass, and what each field is for: personal-data
category, whether it is PII, how it is redacted, the purposes it serves, the lawful
basis for special categories, and its retention class. Schema-level entries name the
id field, the fields used to match duplicates, rules across fields or over the whole
dataset, the retention classes, and the field groups and roles
(:mod:`custrec.schema.groups`).

Loading is strict: an unknown key, check name or parameter, a wrong type, or a
special-category field without a purpose and lawful basis is a
:class:`SchemaFileError` (exit 2) naming the file and line. :func:`dump_schema` writes
a schema back; loading what it wrote gives an equal schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custrec.errors import UsageError
from custrec.schema.groups import (
    WHOLE_RECORD,
    FieldGroup,
    Role,
    default_roles,
    parse_groups,
    parse_roles,
)
from custrec.schema.registry import CHECKS, COMPARE_OPS, PHONE_LEVELS, CheckSpec
from custrec.types import FIELD_TYPES, column_type
from custrec.yamldoc import YamlDocument, YamlFileError

FORMAT_VERSION = 1
SEVERITIES = ("error", "warn")
GENERALISED_TYPES = ("string", "date", "datetime")
"""Types an anonymised record keeps in a generalised form (a postcode's outward code, a
date's year); a stored number cannot hold a band."""
SPECIAL_CATEGORY = "special"
"""Categories ``special.*`` (health, religion, ethnicity, biometrics, ...) need a
declared purpose and lawful basis (GDPR Art. 9)."""


class SchemaFileError(YamlFileError):
    """The schema file is wrong; the message names the file and line (exit 2)."""


@dataclass
class Rule:
    """One check with its settings: ``id`` (stable, used in reports), the registered
    ``check`` name and its ``params``, a ``severity`` and an optional tolerance
    (``max_fail_pct``: the rule passes while at most this share of rows fail)."""

    id: str
    check: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    severity: str = "error"
    max_fail_pct: float | None = None
    field: str | None = None
    description: str | None = None
    line: int | None = dataclasses.field(default=None, compare=False)

    @property
    def spec(self) -> CheckSpec:
        return CHECKS[self.check]

    @property
    def reported_field(self) -> str | None:
        """The field a failure of this rule is reported under: its own field, a
        data-set rule's ``field``, a comparison's left side; None for a rule across
        several fields."""
        return self.field or self.params.get("field") or self.params.get("left")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "check": self.check, **self.params}
        if self.severity != "error":
            out["severity"] = self.severity
        if self.max_fail_pct is not None:
            out["max_fail_pct"] = self.max_fail_pct
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Field:
    """A field of the record: type, presence, rules, and what it is for."""

    name: str
    type: str = "string"
    required: bool = False
    unique: bool = False
    description: str | None = None
    pii: bool = False
    category: str | None = None
    redaction: str | None = None
    purpose: list[str] = dataclasses.field(default_factory=list)
    lawful_basis: str | None = None
    retention: str | None = None
    rules: list[Rule] = dataclasses.field(default_factory=list)
    line: int | None = dataclasses.field(default=None, compare=False)

    @property
    def special(self) -> bool:
        return bool(self.category) and str(self.category).split(".")[0] == SPECIAL_CATEGORY

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key in ("required", "unique", "pii"):
            if getattr(self, key):
                out[key] = True
        for key in ("description", "category", "redaction", "lawful_basis", "retention"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.purpose:
            out["purpose"] = list(self.purpose)
        if self.rules:
            out["checks"] = [rule.to_dict() for rule in self.rules]
        return out


@dataclass
class Anonymised:
    """What an anonymised record may keep (the schema's ``anonymised`` section): the
    fields kept as they are and those kept only in a generalised form; every other
    field is emptied and the id replaced (rules: :mod:`custrec.anonymised`)."""

    keep: list[str]
    generalise: list[str]
    description: str | None = None
    declared: bool = True
    """False when derived from the fields' ``pii`` and ``redaction`` settings."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["keep"] = list(self.keep)
        out["generalise"] = list(self.generalise)
        return out


@dataclass
class Schema:
    """A record schema (see the module docstring and ``docs/schema.md``)."""

    name: str
    id_field: str
    fields: dict[str, Field]
    match_fields: list[str] = dataclasses.field(default_factory=list)
    strict: bool = True
    rules: list[Rule] = dataclasses.field(default_factory=list)
    retention_classes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    description: str | None = None
    anonymised_section: Anonymised | None = None
    groups: dict[str, FieldGroup] = dataclasses.field(default_factory=dict)
    """The field groups (``groups`` section); empty: one group of every field."""
    roles_section: dict[str, Role] = dataclasses.field(default_factory=dict)
    """The ``roles`` section: roles replacing or added to the shipped ones."""
    source: str = dataclasses.field(default="<schema>", compare=False)

    @property
    def field_groups(self) -> dict[str, FieldGroup]:
        """The declared groups, or without any, one group (``record``) of every field."""
        return self.groups or {WHOLE_RECORD: FieldGroup(WHOLE_RECORD, tuple(self.fields))}

    @property
    def roles(self) -> dict[str, Role]:
        """The shipped roles for these groups, with the schema's own replacing them."""
        return {**default_roles(self.field_groups), **self.roles_section}

    def group_of(self, name: str) -> str:
        """The group of a field or derived field (KeyError: no such field)."""
        for group in self.field_groups.values():
            if name in group.names:
                return group.name
        raise KeyError(name)

    @property
    def anonymised(self) -> Anonymised:
        """What an anonymised record keeps: the ``anonymised`` section, or without one,
        the fields that are not personal data (or are redacted ``keep``) kept and those
        redacted ``generalise`` generalised."""
        if self.anonymised_section is not None:
            return self.anonymised_section
        fields = [f for name, f in self.fields.items() if name != self.id_field]
        return Anonymised(
            keep=[f.name for f in fields if not f.pii or f.redaction == "keep"],
            generalise=[
                f.name
                for f in fields
                if f.pii and f.redaction == "generalise" and f.type in GENERALISED_TYPES
            ],
            declared=False,
        )

    def all_rules(self) -> list[Rule]:
        """Every rule: the fields' (in field order), then the schema-level ones."""
        return [rule for f in self.fields.values() for rule in f.rules] + list(self.rules)

    def record_rules(self) -> list[Rule]:
        """The rules a record must pass on its own, which ``collect`` and ``update``
        refuse a record for: field and row rules of severity error without a tolerance
        (not uniqueness or data-set rules, which judge records together)."""
        return [
            rule
            for rule in self.all_rules()
            if rule.severity == "error"
            and rule.max_fail_pct is None
            and rule.spec.scope in ("field", "row")
        ]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.all_rules():
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def store_columns(self) -> list[tuple[str, str]]:
        """The store columns of the fields, id first: integers, numbers and true/false
        are stored typed; text, dates and times as text (ISO 8601)."""
        ordered = [self.fields[self.id_field]]
        ordered += [f for name, f in self.fields.items() if name != self.id_field]
        return [(f.name, column_type(f.type)) for f in ordered]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": FORMAT_VERSION, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["id"] = self.id_field
        if self.match_fields:
            out["match"] = list(self.match_fields)
        out["strict"] = self.strict
        if self.retention_classes:
            out["retention_classes"] = {k: dict(v) for k, v in self.retention_classes.items()}
        out["fields"] = {name: f.to_dict() for name, f in self.fields.items()}
        if self.rules:
            out["rules"] = [rule.to_dict() for rule in self.rules]
        if self.anonymised_section is not None:
            out["anonymised"] = self.anonymised_section.to_dict()
        if self.groups:
            out["groups"] = {name: g.to_dict() for name, g in self.groups.items()}
        if self.roles_section:
            out["roles"] = {name: r.to_dict() for name, r in self.roles_section.items()}
        return out


# --- loading -------------------------------------------------------------------------

_SCHEMA_KEYS = {
    "version",
    "name",
    "description",
    "id",
    "match",
    "strict",
    "retention_classes",
    "fields",
    "rules",
    "anonymised",
    "groups",
    "roles",
}
_ANONYMISED_KEYS = {"description", "keep", "generalise"}
_FIELD_KEYS = {
    "type",
    "required",
    "unique",
    "description",
    "pii",
    "category",
    "redaction",
    "purpose",
    "lawful_basis",
    "retention",
    "checks",
}
_RULE_KEYS = {"id", "check", "severity", "max_fail_pct", "description"}


class _Located(YamlDocument):
    """The schema's YAML document, lines and all (errors: :class:`SchemaFileError`)."""

    error_class = SchemaFileError


def shipped_schema(name: str) -> Schema:
    """A schema shipped with custrec, by name (``customer``, ``interaction``; see
    :mod:`custrec.resources`)."""
    from custrec.resources import SCHEMA, shipped

    item = shipped(name, SCHEMA)
    return parse_schema(item.read_text(), f"{name} (shipped schema)")


def load_schema(path: str | Path) -> Schema:
    """Read and check a schema file, or a shipped schema by name (``customer``; see
    :func:`custrec.resources.locate`). Errors: :class:`SchemaFileError`."""
    from custrec.resources import SCHEMA, read_named_yaml

    return parse_schema(*read_named_yaml(path, SCHEMA, "schema file", SchemaFileError))


def parse_schema(text: str, source: str = "<schema>") -> Schema:
    """A schema from YAML text (``source`` names it in messages)."""
    doc = _Located(text, source)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("expected a mapping with 'name', 'id' and 'fields'")
    doc.refuse_unknown_keys(data, _SCHEMA_KEYS)
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise doc.error(
            f"schema format version {version!r} is not supported (expected {FORMAT_VERSION})",
            "version",
        )
    name = _text(doc, data.get("name"), "name", required=True)
    fields_data = data.get("fields")
    if not isinstance(fields_data, dict) or not fields_data:
        raise doc.error("'fields' must map each field name to its definition", "fields")
    fields: dict[str, Field] = {}
    rule_ids: set[str] = set()
    for field_name, spec in fields_data.items():
        fields[str(field_name)] = _field(doc, str(field_name), spec, rule_ids)
    id_field = _text(doc, data.get("id"), "id", required=True)
    if id_field not in fields:
        raise doc.error(f"the id field {id_field!r} is not one of the fields", "id")
    match = data.get("match", [])
    if not isinstance(match, list) or not all(isinstance(m, str) for m in match):
        raise doc.error("'match' must be a list of field names", "match")
    for position, name_ in enumerate(match):
        if name_ not in fields:
            raise doc.error(f"match field {name_!r} is not one of the fields", "match", position)
    strict = data.get("strict", True)
    if not isinstance(strict, bool):
        raise doc.error("'strict' must be true or false", "strict")
    classes = data.get("retention_classes", {}) or {}
    if not isinstance(classes, dict) or not all(isinstance(v, dict) for v in classes.values()):
        raise doc.error(
            "'retention_classes' must map each class name to its settings", "retention_classes"
        )
    for class_name, settings in classes.items():
        _retention_class(doc, class_name, settings)
    for field_name, item in fields.items():
        if item.retention is not None and item.retention not in classes:
            raise doc.error(
                f"retention class {item.retention!r} is not in 'retention_classes'",
                "fields",
                field_name,
                "retention",
            )
    rules_data = data.get("rules", []) or []
    if not isinstance(rules_data, list):
        raise doc.error("'rules' must be a list of checks", "rules")
    rules = [
        _rule(doc, item, ("rules", n), None, rule_ids, fields) for n, item in enumerate(rules_data)
    ]
    for item in fields.values():
        for n, rule in enumerate(item.rules):
            _check_field_refs(doc, rule, fields, ("fields", item.name, "checks", n))
    groups = parse_groups(doc, data, fields)
    return Schema(
        name=name,
        id_field=id_field,
        fields=fields,
        match_fields=list(match),
        strict=strict,
        rules=rules,
        retention_classes={str(k): dict(v) for k, v in classes.items()},
        description=_text(doc, data.get("description"), "description"),
        anonymised_section=_anonymised(doc, data, fields, id_field),
        groups=groups if "groups" in data else {},
        roles_section=parse_roles(doc, data, groups),
        source=source,
    )


def _anonymised(
    doc: _Located, data: Mapping[str, Any], fields: Mapping[str, Field], id_field: str
) -> Anonymised | None:
    """The ``anonymised`` section: lists of known fields, none twice, not the id, and
    no personal field kept as it is unless its redaction is ``keep``."""
    if "anonymised" not in data:
        return None
    spec = data["anonymised"]
    path: tuple[Any, ...] = ("anonymised",)
    if not isinstance(spec, dict):
        raise doc.error("'anonymised' must be a mapping with 'keep' and 'generalise'", *path)
    doc.refuse_unknown_keys(spec, _ANONYMISED_KEYS, *path)
    lists: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for key in ("keep", "generalise"):
        names = spec.get(key, []) or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise doc.error(f"'anonymised.{key}' must be a list of field names", *path, key)
        for position, name in enumerate(names):
            where = (*path, key, position)
            if name not in fields:
                raise doc.error(f"anonymised.{key}: {name!r} is not one of the fields", *where)
            if name == id_field:
                raise doc.error(
                    f"anonymised.{key}: the id field {name!r} is always replaced by a random id",
                    *where,
                )
            if name in seen:
                raise doc.error(
                    f"anonymised.{key}: {name!r} is listed already (in {seen[name]!r})", *where
                )
            seen[name] = key
            item = fields[name]
            if key == "keep" and item.pii and item.redaction != "keep":
                raise doc.error(
                    f"anonymised.keep: {name!r} is personal data (pii: true): an anonymised "
                    "record cannot keep it as it is (generalise it, or empty it)",
                    *where,
                )
            if key == "generalise" and item.type not in GENERALISED_TYPES:
                raise doc.error(
                    f"anonymised.generalise: {name!r} is of type {item.type}: only text "
                    "(postcodes), dates and times are generalised in a stored record",
                    *where,
                )
        lists[key] = list(names)
    return Anonymised(
        keep=lists["keep"],
        generalise=lists["generalise"],
        description=_text(doc, spec.get("description"), *path, "description"),
    )


def _retention_class(doc: _Located, name: Any, settings: Mapping[str, Any]) -> None:
    """A retention class's ``trigger`` is a field name and its ``period`` a period
    (``6y``), when given."""
    from custrec.access import parse_period

    where = ("retention_classes", name)
    for key in ("trigger", "description"):
        if key in settings and not isinstance(settings[key], str):
            raise doc.error(f"retention class {name!r}: {key!r} must be text", *where, key)
    if "period" in settings:
        period = settings["period"]
        try:
            if not isinstance(period, str):
                raise UsageError("a period must be text: a number and d, w, m or y (e.g. 6y)")
            parse_period(period)
        except UsageError as exc:
            raise doc.error(f"retention class {name!r}: {exc}", *where, "period") from None


def _text(doc: _Located, value: Any, *path: Any, required: bool = False) -> Any:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise doc.error(f"'{path[-1]}' must be non-empty text", *path)
    return value


def _flag(doc: _Located, value: Any, *path: Any) -> bool:
    if not isinstance(value, bool):
        raise doc.error(f"'{path[-1]}' must be true or false", *path)
    return value


def _field(doc: _Located, name: str, spec: Any, rule_ids: set[str]) -> Field:
    path = ("fields", name)
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise doc.error(f"field {name!r}: expected a mapping of its settings", *path)
    if name.startswith("_"):
        raise doc.error(f"field {name!r}: names starting with '_' are reserved", *path)
    doc.refuse_unknown_keys(spec, _FIELD_KEYS, *path)
    kind = spec.get("type", "string")
    if kind not in FIELD_TYPES:
        raise doc.error(
            f"field {name!r}: unknown type {kind!r} (expected one of {', '.join(FIELD_TYPES)})",
            *path,
            "type",
        )
    purpose = spec.get("purpose", [])
    if isinstance(purpose, str):
        purpose = [purpose]
    if not isinstance(purpose, list) or not all(isinstance(p, str) for p in purpose):
        raise doc.error(f"field {name!r}: 'purpose' must be text or a list", *path, "purpose")
    item = Field(
        name=name,
        type=kind,
        required=_flag(doc, spec.get("required", False), *path, "required"),
        unique=_flag(doc, spec.get("unique", False), *path, "unique"),
        description=_text(doc, spec.get("description"), *path, "description"),
        pii=_flag(doc, spec.get("pii", False), *path, "pii"),
        category=_text(doc, spec.get("category"), *path, "category"),
        redaction=_text(doc, spec.get("redaction"), *path, "redaction"),
        purpose=list(purpose),
        lawful_basis=_text(doc, spec.get("lawful_basis"), *path, "lawful_basis"),
        retention=_text(doc, spec.get("retention"), *path, "retention"),
        line=doc.line(*path),
    )
    if item.redaction is not None:
        from custrec.redaction.operators import STRATEGIES, canonical_strategy

        strategy = canonical_strategy(item.redaction)
        if strategy is None:
            raise doc.error(
                f"field {name!r}: unknown redaction {item.redaction!r} "
                f"(expected one of {', '.join(STRATEGIES)})",
                *path,
                "redaction",
            )
        item.redaction = strategy
    if item.special and (not item.purpose or not item.lawful_basis):
        raise doc.error(
            f"field {name!r} is in special category {item.category!r}: it is refused unless "
            "the schema declares its 'purpose' and 'lawful_basis' (GDPR Art. 9)",
            *path,
            "category",
        )
    checks = spec.get("checks", []) or []
    if not isinstance(checks, list):
        raise doc.error(f"field {name!r}: 'checks' must be a list", *path, "checks")
    item.rules = [
        _rule(doc, check, (*path, "checks", n), name, rule_ids, None, item.type)
        for n, check in enumerate(checks)
    ]
    return item


def _rule(
    doc: _Located,
    data: Any,
    path: tuple[Any, ...],
    field_name: str | None,
    rule_ids: set[str],
    fields: Mapping[str, Field] | None,
    field_type: str | None = None,
) -> Rule:
    if isinstance(data, str):
        data = {"check": data}
    if not isinstance(data, dict):
        raise doc.error("a check is a mapping with at least 'check: NAME'", *path)
    name = data.get("check")
    if not isinstance(name, str):
        raise doc.error("a check needs 'check: NAME'", *path)
    spec = CHECKS.get(name)
    if spec is None:
        raise doc.error(
            f"unknown check {name!r} (known: {', '.join(sorted(CHECKS))})", *path, "check"
        )
    if field_name is None and spec.scope == "field":
        raise doc.error(
            f"check {name!r} applies to one field: put it under that field's 'checks'",
            *path,
            "check",
        )
    if field_name is not None and spec.scope != "field":
        raise doc.error(
            f"check {name!r} is about several fields or all records: put it under 'rules'",
            *path,
            "check",
        )
    if field_type is not None and spec.types and field_type not in spec.types:
        raise doc.error(
            f"check {name!r} applies to fields of type {' or '.join(spec.types)}, not {field_type}",
            *path,
            "check",
        )
    params = {k: v for k, v in data.items() if k not in _RULE_KEYS}
    for key in params:
        if key not in spec.params:
            known = ", ".join(sorted(spec.params)) or "none"
            raise doc.error(
                f"check {name!r}: unknown parameter {key!r} (parameters: {known})", *path, key
            )
    for key, param in spec.params.items():
        if key in params:
            problem = param.problem(params[key])
            if problem:
                raise doc.error(f"check {name!r}: '{key}' {problem}", *path, key)
            if param.kind == "date":
                params[key] = str(params[key])  # a YAML date, or its text: YYYY-MM-DD
        elif param.required:
            raise doc.error(f"check {name!r} needs '{key}'", *path)
    invalid = _value_problem(name, params)
    if invalid:
        key, message = invalid
        raise doc.error(f"check {name!r}: {message}", *path, key)
    default_id = f"{field_name}.{name}" if field_name else name
    rule_id = data.get("id", default_id)
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise doc.error("'id' must be non-empty text", *path, "id")
    if rule_id in rule_ids:
        raise doc.error(
            f"rule id {rule_id!r} is used twice; give each rule its own id",
            *path,
            *(("id",) if "id" in data else ()),
        )
    rule_ids.add(rule_id)
    severity = data.get("severity", "error")
    if severity not in SEVERITIES:
        raise doc.error("'severity' must be error or warn", *path, "severity")
    tolerance = data.get("max_fail_pct")
    if tolerance is not None and (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not 0 <= tolerance <= 100
    ):
        raise doc.error("'max_fail_pct' must be a number from 0 to 100", *path, "max_fail_pct")
    rule = Rule(
        id=rule_id,
        check=name,
        params=params,
        severity=severity,
        max_fail_pct=float(tolerance) if tolerance is not None else None,
        field=field_name,
        description=_text(doc, data.get("description"), *path, "description"),
        line=doc.line(*path),
    )
    if fields is not None:
        _check_field_refs(doc, rule, fields, path)
    return rule


def _value_problem(name: str, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """Parameter values a type alone does not rule out: (key, why), or None."""
    import datetime as dt
    import re

    if name == "compare" and params.get("op") not in COMPARE_OPS:
        return "op", f"'op' must be one of {' '.join(COMPARE_OPS)}"
    if name == "phone":
        if params.get("level", "valid") not in PHONE_LEVELS:
            return "level", f"'level' must be one of {', '.join(PHONE_LEVELS)}"
        if "region" in params and "region_field" in params:
            return "region", "give 'region' or 'region_field', not both"
    if name == "matches":
        try:
            re.compile(str(params["pattern"]))
        except re.error as exc:
            return "pattern", f"'pattern' is not a valid regular expression ({exc})"
    if name == "date_range":
        for key in ("min", "max"):
            if key in params:
                try:
                    dt.date.fromisoformat(str(params[key]))
                except ValueError:
                    return key, f"'{key}' must be a date YYYY-MM-DD"
    if name in ("length", "range") and "min" not in params and "max" not in params:
        return "min", "give 'min', 'max' or both"
    return None


def _check_field_refs(
    doc: _Located, rule: Rule, fields: Mapping[str, Field], path: Sequence[Any]
) -> None:
    """Parameters that name fields must name fields of the schema, of a fitting type."""
    for key, param in rule.spec.params.items():
        if not param.is_field or key not in rule.params:
            continue
        value = rule.params[key]
        for name in value if isinstance(value, list) else [value]:
            if name not in fields:
                raise doc.error(
                    f"check {rule.check!r}: '{key}' names {name!r}, which is not a field",
                    *path,
                    key,
                )
    if rule.check == "compare":
        kinds = [_family(fields[rule.params[side]].type) for side in ("left", "right")]
        if kinds[0] != kinds[1]:
            raise doc.error(
                f"check 'compare': {rule.params['left']!r} and {rule.params['right']!r} "
                "are of types that do not compare (text, numbers, dates and times, "
                "true/false compare only among themselves)",
                *path,
                "right",
            )
    if rule.check in ("postcode", "phone"):
        key = "country_field" if rule.check == "postcode" else "region_field"
        if key in rule.params and fields[rule.params[key]].type != "string":
            raise doc.error(f"check {rule.check!r}: '{key}' must name a text field", *path, key)


def _family(kind: str) -> str:
    return {"integer": "number", "date": "moment", "datetime": "moment"}.get(kind, kind)


def dump_schema(schema: Schema) -> str:
    """The schema as YAML text, loadable by :func:`parse_schema`."""
    import yaml

    return yaml.safe_dump(schema.to_dict(), sort_keys=False, allow_unicode=True, width=88)
