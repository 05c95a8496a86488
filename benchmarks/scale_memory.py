"""Scale and memory: thousands of agents and calls, a long day, and what the API costs then.

The demo's simulated contact center (2,000 agents, three queues of 40,000 calls an hour:
more traffic than the agents can take, so about 5,000 calls are in progress or waiting at
any moment) runs flat out through a real Medlytt with every installed plugin, the journal
written to SQLite; the mailboxes are drained every 1,000 events (a rate every plugin
keeps up with).  It reports:

* bytes per active call: 5,000 more calls queued at once, traced by ``tracemalloc`` from
  just before, after every plugin has seen them;
* the process's memory every ``--every`` finished calls up to ``--finished``: RSS, blocks
  allocated (``sys.getallocatedblocks``) and calls in progress: a plateau, not a slope;
* ``/metrics``: exposition time and size, beside the floor of prometheus-client writing the
  same number of plain series in the same run;
* ``GET /api/state`` over HTTP (admin token): time and size, beside the floor of msgspec
  encoding the same live state's structs in the same run.

    .venv/bin/python benchmarks/scale_memory.py [--agents 2000] [--calls-per-hour 40000]
        [--finished 100000] [--every 10000] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient, TestServer
from medlytt import events as ev
from medlytt import utcnow
from medlytt.gateways.demo.settings import DemoQueue, DemoSettings
from medlytt.gateways.demo.simulation import ContactCenterSimulation
from medlytt.testing import TestMedlytt, add_user_with_token, running_medlytt
from medlytt.web import build_web_app, plugin_routes
from prometheus_client import CollectorRegistry, Gauge, generate_latest

QUEUES = ("support", "sales", "billing")
FINISHED = (ev.CallEnded, ev.CallAbandoned, ev.CallTimedOut)
CHUNK = 1000
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def best_of(times: int, run: Any) -> float:
    """The shortest of ``times`` runs of ``run()``, in seconds (the least disturbed one)."""
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


async def drive(app: TestMedlytt, events: Iterator[ev.Event], calls: int) -> int:
    """Publish events until ``calls`` more calls finished; return how many events."""
    finished = published = 0
    for event in events:
        app.publish(event)
        published += 1
        finished += isinstance(event, FINISHED)
        if published % CHUNK == 0:
            await app.settle(timeout=600)
            if finished >= calls:
                break
    await app.settle(timeout=600)
    return published


async def memory_point(app: TestMedlytt, finished: int) -> dict[str, int]:
    assert app.journal is not None
    await app.journal.flush()
    gc.collect()
    return {
        "finished_calls": finished,
        "rss_bytes": rss_bytes(),
        "allocated_blocks": sys.getallocatedblocks(),
        "active_calls": len(app.state.calls),
    }


async def bytes_per_active_call(app: TestMedlytt, count: int) -> float:
    """Traced memory held once ``count`` more calls wait in the queues (then they leave)."""
    at = app.state.last_event_at or utcnow()
    assert app.journal is not None
    await app.journal.flush()
    gc.collect()
    tracemalloc.start()
    for i in range(count):
        app.publish(
            ev.CallQueued(
                at=at,
                source="bench",
                call_id=f"bench-{i}",
                queue=QUEUES[i % len(QUEUES)],
                caller_id=f"+4790{i:06d}",
            )
        )
    await app.settle(timeout=600)
    await app.journal.flush()
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    later = at + timedelta(seconds=1)
    for i in range(count):
        app.publish(
            ev.CallAbandoned(
                at=later,
                source="bench",
                call_id=f"bench-{i}",
                queue=QUEUES[i % len(QUEUES)],
                wait_seconds=1.0,
            )
        )
    await app.settle(timeout=600)
    return held / count


def metrics_floor(series: int) -> float:
    """prometheus-client writing ``series`` plain gauge samples: its cost per series."""
    registry = CollectorRegistry()
    gauge = Gauge("bench_series", "Plain series.", ["queue", "n"], registry=registry)
    for i in range(series):
        gauge.labels(QUEUES[i % 3], str(i)).set(i)
    return best_of(3, lambda: generate_latest(registry))


async def api_state(app: TestMedlytt) -> dict[str, float]:
    token = add_user_with_token(app, "bench-admin", "admin")
    server = TestServer(build_web_app(app, await plugin_routes(app)))
    client = TestClient(server, headers={"Authorization": f"Bearer {token}"})
    await client.start_server()
    try:
        times, size = [], 0
        for _ in range(5):
            start = time.perf_counter()
            response = await client.get("/api/state")
            body = await response.read()
            times.append(time.perf_counter() - start)
            assert response.status == 200, body[:200]
            size = len(body)
    finally:
        await client.close()
    state = app.state
    encoder = msgspec.json.Encoder()

    def floor() -> None:
        encoder.encode(
            {
                "calls": list(state.calls.values()),
                "agents": list(state.agents.values()),
                "queues": list(state.queues.values()),
            }
        )

    return {"seconds": min(times), "bytes": size, "floor_seconds": best_of(5, floor)}


async def run(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    settings = DemoSettings(
        agents=args.agents,
        queues=[DemoQueue(name=q, calls_per_hour=args.calls_per_hour) for q in QUEUES],
    )
    events = ContactCenterSimulation(settings, start=utcnow(), seed=1).run(10**12)
    results: dict[str, Any] = {"memory": []}
    async with running_medlytt({}, db_path=db) as app:
        results["plugins"] = [p.name for p in app.host.plugins()]
        started = time.perf_counter()
        published = await drive(app, events, args.every)  # warm-up: queues fill up
        finished = args.every
        results["memory"].append(await memory_point(app, finished))
        results["active_calls"] = len(app.state.calls)
        results["bytes_per_active_call"] = await bytes_per_active_call(app, args.probe_calls)
        while finished < args.finished:
            published += await drive(app, events, args.every)
            finished += args.every
            point = await memory_point(app, finished)
            results["memory"].append(point)
            print(
                f"{finished:>9,} finished  RSS {point['rss_bytes'] / 2**20:7.1f} MB  "
                f"blocks {point['allocated_blocks']:>10,}  in progress {point['active_calls']:,}",
                flush=True,
            )
        results["events"] = published
        results["events_per_second"] = published / (time.perf_counter() - started)
        results["dropped"] = sum(app.bus.dropped().values())
        text = generate_latest(app.registry)
        series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
        results["metrics"] = {
            "seconds": best_of(3, lambda: generate_latest(app.registry)),
            "bytes": len(text),
            "series": series,
            "floor_seconds": metrics_floor(series),
        }
        results["api_state"] = await api_state(app)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--calls-per-hour", type=float, default=40_000, help="per queue (3)")
    parser.add_argument("--finished", type=int, default=100_000, help="finished calls in all")
    parser.add_argument("--every", type=int, default=10_000, help="finished calls per point")
    parser.add_argument("--probe-calls", type=int, default=5000, help="calls added at once")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args, Path(tmp) / "bench.db"))
    # From the second point on: the first one follows the warm-up, when the queues and
    # the desk's last calls are still filling.
    points = results["memory"]
    first, last = points[1] if len(points) > 2 else points[0], points[-1]
    print("plugins:", ", ".join(results["plugins"]))
    print(
        f"events: {results['events']:,} ({results['events_per_second']:,.0f}/s), dropped: "
        f"{results['dropped']}"
    )
    print(f"calls in progress after the warm-up: {results['active_calls']:,}")
    print(
        f"bytes per active call ({args.probe_calls:,} more queued): "
        f"{results['bytes_per_active_call']:,.0f}"
    )
    grown = last["rss_bytes"] - first["rss_bytes"]
    calls = last["finished_calls"] - first["finished_calls"]
    results["rss_bytes_per_finished_call"] = grown / max(calls, 1)
    results["blocks_per_finished_call"] = (
        last["allocated_blocks"] - first["allocated_blocks"]
    ) / max(calls, 1)
    print(
        f"RSS {first['rss_bytes'] / 2**20:.1f} MB at {first['finished_calls']:,} finished, "
        f"{last['rss_bytes'] / 2**20:.1f} MB at {last['finished_calls']:,}: "
        f"{grown / max(calls, 1):,.1f} bytes per finished call"
    )
    m = results["metrics"]
    print(
        f"/metrics: {m['series']:,} series, {m['bytes']:,} bytes, {m['seconds'] * 1000:.1f} ms "
        f"(floor, plain series: {m['floor_seconds'] * 1000:.1f} ms)"
    )
    s = results["api_state"]
    print(
        f"/api/state: {s['bytes']:,} bytes, {s['seconds'] * 1000:.1f} ms "
        f"(floor, msgspec encoding of the state: {s['floor_seconds'] * 1000:.1f} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
