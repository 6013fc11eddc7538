"""One KPI definition, three engines: ``report kpi`` on polars (the default), DuckDB and
Spark (``local[2]``, one session for the run) gives the same counts exactly and the
same figures to 1e-9, on a generated log with hand-made edge rows (a group without
responses, all-null surveys, clock changes in Europe/London and America/New_York,
repeat contacts across channels, ties at a case's first contact)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.generate.interactions import INTERACTION_COLUMNS
from custrec.kpi import KpiOptions, compute_kpis
from custrec.kpi.calendar import BusinessHours
from custrec.kpi.logs import load_logs

from .conftest import InvokeCli, on

duckdb = pytest.importorskip("duckdb")

from custrec import engines  # noqa: E402
from custrec.kpi.lazylogs import kpis_on_engine  # noqa: E402

COLUMNS = list(INTERACTION_COLUMNS)


def edge_rows() -> list[dict[str, Any]]:
    """Contacts at the clock changes, a team without any survey answer, repeat
    contacts of one customer across channels, and a case whose first contacts tie."""
    rows: list[dict[str, Any]] = []

    def add(**values: Any) -> None:
        number = len(rows) + 1
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            interaction_id=f"E-{number:04d}",
            case_id=f"EK-{number:04d}",
            customer_id="C-EDGE",
            channel="phone",
            direction="inbound",
            agent_id="A-EDGE",
            team="edge",
            category="billing",
            resolved="false",
            escalated="false",
        )
        row.update({k: str(v) for k, v in values.items()})
        rows.append(row)

    # Around the clock changes: 00:30 UTC each side of the London and New York days.
    for moment in (
        "2024-03-30T23:30:00Z",  # London: Sat 30 March, 23:30 GMT
        "2024-03-31T00:30:00Z",  # 00:30 GMT, Sunday, before the change at 01:00
        "2024-03-31T01:30:00Z",  # 02:30 BST
        "2024-03-31T23:30:00Z",  # Mon 1 April, 00:30 BST
        "2024-10-27T00:30:00Z",  # 01:30 BST, the first of the repeated hour
        "2024-10-27T01:30:00Z",  # 01:30 GMT, the second
        "2024-10-27T23:30:00Z",  # 23:30 GMT, Sunday
        "2024-03-10T06:30:00Z",  # New York: 01:30 EST, before the change at 02:00
        "2024-03-10T07:30:00Z",  # 03:30 EDT
        "2024-11-03T05:30:00Z",  # 01:30 EDT, the first of the repeated hour
        "2024-11-03T06:30:00Z",  # 01:30 EST, the second
    ):
        add(created_at=moment, answered_at=moment, talk_seconds=60, csat=5, nps=10)
    # A team whose contacts answered no survey, and a case with no resolution.
    for minute in range(3):
        add(team="silent", created_at=f"2024-05-01T10:0{minute}:00Z", channel="email")
    # Repeat contacts of one customer across channels, within 7 days (168 h) or not.
    add(
        customer_id="C-REPEAT",
        created_at="2024-06-03T09:00:00Z",
        resolved="true",
        resolved_at="2024-06-03T09:30:00Z",
    )
    add(customer_id="C-REPEAT", channel="email", created_at="2024-06-10T08:59:59Z")
    add(
        customer_id="C-REPEAT",
        channel="chat",
        created_at="2024-06-20T09:00:00Z",
        resolved="true",
        resolved_at="2024-06-20T10:00:00Z",
        category="delivery",
    )
    add(customer_id="C-REPEAT", created_at="2024-06-21T09:00:00Z", category="billing")
    # A resolved case followed up by an outbound contact a day later, with a survey.
    add(
        case_id="EK-FOLLOW",
        created_at="2024-08-05T09:00:00Z",
        resolved="true",
        resolved_at="2024-08-05T09:30:00Z",
        survey_sent="true",
        csat=4,
    )
    add(case_id="EK-FOLLOW", direction="outbound", created_at="2024-08-06T09:00:00Z")
    # A case whose first two contacts tie: the smaller interaction id is its first.
    for number, channel in (("T-2", "email"), ("T-1", "chat"), ("T-3", "phone")):
        add(
            interaction_id=number,
            case_id="EK-TIE",
            channel=channel,
            created_at="2024-07-01T12:00:00Z" if number != "T-3" else "2024-07-01T13:00:00Z",
            resolved="true" if number == "T-3" else "false",
            resolved_at="2024-07-02T12:00:00Z" if number == "T-3" else "",
            escalated="true" if number == "T-2" else "false",
        )
    return rows


def generated_rows(count: int) -> list[dict[str, Any]]:
    from custrec.generate.interactions import generate_interactions

    out = []
    for chunk in generate_interactions(count, customers=300, seed=11, bad_share=0):
        for row in chunk.rows:
            out.append(
                {
                    k: "" if v is None else str(v).lower() if isinstance(v, bool) else v
                    for k, v in row.items()
                }
            )
    return out


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kpi-engines")
    rows = generated_rows(4000) + edge_rows()
    path = folder / "log.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    table = pv.read_csv(path, convert_options=pv.ConvertOptions(strings_can_be_null=True))
    parquet = folder / "log.parquet"
    pq.write_table(table, parquet)
    return {"csv": path, "parquet": parquet}


def same(local: Any, other: Any, path: str = "") -> None:
    """Counts equal exactly, figures to 1e-9."""
    if isinstance(local, dict):
        assert set(local) == set(other), path
        for key in local:
            same(local[key], other[key], f"{path}.{key}")
    elif isinstance(local, list):
        assert len(local) == len(other), path
        for index, (a, b) in enumerate(zip(local, other, strict=True)):
            same(a, b, f"{path}[{index}]")
    elif isinstance(local, float) and isinstance(other, float):
        assert math.isclose(local, other, rel_tol=1e-9, abs_tol=1e-9), (path, local, other)
    else:
        assert local == other, (path, local, other)
        assert type(local) is type(other), path


OPTIONS = {
    "channel-team-week-london": KpiOptions(
        by=("channel", "team"), period="week", tz="Europe/London"
    ),
    "hour-london": KpiOptions(period="hour", tz="Europe/London"),
    "day-new-york-direction": KpiOptions(by=("direction",), period="day", tz="America/New_York"),
    "repeat-72h-same-category": KpiOptions(
        by=("channel",),
        fcr_method="repeat",
        fcr_window=dt.timedelta(hours=72),
        fcr_same_category=True,
        period="month",
        since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        until=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    ),
    "team-quarter-kolkata": KpiOptions(by=("team",), period="quarter", tz="Asia/Kolkata"),
    "business-hours-london": KpiOptions(
        by=("channel",),
        tz="Europe/London",
        business_hours=BusinessHours.parse(
            "Mon-Fri 09:00-17:30, Sat 10:00-14:00",
            "Europe/London",
            [dt.date(2024, 3, 29), dt.date(2026, 8, 31)],
        ),
    ),
}


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_every_kpi_is_the_same_on_every_engine(
    engine_name: str, logs: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    engine = on(engine_name, request)
    columns = load_logs([str(logs["csv"])]).columns
    for label, options in OPTIONS.items():
        local = compute_kpis(columns, options)
        source = logs["parquet" if label.startswith("team") else "csv"]
        found = kpis_on_engine([str(source)], options, engine)
        assert found.rows == columns.rows
        assert not found.invalid
        assert len(local.rows) > 1, label
        same(local.total, found.result.total, f"{label}: total")
        same(local.rows, found.result.rows, f"{label}: rows")


def test_periods_at_the_clock_changes_are_the_local_days_and_hours(
    logs: dict[str, Path], duck: engines.DuckDBEngine
) -> None:
    """The expected periods, written by hand: two engines agreeing is not enough."""
    columns = load_logs([str(logs["csv"])]).columns
    edge = KpiOptions(by=("team",), period="day", tz="Europe/London")
    for result in (
        compute_kpis(columns, edge),
        kpis_on_engine([str(logs["csv"])], edge, duck).result,
    ):
        days = {r["period"]: r["interactions"] for r in result.rows if r["team"] == "edge"}
        assert days["2024-03-30T00:00:00+00:00"] == 1
        assert days["2024-03-31T00:00:00+00:00"] == 2  # 00:30 GMT and 02:30 BST
        assert days["2024-04-01T00:00:00+01:00"] == 1
        assert days["2024-10-27T00:00:00+01:00"] == 3  # both 01:30s and 23:30 GMT
    hours = KpiOptions(
        period="hour",
        tz="Europe/London",
        since=dt.datetime(2024, 10, 27, tzinfo=dt.UTC),
        until=dt.datetime(2024, 10, 27, 3, tzinfo=dt.UTC),
    )
    for result in (
        compute_kpis(columns, hours),
        kpis_on_engine([str(logs["csv"])], hours, duck).result,
    ):
        assert [(r["period"], r["interactions"]) for r in result.rows] == [
            ("2024-10-27T01:00:00+00:00", 1),
            ("2024-10-27T01:00:00+01:00", 1),
        ]
    york = KpiOptions(
        period="day",
        tz="America/New_York",
        since=dt.datetime(2024, 11, 3, tzinfo=dt.UTC),
        until=dt.datetime(2024, 11, 4, tzinfo=dt.UTC),
    )
    for result in (
        compute_kpis(columns, york),
        kpis_on_engine([str(logs["csv"])], york, duck).result,
    ):
        assert [(r["period"], r["interactions"]) for r in result.rows] == [
            ("2024-11-03T00:00:00-04:00", 2)
        ]


def test_repeat_contacts_count_across_channels_within_the_window_in_hours(
    logs: dict[str, Path], duck: engines.DuckDBEngine
) -> None:
    columns = load_logs([str(logs["csv"])]).columns
    window = dict(
        fcr_method="repeat",
        since=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        until=dt.datetime(2024, 6, 30, tzinfo=dt.UTC),
    )
    for options, first in (
        (KpiOptions(**window), 0),  # 09:00 then 08:59:59 a week later; 09:00 a day later
        (KpiOptions(**window, fcr_window=dt.timedelta(hours=167)), 1),
        (KpiOptions(**window, fcr_same_category=True), 1),  # delivery, then billing
    ):
        for result in (
            compute_kpis(columns, options),
            kpis_on_engine([str(logs["csv"])], options, duck).result,
        ):
            assert result.total["fcr"]["denominator"] == 2
            assert result.total["fcr"]["numerator"] == first


def test_ties_empty_groups_and_null_surveys(
    logs: dict[str, Path], duck: engines.DuckDBEngine
) -> None:
    columns = load_logs([str(logs["csv"])]).columns
    options = KpiOptions(by=("team", "channel"))
    for result in (
        compute_kpis(columns, options),
        kpis_on_engine([str(logs["csv"])], options, duck).result,
    ):
        rows = {(r["team"], r["channel"]): r for r in result.rows}
        silent = rows[("silent", "email")]
        assert silent["csat"]["value"] is None
        assert silent["csat"]["denominator"] == 0
        assert silent["nps"]["value"] is None
        assert silent["ces"]["value"] is None
        assert silent["fcr"]["value"] is None
        assert silent["cases"] == 3
        # The tied case belongs to chat (T-1 < T-2), with its escalation and resolution.
        chat = rows[("edge", "chat")]
        email = rows[("edge", "email")]
        assert chat["cases"] == 1 + 1
        assert email["cases"] == 1
        assert chat["escalation_rate"]["numerator"] == 1
        assert chat["resolution_time"]["n"] == 2


def test_report_kpi_gives_the_same_json_on_each_engine(cli: InvokeCli, spark: Any) -> None:
    example = str(Path(__file__).resolve().parent.parent / "examples" / "interactions.csv")
    base = ["report", "kpi", example, "--skip-invalid", "--by", "channel", "--format", "json"]
    local = cli(*base)
    assert local.exit_code == 0, local.output
    for name in ("duckdb", "spark"):
        other = cli(*base, "--engine", name)
        assert other.exit_code == 0, other.output
        same(json.loads(local.stdout), json.loads(other.stdout))
        assert "14 invalid row(s) left out" in other.stderr


def test_invalid_rows_on_an_engine_exit_3_naming_records_and_rules(cli: InvokeCli) -> None:
    example = str(Path(__file__).resolve().parent.parent / "examples" / "interactions.csv")
    result = cli("report", "kpi", example, "--engine", "duckdb")
    assert result.exit_code == 3, result.output
    assert "record 6: csat.range" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--memory-limit", "1GB"], "--memory-limit"),
    ],
)
def test_what_an_engine_does_not_do_exits_2(
    cli: InvokeCli, logs: dict[str, Path], extra: list[str], message: str
) -> None:
    engine = [] if message == "--memory-limit" else ["--engine", "duckdb"]
    result = cli("report", "kpi", str(logs["csv"]), *engine, *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


NAIVE_OPTIONS = {k: OPTIONS[k] for k in ("hour-london", "day-new-york-direction")} | {
    "business-hours-london": OPTIONS["business-hours-london"],
    "team-quarter-kolkata": OPTIONS["team-quarter-kolkata"],
}


@pytest.fixture(scope="module")
def naive_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated log with every other row's times written without an offset (as
    UTC wall-clock readings), and readings in the skipped and repeated hours of London
    and New York: 01:30 on 31 March and 27 October 2024, 02:30 on 10 March and 01:30
    on 3 November 2024."""
    rows = generated_rows(4000) + edge_rows()
    times = [c for c in COLUMNS if c.endswith("_at")]
    for number, row in enumerate(rows):
        if number % 2:
            for column in times:
                row[column] = re.sub(r"(Z|[+-]\d\d:\d\d)$", "", row[column])
    for reading in ("2024-03-31T01:30", "2024-10-27T01:30", "2024-03-10T02:30", "2024-11-03T01:30"):
        for minutes in (0, 45):
            at = f"{reading}:00"
            later = (dt.datetime.fromisoformat(at) + dt.timedelta(minutes=minutes)).isoformat()
            row = dict(rows[-1], interaction_id=f"N-{len(rows)}", case_id=f"NK-{len(rows)}")
            row.update(created_at=at, answered_at=later, resolved="true", resolved_at=later)
            rows.append(row)
    path = tmp_path_factory.mktemp("naive") / "naive.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_times_without_an_offset_are_read_in_the_zone_alike_on_every_engine(
    engine_name: str, naive_log: Path, request: pytest.FixtureRequest
) -> None:
    """Readings without an offset are read in --tz by one rule on every engine
    (custrec.kpi.zones): a reading in a skipped hour moves to the end of the gap, one
    in a repeated hour is missing; periods, business time and durations agree."""
    engine = on(engine_name, request)
    for label, options in NAIVE_OPTIONS.items():
        columns = load_logs([str(naive_log)], tz=options.tz).columns
        local = compute_kpis(columns, options)
        found = kpis_on_engine([str(naive_log)], options, engine)
        assert found.rows == columns.rows
        assert not found.invalid
        same(local.total, found.result.total, f"{label}: total")
        same(local.rows, found.result.rows, f"{label}: rows")
    london = NAIVE_OPTIONS["hour-london"]
    in_utc = compute_kpis(load_logs([str(naive_log)]).columns, london)
    assert compute_kpis(load_logs([str(naive_log)], tz="Europe/London").columns, london) != in_utc


