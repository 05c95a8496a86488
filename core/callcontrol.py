"""The call-control port: the one way a plugin acts on calls in a telephone system.

Features that *act* on calls (monitoring, mystery calls, surveys, a third party's IVR)
never speak a PBX's protocol.  They use :class:`CallControl`, which a gateway implements
(the Asterisk gateway over ARI), and they hear back through typed :class:`ChannelEvent`
objects delivered to the ``medlytt_channel_event`` hook, through the plugin host like any
hook: a handler that raises or hangs is counted, timed out and switched off by its
plugin's circuit breaker, never by the gateway.

Vocabulary:

* A **channel** is one leg of a call (a phone, a trunk leg, a snoop).  Channels that
  Medlytt controls are *in control* (Asterisk: in Medlytt's Stasis application); only
  they can be played to, bridged or recorded.
* A channel enters control with a **role** (``"supervisor"``, ``"survey"``...) and
  arguments.  A plugin claims the roles it handles with :meth:`CallControl.claim`; a
  channel entering with a role that nobody claims is sent back to the dialplan at once,
  so no caller waits for a plugin that is not there.
* A **bridge** mixes the audio of the channels in it.
* A **snoop** is a channel that hears (``spy``) and/or speaks into (``whisper``) another
  channel; supervisors listen, whisper and barge through snoops.

Errors are typed: :class:`ChannelNotFound` (no such channel or bridge),
:class:`ChannelGone` (it went away while we acted), :class:`CallControlRefused` (the PBX
said no), :class:`CallControlTimeout` (no answer in time), :class:`Unsupported` (the
gateway lacks a capability) and :class:`Unavailable` (not connected).  A feature maps them
to HTTP with :func:`http_status`.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

import msgspec


class Capability(enum.StrEnum):
    """What a gateway's call control can do; a feature names the ones it needs."""

    ORIGINATE = "originate"  # place a new leg into Medlytt's control
    ANSWER = "answer"
    HANG_UP = "hang_up"
    CONTINUE = "continue"  # send a channel back to the dialplan
    PLAY = "play"  # play media (sounds, tones) to a channel
    SEND_DTMF = "send_dtmf"
    RECEIVE_DTMF = "receive_dtmf"
    RECORD = "record"  # record a channel, one side or both
    SNOOP = "snoop"  # spy and whisper on a channel: listen, whisper, barge
    BRIDGE = "bridge"  # mixing bridges
    VARIABLES = "variables"  # read and set channel variables
    TALK_DETECT = "talk_detect"  # talking started/stopped events per channel
    RING = "ring"  # indicate ringing to a channel in control
    CALL_LOOKUP = "call_lookup"  # find the agent's channel of a call in progress


ALL_CAPABILITIES = frozenset(Capability)


# --------------------------------------------------------------------------- errors


class CallControlError(RuntimeError):
    """Base of every call-control failure; ``what`` names the operation."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class ChannelNotFound(CallControlError):
    """The channel, bridge, playback or recording does not exist."""


class ChannelGone(CallControlError):
    """The channel went away while the operation ran (the caller hung up)."""


class CallControlRefused(CallControlError):
    """The PBX refused the operation (bad endpoint, channel not in control...)."""


class CallControlTimeout(CallControlError):
    """The PBX did not answer, or a channel did not enter control, in time."""


class Unavailable(CallControlError):
    """The gateway is not connected to its PBX right now."""


class Unsupported(CallControlError):
    """The gateway lacks a capability a feature needs (e.g. the demo cannot snoop)."""

    def __init__(self, pbx: str | None, missing: Iterable[Capability], feature: str = "") -> None:
        self.pbx = pbx
        self.missing = tuple(sorted(missing))
        needs = ", ".join(c.value for c in self.missing)
        who = feature or "this feature"
        if pbx is None:
            super().__init__(
                who,
                f"needs a PBX gateway with call control ({needs}), e.g. [asterisk] ari_url; "
                "none is running",
            )
        else:
            super().__init__(who, f"needs call control ({needs}), which gateway {pbx} lacks")


def http_status(error: CallControlError) -> int:
    """The HTTP status a route answers for a call-control error."""
    if isinstance(error, Unsupported | Unavailable):
        return 503
    if isinstance(error, ChannelNotFound | ChannelGone):
        return 409
    if isinstance(error, CallControlTimeout):
        return 504
    return 502


# --------------------------------------------------------------------------- events


class ChannelEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of what a gateway reports about channels in (or created by) Medlytt's control.

    Not domain events: they are not journaled or applied to the live state.  ``pbx`` is
    the gateway's name, ``channel`` the channel's id there.
    """

    at: datetime
    pbx: str
    channel: str

    @property
    def type(self) -> str:
        return self.__struct_config__.tag  # type: ignore[return-value]


