"""Checking and typing the columns of a log batch with Arrow and numpy.

:class:`ArrowGate` gives, for a batch of Arrow columns, the verdicts of
:class:`custrec.validate.SchemaGate` (a value that does not convert to its field's
type, a missing required value, and the field and cross-field rules of severity error
without a tolerance) together with the converted values, so that each column is
converted once and serves both the checks and the KPI engine. It works on whole
columns: text is trimmed with Arrow's kernels (those pandas' string methods use),
numbers and ISO 8601 times are parsed by Arrow (a time's form is first told from its
length and a few bytes, since Arrow reads some forms custrec refuses), and a batch
with an impossible date is read by numpy from the bytes, shape by shape. Whatever
these paths cannot decide exactly (a value with spaces around it, a number Arrow does
not read) goes through :func:`custrec.validate.convert_values`, the conversion ``validate``
itself uses, so the verdicts are the same value for value.

:meth:`ArrowGate.of` answers None for a schema with a rule it does not evaluate
(patterns, phone numbers, dates against today...), and :meth:`ArrowGate.check` None
for a column of an Arrow type it does not convert: the caller then uses
:class:`~custrec.validate.SchemaGate` on that batch.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custrec.kpi import arrays
from custrec.kpi.checks import GateRules, gate_rules
from custrec.kpi.columns import NAT

if TYPE_CHECKING:
    from custrec.schema import Schema
    from custrec.schema.model import Rule

_OFFSET = r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
_MAX_TIME_CHARS = 32  # the longest ISO 8601 shape custrec reads: 2026-03-02T09:00:00.123456+01:00


@dataclass
class Typed:
    """One column checked and converted: ``present`` (a value, not missing or blank),
    ``bad`` (a value that does not convert) and the values in the type's form (the
    others None): ``raw`` and ``text`` (the text as given and trimmed, missing where not
    present), ``numbers`` (float64, NaN where missing or bad), ``flags`` (Arrow
    booleans, null where missing or bad), ``instants`` (int64 microseconds in UTC, times
    without an offset read as UTC; ``NAT`` where missing or bad) with ``offset`` (the
    value had an offset or was an instant already)."""

    kind: str
    present: np.ndarray
    bad: np.ndarray | None = None
    raw: pa.Array | None = None
    text: pa.Array | None = None
    numbers: np.ndarray | None = None
    flags: pa.Array | None = None
    instants: np.ndarray | None = None
    offset: np.ndarray | None = None
    _converted: np.ndarray | None = field(default=None, repr=False)

    def converted(self) -> np.ndarray:
        """Where the converted value is not missing (worked out once)."""
        if self._converted is None:
            if self.numbers is not None:
                self._converted = ~np.isnan(self.numbers)
            elif self.instants is not None:
                self._converted = self.instants != NAT
            elif self.flags is not None:
                self._converted = _valid(self.flags)
            else:
                self._converted = self.present
        return self._converted


class ArrowGate:
    """See the module docstring."""

    def __init__(self, rules: GateRules) -> None:
        self.schema = rules.schema
        self.rules = rules.rules
        self.needs = rules.needs
        """The fields whose values can refuse a record."""

    @classmethod
    def of(cls, schema: Schema) -> ArrowGate | None:
        """The gate of ``schema``, or None when one of its rules is not evaluated here."""
        rules = gate_rules(schema)
        return None if rules is None else cls(rules)

    def check(
        self, columns: Mapping[str, pa.Array], rows: int, convert: Collection[str] = ()
    ) -> tuple[dict[str, Typed], list[tuple[str, np.ndarray]]] | None:
        """The fields of :attr:`needs` and ``convert`` converted, and every failure as
        (rule id, rows failing), in the order :class:`SchemaGate` reports them; a field
        without a column is missing throughout. None when a column's type is not one
        converted here."""
        typed: dict[str, Typed] = {}
        failures: list[tuple[str, np.ndarray]] = []
        items = [
            item
            for item in self.schema.fields.values()
            if item.name in self.needs or item.name in convert
        ]
        # Arrow's kernels and numpy release the GIL: the columns convert side by side.
        done = _pool().map(lambda item: converted(columns.get(item.name), item.type, rows), items)
        for item, column in zip(items, done, strict=True):
            if column is None:
                return None
            typed[item.name] = column
            if column.bad is not None and column.bad.any():
                failures.append((f"{item.name}.type", column.bad))
            if item.required and not column.present.all():
                failures.append((f"{item.name}.required", ~column.present))
        for rule in self.rules:
            failing = _failing(rule, typed, rows)
            if failing.any():
                failures.append((rule.id, failing))
        return typed, failures


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))


def converted(array: pa.Array | None, kind: str, rows: int) -> Typed | None:
    """``array`` (None: missing throughout) checked and converted to ``kind`` (a
    schema type), or None when its Arrow type is not converted here."""

    if array is None:
        array = pa.nulls(rows)
    if kind == "string":
        return _text_typed(array)
    if kind in ("integer", "number"):
        return _number_typed(array, kind)
    if kind == "boolean":
        return _flag_typed(array)
    if kind in ("datetime", "date"):
        return _time_typed(array, kind)
    return None


# --- rules ---------------------------------------------------------------------------


def _failing(rule: Rule, typed: Mapping[str, Typed], rows: int) -> np.ndarray:
    """Where ``rule`` fails (an empty value passes a field's rules)."""

    p = rule.params
    if rule.check == "compare":
        a, b = typed[str(p["left"])], typed[str(p["right"])]
        left, right = _comparable(a), _comparable(b)
        holds = {
            "<": np.less,
            "<=": np.less_equal,
            "==": np.equal,
            "!=": np.not_equal,
            ">=": np.greater_equal,
            ">": np.greater,
        }[str(p["op"])](left, right)
        out: np.ndarray = a.converted() & b.converted() & ~holds
        return out
    if rule.check == "at_least_one_of":
        filled = np.zeros(rows, dtype=bool)
        for name in p["fields"]:
            filled |= typed[str(name)].converted()
        return ~filled
    column = typed[str(rule.field)]
    if rule.check == "range":
        assert column.numbers is not None
        outside = np.zeros(rows, dtype=bool)
        low, high = p.get("min"), p.get("max")
        if rows and not np.isnan(least := np.fmin.reduce(column.numbers)):  # NaN: no values
            with np.errstate(invalid="ignore"):
                if low is not None and least < low:
                    outside |= column.numbers < low
                if high is not None and np.fmax.reduce(column.numbers) > high:
                    outside |= column.numbers > high
        return outside
    assert column.raw is not None
    if rule.check == "one_of":
        allowed = arrays.strings(p["values"]).cast(column.raw.type)
        listed = pc.is_in(column.raw, value_set=allowed)
        unlisted: np.ndarray = column.present & ~arrays.flags(listed)
        return unlisted
    # length, in characters of the text as given: a value has no more characters than
    # bytes, and one at least when it has a byte, so its bytes settle most batches
    low, high = p.get("min"), p.get("max")
    offsets, _ = arrays.layout(column.raw)
    size = np.diff(offsets)
    if (low is None or low <= 1) and (high is None or size.max(initial=0) <= high):
        short: np.ndarray = column.present & (size < (0 if low is None else low))
        return short
    lengths = arrays.numbers(pc.utf8_length(column.raw), 0)
    wrong = np.zeros(rows, dtype=bool)
    if p.get("min") is not None:
        wrong |= lengths < p["min"]
    if p.get("max") is not None:
        wrong |= lengths > p["max"]
    out = column.present & wrong
    return out


def _comparable(column: Typed) -> np.ndarray:
    if column.numbers is not None:
        return column.numbers
    assert column.instants is not None
    return column.instants


# --- conversions ---------------------------------------------------------------------


def as_text(array: pa.Array) -> pa.Array | None:
    """Arrow text of any string type as ``string`` or ``large_string``; None when the
    column is not text (a column of nulls is missing text)."""

    kind = array.type
    if pa.types.is_dictionary(kind):
        if not (pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)):
            return None
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array
    if pa.types.is_string_view(kind) or pa.types.is_null(kind):
        return array.cast(pa.string())
    return None


