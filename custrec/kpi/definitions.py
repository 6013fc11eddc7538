"""The KPIs of ``docs/kpi-definitions.md``, each written once as Narwhals expressions over
a lazy frame of contacts, so that polars (in memory), DuckDB (out of core) and Spark
compute them with the same query and give the same figures.

The frame (:func:`kpi_result`) has the canonical columns of an interaction log
(``custrec.kpi.columns``): text as strings, instants as Int64 microseconds since the
epoch in UTC (integers, so that every engine subtracts them exactly), numbers as
Float64 and flags as Boolean, a missing value null; :data:`ROW` numbers the contacts
in file order, and with ``--period`` :data:`PERIOD_TIME` holds ``created_at`` as a
time-zone-aware datetime. Each contact gets its indicators (0/1), totals and durations;
each case (its contacts grouped by ``case_id``) its first contact, inbound contacts,
resolution and escalation; both are summed per group and in total, integers for the
numerators and denominators, and the rates are derived last, in Python, from the
counts (:mod:`custrec.kpi.stats`). Medians are exact and percentiles linear
(``quantile(q, "linear")``, numpy's default).

Periods are the local wall-clock start of the contact's hour, day, week (Monday),
month or quarter in the reporting zone: the engine's session is set to that zone
(:meth:`custrec.engines.Engine.set_zone`), the instant converted to local time
there and truncated, and the start written back as an ISO time with the zone's offset
here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import narwhals as nw

from custrec.kpi import stats
from custrec.kpi.engine import SL_CHANNELS, instant, micros

if TYPE_CHECKING:
    from custrec.kpi.engine import KpiOptions, KpiResult

ROW = "\x1frow"
"""The contact's place in the input (file order breaks ties)."""
PERIOD_TIME = "\x1fperiod_time"
"""``created_at`` as an aware datetime: what periods are cut from."""
PERIOD = "period"
_EVERY = {"hour": "1h", "day": "1d", "month": "1mo", "quarter": "1q"}
_CASE = "\x1fcase"


# --- per contact ----------------------------------------------------------------------


def seconds(end: str, start: str) -> nw.Expr:
    """Seconds from ``start`` to ``end`` (instants in microseconds; null when either
    is missing)."""
    return (nw.col(end) - nw.col(start)).cast(nw.Float64) / 1e6


def inbound() -> nw.Expr:
    """A contact is inbound unless its ``direction`` says otherwise (missing: inbound)."""
    return (nw.col("direction") == "inbound").fill_null(True)


def _flag(expr: nw.Expr) -> nw.Expr:
    return expr.fill_null(False)


def contact_measures(options: KpiOptions) -> dict[str, nw.Expr]:
    """What each contact counts for the contact KPIs: ``m_`` indicators (summed as
    integers), ``s_`` totals (summed), ``t_`` durations in seconds (summarised; null
    when the contact has none). With business hours, the durations are read off the
    business clock :func:`with_business_clock` adds."""
    csat, nps, ces, talk = (nw.col(n) for n in ("csat", "nps", "ces", "talk_seconds"))
    handled = ~talk.is_null()
    queue = inbound() & _flag(nw.col("channel").is_in(SL_CHANNELS))
    answered = queue & ~nw.col("answered_at").is_null()
    abandoned = queue & nw.col("answered_at").is_null()
    wait = seconds("answered_at", "created_at")
    short = abandoned & _flag(seconds("ended_at", "created_at") < options.short_abandon)
    if options.business_hours is not None:
        frt = _business("first_response_at", "created_at")
        asa = _business("answered_at", "created_at")
    else:
        frt, asa = seconds("first_response_at", "created_at"), wait
    measures = {
        "m_contacts": ~nw.col("created_at").is_null(),  # every contact that counts
        "m_csat_responses": ~csat.is_null(),
        "m_csat_satisfied": _flag(csat >= 4),
        "m_nps_promoters": _flag(nps >= 9),
        "m_nps_passives": _flag((nps >= 7) & (nps <= 8)),
        "m_nps_detractors": _flag(nps <= 6),
        "m_ces_responses": ~ces.is_null(),
        "s_ces_total": ces,
        "m_aht_handled": handled,
        "s_aht_total": nw.when(handled).then(
            talk + nw.col("hold_seconds").fill_null(0.0) + nw.col("wrap_seconds").fill_null(0.0)
        ),
        "t_frt": _forwards(frt),
        "m_sl_within": answered & _flag(wait <= options.sl_threshold),
        "t_asa": _forwards(asa),
        "m_sl_offered": (answered | abandoned) & ~short,
        "m_abandoned": abandoned & ~short,
        "m_surveys_sent": _flag(nw.col("survey_sent")),
        "m_survey_responses": _flag(nw.col("survey_sent"))
        & (~csat.is_null() | ~nps.is_null() | ~ces.is_null()),
    }
    if options.fcr_method == "repeat":
        eligible = inbound() & _flag(nw.col("resolved")) & ~nw.col("customer_id").is_null()
        measures["m_fcr_repeat_eligible"] = eligible
        measures["m_fcr_repeat_first"] = eligible & ~nw.col("\x1frepeated")
    return measures


