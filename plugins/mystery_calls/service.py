"""Mystery calls of one Medlytt: limits, kill switch, running calls and their results.

Every trigger (API, CLI, campaigns, other plugins through :mod:`.api`) comes through
:meth:`MysteryService.place`, which checks the request, then the kill switch and the
limits, and reserves the call's place before its first ``await`` so a burst of requests
can never exceed a limit.  A refusal is a :class:`Refused` naming the limit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from medlytt import (
    CallAnswered,
    CallControl,
    CallControlError,
    CallQueued,
    Capability,
    ChannelEvent,
    Event,
    http_status,
    save_recording,
    utcnow,
)

from . import store
from .call import MysteryCall
from .events import MysteryCallFinished, MysteryCallStarted
from .model import CallSpec, check_call
from .runner import ROLE, TESTER_ROLE, Runner

if TYPE_CHECKING:
    from medlytt import Medlytt

    from .settings import MysterySettings

log = logging.getLogger(__name__)
SOURCE = "mystery_calls"
HOUR = 3600.0
#: After the customer leg ended, how long to wait for Asterisk's queue events of the call.
QUEUE_EVENTS_GRACE = 5.0
#: What mystery calls need of a gateway's call control.
NEEDS = (
    Capability.ORIGINATE,
    Capability.HANG_UP,
    Capability.PLAY,
    Capability.SEND_DTMF,
    Capability.RECORD,
    Capability.BRIDGE,
    Capability.RING,
)


class MonitoringStarter(Protocol):
    """What mystery calls use of the monitoring plugin's service (``app.service``),
    without importing that plugin: monitoring applies its own authorisation."""

    async def start_for_user(self, user: str, *, endpoint: str, call_id: str) -> object: ...


class Refused(Exception):
    """A request that was not placed; ``status`` maps to HTTP, ``limit`` names the rule."""

    def __init__(self, status: int, message: str, limit: str | None = None) -> None:
        self.status = status
        self.limit = limit
        super().__init__(message)


@dataclass
class Running:
    call: MysteryCall
    runner: Runner
    task: asyncio.Task[None] | None = None


class MysteryService:
    def __init__(self, app: Medlytt, settings: MysterySettings) -> None:
        self.app = app
        self.settings = settings
        self.running: dict[str, Running] = {}
        #: Start times (monotonic) per target, for the per-hour limit.
        self.recent: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.stopped: dict[str, Any] | None = None  # the kill switch, when on
        #: The kill switch's last change (on or off), for the API.
        self.switch: dict[str, Any] | None = None
        #: Called with each finished call (metrics, campaigns).
        self.on_finished: list[Callable[[MysteryCall], None]] = []
        self._background: set[asyncio.Task[None]] = set()
        for port in app.call_controls():
            port.claim(ROLE, TESTER_ROLE)

    async def load(self) -> None:
        """Close calls a crash left running; restore the kill switch and hourly counts."""
        now = utcnow()
        closed = await self.app.storage.run(lambda db: store.close_orphans(db, now.isoformat()))
        if closed:
            log.warning("mystery calls: closed %d call(s) left running by a stop", closed)
        row = await self.app.storage.run(store.switch)
        self.switch = row
        if row and row["stopped"]:
            self.stopped = row
        since = now - timedelta(seconds=HOUR)
        starts = await self.app.storage.run(lambda db: store.started_since(db, since.isoformat()))
        mono = time.monotonic()
        for target, started_at in starts:
            age = (now - datetime.fromisoformat(started_at)).total_seconds()
            self.recent[target].append(mono - age)

    # ------------------------------------------------------------------ placing

    async def place(
        self, spec: CallSpec, *, requested_by: str, campaign: str | None = None
    ) -> MysteryCall:
        """Check, reserve and start a mystery call; raises RequestError or Refused."""
        target, number = check_call(spec, self.settings, self.app.state)
        if self.stopped is not None:
            raise Refused(
                503,
                f"mystery calls are stopped by the kill switch (since {self.stopped['changed_at']}"
                f" by {self.stopped['changed_by']})",
                "kill_switch",
            )
        # A queue is called on the PBX that reported it (several PBXs: [asterisk.oslo]).
        queue = self.app.state.queues.get(spec.queue) if spec.queue else None
        pbx = queue.source if queue is not None and queue.source else None
        if pbx is not None and pbx not in {p.pbx for p in self.app.call_controls()}:
            pbx = None
        try:
            port = self.app.call_control(*NEEDS, feature="mystery calls", pbx=pbx)
        except CallControlError as exc:
            raise Refused(http_status(exc), str(exc)) from None
        if len(self.running) >= self.settings.max_concurrent:
            raise Refused(
                429,
                f"limit max_concurrent: at most {self.settings.max_concurrent} mystery calls "
                f"at once, {len(self.running)} running",
                "max_concurrent",
            )
        starts = self.recent[target]
        now_mono = time.monotonic()
        while starts and now_mono - starts[0] >= HOUR:
            starts.popleft()
        limit = self.settings.max_per_hour_per_target
        if len(starts) >= limit:
            retry = HOUR - (now_mono - starts[0])
            raise Refused(
                429,
                f"limit max_per_hour_per_target: {target} had {len(starts)} mystery calls in "
                f"the last hour (at most {limit}); next possible in {retry:.0f} s",
                "max_per_hour_per_target",
            )
        call = MysteryCall(
            id=secrets.token_hex(6),
            spec=spec,
            target=target,
            number=number,
            endpoint=self.settings.dial.replace("{number}", number),
            caller_id=spec.caller_id or self.settings.caller_id,
            campaign=campaign,
            requested_by=requested_by,
            started_at=utcnow(),
        )
        # Reserved before the first await: concurrent requests see this call.
        starts.append(now_mono)
        running = Running(call, Runner(call, port, self.settings))
        self.running[call.id] = running
        try:
            await self.app.storage.run(lambda db: store.insert_call(db, call.row()))
        except BaseException:
            self.running.pop(call.id, None)
            starts.remove(now_mono)
            raise
        self.app.publish(
            MysteryCallStarted(
                at=call.started_at,
                source=SOURCE,
                mystery_call_id=call.id,
                campaign=campaign,
                target=target,
                call_id=call.channel_id,
            )
        )
        running.task = asyncio.get_running_loop().create_task(self._follow(running))
        return call

    async def _follow(self, running: Running) -> None:
        call = running.call
        audio = None
        try:
            audio = await running.runner.run()
            if call.call_id is not None and not call.queue_done.is_set():
                try:
                    await asyncio.wait_for(call.queue_done.wait(), QUEUE_EVENTS_GRACE)
                except TimeoutError:
                    log.warning(
                        "mystery call %s: no end of call %s from Asterisk", call.id, call.call_id
                    )
        except Exception as exc:  # a bug must not leave the call running in the table
            log.exception("mystery call %s failed", call.id)
            call.reason = call.reason or f"internal error: {exc}"
        finally:
            call.outcome = call.decide_outcome()
            if audio:
                try:
                    call.recording_id = await save_recording(
                        self.app,
                        audio,
                        source=SOURCE,
                        call_id=call.call_id or call.channel_id,
                        agent_id=call.agent_id,
                        session_id=call.id,
                        hidden_from_agent=True,
                    )
                except Exception:
                    log.exception("mystery call %s: recording could not be stored", call.id)
            row = {**call.row(), "finished_at": utcnow().isoformat()}
            await self.app.storage.run(lambda db: store.update_call(db, call.id, row))
            self.running.pop(call.id, None)
            for callback in self.on_finished:
                callback(call)
            self.app.publish(
                MysteryCallFinished(
                    at=utcnow(),
                    source=SOURCE,
                    mystery_call_id=call.id,
                    outcome=call.outcome,
                    call_id=call.call_id,
                    agent_id=call.agent_id,
                    answer_seconds=call.answer_seconds,
                    talk_seconds=call.talk_seconds,
                )
            )

    # ------------------------------------------------------------------ control

    async def stop_call(self, mystery_call_id: str, reason: str) -> bool:
        running = self.running.get(mystery_call_id)
        if running is None:
            return False
        await running.runner.hang_up(reason)
        return True

    async def set_kill_switch(self, on: bool, *, by: str, running: str | None = None) -> int:
        """Turn the kill switch on or off; on: running calls finish or are hung up
        (``running`` or ``[mystery_calls] kill_running``).  Returns calls hung up."""
        row = {"stopped": int(on), "changed_at": utcnow().isoformat(), "changed_by": by}
        await self.app.storage.run(lambda db: store.set_switch(db, row))
        self.switch = {"id": 1, **row}
        self.stopped = self.switch if on else None
        hung_up = 0
        if on and (running or self.settings.kill_running) == "hang_up":
            for mystery_call_id in list(self.running):
                hung_up += await self.stop_call(mystery_call_id, f"kill switch by {by}")
        return hung_up

    async def stop_all(self) -> None:
        """Medlytt stops: hang up running calls and wait until their results are written."""
        for mystery_call_id in list(self.running):
            await self.stop_call(mystery_call_id, "Medlytt stopped")
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    # ------------------------------------------------------------------ events

    def on_channel_event(self, event: ChannelEvent, port: CallControl) -> None:
        for running in list(self.running.values()):
            if running.runner.port is port:
                running.call.on_channel(event)

    def on_event(self, event: Event) -> None:
        """Medlytt's queue events: match new queue entries, route the rest by call id."""
        calls = [running.call for running in self.running.values()]
        if isinstance(event, CallQueued):
            # Our own channel id (linkedid) first; the caller number only for routes through
            # a trunk, and then the oldest waiting call takes the entry.
            owner = next(
                (c for c in calls if c.call_id is None and c.channel_id == event.call_id), None
            )
            owner = owner or next((c for c in calls if c.matches_by_number(event)), None)
            if owner is not None:
                owner.on_event(event)
            return
        for call in calls:
            if call.call_id is not None and getattr(event, "call_id", None) == call.call_id:
                call.on_event(event)
                if isinstance(event, CallAnswered) and call.spec.listen:
                    task = asyncio.get_running_loop().create_task(self._listen(call))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)

    async def _listen(self, call: MysteryCall) -> None:
        """Start live monitoring of an answered mystery call for ``spec.listen``, through
        the monitoring plugin's service, on behalf of the user who placed the call."""
        monitoring: MonitoringStarter | None = self.app.service("monitoring")  # type: ignore[assignment]
        if monitoring is None:
            log.warning("mystery call %s: live listening needs the monitoring plugin", call.id)
            return
        try:
            await monitoring.start_for_user(
                call.requested_by, endpoint=call.spec.listen or "", call_id=call.call_id or ""
            )
        except Exception as exc:  # listening is optional: the mystery call goes on
            log.warning("mystery call %s: live listening could not start: %s", call.id, exc)
