"""Computing customer-service KPIs from interaction logs (``docs/kpi-definitions.md``).

The log is one row per contact (interaction). :func:`compute_kpis` derives, per
contact, what each definition counts (a satisfied CSAT response, a handled contact and
its handling time, a first response time...) and, per case, what the case-level
definitions need (its first contact, its inbound contacts, whether and when it was
resolved, whether it was escalated); then it sums and summarises those per group and
period. A case belongs to the group and period of its first contact; a contact to its
own.

Everything works on whole columns (:class:`~custrec.kpi.columns.KpiColumns`): groups
and cases are integer codes from Arrow's hashing, sums are ``numpy.bincount``, a
case's first contact is found from the earliest time per case (only ties are sorted),
and percentiles come from one sort per duration. pandas is needed only for periods in
a time zone and for a DataFrame given as input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import UsageError
from custrec.kpi import stats
from custrec.kpi.calendar import BusinessHours, zone
from custrec.kpi.columns import CANONICAL, NAT, KpiColumns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

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
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FEW_GROUPS = 32
"""Up to this many groups, the rows of each group are counted with a mask of their own."""
_SORTED_BY_GROUP = 4096
"""Up to this many groups, durations are put in groups and each group sorted (else
all sorted by group and value at once)."""


def needed_columns(options: KpiOptions) -> tuple[str, ...]:
    """The canonical columns :func:`compute_kpis` reads with these options."""
    names = set(_ALWAYS) | set(options.by)
    if options.fcr_method == "repeat":
        names.add("customer_id")
        if options.fcr_same_category:
            names.add("category")
    return tuple(name for name in CANONICAL if name in names)


def compute_kpis(frame: pd.DataFrame | KpiColumns, options: KpiOptions | None = None) -> KpiResult:
    """KPIs of a log: ``frame`` has the canonical columns (``schemas/interaction.yaml``)
    in their types (text, UTC timestamps, numbers, booleans), as a pandas DataFrame or
    as :class:`~custrec.kpi.columns.KpiColumns` (a column it lacks is missing)."""
    from concurrent.futures import ThreadPoolExecutor

    chosen = options or KpiOptions()
    chosen.check()
    columns = _columns(frame, chosen)
    keys = list(chosen.by) + (["period"] if chosen.period else [])
    # The cases are worked out by a second thread (Arrow hashes the case ids, and
    # numpy's loops, without the interpreter's lock) while this one does the contacts.
    # Each measure is summed per group as soon as it is worked out, so that memory
    # holds a few at a time besides the log.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="custrec-kpi") as pool:
        case_codes = pool.submit(_codes, columns.text["case_id"], False)
        inbound = _inbound(columns)
        groups = _groups(columns, keys, chosen)
        by = groups if keys else None
        cases = pool.submit(_case_sums, columns, inbound, chosen, by, case_codes.result)
        contact_sums, total_contacts = _contact_sums(columns, inbound, chosen, by)
        case_sums, total_cases = cases.result()
    result = KpiResult(by=list(chosen.by), period=chosen.period, options=_describe(chosen))
    if keys:
        for index, label in enumerate(groups.labels):
            row: dict[str, Any] = dict(zip(keys, label, strict=True))
            if not chosen.period:
                row["period"] = None
            row.update(_figures(_pick(contact_sums, index), _pick(case_sums, index), chosen))
            result.rows.append(row)
    result.total = _figures(total_contacts, total_cases, chosen)
    return result


def case_table(
    frame: pd.DataFrame | KpiColumns, options: KpiOptions | None = None
) -> list[dict[str, Any]]:
    """One row per case with its derived fields (``report kpi --detail``), in the order
    of the cases' first contacts."""
    import numpy as np

    from custrec.kpi import arrays

    chosen = options or KpiOptions()
    chosen.check()
    columns = _columns(frame, chosen)
    cases = _Cases(columns, _inbound(columns), chosen, detail=True)
    first = cases.first_row
    first_ids = columns.text["interaction_id"].take(arrays.integers(first))
    order = _sorted(cases.first_created, first_ids, first)
    names = cases.names.to_pylist()
    ids = first_ids.to_pylist()
    out = []
    for case in order.tolist():
        resolved = bool(cases.resolved[case])
        seconds = cases.t_resolution[case]
        out.append(
            {
                "case_id": names[case],
                "first_interaction_id": ids[case],
                "first_created_at": instant(int(cases.first_created[case])).isoformat(),
                "contacts": int(cases.contacts[case]),
                "inbound_contacts": int(cases.inbound[case]),
                "resolved": resolved,
                "fcr": bool(cases.one_contact[case]) if resolved else None,
                "escalated": bool(cases.escalated[case]),
                "resolution_seconds": None if np.isnan(seconds) else float(seconds),
            }
        )
    return out


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


