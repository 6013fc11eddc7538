"""The HTML KPI report (``report kpi --format html``): one self-contained page for a
contact-centre manager, to open from an email attachment.

From top to bottom: what the page covers (contacts from and to, time zone, filters,
rows read and left out, when it was made); a tile per KPI with the latest period's
figure, its change against the period before and the target (``--targets``); a trend
chart per KPI (:mod:`custrec.kpi.charts`); every figure in a table; and the
definitions of the KPIs, rendered from ``docs/kpi-definitions.md`` (shipped in the
package as ``custrec/kpi/definitions.md``, a link to that file: one text for both).

The page has no scripts, fonts, images or links to fetch: styles and charts (SVG)
are inline. Figures based on fewer than 30 responses or contacts are marked: a
``small`` badge on a tile, a hollow point in a chart, ``*`` in the table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.kpi.display import (
    LOOKS,
    MONTHS,
    WEEKDAYS,
    axis_range,
    change_between,
    change_text,
    duration_unit,
    figure,
    period_end,
    period_label,
    sample_size,
    series_styles,
    value_text,
    verdict,
)
from custrec.kpi.stats import SMALL_SAMPLE
from custrec.kpi.targets import Target

if TYPE_CHECKING:
    from custrec.kpi.engine import KpiOptions
    from custrec.kpi.report import KpiReport

MAX_SERIES = 10
"""The most groups a chart draws (those with the most contacts): past the palette's
ten colours, lines are no longer told apart."""
MAX_PERIODS = 60
"""The most periods a chart draws (the latest ones)."""
_KIND_UNITS = {"rate": "%", "nps": "points", "score": "1-7", "time": ""}


@dataclass
class PageContext:
    """What the page shows besides the report: ``overall`` (with groups, the rows of
    every period for all groups together), the first and last contact's creation,
    the filters as ``(label, text)``, the targets, the axis scale and the time of
    making."""

    overall: list[dict[str, Any]] | None = None
    first_contact: dt.datetime | None = None
    last_contact: dt.datetime | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    scale: str = "full"
    generated_at: dt.datetime | None = None


def page_context(
    columns: Any,
    options: KpiOptions,
    targets: dict[str, Target] | None = None,
    scale: str = "full",
    overall: list[dict[str, Any]] | None = None,
) -> PageContext:
    """The context of a report on ``columns`` (what :func:`compute_kpis` takes)
    computed with ``options``: the periods of all groups together (``overall``, as
    ``compute_kpis(..., overall=True)`` gave them, else computed here) and the
    contacts' span."""
    from custrec.kpi import definitions
    from custrec.kpi.engine import as_columns, compute_kpis

    if overall is None and options.by and options.period:
        overall = compute_kpis(columns, dataclasses.replace(options, by=())).rows
    contacts = definitions.polars_contacts(as_columns(columns, options), options)
    first, last = definitions.contact_span(contacts, options)
    return context_of(overall, first, last, options, targets, scale)


def context_of(
    overall: list[dict[str, Any]] | None,
    first: dt.datetime | None,
    last: dt.datetime | None,
    options: KpiOptions,
    targets: dict[str, Target] | None = None,
    scale: str = "full",
) -> PageContext:
    """The context of a page from what an engine computed: ``overall`` (with groups
    and periods, the rows of all groups together) and the first and last contact."""
    return PageContext(
        overall=overall,
        first_contact=first,
        last_contact=last,
        filters=filters_of(options),
        targets=dict(targets or {}),
        scale=scale,
        generated_at=dt.datetime.now(dt.UTC),
    )


def filters_of(options: KpiOptions) -> list[tuple[str, str]]:
    """The options that change the figures, as ``(label, text)`` for people."""
    out = []
    if options.since:
        out.append(("contacts from", options.since.isoformat()))
    if options.until:
        out.append(("contacts before", options.until.isoformat()))
    if options.business_hours is not None:
        out.append(("durations", "business hours only"))
    fcr = "one inbound contact per resolved case"
    if options.fcr_method == "repeat":
        fcr = f"no repeat contact within {_span(options.fcr_window)}"
        if options.fcr_same_category:
            fcr += " in the same category"
    out.append(("FCR", fcr))
    out.append(("service level", f"answered within {options.sl_threshold:g} s"))
    out.append(("short abandons", f"under {options.short_abandon:g} s, left out"))
    return out


