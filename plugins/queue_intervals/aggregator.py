"""Turn events into per-(queue, interval) counts kept in memory until they are written.

Counts are deltas since the last write: a write adds them to the stored row and the
aggregator starts again from zero, so a restart simply continues the day.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

from medlytt import events as ev
from medlytt.events import AgentState

from .intervals import interval_start

if TYPE_CHECKING:
    from medlytt import LiveState

    from .settings import QueueIntervalsSettings

#: Most calls remembered between arrival and outcome (or answer and end); older are dropped.
MAX_TRACKED = 100_000

#: (queue, interval start) -> counts; the start is an aware datetime in the configured zone.
Key = tuple[str, datetime]


@dataclass
class Counts:
    """What happened in one queue in one interval (or what changed since the last write)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timeout: int = 0
    wait_sum_seconds: float = 0.0
    handled: int = 0
    talk_sum_seconds: float = 0.0
    wrapup_sum_seconds: float = 0.0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Counts))


def _remember(store: MutableMapping[str, Key], call_id: str, key: Key) -> None:
    store.pop(call_id, None)
    store[call_id] = key
    while len(store) > MAX_TRACKED:  # lost events must not grow memory forever
        del store[next(iter(store))]


class IntervalAggregator:
    """In-memory counters per (queue, interval), fed one event at a time."""

    def __init__(self, settings: QueueIntervalsSettings) -> None:
        self.zone = settings.zone
        self.minutes = settings.interval_minutes
        self.pending: dict[Key, Counts] = {}
        self._waiting: dict[str, Key] = {}  # call_id -> arrival interval, until the outcome
        self._talking: dict[str, Key] = {}  # call_id -> arrival interval, answer to end
        self._last_call: dict[str, Key] = {}  # agent_id -> arrival interval of the last call
        self._wrapup: dict[str, tuple[datetime, str, Key | None]] = {}  # agent_id -> start

    def key(self, queue: str, at: datetime) -> Key:
        return (queue, interval_start(at, self.zone, self.minutes))

    def _counts(self, key: Key) -> Counts:
        counts = self.pending.get(key)
        if counts is None:
            counts = self.pending[key] = Counts()
        return counts

    def take(self) -> dict[Key, Counts]:
        """Hand over the pending deltas and start from zero."""
        pending, self.pending = self.pending, {}
        return pending

    def give_back(self, batch: dict[Key, Counts]) -> None:
        """Add deltas that could not be written back to the pending ones."""
        for key, counts in batch.items():
            self._counts(key).add(counts)

    def _arrival(self, call_id: str, queue: str, at: datetime) -> Key:
        key = self._waiting.pop(call_id, None)
        if key is None or key[0] != queue:
            key = self.key(queue, at)
        return key

    def observe(self, event: ev.Event, state: LiveState) -> None:
        match event:
            case ev.CallQueued(call_id=call_id, queue=queue, at=at):
                key = self.key(queue, at)
                _remember(self._waiting, call_id, key)
                self._counts(key).offered += 1
            case ev.CallAnswered(call_id=call_id, queue=queue, at=at, wait_seconds=wait):
                key = self._arrival(call_id, queue, at)
                counts = self._counts(key)
                counts.answered += 1
                counts.wait_sum_seconds += wait
                _remember(self._talking, call_id, key)
            case ev.CallAbandoned(call_id=call_id, queue=queue, at=at):
                self._counts(self._arrival(call_id, queue, at)).abandoned += 1
            case ev.CallTimedOut(call_id=call_id, queue=queue, at=at):
                self._counts(self._arrival(call_id, queue, at)).timeout += 1
            case ev.CallLost(call_id=call_id):
                self._waiting.pop(call_id, None)
                self._talking.pop(call_id, None)
            case ev.CallEnded(call_id=call_id, queue=queue, agent_id=agent_id, at=at):
                arrival = self._talking.pop(call_id, None)
                if arrival is None:
                    if queue is None:
                        return  # not a queue call
                    arrival = self.key(queue, at)
                counts = self._counts(arrival)
                counts.handled += 1
                counts.talk_sum_seconds += event.talk_seconds
                if agent_id is not None:
                    _remember(self._last_call, agent_id, arrival)
            case ev.AgentStateChanged(agent_id=agent_id, state=new_state, at=at):
                self._agent_state(agent_id, new_state, at, state)

    def _agent_state(
        self, agent_id: str, new_state: AgentState, at: datetime, state: LiveState
    ) -> None:
        if new_state is AgentState.WRAP_UP:
            if agent_id in self._wrapup:
                return  # still the same wrap-up
            key = self._last_call.pop(agent_id, None)
            agent = state.agents.get(agent_id)
            queue = key[0] if key else (agent.last_queue if agent else None)
            if queue:
                self._wrapup[agent_id] = (at, queue, key)
            return
        started = self._wrapup.pop(agent_id, None)
        if started is None:
            return
        began, queue, key = started
        # Wrap-up belongs with the call it follows; without one, with the interval it ended.
        self._counts(key or self.key(queue, at)).wrapup_sum_seconds += max(
            0.0, (at - began).total_seconds()
        )
