"""Two real Asterisks feed one Medlytt: ``[asterisk.oslo]`` and ``[asterisk.bergen]``.

Each PBX is a gateway of its own, named after its section; its ids are qualified with its
name (``oslo:support``), so both sites' queues, agents and calls stay apart although the
two sandboxes are configured alike.  Killing one leaves the other's metrics moving, and
``/readyz`` names the one that is down.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from medlytt.gateways.asterisk.sandbox import (
    AsteriskSandbox,
    SandboxSettings,
    free_ports,
    place_call,
)
from medlytt.testing import running_medlytt, wait_until

AGENT_TIMEOUT = 3  # as the session sandbox (conftest.py): agents ring 3 s at most


def answered(app, queue: str) -> float:
    return app.metric("medlytt_queue_calls_total", {"queue": queue, "outcome": "answered"}) or 0


async def test_two_pbxs_feed_one_medlytt_and_one_going_down_leaves_the_other_running(
    asterisk_sandbox, tmp_path, medlytt_client
):
    http_port, ami_port, sip_port = free_ports()
    bergen = AsteriskSandbox(
        SandboxSettings(
            instance=f"pytest-bergen-{os.getpid()}-{secrets.token_hex(3)}",
            http_port=http_port,
            ami_port=ami_port,
            sip_port=sip_port,
            agent_timeout=AGENT_TIMEOUT,
        )
    )
    await asyncio.to_thread(bergen.start)
    try:
        sections = {
            "asterisk": {
                "oslo": asterisk_sandbox.asterisk_section,
                "bergen": bergen.asterisk_section,
            }
        }
        async with running_medlytt(sections, db_path=tmp_path / "m.db") as app:
            assert sorted(g.name for g in app.gateways) == ["bergen", "oslo"]
            await wait_until(lambda: all(g.connected for g in app.gateways), timeout=20)
            client = await medlytt_client(app)
            assert (await client.get("/readyz")).status == 200
            assert {"oslo:support", "bergen:support"} <= set(app.state.queues)
            assert app.state.queues["bergen:support"].source == "bergen"
            assert app.metric("medlytt_gateway_up", {"gateway": "oslo"}) == 1
            assert app.metric("medlytt_gateway_up", {"gateway": "bergen"}) == 1

            # One call in each PBX: each counted under its own PBX's queue.
            await asyncio.gather(
                asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=0.2, talk=1),
                asyncio.to_thread(place_call, bergen, "support", ring=0.2, talk=1),
            )
            await wait_until(
                lambda: answered(app, "oslo:support") == 1 and answered(app, "bergen:support") == 1,
                timeout=30,
            )
            agents = {a for a in app.state.agents if a.startswith(("oslo:", "bergen:"))}
            assert {"oslo:Local/agent1@agents/n", "bergen:Local/agent1@agents/n"} <= agents

            # Bergen goes down: its gauge drops, /readyz names it, Oslo keeps counting.
            await asyncio.to_thread(bergen.stop, graceful=False)
            await wait_until(
                lambda: app.metric("medlytt_gateway_up", {"gateway": "bergen"}) == 0, timeout=15
            )
            response = await client.get("/readyz")
            body = await response.json()
            assert response.status == 503
            assert body["down"] == ["bergen"] and "bergen" in body["error"]
            assert body["gateways"] == {"oslo": True, "bergen": False}
            await asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=0.2, talk=1)
            await wait_until(lambda: answered(app, "oslo:support") == 2, timeout=30)
            assert app.metric("medlytt_gateway_up", {"gateway": "oslo"}) == 1
            assert answered(app, "bergen:support") == 1
    finally:
        await asyncio.to_thread(bergen.purge)
