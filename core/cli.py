"""The ``medlytt`` command line.

Core commands: ``serve``, ``plugins``, ``check-config``, ``user``, ``token``,
``recordings`` and ``audit``.  Plugins add theirs through the ``medlytt_cli_commands`` hook
(``medlytt sandbox ...`` comes from the Asterisk plugin).
A configuration error always ends with exit status 2 and one line naming the key.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import msgspec

from . import __version__
from .app import load_plugins
from .audit_cli import audit
from .client import Api, ApiError, Unreachable, check_url, config_option, fail, token_option
from .config import Config, ConfigError, load_config, redact
from .doctor import doctor
from .logs import configure_logging, scrub
from .plugin_host import PluginHost

T = TypeVar("T")

CONFIG_OPTION = config_option


def read_config(config_path: Path | None) -> Config:
    """Load and validate the core config, or exit 2 with the reason."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail_config(exc)


def fail_config(exc: Exception) -> NoReturn:
    click.echo(f"medlytt: config error: {scrub(str(exc))}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="medlytt")
def cli() -> None:
    """Medlytt: listen to a contact center's calls and coach its agents."""


@cli.command()
@CONFIG_OPTION
@click.option("--host", help="Listen address (overrides server.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Listen port 0-65535 (overrides server.port; 0 picks a free one).",
)
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
    for _name, value in sorted(plugin_configs.items(), key=lambda item: item[0]):
        # A plugin's settings may say what is valid but unwise (e.g. targets that pull
        # against each other) through a ``warnings()`` method: printed, never fatal.
        warnings = getattr(value, "warnings", None)
        for warning in warnings() if callable(warnings) else []:
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"config OK ({config.path or 'no file: defaults'})", err=True)


@cli.command()
@CONFIG_OPTION
@click.option(
    "--url",
    callback=lambda ctx, param, value: check_url(ctx, param, value) if value else value,
    help="Ask a running Medlytt (e.g. http://127.0.0.1:8470) for live status (an admin's "
    "token: --token or MEDLYTT_TOKEN).",
)
@token_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(config_path: Path | None, url: str | None, token: str | None, as_json: bool) -> None:
    """List plugins: name, version, source, status (breaker) and hooks."""
    if url:
        try:
            data = Api(url, token).request("GET", "/api/plugins")
        except (ApiError, Unreachable) as exc:
            fail(exc, has_token=bool(token))
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


def _table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# --------------------------------------------------------------------------- users, tokens


def _with_db(config_path: Path | None, fn: Callable[[Any], T]) -> T:
    """Open ``[storage] path``, apply the core migrations, run ``fn(db)``, close.

    Exit 2 on bad input (:class:`medlytt.auth.AuthError`), 1 when storage fails.
    """
    from . import auth
    from .app import CORE_MIGRATIONS
    from .storage import Storage, StorageError

    config = read_config(config_path)

    async def run() -> T:
        storage = Storage(config.storage.path)
        try:
            await storage.open()
            await storage.migrate(("core", m) for m in CORE_MIGRATIONS)
            return await storage.run(fn)
        finally:
            await storage.close()

    try:
        return asyncio.run(run())
    except auth.AuthError as exc:
        click.echo(f"medlytt: {exc}", err=True)
        sys.exit(2)
    except StorageError as exc:
        click.echo(f"medlytt: {exc}", err=True)
        sys.exit(1)
    except sqlite3.OperationalError as exc:  # e.g. locked longer than the busy timeout
        click.echo(
            f"medlytt: storage {config.storage.path}: {exc} (waited 5 s for another writer, "
            "such as a running medlytt serve under heavy load); nothing was changed, try again",
            err=True,
        )
        sys.exit(1)


@cli.group()
def user() -> None:
    """Users and their roles: admin, supervisor, agent (docs/users-and-roles.md)."""


@user.command("add")
@CONFIG_OPTION
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "supervisor", "agent"]), help="Role."
)
@click.option("--team", "teams", multiple=True, help="Team name (repeat for several).")
@click.option("--agent-id", help="Queue member interface of an agent, e.g. PJSIP/1001.")
@click.option("--phone", help="Endpoint where a supervisor is reached, e.g. PJSIP/2001.")
def user_add(
    config_path: Path | None,
    name: str,
    role: str,
    teams: tuple[str, ...],
    agent_id: str | None,
    phone: str | None,
) -> None:
    """Add user NAME (unique, any case)."""
    from . import auth

    created = _with_db(
        config_path, lambda db: auth.add_user(db, name, role, teams, agent_id, phone)
    )
    click.echo(f"added {created['role']} {created['name']!r}")


@user.command("list")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def user_list(config_path: Path | None, as_json: bool) -> None:
    """List users."""
    from . import auth

    users = _with_db(config_path, auth.list_users)
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    rows = [
        (
            u["name"],
            u["role"],
            ",".join(u["teams"]) or "-",
            u["agent_id"] or "-",
            u["phone"] or "-",
            "disabled" if u["disabled"] else "active",
            u["created_at"],
        )
        for u in users
    ]
    _table(("NAME", "ROLE", "TEAMS", "AGENT_ID", "PHONE", "STATUS", "CREATED"), rows)