def _forwards(duration: nw.Expr) -> nw.Expr:
    """A duration, left out (null) when it runs backwards."""
    return nw.when(duration >= 0).then(duration)


def with_repeats(frame: Any, options: KpiOptions) -> Any:
    """``frame`` with ``\\x1frepeated``: an inbound contact from a customer is followed
    by another inbound contact from the same customer (in the same category, with
    ``fcr_same_category``; a missing category is one of its own) within the window."""
    keys = ["customer_id", "category"] if options.fcr_same_category else ["customer_id"]
    candidate = inbound() & ~nw.col("customer_id").is_null()
    window = options.fcr_window // dt.timedelta(microseconds=1)
    frame = frame.with_columns(candidate.alias("\x1fcandidate"))
    following = (
        nw.col("created_at").shift(-1).over(*keys, "\x1fcandidate", order_by=["created_at", ROW])
    )
    repeated = nw.col("\x1fcandidate") & _flag((following - nw.col("created_at")) <= window)
    return frame.with_columns(repeated.alias("\x1frepeated")).drop("\x1fcandidate")


# --- per case -------------------------------------------------------------------------


def cases(frame: Any, keys: Sequence[str], follow_up: dt.timedelta, business: bool = False) -> Any:
    """One row per case (contacts with a ``case_id``): the ``keys`` of its first
    contact (earliest ``created_at``, then the smallest ``interaction_id``, then the
    first read), its first and last resolution instants, inbound contacts, whether it
    was resolved and escalated, and whether an outbound contact of the case followed
    its last resolution within ``follow_up``."""
    cased = frame.filter(~nw.col("case_id").is_null())
    per_case = cased.group_by("case_id").agg(
        nw.col("resolved_at").max().alias("\x1flast_resolved"),
        inbound().cast(nw.Int64).sum().alias("\x1finbound"),
        _flag(nw.col("resolved")).cast(nw.Int64).max().alias("\x1fresolved"),
        _flag(nw.col("escalated")).cast(nw.Int64).max().alias("\x1fescalated"),
        nw.len().alias("\x1fcontacts"),
        # The business clock only goes forwards: its reading at the first creation is
        # the least of the contacts', at the last resolution the greatest.
        *(
            [
                nw.col(_clock("created_at")).min().alias("\x1fB:first"),
                nw.col(_clock("resolved_at")).max().alias("\x1fB:last"),
            ]
            if business
            else []
        ),
    )
    # The first contact by a window ordered as the definition orders (a missing
    # interaction id after the others: engines put nulls first).
    order = ["created_at", "\x1fno_id", "interaction_id", ROW]
    if frame.implementation.is_spark_like():  # Narwhals has no ordered first() there
        first = nw.col(ROW).shift(1).over("case_id", order_by=order).is_null()
    else:
        first = nw.col(ROW) == nw.col(ROW).first().over("case_id", order_by=order)
    shown = [k for k in keys if k != PERIOD]
    period = [PERIOD] if PERIOD in keys else []
    firsts = (
        cased.with_columns(nw.col("interaction_id").is_null().alias("\x1fno_id"))
        .filter(first)
        .select(
            "case_id",
            nw.col(ROW).alias(_CASE),
            nw.col("interaction_id").alias("\x1ffirst_id"),
            nw.col("created_at").alias("\x1ffirst_created"),
            *shown,
            *period,
        )
    )
    window = follow_up // dt.timedelta(microseconds=1)
    after = nw.col("created_at") - nw.col("\x1flast_resolved")
    followed = (
        cased.filter(nw.col("direction") == "outbound")
        .select("case_id", "created_at")
        .join(per_case.select("case_id", "\x1flast_resolved"), on="case_id", how="inner")
        .filter((after > 0) & (after <= window))
        .group_by("case_id")
        .agg(nw.len().alias("\x1ffollow_ups"))
    )
    per_case = per_case.join(followed, on="case_id", how="left")
    return per_case.join(firsts, on="case_id", how="inner")


