"""The KPI report as a result object (JSON, table, CSV) and as Markdown or HTML.

JSON follows the contract of ``docs/kpi-report.md``: ``rows`` (one per group and
period) and ``total``, each with ``interactions``, ``cases`` and one object per KPI.
CSV has one row per group and period (and a last row ``total``) with every field of
every KPI object flattened to ``<kpi>_<field>``, so its totals match the JSON. Tables,
Markdown and HTML round for reading; JSON and CSV carry full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.kpi.engine import KPI_KEYS, KpiResult
from custrec.render import Summary, Table

if TYPE_CHECKING:
    from custrec.kpi.page import PageContext

TIME_KPIS = ("frt", "resolution_time", "asa")
LABELS = {
    "csat": "CSAT %",
    "nps": "NPS",
    "ces": "CES",
    "aht": "AHT s",
    "fcr": "FCR %",
    "frt": "FRT median s",
    "resolution_time": "resolution median s",
    "asa": "ASA median s",
    "service_level": "SL %",
    "abandonment_rate": "abandoned %",
    "escalation_rate": "escalated %",
    "survey_response_rate": "surveys answered %",
    "follow_up_rate": "followed up %",
}


@dataclass
class KpiReport:
    """What ``custrec report kpi`` shows (see the module docstring)."""

    result: KpiResult
    sources: list[str]
    rows_read: int
    invalid_skipped: int
    kind: str = "kpi"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "rows_read": self.rows_read,
            "invalid_skipped": self.invalid_skipped,
            "options": self.result.options,
            "by": self.result.by,
            "period": self.result.period,
            "rows": self.result.rows,
            "total": self.result.total,
        }

    def _keys(self) -> list[str]:
        return [*self.result.by, "period"]

    def flat_columns(self) -> list[str]:
        columns = [*self._keys(), "interactions", "cases"]
        sample = self.result.total
        for kpi in KPI_KEYS:
            for name in sample[kpi]:
                if name == "ci95":
                    columns += [f"{kpi}_{name}_low", f"{kpi}_{name}_high"]
                else:
                    columns.append(f"{kpi}_{name}")
        return columns

    def flat_rows(self) -> list[list[Any]]:
        """CSV rows: the groups, then ``total`` (in the first group column)."""
        out = []
        total: dict[str, Any] = dict.fromkeys(self._keys())
        first = self._keys()[0]
        total[first] = "total"
        for row in [*self.result.rows, {**total, **self.result.total}]:
            values: list[Any] = [row.get(key) for key in self._keys()]
            values += [row["interactions"], row["cases"]]
            for kpi in KPI_KEYS:
                for name, value in row[kpi].items():
                    if name == "ci95":  # two columns, low and high, empty without data
                        values += list(value) if value else [None, None]
                    else:
                        values.append(value)
            out.append(values)
        return out

    def tables(self) -> list[Table]:
        """The primary table is the flat CSV form; ``display_tables`` is for people."""
        return [Table(self.flat_columns(), self.flat_rows())]

    def display_tables(self) -> list[Table]:
        return [Table(*readable(self), title="KPIs (* fewer than 30 responses or contacts)")]

    def summary(self) -> Summary:
        return Summary(
            (
                ("logs", ", ".join(self.sources)),
                ("contacts read", self.rows_read),
                ("invalid rows left out", self.invalid_skipped),
                ("FCR method", self.result.options.get("fcr_method")),
                ("time zone", self.result.options.get("tz")),
            )
        )


def _figure(kpi: str, value: dict[str, Any]) -> str:
    number = value.get("median") if kpi in TIME_KPIS else value.get("value")
    if number is None:
        return "-"
    text = f"{number:.1f}" if kpi not in ("ces",) else f"{number:.2f}"
    if kpi == "nps" and value.get("moe95") is not None:
        text += f" ±{value['moe95']:.1f}"
    return text + ("*" if value.get("small_sample") else "")


def readable(report: KpiReport) -> tuple[list[str], list[list[Any]]]:
    """Columns and rounded rows for people (tables, Markdown, HTML)."""
    keys = report._keys() if report.result.period else list(report.result.by)
    columns = [*keys, "contacts", "cases", *(LABELS[k] for k in KPI_KEYS)]
    rows: list[list[Any]] = []
    for row in report.result.rows:
        rows.append(
            [
                *(row.get(k) for k in keys),
                row["interactions"],
                row["cases"],
                *(_figure(k, row[k]) for k in KPI_KEYS),
            ]
        )
    total = report.result.total
    rows.append(
        [
            *(["total"] + [None] * (len(keys) - 1) if keys else []),
            total["interactions"],
            total["cases"],
            *(_figure(k, total[k]) for k in KPI_KEYS),
        ]
    )
    return columns, rows


def markdown(report: KpiReport) -> str:
    from tabulate import tabulate

    columns, rows = readable(report)
    table = tabulate(
        [["" if c is None else c for c in row] for row in rows],
        headers=columns,
        tablefmt="github",
        disable_numparse=True,
    )
    return (
        "# Customer-service KPIs\n\n"
        f"Logs: {', '.join(report.sources)}; {report.rows_read} contacts read"
        f"{f', {report.invalid_skipped} invalid left out' if report.invalid_skipped else ''}."
        " Definitions: in the HTML report (`--format html`) and docs/kpi-definitions.md of"
        " custrec. * fewer than 30 responses or contacts.\n\n"
        f"{table}\n"
    )


def html_page(report: KpiReport, context: PageContext | None = None) -> str:
    """The report as one self-contained HTML page (:mod:`custrec.kpi.page`)."""
    from custrec.kpi.page import render_page

    return render_page(report, context)


def case_details(
    frame: Any, options: Any, cases: Sequence[dict[str, Any]] | None = None
) -> tuple[list[str], Sequence[dict[str, Any]]]:
    """One row per case with its derived fields, to audit a figure (``--detail``);
    ``cases`` when an engine has made them already."""
    from custrec.kpi.engine import case_table

    if cases is None:
        cases = case_table(frame, options)
    columns = [
        "case_id",
        "first_interaction_id",
        "first_created_at",
        "contacts",
        "inbound_contacts",
        "resolved",
        "fcr",
        "escalated",
        "resolution_seconds",
    ]
    return columns, cases
