"""Retention purges: which records a policy says must go, a plan to review, and its
application.

A retention policy (YAML, ``docs/retention.md``) is a list of rules. Each rule names
the records it applies to (``where``, simple comparisons joined by ``and``; or
``class``, a retention class of the schema, whose ``trigger`` and ``period`` it takes),
the field whose date starts the period (``trigger``), the period (``6y``, ``18m``,
``30d``) and the action: ``delete`` the record, or ``anonymise`` it (personal fields
removed, or generalised where the schema says ``generalise``; the id replaced by a
random one; everything else kept for statistics). A record is due when its trigger
date plus the period is on or before the day the purge runs as of. The first rule
that applies to a record and finds a date in its trigger field decides: the record is
due by that rule, or kept.

:func:`plan_purge` reads the store once (a streaming read) and returns a
:class:`PurgePlan`: per rule, the records due, named by their audit pseudonyms and
versions. Records under legal hold or restricted are never in a plan (they are counted
apart). :func:`apply_purge` applies a plan in one transaction, and only if every
planned record is still there at the planned version and not held: otherwise nothing
is purged (exit 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custrec.access import add_period, parse_period
from custrec.access import date_of as _date
from custrec.anonymised import AnonymisedRules, is_anonymised
from custrec.errors import UsageError
from custrec.progress import NO_PROGRESS, Progress
from custrec.render import Cell, Summary, Table
from custrec.schema.model import SchemaFileError
from custrec.yamldoc import YamlDocument

if TYPE_CHECKING:
    from custrec.audit import AuditContext
    from custrec.schema import Schema
    from custrec.store import KeySource, Store

ACTIONS = ("delete", "anonymise")
PLAN_VERSION = 1
_RULE_KEYS = ("id", "description", "where", "class", "trigger", "period", "action")
_TEXT_KEYS = {"id", "description", "where", "class", "trigger", "action"}
_COMPARISON = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*"
    r"('(?:[^']*)'|\"(?:[^\"]*)\"|true|false|null|-?[0-9]{1,18}(?:\.[0-9]{1,18})?)\s*"
)


class PolicyError(SchemaFileError):
    """A retention policy that cannot be used: the message names file and line (exit 2)."""


class _PolicyDoc(YamlDocument):
    error_class = PolicyError


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object

    def holds(self, record: Mapping[str, object]) -> bool:
        have = record.get(self.field)
        want = self.value
        if self.op == "==":
            return have == want
        if self.op == "!=":
            return have != want
        if have is None or want is None:
            return False
        try:
            return bool(
                {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[  # type: ignore[operator]
                    self.op
                ]
            )
        except TypeError:
            return False


@dataclass(frozen=True)
class RetentionRule:
    id: str
    trigger: str
    period: str
    action: str
    where: tuple[Condition, ...] = ()
    retention_class: str | None = None
    description: str | None = None

    def applies(self, record: Mapping[str, object]) -> bool:
        return all(c.holds(record) for c in self.where)

    def last_due(self, as_of: dt.date) -> dt.date:
        """The last trigger date due by ``as_of``: a record is due when its trigger
        date is at or before it (:func:`latest_start`)."""
        return latest_start(self.period, as_of)


@dataclass(frozen=True)
class RetentionPolicy:
    rules: tuple[RetentionRule, ...]
    grace: str | None = None
    digest: str = ""


def _literal(text: str) -> object:
    if text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return float(text) if "." in text else int(text)


def load_policy(
    path: str | Path, fields: Mapping[str, str], schema: Schema | None
) -> RetentionPolicy:
    """Read and check a policy file, or a shipped policy by name (``retention``; see
    :func:`custrec.resources.locate`), against the store's ``fields`` (name -> type)."""
    from custrec.resources import RETENTION_POLICY, read_named_yaml

    text, source = read_named_yaml(path, RETENTION_POLICY, "retention policy file", PolicyError)
    return parse_policy(text, source, fields, schema)


