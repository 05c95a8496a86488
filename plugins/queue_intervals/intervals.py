"""Interval arithmetic in a configured time zone (pure functions, no I/O).

An interval is identified by its start as an aware datetime in the configured zone; its
ISO text (``2026-06-02T00:45:00+02:00``) is the storage key.  Intervals are floored in
local time, so with 15 minutes every local hour has :00, :15, :30 and :45; a day has 96
of them, 92 or 100 on the days daylight saving time starts or ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def interval_start(at: datetime, zone: ZoneInfo, minutes: int) -> datetime:
    """The start of the interval that contains ``at``, in ``zone``."""
    local = at.astimezone(zone)
    return local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)


def interval_end(start: datetime, zone: ZoneInfo, minutes: int) -> datetime:
    """The end of the interval starting at ``start`` (the next interval's start)."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(zone)


def day_bounds_utc(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight at the start and at the end of ``day``."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def day_intervals(day: date, zone: ZoneInfo, minutes: int) -> list[datetime]:
    """Every interval start of the local ``day``, in time order (DST days included)."""
    start, end = day_bounds_utc(day, zone)
    # Keyed by ISO text: aware datetimes in one zone compare equal across a DST fold.
    seen: dict[str, datetime] = {}
    t = start - timedelta(hours=3)
    # Walking in 5-minute UTC steps finds every local interval even across odd DST shifts.
    while t < end + timedelta(hours=3):
        s = interval_start(t, zone, minutes)
        if s.date() == day:
            seen.setdefault(s.isoformat(), s)
        t += timedelta(minutes=5)
    return sorted(seen.values(), key=lambda s: s.astimezone(UTC))
