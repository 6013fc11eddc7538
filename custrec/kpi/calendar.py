"""Business hours: how much of a time span falls in opening hours.

A schedule is written like ``Mon-Fri 09:00-17:00`` or ``Mon-Fri 08:00-18:00, Sat
10:00-14:00`` and read in a time zone (``Europe/London``). Opening and closing times are
local wall-clock times, converted to instants day by day, so a day when clocks change
has its true length (a 09:00-17:00 day is 8 hours either side of the change). Holidays
(dates, local) are closed all day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custrec.errors import InputError, UsageError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLAUSE = re.compile(
    r"(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<open>[0-9]{1,2}:[0-9]{2})-(?P<close>[0-9]{1,2}:[0-9]{2})"
)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} (expected e.g. Europe/London)") from None


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) in ``tz``, and closed ``holidays``."""

    hours: dict[int, list[tuple[dt.time, dt.time]]]
    tz: ZoneInfo
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def parse(cls, text: str, tz: str = "UTC", holidays: Iterable[dt.date] = ()) -> BusinessHours:
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for clause in re.split(r"[;,]", text):
            clause = clause.strip().lower()
            if not clause:
                continue
            match = _CLAUSE.fullmatch(clause)
            if not match or match["first"] not in DAYS or (match["last"] or "mon") not in DAYS:
                raise UsageError(
                    f"--business-hours {text!r}: expected e.g. 'Mon-Fri 09:00-17:00' "
                    "(clauses separated by commas)"
                )
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"]) if match["last"] else first
            opening, closing = _time(match["open"], text), _time(match["close"], text)
            if closing <= opening:
                raise UsageError(f"--business-hours {text!r}: closing must be after opening")
            day = first
            while True:
                hours.setdefault(day, []).append((opening, closing))
                if day == last:
                    break
                day = (day + 1) % 7
        if not hours:
            raise UsageError("--business-hours: no opening hours given")
        return cls(hours, zone(tz), frozenset(holidays))

    def seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business seconds between two aware instants (0 when end <= start)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)
        last = end.astimezone(self.tz).date() + dt.timedelta(days=1)
        while day <= last:
            for window_start, window_end in self.windows(day):
                overlap = min(end, window_end) - max(start, window_start)
                if overlap > dt.timedelta(0):
                    total += overlap.total_seconds()
            day += dt.timedelta(days=1)
        return total

    def windows(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The opening windows of a local ``day`` as UTC instants (none on a holiday)."""
        if day in self.holidays:
            return []
        return [
            (_instant(day, opening, self.tz), _instant(day, closing, self.tz))
            for opening, closing in self.hours.get(day.weekday(), ())
        ]


def _time(text: str, whole: str) -> dt.time:
    hour, minute = (int(part) for part in text.split(":"))
    if hour == 24 and minute == 0:
        return dt.time.max
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise UsageError(f"--business-hours {whole!r}: {text} is not a time of day")
    return dt.time(hour, minute)


def _instant(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The instant of a local wall-clock time (a time skipped by a clock change is read
    as after the change; a repeated one as its first occurrence)."""
    local = dt.datetime.combine(day, time, tzinfo=tz)
    return local.astimezone(dt.UTC)


def read_holidays(path: str) -> list[dt.date]:
    """Dates ``YYYY-MM-DD``, one per line (or the first column of a CSV); blank lines,
    ``#`` comments and a header line without a date are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc})") from None
    days = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].split(",", 1)[0].strip()
        if not text:
            continue
        try:
            days.append(dt.date.fromisoformat(text))
        except ValueError:
            if number == 1:
                continue  # a header
            raise InputError(path, "expected a date YYYY-MM-DD", line=number, column=1) from None
    return days
