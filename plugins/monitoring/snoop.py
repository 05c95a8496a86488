"""Listen, whisper and barge with snoop channels, through the call-control port.

One monitoring session in the PBX is:

* a **snoop** channel on the agent's side of the call (the queue member's channel), with
  ``spy=both`` (the supervisor hears caller and agent) and ``whisper`` set by the mode:
  ``none`` (listen), ``out`` (whisper: only the agent hears the supervisor) or ``both``
  (barge: caller and agent hear the supervisor);
* the **supervisor's leg**, originated to the supervisor's endpoint into Medlytt's
  control (role ``supervisor``);
* a **mixing bridge** holding the two.

Switching mode creates a snoop with the new ``whisper``, adds it to the bridge and only
then removes the old one, so the supervisor's leg is never dropped.  Every object is
named ``medlytt-mon-<session>-...`` so leftovers can be found and removed, and every
failure on the way removes what was already created (nothing half-made stays in Asterisk).
Facts verified with tones: ../docs/monitoring.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from medlytt import (
    CallControl,
    CallControlError,
    CallControlTimeout,
    ChannelEvent,
    ChannelHangupRequested,
    ChannelLeft,
    PlaybackFinished,
)

from .events import MonitorMode

log = logging.getLogger(__name__)

WHISPER = {MonitorMode.LISTEN: "none", MonitorMode.WHISPER: "out", MonitorMode.BARGE: "both"}
PREFIX = "medlytt-mon-"
#: The announcement tone; distinct from the sandbox's test tones (440, 900-1800, 2000 Hz).
BEEP_HZ = 2600
#: How much longer than the tone itself the beep may take to report its end
#: (``PlaybackFinished``) before the beeper is hung up anyway: a loaded PBX starts it late.
BEEP_GRACE_SECONDS = 3.0


class SupervisorUnreachable(RuntimeError):
    """The supervisor's endpoint could not be reached; ``reason`` is the PBX's."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach supervisor endpoint {endpoint}: {reason}")


