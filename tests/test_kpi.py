"""KPI definitions on small hand-made logs whose answers are worked out here."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from custrec.kpi import KpiOptions, compute_kpis
from custrec.kpi.calendar import BusinessHours
from custrec.kpi.engine import case_table
from custrec.kpi.logs import CANONICAL, load_logs
from custrec.kpi.stats import nps, rate, wilson

from .conftest import REPO, InvokeCli, write

T0 = pd.Timestamp("2026-03-02T09:00:00Z")  # a Monday


def log(*rows: dict[str, Any]) -> pd.DataFrame:
    """A typed log: every canonical column, defaults filled in."""
    records = []
    for n, row in enumerate(rows, start=1):
        record: dict[str, Any] = dict.fromkeys(CANONICAL)
        record.update(
            interaction_id=f"I-{n}",
            case_id=f"K-{n}",
            channel="email",
            created_at=T0,
        )
        record.update(row)
        records.append(record)
    frame = pd.DataFrame(records, columns=list(CANONICAL))
    for name in ("created_at", "answered_at", "first_response_at", "ended_at", "resolved_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in ("talk_seconds", "hold_seconds", "wrap_seconds", "csat", "nps", "ces"):
        frame[name] = frame[name].astype("float64")
    for name in ("resolved", "escalated"):
        frame[name] = frame[name].astype("boolean")
    return frame


def total(frame: pd.DataFrame, **options: Any) -> dict[str, Any]:
    return compute_kpis(frame, KpiOptions(**options)).total


def minutes(n: float) -> pd.Timedelta:
    return pd.Timedelta(minutes=n)


# --- published worked examples --------------------------------------------------------


def test_csat_worked_example_74_of_107() -> None:
    rows = [{"csat": 5 if n < 50 else 4 if n < 74 else 3 if n < 90 else 1} for n in range(107)]
    csat = total(log(*rows))["csat"]
    assert (csat["numerator"], csat["denominator"]) == (74, 107)
    assert round(csat["value"], 2) == 69.16


def test_first_response_worked_example_mean_59_min_13_s() -> None:
    waits = [50] * 20 + [60] * 43 + [70] * 14
    frt = total(log(*({"first_response_at": T0 + minutes(w)} for w in waits)))["frt"]
    assert frt["n"] == 77
    assert round(frt["mean"]) == 59 * 60 + 13
    assert frt["median"] == 3600.0
    assert frt["p90"] == pytest.approx(float(pd.Series(waits).quantile(0.9) * 60))


# --- satisfaction ---------------------------------------------------------------------


def test_csat_excludes_non_responses_and_a_3_is_not_satisfied() -> None:
    csat = total(log({"csat": 3}, {"csat": 4}, {"csat": None}, {"csat": 5}))["csat"]
    assert (csat["numerator"], csat["denominator"]) == (2, 3)
    assert csat["value"] == pytest.approx(200 / 3)
    assert csat["small_sample"] is True


def test_without_responses_rates_are_null_not_zero() -> None:
    figures = total(log({}, {}))
    assert figures["csat"]["value"] is None
    assert figures["csat"]["ci95"] is None
    assert figures["nps"]["value"] is None
    assert figures["nps"]["moe95"] is None
    assert figures["ces"]["value"] is None
    assert figures["aht"]["value"] is None


def test_nps_counts_and_range() -> None:
    scores = [10, 9, 8, 7, 6, 0, 10, None]
    result = total(log(*({"nps": s} for s in scores)))["nps"]
    assert (result["promoters"], result["passives"], result["detractors"]) == (3, 2, 2)
    assert result["responses"] == 7
    assert result["value"] == pytest.approx(100 * (3 - 2) / 7)
    p, d = 3 / 7, 2 / 7
    assert result["moe95"] == pytest.approx(
        100 * 1.959963984540054 * math.sqrt((p + d - (p - d) ** 2) / 7)
    )
    assert nps(5, 0, 0)["value"] == 100.0
    assert nps(0, 0, 5)["value"] == -100.0


def test_ces_is_the_mean_of_responses() -> None:
    assert total(log({"ces": 2}, {"ces": 5}, {"ces": None}))["ces"]["value"] == 3.5


# --- handling -------------------------------------------------------------------------


def test_aht_counts_handled_contacts_and_missing_hold_wrap_as_zero() -> None:
    rows = (
        {"talk_seconds": 100, "hold_seconds": 20, "wrap_seconds": 30},
        {"talk_seconds": 50},
        {"hold_seconds": 500, "wrap_seconds": 500},  # not handled: no talk time
    )
    aht = total(log(*rows))["aht"]
    assert aht == {"value": (150 + 50) / 2, "n": 2, "small_sample": True}


def test_fcr_case_method() -> None:
    rows = (
        # K-1: one inbound contact, resolved -> FCR
        {"case_id": "K-1", "resolved": True},
        # K-2: two inbound contacts, resolved on the second -> not FCR
        {"case_id": "K-2", "created_at": T0},
        {"case_id": "K-2", "created_at": T0 + minutes(60), "resolved": True},
        # K-3: one inbound and one outbound (a follow-up), resolved -> FCR
        {"case_id": "K-3"},
        {
            "case_id": "K-3",
            "direction": "outbound",
            "created_at": T0 + minutes(5),
            "resolved": True,
        },
        # K-4: unresolved -> not in the denominator
        {"case_id": "K-4"},
    )
    fcr = total(log(*rows))["fcr"]
    assert (fcr["numerator"], fcr["denominator"]) == (2, 3)


def test_fcr_repeat_method_with_window_and_category() -> None:
    day = pd.Timedelta(days=1)
    rows = (
        {"customer_id": "C1", "resolved": True, "category": "billing"},
        {"customer_id": "C1", "created_at": T0 + 3 * day, "category": "delivery"},
        {"customer_id": "C2", "resolved": True},
        {"customer_id": "C2", "created_at": T0 + 8 * day},  # outside a 7-day window
        {"customer_id": None, "resolved": True},  # no customer: not counted
        {"customer_id": "C3", "resolved": True, "direction": "outbound"},  # not inbound
    )
    base = {"fcr_method": "repeat", "fcr_window": dt.timedelta(days=7)}
    fcr = total(log(*rows), **base)["fcr"]
    assert (fcr["numerator"], fcr["denominator"]) == (1, 2)  # C1 came back, C2 did not
    same = total(log(*rows), **base, fcr_same_category=True)["fcr"]
    assert (same["numerator"], same["denominator"]) == (2, 2)  # C1 came back about something else


# --- times ----------------------------------------------------------------------------


def test_resolution_time_uses_the_last_resolution_of_a_reopened_case() -> None:
    rows = (
        {"case_id": "K-1", "resolved": True, "resolved_at": T0 + minutes(10)},
        {
            "case_id": "K-1",
            "created_at": T0 + minutes(60),
            "resolved": True,
            "resolved_at": T0 + minutes(90),
        },
        {"case_id": "K-2"},  # unresolved: no resolution time
    )
    resolution = total(log(*rows))["resolution_time"]
    assert resolution["n"] == 1
    assert resolution["median"] == 90 * 60


def test_asa_over_answered_contacts_only() -> None:
    rows = (
        {"answered_at": T0 + pd.Timedelta(seconds=10)},
        {"answered_at": T0 + pd.Timedelta(seconds=30)},
        {},
    )
    asa = total(log(*rows))["asa"]
    assert (asa["n"], asa["median"], asa["mean"]) == (2, 20.0, 20.0)


def test_business_hours_across_the_spring_clock_change() -> None:
    # Europe/London moves to summer time on Sunday 2026-03-29. From Friday 16:00 to
    # Monday 10:00 local time: 1 h on Friday + 1 h on Monday of 09:00-17:00 hours.
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00", "Europe/London")
    start = dt.datetime(2026, 3, 27, 16, 0, tzinfo=dt.UTC)  # 16:00 GMT
    end = dt.datetime(2026, 3, 30, 9, 0, tzinfo=dt.UTC)  # 10:00 BST
    assert hours.seconds(start, end) == 2 * 3600
    # A whole Monday after the change is still 8 hours.
    monday = dt.datetime(2026, 3, 30, 0, 0, tzinfo=dt.UTC)
    assert hours.seconds(monday, monday + dt.timedelta(days=1)) == 8 * 3600
    with_holiday = BusinessHours.parse(
        "Mon-Fri 09:00-17:00", "Europe/London", [dt.date(2026, 3, 30)]
    )
    assert with_holiday.seconds(start, end) == 3600


def test_business_hours_apply_to_first_response() -> None:
    friday = pd.Timestamp("2026-03-27T16:30:00Z")  # 16:30 GMT, half an hour before closing
    monday = pd.Timestamp("2026-03-30T08:30:00Z")  # 09:30 BST, half an hour after opening
    frame = log({"created_at": friday, "first_response_at": monday})
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00", "Europe/London")
    assert total(frame, business_hours=hours)["frt"]["median"] == 3600.0
    assert total(frame)["frt"]["median"] == (monday - friday).total_seconds()


# --- service level and abandonment ----------------------------------------------------


def test_service_level_and_abandonment_leave_short_abandons_out() -> None:
    s = pd.Timedelta(seconds=1)
    rows = (
        {"channel": "phone", "answered_at": T0 + 10 * s},  # within 20 s
        {"channel": "phone", "answered_at": T0 + 40 * s},  # answered late
        {"channel": "phone", "ended_at": T0 + 60 * s},  # abandoned after a minute
        {"channel": "phone", "ended_at": T0 + 3 * s},  # short abandon: left out
        {"channel": "chat", "answered_at": T0 + 5 * s},
        {"channel": "email", "answered_at": None},  # not a queued channel
        {"channel": "phone", "direction": "outbound"},  # outbound: not offered
    )
    figures = total(log(*rows))
    assert (figures["service_level"]["numerator"], figures["service_level"]["denominator"]) == (
        2,
        4,
    )
    assert (
        figures["abandonment_rate"]["numerator"],
        figures["abandonment_rate"]["denominator"],
    ) == (1, 4)


def test_escalation_rate_per_case() -> None:
    rows = (
        {"case_id": "K-1", "escalated": True},
        {"case_id": "K-1"},
        {"case_id": "K-2", "escalated": False},
        {"case_id": "K-3"},
    )
    escalation = total(log(*rows))["escalation_rate"]
    assert (escalation["numerator"], escalation["denominator"]) == (1, 3)


# --- groups and periods ---------------------------------------------------------------


def test_a_case_belongs_to_the_group_and_period_of_its_first_contact() -> None:
    rows = (
        {"case_id": "K-1", "channel": "email", "created_at": pd.Timestamp("2026-01-31T23:00:00Z")},
        {
            "case_id": "K-1",
            "channel": "phone",
            "created_at": pd.Timestamp("2026-02-01T10:00:00Z"),
            "resolved": True,
        },
    )
    result = compute_kpis(log(*rows), KpiOptions(by=("channel",), period="month"))
    by_key = {(r["channel"], r["period"]): r for r in result.rows}
    assert set(by_key) == {
        ("email", "2026-01-01T00:00:00+00:00"),
        ("phone", "2026-02-01T00:00:00+00:00"),
    }
    january = by_key[("email", "2026-01-01T00:00:00+00:00")]
    february = by_key[("phone", "2026-02-01T00:00:00+00:00")]
    assert (january["interactions"], january["cases"]) == (1, 1)
    assert (february["interactions"], february["cases"]) == (1, 0)  # the case is January's
    assert january["fcr"]["denominator"] == 1
    assert january["fcr"]["numerator"] == 0
    assert result.total["cases"] == 1


def test_periods_in_a_time_zone_across_daylight_saving() -> None:
    rows = (
        {"created_at": pd.Timestamp("2026-03-28T23:30:00Z")},  # Sat 23:30 GMT
        {"created_at": pd.Timestamp("2026-03-29T23:30:00Z")},  # Mon 00:30 BST
    )
    result = compute_kpis(log(*rows), KpiOptions(period="day", tz="Europe/London"))
    assert [r["period"] for r in result.rows] == [
        "2026-03-28T00:00:00+00:00",
        "2026-03-30T00:00:00+01:00",
    ]
    weeks = compute_kpis(log(*rows), KpiOptions(period="week", tz="Europe/London"))
    assert [r["period"] for r in weeks.rows] == [
        "2026-03-23T00:00:00+00:00",
        "2026-03-30T00:00:00+01:00",
    ]


def test_totals_are_computed_not_added() -> None:
    rows = [{"channel": "phone", "first_response_at": T0 + minutes(m)} for m in (1, 2, 3)]
    rows += [{"channel": "email", "first_response_at": T0 + minutes(m)} for m in (10, 20)]
    result = compute_kpis(log(*rows), KpiOptions(by=("channel",)))
    assert result.total["frt"]["median"] == 180.0  # the median of all five, not of medians
    assert sum(r["interactions"] for r in result.rows) == result.total["interactions"] == 5


def test_since_and_until_keep_a_half_open_range() -> None:
    rows = ({"created_at": T0}, {"created_at": T0 + minutes(60)}, {"created_at": T0 + minutes(120)})
    figures = total(log(*rows), since=T0.to_pydatetime(), until=(T0 + minutes(120)).to_pydatetime())
    assert figures["interactions"] == 2


# --- statistics -----------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    # The Wilson bounds are the roots p of (x/n - p)^2 = z^2 p (1 - p) / n.
    x, n, z = 74, 107, 1.959963984540054
    a, b, c = 1 + z * z / n, -(2 * x / n + z * z / n), (x / n) ** 2
    roots = sorted((-b + sign * math.sqrt(b * b - 4 * a * c)) / (2 * a) for sign in (-1, 1))
    low, high = wilson(x, n) or [0.0, 0.0]
    assert low == pytest.approx(100 * roots[0])
    assert high == pytest.approx(100 * roots[1])
    assert 59.8 < low < 60.0
    assert 77.0 < high < 77.2
    assert wilson(0, 10) is not None
    assert wilson(0, 10)[0] == 0.0
    assert wilson(0, 0) is None
    assert rate(3, 29)["small_sample"] is True
    assert rate(3, 30)["small_sample"] is False


# --- reading logs ---------------------------------------------------------------------


def test_logs_are_validated_with_lines_and_can_skip_invalid(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,csat\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z,5\n"
        "I-2,K-2,phone,2026-03-02T09:00:00Z,9\n"
        "I-1,K-3,phone,2026-03-02T09:00:00Z,4\n",
    )
    from custrec.errors import InputError

    with pytest.raises(InputError) as info:
        load_logs([str(path)])
    assert "2 invalid row(s)" in str(info.value)
    assert f"{path}:3: csat.range" in str(info.value)
    assert f"{path}:4: interaction_id.unique" in str(info.value)
    loaded = load_logs([str(path)], skip_invalid=True)
    assert (loaded.rows, loaded.invalid, len(loaded.frame)) == (3, 2, 1)


def test_naive_times_are_read_in_the_time_zone_and_offsets_honoured(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at\n"
        "I-1,K-1,phone,2026-07-01T10:00:00\n"
        "I-2,K-2,phone,2026-07-01T10:00:00+02:00\n",
    )
    frame = load_logs([str(path)], tz="Europe/London").frame
    assert list(frame["created_at"]) == [
        pd.Timestamp("2026-07-01T09:00:00Z"),
        pd.Timestamp("2026-07-01T08:00:00Z"),
    ]


def test_mapping_adapts_other_exports(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.csv",
        "Ticket ID,Ticket,Via,Created\nT1,T1,email,2026-03-02 09:00:00\n",
    )
    mapping = {
        "interaction_id": "Ticket ID",
        "case_id": "Ticket",
        "channel": "Via",
        "created_at": "Created",
    }
    frame = load_logs([str(path)], mapping=mapping).frame
    assert frame.loc[0, "case_id"] == "T1"
    assert frame.loc[0, "channel"] == "email"


# --- the command ----------------------------------------------------------------------


def test_report_kpi_json_contract_and_csv_totals(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,csat,resolved\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z,5,true\n"
        "I-2,K-2,email,2026-03-02T10:00:00Z,2,false\n"
        "I-3,K-2,email,2026-03-03T10:00:00Z,,true\n",
    )
    result = cli("report", "kpi", str(path), "--by", "channel", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["kind"] == "kpi"
    rows = {row["channel"]: row for row in document["rows"]}
    assert rows["email"]["cases"] == 1
    assert rows["email"]["interactions"] == 2
    assert set(rows["phone"]["csat"]) == {
        "value",
        "numerator",
        "denominator",
        "ci95",
        "small_sample",
    }
    assert set(rows["phone"]["frt"]) == {"median", "mean", "p90", "n", "small_sample"}
    assert document["total"]["fcr"]["numerator"] == 1
    assert document["total"]["fcr"]["denominator"] == 2
    as_csv = cli("report", "kpi", str(path), "--by", "channel", "--format", "csv")
    lines = as_csv.stdout.splitlines()
    header = lines[0].split(",")
    last = dict(zip(header, lines[-1].split(","), strict=True))
    assert last["channel"] == "total"
    assert int(last["interactions"]) == document["total"]["interactions"]
    assert float(last["csat_value"]) == pytest.approx(document["total"]["csat"]["value"])


def test_report_kpi_html_is_self_contained(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,csat\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z,5\n"
        "I-2,K-2,phone,2026-04-02T09:00:00Z,4\n",
    )
    out = tmp_path / "kpis.html"
    result = cli(
        "report", "kpi", str(path), "--period", "month", "--format", "html", "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<svg" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in page


def test_report_kpi_detail_lists_cases(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,resolved,resolved_at\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z,false,\n"
        "I-2,K-1,phone,2026-03-02T10:00:00Z,true,2026-03-02T10:30:00Z\n",
    )
    result = cli("report", "kpi", str(path), "--detail", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("case_id,first_interaction_id")
    assert lines[1] == "K-1,I-1,2026-03-02T09:00:00+00:00,2,2,true,false,false,5400.0"


def test_report_kpi_exit_3_on_invalid_rows(cli: InvokeCli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,nps\nI-1,K-1,phone,2026-03-02T09:00:00Z,11\n",
    )
    result = cli("report", "kpi", str(path))
    assert result.exit_code == 3
    assert "nps.range" in result.stderr
    assert f"{path}:2" in result.stderr


def test_case_table_matches_the_fcr_figure() -> None:
    rows = (
        {"case_id": "K-1", "resolved": True},
        {"case_id": "K-2"},
        {"case_id": "K-2", "created_at": T0 + minutes(5), "resolved": True},
    )
    frame = log(*rows)
    cases = case_table(frame)
    fcr = total(frame)["fcr"]
    assert sum(1 for c in cases if c["fcr"]) == fcr["numerator"]
    assert sum(1 for c in cases if c["resolved"]) == fcr["denominator"]


def test_report_kpi_reads_an_encrypted_store_of_interactions(
    cli: InvokeCli, tmp_path: Path
) -> None:
    key = tmp_path / "k.key"
    env = {"CUSTREC_KEY_FILE": str(key)}
    assert cli("key", "new", str(key), env=env).exit_code == 0
    store = tmp_path / "log.crec"
    schema = Path(__file__).resolve().parent.parent / "schemas" / "interaction.yaml"
    assert cli("init", str(store), "--schema", str(schema), env=env).exit_code == 0
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,csat,resolved\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z,5,true\n"
        "I-2,K-2,email,2026-03-02T10:00:00Z,2,false\n",
    )
    assert cli("collect", str(store), str(path), env=env).exit_code == 0
    from_store = cli("report", "kpi", str(store), "--format", "json", env=env)
    from_file = cli("report", "kpi", str(path), "--format", "json")
    assert from_store.exit_code == 0, from_store.stderr
    assert json.loads(from_store.stdout)["total"] == json.loads(from_file.stdout)["total"]
    audit = cli("audit", "show", str(store), "--format", "json", env=env)
    assert '"action": "report"' in audit.stdout


# --- the logs are checked by the schema's rules and keep the values they converted -----


def _times_to_check(seed: int) -> list[str | None]:
    """ISO 8601 texts in custrec's shapes and around them: impossible dates and times,
    forms only Arrow reads (an hour alone, +01, +0100, 7 decimals, year 0000), spaces
    around, garbage."""
    import random

    pick = random.Random(seed).choice
    out: list[str | None] = []
    for _ in range(600):
        day = (
            f"{pick([0, 1, 1969, 2024, 2026, 2262, 9999]):04d}-{pick([0, 1, 2, 4, 12, 13]):02d}-"
            f"{pick([0, 1, 28, 29, 30, 31, 32]):02d}"
        )
        time = pick(
            [
                "",
                "T09",
                "T09:05",
                "T09:05:07",
                "T24:00",
                "T23:60",
                "T09:05:60",
                " 09:05:07",
                "T09:05:07.1",
                "T09:05:07.123456",
                "T09:05:07.1234567",
                "T09:05:07.",
            ]
        )
        zone = pick(["", "Z", "+01:00", "-05:30", "+24:00", "+01", "+0100", "+12:60", "z"])
        text = day + time + (zone if time else "")
        out.append(pick(["", "", "", " ", "\t"]) + text + pick(["", "", "", " "]))
    return [*out, None, "", "  ", "nope", "2026-03-02T09:00:00ZZ", "2026-03-02T09:00:00+01:00"]


def _loaded(tmp_path: Path, columns: dict[str, Any], tz: str = "UTC") -> Any:
    """The log of these Arrow columns, written to Parquet and loaded leaving out the
    invalid rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    pq.write_table(pa.table(columns), path)
    return load_logs([str(path)], skip_invalid=True, tz=tz)