def test_times_without_an_offset_in_another_zone_on_duckdb_from_the_cli(
    cli: InvokeCli, tmp_path: Path
) -> None:
    """11:30 on 31 March 2024 in London is 10:30 UTC (BST); 01:30 that night was
    skipped: it becomes 01:00 UTC, the first instant after the gap, in the 02:00 BST
    hour; 01:30 on 27 October happened twice: it is missing, in no period."""
    path = tmp_path / "naive.csv"
    path.write_text(
        "interaction_id,case_id,channel,created_at\n"
        "I-1,K-1,phone,2024-03-31T11:30:00\n"
        "I-2,K-2,phone,2024-03-31T01:30:00\n"
        "I-3,K-3,phone,2024-10-27T01:30:00\n",
        encoding="utf-8",
    )
    base = ["report", "kpi", str(path), "--period", "hour", "--format", "json"]
    local = cli(*base, "--tz", "Europe/London")
    duck = cli(*base, "--tz", "Europe/London", "--engine", "duckdb")
    assert duck.exit_code == local.exit_code == 0, duck.output
    assert json.loads(duck.stdout) == json.loads(local.stdout)
    periods = [row["period"] for row in json.loads(duck.stdout)["rows"]]
    assert periods == ["2024-03-31T02:00:00+01:00", "2024-03-31T11:00:00+01:00"]