def render_page(report: KpiReport, context: PageContext | None = None) -> str:
    """The page (see the module docstring)."""
    context = context or PageContext()
    result = report.result
    overall = context.overall if result.by else result.rows
    periods = [row for row in (overall or []) if row.get("period") is not None]
    title = "Customer-service KPIs"
    span = ""
    if result.period and periods:
        first = period_label(periods[0]["period"], result.period)
        last = period_label(periods[-1]["period"], result.period)
        span = first if first == last else f"{first} \N{EN DASH} {last}"
    grouping = f"by {', '.join(result.by)}" if result.by else "all contacts"
    subtitle = " · ".join(
        part for part in (span, f"per {result.period}" if result.period else "", grouping) if part
    )
    sections = [
        f"<header><h1>{title}</h1><p class='sub'>{html.escape(subtitle)}</p></header>",
        _about(report, context),
        _tiles(report, periods, context),
    ]
    if result.period:
        sections.append(_charts(report, context))
    sections.append(_table(report))
    sections.append(_definitions())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(f"{title}: {span}" if span else title)}</title>
<style>{_STYLE}</style></head><body>
{"".join(sections)}
</body></html>
"""


# --- the parts ------------------------------------------------------------------------


def _about(report: KpiReport, context: PageContext) -> str:
    tz = str(report.result.options.get("tz") or "UTC")
    items: list[tuple[str, str]] = []
    if context.first_contact and context.last_contact:
        items.append(
            (
                "contacts created",
                f"{_moment(context.first_contact, tz)} to {_moment(context.last_contact, tz)}",
            )
        )
    items.append(("time zone", tz))
    total = report.result.total
    counted = f"{report.rows_read:,} read"
    if report.invalid_skipped:
        counted += f", {report.invalid_skipped:,} invalid left out"
    counted += f"; {total['interactions']:,} contacts and {total['cases']:,} cases reported"
    items.append(("rows", counted))
    items.append(("logs", ", ".join(report.sources)))
    items += context.filters
    if context.generated_at:
        items.append(("made", _moment(context.generated_at, "UTC")))
    cells = "".join(
        f"<div><dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd></div>"
        for label, text in items
    )
    return f"<section class='about' id='about'><dl>{cells}</dl></section>"


def _tiles(report: KpiReport, periods: Sequence[dict[str, Any]], context: PageContext) -> str:
    period = report.result.period
    if periods:
        latest = periods[-1]
        previous = periods[-2] if len(periods) > 1 else None
        heading = f"{period_label(latest['period'], period)}"
        if previous is not None:
            heading += f" against {period_label(previous['period'], period)}"
        partial = _partial(latest["period"], period, context)
    else:
        latest, previous, heading = report.result.total, None, "All contacts"
        partial = ""
    tiles = []
    for kpi, look in LOOKS.items():
        value = latest[kpi]
        number = figure(kpi, value)
        lines = [f"<div class='name'>{look.title}</div>", f"<div class='what'>{look.name}</div>"]
        shown = value_text(kpi, number)
        unit = _KIND_UNITS[look.kind] if look.kind != "rate" else ""
        if look.kind == "time" and number is not None:
            unit = "" if shown.endswith(" h") else "m:ss"
        if unit and number is not None:
            shown_html = f"{html.escape(shown)}<span class='unit'>{unit}</span>"
        else:
            shown_html = html.escape(shown)
        lines.append(f"<div class='value'>{shown_html}</div>")
        if previous is not None:
            change = change_between(kpi, value, previous[kpi])
            if change is None:
                lines.append("<div class='change'>no figure to compare</div>")
            else:
                word = verdict(kpi, change)
                lines.append(
                    f"<div class='change {word}' data-change='{change!r}'>"
                    f"{html.escape(change_text(kpi, change))} ({word})</div>"
                )
        target = context.targets.get(kpi)
        if target is not None:
            state = ""
            if number is not None:
                state = " · met" if target.met(number) else " · missed"
            css = "met" if state == " · met" else "missed" if state else ""
            lines.append(
                f"<div class='target {css}'>target {html.escape(target.text())}{state}</div>"
            )
        size = sample_size(kpi, value)
        if not size:
            lines.append("<div class='n'>no responses or contacts</div>")
        elif value.get("small_sample"):
            lines.append(
                f"<div class='small'>small sample: {size} (fewer than {SMALL_SAMPLE})</div>"
            )
        elif size is not None:
            lines.append(f"<div class='n'>n = {size:,}</div>")
        tiles.append(f"<a class='tile' id='tile-{kpi}' href='#def-{kpi}'>{''.join(lines)}</a>")
    return (
        f"<section id='latest'><h2>{html.escape(heading)}</h2>{partial}"
        f"<div class='tiles'>{''.join(tiles)}</div></section>"
    )


def _partial(start: str, period: str | None, context: PageContext) -> str:
    """A note when the last contact is before the last day (or hour) of the latest
    period: its figures cover part of it."""
    if period is None or context.last_contact is None:
        return ""
    end = period_end(start, period)
    last = context.last_contact.astimezone(end.tzinfo)
    room = dt.timedelta(hours=1) if period == "hour" else dt.timedelta(days=1)
    if last >= end - room:
        return ""
    to = f"{WEEKDAYS[last.weekday()]} {last.day} {MONTHS[last.month - 1]} {last:%H:%M}"
    return (
        f"<p class='note partial'>The contacts end on {html.escape(to)}: "
        f"this {period} is not complete.</p>"
    )


def _series_name(row: dict[str, Any], by: Sequence[str]) -> str:
    if not by:
        return "all contacts"
    return " / ".join("(none)" if row.get(key) is None else str(row[key]) for key in by)


def _charts(report: KpiReport, context: PageContext) -> str:
    from custrec.kpi.charts import Chart, Series, chart_svg

    result = report.result
    starts = sorted({row["period"] for row in result.rows if row.get("period") is not None})
    every_period = len(starts)
    starts = starts[-MAX_PERIODS:]
    labels = [period_label(start, result.period) for start in starts]
    place = {start: n for n, start in enumerate(starts)}
    contacts: dict[str, int] = {}
    for row in result.rows:
        name = _series_name(row, result.by)
        contacts[name] = contacts.get(name, 0) + int(row["interactions"])
    busiest = sorted(contacts, key=lambda name: (-contacts[name], name))[:MAX_SERIES]
    names = sorted(busiest)
    styles = series_styles(names)  # once for the page: one colour per series everywhere
    notes = []
    if len(contacts) > len(names):
        notes.append(
            f"The charts show the {len(names)} of {len(contacts)} groups with the most contacts."
        )
    if every_period > len(starts):
        notes.append(f"The charts show the last {len(starts)} of {every_period} periods.")
    if notes:
        notes.append("The table below has them all.")
    figures = []
    for kpi, look in LOOKS.items():
        values: dict[str, list[float | None]] = {n: [None] * len(starts) for n in names}
        small: dict[str, list[bool]] = {n: [False] * len(starts) for n in names}
        for row in result.rows:
            if row.get("period") not in place:
                continue
            name, at = _series_name(row, result.by), place[row["period"]]
            if name not in values:
                continue
            values[name][at] = figure(kpi, row[kpi])
            small[name][at] = bool(row[kpi].get("small_sample"))
        shown = [name for name in names if any(v is not None for v in values[name])]
        if not shown:
            continue
        target = context.targets.get(kpi)
        numbers = [v for name in shown for v in values[name] if v is not None]
        limits = axis_range(kpi, numbers, context.scale, target.value if target else None)
        unit = _KIND_UNITS[look.kind] or duration_unit(limits[1])
        chart = Chart(
            kpi=kpi,
            periods=labels,
            series=[Series(n, styles[n], values[n], small[n]) for n in shown],
            limits=limits,
            target=target.value if target else None,
            target_text=target.text() if target else None,
            y_label=unit,
        )
        zoomed = " · axis zoomed to the figures" if context.scale == "data" else ""
        figures.append(
            f"<figure id='fig-{kpi}'><figcaption><b>{look.title}</b>: {look.name} per "
            f"{result.period}{zoomed} <a href='#def-{kpi}'>definition</a></figcaption>"
            f"{chart_svg(chart)}</figure>"
        )
    note = f"<p class='note' id='chart-note'>{' '.join(notes)}</p>" if notes else ""
    return f"<section><h2>Trends</h2>{note}<div class='charts'>{''.join(figures)}</div></section>"


def _table(report: KpiReport) -> str:
    result = report.result
    lead = [*result.by, *(["period"] if result.period else [])] or [""]
    head = [*lead, "contacts", "cases", *(LOOKS[k].title for k in LOOKS)]
    rows = []
    for row in [*result.rows, None]:
        if row is None:
            source, cells = result.total, ["total"] + [""] * (len(lead) - 1)
        else:
            source = row
            cells = ["" if row.get(k) is None else str(row[k]) for k in result.by]
            if result.period:
                cells.append(period_label(row.get("period"), result.period))
        cells += [f"{source['interactions']:,}", f"{source['cases']:,}"]
        for kpi in LOOKS:
            text = value_text(kpi, figure(kpi, source[kpi]))
            small = source[kpi].get("small_sample") and text != "\N{EN DASH}"
            cells.append(text + ("*" if small else ""))
        css = " class='total'" if row is None else ""
        rows.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    return (
        "<section><h2>All figures</h2>"
        f"<p class='note'>* fewer than {SMALL_SAMPLE} responses or contacts.</p>"
        f"<div class='scroll'><table><thead><tr>{header}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def definitions_markdown() -> str:
    """The text of ``docs/kpi-definitions.md``, as shipped in the package."""
    from importlib.resources import files

    return files("custrec.kpi").joinpath("definitions.md").read_text(encoding="utf-8")


def _definitions() -> str:
    """The definitions as HTML, each KPI's paragraph (or list item) with the id
    ``def-<kpi>`` that its tile and chart link to."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False})  # raw HTML is shown as text
    tokens = parser.parse(definitions_markdown())
    terms = {f"**{look.term}**": kpi for kpi, look in LOOKS.items()}
    kept = []
    skipping_title = False
    for n, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            skipping_title = True
        if skipping_title:
            if token.type == "heading_close":
                skipping_title = False
            continue
        if token.type.startswith("heading_"):
            token.tag = f"h{int(token.tag[1]) + 1}"  # under the page's h2
        if token.type == "paragraph_open" and n + 1 < len(tokens):
            content = tokens[n + 1].content
            for term, kpi in terms.items():
                if content.startswith(term):
                    opener = tokens[n - 1] if token.hidden and n else token
                    opener.attrSet("id", f"def-{kpi}")
        kept.append(token)
    body = parser.renderer.render(kept, parser.options, {})
    return f"<section class='definitions'><h2>Definitions</h2>{body}</section>"


