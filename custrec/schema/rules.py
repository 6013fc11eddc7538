"""Every rule of the schema format written once, as Narwhals expressions.

A field's value is converted to its type by :func:`conversion` (the value, where it
did not convert, and where it is empty), and each check of
:mod:`custrec.schema.registry` is a function here that returns a boolean expression,
true where the record passes (:func:`rule_expression`). The expressions are
Narwhals ones, so the same definitions run on any frame Narwhals wraps: polars, the
local engine of :mod:`custrec.schema.batch`, and DuckDB or PySpark lazy frames.

Some checks need a library call per value (libphonenumber's validity, card and
national id detection, a pattern only Python's ``re`` reads, Unicode case folding).
Those are :class:`Lookup` columns: the engine computes them once per distinct input
tuple, only where a cheap vectorized pre-check leaves the answer open (phone numbers
a column at a time, :mod:`custrec.phones`, where that decides), and the rule
expressions read the result like any other column.

The same definitions run on one record in :mod:`custrec.schema.record` (``update``
answers without loading an engine); a property test holds the two executions to the
same verdicts. Inside each function, ``nw`` is the context's namespace: Narwhals, or
the one-record namespace.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from custrec.schema import scalar
from custrec.schema.model import Rule, Schema
from custrec.schema.postcodes import POSTCODE_PATTERNS

Expr = Any
"""An expression of the namespace the rules run in: a Narwhals expression, or a
one-record :class:`custrec.schema.record.Value`."""

PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""What ``str.strip()`` removes (Unicode White_Space and the ASCII separators
U+001C-U+001F; a test holds it to ``str.isspace``): blank text is judged as the
one-record path judges it."""

_PREFIX = "\x1f"
LOOKUP_DEFAULT_REGION = ""
"""A region that is not given, in a phone lookup's key (a key is never null)."""


def value_column(name: str) -> str:
    """The column of field ``name``'s converted value."""
    return f"{_PREFIX}v:{name}"


def empty_column(name: str) -> str:
    """The column of where field ``name`` is empty (missing or blank)."""
    return f"{_PREFIX}e:{name}"


def bad_column(name: str) -> str:
    """The column of where field ``name``'s value did not convert to its type."""
    return f"{_PREFIX}t:{name}"


def stripped_column(name: str) -> str:
    """The column of field ``name``'s raw value as text, stripped of the whitespace
    Python strips."""
    return f"{_PREFIX}{name}:s"


def zoned_column(name: str) -> str:
    """The column of where a date or time field's value named its instant: text with
    an offset or ``Z``, or a time-zone-aware timestamp (elsewhere the value is a wall
    clock, read as UTC; a reader that knows the local zone reads it there)."""
    return f"{_PREFIX}z:{name}"


@dataclass(frozen=True)
class Lookup:
    """A per-value library call: ``function(key)`` computed once per distinct value of
    ``key`` (a text expression) among the rows where ``when`` holds; the other rows
    get ``default``. The result is the column ``name`` (``dtype``)."""

    name: str
    key: Expr
    function: Callable[[str], Any]
    when: Expr
    default: Any
    dtype: str = "Boolean"
    """The name of the result's type (``Boolean``, ``Int64``)."""
    many: Callable[[Sequence[str]], list[Any]] | None = None
    """``function`` over many keys at once, where an engine can run it so (a column
    program); None in its answer leaves that key to ``function``. A test holds the
    two to the same results."""


@dataclass
class Context:
    """What the rule functions read: the schema, the reference day, and the lookups
    the rules asked for (shared: two phone rules of a field make one lookup)."""

    schema: Schema
    as_of: str | None = None
    ns: Any = None
    """The expression namespace: ``narwhals``, or the one-record namespace of
    :mod:`custrec.schema.record`."""
    lookups: dict[str, Lookup] = field(default_factory=dict)

    def value(self, name: str) -> Expr:
        return self.ns.col(value_column(name))

    def kind(self, name: str) -> str:
        return self.schema.fields[name].type

    def lookup(self, item: Lookup) -> Expr:
        self.lookups.setdefault(item.name, item)
        return self.ns.col(item.name)


