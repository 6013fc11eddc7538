"""The schema's rules on one record, from the same definitions as the batch engine.

``update`` must answer at once: loading polars and Narwhals costs about a third of a
second, more than the rest of the command. So the rule definitions of
:mod:`custrec.schema.rules`, written against a Narwhals-shaped expression namespace,
are evaluated here on a plain namespace of one record (:class:`Value`): every
expression is computed at once on a Python value, with the engines' semantics (null
propagates, ``&`` and ``|`` follow Kleene logic, a ``when`` chain takes the first true
condition, ``str.contains`` searches with the pattern as Rust's regex reads ``$``).
Only the operations the rules use exist here; a property test holds the verdicts to
the batch engine's on random records, for every rule type.

:class:`RecordRules` gives a record's failures (rule id, field, message).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from custrec.schema import rules
from custrec.schema.model import Schema

Text = str  # within Value, ``str`` is its text namespace


class DataType:
    """A data type of the namespace, comparable with its family (``Datetime``)."""

    def __init__(self, name: str, time_zone: str | None = None) -> None:
        self.name = name
        self.time_zone = time_zone

    def __call__(self, unit: str = "us", time_zone: str | None = None) -> DataType:
        return DataType(self.name, time_zone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def is_numeric(self) -> bool:
        return self.name in ("Int32", "Int64", "Float64")

    def is_integer(self) -> bool:
        return self.name in ("Int32", "Int64")


@lru_cache(maxsize=256)
def _engine_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` as the engines read it: ``$`` at its end is the end of the text
    (Python's ``$`` also matches before a final newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


class _Text:
    def __init__(self, value: Value) -> None:
        self.v = value.v

    def _map(self, function: Callable[[str], Any]) -> Value:
        return Value(None if self.v is None else function(self.v))

    def contains(self, pattern: str, literal: bool = False) -> Value:
        if literal:
            return self._map(lambda t: pattern in t)
        compiled = _engine_pattern(pattern)
        return self._map(lambda t: compiled.search(t) is not None)

    def strip_chars(self, characters: str | None = None) -> Value:
        return self._map(lambda t: t.strip(characters))

    def strip_chars_start(self, characters: str | None = None) -> Value:
        return self._map(lambda t: t.lstrip(characters))

    def starts_with(self, prefix: str) -> Value:
        return self._map(lambda t: t.startswith(prefix))

    def len_chars(self) -> Value:
        return self._map(len)

    def to_lowercase(self) -> Value:
        return self._map(str.lower)

    def to_uppercase(self) -> Value:
        return self._map(str.upper)

    def slice(self, offset: int, length: int | None = None) -> Value:
        end = None if length is None else offset + length
        return self._map(lambda t: t[offset:end])

    def replace(self, pattern: str, value: str, *, literal: bool = False) -> Value:
        if literal:
            return self._map(lambda t: t.replace(pattern, value, 1))
        compiled = _engine_pattern(pattern)
        return self._map(lambda t: compiled.sub(value.replace("\\", "\\\\"), t, count=1))

    def replace_all(self, pattern: str, value: str, *, literal: bool = False) -> Value:
        if literal:
            return self._map(lambda t: t.replace(pattern, value))
        compiled = _engine_pattern(pattern)
        return self._map(lambda t: compiled.sub(value.replace("\\", "\\\\"), t))

    def zfill(self, width: int) -> Value:
        return self._map(lambda t: t.zfill(width))

    def to_datetime(self, format: str | None = None) -> Value:
        # The rules parse two forms only: YYYY-MM-DD and YYYY-MM-DDTHH:MM:SS[.f]+HH:MM.
        return self._map(lambda t: dt.datetime.fromisoformat(t))


class _Moment:
    """The time zone operations of the rules, which only ever name UTC."""

    def __init__(self, value: Value) -> None:
        self.v = value.v

    def replace_time_zone(self, zone: str) -> Value:
        return Value(None if self.v is None else self.v.replace(tzinfo=dt.UTC))

    def convert_time_zone(self, zone: str) -> Value:
        if self.v is None:
            return Value(None)
        try:
            return Value(self.v.astimezone(dt.UTC))
        except OverflowError:  # before 0001-01-01 in UTC: the rules refuse it as out of range
            return Value(None)


def _both(a: Any, b: Any, function: Callable[[Any, Any], Any]) -> Value:
    left = a.v if isinstance(a, Value) else a
    right = b.v if isinstance(b, Value) else b
    if left is None or right is None:
        return Value(None)
    return Value(function(left, right))


class Value:
    """One value (None is null) with the expression methods the rules use."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    @property
    def str(self) -> _Text:
        return _Text(self)

    @property
    def dt(self) -> _Moment:
        return _Moment(self)

    def alias(self, name: Text) -> Value:
        return self

    def is_null(self) -> Value:
        return Value(self.v is None)

    def fill_null(self, value: Any) -> Value:
        return Value(value) if self.v is None else self

    def is_in(self, values: list[Any]) -> Value:
        return Value(None if self.v is None else self.v in values)

    def is_finite(self) -> Value:
        return Value(None if self.v is None else math.isfinite(self.v))

    def cast(self, dtype: DataType) -> Value:
        v = self.v
        if v is None:
            return self
        name = dtype.name
        if name == "String":
            if isinstance(v, bool):
                return Value("true" if v else "false")
            return Value(str(v))
        if name == "Float64":
            return Value(float(v))
        if name in ("Int32", "Int64"):
            return Value(int(v))
        return self  # Datetime: already a UTC instant

    def __invert__(self) -> Value:
        return Value(None if self.v is None else not self.v)

    def __and__(self, other: Any) -> Value:
        right = other.v if isinstance(other, Value) else other
        if self.v is False or right is False:
            return Value(False)
        if self.v is None or right is None:
            return Value(None)
        return Value(True)

    def __or__(self, other: Any) -> Value:
        right = other.v if isinstance(other, Value) else other
        if self.v is True or right is True:
            return Value(True)
        if self.v is None or right is None:
            return Value(None)
        return Value(False)

    def __eq__(self, other: Any) -> Value:  # type: ignore[override]
        return _both(self, other, lambda a, b: a == b)

    def __ne__(self, other: Any) -> Value:  # type: ignore[override]
        return _both(self, other, lambda a, b: a != b)

    def __lt__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a >= b)

    def __add__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a + b)

    def __radd__(self, other: Any) -> Value:
        return _both(other, self, lambda a, b: a + b)

    def __sub__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a - b)

    def __rsub__(self, other: Any) -> Value:
        return _both(other, self, lambda a, b: a - b)

    def __mul__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a * b)

    def __floordiv__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a // b)

    def __mod__(self, other: Any) -> Value:
        return _both(self, other, lambda a, b: a % b)  # floored, as the engines take it

    __hash__ = None  # type: ignore[assignment]