def _trimmed(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The text trimmed of white space, and where it is not missing or blank."""

    plain = _plain_edges(text)
    if plain is not None:
        return text, plain
    trimmed = pc.utf8_trim_whitespace(text)
    present = arrays.numbers(pc.binary_length(trimmed), 0) > 0
    return trimmed, present


def _plain_edges(text: pa.Array) -> np.ndarray | None:
    """Where ``text`` has a value, when every value starts and ends with a printable
    ASCII character other than a space (so trimming changes nothing); else None."""

    offsets, data = arrays.layout(text)
    lengths = np.diff(offsets)
    present = _valid(text) & (lengths > 0)
    starts = offsets[:-1][present]
    if not len(starts):
        return present
    first = data[starts]
    last = data[offsets[1:][present] - 1]
    plain = (first > 32) & (first < 127) & (last > 32) & (last < 127)
    return present if bool(plain.all()) else None


def _text_typed(array: pa.Array) -> Typed | None:

    text = as_text(array)
    if text is None:
        return None
    trimmed, present = _trimmed(text)
    if not present.all():
        keep = arrays.booleans(present)
        text = pc.if_else(keep, text, pa.nulls(len(text), text.type))
        trimmed = pc.if_else(keep, trimmed, pa.nulls(len(text), text.type))
    return Typed("string", present, raw=text, text=trimmed)


def _number_typed(array: pa.Array, kind: str) -> Typed | None:
    present: np.ndarray
    if pa.types.is_integer(array.type):
        numbers = arrays.numbers(array, np.nan).astype("float64", copy=False)
        present = _valid(array)
        # as a float, the largest int64 values round up to 2**63: not an int64 any more
        if not len(numbers) or not np.fmax.reduce(numbers) >= 2.0**63:
            return Typed(kind, present, numbers=numbers)
        fits = numbers < 2.0**63
        numbers = np.where(fits, numbers, np.nan)
        return Typed(kind, present, bad=present & ~fits, numbers=numbers)
    if pa.types.is_floating(array.type):
        numbers = arrays.numbers(pc.cast(array, pa.float64(), safe=False), np.nan)
        present = ~np.isnan(numbers)
    else:
        text = as_text(array)
        if text is None:
            return None
        trimmed, present = _trimmed(text)
        values = trimmed
        if not present.all():
            values = pc.if_else(arrays.booleans(present), trimmed, pa.nulls(len(text), text.type))
        try:
            cast = pc.cast(values, pa.float64())
        except pa.ArrowInvalid:  # a value that is not a number: the exact path
            cast = None  # (taken outside the handler: Arrow's message quotes the value)
        if cast is None:
            return _legacy(text, kind)
        numbers = arrays.numbers(cast, np.nan)
    with np.errstate(invalid="ignore"):
        fine = np.isfinite(numbers)
        if kind == "integer":
            fine &= (np.mod(numbers, 1) == 0) & (numbers >= -(2.0**63)) & (numbers < 2.0**63)
            # Whole-number text is read exactly (custrec.schema.rules.conversion): at the
            # bounds, its float value rounds across them.
            edge = np.flatnonzero(present & (np.abs(numbers) >= 2.0**63))
            for place in edge:
                fine[place] = _whole_fits(trimmed[int(place)].as_py(), bool(fine[place]))
    if not fine.all():
        numbers = np.where(fine, numbers, np.nan)
    return Typed(kind, present, bad=present & ~fine, numbers=numbers)


def _whole_fits(text: str, rounded: bool) -> bool:
    """Whether whole-number ``text`` fits 64 bits (``rounded``, its float verdict, for
    other text)."""
    import re

    from custrec.schema.scalar import DIGITS, INT64

    if not re.fullmatch(DIGITS, text):
        return rounded
    return INT64[0] <= int(text) < INT64[1]


def _flag_typed(array: pa.Array) -> Typed | None:
    if pa.types.is_boolean(array.type):
        return Typed("boolean", _valid(array), flags=array)
    text = as_text(array)
    if text is None:
        return None
    from custrec.schema.scalar import FALSE, TRUE

    trimmed, present = _trimmed(text)
    lowered = pc.utf8_lower(trimmed)
    true = arrays.flags(pc.is_in(lowered, value_set=arrays.strings(TRUE)))
    false = arrays.flags(pc.is_in(lowered, value_set=arrays.strings(FALSE)))
    known = true | false
    flags = arrays.booleans(true, known)
    return Typed("boolean", present, bad=present & ~known, flags=flags)


def _time_typed(array: pa.Array, kind: str) -> Typed | None:
    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        try:
            instants = pc.cast(array, pa.timestamp("us", "UTC"))  # exact, or it raises
        except pa.ArrowInvalid:
            return None
        values = arrays.numbers(instants, NAT)
        present = _valid(array)
        return Typed(kind, present, instants=values, offset=np.ones(len(array), dtype=bool))
    text = as_text(array)
    if text is None:
        return None
    read = None if kind == "date" else _arrow_times(text)
    instants, good, offset, decided = read or _read_times(text, kind == "date")
    present = decided.copy()
    bad = decided & ~good
    rest = np.flatnonzero(~decided & _valid(text))
    if len(rest):
        exact = _legacy(text.take(arrays.integers(rest)), kind)
        assert exact.instants is not None
        assert exact.offset is not None
        instants[rest] = exact.instants
        offset[rest] = exact.offset
        present[rest] = exact.present
        assert exact.bad is not None
        bad[rest] = exact.bad
    return Typed(kind, present, bad=bad, instants=instants, offset=offset)


def _legacy(text: pa.Array, kind: str) -> Typed:
    """Text converted by :func:`custrec.validate.convert_values` (pandas), value by value as
    ``validate`` does."""
    import pandas as pd

    from custrec.validate import convert_values, empty_values

    values = pd.Series(text.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow")))
    present = ~empty_values(values)
    out, bad = convert_values(values, kind, present)
    failed = np.zeros(len(values), dtype=bool) if bad is None else bad.to_numpy(dtype=bool)
    present_np = present.to_numpy(dtype=bool)
    if kind in ("integer", "number"):
        numbers = out.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        return Typed(kind, present_np, bad=failed, numbers=numbers)
    trimmed = pc.utf8_trim_whitespace(pc.cast(text, pa.string()))
    offset = arrays.flags(pc.match_substring_regex(trimmed, _OFFSET))
    naive = out.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
    instants = naive.to_numpy(dtype="datetime64[us]").view("int64").copy()
    return Typed(kind, present_np, bad=failed, instants=instants, offset=offset)


# --- ISO 8601 times --------------------------------------------------------------------

_BODIES = np.array([16, 19, 21, 22, 23, 24, 25, 26])
"""Lengths of the date and time without the zone, in the shapes with a time: minutes,
seconds, and seconds with 1 to 6 decimals."""


def _arrow_times(text: pa.Array) -> tuple[np.ndarray, ...] | None:
    """ISO 8601 times read by Arrow's strict parser, for the values whose form (length
    and kind of zone, found from a few bytes as Arrow finds it) is one of custrec's
    shapes: Arrow reads those exactly as ``validate`` does and refuses the same
    impossible dates and times. Arrow also reads an hour alone, zones written ``+01``
    or ``+0100`` and the year 0000, which custrec does not accept: such values are left
    undecided (see :func:`_read_times` for what is returned). None when Arrow refuses
    one of the values read, or there is nothing to read."""
    rows = len(text)
    offsets, data = arrays.layout(text)
    valid = _valid(text)
    if not len(data) or not valid.any():
        return None
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    # By length alone: 10 (a date), 17 (minutes, Z) and 20 (seconds, Z) have one form
    # among all Arrow reads; other lengths are told apart by their bytes.
    table = np.full(max(int(lengths.max()), _MAX_TIME_CHARS) + 1, _BY_BYTES, dtype="int8")
    table[:10] = table[11:13] = table[_MAX_TIME_CHARS + 1 :] = _NOT_A_TIME
    table[10], table[17], table[20] = _NAIVE, _ZONED, _ZONED
    form = table[lengths]
    read_bytes = np.flatnonzero(valid & (form == _BY_BYTES))
    if len(read_bytes):
        form[read_bytes] = _forms(data, offsets[1:][read_bytes], lengths[read_bytes])
    firsts = starts if starts[-1] < len(data) else np.minimum(starts, len(data) - 1)
    year_zero = data[firsts] == ord("0")
    if year_zero.any():
        for place in (1, 2, 3):
            year_zero &= data[np.minimum(starts + place, len(data) - 1)] == ord("0")
    shaped = (form == _NAIVE) | (form == _ZONED)
    decided = valid & shaped & ~year_zero
    if not decided.any():
        return None
    zoned = (form == _ZONED) & decided
    instants = np.full(rows, NAT, dtype="int64")
    for chosen, with_zone in ((zoned, True), (decided & ~zoned, False)):
        if not chosen.any():
            continue
        part = text
        if not np.array_equal(chosen, valid):
            part = pc.if_else(arrays.booleans(chosen), text, pa.nulls(rows, text.type))
        read = _cast_times(part, with_zone)
        if read is None:
            return None
        instants = read if part is text else np.where(chosen, read, instants)
    return instants, decided.copy(), zoned, decided


_NOT_A_TIME, _NAIVE, _ZONED, _BY_BYTES = 0, 1, 2, 3


def _forms(data: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """For values (their ends and lengths, 13 bytes or more), whether they are written
    in one of custrec's shapes, with or without a zone, as Arrow's parser tells its
    forms apart: ``Z``; a sign 3 or 5 bytes from the end (``+01``, ``+0100``: not
    custrec's); a sign 6 bytes from the end and a colon 3 from it (``+01:00``); else
    no zone. What remains before the zone must be minutes, seconds or seconds with 1
    to 6 decimals."""

    def byte(back: int) -> np.ndarray:
        out: np.ndarray = data[ends - back]
        return out

    def sign(back: int) -> np.ndarray:
        found = byte(back)
        out: np.ndarray = (found == ord("+")) | (found == ord("-"))
        return out

    zone_z = byte(1) == ord("Z")
    colon = byte(3) == ord(":")
    short_zone = ~zone_z & ~colon & (sign(3) | sign(5))  # +01, +0100
    zone = ~zone_z & ~short_zone & colon & sign(6)
    body = lengths - zone_z - 6 * zone
    bodies = np.zeros(_MAX_TIME_CHARS + 1, dtype=bool)
    bodies[_BODIES] = True
    shaped = ~short_zone & bodies[np.clip(body, 0, _MAX_TIME_CHARS)]
    out: np.ndarray = np.where(shaped, np.where(zone_z | zone, _ZONED, _NAIVE), _NOT_A_TIME)
    return out.astype("int8")


# --- ISO 8601 times from their bytes --------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A fixed-width ISO 8601 shape: where its digits and separators are."""

    length: int
    seconds: bool
    fraction: int  # digits after the decimal point (0: none)
    zone: str  # "", "Z" or "offset"

    @property
    def time(self) -> bool:
        return self.length > 10

    def digits(self) -> list[int]:
        places = [0, 1, 2, 3, 5, 6, 8, 9]
        if self.time:
            places += [11, 12, 14, 15]
        if self.seconds:
            places += [17, 18]
        places += [20 + i for i in range(self.fraction)]
        if self.zone == "offset":
            start = self._zone_start()
            places += [start + 1, start + 2, start + 4, start + 5]
        return places

    def separators(self) -> list[tuple[int, bytes]]:
        marks: list[tuple[int, bytes]] = [(4, b"-"), (7, b"-")]
        if self.time:
            marks += [(10, b"T "), (13, b":")]
        if self.seconds:
            marks.append((16, b":"))
        if self.fraction:
            marks.append((19, b"."))
        if self.zone == "Z":
            marks.append((self._zone_start(), b"Z"))
        elif self.zone == "offset":
            start = self._zone_start()
            marks += [(start, b"+-"), (start + 3, b":")]
        return marks

    def _zone_start(self) -> int:
        return 16 + (3 if self.seconds else 0) + (self.fraction + 1 if self.fraction else 0)


def _shapes(date_only: bool) -> dict[int, list[_Shape]]:
    """Every shape of :data:`custrec.schema.scalar.DATETIME` (or ``DATE``), by length."""
    out: dict[int, list[_Shape]] = {10: [_Shape(10, False, 0, "")]}
    if date_only:
        return out
    for seconds in (False, True):
        for fraction in range(7) if seconds else (0,):
            for zone in ("", "Z", "offset"):
                length = 16 + (3 if seconds else 0) + (fraction + 1 if fraction else 0)
                length += {"": 0, "Z": 1, "offset": 6}[zone]
                out.setdefault(length, []).append(_Shape(length, seconds, fraction, zone))
    return out


def _read_times(
    text: pa.Array, date_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ISO 8601 times read from the bytes of ``text``, for the values written in one
    of the shapes exactly (no spaces around): instants (UTC microseconds; without an
    offset read as UTC), whether the fields are in range (a real date, hours below 24,
    ...), whether there was an offset, and which values were read (``decided``)."""

    rows = len(text)
    instants = np.full(rows, NAT, dtype="int64")
    good = np.zeros(rows, dtype=bool)
    offset = np.zeros(rows, dtype=bool)
    decided = np.zeros(rows, dtype=bool)
    if not rows or text.null_count == rows:
        return instants, good, offset, decided
    offsets, data = arrays.layout(text)
    if not len(data):
        return instants, good, offset, decided
    lengths = np.diff(offsets)
    valid = _valid(text)
    lengths_valid = np.where(valid, lengths, 0)
    counts = np.bincount(np.minimum(lengths_valid, _MAX_TIME_CHARS + 1))
    shapes = _shapes(date_only)
    for length in np.flatnonzero(counts).tolist():
        if length not in shapes:
            continue
        if counts[length] == rows and offsets[-1] - offsets[0] == length * rows:
            places: Any = slice(None)
            start = int(offsets[0])
            matrix = data[start : start + length * rows].reshape(rows, length)
        else:
            places = np.flatnonzero(valid & (lengths == length))
            if int(offsets[-1] - offsets[0]) == length * len(places):
                start = int(offsets[0])
                matrix = data[start : start + length * len(places)].reshape(-1, length)
            else:
                matrix = data[offsets[places][:, None] + np.arange(length)]
        shape = _uniform_shape(matrix, shapes[length])
        if shape is not None:
            chosen = text if isinstance(places, slice) else text.take(arrays.integers(places))
            read = _cast_times(chosen, shape.zone != "")
            if read is not None:
                instants[places] = read
                good[places] = True
                offset[places] = shape.zone != ""
                decided[places] = True
                continue
        _read_shapes(matrix, shapes[length], places, instants, good, offset, decided)
    return instants, good, offset, decided


def _uniform_shape(matrix: np.ndarray, shapes: Iterable[_Shape]) -> _Shape | None:
    """The shape every row of ``matrix`` (the bytes of same-length values) is written
    in, with the same separators throughout and a year other than 0000; None when
    there is no such shape (each row is then read on its own)."""

    if not len(matrix):
        return None
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    for shape in shapes:
        places = shape.digits()
        if not ((low[places] >= 48).all() and (high[places] <= 57).all()):
            continue
        if not all(
            low[place] == high[place] and int(low[place]) in allowed
            for place, allowed in shape.separators()
        ):
            continue
        if low[0] == 48 and bool((matrix[:, :4] == 48).all(axis=1).any()):
            return None  # a year 0000 is not a date
        return shape
    return None


def _cast_times(text: pa.Array, zoned: bool) -> np.ndarray | None:
    """Arrow's reading of ISO 8601 times (with an offset, or read as UTC), in UTC
    microseconds; None when a value is not a real time (Arrow refuses the array)."""

    target = pa.timestamp("us", "UTC") if zoned else pa.timestamp("us")
    try:
        times = pc.cast(text, target)
    except pa.ArrowInvalid:
        return None
    return arrays.numbers(times, NAT)


def _read_shapes(
    matrix: np.ndarray,
    shapes: Iterable[_Shape],
    places: Any,
    instants: np.ndarray,
    good: np.ndarray,
    offset: np.ndarray,
    decided: np.ndarray,
) -> None:

    digits = matrix - np.uint8(48)  # wraps below '0': not a digit
    is_digit = digits < 10
    for shape in shapes:
        fits = is_digit[:, shape.digits()].all(axis=1)
        for place, allowed in shape.separators():
            column = matrix[:, place]
            mark = column == allowed[0]
            for other in allowed[1:]:
                mark |= column == other
            fits &= mark
        if not fits.any():
            continue
        rows = np.flatnonzero(fits)
        d = digits[rows].astype("int64")

        def number(first: int, last: int, d: np.ndarray = d) -> np.ndarray:
            out = d[:, first]
            for place in range(first + 1, last):
                out = out * 10 + d[:, place]
            return out

        year, month, day = number(0, 4), number(5, 7), number(8, 10)
        ok = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        ok &= day <= month_days[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
        micros = _days_from_civil(year, month, day) * 86_400_000_000
        if shape.time:
            hour, minute = number(11, 13), number(14, 16)
            ok &= (hour <= 23) & (minute <= 59)
            micros += (hour * 60 + minute) * 60_000_000
        if shape.seconds:
            second = number(17, 19)
            ok &= second <= 59
            micros += second * 1_000_000
        if shape.fraction:
            micros += number(20, 20 + shape.fraction) * 10 ** (6 - shape.fraction)
        if shape.zone == "offset":
            start = shape._zone_start()
            hours, minutes = number(start + 1, start + 3), number(start + 4, start + 6)
            ok &= (hours <= 23) & (minutes <= 59)
            sign = np.where(matrix[rows, start] == ord("-"), -1, 1)
            micros -= sign * (hours * 60 + minutes) * 60_000_000
        target = rows if isinstance(places, slice) else places[rows]
        instants[target] = np.where(ok, micros, NAT)
        good[target] = ok
        offset[target] = shape.zone != ""
        decided[target] = True


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + day_of_year
    days: np.ndarray = era * 146097 + of_cycle - 719468
    return days


# --- helpers -------------------------------------------------------------------------


def _valid(values: pa.Array) -> np.ndarray:
    """Where ``values`` is not null."""
    return arrays.valid(values)
