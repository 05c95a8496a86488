"""Listen, whisper and barge with Asterisk's snoop channels: the ARI choreography.

One monitoring session in Asterisk is:

* a **snoop** channel on the agent's side of the call (the queue member's channel), with
  ``spy=both`` (the supervisor hears caller and agent) and ``whisper`` set by the mode:
  ``none`` (listen), ``out`` (whisper: only the agent hears the supervisor) or ``both``
  (barge: caller and agent hear the supervisor);
* the **supervisor's leg**, originated to the supervisor's endpoint into Medlytt's Stasis
  application;
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

from medlytt.events import MonitorMode
from medlytt.gateways.asterisk.ari import AriClient, AriError

log = logging.getLogger(__name__)

WHISPER = {MonitorMode.LISTEN: "none", MonitorMode.WHISPER: "out", MonitorMode.BARGE: "both"}
PREFIX = "medlytt-mon-"
#: The announcement tone; distinct from the sandbox's test tones (440, 900-1800, 2000 Hz).
BEEP_HZ = 2600


class SupervisorUnreachable(RuntimeError):
    """The supervisor's endpoint could not be reached; ``reason`` is Asterisk's."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach supervisor endpoint {endpoint}: {reason}")


class SnoopSession:
    """The Asterisk objects of one monitoring session, and how to change and remove them."""

    def __init__(self, ari: AriClient, app_name: str, session_id: str, agent_channel: str) -> None:
        self.ari = ari
        self.app_name = app_name
        self.session_id = session_id
        self.agent_channel = agent_channel
        self.bridge_id = f"{PREFIX}{session_id}"
        self.supervisor_id = f"{PREFIX}{session_id}-sup"
        self.snoop_id: str | None = None
        self._snoops = 0
        self._answered: asyncio.Future[None] | None = None
        self._stasis: dict[str, asyncio.Future[None]] = {}

    # ------------------------------------------------------------------ set-up

    async def start(self, endpoint: str, mode: MonitorMode, timeout: float) -> None:
        """Create bridge, snoop and supervisor leg; on any failure remove them again."""
        loop = asyncio.get_running_loop()
        self._answered = loop.create_future()
        try:
            await self.ari.request(
                "POST",
                "/bridges",
                params={"type": "mixing", "bridgeId": self.bridge_id, "name": self.bridge_id},
                template="/bridges",
            )
            self.snoop_id = await self._add_snoop(mode)
            await self.ari.request(
                "POST",
                "/channels",
                params={
                    "endpoint": endpoint,
                    "app": self.app_name,
                    "appArgs": f"supervisor,{self.session_id}",
                    "channelId": self.supervisor_id,
                    "callerId": "Medlytt",
                    "timeout": int(timeout),
                },
                template="/channels",
            )
            try:
                await asyncio.wait_for(asyncio.shield(self._answered), timeout + 2)
            except TimeoutError:
                raise SupervisorUnreachable(endpoint, f"no answer within {timeout:g} s") from None
            await self._bridge_add([self.supervisor_id])
        except AriError as exc:
            await self.remove()
            if (
                exc.path.startswith("/channels")
                and exc.method == "POST"
                and "snoop" not in exc.path
            ):
                raise SupervisorUnreachable(endpoint, exc.reason) from exc
            raise
        except BaseException:
            await self.remove()
            raise

    async def _add_snoop(self, mode: MonitorMode) -> str:
        self._snoops += 1
        snoop_id = f"{PREFIX}{self.session_id}-snoop{self._snoops}"
        await self._snoop(snoop_id, "both", WHISPER[mode], "snoop")
        try:
            await self._bridge_add([snoop_id])
        except BaseException:
            await self._hang_up(snoop_id)
            raise
        return snoop_id

    async def _snoop(self, snoop_id: str, spy: str, whisper: str, role: str) -> None:
        """Create a snoop channel and wait until it is in Stasis (only then can it be bridged,
        played to or recorded: Asterisk answers 422 "Channel not in Stasis" before)."""
        entered = asyncio.get_running_loop().create_future()
        self._stasis[snoop_id] = entered
        try:
            await self.ari.request(
                "POST",
                f"/channels/{self.agent_channel}/snoop",
                params={
                    "spy": spy,
                    "whisper": whisper,
                    "app": self.app_name,
                    "appArgs": f"{role},{self.session_id}",
                    "snoopId": snoop_id,
                },
                template="/channels/{channelId}/snoop",
            )
            try:
                await asyncio.wait_for(entered, 5)
            except TimeoutError:
                await self._hang_up(snoop_id)
                raise AriError(
                    "POST",
                    f"/channels/{self.agent_channel}/snoop",
                    None,
                    "snoop channel did not enter Medlytt's Stasis application",
                ) from None
        finally:
            self._stasis.pop(snoop_id, None)

    async def _bridge_add(self, channels: list[str]) -> None:
        await self.ari.request(
            "POST",
            f"/bridges/{self.bridge_id}/addChannel",
            params={"channel": ",".join(channels)},
            template="/bridges/{bridgeId}/addChannel",
        )

    # ------------------------------------------------------------------ live changes

    async def change_mode(self, mode: MonitorMode) -> None:
        """Swap the snoop for one with the new whisper direction; the supervisor stays."""
        old = self.snoop_id
        self.snoop_id = await self._add_snoop(mode)
        if old is not None:
            await self._hang_up(old)

    def on_ari_event(self, event: dict[str, Any]) -> str | None:
        """Follow this session's channels; return why it ended, or None."""
        channel = (event.get("channel") or {}).get("id")
        kind = event.get("type")
        if kind == "StasisStart" and channel in self._stasis:
            if not self._stasis[channel].done():
                self._stasis[channel].set_result(None)
        elif kind == "StasisStart" and channel == self.supervisor_id:
            if self._answered is not None and not self._answered.done():
                self._answered.set_result(None)
        elif kind == "ChannelDestroyed" and channel == self.supervisor_id:
            reason = event.get("cause_txt") or "hung up"
            if self._answered is not None and not self._answered.done():
                self._answered.set_exception(SupervisorUnreachable("supervisor", reason))
                return None
            return "supervisor hung up"
        elif kind in ("ChannelDestroyed", "ChannelHangupRequest") and channel == self.agent_channel:
            return "call ended"
        return None

    # ------------------------------------------------------------------ announcement

    async def beep(self, seconds: float = 0.4) -> None:
        """Tell the agent monitoring starts: a short tone only the agent hears.

        A whisper-only snoop (``spy=none whisper=out``) carries a playback into the agent's
        ear; the caller hears nothing of it.
        """
        beeper = f"{PREFIX}{self.session_id}-beep"
        await self._snoop(beeper, "none", "out", "beep")
        try:
            await self.ari.request(
                "POST",
                f"/channels/{beeper}/play",
                params={"media": f"tone:{BEEP_HZ}/{int(seconds * 1000)}"},
                template="/channels/{channelId}/play",
            )
            await asyncio.sleep(seconds + 0.1)
        finally:
            await self._hang_up(beeper)

    # ------------------------------------------------------------------ tear-down

    async def remove(self) -> None:
        """Hang up the supervisor leg and the snoops, destroy the bridge; ignore what is gone."""
        for channel in (self.supervisor_id, self.snoop_id):
            if channel is not None:
                await self._hang_up(channel)
        with contextlib.suppress(AriError):
            await self.ari.request(
                "DELETE", f"/bridges/{self.bridge_id}", template="/bridges/{bridgeId}"
            )

    async def _hang_up(self, channel: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.request(
                "DELETE", f"/channels/{channel}", template="/channels/{channelId}"
            )
