"""Stress signals per agent, from the call and agent events alone (no database, no clock).

Everything is measured on the events' own times, so a replayed shift gives the same alerts
as the live one.  One :class:`AgentStrain` per agent keeps what the signals need:

* **occupancy**: the agent's state timeline over the last ``occupancy_window_minutes``;
  busy is on a call or in after-call work, staffed is busy, available or ringing (paused
  and logged out count for neither).  Measured at every state change; an alert when it
  reaches the threshold, again only after it fell below.
* **back to back**: calls answered less than ``pause_seconds`` after the previous call
  ended, counted in a run; an alert when the run reaches ``back_to_back_calls``.
* **a long or abrupt call followed at once by the next**: the call before an answer without
  a pause was long (``long_call_seconds``) or ended abruptly (the caller hung up within
  ``abrupt_call_seconds``, or while the agent was still talking by talk detection).
* **after-call work**: the time from wrap-up to the next state; an alert for a long one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from medlytt import (
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    Event,
    TalkStarted,
    TalkStopped,
)

from .settings import StressSettings

BUSY = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})
STAFFED = BUSY | {AgentState.AVAILABLE, AgentState.RINGING}
KINDS = (
    "occupancy",
    "back_to_back",
    "long_call_then_next",
    "abrupt_call_then_next",
    "after_call_work",
)


@dataclass(frozen=True)
class Alert:
    """One stress signal of one agent, at the time of the event that showed it."""

    agent_id: str
    kind: str
    at: datetime
    detail: dict[str, float]


@dataclass
class AgentStrain:
    """What the signals need to remember about one agent."""

    #: (since, state), oldest first, pruned to the occupancy window.
    timeline: deque[tuple[datetime, AgentState]] = field(default_factory=deque)
    last_end: datetime | None = None
    last_talk_seconds: float = 0.0
    last_abrupt: bool = False
    run: int = 0
    over_occupancy: bool = False
    wrap_up_since: datetime | None = None
    #: Calls on which talk detection last heard the agent start talking (not stopped).
    agent_talking: set[str] = field(default_factory=set)
    #: Last figures, for the API and metrics: occupancy as of ``measured_at`` (the last
    #: state change), and the last after-call work.
    occupancy: float | None = None
    measured_at: datetime | None = None
    last_after_call_work: float | None = None

    def figures(self) -> dict[str, object]:
        """What ``GET /api/stress/agents`` shows of the agent."""
        return {
            "state": self.timeline[-1][1].value if self.timeline else None,
            "occupancy": round(self.occupancy, 3) if self.occupancy is not None else None,
            "measured_at": self.measured_at.isoformat() if self.measured_at else None,
            "over_occupancy": self.over_occupancy,
            "calls_in_a_row": self.run,
            "last_after_call_work_seconds": (
                round(self.last_after_call_work, 1)
                if self.last_after_call_work is not None
                else None
            ),
        }


class StressSignals:
    """Feed it events in order; it returns the alerts they imply."""

    def __init__(self, settings: StressSettings) -> None:
        self.settings = settings
        self.agents: dict[str, AgentStrain] = {}

    def forget(self, agent_id: str) -> None:
        """Stop measuring an agent (their team switched the module off)."""
        self.agents.pop(agent_id, None)

    def feed(self, event: Event) -> list[Alert]:
        if isinstance(event, AgentStateChanged):
            return self._state(event)
        if isinstance(event, CallAnswered):
            return self._answered(event)
        if isinstance(event, CallEnded) and event.agent_id:
            self._ended(event, event.agent_id)
        elif (
            isinstance(event, TalkStarted | TalkStopped) and event.leg == "agent" and event.agent_id
        ):
            talking = self.agents.setdefault(event.agent_id, AgentStrain()).agent_talking
            if isinstance(event, TalkStarted):
                talking.add(event.call_id)
            else:
                talking.discard(event.call_id)
        return []

    # ------------------------------------------------------------------ calls

    def _ended(self, event: CallEnded, agent_id: str) -> None:
        strain = self.agents.setdefault(agent_id, AgentStrain())
        talking_at_end = event.call_id in strain.agent_talking
        strain.agent_talking.discard(event.call_id)
        strain.last_end = event.at
        strain.last_talk_seconds = event.talk_seconds
        strain.last_abrupt = event.hung_up_by == "caller" and (
            event.talk_seconds < self.settings.abrupt_call_seconds or talking_at_end
        )

    def _answered(self, event: CallAnswered) -> list[Alert]:
        strain = self.agents.setdefault(event.agent_id, AgentStrain())
        strain.agent_talking &= {event.call_id}  # a call whose end was lost stays no longer
        alerts: list[Alert] = []
        gap = (event.at - strain.last_end).total_seconds() if strain.last_end else None
        at_once = gap is not None and gap < self.settings.pause_seconds
        strain.run = strain.run + 1 if at_once else 1
        if strain.run == self.settings.back_to_back_calls:
            alerts.append(
                Alert(
                    event.agent_id,
                    "back_to_back",
                    event.at,
                    {"calls": strain.run, "pause_seconds": self.settings.pause_seconds},
                )
            )
        if at_once and gap is not None:
            talk = strain.last_talk_seconds
            if talk >= self.settings.long_call_seconds:
                detail = {"talk_seconds": round(talk, 1), "gap_seconds": round(gap, 1)}
                alerts.append(Alert(event.agent_id, "long_call_then_next", event.at, detail))
            if strain.last_abrupt:
                detail = {"talk_seconds": round(talk, 1), "gap_seconds": round(gap, 1)}
                alerts.append(Alert(event.agent_id, "abrupt_call_then_next", event.at, detail))
        strain.last_end = None  # the pause before the next answer starts at this call's end
        return alerts

    # ------------------------------------------------------------------ states

    def _state(self, event: AgentStateChanged) -> list[Alert]:
        strain = self.agents.setdefault(event.agent_id, AgentStrain())
        alerts: list[Alert] = []
        if strain.wrap_up_since is not None and event.state is not AgentState.WRAP_UP:
            seconds = (event.at - strain.wrap_up_since).total_seconds()
            strain.last_after_call_work = seconds
            strain.wrap_up_since = None
            if seconds >= self.settings.after_call_work_seconds:
                alerts.append(
                    Alert(
                        event.agent_id,
                        "after_call_work",
                        event.at,
                        {"seconds": round(seconds, 1)},
                    )
                )
        if event.state is AgentState.WRAP_UP and strain.wrap_up_since is None:
            strain.wrap_up_since = event.at
        if strain.timeline and strain.timeline[-1][1] is event.state:
            return alerts  # a repeated state (new queues, a name): nothing changed
        strain.timeline.append((event.at, event.state))
        alert = self._occupancy(event.agent_id, strain, event.at)
        return [*alerts, alert] if alert else alerts

    def _occupancy(self, agent_id: str, strain: AgentStrain, now: datetime) -> Alert | None:
        window = timedelta(minutes=self.settings.occupancy_window_minutes)
        start = now - window
        while len(strain.timeline) > 1 and strain.timeline[1][0] <= start:
            strain.timeline.popleft()
        busy = staffed = 0.0
        points = list(strain.timeline)
        for (since, state), (until, _) in zip(points, [*points[1:], (now, None)], strict=True):
            seconds = (until - max(since, start)).total_seconds()
            if seconds <= 0:
                continue
            if state in STAFFED:
                staffed += seconds
            if state in BUSY:
                busy += seconds
        strain.occupancy = busy / staffed if staffed else None
        strain.measured_at = now
        enough = staffed >= self.settings.occupancy_min_staffed_minutes * 60
        if not enough or strain.occupancy is None:
            return None
        if strain.occupancy < self.settings.occupancy_threshold:
            strain.over_occupancy = False
            return None
        if strain.over_occupancy:
            return None
        strain.over_occupancy = True
        detail = {
            "occupancy": round(strain.occupancy, 3),
            "window_minutes": self.settings.occupancy_window_minutes,
            "staffed_seconds": round(staffed, 1),
        }
        return Alert(agent_id, "occupancy", now, detail)
