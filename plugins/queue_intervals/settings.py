"""``[queue_intervals]``: interval length, time zone and how often counts are written."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec
from medlytt import PositiveFloat, time_zone

#: Interval lengths that divide an hour, so every hour starts an interval.
ALLOWED_MINUTES = (5, 10, 15, 20, 30, 60)


class QueueIntervalsSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[queue_intervals]``: how traffic is bucketed and when it is written to storage."""

    #: Length of an interval; must divide an hour: 5, 10, 15, 20, 30 or 60.
    interval_minutes: int = 15
    #: IANA time zone name (``Europe/Oslo``) in which intervals and days start.
    timezone: str = "UTC"
    #: How often counted traffic is added to the ``queue_intervals`` table (and once more
    #: on a clean stop).
    flush_seconds: PositiveFloat = 5.0

    def __post_init__(self) -> None:
        if self.interval_minutes not in ALLOWED_MINUTES:
            allowed = ", ".join(str(m) for m in ALLOWED_MINUTES)
            raise ValueError(
                f"interval_minutes must divide an hour (one of {allowed}), "
                f"got {self.interval_minutes!r}"
            )
        time_zone(self.timezone, "timezone")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
