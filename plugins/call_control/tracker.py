"""From the event stream to measured conversations: which calls are followed, and when
one is finished.

A call is followed from its first talk event (the caller talks while waiting, before any
agent answers); at the answer it is kept only when the agent's team has the module on
(``app.modules.active_for_agent``), and at the end it is measured, published as
``conversation.measured`` and stored.  Calls that end unanswered are forgotten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from medlytt import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallLost,
    CallTimedOut,
    Event,
    TalkStarted,
    TalkStopped,
)
from prometheus_client import CollectorRegistry, Counter, Histogram

from . import store
from .conversation import Conversation, Measures
from .events import ConversationMeasured
from .settings import CallControlSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "call_control"
MODULE_ID = "call-control"
#: The ``queue`` label of a call that came without a queue.
NO_QUEUE = "none"
#: The events the module follows (``medlytt.listens_to``).
FOLLOWED = (
    TalkStarted,
    TalkStopped,
    CallAnswered,
    CallEnded,
    CallAbandoned,
    CallTimedOut,
    CallLost,
)


class ConversationMetrics:
    """Per-queue histograms (queues are few and configured; agents are many: the per-agent
    figures are in ``GET /api/conversations``, not in labels)."""

    def __init__(self, registry: CollectorRegistry, settings: CallControlSettings) -> None:
        self.measured = Counter(
            "medlytt_conversations_measured",
            "Answered calls measured by the call-control module.",
            ["queue"],
            registry=registry,
        )
        self.agent_share = Histogram(
            "medlytt_conversation_agent_talk_share",
            "The agent's share of the talking in a call (0-1; calls where somebody talked).",
            ["queue"],
            buckets=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
            registry=registry,
        )
        self.overtalk = Histogram(
            "medlytt_conversation_overtalk",
            "Times per call the agent started talking while the customer talked.",
            ["queue"],
            buckets=settings.overtalk_buckets,
            registry=registry,
        )
        self.silence = Histogram(
            "medlytt_conversation_longest_silence_seconds",
            "The longest stretch per call in which neither side talked.",
            ["queue"],
            buckets=settings.seconds_buckets,
            registry=registry,
        )
        self.first_words = Histogram(
            "medlytt_conversation_agent_first_words_seconds",
            "From answer to the agent's first words (calls where the agent talked).",
            ["queue"],
            buckets=settings.seconds_buckets,
            registry=registry,
        )

    def observe(self, queue: str, m: Measures) -> None:
        self.measured.labels(queue).inc()
        if m.agent_share is not None:
            self.agent_share.labels(queue).observe(m.agent_share)
        self.overtalk.labels(queue).observe(m.overtalk_count)
        self.silence.labels(queue).observe(m.longest_silence_seconds)
        if m.agent_first_words_seconds is not None:
            self.first_words.labels(queue).observe(m.agent_first_words_seconds)


class ConversationTracker:
    """The calls being followed, by call id."""

    def __init__(self, app: Medlytt, settings: CallControlSettings) -> None:
        self.app = app
        self.settings = settings
        self.calls: dict[str, Conversation] = {}
        self.metrics: ConversationMetrics | None = None

    def _follow(self, call_id: str, at: float) -> Conversation:
        call = self.calls.get(call_id)
        if call is None:
            if len(self.calls) >= self.settings.max_open_calls:
                oldest = min(self.calls.values(), key=lambda c: c.first_seen)
                del self.calls[oldest.call_id]
            call = self.calls[call_id] = Conversation(call_id=call_id, first_seen=at)
        return call

    def live(self, call_id: str) -> Conversation | None:
        """The answered call ``call_id`` while it is measured."""
        call = self.calls.get(call_id)
        return call if call is not None and call.answered_at is not None else None

    async def on_event(self, event: Event) -> None:
        at = event.at.timestamp()
        if isinstance(event, TalkStarted):
            self._follow(event.call_id, at).talk_started(event.leg, at)
        elif isinstance(event, TalkStopped):
            call = self.calls.get(event.call_id)
            if call is not None:
                call.talk_stopped(event.leg, at, event.duration_seconds)
        elif isinstance(event, CallAnswered):
            if self.app.modules.active_for_agent(MODULE_ID, event.agent_id):
                self._follow(event.call_id, at).answered(at, event.agent_id, event.queue)
            else:
                self.calls.pop(event.call_id, None)
        elif isinstance(event, CallEnded):
            call = self.calls.pop(event.call_id, None)
            if call is not None and call.answered_at is not None:
                await self._finish(call, at)
        elif isinstance(event, CallAbandoned | CallTimedOut | CallLost):
            self.calls.pop(event.call_id, None)

    async def _finish(self, call: Conversation, ended_at: float) -> None:
        measures = call.measure(ended_at)
        assert call.agent_id is not None and call.answered_at is not None  # answered()
        self.app.publish(
            ConversationMeasured(
                at=datetime.fromtimestamp(ended_at, UTC),
                source=PLUGIN,
                call_id=call.call_id,
                agent_id=call.agent_id,
                queue=call.queue,
                agent_talk_seconds=measures.agent_talk_seconds,
                customer_talk_seconds=measures.customer_talk_seconds,
                overtalk_count=measures.overtalk_count,
                longest_silence_seconds=measures.longest_silence_seconds,
                agent_first_words_seconds=measures.agent_first_words_seconds,
                call_seconds=measures.call_seconds,
                phases=measures.phases,
            )
        )
        if self.metrics is not None:
            self.metrics.observe(call.queue or NO_QUEUE, measures)
        row = row_of(call, ended_at, measures)
        await self.app.storage.run(lambda db: store.save(db, row))


def row_of(call: Conversation, ended_at: float, m: Measures) -> dict[str, Any]:
    """The stored row of a measured call."""
    assert call.answered_at is not None
    return {
        "call_id": call.call_id,
        "agent_id": call.agent_id,
        "queue": call.queue,
        "answered_at": datetime.fromtimestamp(call.answered_at, UTC).isoformat(),
        "ended_at": datetime.fromtimestamp(ended_at, UTC).isoformat(),
        "call_seconds": m.call_seconds,
        "agent_talk_seconds": m.agent_talk_seconds,
        "customer_talk_seconds": m.customer_talk_seconds,
        "agent_share": m.agent_share,
        "customer_share": m.customer_share,
        "overtalk_count": m.overtalk_count,
        "longest_silence_seconds": m.longest_silence_seconds,
        "agent_first_words_seconds": m.agent_first_words_seconds,
        "phases": m.phases,
    }
