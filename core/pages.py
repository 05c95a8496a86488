"""Pages that plugins add to the web console (hook ``medlytt_console_pages``).

A plugin describes a page; the console plugin serves it at ``/console/x/<name>`` inside
its own layout (menu, language, CSRF token for scripts), lists it in the menu for the
roles that may open it, and refuses everyone else with 403.  The page's content is an
HTML fragment the plugin renders itself; its data should come from the plugin's JSON API,
fetched by a script, so the page shows nothing its API would not.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .auth import ROLES

if TYPE_CHECKING:
    from aiohttp import web

    from .auth import Actor

#: A page's name: its URL segment.
PAGE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

RenderPage = Callable[["web.Request", "Actor"], Awaitable[str]]


@dataclass(frozen=True)
class ConsolePage:
    """One page of the web console and its menu entry.

    ``render(request, actor)`` returns the page's body as an HTML fragment (the plugin
    escapes what it puts in).  ``title`` is the English menu label, ``title_nb`` the
    Norwegian (bokmål) one (English when empty).  ``roles``: who sees the entry and may
    open the page.
    """

    name: str
    title: str
    render: RenderPage
    roles: tuple[str, ...] = ("admin", "supervisor")
    title_nb: str = ""

    def __post_init__(self) -> None:
        if not PAGE_NAME.fullmatch(self.name):
            raise ValueError(
                f"console page name {self.name!r} must be 1-40 lower-case letters, digits or -"
            )
        unknown = [r for r in self.roles if r not in ROLES]
        if not self.roles or unknown:
            raise ValueError(f"console page {self.name!r}: roles must be some of {ROLES}")

    def label(self, language: str) -> str:
        return self.title_nb if language == "nb" and self.title_nb else self.title
