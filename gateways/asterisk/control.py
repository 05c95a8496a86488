"""The call-control port over ARI: what features ask of Asterisk, and what comes back.

Requests: every method of :class:`medlytt.CallControl` is one or a few ARI requests, with
Asterisk's errors mapped to the port's typed errors (404 → not found, 409/422 → refused,
no answer → timeout, unreachable → unavailable).

Events: the gateway hands every ARI event to :meth:`AriCallControl.translate`, which
turns the ones about Medlytt's channels into typed channel events.  "Medlytt's channels"
are those whose id starts with ``medlytt-`` (the features create them), those in control
(in the Stasis application, from ``StasisStart`` until destroyed) and those a feature
watches (the agent's leg of a monitored call).  Everything else (every other channel in
the PBX: the application hears every channel) stops here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from medlytt import (
    AgentLeg,
    CallControl,
    CallControlError,
    CallControlRefused,
    CallControlTimeout,
    ChannelEntered,
    ChannelEvent,
    ChannelGone,
    ChannelHangupRequested,
    ChannelLeft,
    ChannelNotFound,
    ChannelStateChanged,
    DtmfReceived,
    PlaybackFinished,
    Recording,
    RecordingFinished,
    Spy,
    TalkingStarted,
    TalkingStopped,
    Unavailable,
    utcnow,
)

from .ari import AriClient, AriError
from .malformed import Malformed

if TYPE_CHECKING:
    from .gateway import AsteriskGateway

log = logging.getLogger(__name__)

#: Ids of the objects Medlytt's features create start with this.
OWN_PREFIX = "medlytt-"
#: The Stasis role of the recorder's listen-only snoop (claimed by the gateway itself).
RECORDER_ROLE = "recorder"


def control_error(exc: AriError, what: str) -> CallControlError:
    """The port's error for an ARI failure."""
    if exc.status == 404:
        return ChannelNotFound(what, exc.reason)
    if exc.status in (409, 422) and "not in Stasis" in exc.reason:
        return ChannelGone(what, exc.reason)
    if exc.status is None:
        if "no answer" in exc.reason:
            return CallControlTimeout(what, exc.reason)
        return Unavailable(what, exc.reason)
    return CallControlRefused(what, f"{exc.status} {exc.reason}")