# --- the contacts ---------------------------------------------------------------------


def _columns(frame: pd.DataFrame | KpiColumns, options: KpiOptions) -> KpiColumns:
    """The columns the options need, the contacts created in ``[since, until)``."""
    import numpy as np

    names = needed_columns(options)
    if isinstance(frame, KpiColumns):
        columns = frame
        missing = [name for name in names if name not in columns]
        if missing:
            columns = KpiColumns(
                rows=frame.rows,
                text=dict(frame.text),
                times=dict(frame.times),
                numbers=dict(frame.numbers),
                flags=dict(frame.flags),
            )
            blank = _blank(frame.rows, missing)
            columns.text.update(blank.text)
            columns.times.update(blank.times)
            columns.numbers.update(blank.numbers)
            columns.flags.update(blank.flags)
    else:
        columns = KpiColumns.from_frame(frame, names)
    keep = in_window(columns, options)
    return columns if bool(np.all(keep)) else columns.where(keep)


def in_window(columns: KpiColumns, options: KpiOptions) -> np.ndarray:
    """Which contacts count: created, and in ``[since, until)`` when given."""
    created = columns.times["created_at"]
    keep: np.ndarray = created != NAT
    if options.since is not None:
        keep &= created >= _micros(options.since)
    if options.until is not None:
        keep &= created < _micros(options.until)
    return keep


def _blank(rows: int, names: Sequence[str]) -> KpiColumns:
    """Columns missing throughout."""
    import pandas as pd

    return KpiColumns.from_frame(pd.DataFrame(index=pd.RangeIndex(rows)), names)


def _inbound(columns: KpiColumns) -> np.ndarray:
    """Per contact, whether it is inbound (a missing direction is)."""
    import pyarrow.compute as pc

    from custrec.kpi import arrays

    return arrays.flags(pc.equal(columns.text["direction"], arrays.text("inbound")), True)