def test_report_kpi_on_spark_without_pyspark_exits_2_naming_the_extra(
    cli: InvokeCli, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    result = cli("report", "kpi", str(logs["csv"]), "--engine", "spark")
    assert result.exit_code == 2
    assert "pip install 'custrec[spark]'" in result.stderr


def test_follow_up_and_survey_response_rates_on_every_engine(
    logs: dict[str, Path], duck: Any
) -> None:
    columns = load_logs([str(logs["csv"])]).columns
    august = KpiOptions(
        since=dt.datetime(2024, 8, 1, tzinfo=dt.UTC), until=dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
    )
    for result in (
        compute_kpis(columns, august),
        kpis_on_engine([str(logs["csv"])], august, duck).result,
    ):
        assert result.total["follow_up_rate"]["numerator"] == 1
        assert result.total["follow_up_rate"]["denominator"] == 1
        assert result.total["survey_response_rate"]["value"] == 100.0
    whole = compute_kpis(columns, KpiOptions()).total
    # The generated contacts: every one that reached someone was sent a survey.
    assert 0 < whole["survey_response_rate"]["value"] < 100
    assert whole["follow_up_rate"]["numerator"] >= 1


def test_case_detail_and_the_html_page_on_an_engine(cli: InvokeCli, logs: dict[str, Path]) -> None:
    base = ["report", "kpi", str(logs["csv"])]
    local = cli(*base, "--detail", "--format", "json")
    duck = cli(*base, "--detail", "--format", "json", "--engine", "duckdb")
    assert local.exit_code == 0, local.output
    assert duck.exit_code == 0, duck.output
    cases = json.loads(local.stdout)["cases"]
    assert len(cases) > 1000
    same(cases, json.loads(duck.stdout)["cases"])
    page = ["--by", "channel", "--period", "month", "--format", "html"]
    local_page = cli(*base, *page)
    duck_page = cli(*base, *page, "--engine", "duckdb")
    assert duck_page.exit_code == 0, duck_page.output
    # The same page but for the moment it was made.
    made = re.compile(r"made:</span> [^<]*|\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert made.sub("", duck_page.stdout) == made.sub("", local_page.stdout)


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_a_store_and_standard_input_stream_into_an_engine(
    cli: InvokeCli, tmp_path: Path, engine_name: str, request: pytest.FixtureRequest
) -> None:
    """A store's records are decrypted here, batch by batch, and streamed into the
    engine (and the reading audited); standard input too. Both give the polars
    engine's report."""
    on(engine_name, request)  # the session's engine, started once
    example = Path(__file__).resolve().parent.parent / "examples" / "interactions.csv"
    key, store = tmp_path / "k.key", tmp_path / "log.crec"
    env = {"CUSTREC_KEY_FILE": str(key)}
    schema = Path(__file__).resolve().parent.parent / "schemas" / "interaction.yaml"
    assert cli("key", "new", str(key), env=env).exit_code == 0
    assert cli("init", str(store), "--schema", str(schema), env=env).exit_code == 0
    rejects = str(tmp_path / "rejects.csv")
    collected = cli(
        "collect", str(store), str(example), "--on-invalid", "reject", "--rejects", rejects, env=env
    )
    assert collected.exit_code == 0, collected.output
    base = ["report", "kpi", "--by", "channel", "--period", "month", "--format", "json"]
    local = cli(*base[:2], str(store), *base[2:], env=env)
    assert local.exit_code == 0, local.output
    other = cli(*base[:2], str(store), *base[2:], "--engine", engine_name, env=env)
    assert other.exit_code == 0, other.output
    same(json.loads(local.stdout), json.loads(other.stdout))
    assert json.loads(other.stdout)["total"]["interactions"] > 40
    audit = cli("audit", "show", str(store), "--format", "json", env=env)
    assert audit.stdout.count('"action": "report"') == 2
    text = example.read_text(encoding="utf-8")
    piped = [*base[:2], "-", *base[2:], "--skip-invalid"]
    from_stdin = cli(*piped, "--engine", engine_name, input=text)
    assert from_stdin.exit_code == 0, from_stdin.output
    polars_stdin = cli(*piped, input=text)
    same(json.loads(polars_stdin.stdout), json.loads(from_stdin.stdout))
    assert json.loads(from_stdin.stdout)["sources"] == ["<stdin>"]


def test_a_log_whose_columns_change_type_midway_exits_3_on_duckdb(
    cli: InvokeCli, tmp_path: Path, duck: Any
) -> None:
    """Custrec's reader gives each source's batches; a later source whose columns
    differ from the first's cannot join it in one table: exit 3, naming it."""
    first = tmp_path / "a.csv"
    first.write_text(
        "interaction_id,case_id,channel,created_at\nI-1,K-1,phone,2024-03-31T09:00:00Z\n",
        encoding="utf-8",
    )
    second = tmp_path / "b.csv"
    second.write_text("interaction_id,channel\nI-2,chat\n", encoding="utf-8")
    result = cli("report", "kpi", "-", str(second), "--engine", "duckdb", input=first.read_text())
    assert result.exit_code == 3, result.output
    assert f"{second}: its records change columns" in result.stderr


def test_an_ndjson_log_is_read_by_custrec_and_streamed_into_duckdb(
    cli: InvokeCli, tmp_path: Path, logs: dict[str, Path], duck: Any
) -> None:
    with logs["csv"].open(encoding="utf-8") as handle:
        rows = [{k: v for k, v in row.items() if v} for row in csv.DictReader(handle)]
    path = tmp_path / "log.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    base = ["report", "kpi", str(path), "--by", "channel", "--format", "json"]
    local = cli(*base)
    assert local.exit_code == 0, local.output
    other = cli(*base, "--engine", "duckdb")
    assert other.exit_code == 0, other.output
    same(json.loads(local.stdout), json.loads(other.stdout))
    assert json.loads(other.stdout)["total"]["interactions"] == len(rows)


def test_engine_auto_keeps_polars_while_the_log_fits_and_says_why(
    cli: InvokeCli, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, duck: Any
) -> None:
    from custrec import engines

    size = engines.values_size(str(logs["parquet"]))
    assert 0 < size < logs["csv"].stat().st_size  # the footer's values, not the file
    need = size * engines.HOLDING_FACTOR
    monkeypatch.setattr(engines, "available_memory", lambda: int(need / engines.AUTO_SHARE) + 1)
    assert engines.auto_engine([str(logs["parquet"])], holds_all=True)[0] == "polars"
    monkeypatch.setattr(engines, "available_memory", lambda: int(need / engines.AUTO_SHARE) - 1)
    assert engines.auto_engine([str(logs["parquet"])], holds_all=True)[0] == "duckdb"
    # validate streams: polars, whatever the size; stdin is read by custrec; globs by duckdb
    assert engines.auto_engine([str(logs["parquet"])], holds_all=False)[0] == "polars"
    assert engines.auto_engine(["-"], holds_all=True)[0] == "polars"
    glob = str(logs["parquet"].parent / "*.parquet")
    assert engines.auto_engine([glob], holds_all=False)[0] == "duckdb"
    base = ["report", "kpi", str(logs["parquet"]), "--by", "channel", "--format", "json"]
    chosen = cli(*base, "--engine", "auto")
    assert chosen.exit_code == 0, chosen.output
    assert "--engine auto: duckdb (about" in chosen.stderr
    same(json.loads(cli(*base).stdout), json.loads(chosen.stdout))
    monkeypatch.setenv("CUSTREC_ENGINE", "auto")
    monkeypatch.setattr(engines, "available_memory", lambda: 1 << 40)
    assert "--engine auto: polars" in cli(*base).stderr


# --- medians and percentiles by rank (DuckDB) -----------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None]),
            st.one_of(st.none(), st.integers(-3, 40).map(lambda v: v / 4), st.floats(0, 1e7)),
        ),
        max_size=40,
    )
)
def test_quantiles_by_rank_equal_the_median_and_linear_quantile(
    rows: list[tuple[str | None, float | None]],
) -> None:
    """Ties, a group of one or two values, a group of nulls only, a null group key:
    the figures by rank are polars' median() and quantile(q, "linear") of each group."""
    import narwhals as nw
    import polars as pl

    from custrec.kpi.definitions import ranked_quantiles

    data = pl.DataFrame(rows, schema={"g": pl.String, "v": pl.Float64}, orient="row")
    measures = {"t_v": nw.col("v")}
    for keys in ([], ["g"]):
        found = ranked_quantiles(nw.from_native(data.lazy()), keys, measures)
        grouped = data.group_by(keys) if keys else None
        wanted = (
            grouped.agg(
                pl.col("v").median().alias("median"),
                pl.col("v").quantile(0.9, "linear").alias("p90"),
                pl.col("v").count().alias("n"),
            )
            if grouped is not None
            else data.select(
                pl.col("v").median().alias("median"),
                pl.col("v").quantile(0.9, "linear").alias("p90"),
                pl.col("v").count().alias("n"),
            )
        )
        for row in wanted.iter_rows(named=True):
            label = tuple(row[k] for k in keys)
            if not row["n"]:
                assert label not in found or "t_v" not in found[label]
                continue
            for name in ("median", "p90"):
                got = found[label]["t_v"][name]
                assert math.isclose(got, row[name], rel_tol=1e-12, abs_tol=1e-12), (
                    keys,
                    label,
                    name,
                    got,
                    row[name],
                )