class _When:
    """``when(c).then(x).when(c2).then(y).otherwise(z)``: the first true condition."""

    def __init__(self, decided: bool, value: Any, condition: Any) -> None:
        self._decided = decided
        self._value = value
        self._condition = condition

    def then(self, value: Any) -> _Then:
        if not self._decided and _truth(self._condition):
            return _Then(True, _value(value))
        return _Then(self._decided, self._value)


class _Then(Value):
    __slots__ = ("_decided",)

    def __init__(self, decided: bool, value: Value) -> None:
        super().__init__(value.v if decided else None)
        self._decided = decided

    def when(self, condition: Any) -> _When:
        return _When(self._decided, Value(self.v), condition)

    def otherwise(self, value: Any) -> Value:
        return Value(self.v) if self._decided else _value(value)


def _truth(condition: Any) -> bool:
    return (condition.v if isinstance(condition, Value) else condition) is True


def _value(value: Any) -> Value:
    return value if isinstance(value, Value) else Value(value)


class RecordNamespace:
    """The namespace the rules are evaluated in for one record (``columns``: name to
    value, filled as the stages compute them)."""

    String = DataType("String")
    Float64 = DataType("Float64")
    Int64 = DataType("Int64")
    Int32 = DataType("Int32")
    Boolean = DataType("Boolean")
    Datetime = DataType("Datetime")
    Date = DataType("Date")
    Unknown = DataType("Unknown")

    def __init__(self, columns: dict[str, Any]) -> None:
        self.columns = columns

    def col(self, name: str) -> Value:
        found = self.columns.get(name)
        return found if isinstance(found, Value) else Value(found)

    def lit(self, value: Any, dtype: Any = None) -> Value:
        return Value(value)

    def when(self, condition: Any) -> _When:
        return _When(False, Value(None), condition)

    def any_horizontal(self, *values: Any, ignore_nulls: bool = True) -> Value:
        return Value(any(_truth(v) for v in values))

    def concat_str(self, values: list[Any], *, separator: str = "") -> Value:
        """The texts joined; null when any is null (``concat_str`` of the engines)."""
        texts = [_value(v).v for v in values]
        if any(text is None for text in texts):
            return Value(None)
        return Value(separator.join(str(text) for text in texts))


