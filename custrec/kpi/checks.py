"""The schema interaction logs are checked against (:func:`interaction_schema`),
which of its rules :class:`custrec.kpi.gate.ArrowGate` evaluates, and the fields
whose values can refuse a record: read from the schema alone (no numpy, no Arrow),
so that a log's reading can start before the gate is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from custrec.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from custrec.schema import Schema
    from custrec.schema.model import Rule

SUPPORTED_CHECKS = frozenset({"range", "one_of", "length", "compare", "at_least_one_of"})


@dataclass(frozen=True)
class GateRules:
    """The rules a record must pass on its own (severity error, no tolerance, field or
    row scope: what :class:`custrec.validate.SchemaGate` refuses records for), and the
    fields whose values can refuse a record (``needs``)."""

    schema: Schema
    rules: list[Rule]
    needs: frozenset[str]


def gate_rules(schema: Schema) -> GateRules | None:
    """The rules of ``schema`` for the Arrow gate, or None when one of them is a check
    it does not evaluate."""
    rules = schema.record_rules()
    if not all(_supported(rule, schema) for rule in rules):
        return None
    needs = {f.name for f in schema.fields.values() if f.required or f.type != "string"}
    for rule in rules:
        needs |= set(rule_fields(rule))
    return GateRules(schema, rules, frozenset(needs))


def rule_fields(rule: Rule) -> list[str]:
    """The fields a rule reads."""
    p = rule.params
    if rule.check == "compare":
        return [str(p["left"]), str(p["right"])]
    if rule.check == "at_least_one_of":
        return [str(name) for name in p["fields"]]
    return [rule.field] if rule.field else []


def _supported(rule: Rule, schema: Schema) -> bool:
    if rule.check not in SUPPORTED_CHECKS:
        return False
    kinds = []
    for name in rule_fields(rule):
        if name not in schema.fields:
            return False
        kinds.append(schema.fields[name].type)
    if rule.check == "range":
        return kinds[0] in ("integer", "number")
    if rule.check == "one_of":
        values = rule.params.get("values", [])
        return (
            kinds[0] == "string"
            and not rule.params.get("ignore_case")
            and all(isinstance(v, str) for v in values)
        )
    if rule.check == "length":
        return kinds[0] == "string"
    if rule.check == "compare":
        numbers, times = ("integer", "number"), ("datetime", "date")
        return all(k in numbers for k in kinds) or all(k in times for k in kinds)
    return True  # at_least_one_of


def interaction_schema(value: str | Path) -> Schema:
    """The schema logs are checked against, by shipped name or file (see
    :func:`custrec.resources.locate`): the shipped ``interaction`` schema or one that
    extends it, i.e. has each of its fields with the same type (and may add fields,
    checks and rules). Anything else is a :class:`~custrec.errors.UsageError`."""
    from custrec.schema import load_schema, shipped_schema

    chosen = load_schema(value)
    for name, base in shipped_schema("interaction").fields.items():
        own = chosen.fields.get(name)
        if own is None or own.type != base.type:
            problem = "is missing" if own is None else f"is {own.type}, not {base.type}"
            raise UsageError(
                f"{value}: not an extension of the interaction schema: the field {name!r} {problem}"
            )
    return chosen