# --- conversion ------------------------------------------------------------------------


def _stripped(raw: Expr) -> Expr:
    return raw.str.strip_chars(PYTHON_WHITESPACE)


def _full(pattern: str) -> str:
    return f"^(?:{pattern})$"


class Stages:
    """Named intermediate columns computed in order: an expression that reads another
    one's result reads its column, in a later stage, so no part of a conversion is
    written (and evaluated) twice. Stage ``i`` of every field is one ``with_columns``."""

    def __init__(self, ns: Any, dialect: str = "polars") -> None:
        self.ns = ns
        self.dialect = dialect
        """The engine the expressions are for (see :data:`FRACTION_FORMATS`)."""
        self.stages: list[dict[str, Expr]] = []

    def put(self, stage: int, name: str, expr: Expr) -> Expr:
        while len(self.stages) <= stage:
            self.stages.append({})
        self.stages[stage][name] = expr.alias(name)
        return self.ns.col(name)


def conversion(stages: Stages, name: str, kind: str, raw: Expr, dtype: Any) -> None:
    """Field ``name`` (of type ``kind``) from a raw column of Narwhals type ``dtype``:
    its value (:func:`value_column`), where it is empty (:func:`empty_column`) and
    where it did not convert (:func:`bad_column`), put into ``stages``."""
    nw = stages.ns
    temp = f"{_PREFIX}{name}:"
    text = dtype == nw.String or dtype == nw.Unknown
    stripped = stages.put(0, stripped_column(name), _stripped(raw.cast(nw.String)))
    empty = stages.put(
        1, empty_column(name), raw.is_null() | (stripped == "") if text else raw.is_null()
    )
    value_name, bad_name = value_column(name), bad_column(name)
    if kind == "string":
        value = nw.when(~empty).then(raw) if text else raw.cast(nw.String)
        stages.put(2, value_name, value)
        stages.put(2, bad_name, nw.lit(False))
        return
    if kind in ("integer", "number"):
        if dtype == nw.Boolean:
            stages.put(2, value_name, nw.lit(None, nw.Int64 if kind == "integer" else nw.Float64))
            stages.put(2, bad_name, ~empty)
            return
        if kind == "integer" and dtype.is_integer():
            stages.put(4, value_name, raw.cast(nw.Int64))  # exact (a float would round it)
            stages.put(4, bad_name, nw.lit(False))
            return
        if dtype.is_numeric():
            numbers = stages.put(1, temp + "n", raw.cast(nw.Float64))
        else:
            shaped = stages.put(1, temp + "shape", stripped.str.contains(_full(scalar.NUMBER)))
            # Only text of the number shape reaches the cast (engines' casts are strict).
            safe = nw.when(shaped).then(stripped).otherwise(nw.lit("0"))
            numbers = stages.put(2, temp + "n", nw.when(shaped).then(safe.cast(nw.Float64)))
        low, high = scalar.INT64
        fits = numbers.is_finite()
        if kind == "integer":
            fits = fits & ((numbers % 1) == 0) & (numbers >= float(low)) & (numbers < float(high))
        fits = fits.fill_null(False)
        if kind == "integer" and not dtype.is_numeric():
            whole, exact = _whole_number(stages, temp, stripped)
            rounded = stages.put(3, temp + "rounded", fits & ~whole)
            fits = stages.put(
                4, temp + "fits", nw.when(whole).then(~exact.is_null()).otherwise(fits)
            )
            from_float = nw.when(rounded).then(numbers).cast(nw.Int64)
            stages.put(5, value_name, nw.when(whole).then(exact).otherwise(from_float))
            stages.put(5, bad_name, ~empty & ~fits)
            return
        fits = stages.put(3, temp + "fits", fits)
        kept = nw.when(fits).then(numbers)
        stages.put(4, value_name, kept.cast(nw.Int64) if kind == "integer" else kept)
        stages.put(4, bad_name, ~empty & ~fits)
        return
    if kind == "boolean":
        if dtype == nw.Boolean:
            stages.put(2, value_name, raw)
            stages.put(2, bad_name, nw.lit(False))
            return
        lowered = stripped.str.to_lowercase()
        value = stages.put(
            1,
            value_name,
            nw.when(lowered.is_in(list(scalar.TRUE)))
            .then(nw.lit(True))
            .when(lowered.is_in(list(scalar.FALSE)))
            .then(nw.lit(False)),
        )
        stages.put(2, bad_name, ~empty & value.is_null())
        return
    if dtype == nw.Datetime:
        aware = bool(getattr(dtype, "time_zone", None))
        moment = raw if aware else raw.dt.replace_time_zone("UTC")
        stages.put(2, value_name, moment.dt.convert_time_zone("UTC").cast(nw.Datetime("us", "UTC")))
        stages.put(2, bad_name, nw.lit(False))
        stages.put(2, zoned_column(name), nw.lit(aware))
        return
    if dtype == nw.Date:
        stages.put(2, value_name, raw.cast(nw.Datetime("us")).dt.replace_time_zone("UTC"))
        stages.put(2, bad_name, nw.lit(False))
        stages.put(2, zoned_column(name), nw.lit(False))
        return
    value = _moment(stages, temp, stripped, kind, value_name, zoned_column(name))
    stages.put(7, bad_name, ~empty & value.is_null())


