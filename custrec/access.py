"""The right of access and data portability: everything held about one customer.

:func:`access_report` gathers, for one record: every field with its value and what the
schema says of it (description, category, purposes, lawful basis, retention class),
where the record came from and when, whether its processing is restricted, the
retention that applies and when it ends, the history of the record from the audit
trail (what was done, when and why; staff names are left out: the categories of
recipients are what the subject is owed), and the customer's contacts in the
interaction logs given. Restricted records are included: access is one of the two
uses a restriction allows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import UsageError
from custrec.render import Summary, Table

if TYPE_CHECKING:
    from custrec.schema import Schema
    from custrec.store import KeySource, Store

_PERIOD = re.compile(r"\s*([0-9]{1,9})\s*([dwmy])\s*")
MAX_PERIOD_YEARS = 200
"""The longest retention period accepted, in years (in any unit): no retention rule
needs more, and a longer one would run past the calendar's year 9999."""
_MAX_PERIOD = {"d": MAX_PERIOD_YEARS * 366, "w": MAX_PERIOD_YEARS * 53, "m": MAX_PERIOD_YEARS * 12}
_HISTORY_KEYS = ("at", "action", "phase", "outcome", "command", "fields", "reason")


def parse_period(text: str) -> tuple[int, str]:
    """A retention period such as ``6y``, ``18m``, ``4w`` or ``30d``: (amount, unit)."""
    text = str(text)
    match = _PERIOD.fullmatch(text)
    shown = repr(text if len(text) <= 24 else text[:20] + "...")
    if not match:
        raise UsageError(f"period {shown}: expected a number and d, w, m or y (e.g. 6y, 30d)")
    amount, unit = int(match[1]), match[2]
    if amount > _MAX_PERIOD.get(unit, MAX_PERIOD_YEARS):
        raise UsageError(f"period {shown}: expected at most {MAX_PERIOD_YEARS} years")
    return amount, unit


def add_period(start: dt.date, period: str) -> dt.date:
    """``start`` plus ``period``; a month or year end that does not exist (31 April,
    29 February) becomes the last day of that month. A result past the year 9999 is
    :data:`datetime.date.max`."""
    amount, unit = parse_period(period)
    try:
        if unit == "d":
            return start + dt.timedelta(days=amount)
        if unit == "w":
            return start + dt.timedelta(weeks=amount)
    except OverflowError:
        return dt.date.max
    months = amount * (12 if unit == "y" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    month += 1
    if year > dt.MAXYEAR:  # past the calendar's end: never
        return dt.date.max
    for day in (start.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _cell(value: Any) -> str | int | float | None:
    return value if value is None or isinstance(value, str | int | float) else str(value)


def date_of(value: object) -> dt.date | None:
    """The day of an ISO 8601 date or time value; None when empty or unreadable."""
    if value is None or value == "":
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        return None


@dataclass
class AccessReport:
    """What custrec holds about one customer (see the module docstring)."""

    record_id: str
    store: str
    generated_at: str
    fields: list[dict[str, Any]]
    provenance: dict[str, Any]
    restricted: bool
    retention: list[dict[str, Any]]
    history: list[dict[str, Any]]
    interactions: list[dict[str, Any]] = field(default_factory=list)
    interaction_sources: list[str] = field(default_factory=list)
    kind: str = "access"

    @property
    def purposes(self) -> list[str]:
        return sorted({str(p) for f in self.fields for p in f.get("purposes") or []})

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "store": self.store,
            "generated_at": self.generated_at,
            "purposes": self.purposes,
            "restricted": self.restricted,
            "provenance": self.provenance,
            "fields": self.fields,
            "retention": self.retention,
            "history": self.history,
            "interactions": {"sources": self.interaction_sources, "rows": self.interactions},
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                ["field", "value", "purposes", "retention"],
                [
                    [
                        f["name"],
                        f["value"],
                        ", ".join(map(str, f.get("purposes") or [])),
                        f.get("retention"),
                    ]
                    for f in self.fields
                ],
                "Data held",
            ),
            Table(
                ["class", "trigger", "period", "ends on"],
                [[r["class"], r["trigger"], r["period"], r["ends_on"]] for r in self.retention],
                "Retention",
            ),
            Table(
                ["at", "action", "outcome", "reason"],
                [
                    [h.get("at"), h.get("action"), h.get("outcome"), h.get("reason")]
                    for h in self.history
                ],
                "History (audit trail)",
            ),
        ]

    def summary(self) -> Summary:
        return Summary(
            (
                ("record", self.record_id),
                ("source", _cell(self.provenance.get("source"))),
                ("collected", _cell(self.provenance.get("collected_at"))),
                ("purposes", ", ".join(self.purposes)),
                ("restricted", self.restricted),
                ("interactions", len(self.interactions)),
            )
        )