def parse_policy(
    text: str, source: str, fields: Mapping[str, str], schema: Schema | None = None
) -> RetentionPolicy:
    doc = _PolicyDoc(text, source)

    def error(message: str, *where: Any) -> PolicyError:
        return PolicyError(source, message, doc.line(*where))

    data = doc.data
    if not isinstance(data, dict):
        raise error("expected a mapping with 'rules'")
    unknown = [key for key in data if key not in ("version", "description", "grace", "rules")]
    if unknown:
        raise error(f"unknown key {unknown[0]!r}", unknown[0])
    version = data.get("version", 1)
    if type(version) is not int or version != 1:
        raise error("version must be 1", "version")
    if not isinstance(data.get("description", ""), str):
        raise error("'description' must be text", "description")
    grace = data.get("grace")
    if grace is not None:
        _period(grace, error, "grace")
    rules_doc = data.get("rules")
    if not isinstance(rules_doc, list) or not rules_doc:
        raise error("'rules' must be a list of at least one rule", "rules")
    classes = schema.retention_classes if schema is not None else {}
    rules: list[RetentionRule] = []
    seen: set[str] = set()
    for n, spec in enumerate(rules_doc):
        where = ("rules", n)
        if not isinstance(spec, dict):
            raise error("a rule must be a mapping", *where)
        extra = [key for key in spec if key not in _RULE_KEYS]
        if extra:
            raise error(f"rule: unknown key {extra[0]!r}", *where, extra[0])
        for key, value in spec.items():
            if key in _TEXT_KEYS and not isinstance(value, str):
                raise error(f"rule: {key!r} must be text", *where, key)
        rule_id = spec.get("id") or f"rule-{n + 1}"
        if rule_id in seen:
            raise error(f"rule id {rule_id!r} appears twice", *where, "id")
        seen.add(rule_id)
        klass = spec.get("class")
        base: Mapping[str, Any] = {}
        if klass is not None:
            if klass not in classes:
                known = ", ".join(classes) or "none: the store has no schema"
                raise error(
                    f"unknown retention class {klass!r} (classes: {known})", *where, "class"
                )
            base = classes[klass]
        trigger = spec.get("trigger", base.get("trigger"))
        period = spec.get("period", base.get("period"))
        if not isinstance(trigger, str | None):
            raise error(f"the trigger of class {klass!r} must be text", *where, "class")
        if not trigger:
            raise error("a rule needs 'trigger' (the field whose date starts the period)", *where)
        if trigger not in fields:
            raise error(
                f"unknown field {trigger!r} (fields: {', '.join(fields)})", *where, "trigger"
            )
        if period is None:
            raise error("a rule needs 'period' (e.g. 6y, 30d)", *where)
        _period(period, error, *where, "period")
        action = spec.get("action", "delete")
        if action not in ACTIONS:
            raise error(f"action {action!r}: expected delete or anonymise", *where, "action")
        conditions: list[Condition] = []
        if klass is not None:
            members = [
                name
                for name, item in (schema.fields.items() if schema else [])
                if item.retention == klass
            ]
            if not members:
                raise error(f"no field of the schema is in class {klass!r}", *where, "class")
        text_where = spec.get("where")
        if text_where is not None:
            for part in re.split(r"\band\b", str(text_where)):
                match = _COMPARISON.fullmatch(part)
                if not match:
                    raise error(
                        f"where: cannot read {part.strip()!r}; expected FIELD OP VALUE "
                        "(OP one of == != < <= > >=; VALUE a number, true, false, null or "
                        "'text'), joined by 'and'",
                        *where,
                        "where",
                    )
                name, op, literal = match.groups()
                if name not in fields:
                    raise error(f"where: unknown field {name!r}", *where, "where")
                value = _literal(literal)
                problem = _comparison_problem(name, fields[name], op, value)
                if problem:
                    raise error(f"where: {part.strip()}: {problem}", *where, "where")
                conditions.append(Condition(name, op, value))
        rules.append(
            RetentionRule(
                id=str(rule_id),
                trigger=str(trigger),
                period=str(period),
                action=str(action),
                where=tuple(conditions),
                retention_class=klass,
                description=spec.get("description"),
            )
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RetentionPolicy(tuple(rules), None if grace is None else str(grace), digest)


def _period(value: object, error: Any, *where: Any) -> None:
    if not isinstance(value, str):
        raise error("a period must be text: a number and d, w, m or y (e.g. 6y, 30d)", *where)
    try:
        parse_period(value)
    except UsageError as exc:
        raise error(str(exc), *where) from None


_FIELD_KINDS = {"string": "text", "int64": "number", "float64": "number", "bool": "true/false"}


def _comparison_problem(name: str, field_type: str, op: str, value: object) -> str | None:
    """Why ``name OP value`` cannot hold as meant, or None. A value of another type
    than the field's would never be equal (text ``'true'`` is not ``true``), so the
    comparison is refused rather than silently matching nothing; ``null`` only with
    ``==`` and ``!=``; true/false are not ordered."""
    if value is None:
        return None if op in ("==", "!=") else "null compares with == or != only"
    kind = _FIELD_KINDS.get(field_type)
    if kind is None:
        return None
    given = "text" if isinstance(value, str) else "number"
    if isinstance(value, bool):
        given = "true/false"
    if kind != given:
        example = {"text": "'text' in quotes", "number": "a number", "true/false": "true or false"}
        return f"field {name!r} holds {kind}: compare it with {example[kind]} or null"
    if kind == "true/false" and op not in ("==", "!="):
        return "true/false compare with == or != only"
    return None


@dataclass
class PlannedRecord:
    """A record a purge removes: ``until`` is the last day of its grace period when it
    is first made invisible; None when it goes now (no grace, or its grace ended)."""

    pseudonym: str
    version: int
    rule: str
    action: str
    until: str | None = None
    grace_ended: bool = False
    record_id: str = field(repr=False, default="")


@dataclass
class PurgePlan:
    """What a purge would do (see the module docstring)."""

    store: str
    store_id: str
    as_of: str
    policy_digest: str
    records: list[PlannedRecord]
    rules: list[RetentionRule]
    held: int = 0
    restricted: int = 0
    without_trigger: dict[str, int] = field(default_factory=dict)
    show_ids: bool = False
    applied: bool = False
    grace: str | None = None
    in_grace: int = 0
    store_records: int | None = None
    """Records in the store when planned (None in a plan read from an older file)."""
    kind: str = "purge-plan"

    def counts(self) -> dict[str, int]:
        out = {rule.id: 0 for rule in self.rules}
        for record in self.records:
            out[record.rule] = out.get(record.rule, 0) + 1
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "store_id": self.store_id,
            "as_of": self.as_of,
            "policy_digest": self.policy_digest,
            "applied": self.applied,
            "store_records": self.store_records,
            "due": len(self.records),
            "rules": [
                {
                    "id": rule.id,
                    "action": rule.action,
                    "count": self.counts()[rule.id],
                    "without_trigger_date": self.without_trigger.get(rule.id, 0),
                }
                for rule in self.rules
            ],
            "held_skipped": self.held,
            "restricted_skipped": self.restricted,
            "grace": self.grace,
            "in_grace": self.in_grace,
            "grace_ended": sum(1 for r in self.records if r.grace_ended),
            "records": [
                {
                    "pseudonym": r.pseudonym,
                    "version": r.version,
                    "rule": r.rule,
                    "action": r.action,
                    "until": r.until,
                    **({"id": r.record_id} if self.show_ids else {}),
                }
                for r in self.records
            ],
        }

    def tables(self) -> list[Table]:
        counts = self.counts()
        tables = [
            Table(
                ["rule", "action", "due", "no trigger date"],
                [
                    [rule.id, rule.action, counts[rule.id], self.without_trigger.get(rule.id, 0)]
                    for rule in self.rules
                ],
                "Purge by rule",
            )
        ]
        if self.show_ids:
            tables.append(
                Table(
                    ["id", "pseudonym", "rule", "action", "until"],
                    [
                        [r.record_id, r.pseudonym, r.rule, r.action, r.until or ""]
                        for r in self.records
                    ],
                    "Records due",
                )
            )
        return tables

    def summary(self) -> Summary:
        items: list[tuple[str, Cell]] = [("store", self.store), ("as of", self.as_of)]
        if self.store_records is not None:
            items.append(("records in the store", self.store_records))
        items += [
            ("due (purged when applied)", len(self.records)),
            ("applied", self.applied),
            ("held, left alone", self.held),
            ("restricted, left alone", self.restricted),
        ]
        if self.grace:
            items.append(("in a grace period", self.in_grace))
        return Summary(items)


