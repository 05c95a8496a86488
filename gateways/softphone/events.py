"""The softphone plugin's own event (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from typing import Literal

from medlytt import Event

PhoneCallState = Literal[
    "incoming",
    "outgoing",
    "ringing",
    "established",
    "held",
    "resumed",
    "muted",
    "unmuted",
    "closed",
]
PHONE_CALL_STATES: tuple[str, ...] = PhoneCallState.__args__  # type: ignore[attr-defined]


class SoftphoneCall(Event, frozen=True, tag="softphone.call"):
    """An agent's softphone reported a change of one of its calls.

    ``phone_call_id`` is the softphone's own id of the call (baresip's call id, or what a
    webhook sent), not the PBX's: Medlytt joins the two by agent and time
    (docs/desk.md).  ``peer`` is the other party as the phone shows it (a SIP URI or a
    number); ``device`` names the phone (``baresip``, ``webhook``, a desk's name);
    ``reason`` is the phone's text for a close (``Connection reset by peer``).
    """

    agent_id: str
    device: str
    phone_call_id: str
    state: PhoneCallState
    direction: Literal["incoming", "outgoing"] | None = None
    peer: str | None = None
    reason: str | None = None


EVENT_TYPES: list[type[Event]] = [SoftphoneCall]