def case_measures(options: KpiOptions) -> dict[str, nw.Expr]:
    """What each case counts for the case KPIs (``m_`` indicators, ``t_`` durations)."""
    resolved = nw.col("\x1fresolved") == 1
    spent = (
        _business_span(nw.col("\x1fB:last"), nw.col("\x1fB:first"))
        if options.business_hours is not None
        else seconds("\x1flast_resolved", "\x1ffirst_created")
    )
    return {
        "m_cases": ~nw.col("case_id").is_null(),  # every case
        "m_resolved": resolved,
        "m_fcr_one_contact": resolved & (nw.col("\x1finbound") == 1),
        "m_escalated": nw.col("\x1fescalated") == 1,
        "t_resolution": nw.when(resolved).then(_forwards(spent)),
        "m_resolved_at": resolved & ~nw.col("\x1flast_resolved").is_null(),
        "m_followed_up": resolved
        & ~nw.col("\x1flast_resolved").is_null()
        & ~nw.col("\x1ffollow_ups").is_null(),
    }


# --- sums -----------------------------------------------------------------------------


_SUMMARY = ("median", "mean", "p90", "n")
"""What a duration (``t_`` measure) is summarised by."""


QUANTILES = {"median": Fraction(1, 2), "p90": Fraction(9, 10)}
"""The quantiles of a duration (linear between the two values around the rank)."""


def aggregations(measures: dict[str, nw.Expr], quantiles: bool = True) -> list[nw.Expr]:
    """Sums of the indicators (integers) and totals, and the median, mean, 90th
    percentile (linear) and count of each duration: each measure aggregated where it
    is worked out, so that no engine holds all of them for every row at once. Without
    ``quantiles``, no median nor p90 (:func:`ranked_quantiles` works them out)."""
    out: list[nw.Expr] = []
    for name, column in measures.items():
        if name.startswith("m_"):
            out.append(column.cast(nw.Int64).sum().alias(name))
        elif name.startswith("s_"):
            out.append(column.sum().alias(name))
        else:
            if quantiles:
                out += [
                    column.median().alias(f"{name}\x1fmedian"),
                    column.quantile(0.9, interpolation="linear").alias(f"{name}\x1fp90"),
                ]
            out += [column.mean().alias(f"{name}\x1fmean"), column.count().alias(f"{name}\x1fn")]
    return out


