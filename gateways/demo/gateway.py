"""The demo gateway: paces the simulated contact center against the wall clock."""

from __future__ import annotations

import asyncio
import time

from medlytt import Gateway, Publish, utcnow

from .settings import DemoSettings
from .simulation import ContactCenterSimulation


class DemoGateway(Gateway):
    """Feeds Medlytt the events of a simulated contact center, labelled as demo.

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
        sim = ContactCenterSimulation(self.settings, start=utcnow(), seed=self.settings.seed)
        speed = self.settings.speed
        self.connected = True
        try:
            for event in sim.start():
                publish(event)
            began = time.monotonic()
            while True:
                due = sim.next_time()
                await asyncio.sleep(max(0.0, began + due / speed - time.monotonic()))
                for event in sim.advance(due):
                    publish(event)
        finally:
            self.connected = False