@pytest.mark.parametrize("seed", [1, 2])
def test_messy_times_are_kept_exactly_when_python_reads_them(tmp_path: Path, seed: int) -> None:
    import pyarrow as pa

    from .conftest import iso_instant

    times = _times_to_check(seed)
    rows = len(times)
    columns = {
        "interaction_id": pa.array([f"I-{n}" for n in range(rows)]),
        "case_id": pa.array(["K-1"] * rows),
        "channel": pa.array(["phone"] * rows),
        "created_at": pa.array(times, pa.string()),
    }
    loaded = _loaded(tmp_path, columns)
    expected = {f"I-{n}": iso_instant(t) for n, t in enumerate(times)}
    kept = dict(zip(loaded.frame["interaction_id"], loaded.frame["created_at"], strict=True))
    assert set(kept) == {i for i, when in expected.items() if when is not None}
    assert all(kept[i].to_pydatetime() == expected[i] for i in kept)
    assert 0 < len(kept) < rows  # the sample has both


def test_times_without_an_offset_are_read_in_the_reporting_zone(tmp_path: Path) -> None:
    import pyarrow as pa

    columns = {
        "interaction_id": pa.array(["I-1", "I-2", "I-3", "I-4"]),
        "case_id": pa.array(["K"] * 4),
        "channel": pa.array(["phone"] * 4),
        "created_at": pa.array(
            [
                "2026-03-02T09:00:00",
                "2026-03-02T09:00:00Z",
                "2026-07-02 09:00",
                "2026-07-02T09:00+02:00",
            ]
        ),
    }
    loaded = _loaded(tmp_path, columns, tz="Europe/Berlin")
    got = [t.isoformat() for t in loaded.frame["created_at"]]
    assert got == [
        "2026-03-02T08:00:00+00:00",  # winter: UTC+1
        "2026-03-02T09:00:00+00:00",
        "2026-07-02T07:00:00+00:00",  # summer: UTC+2
        "2026-07-02T07:00:00+00:00",
    ]


