"""Listen, whisper, barge against a real Asterisk, proven with tones.

Caller "speaks" 440 Hz, agent1 1000 Hz / agent2 1100 Hz, the supervisor 2000 Hz; every
party records what it *hears*.  Who hears the supervisor is then a matter of measuring
2000 Hz in each recording (Goertzel), not of trusting Medlytt's own account.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
from driver import rx_file
from medlytt import ChannelNotFound, auth
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, place_call
from medlytt.plugins.monitoring.events import MonitorMode
from medlytt.plugins.monitoring.snoop import BEEP_HZ, SnoopSession
from medlytt.plugins.monitoring.state import MonitoringState
from medlytt.testing import TestMedlytt, wait_until
from tones import duration, peak, tones

CALLER, SUPERVISOR = 440, 2000
AGENT_TONE = {"Local/agent1@agents/n": 1000, "Local/agent2@agents/n": 1100}
HEARD = 300  # amplitude (16-bit units) above which a tone is present; silence measures < 5


def make_user(app: TestMedlytt, name: str, role: str, teams=(), agent_id=None) -> str:
    def create(db):
        auth.add_user(db, name, role, teams=teams, agent_id=agent_id)
        return auth.create_token(db, name)[1]

    return app.storage.run_sync(create)


@pytest.fixture
async def client(app, medlytt_client):
    return await medlytt_client(app, role=None)  # each request brings its own token


async def answered_call(
    app: TestMedlytt, sandbox: AsteriskSandbox, talk: float = 20
) -> tuple[str, str]:
    """Place a recorded support call; return (queue_log callid, agent interface)."""
    callid = await asyncio.to_thread(
        place_call, sandbox, "support", ring=0.3, talk=talk, record=True
    )
    gateway = app.gateways[0]

    def agent() -> str | None:
        for agent_id in AGENT_TONE:
            leg = gateway.control.agent_leg(agent_id)
            if leg and leg.call_id == f"phone-{callid}":
                return agent_id
        return None

    return callid, await wait_until(agent, timeout=10)


async def leftovers(sandbox: AsteriskSandbox) -> list[str]:
    channels = await asyncio.to_thread(sandbox.ari().request, "GET", "/channels")
    bridges = await asyncio.to_thread(sandbox.ari().request, "GET", "/bridges")
    return [c["id"] for c in channels if c["id"].startswith("medlytt-mon")] + [
        b["id"] for b in bridges if b["id"].startswith("medlytt-mon")
    ]


async def hang_up_caller(sandbox: AsteriskSandbox, callid: str) -> float:
    """Hang up the caller's phone of ``callid`` (its queue call ends with it); return the
    wall-clock time (``time.time()``) it went, halfway through the request."""
    before = time.time()
    await asyncio.to_thread(sandbox.ari().request, "DELETE", f"/channels/phone-{callid}")
    return (before + time.time()) / 2


def recording_began(path: Path, ended_at: float) -> float:
    """When (``time.time()``) the recording ``path`` began, counted back from when its leg
    was hung up: a recording runs until then, one frame per 20 ms, however late the test
    noticed the call's answer (which is when the agent's began)."""
    return ended_at - duration(path)


async def nothing_left(sandbox: AsteriskSandbox) -> None:
    deadline = time.monotonic() + 5
    while await leftovers(sandbox):
        assert time.monotonic() < deadline, f"left behind in Asterisk: {await leftovers(sandbox)}"
        await asyncio.sleep(0.1)


def heard(
    sandbox: AsteriskSandbox,
    callid: str,
    sup: str,
    agent: str,
    during: tuple[float, float],
    call_ended: float,
) -> dict:
    """The tones in what the supervisor heard, and in what agent and caller heard
    ``during`` (``time.time()`` from, to) of a call hung up at ``call_ended``."""
    freqs = [CALLER, AGENT_TONE[agent], SUPERVISOR]
    agent_rx, caller_rx = rx_file(sandbox, callid, "agent"), rx_file(sandbox, callid, "caller")
    return {
        "supervisor": tones(rx_file(sandbox, sup, "supervisor"), freqs),
        **{
            who: tones(path, freqs, *(t - recording_began(path, call_ended) for t in during))
            for who, path in (("agent", agent_rx), ("caller", caller_rx))
        },
    }


@pytest.mark.parametrize(
    ("mode", "agent_hears", "caller_hears"),
    [("listen", False, False), ("whisper", True, False), ("barge", True, True)],
)
async def test_who_hears_the_supervisor(
    app, client, asterisk_sandbox, mode, agent_hears, caller_hears
):
    token = make_user(app, f"kari-{mode}", "supervisor")
    callid, agent = await answered_call(app, asterisk_sandbox, talk=120)
    sup = f"{mode}{secrets.token_hex(3)}"
    asked = time.monotonic()
    response = await client.post(
        "/api/monitor",
        json={"agent": agent, "mode": mode, "supervisor": f"Local/sup-{sup}@supervisor/n"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201, await response.text()
    session = await response.json()
    assert session["mode"] == mode and session["agent"] == agent
    assert app.metric("medlytt_monitor_sessions_active", {"mode": mode}) == 1
    start = time.time()
    await asyncio.sleep(3)
    end = time.time()
    stopped = await client.delete(
        f"/api/monitor/{session['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert stopped.status == 204
    await nothing_left(asterisk_sandbox)
    assert app.metric("medlytt_monitor_sessions_active", {"mode": mode}) == 0
    assert app.metric("medlytt_monitor_sessions_total", {"mode": mode}) == 1
    call_ended = await hang_up_caller(asterisk_sandbox, callid)
    await wait_until(lambda: not app.state.calls, timeout=20)
    during = (start + 0.5, end - 0.5)  # while the session surely ran
    got = await asyncio.to_thread(heard, asterisk_sandbox, callid, sup, agent, during, call_ended)
    assert got["supervisor"][CALLER] > HEARD and got["supervisor"][AGENT_TONE[agent]] > HEARD, got
    assert (got["agent"][SUPERVISOR] > HEARD) is agent_hears, got
    assert (got["caller"][SUPERVISOR] > HEARD) is caller_hears, got
    print(f"{mode}: set-up {(time.monotonic() - asked):.2f} s incl. 3 s listening; {got}")


async def test_switching_modes_in_one_session(app, client, asterisk_sandbox):
    """Every phase is told by its own times (``time.time()`` between the requests that
    switch), placed in each recording by counting back from that recording's end (the
    moment its leg was hung up); PATCH answers arriving late, or noticing the answer
    late, then only shorten what is measured, they never move a phase's window into the
    next phase's sound."""
    token = make_user(app, "kari-switch", "supervisor")
    headers = {"Authorization": f"Bearer {token}"}
    callid, agent = await answered_call(app, asterisk_sandbox, talk=120)
    sup = f"switch{secrets.token_hex(3)}"
    response = await client.post(
        "/api/monitor",
        json={"agent": agent, "mode": "listen", "supervisor": f"Local/sup-{sup}@supervisor/n"},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    session = await response.json()
    phases = []
    for mode in ("listen", "whisper", "barge", "listen"):
        if mode != "listen" or phases:
            changed = await client.patch(
                f"/api/monitor/{session['id']}", json={"mode": mode}, headers=headers
            )
            assert changed.status == 200, await changed.text()
        start = time.time()  # the snoop of this mode is in the bridge
        await asyncio.sleep(3)
        phases.append((mode, start, time.time()))  # the next switch has not been asked yet
    sent = time.time()
    await client.delete(f"/api/monitor/{session['id']}", headers=headers)
    sup_ended = (sent + time.time()) / 2  # the supervisor's leg was hung up in between
    await nothing_left(asterisk_sandbox)
    call_ended = await hang_up_caller(asterisk_sandbox, callid)
    await wait_until(lambda: not app.state.calls, timeout=20)
    sup_rx = rx_file(asterisk_sandbox, sup, "supervisor")
    agent_rx = rx_file(asterisk_sandbox, callid, "agent")
    caller_rx = rx_file(asterisk_sandbox, callid, "caller")
    origins = {
        "supervisor": recording_began(sup_rx, sup_ended),
        "agent": recording_began(agent_rx, call_ended),
        "caller": recording_began(caller_rx, call_ended),
    }
    edge = 0.8  # left out at each end of a phase: a switch, and how late an end is known
    freqs = [CALLER, AGENT_TONE[agent], SUPERVISOR]
    for mode, start, end in phases:
        got = {
            who: tones(path, freqs, start - origins[who] + edge, end - origins[who] - edge)
            for who, path in (("supervisor", sup_rx), ("agent", agent_rx), ("caller", caller_rx))
        }
        # One supervisor leg throughout: in every phase it hears the caller.
        assert got["supervisor"][CALLER] > HEARD, (mode, origins, got)
        assert (got["agent"][SUPERVISOR] > HEARD) is (mode in ("whisper", "barge")), (mode, got)
        assert (got["caller"][SUPERVISOR] > HEARD) is (mode == "barge"), (mode, got)
        # The windows lie inside the call: each heard the other party.
        assert got["agent"][CALLER] > HEARD and got["caller"][AGENT_TONE[agent]] > HEARD, got
    types = [e.type for e in app.plugin_state["recorder"] if e.type.startswith("monitoring.")]
    assert types == ["monitoring.started"] + ["monitoring.mode_changed"] * 3 + [
        "monitoring.stopped"
    ]


async def test_session_ends_when_the_caller_hangs_up(app, client, asterisk_sandbox):
    """The caller hangs up only once the session is set up (the test does it), however
    long the set-up took."""
    token = make_user(app, "kari-hangup", "supervisor")
    callid, agent = await answered_call(app, asterisk_sandbox, talk=120)
    response = await client.post(
        "/api/monitor",
        json={
            "agent": agent,
            "mode": "listen",
            "supervisor": f"Local/sup-h{secrets.token_hex(3)}@supervisor/n",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201, await response.text()
    assert app.state.slot(MonitoringState).sessions
    await hang_up_caller(asterisk_sandbox, callid)
    await wait_until(lambda: not app.state.slot(MonitoringState).sessions, timeout=10)
    await app.settle()  # the recorder plugin has seen the stop event
    stopped = [e for e in app.plugin_state["recorder"] if e.type == "monitoring.stopped"]
    assert stopped[-1].reason == "call ended"
    await nothing_left(asterisk_sandbox)


async def test_session_ends_when_the_supervisor_hangs_up(app, client, asterisk_sandbox):
    token = make_user(app, "kari-suphangup", "supervisor")
    await answered_call(app, asterisk_sandbox, talk=20)
    agent = next(a for a in AGENT_TONE if app.gateways[0].control.agent_leg(a))
    response = await client.post(
        "/api/monitor",
        json={
            "agent": agent,
            "mode": "listen",
            "supervisor": f"Local/sup-s{secrets.token_hex(3)}@supervisor/n",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    session = await response.json()
    await asyncio.to_thread(
        asterisk_sandbox.ari().request, "DELETE", f"/channels/medlytt-mon-{session['id']}-sup"
    )
    await wait_until(lambda: not app.state.slot(MonitoringState).sessions, timeout=10)
    await app.settle()  # the recorder plugin has seen the stop event
    stopped = [e for e in app.plugin_state["recorder"] if e.type == "monitoring.stopped"]
    assert stopped[-1].reason == "supervisor hung up"
    await nothing_left(asterisk_sandbox)


async def test_authorization_matrix_and_clear_errors_leave_nothing_behind(
    app, client, asterisk_sandbox
):
    """Agent, supervisor of another team, supervisor of the team, admin; 401/403/409/422/502."""
    other_team = make_user(app, "kari-team-a", "supervisor", teams=["team-a"])
    same_team = make_user(app, "per-team-b", "supervisor", teams=["team-b"])
    agent_token = make_user(app, "ola-agent", "agent", agent_id="Local/agent3@agents/n")
    admin_phone = f"Local/sup-adm{secrets.token_hex(3)}@supervisor/n"
    admin = app.storage.run_sync(
        lambda db: (
            auth.add_user(db, "root-admin", "admin", phone=admin_phone),
            auth.create_token(db, "root-admin")[1],
        )[1]
    )
    body = {
        "agent": "Local/agent1@agents/n",
        "mode": "listen",
        "supervisor": "Local/sup-x@supervisor/n",
    }

    def bearer(token):
        return {"Authorization": f"Bearer {token}"}

    assert (await client.post("/api/monitor", json=body)).status == 401
    assert (await client.post("/api/monitor", json=body, headers=bearer("mlt_wrong"))).status == 401
    assert (await client.post("/api/monitor", json=body, headers=bearer(agent_token))).status == 403
    response = await client.post("/api/monitor", json=body, headers=bearer(admin))
    assert response.status == 409, await response.text()  # agent1 is not on a call
    assert "not on a call" in (await response.json())["error"]
    bad = await client.post("/api/monitor", json={**body, "mode": "shout"}, headers=bearer(admin))
    assert bad.status == 422 and "mode" in (await bad.json())["error"]
    both = await client.post("/api/monitor", json={**body, "call": "x"}, headers=bearer(admin))
    assert both.status == 422

    callid, agent = await answered_call(app, asterisk_sandbox, talk=15)
    make_user(app, "the-agent", "agent", teams=["team-b"], agent_id=agent)
    on_call = {**body, "agent": agent}
    denied = await client.post("/api/monitor", json=on_call, headers=bearer(other_team))
    assert denied.status == 403, await denied.text()
    assert "not in their teams" in (await denied.json())["error"]
    await nothing_left(asterisk_sandbox)
    allowed = await client.post(
        "/api/monitor",
        json={**on_call, "supervisor": f"Local/sup-t{secrets.token_hex(3)}@supervisor/n"},
        headers=bearer(same_team),
    )
    assert allowed.status == 201, await allowed.text()
    session = await allowed.json()
    # Another supervisor may not stop or change it; an admin may.
    assert (
        await client.delete(f"/api/monitor/{session['id']}", headers=bearer(other_team))
    ).status == 403
    assert (
        await client.delete(f"/api/monitor/{session['id']}", headers=bearer(admin))
    ).status == 204
    await nothing_left(asterisk_sandbox)
    # By call id, reaching the admin on the phone stored in the profile.
    by_call = await client.post(
        "/api/monitor", json={"call": f"phone-{callid}", "mode": "barge"}, headers=bearer(admin)
    )
    assert by_call.status == 201, await by_call.text()
    described = await by_call.json()
    assert (described["agent"], described["endpoint"], described["call"]) == (
        agent,
        admin_phone,
        f"phone-{callid}",
    )
    assert (
        await client.delete(f"/api/monitor/{described['id']}", headers=bearer(admin))
    ).status == 204
    unreachable = await client.post(
        "/api/monitor", json={**on_call, "supervisor": "PJSIP/9999"}, headers=bearer(admin)
    )
    assert unreachable.status == 502, await unreachable.text()
    assert "PJSIP/9999" in (await unreachable.json())["error"]
    await nothing_left(asterisk_sandbox)


class Late:
    """A method of the real port, sent ``seconds`` late (as over a slow link); counts the
    calls begun and ended."""

    def __init__(self, method, seconds: float) -> None:
        self.method, self.seconds = method, seconds
        self.begun = self.ended = 0

    async def __call__(self, *args, **kwargs):
        self.begun += 1
        try:
            await asyncio.sleep(self.seconds)
            return await self.method(*args, **kwargs)
        finally:
            self.ended += 1


@pytest.mark.parametrize("late_step", ["originate", "snoop"])
async def test_a_failed_snoop_hangs_up_the_supervisor_dialled_meanwhile(
    app, asterisk_sandbox, monkeypatch, late_step
):
    """Bridge, snoop and the supervisor's call are asked for at once (snoop.py).  The snoop
    fails (no such channel) and the error told is the snoop's, whichever ends first: the
    supervisor's call, sent after the snoop failed, is still hung up with the rest; a
    dial that failed before the snoop did (PJSIP/9999) does not hide the snoop's error."""
    port = app.gateways[0].control
    late = Late(getattr(port, late_step), 0.3)
    monkeypatch.setattr(port, late_step, late)
    for endpoint in (f"Local/sup-f{secrets.token_hex(3)}@supervisor/n", "PJSIP/9999"):
        snoop = SnoopSession(port, secrets.token_hex(6), "no-such-channel")
        with pytest.raises(ChannelNotFound, match="snoop on no-such-channel"):
            await snoop.start(endpoint, MonitorMode.LISTEN, timeout=5)
        assert late.begun == late.ended  # nothing is still on its way to the PBX
        assert "no-such-channel" not in port.watched
        await nothing_left(asterisk_sandbox)


async def test_recording_evaluation_and_the_agents_own_audit_trail(
    app, client, asterisk_sandbox, tmp_path
):
    """One monitored, recorded call: the recording, a live evaluation (issue 12) that
    the agent reads and acknowledges with their own token, and the agent's audit trail;
    another agent and another team's supervisor get 403."""
    sup_token = make_user(app, "kari-rec", "supervisor", teams=["team-a"])
    other_sup_token = make_user(app, "olav-b", "supervisor", teams=["team-b"])
    callid, agent = await answered_call(app, asterisk_sandbox, talk=12)
    other = next(a for a in AGENT_TONE if a != agent)
    agent_token = make_user(app, "the-agent", "agent", teams=["team-a"], agent_id=agent)
    other_token = make_user(app, "other-agent", "agent", teams=["team-b"], agent_id=other)
    headers = {"Authorization": f"Bearer {sup_token}"}
    posted = time.monotonic()
    response = await client.post(
        "/api/monitor",
        json={
            "agent": agent,
            "mode": "listen",
            "record": True,
            "supervisor": f"Local/sup-r{secrets.token_hex(3)}@supervisor/n",
        },
        headers=headers,
    )
    assert response.status == 201, await response.text()
    created = time.monotonic()
    session = await response.json()
    await asyncio.sleep(1)
    changed = await client.patch(
        f"/api/monitor/{session['id']}", json={"mode": "whisper"}, headers=headers
    )
    assert changed.status == 200
    # Scored live while listening, on the method's phone-technique form.
    form = await (await client.get("/api/forms/phone-technique", headers=headers)).json()
    items = [i for s in form["versions"][-1]["sections"] for i in s["items"]]
    scores = {i["id"]: i["scale"]["max"] for i in items}
    evaluation_body = {
        "form": "phone-technique",
        "subject": {"monitoring": session["id"]},
        "scores": scores,
        "comment": "Clear and calm",
    }
    refused = await client.post(
        "/api/evaluations",
        json=evaluation_body,
        headers={"Authorization": f"Bearer {other_sup_token}"},
    )
    assert refused.status == 403
    made = await client.post("/api/evaluations", json=evaluation_body, headers=headers)
    assert made.status == 201, await made.text()
    evaluation = await made.json()
    assert (evaluation["agent_id"], evaluation["live"], evaluation["score"]) == (agent, True, 100.0)
    assert evaluation["call_id"] == f"phone-{callid}"
    await asyncio.sleep(2)
    stopping = time.monotonic()
    await client.delete(f"/api/monitor/{session['id']}", headers=headers)
    stopped = time.monotonic()
    await nothing_left(asterisk_sandbox)
    ready = await wait_until(
        lambda: next(
            (e for e in app.plugin_state["recorder"] if e.type == "recording.ready"), None
        ),
        timeout=10,
    )
    assert ready.call_id == f"phone-{callid}" and ready.session_id == session["id"]
    # The recording began inside the POST (before its 201) and ended inside the DELETE:
    # it cannot be longer than both requests' span (but for a frame or two), nor, started
    # at most 0.7 s late, shorter than the time from the 201 to sending the DELETE.
    spans = (stopping - created - 0.7, stopped - posted + 0.2)
    assert spans[0] < ready.duration_seconds < spans[1], (ready.duration_seconds, spans)
    audio = await client.get(ready.uri, headers=headers)
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    path = tmp_path / "recording.wav"
    path.write_bytes(await audio.read())
    heard_in_recording = tones(path, [CALLER, AGENT_TONE[agent]])
    assert heard_in_recording[CALLER] > HEARD and heard_in_recording[AGENT_TONE[agent]] > HEARD
    # The agent hears their own recording; another agent may not.
    assert (
        await client.get(ready.uri, headers={"Authorization": f"Bearer {agent_token}"})
    ).status == 200
    assert (
        await client.get(ready.uri, headers={"Authorization": f"Bearer {other_token}"})
    ).status == 403

    await app.settle()
    mine = await (
        await client.get(
            "/api/audit/monitoring", headers={"Authorization": f"Bearer {agent_token}"}
        )
    ).json()
    rows = [r for r in mine["audit"] if r["session_id"] == session["id"]]
    assert [r["action"] for r in reversed(rows)] == ["started", "mode_changed", "stopped"]
    assert {r["supervisor"] for r in rows} == {"kari-rec"}
    assert {r["call_id"] for r in rows} == {f"phone-{callid}"}
    assert rows[0]["duration_seconds"] > 2.5 and rows[1]["previous_mode"] == "listen"
    theirs = await (
        await client.get(
            "/api/audit/monitoring", headers={"Authorization": f"Bearer {other_token}"}
        )
    ).json()
    assert all(r["agent_id"] == other for r in theirs["audit"])
    assert session["id"] not in {r["session_id"] for r in theirs["audit"]}

    # The evaluation: the agent sees it with its comment and acknowledges it; the other
    # agent and the other team's supervisor may neither read nor answer it.
    as_agent = {"Authorization": f"Bearer {agent_token}"}
    listed = await (await client.get("/api/evaluations", headers=as_agent)).json()
    assert [(e["id"], e["comment"]) for e in listed["evaluations"]] == [
        (evaluation["id"], "Clear and calm")
    ]
    for token in (other_token, other_sup_token):
        seen = await client.get(
            f"/api/evaluations/{evaluation['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert seen.status == 403
    answered_by_other = await client.post(
        f"/api/evaluations/{evaluation['id']}/acknowledge",
        json={},
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert answered_by_other.status == 403
    acknowledged = await client.post(
        f"/api/evaluations/{evaluation['id']}/acknowledge", json={}, headers=as_agent
    )
    assert acknowledged.status == 200
    assert (await acknowledged.json())["status"] == "acknowledged"


@pytest.mark.medlytt_sections({"monitoring": {"announce": "beep"}})
async def test_the_agent_hears_a_beep_when_monitoring_starts(app, client, asterisk_sandbox):
    token = make_user(app, "kari-beep", "supervisor")
    callid, agent = await answered_call(app, asterisk_sandbox, talk=120)
    response = await client.post(
        "/api/monitor",
        json={
            "agent": agent,
            "mode": "listen",
            "supervisor": f"Local/sup-b{secrets.token_hex(3)}@supervisor/n",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201
    await asyncio.sleep(1.5)
    await client.delete(
        f"/api/monitor/{(await response.json())['id']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    await nothing_left(asterisk_sandbox)
    await hang_up_caller(asterisk_sandbox, callid)
    await wait_until(lambda: not app.state.calls, timeout=20)
    # The 0.4 s beep, wherever in the recording it fell, at full strength.
    agent_heard = peak(rx_file(asterisk_sandbox, callid, "agent"), BEEP_HZ)
    caller_heard = tones(rx_file(asterisk_sandbox, callid, "caller"), [BEEP_HZ])[BEEP_HZ]
    assert agent_heard > HEARD, agent_heard
    assert caller_heard < 5, caller_heard


async def test_ten_supervisors_monitor_ten_calls_at_once(app, client, asterisk_sandbox):
    gateway = app.gateways[0]
    agents = [f"Local/agent{n}@agents/n" for n in range(10)]
    tokens = [make_user(app, f"sup{n}", "supervisor") for n in range(10)]
    for queue in ["support", "support", "sales", "sales"] + ["bulk"] * 6:
        await asyncio.to_thread(place_call, asterisk_sandbox, queue, ring=0.3, talk=30)
    await wait_until(lambda: all(gateway.control.agent_leg(a) for a in agents), timeout=20)

    async def monitor(agent: str, token: str) -> dict:
        response = await client.post(
            "/api/monitor",
            json={
                "agent": agent,
                "mode": "listen",
                "supervisor": f"Local/sup-ten{secrets.token_hex(3)}@supervisor/n",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 201, await response.text()
        return await response.json()

    sessions = await asyncio.gather(*(monitor(a, t) for a, t in zip(agents, tokens, strict=True)))
    assert len({s["id"] for s in sessions}) == 10
    assert {s["agent"] for s in sessions} == set(agents)
    assert app.metric("medlytt_monitor_sessions_active", {"mode": "listen"}) == 10
    bridges = await asyncio.to_thread(asterisk_sandbox.ari().request, "GET", "/bridges")
    ours = [b for b in bridges if b["id"].startswith("medlytt-mon")]
    assert len(ours) == 10 and all(len(b["channels"]) == 2 for b in ours)
    statuses = await asyncio.gather(
        *(
            client.delete(f"/api/monitor/{s['id']}", headers={"Authorization": f"Bearer {t}"})
            for s, t in zip(sessions, tokens, strict=True)
        )
    )
    assert [r.status for r in statuses] == [204] * 10
    await nothing_left(asterisk_sandbox)
    assert app.metric("medlytt_monitor_sessions_active", {"mode": "listen"}) == 0
    for channel in await asyncio.to_thread(asterisk_sandbox.ari().request, "GET", "/channels"):
        if channel["id"].startswith("phone-"):
            await asyncio.to_thread(
                asterisk_sandbox.ari().request, "DELETE", f"/channels/{channel['id']}"
            )


async def test_terminal_console_switches_modes_and_quits(app, client, asterisk_sandbox):
    """`medlytt monitor AGENT --via ...` as a supervisor at a terminal would use it."""
    from support import MEDLYTT, medlytt_env

    token = make_user(app, "kari-cli", "supervisor")
    callid, agent = await answered_call(app, asterisk_sandbox, talk=20)
    url = str(client.server.make_url("")).rstrip("/")
    proc = await asyncio.create_subprocess_exec(
        MEDLYTT,
        "monitor",
        agent,
        "--mode",
        "listen",
        "--via",
        f"Local/sup-cli{secrets.token_hex(3)}@supervisor/n",
        "--url",
        url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=medlytt_env(MEDLYTT_TOKEN=token),
    )
    await wait_until(lambda: app.state.slot(MonitoringState).sessions, timeout=15)
    for command in ("w", "b"):
        proc.stdin.write(f"{command}\n".encode())
        await proc.stdin.drain()
        expected = {"w": "whisper", "b": "barge"}[command]
        await wait_until(
            lambda expected=expected: (
                [s.mode.value for s in app.state.slot(MonitoringState).sessions.values()]
                == [expected]
            ),
            timeout=10,
        )
    proc.stdin.write(b"q\n")
    await proc.stdin.drain()
    output, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, output.decode()
    assert token not in output.decode()
    assert not app.state.slot(MonitoringState).sessions
    await nothing_left(asterisk_sandbox)
    assert callid
