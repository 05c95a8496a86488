"""Registers the Asterisk gateway and the ``medlytt sandbox`` commands, as any plugin would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from medlytt import DoctorCheck, Instances, hookimpl

from .gateway import AsteriskGateway
from .settings import AsteriskSettings

if TYPE_CHECKING:
    from medlytt import Medlytt


@hookimpl
def medlytt_config_schema() -> type[AsteriskSettings]:
    return AsteriskSettings


@hookimpl
def medlytt_gateways(app: Medlytt) -> list[AsteriskGateway]:
    """One gateway for ``[asterisk]`` and one for each named PBX, ``[asterisk.oslo]``."""
    config: Instances[AsteriskSettings] = app.plugin_config("asterisk")
    gateways = [AsteriskGateway(config.default)] if config.default.configured else []
    for name, settings in config.named.items():
        if settings.configured:
            gateways.append(AsteriskGateway(settings, name=name))
    return gateways


@hookimpl
async def medlytt_doctor(plugin_configs: dict[str, Any]) -> list[DoctorCheck]:
    """ARI and AMI of every configured PBX, for ``medlytt doctor`` (doctor.py)."""
    from .doctor import check_all, plugin_section

    config = plugin_section(plugin_configs)
    return [] if config is None else await check_all(config)


@hookimpl
def medlytt_cli_commands(cli: click.Group) -> None:
    from .sandbox import sandbox
    from .setup import init_command

    cli.add_command(sandbox)
    cli.add_command(init_command)
