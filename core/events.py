"""The domain events every gateway produces and every plugin consumes.

Events are Medlytt's own vocabulary, independent of any PBX's wire format: Asterisk's JSON
stops inside ``medlytt.gateways.asterisk`` and the simulator speaks the same language.
Each event is an immutable ``msgspec.Struct`` with

* ``at``: when it happened, an aware UTC datetime taken from the source where it has one;
* ``source``: which gateway or plugin produced it (``"asterisk"``, ``"demo"``, ``"monitoring"``);
* stable ids: ``call_id`` (one id for the call across all its channels), ``agent_id`` (the
  queue member interface, e.g. ``PJSIP/1001``), ``queue`` (the queue's name).

Every event has a ``type`` tag (``"call.answered"``...) used in the journal, the API and
metrics.  ``decode_event`` turns journal JSON back into the typed event.  The event
catalogue in ``docs/events.md`` is generated from the docstrings below.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, Union, get_args

import msgspec


class AgentState(enum.StrEnum):
    """What an agent is doing, as supervisors and queue metrics see it."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


HungUpBy = Literal["caller", "agent", "system", "unknown"]
Leg = Literal["caller", "agent", "supervisor", "other"]


# Each subclass repeats ``frozen=True``: msgspec inherits it at run time, but type checkers
# read ``Struct`` through PEP 681's ``dataclass_transform``, where every class states its own.
class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of all events: when it happened and who reported it."""

    at: datetime
    source: str

    @property
    def type(self) -> str:
        """The event's type tag, e.g. ``"call.answered"``."""
        return self.__struct_config__.tag  # type: ignore[return-value]


# --------------------------------------------------------------------------- queues


class QueueConfigured(Event, frozen=True, tag="queue.configured"):
    """A queue exists, or its settings changed; sent by a gateway at start and on change.

    ``service_level_seconds`` is the queue's answer-time target (Asterisk's
    ``servicelevel``); ``max_wait_seconds`` is how long a caller may wait before the call
    leaves the queue on timeout (``None`` when unlimited).
    """

    queue: str
    strategy: str = "unknown"
    service_level_seconds: float | None = None
    max_wait_seconds: float | None = None


# --------------------------------------------------------------------------- calls


class CallQueued(Event, frozen=True, tag="call.queued"):
    """A caller entered a queue and waits (``position`` 1 is next in line)."""

    call_id: str
    queue: str
    caller_id: str | None = None
    position: int = 0


class AgentOffered(Event, frozen=True, tag="agent.offered"):
    """An agent's phone rings with a queued call."""

    call_id: str
    queue: str
    agent_id: str


class AgentRingNoAnswer(Event, frozen=True, tag="agent.ring_no_answer"):
    """An agent let an offered call ring out; the call stays in the queue."""

    call_id: str
    queue: str
    agent_id: str
    ring_seconds: float


class CallAnswered(Event, frozen=True, tag="call.answered"):
    """An agent answered a queued call.

    ``wait_seconds`` is the time in queue until answer (Asterisk's holdtime);
    ``ring_seconds`` how long the answering agent's phone rang.
    """

    call_id: str
    queue: str
    agent_id: str
    wait_seconds: float
    ring_seconds: float = 0.0


class CallEnded(Event, frozen=True, tag="call.ended"):
    """An answered call ended: who hung up, and how long the parties talked."""

    call_id: str
    queue: str | None
    agent_id: str | None
    hung_up_by: HungUpBy
    talk_seconds: float
    wait_seconds: float = 0.0


class CallAbandoned(Event, frozen=True, tag="call.abandoned"):
    """The caller hung up while waiting in the queue."""

    call_id: str
    queue: str
    wait_seconds: float
    position: int = 0


class CallTimedOut(Event, frozen=True, tag="call.timed_out"):
    """The call left the queue because it waited longer than the queue allows."""

    call_id: str
    queue: str
    wait_seconds: float


class CallTransferred(Event, frozen=True, tag="call.transferred"):
    """The agent on a call transferred it to ``target``.

    ``to_agent_id`` is set when the target is another known agent; ``kind`` is
    ``"blind"`` or ``"attended"``.
    """

    call_id: str
    from_agent_id: str | None
    target: str
    to_agent_id: str | None = None
    kind: Literal["blind", "attended"] = "blind"


class CallHeld(Event, frozen=True, tag="call.held"):
    """The agent put an answered call on hold: the caller hears music on hold.

    Asterisk reports it as ``Hold`` (a phone's re-INVITE) or ``MusicOnHoldStart`` on a
    channel of the call; ``agent_id`` is the agent on the call when the gateway knows it.
    """

    call_id: str
    agent_id: str | None = None


class CallResumed(Event, frozen=True, tag="call.resumed"):
    """A held call is taken off hold (Asterisk ``Unhold`` or ``MusicOnHoldStop``)."""

    call_id: str
    agent_id: str | None = None


class CallLost(Event, frozen=True, tag="call.lost"):
    """A call vanished without a proper end, e.g. the PBX restarted while it was up.

    Gateways send it after a reconnect when a call they tracked no longer exists, so no
    call stays "in progress" forever.  ``queue`` is set when the call was still waiting
    in that queue (queue metrics count it with outcome ``other``).
    """

    call_id: str
    reason: str
    queue: str | None = None


# --------------------------------------------------------------------------- agents


class AgentStateChanged(Event, frozen=True, tag="agent.state_changed"):
    """An agent's state changed (logged in/out, available, ringing, on call, wrap-up, paused).

    ``reason`` carries the pause reason ("lunch", "training", ...).  ``queues``, when not
    ``None``, replaces the queues the agent is a member of; ``name`` is a display name.
    """

    agent_id: str
    state: AgentState
    reason: str | None = None
    name: str | None = None
    queues: tuple[str, ...] | None = None