class ChannelEntered(ChannelEvent, frozen=True, tag="channel.entered"):
    """A channel entered Medlytt's control with ``role`` and ``args`` (``args[0]`` is not
    the role: roles are separate).  ``caller`` is the caller number when known."""

    role: str
    args: tuple[str, ...] = ()
    caller: str | None = None
    name: str | None = None


class ChannelLeft(ChannelEvent, frozen=True, tag="channel.left"):
    """A channel left Medlytt's control or was destroyed (``destroyed``); ``cause`` is the
    hang-up cause code when known (16 normal, 17 busy, 18/19 no answer)."""

    destroyed: bool
    cause: int | None = None
    cause_text: str | None = None


class ChannelHangupRequested(ChannelEvent, frozen=True, tag="channel.hangup_requested"):
    """Someone asked the channel to hang up; it is going away."""


class ChannelStateChanged(ChannelEvent, frozen=True, tag="channel.state_changed"):
    """A channel's line state changed (``ringing``, ``up``, ``busy``, ``down``...)."""

    state: str


class DtmfReceived(ChannelEvent, frozen=True, tag="channel.dtmf"):
    """A key was pressed on a channel in control."""

    digit: str


class PlaybackFinished(ChannelEvent, frozen=True, tag="channel.playback_finished"):
    """A playback started with :meth:`CallControl.play` ended (``failed``: could not play)."""

    playback_id: str
    failed: bool = False
    media: str | None = None


class RecordingFinished(ChannelEvent, frozen=True, tag="channel.recording_finished"):
    """A recording of a channel ended (``failed``: nothing usable was written)."""

    name: str
    failed: bool = False


class TalkingStarted(ChannelEvent, frozen=True, tag="channel.talking_started"):
    """Somebody on the channel started talking (talk detection on)."""


class TalkingStopped(ChannelEvent, frozen=True, tag="channel.talking_stopped"):
    """Somebody on the channel stopped talking after ``duration_seconds``."""

    duration_seconds: float


CHANNEL_EVENT_TYPES: tuple[type[ChannelEvent], ...] = (
    ChannelEntered,
    ChannelLeft,
    ChannelHangupRequested,
    ChannelStateChanged,
    DtmfReceived,
    PlaybackFinished,
    RecordingFinished,
    TalkingStarted,
    TalkingStopped,
)


# --------------------------------------------------------------------------- the port


@dataclass(frozen=True)
class AgentLeg:
    """The agent's side of a call in progress: what supervisors snoop on."""

    call_id: str
    agent_id: str
    channel: str


Spy = Literal["none", "in", "out", "both"]


class Recording(abc.ABC):
    """A recording in progress; :meth:`finish` stops it and returns the audio."""

    @abc.abstractmethod
    async def finish(self) -> bytes | None:
        """Stop recording, fetch the audio (WAV) and remove it from the PBX; None if absent."""


