"""Queue metrics: counters and histograms from events, gauges read from the live state.

Counters and histograms change when an event says something happened (a call was
answered after 12 s); gauges (who waits now, agents per state) are read from the one live
state when Prometheus scrapes, so they can never drift from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from medlytt import events as ev
from medlytt import hookimpl
from medlytt.clock import utcnow
from medlytt.events import AgentState
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from medlytt.app import Medlytt
    from medlytt.state import LiveState

OUTCOMES = ("answered", "abandoned", "timeout", "other")

DEFAULT_WAIT_BUCKETS = [5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0]
DEFAULT_TALK_BUCKETS = [30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0]
DEFAULT_WRAPUP_BUCKETS = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0]


class QueueMetricsSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[queue_metrics]``: histogram buckets, in seconds."""

    wait_buckets: list[float] = msgspec.field(default_factory=lambda: list(DEFAULT_WAIT_BUCKETS))
    talk_buckets: list[float] = msgspec.field(default_factory=lambda: list(DEFAULT_TALK_BUCKETS))
    wrapup_buckets: list[float] = msgspec.field(
        default_factory=lambda: list(DEFAULT_WRAPUP_BUCKETS)
    )

    def __post_init__(self) -> None:
        for name in ("wait_buckets", "talk_buckets", "wrapup_buckets"):
            buckets = getattr(self, name)
            if not buckets or buckets != sorted(set(buckets)) or buckets[0] <= 0:
                raise ValueError(f"{name} must be positive, increasing and not empty")


class QueueMetrics:
    """The metric objects and the bookkeeping that turns events into observations."""

    def __init__(self, registry: CollectorRegistry, settings: QueueMetricsSettings) -> None:
        self.calls = Counter(
            "medlytt_queue_calls",
            "Calls that left a queue, by outcome (answered, abandoned, timeout, other).",
            ["queue", "outcome"],
            registry=registry,
        )
        self.wait = Histogram(
            "medlytt_queue_wait_seconds",
            "Time callers spent in the queue, by outcome.",
            ["queue", "outcome"],
            buckets=settings.wait_buckets,
            registry=registry,
        )
        self.talk = Histogram(
            "medlytt_call_talk_seconds",
            "Talk time of answered queue calls.",
            ["queue"],
            buckets=settings.talk_buckets,
            registry=registry,
        )
        self.wrapup = Histogram(
            "medlytt_call_wrapup_seconds",
            "Time agents spent in wrap-up after a queue call.",
            ["queue"],
            buckets=settings.wrapup_buckets,
            registry=registry,
        )
        self._wrapup_started: dict[str, tuple[datetime, str]] = {}
        self._known_queues: set[str] = set()

    def _queue_seen(self, queue: str) -> None:
        """Create every outcome's series at zero, so rates work from the first call."""
        if queue in self._known_queues:
            return
        self._known_queues.add(queue)
        for outcome in OUTCOMES:
            self.calls.labels(queue, outcome)
            self.wait.labels(queue, outcome)
        self.talk.labels(queue)
        self.wrapup.labels(queue)

    def _left_queue(self, queue: str, outcome: str, wait: float) -> None:
        self._queue_seen(queue)
        self.calls.labels(queue, outcome).inc()
        self.wait.labels(queue, outcome).observe(wait)

    def observe(self, event: ev.Event, state: LiveState) -> None:
        match event:
            case ev.QueueConfigured(queue=queue) | ev.CallQueued(queue=queue):
                self._queue_seen(queue)
            case ev.CallAnswered(queue=queue, wait_seconds=wait):
                self._left_queue(queue, "answered", wait)
            case ev.CallAbandoned(queue=queue, wait_seconds=wait):
                self._left_queue(queue, "abandoned", wait)
            case ev.CallTimedOut(queue=queue, wait_seconds=wait):
                self._left_queue(queue, "timeout", wait)
            case ev.CallLost(queue=str() as queue):
                self._queue_seen(queue)
                self.calls.labels(queue, "other").inc()
            case ev.CallEnded(queue=str() as queue, talk_seconds=talk):
                self._queue_seen(queue)
                self.talk.labels(queue).observe(talk)
            case ev.AgentStateChanged(agent_id=agent_id, state=new_state, at=at):
                started = self._wrapup_started.pop(agent_id, None)
                if started is not None:
                    began, queue = started
                    self.wrapup.labels(queue).observe(max(0.0, (at - began).total_seconds()))
                if new_state is AgentState.WRAP_UP:
                    agent = state.agents.get(agent_id)
                    if agent is not None and agent.last_queue:
                        self._wrapup_started[agent_id] = (at, agent.last_queue)


class QueueStateCollector(Collector):
    """Gauges read from the live state at scrape time."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.app.state
        now = utcnow()
        if state.last_event_at is not None and state.last_event_at > now:
            now = state.last_event_at  # the demo's clock runs ahead when speed > 1
        waiting = GaugeMetricFamily(
            "medlytt_queue_calls_waiting", "Calls waiting in the queue now.", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "medlytt_queue_longest_wait_seconds",
            "How long the oldest waiting call has waited.",
            labels=["queue"],
        )
        agents = GaugeMetricFamily(
            "medlytt_agents",
            "Agents that are members of the queue, by state.",
            labels=["queue", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for agent in state.agents.values():
            for queue in agent.queues:
                key = (queue, agent.state.value)
                counts[key] = counts.get(key, 0) + 1
        for queue in state.queues.values():
            waiting.add_metric([queue.name], len(queue.waiting))
            longest.add_metric([queue.name], queue.longest_wait(now))
            for agent_state in AgentState:
                agents.add_metric(
                    [queue.name, agent_state.value], counts.get((queue.name, agent_state.value), 0)
                )
        yield waiting
        yield longest
        yield agents


PLUGIN = "queue_metrics"


@hookimpl
def medlytt_config_schema() -> type[QueueMetricsSettings]:
    return QueueMetricsSettings


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    app.plugin_state[PLUGIN] = QueueMetrics(registry, app.plugin_config(PLUGIN))
    registry.register(QueueStateCollector(app))


@hookimpl
def medlytt_event(event: ev.Event, state: LiveState, app: Medlytt) -> None:
    metrics = app.plugin_state.get(PLUGIN)
    if metrics is not None:
        metrics.observe(event, state)
