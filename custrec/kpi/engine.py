"""Computing customer-service KPIs from interaction logs (``docs/kpi-definitions.md``).

The log is one row per contact (interaction). :func:`compute_kpis` derives, per
contact, what each definition counts (a satisfied CSAT response, a handled contact and
its handling time, a first response time...) and, per case, what the case-level
definitions need (its first contact, its inbound contacts, whether and when it was
resolved, whether it was escalated); then it sums and summarises those per group and
period with vectorised group-bys. A case belongs to the group and period of its first
contact; a contact to its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import UsageError
from custrec.kpi import stats
from custrec.kpi.calendar import BusinessHours, zone

if TYPE_CHECKING:
    import pandas as pd

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


def compute_kpis(frame: pd.DataFrame, options: KpiOptions | None = None) -> KpiResult:
    """KPIs of a log: ``frame`` has the canonical columns (``schemas/interaction.yaml``)
    in their types: text, UTC timestamps, numbers (float) and nullable booleans."""
    chosen = options or KpiOptions()
    chosen.check()
    contacts = _filtered(frame, chosen)
    contacts = _contact_measures(contacts, chosen)
    keys = list(chosen.by) + (["period"] if chosen.period else [])
    cases = _case_measures(contacts, chosen, keys)
    result = KpiResult(by=list(chosen.by), period=chosen.period, options=_describe(chosen))
    contact_sums = _aggregate(contacts, keys, _CONTACT_SUMS, _CONTACT_TIMES)
    case_sums = _aggregate(cases, keys, _CASE_SUMS, _CASE_TIMES)
    if keys:
        index = contact_sums.index.union(case_sums.index)
        contact_sums = contact_sums.reindex(index)
        case_sums = case_sums.reindex(index)
        for label in index:
            values = label if isinstance(label, tuple) else (label,)
            row = {key: _plain(value) for key, value in zip(keys, values, strict=True)}
            if not chosen.period:
                row["period"] = None
            row.update(_figures(contact_sums.loc[label], case_sums.loc[label], chosen))
            result.rows.append(row)
    total_contacts = _aggregate(contacts, [], _CONTACT_SUMS, _CONTACT_TIMES)
    total_cases = _aggregate(cases, [], _CASE_SUMS, _CASE_TIMES)
    result.total = _figures(total_contacts.iloc[0], total_cases.iloc[0], chosen)
    return result


def _plain(value: Any) -> Any:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def _describe(options: KpiOptions) -> dict[str, Any]:
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
        "business_hours": options.business_hours is not None,
    }


def _filtered(frame: pd.DataFrame, options: KpiOptions) -> pd.DataFrame:
    keep = frame["created_at"].notna()
    if options.since is not None:
        keep &= frame["created_at"] >= options.since
    if options.until is not None:
        keep &= frame["created_at"] < options.until
    return frame[keep].copy()


def period_start(times: pd.Series, period: str, tz: str) -> pd.Series:
    """The ISO start (with the zone's offset) of each instant's period in ``tz``."""
    import pandas as pd

    local = times.dt.tz_convert(zone(tz))
    if period == "hour":
        starts = local.dt.floor("h", ambiguous="NaT", nonexistent="shift_forward")
    elif period == "day":
        starts = local.dt.normalize()
    elif period == "week":
        starts = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
        starts = starts.dt.tz_localize(None).dt.tz_localize(
            zone(tz), ambiguous="NaT", nonexistent="shift_forward"
        )
    else:
        code = "M" if period == "month" else "Q"
        naive = local.dt.tz_localize(None).dt.to_period(code).dt.start_time
        starts = naive.dt.tz_localize(zone(tz), ambiguous="NaT", nonexistent="shift_forward")
    return starts.map(lambda t: t.isoformat() if not pd.isna(t) else None)


def _seconds(start: pd.Series, end: pd.Series, hours: BusinessHours | None) -> pd.Series:
    """Seconds from start to end (business seconds with a calendar); null when either
    is missing or the end is before the start."""
    import pandas as pd

    both = start.notna() & end.notna()
    if hours is None:
        seconds = (end - start).dt.total_seconds()
    else:
        seconds = pd.Series(float("nan"), index=start.index)
        for label in both[both].index:
            seconds[label] = hours.seconds(start[label].to_pydatetime(), end[label].to_pydatetime())
    seconds = seconds.where(both)
    return seconds.where(seconds >= 0)


def _contact_measures(frame: pd.DataFrame, options: KpiOptions) -> pd.DataFrame:
    """Per contact, the indicators and durations the contact-level KPIs count."""

    df = frame
    df["direction"] = df["direction"].fillna("inbound")
    inbound = df["direction"].eq("inbound")
    if options.period:
        df["period"] = period_start(df["created_at"], options.period, options.tz)
    csat = df["csat"]
    df["m_csat_responses"] = csat.notna()
    df["m_csat_satisfied"] = csat >= 4
    score = df["nps"]
    df["m_nps_promoters"] = score >= 9
    df["m_nps_passives"] = (score >= 7) & (score <= 8)
    df["m_nps_detractors"] = score <= 6
    df["m_ces_responses"] = df["ces"].notna()
    df["m_ces_total"] = df["ces"].fillna(0.0)
    handled = df["talk_seconds"].notna()
    df["m_aht_handled"] = handled
    df["m_aht_total"] = (
        df["talk_seconds"].fillna(0) + df["hold_seconds"].fillna(0) + df["wrap_seconds"].fillna(0)
    ).where(handled, 0.0)
    hours = options.business_hours
    df["t_frt"] = _seconds(df["created_at"], df["first_response_at"], hours)
    df["t_asa"] = _seconds(df["created_at"], df["answered_at"], hours)
    queue = inbound & df["channel"].isin(SL_CHANNELS)
    answered = queue & df["answered_at"].notna()
    abandoned = queue & df["answered_at"].isna()
    waited = (df["ended_at"] - df["created_at"]).dt.total_seconds()
    short = abandoned & (waited < options.short_abandon).fillna(False)
    offered = (answered | abandoned) & ~short
    asa_plain = (df["answered_at"] - df["created_at"]).dt.total_seconds()
    df["m_sl_offered"] = offered
    df["m_sl_within"] = answered & (asa_plain <= options.sl_threshold).fillna(False)
    df["m_abandoned"] = abandoned & ~short
    if options.fcr_method == "repeat":
        _repeat_contacts(df, options)
    return df


def _repeat_contacts(df: pd.DataFrame, options: KpiOptions) -> None:
    """FCR by repeat contact: resolved inbound contacts with a customer, and those
    with no further inbound contact from that customer within the window."""
    inbound = df["direction"].eq("inbound")
    eligible = inbound & df["resolved"].fillna(False).astype(bool) & df["customer_id"].notna()
    keys = ["customer_id"] + (["category"] if options.fcr_same_category else [])
    inbound_rows = df[inbound & df["customer_id"].notna()].sort_values("created_at")
    following = inbound_rows.groupby(keys, dropna=False)["created_at"].shift(-1)
    gap = following - inbound_rows["created_at"]
    repeated = (gap <= options.fcr_window).fillna(False)
    df["m_fcr_repeat_eligible"] = eligible
    df["m_fcr_repeat_first"] = eligible & ~repeated.reindex(df.index, fill_value=False)


def _case_measures(contacts: pd.DataFrame, options: KpiOptions, keys: list[str]) -> pd.DataFrame:
    """Per case: the group and period of its first contact, its inbound contacts,
    whether it was resolved and escalated, and its resolution time."""
    import pandas as pd

    ordered = contacts.sort_values(["created_at", "interaction_id"], kind="stable")
    flags = pd.DataFrame(
        {
            "case_id": ordered["case_id"],
            "inbound": ordered["direction"].eq("inbound").astype("int64"),
            "resolved": ordered["resolved"].fillna(False).astype(bool),
            "escalated": ordered["escalated"].fillna(False).astype(bool),
            "resolved_at": ordered["resolved_at"],
        }
    )
    per_case = flags.groupby("case_id", sort=False).agg(
        inbound=("inbound", "sum"),
        resolved=("resolved", "max"),
        escalated=("escalated", "max"),
        last_resolved=("resolved_at", "max"),
    )
    first = ordered.groupby("case_id", sort=False).head(1).set_index("case_id")
    cases = pd.DataFrame(index=first.index)
    for key in keys:
        cases[key] = first[key]
    cases["first_created"] = first["created_at"]
    cases["first_interaction_id"] = first["interaction_id"]
    cases["contacts"] = flags.groupby("case_id", sort=False).size().reindex(cases.index)
    per_case = per_case.reindex(cases.index)
    resolved = per_case["resolved"].astype(bool)
    cases["inbound"] = per_case["inbound"]
    cases["m_cases"] = True
    cases["m_resolved"] = resolved
    cases["m_fcr_one_contact"] = resolved & (per_case["inbound"] == 1)
    cases["m_escalated"] = per_case["escalated"].astype(bool)
    cases["last_resolved"] = per_case["last_resolved"]
    resolution = _seconds(cases["first_created"], cases["last_resolved"], options.business_hours)
    cases["t_resolution"] = resolution.where(cases["m_resolved"])
    return cases.reset_index()


def case_table(frame: pd.DataFrame, options: KpiOptions | None = None) -> list[dict[str, Any]]:
    """One row per case with its derived fields (``report kpi --detail``)."""
    chosen = options or KpiOptions()
    chosen.check()
    contacts = _contact_measures(_filtered(frame, chosen), chosen)
    cases = _case_measures(contacts, chosen, [])
    out = []
    for row in cases.itertuples(index=False):
        out.append(
            {
                "case_id": row.case_id,
                "first_interaction_id": row.first_interaction_id,
                "first_created_at": row.first_created.isoformat(),
                "contacts": int(row.contacts),
                "inbound_contacts": int(row.inbound),
                "resolved": bool(row.m_resolved),
                "fcr": bool(row.m_fcr_one_contact) if row.m_resolved else None,
                "escalated": bool(row.m_escalated),
                "resolution_seconds": None
                if row.t_resolution != row.t_resolution
                else float(row.t_resolution),
            }
        )
    return out


_CONTACT_SUMS = (
    "m_csat_responses",
    "m_csat_satisfied",
    "m_nps_promoters",
    "m_nps_passives",
    "m_nps_detractors",
    "m_ces_responses",
    "m_ces_total",
    "m_aht_handled",
    "m_aht_total",
    "m_sl_offered",
    "m_sl_within",
    "m_abandoned",
    "m_fcr_repeat_eligible",
    "m_fcr_repeat_first",
    "m_contacts",
)
_CONTACT_TIMES = ("t_frt", "t_asa")
_CASE_SUMS = ("m_cases", "m_resolved", "m_fcr_one_contact", "m_escalated")
_CASE_TIMES = ("t_resolution",)


def _aggregate(
    frame: pd.DataFrame, keys: list[str], sums: Sequence[str], times: Sequence[str]
) -> pd.DataFrame:
    """Sums of indicators and summaries of durations, per group (or for all rows)."""
    import pandas as pd

    data = frame.copy()
    if "m_contacts" in sums:
        data["m_contacts"] = True
    present = [name for name in sums if name in data.columns]
    if keys:
        grouped = data.groupby(keys, dropna=False, sort=True)
        out = grouped[present].sum()
        for name in times:
            column = grouped[name]
            out[f"{name}:median"] = column.median()
            out[f"{name}:mean"] = column.mean()
            out[f"{name}:p90"] = column.quantile(0.9)
            out[f"{name}:n"] = column.count()
    else:
        out = pd.DataFrame([data[present].sum()])
        for name in times:
            values = data[name].dropna()
            out[f"{name}:median"] = values.median() if len(values) else float("nan")
            out[f"{name}:mean"] = values.mean() if len(values) else float("nan")
            out[f"{name}:p90"] = values.quantile(0.9) if len(values) else float("nan")
            out[f"{name}:n"] = len(values)
    for name in sums:
        if name not in out.columns:
            out[name] = 0
    return out


def _count(row: pd.Series, name: str) -> int:
    value = row.get(name)
    try:
        return int(value) if value == value and value is not None else 0
    except (TypeError, ValueError):
        return 0


def _number(row: pd.Series, name: str) -> float | None:
    value = row.get(name)
    if value is None or value != value:
        return None
    return float(value)


def _time_figure(row: pd.Series, name: str) -> dict[str, object]:
    n = _count(row, f"{name}:n")
    return {
        "median": _number(row, f"{name}:median") if n else None,
        "mean": _number(row, f"{name}:mean") if n else None,
        "p90": _number(row, f"{name}:p90") if n else None,
        "n": n,
        "small_sample": n < stats.SMALL_SAMPLE,
    }


def _figures(contacts: pd.Series, cases: pd.Series, options: KpiOptions) -> dict[str, Any]:
    """The KPI objects of one group from its sums (see the JSON contract)."""
    c, k = contacts, cases
    handled = _count(c, "m_aht_handled")
    aht_total = _number(c, "m_aht_total") or 0.0
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
        "ces": stats.mean_of(_number(c, "m_ces_total") or 0.0, _count(c, "m_ces_responses")),
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
    }
