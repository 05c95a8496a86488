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
from datetime import datetime
from typing import Literal, Union

import msgspec


class AgentState(enum.StrEnum):
    """What an agent is doing, as supervisors and queue metrics see it."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class MonitorMode(enum.StrEnum):
    """How a supervisor takes part in a monitored call."""

    LISTEN = "listen"  # nobody hears the supervisor
    WHISPER = "whisper"  # only the agent hears the supervisor
    BARGE = "barge"  # caller and agent hear the supervisor


HungUpBy = Literal["caller", "agent", "system", "unknown"]
Leg = Literal["caller", "agent", "supervisor", "other"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of all events: when it happened and who reported it."""

    at: datetime
    source: str

    @property
    def type(self) -> str:
        """The event's type tag, e.g. ``"call.answered"``."""
        return self.__struct_config__.tag  # type: ignore[return-value]


# --------------------------------------------------------------------------- queues


class QueueConfigured(Event, tag="queue.configured"):
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


class CallQueued(Event, tag="call.queued"):
    """A caller entered a queue and waits (``position`` 1 is next in line)."""

    call_id: str
    queue: str
    caller_id: str | None = None
    position: int = 0


class AgentOffered(Event, tag="agent.offered"):
    """An agent's phone rings with a queued call."""

    call_id: str
    queue: str
    agent_id: str


class AgentRingNoAnswer(Event, tag="agent.ring_no_answer"):
    """An agent let an offered call ring out; the call stays in the queue."""

    call_id: str
    queue: str
    agent_id: str
    ring_seconds: float


class CallAnswered(Event, tag="call.answered"):
    """An agent answered a queued call.

    ``wait_seconds`` is the time in queue until answer (Asterisk's holdtime);
    ``ring_seconds`` how long the answering agent's phone rang.
    """

    call_id: str
    queue: str
    agent_id: str
    wait_seconds: float
    ring_seconds: float = 0.0


class CallEnded(Event, tag="call.ended"):
    """An answered call ended: who hung up, and how long the parties talked."""

    call_id: str
    queue: str | None
    agent_id: str | None
    hung_up_by: HungUpBy
    talk_seconds: float
    wait_seconds: float = 0.0


class CallAbandoned(Event, tag="call.abandoned"):
    """The caller hung up while waiting in the queue."""

    call_id: str
    queue: str
    wait_seconds: float
    position: int = 0


class CallTimedOut(Event, tag="call.timed_out"):
    """The call left the queue because it waited longer than the queue allows."""

    call_id: str
    queue: str
    wait_seconds: float


class CallTransferred(Event, tag="call.transferred"):
    """The agent on a call transferred it to ``target``.

    ``to_agent_id`` is set when the target is another known agent; ``kind`` is
    ``"blind"`` or ``"attended"``.
    """

    call_id: str
    from_agent_id: str | None
    target: str
    to_agent_id: str | None = None
    kind: Literal["blind", "attended"] = "blind"


class CallLost(Event, tag="call.lost"):
    """A call vanished without a proper end, e.g. the PBX restarted while it was up.

    Gateways send it after a reconnect when a call they tracked no longer exists, so no
    call stays "in progress" forever.  ``queue`` is set when the call was still waiting
    in that queue (queue metrics count it with outcome ``other``).
    """

    call_id: str
    reason: str
    queue: str | None = None


# --------------------------------------------------------------------------- agents


class AgentStateChanged(Event, tag="agent.state_changed"):
    """An agent's state changed (logged in/out, available, ringing, on call, wrap-up, paused).

    ``reason`` carries the pause reason ("lunch", "training", ...).  ``queues``, when not
    ``None``, replaces the queues the agent is a member of; ``name`` is a display name.
    """

    agent_id: str
    state: AgentState
    reason: str | None = None
    name: str | None = None
    queues: tuple[str, ...] | None = None


class TalkStarted(Event, tag="talk.started"):
    """Somebody on one leg of a call started talking (Asterisk ``TALK_DETECT``)."""

    call_id: str
    leg: Leg
    agent_id: str | None = None


