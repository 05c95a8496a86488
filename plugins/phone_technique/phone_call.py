"""One answered call's phone technique, from its events: ring time, first words, holds,
mutes and transfers.

Pure bookkeeping, no I/O: :class:`PhoneCall` is fed the call's events in order and
:meth:`PhoneCall.facts` gives the row the module keeps.  Times are POSIX seconds.

Mute comes only from a headset (``headset.mute``).  An agent without a headset that
reports to Medlytt has an *unknown* mute count, never zero: :attr:`PhoneCall.mute_known`
says whether the agent's headset reports (it did before the answer, per the live state, or
it sends a headset event during the call).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Why a mute figure is missing (said in the API next to the null).
NO_HEADSET = "no headset signal from this agent (mute is only known from a headset)"
#: Why a first-words figure is missing.
NO_TALK_DETECTION = "no talk detection on this call (TALK_DETECT, docs/install-asterisk.md)"
AGENT_SILENT = "the agent did not talk"

Span = tuple[float, float | None]


@dataclass
class PhoneCall:
    """An answered call of one agent, until it ends."""

    call_id: str
    first_seen: float
    agent_id: str | None = None
    queue: str | None = None
    answered_at: float | None = None
    ring_seconds: float = 0.0
    #: When each agent's phone began to ring with this call (``agent.offered``).
    offered: dict[str, float] = field(default_factory=dict)
    #: When the agent's leg started talking (the first time), and whether any leg did.
    agent_talked_at: float | None = None
    talk_detected: bool = False
    holds: list[Span] = field(default_factory=list)
    mutes: list[Span] = field(default_factory=list)
    mute_known: bool = False
    transfers: int = 0
    transfer_target: str | None = None

    def answered(
        self, at: float, agent_id: str, queue: str | None, ring: float, muted: bool | None
    ) -> None:
        """The agent answered; ``ring`` is the PBX's ring time (Asterisk: whole seconds),
        used when the offer was not seen; ``muted`` is the headset's mute now (None: no
        headset)."""
        offered = self.offered.get(agent_id)
        if offered is not None and offered <= at:
            ring = at - offered  # to the millisecond, from the two events
        self.answered_at, self.agent_id, self.queue, self.ring_seconds = at, agent_id, queue, ring
        if muted is not None:
            self.mute_known = True
            if muted:
                self.mutes.append((at, None))

    def talk_started(self, leg: str, at: float) -> None:
        self.talk_detected = True
        if leg == "agent" and self.agent_talked_at is None:
            self.agent_talked_at = at

    def held(self, at: float, on: bool) -> None:
        _toggle(self.holds, at, on)

    def muted(self, at: float, on: bool) -> None:
        self.mute_known = True
        _toggle(self.mutes, at, on)

    def headset_seen(self) -> None:
        self.mute_known = True

    def transferred(self, target: str) -> None:
        self.transfers += 1
        self.transfer_target = target

    def facts(self, ended_at: float, talk_seconds: float) -> dict[str, Any]:
        """The call's row (see docs/phone-technique.md for each field)."""
        begin = self.answered_at if self.answered_at is not None else ended_at
        if self.agent_talked_at is not None:
            first_words: float | None = round(max(0.0, self.agent_talked_at - begin), 3)
            why_no_words = None
        else:
            first_words = None
            why_no_words = AGENT_SILENT if self.talk_detected else NO_TALK_DETECTION
        holds = _closed(self.holds, begin, ended_at)
        mutes = _closed(self.mutes, begin, ended_at)
        return {
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "queue": self.queue,
            "ring_seconds": round(self.ring_seconds, 3),
            "first_words_seconds": first_words,
            "first_words_unknown": why_no_words,
            "hold_count": len(holds),
            "hold_seconds": round(sum((e - s for s, e in holds), 0.0), 3),
            "mute_count": len(mutes) if self.mute_known else None,
            "mute_seconds": round(sum((e - s for s, e in mutes), 0.0), 3)
            if self.mute_known
            else None,
            "mute_unknown": None if self.mute_known else NO_HEADSET,
            "transfers": self.transfers,
            "transfer_target": self.transfer_target,
            "talk_seconds": round(talk_seconds, 3),
        }


def _toggle(spans: list[Span], at: float, on: bool) -> None:
    """Open a span (``on``) unless one is open; close the open one (not ``on``)."""
    is_open = bool(spans) and spans[-1][1] is None
    if on and not is_open:
        spans.append((at, None))
    elif not on and is_open:
        spans[-1] = (spans[-1][0], at)


def _closed(spans: list[Span], begin: float, end: float) -> list[tuple[float, float]]:
    """The spans inside the answered call, one still open closed at the end."""
    out = []
    for start, stop in spans:
        s, e = max(start, begin), min(end if stop is None else stop, end)
        if e >= s:
            out.append((s, e))
    return out
