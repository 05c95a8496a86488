"""Rolling windows over queue outcomes and agent states, for ratios Prometheus cannot derive.

Counters and histograms let Prometheus compute rates itself; a service level "answered
within 20 s out of answered + abandoned after 5 s" per 15 minutes, an agent's occupancy,
or the staffing an Erlang C model asks for need per-call detail, so they are computed
here from a short memory of recent calls and read at scrape time.
"""

from __future__ import annotations

import math
import re
from collections import deque
from datetime import datetime, tzinfo
from typing import NamedTuple

from medlytt.events import AgentState

from . import erlang

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: States in which an agent works on calls (occupancy's numerator) ...
BUSY = {AgentState.ON_CALL, AgentState.WRAP_UP}
#: ... and in which the agent is at the agent's disposal (its denominator).
STAFFED = {AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}


def parse_window(text: str) -> float | None:
    """``"15m"`` → 900.0; ``"today"`` → None (since local midnight); anything else: ValueError."""
    if text == "today":
        return None
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {text!r} must be like 30s, 15m, 1h, 1d or 'today'")
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def window_start(text: str, now: datetime, tz: tzinfo) -> float:
    """Epoch seconds where ``text`` (a window name) begins, seen from ``now``."""
    seconds = parse_window(text)
    if seconds is not None:
        return now.timestamp() - seconds
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class Outcome(NamedTuple):
    """One call leaving a queue."""

    at: float
    queue: str
    outcome: str
    wait: float


class QueueWindows:
    """Recent outcomes, arrivals and handle times per queue."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self.outcomes: deque[Outcome] = deque()
        self.arrivals: deque[tuple[float, str]] = deque()
        self.handled: deque[tuple[float, str, float]] = deque()  # (at, queue, talk or wrap-up)
        self.handled_calls: deque[tuple[float, str]] = deque()
        self.lifetime_handle: dict[str, list[float]] = {}  # queue -> [seconds, calls]

    def _prune(self, now: float) -> None:
        edge = now - self.keep_seconds
        for series in (self.outcomes, self.arrivals, self.handled, self.handled_calls):
            while series and series[0][0] < edge:
                series.popleft()

    def add_outcome(self, at: float, queue: str, outcome: str, wait: float) -> None:
        self.outcomes.append(Outcome(at, queue, outcome, wait))
        self._prune(at)

    def add_arrival(self, at: float, queue: str) -> None:
        self.arrivals.append((at, queue))
        self._prune(at)

    def add_talk(self, at: float, queue: str, talk: float) -> None:
        self.handled.append((at, queue, talk))
        self.handled_calls.append((at, queue))
        total = self.lifetime_handle.setdefault(queue, [0.0, 0.0])
        total[0] += talk
        total[1] += 1

    def add_wrapup(self, at: float, queue: str, seconds: float) -> None:
        self.handled.append((at, queue, seconds))
        self.lifetime_handle.setdefault(queue, [0.0, 0.0])[0] += seconds

    def service_level(self, queue: str, since: float, threshold: float, grace: float) -> float:
        """Answered within ``threshold`` / (answered + abandoned after ``grace``); NaN if none."""
        within = answered = abandoned = 0
        for item in self.outcomes:
            if item.at < since or item.queue != queue:
                continue
            if item.outcome == "answered":
                answered += 1
                within += item.wait <= threshold
            elif item.outcome == "abandoned" and item.wait > grace:
                abandoned += 1
        total = answered + abandoned
        return within / total if total else math.nan

    def arrival_rate(self, queue: str, since: float, now: float) -> float:
        """Calls per second that entered ``queue`` since ``since``."""
        count = sum(1 for at, q in self.arrivals if at >= since and q == queue)
        return count / max(now - since, 1e-9)

    def handle_time(self, queue: str, since: float) -> float | None:
        """Average handle time (talk + wrap-up) of calls handled since ``since``, else all."""
        seconds = sum(s for at, q, s in self.handled if at >= since and q == queue)
        calls = sum(1 for at, q in self.handled_calls if at >= since and q == queue)
        if calls:
            return seconds / calls
        lifetime = self.lifetime_handle.get(queue)
        if lifetime and lifetime[1]:
            return lifetime[0] / lifetime[1]
        return None

    def agents_required(
        self, queue: str, since: float, now: float, threshold: float, target: float
    ) -> float:
        """Erlang C staffing for this window's traffic; NaN when the handle time is unknown."""
        rate = self.arrival_rate(queue, since, now)
        if rate == 0:
            return 0.0
        aht = self.handle_time(queue, since)
        if not aht:
            return math.nan
        try:
            return float(erlang.agents_required(rate, aht, threshold, target))
        except ValueError:
            return math.nan


class AgentTime:
    """Seconds each agent spent per state over a rolling window, for occupancy."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.segments: dict[str, deque[tuple[float, float, AgentState]]] = {}
        self.current: dict[str, tuple[float, AgentState]] = {}

    def change(self, agent_id: str, at: float, state: AgentState) -> None:
        previous = self.current.get(agent_id)
        if previous is not None:
            started, old_state = previous
            segments = self.segments.setdefault(agent_id, deque())
            segments.append((started, at, old_state))
            edge = at - self.window_seconds
            while segments and segments[0][1] < edge:
                segments.popleft()
        self.current[agent_id] = (at, state)

    def occupancy(self, agent_id: str, now: float) -> float:
        """Busy time / staffed time over the window; NaN when not staffed at all."""
        since = now - self.window_seconds
        busy = staffed = 0.0
        pieces = list(self.segments.get(agent_id, ()))
        if agent_id in self.current:
            started, state = self.current[agent_id]
            pieces.append((started, now, state))
        for start, end, state in pieces:
            seconds = max(0.0, min(end, now) - max(start, since))
            if state in STAFFED:
                staffed += seconds
                if state in BUSY:
                    busy += seconds
        return busy / staffed if staffed else math.nan
