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


#: The finest windows are counted to the second; "today" (and any window longer than the
#: longest duration configured) to the minute, since local midnight is a whole minute.
SECOND = 1
MINUTE = 60
#: Minute tallies are kept this long: "today" at its longest (a 25-hour day at a daylight
#: saving change), plus the start of the next.
DAY_SECONDS = 26 * 3600


class Tally:
    """What one queue saw during one second (or one minute): counts and sums, no calls.

    Memory is per unit of time, never per call: a queue answering 40,000 calls an hour
    keeps at most one tally per second of the longest window and one per minute of the
    day, whatever its traffic.
    """

    __slots__ = (
        "abandoned",
        "abandoned_counted",
        "answered",
        "arrivals",
        "handled_calls",
        "handled_seconds",
        "key",
        "within",
    )

    def __init__(self, key: int) -> None:
        self.key = key
        self.arrivals = 0
        self.answered = 0
        #: Answered within the queue's service-level threshold as it was at the answer.
        self.within = 0
        self.abandoned = 0
        #: Abandoned after the grace period: counts against the service level.
        self.abandoned_counted = 0
        self.handled_calls = 0
        self.handled_seconds = 0.0


class TallyRow:
    """One queue's tallies at one resolution, oldest first, pruned as time moves on."""

    def __init__(self, resolution: int, keep_seconds: float) -> None:
        self.resolution = resolution
        self.keep_seconds = keep_seconds
        self.tallies: deque[Tally] = deque()

    def at(self, at: float) -> Tally:
        """The tally for the moment ``at`` (created when new); older ones are pruned."""
        key = int(at // self.resolution)
        tallies = self.tallies
        if not tallies or tallies[-1].key < key:
            tally = Tally(key)
            tallies.append(tally)
            edge = (at - self.keep_seconds) // self.resolution
            while tallies[0].key < edge:
                tallies.popleft()
            return tally
        for index in range(len(tallies) - 1, -1, -1):  # late events: rare, and recent
            if tallies[index].key == key:
                return tallies[index]
            if tallies[index].key < key:
                tally = Tally(key)
                tallies.insert(index + 1, tally)
                return tally
        tally = Tally(key)
        tallies.appendleft(tally)
        return tally

    def since(self, since: float) -> list[Tally]:
        """The tallies from the one holding ``since`` on."""
        edge = int(since // self.resolution)
        out = []
        for tally in reversed(self.tallies):
            if tally.key < edge:
                break
            out.append(tally)
        return out


class QueueWindows:
    """Counts of recent outcomes, arrivals and handle times per queue, by second and minute.

    A window's figures are sums of tallies: to the second for windows up to the longest
    duration configured (``keep_seconds``), to the minute for longer ones ("today").
    Whether an answer was within the service level is decided when it happens, with the
    threshold the queue had then; so is whether an abandon came after the grace period.
    """

    def __init__(self, keep_seconds: float, grace_seconds: float = 0.0) -> None:
        self.keep_seconds = keep_seconds
        self.grace_seconds = grace_seconds
        self.seconds: dict[str, TallyRow] = {}
        self.minutes: dict[str, TallyRow] = {}
        self.lifetime_handle: dict[str, list[float]] = {}  # queue -> [seconds, calls]

    def _tallies(self, queue: str, at: float) -> tuple[Tally, Tally]:
        fine = self.seconds.get(queue)
        if fine is None:
            fine = self.seconds[queue] = TallyRow(SECOND, self.keep_seconds + 1)
            self.minutes[queue] = TallyRow(MINUTE, max(DAY_SECONDS, self.keep_seconds))
        return fine.at(at), self.minutes[queue].at(at)

    def _window(self, queue: str, since: float) -> list[Tally]:
        """The tallies of ``queue`` from ``since`` on, at the finest resolution kept."""
        fine = self.seconds.get(queue)
        if fine is None:
            return []
        if fine.tallies and since >= fine.tallies[-1].key - self.keep_seconds:
            return fine.since(since)
        return self.minutes[queue].since(since)

    def add_outcome(
        self, at: float, queue: str, outcome: str, wait: float, threshold: float = math.inf
    ) -> None:
        """A call left ``queue``: ``answered`` (within ``threshold`` or not), ``abandoned``
        (counted when after the grace period), or another outcome (not in the ratio)."""
        for tally in self._tallies(queue, at):
            if outcome == "answered":
                tally.answered += 1
                tally.within += wait <= threshold
            elif outcome == "abandoned":
                tally.abandoned += 1
                tally.abandoned_counted += wait > self.grace_seconds

    def add_arrival(self, at: float, queue: str) -> None:
        for tally in self._tallies(queue, at):
            tally.arrivals += 1

    def add_talk(self, at: float, queue: str, talk: float) -> None:
        for tally in self._tallies(queue, at):
            tally.handled_calls += 1
            tally.handled_seconds += talk
        total = self.lifetime_handle.setdefault(queue, [0.0, 0.0])
        total[0] += talk
        total[1] += 1

    def add_wrapup(self, at: float, queue: str, seconds: float) -> None:
        for tally in self._tallies(queue, at):
            tally.handled_seconds += seconds
        self.lifetime_handle.setdefault(queue, [0.0, 0.0])[0] += seconds

    def counts(self, queue: str, since: float) -> dict[str, int]:
        """Calls answered and abandoned (all of them) in ``queue`` since ``since``."""
        window = self._window(queue, since)
        return {
            "answered": sum(t.answered for t in window),
            "abandoned": sum(t.abandoned for t in window),
        }

    def service_level(self, queue: str, since: float) -> float:
        """Answered within the threshold / (answered + abandoned after the grace period);
        NaN when there were none."""
        window = self._window(queue, since)
        total = sum(t.answered + t.abandoned_counted for t in window)
        return sum(t.within for t in window) / total if total else math.nan

    def arrival_rate(self, queue: str, since: float, now: float) -> float:
        """Calls per second that entered ``queue`` since ``since``."""
        count = sum(t.arrivals for t in self._window(queue, since))
        return count / max(now - since, 1e-9)

    def handle_time(self, queue: str, since: float) -> float | None:
        """Average handle time (talk + wrap-up) of calls handled since ``since``, else all."""
        window = self._window(queue, since)
        calls = sum(t.handled_calls for t in window)
        if calls:
            return sum(t.handled_seconds for t in window) / calls
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