def plan_purge(
    store: Store,
    policy: RetentionPolicy,
    as_of: dt.date,
    *,
    show_ids: bool = False,
    audited: bool = True,
    grace: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> PurgePlan:
    """The records ``policy`` says must go as of ``as_of`` (one streaming read of the
    store, audited as ``purge-plan`` unless ``audited`` is false: a plan without ids
    discloses no personal data, and a dry run changes no byte of the store). Held and
    restricted records are counted, never planned. With a grace period (``grace``, else
    the policy's), due records are first made invisible until it ends; records whose
    grace period has ended by ``as_of`` are destroyed. ``progress`` counts the records
    read."""
    id_field = store.settings.id_field
    chosen_grace = grace or policy.grace
    until = add_period(as_of, chosen_grace).isoformat() if chosen_grace else None
    records: list[PlannedRecord] = []
    without: dict[str, int] = {}
    held = in_grace = 0
    guarded = store.guarded_tokens()
    purged = store.purged_states()
    states_held = bool(guarded or purged)
    day = as_of.isoformat()
    needed = {id_field, "_version", "_source"}
    for rule in policy.rules:
        needed |= {rule.trigger, *(c.field for c in rule.where)}
    from custrec.io import regrouped

    # the last due trigger date of each rule, worked out once, not a period added to
    # every record's date (0.13 s of a 1 s plan of 1M records, 100k of them due)
    limits = [(rule, rule.last_due(as_of)) for rule in policy.rules]
    batches = store.iter_batches(
        system=True,
        action="purge-plan",
        include_restricted=True,
        include_purged=True,
        audited=audited,
    )
    progress.start(store.count(), "records")
    for batch in regrouped(batches):  # Arrow's calls cost per batch: few, large ones
        progress.advance(batch.num_rows)
        narrow = batch.select([n for n in batch.schema.names if n in needed])
        if not purged:
            narrow = narrow.filter(_maybe_due(narrow, limits))
        for record in narrow.to_pylist():
            record_id = str(record[id_field])
            token = store.token_hex(record_id) if states_held else ""
            state = guarded.get(token)
            if token in purged:
                entry = purged[token]
                if state == "hold" or entry["until"] > day:
                    in_grace += 1
                    continue
                records.append(
                    PlannedRecord(
                        "",  # pseudonyms: worked out together below
                        int(record["_version"]),
                        entry["rule"],
                        entry["action"],
                        grace_ended=True,
                        record_id=record_id,
                    )
                )
                continue
            for rule, limit in limits:
                if not rule.applies(record):
                    continue
                start = _date(record.get(rule.trigger))
                if start is None:
                    without[rule.id] = without.get(rule.id, 0) + 1
                    continue  # no date to count from: the next rule may apply
                if start > limit:  # not due
                    break
                if rule.action == "anonymise" and is_anonymised(record.get("_source")):
                    break  # done by an earlier purge
                if state == "hold":
                    held += 1
                elif state != "restricted":
                    records.append(
                        PlannedRecord(
                            "",  # pseudonyms: worked out together below
                            int(record["_version"]),
                            rule.id,
                            rule.action,
                            until=until,
                            record_id=record_id,
                        )
                    )
                break
    progress.close()
    for planned, pseudonym in zip(
        records, store.pseudonyms_of([r.record_id for r in records]), strict=True
    ):
        planned.pseudonym = pseudonym
    restricted = sum(1 for state in guarded.values() if state == "restricted")
    return PurgePlan(
        store=str(store.path),
        store_id=store.store_id,
        as_of=day,
        policy_digest=policy.digest,
        records=records,
        rules=list(policy.rules),
        held=held,
        restricted=restricted,
        without_trigger=without,
        show_ids=show_ids,
        store_records=store.count(),
        grace=chosen_grace,
        in_grace=in_grace,
    )


def latest_start(period: str, as_of: dt.date) -> dt.date:
    """The last trigger date that ``period`` has run out from by ``as_of``: a date ``d``
    is due exactly when ``d <= latest_start(period, as_of)`` (adding a period is
    monotone, so the dates due form a prefix of the calendar)."""
    amount, unit = parse_period(period)
    try:
        if unit in ("d", "w"):
            return as_of - dt.timedelta(days=amount * (7 if unit == "w" else 1))
        guess = as_of - dt.timedelta(days=amount * (366 if unit == "y" else 31) + 1)
    except OverflowError:  # before the calendar's start: only its first day can be
        return dt.date.min
    while add_period(guess + dt.timedelta(days=1), period) <= as_of:
        guess += dt.timedelta(days=1)
    return guess


def _maybe_due(batch: Any, limits: Sequence[tuple[RetentionRule, dt.date]]) -> Any:
    """Where a row may be due, found with Arrow: for some rule, its ``where`` may hold
    and its trigger is missing, not a plain date, or a date the period has run out
    from. A row left out has, for every rule, a ``where`` that is false or a readable
    trigger date not yet due: the exact reading would keep it and count it nowhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.num_rows
    names = batch.schema.names
    anything = pa.array([True] * rows)
    maybe = pa.array([False] * rows)
    for rule, limit in limits:
        if rule.trigger not in names:
            return anything
        applies = anything
        for condition in rule.where:
            applies = pc.and_(applies, _may_hold(batch, condition, rows))
        column = batch.column(rule.trigger)
        if not pa.types.is_string(column.type):
            return anything
        text = pc.utf8_slice_codeunits(column, 0, 10)
        day = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        real = _real_days(text, day)
        plain = pc.fill_null(pc.match_substring_regex(column, _PLAIN_TIME), False)
        moment = dt.datetime(limit.year, limit.month, limit.day)
        not_due = pc.fill_null(pc.greater(day, pa.scalar(moment, pa.timestamp("s"))), False)
        surely_kept = pc.and_(pc.and_(plain, real), not_due)
        maybe = pc.or_(maybe, pc.and_(applies, pc.invert(surely_kept)))
    return maybe


def _real_days(text: Any, day: Any) -> Any:
    """Where ``text`` (ten characters) is a real date written ``YYYY-MM-DD``, given
    ``day``, its reading by ``strptime``, which takes 2020-02-30 for 1 March and
    2020-1-05 for 5 January: a real date is one Arrow's strict cast reads too (tried
    for the whole batch), else one written back the same (slower)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    read = pc.is_valid(day)
    try:
        pc.cast(pc.if_else(read, text, pa.scalar(None, pa.string())), pa.date32())
    except pa.ArrowInvalid:
        return pc.fill_null(pc.equal(pc.strftime(day, format="%Y-%m-%d"), text), False)
    return read