class CallControl(abc.ABC):
    """What a gateway offers features to act on calls; every method may raise a
    :class:`CallControlError`.  Channel ids are the PBX's; ids a feature chooses for
    the objects it creates (``channel_id``, ``bridge_id``, ``playback_id``) should start
    with ``medlytt-<feature>-`` so leftovers can be found, and no id may be a prefix of
    another one created later (Asterisk finds channels by id prefix)."""

    #: The gateway's name (``"asterisk"``, ``"oslo"``): the ``pbx`` of its events.
    pbx: str
    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self) -> None:
        self._roles: set[str] = set()
        self._waiters: dict[str, asyncio.Future[ChannelEntered]] = {}
        #: Foreign channels whose events features asked for, with a count of watchers.
        self.watched: dict[str, int] = {}

    # ------------------------------------------------------------------ roles and waiting

    def claim(self, *roles: str) -> None:
        """Handle channels entering control with these roles (others are sent back)."""
        self._roles.update(roles)

    def claimed(self, role: str) -> bool:
        return role in self._roles

    def watch(self, channel_id: str) -> None:
        """Deliver the events of a channel that is not Medlytt's (e.g. the agent's leg of
        a monitored call: its hang-up ends the session).  Pair with :meth:`unwatch`."""
        self.watched[channel_id] = self.watched.get(channel_id, 0) + 1

    def unwatch(self, channel_id: str) -> None:
        count = self.watched.get(channel_id, 0) - 1
        if count > 0:
            self.watched[channel_id] = count
        else:
            self.watched.pop(channel_id, None)

    def require(self, *needed: Capability, feature: str = "") -> None:
        """Raise :class:`Unsupported` naming what is missing, :class:`Unavailable` when
        the gateway is not connected."""
        missing = set(needed) - self.capabilities
        if missing:
            raise Unsupported(self.pbx, missing, feature)
        if not self.connected:
            raise Unavailable(f"gateway {self.pbx}", "not connected to the PBX")

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while the PBX is reachable."""

    def expect_entry(self, channel_id: str) -> asyncio.Future[ChannelEntered]:
        """A future resolved when ``channel_id`` enters control.

        Ask *before* creating the channel (it may enter before the create call returns).
        Cancel the future, or let it resolve, to forget it.  This is the one way to wait
        for a channel: :meth:`snoop` and the gateway's own recorder use it too.
        """
        future: asyncio.Future[ChannelEntered] = asyncio.get_running_loop().create_future()
        self._waiters[channel_id] = future
        future.add_done_callback(lambda _: self._forget_waiter(channel_id, future))
        return future

    def _forget_waiter(self, channel_id: str, future: asyncio.Future[ChannelEntered]) -> None:
        if self._waiters.get(channel_id) is future:
            del self._waiters[channel_id]

    def entered(self, event: ChannelEntered) -> None:
        """Gateways call this for every :class:`ChannelEntered` before plugins see it."""
        waiter = self._waiters.get(event.channel)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    async def wait_entry(
        self, entered: asyncio.Future[ChannelEntered], channel_id: str, timeout: float
    ) -> ChannelEntered:
        """Await a future from :meth:`expect_entry`; on timeout hang the channel up and
        raise :class:`CallControlTimeout`."""
        try:
            return await asyncio.wait_for(entered, timeout)
        except TimeoutError:
            await self.hang_up(channel_id, missing_ok=True)
            raise CallControlTimeout(
                f"channel {channel_id}", f"did not enter Medlytt's control within {timeout:g} s"
            ) from None
        finally:
            entered.cancel()

    # ------------------------------------------------------------------ calls in progress

    def call_id(self, local_id: str) -> str:
        """Medlytt's id of a call the PBX names ``local_id`` (e.g. a linkedid passed by the
        dialplan as a Stasis argument): the same, or qualified with the PBX's name when
        several PBXs feed one Medlytt."""
        return local_id

    @abc.abstractmethod
    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        """The agent's side of the call the agent is on now (None: not on a call)."""

    @abc.abstractmethod
    def call_leg(self, call_id: str) -> AgentLeg | None:
        """The agent's side of an answered call in progress (None: not connected)."""

    @abc.abstractmethod
    async def channel_exists(self, channel_id: str) -> bool:
        """Whether the channel still exists in the PBX (a watchdog after lost events)."""

    # ------------------------------------------------------------------ channels

    @abc.abstractmethod
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
        """Dial ``endpoint``; when it answers, the new channel enters control with ``role``.

        Returns once the PBX accepted the request; use :meth:`expect_entry` (asked before)
        to wait for the answer, and :class:`ChannelLeft` for a failure to connect.
        """

    @abc.abstractmethod
    async def answer(self, channel_id: str) -> None: ...

    @abc.abstractmethod
    async def hang_up(self, channel_id: str, *, missing_ok: bool = False) -> None:
        """Hang a channel up; with ``missing_ok`` a channel already gone is no error."""

    @abc.abstractmethod
    async def continue_in_dialplan(self, channel_id: str) -> None:
        """Give the channel back to the PBX's dialplan where it entered control."""

    @abc.abstractmethod
    async def ring(self, channel_id: str, on: bool = True) -> None:
        """Indicate ringing to a channel in control (``on=False`` stops it)."""

    @abc.abstractmethod
    async def play(self, channel_id: str, media: str, *, playback_id: str) -> None:
        """Start playing ``media`` (``sound:...``, ``tone:...``); :class:`PlaybackFinished`
        with ``playback_id`` follows when it ends."""

    @abc.abstractmethod
    async def stop_playback(self, playback_id: str, *, missing_ok: bool = True) -> None: ...

    @abc.abstractmethod
    async def send_dtmf(self, channel_id: str, digits: str) -> None: ...

    @abc.abstractmethod
    async def get_variable(self, channel_id: str, name: str) -> str | None: ...

    @abc.abstractmethod
    async def set_variable(self, channel_id: str, name: str, value: str) -> None: ...

    @abc.abstractmethod
    async def talk_detect(self, channel_id: str, on: bool = True) -> None:
        """Switch talk detection on a channel (events :class:`TalkingStarted`/``Stopped``)."""

    # ------------------------------------------------------------------ snoops and bridges

    @abc.abstractmethod
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
        """Create a snoop on ``channel_id`` and wait until it is in control (only then can
        it be bridged or played to); on failure nothing is left behind."""

    @abc.abstractmethod
    async def create_bridge(self, bridge_id: str) -> None:
        """Create a mixing bridge."""

    @abc.abstractmethod
    async def add_to_bridge(self, bridge_id: str, *channel_ids: str) -> None: ...

    @abc.abstractmethod
    async def remove_from_bridge(self, bridge_id: str, *channel_ids: str) -> None: ...

    @abc.abstractmethod
    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = True) -> None: ...

    # ------------------------------------------------------------------ recording

    @abc.abstractmethod
    async def record(self, channel_id: str, *, name: str, both_sides: bool = True) -> Recording:
        """Start recording a channel: both directions (through a listen-only snoop that
        changes nothing on the call) or only what the channel hears from the PBX."""


