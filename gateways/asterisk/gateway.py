"""The Asterisk gateway: AMI and ARI in, Medlytt events out, reconnecting by itself.

One *session* is one pair of connections (AMI + the ARI WebSocket).  It starts with a
resynchronisation (``QueueStatus`` for queues, members and waiting callers; ARI's channel
list for calls in progress) so that calls which vanished while Medlytt was away are
closed as ``call.lost`` and nothing stays "in progress" forever.  When either connection
drops, the session ends, ``connected`` turns false (``medlytt_gateway_up`` 0, ``/readyz``
503) and a new session is tried after an exponential backoff with jitter, capped at
``reconnect_max_seconds`` so a restarted Asterisk is picked up within seconds.  Each
attempt tries both connections, so ``connections`` (``{"ami": True, "ari": False}``) tells
``/readyz`` which one is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from medlytt import (
    AgentState,
    CallControlError,
    CallEnded,
    CallQueued,
    ChannelEntered,
    Event,
    Gateway,
    Publish,
    utcnow,
)

from .ami import AmiClient, AmiError
from .ari import AriClient, AriError
from .control import AriCallControl
from .diagnose import explain, needs_the_user
from .malformed import RejectLog
from .qualify import Qualifier
from .settings import AsteriskSettings
from .translate import AmiTranslator

log = logging.getLogger(__name__)


class AsteriskGateway(Gateway):
    """Translates one Asterisk's queue and channel events into Medlytt events."""

    name = "asterisk"

    def __init__(self, settings: AsteriskSettings, name: str | None = None) -> None:
        super().__init__()
        #: ``asterisk`` for ``[asterisk]``; a named PBX (``[asterisk.oslo]``) is called by
        #: its name and qualifies its ids with it (see qualify.py).
        self.name = name or "asterisk"
        self.qualifier = Qualifier(name) if name else None
        self.settings = settings
        self._reject_log = RejectLog(self.name)
        self.translator = AmiTranslator(settings.agents, reject=self.reject)
        self.ari = AriClient.from_settings(settings)
        self.ami: AmiClient | None = None
        self.sessions = 0
        #: Each connection's last known state: set when it opens or fails to, cleared when
        #: Asterisk closes it.  Both are tried at each attempt, so one being down never
        #: hides the state of the other.
        self.connections = {"ami": False, "ari": False}
        self.asterisk_version: str | None = None
        self._publish: Publish | None = None
        self._wrap_up_timers: dict[str, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[None]] = set()
        #: The call-control port features use (over ARI); its channel events come back
        #: through the core.  A channel entering Medlytt's application with a role no
        #: plugin claimed (e.g. a dialplan hook whose plugin is disabled) is sent back to
        #: the dialplan, never left waiting in Stasis.
        self.control = AriCallControl(self)
        #: Channels in Medlytt's application whose entry this process has handed on (to a
        #: feature, or back to the dialplan), until they leave it: see _hand_on_waiting.
        self._announced: set[str] = set()
        self.call_control = self.control

    async def close(self) -> None:
        await self.ari.close()

    @property
    def ami_kinds(self) -> frozenset[str]:
        """The AMI events read: those translated, and the end of ``QueueStatus``'s answer
        (the action the gateway sends); most of AMI's traffic is passed over unread."""
        return self.translator.kinds | {"QueueStatusComplete"}

    def reject(self, kind: str, detail: str) -> None:
        """Count a message dropped as malformed (see malformed.py) and log it sparingly."""
        self.rejected += 1
        self._reject_log(kind, detail)

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "ari_url": self.settings.ari_url,
            "ami": f"{self.settings.ami_host}:{self.settings.ami_port}",
            "asterisk_version": self.asterisk_version,
            "sessions": self.sessions,
        }

    async def run(self, publish: Publish) -> None:
        self._publish = publish
        delay = 0.5
        told = ""  # the last failure that needs the user, logged once (not every retry)
        try:
            while True:
                try:
                    await self._session(publish)
                    delay, told = 0.5, ""  # the session was up: start the backoff again
                except (AmiError, AriError, OSError) as exc:
                    message = explain(exc, self.settings)
                    if not needs_the_user(exc):
                        log.warning("%s: %s", self.name, message)
                    elif message != told:
                        # A wrong URL or password: retrying cannot help until someone fixes
                        # the config (or Asterisk's), so say it once, clearly, and retry slowly.
                        log.error(
                            "%s: %s (retrying every %g s)",
                            self.name,
                            message,
                            self.settings.reconnect_max_seconds,
                        )
                        told = message
                    else:
                        log.debug("%s: still %s", self.name, exc)
                    if needs_the_user(exc):
                        delay = self.settings.reconnect_max_seconds
                self.connected = False
                wait = min(delay, self.settings.reconnect_max_seconds) * random.uniform(0.5, 1.0)
                log.info("%s: reconnecting in %.1f s", self.name, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.settings.reconnect_max_seconds)
        finally:
            self.connected = False
            self.connections = {"ami": False, "ari": False}
            for timer in self._wrap_up_timers.values():
                timer.cancel()
            await self.ari.close()
            if self.ami is not None:
                await self.ami.close()

    async def _session(self, publish: Publish) -> None:
        s = self.settings
        ami = AmiClient.from_settings(
            s, reject=self.reject, wanted=self.ami_kinds, only=self.translator.only
        )
        ws = None
        try:
            failed: list[Exception] = []
            try:
                await ami.connect()
            except AmiError as exc:
                failed.append(exc)
            self.connections["ami"] = not failed
            try:
                info = await self.ari.get("/asterisk/info")
                self.asterisk_version = info.get("system", {}).get("version")
                # Without AMI, ARI is only asked: an event stream opened and closed again
                # could let a channel enter Stasis and strand it there.
                if not failed:
                    ws = await self.ari.open_events([s.app])
                    # Every channel and bridge, not subscribeAll (see EVENT_SOURCES).
                    await self.ari.subscribe(s.app)
                self.connections["ari"] = True
            except AriError as exc:
                failed.append(exc)
                self.connections["ari"] = False
            for error in failed[:-1]:
                log.warning("%s: %s", self.name, explain(error, self.settings))
            if failed:
                raise failed[-1]
            assert ws is not None
            self.ami = ami
            self.control.reset()
            await self._resync(ami, publish)
            self.sessions += 1
            self.connected = True
            log.info(
                "asterisk: connected (session %d, Asterisk %s)",
                self.sessions,
                self.asterisk_version,
            )
            await self._pump(ami, ws)
        finally:
            self.ami = None
            if ws is not None:  # first: a channel entering Stasis now would be stranded
                await ws.close()
            await ami.close()

    async def _resync(self, ami: AmiClient, publish: Publish) -> None:
        """Queues, members and waiting callers from AMI; calls that vanished are closed."""
        status = await ami.action_list("QueueStatus")
        channels = await self.ari.get("/channels")
        still_there = {channel["id"] for channel in channels}
        for event in self.translator.lost_calls(
            still_there, utcnow(), "gone after reconnecting to Asterisk"
        ):
            self._emit(event)
        for message in status:  # a QueueEntry also tells app_queue's start of the wait
            self._publish_all(self.translator.translate(message))
        self._hand_on_waiting(channels)

    def _hand_on_waiting(self, channels: list[dict[str, Any]]) -> None:
        """Hand on the channels waiting in Medlytt's application that no feature heard of.

        A channel can enter the application while no Medlytt reads it: Medlytt stopping or
        restarting, or its WebSocket being replaced, just as a caller reaches a
        ``Stasis(medlytt,...)`` step.  Asterisk keeps such a channel waiting, silent, for
        ever.  At each connection, every channel found in the application whose entry this
        process has not handed on is treated as if it entered now: its feature takes it,
        or it goes back to the dialplan (an unclaimed role).  One that this process
        already handed on (a WebSocket that only blinked) stays with its feature.
        """
        waiting = {
            str(channel.get("id")): args
            for channel in channels
            if (args := _stasis_args(channel, self.settings.app)) is not None
        }
        self._announced &= waiting.keys()  # the others left the application meanwhile
        for channel in channels:
            args = waiting.get(str(channel.get("id")))
            if args is None or channel.get("id") in self._announced:
                continue
            log.info(
                "%s: channel %s was waiting in %s's Stasis application unheard; handing it on",
                self.name,
                channel.get("id"),
                self.settings.app,
            )
            self._channel_event(
                {
                    "type": "StasisStart",
                    "application": self.settings.app,
                    "args": args,
                    "channel": channel,
                }
            )

    async def _pump(self, ami: AmiClient, ws: Any) -> None:
        """Translate AMI events until either connection closes."""

        async def read_ami() -> None:
            async for message in ami.events():
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("AMI %s", message)
                self._publish_all(self.translator.translate(message))
            self.connections["ami"] = False
            raise AmiError("AMI connection closed by Asterisk")

        async def complete_overdue() -> None:
            while True:
                await asyncio.sleep(0.5)
                self._publish_all(self.translator.overdue_completions())

        async def read_ari() -> None:
            async for event in self.ari.iter_events(ws, self.reject):
                self._channel_event(event)
            self.connections["ari"] = False
            raise AriError("GET", "/events", None, "ARI WebSocket closed by Asterisk")

        tasks = [
            asyncio.create_task(read_ami()),
            asyncio.create_task(read_ari()),
            asyncio.create_task(complete_overdue()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _channel_event(self, message: dict[str, Any]) -> None:
        """Hand an ARI event to the features as a typed channel event, if it is one."""
        if message.get("type") in ("StasisEnd", "ChannelDestroyed"):
            # Whether or not the channel is a feature's: it left the application.
            channel = message.get("channel")
            if isinstance(channel, dict):
                self._announced.discard(str(channel.get("id")))
        event = self.control.translate(message)
        if event is None:
            return
        if isinstance(event, ChannelEntered):
            if event.channel in self._announced:
                return  # handed on at connection already (_hand_on_waiting)
            self._announced.add(event.channel)
        if isinstance(event, ChannelEntered) and not self.control.claimed(event.role):
            self._release(event)
            return
        self.publish_channel(event, self.control)

    def _release(self, event: ChannelEntered) -> None:
        log.warning(
            "asterisk: channel %s entered Stasis with role %r that no plugin handles; "
            "continuing it in the dialplan",
            event.channel,
            event.role,
        )

        async def release() -> None:
            try:
                await self.control.continue_in_dialplan(event.channel)
            except CallControlError as exc:
                log.warning("asterisk: could not continue %s: %s", event.channel, exc)

        task = asyncio.get_running_loop().create_task(release())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _emit(self, event: Event) -> None:
        """Hand one event to the core, its ids qualified when this is a named PBX."""
        assert self._publish is not None
        self._publish(self.qualifier.event(event) if self.qualifier else event)

    def _publish_all(self, events: list[Event]) -> None:
        for event in events:
            self._emit(event)
            if isinstance(event, CallQueued) and self.ami is not None:
                task = asyncio.get_running_loop().create_task(
                    self._learn_start(self.ami, event.queue)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            if isinstance(event, CallEnded) and event.agent_id and event.queue:
                self._schedule_wrap_up_end(event.agent_id, event.queue)

    async def _learn_start(self, ami: AmiClient, queue: str) -> None:
        """Ask app_queue when it started timing the callers of ``queue`` (see translator)."""
        try:
            self.translator.learn_start(await ami.action_list("QueueStatus", Queue=queue))
        except AmiError as exc:
            log.debug("asterisk: QueueStatus for %s failed: %s", queue, exc)

    def _schedule_wrap_up_end(self, agent_id: str, queue: str) -> None:
        seconds = self.translator.wrap_up_seconds(queue)
        agent = self.translator.agents.get(agent_id)
        if not seconds or agent is None or agent.state is not AgentState.WRAP_UP:
            return
        if agent_id in self._wrap_up_timers:
            self._wrap_up_timers.pop(agent_id).cancel()

        def done() -> None:
            self._wrap_up_timers.pop(agent_id, None)
            self._publish_all(self.translator.end_wrap_up(agent_id, utcnow()))

        self._wrap_up_timers[agent_id] = asyncio.get_running_loop().call_later(seconds, done)


def _stasis_args(channel: dict[str, Any], app: str) -> list[str] | None:
    """The arguments of the ``Stasis(app,...)`` a channel (from ARI's channel list) is
    waiting in, or None when it is not waiting in ``app``."""
    dialplan = channel.get("dialplan")
    if not isinstance(dialplan, dict) or dialplan.get("app_name") != "Stasis":
        return None
    data = dialplan.get("app_data")
    if not isinstance(data, str):
        return None
    name, *args = data.split(",")
    return args if name == app else None
