"""A real baresip agent answers a real queue call; Medlytt joins the phone's view and the
PBX's view of that call into one.

baresip registers as the sandbox's PJSIP phone 1001 with manual answer and is made a
member of the ``sales`` queue for this test (``queue add member``, removed after); the
queue's own Local agents never answer (``answer=False``), so only the softphone can.
Medlytt hears the call twice: from Asterisk (AMI/ARI: queued, answered, ended) and from
baresip's ctrl_tcp (incoming, established, muted, closed), through the core's own baresip
gateway in one scenario and through ``medlytt desk`` over ZeroMQ with CURVE in the other,
where the agent answers and hangs up with the headset's hook switch (a scripted USB
headset: none is attached where the tests run) and its off-hook lamp follows the call.
Medlytt answers, mutes, un-mutes, holds, resumes and hangs up through the softphone commands, and
``GET /api/desk/calls/{id}`` must hold the softphone's call, matched by agent, time and
caller, with the seconds muted that the phone's own events measure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from medlytt import CallAnswered, CallEnded, CallQueued, HeadsetHook
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox
from medlytt.gateways.asterisk.sandbox.calls import call_lines, place_call
from medlytt.gateways.desk.agent import Desk, DeskOptions
from medlytt.gateways.desk.keys import make_key_pair
from medlytt.gateways.softphone.baresip import BaresipControl
from medlytt.gateways.softphone.events import SoftphoneCall
from medlytt.hardware import HeadsetConnection
from medlytt.testing import TestMedlytt, running_medlytt, wait_until
from sample_plugins import recorder
from softphone import Baresip, sandbox_phone
from support import free_port
from test_hid_backend import ScriptedTransport
from test_hid_reports import HOOK

AGENT = "PJSIP/1001"
QUEUE = "sales"
MEMBER = "desk1001"
CALLER = '"Desk test" <5550142>'


@pytest.fixture
def agent_phone(
    asterisk_sandbox: AsteriskSandbox, baresip_bin: str, tmp_path: Path
) -> Iterator[Baresip]:
    """baresip as 1001 (manual answer), a member of the sales queue while the test runs."""
    phone = sandbox_phone(
        asterisk_sandbox,
        baresip_bin,
        tmp_path / "baresip-1001",
        phone="1001",
        tone=1500,
        answermode="manual",
    )
    phone.start()
    asterisk_sandbox.cli(f"queue add member {AGENT} to {QUEUE} penalty 0 as {MEMBER}")
    try:
        yield phone
    finally:
        with contextlib.suppress(Exception):
            asterisk_sandbox.cli(f"queue remove member {AGENT} from {QUEUE}")
        phone.stop()


def recorded(app: TestMedlytt, kind: type, **match: Any) -> list[Any]:
    return [
        e
        for e in app.plugin_state.get("recorder", [])
        if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
    ]


def phone_states(app: TestMedlytt) -> list[str]:
    return [e.state for e in recorded(app, SoftphoneCall, agent_id=AGENT)]


async def answer_talk_mute_hang_up(
    app: TestMedlytt, sandbox: AsteriskSandbox, command: Any
) -> tuple[str, list[SoftphoneCall]]:
    """Place a sales call, answer it on baresip, hold and resume, mute for a while, hang up
    from the phone.

    ``command(name)`` sends a softphone command the way the scenario does it.
    """
    callid = place_call(sandbox, QUEUE, answer=False, patience=60, caller_id=CALLER)
    await wait_until(lambda: "incoming" in phone_states(app), timeout=20, what="baresip rings")
    await command("accept")
    answered = await wait_until(
        lambda: recorded(app, CallAnswered, agent_id=AGENT), timeout=20, what="PBX: answered"
    )
    await wait_until(lambda: "established" in phone_states(app), timeout=10, what="established")
    await command("hold")
    await wait_until(lambda: "held" in phone_states(app), timeout=10, what="held")
    await command("resume")
    await wait_until(lambda: "resumed" in phone_states(app), timeout=10, what="resumed")
    await command("mute")
    await wait_until(lambda: "muted" in phone_states(app), timeout=10, what="muted")
    await asyncio.sleep(1.5)
    await command("mute")
    await wait_until(lambda: "unmuted" in phone_states(app), timeout=10, what="unmuted")
    # Hung up right after un-muting: a mute is no state of the call (the hook still ends it).
    await command("hangup")
    call_id = answered[0].call_id
    await wait_until(
        lambda: recorded(app, CallEnded, call_id=call_id), timeout=20, what="PBX: ended"
    )
    await wait_until(lambda: "closed" in phone_states(app), timeout=10, what="closed")
    lines = [line.event for line in call_lines(sandbox, callid)]
    assert "CONNECT" in lines and "COMPLETEAGENT" in lines, lines  # the PBX's own record
    return call_id, recorded(app, SoftphoneCall, agent_id=AGENT)


async def check_joined(
    app: TestMedlytt, medlytt_client: Any, call_id: str, phone: list[SoftphoneCall]
) -> None:
    client = await medlytt_client(app)
    response = await client.get(f"/api/desk/calls/{call_id}")
    assert response.status == 200, await response.text()
    desk = await response.json()
    queued = recorded(app, CallQueued, call_id=call_id)
    assert desk["agent_id"] == AGENT and desk["queue"] == QUEUE
    assert queued and desk["caller_id"] == queued[0].caller_id
    (joined,) = desk["softphone_calls"]
    assert joined["matched_by"] == ["agent", "time", "caller"], joined
    assert "5550142" in joined["peer"] and joined["direction"] == "incoming"
    assert [s["state"] for s in joined["states"]] == [e.state for e in phone]
    muted = next(e.at for e in phone if e.state == "muted")
    unmuted = next(e.at for e in phone if e.state == "unmuted")
    assert desk["muted_seconds"] == round((unmuted - muted).total_seconds(), 3)
    assert [p["source"] for p in desk["mute_periods"]] == ["softphone"]


@contextlib.asynccontextmanager
async def medlytt_with(
    sandbox: AsteriskSandbox, tmp_path: Path, **sections: Any
) -> AsyncIterator[TestMedlytt]:
    async with running_medlytt(
        {"asterisk": sandbox.asterisk_section, **sections},
        db_path=tmp_path / "m.db",
        plugins=[("recorder", recorder)],
    ) as app:
        await wait_until(
            lambda: all(g.connected for g in app.gateways), timeout=20, what="gateways up"
        )
        yield app


async def test_the_core_answers_on_baresip_and_joins_its_events_to_the_queue_call(
    asterisk_sandbox: AsteriskSandbox, agent_phone: Baresip, tmp_path: Path, medlytt_client
):
    softphone = {"baresip": {AGENT: {"address": f"127.0.0.1:{agent_phone.ctrl_port}"}}}
    async with medlytt_with(asterisk_sandbox, tmp_path, softphone=softphone) as app:
        service: Any = app.service("softphone")

        async def command(name: str) -> None:
            await service.command(AGENT, name)

        call_id, phone = await answer_talk_mute_hang_up(app, asterisk_sandbox, command)
        assert {e.source for e in phone} == {"softphone"}
        await check_joined(app, medlytt_client, call_id, phone)


async def test_medlytt_desk_answers_with_the_headset_and_sends_the_call_over_zeromq(
    asterisk_sandbox: AsteriskSandbox, agent_phone: Baresip, tmp_path: Path, medlytt_client
):
    _, core_secret, _ = make_key_pair(tmp_path / "keys", "core")
    _, desk_secret, desk_public = make_key_pair(tmp_path / "keys", "desk")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    desk_section = {
        "bind": endpoint,
        "secret_key_file": str(core_secret),
        "allowed_keys": {desk_public: AGENT},
        "heartbeat_seconds": 0.5,
    }
    said: list[str] = []
    options = DeskOptions(
        core=endpoint,
        agent=AGENT,
        key=str(desk_secret),
        core_key=str(tmp_path / "keys" / "core.key"),
        baresip=f"127.0.0.1:{agent_phone.ctrl_port}",
        heartbeat_seconds=0.5,
    )
    transport = ScriptedTransport()  # the agent's USB headset (tests/test_hid_backend.py)
    transport.attached = True
    headset = HeadsetConnection(transport, reopen_seconds=0.01, read_timeout_ms=10)
    async with medlytt_with(asterisk_sandbox, tmp_path, desk=desk_section) as app:
        desk = Desk(options, said.append, headset=headset)
        running = asyncio.create_task(desk.run())
        try:
            await wait_until(
                lambda: desk.phone is not None and desk.link.connected and transport.channels,
                timeout=20,
                what=f"desk connected to baresip, its headset and the core: {said}",
            )
            reports = transport.channels[0].reports

            async def command(name: str) -> None:
                """Answer and hang up with the headset's hook switch, the rest on baresip."""
                if name in ("accept", "hangup"):
                    reports.put(bytes([2, HOOK if name == "accept" else 0]))
                    return
                phone: BaresipControl | None = desk.phone
                assert phone is not None, said
                await getattr(phone, name)()

            call_id, phone = await answer_talk_mute_hang_up(app, asterisk_sandbox, command)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        hooks = recorded(app, HeadsetHook, agent_id=AGENT)
        assert [h.off_hook for h in hooks] == [True, False]
        assert {e.source for e in phone + hooks} == {"desk"} and desk.link.dropped == 0
        delivered = app.metric("medlytt_desk_messages_total", {"result": "delivered"})
        assert delivered == len(phone) + len(hooks)
        written = transport.channels[0].written
        assert b"\x02\x01" in written  # the headset's off-hook lamp lit while in the call
        await check_joined(app, medlytt_client, call_id, phone)
        client = await medlytt_client(app)
        desk_record = await (await client.get(f"/api/desk/calls/{call_id}")).json()
        assert [h["off_hook"] for h in desk_record["hook"]] == [True, False]
