"""KPI report benchmarks: ``custrec report kpi`` beside the same KPIs in DuckDB SQL,
measured in one run, each a whole process; the two must agree on every figure.

In a temporary directory removed at the end, generates ``rows`` interactions once with
``custrec generate interactions --rows N --customers N/20 --bad-share 0`` to Parquet
(timed apart, for information), then measures, taking turns run by run (``repeat`` runs
each, the medians compared; one untimed run of each process's imports first):

- (a) ``custrec report kpi log.parquet --by channel --format json``;
- (b) the reference: one DuckDB SQL query over the same Parquet file computing, per
  channel and in total, every KPI of (a) with the definitions of
  ``docs/kpi-definitions.md`` and the report's default options, written from that page
  and not from custrec's code: CSAT, NPS, CES, AHT, FCR (case method: a case belongs to
  the channel of its first contact, by ``created_at`` as an instant, ties by
  ``interaction_id``), first response time, resolution time and ASA (median and 90th
  percentile by ``quantile_cont``, mean, n; times running backwards left out), service
  level and abandonment (inbound phone and chat, short abandons under 5 s left out),
  escalation, survey response and follow-up (within 168 hours) rates, with every count
  behind them (:data:`FIGURES`, :data:`COUNTS`). The ISO texts with offsets are cast to
  ``TIMESTAMPTZ``. It does not validate the rows, which (a) does first (every field's
  type, the schema's checks and rules). DuckDB (the latest from the package index) is
  installed into a throw-away virtual environment, so that the project's dependencies
  do not change; when it cannot be had, the row says why.

(a) and (b) must agree on every figure, total and per channel, to 1e-9 relative (and on
the counts behind them, exactly); the benchmark stops with an error when they do not,
which makes it a correctness check of custrec's KPIs too. Target: (a) within 1x of (b)'s
time.

Then the peak RSS of (a) on a log of ``memory_rows`` interactions (10x; generated the
same way, timed for information), through the small launcher of records.py
(``RSS_LAUNCHER``), target under 4 GB (4 x 10^9 bytes); (b) runs once on that log too,
and the figures must agree again.

Called by ``benchmarks/run.py``; also runs alone for quick iterations::

    .venv/bin/python benchmarks/kpi.py --kpi-rows 20000 --kpi-memory-rows 50000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from records import (  # noqa: E402 - benchmarks/ is the script's directory
    RSS_LAUNCHER,
    Installed,
    install_package,
    mib,
)
from store import library_mtimes, target  # noqa: E402

SEED = 2026
REPEAT = 3
REFERENCE_TARGET = 1.0
MEMORY_TARGET_BYTES = 4 * 10**9
RELATIVE_TOLERANCE = 1e-9

Row = tuple[str, float, str]

SECTION = "KPI report (report kpi) against DuckDB SQL over the same Parquet file"

FIGURES: dict[str, tuple[str, str]] = {
    "csat": ("csat", "value"),
    "nps": ("nps", "value"),
    "ces": ("ces", "value"),
    "aht": ("aht", "value"),
    "fcr": ("fcr", "value"),
    "frt_median": ("frt", "median"),
    "frt_mean": ("frt", "mean"),
    "frt_p90": ("frt", "p90"),
    "resolution_median": ("resolution_time", "median"),
    "resolution_mean": ("resolution_time", "mean"),
    "resolution_p90": ("resolution_time", "p90"),
    "asa_median": ("asa", "median"),
    "asa_mean": ("asa", "mean"),
    "asa_p90": ("asa", "p90"),
    "service_level": ("service_level", "value"),
    "abandonment_rate": ("abandonment_rate", "value"),
    "escalation_rate": ("escalation_rate", "value"),
    "survey_response_rate": ("survey_response_rate", "value"),
    "follow_up_rate": ("follow_up_rate", "value"),
}
"""Every figure of a report's row: its name in the reference, its place in custrec's JSON."""
COUNTS: dict[str, tuple[str, ...]] = {
    "interactions": ("interactions",),
    "cases": ("cases",),
    "csat_satisfied": ("csat", "numerator"),
    "csat_responses": ("csat", "denominator"),
    "promoters": ("nps", "promoters"),
    "detractors": ("nps", "detractors"),
    "nps_responses": ("nps", "responses"),
    "ces_responses": ("ces", "n"),
    "handled": ("aht", "n"),
    "fcr_one_contact": ("fcr", "numerator"),
    "resolved_cases": ("fcr", "denominator"),
    "frt_n": ("frt", "n"),
    "resolution_n": ("resolution_time", "n"),
    "asa_n": ("asa", "n"),
    "sl_within": ("service_level", "numerator"),
    "sl_offered": ("service_level", "denominator"),
    "abandoned": ("abandonment_rate", "numerator"),
    "abandonment_offered": ("abandonment_rate", "denominator"),
    "escalated_cases": ("escalation_rate", "numerator"),
    "escalation_cases": ("escalation_rate", "denominator"),
    "survey_responses": ("survey_response_rate", "numerator"),
    "surveys_sent": ("survey_response_rate", "denominator"),
    "followed_up": ("follow_up_rate", "numerator"),
    "follow_up_cases": ("follow_up_rate", "denominator"),
}
"""Every count behind the figures (compared exactly): its place in custrec's JSON."""

