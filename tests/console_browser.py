"""Helpers for the web console's browser tests: Debian's chromium driven by Playwright.

Playwright's Python wheel carries its driver; the browser is the Debian package
``chromium`` (installed with apt-get as root when missing, like Prometheus), never one
downloaded by ``playwright install``.  One browser per scenario: a scenario opens it,
logs in and walks through its screens.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from medlytt import auth
from medlytt.testing import TestMedlytt
from medlytt.web import build_web_app, plugin_routes
from playwright.async_api import Browser, Page, async_playwright
from support import ROOT, debian_package

#: Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"


def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (root)."""
    return debian_package("chromium", lambda: shutil.which("chromium"), "chromium")


def add_console_user(
    app: TestMedlytt,
    name: str,
    role: str,
    *,
    teams: tuple[str, ...] = (),
    agent_id: str | None = None,
    phone: str | None = None,
) -> str:
    """A user with a console password; returns an API token of theirs too."""

    def create(db: Any) -> str:
        auth.add_user(db, name, role, teams=list(teams), agent_id=agent_id, phone=phone)
        auth.set_password(db, name, PASSWORD)
        return auth.create_token(db, name)[1]

    return app.storage.run_sync(create)


@dataclass
class Site:
    """A running web server for the browser: its base URL, and a way to cut connections."""

    server: TestServer

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def drop_connections(self) -> int:
        """Close every open connection from the server's side (a network drop): the
        browser's live stream must reconnect by itself.  Returns how many were open."""
        handlers = list(self.server.runner.server.connections)  # type: ignore[union-attr]
        for handler in handlers:
            if handler.transport is not None:
                handler.transport.close()
        return len(handlers)


@contextlib.asynccontextmanager
async def served(app: TestMedlytt) -> AsyncIterator[Site]:
    """The app's web server on a free loopback port."""
    server = TestServer(build_web_app(app, await plugin_routes(app)), host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(server)
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        opened = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield opened
        finally:
            await opened.close()


def script_errors(page: Page) -> list[str]:
    """The page's uncaught JavaScript errors from now on (a list that fills as they come)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def log_in(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/console/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
