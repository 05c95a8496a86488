"""Registers the demo contact center as a gateway, the way any plugin registers one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from medlytt import hookimpl

from .gateway import DemoGateway
from .settings import DemoSettings

if TYPE_CHECKING:
    from medlytt import Medlytt


@hookimpl
def medlytt_config_schema() -> type[DemoSettings]:
    return DemoSettings


@hookimpl
def medlytt_gateways(app: Medlytt) -> list[DemoGateway]:
    return [DemoGateway(app.plugin_config("demo"))]
