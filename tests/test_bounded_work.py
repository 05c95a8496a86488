"""Bounded work per request: the worst inputs are refused before any work, and the event
loop stays free for everyone else meanwhile.

Before these checks a campaign ending in the year 9999 planned cron moments for 25-66 s on
the event loop (memory 64 MB to 1.25 GB), and extreme dates or sequence numbers ended in
500s with tracebacks; later a campaign of 1000 calls over a year with 2,760 one-minute
business-hours ranges (a 33 KB body) was accepted after holding the loop for minutes (242 s
for /healthz here).  Here every such request is a 422 naming the field, the largest
campaigns still accepted (1000 calls, 366 days, 6 ranges every weekday; a cron firing every
second; one whose firings are closed for months) are created, and meanwhile a probe
measures ``/healthz``: its slowest answer must stay under a budget.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from typing import Any

from medlytt import QueueConfigured, utcnow
from medlytt.plugins.mystery_calls.schedule import DAYS, MAX_CAMPAIGN, MAX_RANGES_PER_DAY

SECTIONS = {
    "mystery_calls": {"dial": "Local/{number}@mystery/n", "queue_numbers": {"support": "500"}}
}
#: The slowest /healthz answer allowed while the worst requests are served.
BUDGET_SECONDS = 0.5


def _minute(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _one_minute_ranges(count: int, first: int = 0) -> str:
    """``count`` one-minute ranges a minute apart (at most 720 fit in a day)."""
    return ",".join(f"{_minute(first + 2 * k)}-{_minute(first + 2 * k + 1)}" for k in range(count))


#: The most business hours allowed: every weekday cut into the most ranges it may have.
_CUT = [k * 1440 // MAX_RANGES_PER_DAY for k in range(MAX_RANGES_PER_DAY + 1)]
MOST_HOURS = {
    day: ",".join(f"{_minute(a)}-{_minute(b - 1)}" for a, b in itertools.pairwise(_CUT))
    for day in DAYS
}
#: The reviewer's body: 2,760 ranges (33 KB), once planned for 7.7 s on the loop.
REVIEWED_HOURS = {day: _one_minute_ranges(395 if i < 2 else 394) for i, day in enumerate(DAYS)}
#: About 1 MB: 80,000 distinct ranges, once minutes of planning.
MEGABYTE_HOURS = {
    "mon-sun": ",".join(
        f"{_minute(k % 1380)}-{_minute(k % 1380 + 1 + k // 1380)}" for k in range(80_000)
    )
}


def _longest_span() -> str:
    """The latest ``ends_at`` allowed, less a minute for the time the test takes."""
    return (utcnow() + MAX_CAMPAIGN - timedelta(minutes=1)).isoformat()


#: Accepted, but the most work a campaign may ask for: each is planned within the budget.
ACCEPTED: list[dict[str, Any]] = [
    {"name": "most-calls", "queue": "support", "calls": 1000, "business_hours": MOST_HOURS},
    {
        "name": "every-second",
        "queue": "support",
        "schedule": "* * * * * *",
        "spread_seconds": 86_400,
        "business_hours": MOST_HOURS,
    },
    {  # open only when the 1st is a Monday or Tuesday: up to 8 months of closed firings
        "name": "rare-firing",
        "queue": "support",
        "schedule": "0 8 1 * *",
        "business_hours": {"mon,tue": "08:00-08:01"},
    },
]

WORST = [
    (
        "POST",
        "/api/mystery-campaigns",
        {
            "name": "reviewed",
            "queue": "support",
            "calls": 1000,
            "ends_at": (utcnow() + timedelta(days=365)).isoformat(),
            "business_hours": REVIEWED_HOURS,
        },
        "business_hours",
    ),
    (
        "POST",
        "/api/mystery-campaigns",
        {
            "name": "megabyte",
            "queue": "support",
            "calls": 1000,
            "ends_at": (utcnow() + timedelta(days=365)).isoformat(),
            "business_hours": MEGABYTE_HOURS,
        },
        "business_hours",
    ),
    (
        "POST",
        "/api/mystery-campaigns",
        {"name": "too-many", "queue": "support", "calls": 1001, "ends_at": "2099-01-01T00:00Z"},
        "calls",
    ),
    (
        "POST",
        "/api/mystery-campaigns",
        {"name": "wide", "queue": "support", "schedule": "0 9 * * *", "spread_seconds": 86_401},
        "spread_seconds",
    ),
    (
        "POST",
        "/api/mystery-campaigns",
        {
            "name": "forever",
            "queue": "support",
            "schedule": "* * * * * *",
            "ends_at": "9999-12-31T23:59:59+00:00",
        },
        "ends_at",
    ),
    (
        "POST",
        "/api/mystery-campaigns",
        {
            "name": "far",
            "queue": "support",
            "calls": 1000,
            "ends_at": "5000-01-01T00:00:00+00:00",
        },
        "ends_at",
    ),
    ("GET", "/api/events?after=9223372036854775808", None, "after"),
    ("GET", "/api/events?after=-1", None, "after"),
    ("GET", "/api/queues/support/intervals?date=0001-01-01", None, "date"),
    ("GET", "/api/queues/support/intervals?date=9999-12-31", None, "date"),
    ("GET", "/api/surveys?limit=100000000", None, "limit"),
]


async def test_worst_inputs_are_422_and_the_loop_stays_free(medlytt, medlytt_client):
    async with medlytt(SECTIONS) as app:
        app.publish(QueueConfigured(at=utcnow(), source="t", queue="support"))
        await app.settle()
        client = await medlytt_client(app)
        slowest = 0.0
        done = asyncio.Event()

        async def probe() -> None:
            nonlocal slowest
            while not done.is_set():
                began = time.perf_counter()
                assert (await client.get("/healthz")).status == 200
                slowest = max(slowest, time.perf_counter() - began)
                await asyncio.sleep(0.01)

        prober = asyncio.create_task(probe())
        try:
            await _send_the_worst(client)
        finally:
            done.set()
            await prober
        print(f"slowest /healthz answer: {slowest:.3f} s")  # shown with pytest -s
        assert slowest < BUDGET_SECONDS, f"/healthz took {slowest:.3f} s"


async def _send_the_worst(client: Any) -> None:
    """Each refused input three times, and the accepted worst campaigns three times."""
    for round_ in range(3):
        for method, path, body, field in WORST:
            response = await client.request(method, path, json=body)
            text = await response.text()
            assert response.status == 422, (path, text)
            assert field in (await response.json())["error"], (path, text)
        for campaign in ACCEPTED:
            body = {**campaign, "name": f"{campaign['name']}-{round_}"}
            body["ends_at"] = _longest_span()
            response = await client.post("/api/mystery-campaigns", json=body)
            assert response.status == 201, await response.text()
            if "calls" in body:
                assert len((await response.json())["planned"]) == body["calls"]
