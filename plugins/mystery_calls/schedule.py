"""When to place mystery calls: cron firings, random spread and business hours (no I/O).

A mystery call must reach the contact center while it is open and must not be predictable
for agents, so a cron firing only opens a span ``[fire, fire + spread)`` and the call lands at
a uniformly random moment of the open time inside it.  Randomness comes from the caller's
``random.Random`` so schedules are reproducible in tests.  Every returned moment is an aware
UTC datetime; wall-clock rules (cron, opening hours) are evaluated in the configured zone.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead next_call_time looks before giving up (a cron for 29 Feb still fits).
SEARCH_LIMIT = timedelta(days=400)
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


#: The longest campaign window: planning its calls is bounded work (a year of cron
#: moments), and a campaign nobody renews ends.
MAX_CAMPAIGN = timedelta(days=366)
#: The most opening ranges one weekday may have.  Real opening hours have one to three
#: (morning, afternoon, an evening shift); more only multiplies the planning work, which
#: grows with ranges x days (a 2,760-range body once held the event loop for 7.7 s).
MAX_RANGES_PER_DAY = 6
#: The most entries of ``business_hours``: one per weekday is the finest split there is.
MAX_ENTRIES = len(DAYS)
#: The longest text of one entry's days (``"mon,tue,wed,thu,fri,sat,sun"`` is 27) and
#: ranges (6 ranges of ``HH:MM-HH:MM`` with commas and spaces fit): longer text is refused
#: before it is split, so its size costs nothing.
MAX_DAYS_TEXT = 40
MAX_RANGES_TEXT = MAX_RANGES_PER_DAY * 14


class ScheduleError(ValueError):
    """A schedule that cannot be used.

    The message names the field and the reason: it is shown to users as a 422.
    """


def _aware(name: str, value: datetime) -> datetime:
    """Reject naive datetimes: guessing their zone would move calls by hours."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{name} must include a time zone offset")
    return value.astimezone(UTC)


def _days(field: str, text: str) -> list[int]:
    """Weekdays of ``mon-fri`` / ``mon,wed`` / ``fri-mon`` (ranges may wrap over Sunday)."""
    days: list[int] = []
    for part in text.lower().split(","):
        ends = [p.strip() for p in part.split("-")]
        for day in ends:
            if day not in DAYS or len(ends) > 2:
                bad = day if day not in DAYS else part.strip()
                raise ScheduleError(f"{field}: unknown day '{bad}' (use {', '.join(DAYS)})")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return days


def _clock(text: str, *, end: bool) -> time | None:
    """``HH:MM``, or None; ``24:00`` (end only) becomes ``time.max``, read as midnight after."""
    m = _TIME.fullmatch(text.strip())
    hour, minute = (int(m[1]), int(m[2])) if m else (-1, -1)
    if end and (hour, minute) == (24, 0):
        return time.max
    return time(hour, minute) if 0 <= hour < 24 and 0 <= minute < 60 else None


def _ranges(field_: str, text: str) -> list[tuple[time, time]]:
    """The ranges of one entry, ``"08:00-11:30,12:00-16:00"``: valid, in order, few."""
    if len(text) > MAX_RANGES_TEXT or text.count(",") >= MAX_RANGES_PER_DAY:
        raise ScheduleError(
            f"{field_}: at most {MAX_RANGES_PER_DAY} ranges a day "
            f"(and {MAX_RANGES_TEXT} characters), got {text.count(',') + 1} "
            f"in {len(text)} characters"
        )
    spans: list[tuple[time, time]] = []
    for span in text.split(","):
        start_text, _, end_text = span.partition("-")
        start, end = _clock(start_text, end=False), _clock(end_text, end=True)
        if start is None or end is None:
            hint = "expected HH:MM-HH:MM, e.g. 08:00-16:00"
            raise ScheduleError(f"{field_}: bad time '{span.strip()}' ({hint})")
        if end <= start:
            raise ScheduleError(
                f"{field_}: end {end_text.strip()} is not after start {start_text.strip()}"
            )
        if spans and start < spans[-1][1]:
            raise ScheduleError(
                f"{field_}: '{span.strip()}' starts before the range before it ends; "
                "give ranges in order without overlap, e.g. 08:00-11:30,12:00-16:00"
            )
        spans.append((start, end))
    return spans


def _check_day(day: str, spans: list[tuple[time, time]]) -> None:
    """One weekday's ranges from every entry naming it: few, and none overlapping."""
    if len(spans) > MAX_RANGES_PER_DAY:
        raise ScheduleError(
            f"business_hours: {day} has {len(spans)} ranges, at most {MAX_RANGES_PER_DAY}"
        )
    ordered = sorted(spans)
    for (_, end), (start, next_end) in itertools.pairwise(ordered):
        if start < end:
            raise ScheduleError(
                f"business_hours: two ranges of {day} overlap "
                f"({_text(start)}-{_text(next_end)} starts before {_text(end)})"
            )


def _text(at: time) -> str:
    return "24:00" if at == time.max else at.strftime("%H:%M")


