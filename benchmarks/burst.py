"""Burst: the top of the hour, 300 calls entering the queues within 10 s, in real time.

A Medlytt with every installed plugin (journal written to SQLite) receives, paced against
the wall clock, 300 callers arriving at random moments within ``--seconds``: each is
offered to a free agent after 1 to 4 s and answered (talks 3 to 6 s, then wrap-up), or
abandons after 6 s when no agent is free.  Every event carries the moment it is
published as its timestamp.

Measured:

* **metric lag**: from an outcome event's publication (answered or abandoned) to the
  moment ``medlytt_queue_calls_total``, the counter the queue-metrics plugin increments in
  its own mailbox, includes it: the value ``/metrics`` serves from then on.  A watcher
  reads the counter every millisecond; the lag is therefore exact to about 1 ms.
* **scrapes**: ``GET /metrics`` over HTTP once a second during the burst (a Prometheus
  scraping fast): time and size; a scrape adds its own time to what it shows.
* **drops**: events not delivered to a plugin (mailbox full or breaker open).

Goal (issue 18): no dropped events, metric lag p99 under 100 ms.

    .venv/bin/python benchmarks/burst.py [--calls 300] [--seconds 10] [--agents 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from medlytt import events as ev
from medlytt import utcnow
from medlytt.events import AgentState
from medlytt.testing import TestMedlytt, running_medlytt
from medlytt.web import build_web_app, plugin_routes

QUEUES = ("support", "sales", "billing")
SOURCE = "burst"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def plan(calls: int, seconds: float, agents: int, seed: int) -> list[tuple[float, str, dict]]:
    """(second, event type, fields) of the burst, in time order; agents free up over time."""
    rng = random.Random(seed)
    free_at = {f"BURST/{1001 + i}": 0.0 for i in range(agents)}
    steps: list[tuple[float, str, dict[str, Any]]] = []
    for i, arrival in enumerate(sorted(rng.uniform(0, seconds) for _ in range(calls))):
        call_id, queue = f"burst-{i:04d}", QUEUES[i % len(QUEUES)]
        steps.append((arrival, "queued", {"call_id": call_id, "queue": queue}))
        offer = arrival + rng.uniform(1, 4)
        agent = next((a for a, t in free_at.items() if t <= offer), None)
        if agent is None:
            steps.append((arrival + 6, "abandoned", {"call_id": call_id, "queue": queue}))
            continue
        talk = rng.uniform(3, 6)
        free_at[agent] = offer + talk + 3
        fields = {"call_id": call_id, "queue": queue, "agent_id": agent}
        steps.append((offer, "answered", {**fields, "queued_at": arrival}))
        steps.append((offer + talk, "ended", {**fields, "answered_at": offer, "arrival": arrival}))
        steps.append((offer + talk + 3, "available", {"agent_id": agent}))
    return sorted(steps, key=lambda step: step[0])


def events_of(kind: str, fields: dict[str, Any], second: float) -> list[ev.Event]:
    at, base = utcnow(), {"source": SOURCE}
    match kind:
        case "queued":
            return [ev.CallQueued(at=at, **base, **fields)]
        case "abandoned":
            return [ev.CallAbandoned(at=at, **base, **fields, wait_seconds=6.0)]
        case "answered":
            wait = second - fields.pop("queued_at")
            agent = fields["agent_id"]
            return [
                ev.AgentOffered(at=at, **base, **fields),
                ev.AgentStateChanged(at=at, **base, agent_id=agent, state=AgentState.RINGING),
                ev.CallAnswered(at=at, **base, **fields, wait_seconds=wait, ring_seconds=0.5),
                ev.AgentStateChanged(at=at, **base, agent_id=agent, state=AgentState.ON_CALL),
            ]
        case "ended":
            talk = second - fields.pop("answered_at")
            wait = fields.pop("arrival")
            agent = fields["agent_id"]
            return [
                ev.CallEnded(
                    at=at,
                    **base,
                    **fields,
                    hung_up_by="caller",
                    talk_seconds=talk,
                    wait_seconds=wait,
                ),
                ev.AgentStateChanged(at=at, **base, agent_id=agent, state=AgentState.WRAP_UP),
            ]
        case _:
            return [
                ev.AgentStateChanged(
                    at=at, **base, agent_id=fields["agent_id"], state=AgentState.AVAILABLE
                )
            ]


def counted(app: TestMedlytt) -> int:
    """Answered and abandoned calls in ``medlytt_queue_calls_total`` right now."""
    metrics = app.plugin_state["queue_metrics"]
    return int(
        sum(
            metrics.calls.labels(q, outcome)._value.get()
            for q in QUEUES
            for outcome in ("answered", "abandoned")
        )
    )


async def run(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    steps = plan(args.calls, args.seconds, args.agents, args.seed)
    async with running_medlytt({}, db_path=db) as app:
        at = utcnow()
        for queue in QUEUES:
            app.publish(ev.QueueConfigured(at=at, source=SOURCE, queue=queue))
        for i in range(args.agents):
            app.publish(
                ev.AgentStateChanged(
                    at=at,
                    source=SOURCE,
                    agent_id=f"BURST/{1001 + i}",
                    state=AgentState.AVAILABLE,
                    queues=QUEUES,
                )
            )
        await app.settle()
        client = TestClient(TestServer(build_web_app(app, await plugin_routes(app))))
        await client.start_server()
        published_at: list[float] = []  # outcome events, in publication order
        lags: list[float] = []
        scrapes: list[tuple[float, int]] = []
        done = asyncio.Event()

        async def watch() -> None:
            seen = 0
            while not done.is_set() or seen < len(published_at):
                now_count = counted(app)
                now = time.perf_counter()
                for index in range(seen, min(now_count, len(published_at))):
                    lags.append(now - published_at[index])
                seen = max(seen, min(now_count, len(published_at)))
                await asyncio.sleep(0.001)

        async def scrape() -> None:
            while not done.is_set():
                start = time.perf_counter()
                response = await client.get("/metrics")
                body = await response.read()
                scrapes.append((time.perf_counter() - start, len(body)))
                await asyncio.sleep(1)

        tasks = [asyncio.create_task(watch()), asyncio.create_task(scrape())]
        before = app.bus.published
        began = time.perf_counter()
        for second, kind, fields in steps:
            delay = began + second * args.pace - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for event in events_of(kind, dict(fields), second):
                app.publish(event)
                if isinstance(event, ev.CallAnswered | ev.CallAbandoned):
                    published_at.append(time.perf_counter())
        await app.settle(timeout=60)
        done.set()
        await asyncio.wait_for(tasks[0], 10)
        tasks[1].cancel()
        await client.close()
        return {
            "calls": args.calls,
            "events": app.bus.published - before,
            "outcomes": len(published_at),
            "dropped": sum(app.bus.dropped().values()),
            "lag_p50_ms": percentile(lags, 50) * 1000,
            "lag_p99_ms": percentile(lags, 99) * 1000,
            "lag_max_ms": max(lags) * 1000,
            "lags": len(lags),
            "scrapes": len(scrapes),
            "scrape_p50_ms": percentile([s for s, _ in scrapes], 50) * 1000,
            "scrape_max_ms": max(s for s, _ in scrapes) * 1000,
            "scrape_bytes": scrapes[-1][1],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0, help="arrivals spread over")
    parser.add_argument("--agents", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="wall-clock seconds per second of the plan"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        got = asyncio.run(run(args, Path(tmp) / "burst.db"))
    print(
        f"{got['calls']} calls within {args.seconds:g} s: {got['events']:,} events, "
        f"{got['outcomes']} answered or abandoned, dropped {got['dropped']}"
    )
    print(
        f"metric lag (publication to medlytt_queue_calls_total): p50 {got['lag_p50_ms']:.1f} ms,"
        f" p99 {got['lag_p99_ms']:.1f} ms, max {got['lag_max_ms']:.1f} ms (goal p99 < 100 ms)"
    )
    print(
        f"GET /metrics during the burst: {got['scrapes']} scrapes, p50 "
        f"{got['scrape_p50_ms']:.1f} ms, max {got['scrape_max_ms']:.1f} ms, "
        f"{got['scrape_bytes']:,} bytes"
    )
    if args.json:
        args.json.write_text(json.dumps(got, indent=1))


if __name__ == "__main__":
    main()
