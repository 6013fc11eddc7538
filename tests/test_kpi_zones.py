"""Times written without an offset, read in a zone (custrec.kpi.zones): the rule
every engine runs, checked against pandas' tz_localize and the standard library's
zoneinfo, which nobody here wrote."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import narwhals as nw
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.kpi.zones import instants_of_readings, transitions

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1)
HOURLY = ["Europe/London", "America/New_York", "America/Sao_Paulo", "Africa/Casablanca"]
ALL = [*HOURLY, "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"]
"""Lord Howe moves its clocks by 30 minutes and Chatham keeps a 45-minute offset:
pandas' shift_forward moves their skipped readings by a whole hour (to 03:00 for a
gap 02:00-02:30), so they are checked against zoneinfo only."""


def read(readings: list[int], tz: str) -> list[int | None]:
    frame = nw.from_native(pl.DataFrame({"w": readings}, schema={"w": pl.Int64}))
    expression = instants_of_readings(nw.col("w"), tz, min(readings), max(readings))
    return nw.to_native(frame.select(expression.alias("u"))).get_column("u").to_list()


def micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


readings = st.lists(
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)), min_size=1, max_size=60
)


@pytest.mark.parametrize("tz", HOURLY)
@settings(max_examples=30, deadline=None)
@given(walls=readings, near=st.lists(st.integers(0, 2 * 86_400 - 1), max_size=40))
def test_readings_are_read_as_pandas_reads_them(
    tz: str, walls: list[dt.datetime], near: list[int]
) -> None:
    """pandas' tz_localize(ambiguous='NaT', nonexistent='shift_forward'), on random
    readings and on readings every few seconds around each 2024 clock change."""
    changes = transitions(ZoneInfo(tz), micros(dt.datetime(2024, 1, 1)) // 10**6, 1_735_689_600)
    around = [
        dt.datetime(1970, 1, 1) + dt.timedelta(seconds=c.at + c.before - 86_400 + s)
        for c in changes[1]
        for s in [*near, *range(0, 2 * 86_400, 433)]  # and a grid every 7 min 13 s
    ]
    given_ = [micros(w) for w in walls + around]
    wall = pd.Series(pd.to_datetime(given_, unit="us"))
    expected = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    wanted = [
        None if pd.isna(v) else micros(v.tz_convert("UTC").tz_localize(None).to_pydatetime())
        for v in expected
    ]
    assert read(given_, tz) == wanted


@pytest.mark.parametrize("tz", ALL)
@settings(max_examples=25, deadline=None)
@given(walls=readings)
def test_readings_follow_zoneinfo_in_every_zone(tz: str, walls: list[dt.datetime]) -> None:
    """A reading that happened once is that instant; one that happened twice
    (zoneinfo's fold 0 and 1 differ, both real) is missing; one that never happened
    is the first instant after the clocks moved past it."""
    zone = ZoneInfo(tz)
    given_ = [micros(w) for w in walls]
    for wall, found in zip(walls, read(given_, tz), strict=True):
        early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)

        def real(moment: dt.datetime, wall: dt.datetime = wall) -> bool:
            return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall

        if real(early) and real(late) and early.utcoffset() != late.utcoffset():
            assert found is None, wall
        elif real(early) or real(late):
            instant = early if real(early) else late
            assert found == micros(instant.astimezone(UTC).replace(tzinfo=None)), wall
        else:  # skipped: the clocks jumped from before the reading to after it
            assert found is not None, wall
            after = (EPOCH + dt.timedelta(microseconds=found)).replace(tzinfo=UTC)
            second = dt.timedelta(seconds=1)
            assert (after - second).astimezone(zone).replace(tzinfo=None) < wall, wall
            assert after.astimezone(zone).replace(tzinfo=None) > wall, wall
            assert (after - second).utcoffset() == after.utcoffset()  # both UTC
            assert (after - second).astimezone(zone).utcoffset() != after.astimezone(
                zone
            ).utcoffset()


def test_the_2024_changes_by_hand() -> None:
    """London: 01:30 on 31 March was skipped (01:00 UTC, the end of the gap); 01:30
    on 27 October happened twice (missing); 12:00 on 1 July is 11:00 UTC."""
    given_ = [
        micros(dt.datetime(2024, 3, 31, 1, 30)),
        micros(dt.datetime(2024, 10, 27, 1, 30)),
        micros(dt.datetime(2024, 7, 1, 12)),
        micros(dt.datetime(2024, 10, 27, 2, 0)),
    ]
    assert read(given_, "Europe/London") == [
        micros(dt.datetime(2024, 3, 31, 1)),
        None,
        micros(dt.datetime(2024, 7, 1, 11)),
        micros(dt.datetime(2024, 10, 27, 2)),
    ]
    # Lord Howe skips 02:00-02:30 (+10:30 to +11:00): 02:10 is 15:30 UTC the day before.
    assert read([micros(dt.datetime(2024, 10, 6, 2, 10))], "Australia/Lord_Howe") == [
        micros(dt.datetime(2024, 10, 5, 15, 30))
    ]


def test_readings_far_outside_the_scanned_years_take_the_nearest_offset() -> None:
    """Years 1 and 9999 cost 300 years of offsets at most and read with the offsets
    of 1850 and 2150 (New York: its local mean time, -04:56:02; then EST in January)."""
    first, last = micros(dt.datetime(1, 1, 1)), micros(dt.datetime(9999, 1, 1))
    lmt, est = (4 * 3600 + 56 * 60 + 2) * 10**6, 5 * 3600 * 10**6
    assert read([first, last], "America/New_York") == [first + lmt, last + est]


def test_the_expression_stays_shallow_over_a_century(monkeypatch: pytest.MonkeyPatch) -> None:
    """A century of transitions (about 200) is a tree of depth about 9, not a chain
    of 400: Spark Connect refuses plans deeper than 100 messages."""
    from custrec.kpi import zones

    depth, deepest = [0], [0]
    tree = zones._tree

    def counted(*args: object) -> object:
        depth[0] += 1
        deepest[0] = max(deepest[0], depth[0])
        try:
            return tree(*args)  # type: ignore[arg-type]
        finally:
            depth[0] -= 1

    monkeypatch.setattr(zones, "_tree", counted)
    first, last = micros(dt.datetime(1950, 1, 1)), micros(dt.datetime(2050, 1, 1))
    zones.instants_of_readings(nw.col("w"), "Europe/London", first, last)
    changes = len(transitions(ZoneInfo("Europe/London"), first // 10**6, last // 10**6)[1])
    assert changes > 190
    assert deepest[0] <= 10
