"""Test helpers for Medlytt and its plugins; also a pytest plugin (``pytest11`` entry point).

A third-party plugin's tests can start a real Medlytt with their plugin loaded, publish
events and read state, metrics and HTTP routes, without copying Medlytt's test code::

    async def test_my_plugin(medlytt):
        async with medlytt(plugins=[("myplugin", myplugin)]) as app:
            app.publish(CallQueued(...))
            await app.settle()

Fixtures: ``medlytt`` (an async context-manager factory) and ``medlytt_client`` (an
aiohttp test client factory for a running app).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from . import auth
from .app import Medlytt, load_plugins
from .config import Config
from .web import build_web_app, plugin_routes


def make_config(sections: dict[str, Any] | None = None, *, db_path: str | Path) -> Config:
    """A validated config from a dict of sections, storing in ``db_path``; demo off by default."""
    data: dict[str, Any] = {"demo": {"enabled": False}}
    for name, section in (sections or {}).items():
        data[name] = {**data.get(name, {}), **section}
    data.setdefault("storage", {}).setdefault("path", str(db_path))
    return Config(data, origins={})


class TestMedlytt(Medlytt):
    """A :class:`Medlytt` with helpers for tests."""

    __test__ = False  # not a test class, despite the name

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every plugin has handled every event published so far."""
        if not await self.bus.drain(timeout):
            raise TimeoutError(f"plugins did not handle their events within {timeout} s")

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """The current value of one sample on ``/metrics`` (None when absent)."""
        return sample_value(generate_latest(self.registry).decode(), name, labels)


@contextlib.asynccontextmanager
async def running_medlytt(
    sections: dict[str, Any] | None = None,
    *,
    db_path: str | Path,
    plugins: Sequence[tuple[str, object]] = (),
) -> AsyncIterator[TestMedlytt]:
    """Start a Medlytt with the given config sections and extra plugins; stop it after."""
    config = make_config(sections, db_path=db_path)
    host, plugin_configs = load_plugins(config, extra=plugins)
    app = TestMedlytt(config, host, plugin_configs)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def sample_value(exposition: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """Find one sample in a Prometheus text exposition."""
    wanted = labels or {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return sample.value
    return None


def poll_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Call ``predicate`` until it returns something truthy; fail after ``timeout`` seconds.

    For synchronous tests (real processes, HTTP); coroutines use :func:`wait_until`.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s (last: {result!r})")
        time.sleep(interval)


async def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> Any:
    """Like :func:`poll_until`, sleeping on the event loop between calls."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def medlytt(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[TestMedlytt]]:
    """Factory: ``async with medlytt(sections, plugins=[(name, module)]) as app``."""

    def factory(
        sections: dict[str, Any] | None = None, *, plugins: Sequence[tuple[str, object]] = ()
    ) -> contextlib.AbstractAsyncContextManager[TestMedlytt]:
        return running_medlytt(sections, db_path=tmp_path / "medlytt.db", plugins=plugins)

    return factory


def add_user_with_token(
    app: Medlytt,
    name: str,
    role: str,
    *,
    teams: Sequence[str] = (),
    agent_id: str | None = None,
    phone: str | None = None,
) -> str:
    """Create a user in the app's database and return a new API token of theirs."""

    def create(db: Any) -> str:
        auth.add_user(db, name, role, teams=list(teams), agent_id=agent_id, phone=phone)
        return auth.create_token(db, name)[1]

    return app.storage.run_sync(create)


@pytest.fixture
async def medlytt_client() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``client = await medlytt_client(app)`` gives an aiohttp TestClient whose
    requests carry an admin's token (every API route needs one); ``role=None`` sends
    none, ``role="agent"`` etc. a user of that role."""
    clients: list[TestClient] = []

    async def factory(app: Medlytt, *, role: str | None = "admin") -> TestClient:
        headers = {}
        if role is not None:
            name = f"test-{role}-{len(clients)}-{secrets.token_hex(3)}"
            token = add_user_with_token(app, name, role, agent_id=None)
            headers["Authorization"] = f"Bearer {token}"
        server = TestServer(build_web_app(app, await plugin_routes(app)))
        client = TestClient(server, headers=headers)
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