def _whole_number(stages: Stages, temp: str, text: Expr) -> tuple[Expr, Expr]:
    """Where ``text`` is whole-number text (:data:`scalar.DIGITS`), and its value read
    exactly when it fits 64 bits (null outside the range, whose float value could
    round into it). The digits are compared with the bounds as text of equal length,
    so the cast never sees a number it cannot hold."""
    nw = stages.ns
    whole = stages.put(1, temp + "whole", text.str.contains(_full(scalar.DIGITS)))
    negative = text.str.starts_with("-")
    digits = text.str.strip_chars_start("+-").str.strip_chars_start("0")
    size = digits.str.len_chars()
    bound = (
        nw.when(negative)
        .then(nw.lit(str(-scalar.INT64[0])))
        .otherwise(nw.lit(str(scalar.INT64[1] - 1)))
    )
    in_range = (size < 19) | ((size == 19) & (digits <= bound))
    exact = whole & in_range
    sign = nw.when(negative).then(nw.lit("-")).otherwise(nw.lit(""))
    number = nw.when(size == 0).then(nw.lit("0")).otherwise(digits)
    safe = nw.when(exact).then(nw.concat_str([sign, number]))
    value = nw.when(exact).then(safe.otherwise(nw.lit("0")).cast(nw.Int64))
    return whole, stages.put(3, temp + "exact", value)


_FIRST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)


FRACTION_FORMATS = {
    "polars": "%Y-%m-%dT%H:%M:%S%.f%z",
    "duckdb": "%Y-%m-%dT%H:%M:%S.%f%z",
    "spark": "%Y-%m-%dT%H:%M:%S.SSSSSS%z",
}
"""The format of ``2024-03-31T01:30:00.000000+0100`` for each engine's parser: the
engines spell a fraction of six digits differently (Narwhals passes DuckDB's format
as it is and turns Spark's ``%``-codes into its letters, ``%f`` into one ``S``)."""
_PLAIN = "[0-9-]{10}T[0-9:]{8}(?:Z|[+-][0-9:]{5})?"
"""The common forms of a real time (``T``, seconds, no fraction; an offset or none):
the engines parse them as they are, by the fast path of one fixed format each; the
other forms are first rewritten to one."""