def ranked_quantiles(
    frame: Any, keys: Sequence[str], measures: dict[str, nw.Expr]
) -> dict[tuple[Any, ...], dict[str, dict[str, float]]]:
    """The exact :data:`QUANTILES` of each duration (``t_`` measure) per group of
    ``keys`` (all the rows: ``()``), by rank: the rows counted per distinct value, the
    counts summed in order of value, and the values at the ranks around ``q (n - 1)``
    picked, the first whose running count passes the rank. Every step groups,
    sorts or aggregates in a fixed size per value, so it spills to disk; an engine's
    median aggregate holds every value of a group in memory (DuckDB: 100M contacts,
    three durations, two quantiles: more than the memory of this machine). The same
    figures as ``median()`` and ``quantile(q, "linear")``, to rounding."""
    value, count, running, total = "\x1fv", "\x1fcount", "\x1frunning", "\x1ftotal"
    parts = list(keys) or ["\x1fall"]
    grouped = [nw.col(k) for k in keys] or [nw.lit(0).alias(parts[0])]
    out: dict[tuple[Any, ...], dict[str, dict[str, float]]] = {}
    for name, column in measures.items():
        if not name.startswith("t_"):
            continue
        counted = (
            frame.select(*grouped, column.alias(value))
            .filter(~nw.col(value).is_null())
            .group_by(*parts, value)
            .agg(nw.len().cast(nw.Int64).alias(count))
        )
        ranked = counted.with_columns(
            nw.col(count).cum_sum().over(*parts, order_by=value).cast(nw.Int64).alias(running),
            nw.col(count).sum().over(*parts).cast(nw.Int64).alias(total),
        )
        picks = [nw.col(total).max().alias(total)]
        for label, q in QUANTILES.items():
            below = (nw.col(total) - 1) * q.numerator // q.denominator
            beyond = ((nw.col(total) - 1) * q.numerator % q.denominator > 0).cast(nw.Int64)
            for side, rank in (("lo", below), ("hi", below + beyond)):
                first = nw.when(nw.col(running) > rank).then(nw.col(value)).min()
                picks.append(first.alias(f"{label}\x1f{side}"))
        for row in _rows(ranked.group_by(*parts).agg(*picks)):
            n = int(row[total])
            found = out.setdefault(tuple(row[k] for k in keys), {}).setdefault(name, {})
            for label, q in QUANTILES.items():
                lo, hi = float(row[f"{label}\x1flo"]), float(row[f"{label}\x1fhi"])
                within = Fraction((n - 1) * q.numerator % q.denominator, q.denominator)
                found[label] = lo + (hi - lo) * float(within) if within else lo
    return out


def _sums(row: dict[str, Any], measures: dict[str, nw.Expr]) -> dict[str, Any]:
    """One collected row of :func:`aggregations` as the sums :func:`figures` reads (an
    empty row: a group without any)."""
    out: dict[str, Any] = {}
    for name in measures:
        if name.startswith("t_"):
            out[name] = {part: row.get(f"{name}\x1f{part}") for part in _SUMMARY}
        else:
            out[name] = row.get(name) or 0
    return out


