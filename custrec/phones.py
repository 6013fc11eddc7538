"""Phone numbers read a column at a time: the calling code and national number that
``phonenumbers.parse`` reads, whether the number is possible and valid, and its E.164
form, for all the numbers of a batch in a few dozen polars calls.

Written here because no maintained library does it: ``phonenumbers`` (the Python port
of libphonenumber) reads one number per call, 20-60 microseconds each, which was most
of a validation's time, and no package on PyPI binds a compiled libphonenumber for
Python. This module takes the steps of :func:`custrec.store.normalise.quick_phone_parts`
and :func:`custrec.schema.scalar.phone_valid`, driven by the same ``phonenumbers``
metadata, whose patterns run unchanged in polars' regex engine: each step is one
string expression over all the rows, or over the rows that share a pattern (the plan
of a region or calling code, a region's ranges for a length). Where a step is beyond
it (text other than digits, plain separators and a leading ``+``; a length that needs
the full parse), a number gets None and is left to those functions. Equality with
them and with ``phonenumbers`` on every region's numbers is a tested property
(``tests/test_phones.py``).

About 2.5 microseconds a number on 2 cores, and a fixed cost of tens of milliseconds
a call: validation reads its batches' numbers here; collect does not, because its
batches' parse costs less than loading polars and that fixed cost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import polars as pl

from custrec.schema.rules import PYTHON_WHITESPACE
from custrec.schema.scalar import phone_ranges
from custrec.store.normalise import (
    NATIONAL_MAX_DIGITS,
    QUICK_MAX_CHARS,
    SIMPLE_PHONE,
    PhonePlan,
    code_phone_plan,
    region_phone_plan,
)

_T, _D, _CODE, _NAT = "text", "digits", "code", "national"


COLUMN_MIN = 256
"""From how many distinct numbers they are read a column at a time: below, the fixed
cost of the column program (tens of milliseconds) exceeds the per-number parse."""
SLICE = 32_768
"""Numbers read by the column program at a time (its memory grows with them)."""
_RESULTS = ["i", _CODE, _NAT, "possible", "matchable", "valid"]
_last: list[pl.DataFrame] = []
"""The numbers of the last call and what was read of them: a validation asks for a
batch's numbers twice (their verdicts, then their match forms), in different order."""


def read_numbers(texts: Sequence[str | None], regions: Sequence[str | None]) -> pl.DataFrame:
    """For each of ``texts`` read with ``regions`` (None: no region), one row:
    ``code`` and ``national`` (the national significant number, leading zeros kept)
    as ``phonenumbers.parse`` reads them, ``possible`` (a full number's length:
    ``is_possible_number_with_reason`` is IS_POSSIBLE), ``matchable``
    (``is_possible_number``, local-only lengths included) and ``valid``
    (``is_valid_number``). All null where the number is left to the full parse."""
    frame = pl.DataFrame(
        {_T: list(texts), "region": list(regions)},
        schema={_T: pl.String, "region": pl.String},
    ).with_row_index("i")
    known = None
    if _last:
        known = frame.join(_last[0], on=[_T, "region"], how="inner", nulls_equal=True)
        frame = frame.join(known.select("i"), on="i", how="anti")
    # A slice at a time: the program's columns (each number beside its region's
    # patterns) take about 2 KB a number; 262k numbers at once held 0.6 GB.
    slices = [_verdicts(_parts(part)).select(_RESULTS) for part in frame.iter_slices(SLICE)]
    read = pl.concat(slices) if slices else _verdicts(_parts(frame)).select(_RESULTS)
    read = frame.select("i", _T, "region").join(read, on="i", how="left")
    if known is not None:
        read = pl.concat([read, known.select(read.columns)])
    _last[:] = [read.drop("i").unique([_T, "region"], keep="any")]
    return read.sort("i").select(_RESULTS[1:])


def forget() -> None:
    """Drop the numbers kept from the last call."""
    _last.clear()


