"""The core's own Prometheus metrics, on a registry that belongs to one application.

A registry per application (not prometheus-client's global one) keeps tests and several
apps in one process apart.  Plugins add their metrics through the ``medlytt_metrics``
hook.  Values that already live elsewhere (breakers, gateways, journal) are read at
scrape time by a collector instead of being copied into gauges.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import __version__
from .breaker import BreakerState
from .events import Event

if TYPE_CHECKING:
    from .app import Medlytt

# ``*_created`` series double every counter and histogram and no dashboard here uses them.
disable_created_metrics()


class CoreMetrics:
    """Counters fed on the hot path, and a collector for everything read at scrape time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "medlytt_events",
            "Domain events published, by source and type.",
            ["source", "type"],
            registry=registry,
        )
        self.plugin_errors = Counter(
            "medlytt_plugin_errors",
            "Plugin hook calls that raised or timed out.",
            ["plugin"],
            registry=registry,
        )
        self._event_children: dict[tuple[str, str], object] = {}

    def start_at_zero(self, plugins: list[str]) -> None:
        """Create each loaded plugin's error series at 0, so that ``rate()`` and
        ``increase()`` see the first error (Prometheus: initialise known label values)."""
        for plugin in plugins:
            self.plugin_errors.labels(plugin)

    def count_event(self, event: Event) -> None:
        key = (event.source, event.type)
        child = self._event_children.get(key)
        if child is None:
            child = self._event_children[key] = self.events.labels(*key)
        child.inc()  # type: ignore[attr-defined]

    def count_plugin_error(self, plugin: str) -> None:
        self.plugin_errors.labels(plugin).inc()


class AppCollector(Collector):
    """Reads plugin breakers, gateways and the journal when Prometheus scrapes."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        app = self.app
        info = GaugeMetricFamily(
            "medlytt_build_info", "Medlytt version; always 1.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "medlytt_demo_mode",
            "1 when the events come from the simulated demo contact center, not a PBX.",
            value=1 if app.demo else 0,
        )
        up = GaugeMetricFamily(
            "medlytt_gateway_up", "1 while a gateway reaches its source.", labels=["gateway"]
        )
        for gateway in app.gateways:
            up.add_metric([gateway.name], 1 if gateway.connected else 0)
        yield up
        rejected = CounterMetricFamily(
            "medlytt_gateway_messages_rejected",
            "Messages from a gateway's source dropped as malformed.",
            labels=["gateway"],
        )
        for gateway in app.gateways:
            rejected.add_metric([gateway.name], gateway.rejected)
        yield rejected
        breaker = GaugeMetricFamily(
            "medlytt_plugin_breaker_open",
            "1 while a plugin's circuit breaker is open and its hooks are skipped.",
            labels=["plugin"],
        )
        for plugin in app.host.plugins():
            breaker.add_metric([plugin.name], 1 if plugin.breaker.state is BreakerState.OPEN else 0)
        yield breaker
        dropped = CounterMetricFamily(
            "medlytt_plugin_events_dropped",
            "Events not delivered to a plugin (mailbox full or breaker open).",
            labels=["plugin"],
        )
        # Every loaded plugin has the series, at 0 when it has no mailbox (no ``medlytt_event``)
        # or never dropped one, like its error and breaker series.
        counts = dict.fromkeys((plugin.name for plugin in app.host.plugins()), 0)
        counts.update(app.bus.dropped())
        for name, count in counts.items():
            dropped.add_metric([name], count)
        yield dropped
        if app.journal is not None:
            yield GaugeMetricFamily(
                "medlytt_journal_pending_events",
                "Events waiting to be written to the journal.",
                value=app.journal.pending,
            )
            yield CounterMetricFamily(
                "medlytt_journal_written_events",
                "Events written to the journal.",
                value=app.journal.written,
            )