# --- helpers --------------------------------------------------------------------------


def _span(length: dt.timedelta) -> str:
    """``7 days``, ``48 hours``, ``30 minutes`` (the largest unit that divides it)."""
    seconds = int(length.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} s"


def _moment(moment: dt.datetime, tz: str) -> str:
    from custrec.kpi.calendar import zone

    local = moment.astimezone(zone(tz))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


_STYLE = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--good:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
margin:0 auto;padding:24px 32px;max-width:1400px;color:var(--ink);line-height:1.45}
h1{font-size:1.7em;margin:0}h2{font-size:1.2em;margin:1.6em 0 .6em;
border-bottom:1px solid var(--line);padding-bottom:.2em}
.sub{color:var(--muted);margin:.2em 0 0;font-size:1.05em}
.about dl{display:flex;flex-wrap:wrap;gap:.3em 1.6em;margin:1em 0 0;font-size:.88em}
.about dt{color:var(--muted);display:inline}.about dt::after{content:": "}
.about dd{display:inline;margin:0}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.tile{display:block;border:1px solid var(--line);border-radius:8px;padding:10px 14px;
color:inherit;text-decoration:none;background:#fff}
.tile .name{font-weight:600}
.tile .unit{font-size:.45em;font-weight:400;color:var(--muted);margin-left:.3em}
.tile .what{color:var(--muted);font-size:.8em}
.tile .value{font-size:1.9em;font-weight:600;margin:.15em 0;font-variant-numeric:tabular-nums}
.tile .change,.tile .target,.tile .n,.tile .small{font-size:.85em}
.better{color:var(--good)}.worse{color:var(--bad)}.same{color:var(--muted)}
.target.met{color:var(--good)}.target.missed{color:var(--bad)}
.n{color:var(--muted)}.small{color:#9a6700;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
figcaption{font-size:.9em;margin-bottom:4px}figcaption a{color:var(--muted);font-size:.9em}
figure svg{width:100%;height:auto;display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.82em;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:.3em .6em;text-align:right;white-space:nowrap}
th{background:#f6f8fa;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}tr.total td{font-weight:600}
.note{color:var(--muted);font-size:.85em}.partial{color:#9a6700;margin-top:-.3em}
.definitions{font-size:.9em;max-width:60em}.definitions h3{font-size:1.05em}
.definitions code{background:#f6f8fa;padding:0 .25em;border-radius:3px}
@media print{.charts{grid-template-columns:1fr 1fr}figure,.tile{break-inside:avoid}}
"""
