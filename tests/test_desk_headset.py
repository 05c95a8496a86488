"""A headset at the desk, end to end: its reports, decoded by ``medlytt.hardware``, travel
through ``medlytt desk`` over ZeroMQ (CURVE) to the core, which joins them to the agent's
call.  No USB headset exists where the tests run, so the headset is the scripted device of
tests/test_hid_backend.py behind the same transport protocol hidapi is used through."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from medlytt import CallAnswered, CallEnded, CallQueued, HeadsetHook, HeadsetMute, utcnow
from medlytt.gateways.desk.agent import Desk, DeskOptions
from medlytt.hardware import HeadsetConnection
from medlytt.testing import wait_until
from support import free_port
from test_desk_link import AGENT, Keys, core
from test_hid_backend import ScriptedTransport
from test_hid_reports import HOOK, MUTE


async def test_hook_and_mute_on_the_headset_become_facts_about_the_agents_call(
    tmp_path: Path, medlytt_client
):
    keys = Keys(tmp_path / "keys")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    transport = ScriptedTransport()
    transport.attached = True
    said: list[str] = []
    options = DeskOptions(
        core=endpoint,
        agent=AGENT,
        key=str(keys.desk_secret),
        core_key=str(keys.folder / "core.key"),
        heartbeat_seconds=0.2,
    )
    headset = HeadsetConnection(transport, reopen_seconds=0.01, read_timeout_ms=10)
    async with core(keys, endpoint, tmp_path / "m.db") as app:
        now = utcnow()
        app.publish(CallQueued(at=now, source="t", call_id="c1", queue="support"))
        app.publish(
            CallAnswered(
                at=now, source="t", call_id="c1", queue="support", agent_id=AGENT, wait_seconds=1
            )
        )
        desk = Desk(options, said.append, headset=headset)
        running = asyncio.create_task(desk.run())
        try:
            await wait_until(
                lambda: desk.link.connected and any("headset attached" in s for s in said),
                what=f"the desk connected with its headset: {said}",
            )
            reports = transport.channels[0].reports
            for report in (HOOK, HOOK | MUTE, HOOK, HOOK | MUTE, HOOK, 0):
                reports.put(bytes([2, report]))  # answer, mute, release, un-mute, release, end
                await asyncio.sleep(0.6)  # apart: the decoder takes presses within 0.5 s as one

            def heard() -> list:
                return [
                    e
                    for e in app.plugin_state.get("recorder", [])
                    if isinstance(e, HeadsetHook | HeadsetMute)
                ]

            await wait_until(
                lambda: len(heard()) == 4, what=f"two hook and two mute events: {said}"
            )
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        off, muted, unmuted, on = heard()
        assert (off.off_hook, muted.muted, unmuted.muted, on.off_hook) == (True, True, False, False)
        assert {e.agent_id for e in heard()} == {AGENT}
        assert "Scripted Headset (0b0e:0307)" in muted.device
        app.publish(
            CallEnded(
                at=utcnow(),
                source="t",
                call_id="c1",
                queue="support",
                agent_id=AGENT,
                hung_up_by="agent",
                talk_seconds=1,
            )
        )
        await app.settle()
        client = await medlytt_client(app)
        response = await client.get("/api/desk/calls/c1")
        assert response.status == 200, await response.text()
        summary = await response.json()
    assert summary["muted_seconds"] == round((unmuted.at - muted.at).total_seconds(), 3)
    assert [p["source"] for p in summary["mute_periods"]] == ["headset"]
    assert [h["off_hook"] for h in summary["hook"]] == [True, False]
