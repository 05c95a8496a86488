"""The behaviour-types plugin (module 5, adferdstyper).

Routes (:mod:`.api`): ``POST /api/behaviour-types/{call_id}``, ``GET /api/behaviour-types``,
``GET /api/behaviour-types/agents``.  Forms: the behaviour-types listening form
(``behaviour-types``, English and bokmål).  Metrics:
``medlytt_behaviour_type_calls{type}`` (calls tagged with each type) and
``medlytt_mirroring_calls_total{direction}`` (calls measured, by direction).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import (
    CallAnswered,
    CallEnded,
    CallLost,
    CompetenceModule,
    EvaluationForm,
    Event,
    TalkStopped,
    hookimpl,
    listens_to,
    shipped_forms,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api, store
from .events import EVENT_TYPES
from .mirroring import DIRECTIONS
from .service import MODULE, OUTCOME_EVENT, PLUGIN, BehaviourTypes
from .settings import BehaviourTypeSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

TAGGED = "medlytt_behaviour_type_calls"
MIRRORING = "medlytt_mirroring_calls"


class BehaviourTypeCollector(Collector):
    """Every configured type and every direction is there from 0."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        settings: BehaviourTypeSettings = self.app.plugin_config(PLUGIN)
        service: BehaviourTypes | None = self.app.plugin_state.get(PLUGIN)
        tagged: dict[str, int] = dict.fromkeys(settings.types, 0)
        directions: dict[str, int] = dict.fromkeys(DIRECTIONS, 0)
        if service is not None:
            tagged.update(service.tagged)
            directions.update(service.directions)
        family = GaugeMetricFamily(
            TAGGED, "Calls tagged with each customer behaviour type.", labels=["type"]
        )
        for name, count in sorted(tagged.items()):
            family.add_metric([name], count)
        yield family
        measured = CounterMetricFamily(
            MIRRORING,
            "Calls whose mirroring signal was measured, by direction of the turn lengths.",
            labels=["direction"],
        )
        for name, count in sorted(directions.items()):
            measured.add_metric([name], count)
        yield measured


@hookimpl
def medlytt_config_schema() -> type[BehaviourTypeSettings]:
    return BehaviourTypeSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    """The behaviour-types listening form, in English and Norwegian bokmål."""
    return shipped_forms(__name__.rpartition(".")[0])


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [
        CompetenceModule(
            id=MODULE,
            number=5,
            title="Behaviour types",
            titles={"en": "Behaviour types", "nb": "Adferdstyper"},
            summary=(
                "Recognise the customer's behaviour type and mirror it: the listener tags "
                "the type, talk detection tells whether the turn lengths converge."
            ),
            forms=("behaviour-types", "behaviour-types-nb"),
            measures=(TAGGED, f"{MIRRORING}_total"),
            activities=("behaviour_type.tagged",),
        )
    ]


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(BehaviourTypeCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.get("/api/behaviour-types", api.list_calls),
        web.get("/api/behaviour-types/agents", api.agent_distribution),
        web.post("/api/behaviour-types/{call_id}", api.tag_call),
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    service = BehaviourTypes(app, app.plugin_config(PLUGIN))
    await service.refresh_figures()
    app.plugin_state[PLUGIN] = service


@hookimpl
@listens_to(CallAnswered, TalkStopped, CallEnded, CallLost, "survey.finished", OUTCOME_EVENT)
async def medlytt_event(event: Any, app: Medlytt) -> None:
    service: BehaviourTypes | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.handle(event)