def _rows(frame: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.collect().to_polars().to_dicts()
    return rows


# --- the report -----------------------------------------------------------------------


def period_start(options: KpiOptions, in_session_zone: bool = False) -> nw.Expr:
    """The start of the contact's period: its local wall-clock start (a naive
    datetime), or for hours the instant (microseconds). ``in_session_zone``: the
    engine reads an instant in its session's zone, set to the reporting zone (DuckDB,
    Spark), not in the column's (polars)."""
    assert options.period is not None
    if options.period == "hour" and (offset := hour_offset(options.tz)) is not None:
        # An hour is cut from the instant in whole microseconds: the repeated hour of a
        # clock change is two periods, as it is two hours (a positive multiple of an
        # hour added first, so that every engine's remainder is the same).
        moment = nw.col("created_at") + (offset + _HOUR * 20_000_000)
        return nw.col("created_at") - (moment % _HOUR)
    start = _truncated(_local_time(PERIOD_TIME, options.tz, in_session_zone), options.period)
    # Spark's date_trunc gives an instant again: back to the session zone's wall clock
    return start.dt.replace_time_zone(None) if in_session_zone else start


def _in_session_zone(frame: Any) -> bool:
    """Whether the engine reads an aware datetime in its session's zone (DuckDB,
    Spark: set to the reporting zone) rather than in the column's (polars)."""
    return not frame.implementation.is_polars()


def _local_time(column: str, tz: str, in_session_zone: bool) -> nw.Expr:
    """The local wall-clock time in ``tz`` (naive) of an aware datetime column."""
    moment = nw.col(column)
    if not in_session_zone:
        moment = moment.dt.convert_time_zone(tz)
    return moment.dt.replace_time_zone(None)


def _truncated(local: nw.Expr, period: str) -> nw.Expr:
    if period != "week":
        return local.dt.truncate(_EVERY[period])
    # Narwhals truncates to days, not weeks: the day, back to its Monday.
    day = local.dt.truncate("1d")
    weekday = local.dt.weekday()  # 1 = Monday ... 7 = Sunday
    start = nw.when(weekday == 1).then(day)
    for number in range(2, 7):
        start = start.when(weekday == number).then(day.dt.offset_by(f"-{number - 1}d"))
    # (Narwhals 2.x on Spark gives Sunday as 0: the remaining day is Sunday.)
    return start.otherwise(day.dt.offset_by("-6d"))


_HOUR = 3_600_000_000


def hour_offset(tz: str) -> int | None:
    """How far (microseconds, under an hour) the zone's hours are from UTC's, when it
    is the same at every date from 1970 to 2100 (most zones: 0; India: 30 minutes);
    None for a zone whose clock changes by part of an hour."""
    from custrec.kpi.calendar import zone

    place = zone(tz)
    found = set()
    for year in range(1970, 2101):
        for month in (1, 4, 7, 10):
            moment = dt.datetime(year, month, 1, tzinfo=dt.UTC).astimezone(place)
            offset = moment.utcoffset() or dt.timedelta(0)
            found.add(offset // dt.timedelta(microseconds=1) % _HOUR)
    return found.pop() if len(found) == 1 else None


def period_label(start: dt.datetime | int | None, tz: str) -> str | None:
    """A period's local start as ISO 8601 with the zone's offset there; a start that
    a clock change skips is the first instant after the change, a repeated one its
    first occurrence."""
    from custrec.kpi.calendar import zone

    if start is None:
        return None
    place = zone(tz)
    if isinstance(start, int):  # an instant (hours)
        return instant(start).astimezone(place).isoformat()
    moment = start.replace(tzinfo=place)
    back = moment.astimezone(dt.UTC).astimezone(place)
    if back.replace(tzinfo=None) != start:  # skipped: the wall clock jumped past it
        later = start.replace(tzinfo=place, fold=1).astimezone(dt.UTC)
        return later.astimezone(place).isoformat()
    return moment.isoformat()


MakeTable = Callable[[Mapping[str, Sequence[Any]], Mapping[str, str]], Any]
"""Makes a small table on the engine from columns of values and their types
(``string``, ``int64``): the calendar of business hours."""
CLOCKED = ("created_at", "first_response_at", "answered_at", "resolved_at")
"""The instants read on the business clock; each also as an aware datetime in column
:func:`datetime_column` when business hours are counted."""


def datetime_column(name: str) -> str:
    return f"\x1fdt:{name}"


def _clock(name: str) -> str:
    return f"\x1fB:{name}"


def _business_span(end: nw.Expr, start: nw.Expr) -> nw.Expr:
    """Business seconds between two readings of the business clock (0 backwards)."""
    spent = (end - start).cast(nw.Float64) / 1e6
    return nw.when(spent > 0).then(spent).otherwise(nw.when(~spent.is_null()).then(0.0))


def _business(end: str, start: str) -> nw.Expr:
    return _business_span(nw.col(_clock(end)), nw.col(_clock(start)))


def with_business_clock(frame: Any, options: KpiOptions, make_table: MakeTable) -> Any:
    """``frame`` with, for each instant of :data:`CLOCKED`, the business clock's
    reading there: the business microseconds from the first day of a calendar to that
    instant. The business time between two instants is the difference of readings.

    The calendar (one row per local day of the data's span, made here from the
    schedule: the business time before the day, and the day's opening windows as
    instants) is joined on the local date of each instant; the reading is the time
    before the day plus the part of each window already past. One definition for
    every engine: a join with a small table and arithmetic on integers."""
    hours = options.business_hours
    assert hours is not None
    bounds = frame.select(
        *[nw.col(c).min().alias(f"{c}\x1fmin") for c in CLOCKED],
        *[nw.col(c).max().alias(f"{c}\x1fmax") for c in CLOCKED],
    ).collect()
    found = [v for v in bounds.to_polars().row(0) if v is not None]
    width = max(len(windows) for windows in hours.hours.values())
    names = ["day", "before"] + [f"{e}{k}" for k in range(width) for e in ("open", "close")]
    table: dict[str, list[Any]] = {name: [] for name in names}
    if found:
        day = instant(min(found)).astimezone(hours.tz).date() - dt.timedelta(days=1)
        last = instant(max(found)).astimezone(hours.tz).date() + dt.timedelta(days=1)
        before = 0
        while day <= last:
            windows = [(micros(a), micros(b)) for a, b in hours.windows(day)]
            table["day"].append(day.isoformat())
            table["before"].append(before)
            for k in range(width):
                opening, closing = windows[k] if k < len(windows) else (None, None)
                table[f"open{k}"].append(opening)
                table[f"close{k}"].append(closing)
            before += sum(max(0, b - a) for a, b in windows)
            day += dt.timedelta(days=1)
    types = {name: ("string" if name == "day" else "int64") for name in names}
    calendar = make_table(table, types)
    session = _in_session_zone(frame)
    for name in CLOCKED:
        local = _local_time(datetime_column(name), options.tz, session)
        key = local.dt.to_string("%Y-%m-%d")
        tag = f"\x1fcal:{name}:"
        frame = frame.with_columns(key.alias(tag + "key")).join(
            calendar.rename({n: tag + n for n in names}),
            left_on=tag + "key",
            right_on=tag + "day",
            how="left",
        )
        at = nw.col(name)
        reading = nw.col(tag + "before")
        for k in range(width):
            opens, closes = nw.col(f"{tag}open{k}"), nw.col(f"{tag}close{k}")
            part = (
                nw.when(at <= opens)
                .then(0)
                .when(at >= closes)
                .then(closes - opens)
                .otherwise(at - opens)
            )
            reading = reading + part.fill_null(0)
        clock = nw.when(~at.is_null()).then(reading)
        frame = frame.with_columns(clock.cast(nw.Int64).alias(_clock(name)))
        kept = frame.collect_schema().names()
        frame = frame.drop(*[c for c in kept if c.startswith(tag)])
    return frame


def _contacts(frame: Any, options: KpiOptions, make_table: MakeTable | None) -> Any:
    """The contacts that count (created, in ``[since, until)``) with their period,
    repeat flags and business clock, as the options need."""
    from custrec.errors import UsageError

    options.check()
    frame = counted(frame, options)
    if options.period:
        frame = frame.with_columns(period_start(options, _in_session_zone(frame)).alias(PERIOD))
    if options.fcr_method == "repeat":
        frame = with_repeats(frame, options)
    if options.business_hours is not None:
        if make_table is None:
            raise UsageError("--business-hours needs a table of the calendar on this engine")
        frame = with_business_clock(frame, options, make_table)
    return frame


def _cases(frame: Any, options: KpiOptions) -> Any:
    return cases(
        frame, _keys(options), options.follow_up_window, options.business_hours is not None
    )


def _keys(options: KpiOptions) -> list[str]:
    return list(options.by) + ([PERIOD] if options.period else [])


def kpi_result(
    frame: Any,
    options: KpiOptions,
    *,
    make_table: MakeTable | None = None,
    keep: Callable[[Any], Any] = lambda frame: frame,
    ranked: bool = False,
    overall: bool = False,
) -> KpiResult:
    """The KPIs of the contacts in ``frame`` (a Narwhals LazyFrame, see the module
    docstring) with ``options``: one row per group and period, and the total.
    ``make_table`` makes the calendar of business hours on the engine; ``keep``
    materialises a frame read twice (the cases: once for the total, once per group);
    ``ranked``: the medians and percentiles by :func:`ranked_quantiles`, not by the
    engine's aggregate. ``overall``, with groups and periods: also one row per period
    of all groups together (:attr:`KpiResult.overall`), from the same cases."""
    from custrec.kpi.engine import KpiResult, describe

    frame = _contacts(frame, options, make_table)
    keys = _keys(options)
    contact = contact_measures(options)
    case = case_measures(options)
    per_case = keep(_cases(frame, options).select(*keys, *[e.alias(n) for n, e in case.items()]))
    case = {name: nw.col(name) for name in case}

    def summed(source: Any, measures: dict[str, nw.Expr], by: list[str]) -> dict[Any, Any]:
        aggs = aggregations(measures, quantiles=not ranked)
        rows = _rows(source.group_by(*by).agg(aggs) if by else source.select(aggs))
        sums = {tuple(row[k] for k in by): _sums(row, measures) for row in rows}
        if ranked:
            for label, found in ranked_quantiles(source, by, measures).items():
                for name, quantiles in found.items():
                    sums[label][name].update(quantiles)
        return sums

    total = summed(frame, contact, [])[()]
    total.update(summed(per_case, case, [])[()])
    result = KpiResult(by=list(options.by), period=options.period, options=describe(options))
    result.total = figures(total, total, options)
    if not keys:
        return result
    none = _sums({}, case)

    def rows(keys: list[str]) -> list[dict[str, Any]]:
        found = summed(frame, contact, keys)
        by_case = summed(per_case, case, keys)
        labelled = []
        for label, sums in found.items():
            named = dict(zip(keys, label, strict=True))
            if options.period:
                named[PERIOD] = period_label(named[PERIOD], options.tz)
            labelled.append((named, sums, by_case.get(label, none)))
        labelled.sort(key=lambda item: [(item[0][k] is None, item[0][k] or "") for k in keys])
        out = []
        for named, sums, case_sums in labelled:
            row = dict(named)
            if not options.period:
                row[PERIOD] = None
            row.update(figures(sums, case_sums, options))
            out.append(row)
        return out

    result.rows = rows(keys)
    if overall and options.by and options.period:
        result.overall = rows([PERIOD])
    return result


# --- the figures ----------------------------------------------------------------------


def _count(sums: dict[str, Any], name: str) -> int:
    return int(sums.get(name) or 0)


def _number(sums: dict[str, Any], name: str) -> float | None:
    value = sums.get(name)
    if value is None or value != value:
        return None
    return float(value)


def _time_figure(sums: dict[str, Any], name: str) -> dict[str, object]:
    summary = sums[name]
    n = int(summary["n"] or 0)
    return {
        "median": _number(summary, "median") if n else None,
        "mean": _number(summary, "mean") if n else None,
        "p90": _number(summary, "p90") if n else None,
        "n": n,
        "small_sample": n < stats.SMALL_SAMPLE,
    }


def figures(contacts: dict[str, Any], cases: dict[str, Any], options: KpiOptions) -> dict[str, Any]:
    """The KPI objects of one group from its sums (see the JSON contract): the rates
    derived from their integer numerators and denominators."""
    c, k = contacts, cases
    handled = _count(c, "m_aht_handled")
    aht_total = _number(c, "s_aht_total") or 0.0
    offered = _count(c, "m_sl_offered")
    if options.fcr_method == "repeat":
        fcr = stats.rate(_count(c, "m_fcr_repeat_first"), _count(c, "m_fcr_repeat_eligible"))
    else:
        fcr = stats.rate(_count(k, "m_fcr_one_contact"), _count(k, "m_resolved"))
    return {
        "interactions": _count(c, "m_contacts"),
        "cases": _count(k, "m_cases"),
        "csat": stats.rate(_count(c, "m_csat_satisfied"), _count(c, "m_csat_responses")),
        "nps": stats.nps(
            _count(c, "m_nps_promoters"),
            _count(c, "m_nps_passives"),
            _count(c, "m_nps_detractors"),
        ),
        "ces": stats.mean_of(_number(c, "s_ces_total") or 0.0, _count(c, "m_ces_responses")),
        "aht": {
            "value": aht_total / handled if handled else None,
            "n": handled,
            "small_sample": handled < stats.SMALL_SAMPLE,
        },
        "fcr": fcr,
        "frt": _time_figure(c, "t_frt"),
        "resolution_time": _time_figure(k, "t_resolution"),
        "asa": _time_figure(c, "t_asa"),
        "service_level": stats.rate(_count(c, "m_sl_within"), offered),
        "abandonment_rate": stats.rate(_count(c, "m_abandoned"), offered),
        "escalation_rate": stats.rate(_count(k, "m_escalated"), _count(k, "m_cases")),
        "survey_response_rate": stats.rate(
            _count(c, "m_survey_responses"), _count(c, "m_surveys_sent")
        ),
        "follow_up_rate": stats.rate(_count(k, "m_followed_up"), _count(k, "m_resolved_at")),
    }


def counted(frame: Any, options: KpiOptions) -> Any:
    """The contacts that count: created, and in ``[since, until)`` when given."""
    created = nw.col("created_at")
    frame = frame.filter(~created.is_null())
    if options.since is not None:
        frame = frame.filter(created >= micros(options.since))
    if options.until is not None:
        frame = frame.filter(created < micros(options.until))
    return frame


def contact_span(frame: Any, options: KpiOptions) -> tuple[Any, Any]:
    """The first and last creation instants (aware, UTC) of the contacts that count
    with ``options`` (``--since``/``--until``), or ``(None, None)``."""
    created = nw.col("created_at")
    span = (
        counted(frame, options)
        .select(created.min().alias("first"), created.max().alias("last"))
        .collect()
    )
    first, last = span.item(0, "first"), span.item(0, "last")
    return (None if first is None else instant(first)), (None if last is None else instant(last))


def case_rows(
    frame: Any, options: KpiOptions, *, make_table: MakeTable | None = None
) -> list[dict[str, Any]]:
    """One row per case with what the case KPIs count (``report kpi --detail``), in the
    order of the cases' first contacts (time, interaction id, place in the input)."""
    frame = _contacts(frame, options, make_table)
    case = case_measures(options)
    found = _cases(frame, options)
    table = (
        found.select(
            "case_id",
            nw.col("\x1ffirst_id").alias("first_interaction_id"),
            nw.col("\x1ffirst_created").alias("first"),
            nw.col("\x1fcontacts").alias("contacts"),
            nw.col("\x1finbound").alias("inbound_contacts"),
            case["m_resolved"].alias("resolved"),
            case["m_fcr_one_contact"].alias("fcr"),
            case["m_escalated"].alias("escalated"),
            case["t_resolution"].alias("resolution_seconds"),
            nw.col(_CASE).alias("at"),
        )
        .collect()
        .to_polars()
        .sort(["first", "first_interaction_id", "at"], nulls_last=True)
    )
    out = []
    for row in table.iter_rows(named=True):
        resolved = bool(row["resolved"])
        out.append(
            {
                "case_id": row["case_id"],
                "first_interaction_id": row["first_interaction_id"],
                "first_created_at": instant(row["first"]).isoformat(),
                "contacts": int(row["contacts"]),
                "inbound_contacts": int(row["inbound_contacts"] or 0),
                "resolved": resolved,
                "fcr": bool(row["fcr"]) if resolved else None,
                "escalated": bool(row["escalated"]),
                "resolution_seconds": row["resolution_seconds"],
            }
        )
    return out


def polars_table(columns: Mapping[str, Sequence[Any]], types: Mapping[str, str]) -> Any:
    """:data:`MakeTable` on polars."""
    import polars as pl

    from custrec.engines import arrow_table

    return nw.from_native(pl.DataFrame(arrow_table(columns, types)).lazy())


# --- inputs ---------------------------------------------------------------------------


def polars_contacts(columns: Any, options: KpiOptions) -> Any:
    """The contacts as the frame :func:`kpi_result` reads, on polars: from a polars
    DataFrame of canonical columns in the definitions' types (what
    :func:`custrec.kpi.logs.load_logs` keeps), or from
    :class:`~custrec.kpi.columns.KpiColumns`."""
    import polars as pl

    from custrec.kpi.columns import CANONICAL, DTYPES, NAT, KpiColumns, kind_of

    if isinstance(columns, KpiColumns):
        data: dict[str, Any] = {}
        for name in CANONICAL:
            if name not in columns:
                continue
            kind = kind_of(name)
            if kind == "text":
                data[name] = pl.from_arrow(columns.text[name]).cast(pl.String)
            elif kind == "time":
                data[name] = pl.Series(columns.times[name]).replace(NAT, None)
            elif kind == "number":
                data[name] = pl.Series(columns.numbers[name]).fill_nan(None)
            else:
                data[name] = pl.from_arrow(columns.flags[name]).cast(pl.Boolean)
        given = pl.DataFrame(data, height=columns.rows)
    else:
        given = columns
    absent = [
        pl.lit(None, dtype=getattr(pl, DTYPES[kind_of(name)])).alias(name)
        for name in CANONICAL
        if name not in given.columns
    ]
    frame = given.lazy().with_columns(absent).with_row_index(ROW)
    frame = frame.with_columns(pl.col(ROW).cast(pl.Int64))
    if options.period:
        frame = frame.with_columns(
            pl.col("created_at").cast(pl.Datetime("us", "UTC")).alias(PERIOD_TIME)
        )
    if options.business_hours is not None:
        frame = frame.with_columns(
            pl.col(name).cast(pl.Datetime("us", "UTC")).alias(datetime_column(name))
            for name in CLOCKED
        )
    return nw.from_native(frame)


def polars_kept(frame: Any) -> Any:
    """A polars LazyFrame computed now and kept in memory."""
    return nw.from_native(nw.to_native(frame).collect().lazy())
