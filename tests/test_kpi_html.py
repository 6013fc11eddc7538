"""The HTML KPI report: labels, durations, colours, axes, targets, tiles and
definitions in Python, and the page as Chromium renders it (skipped without it)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from custrec.kpi.display import (
    FIXED_COLOURS,
    LOOKS,
    PALETTE,
    axis_range,
    change_text,
    duration_text,
    figure,
    period_end,
    period_label,
    series_styles,
    value_text,
)
from custrec.kpi.targets import parse_targets

from .conftest import REPO, InvokeCli, write

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


# --- labels, durations, colours, axes --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "period", "label"),
    [
        ("2026-08-01T00:00:00+00:00", "month", "Aug 2026"),
        ("2026-08-01T00:00:00+01:00", "month", "Aug 2026"),
        ("2026-08-03T00:00:00+00:00", "week", "2026-W32"),
        ("2024-12-30T00:00:00+00:00", "week", "2025-W01"),  # ISO year, not calendar year
        ("2026-12-28T00:00:00+00:00", "week", "2026-W53"),
        ("2026-08-03T00:00:00+02:00", "day", "Mon 3 Aug"),
        ("2026-07-01T00:00:00+00:00", "quarter", "Q3 2026"),
        ("2026-01-01T00:00:00-05:00", "quarter", "Q1 2026"),
        ("2026-08-03T14:00:00+00:00", "hour", "Mon 3 Aug 14:00"),
        (None, "month", "no date"),
    ],
)
def test_period_labels(start: str | None, period: str, label: str) -> None:
    assert period_label(start, period) == label


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        ("2026-12-01T00:00:00+00:00", "month", "2027-01-01T00:00:00+00:00"),
        ("2026-10-01T00:00:00+02:00", "quarter", "2027-01-01T00:00:00+02:00"),
        ("2026-08-03T00:00:00+00:00", "week", "2026-08-10T00:00:00+00:00"),
        ("2026-08-03T00:00:00+00:00", "day", "2026-08-04T00:00:00+00:00"),
    ],
)
def test_period_ends(start: str, period: str, end: str) -> None:
    assert period_end(start, period).isoformat() == end


def test_an_incomplete_latest_period_is_said_so(cli: InvokeCli, tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", SMALL_LOG)
    text = html_report(cli, log, tmp_path / "p.html", "--period", "month")
    assert "The contacts end on Thu 2 Apr 09:00: this month is not complete." in text
    text = html_report(cli, log, tmp_path / "p.html", "--period", "day")
    assert "not complete" not in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00"),
        (59.4, "0:59"),
        (59.6, "1:00"),
        (605, "10:05"),
        (3599.4, "59:59"),
        (3599.6, "1:00 h"),  # rounds up to an hour: written as hours
        (10302.5, "2:52 h"),
        (90061, "25:01 h"),
        (-12, "-0:12"),
    ],
)
def test_durations_read_as_minutes_or_hours(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_duration_ticks_of_one_axis_share_one_form() -> None:
    assert duration_text(1800, "h:mm") == "0:30"
    assert duration_text(7200, "h:mm") == "2:00"
    assert duration_text(90, "m:ss") == "1:30"


def test_value_text_per_kind() -> None:
    assert value_text("csat", 74.26) == "74.3%"
    assert value_text("nps", 16.04) == "+16"
    assert value_text("ces", 5.2) == "5.20"
    assert value_text("frt", 10302.5) == "2:52 h"
    assert value_text("aht", None) == "\N{EN DASH}"


def test_a_series_keeps_its_colour_whatever_the_others() -> None:
    few = series_styles(["phone", "email"])
    many = series_styles(["social", "sms", "phone", "email", "chat"])
    assert few["phone"] == many["phone"]
    assert few["email"] == many["email"]
    assert many["phone"].colour == FIXED_COLOURS["phone"]
    assert len({style.colour for style in many.values()}) == 5  # none shared
    teams = [f"team-{n}" for n in range(8)]
    forward, backward = series_styles(teams), series_styles(reversed(teams))
    assert forward == backward
    assert len({style.colour for style in forward.values()}) == 8
    assert all(style.colour in PALETTE and not style.dashed for style in forward.values())


def test_past_ten_series_colours_repeat_dashed() -> None:
    styles = series_styles([f"agent-{n:02d}" for n in range(12)])
    assert len({s.colour for s in styles.values()}) == 10
    assert sum(s.dashed for s in styles.values()) == 2


def test_rates_are_drawn_on_0_to_100_unless_zoomed() -> None:
    assert axis_range("csat", [71.0, 73.5]) == (0.0, 100.0)
    assert axis_range("escalation_rate", [11.9, 12.1]) == (0.0, 100.0)
    assert axis_range("nps", [10.0, 30.0]) == (-100.0, 100.0)
    assert axis_range("ces", [5.0, 5.3]) == (1.0, 7.0)
    low, high = axis_range("csat", [71.0, 73.5], "data")
    assert 0 < low < 71.0
    assert 73.5 < high < 100
    low, high = axis_range("csat", [71.0, 73.5], "data", target=80.0)
    assert high >= 80.0  # the target stays in view
    assert axis_range("csat", [0.5, 99.8], "data") == (0.0, 100.0)  # never past the scale


def test_times_start_at_zero_and_reach_past_the_highest() -> None:
    low, high = axis_range("frt", [59.0, 9931.5])
    assert low == 0.0
    assert high >= 9931.5
    assert high % 3600 == 0  # ticks on whole hours


# --- targets --------------------------------------------------------------------------


def test_targets_file_in_yaml() -> None:
    targets = parse_targets(
        "csat: 80\nnps: -5\nsl: 80/20\nfrt: 5m\naht: 600\nabandonment: 5%\n", "t.yaml", 20.0
    )
    assert targets["csat"].value == 80.0
    assert targets["nps"].value == -5.0
    assert targets["service_level"].value == 80.0
    assert targets["service_level"].threshold == 20.0
    assert targets["frt"].value == 300.0
    assert targets["aht"].value == 600.0
    assert targets["abandonment_rate"].value == 5.0
    assert targets["csat"].met(80.0)
    assert not targets["csat"].met(79.9)
    assert targets["frt"].met(299.0)
    assert not targets["frt"].met(301.0)


def test_targets_file_in_json() -> None:
    targets = parse_targets('{"csat": 80, "escalation_rate": 10}', "t.json", 20.0)
    assert set(targets) == {"csat", "escalation_rate"}


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("csat: 80\nhappiness: 3\n", 2, "t.yaml:2: 'happiness' is not a KPI"),
        ("csat: 180\n", 2, "t.yaml:1: csat: 180: expected a number from 0 to 100"),
        ("csat: yes\n", 2, "expected a number"),
        ("ces: 9\n", 2, "from 1 to 7"),
        ("sl: 80/30\n", 2, "--sl-threshold 30"),
        ("sl: 80/abc\n", 2, "expected percent/seconds"),
        ("frt: soon\n", 2, "is not a time"),
        ("- csat\n", 2, "expected a mapping of KPI to target"),
        ("csat: 80\ncsat: 70\n", 2, "given twice"),
        ("sl: 80\nservice_level: 70\n", 2, "a second time"),
        ("a: &x 1\ncsat: *x\n", 2, "anchor"),
        ("csat: [80\n", 2, "not valid YAML"),
        (b"csat: \xff\n", 3, "not UTF-8"),
    ],
)
def test_a_wrong_targets_file_is_named_with_its_line(
    cli: InvokeCli, tmp_path: Path, text: str | bytes, code: int, message: str
) -> None:
    log = write(tmp_path / "log.csv", SMALL_LOG)
    targets = write(tmp_path / "t.yaml", text)
    result = cli("report", "kpi", str(log), "--format", "html", "--targets", str(targets))
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_a_missing_targets_file_is_exit_3(cli: InvokeCli, tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", SMALL_LOG)
    missing = tmp_path / "none.yaml"
    result = cli("report", "kpi", str(log), "--format", "html", "--targets", str(missing))
    assert result.exit_code == 3
    assert "no such targets file" in result.stderr


def test_targets_belong_to_the_html_page(cli: InvokeCli, tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", SMALL_LOG)
    targets = write(tmp_path / "t.yaml", "csat: 80\n")
    result = cli("report", "kpi", str(log), "--format", "json", "--targets", str(targets))
    assert result.exit_code == 2
    assert "--format html" in result.stderr


# --- the page -------------------------------------------------------------------------

SMALL_LOG = (
    "interaction_id,case_id,channel,created_at,csat\n"
    "I-1,K-1,phone,2026-03-02T09:00:00Z,5\n"
    "I-2,K-2,phone,2026-04-02T09:00:00Z,4\n"
)


class Elements(HTMLParser):
    """Every element of a page with its id, attributes, own text and ancestors' ids."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self.stack: list[dict[str, Any]] = []
        self.feed(text)

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "use", "path", "rect"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {
            "tag": tag,
            "attrs": dict(attrs),
            "text": "",
            "within": [e["attrs"].get("id") for e in self.stack if e["attrs"].get("id")],
            "parents": list(self.stack),
        }
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth]["tag"] == tag:
                del self.stack[depth:]
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element["text"] += data

    def by_id(self, name: str) -> dict[str, Any]:
        found = [e for e in self.elements if e["attrs"].get("id") == name]
        assert len(found) == 1, f"{len(found)} elements with id {name!r}"
        return found[0]

    def inside(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if name in e["within"]]


