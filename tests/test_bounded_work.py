"""Bounded work per request: the worst inputs are refused before any work, and the event
loop stays free for everyone else meanwhile.

Before these checks a campaign ending in the year 9999 planned cron moments for 25-66 s on
the event loop (memory 64 MB to 1.25 GB), and extreme dates or sequence numbers ended in
500s with tracebacks.  Here every such request is a 422 naming the field, while a probe
measures ``/healthz``: its slowest answer must stay under a budget.
"""

from __future__ import annotations

import asyncio
import time

from medlytt import QueueConfigured, utcnow

SECTIONS = {
    "mystery_calls": {"dial": "Local/{number}@mystery/n", "queue_numbers": {"support": "500"}}
}
#: The slowest /healthz answer allowed while the worst requests are served.
BUDGET_SECONDS = 0.5

WORST = [
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
        for _ in range(3):
            for method, path, body, field in WORST:
                response = await client.request(method, path, json=body)
                text = await response.text()
                assert response.status == 422, (path, text)
                assert field in (await response.json())["error"], (path, text)
        done.set()
        await prober
        assert slowest < BUDGET_SECONDS, f"/healthz took {slowest:.3f} s"