class SnoopSession:
    """The PBX objects of one monitoring session, and how to change and remove them."""

    def __init__(self, port: CallControl, session_id: str, agent_channel: str) -> None:
        self.port = port
        self.session_id = session_id
        self.agent_channel = agent_channel
        self.bridge_id = f"{PREFIX}{session_id}"
        self.supervisor_id = f"{PREFIX}{session_id}-sup"
        self.snoop_id: str | None = None
        self._snoops = 0
        self._supervisor_gone: asyncio.Future[str] | None = None
        self._watching = False
        self._beep_id = f"{PREFIX}{session_id}-beep-tone"
        self._beep_done: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ set-up

    async def start(self, endpoint: str, mode: MonitorMode, timeout: float) -> None:
        """Create bridge, snoop and supervisor leg; on any failure remove them again.

        The three are separate PBX objects, so they are asked for at once, and each
        channel joins the bridge as soon as it and the bridge are there: the snoop once
        in Medlytt's control, the supervisor once answered (listening begins when both
        are in).  The set-up takes as long as its slowest branch, not the sum of seven
        round trips one after the other.

        The error raised is the one the steps would give one after the other: the
        bridge's, else the snoop's, else the supervisor's.  On a failure no request that
        makes an object is cut off halfway: each runs to its end before everything is
        removed, so nothing made late is left in the PBX.
        """
        port = self.port
        # Until the set-up is done, the supervisor's leg going (also hung up by the
        # clean-up below) resolves this instead of ending a session that never began.
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._supervisor_gone = gone
        port.watch(self.agent_channel)
        self._watching = True
        answered = port.expect_entry(self.supervisor_id)
        self._snoops += 1
        snoop_id = self.snoop_id = f"{PREFIX}{self.session_id}-snoop{self._snoops}"
        # The supervisor answering takes longest: that request goes out first.
        dial = asyncio.ensure_future(self._dial(endpoint, timeout))
        snoop = asyncio.ensure_future(self._snoop(snoop_id, mode))
        bridge = asyncio.ensure_future(port.create_bridge(self.bridge_id))
        joins = [
            asyncio.ensure_future(self._join(snoop_id, bridge, snoop)),
            asyncio.ensure_future(
                self._join_answered(endpoint, timeout, answered, gone, bridge, dial)
            ),
        ]
        try:
            await asyncio.wait(joins, return_when=asyncio.FIRST_EXCEPTION)
            for join in joins:
                if join.done():  # both are, unless one failed: then this raises its error
                    join.result()
            if gone.done():  # answered, then hung up while the snoop was still joining
                raise SupervisorUnreachable(endpoint, gone.result())
            self._supervisor_gone = None  # set up: from now on a hang-up ends the session
        except BaseException as exc:
            for join in joins:
                join.cancel()  # a join only waits, or adds a channel the clean-up hangs up
            await _finish(bridge, snoop, dial, *joins)
            await self.remove()
            if isinstance(exc, Exception):  # not when the request itself was cancelled
                for step in (bridge, snoop):
                    error = None if step.cancelled() else step.exception()
                    if error is not None and error is not exc:
                        raise error from None
            raise
        finally:
            answered.cancel()

    async def _join(
        self, channel: str, bridge: asyncio.Future[None], made: asyncio.Future[None]
    ) -> None:
        """Add ``channel`` to the bridge once both are made."""
        await _settled(bridge, made)
        await self.port.add_to_bridge(self.bridge_id, channel)

    async def _join_answered(
        self,
        endpoint: str,
        timeout: float,
        answered: asyncio.Future[Any],
        gone: asyncio.Future[str],
        bridge: asyncio.Future[None],
        dial: asyncio.Future[None],
    ) -> None:
        """Add the supervisor's leg to the bridge once it answered."""
        await _settled(dial)
        waiters: list[asyncio.Future[Any]] = [answered, gone]
        done, _ = await asyncio.wait(
            waiters, timeout=timeout + 2, return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            raise SupervisorUnreachable(endpoint, f"no answer within {timeout:g} s")
        if gone in done:
            raise SupervisorUnreachable(endpoint, gone.result())
        await _settled(bridge)
        await self.port.add_to_bridge(self.bridge_id, self.supervisor_id)

    async def _dial(self, endpoint: str, timeout: float) -> None:
        """Call the supervisor's endpoint into Medlytt's control (answered: an entry)."""
        try:
            await self.port.originate(
                endpoint,
                role="supervisor",
                args=[self.session_id],
                channel_id=self.supervisor_id,
                caller_id="Medlytt",
                timeout=timeout,
            )
        except CallControlTimeout:
            raise  # ARI did not answer in time: nothing is known of the endpoint
        except CallControlError as exc:
            raise SupervisorUnreachable(endpoint, exc.reason) from exc

    async def _snoop(self, snoop_id: str, mode: MonitorMode) -> None:
        await self.port.snoop(
            self.agent_channel,
            snoop_id=snoop_id,
            role="snoop",
            args=[self.session_id],
            spy="both",
            whisper=WHISPER[mode],  # type: ignore[arg-type]
        )

    async def _add_snoop(self, mode: MonitorMode) -> str:
        self._snoops += 1
        snoop_id = f"{PREFIX}{self.session_id}-snoop{self._snoops}"
        try:
            await self._snoop(snoop_id, mode)
            await self.port.add_to_bridge(self.bridge_id, snoop_id)
        except BaseException:
            # Also when the snoop request failed: an answer that came too late may still
            # have made the channel.
            await self._hang_up(snoop_id)
            raise
        return snoop_id

    # ------------------------------------------------------------------ live changes

    async def change_mode(self, mode: MonitorMode) -> None:
        """Swap the snoop for one with the new whisper direction; the supervisor stays."""
        old = self.snoop_id
        self.snoop_id = await self._add_snoop(mode)
        if old is not None:
            await self._hang_up(old)

    def on_channel_event(self, event: ChannelEvent) -> str | None:
        """Follow this session's channels; return why it ended, or None."""
        channel = event.channel
        if isinstance(event, PlaybackFinished):
            done = self._beep_done
            if done is not None and not done.done() and event.playback_id == self._beep_id:
                done.set_result(None)
            return None
        if isinstance(event, ChannelLeft) and event.destroyed and channel == self.supervisor_id:
            gone = self._supervisor_gone
            if gone is not None and not gone.done():
                gone.set_result(event.cause_text or "hung up")
                return None
            return "supervisor hung up"
        if channel == self.agent_channel and (
            isinstance(event, ChannelHangupRequested)
            or (isinstance(event, ChannelLeft) and event.destroyed)
        ):
            return "call ended"
        return None

    # ------------------------------------------------------------------ announcement

    async def beep(self, seconds: float = 0.4) -> None:
        """Tell the agent monitoring starts: a short tone only the agent hears.

        A whisper-only snoop (``spy=none whisper=out``) carries a playback into the agent's
        ear; the caller hears nothing of it.  The beeper is hung up when the playback says
        it ended (:class:`PlaybackFinished`, fed in by :meth:`on_channel_event`), not after
        a fixed time: a loaded PBX may start the tone late, and hanging up on a clock would
        cut it short.  Should that event never come, the beeper goes after
        :data:`BEEP_GRACE_SECONDS` more than the tone.
        """
        beeper = f"{PREFIX}{self.session_id}-beep"
        # Waiting from before the request: the playback may end before play() returns.
        done = self._beep_done = asyncio.get_running_loop().create_future()
        try:
            await self.port.snoop(
                self.agent_channel,
                snoop_id=beeper,
                role="beep",
                args=[self.session_id],
                spy="none",
                whisper="out",
            )
            await self.port.play(
                beeper, f"tone:{BEEP_HZ}/{int(seconds * 1000)}", playback_id=self._beep_id
            )
            try:
                await asyncio.wait_for(done, seconds + BEEP_GRACE_SECONDS)
            except TimeoutError:
                log.info(
                    "monitoring %s: no end of the beep within %g s; hanging up the beeper",
                    self.session_id,
                    seconds + BEEP_GRACE_SECONDS,
                )
        finally:
            self._beep_done = None
            await self._hang_up(beeper)

    # ------------------------------------------------------------------ tear-down

    async def remove(self) -> None:
        """Hang up the supervisor leg and the snoops, destroy the bridge; ignore what is gone."""
        for channel in (self.supervisor_id, self.snoop_id):
            if channel is not None:
                await self._hang_up(channel)
        with contextlib.suppress(CallControlError):
            await self.port.destroy_bridge(self.bridge_id)
        if self._watching:
            self._watching = False
            self.port.unwatch(self.agent_channel)

    async def _hang_up(self, channel: str) -> None:
        with contextlib.suppress(CallControlError):
            await self.port.hang_up(channel, missing_ok=True)


async def _finish(*steps: asyncio.Future[Any]) -> None:
    """Wait until every step has ended, whatever its outcome (errors are retrieved, so
    none is logged as "never retrieved")."""
    await asyncio.wait(steps)
    for step in steps:
        if not step.cancelled():
            step.exception()


async def _settled(*steps: asyncio.Future[None]) -> None:
    """Wait until every step has ended; then raise the first one's error, in the order
    given, if any failed.

    No step is cancelled because another failed: a request cut off halfway may still
    make its object in the PBX after the clean-up looked for it.
    """
    try:
        await asyncio.wait(steps)
    finally:
        for step in steps:
            if step.done() and not step.cancelled():
                step.exception()  # retrieved: an error after the first is not "never retrieved"
    for step in steps:
        step.result()
