"""One mystery call as it happens: its channels, what Asterisk said, and its result.

Two streams feed it.  Channel events about its own channels (ringing, answer, hang-up
cause, playbacks) give the customer's view: time to first ring, busy, no answer.  Medlytt's own
queue events give the contact center's view, equal to Asterisk's queue_log: which queue,
time in queue, which agent, talk time.  The call is matched to those queue events by
Asterisk's linkedid (our channel id when the call stays inside the PBX) or, for calls that
leave through a trunk and come back, by the caller number presented.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from medlytt import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallLost,
    CallQueued,
    ChannelEntered,
    ChannelEvent,
    ChannelLeft,
    ChannelStateChanged,
    Event,
    PlaybackFinished,
)

from .model import CallSpec

PREFIX = "medlytt-mys-"
#: How long after dialling a queue event may still be matched by caller number.
MATCH_WINDOW_SECONDS = 120.0
BUSY_CAUSES = {17}
NO_ANSWER_CAUSES = {18, 19}


@dataclass
class MysteryCall:
    id: str
    spec: CallSpec
    target: str
    number: str
    endpoint: str
    caller_id: str
    campaign: str | None
    requested_by: str
    started_at: datetime
    started: float = field(default_factory=time.monotonic)
    # -- what the customer's side saw (ARI)
    ring_seconds: float | None = None
    line_answered: bool = False
    busy: bool = False
    cause: int | None = None
    cause_txt: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    tester_ended: asyncio.Event = field(default_factory=asyncio.Event)
    we_hung_up: bool = False
    reason: str | None = None
    # -- what the contact center saw (Medlytt's queue events)
    call_id: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    queue_seconds: float | None = None
    answer_seconds: float | None = None
    talk_seconds: float | None = None
    agent_connected: asyncio.Event = field(default_factory=asyncio.Event)
    queue_done: asyncio.Event = field(default_factory=asyncio.Event)
    recording_id: str | None = None
    outcome: str | None = None
    playbacks: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    @property
    def channel_id(self) -> str:
        """The customer leg: the channel that faces the contact center.

        Asterisk finds channels by id *prefix*, so no id of a call may be a prefix of
        another created later: hence ``-call`` and ``-tester``, never a bare ``<id>``.
        """
        return f"{PREFIX}{self.id}-call"

    @property
    def tester_id(self) -> str:
        return f"{PREFIX}{self.id}-tester"

    @property
    def bridge_id(self) -> str:
        return f"{PREFIX}{self.id}"

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # ------------------------------------------------------------------ channel events

    def on_channel(self, event: ChannelEvent) -> None:
        if isinstance(event, PlaybackFinished):
            future = self.playbacks.get(event.playback_id)
            if future is not None and not future.done():
                future.set_result(None)
            return
        channel = event.channel
        ours = channel == self.channel_id or channel.startswith(f"{self.channel_id};")
        if isinstance(event, ChannelStateChanged) and ours:
            if event.state in ("ringing", "up") and self.ring_seconds is None:
                self.ring_seconds = round(self.elapsed(), 3)
            if event.state == "busy":
                self.busy = True
        elif isinstance(event, ChannelEntered) and channel == self.channel_id:
            self.line_answered = True
            if self.ring_seconds is None:
                self.ring_seconds = round(self.elapsed(), 3)
        elif isinstance(event, ChannelLeft) and event.destroyed and channel == self.channel_id:
            self.cause = event.cause
            self.cause_txt = event.cause_text
            self.ended.set()
        elif isinstance(event, ChannelLeft) and event.destroyed and channel == self.tester_id:
            self.tester_ended.set()

    # ------------------------------------------------------------------ queue events

    def matches_by_number(self, event: CallQueued) -> bool:
        """Could this queue entry be our call that left the PBX and came back?  Only when
        no running mystery call owns it by linkedid (see MysteryService.on_event)."""
        if self.call_id is not None or event.call_id.startswith(PREFIX):
            return False
        ours = caller_number(self.caller_id)
        recent = (event.at - self.started_at).total_seconds() < MATCH_WINDOW_SECONDS
        return bool(ours) and event.caller_id == ours and recent

    def on_event(self, event: Event) -> None:
        match event:
            case CallQueued():
                self.call_id, self.queue = event.call_id, event.queue
            case CallAnswered():
                self.agent_id = event.agent_id
                self.queue = event.queue
                self.queue_seconds = event.wait_seconds
                self.answer_seconds = round((event.at - self.started_at).total_seconds(), 3)
                self.agent_connected.set()
            case CallEnded():
                self.talk_seconds = event.talk_seconds
                self.queue_done.set()
            case CallAbandoned():
                self.queue_seconds = event.wait_seconds
                self.queue_done.set()
            case CallLost():  # Asterisk restarted: the call and its channels are gone
                self.reason = self.reason or f"Asterisk lost the call: {event.reason}"
                self.queue_done.set()
                self.ended.set()

    # ------------------------------------------------------------------ result

    def decide_outcome(self) -> str:
        """answered, abandoned, busy, failed or no_answer (docs/mystery-calls.md)."""
        if self.agent_id is not None:
            return "answered"
        if self.call_id is not None:  # reached a queue, nobody answered
            return "abandoned" if self.we_hung_up else "no_answer"
        if self.line_answered:
            if self.spec.queue is not None:
                self.reason = self.reason or f"the call never entered queue {self.spec.queue}"
                return "failed"
            return "answered"
        if self.busy or self.cause in BUSY_CAUSES:
            return "busy"
        if self.cause in NO_ANSWER_CAUSES or self.we_hung_up:
            return "no_answer"
        self.reason = self.reason or f"Asterisk: {self.cause_txt or 'the call could not be placed'}"
        return "failed"

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "campaign": self.campaign,
            "target": self.target,
            "number": self.number,
            "mode": self.spec.mode,
            "caller_id": self.caller_id,
            "requested_by": self.requested_by,
            "started_at": self.started_at.isoformat(),
            "outcome": self.outcome or "running",
            "reason": self.reason,
            "call_id": self.call_id,
            "queue": self.queue,
            "agent_id": self.agent_id,
            "ring_seconds": self.ring_seconds,
            "queue_seconds": self.queue_seconds,
            "answer_seconds": self.answer_seconds,
            "talk_seconds": self.talk_seconds,
            "recording_id": self.recording_id,
            "finished_at": None,
            "evaluated_at": None,
            "evaluation_id": None,
            "notes": None,
        }


def caller_number(caller_id: str) -> str:
    """The number of a caller ID: ``"Mystery <4790000000>"`` → ``4790000000``."""
    found = re.search(r"<([^>]*)>", caller_id)
    return (found.group(1) if found else caller_id).strip()