def _moment(stages: Stages, temp: str, text: Expr, kind: str, out: str, zoned: str) -> Expr:
    """Text of the shapes :data:`scalar.DATE` or :data:`scalar.DATETIME` as a UTC
    instant (null where it is not one), as column ``out``; column ``zoned`` says where
    the text named its instant (an offset or ``Z``). Written without capture
    groups, lookaround or lenient parsing, which not every engine has: the patterns
    admit only real days and times, only text they admit reaches a parser, and each
    parser is given the rows of its one format (null elsewhere)."""
    nw = stages.ns
    real = scalar.DATE if kind == "date" else scalar.DATETIME
    valid = stages.put(1, temp + "valid", text.str.contains(_full(real)))
    utc = nw.Datetime("us", "UTC")
    if kind == "date":
        midnight = nw.when(valid).then(nw.concat_str([text, nw.lit("T00:00:00")]))
        parsed = midnight.str.to_datetime("%Y-%m-%dT%H:%M:%S").dt.replace_time_zone("UTC")
        stages.put(5, zoned, nw.lit(False))
        return stages.put(5, out, parsed.cast(utc))
    plain = stages.put(2, temp + "plain", valid & text.str.contains(_full(_PLAIN)))
    size = stages.put(2, temp + "size", text.str.len_chars())
    rest = stages.put(3, temp + "rest", nw.when(valid & ~plain).then(text.str.slice(11)))
    clock = stages.put(4, temp + "clock", rest.str.replace_all(r"(Z|[+-].*)$", "", literal=False))
    zone = stages.put(4, temp + "zone", rest.str.replace_all(r"^[^Z+-]*", "", literal=False))
    clock = (
        nw.when(clock.str.len_chars() == 0)
        .then(nw.lit("00:00:00"))
        .when(clock.str.len_chars() == 5)
        .then(nw.concat_str([clock, nw.lit(":00")]))
        .otherwise(clock)
    )
    # One form for every engine's parser: six fraction digits, an offset without colon.
    fraction = nw.concat_str([clock.str.slice(9), nw.lit("000000")]).str.slice(0, 6)
    clock = nw.concat_str([clock.str.slice(0, 8), nw.lit("."), fraction])
    offset = (
        nw.when(zone.str.len_chars() == 6)
        .then(nw.concat_str([zone.str.slice(0, 3), zone.str.slice(4)]))
        .otherwise(nw.lit("+0000"))
    )
    joined = nw.concat_str([text.str.slice(0, 10), nw.lit("T"), clock, offset])
    wall = nw.when(plain & (size < 25)).then(text.str.slice(0, 19))
    wall = wall.str.to_datetime("%Y-%m-%dT%H:%M:%S").dt.replace_time_zone("UTC")
    colon_free = nw.concat_str([text.str.slice(0, 22), text.str.slice(23)])
    offset_form = nw.when(plain & (size == 25)).then(colon_free)
    with_offset = offset_form.str.to_datetime("%Y-%m-%dT%H:%M:%S%z")
    fraction_format = FRACTION_FORMATS[stages.dialect]
    rewritten = nw.when(valid & ~plain).then(joined).str.to_datetime(fraction_format)
    parsed = stages.put(
        5,
        temp + "parsed",
        nw.when(plain & (size < 25))
        .then(wall.cast(utc))
        .when(plain)
        .then(with_offset.dt.convert_time_zone("UTC").cast(utc))
        .otherwise(rewritten.dt.convert_time_zone("UTC").cast(utc)),
    )
    has_zone = nw.when(plain).then(size > 19).otherwise(zone.str.len_chars() > 0)
    stages.put(6, zoned, has_zone.fill_null(False))
    inside = (parsed >= _FIRST) & (parsed <= _LAST)
    return stages.put(6, out, nw.when(inside).then(parsed))


# --- regular expressions ----------------------------------------------------------------

_SAFE_PATTERN = re.compile(
    r"(?:[^\\\[\](){}^$|?*+.]"  # a literal character
    r"|\\[dD.\-+*?()\[\]{}|^$\\]"  # \d, \D or an escaped metacharacter
    r"|\[\^?\]?(?:[^\\\[\]]|\\[dD.\-+*?()\[\]{}|^$\\])*\]"  # a class
    r"|\((?!\?)|\(\?:|\)|\||\.|[?*+]|\{[0-9]+(?:,[0-9]*)?\})*"
)


