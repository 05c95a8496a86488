"""The boundary to the PBX, against a real Asterisk: channel events go through the plugin
host (a faulty plugin is isolated), and the monitoring audit is written where the action
happens, whatever the plugins' mailboxes do."""

from __future__ import annotations

import asyncio
import secrets

from medlytt import ChannelLeft, hookimpl, utcnow
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, place_call
from medlytt.plugins.monitoring.state import MonitoringState
from medlytt.testing import TestMedlytt, running_medlytt, wait_until
from sample_plugins import recorder
from test_monitoring import AGENT_TONE, make_user, nothing_left


class FaultyChannels:
    """A plugin whose channel-event handler always raises."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def medlytt_channel_event(self, event):
        self.calls += 1
        raise RuntimeError(f"faulty handler at {event.type}")


async def answered(app: TestMedlytt, sandbox: AsteriskSandbox, talk: float) -> str:
    await asyncio.to_thread(place_call, sandbox, "support", ring=0.3, talk=talk)
    return await wait_until(
        lambda: next((a for a in AGENT_TONE if app.gateways[0].control.agent_leg(a)), None),
        timeout=10,
    )


async def listen(client, token: str, agent: str):
    """``POST /api/monitor`` in listen mode, the supervisor a fresh sandbox phone."""
    return await client.post(
        "/api/monitor",
        json={
            "agent": agent,
            "mode": "listen",
            "supervisor": f"Local/sup-b{secrets.token_hex(3)}@supervisor/n",
        },
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_faulty_channel_handler_is_isolated_and_monitoring_goes_on(
    asterisk_sandbox, tmp_path, medlytt_client
):
    faulty = FaultyChannels()
    sections = {
        "asterisk": asterisk_sandbox.asterisk_section,
        "plugins": {"breaker_failures": 3, "breaker_reset_seconds": 600},
    }
    plugins = [("recorder", recorder), ("faulty", faulty)]
    async with running_medlytt(sections, db_path=tmp_path / "m.db", plugins=plugins) as app:
        await wait_until(lambda: app.gateways[0].connected, timeout=15)
        await wait_until(
            lambda: (
                not [
                    c
                    for c in asterisk_sandbox.ari().request("GET", "/channels")
                    if "callers" in c["name"]
                ]
            ),
            timeout=60,
        )  # no call of an earlier test is still up
        client = await medlytt_client(app)
        token = make_user(app, "kari-faulty", "supervisor")
        agent = await answered(app, asterisk_sandbox, talk=6)
        response = await listen(client, token, agent)
        assert response.status == 201, await response.text()
        info = app.host.get("faulty")
        await wait_until(lambda: info.breaker.state.value == "open", timeout=10)
        assert info.errors == 3 and faulty.calls == 3  # then switched off
        assert app.metric("medlytt_plugin_errors_total", {"plugin": "faulty"}) == 3
        assert app.metric("medlytt_plugin_breaker_open", {"plugin": "faulty"}) == 1
        # Monitoring still hears its channels: the call ends, and so does the session.
        sessions = app.state.slot(MonitoringState).sessions
        await wait_until(lambda: not sessions, timeout=20)
        await app.settle()  # the recorder plugin has seen the stop event
        stopped = [e for e in app.plugin_state["recorder"] if e.type == "monitoring.stopped"]
        assert stopped[-1].reason == "call ended"
        assert app.host.get("monitoring").errors == 0
        await nothing_left(asterisk_sandbox)


async def test_the_audit_is_written_even_when_the_monitoring_mailboxes_are_full(
    app, asterisk_sandbox, medlytt_client
):
    client = await medlytt_client(app)
    token = make_user(app, "kari-flood", "supervisor")
    agent = await answered(app, asterisk_sandbox, talk=8)
    # Flood: stop the monitoring plugin's channel-event worker and fill its mailbox.
    mailbox = next(m for m in app.bus.channel_mailboxes if m.info.name == "monitoring")
    await mailbox.stop()
    port = app.gateways[0].control
    flood = ChannelLeft(at=utcnow(), pbx=port.pbx, channel="elsewhere", destroyed=True)
    while mailbox.offer(flood, {"port": port}):
        pass
    dropped = mailbox.dropped
    assert mailbox.full() and dropped >= 1
    headers = {"Authorization": f"Bearer {token}"}
    response = await listen(client, token, agent)
    assert response.status == 201, await response.text()
    session = await response.json()
    # In the audit trail the moment the API answered: no event had to be delivered.
    rows = (await (await client.get("/api/audit/monitoring", headers=headers)).json())["audit"]
    assert [(r["session_id"], r["action"]) for r in rows] == [(session["id"], "started")]
    assert rows[0]["agent_id"] == agent and rows[0]["supervisor"] == "kari-flood"
    assert mailbox.dropped > dropped  # the session's own channel events were dropped too
    changed = await client.patch(
        f"/api/monitor/{session['id']}", json={"mode": "whisper"}, headers=headers
    )
    assert changed.status == 200
    stopped = await client.delete(f"/api/monitor/{session['id']}", headers=headers)
    assert stopped.status == 204
    rows = (await (await client.get("/api/audit/monitoring", headers=headers)).json())["audit"]
    assert [r["action"] for r in reversed(rows)] == ["started", "mode_changed", "stopped"]
    mailbox.start()  # let the worker empty the flood before the app stops
    await nothing_left(asterisk_sandbox)
