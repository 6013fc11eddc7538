"""How KPI figures are shown to people: names, units, period labels, durations, the
colour of each series and the range of each chart's axis.

Everything here is plain Python (no pandas, no matplotlib), shared by the HTML page
(:mod:`custrec.kpi.page`) and its charts (:mod:`custrec.kpi.charts`).

- **Period labels** read like a calendar: ``Aug 2026`` (month), ``2026-W32`` (ISO
  week), ``Mon 3 Aug`` (day), ``Q3 2026`` (quarter), ``Mon 3 Aug 14:00`` (hour).
- **Durations** are ``m:ss`` below an hour (``9:05``) and ``h:mm h`` from an hour on
  (``2:52 h``), rounded to the second or the minute.
- **Colours** come from the series name, never from its position: a series keeps its
  colour in every chart of a page, and a channel keeps it across pages. The palette
  is Tableau 10 (:data:`PALETTE`); the channels and directions custrec knows have a
  fixed colour (:data:`FIXED_COLOURS`); any other name starts at the colour its CRC-32
  picks and takes the next free one if a name before it (in sorted order) has it.
  Past ten series, the colours repeat with a dashed line.
- **Axes** start at an honest baseline (``full``): rates on 0-100 %, NPS on -100 to
  100, CES on its 1-7 scale, times and AHT from 0. ``data`` zooms to the figures (and
  the chart says so).
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Names written out rather than with strftime("%b"), which follows the C locale.

SCALES = ("full", "data")
"""``full``: each KPI on its whole scale (rates 0-100); ``data``: zoomed to the figures."""

PALETTE = (
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#e15759",  # red
    "#76b7b2",  # teal
    "#59a14f",  # green
    "#edc948",  # yellow
    "#b07aa1",  # purple
    "#ff9da7",  # pink
    "#9c755f",  # brown
    "#bab0ac",  # grey
)
"""Tableau 10, the default palette of Tableau and of Vega: ten colours told apart
on screen and in print."""

FIXED_COLOURS = {
    "all contacts": PALETTE[0],
    "phone": PALETTE[0],
    "email": PALETTE[1],
    "chat": PALETTE[4],
    "sms": PALETTE[6],
    "social": PALETTE[8],
    "inbound": PALETTE[0],
    "outbound": PALETTE[1],
}
"""The colours of the channels and directions custrec knows, the same on every page."""


@dataclass(frozen=True)
class KpiLook:
    """How one KPI is shown: ``title`` (short), ``name`` (spelled out), ``kind``
    (``rate`` in percent, ``nps`` in points, ``score`` on 1-7, ``time`` in seconds),
    ``better`` (+1 when a higher figure is better, -1 when lower is), ``field`` (the
    figure of its JSON object) and ``term`` (its name in ``kpi-definitions.md``)."""

    key: str
    title: str
    name: str
    kind: str
    better: int
    field: str
    term: str


LOOKS = {
    look.key: look
    for look in (
        KpiLook("csat", "CSAT", "satisfied customers", "rate", 1, "value", "CSAT"),
        KpiLook("nps", "NPS", "net promoter score", "nps", 1, "value", "NPS"),
        KpiLook("ces", "CES", "customer effort score", "score", 1, "value", "CES"),
        KpiLook("aht", "AHT", "average handling time", "time", -1, "value", "AHT"),
        KpiLook("fcr", "FCR", "first contact resolution", "rate", 1, "value", "FCR"),
        KpiLook(
            "frt", "First response", "median first response time", "time", -1, "median",
            "First response time",
        ),
        KpiLook(
            "resolution_time", "Resolution", "median resolution time", "time", -1, "median",
            "Resolution time",
        ),
        KpiLook("asa", "ASA", "median speed of answer", "time", -1, "median", "ASA"),
        KpiLook(
            "service_level", "Service level", "answered within the threshold", "rate", 1,
            "value", "Service level",
        ),
        KpiLook(
            "abandonment_rate", "Abandoned", "abandonment rate", "rate", -1, "value",
            "Abandonment rate",
        ),
        KpiLook(
            "escalation_rate", "Escalated", "escalation rate", "rate", -1, "value",
            "Escalation rate",
        ),
        KpiLook(
            "survey_response_rate", "Surveys answered", "survey response rate", "rate", 1,
            "value", "Survey response rate",
        ),
        KpiLook(
            "follow_up_rate", "Followed up", "follow-up rate", "rate", 1, "value",
            "Follow-up rate",
        ),
    )
}  # fmt: skip


def figure(kpi: str, value: dict[str, Any]) -> float | None:
    """The headline number of a KPI object (a rate's value, a time's median)."""
    number = value.get(LOOKS[kpi].field)
    return None if number is None else float(number)


def sample_size(kpi: str, value: dict[str, Any]) -> int | None:
    """How many responses or contacts a KPI object is based on."""
    for name in ("denominator", "responses", "n"):
        if name in value:
            return int(value[name])
    return None


# --- periods --------------------------------------------------------------------------


def period_label(start: str | None, period: str | None) -> str:
    """A period's start (ISO 8601, as in the JSON report) as people write it."""
    if start is None:
        return "no date"
    moment = dt.datetime.fromisoformat(start)
    month = MONTHS[moment.month - 1]
    if period == "month":
        return f"{month} {moment.year}"
    if period == "quarter":
        return f"Q{(moment.month - 1) // 3 + 1} {moment.year}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    day = f"{WEEKDAYS[moment.weekday()]} {moment.day} {month}"
    if period == "hour":
        return f"{day} {moment:%H}:00"
    return day


