"""Registers the Asterisk gateway and the ``medlytt sandbox`` commands, as any plugin would."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from medlytt import hookimpl

from .gateway import AsteriskGateway
from .settings import AsteriskSettings

if TYPE_CHECKING:
    from medlytt import Medlytt


@hookimpl
def medlytt_config_schema() -> type[AsteriskSettings]:
    return AsteriskSettings


@hookimpl
def medlytt_gateways(app: Medlytt) -> list[AsteriskGateway]:
    settings: AsteriskSettings = app.plugin_config("asterisk")
    return [AsteriskGateway(settings)] if settings.configured else []


@hookimpl
def medlytt_cli_commands(cli: click.Group) -> None:
    from .sandbox import sandbox

    cli.add_command(sandbox)
