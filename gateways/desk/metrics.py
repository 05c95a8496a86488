"""The desk receiver's counters on ``/metrics``; every refusal reason is there from 0."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .receiver import DeskCounters
from .settings import DeskSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "desk"


class DeskCollector(Collector):
    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters: DeskCounters = self.app.plugin_state.get(PLUGIN) or DeskCounters()
        settings: DeskSettings = self.app.plugin_config(PLUGIN)
        refused = CounterMetricFamily(
            "medlytt_desk_refused",
            "Desk connections or messages refused, by reason (unknown_key, no_curve, "
            "handshake, agent_mismatch, malformed).",
            labels=["reason"],
        )
        for reason, count in sorted(counters.refused.items()):
            refused.add_metric([reason], count)
        messages = CounterMetricFamily(
            "medlytt_desk_messages",
            "Desk events received: delivered (published once) or duplicate (sent again "
            "after a lost ack, not published again).",
            labels=["result"],
        )
        messages.add_metric(["delivered"], counters.delivered)
        messages.add_metric(["duplicate"], counters.duplicates)
        dropped = CounterMetricFamily(
            "medlytt_desk_queue_dropped",
            "Events a desk dropped because its send queue was full (as the desk reports).",
            labels=["agent"],
        )
        connected = GaugeMetricFamily(
            "medlytt_desk_connected",
            "1 when the agent's desk was heard within three heartbeats.",
            labels=["agent"],
        )
        now = time.monotonic()
        for agent in sorted(set(settings.allowed_keys.values())):
            dropped.add_metric([agent], counters.dropped.get(agent, 0))
            seen = counters.last_seen.get(agent)
            up = seen is not None and now - seen < 3 * settings.heartbeat_seconds
            connected.add_metric([agent], 1.0 if up else 0.0)
        yield from (refused, messages, dropped, connected)