def phone_facts_many(keys: Sequence[str]) -> list[int | None]:
    """:func:`custrec.schema.rules.phone_facts` of each key (region, U+0000, number),
    None where the number is left to it."""
    from custrec.schema.rules import PHONE_POSSIBLE, PHONE_VALID

    if len(keys) < COLUMN_MIN:
        return [None] * len(keys)
    regions, texts = _split(keys)
    read = read_numbers(texts, [region or None for region in regions])
    bits = pl.when(pl.col("possible")).then(PHONE_POSSIBLE).otherwise(0) + pl.when(
        pl.col("valid")
    ).then(PHONE_VALID).otherwise(0)
    found = read.select(pl.when(pl.col(_CODE).is_not_null()).then(bits).alias("b"))
    return found.get_column("b").to_list()


def phone_match_keys_many(keys: Sequence[str]) -> list[str | None]:
    """:func:`custrec.schema.rules.phone_match_key` of each key (the record's country
    field, U+0000, number), None where the number is left to it."""
    if len(keys) < COLUMN_MIN:
        return [None] * len(keys)
    countries, texts = _split(keys)
    # record_region of each country: two letters, in upper case, else no region
    country = pl.col("c").str.strip_chars(PYTHON_WHITESPACE)
    region = pl.when(country.str.contains("^[A-Za-z]{2}$")).then(country.str.to_uppercase())
    regions = pl.DataFrame({"c": countries}, schema={"c": pl.String}).select(region.alias("r"))
    return normal_forms(texts, regions.get_column("r").to_list())


def normal_forms(texts: Sequence[str], regions: Sequence[str | None]) -> list[str | None]:
    """:func:`custrec.store.normalise.normalise_phone` of each text (E.164 where the
    number parses to a possible length), None where the number is left to it."""
    read = read_numbers(texts, regions)
    e164 = pl.when(pl.col("matchable")).then(
        pl.concat_str(pl.lit("+"), pl.col(_CODE).cast(pl.String), pl.col(_NAT))
    )
    return read.select(e164.alias("n")).get_column("n").to_list()


def _split(keys: Sequence[str]) -> tuple[list[str], list[str]]:
    split = pl.Series("k", keys, pl.String).str.splitn("\x00", 2).struct.unnest()
    return split.get_column("field_0").to_list(), split.get_column("field_1").fill_null(
        ""
    ).to_list()


# --- reading: quick_phone_parts over a column -------------------------------------------


def _full(pattern: str) -> str:
    return f"^(?:{pattern})$"


@cache
def _calling_codes() -> tuple[frozenset[str], ...]:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    return tuple(
        frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE if len(str(code)) == size)
        for size in (1, 2, 3)
    )


def _code_size(digits: pl.Expr) -> pl.Expr:
    """How many of ``digits``' first digits are a calling code (0: none); a code never
    begins with 0 (``_calling_code`` of normalise)."""
    size: Any = pl.lit(0)
    for width, codes in reversed(list(enumerate(_calling_codes(), start=1))):
        size = pl.when(digits.str.slice(0, width).is_in(list(codes))).then(width).otherwise(size)
    return pl.when(digits.str.starts_with("0")).then(0).otherwise(size)


_PLAN = ("p_code", "p_idd", "p_prefix", "p_groups", "p_general", "p_lit", "p_group")
"""The columns of a plan (:class:`PhonePlan`) on each row: its calling code, its
international prefix and national prefix as patterns that capture what they match,
the group of the national prefix's last group, its pattern of national numbers, and
its transform rule as a literal and a group."""


def _plan_row(plan: PhonePlan | None) -> dict[str, Any]:
    if plan is None:
        return dict.fromkeys(_PLAN)
    row: dict[str, Any] = {
        "p_code": plan.code,
        "p_idd": f"^({plan.idd.pattern})" if plan.idd is not None else None,
        "p_prefix": f"^({plan.prefix.pattern})" if plan.prefix is not None else None,
        "p_groups": plan.prefix.groups + 1 if plan.prefix is not None else 1,
        "p_general": _full(plan.general.pattern) if plan.general is not None else None,
        "p_lit": None,
        "p_group": None,
    }
    if plan.transform is not None and plan.prefix is not None and plan.prefix.groups:
        found = _TRANSFORM.fullmatch(plan.transform)
        if found is None:  # no metadata has one; such a plan is left to the full parse
            return dict.fromkeys(_PLAN)
        row["p_lit"], row["p_group"] = found.group(1), int(found.group(2)) + 1
    return row