class TalkStarted(Event, frozen=True, tag="talk.started"):
    """Somebody on one leg of a call started talking (Asterisk ``TALK_DETECT``)."""

    call_id: str
    leg: Leg
    agent_id: str | None = None


class TalkStopped(Event, frozen=True, tag="talk.stopped"):
    """Somebody on one leg of a call stopped talking after ``duration_seconds``."""

    call_id: str
    leg: Leg
    duration_seconds: float
    agent_id: str | None = None


class HeadsetHook(Event, frozen=True, tag="headset.hook"):
    """An agent's headset or phone went off hook (``off_hook``) or back on hook."""

    agent_id: str
    device: str
    off_hook: bool


class HeadsetMute(Event, frozen=True, tag="headset.mute"):
    """An agent muted or unmuted the headset microphone."""

    agent_id: str
    device: str
    muted: bool


# --------------------------------------------------------------------------- recordings


class RecordingReady(Event, frozen=True, tag="recording.ready"):
    """A recording was finished and stored; ``uri`` is where Medlytt serves it.

    ``source`` is the plugin that recorded; ``session_id`` that plugin's id of what was
    recorded (a monitoring session, a mystery call), when it has one.
    """

    recording_id: str
    call_id: str | None
    uri: str
    duration_seconds: float
    session_id: str | None = None
    format: str = "wav"


class ModuleSwitched(Event, frozen=True, tag="module.switched"):
    """A team switched a competence module on or off (``PUT /api/teams/{team}/modules/{id}``)."""

    team: str
    module: str
    active: bool
    by: str


#: The union of the core's event types, for decoding tagged JSON into the right class.
AnyEvent: TypeAlias = (
    QueueConfigured
    | CallQueued
    | AgentOffered
    | AgentRingNoAnswer
    | CallAnswered
    | CallEnded
    | CallAbandoned
    | CallTimedOut
    | CallTransferred
    | CallHeld
    | CallResumed
    | CallLost
    | AgentStateChanged
    | TalkStarted
    | TalkStopped
    | HeadsetHook
    | HeadsetMute
    | RecordingReady
    | ModuleSwitched
)

#: Every concrete event type, in catalogue order.
EVENT_TYPES: tuple[type[Event], ...] = get_args(AnyEvent)

_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    """Serialise an event to JSON, with its ``type`` tag."""
    return _encoder.encode(event)


def event_type_name(cls: type[Event]) -> str:
    """The ``type`` tag of an event class."""
    return cls.__struct_config__.tag  # type: ignore[return-value]


class EventTypeError(ValueError):
    """A plugin's event type cannot be registered; the message says why."""


@dataclass(frozen=True)
class RawEvent:
    """A journal row whose type no loaded plugin defines (its plugin was uninstalled, or
    the row is damaged): kept and served as it was stored, never an error."""

    type: str
    data: dict[str, Any]
    reason: str


class EventCatalogue:
    """The event types one Medlytt knows: the core's and those plugins registered.

    Plugins add their own types with the ``medlytt_event_types`` hook; the journal, the
    API and the docs read events through the catalogue, so a plugin's event is as much at
    home as a core one, and the rows of a plugin that is gone still read as
    :class:`RawEvent`.
    """

    def __init__(self) -> None:
        self.types: dict[str, type[Event]] = {event_type_name(c): c for c in EVENT_TYPES}
        #: type tag → the plugin that registered it ("core" for the core's own).
        self.owners: dict[str, str] = dict.fromkeys(self.types, "core")
        self._decoder: msgspec.json.Decoder[Any] | None = None

    def register(self, plugin: str, cls: object) -> None:
        """Add a plugin's event class; raises :class:`EventTypeError` naming the problem."""
        if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
            raise EventTypeError(f"plugin {plugin!r}: {cls!r} is not a subclass of medlytt.Event")
        tag = cls.__struct_config__.tag
        if not isinstance(tag, str) or "." not in tag:
            raise EventTypeError(
                f"plugin {plugin!r}: {cls.__name__} needs a tag like "
                f'"{plugin}.something" (class {cls.__name__}(Event, tag="..."))'
            )
        known = self.types.get(tag)
        if known is cls:
            return
        if known is not None:
            raise EventTypeError(
                f"plugin {plugin!r}: event type {tag!r} is already defined by "
                f"{self.owners[tag]!r} ({known.__module__}.{known.__name__})"
            )
        self.types[tag] = cls
        self.owners[tag] = plugin
        self._decoder = None

    def decode(self, data: bytes | str) -> Event | RawEvent:
        """The typed event of a journal row; :class:`RawEvent` when its type is unknown."""
        if self._decoder is None:
            self._decoder = msgspec.json.Decoder(Union[tuple(self.types.values())])  # noqa: UP007
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            raw = msgspec.json.decode(data)
            kind = raw.get("type", "") if isinstance(raw, dict) else ""
            if not isinstance(raw, dict):
                raw = {"value": raw}
            return RawEvent(type=str(kind), data=raw, reason=str(exc))


_core = EventCatalogue()


def decode_event(data: bytes | str) -> Event:
    """Turn JSON written by :func:`encode_event` back into a typed core event; raises
    ``msgspec.ValidationError`` for other types (a running app decodes plugin events
    too, through ``app.events``)."""
    event = _core.decode(data)
    if isinstance(event, RawEvent):
        raise msgspec.ValidationError(event.reason)
    return event