def _contact_sums(
    columns: KpiColumns, inbound: np.ndarray, options: KpiOptions, groups: _Groups | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per group (empty without ``groups``) and in total, what the contact-level KPIs
    count: indicators and totals summed, durations summarised."""
    import numpy as np

    sums: dict[str, Any] = {}
    for name, values in _contact_measures(columns, inbound, options):
        if name.startswith("t_"):
            sums[name] = _summaries(values, groups)
        elif values.dtype == bool:
            sums[name] = _count_by(values, groups)
        else:
            sums[name] = _sum_by(values, groups)
    sums["m_contacts"] = _count_by(np.ones(columns.rows, bool), groups)
    return _both(sums)


def _contact_measures(
    columns: KpiColumns, inbound: np.ndarray, options: KpiOptions
) -> Iterator[tuple[str, np.ndarray]]:
    """Per contact, one by one: the indicators (booleans), totals and durations (NaN
    when there is none) the contact-level KPIs count."""
    import numpy as np
    import pyarrow.compute as pc

    from custrec.kpi import arrays

    times, numbers = columns.times, columns.numbers
    created = times["created_at"]
    csat, score, ces = numbers["csat"], numbers["nps"], numbers["ces"]
    with np.errstate(invalid="ignore"):
        yield "m_csat_responses", ~np.isnan(csat)
        yield "m_csat_satisfied", csat >= 4
        yield "m_nps_promoters", score >= 9
        yield "m_nps_passives", (score >= 7) & (score <= 8)
        yield "m_nps_detractors", score <= 6
    answered_ces = ~np.isnan(ces)
    yield "m_ces_responses", answered_ces
    yield "m_ces_total", np.where(answered_ces, ces, 0.0)
    talk = numbers["talk_seconds"]
    handled = ~np.isnan(talk)
    yield "m_aht_handled", handled
    total = np.where(handled, talk, 0.0)
    for name in ("hold_seconds", "wrap_seconds"):
        part = numbers[name]
        total += np.where(handled & ~np.isnan(part), part, 0.0)
    yield "m_aht_total", total
    del total
    hours = options.business_hours
    # created_at is present: the contacts without one are left out
    yield "t_frt", _seconds(created, times["first_response_at"], hours, started=True)
    answered_at = times["answered_at"]
    queued = pc.is_in(columns.text["channel"], value_set=arrays.strings(SL_CHANNELS))
    queue = inbound & arrays.flags(queued)
    answered = queue & (answered_at != NAT)
    abandoned = queue & (answered_at == NAT)
    wait = _seconds(created, answered_at, None, keep_negative=True, started=True)
    waited = _seconds(created, times["ended_at"], None, keep_negative=True, started=True)
    with np.errstate(invalid="ignore"):
        short = abandoned & (waited < options.short_abandon)
        yield "m_sl_within", answered & (wait <= options.sl_threshold)
        if hours is None:
            wait[wait < 0] = np.nan
            yield "t_asa", wait
        else:
            yield "t_asa", _seconds(created, answered_at, hours)
    del wait, waited
    yield "m_sl_offered", (answered | abandoned) & ~short
    yield "m_abandoned", abandoned & ~short
    if options.fcr_method == "repeat":
        yield from _repeat_contacts(columns, inbound, options)


def _repeat_contacts(
    columns: KpiColumns, inbound: np.ndarray, options: KpiOptions
) -> Iterator[tuple[str, np.ndarray]]:
    """FCR by repeat contact: resolved inbound contacts with a customer, and those
    with no further inbound contact from that customer within the window."""
    import numpy as np

    customer, _ = _codes(columns.text["customer_id"])
    known = customer >= 0
    eligible = inbound & columns.true("resolved") & known
    rows = np.flatnonzero(inbound & known)
    keys = [customer[rows]]
    if options.fcr_same_category:
        category, _ = _codes(columns.text["category"])
        keys.append(category[rows])  # a missing category is a category of its own
    created = columns.times["created_at"][rows]
    order = np.lexsort([rows, created, *reversed(keys)])
    ordered = created[order]
    same = np.ones(len(order) - 1 if len(order) else 0, dtype=bool)
    for key in keys:
        sorted_key = key[order]
        same &= sorted_key[1:] == sorted_key[:-1]
    gap = ordered[1:] - ordered[:-1]
    window = options.fcr_window // dt.timedelta(microseconds=1)
    repeated = np.zeros(columns.rows, dtype=bool)
    repeated[rows[order[:-1][same & (gap <= window)]]] = True
    yield "m_fcr_repeat_eligible", eligible
    yield "m_fcr_repeat_first", eligible & ~repeated


def _case_sums(
    columns: KpiColumns,
    inbound: np.ndarray,
    options: KpiOptions,
    groups: _Groups | None,
    codes_of: Callable[[], tuple[np.ndarray, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case-level sums, per group (a case in its first contact's) and in total."""
    cases = _Cases(columns, inbound, options, codes_of)
    if groups is not None:
        assert groups.codes is not None
        groups = _Groups(groups.codes[cases.first_row], groups.count, groups.labels)
    return cases.sums(groups)


class _Cases:
    """Per case: its first contact (earliest ``created_at``, ties by
    ``interaction_id``), its contacts and inbound contacts, whether it was resolved and
    escalated, and its resolution time."""

    def __init__(
        self,
        columns: KpiColumns,
        inbound: np.ndarray,
        options: KpiOptions,
        codes_of: Callable[[], tuple[np.ndarray, Any]] | None = None,
        *,
        detail: bool = False,
    ) -> None:
        """``codes_of`` gives the case codes (:func:`_codes` of ``case_id``) when they
        are worked out already; ``detail`` keeps what :func:`case_table` shows."""
        import numpy as np

        found = codes_of() if codes_of else _codes(columns.text["case_id"], sort=False)
        codes, self.names = found
        count = len(self.names)
        every = bool((codes >= 0).all())
        rows: Any = slice(None) if every else np.flatnonzero(codes >= 0)  # else: in no case
        case = codes[rows]
        created = columns.times["created_at"][rows]
        first_created = np.full(count, np.iinfo("int64").max, dtype="int64")
        np.minimum.at(first_created, case, created)
        earliest = created == first_created[case]
        candidates = np.flatnonzero(earliest) if every else rows[earliest]
        first_row = np.zeros(count, dtype="int64")
        first_row[case[earliest]] = candidates
        tied = np.bincount(case[earliest], minlength=count) > 1
        if tied.any():
            ids = columns.text["interaction_id"]
            first_row[tied] = _first_by_id(ids, codes, candidates, tied)
        del earliest, candidates
        self.first_row = first_row
        inbound_contacts = np.bincount(case[inbound[rows]], minlength=count)
        self.resolved = np.bincount(case[columns.true("resolved")[rows]], minlength=count) > 0
        self.escalated = np.bincount(case[columns.true("escalated")[rows]], minlength=count) > 0
        self.one_contact = self.resolved & (inbound_contacts == 1)
        if detail:
            self.first_created = first_created
            self.contacts = np.bincount(case, minlength=count)
            self.inbound = inbound_contacts
        del inbound_contacts
        last = np.full(count, NAT, dtype="int64")
        np.maximum.at(last, case, columns.times["resolved_at"][rows])
        resolution = np.full(count, np.nan)
        done = np.flatnonzero(self.resolved)
        resolution[done] = _seconds(first_created[done], last[done], options.business_hours)
        self.t_resolution = resolution

    def sums(self, groups: _Groups | None) -> tuple[dict[str, Any], dict[str, Any]]:
        import numpy as np

        return _both(
            {
                "m_cases": _count_by(np.ones(len(self.first_row), bool), groups),
                "m_resolved": _count_by(self.resolved, groups),
                "m_fcr_one_contact": _count_by(self.one_contact, groups),
                "m_escalated": _count_by(self.escalated, groups),
                "t_resolution": _summaries(self.t_resolution, groups),
            }
        )


def _first_by_id(
    interaction_ids: pa.ChunkedArray, codes: np.ndarray, candidates: np.ndarray, tied: np.ndarray
) -> np.ndarray:
    """The first contact of each case in ``tied`` (several contacts at its earliest
    time): the smallest interaction id (missing last), then the first read."""
    import numpy as np
    import pyarrow as pa

    from custrec.kpi import arrays

    rows = candidates[tied[codes[candidates]]]
    ids = interaction_ids.take(arrays.integers(rows))
    table = pa.table({"case": arrays.integers(codes[rows]), "id": ids, "at": arrays.integers(rows)})
    order = table.sort_by([("case", "ascending"), ("id", "ascending"), ("at", "ascending")])
    case = arrays.numbers(order.column("case"))
    first = np.concatenate([[True], case[1:] != case[:-1]])
    out: np.ndarray = arrays.numbers(order.column("at"))[first]
    return out


# --- groups ---------------------------------------------------------------------------


@dataclass
class _Groups:
    """Each row's group (``codes``, None without keys), and the groups' labels in
    order (sorted by key, a missing key last)."""

    codes: np.ndarray | None
    count: int
    labels: list[tuple[Any, ...]]
    _members: list[np.ndarray] | None = None

    def members(self) -> list[np.ndarray]:
        """For each group, where the rows are in it (worked out once)."""
        if self._members is None:
            assert self.codes is not None
            self._members = [self.codes == g for g in range(self.count)]
        return self._members


def _groups(columns: KpiColumns, keys: Sequence[str], options: KpiOptions) -> _Groups:
    import numpy as np

    if not keys:
        return _Groups(None, 1, [()])
    parts = []
    for key in keys:
        if key == "period":
            assert options.period is not None
            parts.append(_period_codes(columns.times["created_at"], options.period, options.tz))
        else:
            codes, labels = _codes(columns.text[key])
            missing = codes < 0
            if missing.any():
                codes = np.where(missing, len(labels), codes)
                labels = [*labels, None]
            parts.append((codes, labels))
    if len(parts) == 1:  # the codes of one key are dense already
        codes, labels = parts[0]
        return _Groups(codes, len(labels), [(label,) for label in labels])
    combined = np.zeros(columns.rows, dtype="int64")
    size = 1
    for codes, labels in parts:
        combined = combined * len(labels) + codes
        size *= len(labels)
    if size <= 4 * columns.rows + 1024:
        present = np.flatnonzero(np.bincount(combined, minlength=size))
    else:
        present = np.unique(combined)
    dense = np.searchsorted(present, combined)
    out = []
    for value in present.tolist():
        label = []
        for _, labels in reversed(parts):
            value, place = divmod(value, len(labels))
            label.append(labels[place])
        out.append(tuple(reversed(label)))
    return _Groups(dense, len(present), out)


def _codes(text: pa.ChunkedArray, sort: bool = True) -> tuple[np.ndarray, Any]:
    """Each value's code (-1 when missing) and the distinct values: a sorted list, or
    (``sort=False``) an Arrow array in order of appearance."""
    import numpy as np
    import pyarrow.compute as pc

    from custrec.kpi import arrays

    if not len(text):
        return np.zeros(0, dtype="int32"), [] if sort else arrays.strings([])
    encoded = pc.dictionary_encode(text)
    dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else arrays.strings([])
    codes = np.concatenate([arrays.numbers(c.indices, -1).astype("int32") for c in encoded.chunks])
    if not sort:
        return codes, dictionary
    if not len(dictionary):  # every value is missing
        return codes, []
    order = arrays.numbers(pc.array_sort_indices(dictionary)).astype("int64")
    rank = np.empty(len(order), dtype="int32")
    rank[order] = np.arange(len(order))
    ranked = np.where(codes >= 0, rank[np.maximum(codes, 0)], np.int32(-1))
    return ranked, dictionary.take(arrays.integers(order)).to_pylist()


def _period_codes(created: np.ndarray, period: str, tz: str) -> tuple[np.ndarray, list[Any]]:
    """Each contact's period (the ISO start of its period in ``tz``) as a code, and the
    periods sorted (as text; a period that does not exist, last)."""
    import numpy as np
    import pandas as pd

    local = pd.Series(created.view("datetime64[us]")).dt.tz_localize("UTC")
    local = local.dt.tz_convert(zone(tz))
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
    codes, uniques = pd.factorize(starts, use_na_sentinel=False)
    texts = [None if pd.isna(t) else t.isoformat() for t in uniques]
    order = sorted(range(len(texts)), key=lambda i: (texts[i] is None, texts[i] or ""))
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(len(order))
    return rank[np.asarray(codes, dtype="int64")], [texts[i] for i in order]


# --- sums and summaries ---------------------------------------------------------------


def _count_by(flags: np.ndarray, groups: _Groups | None) -> tuple[np.ndarray | None, int]:
    """Rows flagged, per group (None without groups) and in total."""
    import numpy as np

    total = int(np.count_nonzero(flags))
    if groups is None or groups.codes is None:
        return None, total
    if groups.count <= _FEW_GROUPS:
        both = np.empty(len(flags), dtype=bool)
        counts = [np.count_nonzero(np.logical_and(flags, m, out=both)) for m in groups.members()]
        return np.array(counts), total
    return np.bincount(groups.codes[flags], minlength=groups.count), total


def _sum_by(values: np.ndarray, groups: _Groups | None) -> tuple[np.ndarray | None, float]:
    import numpy as np

    total = float(values.sum())
    if groups is None or groups.codes is None:
        return None, total
    return np.bincount(groups.codes, weights=values, minlength=groups.count), total


def _both(sums: dict[str, tuple[Any, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{name: (per group, total)}`` as the per-group figures and the total's."""
    return {k: v[0] for k, v in sums.items() if v[0] is not None}, {
        k: v[1] for k, v in sums.items()
    }


def _summaries(
    values: np.ndarray, groups: _Groups | None
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Median, mean, 90th percentile (linear, as numpy's) and n of the durations
    present, per group (None without groups) and in total."""
    import numpy as np

    present = ~np.isnan(values)
    kept = values[present]
    per_group = None
    if groups is not None and groups.codes is not None:
        of = groups.codes[present]
        counts = np.bincount(of, minlength=groups.count)
        sums = np.bincount(of, weights=kept, minlength=groups.count)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        if groups.count <= _SORTED_BY_GROUP:  # a radix sort by group, then each sorted
            small = "int8" if groups.count < 2**7 else "int16"
            grouped = kept[np.argsort(of.astype(small), kind="stable")]
            for start, length in zip(starts.tolist(), counts.tolist(), strict=True):
                grouped[start : start + length].sort()
        else:
            grouped = kept[np.lexsort((kept, of))]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
        per_group = {
            "median": _quantiles(grouped, starts, counts, 0.5),
            "mean": mean,
            "p90": _quantiles(grouped, starts, counts, 0.9),
            "n": counts,
        }
    n = len(kept)
    whole = np.array([0]), np.array([n])
    average = kept.sum() / n if n else np.nan
    kept.sort()
    total = {
        "median": _quantiles(kept, *whole, 0.5)[0],
        "mean": average,
        "p90": _quantiles(kept, *whole, 0.9)[0],
        "n": n,
    }
    return per_group, total


def _quantiles(ordered: np.ndarray, starts: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of each group of sorted values (the groups one after the
    other, from ``starts``, ``n`` values each), by numpy's linear method with its
    arithmetic: the same figures as :func:`numpy.quantile`."""
    import numpy as np

    out = np.full(len(n), np.nan)
    has = np.flatnonzero(n > 0)
    if not len(has):
        return out
    count = n[has]
    first = starts[has]
    if q == 0.5:  # numpy's median: the middle value, or the mean of the two middle ones
        low, high = ordered[first + (count - 1) // 2], ordered[first + count // 2]
        out[has] = np.where(count % 2 == 1, low, (low + high) / 2)
        return out
    size = count.astype("float64")
    virtual = (size - 1) * q
    previous = np.floor(virtual)
    above, below = virtual >= size - 1, virtual < 0
    low_index = np.where(above, size - 1, np.where(below, 0, previous)).astype("int64")
    high_index = np.where(above, size - 1, np.where(below, 0, previous + 1)).astype("int64")
    gamma = virtual - previous
    a, b = ordered[first + low_index], ordered[first + high_index]
    difference = b - a
    value = a + difference * gamma
    out[has] = np.where(gamma >= 0.5, b - difference * (1 - gamma), value)
    return out


def _pick(sums: dict[str, Any], index: int) -> dict[str, Any]:
    """One group's figures from the per-group arrays."""
    out: dict[str, Any] = {}
    for name, values in sums.items():
        if isinstance(values, dict):
            out[name] = {key: array[index] for key, array in values.items()}
        else:
            out[name] = values[index]
    return out


# --- times ----------------------------------------------------------------------------


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def instant(micros: int) -> dt.datetime:
    """The UTC time of ``micros`` microseconds since 1970 (how the columns hold times)."""
    return _EPOCH + dt.timedelta(microseconds=micros)


def _seconds(
    start: np.ndarray,
    end: np.ndarray,
    hours: BusinessHours | None,
    *,
    keep_negative: bool = False,
    started: bool = False,
) -> np.ndarray:
    """Seconds from start to end (business seconds with a calendar); NaN when either
    is missing (``started``: every start is present) or (unless ``keep_negative``) the
    end is before the start."""
    import numpy as np

    both = end != NAT if started else (start != NAT) & (end != NAT)
    if hours is None:
        difference = end - start  # wraps around where either is missing: masked below
        seconds = difference / 1e6
        keep = both if keep_negative else both & (difference >= 0)
    else:
        seconds = np.full(len(start), np.nan)
        for place in np.flatnonzero(both).tolist():
            seconds[place] = hours.seconds(instant(int(start[place])), instant(int(end[place])))
        with np.errstate(invalid="ignore"):
            keep = both if keep_negative else both & (seconds >= 0)
    seconds[~keep] = np.nan
    out: np.ndarray = seconds
    return out


def _sorted(created: np.ndarray, ids: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray:
    """The cases in the order of their first contacts: by ``created``, then ``ids``
    (missing last), then ``rows`` (the first contacts' positions)."""
    import numpy as np
    import pyarrow as pa

    from custrec.kpi import arrays

    table = pa.table(
        {
            "created": arrays.integers(created),
            "id": ids,
            "at": arrays.integers(rows),
            "case": arrays.integers(np.arange(len(rows))),
        }
    )
    order = table.sort_by([("created", "ascending"), ("id", "ascending"), ("at", "ascending")])
    return arrays.numbers(order.column("case"))


# --- the figures ----------------------------------------------------------------------


def _count(sums: dict[str, Any], name: str) -> int:
    return int(sums.get(name, 0))


def _number(sums: dict[str, Any], name: str) -> float | None:
    value = sums.get(name)
    if value is None or value != value:
        return None
    return float(value)


def _time_figure(sums: dict[str, Any], name: str) -> dict[str, object]:
    figures = sums[name]
    n = int(figures["n"])
    return {
        "median": _number(figures, "median") if n else None,
        "mean": _number(figures, "mean") if n else None,
        "p90": _number(figures, "p90") if n else None,
        "n": n,
        "small_sample": n < stats.SMALL_SAMPLE,
    }


def _figures(
    contacts: dict[str, Any], cases: dict[str, Any], options: KpiOptions
) -> dict[str, Any]:
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
