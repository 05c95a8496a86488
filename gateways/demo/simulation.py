"""A simulated contact center: the demo's "PBX", and a load generator.

A discrete-event simulation on its own clock (seconds since start).  It keeps the PBX's
view of the world (who rings, who talks, who waits) the way Asterisk keeps its own, and
emits the same Medlytt events a real gateway would.  It never sleeps: the demo gateway
paces it against the wall clock, a benchmark runs it flat out.

The model, per queue: Poisson arrivals; callers with exponential patience who abandon;
a queue maximum wait after which the call times out; agents picked least-recently-idle,
who ring for a while (sometimes ring out), talk a log-normal time, wrap up, and now and
then pause (lunch, training, coaching) with a reason.

The demo starts with the day so far behind it: :func:`history_seconds` says how much
simulated time to run at once before now (the center "opened" that long ago), and the
state the simulation reaches is the live state the demo goes on from.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from medlytt import events as ev
from medlytt.events import AgentState

from .settings import DemoSettings

FIRST_NAMES = (
    "Ingrid",
    "Lars",
    "Sigrid",
    "Mikkel",
    "Astrid",
    "Henrik",
    "Kari",
    "Johan",
    "Freja",
    "Ole",
    "Nora",
    "Erik",
    "Maja",
    "Anders",
    "Liv",
    "Magnus",
    "Ebba",
    "Sander",
    "Tuva",
    "Emil",
)
LAST_NAMES = ("Berg", "Hansen", "Lund", "Nilsen", "Dahl", "Holm", "Strand", "Lie", "Vik", "Moen")
PAUSE_REASONS = (("break", 600.0), ("lunch", 1800.0), ("training", 1200.0), ("coaching", 900.0))
RING_OUT_SECONDS = 15.0

#: The history simulated at start is shortened to hold at most about this many events:
#: published one instant at a time through the whole pipeline, about 0.6 s on one core.
MAX_HISTORY_EVENTS = 10_000
#: Events per call (queued, offered, ringing, answered, on call, ended, wrap-up, available),
#: per offer rung out (offered, ringing, ring no answer, available) and per pause (paused,
#: available), for estimating a history's size.
EVENTS_PER_CALL = 8
EVENTS_PER_RING_OUT = 4
EVENTS_PER_PAUSE = 2


def history_seconds(settings: DemoSettings) -> float:
    """Simulated seconds to run at start: ``history_hours``, shortened so the history holds
    at most about :data:`MAX_HISTORY_EVENTS` events (heavy traffic or many agents)."""
    wanted = settings.history_hours * 3600.0
    calls = sum(q.calls_per_hour for q in settings.queues) / 3600.0
    pauses = settings.agents * settings.pauses_per_agent_hour / 3600.0
    ring_out = min(settings.ring_no_answer_ratio, 0.95)
    per_call = EVENTS_PER_CALL + EVENTS_PER_RING_OUT * ring_out / (1 - ring_out)
    per_second = per_call * calls + EVENTS_PER_PAUSE * pauses
    budget = MAX_HISTORY_EVENTS - settings.agents - len(settings.queues)
    if per_second <= 0:
        return wanted
    return max(0.0, min(wanted, budget / per_second))


@dataclass
class SimAgent:
    agent_id: str
    name: str
    queues: tuple[str, ...]
    state: AgentState = AgentState.AVAILABLE
    idle_since: float = 0.0
    call: SimCall | None = None
    pause_pending: bool = False
    #: Position in the simulation's agent list: ties in ``idle_since`` go to the lower one.
    index: int = 0


@dataclass(eq=False)  # by identity: finding a call among thousands waiting compares no fields
class SimCall:
    call_id: str
    queue: str
    arrived: float
    status: str = "waiting"  # waiting | ringing | talking | gone
    agent: SimAgent | None = None
    ring_started: float = 0.0
    answered: float = 0.0
    offer: int = 0  # increments per offer so stale ring timers are ignored


class _Action(NamedTuple):
    """A scheduled happening; compared as a tuple in C (``seq`` is unique, so ``run``
    never is), which keeps the heap cheap with thousands of calls in flight."""

    at: float
    seq: int
    run: Callable[[], None]


class ContactCenterSimulation:
    """The simulated contact center.  Call :meth:`start`, then :meth:`advance` repeatedly."""

    def __init__(self, settings: DemoSettings, *, start: datetime, seed: int | None = None):
        self.settings = settings
        self.started_at = start
        self.rng = random.Random(seed)
        self.now = 0.0
        self.source = "demo"
        self._heap: list[_Action] = []
        self._seq = itertools.count()
        self._call_numbers = itertools.count(1)
        self._out: list[ev.Event] = []
        self.queues = {q.name: q for q in settings.queues}
        self.waiting: dict[str, list[SimCall]] = {q.name: [] for q in settings.queues}
        self.agents = self._make_agents()
        #: The agents whose state is AVAILABLE, by index: :meth:`_pick_agent` scans only
        #: these, so a busy center of thousands of agents costs little per dispatch.
        self.available: dict[int, SimAgent] = {a.index: a for a in self.agents}

    # ------------------------------------------------------------------ public

    def start(self) -> list[ev.Event]:
        """Announce queues and agents and schedule the first arrivals and pauses."""
        for queue in self.settings.queues:
            self._emit(
                ev.QueueConfigured,
                queue=queue.name,
                strategy=queue.strategy,
                service_level_seconds=queue.service_level_seconds,
                max_wait_seconds=queue.max_wait_seconds,
            )
            self._schedule_arrival(queue.name)
        for agent in self.agents:
            self._emit(
                ev.AgentStateChanged,
                agent_id=agent.agent_id,
                state=AgentState.AVAILABLE,
                name=agent.name,
                queues=agent.queues,
            )
            self._schedule_pause(agent)
        return self._flush()

    def next_time(self) -> float:
        """Simulated time of the next thing that happens."""
        return self._heap[0].at if self._heap else math.inf

    def advance(self, until: float) -> list[ev.Event]:
        """Run everything due up to ``until`` (simulated seconds); return the events."""
        while self._heap and self._heap[0].at <= until:
            action = heapq.heappop(self._heap)
            self.now = action.at
            action.run()
        self.now = max(self.now, until)
        return self._flush()

    def steps(self, seconds: float) -> Iterator[list[ev.Event]]:
        """:meth:`start`, then run the first ``seconds`` simulated seconds as fast as possible:
        one list of events per instant, in time order.  Once exhausted the clock stands at
        ``seconds`` and whoever talks or waits then goes on from there (:meth:`advance`)."""
        yield self.start()
        while self.next_time() <= seconds:
            yield self.advance(self.next_time())
        self.now = max(self.now, seconds)

    def run(self, seconds: float) -> Iterator[ev.Event]:
        """Yield every event of the first ``seconds`` simulated seconds, as fast as possible."""
        for events in self.steps(seconds):
            yield from events

    # ------------------------------------------------------------------ set-up

    def _make_agents(self) -> list[SimAgent]:
        names = [f"{f} {ln}" for ln, f in itertools.product(LAST_NAMES, FIRST_NAMES)]
        self.rng.shuffle(names)
        queue_names = [q.name for q in self.settings.queues]
        agents = []
        for i in range(self.settings.agents):
            queues = [queue_names[i % len(queue_names)]]
            if len(queue_names) > 1 and i % 3 == 0:  # every third agent covers two queues
                queues.append(queue_names[(i + 1) % len(queue_names)])
            agents.append(
                SimAgent(
                    agent_id=f"DEMO/{1001 + i}",
                    name=names[i % len(names)],
                    queues=tuple(queues),
                    index=i,
                )
            )
        return agents

    # ------------------------------------------------------------------ plumbing

    def _schedule(self, delay: float, run: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Action(self.now + delay, next(self._seq), run))

    def _emit(self, cls: type[ev.Event], **fields: object) -> None:
        at = self.started_at + timedelta(seconds=self.now)
        self._out.append(cls(at=at, source=self.source, **fields))

    def _flush(self) -> list[ev.Event]:
        out, self._out = self._out, []
        return out

    def _lognormal(self, mean: float, sigma: float = 0.6) -> float:
        """A positive duration with the given mean and a realistic long tail."""
        return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    def _set_state(self, agent: SimAgent, state: AgentState, reason: str | None = None) -> None:
        agent.state = state
        if state is AgentState.AVAILABLE:
            self.available[agent.index] = agent
        else:
            self.available.pop(agent.index, None)
        self._emit(ev.AgentStateChanged, agent_id=agent.agent_id, state=state, reason=reason)

    # ------------------------------------------------------------------ callers

    def _schedule_arrival(self, queue: str) -> None:
        rate = self.queues[queue].calls_per_hour / 3600.0
        if rate > 0:
            self._schedule(self.rng.expovariate(rate), lambda: self._arrive(queue))

    def _arrive(self, queue_name: str) -> None:
        self._schedule_arrival(queue_name)
        queue = self.queues[queue_name]
        call = SimCall(f"demo-{next(self._call_numbers):06d}", queue_name, self.now)
        waiting = self.waiting[queue_name]
        waiting.append(call)
        caller_id = f"+47{self.rng.randrange(40000000, 99999999)}"
        self._emit(
            ev.CallQueued,
            call_id=call.call_id,
            queue=queue_name,
            caller_id=caller_id,
            position=len(waiting),
        )
        patience = self.rng.expovariate(1.0 / queue.patience_mean_seconds)
        if queue.max_wait_seconds is None or patience < queue.max_wait_seconds:
            self._schedule(patience, lambda: self._leave(call, ev.CallAbandoned))
        else:
            self._schedule(queue.max_wait_seconds, lambda: self._leave(call, ev.CallTimedOut))
        self._dispatch()

    def _leave(self, call: SimCall, cls: type[ev.CallAbandoned] | type[ev.CallTimedOut]) -> None:
        if call.status not in ("waiting", "ringing"):
            return
        waiting = self.waiting[call.queue]
        position = waiting.index(call) + 1
        waiting.remove(call)
        if call.status == "ringing" and call.agent is not None:
            agent, call.agent = call.agent, None
            agent.call = None
            agent.idle_since = self.now
            self._set_state(agent, AgentState.AVAILABLE)
        call.status = "gone"
        wait = self.now - call.arrived
        if cls is ev.CallAbandoned:
            self._emit(
                cls, call_id=call.call_id, queue=call.queue, wait_seconds=wait, position=position
            )
        else:
            self._emit(cls, call_id=call.call_id, queue=call.queue, wait_seconds=wait)
        self._dispatch()

    # ------------------------------------------------------------------ routing

    def _dispatch(self) -> None:
        """Offer the oldest waiting calls to the agents idle longest (Asterisk leastrecent)."""
        for queue_name, waiting in self.waiting.items():
            for call in waiting:
                if call.status != "waiting":
                    continue
                agent = self._pick_agent(queue_name)
                if agent is None:
                    break
                self._offer(call, agent)

    def _pick_agent(self, queue: str) -> SimAgent | None:
        best = None
        for agent in self.available.values():
            if queue in agent.queues and (
                best is None
                or agent.idle_since < best.idle_since
                or (agent.idle_since == best.idle_since and agent.index < best.index)
            ):
                best = agent
        return best

    def _offer(self, call: SimCall, agent: SimAgent) -> None:
        call.status = "ringing"
        call.agent = agent
        call.ring_started = self.now
        call.offer += 1
        offer = call.offer
        agent.call = call
        self._set_state(agent, AgentState.RINGING)
        self._emit(ev.AgentOffered, call_id=call.call_id, queue=call.queue, agent_id=agent.agent_id)
        if self.rng.random() < self.settings.ring_no_answer_ratio:
            self._schedule(RING_OUT_SECONDS, lambda: self._ring_out(call, agent, offer))
        else:
            ring = min(
                self._lognormal(self.settings.ring_mean_seconds, 0.4), RING_OUT_SECONDS - 0.5
            )
            self._schedule(ring, lambda: self._answer(call, agent, offer))

    def _ring_out(self, call: SimCall, agent: SimAgent, offer: int) -> None:
        if call.status != "ringing" or call.offer != offer:
            return
        call.status = "waiting"
        call.agent = None
        agent.call = None
        agent.idle_since = self.now  # goes to the back of the line
        self._emit(
            ev.AgentRingNoAnswer,
            call_id=call.call_id,
            queue=call.queue,
            agent_id=agent.agent_id,
            ring_seconds=self.now - call.ring_started,
        )
        self._set_state(agent, AgentState.AVAILABLE)
        self._dispatch()

    # ------------------------------------------------------------------ talking

    def _answer(self, call: SimCall, agent: SimAgent, offer: int) -> None:
        if call.status != "ringing" or call.offer != offer:
            return
        self.waiting[call.queue].remove(call)
        call.status = "talking"
        call.answered = self.now
        self._emit(
            ev.CallAnswered,
            call_id=call.call_id,
            queue=call.queue,
            agent_id=agent.agent_id,
            wait_seconds=self.now - call.arrived,
            ring_seconds=self.now - call.ring_started,
        )
        self._set_state(agent, AgentState.ON_CALL)
        talk = self._lognormal(self.queues[call.queue].talk_mean_seconds)
        self._schedule(talk, lambda: self._hang_up(call, agent))

    def _hang_up(self, call: SimCall, agent: SimAgent) -> None:
        call.status = "gone"
        agent.call = None
        talk = self.now - call.answered
        if self.rng.random() < self.settings.transfer_ratio:
            self._emit(
                ev.CallTransferred,
                call_id=call.call_id,
                from_agent_id=agent.agent_id,
                target="backoffice",
            )
            hung_up_by = "agent"
        else:
            hung_up_by = "caller" if self.rng.random() < 0.6 else "agent"
        self._emit(
            ev.CallEnded,
            call_id=call.call_id,
            queue=call.queue,
            agent_id=agent.agent_id,
            hung_up_by=hung_up_by,
            talk_seconds=talk,
            wait_seconds=call.answered - call.arrived,
        )
        self._set_state(agent, AgentState.WRAP_UP)
        wrap = self._lognormal(self.queues[call.queue].wrapup_mean_seconds, 0.5)
        self._schedule(wrap, lambda: self._wrapped_up(agent))

    def _wrapped_up(self, agent: SimAgent) -> None:
        if agent.pause_pending:
            self._pause(agent)
            return
        agent.idle_since = self.now
        self._set_state(agent, AgentState.AVAILABLE)
        self._dispatch()

    # ------------------------------------------------------------------ pauses

    def _schedule_pause(self, agent: SimAgent) -> None:
        rate = self.settings.pauses_per_agent_hour / 3600.0
        if rate > 0:
            self._schedule(self.rng.expovariate(rate), lambda: self._want_pause(agent))

    def _want_pause(self, agent: SimAgent) -> None:
        if agent.state is AgentState.AVAILABLE:
            self._pause(agent)
        elif agent.state is not AgentState.PAUSED:
            agent.pause_pending = True
        else:
            self._schedule_pause(agent)

    def _pause(self, agent: SimAgent) -> None:
        agent.pause_pending = False
        reason, mean = self.rng.choice(PAUSE_REASONS)
        self._set_state(agent, AgentState.PAUSED, reason=reason)
        self._schedule(self._lognormal(mean, 0.3), lambda: self._unpause(agent))

    def _unpause(self, agent: SimAgent) -> None:
        agent.idle_since = self.now
        self._set_state(agent, AgentState.AVAILABLE)
        self._schedule_pause(agent)
        self._dispatch()
