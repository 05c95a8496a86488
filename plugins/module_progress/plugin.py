"""The module progress plugin: for every competence module (the method's seven and any a
third party declares), per team, since when it is on, the activities done against the
monitoring plan, and the module's measure month by month (docs/module-progress.md).

Route: ``GET /api/progress?team=`` (``Authorization: Bearer <token>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import ConsolePage, Event, hookimpl, listens_to
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api, page, store
from .activities import SHARED
from .service import PLUGIN, ProgressService
from .settings import ProgressSettings

if TYPE_CHECKING:
    from medlytt import Medlytt


class ProgressCollector(Collector):
    """Per team and module that is on now (labels bounded by teams and modules)."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        service: ProgressService | None = self.app.plugin_state.get(PLUGIN)
        figures = service.figures if service else {}
        days = GaugeMetricFamily(
            "medlytt_module_active_days",
            "Days since the team switched the competence module on (its current period).",
            labels=["team", "module"],
        )
        reached = GaugeMetricFamily(
            "medlytt_module_minimum_reached",
            "1 when the module has been on for its minimum months (the method: three).",
            labels=["team", "module"],
        )
        activities = GaugeMetricFamily(
            "medlytt_module_activities",
            "Activities done in the module's current period, by kind.",
            labels=["team", "module", "kind"],
        )
        planned = GaugeMetricFamily(
            "medlytt_module_listenings_planned",
            "Listenings the team's monitoring plan asks for in the module's period so far.",
            labels=["team", "module"],
        )
        for (team, module), row in sorted(figures.items()):
            days.add_metric([team, module], row["days"])
            reached.add_metric([team, module], 1.0 if row["minimum_reached"] else 0.0)
            for kind, count in row["activities"].items():
                activities.add_metric([team, module, kind], count)
            if row["plan"] is not None:
                planned.add_metric([team, module], row["plan"]["listenings_planned"])
        yield days
        yield reached
        yield activities
        yield planned


@hookimpl
def medlytt_config_schema() -> type[ProgressSettings]:
    return ProgressSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(ProgressCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [web.get("/api/progress", api.get_progress)]


@hookimpl
def medlytt_console_pages(app: Medlytt) -> list[ConsolePage]:
    """The console's "Module progress" page (docs/module-progress.md)."""
    return [
        ConsolePage(
            "module-progress",
            "Module progress",
            page.render,
            roles=("admin", "supervisor", "agent"),
            title_nb="Modulfremdrift",
        )
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    service = ProgressService(app, app.plugin_config(PLUGIN))
    app.plugin_state[PLUGIN] = service
    await service.start()


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    service: ProgressService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.stop()


@hookimpl
@listens_to(*SHARED)
async def medlytt_event(event: Event, app: Medlytt) -> None:
    """The shared activities as they happen (a module's own ones and anything missed come
    from the journal on the next refresh)."""
    service: ProgressService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.record([event])