def _since_midnight(at: time) -> timedelta:
    """Wall-clock distance from local midnight; ``time.max`` stands for 24:00."""
    return timedelta(days=1) if at == time.max else timedelta(hours=at.hour, minutes=at.minute)


def _offset_pieces(
    start: datetime, end: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime, timedelta]]:
    """Split ``[start, end)`` (UTC) where the UTC offset of ``tz`` changes.

    Within a piece wall time is UTC plus a constant offset, which makes DST exact: a skipped
    hour has no instants and a repeated hour has two.  At most one change per day is assumed
    (true of every real zone); it is found to the second by bisection.
    """
    pieces = []
    while start < end:
        offset = start.astimezone(tz).utcoffset() or timedelta()
        stop = min(end, start + timedelta(days=1))
        if stop.astimezone(tz).utcoffset() != offset:
            lo, hi = int(start.timestamp()), math.ceil(stop.timestamp())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, tz).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            stop = datetime.fromtimestamp(hi, UTC)
        pieces.append((start, stop, offset))
        start = stop
    return pieces


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening windows in a time zone: when mystery calls may be placed.

    Windows are wall-clock times, so 08:00 stays 08:00 local when summer time starts; an end
    of ``time.max`` means 24:00 (``time`` cannot hold it).
    """

    tz: ZoneInfo
    windows: tuple[tuple[int, time, time], ...]  # (weekday 0=Mon..6=Sun, start, end), start < end

    #: The windows of each weekday (0=Mon..6=Sun) as sorted ``(start, end)`` pairs, so a
    #: day's lookup costs its own few ranges, not every range of the week.
    by_day: tuple[tuple[tuple[time, time], ...], ...] = field(init=False, repr=False)
    #: The same as distances from local midnight, computed once (not per day planned).
    offsets: tuple[tuple[tuple[timedelta, timedelta], ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for weekday, start, end in self.windows:
            days[weekday].append((start, end))
        by_day = tuple(tuple(sorted(d)) for d in days)
        object.__setattr__(self, "by_day", by_day)
        offsets = tuple(
            tuple((_since_midnight(start), _since_midnight(end)) for start, end in day)
            for day in by_day
        )
        object.__setattr__(self, "offsets", offsets)

    @classmethod
    def parse(cls, spec: dict[str, str] | None, tz: str = "UTC") -> BusinessHours:
        """Read ``{"mon-fri": "08:00-11:30,12:00-16:00"}``; None or {} means always open.

        Bounded before any work: at most :data:`MAX_ENTRIES` entries and
        :data:`MAX_RANGES_PER_DAY` ranges a weekday; the ranges of an entry are given in
        order, and no two ranges of one weekday overlap (touching is fine).
        """
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ScheduleError(f"tz: unknown time zone '{tz}'") from None
        spec = spec or {day: "00:00-24:00" for day in DAYS}
        if len(spec) > MAX_ENTRIES:
            raise ScheduleError(
                f"business_hours: at most {MAX_ENTRIES} entries (one per weekday), got {len(spec)}"
            )
        per_day: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for days, ranges in spec.items():
            field_ = f"business_hours['{str(days)[:MAX_DAYS_TEXT]}']"
            if not isinstance(days, str) or not isinstance(ranges, str):
                raise ScheduleError(f"{field_}: days and hours must be text")
            if len(days) > MAX_DAYS_TEXT:
                raise ScheduleError(f"{field_}...: days longer than {MAX_DAYS_TEXT} characters")
            spans = _ranges(field_, ranges)
            for day in set(_days(field_, days)):
                per_day[day].extend(spans)
        for day, spans in enumerate(per_day):
            _check_day(DAYS[day], spans)
        windows = {(day, start, end) for day, spans in enumerate(per_day) for start, end in spans}
        return cls(zone, tuple(sorted(windows)))

    def is_open(self, at: datetime) -> bool:
        """Whether the wall clock at ``at`` falls in a window (24:00 ends include midnight)."""
        local = _aware("at", at).astimezone(self.tz)
        clock = local.time()
        return any(
            start <= clock and (clock < end or end == time.max)
            for start, end in self.by_day[local.weekday()]
        )

    def open_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open parts of ``[start, end)`` as sorted, merged UTC intervals, exact across DST."""
        start, end = _aware("start", start), _aware("end", end)
        out: list[tuple[datetime, datetime]] = []
        for lo, hi, offset in _offset_pieces(start, end, self.tz):
            day = (lo + offset).date()
            while day <= (hi + offset).date():
                midnight = datetime.combine(day, time(), UTC) - offset  # local midnight, as UTC
                for w_start, w_end in self.offsets[day.weekday()]:
                    w_lo = max(lo, midnight + w_start)
                    w_hi = min(hi, midnight + w_end)
                    if w_lo < w_hi:
                        out.append((w_lo, w_hi))
                day += timedelta(days=1)
        merged: list[tuple[datetime, datetime]] = []
        for lo, hi in sorted(out):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged


