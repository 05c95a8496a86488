"""Registers the softphone gateway: baresips over ctrl_tcp, the webhook route, the
``softphone.call`` event and the ``softphone`` service (commands to an agent's phone).

Route: ``GET|POST /api/softphone/hooks/{token}`` (a softphone's call event; docs/desk.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from medlytt import Event, hookimpl

from .events import EVENT_TYPES
from .gateway import BaresipGateway, SoftphoneService
from .settings import SoftphoneSettings
from .webhook import PLUGIN, softphone_hook

if TYPE_CHECKING:
    from medlytt import Medlytt


@hookimpl
def medlytt_config_schema() -> type[SoftphoneSettings]:
    return SoftphoneSettings


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_gateways(app: Medlytt) -> list[BaresipGateway]:
    settings: SoftphoneSettings = app.plugin_config(PLUGIN)
    timeout = settings.command_timeout_seconds
    gateways = [BaresipGateway(a, p, timeout) for a, p in settings.baresip.items()]
    app.provide(PLUGIN, SoftphoneService(gateways))
    return gateways


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.get("/api/softphone/hooks/{token}", softphone_hook),
        web.post("/api/softphone/hooks/{token}", softphone_hook),
    ]
