"""Runs one gateway for the lifetime of the application, restarting it when it fails.

A gateway that raises is restarted after an exponential backoff with jitter (1 s, 2 s,
4 s ... at most 30 s), so a PBX that is down does not get hammered and a bug in one
gateway does not stop the others.  A gateway whose ``run`` returns normally has finished
(a finite simulation) and is not restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from .gateway import Gateway, Publish

log = logging.getLogger(__name__)


class GatewayRunner:
    """Supervises one gateway task."""

    def __init__(
        self,
        gateway: Gateway,
        publish: Publish,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        self.gateway = gateway
        self.publish = publish
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            self._supervise(), name=f"medlytt-gateway-{self.gateway.name}"
        )

    async def _supervise(self) -> None:
        delay = self.backoff_initial
        while True:
            try:
                await self.gateway.run(self.publish)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.gateway.connected = False
                self.restarts += 1
                wait = delay * random.uniform(0.5, 1.5)
                log.exception("gateway %s failed; restarting in %.1f s", self.gateway.name, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.backoff_max)
                continue
            self.gateway.connected = False
            log.info("gateway %s finished", self.gateway.name)
            return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.gateway.connected = False
