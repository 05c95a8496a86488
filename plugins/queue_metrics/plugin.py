"""Queue metrics: counters and histograms from events, gauges read from the live state.

Counters and histograms change when an event says something happened (a call was
answered after 12 s); gauges (who waits now, agents per state) are read from the one live
state when Prometheus scrapes, so they can never drift from it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import msgspec
from medlytt import events as ev
from medlytt import hookimpl, time_zone, utcnow
from medlytt.events import AgentState
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .windows import AgentTime, QueueWindows, parse_window, window_start

if TYPE_CHECKING:
    from medlytt import LiveState, Medlytt

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "abandoned", "timeout", "other")

DEFAULT_WAIT_BUCKETS = [5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0]
DEFAULT_TALK_BUCKETS = [30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0]
DEFAULT_WRAPUP_BUCKETS = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0]


Ratio = Annotated[float, msgspec.Meta(gt=0, le=1)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]


class QueueMetricsSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[queue_metrics]``: buckets, service level, staffing and occupancy settings."""

    #: Buckets of medlytt_queue_wait_seconds (include your service-level thresholds).
    wait_buckets: list[float] = msgspec.field(default_factory=lambda: list(DEFAULT_WAIT_BUCKETS))
    #: Buckets of medlytt_call_talk_seconds.
    talk_buckets: list[float] = msgspec.field(default_factory=lambda: list(DEFAULT_TALK_BUCKETS))
    #: Buckets of medlytt_call_wrapup_seconds.
    wrapup_buckets: list[float] = msgspec.field(
        default_factory=lambda: list(DEFAULT_WRAPUP_BUCKETS)
    )
    #: Windows of medlytt_queue_service_level_ratio: durations (30s, 15m, 1h, 1d) or "today".
    service_level_windows: list[str] = msgspec.field(default_factory=lambda: ["15m", "1h", "today"])
    #: Threshold for queues whose PBX reports none (Asterisk reports ``servicelevel``).
    service_level_seconds: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    #: The target ratio: alerting compares against it, Erlang C staffs for it.
    service_level_target: Ratio = 0.8
    #: Callers who abandon within this many seconds count neither for nor against.
    abandon_grace_seconds: Seconds = 5.0
    #: Traffic window of medlytt_queue_agents_required.
    staffing_window: str = "15m"
    #: medlytt_agent_occupancy_ratio for at most this many agents (0: off; bounds the label).
    occupancy_agents_max: Annotated[int, msgspec.Meta(ge=0, le=5000)] = 0
    #: Window of medlytt_agent_occupancy_ratio.
    occupancy_window: str = "15m"
    #: Where "today" starts: an IANA time zone name such as "Europe/Oslo".
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        for name in ("wait_buckets", "talk_buckets", "wrapup_buckets"):
            buckets = getattr(self, name)
            if not buckets or buckets != sorted(set(buckets)) or buckets[0] <= 0:
                raise ValueError(f"{name} must be positive, increasing and not empty")
        if not self.service_level_windows:
            raise ValueError("service_level_windows must name at least one window")
        for window in self.service_level_windows:
            parse_window(window)
        for name in ("staffing_window", "occupancy_window"):
            if parse_window(getattr(self, name)) is None:
                raise ValueError(f"{name} must be a duration such as 15m, not 'today'")
        time_zone(self.timezone, "timezone")

    def keep_seconds(self) -> float:
        """The longest duration window: counted to the second ("today" is by the minute)."""
        spans = [parse_window(w) or 0.0 for w in self.service_level_windows]
        return max([*spans, parse_window(self.staffing_window) or 0.0])


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
        self.settings = settings
        self.windows = QueueWindows(settings.keep_seconds(), settings.abandon_grace_seconds)
        self.agent_time = AgentTime(parse_window(settings.occupancy_window) or 900.0)

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

    def threshold(self, state: LiveState, queue: str) -> float:
        """The queue's service-level threshold: the PBX's, else the configured one."""
        known = state.queues.get(queue)
        return (known and known.service_level_seconds) or self.settings.service_level_seconds

    def _left_queue(
        self, state: LiveState, at: datetime, queue: str, outcome: str, wait: float
    ) -> None:
        self._queue_seen(queue)
        self.calls.labels(queue, outcome).inc()
        self.wait.labels(queue, outcome).observe(wait)
        self.windows.add_outcome(at.timestamp(), queue, outcome, wait, self.threshold(state, queue))

    def observe(self, event: ev.Event, state: LiveState) -> None:
        match event:
            case ev.QueueConfigured(queue=queue, service_level_seconds=threshold):
                self._queue_seen(queue)
                if threshold and threshold not in self.settings.wait_buckets:
                    log.warning(
                        "queue %s: service level threshold %g s is not one of "
                        "[queue_metrics] wait_buckets; add it for exact bucket counts",
                        queue,
                        threshold,
                    )
            case ev.CallQueued(queue=queue, at=at):
                self._queue_seen(queue)
                self.windows.add_arrival(at.timestamp(), queue)
            case ev.CallAnswered(queue=queue, wait_seconds=wait, at=at):
                self._left_queue(state, at, queue, "answered", wait)
            case ev.CallAbandoned(queue=queue, wait_seconds=wait, at=at):
                self._left_queue(state, at, queue, "abandoned", wait)
            case ev.CallTimedOut(queue=queue, wait_seconds=wait, at=at):
                self._left_queue(state, at, queue, "timeout", wait)
            case ev.CallLost(queue=str() as queue, at=at):
                self._queue_seen(queue)
                self.calls.labels(queue, "other").inc()
                self.windows.add_outcome(at.timestamp(), queue, "other", 0.0)
            case ev.CallEnded(queue=str() as queue, talk_seconds=talk, at=at):
                self._queue_seen(queue)
                self.talk.labels(queue).observe(talk)
                self.windows.add_talk(at.timestamp(), queue, talk)
            case ev.AgentStateChanged(agent_id=agent_id, state=new_state, at=at):
                self.agent_time.change(agent_id, at.timestamp(), new_state)
                started = self._wrapup_started.pop(agent_id, None)
                if started is not None:
                    began, queue = started
                    seconds = max(0.0, (at - began).total_seconds())
                    self.wrapup.labels(queue).observe(seconds)
                    self.windows.add_wrapup(at.timestamp(), queue, seconds)
                if new_state is AgentState.WRAP_UP:
                    agent = state.agents.get(agent_id)
                    if agent is not None and agent.last_queue:
                        self._wrapup_started[agent_id] = (at, agent.last_queue)


