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

from .conftest import InvokeCli, write

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
