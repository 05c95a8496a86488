"""Registers the desk gateway: the receiver for desks (``[desk]``), the desk join with its
route, metrics, and the ``medlytt keys`` and ``medlytt desk`` commands.

Route: ``GET /api/desk/calls/{call_id}`` (docs/desk.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from aiohttp import web
from medlytt import Migration, hookimpl
from prometheus_client import CollectorRegistry

from . import store
from .cli import desk_command, keys_command
from .join import DeskJoin
from .metrics import PLUGIN, DeskCollector
from .receiver import DeskCounters, DeskReceiver
from .routes import call_desk
from .settings import DeskSettings

if TYPE_CHECKING:
    from medlytt import Medlytt


@hookimpl
def medlytt_config_schema() -> type[DeskSettings]:
    return DeskSettings


@hookimpl
def medlytt_migrations() -> list[Migration]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_state_slot(app: Medlytt) -> DeskJoin:
    settings: DeskSettings = app.plugin_config(PLUGIN)
    return DeskJoin(max_calls=settings.joined_calls)


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(DeskCollector(app))


@hookimpl
def medlytt_gateways(app: Medlytt) -> list[DeskReceiver]:
    settings: DeskSettings = app.plugin_config(PLUGIN)
    if not settings.configured:
        return []
    counters = app.plugin_state.setdefault(PLUGIN, DeskCounters())
    return [DeskReceiver(settings, counters, app)]


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [web.get("/api/desk/calls/{call_id}", call_desk)]


@hookimpl
def medlytt_cli_commands(cli: click.Group) -> None:
    cli.add_command(keys_command)
    cli.add_command(desk_command)