_TRANSFORM = re.compile(r"([0-9]*)\\([0-9])")
"""Every transform rule of the metadata: digits, then one group (``9\\1``, ``\\2``)."""


def _plans(frame: pl.DataFrame, key: str, plans: dict[str, PhonePlan | None]) -> pl.DataFrame:
    """``frame`` with the columns of ``_PLAN`` of the plan named in column ``key``."""
    table = pl.DataFrame(
        [{key: name, **_plan_row(plan)} for name, plan in plans.items()],
        schema={
            key: pl.String,
            **dict.fromkeys(_PLAN[:3], pl.String),
            "p_groups": pl.Int64,
            "p_general": pl.String,
            "p_lit": pl.String,
            "p_group": pl.Int64,
        },
    )
    return frame.drop(_PLAN, strict=False).join(table, on=key, how="left")


def _flags(
    frame: pl.DataFrame, plan_key: str, length: str, plans: dict[str, PhonePlan | None], prefix: str
) -> pl.DataFrame:
    """``frame`` with the length verdicts of the plan named in ``plan_key`` for the
    length in column ``length``: ``{prefix}keeps``, ``possible``, ``strict``, ``too_long``."""
    rows = []
    for name, plan in plans.items():
        if plan is None:
            continue
        for size in range(len(plan.possible)):
            rows.append(
                (
                    name,
                    size,
                    plan.keeps_prefix[size],
                    plan.possible[size],
                    plan.strict[size],
                    plan.too_long[size],
                )
            )
    names = [plan_key, length] + [
        prefix + flag for flag in ("keeps", "possible", "strict", "too_long")
    ]
    table = pl.DataFrame(
        rows,
        schema=dict(zip(names, [pl.String, pl.Int64] + [pl.Boolean] * 4, strict=True)),
        orient="row",
    )
    return frame.join(table, on=[plan_key, length], how="left")


_FEW = 64
"""Below this many rows, a group's pattern runs in Python's ``re`` (the metadata's
own engine): a polars call costs about half a millisecond, whatever the rows."""


def _matched(frame: pl.DataFrame, wanted: dict[str, tuple[str, str]]) -> pl.DataFrame:
    """``frame`` with a column per item of ``wanted`` (name: source column, pattern
    column): whether the row's pattern matches its source (false without a pattern).
    Rows are taken a pattern at a time: polars compiles a pattern given per row again
    once its cache of patterns is full, and a batch can hold hundreds."""
    keys = list(dict.fromkeys(pattern for _, pattern in wanted.values()))
    parts = []
    for key, part in frame.group_by(keys):
        found = dict(zip(keys, key, strict=True))
        columns: list[Any] = []
        for name, (source, pattern) in wanted.items():
            regex = found[pattern]
            if regex is None:
                columns.append(pl.lit(False).alias(name))
            elif part.height < _FEW:
                search = re.compile(str(regex)).search
                values = part.get_column(source).to_list()
                verdicts = [value is not None and search(value) is not None for value in values]
                columns.append(pl.Series(name, verdicts, pl.Boolean))
            else:
                columns.append(pl.col(source).str.contains(str(regex)).fill_null(False).alias(name))
        parts.append(part.with_columns(columns))
    if not parts:
        return frame.with_columns(pl.lit(False).alias(name) for name in wanted)
    return pl.concat(parts)


def _extracted(
    frame: pl.DataFrame, source: str, pattern: str, wanted: dict[str, str]
) -> pl.DataFrame:
    """``frame`` with a column per item of ``wanted`` (name: column of a group index)
    holding that group of the match of the row's pattern (column ``pattern``) in
    ``source``. Rows are taken a pattern at a time: polars reads a pattern given per
    row again on every row when it extracts."""
    keys = [pattern, *wanted.values()]
    parts = []
    for key, part in frame.group_by(keys):
        regex = key[0]
        columns: list[Any] = []
        matches = None
        if regex is not None and part.height < _FEW:
            search = re.compile(str(regex)).search
            matches = [None if v is None else search(v) for v in part.get_column(source).to_list()]
        for (name, _), group in zip(wanted.items(), key[1:], strict=True):
            if regex is None or group is None:
                columns.append(pl.lit(None, pl.String).alias(name))
            elif matches is not None:
                found = [None if m is None else m.group(int(group)) for m in matches]
                columns.append(pl.Series(name, found, pl.String))
            else:
                columns.append(pl.col(source).str.extract(str(regex), int(group)).alias(name))
        parts.append(part.with_columns(columns))
    if not parts:
        return frame.with_columns(pl.lit(None, pl.String).alias(name) for name in wanted)
    return pl.concat(parts)