def test_typed_columns_are_checked_as_their_values(tmp_path: Path) -> None:
    import pyarrow as pa

    rows = 8
    columns = {
        "interaction_id": pa.array([f"I-{n}" for n in range(rows)]),
        "case_id": pa.array(["K"] * rows),
        "channel": pa.array(["phone"] * rows).dictionary_encode(),
        "created_at": pa.array(
            [pd.Timestamp("2026-03-02T09:00:00Z")] * (rows - 1) + [None],
            type=pa.timestamp("ms", "UTC"),
        ),
        "talk_seconds": pa.array([1.5, float("nan"), float("inf"), None, -2.0, 0.0, 3.0, 4.0]),
        "csat": pa.array([1, 5, 6, None, 0, 3, 2**63 - 1, -(2**63)], type=pa.int64()),
        "ces": pa.array([1.0, 7.5, 2.0, None, 3.0, 4.0, 5.0, 6.0]),
        "resolved": pa.array([True, False, None, True, False, True, False, True]),
    }
    loaded = _loaded(tmp_path, columns)
    # I-1: NaN talk time; I-2: inf talk time, csat 6; I-4: negative talk time, csat 0;
    # I-6 and I-7: csat out of 1-5; I-7: no created_at.
    assert list(loaded.frame["interaction_id"]) == ["I-0", "I-3", "I-5"]
    assert loaded.frame["created_at"].iloc[0] == pd.Timestamp("2026-03-02T09:00:00Z")
    reasons = " ".join(loaded.problems)
    for rule in ("talk_seconds.type", "csat.range", "created_at.required"):
        assert rule in reasons