# The reference (b), a whole process run by the throw-away environment's interpreter.
# argv: the Parquet log. Prints, as JSON, every KPI of the report and the counts behind
# them, in total and per channel (the first contact's channel for the case figures),
# with the report's default options: FCR by case, service level within 20 s, short
# abandons under 5 s, follow-up within 168 hours.
REFERENCE_KPI = r'''
import json, sys
import duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")  # times without an offset: read in UTC, as custrec
con.execute("SET enable_progress_bar = false")  # it would write to stdout on long queries
QUERY = """
WITH src AS (
    SELECT interaction_id, case_id, channel,
           coalesce(direction, 'inbound') = 'inbound' AS inbound,
           coalesce(direction = 'outbound', false) AS outbound,
           epoch_us(CAST(created_at AS TIMESTAMPTZ)) AS created,
           epoch_us(CAST(answered_at AS TIMESTAMPTZ)) AS answered,
           epoch_us(CAST(first_response_at AS TIMESTAMPTZ)) AS responded,
           epoch_us(CAST(ended_at AS TIMESTAMPTZ)) AS ended,
           epoch_us(CAST(resolved_at AS TIMESTAMPTZ)) AS resolved_time,
           talk_seconds, hold_seconds, wrap_seconds, resolved, escalated,
           csat, nps, ces, SURVEY_SENT
    FROM read_parquet($path)
),
timed AS (
    SELECT *,
           CASE WHEN responded >= created THEN (responded - created) / 1e6 END AS frt,
           (answered - created) / 1e6 AS wait,
           CASE WHEN answered >= created THEN (answered - created) / 1e6 END AS asa,
           inbound AND channel IN ('phone', 'chat') AS queued,
           answered IS NULL AND coalesce((ended - created) / 1e6 < 5, false) AS short_call
    FROM src
),
contacts AS (
    SELECT grouping(channel) = 1 AS is_total, channel,
           count(created) AS interactions,
           count(csat) AS csat_responses,
           count(*) FILTER (WHERE csat >= 4) AS csat_satisfied,
           count(nps) AS nps_responses,
           count(*) FILTER (WHERE nps >= 9) AS promoters,
           count(*) FILTER (WHERE nps <= 6) AS detractors,
           count(ces) AS ces_responses,
           sum(ces) AS ces_total,
           count(talk_seconds) AS handled,
           sum(talk_seconds + coalesce(hold_seconds, 0) + coalesce(wrap_seconds, 0))
               AS handling_seconds,
           count(frt) AS frt_n, avg(frt) AS frt_mean,
           quantile_cont(frt, 0.5) AS frt_median, quantile_cont(frt, 0.9) AS frt_p90,
           count(asa) AS asa_n, avg(asa) AS asa_mean,
           quantile_cont(asa, 0.5) AS asa_median, quantile_cont(asa, 0.9) AS asa_p90,
           count(*) FILTER (WHERE queued AND answered IS NOT NULL AND wait <= 20) AS sl_within,
           count(*) FILTER (WHERE queued AND NOT short_call) AS sl_offered,
           count(*) FILTER (WHERE queued AND answered IS NULL AND NOT short_call) AS abandoned,
           count(*) FILTER (WHERE survey_sent) AS surveys_sent,
           count(*) FILTER (
               WHERE survey_sent AND (csat IS NOT NULL OR nps IS NOT NULL OR ces IS NOT NULL)
           ) AS survey_responses
    FROM timed
    GROUP BY GROUPING SETS ((channel), ())
),
cases AS (
    SELECT case_id,
           arg_min(channel, (created, interaction_id)) AS channel,
           min(created) AS first_created,
           max(resolved_time) AS last_resolved,
           count(*) FILTER (WHERE inbound) AS inbound,
           coalesce(bool_or(resolved), false) AS resolved,
           coalesce(bool_or(escalated), false) AS escalated
    FROM timed
    WHERE case_id IS NOT NULL
    GROUP BY case_id
),
followed AS (
    SELECT DISTINCT t.case_id
    FROM timed AS t JOIN cases AS c USING (case_id)
    WHERE t.outbound AND t.created > c.last_resolved
      AND t.created - c.last_resolved <= 604800000000  -- 168 hours in microseconds
),
resolutions AS (
    SELECT cases.*, followed.case_id IS NOT NULL AS followed_up,
           CASE WHEN resolved AND last_resolved >= first_created
                THEN (last_resolved - first_created) / 1e6 END AS resolution
    FROM cases LEFT JOIN followed USING (case_id)
),
case_counts AS (
    SELECT grouping(channel) = 1 AS is_total, channel,
           count(*) AS cases,
           count(*) FILTER (WHERE resolved) AS resolved_cases,
           count(*) FILTER (WHERE resolved AND inbound = 1) AS fcr_one_contact,
           count(*) FILTER (WHERE escalated) AS escalated_cases,
           count(*) FILTER (WHERE resolved AND last_resolved IS NOT NULL) AS follow_up_cases,
           count(*) FILTER (WHERE resolved AND last_resolved IS NOT NULL AND followed_up)
               AS followed_up,
           count(resolution) AS resolution_n, avg(resolution) AS resolution_mean,
           quantile_cont(resolution, 0.5) AS resolution_median,
           quantile_cont(resolution, 0.9) AS resolution_p90
    FROM resolutions
    GROUP BY GROUPING SETS ((channel), ())
)
SELECT coalesce(c.is_total, k.is_total) AS is_total,
       coalesce(c.channel, k.channel) AS channel,
       100.0 * c.csat_satisfied / nullif(c.csat_responses, 0) AS csat,
       100.0 * (c.promoters - c.detractors) / nullif(c.nps_responses, 0) AS nps,
       c.ces_total / nullif(c.ces_responses, 0) AS ces,
       c.handling_seconds / nullif(c.handled, 0) AS aht,
       100.0 * k.fcr_one_contact / nullif(k.resolved_cases, 0) AS fcr,
       c.frt_median, c.frt_mean, c.frt_p90,
       k.resolution_median, k.resolution_mean, k.resolution_p90,
       c.asa_median, c.asa_mean, c.asa_p90,
       100.0 * c.sl_within / nullif(c.sl_offered, 0) AS service_level,
       100.0 * c.abandoned / nullif(c.sl_offered, 0) AS abandonment_rate,
       100.0 * k.escalated_cases / nullif(k.cases, 0) AS escalation_rate,
       100.0 * c.survey_responses / nullif(c.surveys_sent, 0) AS survey_response_rate,
       100.0 * k.followed_up / nullif(k.follow_up_cases, 0) AS follow_up_rate,
       coalesce(c.interactions, 0) AS interactions,
       coalesce(k.cases, 0) AS cases,
       coalesce(c.csat_satisfied, 0) AS csat_satisfied,
       coalesce(c.csat_responses, 0) AS csat_responses,
       coalesce(c.promoters, 0) AS promoters,
       coalesce(c.detractors, 0) AS detractors,
       coalesce(c.nps_responses, 0) AS nps_responses,
       coalesce(c.ces_responses, 0) AS ces_responses,
       coalesce(c.handled, 0) AS handled,
       coalesce(k.fcr_one_contact, 0) AS fcr_one_contact,
       coalesce(k.resolved_cases, 0) AS resolved_cases,
       coalesce(c.frt_n, 0) AS frt_n,
       coalesce(k.resolution_n, 0) AS resolution_n,
       coalesce(c.asa_n, 0) AS asa_n,
       coalesce(c.sl_within, 0) AS sl_within,
       coalesce(c.sl_offered, 0) AS sl_offered,
       coalesce(c.abandoned, 0) AS abandoned,
       coalesce(c.sl_offered, 0) AS abandonment_offered,
       coalesce(k.escalated_cases, 0) AS escalated_cases,
       coalesce(k.cases, 0) AS escalation_cases,
       coalesce(c.survey_responses, 0) AS survey_responses,
       coalesce(c.surveys_sent, 0) AS surveys_sent,
       coalesce(k.followed_up, 0) AS followed_up,
       coalesce(k.follow_up_cases, 0) AS follow_up_cases
FROM contacts AS c
FULL JOIN case_counts AS k
  ON c.is_total = k.is_total AND c.channel IS NOT DISTINCT FROM k.channel
"""
# survey_sent is optional: a log without it has no surveys sent (as in custrec)
shown = con.execute("DESCRIBE SELECT * FROM read_parquet($path)", {"path": sys.argv[1]})
sent = "survey_sent" in {row[0] for row in shown.fetchall()}
QUERY = QUERY.replace("SURVEY_SENT", "survey_sent" if sent else "NULL::BOOLEAN AS survey_sent")
cursor = con.execute(QUERY, {"path": sys.argv[1]})
names = [d[0] for d in cursor.description]
counted = names[names.index("interactions"):]
found = {"total": None, "channels": {}}
for values in cursor.fetchall():
    row = dict(zip(names, values))
    is_total, channel = row.pop("is_total"), row.pop("channel")
    figures = {k: None if v is None else float(v) for k, v in row.items() if k not in counted}
    figures["counts"] = {k: int(row[k]) for k in counted}
    if is_total:
        found["total"] = figures
    else:
        found["channels"][channel] = figures
found["duckdb"] = duckdb.__version__
found["threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(json.dumps(found))
'''