def parse_cron(expr: str) -> str:
    """Validate a 5-field (or 6-field, seconds last) cron expression; return it normalised.

    Expressions that parse but can never fire (``0 0 31 2 *``) are rejected too, since a
    campaign with such a schedule would silently place no calls.
    """
    norm = " ".join(str(expr).split())
    try:
        croniter(norm, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        reason = "it never fires"
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        reason = str(exc)
    else:
        fields = len(norm.split())
        if norm.startswith("@") or fields in (5, 6):
            return norm
        reason = f"expected 5 fields (minute hour day month weekday) or 6, got {fields}"
    raise ScheduleError(f"schedule: malformed cron expression '{expr}': {reason}")


class _Picker:
    """Uniformly random instants of a union of intervals, exact to the microsecond.

    The running totals of the interval lengths are summed once, so each pick is a binary
    search: a thousand calls over a year of opening hours cost a thousand searches, not a
    thousand walks over every interval.
    """

    def __init__(self, intervals: list[tuple[datetime, datetime]]) -> None:
        self.starts = [lo for lo, _ in intervals]
        lengths = ((hi - lo) // timedelta(microseconds=1) for lo, hi in intervals)
        self.ends = list(itertools.accumulate(lengths))  # microseconds before each end

    def pick(self, rng: random.Random) -> datetime:
        k = rng.randrange(self.ends[-1])
        index = bisect.bisect_right(self.ends, k)
        before = self.ends[index - 1] if index else 0
        return self.starts[index] + timedelta(microseconds=k - before)


def _pick(intervals: list[tuple[datetime, datetime]], rng: random.Random) -> datetime:
    """A uniformly random instant of the intervals' union, exact to the microsecond."""
    return _Picker(intervals).pick(rng)


def next_call_time(
    cron: str,
    after: datetime,
    *,
    spread_seconds: float,
    hours: BusinessHours,
    rng: random.Random,
    not_after: datetime | None = None,
) -> datetime | None:
    """The next call moment: a random open instant of ``[fire, fire + spread)``, UTC.

    ``fire`` is the next cron firing strictly after ``after`` (evaluated in ``hours.tz``);
    firings whose span holds no open time are skipped.  Returns None when no call fits
    before ``not_after`` (the campaign end) or within :data:`SEARCH_LIMIT`.
    """
    cron = parse_cron(cron)
    after = _aware("after", after)
    limit = after + SEARCH_LIMIT
    if not_after is not None:
        limit = min(limit, _aware("not_after", not_after))
    if not math.isfinite(spread_seconds) or spread_seconds < 0:
        raise ScheduleError(f"spread_seconds must be a number >= 0, not {spread_seconds}")
    spread = timedelta(seconds=spread_seconds)
    it = croniter(cron, after.astimezone(hours.tz))
    while True:
        try:
            fire = it.get_next(datetime).astimezone(UTC)
        except CroniterBadDateError:
            return None
        if fire >= limit:
            return None
        if not spread and hours.is_open(fire):
            return fire
        span = hours.open_intervals(fire, min(fire + spread, limit))  # [] when spread is 0
        if span:
            return _pick(span, rng)
        # Skip ahead: only a firing whose span reaches the next opening can help, so do not
        # walk an every-second cron through a closed weekend (hours repeat weekly).
        ahead = hours.open_intervals(fire, fire + timedelta(days=8))
        resume = ahead[0][0] - max(spread, timedelta(microseconds=1)) if ahead else fire
        if resume > fire:
            it = croniter(cron, resume.astimezone(hours.tz))


def spread_calls(
    count: int, start: datetime, end: datetime, *, hours: BusinessHours, rng: random.Random
) -> list[datetime]:
    """``count`` moments uniformly at random over the open time of ``[start, end)``, sorted."""
    if count < 1:
        raise ScheduleError(f"count must be at least 1, not {count}")
    start, end = _aware("start", start), _aware("end", end)
    if end <= start:
        raise ScheduleError("end must be after start")
    intervals = hours.open_intervals(start, end)
    if not intervals:
        raise ScheduleError(
            f"business_hours: no open time between {start.isoformat()} and {end.isoformat()}"
        )
    picker = _Picker(intervals)
    return sorted(picker.pick(rng) for _ in range(count))


def check_window(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> None:
    """Reject campaign windows that could never place a call (a start in the past is fine)."""
    start = None if starts_at is None else _aware("starts_at", starts_at)
    end = None if ends_at is None else _aware("ends_at", ends_at)
    now = _aware("now", now)
    if end is None or ends_at is None:  # None together; the message names ``ends_at`` as given
        return
    if start is not None and end <= start:
        raise ScheduleError("ends_at must be after starts_at")
    if end <= now:
        raise ScheduleError(f"ends_at {ends_at.isoformat()} is in the past")
    if end - now > MAX_CAMPAIGN:
        raise ScheduleError(
            f"ends_at {ends_at.isoformat()} is more than {MAX_CAMPAIGN.days} days ahead; "
            "plan a campaign for at most a year and renew it"
        )
    if start is not None and start - now > MAX_CAMPAIGN:
        raise ScheduleError(f"starts_at is more than {MAX_CAMPAIGN.days} days ahead")
