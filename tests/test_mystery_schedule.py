"""Mystery-call scheduling: cron firings, random spread, business hours and DST (no I/O)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from medlytt.plugins.mystery_calls.schedule import (
    BusinessHours,
    ScheduleError,
    check_window,
    next_call_time,
    parse_cron,
    spread_calls,
)

OSLO = ZoneInfo("Europe/Oslo")
OFFICE = {"mon-fri": "08:00-11:30,12:00-16:00", "sat": "10:00-14:00"}
MON = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday in summer time (UTC+2 in Oslo)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_clock(at: datetime, tz: ZoneInfo = OSLO) -> tuple[int, time]:
    local = at.astimezone(tz)
    return local.weekday(), local.time()


def test_fixed_dates_are_the_weekdays_the_tests_assume():
    assert MON.weekday() == 0
    assert datetime(2026, 3, 29).weekday() == datetime(2026, 10, 25).weekday() == 6


# --- parsing -----------------------------------------------------------------------------


def test_parse_days_ranges_lists_and_several_ranges_per_day():
    hours = BusinessHours.parse(
        {"mon-fri": "08:00-11:30,12:00-16:00", "sat,sun": "10:00-14:00", "fri-mon": "20:00-24:00"},
        "Europe/Oslo",
    )
    assert hours.tz == OSLO
    assert (0, time(8), time(11, 30)) in hours.windows
    assert (0, time(12), time(16)) in hours.windows
    assert (6, time(10), time(14)) in hours.windows
    assert {d for d, s, _ in hours.windows if s == time(20)} == {4, 5, 6, 0}  # wraps over Sunday
    assert (2, time(20), time.max) not in hours.windows


@pytest.mark.parametrize("spec", [None, {}])
def test_no_spec_means_always_open(spec):
    hours = BusinessHours.parse(spec)
    assert hours.is_open(utc(2026, 6, 6, 3, 17))  # Saturday night
    assert hours.open_intervals(MON, MON + timedelta(days=10)) == [(MON, MON + timedelta(days=10))]


@pytest.mark.parametrize(
    ("spec", "tz", "message"),
    [
        ({"mun-fri": "08:00-16:00"}, "UTC", "unknown day 'mun'"),
        ({"mon,frii": "08:00-16:00"}, "UTC", "unknown day 'frii'"),
        ({"mon-fri": "8-16"}, "UTC", "bad time '8-16'"),
        ({"mon-fri": "08:00-16:60"}, "UTC", "bad time '08:00-16:60'"),
        ({"mon-fri": "24:00-24:00"}, "UTC", "bad time '24:00-24:00'"),
        ({"mon-fri": "08:00"}, "UTC", "bad time '08:00'"),
        ({"mon-fri": "16:00-08:00"}, "UTC", "end 08:00 is not after start 16:00"),
        ({"mon": "08:00-08:00"}, "UTC", "end 08:00 is not after start 08:00"),
        ({"mon-fri": "08:00-16:00"}, "Europe/Oslp", "tz: unknown time zone 'Europe/Oslp'"),
    ],
)
def test_parse_errors_name_the_field_and_reason(spec, tz, message):
    with pytest.raises(ScheduleError, match=r"^(business_hours|tz)") as info:
        BusinessHours.parse(spec, tz)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_cron_normalises_and_accepts_seconds_field():
    assert parse_cron("  0  9 * *   mon-fri ") == "0 9 * * mon-fri"
    assert parse_cron("0 9 * * * 30") == "0 9 * * * 30"


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "out of range"),
        ("every day", "columns"),
        ("0 0 31 2 *", "it never fires"),
        ("0 9 * * * 0 2030", "expected 5 fields"),
    ],
)
def test_parse_cron_errors_quote_the_expression_and_croniters_reason(expr, reason):
    with pytest.raises(
        ScheduleError, match=re.escape(f"schedule: malformed cron expression '{expr}': ")
    ):
        parse_cron(expr)
    with pytest.raises(ScheduleError, match=reason):
        parse_cron(expr)


# --- business hours ------------------------------------------------------------------------


def test_is_open_uses_local_wall_clock():
    hours = BusinessHours.parse(OFFICE, "Europe/Oslo")
    assert hours.is_open(utc(2026, 6, 1, 6, 0))  # 08:00 Oslo
    assert not hours.is_open(utc(2026, 6, 1, 5, 59))
    assert not hours.is_open(utc(2026, 6, 1, 9, 45))  # lunch 11:45
    assert not hours.is_open(utc(2026, 6, 1, 14, 0))  # 16:00: end is exclusive
    assert hours.is_open(utc(2026, 6, 6, 8, 0))  # Saturday 10:00
    assert not hours.is_open(utc(2026, 6, 7, 10, 0))  # Sunday


def test_open_intervals_clip_and_use_utc():
    hours = BusinessHours.parse(OFFICE, "Europe/Oslo")
    got = hours.open_intervals(utc(2026, 6, 1, 7), utc(2026, 6, 2, 7))
    assert got == [
        (utc(2026, 6, 1, 7), utc(2026, 6, 1, 9, 30)),
        (utc(2026, 6, 1, 10), utc(2026, 6, 1, 14)),
        (utc(2026, 6, 2, 6), utc(2026, 6, 2, 7)),
    ]
    assert all(lo.tzinfo is UTC and hi.tzinfo is UTC for lo, hi in got)
    assert hours.open_intervals(utc(2026, 6, 7), utc(2026, 6, 7, 23)) == []  # Sunday


def test_open_intervals_across_dst_changes():
    always = BusinessHours.parse(None, "Europe/Oslo")
    hours = BusinessHours.parse({"sun": "00:00-24:00"}, "Europe/Oslo")
    spring = hours.open_intervals(utc(2026, 3, 28), utc(2026, 3, 31))
    autumn = hours.open_intervals(utc(2026, 10, 24), utc(2026, 10, 27))
    assert spring == [(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))]  # a 23-hour Sunday
    assert autumn == [(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))]  # a 25-hour Sunday
    assert always.open_intervals(utc(2026, 3, 1), utc(2026, 11, 1)) == [
        (utc(2026, 3, 1), utc(2026, 11, 1))
    ]
    night = BusinessHours.parse({"sun": "02:30-03:00"}, "Europe/Oslo")
    # Spring: 02:30 never happens. Autumn: it happens twice, once in each offset.
    assert night.open_intervals(utc(2026, 3, 28), utc(2026, 3, 30)) == []
    assert night.open_intervals(utc(2026, 10, 24), utc(2026, 10, 26)) == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1)),
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2)),
    ]


def test_naive_datetimes_are_rejected():
    hours = BusinessHours.parse(OFFICE)
    with pytest.raises(ScheduleError, match="at must include a time zone offset"):
        hours.is_open(datetime(2026, 6, 1, 9))
    with pytest.raises(ScheduleError, match="after must include a time zone offset"):
        next_call_time(
            "0 9 * * *", datetime(2026, 6, 1), spread_seconds=60, hours=hours, rng=random.Random(1)
        )


# --- next_call_time ------------------------------------------------------------------------


def test_next_call_time_is_inside_the_span_and_business_hours_for_many_seeds():
    hours = BusinessHours.parse(OFFICE, "Europe/Oslo")
    # Fires 11:00 Oslo on weekdays; 2 h of spread crosses the 11:30-12:00 lunch break.
    after = utc(2026, 6, 1, 10)  # Monday 12:00 Oslo: the next firing is Tuesday 11:00
    fire = utc(2026, 6, 2, 9)
    seen = set()
    for seed in range(500):
        got = next_call_time(
            "0 11 * * mon-fri", after, spread_seconds=7200, hours=hours, rng=random.Random(seed)
        )
        assert got is not None and got.tzinfo is UTC
        assert fire <= got < fire + timedelta(hours=2)
        assert hours.is_open(got)
        day, clock = local_clock(got)
        assert day == 1 and (time(11) <= clock < time(11, 30) or time(12) <= clock < time(13))
        seen.add(got)
    assert len(seen) > 450  # really random, not one fixed moment
    share_before_lunch = sum(1 for t in seen if local_clock(t)[1] < time(11, 30)) / len(seen)
    assert 0.25 < share_before_lunch < 0.42  # 30 of 90 open minutes, not half of the picks


def test_next_call_time_is_reproducible_with_the_same_seed():
    hours = BusinessHours.parse(OFFICE, "Europe/Oslo")
    args = ("0 9 * * *", MON)
    first = next_call_time(*args, spread_seconds=3600, hours=hours, rng=random.Random(7))
    second = next_call_time(*args, spread_seconds=3600, hours=hours, rng=random.Random(7))
    assert first == second


def test_next_call_time_is_strictly_after_and_zero_spread_is_the_firing():
    hours = BusinessHours.parse(None)
    rng = random.Random(1)
    fire = utc(2026, 6, 1, 9)
    assert next_call_time("0 9 * * *", fire, spread_seconds=0, hours=hours, rng=rng) == fire + (
        timedelta(days=1)
    )
    just_before = fire - timedelta(microseconds=1)
    assert next_call_time("0 9 * * *", just_before, spread_seconds=0, hours=hours, rng=rng) == fire
    with pytest.raises(ScheduleError, match="spread_seconds"):
        next_call_time("0 9 * * *", fire, spread_seconds=-1, hours=hours, rng=rng)


def test_weekend_firing_is_skipped_with_weekday_hours():
    hours = BusinessHours.parse({"mon-fri": "08:00-16:00"}, "Europe/Oslo")
    friday_evening = utc(2026, 6, 5, 15)
    for seed in range(50):
        got = next_call_time(
            "0 10 * * *",
            friday_evening,
            spread_seconds=1800,
            hours=hours,
            rng=random.Random(seed),
        )
        assert got is not None
        assert utc(2026, 6, 8, 8) <= got < utc(2026, 6, 8, 8, 30)  # Monday 10:00-10:30 Oslo


def test_firing_before_opening_counts_only_if_its_spread_reaches_the_opening():
    hours = BusinessHours.parse({"mon-fri": "08:00-16:00"}, "Europe/Oslo")
    rng = random.Random(3)
    # 07:30 Oslo + 1 h spread: only the 08:00-08:30 part is open.
    got = next_call_time("30 7 * * *", MON, spread_seconds=3600, hours=hours, rng=rng)
    assert got is not None and utc(2026, 6, 1, 6) <= got < utc(2026, 6, 1, 6, 30)
    # Every second all weekend long: the search jumps instead of stepping through 2 days.
    sat = utc(2026, 6, 6, 12)
    got = next_call_time("* * * * * *", sat, spread_seconds=0, hours=hours, rng=rng)
    assert got == utc(2026, 6, 8, 6)  # Monday 08:00 Oslo


def test_next_call_time_respects_not_after_and_the_search_limit():
    hours = BusinessHours.parse({"mon-fri": "08:00-16:00"}, "Europe/Oslo")
    rng = random.Random(5)
    friday = utc(2026, 6, 5, 15)
    monday_early = utc(2026, 6, 8, 7)
    kwargs = {"spread_seconds": 3600, "hours": hours, "rng": rng}
    assert next_call_time("0 10 * * *", friday, not_after=monday_early, **kwargs) is None
    for _ in range(100):  # the span is cut at not_after, so the call never lands after it
        got = next_call_time(
            "0 9 * * *", utc(2026, 6, 1, 12), not_after=utc(2026, 6, 2, 7, 15), **kwargs
        )
        assert got is not None and utc(2026, 6, 2, 7) <= got < utc(2026, 6, 2, 7, 15)
    assert next_call_time("0 3 * * *", MON, **kwargs) is None  # never open: gives up


@pytest.mark.parametrize(
    "fire",
    [
        utc(2026, 3, 28, 8),  # Saturday 09:00 CET, the day before summer time
        utc(2026, 3, 29, 7),  # Sunday 09:00 CEST, the day summer time starts
        utc(2026, 10, 24, 7),  # Saturday 09:00 CEST
        utc(2026, 10, 25, 8),  # Sunday 09:00 CET, the day summer time ends
    ],
)
def test_next_call_time_keeps_oslo_wall_clock_across_dst(fire):
    hours = BusinessHours.parse({"mon-sun": "08:00-16:00"}, "Europe/Oslo")
    after = fire - timedelta(hours=12)
    for seed in range(100):
        got = next_call_time(
            "0 9 * * *", after, spread_seconds=5400, hours=hours, rng=random.Random(seed)
        )
        assert got is not None and fire <= got < fire + timedelta(minutes=90)
        assert time(9) <= got.astimezone(OSLO).time() < time(10, 30)


def test_spring_forward_night_firing_lands_after_the_gap():
    hours = BusinessHours.parse(None, "Europe/Oslo")
    got = next_call_time(
        "30 2 * * *", utc(2026, 3, 28, 12), spread_seconds=0, hours=hours, rng=random.Random(1)
    )
    assert got == utc(2026, 3, 29, 1)  # 02:30 does not exist that night: croniter uses 03:00


# --- spread_calls --------------------------------------------------------------------------


def test_spread_calls_are_sorted_aware_and_inside_the_windows():
    hours = BusinessHours.parse(OFFICE, "Europe/Oslo")
    start, end = utc(2026, 6, 3, 12), utc(2026, 6, 17, 12)  # "the two weeks after training"
    for seed in range(200):
        calls = spread_calls(3, start, end, hours=hours, rng=random.Random(seed))
        assert len(calls) == 3 and calls == sorted(calls)
        assert all(c.tzinfo is UTC and start <= c < end and hours.is_open(c) for c in calls)


def test_spread_calls_spreads_evenly_over_two_open_days():
    hours = BusinessHours.parse({"mon,tue": "08:00-16:00"}, "Europe/Oslo")
    calls = spread_calls(2000, MON, MON + timedelta(days=7), hours=hours, rng=random.Random(11))
    monday = sum(1 for c in calls if local_clock(c)[0] == 0)
    tuesday = sum(1 for c in calls if local_clock(c)[0] == 1)
    assert monday + tuesday == 2000
    assert 800 <= monday <= 1200 and 800 <= tuesday <= 1200


@pytest.mark.parametrize(
    ("count", "start", "end", "message"),
    [
        (0, MON, MON + timedelta(days=1), "count must be at least 1"),
        (1, MON, MON, "end must be after start"),
        (1, utc(2026, 6, 6), utc(2026, 6, 8), "business_hours: no open time"),
    ],
)
def test_spread_calls_errors(count, start, end, message):
    hours = BusinessHours.parse({"mon-fri": "08:00-16:00"})
    with pytest.raises(ScheduleError, match=message):
        spread_calls(count, start, end, hours=hours, rng=random.Random(1))


# --- check_window --------------------------------------------------------------------------


def test_check_window_accepts_open_ended_and_already_started_campaigns():
    now = utc(2026, 6, 1, 12)
    check_window(None, None, now)
    check_window(now - timedelta(days=3), now + timedelta(days=3), now)
    check_window(None, now + timedelta(minutes=1), now)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "message"),
    [
        (None, utc(2026, 5, 1), "ends_at 2026-05-01T00:00:00+00:00 is in the past"),
        (utc(2026, 7, 1), utc(2026, 6, 15), "ends_at must be after starts_at"),
        (utc(2026, 7, 1), utc(2026, 7, 1), "ends_at must be after starts_at"),
        (datetime(2026, 7, 1), None, "starts_at must include a time zone offset"),
        (None, datetime(2026, 7, 1), "ends_at must include a time zone offset"),
    ],
)
def test_check_window_errors_name_the_field(starts_at, ends_at, message):
    with pytest.raises(ScheduleError) as info:
        check_window(starts_at, ends_at, utc(2026, 6, 1, 12))
    assert str(info.value) == message
