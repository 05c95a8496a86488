"""A small client for Medlytt's HTTP API, and the options shared by the command-line tools.

Only the standard library (urllib), so a command such as ``medlytt monitor`` starts fast
and works from any machine that reaches the server.  A command that reads the configured
database instead (``medlytt audit verify``) takes :func:`config_option` and finds the file
with :func:`storage_path`.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

import click

DEFAULT_URL = "http://127.0.0.1:8470"
TIMEOUT = 15.0


class ApiError(Exception):
    """The server answered with an error status; ``message`` is its JSON ``error``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{message} (HTTP {status})")


class Unreachable(Exception):
    """No HTTP answer at all: connection refused, DNS, timeout."""


class Api:
    """The few calls the console needs, with ``Authorization: Bearer`` when a token is set."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self._token = token

    def request(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, error_message(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot connect to Medlytt at {self.url}: {reason}") from None
        return json.loads(raw) if raw else None


def error_message(exc: urllib.error.HTTPError) -> str:
    """The ``error`` of a JSON error body, else the start of whatever the body was."""
    try:
        raw = exc.read()
    except OSError:
        raw = b""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    text = raw.decode(errors="replace").strip()
    return text[:200] or str(exc.reason)


def fail(exc: ApiError | Unreachable, has_token: bool) -> NoReturn:
    click.echo(f"medlytt: {exc}", err=True)
    if isinstance(exc, ApiError) and exc.status == 401 and not has_token:
        click.echo("medlytt: no token given: use --token or set MEDLYTT_TOKEN", err=True)
    sys.exit(1)


def check_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL, e.g. {DEFAULT_URL}")
    return value


def url_option(function: Any) -> Any:
    """``--url`` (env ``MEDLYTT_URL``) of the running Medlytt."""
    return click.option(
        "--url",
        default=DEFAULT_URL,
        show_default=True,
        envvar="MEDLYTT_URL",
        callback=check_url,
        help="The running Medlytt (env MEDLYTT_URL).",
    )(function)


def token_option(function: Any) -> Any:
    """``--token`` (env ``MEDLYTT_TOKEN``): a bearer token."""
    return click.option(
        "--token",
        envvar="MEDLYTT_TOKEN",
        metavar="TOKEN",
        help="Bearer token of a supervisor or admin (better: env MEDLYTT_TOKEN).",
    )(function)


def config_option(function: Any) -> Any:
    """``--config F`` (env ``MEDLYTT_CONFIG``): the TOML config file, as ``config_path``."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        envvar="MEDLYTT_CONFIG",
        help="TOML config file (default: none, built-in defaults; env MEDLYTT_CONFIG).",
    )(function)


def storage_path(config_path: Path | None) -> Path:
    """``[storage] path`` of the configuration (the file and the environment), for a
    command that reads the database; a configuration error exits 2 like every ``medlytt``
    command."""
    from .config import ConfigError, load_config
    from .logs import scrub

    try:
        return Path(load_config(config_path).storage.path)
    except ConfigError as exc:
        click.echo(f"medlytt: config error: {scrub(str(exc))}", err=True)
        sys.exit(2)
