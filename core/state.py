"""The one live state model: calls in progress, agents and their states, queues and who waits.

Only events change it (:meth:`LiveState.apply`), and the event bus applies every event
exactly once before any plugin sees it.  Plugins, the API and metric collectors *read*
it; they never keep a second copy of the truth.  The objects are plain mutable structs
for speed; treat them as read-only outside this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from . import events as ev
from .events import AgentState


class Call(msgspec.Struct, kw_only=True):
    """A call in progress: waiting in a queue, ringing an agent, or connected."""

    call_id: str
    queue: str | None
    caller_id: str | None = None
    status: str = "queued"  # queued | talking
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    agent_id: str | None = None
    ringing_agents: list[str] = msgspec.field(default_factory=list)
    talking_legs: list[str] = msgspec.field(default_factory=list)


class Agent(msgspec.Struct, kw_only=True):
    """An agent (a queue member interface) and what they are doing now."""

    agent_id: str
    name: str | None = None
    state: AgentState = AgentState.LOGGED_OUT
    reason: str | None = None
    state_since: datetime | None = None
    queues: tuple[str, ...] = ()
    call_id: str | None = None
    last_queue: str | None = None
    headset_off_hook: bool | None = None
    headset_muted: bool | None = None


class Queue(msgspec.Struct, kw_only=True):
    """A queue, its settings, and the calls waiting in it (oldest first)."""

    name: str
    strategy: str = "unknown"
    service_level_seconds: float | None = None
    max_wait_seconds: float | None = None
    waiting: dict[str, datetime] = msgspec.field(default_factory=dict)
    #: The gateway (PBX) that reported the queue: where calls to it are placed.
    source: str | None = None

    def longest_wait(self, now: datetime) -> float:
        """Seconds the oldest waiting call has waited, 0 when nobody waits."""
        for queued_at in self.waiting.values():
            return max(0.0, (now - queued_at).total_seconds())
        return 0.0


class StateSlot:
    """A plugin's own part of the live state: typed, kept beside the core's.

    Subclass it, list the event types it follows in ``follows`` (classes, or type tags of
    another plugin's events, which need no import), implement :meth:`apply` and
    :meth:`snapshot`, and return an instance from the ``medlytt_state_slot`` hook.  The
    core applies each event to every slot that follows it, right after its own state and
    before any plugin's ``medlytt_event``, exactly once.  Read it anywhere as
    ``app.state.slot(MySlot)``.  An exception in :meth:`apply` is counted as the plugin's
    error and never stops the event.
    """

    #: Event classes (or type tags) this slot follows; empty: every event.
    follows: tuple[type[ev.Event] | str, ...] = ()

    def apply(self, event: ev.Event) -> None:
        """Update the slot with one event."""

    def snapshot(self) -> Any:
        """A JSON-ready copy for ``/api/state`` (under ``plugins.<name>``)."""
        return None


SlotT = TypeVar("SlotT", bound=StateSlot)
SlotError = Callable[[str, BaseException], None]


class LiveState:
    """Everything Medlytt knows about the contact center right now."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {}
        #: Plugins' slots by plugin name (see :class:`StateSlot`).
        self.slots: dict[str, StateSlot] = {}
        self._slot_routes: dict[type, list[tuple[str, StateSlot]]] = {}
        #: Told about an exception in a slot's ``apply`` (plugin name, exception).
        self.on_slot_error: SlotError | None = None
        self.last_event_at: datetime | None = None
        self._handlers: dict[type[ev.Event], Callable[[Any], None]] = {
            ev.QueueConfigured: self._queue_configured,
            ev.CallQueued: self._call_queued,
            ev.AgentOffered: self._agent_offered,
            ev.AgentRingNoAnswer: self._agent_ring_no_answer,
            ev.CallAnswered: self._call_answered,
            ev.CallEnded: self._call_ended,
            ev.CallAbandoned: self._call_left_queue,
            ev.CallTimedOut: self._call_left_queue,
            ev.CallLost: self._call_lost,
            ev.CallTransferred: self._call_transferred,
            ev.AgentStateChanged: self._agent_state_changed,
            ev.TalkStarted: self._talk_started,
            ev.TalkStopped: self._talk_stopped,
            ev.HeadsetHook: self._headset_hook,
            ev.HeadsetMute: self._headset_mute,
        }

    # ------------------------------------------------------------------ reading

    def queue(self, name: str) -> Queue:
        """The queue called ``name``, created on first mention."""
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(name=name)
        return queue

    def agent(self, agent_id: str) -> Agent:
        """The agent ``agent_id``, created (logged out) on first mention."""
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id=agent_id)
        return agent

    def find_agent(self, key: str) -> Agent | None:
        """An agent by interface (``PJSIP/1001``) or by display name, case-insensitive."""
        if key in self.agents:
            return self.agents[key]
        folded = key.casefold()
        for agent in self.agents.values():
            if agent.name and agent.name.casefold() == folded:
                return agent
        return None

    def slot(self, cls: type[SlotT]) -> SlotT:
        """The slot of class ``cls``; KeyError when its plugin is not loaded."""
        for slot in self.slots.values():
            if type(slot) is cls:
                return slot
        raise KeyError(f"no state slot {cls.__name__}: is its plugin loaded?")

    def add_slot(self, plugin: str, slot: StateSlot) -> None:
        """Give ``plugin`` its slot (the core does this from ``medlytt_state_slot``)."""
        if not isinstance(slot, StateSlot):
            raise TypeError(f"plugin {plugin!r}: medlytt_state_slot returned {slot!r}")
        self.slots[plugin] = slot
        self._slot_routes.clear()

    def view(self) -> dict[str, Any]:
        """The whole state as msgspec encodes it (structs, not copies): what ``/api/state``
        sends, encoded straight from the live objects, at once, on the event loop."""
        return {
            "calls": list(self.calls.values()),
            "agents": list(self.agents.values()),
            "queues": list(self.queues.values()),
            "plugins": {name: slot.snapshot() for name, slot in self.slots.items()},
            "last_event_at": self.last_event_at,
        }

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the whole state (dicts, lists, strings)."""
        return msgspec.to_builtins(self.view())

    # ------------------------------------------------------------------ writing

    def apply(self, event: ev.Event) -> None:
        """Update the state with one event; unknown event types change nothing."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        self.last_event_at = event.at
        if self.slots:
            routes = self._slot_routes.get(type(event))
            if routes is None:
                routes = self._slot_routes[type(event)] = self._route(event)
            for plugin, slot in routes:
                try:
                    slot.apply(event)
                except Exception as exc:
                    if self.on_slot_error is None:
                        raise
                    self.on_slot_error(plugin, exc)

    def _route(self, event: ev.Event) -> list[tuple[str, StateSlot]]:
        """The slots that follow events of this type (computed once per type)."""
        routes = []
        for plugin, slot in self.slots.items():
            follows = slot.follows
            if not follows or any(
                event.type == f if isinstance(f, str) else isinstance(event, f) for f in follows
            ):
                routes.append((plugin, slot))
        return routes

    def _queue_configured(self, e: ev.QueueConfigured) -> None:
        queue = self.queue(e.queue)
        queue.source = e.source
        queue.strategy = e.strategy
        queue.service_level_seconds = e.service_level_seconds
        queue.max_wait_seconds = e.max_wait_seconds

    def _call_queued(self, e: ev.CallQueued) -> None:
        self.calls[e.call_id] = Call(
            call_id=e.call_id, queue=e.queue, caller_id=e.caller_id, queued_at=e.at
        )
        self.queue(e.queue).waiting[e.call_id] = e.at

    def _agent_offered(self, e: ev.AgentOffered) -> None:
        call = self.calls.get(e.call_id)
        if call is not None and e.agent_id not in call.ringing_agents:
            call.ringing_agents.append(e.agent_id)

    def _agent_ring_no_answer(self, e: ev.AgentRingNoAnswer) -> None:
        call = self.calls.get(e.call_id)
        if call is not None and e.agent_id in call.ringing_agents:
            call.ringing_agents.remove(e.agent_id)

    def _call_answered(self, e: ev.CallAnswered) -> None:
        call = self.calls.get(e.call_id)
        if call is None:
            call = self.calls[e.call_id] = Call(call_id=e.call_id, queue=e.queue)
        call.status = "talking"
        call.answered_at = e.at
        call.agent_id = e.agent_id
        call.ringing_agents.clear()
        self.queue(e.queue).waiting.pop(e.call_id, None)
        agent = self.agent(e.agent_id)
        agent.call_id = e.call_id
        agent.last_queue = e.queue

    def _call_ended(self, e: ev.CallEnded) -> None:
        call = self.calls.pop(e.call_id, None)
        agent_id = e.agent_id or (call.agent_id if call else None)
        if agent_id is not None:
            agent = self.agent(agent_id)
            if agent.call_id == e.call_id:
                agent.call_id = None
            if e.queue:
                agent.last_queue = e.queue
        if e.queue:
            self.queue(e.queue).waiting.pop(e.call_id, None)

    def _call_left_queue(self, e: ev.CallAbandoned | ev.CallTimedOut) -> None:
        self.calls.pop(e.call_id, None)
        self.queue(e.queue).waiting.pop(e.call_id, None)

    def _call_lost(self, e: ev.CallLost) -> None:
        call = self.calls.pop(e.call_id, None)
        if call is None:
            return
        if call.queue:
            self.queue(call.queue).waiting.pop(e.call_id, None)
        if call.agent_id and self.agent(call.agent_id).call_id == e.call_id:
            self.agents[call.agent_id].call_id = None

    def _call_transferred(self, e: ev.CallTransferred) -> None:
        call = self.calls.get(e.call_id)
        if e.from_agent_id and self.agent(e.from_agent_id).call_id == e.call_id:
            self.agents[e.from_agent_id].call_id = None
        if call is not None:
            call.agent_id = e.to_agent_id
        if e.to_agent_id:
            self.agent(e.to_agent_id).call_id = e.call_id

    def _agent_state_changed(self, e: ev.AgentStateChanged) -> None:
        agent = self.agent(e.agent_id)
        agent.state = e.state
        agent.reason = e.reason
        agent.state_since = e.at
        if e.name is not None:
            agent.name = e.name
        if e.queues is not None:
            agent.queues = e.queues
            for name in e.queues:
                self.queue(name)

    def _talk_started(self, e: ev.TalkStarted) -> None:
        call = self.calls.get(e.call_id)
        if call is not None and e.leg not in call.talking_legs:
            call.talking_legs.append(e.leg)

    def _talk_stopped(self, e: ev.TalkStopped) -> None:
        call = self.calls.get(e.call_id)
        if call is not None and e.leg in call.talking_legs:
            call.talking_legs.remove(e.leg)

    def _headset_hook(self, e: ev.HeadsetHook) -> None:
        self.agent(e.agent_id).headset_off_hook = e.off_hook

    def _headset_mute(self, e: ev.HeadsetMute) -> None:
        self.agent(e.agent_id).headset_muted = e.muted