# Loads each side's libraries (and warms their files in the page cache) before timing.
WARM_UP_CUSTREC = (
    "import pandas, pyarrow.parquet, custrec.cli.report, custrec.kpi.engine, custrec.kpi.logs"
)
WARM_UP_DUCKDB = "import duckdb; duckdb.connect().execute('SELECT 1').fetchall()"


def progress(message: str) -> None:
    print(f"[kpi bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Measure:
    seconds: float
    kib: int
    proc: subprocess.CompletedProcess[str]

    @property
    def mib(self) -> str:
        return f"{self.kib / 1024:,.0f} MiB"


@dataclass
class Runner:
    """Runs processes with the repository on the path; measured ones through the
    peak-RSS launcher."""

    directory: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, env=self.env, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"benchmark process failed (exit {proc.returncode}): {' '.join(argv[:6])}\n"
                f"{proc.stderr[-3000:]}"
            )
        return proc

    def measure(self, argv: list[str]) -> Measure:
        """Wall seconds, peak RSS (KiB) and the finished process ``argv``."""
        rss_file = self.directory / "peak-rss.txt"
        started = time.perf_counter()
        proc = self.run([sys.executable, "-c", RSS_LAUNCHER, str(rss_file), *argv])
        seconds = time.perf_counter() - started
        kib = int(rss_file.read_text())
        rss_file.unlink()
        return Measure(seconds, kib, proc)