class AriCallControl(CallControl):
    """:class:`medlytt.CallControl` for one Asterisk, over its ARI connection."""

    def __init__(self, gateway: AsteriskGateway) -> None:
        super().__init__()
        self.gateway = gateway
        self.pbx = gateway.name
        self.app_name = gateway.settings.app
        self.claim(RECORDER_ROLE)
        #: Channels in Medlytt's Stasis application (until they are destroyed).
        self.in_control: set[str] = set()

    @property
    def ari(self) -> AriClient:
        return self.gateway.ari

    @property
    def connected(self) -> bool:
        return self.gateway.connected

    async def _call(
        self,
        method: str,
        path: str,
        template: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        missing_ok: bool = False,
        leaving_ok: bool = False,
    ) -> Any:
        """One ARI request; ``missing_ok``: a 404 is success; ``leaving_ok`` too: so is
        "not in Stasis application" (the object is being torn down by Asterisk)."""
        try:
            return await self.ari.request(method, path, params=params, body=body, template=template)
        except AriError as exc:
            error = control_error(exc, what)
            if missing_ok and isinstance(error, ChannelNotFound):
                return None
            if leaving_ok and isinstance(error, ChannelGone):
                return None
            raise error from None

    def _ours(self, channel_id: str) -> bool:
        return (
            channel_id.startswith(OWN_PREFIX)
            or channel_id in self.in_control
            or channel_id in self.watched
        )

    # ------------------------------------------------------------------ events

    def translate(self, event: dict[str, Any]) -> ChannelEvent | None:
        """The typed channel event of one ARI event, or None when it is not for features.

        An event of a kind features use that lacks what it needs (a ``channel`` object with
        an ``id``, a ``duration`` that is a number, ``args`` that are a list of strings...)
        is rejected through the gateway and gives None: nothing is guessed or changed.
        """
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            self.gateway.reject("ARI event", "no type")
            return None
        if kind not in CHANNEL_EVENT_KINDS:
            return None  # not a kind features use
        try:
            return self._translate(kind, event)
        except Malformed as exc:
            self.gateway.reject(f"ARI {kind}", str(exc))
            return None

    def _translate(self, kind: str, event: dict[str, Any]) -> ChannelEvent | None:
        at = _when(event)
        if kind in ("PlaybackFinished", "PlaybackFailed"):
            playback = _object(event, "playback")
            playback_id = _text(playback, "id")
            channel = (_optional_text(playback, "target_uri") or "").partition(":")[2]
            media = _optional_text(playback, "media_uri")
            state = _optional_text(playback, "state")
            if not (playback_id.startswith(OWN_PREFIX) or self._ours(channel)):
                return None
            return PlaybackFinished(
                at=at,
                pbx=self.pbx,
                channel=channel,
                playback_id=playback_id,
                failed=kind == "PlaybackFailed" or state == "failed",
                media=media,
            )
        if kind in ("RecordingFinished", "RecordingFailed"):
            recording = _object(event, "recording")
            channel = (_optional_text(recording, "target_uri") or "").partition(":")[2]
            name = _text(recording, "name")
            if not self._ours(channel):
                return None
            return RecordingFinished(
                at=at,
                pbx=self.pbx,
                channel=channel,
                name=name,
                failed=kind == "RecordingFailed",
            )
        channel_data = _object(event, "channel")
        channel = _text(channel_data, "id")
        if kind == "StasisStart":
            args = event.get("args", [])
            if not isinstance(args, list) or not all(_is_text(a) for a in args):
                raise Malformed("args is not a list of strings")
            caller = channel_data.get("caller", {})
            if not isinstance(caller, dict):
                raise Malformed("caller is not an object")
            entered = ChannelEntered(
                at=at,
                pbx=self.pbx,
                channel=channel,
                role=args[0] if args else "",
                args=tuple(args[1:]),
                caller=_optional_text(caller, "number") or None,
                name=_optional_text(channel_data, "name"),
            )
            self.in_control.add(channel)
            self.entered(entered)
            return entered
        if kind == "ChannelDestroyed":
            cause = event.get("cause")
            if cause is not None and type(cause) is not int:  # bool is an int, but no cause
                raise Malformed("cause is not a whole number")
            cause_text = _optional_text(event, "cause_txt")
            if not self._ours(channel):
                return None
            self.in_control.discard(channel)
            return ChannelLeft(
                at=at,
                pbx=self.pbx,
                channel=channel,
                destroyed=True,
                cause=cause,
                cause_text=cause_text,
            )
        if kind == "ChannelStateChange":
            state = _text(channel_data, "state").lower()
            return self._if_ours(
                ChannelStateChanged(at=at, pbx=self.pbx, channel=channel, state=state)
            )
        if kind == "ChannelDtmfReceived":
            digit = _text(event, "digit")
            if len(digit) != 1:
                raise Malformed("digit is not one key")
            return self._if_ours(DtmfReceived(at=at, pbx=self.pbx, channel=channel, digit=digit))
        if kind == "ChannelTalkingFinished":
            duration = event.get("duration")
            if not (isinstance(duration, int | float) and not isinstance(duration, bool)):
                raise Malformed("duration is not a number")
            if not 0 <= duration < math.inf:  # also false for NaN (JSON allows it here)
                raise Malformed("duration is out of range")
            return self._if_ours(
                TalkingStopped(
                    at=at, pbx=self.pbx, channel=channel, duration_seconds=duration / 1000
                )
            )
        if kind == "StasisEnd":
            return self._if_ours(ChannelLeft(at=at, pbx=self.pbx, channel=channel, destroyed=False))
        if kind == "ChannelHangupRequest":
            return self._if_ours(ChannelHangupRequested(at=at, pbx=self.pbx, channel=channel))
        return self._if_ours(TalkingStarted(at=at, pbx=self.pbx, channel=channel))  # the last kind

    def _if_ours(self, event: ChannelEvent) -> ChannelEvent | None:
        return event if self._ours(event.channel) else None

    def reset(self) -> None:
        """A new ARI session: what was in control before is not any more."""
        self.in_control.clear()

    # ------------------------------------------------------------------ calls in progress

    def _local(self, value: str) -> str | None:
        """The PBX's own id of an id as Medlytt knows it (qualified for a named PBX)."""
        qualifier = self.gateway.qualifier
        return value if qualifier is None else qualifier.local(value)

    def call_id(self, local_id: str) -> str:
        qualifier = self.gateway.qualifier
        return local_id if qualifier is None else qualifier.id(local_id)

    def _leg(self, entry: Any) -> AgentLeg:
        qualifier = self.gateway.qualifier
        call_id, agent_id = entry.call_id, entry.answered_by or ""
        if qualifier is not None:
            call_id, agent_id = qualifier.id(call_id), qualifier.id(agent_id)
        return AgentLeg(call_id, agent_id, entry.agent_uniqueid)

    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        local = self._local(agent_id)
        for entry in self.gateway.translator.entries.values():
            if entry.answered_by == local and not entry.done and entry.agent_uniqueid:
                return self._leg(entry)
        return None

    def call_leg(self, call_id: str) -> AgentLeg | None:
        local = self._local(call_id)
        for entry in self.gateway.translator.entries.values():
            if entry.call_id == local and not entry.done and entry.agent_uniqueid:
                return self._leg(entry)
        return None

    async def channel_exists(self, channel_id: str) -> bool:
        found = await self._call(
            "GET",
            f"/channels/{channel_id}",
            "/channels/{channelId}",
            f"look up channel {channel_id}",
            missing_ok=True,
        )
        return found is not None

    # ------------------------------------------------------------------ channels

    async def originate(
        self,
        endpoint: str,
        *,
        role: str,
        args: Sequence[str] = (),
        channel_id: str,
        caller_id: str | None = None,
        timeout: float = 30,
        variables: dict[str, str] | None = None,
    ) -> None:
        await self._call(
            "POST",
            "/channels",
            "/channels",
            f"dial {endpoint}",
            params={
                "endpoint": endpoint,
                "app": self.app_name,
                "appArgs": ",".join([role, *args]),
                "channelId": channel_id,
                "callerId": caller_id,
                "timeout": int(timeout),
            },
            body={"variables": variables} if variables else None,
        )

    async def answer(self, channel_id: str) -> None:
        await self._call(
            "POST",
            f"/channels/{channel_id}/answer",
            "/channels/{channelId}/answer",
            f"answer {channel_id}",
        )

    async def hang_up(self, channel_id: str, *, missing_ok: bool = False) -> None:
        await self._call(
            "DELETE",
            f"/channels/{channel_id}",
            "/channels/{channelId}",
            f"hang up {channel_id}",
            missing_ok=missing_ok,
        )

    async def continue_in_dialplan(self, channel_id: str) -> None:
        await self._call(
            "POST",
            f"/channels/{channel_id}/continue",
            "/channels/{channelId}/continue",
            f"continue {channel_id} in the dialplan",
        )

    async def ring(self, channel_id: str, on: bool = True) -> None:
        await self._call(
            "POST" if on else "DELETE",
            f"/channels/{channel_id}/ring",
            "/channels/{channelId}/ring",
            f"ring {channel_id}",
            missing_ok=not on,
        )

    async def play(self, channel_id: str, media: str, *, playback_id: str) -> None:
        await self._call(
            "POST",
            f"/channels/{channel_id}/play",
            "/channels/{channelId}/play",
            f"play {media} to {channel_id}",
            params={"media": media, "playbackId": playback_id},
        )

    async def stop_playback(self, playback_id: str, *, missing_ok: bool = True) -> None:
        await self._call(
            "DELETE",
            f"/playbacks/{playback_id}",
            "/playbacks/{playbackId}",
            f"stop playback {playback_id}",
            missing_ok=missing_ok,
        )

    async def send_dtmf(self, channel_id: str, digits: str) -> None:
        await self._call(
            "POST",
            f"/channels/{channel_id}/dtmf",
            "/channels/{channelId}/dtmf",
            f"send DTMF to {channel_id}",
            params={"dtmf": digits},
        )

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        try:
            found = await self._call(
                "GET",
                f"/channels/{channel_id}/variable",
                "/channels/{channelId}/variable",
                f"read {name} of {channel_id}",
                params={"variable": name},
            )
        except ChannelNotFound:
            if await self.channel_exists(channel_id):
                return None  # Asterisk answers 404 for a variable that is not set
            raise
        return None if found is None else found.get("value")

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self._call(
            "POST",
            f"/channels/{channel_id}/variable",
            "/channels/{channelId}/variable",
            f"set {name} on {channel_id}",
            params={"variable": name, "value": value},
        )

    async def talk_detect(self, channel_id: str, on: bool = True) -> None:
        if on:
            await self.set_variable(channel_id, "TALK_DETECT(set)", "")
        else:
            await self.set_variable(channel_id, "TALK_DETECT(remove)", "")

    # ------------------------------------------------------------------ snoops and bridges

    async def snoop(
        self,
        channel_id: str,
        *,
        snoop_id: str,
        role: str,
        args: Sequence[str] = (),
        spy: Spy = "both",
        whisper: Spy = "none",
        timeout: float = 5,
    ) -> None:
        entered = self.expect_entry(snoop_id)
        try:
            await self._call(
                "POST",
                f"/channels/{channel_id}/snoop",
                "/channels/{channelId}/snoop",
                f"snoop on {channel_id}",
                params={
                    "spy": spy,
                    "whisper": whisper,
                    "app": self.app_name,
                    "appArgs": ",".join([role, *args]),
                    "snoopId": snoop_id,
                },
            )
        except BaseException:
            entered.cancel()
            raise
        await self.wait_entry(entered, snoop_id, timeout)

    async def create_bridge(self, bridge_id: str) -> None:
        await self._call(
            "POST",
            "/bridges",
            "/bridges",
            f"create bridge {bridge_id}",
            params={"type": "mixing", "bridgeId": bridge_id, "name": bridge_id},
        )

    async def add_to_bridge(self, bridge_id: str, *channel_ids: str) -> None:
        await self._call(
            "POST",
            f"/bridges/{bridge_id}/addChannel",
            "/bridges/{bridgeId}/addChannel",
            f"add {', '.join(channel_ids)} to bridge {bridge_id}",
            params={"channel": ",".join(channel_ids)},
        )

    async def remove_from_bridge(self, bridge_id: str, *channel_ids: str) -> None:
        await self._call(
            "POST",
            f"/bridges/{bridge_id}/removeChannel",
            "/bridges/{bridgeId}/removeChannel",
            f"remove {', '.join(channel_ids)} from bridge {bridge_id}",
            params={"channel": ",".join(channel_ids)},
        )

    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = True) -> None:
        await self._call(
            "DELETE",
            f"/bridges/{bridge_id}",
            "/bridges/{bridgeId}",
            f"destroy bridge {bridge_id}",
            missing_ok=missing_ok,
            # Asterisk destroys a bridge asynchronously: asked again at once, a bridge on its
            # way out answers 422 "Bridge not in Stasis application" instead of 404.
            leaving_ok=missing_ok,
        )

    # ------------------------------------------------------------------ recording

    async def record(self, channel_id: str, *, name: str, both_sides: bool = True) -> Recording:
        recording = AriRecording(self, channel_id, name, both_sides)
        await recording.start()
        return recording


