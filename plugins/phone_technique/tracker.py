"""From the event stream to each answered call's phone-technique facts.

A call is followed from its first event (the agent's leg may report talk a moment before
the answer reaches Medlytt); at the answer it is kept only when the agent's team has the
module on (``app.modules.active_for_agent``); headset events are the agent's, so they go
to the call that agent is on; at the end the facts are counted in the metrics and stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medlytt import (
    AgentOffered,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallLost,
    CallQueued,
    CallResumed,
    CallTimedOut,
    CallTransferred,
    Event,
    HeadsetHook,
    HeadsetMute,
    TalkStarted,
)
from prometheus_client import CollectorRegistry, Counter, Histogram

from . import store
from .phone_call import PhoneCall
from .settings import PhoneTechniqueSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "phone_technique"
MODULE_ID = "phone-technique"
NO_QUEUE = "none"
#: The events the module follows (``medlytt.listens_to``).
FOLLOWED = (
    CallQueued,
    AgentOffered,
    TalkStarted,
    CallAnswered,
    CallHeld,
    CallResumed,
    HeadsetMute,
    HeadsetHook,
    CallTransferred,
    CallEnded,
    CallAbandoned,
    CallTimedOut,
    CallLost,
)


class PhoneMetrics:
    """Per-queue metrics.  Queues are few; agents may be thousands, and a histogram per
    agent would be thousands times a dozen series: per-agent distributions are served by
    ``GET /api/phone-technique`` instead."""

    def __init__(self, registry: CollectorRegistry, settings: PhoneTechniqueSettings) -> None:
        buckets = settings.seconds_buckets
        self.calls = Counter(
            "medlytt_phone_calls",
            "Answered calls measured by the phone-technique module, by whether the agent's "
            "headset told mute (known) or not (unknown).",
            ["queue", "mute"],
            registry=registry,
        )
        self.ring = Histogram(
            "medlytt_phone_ring_seconds",
            "How long the answering agent's phone rang.",
            ["queue"],
            buckets=buckets,
            registry=registry,
        )
        self.first_words = Histogram(
            "medlytt_phone_first_words_seconds",
            "From answer to the agent's first words (talk detection).",
            ["queue"],
            buckets=buckets,
            registry=registry,
        )
        self.hold = Histogram(
            "medlytt_phone_hold_seconds",
            "Length of each hold (music on hold) in measured calls.",
            ["queue"],
            buckets=buckets,
            registry=registry,
        )
        self.mutes = Counter(
            "medlytt_phone_mutes",
            "Headset mutes during measured calls (agents with a headset signal only).",
            ["queue"],
            registry=registry,
        )
        self.transfers = Counter(
            "medlytt_phone_transfers",
            "Transfers of measured calls.",
            ["queue"],
            registry=registry,
        )

    def observe(self, queue: str, call: PhoneCall, facts: dict[str, object], end: float) -> None:
        self.calls.labels(queue, "known" if call.mute_known else "unknown").inc()
        self.ring.labels(queue).observe(call.ring_seconds)
        if isinstance(facts["first_words_seconds"], float):
            self.first_words.labels(queue).observe(facts["first_words_seconds"])
        for start, stop in call.holds:
            self.hold.labels(queue).observe((end if stop is None else stop) - start)
        if call.mute_known:
            self.mutes.labels(queue).inc(len(call.mutes))
        self.transfers.labels(queue).inc(call.transfers)


class PhoneTechniqueTracker:
    """The calls being followed (by call id) and the call each agent is on."""

    def __init__(self, app: Medlytt, settings: PhoneTechniqueSettings) -> None:
        self.app = app
        self.settings = settings
        self.calls: dict[str, PhoneCall] = {}
        self.on_call: dict[str, str] = {}  # agent id -> call id
        #: Agents whose headset reported, in event order: muted now or not.
        self.headsets: dict[str, bool] = {}
        self.metrics: PhoneMetrics | None = None

    def _follow(self, call_id: str, at: float) -> PhoneCall:
        call = self.calls.get(call_id)
        if call is None:
            if len(self.calls) >= self.settings.max_open_calls:
                self._drop(min(self.calls.values(), key=lambda c: c.first_seen).call_id)
            call = self.calls[call_id] = PhoneCall(call_id=call_id, first_seen=at)
        return call

    def _drop(self, call_id: str) -> PhoneCall | None:
        call = self.calls.pop(call_id, None)
        if call is not None and call.agent_id and self.on_call.get(call.agent_id) == call_id:
            del self.on_call[call.agent_id]
        return call

    def _agent_call(self, agent_id: str) -> PhoneCall | None:
        call_id = self.on_call.get(agent_id)
        return self.calls.get(call_id) if call_id is not None else None

    async def on_event(self, event: Event) -> None:
        at = event.at.timestamp()
        if isinstance(event, CallQueued):
            self._follow(event.call_id, at)
        elif isinstance(event, AgentOffered):
            self._follow(event.call_id, at).offered[event.agent_id] = at
        elif isinstance(event, TalkStarted):
            self._follow(event.call_id, at).talk_started(event.leg, at)
        elif isinstance(event, CallAnswered):
            self._answered(event, at)
        elif isinstance(event, CallHeld | CallResumed):
            call = self.calls.get(event.call_id)
            if call is not None:
                call.held(at, isinstance(event, CallHeld))
        elif isinstance(event, HeadsetMute):
            self.headsets[event.agent_id] = event.muted
            call = self._agent_call(event.agent_id)
            if call is not None:
                call.muted(at, event.muted)
        elif isinstance(event, HeadsetHook):
            self.headsets.setdefault(event.agent_id, False)
            call = self._agent_call(event.agent_id)
            if call is not None:
                call.headset_seen()
        elif isinstance(event, CallTransferred):
            call = self.calls.get(event.call_id)
            if call is not None:
                call.transferred(event.target)
        elif isinstance(event, CallEnded):
            call = self._drop(event.call_id)
            if call is not None and call.answered_at is not None:
                await self._finish(call, at, event.talk_seconds)
        elif isinstance(event, CallAbandoned | CallTimedOut | CallLost):
            self._drop(event.call_id)

    def _answered(self, event: CallAnswered, at: float) -> None:
        if not self.app.modules.active_for_agent(MODULE_ID, event.agent_id):
            self._drop(event.call_id)
            return
        muted = self.headsets.get(event.agent_id)
        if muted is None:  # no headset event since Medlytt started: the live state may know
            agent = self.app.state.agents.get(event.agent_id)
            if agent is not None and agent.headset_muted is not None:
                muted = agent.headset_muted
            elif agent is not None and agent.headset_off_hook is not None:
                muted = False
        call = self._follow(event.call_id, at)
        call.answered(at, event.agent_id, event.queue, event.ring_seconds, muted)
        self.on_call[event.agent_id] = event.call_id

    async def _finish(self, call: PhoneCall, ended_at: float, talk_seconds: float) -> None:
        facts = call.facts(ended_at, talk_seconds)
        if self.metrics is not None:
            self.metrics.observe(call.queue or NO_QUEUE, call, facts, ended_at)
        assert call.answered_at is not None
        row = {
            **facts,
            "answered_at": datetime.fromtimestamp(call.answered_at, UTC).isoformat(),
            "ended_at": datetime.fromtimestamp(ended_at, UTC).isoformat(),
        }
        await self.app.storage.run(lambda db: store.save(db, row))