class NoCallControl(CallControl):
    """The call control of a gateway that has none (the demo): every use is
    :class:`Unsupported`, naming the capability."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, pbx: str) -> None:
        super().__init__()
        self.pbx = pbx

    @property
    def connected(self) -> bool:
        return False

    def _no(self, capability: Capability) -> Unsupported:
        return Unsupported(self.pbx, [capability])

    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        raise self._no(Capability.CALL_LOOKUP)

    def call_leg(self, call_id: str) -> AgentLeg | None:
        raise self._no(Capability.CALL_LOOKUP)

    async def channel_exists(self, channel_id: str) -> bool:
        raise self._no(Capability.CALL_LOOKUP)

    async def originate(self, endpoint: str, **kwargs: object) -> None:
        raise self._no(Capability.ORIGINATE)

    async def answer(self, channel_id: str) -> None:
        raise self._no(Capability.ANSWER)

    async def hang_up(self, channel_id: str, *, missing_ok: bool = False) -> None:
        raise self._no(Capability.HANG_UP)

    async def continue_in_dialplan(self, channel_id: str) -> None:
        raise self._no(Capability.CONTINUE)

    async def ring(self, channel_id: str, on: bool = True) -> None:
        raise self._no(Capability.RING)

    async def play(self, channel_id: str, media: str, *, playback_id: str) -> None:
        raise self._no(Capability.PLAY)

    async def stop_playback(self, playback_id: str, *, missing_ok: bool = True) -> None:
        raise self._no(Capability.PLAY)

    async def send_dtmf(self, channel_id: str, digits: str) -> None:
        raise self._no(Capability.SEND_DTMF)

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        raise self._no(Capability.VARIABLES)

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        raise self._no(Capability.VARIABLES)

    async def talk_detect(self, channel_id: str, on: bool = True) -> None:
        raise self._no(Capability.TALK_DETECT)

    async def snoop(self, channel_id: str, **kwargs: object) -> None:
        raise self._no(Capability.SNOOP)

    async def create_bridge(self, bridge_id: str) -> None:
        raise self._no(Capability.BRIDGE)

    async def add_to_bridge(self, bridge_id: str, *channel_ids: str) -> None:
        raise self._no(Capability.BRIDGE)

    async def remove_from_bridge(self, bridge_id: str, *channel_ids: str) -> None:
        raise self._no(Capability.BRIDGE)

    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = True) -> None:
        raise self._no(Capability.BRIDGE)

    async def record(self, channel_id: str, *, name: str, both_sides: bool = True) -> Recording:
        raise self._no(Capability.RECORD)