# --- the reference's environment ------------------------------------------------------


def install_duckdb(directory: Path) -> Installed:
    """``duckdb`` from the package index in a throw-away virtual environment."""
    return install_package(directory, "duckdb")


# --- the figures ----------------------------------------------------------------------


def custrec_figures(report: dict[str, Any]) -> dict[str, Any]:
    """Every figure and count of ``report kpi --by channel --format json`` (see
    :data:`FIGURES`, :data:`COUNTS`), in the reference's shape."""

    def figures(entry: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {name: entry[k][f] for name, (k, f) in FIGURES.items()}
        counts: dict[str, int] = {}
        for name, path in COUNTS.items():
            value: Any = entry
            for key in path:
                value = value[key]
            counts[name] = value
        found["counts"] = counts
        return found

    return {
        "total": figures(report["total"]),
        "channels": {row["channel"]: figures(row) for row in report["rows"]},
    }


def differences(ours: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Every figure (to ``RELATIVE_TOLERANCE``) and count (exactly) that differs."""
    found: list[str] = []
    groups = [("total", ours["total"], reference["total"])]
    names = sorted(set(ours["channels"]) | set(reference["channels"]))
    for name in names:
        mine, theirs = ours["channels"].get(name), reference["channels"].get(name)
        if mine is None or theirs is None:
            found.append(f"channel {name!r} only in {'(b)' if mine is None else '(a)'}")
            continue
        groups.append((f"channel {name!r}", mine, theirs))
    for label, mine, theirs in groups:
        if theirs is None:
            found.append(f"{label}: missing from (b)")
            continue
        for kpi in FIGURES:
            a, b = mine[kpi], theirs[kpi]
            if (a is None) != (b is None) or (
                a is not None and not math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
            ):
                found.append(f"{label} {kpi.upper()}: (a) {a!r}, (b) {b!r}")
        for count in COUNTS:
            if mine["counts"][count] != theirs["counts"][count]:
                found.append(
                    f"{label} {count}: (a) {mine['counts'][count]}, (b) {theirs['counts'][count]}"
                )
    return found


def check_agreement(ours: dict[str, Any], reference: dict[str, Any], rows: int) -> None:
    wrong = differences(ours, reference)
    if wrong:
        raise AssertionError(
            f"custrec report kpi and the DuckDB reference disagree on {rows:,} interactions "
            f"({len(wrong)} difference(s)):\n  " + "\n  ".join(wrong[:40])
        )


def number(value: float | None, digits: int, suffix: str = "") -> str:
    return "null" if value is None else f"{value:,.{digits}f}{suffix}"


def describe(figures: dict[str, Any]) -> str:
    n = figures["counts"]
    return (
        f"CSAT {number(figures['csat'], 2, '%')} ({n['csat_satisfied']:,}/"
        f"{n['csat_responses']:,}); NPS {number(figures['nps'], 2)} ({n['promoters']:,} "
        f"promoters, {n['detractors']:,} detractors of {n['nps_responses']:,}); AHT "
        f"{number(figures['aht'], 1, ' s')} ({n['handled']:,} handled); FCR "
        f"{number(figures['fcr'], 2, '%')} ({n['fcr_one_contact']:,}/{n['resolved_cases']:,} "
        f"resolved cases)"
    )


# --- the runs -------------------------------------------------------------------------


@dataclass
class Log:
    rows: int
    path: Path
    generate_seconds: float = 0.0


def generate(runner: Runner, rows: int) -> Log:
    path = runner.directory / f"log-{rows}.parquet"
    customers = max(1, rows // 20)
    progress(f"generating {rows:,} interactions ({customers:,} customers) to Parquet")
    started = time.perf_counter()
    runner.run(
        [
            sys.executable, "-m", "custrec", "generate", "interactions", "--rows", str(rows),
            "--customers", str(customers), "--bad-share", "0", "--seed", str(SEED),
            "-o", str(path),
        ]
    )  # fmt: skip
    return Log(rows, path, time.perf_counter() - started)


def report_kpi(runner: Runner, log: Log) -> tuple[Measure, dict[str, Any]]:
    """(a): ``custrec report kpi LOG --by channel --format json``, and what it found."""
    measured = runner.measure(
        [
            sys.executable, "-m", "custrec", "report", "kpi", str(log.path),
            "--by", "channel", "--format", "json",
        ]
    )  # fmt: skip
    report = json.loads(measured.proc.stdout)
    if report["rows_read"] != log.rows or report["invalid_skipped"]:
        raise AssertionError(
            f"report kpi read {report['rows_read']} of {log.rows} rows, "
            f"{report['invalid_skipped']} invalid"
        )
    if report["total"]["interactions"] != log.rows:
        raise AssertionError(f"report kpi counted {report['total']['interactions']} contacts")
    return measured, custrec_figures(report)


def reference_kpi(runner: Runner, duck: Installed, log: Log) -> tuple[Measure, dict[str, Any]]:
    """(b): the DuckDB query, and what it found."""
    assert duck.python is not None
    measured = runner.measure([str(duck.python), "-c", REFERENCE_KPI, str(log.path)])
    return measured, json.loads(measured.proc.stdout)


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def bench_kpi(
    rows: int = 1_000_000, memory_rows: int = 10_000_000, repeat: int = REPEAT
) -> list[Row]:
    """All rows of the KPI section (see the module docstring)."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    mtimes = library_mtimes()
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="custrec-bench-kpi-") as name:
        runner = Runner(Path(name))
        duck = install_duckdb(runner.directory)
        log = generate(runner, rows)
        runner.run([sys.executable, "-c", WARM_UP_CUSTREC])
        if duck.python is not None:
            runner.run([str(duck.python), "-c", WARM_UP_DUCKDB])
        else:
            progress(f"DuckDB not available: {duck.why_not}")

        ours: list[Measure] = []
        theirs: list[Measure] = []
        figures: dict[str, Any] = {}
        reference: dict[str, Any] = {}
        for run in range(repeat):
            if duck.python is not None:
                progress(f"run {run + 1}/{repeat}: (b) DuckDB over {rows:,} interactions")
                measured, found = reference_kpi(runner, duck, log)
                if reference and differences(found, reference):
                    raise AssertionError("the DuckDB reference changed its answer between runs")
                theirs.append(measured)
                reference = found
            progress(f"run {run + 1}/{repeat}: (a) custrec report kpi of {rows:,} interactions")
            measured, found = report_kpi(runner, log)
            if figures and differences(found, figures):
                raise AssertionError("custrec report kpi changed its answer between runs")
            ours.append(measured)
            figures = found
        progress(f"(a) found, total: {describe(figures['total'])}")
        for channel, values in sorted(figures["channels"].items()):
            progress(f"(a) found, {channel}: {describe(values)}")
        agreed = "agreement not checked: no reference"
        if reference:
            check_agreement(figures, reference, rows)
            agreed = (
                f"all {len(FIGURES) * (1 + len(figures['channels']))} figures agree with (b) "
                f"to {RELATIVE_TOLERANCE:g} relative, their counts exactly"
            )
            progress(agreed)

        huge: Log | None = None
        huge_ours = huge_theirs = None
        if memory_rows:
            log.path.unlink()
            huge = generate(runner, memory_rows)
            progress(f"(a) custrec report kpi of {memory_rows:,} interactions (peak RSS)")
            huge_ours = report_kpi(runner, huge)
            if duck.python is not None:
                progress(f"(b) DuckDB over {memory_rows:,} interactions")
                huge_theirs = reference_kpi(runner, duck, huge)
                check_agreement(huge_ours[1], huge_theirs[1], memory_rows)

        seconds = statistics.median(m.seconds for m in ours)
        peak = max(m.kib for m in ours)
        out += [
            (
                f"custrec generate interactions --bad-share 0 --customers {max(1, rows // 20):,}, "
                f"{rows:,} rows to Parquet (input of the rows below; not part of any measure)",
                log.generate_seconds,
                f"{rows / log.generate_seconds:,.0f} rows/s",
            )
        ]
        if theirs:
            base = statistics.median(m.seconds for m in theirs)
            ratio = seconds / base
            out += [
                (
                    f"(a) custrec report kpi log.parquet --by channel --format json, "
                    f"{rows:,} interactions, whole process, median of {len(ours)}",
                    seconds,
                    f"{rate(rows, seconds)}; {ratio:.2f}x the reference's time "
                    f"({target(ratio, REFERENCE_TARGET)}); peak RSS {peak / 1024:,.0f} MiB; "
                    f"{agreed}",
                ),
                (
                    f"(b) DuckDB {reference['duckdb']} SQL over the same Parquet file: every "
                    f"KPI of (a) ({len(FIGURES)} figures and {len(COUNTS)} counts) per channel "
                    f"and in total, {reference['threads']} "
                    f"threads (duckdb in a throw-away venv, installed in "
                    f"{duck.install_seconds:.0f} s), whole process, median of {len(theirs)} "
                    "(reference)",
                    base,
                    f"{rate(rows, base)}; 1.00x; peak RSS "
                    f"{max(m.kib for m in theirs) / 1024:,.0f} MiB",
                ),
            ]
        else:
            out += [
                (
                    f"(a) custrec report kpi log.parquet --by channel --format json, "
                    f"{rows:,} interactions, whole process, median of {len(ours)}",
                    seconds,
                    f"{rate(rows, seconds)}; no reference to compare with; peak RSS "
                    f"{peak / 1024:,.0f} MiB",
                ),
                (
                    "(b) DuckDB SQL, same Parquet file",
                    float("nan"),
                    f"not available: {duck.why_not}",
                ),
            ]
        out.append(("figures of (a), total", float("nan"), describe(figures["total"])))
        out += [
            (f"figures of (a), channel {channel}", float("nan"), describe(values))
            for channel, values in sorted(figures["channels"].items())
        ]
        if huge is not None and huge_ours is not None:
            measured = huge_ours[0]
            met = measured.kib * 1024 < MEMORY_TARGET_BYTES
            out += [
                (
                    f"custrec generate interactions --bad-share 0 --customers "
                    f"{max(1, memory_rows // 20):,}, {memory_rows:,} rows to Parquet (input of "
                    "the next rows; not part of any measure)",
                    huge.generate_seconds,
                    f"{memory_rows / huge.generate_seconds:,.0f} rows/s; file {mib(huge.path)}",
                ),
                (
                    f"(a) custrec report kpi --by channel --format json, {memory_rows:,} "
                    "interactions, whole process, peak RSS",
                    measured.seconds,
                    f"{rate(memory_rows, measured.seconds)}; peak RSS {measured.mib} "
                    f"(target < 4 GB: {'met' if met else 'MISSED'})"
                    + ("; figures agree with (b)" if huge_theirs is not None else ""),
                ),
            ]
            if huge_theirs is not None:
                ref = huge_theirs[0]
                out.append(
                    (
                        f"(b) DuckDB SQL, same {memory_rows:,} interactions, whole process "
                        "(information)",
                        ref.seconds,
                        f"{rate(memory_rows, ref.seconds)}; (a) takes "
                        f"{measured.seconds / ref.seconds:.2f}x its time; peak RSS {ref.mib}",
                    )
                )
        progress("done; removing the temporary files")
    changed = [str(p.relative_to(REPO)) for p, t in library_mtimes().items() if mtimes.get(p) != t]
    if changed:
        progress(f"WARNING: the library changed during this run: {', '.join(changed)}")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, here and in benchmarks/run.py."""
    parser.add_argument(
        "--kpi-rows", type=int, default=1_000_000, help="interactions of the timed log"
    )
    parser.add_argument(
        "--kpi-memory-rows",
        type=int,
        default=10_000_000,
        help="interactions of the log whose report's peak RSS is measured (0: skip)",
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec KPI report benchmarks alone")
    add_arguments(parser)
    parser.add_argument(
        "--kpi-repeat", type=int, default=REPEAT, help="runs per whole-process timing"
    )
    args = parser.parse_args()
    rows = bench_kpi(args.kpi_rows, args.kpi_memory_rows, args.kpi_repeat)
    print(render({SECTION: rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