def access_report(
    store: Store,
    record_id: str,
    *,
    schema: Schema | None = None,
    logs: Sequence[str] = (),
    log_key: KeySource | None = None,
    now: dt.datetime | None = None,
) -> AccessReport:
    """Everything ``store`` holds about ``record_id`` (audited as ``access``), and its
    rows in the interaction ``logs`` (CSV, NDJSON or Parquet files, or stores opened
    by ``log_key``)."""
    from custrec.audit_read import AuditQuery

    record = store.get_many([record_id], include_restricted=True, action="access").get(record_id)
    if record is None:
        from custrec.errors import NotFoundError

        raise NotFoundError(f"no record with {store.settings.id_field} {record_id}")
    described = schema.fields if schema is not None else {}
    fields = []
    for name, value in record.data.items():
        item = described.get(name)
        fields.append(
            {
                "name": name,
                "value": value,
                "description": item.description if item else None,
                "category": item.category if item else None,
                "purposes": list(item.purpose) if item else [],
                "lawful_basis": item.lawful_basis if item else None,
                "retention": item.retention if item else None,
            }
        )
    retention = []
    if schema is not None:
        used = {f["retention"] for f in fields if f["retention"]}
        for name, spec in schema.retention_classes.items():
            if name not in used:
                continue
            trigger = spec.get("trigger")
            start = date_of(record.data.get(str(trigger))) if trigger else None
            period = spec.get("period")
            retention.append(
                {
                    "class": name,
                    "description": spec.get("description"),
                    "trigger": trigger,
                    "trigger_value": None if start is None else start.isoformat(),
                    "period": period,
                    "ends_on": add_period(start, str(period)).isoformat()
                    if start is not None and period
                    else None,
                }
            )
    history = [
        {key: entry.get(key) for key in _HISTORY_KEYS}
        for entry in store.audit_query(AuditQuery(customer=record_id)).entries
    ]
    rows: list[dict[str, Any]] = []
    for log in logs:
        rows.extend(_contacts(store, log, record_id, log_key))
    moment = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return AccessReport(
        record_id=record_id,
        store=str(store.path),
        generated_at=moment,
        fields=fields,
        provenance={
            "source": record.source,
            "collected_at": record.collected_at,
            "version": record.version,
        },
        restricted=store.record_states(record_id)["restricted"],
        retention=retention,
        history=history,
        interactions=rows,
        interaction_sources=list(logs),
    )


def _contacts(
    store: Store, log: str, customer_id: str, key: KeySource | None
) -> list[dict[str, Any]]:
    import pyarrow.compute as pc

    from custrec.protected import is_store_file

    def matching(batch: Any) -> list[dict[str, Any]]:
        if "customer_id" not in batch.schema.names:
            raise UsageError(f"--logs {log}: no customer_id column")
        column = pc.cast(batch.column("customer_id"), "string")
        found: list[dict[str, Any]] = batch.filter(
            pc.fill_null(pc.equal(column, customer_id), False)
        ).to_pylist()
        return found

    out: list[dict[str, Any]] = []
    if is_store_file(log):
        from custrec.store import open_store

        if key is None:
            raise UsageError(f"--logs {log} is a store: give the key that opens it")
        with open_store(log, key, context=store.context) as interactions:
            for batch in interactions.iter_batches(action="access", include_restricted=True):
                out.extend(matching(batch))
        return out
    from custrec.io import open_table

    with open_table(log) as reader:
        for batch in reader:
            out.extend(matching(batch))
    return out
