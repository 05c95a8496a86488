"""Registers ``medlytt headset ...`` on the command line, as any plugin would.

The headset code runs on the agent's PC (``medlytt headset``, the desk agent); the server
loads this plugin only for its command, and nothing here imports hidapi until a headset
is looked for.
"""

from __future__ import annotations

import click
from medlytt import hookimpl


@hookimpl
def medlytt_cli_commands(cli: click.Group) -> None:
    from .cli import headset

    cli.add_command(headset)