def legend(page: Elements, kpi: str) -> list[tuple[str, str | None]]:
    """The legend of ``kpi``'s chart: (text, colour of its line) per entry."""
    entries = []
    colour = None
    for element in page.inside(f"legend-{kpi}"):
        style = element["attrs"].get("style") or ""
        stroke = re.search(r"stroke: (#[0-9a-f]{6})", style)
        if element["tag"] == "path" and stroke:
            colour = stroke[1]
        if re.fullmatch(rf"legend-{kpi}-[0-9]+", element["attrs"].get("id") or ""):
            entries.append((element["text"].strip(), colour))
    return entries


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of 4,000 contacts over three months, without defects."""
    from click.testing import CliRunner

    from custrec.cli import main

    path = tmp_path_factory.mktemp("log") / "log.csv"
    args = ["generate", "interactions", "--rows", "4000", "--customers", "500"]
    result = CliRunner().invoke(main, [*args, "--bad-share", "0", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def html_report(cli: InvokeCli, log: Path, out: Path, *extra: str) -> str:
    result = cli("report", "kpi", str(log), "--format", "html", "-o", str(out), *extra)
    assert result.exit_code == 0, result.stderr
    return out.read_text(encoding="utf-8")


def json_report(cli: InvokeCli, log: Path, *extra: str) -> dict[str, Any]:
    result = cli("report", "kpi", str(log), "--format", "json", *extra)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_tiles_show_the_latest_period_and_its_change(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    text = html_report(cli, generated, tmp_path / "p.html", "--period", "month", "--by", "channel")
    page = Elements(text)
    periods = json_report(cli, generated, "--period", "month")["rows"]  # all channels
    latest, previous = periods[-1], periods[-2]
    heading = next(e for e in page.inside("latest") if e["tag"] == "h2")["text"]
    labels = (period_label(latest["period"], "month"), period_label(previous["period"], "month"))
    assert heading == "{} against {}".format(*labels)
    for kpi in LOOKS:
        tile = page.by_id(f"tile-{kpi}")
        assert value_text(kpi, figure(kpi, latest[kpi])) in tile["text"]
        now, before = figure(kpi, latest[kpi]), figure(kpi, previous[kpi])
        changes = [e for e in page.inside(f"tile-{kpi}") if "data-change" in e["attrs"]]
        if now is None or before is None:
            assert not changes
            continue
        assert len(changes) == 1
        shown = float(changes[0]["attrs"]["data-change"])
        assert math.isclose(shown, now - before, rel_tol=1e-12, abs_tol=1e-12)
        word = "better" if (now - before) * LOOKS[kpi].better > 0 else "worse"
        if not re.sub(r"[^1-9]", "", change_text(kpi, now - before)):
            word = "same"  # a change too small to show is not called better or worse
        assert changes[0]["attrs"]["class"] == f"change {word}"


def test_targets_appear_on_tiles_and_charts(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    targets = write(tmp_path / "targets.yaml", "csat: 99\nsl: 10/20\nfrt: 1h\nasa: 30s\n")
    text = html_report(
        cli, generated, tmp_path / "p.html", "--period", "month", "--targets", str(targets)
    )
    page = Elements(text)
    assert "target 99% · missed" in page.by_id("tile-csat")["text"]
    assert "target 10% in 20 s · met" in page.by_id("tile-service_level")["text"]
    assert "target 1:00 h" in page.by_id("tile-frt")["text"]
    assert "target 0:30 min" in page.by_id("tile-asa")["text"]
    assert ("target 99%", "#333333") in legend(page, "csat")
    assert "target 1:00 h" in [name for name, _ in legend(page, "frt")]


def test_one_colour_per_series_across_every_chart(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    text = html_report(cli, generated, tmp_path / "p.html", "--period", "month", "--by", "channel")
    page = Elements(text)
    colours: dict[str, set[str | None]] = {}
    positions: dict[str, set[int]] = {}
    for kpi in LOOKS:
        for n, (name, colour) in enumerate(legend(page, kpi)):
            colours.setdefault(name, set()).add(colour)
            positions.setdefault(name, set()).add(n)
    assert {"phone", "email", "chat"} <= set(colours)
    for name, seen in colours.items():
        assert len(seen) == 1, f"{name} is drawn in {seen}"
    assert colours["phone"] == {FIXED_COLOURS["phone"]}
    assert len(positions["phone"]) > 1  # phone is not always at the same place...
    # ...yet keeps its colour: the colour comes from the name, not the position


def test_the_page_holds_each_kpis_definition_from_the_docs(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    text = html_report(cli, generated, tmp_path / "p.html", "--period", "month")
    page = Elements(text)
    docs = (REPO / "docs" / "kpi-definitions.md").read_text(encoding="utf-8")
    blocks = re.split(r"\n\s*\n|\n(?=- )", docs)
    for kpi, look in LOOKS.items():
        source = [b for b in blocks if b.lstrip("- ").startswith(f"**{look.term}**")]
        assert len(source) == 1, kpi
        plain = re.sub(r"\*\*|`", "", source[0].lstrip("- "))
        shown = page.by_id(f"def-{kpi}")["text"]
        assert " ".join(shown.split()) == " ".join(plain.split())
        assert page.by_id(f"tile-{kpi}")["attrs"]["href"] == f"#def-{kpi}"
    assert "docs/kpi-definitions.md" not in text  # no pointer to a file the reader lacks


def test_the_page_is_self_contained(cli: InvokeCli, generated: Path, tmp_path: Path) -> None:
    text = html_report(cli, generated, tmp_path / "p.html", "--period", "week", "--by", "channel")
    assert "<script" not in text
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"] * text.count(
        "<svg"
    )
    assert not re.search(r"(src|href)=['\"](?!#)", text)  # only links within the page
    assert "2026-W" in text
    ids = re.findall(r'\bid="([^"]+)"', text) + re.findall(r"\bid='([^']+)'", text)
    assert len(ids) == len(set(ids))  # one document: every id once


def test_the_page_says_what_it_covers(cli: InvokeCli, generated: Path, tmp_path: Path) -> None:
    document = json_report(cli, generated, "--period", "month", "--tz", "Europe/Paris")
    text = html_report(
        cli, generated, tmp_path / "p.html", "--period", "month", "--tz", "Europe/Paris"
    )
    page = Elements(text)
    facts = {
        e["text"]: e["parents"][-1]["text"].removeprefix(e["text"])
        for e in page.inside("about")
        if e["tag"] == "dt"
    }
    assert facts["time zone"] == "Europe/Paris"
    assert facts["rows"].startswith(f"{document['rows_read']:,} read")
    assert f"{document['total']['interactions']:,} contacts" in facts["rows"]
    assert re.fullmatch(
        r"20\S+ [0-9:]{5} CES?T to 20\S+ [0-9:]{5} CES?T", facts["contacts created"]
    )
    assert re.fullmatch(r"20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC", facts["made"])
    assert facts["logs"] == str(generated)


def test_json_does_not_import_the_charting_library(generated: Path, tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom custrec.cli import main\n"
        "try:\n    main(sys.argv[1:], prog_name='custrec')\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + ','.join(m for m in ('matplotlib', 'markdown_it') "
        "if m in sys.modules), file=sys.stderr)\n"
    )
    args = ["report", "kpi", str(generated), "--period", "month", "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert proc.stderr.splitlines()[-1] == "LOADED="


# --- in a browser ---------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_legends_and_axes(cli: InvokeCli, generated: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    out = tmp_path / "kpis.html"
    html_report(cli, generated, out, "--period", "month", "--by", "channel")
    document = json_report(cli, generated, "--period", "month", "--by", "channel")
    profile = tmp_path / "profile"
    base = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    shot = tmp_path / "kpis.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2400", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one
    dumped = subprocess.run(
        [*base, "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    page = Elements(dumped)
    charts = [e["attrs"]["id"] for e in page.elements if e["tag"] == "figure"]
    assert len(charts) >= 8
    for chart in charts:
        kpi = chart.removeprefix("fig-")
        expected = sorted(
            {row["channel"] for row in document["rows"] if figure(kpi, row[kpi]) is not None}
        )
        entries = [name for name, _ in legend(page, kpi)]
        assert [name for name in entries if name in expected] == expected, kpi
        assert all(colour for _, colour in legend(page, kpi)), kpi
        lines = [
            e
            for e in page.inside(f"chart-{kpi}")
            if re.fullmatch(rf"series-{kpi}-[0-9]+", e["attrs"].get("id") or "")
        ]
        assert len(lines) == len(expected), kpi
        for axis in (f"x-axis-{kpi}", f"y-axis-{kpi}"):
            ticks = [e["text"].strip() for e in page.inside(axis) if e["tag"] == "text"]
            assert len([t for t in ticks if t]) >= 2, (axis, ticks)
        months = [e["text"] for e in page.inside(f"x-axis-{kpi}") if e["tag"] == "text"]
        assert period_label(document["rows"][0]["period"], "month") in months


def test_charts_draw_the_busiest_groups_and_the_latest_periods(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    from custrec.kpi.page import MAX_PERIODS, MAX_SERIES

    document = json_report(cli, generated, "--period", "day", "--by", "agent_id")
    text = html_report(cli, generated, tmp_path / "p.html", "--period", "day", "--by", "agent_id")
    page = Elements(text)
    contacts: dict[str, int] = {}
    for row in document["rows"]:
        name = row["agent_id"] or "(none)"  # contacts no agent handled
        contacts[name] = contacts.get(name, 0) + row["interactions"]
    days = sorted({row["period"] for row in document["rows"]})
    assert len(contacts) > MAX_SERIES
    assert len(days) > MAX_PERIODS
    busiest = sorted(contacts, key=lambda name: (-contacts[name], name))[:MAX_SERIES]
    charted = set(days[-MAX_PERIODS:])
    with_csat = {
        row["agent_id"] or "(none)"
        for row in document["rows"]
        if row["period"] in charted and row["csat"]["value"] is not None
    }
    drawn = [name for name, _ in legend(page, "csat") if name in contacts]
    assert drawn == sorted(set(busiest) & with_csat)
    assert len(drawn) >= MAX_SERIES - 1
    note = page.by_id("chart-note")["text"]
    assert f"the {MAX_SERIES} of {len(contacts)} groups with the most contacts" in note
    assert f"the last {MAX_PERIODS} of {len(days)} periods" in note
    ticks = [e["text"] for e in page.inside("x-axis-csat") if e["tag"] == "text"]
    assert ticks[0] == period_label(days[-MAX_PERIODS], "day")  # the first charted day
    assert period_label(days[0], "day") not in ticks
    assert text.count("<tr>") == len(document["rows"]) + 1  # them all, and the header


def test_chart_scale_data_zooms_and_says_so(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    full = html_report(cli, generated, tmp_path / "f.html", "--period", "month")
    zoomed = html_report(
        cli, generated, tmp_path / "z.html", "--period", "month", "--chart-scale", "data"
    )

    def csat_ticks(text: str) -> list[str]:
        texts = [e["text"] for e in Elements(text).inside("y-axis-csat") if e["tag"] == "text"]
        return [t for t in texts if t != "%"]  # the ticks, not the axis label

    assert csat_ticks(full)[0] == "0%"
    assert csat_ticks(full)[-1] == "100%"
    assert "0%" not in csat_ticks(zoomed)
    assert "axis zoomed to the figures" in zoomed
    assert "axis zoomed" not in full


def test_group_names_are_text_whatever_they_hold(cli: InvokeCli, tmp_path: Path) -> None:
    names = ["<script>x</script>", "$\\foo$", "_hidden", 'a"b&c']
    rows = "".join(
        f'I-{n},K-{n},"{name.replace(chr(34), chr(34) * 2)}",2026-04-02T09:00:00Z,4\n'
        for n, name in enumerate(names)
    )
    log = write(tmp_path / "log.csv", "interaction_id,case_id,channel,created_at,csat\n" + rows)
    text = html_report(cli, log, tmp_path / "p.html", "--period", "month", "--by", "channel")
    assert "<script" not in text
    page = Elements(text)
    # matplotlib would read "$...$" as a formula and leave "_..." out of a legend
    assert [name for name, _ in legend(page, "csat")][: len(names)] == sorted(names)
    cells = [e["text"] for e in page.elements if e["tag"] == "td"]
    assert all(name in cells for name in names)


def test_the_page_names_the_fcr_method_and_window(
    cli: InvokeCli, generated: Path, tmp_path: Path
) -> None:
    text = html_report(
        cli, generated, tmp_path / "p.html", "--fcr-method", "repeat", "--fcr-window", "48h"
    )
    assert "no repeat contact within 2 days" in text
    text = html_report(
        cli, generated, tmp_path / "p.html", "--fcr-window", "30m", "--fcr-method", "repeat"
    )
    assert "no repeat contact within 30 minutes" in text


def test_one_period_one_label_and_empty_kpis_say_so(cli: InvokeCli, tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", SMALL_LOG.replace("2026-04-02", "2026-03-03"))
    page = Elements(html_report(cli, log, tmp_path / "p.html", "--period", "month"))
    ticks = [e["text"] for e in page.inside("x-axis-csat") if e["tag"] == "text"]
    assert ticks == ["Mar 2026"]
    assert "no responses or contacts" in page.by_id("tile-nps")["text"]
    assert "small sample: 2 (fewer than 30)" in page.by_id("tile-csat")["text"]
