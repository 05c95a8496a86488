"""The sales plugin (module 4, salg og forhandling): call outcomes and conversion.

Routes (:mod:`.api`): ``PUT/GET /api/calls/{call_id}/outcome``, ``GET /api/sales/outcomes``,
``GET /api/sales/conversion``.  Forms: the Johari-window listening form (``sales-johari``,
English and bokmål).  Metrics: ``medlytt_sales_outcomes_total{queue,outcome}`` (outcomes
set, a replacement counted too) and ``medlytt_sales_calls{queue,outcome}`` (calls by their
current outcome).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import CompetenceModule, EvaluationForm, Event, hookimpl, shipped_forms
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api, store
from .events import EVENT_TYPES
from .settings import SalesSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = api.PLUGIN
SET = "medlytt_sales_outcomes"
CURRENT = "medlytt_sales_calls"


class SalesCollector(Collector):
    """Outcomes per queue and outcome, read from the database at start and on every change."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        figures: dict[str, dict[tuple[str, str], int]] = self.app.plugin_state.get(PLUGIN) or {
            "set": {},
            "current": {},
        }
        counter = CounterMetricFamily(
            SET,
            "Call outcomes set, by queue and outcome (a replaced outcome counts both).",
            labels=["queue", "outcome"],
        )
        for (queue, outcome), count in sorted(figures["set"].items()):
            counter.add_metric([queue, outcome], count)
        yield counter
        gauge = GaugeMetricFamily(
            CURRENT, "Calls by their current outcome, by queue.", labels=["queue", "outcome"]
        )
        for (queue, outcome), count in sorted(figures["current"].items()):
            gauge.add_metric([queue, outcome], count)
        yield gauge


@hookimpl
def medlytt_config_schema() -> type[SalesSettings]:
    return SalesSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    """The Johari-window listening form, in English and Norwegian bokmål."""
    return shipped_forms(__name__.rpartition(".")[0])


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [
        CompetenceModule(
            id=api.MODULE,
            number=4,
            title="Sales and negotiation",
            titles={"en": "Sales and negotiation", "nb": "Salg og forhandling"},
            summary=(
                "Each call's outcome (sale, agreement, no sale and why) and the conversion "
                "per agent and queue; the Johari window (can, will, urgent, important) as "
                "the listening form."
            ),
            forms=("sales-johari", "sales-johari-nb"),
            measures=(f"{SET}_total", CURRENT),
        )
    ]


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(SalesCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.put("/api/calls/{call_id}/outcome", api.put_outcome),
        web.get("/api/calls/{call_id}/outcome", api.get_outcome),
        web.get("/api/sales/outcomes", api.list_outcomes),
        web.get("/api/sales/conversion", api.get_conversion),
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    app.plugin_state[PLUGIN] = await app.storage.run(store.figures)
