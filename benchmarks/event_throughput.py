"""Event throughput: simulated contact-center events through the whole core, one core.

Pipeline measured: ``EventBus.publish`` (live state, journal buffer, events counter, one
mailbox per plugin) → every built-in plugin's ``medlytt_event`` → the journal written to
SQLite.  Floor measured in the same run: decoding the same events from their JSON, the
least work any gateway must do per event.  Roadmap goal: ≥ 20,000 events/s and at least
half the floor.

    .venv/bin/python benchmarks/event_throughput.py [--hours 24]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from medlytt import utcnow
from medlytt.events import decode_event, encode_event
from medlytt.gateways.demo.settings import DemoSettings
from medlytt.gateways.demo.simulation import ContactCenterSimulation
from medlytt.testing import running_medlytt

CHUNK = 1000


def make_events(hours: float) -> list:
    settings = DemoSettings(agents=60)
    for queue in settings.queues:
        queue.calls_per_hour *= 4
    sim = ContactCenterSimulation(settings, start=utcnow(), seed=1)
    return list(sim.run(hours * 3600))


def floor(blobs: list[bytes]) -> float:
    start = time.perf_counter()
    for blob in blobs:
        decode_event(blob)
    return len(blobs) / (time.perf_counter() - start)


async def through_core(events: list, db: Path) -> float:
    async with running_medlytt({"storage": {"journal_batch_size": 2000}}, db_path=db) as app:
        start = time.perf_counter()
        for i in range(0, len(events), CHUNK):
            for event in events[i : i + CHUNK]:
                app.publish(event)
            await app.settle(timeout=600)  # sustainable rate: every plugin keeps up
        await app.journal.flush()
        elapsed = time.perf_counter() - start
        # Every event published is journaled: the simulated ones and those plugins publish
        # in turn (e.g. longcalls.flagged when the example plugin is installed).
        assert app.journal.written == app.bus.published >= len(events)
        assert not any(app.bus.dropped().values())
        print("plugins:", ", ".join(p.name for p in app.host.plugins()))
    return len(events) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of traffic")
    args = parser.parse_args()
    events = make_events(args.hours)
    blobs = [encode_event(e) for e in events]
    with tempfile.TemporaryDirectory() as tmp:
        core = asyncio.run(through_core(events, Path(tmp) / "bench.db"))
    parse = floor(blobs)
    print(f"events: {len(events)}")
    print(f"floor (JSON decode only): {parse:,.0f} events/s")
    print(f"through the core (state, journal, all plugins): {core:,.0f} events/s")
    print(f"ratio to floor: {core / parse:.2f}")


if __name__ == "__main__":
    main()
