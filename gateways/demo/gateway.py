"""The demo gateway: paces the simulated contact center against the wall clock."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from medlytt import Gateway, Publish, utcnow

from .settings import DemoSettings
from .simulation import ContactCenterSimulation, history_seconds

log = logging.getLogger(__name__)


class DemoGateway(Gateway):
    """Feeds Medlytt the events of a simulated contact center, labelled as demo.

    It starts with the day so far behind it: the simulation opens ``history_hours`` ago,
    and everything up to now is published at once with its past timestamps (counters,
    queue intervals and service levels show a morning's traffic within a second); from
    there it runs on against the wall clock, ``speed`` times as fast.

    It has no call control (``call_control`` stays None): there are no calls to listen
    to, so monitoring, mystery calls and surveys answer 503 naming what the demo lacks,
    and ``/api/gateways`` lists every capability under ``call_control_lacks``.
    """

    name = "demo"
    demo = True

    def __init__(self, settings: DemoSettings) -> None:
        super().__init__()
        self.settings = settings
        self.fallback = settings.mode == "fallback"

    async def run(self, publish: Publish) -> None:
        history = history_seconds(self.settings)
        opened = utcnow() - timedelta(seconds=history)
        sim = ContactCenterSimulation(self.settings, start=opened, seed=self.settings.seed)
        speed = self.settings.speed
        began = time.monotonic()  # simulated time `history` is now
        self.connected = True
        try:
            published = 0
            for events in sim.steps(history):
                for event in events:
                    publish(event)
                published += len(events)
                # Let every plugin take this instant's events before the next: mailboxes
                # never overflow, and a plugin reading the live state sees it as it was.
                await asyncio.sleep(0)
            log.info(
                "demo: the day so far, %.1f h of simulated traffic (%d events) in %.2f s",
                history / 3600,
                published,
                time.monotonic() - began,
            )
            while True:
                due = sim.next_time()
                await asyncio.sleep(max(0.0, began + (due - history) / speed - time.monotonic()))
                for event in sim.advance(due):
                    publish(event)
        finally:
            self.connected = False