_PLAIN_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
"""Dates and times that :func:`custrec.access.date_of` reads whenever their date is
real (then their day is their first ten characters)."""

_ARROW_COMPARE = {
    "==": "equal",
    "!=": "not_equal",
    "<": "less",
    "<=": "less_equal",
    ">": "greater",
    ">=": "greater_equal",
}


def _may_hold(batch: Any, condition: Condition, rows: int) -> Any:
    """Where ``condition`` may hold: exact for a value of the column's own kind, else
    everywhere (the exact reading decides)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    everywhere = pa.array([True] * rows)
    if condition.field not in batch.schema.names or condition.value is None:
        return everywhere
    column = batch.column(condition.field)
    value = condition.value
    kind = column.type
    fits = (
        (pa.types.is_string(kind) and isinstance(value, str))
        or (pa.types.is_boolean(kind) and isinstance(value, bool))
        or (
            (pa.types.is_integer(kind) or pa.types.is_floating(kind))
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
    )
    if not fits:
        return everywhere
    compared = getattr(pc, _ARROW_COMPARE[condition.op])(column, pa.scalar(value))
    return pc.fill_null(compared, True)  # a missing value: the exact reading decides


def save_plan(plan: PurgePlan, path: str, *, inputs: Sequence[str | None] = ()) -> None:
    """Write a plan for review (pseudonyms only, mode 0600). ``path`` may not be a
    store, a key file or one of ``inputs`` (the files the caller reads)."""
    from custrec.atomic import atomic_file

    document = {"version": PLAN_VERSION, "kind": plan.kind, **plan.to_json()}
    with atomic_file(path, mode=0o600, inputs=inputs) as handle:
        handle.write((json.dumps(document, indent=2) + "\n").encode("utf-8"))


def read_plan(path: str) -> dict[str, Any]:
    from custrec.errors import InputError

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(document, dict) or document.get("kind") != "purge-plan":
        raise InputError(path, "not a purge plan (kind 'purge-plan')")
    return document


def check_plan(saved: Mapping[str, Any], fresh: PurgePlan) -> None:
    """Refuse (exit 1) unless the store still gives exactly the saved plan."""
    from custrec.store.states import PlanMismatchError

    if saved.get("store_id") != fresh.store_id:
        raise PlanMismatchError("the plan was made for another store")
    if saved.get("policy_digest") != fresh.policy_digest:
        raise PlanMismatchError("the policy file changed since the plan was made")
    before = {(r["pseudonym"], r["version"], r["rule"]) for r in saved.get("records", [])}
    now = {(r.pseudonym, r.version, r.rule) for r in fresh.records}
    if before != now:
        gone, new = len(before - now), len(now - before)
        raise PlanMismatchError(
            f"the store no longer matches the plan ({gone} planned record(s) changed, were "
            f"held or are gone; {new} not planned are now due): nothing was purged; make a "
            "new plan"
        )


def apply_purge(
    store: Store, plan: PurgePlan, policy: RetentionPolicy, schema: Schema | None
) -> PurgePlan:
    """Carry out ``plan`` in one transaction per kind of step: records entering their
    grace period become invisible (:meth:`custrec.store.Store.mark_purged`); the
    others are deleted or anonymised (:meth:`custrec.store.Store.purge`)."""
    counts = {f"rule:{rule}": n for rule, n in plan.counts().items() if n}
    graced = {
        r.record_id: (r.version, r.rule, r.action, str(r.until))
        for r in plan.records
        if r.until is not None
    }
    now = [r for r in plan.records if r.until is None]
    current = _records(store, [r.record_id for r in now if r.action == "anonymise"])
    rules = AnonymisedRules(schema, store.settings.id_field) if current else None
    columns = [name for name, _ in store.columns]
    planned: dict[str, tuple[int, Mapping[str, object] | None]] = {}
    for record in now:
        if record.action == "delete" or rules is None:
            planned[record.record_id] = (record.version, None)
        else:
            data = current[record.record_id]
            new = rules.anonymise(data, record.rule, columns)
            problems = rules.problems(new, data)
            if problems:  # anonymise empties whatever would fail: a defect if reached
                raise AssertionError(f"an anonymised record fails {problems[0].rule}")
            planned[record.record_id] = (record.version, new)
    if graced:
        store.mark_purged(graced, counts=counts)
    if planned:
        store.purge(planned, counts=counts)  # type: ignore[arg-type]
    plan.applied = True
    return plan


def _records(store: Store, record_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The fields of these records, those in their grace period (invisible to
    :meth:`~custrec.store.Store.get_many`) included."""
    from custrec.store.states import PlanMismatchError

    if not record_ids:
        return {}
    found: dict[str, Mapping[str, Any]] = {
        i: r.data for i, r in store.get_many(record_ids, action="purge-read").items()
    }
    missing = set(record_ids) - set(found)
    if missing:
        id_field = store.settings.id_field
        for batch in store.iter_batches(
            include_purged=True, include_restricted=True, action="purge-read"
        ):
            for row in batch.to_pylist():
                if str(row[id_field]) in missing:
                    found[str(row[id_field])] = row
    if len(found) != len(set(record_ids)):
        raise PlanMismatchError("a planned record is no longer in the store: make a new plan")
    return found