def _strip_prefix(frame: pl.DataFrame, source: str, target: str) -> pl.DataFrame:
    """``frame`` with ``target``: :meth:`PhonePlan.strip_prefix` of column ``source``
    by the row's plan. Each step is a column of its own, so that no pattern runs twice."""
    number = pl.col(source)
    frame = _matched(
        frame.with_columns(pl.lit(1).alias("_one")), {"_viable": (source, "p_general")}
    )
    frame = _extracted(
        frame, source, "p_prefix", {"_whole": "_one", "_last": "p_groups", "_moved": "p_group"}
    )
    whole = pl.col("_whole")
    cut = number.str.slice(whole.str.len_bytes())
    transformed = pl.col("p_lit").is_not_null() & pl.col("_last").is_not_null()
    moved = pl.concat_str(pl.col("p_lit"), pl.col("_moved").fill_null(""), cut)
    cut = pl.when(transformed).then(moved).otherwise(cut)
    stripped = pl.when(whole.is_null() | (number == "")).then(number).otherwise(cut)
    frame = frame.with_columns(stripped.alias(target))
    frame = _matched(frame, {"_after": (target, "p_general")})
    keep = pl.col("_viable") & ~pl.col("_after")
    frame = frame.with_columns(pl.when(keep).then(number).otherwise(pl.col(target)).alias(target))
    return frame.drop("_whole", "_last", "_moved", "_viable", "_after", "_one")


def _code_plans(codes: pl.Series) -> dict[str, PhonePlan | None]:
    return {
        f"+{code}": code_phone_plan(int(code))
        for code in codes.drop_nulls().unique().to_list()
        if code
    }


