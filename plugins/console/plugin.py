"""The web console plugin: hooks, settings and the console's routes (docs/console.md).

Pages are rendered on the server (Jinja2, autoescaped) in the user's language; their data
comes from Medlytt's JSON API, fetched by ``static/console.js`` with the session cookie and
the CSRF header, so the console can do and see exactly what its user's token could.  The
wallboard and the agents screen are live over server-sent events (live.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from aiohttp import web
from medlytt import ConsolePage, Event, Migration, hookimpl

from . import store
from .views import ROUTES, Console

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "console"


class ConsoleSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[console]``."""

    #: Show callers' numbers on the agents screen (privacy policy: hidden by default).
    show_caller_number: bool = False
    #: The language of users who chose none and whose browser asks for neither: en or nb.
    default_language: str = "en"

    def __post_init__(self) -> None:
        if self.default_language not in ("en", "nb"):
            raise ValueError(f"default_language must be en or nb, got {self.default_language!r}")


@hookimpl
def medlytt_config_schema() -> type[ConsoleSettings]:
    return ConsoleSettings


@hookimpl
def medlytt_migrations() -> list[Migration]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return list(ROUTES)


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    """Make the console and collect the pages other plugins add (medlytt_console_pages)."""
    pages: list[tuple[str, ConsolePage]] = []
    for info, result in await app.host.call("medlytt_console_pages", app=app):
        for page in result or []:
            if isinstance(page, ConsolePage):
                pages.append((info.name, page))
    app.plugin_state[PLUGIN] = Console(app, app.plugin_config(PLUGIN), pages)


@hookimpl
def medlytt_event(event: Event, app: Medlytt) -> None:
    """Every event may change what a wallboard shows: wake the open streams (synchronous
    and cheap: it runs for every event)."""
    console: Console | None = app.plugin_state.get(PLUGIN)
    if console is not None and console.feed.streams:
        console.feed.changed()


@hookimpl
def medlytt_shutdown(app: Medlytt) -> None:
    console: Console | None = app.plugin_state.get(PLUGIN)
    if console is not None:
        console.feed.stop()