@pytest.mark.parametrize(
    "channels",
    [
        ["phone", "\u00e9" * 20, "chat"],
        ["\u00e9" * 25, "x" * 41, "\u00e9" * 41, "chat"],  # 50 bytes, 25 characters: fits
        ["", " ", "chat", None],
    ],
)
def test_a_length_is_counted_in_characters_not_bytes(
    tmp_path: Path, channels: list[str | None]
) -> None:
    import pyarrow as pa

    rows = len(channels)
    columns = {
        "interaction_id": pa.array([f"I-{n}" for n in range(rows)]),
        "case_id": pa.array(["K"] * rows),
        "channel": pa.array(channels, type=pa.string()),
        "created_at": pa.array(["2026-03-02T09:00:00Z"] * rows),
    }
    loaded = _loaded(tmp_path, columns)
    kept = {int(i[2:]) for i in loaded.frame["interaction_id"]}
    too_long = {n for n, c in enumerate(channels) if c is not None and len(c) > 40}
    blank = {n for n, c in enumerate(channels) if c is None or not c.strip()}
    assert kept == set(range(rows)) - too_long - blank


def test_a_schema_with_other_checks_refuses_the_rows_they_fail(tmp_path: Path) -> None:
    from custrec.errors import InputError
    from custrec.schema.model import parse_schema

    text = (Path(__file__).resolve().parent.parent / "schemas" / "interaction.yaml").read_text()
    text = text.replace(
        "      - {check: length, min: 1, max: 40}",
        "      - {check: length, min: 1, max: 40}\n      - {check: matches, pattern: '[a-z]+'}",
    )
    schema = parse_schema(text)
    path = write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at\n"
        "I-1,K-1,phone,2026-03-02T09:00:00Z\n"
        "I-2,K-2,Phone1,2026-03-02T09:00:00Z\n",
    )
    with pytest.raises(InputError) as info:
        load_logs([str(path)], schema=schema)
    assert f"{path}:3: channel.matches" in str(info.value)
    loaded = load_logs([str(path)], schema=schema, skip_invalid=True)
    assert (loaded.rows, loaded.invalid, list(loaded.frame["interaction_id"])) == (2, 1, ["I-1"])


