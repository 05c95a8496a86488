"""The ``medlytt`` command line.

Core commands: ``serve``, ``plugins``, ``check-config``.  Plugins add theirs through the
``medlytt_cli_commands`` hook (``medlytt sandbox ...`` comes from the Asterisk plugin).
A configuration error always ends with exit status 2 and one line naming the key.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import msgspec

from . import __version__
from .app import load_plugins
from .config import Config, ConfigError, load_config, redact
from .logs import configure_logging
from .plugin_host import PluginHost

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="MEDLYTT_CONFIG",
    help="TOML config file (default: none, built-in defaults; env MEDLYTT_CONFIG).",
)


def read_config(config_path: Path | None) -> Config:
    """Load and validate the core config, or exit 2 with the reason."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail_config(exc)


def fail_config(exc: Exception) -> Any:
    click.echo(f"medlytt: config error: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="medlytt")
def cli() -> None:
    """Medlytt: listen to a contact center's calls and coach its agents."""


@cli.command()
@CONFIG_OPTION
@click.option("--host", help="Listen address (overrides server.host).")
@click.option("--port", type=int, help="Listen port (overrides server.port; 0 picks a free one).")
def serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Run Medlytt: gateways, plugins, API and /metrics.

    With no PBX configured it runs the built-in demo contact center.
    """
    config = read_config(config_path)
    if host is not None:
        config.core.server.host = host
    if port is not None:
        config.core.server.port = port
    configure_logging(config.logging.level, config.logging.format)
    try:
        load_plugins(config)  # validate everything before anything starts
    except ConfigError as exc:
        fail_config(exc)
    from .server import serve as run_server
    from .storage import StorageError

    try:
        asyncio.run(run_server(config))
    except StorageError as exc:
        click.echo(f"medlytt: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(
            f"medlytt: cannot serve on {config.server.host}:{config.server.port}: {exc}", err=True
        )
        sys.exit(1)


@cli.command("check-config")
@CONFIG_OPTION
def check_config(config_path: Path | None) -> None:
    """Validate the config file and environment; print the effective config (secrets hidden)."""
    config = read_config(config_path)
    try:
        host, plugin_configs = load_plugins(config)
    except ConfigError as exc:
        fail_config(exc)
    effective = {
        "core": msgspec.to_builtins(config.core),
        "plugins": {
            name: msgspec.to_builtins(value) if value is not None else {}
            for name, value in plugin_configs.items()
        },
        "disabled": host.disabled,
    }
    click.echo(json.dumps(redact(effective), indent=2, sort_keys=True))
    click.echo(f"config OK ({config.path or 'no file: defaults'})", err=True)


@cli.command()
@CONFIG_OPTION
@click.option("--url", help="Ask a running Medlytt (e.g. http://127.0.0.1:8470) for live status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(config_path: Path | None, url: str | None, as_json: bool) -> None:
    """List plugins: name, version, source, status (breaker) and hooks."""
    if url:
        data = _fetch_json(url.rstrip("/") + "/api/plugins")
    else:
        config = read_config(config_path)
        try:
            host, _ = load_plugins(config)
        except ConfigError as exc:
            fail_config(exc)
        data = {
            "plugins": [p.describe() for p in host.plugins()],
            "disabled": [{"name": n, "why": w} for n, w in sorted(host.disabled.items())],
        }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    rows = [
        (p["name"], p["version"], p["source"], _status(p), ", ".join(p["hooks"]))
        for p in data["plugins"]
    ]
    rows += [(d["name"], "-", "-", f"disabled ({d['why']})", "") for d in data["disabled"]]
    _table(("NAME", "VERSION", "SOURCE", "STATUS", "HOOKS"), rows)


def _status(plugin: dict[str, Any]) -> str:
    breaker = plugin["breaker"]
    if breaker == "open":
        return f"BREAKER OPEN ({plugin['errors']} errors; last: {plugin['last_error']})"
    if plugin["errors"]:
        return f"{breaker} ({plugin['errors']} errors)"
    return "ok" if breaker == "closed" else breaker


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _fetch_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        click.echo(f"medlytt: cannot read {url}: {exc}", err=True)
        sys.exit(1)


def _add_plugin_commands() -> None:
    """Let installed plugins add sub-commands (hook ``medlytt_cli_commands``)."""
    host = PluginHost()
    host.load_entry_points()
    host.call_sync("medlytt_cli_commands", cli=cli)


def main() -> None:
    """Entry point of the ``medlytt`` script."""
    _add_plugin_commands()
    cli()
