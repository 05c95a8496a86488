"""Who talked when in one answered call, and the measures the call-control module reads.

Pure bookkeeping, no I/O, so it is tested with constructed event sequences: a
:class:`Conversation` is fed the talk detection of both legs (``TALK_DETECT`` on the
caller's and on the agent's channel, :class:`medlytt.TalkStarted` /
:class:`medlytt.TalkStopped`), the answer, the phase marks of a listener and the end, and
:meth:`Conversation.measure` gives :class:`Measures`.

Times are POSIX seconds.  Asterisk announces a stop one silence window after the talk
ended and reports the talk's own ``duration``, so a talk interval is ``[start, start +
duration]``; a talk still going when the call ends is cut at the end.  Everything is cut
to the answered part of the call: the caller "talks" to the queue's music while waiting,
which is no part of the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The four phases of a call in the method (DOMAIN.md, module 3), in their usual order.
PHASES = ("opening", "mapping", "solution", "closing")
#: Medlytt's leg names (``medlytt.events.Leg``) → the two speakers measured here.
SPEAKERS = {"agent": "agent", "caller": "customer"}

Interval = tuple[float, float]


@dataclass(frozen=True)
class Measures:
    """What one answered call's talk detection and phase marks say (seconds)."""

    call_seconds: float
    agent_talk_seconds: float
    customer_talk_seconds: float
    #: Share of the talking done by each side (None when nobody talked).
    agent_share: float | None
    customer_share: float | None
    #: Times the agent started talking while the customer talked (interruptions).
    overtalk_count: int
    #: The longest stretch between answer and end in which neither side talked.
    longest_silence_seconds: float
    #: From answer to the agent's first words; None when the agent never talked.
    agent_first_words_seconds: float | None
    #: Seconds per marked phase (every phase, 0 when not marked) and ``unmarked`` before
    #: the first mark; empty when nobody marked phases on this call.
    phases: dict[str, float]


@dataclass
class Conversation:
    """One call's talk intervals per speaker and its phase marks, until it ends."""

    call_id: str
    first_seen: float
    answered_at: float | None = None
    agent_id: str | None = None
    queue: str | None = None
    talking_since: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, list[Interval]] = field(
        default_factory=lambda: {"agent": [], "customer": []}
    )
    marks: list[tuple[float, str, str]] = field(default_factory=list)
    #: How late a stop is announced after the talk ended (Asterisk's silence window),
    #: learnt from stops whose start was seen; used for a stop without a start.
    stop_lag: float = 0.0

    def answered(self, at: float, agent_id: str, queue: str | None) -> None:
        self.answered_at, self.agent_id, self.queue = at, agent_id, queue

    def talk_started(self, leg: str, at: float) -> None:
        speaker = SPEAKERS.get(leg)
        if speaker is not None and speaker not in self.talking_since:
            self.talking_since[speaker] = at

    def talk_stopped(self, leg: str, at: float, duration: float) -> None:
        speaker = SPEAKERS.get(leg)
        if speaker is None:
            return
        start = self.talking_since.pop(speaker, None)
        if start is None:  # its start came before Medlytt saw the call
            end = at - self.stop_lag
            start = end - duration
        else:
            self.stop_lag = max(0.0, at - start - duration)
        self.intervals[speaker].append((start, start + duration))

    def mark(self, phase: str, at: float, by: str) -> None:
        """A listener says the call entered ``phase`` now (one of :data:`PHASES`)."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
        self.marks.append((at, phase, by))

    def measure(self, ended_at: float) -> Measures:
        """The measures of the call as answered at :attr:`answered_at`, ended at ``ended_at``."""
        begin = self.answered_at if self.answered_at is not None else ended_at
        end = max(begin, ended_at)
        talk = {
            speaker: _merge(_cut([*spans, *_open(self.talking_since, speaker, end)], begin, end))
            for speaker, spans in self.intervals.items()
        }
        agent, customer = (_total(talk["agent"]), _total(talk["customer"]))
        both = agent + customer
        return Measures(
            call_seconds=_r(end - begin),
            agent_talk_seconds=_r(agent),
            customer_talk_seconds=_r(customer),
            agent_share=_r(agent / both) if both else None,
            customer_share=_r(customer / both) if both else None,
            overtalk_count=sum(
                1
                for start, _ in talk["agent"]
                if any(c_start <= start < c_end for c_start, c_end in talk["customer"])
            ),
            longest_silence_seconds=_r(
                _longest_gap(_merge(talk["agent"] + talk["customer"]), begin, end)
            ),
            agent_first_words_seconds=_r(talk["agent"][0][0] - begin) if talk["agent"] else None,
            phases=self._phases(begin, end),
        )

    def _phases(self, begin: float, end: float) -> dict[str, float]:
        marks = sorted((min(max(at, begin), end), phase) for at, phase, _ in self.marks)
        if not marks:
            return {}
        seconds = dict.fromkeys(("unmarked", *PHASES), 0.0)
        seconds["unmarked"] = marks[0][0] - begin
        for (at, phase), (following, _) in zip(marks, [*marks[1:], (end, "")], strict=True):
            seconds[phase] += following - at
        return {name: _r(value) for name, value in seconds.items()}


def _open(talking_since: dict[str, float], speaker: str, end: float) -> list[Interval]:
    """A talk still going at the end, as an interval cut there."""
    start = talking_since.get(speaker)
    return [] if start is None else [(start, end)]


def _cut(spans: list[Interval], begin: float, end: float) -> list[Interval]:
    return [(max(s, begin), min(e, end)) for s, e in spans if min(e, end) > max(s, begin)]


def _merge(spans: list[Interval]) -> list[Interval]:
    """Overlapping intervals of one speaker (or of both) as one."""
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _total(spans: list[Interval]) -> float:
    return sum((end - start for start, end in spans), 0.0)


def _longest_gap(spans: list[Interval], begin: float, end: float) -> float:
    edges = [begin, *(x for span in spans for x in span), end]
    return max(edges[i + 1] - edges[i] for i in range(0, len(edges), 2))


def _r(value: float) -> float:
    return round(value, 3)
