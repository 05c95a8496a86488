"""What a desk and the core say to each other over ZeroMQ.

Every message is two frames: :data:`MAGIC` (the protocol and its version) and one JSON
object.  A desk sends ``event`` messages, each with its session (random per desk start)
and a sequence number that grows by one per event, and ``heartbeat`` messages; the core
answers both with ``ack`` (the highest sequence number of that session it has published,
so a desk may forget everything up to it) or ``refused`` (why it will not take them).
Sequence numbers make delivery idempotent: an event sent again after a reconnect, because
its ack was lost, is acknowledged again but published once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

MAGIC = b"medlytt-desk/1"
MAX_MESSAGE = 16 * 1024
"""The largest message the core reads (a desk event is a few hundred bytes)."""

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
EventKind = Literal["headset.hook", "headset.mute", "softphone.call"]


class DeskEvent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One thing that happened at the desk, with the desk's clock's time."""

    kind: EventKind
    at: datetime
    device: Text
    off_hook: bool | None = None  # headset.hook
    muted: bool | None = None  # headset.mute
    phone_call_id: Short | None = None  # softphone.call ...
    state: Short | None = None
    direction: Short | None = None
    peer: Short | None = None
    reason: Short | None = None

    def __post_init__(self) -> None:
        needs = {"headset.hook": "off_hook", "headset.mute": "muted"}.get(self.kind)
        if needs and getattr(self, needs) is None:
            raise ValueError(f"a {self.kind} event needs {needs}")
        if self.kind == "softphone.call" and not (self.phone_call_id and self.state):
            raise ValueError("a softphone.call event needs phone_call_id and state")


class EventMessage(msgspec.Struct, frozen=True, kw_only=True, tag="event"):
    session: Text
    seq: Annotated[int, msgspec.Meta(ge=1)]
    agent: Text
    sent: datetime
    event: DeskEvent


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, tag="heartbeat"):
    session: Text
    agent: Text
    sent: datetime
    #: Events the desk dropped because its queue was full, since it started.
    dropped: Annotated[int, msgspec.Meta(ge=0)] = 0
    queued: Annotated[int, msgspec.Meta(ge=0)] = 0
    headset: Short | None = None


class Ack(msgspec.Struct, frozen=True, kw_only=True, tag="ack"):
    session: str
    seq: int


class Refused(msgspec.Struct, frozen=True, kw_only=True, tag="refused"):
    reason: str


FromDesk = EventMessage | Heartbeat
FromCore = Ack | Refused

_encoder = msgspec.json.Encoder()
_from_desk = msgspec.json.Decoder(FromDesk)
_from_core = msgspec.json.Decoder(FromCore)


def encode(message: FromDesk | FromCore) -> list[bytes]:
    return [MAGIC, _encoder.encode(message)]


def decode_from_desk(frames: list[bytes]) -> FromDesk:
    """A desk's message; ``ValueError`` naming what is wrong with anything else."""
    if len(frames) != 2 or frames[0] != MAGIC:
        raise ValueError(f"not a {MAGIC.decode()} message")
    if len(frames[1]) > MAX_MESSAGE:
        raise ValueError(f"message of {len(frames[1])} bytes is over {MAX_MESSAGE}")
    try:
        return _from_desk.decode(frames[1])
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None
    except msgspec.DecodeError:
        raise ValueError("body is not JSON") from None


def decode_from_core(frames: list[bytes]) -> FromCore:
    if len(frames) != 2 or frames[0] != MAGIC:
        raise ValueError(f"not a {MAGIC.decode()} message")
    try:
        return _from_core.decode(frames[1])
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(str(exc)) from None
