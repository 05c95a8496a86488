"""Record both directions of one channel through a listen-only snoop.

Recording a channel directly captures only what it reads, and ARI runs a channel's
recording and playbacks one after the other (a recording would block a scripted caller's
prompts).  A snoop with ``spy=both whisper=none`` hears both directions and changes nothing
on the call, so the recorder never disturbs what it records.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .ari import AriError

if TYPE_CHECKING:
    from .gateway import AsteriskGateway

#: The Stasis role of a recorder's snoop channel (claimed by every feature that records).
ROLE = "recorder"


class ChannelRecorder:
    """One recording of ``channel`` named ``name`` (also the snoop's id prefix)."""

    def __init__(self, gateway: AsteriskGateway, channel: str, name: str) -> None:
        self.gateway = gateway
        self.ari = gateway.ari
        self.channel = channel
        self.name = name
        self.snoop_id = f"{name}-rec"
        self.started = False

    async def start(self) -> None:
        """Create the snoop, wait until it is in Stasis, start recording it."""
        entered = self.gateway.expect_stasis(self.snoop_id)
        try:
            await self.ari.request(
                "POST",
                f"/channels/{self.channel}/snoop",
                params={
                    "spy": "both",
                    "whisper": "none",
                    "app": self.gateway.settings.app,
                    "appArgs": f"{ROLE},{self.name}",
                    "snoopId": self.snoop_id,
                },
                template="/channels/{channelId}/snoop",
            )
            try:
                await asyncio.wait_for(entered, 5)
            except TimeoutError:
                await self._hang_up()
                raise AriError(
                    "POST", f"/channels/{self.channel}/snoop", None, "snoop did not enter Stasis"
                ) from None
        finally:
            entered.cancel()
        try:
            await self.ari.request(
                "POST",
                f"/channels/{self.snoop_id}/record",
                params={
                    "name": self.name,
                    "format": "wav",
                    "ifExists": "overwrite",
                    "maxDurationSeconds": 0,
                    "terminateOn": "none",
                },
                template="/channels/{channelId}/record",
            )
        except BaseException:
            await self._hang_up()
            raise
        self.started = True

    async def finish(self) -> bytes | None:
        """Stop recording, fetch the file from Asterisk and delete it there (None if absent)."""
        if not self.started:
            return None
        self.started = False
        with contextlib.suppress(AriError):  # already finished when the channel went away
            await self.ari.request(
                "POST",
                f"/recordings/live/{self.name}/stop",
                template="/recordings/live/{recordingName}/stop",
            )
        await self._hang_up()
        data = None
        for _ in range(20):  # the file is complete a moment after the recording stops
            try:
                data = await self.ari.get_bytes(
                    f"/recordings/stored/{self.name}/file",
                    template="/recordings/stored/{recordingName}/file",
                )
                break
            except AriError as exc:
                if exc.status != 404:
                    raise
                await asyncio.sleep(0.1)
        with contextlib.suppress(AriError):
            await self.ari.request(
                "DELETE",
                f"/recordings/stored/{self.name}",
                template="/recordings/stored/{recordingName}",
            )
        return data

    async def _hang_up(self) -> None:
        with contextlib.suppress(AriError):
            await self.ari.request(
                "DELETE", f"/channels/{self.snoop_id}", template="/channels/{channelId}"
            )
