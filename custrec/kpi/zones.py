"""Times written without an offset, read in a time zone: one rule for every engine.

A log's time without an offset (``2024-03-31 01:30``) is a wall-clock reading in
the reporting zone (``--tz``). The schema's rules read it as if it were UTC, so its
value, in microseconds since 1970, is the wall clock's reading ``w``; the instant
is ``w`` minus the zone's offset then. Twice a year that is not one instant:

- in the hour the clocks skip (a gap), the reading never happened: it is moved to
  the first instant after the gap (pandas' and polars' ``shift_forward``);
- in the hour read twice (an overlap), it names two instants: it is missing
  (pandas' ``ambiguous="NaT"``), as a time that cannot be placed.

DuckDB (ICU) and Spark (java.time) each resolve such readings their own way, and
Narwhals has no conversion of a wall-clock reading that runs on every engine. So the
zone's transitions in the readings' range are worked out here, with the standard
library's zoneinfo, and the conversion is written as a Narwhals expression of plain
arithmetic and comparisons (:func:`instants_of_readings`): the same rule, to the
microsecond, on polars, DuckDB and Spark. The expression is a balanced tree of
comparisons over the transitions (depth about log2 of their number), not a chain,
so that a long range stays within Spark Connect's plan depth.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import narwhals as nw

MICROS = 1_000_000
DAY = 86_400
FIRST_SCANNED = int(dt.datetime(1850, 1, 1, tzinfo=dt.UTC).timestamp())
LAST_SCANNED = int(dt.datetime(2150, 1, 1, tzinfo=dt.UTC).timestamp())
"""Transitions are looked for between these instants (seconds): before them, a
reading takes the zone's offset on the first day scanned; after them, the last
day's. Logs hold no times there that a report could use; the bound keeps the work
for a stray year 1 or 9999 to 300 years of offsets."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Transition:
    """The zone's offset changing from ``before`` to ``after`` (seconds east of UTC)
    at the instant ``at`` (seconds since 1970)."""

    at: int
    before: int
    after: int


def _offset(zone: ZoneInfo, second: int) -> int:
    moment = (_EPOCH + dt.timedelta(seconds=second)).astimezone(zone)
    offset = moment.utcoffset()
    assert offset is not None  # an aware datetime
    return int(offset.total_seconds())


def transitions(zone: ZoneInfo, first: int, last: int) -> tuple[int, list[Transition]]:
    """The offset (seconds) at instant ``first`` (seconds, clamped to the scanned
    range) and the zone's transitions after it until ``last``, from the transitions
    of each calendar year (worked out once per zone and year)."""
    first = min(max(first, FIRST_SCANNED), LAST_SCANNED)
    last = min(max(last, first), LAST_SCANNED)
    found: list[Transition] = []
    year = _year_of(first)
    while _year_start(year) <= last:
        found += [t for t in _year_transitions(zone, year) if first < t.at <= last]
        year += 1
    return _offset(zone, first), found


def _year_of(second: int) -> int:
    return (_EPOCH + dt.timedelta(seconds=second)).year


def _year_start(year: int) -> int:
    return int(dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp())


@functools.lru_cache(maxsize=4096)
def _year_transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """The transitions in calendar year ``year`` (UTC): offsets a day apart compared,
    each change narrowed to its second by bisection."""
    here, last = _year_start(year), _year_start(year + 1)
    offset = _offset(zone, here)
    found: list[Transition] = []
    while here < last:
        step = min(DAY, last - here)
        there = _offset(zone, here + step)
        if there != offset:
            low, high = here, here + step  # the old offset at low, not at high
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            found.append(Transition(high, offset, there))
        here, offset = here + step, there
    return tuple(found)


def instants_of_readings(reading: nw.Expr, tz: str, first: int, last: int) -> nw.Expr:
    """The instants (microseconds since 1970, UTC) of the wall-clock readings
    ``reading`` (microseconds, as if UTC) in zone ``tz``, for readings between
    ``first`` and ``last`` (microseconds; others take the offset at the nearer end):
    a reading in a gap becomes the first instant after it, one in an overlap is
    missing (see the module)."""
    zone = ZoneInfo(tz)
    margin = 2 * DAY  # a reading is at most a day from its instant
    start, changes = transitions(zone, first // MICROS - margin, -(-last // MICROS) + margin)
    # Segments of the readings' line, in order: a reading before a transition takes
    # the offset before it; in the transition's interval [a, b), the gap's end or
    # nothing; from b, the offset after it.
    starts: list[int] = []
    values: list[nw.Expr] = [reading - nw.lit(start * MICROS, nw.Int64)]
    for change in changes:
        low = (change.at + min(change.before, change.after)) * MICROS
        high = (change.at + max(change.before, change.after)) * MICROS
        if change.after > change.before:  # clocks go forward: a gap
            inside = nw.lit(change.at * MICROS, nw.Int64)
        else:  # clocks go back: an overlap
            inside = nw.lit(None, nw.Int64)
        starts += [low, high]
        values += [inside, reading - nw.lit(change.after * MICROS, nw.Int64)]
    tree: nw.Expr = _tree(reading, starts, values, 0, len(values))
    return tree


def _tree(reading: nw.Expr, starts: list[int], values: list[nw.Expr], low: int, high: int) -> Any:
    """The value of segment ``low`` .. ``high - 1`` a reading falls in (segment ``i``
    begins at ``starts[i - 1]``), by halving."""
    if high - low == 1:
        return values[low]
    middle = (low + high) // 2
    return (
        nw.when(reading < nw.lit(starts[middle - 1], nw.Int64))
        .then(_tree(reading, starts, values, low, middle))
        .otherwise(_tree(reading, starts, values, middle, high))
    )