class AriRecording(Recording):
    """One recording of a channel, by name.

    Both sides: recording a channel directly captures only what it reads, and ARI runs a
    channel's recording and playbacks one after the other (a recording would block a
    scripted caller's prompts).  A snoop with ``spy=both whisper=none`` hears both
    directions and changes nothing on the call, so the recorder never disturbs what it
    records.
    """

    def __init__(self, port: AriCallControl, channel: str, name: str, both_sides: bool) -> None:
        self.port = port
        self.channel = channel
        self.name = name
        self.snoop_id = f"{name}-rec" if both_sides else None
        self.started = False

    async def start(self) -> None:
        target = self.channel
        try:
            if self.snoop_id is not None:
                # In the try: a snoop whose answer came too late may still have been made.
                await self.port.snoop(
                    self.channel, snoop_id=self.snoop_id, role=RECORDER_ROLE, args=[self.name]
                )
                target = self.snoop_id
            await self.port._call(
                "POST",
                f"/channels/{target}/record",
                "/channels/{channelId}/record",
                f"record {self.channel}",
                params={
                    "name": self.name,
                    "format": "wav",
                    "ifExists": "overwrite",
                    "maxDurationSeconds": 0,
                    "terminateOn": "none",
                },
            )
        except BaseException:
            await self._hang_up_snoop()
            raise
        self.started = True

    async def finish(self) -> bytes | None:
        if not self.started:
            return None
        self.started = False
        port = self.port
        with contextlib.suppress(CallControlError):  # finished already when the channel went
            await port._call(
                "POST",
                f"/recordings/live/{self.name}/stop",
                "/recordings/live/{recordingName}/stop",
                f"stop recording {self.name}",
            )
        await self._hang_up_snoop()
        data = None
        for _ in range(30):  # the file is complete a moment after the recording stops
            try:
                data = await port.ari.get_bytes(
                    f"/recordings/stored/{self.name}/file",
                    template="/recordings/stored/{recordingName}/file",
                )
                if _complete_wav(data):
                    break
            except AriError as exc:
                if exc.status != 404:
                    raise control_error(exc, f"fetch recording {self.name}") from None
            await asyncio.sleep(0.1)
        with contextlib.suppress(CallControlError):
            await port._call(
                "DELETE",
                f"/recordings/stored/{self.name}",
                "/recordings/stored/{recordingName}",
                f"delete recording {self.name}",
            )
        return data

    async def _hang_up_snoop(self) -> None:
        if self.snoop_id is not None:
            with contextlib.suppress(CallControlError):
                await self.port.hang_up(self.snoop_id, missing_ok=True)


