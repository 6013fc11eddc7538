"""The checks of :mod:`custrec.schema.registry`, implemented on pandas and registered
with pandera as DataFrame checks named ``custrec_<check>``.

Each check takes the chunk's DataFrame (values already converted to the field types:
text, nullable integers and decimals, booleans, UTC timestamps) and returns a boolean
Series aligned with it: True where the record passes. An empty value passes every
field check (presence is the ``required`` rule's business).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

from custrec.schema.postcodes import POSTCODE_PATTERNS
from custrec.schema.registry import CHECKS
from custrec.schema.scalar import (
    E164,
    EMAIL,
    as_of_day,
    country_codes,
    day_end,
    holds_card_or_id_number,
    per_distinct,
    phone_ok,
)

CheckFunction = Callable[..., "pd.Series[bool]"]


def _present(series: pd.Series) -> pd.Series:
    return series.notna()


def check_email(frame: pd.DataFrame, *, field: str, allow_spaces: bool = False) -> pd.Series:
    values = frame[field]
    text = values.astype("string")
    if allow_spaces:
        text = text.str.strip()
    ok = text.str.fullmatch(EMAIL).fillna(True).astype(bool)
    return ok | ~_present(values)


def check_e164(frame: pd.DataFrame, *, field: str) -> pd.Series:
    values = frame[field].astype("string")
    return values.str.fullmatch(E164).fillna(True).astype(bool)


def check_phone(
    frame: pd.DataFrame,
    *,
    field: str,
    region: str | None = None,
    region_field: str | None = None,
    level: str = "valid",
) -> pd.Series:
    values = frame[field].astype("string")
    regions = (
        frame[region_field].astype("string").str.upper()
        if region_field is not None
        else pd.Series(region.upper() if region else None, index=frame.index, dtype="string")
    )
    default = region.upper() if region else None
    verdicts = per_distinct(
        _phone_verdict,
        (
            (value, row_region if row_region is not pd.NA else default, level)
            for value, row_region in zip(values.tolist(), regions.tolist(), strict=True)
        ),
    )
    return pd.Series(verdicts, index=frame.index, dtype=bool)


def _phone_verdict(value: Any, region: str | None, level: str) -> bool:
    return True if value is pd.NA else phone_ok(value, region, level)


def check_country_code(frame: pd.DataFrame, *, field: str) -> pd.Series:
    values = frame[field]
    return values.isin(country_codes()) | ~_present(values)


def check_postcode(frame: pd.DataFrame, *, field: str, country_field: str) -> pd.Series:
    values = frame[field].astype("string")
    countries = frame[country_field].astype("string").str.upper()
    out = pd.Series(True, index=frame.index)
    for country, pattern in POSTCODE_PATTERNS.items():
        mine = (countries == country).fillna(False) & values.notna()
        if mine.any():
            out[mine] = values[mine].str.fullmatch(pattern).fillna(False).astype(bool)
    return out


def _as_of(as_of: str | None, *, end: bool = True) -> pd.Timestamp:
    """See :func:`custrec.schema.scalar.as_of_day`: the end (or start) of that day."""
    start, finish = as_of_day(as_of)
    return pd.Timestamp(finish if end else start)


def _timestamps(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def check_date_range(
    frame: pd.DataFrame,
    *,
    field: str,
    not_future: bool = False,
    max_age_years: float | None = None,
    min: str | None = None,
    max: str | None = None,
    as_of: str | None = None,
) -> pd.Series:
    times = _timestamps(frame[field])
    now = _as_of(as_of)
    ok = pd.Series(True, index=frame.index)
    if not_future:
        ok &= ~(times > now).fillna(False)
    if max_age_years is not None:
        oldest = now - pd.Timedelta(days=365.2425 * max_age_years)
        ok &= ~(times < oldest).fillna(False)
    if min is not None:
        ok &= ~(times < pd.Timestamp(min, tz="UTC")).fillna(False)
    if max is not None:
        ok &= ~(times > pd.Timestamp(day_end(max))).fillna(False)
    return ok


def check_freshness(
    frame: pd.DataFrame, *, field: str, max_age_days: int, as_of: str | None = None
) -> pd.Series:
    times = _timestamps(frame[field])
    oldest = _as_of(as_of, end=False) - pd.Timedelta(days=max_age_days)
    return ~(times < oldest).fillna(False)


def check_one_of(
    frame: pd.DataFrame, *, field: str, values: list[Any], ignore_case: bool = False
) -> pd.Series:
    column = frame[field]
    if ignore_case:
        folded = pd.Series(
            [v.casefold() if isinstance(v, str) else v for v in column.tolist()],
            index=column.index,
            dtype="object",
        )
        return folded.isin([str(v).casefold() for v in values]) | ~_present(column)
    return column.isin(values) | ~_present(column)


def check_matches(frame: pd.DataFrame, *, field: str, pattern: str) -> pd.Series:
    values = frame[field].astype("string")
    return values.str.fullmatch(pattern).fillna(True).astype(bool)


def check_length(
    frame: pd.DataFrame, *, field: str, min: int | None = None, max: int | None = None
) -> pd.Series:
    lengths = frame[field].astype("string").str.len()
    ok = pd.Series(True, index=frame.index)
    if min is not None:
        ok &= ~(lengths < min).fillna(False)
    if max is not None:
        ok &= ~(lengths > max).fillna(False)
    return ok


def check_range(
    frame: pd.DataFrame, *, field: str, min: float | None = None, max: float | None = None
) -> pd.Series:
    numbers = pd.to_numeric(frame[field], errors="coerce")
    ok = pd.Series(True, index=frame.index)
    if min is not None:
        ok &= ~(numbers < min).fillna(False)
    if max is not None:
        ok &= ~(numbers > max).fillna(False)
    return ok


def check_no_card_or_id_numbers(frame: pd.DataFrame, *, field: str) -> pd.Series:
    values = frame[field]
    candidates = values.astype("string").str.contains(r"[0-9]", regex=True).fillna(False)
    out = pd.Series(True, index=frame.index)
    for label in candidates[candidates].index:
        out[label] = not holds_card_or_id_number(str(values[label]))
    return out


def check_at_least_one_of(frame: pd.DataFrame, *, fields: list[str]) -> pd.Series:
    present = pd.Series(False, index=frame.index)
    for name in fields:
        column = frame[name]
        filled = column.notna()
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            filled &= column.astype("string").str.strip().ne("").fillna(False)
        present |= filled
    return present


def check_compare(frame: pd.DataFrame, *, left: str, op: str, right: str) -> pd.Series:
    a, b = frame[left], frame[right]
    if isinstance(a.dtype, pd.DatetimeTZDtype) or isinstance(b.dtype, pd.DatetimeTZDtype):
        a, b = _timestamps(a), _timestamps(b)
    result = {
        "<": a < b,
        "<=": a <= b,
        "==": a == b,
        "!=": a != b,
        ">=": a >= b,
        ">": a > b,
    }[op]
    missing = a.isna() | b.isna()
    return result.fillna(False).astype(bool) | missing


FUNCTIONS: dict[str, CheckFunction] = {
    "email": check_email,
    "phone": check_phone,
    "e164": check_e164,
    "country_code": check_country_code,
    "postcode": check_postcode,
    "date_range": check_date_range,
    "freshness": check_freshness,
    "one_of": check_one_of,
    "matches": check_matches,
    "length": check_length,
    "range": check_range,
    "no_card_or_id_numbers": check_no_card_or_id_numbers,
    "at_least_one_of": check_at_least_one_of,
    "compare": check_compare,
}
"""The checks evaluated per record; ``completeness`` is evaluated over the dataset."""

_TIME_AWARE = {"date_range", "freshness"}
_registered = False


def register_with_pandera() -> None:
    """Register every check as a pandera DataFrame check ``custrec_<name>`` (once)."""
    global _registered
    if _registered:
        return
    from pandera.api.extensions import register_check_method

    for name, function in FUNCTIONS.items():
        spec = CHECKS[name]
        statistics = ["field"] if spec.scope == "field" else []
        statistics += list(spec.params)
        if name in _TIME_AWARE:
            statistics.append("as_of")
        wrapped = _named(function, f"custrec_{name}")
        register_check_method(
            statistics=statistics, supported_types=pd.DataFrame, check_type="vectorized"
        )(wrapped)
    _registered = True


def _named(function: CheckFunction, name: str) -> CheckFunction:
    """``function`` under the name pandera registers (its signature kept, since
    pandera reads the check's statistics from it)."""

    @functools.wraps(function)
    def check(frame: pd.DataFrame, **params: Any) -> pd.Series:
        return function(frame, **params)

    check.__name__ = name
    check.__qualname__ = name
    return check


def pandera_check(name: str, params: dict[str, Any]) -> Any:
    """The registered pandera ``Check`` for a rule (see :func:`register_with_pandera`)."""
    import pandera.pandas as pa

    register_with_pandera()
    return getattr(pa.Check, f"custrec_{name}")(ignore_na=False, **params)