@user.command("disable")
@CONFIG_OPTION
@click.argument("name")
def user_disable(config_path: Path | None, name: str) -> None:
    """Disable user NAME: their tokens stop working at once."""
    from . import auth

    disabled = _with_db(config_path, lambda db: auth.disable_user(db, name))
    click.echo(f"disabled {disabled['name']!r}")


@user.command("passwd")
@CONFIG_OPTION
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (for scripts) instead of asking.",
)
def user_passwd(config_path: Path | None, name: str, password_stdin: bool) -> None:
    """Set user NAME's password for the web console (docs/console.md).

    Asked twice without echo; only its argon2id hash is stored.
    """
    from . import auth

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"New password for {name}", hide_input=True, confirmation_prompt=True
        )
    _with_db(config_path, lambda db: auth.set_password(db, name, password))
    click.echo(f"password set for {name!r}")


@cli.group()
def token() -> None:
    """API bearer tokens: shown once when created, stored only as a SHA-256 hash."""


@token.command("create")
@CONFIG_OPTION
@click.argument("name")
@click.option("--label", help="What the token is for, e.g. the machine or tool using it.")
def token_create(config_path: Path | None, name: str, label: str | None) -> None:
    """Create a token for user NAME and print it once (stdout)."""
    from . import auth

    token_id, secret = _with_db(config_path, lambda db: auth.create_token(db, name, label))
    click.echo(secret)
    click.echo(
        f"token {token_id} for {name!r}: shown only now; Medlytt keeps just its hash", err=True
    )


@token.command("list")
@CONFIG_OPTION
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def token_list(config_path: Path | None, name: str, as_json: bool) -> None:
    """List user NAME's tokens (ids and labels; the tokens themselves are not stored)."""
    from . import auth

    tokens = _with_db(config_path, lambda db: auth.list_tokens(db, name))
    if as_json:
        click.echo(json.dumps(tokens, indent=2))
        return
    rows = [
        (
            str(t["id"]),
            t["label"] or "-",
            t["created_at"],
            t["last_used_at"] or "never",
            "revoked" if t["revoked"] else "active",
        )
        for t in tokens
    ]
    _table(("ID", "LABEL", "CREATED", "LAST_USED", "STATUS"), rows)


@token.command("revoke")
@CONFIG_OPTION
@click.argument("token_id", metavar="ID", type=int)
def token_revoke(config_path: Path | None, token_id: int) -> None:
    """Revoke token ID (see `medlytt token list NAME`)."""
    from . import auth

    _with_db(config_path, lambda db: auth.revoke_token(db, token_id))
    click.echo(f"revoked token {token_id}")


@cli.group()
def recordings() -> None:
    """Recordings of calls: delete one person's on request (docs/security.md)."""


@recordings.command("delete")
@CONFIG_OPTION
@click.option("--agent", "agent_id", required=True, help="Whose calls: e.g. PJSIP/1001.")
@click.option(
    "--before",
    metavar="DATE",
    help="Only recordings made before this ISO 8601 date or time (UTC unless it says "
    "otherwise), e.g. 2024-05-01.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def recordings_delete(
    config_path: Path | None, agent_id: str, before: str | None, dry_run: bool
) -> None:
    """Delete the recordings of one agent's calls: files and rows, each deletion recorded
    (reason request) in recording_deletions.  Works whether or not `medlytt serve` runs."""
    from . import recordings as store
    from .clock import utcnow

    try:
        until = store.parse_before(before) if before is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--before") from None
    if dry_run:
        count = _with_db(config_path, lambda db: store.count_for_agent(db, agent_id, until))
        click.echo(f"would delete {count} recordings of agent {agent_id!r}")
        return
    by = f"command line ({store.os_user()})"
    batch = read_config(config_path).recordings.delete_batch
    deleted, left = _with_db(
        config_path,
        lambda db: store.delete_all_for_agent(
            db, agent_id, before=until, by=by, clock=utcnow, batch=batch
        ),
    )
    for recording_id in deleted:
        click.echo(recording_id)
    click.echo(f"deleted {len(deleted)} recordings of agent {agent_id!r}", err=True)
    if left:
        click.echo(f"medlytt: {left} could not be deleted (their files: see above)", err=True)
        sys.exit(1)


cli.add_command(doctor)
cli.add_command(audit)


def _add_plugin_commands() -> None:
    """Let installed plugins add sub-commands (hook ``medlytt_cli_commands``)."""
    host = PluginHost()
    host.load_entry_points()
    host.call_sync("medlytt_cli_commands", cli=cli)


def main() -> None:
    """Entry point of the ``medlytt`` script."""
    _add_plugin_commands()
    cli()