def _parts(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows ``i``, ``code``, ``national`` where the quick reading decides: the steps of
    :func:`custrec.store.normalise.quick_phone_parts`, each over all the rows."""
    text = pl.col(_T).str.strip_chars(PYTHON_WHITESPACE)
    simple = text.str.contains(_full(SIMPLE_PHONE.pattern)) & (
        text.str.len_chars() <= QUICK_MAX_CHARS
    )
    rows = (
        frame.with_columns(
            pl.when(simple).then(text.str.replace_all("[^0-9]", "")).alias(_D),
            text.str.starts_with("+").alias("plus"),
            pl.col("region").str.to_uppercase(),
        )
        .with_columns(pl.col(_D).str.len_bytes().cast(pl.Int64).alias("n"))
        .filter(pl.col("n").is_between(6, QUICK_MAX_CHARS))
        .select("i", "region", _D, "n", "plus")
    )
    d = pl.col(_D)
    # written with + and a calling code
    international = rows.filter("plus").with_columns(_code_size(d).alias("size"))
    international = international.filter(pl.col("size") > 0).select(
        "i",
        d.str.slice(0, pl.col("size")).cast(pl.Int64).alias(_CODE),
        d.str.slice(pl.col("size")).alias(_NAT),
        pl.lit(None, pl.String).alias("home"),
    )
    # written without +: after the international prefix of the row's region, after its
    # calling code written alone, or national
    national = rows.filter(~pl.col("plus") & pl.col("region").is_not_null())
    homes = {
        region: region_phone_plan(region)
        for region in national.get_column("region").unique().to_list()
    }
    national = _plans(national, "region", homes).filter(pl.col("p_code").is_not_null())
    national = _flags(national, "region", "n", homes, "h_")
    national = _extracted(
        national.with_columns(pl.lit(1).alias("_one")), _D, "p_idd", {"idd": "_one"}
    )
    end = pl.col("idd").str.len_bytes()
    national = national.with_columns(
        d.str.slice(end).alias("after"),
        (pl.col("idd").is_not_null() & (d.str.slice(end, 1) != "0")).fill_null(False).alias("hit"),
        (pl.col("n") - end).alias("left"),
        d.str.slice(pl.col("p_code").str.len_bytes()).alias("after_code"),
    ).with_columns(_code_size(pl.col("after")).alias("size"))
    national = _strip_prefix(national, "after_code", "rest")
    national = _matched(
        national, {"viable": (_D, "p_general"), "rest_viable": ("rest", "p_general")}
    )
    take = (
        ~pl.col("hit")
        & d.str.starts_with(pl.col("p_code"))
        & (pl.col("h_too_long") | (~pl.col("viable") & pl.col("rest_viable")))
    )
    national = national.with_columns(take.alias("take"))
    after, size, hit, take = pl.col("after"), pl.col("size"), pl.col("hit"), pl.col("take")
    code = (
        pl.when(hit)
        .then(after.str.slice(0, size).cast(pl.Int64, strict=False))
        .when(take)
        .then(pl.col("p_code").cast(pl.Int64))
        .otherwise(pl.lit(0, pl.Int64))
    )
    rest = pl.when(hit).then(after.str.slice(size)).when(take).then(pl.col("rest")).otherwise(d)
    usable = ~(hit & ((size == 0) | (pl.col("left") <= 2)))
    national = national.filter(usable).select(
        "i",
        code.alias(_CODE),
        rest.alias(_NAT),
        pl.when(~hit & ~take).then(pl.col("region")).alias("home"),
    )
    return _planned(pl.concat([international, national]), homes)


def _planned(read: pl.DataFrame, homes: dict[str, PhonePlan | None]) -> pl.DataFrame:
    """The national prefix stripped by the plan of the number's code (of its region
    for a national number), and the length tests of ``quick_phone_parts``."""
    codes = _code_plans(read.get_column(_CODE))
    mains = dict(codes)
    for plan in homes.values():
        if plan is not None:
            mains[f"+{plan.code}"] = code_phone_plan(int(plan.code))
    plans = {**codes, **{f"r{name}": plan for name, plan in homes.items()}}
    key = (
        pl.when(pl.col(_CODE) != 0)
        .then(pl.concat_str(pl.lit("+"), pl.col(_CODE).cast(pl.String)))
        .otherwise(pl.concat_str(pl.lit("r"), pl.col("home")))
    )
    read = read.filter(pl.col(_NAT).str.len_bytes() >= 2).with_columns(key.alias("plan"))
    read = _plans(read, "plan", plans).filter(pl.col("p_code").is_not_null())
    read = read.with_columns(pl.col("p_code").cast(pl.Int64).alias(_CODE))
    read = _strip_prefix(read, _NAT, "stripped")
    read = read.with_columns(pl.col("stripped").str.len_bytes().cast(pl.Int64).alias("s"))
    read = _flags(read, "plan", "s", plans, "s_").filter(pl.col("s") <= QUICK_MAX_CHARS)
    national = pl.when(pl.col("s_keeps")).then(pl.col(_NAT)).otherwise(pl.col("stripped"))
    read = read.select("i", _CODE, national.alias(_NAT)).with_columns(
        pl.col(_NAT).str.len_bytes().cast(pl.Int64).alias("n"),
        pl.concat_str(pl.lit("+"), pl.col(_CODE).cast(pl.String)).alias("main"),
    )
    read = _flags(read.filter(pl.col("n") <= NATIONAL_MAX_DIGITS), "main", "n", mains, "m_")
    return read.filter(pl.col("m_possible").fill_null(False)).select(
        "i",
        _CODE,
        _NAT,
        "n",
        pl.col("m_strict").alias("possible"),
        pl.col("m_possible").alias("matchable"),
    )


# --- verdicts: valid ---------------------------------------------------------------------


@cache
def _range_rows(code: int, region: str) -> tuple[tuple[Any, ...], ...]:
    """Per length, what :meth:`PhoneRanges.valid` asks of a number of ``region`` with
    calling code ``code``: its general pattern and the alternation of the number types
    of that length (both None where no number of that length is valid)."""
    from phonenumbers import REGION_CODE_FOR_NON_GEO_ENTITY, country_code_for_valid_region

    ranges = phone_ranges(code, region.upper())
    usable = ranges is not None and (
        region == REGION_CODE_FOR_NON_GEO_ENTITY or code == country_code_for_valid_region(region)
    )
    rows = []
    for size in range(NATIONAL_MAX_DIGITS + 1):
        general = pattern = None
        if (
            usable
            and ranges is not None
            and ranges.general is not None
            and ranges.general_re is not None
        ):
            lengths = ranges.general.possible_length
            alternation = ranges.pattern_for_length(size)
            if (not lengths or size in lengths) and alternation is not None:
                general, pattern = _full(ranges.general_re.pattern), _full(alternation)
        rows.append((code, region, size, general, pattern))
    return tuple(rows)


def _in_ranges(frame: pl.DataFrame, region: str, target: str) -> pl.DataFrame:
    """``frame`` with ``target``: :meth:`PhoneRanges.valid` of each number for the
    region in column ``region`` (null: false)."""
    pairs = frame.select(_CODE, region).drop_nulls().unique().rows()
    rows = [row for code, name in pairs for row in _range_rows(int(code), name)]
    table = pl.DataFrame(
        rows,
        schema={
            _CODE: pl.Int64,
            region: pl.String,
            "n": pl.Int64,
            "_g": pl.String,
            "_t": pl.String,
        },
        orient="row",
    )
    frame = frame.join(table, on=[_CODE, region, "n"], how="left")
    frame = _matched(frame, {"_in_g": (_NAT, "_g"), "_in_t": (_NAT, "_t")})
    verdict = pl.col("_in_g") & pl.col("_in_t")
    return frame.with_columns(verdict.alias(target)).drop("_g", "_t", "_in_g", "_in_t")


@cache
def _candidates() -> dict[int, tuple[tuple[str, str | None], ...]]:
    """For each calling code that several regions share, its regions in the order
    ``_region_code_for_number_from_list`` tries them, with their leading-digits
    pattern (regions without metadata left out, as it leaves them out)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    out = {}
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if len(regions) < 2:
            continue
        listed = []
        for region in regions:
            ranges = phone_ranges(code, region.upper())
            if ranges is not None:
                lead = f"^(?:{ranges.leading.pattern})" if ranges.leading is not None else None
                listed.append((region, lead))
        out[code] = tuple(listed)
    return out


