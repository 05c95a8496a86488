"""The desk join: headset and softphone events tied to the PBX's view of the same call.

The PBX knows the call (queue, caller, which agent answered, when it ended); only the desk
knows what the agent did with the headset and the softphone.  They share no id, so they
are joined the way a person would: the same agent, at the same time, and the same caller
when the phone shows one.  That turns "PJSIP/1001 muted from 10:02:11 to 10:02:51" into
"the agent muted for 40 s during call X" (``GET /api/desk/calls/{call_id}``).
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from medlytt import (
    CallAnswered,
    CallEnded,
    CallQueued,
    Event,
    HeadsetHook,
    HeadsetMute,
    StateSlot,
    utcnow,
)

#: How far before the PBX's answer and after its end a desk event still belongs to the
#: call (a desk clock a little off, a softphone that reports "established" first).
SLACK = timedelta(seconds=5)
PER_AGENT = 500  # mute periods, hook changes and phone calls kept per agent


@dataclass
class PbxCall:
    call_id: str
    agent_id: str
    queue: str
    answered_at: datetime
    caller_id: str | None = None
    ended_at: datetime | None = None


@dataclass
class PhoneCall:
    """One softphone call as the phone reported it."""

    phone_call_id: str
    device: str
    first_at: datetime
    direction: str | None = None
    peer: str | None = None
    established_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    states: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass
class MutePeriod:
    start: datetime
    end: datetime | None
    source: str  # "headset" or "softphone"


@dataclass
class AgentDesk:
    mutes: deque[MutePeriod] = field(default_factory=lambda: deque(maxlen=PER_AGENT))
    hooks: deque[tuple[datetime, bool, str]] = field(
        default_factory=lambda: deque(maxlen=PER_AGENT)
    )
    phone_calls: OrderedDict[str, PhoneCall] = field(default_factory=OrderedDict)

    def open_mute(self, source: str) -> MutePeriod | None:
        return next((m for m in reversed(self.mutes) if m.end is None and m.source == source), None)


def _digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def _overlap(start: datetime, end: datetime, a: datetime, b: datetime) -> float:
    return max(0.0, (min(end, b) - max(start, a)).total_seconds())


class DeskJoin(StateSlot):
    """The desk's view of each agent, and the PBX calls it is joined to."""

    follows = (CallQueued, CallAnswered, CallEnded, HeadsetHook, HeadsetMute, "softphone.call")

    def __init__(self, max_calls: int = 10_000) -> None:
        self.max_calls = max_calls
        self.calls: OrderedDict[str, PbxCall] = OrderedDict()
        self.callers: OrderedDict[str, str] = OrderedDict()  # call id -> caller id, queued
        self.agents: dict[str, AgentDesk] = {}

    # -- following events ---------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        match event:
            case CallQueued():
                if event.caller_id:
                    self.callers[event.call_id] = event.caller_id
                    self._trim(self.callers)
            case CallAnswered():
                self.calls[event.call_id] = PbxCall(
                    call_id=event.call_id,
                    agent_id=event.agent_id,
                    queue=event.queue,
                    answered_at=event.at,
                    caller_id=self.callers.pop(event.call_id, None),
                )
                self._trim(self.calls)
            case CallEnded():
                self.callers.pop(event.call_id, None)
                call = self.calls.get(event.call_id)
                if call is not None:
                    call.ended_at = event.at
            case HeadsetHook():
                self._desk(event.agent_id).hooks.append((event.at, event.off_hook, event.device))
            case HeadsetMute():
                self._mute(event.agent_id, event.muted, event.at, "headset")
            case _ if event.type == "softphone.call":
                self._phone(event)

    def _trim(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self.max_calls:
            table.popitem(last=False)

    def _desk(self, agent_id: str) -> AgentDesk:
        return self.agents.setdefault(agent_id, AgentDesk())

    def _mute(self, agent_id: str, muted: bool, at: datetime, source: str) -> None:
        desk = self._desk(agent_id)
        current = desk.open_mute(source)
        if muted and current is None:
            desk.mutes.append(MutePeriod(start=at, end=None, source=source))
        elif not muted and current is not None:
            current.end = at

    def _phone(self, event: Any) -> None:
        desk = self._desk(event.agent_id)
        call = desk.phone_calls.get(event.phone_call_id)
        if call is None:
            call = desk.phone_calls[event.phone_call_id] = PhoneCall(
                phone_call_id=event.phone_call_id, device=event.device, first_at=event.at
            )
            while len(desk.phone_calls) > PER_AGENT:
                desk.phone_calls.popitem(last=False)
        call.states.append((event.state, event.at))
        call.direction = event.direction or call.direction
        call.peer = event.peer or call.peer
        if event.state == "established" and call.established_at is None:
            call.established_at = event.at
        elif event.state in ("muted", "unmuted"):
            self._mute(event.agent_id, event.state == "muted", event.at, "softphone")
        elif event.state == "closed":
            call.closed_at, call.reason = event.at, event.reason
            open_mute = desk.open_mute("softphone")
            if open_mute is not None:  # a call's mute ends with the call
                open_mute.end = event.at

    # -- reading -------------------------------------------------------------------------------

    def snapshot(self) -> Any:
        return {"calls": len(self.calls), "desks": len(self.agents)}

    def summary(self, call_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The joined record of one PBX call, or None when the PBX never reported it answered."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        now = now or utcnow()
        start, end = call.answered_at, call.ended_at or now
        desk = self.agents.get(call.agent_id, AgentDesk())
        periods = []
        for mute in desk.mutes:
            mute_end = mute.end or now
            if _overlap(start, end, mute.start, mute_end) > 0:
                periods.append(
                    {
                        "start": max(start, mute.start),
                        "end": min(end, mute_end) if (mute.end or call.ended_at) else None,
                        "seconds": round(_overlap(start, end, mute.start, mute_end), 3),
                        "source": mute.source,
                    }
                )
        return {
            "call_id": call.call_id,
            "agent_id": call.agent_id,
            "queue": call.queue,
            "caller_id": call.caller_id,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "muted_seconds": round(self._muted_seconds(desk, start, end, now), 3),
            "mute_periods": periods,
            "hook": [
                {"at": at, "off_hook": off_hook, "device": device}
                for at, off_hook, device in desk.hooks
                if start - SLACK <= at <= end + SLACK
            ],
            "softphone_calls": self._phone_calls(call, desk, start, end, now),
        }

    def _muted_seconds(
        self, desk: AgentDesk, start: datetime, end: datetime, now: datetime
    ) -> float:
        """Seconds muted within the call, headset and softphone mutes merged (a mute on
        both at once counts once)."""
        spans = sorted(
            (max(start, m.start), min(end, m.end or now))
            for m in desk.mutes
            if _overlap(start, end, m.start, m.end or now) > 0
        )
        total, current_start, current_end = 0.0, None, None
        for a, b in spans:
            if current_end is None or a > current_end:
                if current_start is not None and current_end is not None:
                    total += (current_end - current_start).total_seconds()
                current_start, current_end = a, b
            else:
                current_end = max(current_end, b)
        if current_start is not None and current_end is not None:
            total += (current_end - current_start).total_seconds()
        return total

    def _phone_calls(
        self, call: PbxCall, desk: AgentDesk, start: datetime, end: datetime, now: datetime
    ) -> list[dict[str, Any]]:
        caller = _digits(call.caller_id)
        found = []
        for phone in desk.phone_calls.values():
            began = phone.established_at or phone.first_at
            if not (began - SLACK <= end and (phone.closed_at or now) >= start - SLACK):
                continue
            matched_by = ["agent", "time"]
            peer = _digits(phone.peer)
            if caller and peer:
                if caller not in peer:
                    continue  # the phone shows another party: another call
                matched_by.append("caller")
            found.append(
                {
                    "phone_call_id": phone.phone_call_id,
                    "device": phone.device,
                    "direction": phone.direction,
                    "peer": phone.peer,
                    "established_at": phone.established_at,
                    "closed_at": phone.closed_at,
                    "close_reason": phone.reason,
                    "states": [{"state": s, "at": at} for s, at in phone.states],
                    "matched_by": matched_by,
                }
            )
        return found