def test_quantiles_by_rank_on_duckdb_equal_its_own_quantiles() -> None:
    import narwhals as nw

    from custrec.kpi.definitions import ranked_quantiles

    connection = duckdb.connect()
    relation = connection.sql(
        "SELECT (i % 3)::VARCHAR AS g, CASE WHEN i % 7 = 0 THEN NULL "
        "ELSE (i * 7919 % 1000) / 8.0 END AS v FROM range(5001) t(i)"
    )
    found = ranked_quantiles(nw.from_native(relation), ["g"], {"t_v": nw.col("v")})
    wanted = connection.sql(
        "SELECT g, median(v), quantile_cont(v, 0.9) FROM "
        "(SELECT (i % 3)::VARCHAR AS g, CASE WHEN i % 7 = 0 THEN NULL "
        "ELSE (i * 7919 % 1000) / 8.0 END AS v FROM range(5001) t(i)) GROUP BY g"
    ).fetchall()
    assert len(wanted) == 3
    for group, median, p90 in wanted:
        assert math.isclose(found[(group,)]["t_v"]["median"], median, rel_tol=1e-12)
        assert math.isclose(found[(group,)]["t_v"]["p90"], p90, rel_tol=1e-12)


def test_a_kpi_log_keeps_only_the_columns_the_report_reads_on_duckdb(
    logs: dict[str, Path],
) -> None:
    """The records kept after validation hold the values the report reads and the
    verdicts, not every conversion's intermediate columns (which the unique-id join
    would carry: out of memory under a small limit at 10M records)."""
    engine = engines.DuckDBEngine(memory_limit="1GB")
    try:
        found = kpis_on_engine([str(logs["parquet"])], KpiOptions(by=("channel",)), engine)
        widths = engine.connection.execute(
            "SELECT table_name, column_count FROM duckdb_tables() ORDER BY table_name"
        ).fetchall()
    finally:
        engine.close()
    assert found.rows == len(generated_rows(4000)) + len(edge_rows())
    inputs, *kept = sorted(widths, key=lambda item: int(item[0].rpartition("_")[2]))
    assert inputs[1] == len(COLUMNS)
    # the converted values, the stripped texts, the zones and one verdict per rule:
    # under four columns per input column (80 here), where every conversion's gives 122
    assert kept
    assert max(width for _, width in kept) <= 4 * len(COLUMNS), widths


@pytest.mark.parametrize("engine_name", ["polars", "duckdb"])
def test_the_rows_of_all_groups_together_come_with_the_grouped_report(
    engine_name: str, logs: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    """The HTML page's trend of all groups together comes from the same cases as the
    grouped rows (no second report), and equals the report without groups."""
    import dataclasses

    from custrec.kpi.lazylogs import kpis_of, load_on_engine

    options = OPTIONS["channel-team-week-london"]
    alone = dataclasses.replace(options, by=())
    if engine_name == "polars":
        columns = load_logs([str(logs["csv"])]).columns
        found = compute_kpis(columns, options, overall=True)
        expected = compute_kpis(columns, alone)
        assert compute_kpis(columns, options).overall is None
    else:
        engine = on(engine_name, request)
        log = load_on_engine([str(logs["csv"])], options, engine)
        found = kpis_of(log.frame, options, engine, overall=True)
        expected = kpis_of(log.frame, alone, engine)
    assert found.overall is not None
    assert len(found.overall) > 20
    same(expected.rows, found.overall, "overall")