#: The ARI event types :meth:`AriCallControl.translate` turns into channel events.
CHANNEL_EVENT_KINDS = frozenset(
    {
        "PlaybackFinished",
        "PlaybackFailed",
        "RecordingFinished",
        "RecordingFailed",
        "StasisStart",
        "StasisEnd",
        "ChannelDestroyed",
        "ChannelHangupRequest",
        "ChannelStateChange",
        "ChannelDtmfReceived",
        "ChannelTalkingStarted",
        "ChannelTalkingFinished",
    }
)


def _complete_wav(data: bytes) -> bool:
    """Whether Asterisk finished writing a WAV file: its header is there and says how
    much data follows (it writes the sizes when the recording is closed)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    return int.from_bytes(data[4:8], "little") + 8 == len(data)


def _when(event: dict[str, Any]) -> datetime:
    """The event's ``timestamp`` (ISO 8601 with an offset), or now when it has none."""
    stamp = event.get("timestamp")
    if stamp is None:
        return utcnow()
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(stamp)
            if at.utcoffset() is not None:
                return at
    raise Malformed("timestamp is not a time with an offset")


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"{key} is not an object")
    return value


def _is_text(value: object) -> bool:
    """A string that is text: JSON can also escape a lone surrogate, which no file,
    database or log line can hold."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(data: dict[str, Any], key: str) -> str:
    """A string field that must be there and not be empty."""
    value = data.get(key)
    if value is None or value == "":
        raise Malformed(f"no {key}")
    if not _is_text(value):
        raise Malformed(f"{key} is not a string")
    return value


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    """A string field that may be left out (or null)."""
    value = data.get(key)
    if value is not None and not _is_text(value):
        raise Malformed(f"{key} is not a string")
    return value


ChannelSink = Callable[[ChannelEvent, CallControl], None]