# --- figures --------------------------------------------------------------------------


def duration_text(seconds: float, unit: str | None = None) -> str:
    """``m:ss`` below an hour, ``h:mm h`` from an hour on (``-`` before a negative
    number, for a change). ``unit`` (``m:ss`` or ``h:mm``) forces one form, without
    the ``h``: the ticks of one axis are all written alike."""
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    if unit == "m:ss" or (unit is None and whole < 3600):
        return f"{sign}{whole // 60}:{whole % 60:02d}"
    minutes = round(abs(seconds) / 60)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}" + ("" if unit else " h")


def duration_unit(high: float) -> str:
    """The form of the ticks of a time axis that reaches ``high`` seconds."""
    return "h:mm" if high >= 3600 else "m:ss"


def value_text(kpi: str, number: float | None) -> str:
    """A KPI's figure for reading: ``74.3%``, ``+16``, ``5.20``, ``9:05``."""
    if number is None:
        return "\N{EN DASH}"
    kind = LOOKS[kpi].kind
    if kind == "rate":
        return f"{number:.1f}%"
    if kind == "nps":
        return f"{number:+.0f}" if round(number) else "0"
    if kind == "score":
        return f"{number:.2f}"
    return duration_text(number)


def change_text(kpi: str, change: float) -> str:
    """A change between two periods: ``+1.2 pts``, ``-0:12``, ``+0.05``."""
    kind = LOOKS[kpi].kind
    if kind in ("rate", "nps"):
        return f"{change:+.1f} pts"
    if kind == "score":
        return f"{change:+.2f}"
    text = duration_text(change)
    return text if text.startswith("-") else "+" + text


def change_between(kpi: str, latest: dict[str, Any], previous: dict[str, Any]) -> float | None:
    """The latest figure minus the previous one (None when either is missing)."""
    now, before = figure(kpi, latest), figure(kpi, previous)
    if now is None or before is None:
        return None
    return now - before


def verdict(kpi: str, change: float) -> str:
    """``better``, ``worse`` or ``same`` for a change of ``kpi`` (``same`` when it is
    zero as written: a change of 0.3 s is shown as ``+0:00``)."""
    shown = {"rate": 1, "nps": 1, "score": 2}.get(LOOKS[kpi].kind, 0)
    if round(change, shown) == 0:
        return "same"
    return "better" if change * LOOKS[kpi].better > 0 else "worse"


def period_end(start: str, period: str) -> dt.datetime:
    """The end of the period that starts at ``start`` (the next one's start, on the
    same wall clock)."""
    moment = dt.datetime.fromisoformat(start)
    if period in ("month", "quarter"):
        months = moment.month - 1 + (1 if period == "month" else 3)
        return moment.replace(year=moment.year + months // 12, month=months % 12 + 1)
    step = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
    return moment + step.get(period, dt.timedelta(days=7))


# --- colours --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesStyle:
    colour: str
    dashed: bool = False


def series_styles(names: Iterable[str]) -> dict[str, SeriesStyle]:
    """The style of each series, from its name (see the module docstring): a name
    has the same colour whatever the other names and their order."""
    ordered = sorted(set(names), key=lambda name: (name not in FIXED_COLOURS, name))
    taken: set[str] = set()
    out: dict[str, SeriesStyle] = {}
    for name in ordered:
        colour = FIXED_COLOURS.get(name)
        if colour is None:
            start = zlib.crc32(name.encode("utf-8")) % len(PALETTE)
            free = [
                PALETTE[(start + step) % len(PALETTE)]
                for step in range(len(PALETTE))
                if PALETTE[(start + step) % len(PALETTE)] not in taken
            ]
            colour = free[0] if free else PALETTE[start]
        dashed = colour in taken
        taken.add(colour)
        out[name] = SeriesStyle(colour, dashed)
    return out


# --- axes -----------------------------------------------------------------------------


NICE_SECONDS = (
    *(5, 10, 15, 30, 60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800),
)
"""Steps between the ticks of a time axis: seconds, minutes and hours people count in."""


def time_step(high: float, ticks: int = 6) -> float:
    """The smallest nice step that puts at most ``ticks`` steps below ``high`` seconds."""
    for step in NICE_SECONDS:
        if high / step <= ticks:
            return float(step)
    return float(NICE_SECONDS[-1] * math.ceil(high / NICE_SECONDS[-1] / ticks))


def axis_range(
    kpi: str, values: Sequence[float], scale: str = "full", target: float | None = None
) -> tuple[float, float]:
    """The y range of ``kpi``'s chart over ``values`` (and its target, to show it)."""
    kind = LOOKS[kpi].kind
    bounds = {"rate": (0.0, 100.0), "nps": (-100.0, 100.0), "score": (1.0, 7.0)}
    shown = [*values, *([target] if target is not None else [])]
    if scale == "full":
        if kind in bounds:
            return bounds[kind]
        high = max(shown, default=0.0)
        step = time_step(high * 1.1 or 60.0)
        return 0.0, step * max(math.ceil(high * 1.1 / step), 1)
    if not shown:
        return bounds.get(kind, (0.0, 60.0))
    low, high = min(shown), max(shown)
    margin = max((high - low) * 0.25, {"rate": 1.0, "nps": 2.0, "score": 0.1}.get(kind, 5.0))
    floor, ceiling = bounds.get(kind, (0.0, math.inf))
    return max(low - margin, floor), min(high + margin, ceiling)
