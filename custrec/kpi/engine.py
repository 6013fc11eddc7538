"""Computing customer-service KPIs from interaction logs (``docs/kpi-definitions.md``):
the options, the result in the JSON contract's shape, and the entry points that run the
definitions of :mod:`custrec.kpi.definitions` on polars (the default engine) or, through
:mod:`custrec.engines`, on DuckDB or Spark.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import Any

from custrec.errors import UsageError
from custrec.kpi.calendar import BusinessHours, zone
from custrec.kpi.columns import CANONICAL, KpiColumns

PERIODS = ("hour", "day", "week", "month", "quarter")
GROUP_COLUMNS = ("channel", "direction", "agent_id", "team", "category")
FCR_METHODS = ("case", "repeat")
SL_CHANNELS = ("phone", "chat")
KPI_KEYS = (
    "csat",
    "nps",
    "ces",
    "aht",
    "fcr",
    "frt",
    "resolution_time",
    "asa",
    "service_level",
    "abandonment_rate",
    "escalation_rate",
    "survey_response_rate",
    "follow_up_rate",
)


@dataclass(frozen=True)
class KpiOptions:
    """How to group and define the KPIs (defaults: ``docs/kpi-definitions.md``)."""

    by: tuple[str, ...] = ()
    period: str | None = None
    tz: str = "UTC"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    fcr_method: str = "case"
    fcr_window: dt.timedelta = dt.timedelta(days=7)
    fcr_same_category: bool = False
    sl_threshold: float = 20.0
    short_abandon: float = 5.0
    follow_up_window: dt.timedelta = dt.timedelta(days=7)
    business_hours: BusinessHours | None = None

    def check(self) -> None:
        unknown = [name for name in self.by if name not in GROUP_COLUMNS]
        if unknown:
            raise UsageError(f"--by {unknown[0]!r}: group by one of {', '.join(GROUP_COLUMNS)}")
        if self.period is not None and self.period not in PERIODS:
            raise UsageError(f"--period must be one of {', '.join(PERIODS)}")
        if self.fcr_method not in FCR_METHODS:
            raise UsageError(f"--fcr-method must be one of {', '.join(FCR_METHODS)}")
        zone(self.tz)


@dataclass
class KpiResult:
    """Rows (one per group and period) and the total, in the JSON contract's shape."""

    by: list[str]
    period: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    skipped_invalid: int = 0
    overall: list[dict[str, Any]] | None = None
    """With groups and periods, when asked for: the rows of all groups together, one
    per period (the HTML page's trend charts); not part of the JSON contract."""


_ALWAYS = (
    "interaction_id",
    "case_id",
    "channel",
    "direction",
    "created_at",
    "answered_at",
    "first_response_at",
    "ended_at",
    "resolved_at",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "csat",
    "nps",
    "ces",
    "resolved",
    "escalated",
    "survey_sent",
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def needed_columns(options: KpiOptions) -> tuple[str, ...]:
    """The canonical columns :func:`compute_kpis` reads with these options."""
    names = set(_ALWAYS) | set(options.by)
    if options.fcr_method == "repeat":
        names.add("customer_id")
        if options.fcr_same_category:
            names.add("category")
    return tuple(name for name in CANONICAL if name in names)


def compute_kpis(
    frame: Any, options: KpiOptions | None = None, *, overall: bool = False
) -> KpiResult:
    """KPIs of a log: ``frame`` has the canonical columns (``schemas/interaction.yaml``)
    in their types (text, UTC timestamps, numbers, booleans), as a pandas DataFrame,
    as :class:`~custrec.kpi.columns.KpiColumns`, or as the polars DataFrame
    :func:`custrec.kpi.logs.load_logs` keeps (a column it lacks is missing).
    ``overall``: also the rows of all groups together (:attr:`KpiResult.overall`)."""
    from custrec.kpi import definitions

    chosen = options or KpiOptions()
    chosen.check()
    columns = as_columns(frame, chosen)
    # Medians and 90th percentiles by rank (definitions.ranked_quantiles): polars'
    # quantile aggregate gathers every group's values (10M interactions by channel
    # and month: 4.2 GB peak RSS against 3.7 GB by rank, in the same time).
    return definitions.kpi_result(
        definitions.polars_contacts(columns, chosen),
        chosen,
        make_table=definitions.polars_table,
        keep=definitions.polars_kept,
        ranked=True,
        overall=overall,
    )


def case_table(frame: Any, options: KpiOptions | None = None) -> list[dict[str, Any]]:
    """One row per case with its derived fields (``report kpi --detail``), in the order
    of the cases' first contacts."""
    from custrec.kpi import definitions

    chosen = options or KpiOptions()
    chosen.check()
    columns = as_columns(frame, chosen)
    return definitions.case_rows(
        definitions.polars_contacts(columns, chosen),
        chosen,
        make_table=definitions.polars_table,
    )


def describe(options: KpiOptions) -> dict[str, Any]:
    return {
        "by": list(options.by),
        "period": options.period,
        "tz": options.tz,
        "since": options.since.isoformat() if options.since else None,
        "until": options.until.isoformat() if options.until else None,
        "fcr_method": options.fcr_method,
        "fcr_window_seconds": options.fcr_window.total_seconds(),
        "fcr_same_category": options.fcr_same_category,
        "sl_threshold_seconds": options.sl_threshold,
        "short_abandon_seconds": options.short_abandon,
        "follow_up_window_seconds": options.follow_up_window.total_seconds(),
        "business_hours": options.business_hours is not None,
    }


def as_columns(frame: Any, options: KpiOptions) -> Any:
    """A polars DataFrame (as the loader keeps logs) or :class:`KpiColumns` as they
    are; a pandas DataFrame as :class:`KpiColumns`."""
    # A pandas DataFrame exists only once pandas is imported: looking in sys.modules
    # spares its import (about 0.2 s of a report that never uses it).
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(frame, pd.DataFrame):
        return KpiColumns.from_frame(frame, needed_columns(options))
    return frame


def micros(moment: dt.datetime) -> int:
    """Microseconds since 1970 of an aware time (how instants are held)."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def instant(micros: int) -> dt.datetime:
    """The UTC time of ``micros`` microseconds since 1970 (how the columns hold times)."""
    return _EPOCH + dt.timedelta(microseconds=micros)