def _verdicts(read: pl.DataFrame) -> pl.DataFrame:
    """``read`` with ``valid``: the steps of :func:`custrec.schema.scalar.phone_valid`
    (the region of the number's calling code, by leading digits or by range when
    several regions share the code; then that region's ranges)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    shared = _candidates()
    single = {
        code: regions[0]
        for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()
        if len(regions) == 1
    }
    read = read.with_columns(
        pl.col(_CODE).replace_strict(single, default=None, return_dtype=pl.String).alias("chosen")
    )
    # The first region of a shared code settles most numbers; the others are tried
    # on what is left, all at once, and the first (in the list's order) that takes a
    # number is its region.
    table = pl.DataFrame(
        [
            (code, rank, region, lead)
            for code, regions in shared.items()
            for rank, (region, lead) in enumerate(regions)
        ],
        schema={_CODE: pl.Int64, "rank": pl.Int64, "candidate": pl.String, "lead": pl.String},
        orient="row",
    )
    for first in (True, False):
        open_rows = read.filter(pl.col("chosen").is_null()).select("i", _CODE, _NAT, "n")
        tried = table.filter(pl.col("rank") == 0) if first else table.filter(pl.col("rank") > 0)
        open_rows = open_rows.join(tried, on=_CODE, how="inner")
        if open_rows.is_empty():
            continue
        open_rows = _in_ranges(open_rows, "candidate", "in_range")
        open_rows = _matched(open_rows, {"led": (_NAT, "lead")})
        hit = (
            pl.when(pl.col("lead").is_not_null()).then(pl.col("led")).otherwise(pl.col("in_range"))
        )
        found = (
            open_rows.filter(hit)
            .sort("rank")
            .group_by("i")
            .agg(pl.col("candidate").first().alias("found"))
        )
        read = (
            read.join(found, on="i", how="left")
            .with_columns(pl.coalesce("chosen", "found").alias("chosen"))
            .drop("found")
        )
    return _in_ranges(read, "chosen", "valid")
