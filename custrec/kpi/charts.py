"""Trend charts of the HTML KPI report, drawn by matplotlib as inline SVG.

One chart per KPI: a line per series (group) over the periods, with both axes
labelled, horizontal gridlines, a legend naming every series, the target as a dashed
line, and figures based on fewer than 30 responses or contacts drawn as hollow
points. Text stays text in the SVG (``svg.fonttype: none``): it is small, searchable
and read by screen readers. Groups in the SVG carry ids a test (or a stylesheet) can
find: ``chart-<kpi>``, ``x-axis-<kpi>``, ``y-axis-<kpi>``, ``legend-<kpi>`` and
``legend-<kpi>-<n>`` for the n-th legend entry.

matplotlib is imported here only, and only when a chart is drawn: the page's other
outputs and every light command start without it. The figure is a
:class:`matplotlib.figure.Figure` of its own (not pyplot), so nothing is shared
between charts or threads.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from custrec.kpi.display import LOOKS, SeriesStyle, duration_text, duration_unit, time_step


@dataclass(frozen=True)
class Series:
    """One line: its name, style, and per period (by index) the figure and whether it
    is a small sample."""

    name: str
    style: SeriesStyle
    values: Sequence[float | None]
    small: Sequence[bool]


@dataclass(frozen=True)
class Chart:
    """What one chart shows: ``periods`` are the x labels; ``limits`` the y range."""

    kpi: str
    periods: Sequence[str]
    series: Sequence[Series]
    limits: tuple[float, float]
    target: float | None = None
    target_text: str | None = None
    y_label: str = ""


def chart_svg(chart: Chart) -> str:
    """The chart as an ``<svg>`` element to put in an HTML page."""
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    kpi = chart.kpi
    kind = LOOKS[kpi].kind
    with mpl.rc_context(
        {
            "svg.fonttype": "none",
            "text.parse_math": False,  # a group named "$x$" is text, not a formula
            "svg.hashsalt": f"custrec-{kpi}",  # stable ids, and unique across the page
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"],
            "font.size": 9,
            "axes.edgecolor": "#888888",
            "axes.labelcolor": "#333333",
            "xtick.color": "#444444",
            "ytick.color": "#444444",
        }
    ):
        fig = Figure(figsize=(6.4, 2.7), dpi=100, layout="constrained")
        fig.set_gid(f"chart-{kpi}")
        ax = fig.add_subplot()
        positions = list(range(len(chart.periods)))
        handles = []
        for n, series in enumerate(chart.series):
            style = "--" if series.style.dashed else "-"
            points = [(x, v) for x, v in zip(positions, series.values, strict=True)]
            xs = [x for x, v in points if v is not None]
            ys = [v for _, v in points if v is not None]
            (line,) = ax.plot(
                xs,
                ys,
                color=series.style.colour,
                linestyle=style,
                linewidth=2,
                marker="o",
                markersize=4,
                label=series.name,
                gid=f"series-{kpi}-{n}",
                clip_on=False,  # a point on the axis's end (100%) is drawn whole
            )
            handles.append(line)
            small = [
                (x, v)
                for x, v, flag in zip(positions, series.values, series.small, strict=True)
                if flag and v is not None
            ]
            if small:
                ax.plot(
                    [x for x, _ in small],
                    [v for _, v in small],
                    linestyle="none",
                    marker="o",
                    markersize=7,
                    markerfacecolor="white",
                    markeredgecolor=series.style.colour,
                    markeredgewidth=1.5,
                    clip_on=False,
                )
        if chart.target is not None:
            handles.append(
                ax.axhline(
                    chart.target,
                    color="#333333",
                    linestyle=(0, (4, 3)),
                    linewidth=1.2,
                    label=f"target {chart.target_text or chart.target}",
                )
            )
        if any(any(s.small) for s in chart.series):
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=7,
                    markerfacecolor="white",
                    markeredgecolor="#555555",
                    label="fewer than 30",
                )
            )
        ax.set_xlim(-0.4, max(len(positions) - 1, 0) + 0.4)
        every = math.ceil(len(positions) / 8) or 1  # at most 8 labels, from the first
        ticks = positions[::every]
        ax.set_xticks(ticks, [chart.periods[x] for x in ticks])
        ax.set_ylim(*chart.limits)
        if kind == "time":
            ax.yaxis.set_major_locator(MultipleLocator(time_step(chart.limits[1], 5)))
            unit = duration_unit(chart.limits[1])
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: duration_text(y, unit)))
        elif kind == "rate":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}%"))
        elif kind == "nps":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:+g}" if y else "0"))
        if chart.y_label:
            ax.set_ylabel(chart.y_label)
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.xaxis.set_gid(f"x-axis-{kpi}")
        ax.yaxis.set_gid(f"y-axis-{kpi}")
        legend = ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=8.5,
            handlelength=1.8,
        )
        legend.set_gid(f"legend-{kpi}")
        for n, text in enumerate(legend.get_texts()):
            text.set_gid(f"legend-{kpi}-{n}")
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    # In an HTML page, the SVG needs neither the XML declaration and doctype of a
    # file, nor its RDF metadata, nor a declaration of the xlink prefix (HTML knows it).
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    # matplotlib names its groups figure_1, axes_1...; made unique per chart so that
    # the page (one document) holds each id once.
    return re.sub(r'id="([a-z0-9]+_[0-9]+)"', rf'id="{kpi}-\1"', svg)
