"""Queue intervals: traffic per queue per 15-minute (configurable) interval, for staffing.

Events are counted in memory per (queue, interval); a background task adds the counts to
the ``queue_intervals`` table every ``flush_seconds`` and once more on a clean stop.
``GET /api/queues/{queue}/intervals?date=YYYY-MM-DD`` returns every interval of a day.
See ``docs/queue-intervals.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import Migration, allow, hookimpl, json_error, json_response, medlytt_of, utcnow
from medlytt import events as ev

from . import store
from .aggregator import Counts, IntervalAggregator, Key
from .intervals import day_bounds_utc, day_intervals, interval_end, interval_start
from .settings import QueueIntervalsSettings

if TYPE_CHECKING:
    from medlytt import LiveState, Medlytt

log = logging.getLogger(__name__)

PLUGIN = "queue_intervals"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class QueueIntervals:
    """One application's aggregator and the task that writes its counts."""

    def __init__(self, app: Medlytt, settings: QueueIntervalsSettings) -> None:
        self.app = app
        self.settings = settings
        self.aggregator = IntervalAggregator(settings)
        self._writes: set[asyncio.Future[None]] = set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="queue_intervals flush")

    async def stop(self) -> None:
        """Stop the periodic task and write whatever is still pending."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for may report this task's
                # own cancellation as a TimeoutError (suppressed here), and the task never ends.
                async with asyncio.timeout(self.settings.flush_seconds):
                    await self._stop.wait()
            if not self._stop.is_set():
                await self.flush()

    async def flush(self) -> None:
        """Write pending counts; return once every write started so far has finished.

        The write is shielded: once handed to the storage thread it completes (or its
        counts go back to pending) even if the caller is cancelled, so nothing is counted
        twice or lost.
        """
        batch = self.aggregator.take()
        if batch:
            write = asyncio.ensure_future(self._write(batch))
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
        if self._writes:
            await asyncio.shield(asyncio.gather(*self._writes, return_exceptions=True))

    async def _write(self, batch: dict[Key, Counts]) -> None:
        minutes = self.settings.interval_minutes
        try:
            await self.app.storage.run(lambda db: store.write(db, batch, minutes))
        except Exception:
            log.exception("queue_intervals: could not write %d intervals; will retry", len(batch))
            self.aggregator.give_back(batch)

    async def day(self, queue: str, day: date) -> list[dict[str, Any]]:
        """Every interval of the local ``day`` with its counts (zeros where nothing happened)."""
        zone, minutes = self.settings.zone, self.settings.interval_minutes
        starts = day_intervals(day, zone, minutes)
        first, last = day_bounds_utc(day, zone)
        stored = await self.app.storage.run(lambda db: store.read_range(db, queue, first, last))
        totals: dict[str, Counts] = {s.isoformat(): Counts() for s in starts}
        for start, counts in stored:
            # Re-bucket: rows written under another interval length or zone still count.
            bucket = totals.get(interval_start(start, zone, minutes).isoformat())
            if bucket is not None:
                bucket.add(counts)
        return [_row(s, interval_end(s, zone, minutes), totals[s.isoformat()]) for s in starts]

    async def known(self, queue: str) -> bool:
        if queue in self.app.state.queues:
            return True
        return await self.app.storage.run(lambda db: store.has_queue(db, queue))


def _row(start: datetime, end: datetime, c: Counts) -> dict[str, Any]:
    mean_wait = round(c.wait_sum_seconds / c.answered, 3) if c.answered else None
    aht = round((c.talk_sum_seconds + c.wrapup_sum_seconds) / c.handled, 3) if c.handled else None
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "timeout": c.timeout,
        "mean_wait_seconds": mean_wait,
        "aht_seconds": aht,
    }


#: The earliest day the interval API answers for.
EARLIEST = date(1970, 1, 1)


@allow("admin", "supervisor", rows="every queue: traffic counts, no names")
async def api_intervals(request: web.Request) -> web.Response:
    """``GET /api/queues/{queue}/intervals?date=YYYY-MM-DD``: one row per interval of a day."""
    app = medlytt_of(request)
    intervals: QueueIntervals | None = app.plugin_state.get(PLUGIN)
    if intervals is None:
        return json_error(503, "queue_intervals is not started")
    settings = intervals.settings
    queue = request.match_info["queue"]
    raw = request.query.get("date")
    if raw is None:
        day = utcnow().astimezone(settings.zone).date()
    else:
        try:
            if not _DATE.match(raw):
                raise ValueError(raw)
            day = date.fromisoformat(raw)
        except ValueError:
            return json_error(
                422, f"date must be a calendar date as YYYY-MM-DD (e.g. 2026-06-01), got {raw!r}"
            )
        if not EARLIEST <= day <= date.max - timedelta(days=2):
            # Day boundaries in a time zone at the edges of the calendar overflow; and no
            # contact center has intervals outside these years.
            return json_error(422, f"date must be between {EARLIEST} and 9999-12-29, got {raw}")
    await intervals.flush()
    if not await intervals.known(queue):
        return json_error(404, f"unknown queue {queue!r}: no events and no stored intervals")
    return json_response(
        {
            "queue": queue,
            "date": day.isoformat(),
            "timezone": settings.timezone,
            "interval_minutes": settings.interval_minutes,
            "intervals": await intervals.day(queue, day),
        }
    )


# ---------------------------------------------------------------------------- hooks


@hookimpl
def medlytt_config_schema() -> type[QueueIntervalsSettings]:
    return QueueIntervalsSettings


@hookimpl
def medlytt_migrations() -> list[Migration]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_startup(app: Medlytt) -> None:
    intervals = QueueIntervals(app, app.plugin_config(PLUGIN))
    app.plugin_state[PLUGIN] = intervals
    intervals.start()


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    intervals: QueueIntervals | None = app.plugin_state.get(PLUGIN)
    if intervals is not None:
        await intervals.stop()


@hookimpl
def medlytt_event(event: ev.Event, state: LiveState, app: Medlytt) -> None:
    intervals: QueueIntervals | None = app.plugin_state.get(PLUGIN)
    if intervals is not None:
        intervals.aggregator.observe(event, state)


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [web.get("/api/queues/{queue}/intervals", api_intervals)]