# --- reading logs: uniqueness, Parquet, several batches -----------------------------------


def _log_table(ids: list[str], **columns: Any) -> Any:
    import pyarrow as pa

    rows = len(ids)
    return pa.table(
        {
            "interaction_id": ids,
            "case_id": [f"K-{n % 3}" for n in range(rows)],
            "channel": ["phone"] * rows,
            "created_at": [f"2026-03-02T09:{n % 60:02d}:00Z" for n in range(rows)],
            **columns,
        }
    )


def test_repeated_ids_across_batches_and_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from custrec.errors import InputError
    from custrec.kpi import logs

    monkeypatch.setattr(logs, "BATCH_ROWS", 4)
    first = tmp_path / "a.parquet"
    pq.write_table(_log_table(["I-9", "I-3", "I-5", "I-1", "I-3", "I-7"]), first)
    second = write(
        tmp_path / "b.csv",
        "interaction_id,case_id,channel,created_at\n"
        "I-8,K-1,phone,2026-03-02T09:00:00Z\nI-9,K-1,phone,2026-03-02T09:00:00Z\n",
    )
    with pytest.raises(InputError) as info:
        load_logs([str(first), str(second)])
    message = str(info.value)
    assert "2 invalid row(s)" in message
    assert f"{first}:6: interaction_id.unique" in message  # Parquet: row 5, after the header
    assert f"{second}:3: interaction_id.unique" in message
    loaded = load_logs([str(first), str(second)], skip_invalid=True)
    assert list(loaded.frame["interaction_id"]) == ["I-9", "I-3", "I-5", "I-1", "I-7", "I-8"]


