"""The ARI client against an Asterisk that accepts connections and never answers.

A hung Asterisk (a deadlock in one of its modules) still accepts TCP connections, so a
client without its own deadline waits as long as aiohttp's default (five minutes) and the
gateway hangs silently.  Every way the client talks to ARI must give up within its
configured ``request_timeout_seconds`` with an :class:`AriError` that says so; the gateway
logs that, counts the session down and retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from medlytt.gateways.asterisk.ari import AriClient, AriError


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that reads whatever comes and never writes a byte."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_event_websocket_handshake_gives_up_after_the_request_timeout(
    silent_server: int,
) -> None:
    client = AriClient(f"http://127.0.0.1:{silent_server}", "user", "secret", timeout=0.5)
    began = time.monotonic()
    try:
        with pytest.raises(AriError) as raised:
            await client.open_events(["medlytt"])
    finally:
        await client.close()
    took = time.monotonic() - began
    assert "GET /events" in str(raised.value) and "no answer within 0.5 s" in str(raised.value)
    assert "secret" not in str(raised.value)
    assert took < 5, f"waited {took:.1f} s for a handshake that never came"


async def test_a_request_gives_up_after_the_request_timeout(silent_server: int) -> None:
    client = AriClient(f"http://127.0.0.1:{silent_server}", "user", "secret", timeout=0.5)
    began = time.monotonic()
    try:
        with pytest.raises(AriError) as raised:
            await client.get("/asterisk/info")
    finally:
        await client.close()
    assert "no answer within 0.5 s" in str(raised.value)
    assert time.monotonic() - began < 5