class QueueFigures:
    """Today's figures per queue for wallboards, offered to other plugins as
    ``app.service("queue_metrics")`` (the web console reads it through a protocol of its
    own): the same numbers as the Prometheus gauges, read at the same moment."""

    def __init__(self, app: Medlytt, metrics: QueueMetrics) -> None:
        self.app = app
        self.metrics = metrics

    def today(self, now: datetime) -> dict[str, dict[str, float | int | None]]:
        """Per queue: ``service_level`` (ratio today, None before the first answer or
        abandon; with its ``service_level_seconds`` and ``service_level_target``),
        ``answered`` and ``abandoned`` today, ``agents_required`` (Erlang C over the
        staffing window; None when the handle time is not known yet)."""
        settings = self.metrics.settings
        tz = ZoneInfo(settings.timezone)
        since = window_start("today", now, tz)
        staffing_since = window_start(settings.staffing_window, now, tz)
        windows = self.metrics.windows
        figures: dict[str, dict[str, float | int | None]] = {}
        for queue in self.app.state.queues.values():
            threshold = queue.service_level_seconds or settings.service_level_seconds
            level = windows.service_level(queue.name, since)
            required = windows.agents_required(
                queue.name,
                staffing_since,
                now.timestamp(),
                threshold,
                settings.service_level_target,
            )
            counts = windows.counts(queue.name, since)
            figures[queue.name] = {
                "service_level": None if math.isnan(level) else level,
                "service_level_seconds": threshold,
                "service_level_target": settings.service_level_target,
                "answered": counts["answered"],
                "abandoned": counts["abandoned"],
                "agents_required": None if math.isnan(required) else required,
            }
        return figures


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
            for queue_name in agent.queues:
                key = (queue_name, agent.state.value)
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
        metrics: QueueMetrics | None = self.app.plugin_state.get(PLUGIN)
        if metrics is not None:
            yield from self._ratios(metrics, now)

    def _ratios(self, metrics: QueueMetrics, now: datetime) -> Iterator[GaugeMetricFamily]:
        settings = metrics.settings
        tz = ZoneInfo(settings.timezone)
        state = self.app.state
        level = GaugeMetricFamily(
            "medlytt_queue_service_level_ratio",
            "Answered within the threshold / (answered + abandoned after the grace period).",
            labels=["queue", "window"],
        )
        threshold_family = GaugeMetricFamily(
            "medlytt_queue_service_level_threshold_seconds",
            "The answer-time threshold of the queue's service level.",
            labels=["queue"],
        )
        target_family = GaugeMetricFamily(
            "medlytt_queue_service_level_target_ratio",
            "The service level the queue aims for (config service_level_target).",
            labels=["queue"],
        )
        required = GaugeMetricFamily(
            "medlytt_queue_agents_required",
            "Agents Erlang C asks for: the staffing window's arrival rate and handle time "
            "at the service level target.",
            labels=["queue"],
        )
        staffing_since = window_start(settings.staffing_window, now, tz)
        for queue in state.queues.values():
            threshold = queue.service_level_seconds or settings.service_level_seconds
            threshold_family.add_metric([queue.name], threshold)
            target_family.add_metric([queue.name], settings.service_level_target)
            for window in settings.service_level_windows:
                since = window_start(window, now, tz)
                value = metrics.windows.service_level(queue.name, since)
                level.add_metric([queue.name, window], value)
            required.add_metric(
                [queue.name],
                metrics.windows.agents_required(
                    queue.name,
                    staffing_since,
                    now.timestamp(),
                    threshold,
                    settings.service_level_target,
                ),
            )
        yield level
        yield threshold_family
        yield target_family
        yield required
        if settings.occupancy_agents_max:
            occupancy = GaugeMetricFamily(
                "medlytt_agent_occupancy_ratio",
                "Time on calls and in wrap-up / time staffed, over the occupancy window.",
                labels=["agent"],
            )
            for agent_id in sorted(state.agents)[: settings.occupancy_agents_max]:
                occupancy.add_metric(
                    [agent_id], metrics.agent_time.occupancy(agent_id, now.timestamp())
                )
            yield occupancy


PLUGIN = "queue_metrics"


@hookimpl
def medlytt_config_schema() -> type[QueueMetricsSettings]:
    return QueueMetricsSettings


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    metrics = QueueMetrics(registry, app.plugin_config(PLUGIN))
    app.plugin_state[PLUGIN] = metrics
    app.provide(PLUGIN, QueueFigures(app, metrics))
    registry.register(QueueStateCollector(app))


@hookimpl
def medlytt_event(event: ev.Event, state: LiveState, app: Medlytt) -> None:
    metrics = app.plugin_state.get(PLUGIN)
    if metrics is not None:
        metrics.observe(event, state)