@cache
def engine_regex(pattern: str) -> bool:
    """Whether ``pattern`` means the same to Python's ``re`` and to the engines' regular
    expressions (Rust's ``regex``, RE2, Java): literal characters, classes of literal
    characters and ranges, ``\\d``, escaped punctuation, groups, alternation and
    counted repeats. Anything else (``\\w``, ``\\s`` and ``\\b``, whose Unicode sets
    differ; lookaround; flags; back references; nested or set-operation classes) is
    tested by Python's ``re``, once per distinct value."""
    if _SAFE_PATTERN.fullmatch(pattern) is None:
        return False
    plain = re.sub(r"\\.", "x", pattern)  # escapes out of the way
    classes = "".join(re.findall(r"\[\^?\]?([^\]]*)\]", plain))  # what classes hold
    if any(pair in classes for pair in ("&&", "--", "~~", "[")):
        return False  # set operations, nested classes, [:alpha:]: Rust's regex only
    outside = re.sub(r"\[\^?\]?[^\]]*\]", "x", plain)  # classes out of the way
    if re.search(r"[*+?}]\+", outside):
        return False  # possessive repeats: Python's re only
    if any(int(n) > 1000 for n in re.findall(r"\{([0-9]+)", plain)):
        return False  # a counted repeat this large exceeds the engines' compiled size
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def full_match(ctx: Context, value: Expr, pattern: str, source: str) -> Expr:
    """Whether the whole of ``value`` matches ``pattern`` (null stays null). ``source``
    names what ``value`` is (a field, stripped or not): calls with the same source and
    pattern share one lookup, so they must mean the same input."""
    nw = ctx.ns
    if engine_regex(pattern):
        return value.str.contains(_full(pattern))
    compiled = re.compile(pattern)
    key = f"{_PREFIX}re:{source}:{pattern}"
    found = ctx.lookup(
        Lookup(
            key,
            value,
            lambda text: compiled.fullmatch(text) is not None,
            ~value.is_null(),
            None,
        )
    )
    return nw.when(~value.is_null()).then(found)


# --- the checks -------------------------------------------------------------------------

Check = Callable[..., Any]


def email(ctx: Context, name: str, allow_spaces: bool = False) -> Expr:
    nw = ctx.ns
    text = ctx.value(name).cast(nw.String)
    if allow_spaces:
        text = _stripped(text)
    source = f"{name}:stripped" if allow_spaces else name  # a lookup per distinct input
    return full_match(ctx, text, scalar.EMAIL, source).fill_null(True)


def e164(ctx: Context, name: str) -> Expr:
    nw = ctx.ns
    return full_match(ctx, ctx.value(name).cast(nw.String), scalar.E164, name).fill_null(True)


PHONE_POSSIBLE, PHONE_VALID = 1, 2


def phone_facts(key: str) -> int:
    """Bits of a number's verdicts (:data:`PHONE_POSSIBLE`, :data:`PHONE_VALID`) from
    one parse (libphonenumber); ``key`` is the region, U+0000, the number."""
    region, _, value = key.partition("\x00")
    chosen = region or None
    bits = PHONE_POSSIBLE if scalar.phone_ok(value, chosen, "possible") else 0
    return bits | (PHONE_VALID if scalar.phone_ok(value, chosen, "valid") else 0)


def phone_facts_many(keys: Sequence[str]) -> list[int | None]:
    """:func:`phone_facts` of many keys at once (:mod:`custrec.phones`, imported here
    because it loads polars, which one record's checks do not)."""
    from custrec import phones

    return phones.phone_facts_many(keys)


def phone_match_keys_many(keys: Sequence[str]) -> list[str | None]:
    """:func:`phone_match_key` of many keys at once (:mod:`custrec.phones`)."""
    from custrec import phones

    return phones.phone_match_keys_many(keys)


def phone_match_key(key: str) -> str:
    """The match form of a number (E.164; :func:`custrec.schema.scalar.phone_key`);
    ``key`` is the record's country field, U+0000, the number."""
    from custrec.store.normalise import record_region

    country, _, value = key.partition("\x00")
    return scalar.phone_key(value, record_region(country or None))