class _Stages(rules.Stages):
    """Stages that compute at once: each value is put into the record's columns."""

    def put(self, stage: int, name: str, expr: Any) -> Any:
        self.ns.columns[name] = expr
        return expr


class _Context(rules.Context):
    """A context whose lookups are called at once (one record: one call)."""

    def lookup(self, item: rules.Lookup) -> Any:
        when, key = _value(item.when), _value(item.key)
        asked = when.v is True and key.v is not None
        return Value(item.function(key.v) if asked else item.default)


def type_of(value: object) -> DataType:
    """The namespace's type of a raw value, as a column holding it would have."""
    if value is None:
        return RecordNamespace.Unknown
    if isinstance(value, bool):
        return RecordNamespace.Boolean
    if isinstance(value, int):
        return RecordNamespace.Int64
    if isinstance(value, float):
        return RecordNamespace.Float64
    if isinstance(value, dt.datetime):
        return RecordNamespace.Datetime(time_zone="UTC" if value.tzinfo else None)
    return RecordNamespace.String


class RecordRules:
    """The rules a record must pass on its own: types, required fields, and the field
    and cross-field checks of severity error without a tolerance (as ``collect``'s
    batch gate, :class:`custrec.validate.SchemaGate`)."""

    def __init__(self, schema: Schema, as_of: str | None = None) -> None:
        from custrec.schema.expectations import expectations
        from custrec.schema.scalar import as_of_day

        as_of_day(as_of)  # a ValueError now for a day that is not YYYY-MM-DD
        self.schema = schema
        self.as_of = as_of
        self.rules = schema.record_rules()
        self._expected = expectations(schema)

    def failures(self, record: Mapping[str, object]) -> list[tuple[str, str | None, str]]:
        """(rule id, field, message) for each rule the record fails."""
        ns = RecordNamespace({})
        stages = _Stages(ns)
        for item in self.schema.fields.values():
            raw = record.get(item.name)
            rules.conversion(stages, item.name, item.type, Value(raw), type_of(raw))
        out: list[tuple[str, str | None, str]] = []
        for item in self.schema.fields.values():
            if item.type != "string" and ns.col(rules.bad_column(item.name)).v is True:
                rule_id = f"{item.name}.type"
                out.append((rule_id, item.name, f"expected {self._expected[rule_id]}"))
            if item.required and ns.col(rules.empty_column(item.name)).v is True:
                rule_id = f"{item.name}.required"
                out.append((rule_id, item.name, f"expected {self._expected[rule_id]}"))
        context = _Context(self.schema, self.as_of, ns=ns)
        for rule in self.rules:
            passes = rules.rule_expression(context, rule)
            if passes.v is False:
                where = rule.reported_field
                out.append((rule.id, where, f"rule {rule.id}: expected {self._expected[rule.id]}"))
        return out