def test_parquet_logs_are_read_for_the_columns_needed_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custrec.kpi import logs

    table = _log_table(
        ["I-1", "I-2"],
        agent_id=["A-1", "A-2"],
        notes=pa.array([[1], [2]]),  # of a type no check reads
        talk_seconds=[10, None],
    )
    path = tmp_path / "log.parquet"
    pq.write_table(table, path)
    read: list[list[str]] = []
    original = pq.ParquetFile.iter_batches

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "columns" in kwargs:  # (the file's reader opened by custrec.io is not read)
            read.append(list(kwargs["columns"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    loaded = logs.load_logs([str(path)], columns=("case_id", "talk_seconds"))
    assert read == [["interaction_id", "case_id", "channel", "created_at", "talk_seconds"]]
    assert loaded.columns.names == ["case_id", "talk_seconds"]
    assert list(loaded.frame["talk_seconds"].fillna(-1)) == [10.0, -1.0]


def test_parquet_and_csv_logs_load_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from custrec.kpi import logs

    monkeypatch.setattr(logs, "BATCH_ROWS", 5)
    table = _log_table(
        [f"I-{n}" for n in range(12)],
        answered_at=[f"2026-03-02T10:{n % 60:02d}:30+01:00" if n % 3 else None for n in range(12)],
        ended_at=[f"2026-03-02 10:{n:02d}:00" for n in range(12)],
        csat=[n % 5 + 1 if n % 4 else None for n in range(12)],
        resolved=[n % 2 == 0 for n in range(12)],
    )
    pq.write_table(table, tmp_path / "log.parquet")
    pacsv.write_csv(table, tmp_path / "log.csv")
    from_parquet = load_logs([str(tmp_path / "log.parquet")], tz="Europe/London").frame
    from_csv = load_logs([str(tmp_path / "log.csv")], tz="Europe/London").frame
    pd.testing.assert_frame_equal(from_parquet, from_csv)
    # a time without an offset is read in the zone (GMT in March): as written
    assert from_parquet.loc[0, "ended_at"] == pd.Timestamp("2026-03-02T10:00:00Z")


def test_a_reader_error_is_raised_in_the_caller() -> None:
    from custrec.kpi.logs import _ahead

    def batches() -> Any:
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in _ahead(batches()):
            got.append(item)
    assert got == [1, 2]
    stopped = _ahead(iter(range(100)), depth=1)
    assert next(stopped) == 0
    stopped.close()  # the reading thread ends without being drained


# --- the engine against a plain pandas reading of the definitions ---------------------


def _random_log(seed: int, rows: int = 400) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)

    def maybe(values: Any, share: float = 0.2) -> list[Any]:
        return [None if rng.random() < share else v for v in values]

    def later(base: pd.Series, share: float = 0.2, low: int = -60, high: int = 4000) -> Any:
        offsets = pd.to_timedelta(rng.integers(low, high, len(base)), unit="s")
        return (base + offsets).where(rng.random(len(base)) >= share)

    created = T0 + pd.to_timedelta(rng.integers(0, 40, rows) * 900, unit="s")
    created = pd.Series(created).where(rng.random(rows) >= 0.02)
    ids = [f"I-{n:04d}" for n in rng.permutation(rows)]
    return log(
        *(
            {
                "interaction_id": ids[n],
                "case_id": None if rng.random() < 0.01 else f"K-{rng.integers(0, 150)}",
                "customer_id": None if rng.random() < 0.1 else f"C-{rng.integers(0, 40)}",
                "category": str(rng.choice(["billing", "delivery"])),
                "channel": [None, "phone", "chat", "email", "email"][rng.integers(0, 5)],
                "direction": [None, "inbound", "inbound", "outbound"][rng.integers(0, 4)],
                "created_at": created[n],
                "csat": maybe(rng.integers(1, 6, 1))[0],
                "nps": maybe(rng.integers(0, 11, 1))[0],
                "ces": maybe(rng.integers(1, 8, 1))[0],
                "talk_seconds": maybe(rng.integers(0, 900, 1))[0],
                "hold_seconds": maybe(rng.integers(0, 90, 1), 0.5)[0],
                "wrap_seconds": maybe(rng.integers(0, 90, 1), 0.5)[0],
                "resolved": [None, True, False][rng.integers(0, 3)],
                "escalated": [None, True, False, False][rng.integers(0, 4)],
            }
            for n in range(rows)
        )
    ).assign(
        answered_at=lambda f: later(f["created_at"], 0.3, -5, 60),
        first_response_at=lambda f: later(f["created_at"]),
        ended_at=lambda f: later(f["created_at"], 0.1, 0, 30),
        resolved_at=lambda f: later(f["created_at"], 0.5, -100, 90000),
    )


def _reference(frame: pd.DataFrame, options: KpiOptions) -> dict[Any, dict[str, Any]]:
    """The figures of docs/kpi-definitions.md computed with plain pandas, in total (key
    ``"total"``) and per channel (None: no channel)."""
    import numpy as np

    df = frame[frame["created_at"].notna()].copy()
    df["inbound"] = df["direction"].fillna("inbound").eq("inbound")
    first = (
        df[df["case_id"].notna()]
        .sort_values(["created_at", "interaction_id"], kind="stable")
        .groupby("case_id")
        .head(1)
        .set_index("case_id")
    )
    per_case = df[df["case_id"].notna()].groupby("case_id")
    cases = pd.DataFrame(
        {
            "channel": first["channel"],
            "inbound": per_case["inbound"].sum(),
            "resolved": per_case["resolved"].apply(lambda s: bool(s.fillna(False).any())),
            "escalated": per_case["escalated"].apply(lambda s: bool(s.fillna(False).any())),
            "time": (per_case["resolved_at"].max() - first["created_at"]).dt.total_seconds(),
        }
    )

    def seconds(start: pd.Series, end: pd.Series) -> pd.Series:
        values = (end - start).dt.total_seconds()
        return values[values >= 0]

    def summary(values: pd.Series) -> tuple[Any, ...]:
        values = values.dropna().to_numpy()
        if not len(values):
            return (None, None, None, 0)
        return (np.median(values), values.mean(), np.percentile(values, 90), len(values))

    def figures(g: pd.DataFrame, k: pd.DataFrame) -> dict[str, Any]:
        queue = g["inbound"] & g["channel"].isin(["phone", "chat"])
        answered = queue & g["answered_at"].notna()
        abandoned = queue & g["answered_at"].isna()
        waited = (g["ended_at"] - g["created_at"]).dt.total_seconds()
        short = abandoned & (waited < options.short_abandon).fillna(False)
        wait = (g["answered_at"] - g["created_at"]).dt.total_seconds()
        handled = g[g["talk_seconds"].notna()]
        out = {
            "interactions": len(g),
            "cases": len(k),
            "csat": (int((g["csat"] >= 4).sum()), int(g["csat"].notna().sum())),
            "nps": (
                int((g["nps"] >= 9).sum()),
                int((g["nps"] <= 6).sum()),
                int(g["nps"].notna().sum()),
            ),
            "ces": g["ces"].mean() if g["ces"].notna().any() else None,
            "aht": (
                (
                    handled["talk_seconds"]
                    + handled["hold_seconds"].fillna(0)
                    + handled["wrap_seconds"].fillna(0)
                ).sum(),
                len(handled),
            ),
            "fcr": (int((k["resolved"] & (k["inbound"] == 1)).sum()), int(k["resolved"].sum())),
            "escalation_rate": (int(k["escalated"].sum()), len(k)),
            "service_level": (
                int((answered & (wait <= options.sl_threshold).fillna(False)).sum()),
                int(((answered | abandoned) & ~short).sum()),
            ),
            "abandonment_rate": (
                int((abandoned & ~short).sum()),
                int(((answered | abandoned) & ~short).sum()),
            ),
            "frt": summary(seconds(g["created_at"], g["first_response_at"])),
            "asa": summary(seconds(g["created_at"], g["answered_at"])),
            "resolution_time": summary(k.loc[k["resolved"], "time"].where(lambda t: t >= 0)),
        }
        if options.fcr_method == "repeat":
            rows = g[g["inbound"] & g["customer_id"].notna()].sort_values(
                ["created_at"], kind="stable"
            )
            keys = ["customer_id"] + (["category"] if options.fcr_same_category else [])
            all_rows = df[df["inbound"] & df["customer_id"].notna()].sort_values(
                "created_at", kind="stable"
            )
            gap = all_rows.groupby(keys)["created_at"].shift(-1) - all_rows["created_at"]
            repeated = (gap <= options.fcr_window).reindex(rows.index).fillna(False).astype(bool)
            eligible = rows["resolved"].fillna(False).astype(bool)
            out["fcr"] = (int((eligible & ~repeated).sum()), int(eligible.sum()))
        return out

    out: dict[Any, dict[str, Any]] = {"total": figures(df, cases)}
    for channel in df["channel"].drop_duplicates():
        missing = pd.isna(channel)
        mine = df["channel"].isna() if missing else df["channel"].eq(channel)
        theirs = cases["channel"].isna() if missing else cases["channel"].eq(channel)
        out[None if missing else channel] = figures(df[mine], cases[theirs.fillna(False)])
    return out


def _same(ours: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ours["interactions"] == expected["interactions"]
    assert ours["cases"] == expected["cases"]
    assert (ours["csat"]["numerator"], ours["csat"]["denominator"]) == expected["csat"]
    nps_counts = (ours["nps"]["promoters"], ours["nps"]["detractors"], ours["nps"]["responses"])
    assert nps_counts == expected["nps"]
    assert ours["ces"]["value"] == pytest.approx(expected["ces"], rel=1e-12)
    total, handled = expected["aht"]
    assert ours["aht"]["n"] == handled
    assert ours["aht"]["value"] == (pytest.approx(total / handled, rel=1e-12) if handled else None)
    for name in ("fcr", "escalation_rate", "service_level", "abandonment_rate"):
        assert (ours[name]["numerator"], ours[name]["denominator"]) == expected[name], name
    for name in ("frt", "asa", "resolution_time"):
        median, mean, p90, n = expected[name]
        assert ours[name]["n"] == n, name
        for key, value in (("median", median), ("mean", mean), ("p90", p90)):
            assert ours[name][key] == (None if value is None else pytest.approx(value, rel=1e-12))


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("method", ["case", "repeat"])
def test_engine_matches_a_plain_reading_of_the_definitions(seed: int, method: str) -> None:
    frame = _random_log(seed)
    options = KpiOptions(by=("channel",), fcr_method=method, fcr_same_category=seed == 4)
    result = compute_kpis(frame, options)
    expected = _reference(frame, options)
    _same(result.total, expected.pop("total"))
    named = sorted(c for c in expected if c is not None)
    assert [row["channel"] for row in result.rows] == named + [None] * (None in expected)
    for row in result.rows:
        _same(row, expected[row["channel"]])


def test_engine_groups_by_several_keys_and_periods_like_pandas() -> None:
    frame = _random_log(6).assign(team=lambda f: f["direction"].fillna("none").str.upper())
    result = compute_kpis(frame, KpiOptions(by=("channel", "team"), period="hour"))
    contacts = frame[frame["created_at"].notna()]
    hours = contacts["created_at"].dt.floor("h").map(lambda t: t.isoformat())
    counts = (
        contacts.assign(period=hours)
        .groupby(["channel", "team", "period"], dropna=False, sort=True)
        .size()
    )
    got = [(r["channel"], r["team"], r["period"], r["interactions"]) for r in result.rows]
    want = [(None if pd.isna(c) else c, t, p, int(n)) for (c, t, p), n in counts.items()]
    assert got == want


def test_case_table_orders_cases_by_their_first_contact_with_ties_by_id() -> None:
    rows = (
        {"interaction_id": "I-9", "case_id": "K-2", "created_at": T0 + minutes(1)},
        {
            "interaction_id": "I-3",
            "case_id": "K-2",
            "created_at": T0 + minutes(1),
            "channel": "chat",
        },
        {"interaction_id": "I-5", "case_id": "K-1", "created_at": T0 + minutes(2)},
        {"interaction_id": "I-1", "case_id": "K-1", "created_at": T0 + minutes(3)},
    )
    cases = case_table(log(*rows))
    assert [(c["case_id"], c["first_interaction_id"]) for c in cases] == [
        ("K-2", "I-3"),
        ("K-1", "I-5"),
    ]
    result = compute_kpis(log(*rows), KpiOptions(by=("channel",)))
    assert {r["channel"]: r["cases"] for r in result.rows} == {"chat": 1, "email": 1}


def test_group_medians_and_percentiles_are_numpys() -> None:
    import numpy as np

    frame = _random_log(8).assign(agent_id=lambda f: f["interaction_id"].str[-2:])
    result = compute_kpis(frame, KpiOptions(by=("agent_id",)))
    assert len(result.rows) > 10
    created = pd.to_datetime(frame["created_at"], utc=True)
    waits = (pd.to_datetime(frame["first_response_at"], utc=True) - created).dt.total_seconds()
    checked = 0
    for row in result.rows:
        mine = waits[(frame["agent_id"] == row["agent_id"]) & created.notna()].dropna()
        mine = mine[mine >= 0].to_numpy()
        assert row["frt"]["n"] == len(mine)
        if len(mine):
            assert row["frt"]["median"] == pytest.approx(np.median(mine), abs=1e-9)
            assert row["frt"]["p90"] == pytest.approx(np.quantile(mine, 0.9), abs=1e-9)
            assert row["frt"]["mean"] == pytest.approx(mine.mean(), abs=1e-9)
            checked += 1
    assert checked > 10


def test_columns_of_other_types_go_through_schema_gate(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custrec.errors import InputError

    created = [dt.datetime(2026, 3, 2, 9, n) for n in range(4)]
    table = pa.table(
        {
            "interaction_id": pa.array([1, 2, 3, 2], type=pa.int64()),  # not text
            "case_id": ["K-1", "K-1", "K-2", "K-3"],
            "channel": ["phone", "chat", "email", "phone"],
            "created_at": pa.array(created, type=pa.timestamp("s")),  # without a zone
            "csat": pa.array([5, 9, None, 4], type=pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    write(
        tmp_path / "log.csv",
        "interaction_id,case_id,channel,created_at,csat\n"
        + "".join(
            f"{i},{k},{c},{t:%Y-%m-%d %H:%M:%S},{'' if s is None else s}\n"
            for i, k, c, t, s in zip(
                [1, 2, 3, 2], ["K-1", "K-1", "K-2", "K-3"], ["phone", "chat", "email", "phone"],
                created, [5, 9, None, 4], strict=True,
            )
        ),
    )  # fmt: skip
    for name in ("log.parquet", "log.csv"):
        with pytest.raises(InputError) as info:
            load_logs([str(tmp_path / name)])
        assert "2 invalid row(s)" in str(info.value)
        assert "csat.range" in str(info.value)
        assert "interaction_id.unique" in str(info.value)
    from_parquet = load_logs([str(tmp_path / "log.parquet")], skip_invalid=True, tz="Asia/Tokyo")
    from_csv = load_logs([str(tmp_path / "log.csv")], skip_invalid=True, tz="Asia/Tokyo")
    pd.testing.assert_frame_equal(from_parquet.frame, from_csv.frame)
    assert list(from_parquet.frame["interaction_id"]) == ["1", "3"]
    assert from_parquet.frame.loc[0, "created_at"] == pd.Timestamp("2026-03-02T00:00:00Z")


# --- follow-up ------------------------------------------------------------------------


def _follow_up_log() -> pd.DataFrame:
    day = pd.Timedelta(days=1)
    return log(
        {"case_id": "K-1", "resolved": True, "resolved_at": T0 + minutes(30)}
        | {"survey_sent": True, "csat": 5},
        {"case_id": "K-1", "direction": "outbound", "created_at": T0 + minutes(30) + 2 * day},
        {"case_id": "K-2", "resolved": True, "resolved_at": T0 + minutes(10)}
        | {"survey_sent": True},
        {"case_id": "K-2", "direction": "outbound", "created_at": T0 + minutes(10) + 8 * day},
        {"case_id": "K-3", "resolved": True},  # no resolution time: not counted
        {"case_id": "K-4", "direction": "outbound", "created_at": T0 - minutes(30)},
        {"case_id": "K-4", "resolved": True, "resolved_at": T0 + minutes(40)}
        | {"survey_sent": False, "nps": 9},
        {"case_id": "K-5", "created_at": T0 + 20 * day, "survey_sent": True, "ces": 2},
    )


def test_survey_response_rate_counts_answers_to_surveys_sent() -> None:
    rate = total(_follow_up_log())["survey_response_rate"]
    assert (rate["numerator"], rate["denominator"]) == (2, 3)  # the nps without a survey: no
    assert rate["value"] == pytest.approx(200 / 3)
    assert total(log({"csat": 4}))["survey_response_rate"]["value"] is None


def test_follow_up_rate_counts_outbound_contacts_after_resolution_within_the_window() -> None:
    frame = _follow_up_log()
    rate = total(frame)["follow_up_rate"]
    # K-1 followed up after 2 days; K-2 after 8 (outside 7 days); K-4's outbound contact
    # came before its resolution; K-3 has no resolution time.
    assert (rate["numerator"], rate["denominator"]) == (1, 3)
    wider = compute_kpis(frame, KpiOptions(follow_up_window=dt.timedelta(days=9))).total
    assert (wider["follow_up_rate"]["numerator"], wider["follow_up_rate"]["denominator"]) == (2, 3)
    hours = compute_kpis(frame, KpiOptions(follow_up_window=dt.timedelta(hours=47))).total
    assert hours["follow_up_rate"]["numerator"] == 0


def test_report_kpi_takes_a_follow_up_window(cli: InvokeCli, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    log(
        {"resolved": True, "resolved_at": T0 + minutes(5)},
        {"case_id": "K-1", "direction": "outbound", "created_at": T0 + pd.Timedelta(hours=30)},
    ).to_csv(path, index=False)
    for window, followed in (("1d", 0), ("48h", 1)):
        result = cli("report", "kpi", str(path), "--follow-up-window", window, "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["total"]["follow_up_rate"]["numerator"] == followed
    bad = cli("report", "kpi", str(path), "--follow-up-window", "soon")
    assert bad.exit_code == 2
    assert "--follow-up-window 'soon'" in bad.stderr


def test_business_time_of_every_case_is_the_calendars_walk() -> None:
    """The business clock (one calendar joined on the local day) against the schedule
    walked day by day (``BusinessHours.seconds``), across clock changes and holidays."""
    import numpy as np

    rng = np.random.default_rng(3)
    hours = BusinessHours.parse(
        "Mon-Fri 09:00-17:00, Sat 10:00-13:00, Sat 14:00-16:30",
        "Europe/London",
        [dt.date(2024, 3, 29), dt.date(2024, 10, 28)],
    )
    base = pd.Timestamp("2024-03-20T00:00:00Z")
    rows = []
    for _ in range(400):
        start = base + pd.Timedelta(seconds=int(rng.integers(0, 250 * 86400)))
        end = start + pd.Timedelta(seconds=int(rng.integers(-3600, 12 * 86400)))
        rows.append({"created_at": start, "resolved": True, "resolved_at": end})
    options = KpiOptions(tz="Europe/London", business_hours=hours)
    cases = {c["case_id"]: c for c in case_table(log(*rows), options)}
    for number, row in enumerate(rows, start=1):
        expected = hours.seconds(
            row["created_at"].to_pydatetime(), row["resolved_at"].to_pydatetime()
        )
        got = cases[f"K-{number}"]["resolution_seconds"]
        assert got == pytest.approx(expected, abs=1e-6), (row, got, expected)
    assert sum(1 for c in cases.values() if c["resolution_seconds"]) > 300


@pytest.mark.parametrize(
    ("ids", "repeated"),
    [
        (["I-1", "I-2", "I-3"], None),  # increasing
        (["I-3", "I-2", "I-1"], None),
        (["I-1", "I-2", "I-2"], [2]),
        (["I-2", None, "I-1", None, "I-2", "I-1"], [4, 5]),  # missing ids are not compared
        ([], None),
    ],
)
def test_repeated_ids_are_those_an_earlier_row_holds(
    ids: list[str | None], repeated: list[int] | None
) -> None:
    import polars as pl

    from custrec.kpi.logs import _repeated

    chunks = [pl.Series(ids[i : i + 2], dtype=pl.String) for i in range(0, len(ids), 2)]
    found = _repeated(chunks)
    assert (None if found is None else found.tolist()) == repeated


def test_a_json_kpi_report_on_polars_does_not_import_pandas() -> None:
    """pandas is for pandas input only: importing it costs about 0.2 s of a report."""
    import subprocess
    import sys

    log = REPO / "examples" / "interactions.csv"
    code = (
        "import sys\n"
        "from custrec.cli import main\n"
        f"sys.argv = ['custrec', 'report', 'kpi', {str(log)!r}, '--skip-invalid', "
        "'--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"interactions"' in done.stdout