def log_pseudonym(pseudonym: str) -> str:
    """What replaces a purged or erased customer's id in interaction logs: derived from
    the customer's audit pseudonym, so the same customer's contacts stay together (FCR
    by repeat contacts, contacts per customer) while nobody can tell who it was."""
    return f"P-{pseudonym[:20]}"


def pseudonymise_logs(
    logs: Sequence[str],
    key: KeySource,
    pseudonyms: Mapping[str, str],
    *,
    context: AuditContext | None = None,
    lock_timeout: float = 10.0,
) -> dict[str, int]:
    """Replace the customer ids of ``pseudonyms`` (customer id -> audit pseudonym) in
    the interaction-log stores ``logs`` (each opened by ``key``) by
    :func:`log_pseudonym`; one all-or-nothing transaction per log. The rows changed per
    log. Run before the customers are removed, so that a run killed between the two
    steps, run again, finishes both."""
    from custrec.store import RecordChange, is_store_file, open_store

    changed: dict[str, int] = {}
    for path in logs:
        if not is_store_file(path):
            raise UsageError(
                f"--logs {path}: not a custrec store (interaction logs to be pseudonymised "
                "must be kept in a store: custrec init --schema interaction)"
            )
        with open_store(path, key, context=context, lock_timeout=lock_timeout) as log:
            if "customer_id" not in dict(log.columns):
                raise UsageError(f"--logs {path}: the store has no customer_id field")
            id_field = log.settings.id_field
            changes = []
            for batch in log.iter_batches(
                action="pseudonymise-logs", fields=["customer_id"], include_restricted=True
            ):
                for row_id, customer in zip(
                    batch.column(id_field).to_pylist(),
                    batch.column("customer_id").to_pylist(),
                    strict=True,
                ):
                    if customer is not None and str(customer) in pseudonyms:
                        value = log_pseudonym(pseudonyms[str(customer)])
                        changes.append(RecordChange(str(row_id), {"customer_id": value}))
            if changes:
                log.update_many(changes)
            changed[path] = len(changes)
    return changed