def phone_key(ctx: Context, name: str, region: str | None, region_field: str | None) -> Expr:
    """Each record's region (upper case; the fixed one when the record has none), U+0000
    and the number: the key of :func:`phone_facts`. A region holding U+0000 (no real
    one does) is read as an unknown region."""
    nw = ctx.ns
    fixed = nw.lit(region.upper() if region else LOOKUP_DEFAULT_REGION)
    chosen = fixed
    if region_field is not None:
        own = ctx.value(region_field).cast(nw.String).str.to_uppercase()
        chosen = nw.when(own.is_null() | (own == "")).then(fixed).otherwise(own)
        unusable = chosen.str.contains("\x00", literal=True)
        chosen = nw.when(unusable).then(nw.lit("??")).otherwise(chosen)
    return nw.concat_str([chosen, nw.lit("\x00"), ctx.value(name).cast(nw.String)])


def phone(
    ctx: Context,
    name: str,
    region: str | None = None,
    region_field: str | None = None,
    level: str = "valid",
) -> Expr:
    nw = ctx.ns
    value = ctx.value(name).cast(nw.String)
    facts = ctx.lookup(
        Lookup(
            f"{_PREFIX}phone:{name}:{region}:{region_field}",
            phone_key(ctx, name, region, region_field),
            phone_facts,
            ~value.is_null(),
            PHONE_POSSIBLE | PHONE_VALID,
            "Int64",
            phone_facts_many,
        )
    )
    bit = PHONE_VALID if level == "valid" else PHONE_POSSIBLE
    return ((facts // bit) % 2) == 1


def country_code(ctx: Context, name: str) -> Expr:
    nw = ctx.ns
    value = ctx.value(name).cast(nw.String)
    return value.is_in(sorted(scalar.country_codes())) | value.is_null()


def _postcode_pattern() -> str:
    """One pattern for every country with a format: the country, U+0000, the postcode."""
    return "|".join(f"{country}\x00(?:{p})" for country, p in POSTCODE_PATTERNS.items())


def postcode(ctx: Context, name: str, country_field: str) -> Expr:
    nw = ctx.ns
    value = ctx.value(name).cast(nw.String)
    country = ctx.value(country_field).cast(nw.String).str.to_uppercase()
    known = country.is_in(sorted(POSTCODE_PATTERNS)).fill_null(False)
    joined = nw.concat_str([country, nw.lit("\x00"), value])
    ok = full_match(ctx, joined, _postcode_pattern(), f"{name}:postcode:{country_field}")
    return ~known | value.is_null() | ok.fill_null(False)


def date_range(
    ctx: Context,
    name: str,
    not_future: bool = False,
    max_age_years: float | None = None,
    min: str | None = None,
    max: str | None = None,
) -> Expr:
    nw = ctx.ns
    _, now = scalar.as_of_day(ctx.as_of)
    moment = ctx.value(name)
    ok = nw.lit(True)
    if not_future:
        ok = ok & ~(moment > now).fill_null(False)
    if max_age_years is not None:
        oldest = now - dt.timedelta(days=365.2425 * max_age_years)
        ok = ok & ~(moment < oldest).fill_null(False)
    if min is not None:
        first = dt.datetime.fromisoformat(str(min)).replace(tzinfo=dt.UTC)
        ok = ok & ~(moment < first).fill_null(False)
    if max is not None:
        ok = ok & ~(moment > scalar.day_end(str(max))).fill_null(False)
    return ok


def freshness(ctx: Context, name: str, max_age_days: int) -> Expr:
    start, _ = scalar.as_of_day(ctx.as_of)
    oldest = start - dt.timedelta(days=max_age_days)
    return ~(ctx.value(name) < oldest).fill_null(False)


def one_of(ctx: Context, name: str, values: Sequence[Any], ignore_case: bool = False) -> Expr:
    nw = ctx.ns
    value = ctx.value(name)
    if ignore_case:
        allowed = frozenset(str(v).casefold() for v in values)
        text = value.cast(nw.String)
        found = ctx.lookup(
            Lookup(
                f"{_PREFIX}one_of:{name}:{sorted(allowed)}",
                text,
                lambda item: item.casefold() in allowed,
                ~text.is_null(),
                True,
            )
        )
        return found | value.is_null()
    if ctx.kind(name) == "integer":  # compared exactly, as Python compares int and float
        low, high = scalar.INT64
        wholes = [int(v) for v in values if isinstance(v, int | float) and float(v).is_integer()]
        return value.is_in([v for v in wholes if low <= v < high]) | value.is_null()
    if ctx.kind(name) == "number":
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        return value.cast(nw.Float64).is_in(numbers) | value.is_null()
    texts = [v for v in values if isinstance(v, str)]
    return value.cast(nw.String).is_in(texts) | value.is_null()


def matches(ctx: Context, name: str, pattern: str) -> Expr:
    nw = ctx.ns
    value = ctx.value(name).cast(nw.String)
    return full_match(ctx, value, pattern, name).fill_null(True)


def length(ctx: Context, name: str, min: int | None = None, max: int | None = None) -> Expr:
    nw = ctx.ns
    size = ctx.value(name).cast(nw.String).str.len_chars()
    ok = nw.lit(True)
    if min is not None:
        ok = ok & ~(size < min).fill_null(False)
    if max is not None:
        ok = ok & ~(size > max).fill_null(False)
    return ok


def range_(ctx: Context, name: str, min: float | None = None, max: float | None = None) -> Expr:
    nw = ctx.ns
    number = ctx.value(name).cast(nw.Float64)
    ok = nw.lit(True)
    if min is not None:
        ok = ok & ~(number < float(min)).fill_null(False)
    if max is not None:
        ok = ok & ~(number > float(max)).fill_null(False)
    return ok


CARD_OR_ID_DIGITS = 6
"""The fewest digits a card or national id number that the check finds is written with."""


def no_card_or_id_numbers(ctx: Context, name: str) -> Expr:
    nw = ctx.ns
    text = ctx.value(name).cast(nw.String)
    # The cheap pre-check: a card number, a US SSN and a UK NINO all have at least six
    # digits (a NINO exactly six), so text with fewer holds none of them.
    digits = text.str.replace_all("[^0-9]", "").str.len_chars()
    enough = (digits >= CARD_OR_ID_DIGITS).fill_null(False)
    holds = ctx.lookup(
        Lookup(f"{_PREFIX}cards:{name}", text, scalar.holds_card_or_id_number, enough, False)
    )
    return ~holds


def at_least_one_of(ctx: Context, fields: Sequence[str]) -> Expr:
    nw = ctx.ns
    return nw.any_horizontal(*(~ctx.value(n).is_null() for n in fields), ignore_nulls=True)


_COMPARE: Mapping[str, Callable[[Expr, Expr], Expr]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def compare(ctx: Context, left: str, op: str, right: str) -> Expr:
    nw = ctx.ns
    a, b = ctx.value(left), ctx.value(right)
    if {ctx.kind(left), ctx.kind(right)} == {"integer", "number"}:
        a, b = a.cast(nw.Float64), b.cast(nw.Float64)
    return _COMPARE[op](a, b).fill_null(True)


CHECK_FUNCTIONS: Mapping[str, Check] = {
    "email": email,
    "phone": phone,
    "e164": e164,
    "country_code": country_code,
    "postcode": postcode,
    "date_range": date_range,
    "freshness": freshness,
    "one_of": one_of,
    "matches": matches,
    "length": length,
    "range": range_,
    "no_card_or_id_numbers": no_card_or_id_numbers,
    "at_least_one_of": at_least_one_of,
    "compare": compare,
}
"""The checks evaluated per record; ``completeness`` is counted over the data set."""


def rule_expression(ctx: Context, rule: Rule) -> Expr:
    """True where a record passes ``rule`` (a field or row rule; never null)."""
    params = dict(rule.params)
    if rule.field is not None:
        return CHECK_FUNCTIONS[rule.check](ctx, rule.field, **params).fill_null(True)
    return CHECK_FUNCTIONS[rule.check](ctx, **params).fill_null(True)