class TalkStopped(Event, tag="talk.stopped"):
    """Somebody on one leg of a call stopped talking after ``duration_seconds``."""

    call_id: str
    leg: Leg
    duration_seconds: float
    agent_id: str | None = None


class HeadsetHook(Event, tag="headset.hook"):
    """An agent's headset or phone went off hook (``off_hook``) or back on hook."""

    agent_id: str
    device: str
    off_hook: bool


class HeadsetMute(Event, tag="headset.mute"):
    """An agent muted or unmuted the headset microphone."""

    agent_id: str
    device: str
    muted: bool


# --------------------------------------------------------------------------- monitoring


class MonitoringStarted(Event, tag="monitoring.started"):
    """A supervisor started monitoring a call (``supervisor`` is the user's name)."""

    session_id: str
    call_id: str
    agent_id: str | None
    supervisor: str
    mode: MonitorMode
    recording: bool = False


class MonitoringModeChanged(Event, tag="monitoring.mode_changed"):
    """A supervisor switched mode within a session without leaving the call."""

    session_id: str
    mode: MonitorMode
    previous_mode: MonitorMode


class MonitoringStopped(Event, tag="monitoring.stopped"):
    """A monitoring session ended; ``reason`` says why (stopped, call ended, hung up)."""

    session_id: str
    reason: str
    duration_seconds: float


class RecordingReady(Event, tag="recording.ready"):
    """A recording was finished and stored; ``uri`` is where Medlytt serves it."""

    recording_id: str
    call_id: str | None
    uri: str
    duration_seconds: float
    session_id: str | None = None
    format: str = "wav"


# --------------------------------------------------------------------------- mystery calls


class MysteryCallStarted(Event, tag="mystery_call.started"):
    """A test call as a customer was placed to ``target`` (a queue or a number)."""

    mystery_call_id: str
    campaign: str | None
    target: str
    call_id: str | None = None


class MysteryCallFinished(Event, tag="mystery_call.finished"):
    """A mystery call ended with ``outcome`` (answered, abandoned, busy, failed, no_answer)."""

    mystery_call_id: str
    outcome: str
    call_id: str | None = None
    agent_id: str | None = None
    answer_seconds: float | None = None
    talk_seconds: float | None = None


# --------------------------------------------------------------------------- surveys


class SurveyFinished(Event, tag="survey.finished"):
    """A caller's post-call keypress survey ended.

    ``result`` is ``completed`` (every question got an answer) or ``incomplete`` (the
    caller hung up first).  ``answers`` maps each question id to the key pressed, or to
    ``no_answer``, ``invalid`` or ``hung_up``; questions never reached are absent.
    """

    survey_id: str
    call_id: str
    queue: str
    agent_id: str
    result: str
    answers: dict[str, str]


#: Every concrete event type, in catalogue order.
EVENT_TYPES: tuple[type[Event], ...] = (
    QueueConfigured,
    CallQueued,
    AgentOffered,
    AgentRingNoAnswer,
    CallAnswered,
    CallEnded,
    CallAbandoned,
    CallTimedOut,
    CallTransferred,
    CallLost,
    AgentStateChanged,
    TalkStarted,
    TalkStopped,
    HeadsetHook,
    HeadsetMute,
    MonitoringStarted,
    MonitoringModeChanged,
    MonitoringStopped,
    RecordingReady,
    MysteryCallStarted,
    MysteryCallFinished,
    SurveyFinished,
)

#: The union of all event types, for decoding tagged JSON into the right class.
AnyEvent = Union[EVENT_TYPES]  # noqa: UP007 - built from the tuple above

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """Serialise an event to JSON, with its ``type`` tag."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> Event:
    """Turn JSON written by :func:`encode_event` back into the typed event."""
    return _decoder.decode(data)


def event_type_name(cls: type[Event]) -> str:
    """The ``type`` tag of an event class."""
    return cls.__struct_config__.tag  # type: ignore[return-value]
