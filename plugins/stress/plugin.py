"""The stress plugin: module 6 (stressmestring), switched on per team (docs/stress.md).

Routes (``Authorization: Bearer <token>``; each declares who may call it):

* ``GET /api/stress/alerts?agent=&since=&kind=&limit=``: the alerts, newest first
* ``GET /api/stress/agents?agent=``: each measured agent's figures now
* ``GET/PUT /api/development-plans/{agent}``: an agent's personal development plan
* ``PUT /api/development-plans/{agent}/notes``: the agent's own notes in it
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CompetenceModule,
    EvaluationForm,
    Event,
    TalkStarted,
    TalkStopped,
    hookimpl,
    listens_to,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api, module, store
from .events import EVENT_TYPES
from .service import PLUGIN, StressService
from .settings import StressSettings
from .signals import KINDS

if TYPE_CHECKING:
    from medlytt import Medlytt


class StressCollector(Collector):
    """Alerts by kind (every kind from 0) and the agents over the occupancy threshold now:
    labels bounded by the five kinds, never per agent."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        service: StressService | None = self.app.plugin_state.get(PLUGIN)
        alerts = CounterMetricFamily(
            "medlytt_stress_alerts",
            "Stress alerts raised since start, by kind.",
            labels=["kind"],
        )
        for kind in KINDS:
            alerts.add_metric([kind], service.alerts[kind] if service else 0)
        yield alerts
        yield GaugeMetricFamily(
            "medlytt_stress_agents_over_occupancy",
            "Agents whose occupancy over the window is at or above [stress] occupancy_threshold.",
            value=service.over_occupancy() if service else 0,
        )


@hookimpl
def medlytt_config_schema() -> type[StressSettings]:
    return StressSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [module.MODULE]


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    return module.forms()


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(StressCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    # The notes route first: an agent id may hold a slash (PJSIP/1001).
    return [
        web.get("/api/stress/alerts", api.list_alerts),
        web.get("/api/stress/agents", api.list_agents),
        web.put("/api/development-plans/{agent:.+}/notes", api.put_notes),
        web.get("/api/development-plans/{agent:.+}", api.get_plan),
        web.put("/api/development-plans/{agent:.+}", api.put_plan),
    ]


@hookimpl
def medlytt_startup(app: Medlytt) -> None:
    app.plugin_state[PLUGIN] = StressService(app, app.plugin_config(PLUGIN))


@hookimpl
@listens_to(AgentStateChanged, CallAnswered, CallEnded, TalkStarted, TalkStopped)
async def medlytt_event(event: Event, app: Medlytt) -> None:
    service: StressService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.on_event(event)
