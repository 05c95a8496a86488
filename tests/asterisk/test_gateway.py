"""The Asterisk gateway against a real Asterisk 22: events equal what Asterisk itself logged.

Every expected number comes from Asterisk's own queue_log for the same call, never from
the test: a wait is compared to app_queue's holdtime, a talk time to its talktime.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter

import pytest
from medlytt import events as ev
from medlytt.events import AgentState
from medlytt.gateways.asterisk.ami import AmiClient, AmiError
from medlytt.gateways.asterisk.ari import AriClient, AriError
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, QueueLogLine, place_call
from medlytt.testing import TestMedlytt, running_medlytt, wait_until

AGENT = "Local/{}@agents/n"


def call_id(callid: str) -> str:
    """The Medlytt call id (the Linkedid) of a sandbox call whose queue_log callid is given."""
    return f"phone-{callid}"


def recorded(app: TestMedlytt, cid: str | None = None) -> list[ev.Event]:
    events = app.plugin_state.get("recorder", [])
    return [e for e in events if cid is None or getattr(e, "call_id", None) == cid]


def queue_log(sandbox: AsteriskSandbox, callid: str) -> dict[str, QueueLogLine]:
    return {line.event: line for line in sandbox.queue_log() if line.callid == callid}


async def outcome(
    app: TestMedlytt, cid: str, kinds: tuple[type[ev.Event], ...], timeout: float = 30
) -> ev.Event:
    def find() -> ev.Event | None:
        return next((e for e in recorded(app, cid) if isinstance(e, kinds)), None)

    try:
        return await wait_until(find, timeout=timeout, interval=0.05)
    except TimeoutError:
        raise AssertionError(f"no {kinds} for {cid}; recorded: {recorded(app, cid)}") from None


def agent_states(app: TestMedlytt, agent_id: str, since: ev.Event) -> list[AgentState]:
    events = recorded(app)
    start = events.index(since)
    return [
        e.state
        for e in events[start:]
        if isinstance(e, ev.AgentStateChanged) and e.agent_id == agent_id
    ]


async def test_gateway_announces_queues_and_members(app):
    state = app.state
    assert state.queues["support"].strategy == "rrmemory"
    assert state.queues["sales"].strategy == "ringall"
    assert state.queues["support"].service_level_seconds == 20
    assert {a for a, agent in state.agents.items() if "sales" in agent.queues} == {
        AGENT.format("agent3"),
        AGENT.format("agent4"),
    }
    assert state.agents[AGENT.format("agent1")].name == "agent1"
    assert app.metric("medlytt_gateway_up", {"gateway": "asterisk"}) == 1


async def test_answered_call_matches_queue_log(app, asterisk_sandbox):
    callid = await asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=2, talk=2)
    cid = call_id(callid)
    ended = await outcome(app, cid, (ev.CallEnded,))
    types = [e.type for e in recorded(app, cid) if not e.type.startswith("talk.")]
    assert types == ["call.queued", "agent.offered", "call.answered", "call.ended"]
    answered = next(e for e in recorded(app, cid) if isinstance(e, ev.CallAnswered))
    log = queue_log(asterisk_sandbox, callid)
    assert answered.wait_seconds == log["CONNECT"].field_int(0)
    assert answered.agent_id == AGENT.format(log["CONNECT"].agent)
    complete = log["COMPLETEAGENT"]
    assert ended.talk_seconds == complete.field_int(1)
    assert ended.wait_seconds == complete.field_int(0)
    assert ended.hung_up_by == "agent"
    queued = recorded(app, cid)[0]
    states = agent_states(app, answered.agent_id, queued)
    assert states == [AgentState.RINGING, AgentState.ON_CALL, AgentState.AVAILABLE]
    assert cid not in app.state.calls


async def test_caller_hangs_up_during_the_call(app, asterisk_sandbox):
    callid = await asyncio.to_thread(
        place_call, asterisk_sandbox, "support", ring=1, talk=30, patience=4
    )
    ended = await outcome(app, call_id(callid), (ev.CallEnded,))
    complete = queue_log(asterisk_sandbox, callid)["COMPLETECALLER"]
    assert ended.hung_up_by == "caller"
    assert ended.talk_seconds == complete.field_int(1)


@pytest.mark.parametrize(("talk", "patience", "who"), [(2, 40, "agent"), (30, 4, "caller")])
async def test_a_dropped_agent_complete_is_recovered_from_the_hangups(
    app, asterisk_sandbox, talk, patience, who
):
    """Asterisk sometimes drops AMI AgentComplete (a snapshot race); force that for every
    call and check the call is still ended with app_queue's own numbers: the wait exactly,
    the talk time to the second it can be known (app_queue reads its clock, in whole
    seconds, on a thread of its own: under load that read and the AMI stamps Medlytt
    counts from can fall on either side of a second boundary; seen once in CI, 2 s for 3)."""
    app.gateways[0].translator._handlers["AgentComplete"] = lambda message: []
    callid = await asyncio.to_thread(
        place_call, asterisk_sandbox, "support", ring=1, talk=talk, patience=patience
    )
    ended = await outcome(app, call_id(callid), (ev.CallEnded,), timeout=40)
    log = queue_log(asterisk_sandbox, callid)
    complete = log["COMPLETEAGENT" if who == "agent" else "COMPLETECALLER"]
    assert ended.hung_up_by == who
    assert abs(ended.talk_seconds - complete.field_int(1)) <= 1, (ended, complete)
    assert ended.wait_seconds == complete.field_int(0)


async def test_abandoned_while_waiting(app, asterisk_sandbox):
    callid = await asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=8, patience=2)
    abandoned = await outcome(app, call_id(callid), (ev.CallAbandoned,))
    log = queue_log(asterisk_sandbox, callid)["ABANDON"]
    assert abandoned.wait_seconds == log.field_int(2)  # position|origposition|waittime
    assert abandoned.queue == "support"
    await asyncio.sleep(0.2)
    ringing = [a for a in app.state.agents.values() if a.state is AgentState.RINGING]
    assert ringing == []
    assert call_id(callid) not in app.state.calls


TIMEOUT_WAIT_SLACK = 1
"""Seconds a timed-out call's wait may differ from queue_log's: Asterisk reports no wait
for a timeout, so Medlytt counts it from the join and leave stamps in whole seconds, while
app_queue reads its clock a moment apart from each stamp (answered and abandoned calls
carry Asterisk's own HoldTime and are compared exactly)."""


async def test_timeout_after_queue_max_wait(app, asterisk_sandbox):
    callid = await asyncio.to_thread(
        place_call, asterisk_sandbox, "support", answer=False, max_wait=2
    )
    timed_out = await outcome(app, call_id(callid), (ev.CallTimedOut,))
    log = queue_log(asterisk_sandbox, callid)["EXITWITHTIMEOUT"]
    assert abs(timed_out.wait_seconds - log.field_int(2)) <= TIMEOUT_WAIT_SLACK, (timed_out, log)
    assert app.state.queues["support"].waiting == {}


async def test_ringall_rings_both_and_one_answers(app, asterisk_sandbox):
    callid = await asyncio.to_thread(place_call, asterisk_sandbox, "sales", ring=1, talk=1)
    cid = call_id(callid)
    answered = await outcome(app, cid, (ev.CallAnswered,))
    offered = {e.agent_id for e in recorded(app, cid) if isinstance(e, ev.AgentOffered)}
    assert offered == {AGENT.format("agent3"), AGENT.format("agent4")}
    other = (offered - {answered.agent_id}).pop()
    queued = recorded(app, cid)[0]
    assert agent_states(app, other, queued)[-1] is AgentState.AVAILABLE
    assert AGENT.format(queue_log(asterisk_sandbox, callid)["CONNECT"].agent) == answered.agent_id
    await outcome(app, cid, (ev.CallEnded,))


async def test_a_mix_of_calls_equals_queue_log(app, asterisk_sandbox):
    """24 calls over two queues: per call outcome and wait, per queue counts, all equal."""
    plan = []
    for i in range(24):
        queue = ("support", "sales")[i % 2]
        kind = ("answered", "answered", "abandoned", "timeout")[i % 4]
        if kind == "answered":
            plan.append((queue, {"ring": 0.5 + (i % 3) * 0.5, "talk": 1 + i % 2, "patience": 40}))
        elif kind == "abandoned":
            plan.append((queue, {"ring": 6, "patience": 1 + i % 3}))
        else:
            plan.append((queue, {"answer": False, "max_wait": 1 + i % 2}))
    callids = []
    for queue, options in plan:
        callids.append(await asyncio.to_thread(place_call, asterisk_sandbox, queue, **options))
        await asyncio.sleep(0.3)
    finals = (ev.CallAnswered, ev.CallAbandoned, ev.CallTimedOut)
    got = {}
    for callid in callids:
        got[callid] = await outcome(app, call_id(callid), finals, timeout=120)

    expected_counts: Counter[tuple[str, str]] = Counter()
    for callid in callids:
        log = queue_log(asterisk_sandbox, callid)
        event = got[callid]
        if "CONNECT" in log:
            expected_counts[(log["CONNECT"].queue, "answered")] += 1
            assert isinstance(event, ev.CallAnswered), (callid, log)
            assert event.wait_seconds == log["CONNECT"].field_int(0)
        elif "ABANDON" in log:
            expected_counts[(log["ABANDON"].queue, "abandoned")] += 1
            assert isinstance(event, ev.CallAbandoned), (callid, log)
            assert event.wait_seconds == log["ABANDON"].field_int(2)
        else:
            line = log["EXITWITHTIMEOUT"]
            expected_counts[(line.queue, "timeout")] += 1
            assert isinstance(event, ev.CallTimedOut), (callid, log)
            assert abs(event.wait_seconds - line.field_int(2)) <= TIMEOUT_WAIT_SLACK, (event, line)
    assert sum(expected_counts.values()) == 24
    assert {outcome for _, outcome in expected_counts} == {"answered", "abandoned", "timeout"}
    kind = {ev.CallAnswered: "answered", ev.CallAbandoned: "abandoned", ev.CallTimedOut: "timeout"}
    got_counts = Counter((e.queue, kind[type(e)]) for e in got.values())
    assert got_counts == expected_counts


async def test_asterisk_errors_become_clear_exceptions(asterisk_sandbox):
    section = asterisk_sandbox.asterisk_section
    wrong = AriClient(section["ari_url"], section["ari_user"], "wrong-password", timeout=2)
    try:
        with pytest.raises(AriError, match=r"ARI GET /asterisk/info: 401"):
            await wrong.get("/asterisk/info")
    finally:
        await wrong.close()
    ari = AriClient(section["ari_url"], section["ari_user"], section["ari_password"], timeout=2)
    try:
        with pytest.raises(AriError, match=r"404 Channel not found") as info:
            await ari.get("/channels/no-such-channel")
        assert info.value.status == 404
    finally:
        await ari.close()
    assert "wrong-password" not in repr(wrong.issued)
    ami = AmiClient(
        section["ami_host"], section["ami_port"], section["ami_user"], "wrong", timeout=2
    )
    with pytest.raises(AmiError, match=r"login as 'medlytt' refused"):
        await ami.connect()
    nothing = AmiClient("127.0.0.1", 1, "u", "s", timeout=2)
    with pytest.raises(AmiError, match=r"cannot connect to AMI 127\.0\.0\.1:1"):
        await nothing.connect()


def ari_spec(sandbox: AsteriskSandbox) -> dict[tuple[str, str], set[str]]:
    """(method, path template) -> query parameter names, from the live /ari/api-docs."""
    ari = sandbox.ari()
    spec: dict[tuple[str, str], set[str]] = {}
    for api in ari.request("GET", "/api-docs/resources.json")["apis"]:
        name = api["path"].rsplit("/", 1)[-1].replace("{format}", "json")
        for entry in ari.request("GET", f"/api-docs/{name}")["apis"]:
            for operation in entry["operations"]:
                params = operation.get("parameters", [])
                query = {p["name"] for p in params if p["paramType"] == "query"}
                spec[(operation["httpMethod"], entry["path"])] = query
    return spec


async def test_every_ari_request_is_in_the_live_spec(app, asterisk_sandbox):
    """Contract: each ARI request Medlytt made exists in Asterisk's own API docs."""
    issued = set(app.gateways[0].ari.issued)
    assert ("GET", "/events") in issued and ("GET", "/channels") in issued
    spec = await asyncio.to_thread(ari_spec, asterisk_sandbox)
    assert len(spec) > 50  # the whole API was read
    for method, path in sorted(issued):
        assert (method, path) in spec, f"ARI {method} {path} is not in /ari/api-docs"
    assert {"app", "subscribeAll"} <= spec[("GET", "/events")]


async def test_the_application_hears_every_channel_and_bridge_and_no_device_state(
    app, asterisk_sandbox
):
    """Not ``subscribeAll``: its device-state subscription can deadlock Asterisk 22 when
    the application reconnects (tests/asterisk/asterisk_2170.py)."""
    name = app.gateways[0].settings.app
    subscribed = await asyncio.to_thread(
        asterisk_sandbox.ari().request, "GET", f"/applications/{name}"
    )
    assert subscribed["channel_ids"] == ["__AST_CHANNEL_ALL_TOPIC"], subscribed
    assert subscribed["bridge_ids"] == ["__AST_BRIDGE_ALL_TOPIC"], subscribed
    assert subscribed["device_names"] == [] and subscribed["endpoint_ids"] == [], subscribed


async def test_a_caller_left_waiting_in_stasis_while_medlytt_was_away_is_handed_on(
    asterisk_sandbox, tmp_path
):
    """A caller reaches the survey step (``Stasis(medlytt,survey,...)``) just as Medlytt
    goes away (here: a stand-in holds the application's WebSocket and closes it without
    a word).  Asterisk keeps that caller waiting in silence; the next Medlytt to connect
    must hand it on (to the survey feature, which sends an unsurveyed call back to the
    dialplan, where it hangs up).  Seen in CI when a test stopped Medlytt at that moment:
    every later test waited for the stranded call."""
    section = asterisk_sandbox.asterisk_section
    ari = AriClient(section["ari_url"], section["ari_user"], section["ari_password"])

    async def in_stasis(channel_id: str) -> bool:
        channels = await ari.get("/channels")
        return any(
            c["id"] == channel_id and c["dialplan"]["app_name"] == "Stasis" for c in channels
        )

    async def gone(channel_id: str) -> bool:
        return all(c["id"] != channel_id for c in await ari.get("/channels"))

    async def poll(check, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    callid = None
    try:
        stand_in = await ari.open_events([section["app"]])
        try:
            callid = await asyncio.to_thread(
                place_call, asterisk_sandbox, "support", ring=0.3, talk=1
            )
            assert await poll(lambda: in_stasis(callid), 20), "the caller never reached Stasis"
        finally:
            await stand_in.close()
        await asyncio.sleep(1)
        assert await in_stasis(callid)  # Asterisk keeps it waiting, unheard
        async with running_medlytt({"asterisk": section}, db_path=tmp_path / "m.db") as app:
            await wait_until(lambda: app.gateways[0].connected, timeout=15)
            assert await poll(lambda: gone(callid), 10), "the waiting caller was not handed on"
    finally:
        if callid is not None:
            for channel in (callid, f"phone-{callid}"):
                with contextlib.suppress(AriError):
                    await ari.request("DELETE", f"/channels/{channel}")
        await ari.close()


async def test_reconnects_after_asterisk_restart_and_closes_vanished_calls(app, asterisk_sandbox):
    """Asterisk killed mid-call and started again (runs last: it restarts the sandbox).

    Killed, not stopped: a clean stop hangs calls up and AMI reports them complete; a crash
    leaves Medlytt with calls nobody will ever end, which the resync must close.
    """
    gateway = app.gateways[0]
    callid = await asyncio.to_thread(place_call, asterisk_sandbox, "support", ring=0.5, talk=120)
    cid = call_id(callid)
    await outcome(app, cid, (ev.CallAnswered,))
    assert cid in app.state.calls
    os.kill(asterisk_sandbox.status().pid, signal.SIGKILL)
    await wait_until(lambda: not gateway.connected, timeout=10)
    await asyncio.to_thread(asterisk_sandbox.stop)
    assert app.metric("medlytt_gateway_up", {"gateway": "asterisk"}) == 0
    await asyncio.to_thread(asterisk_sandbox.start)
    started = asyncio.get_running_loop().time()
    await wait_until(lambda: gateway.connected, timeout=30)
    reconnect_seconds = asyncio.get_running_loop().time() - started
    print(f"reconnected {reconnect_seconds:.1f} s after Asterisk was ready again")
    assert app.metric("medlytt_gateway_up", {"gateway": "asterisk"}) == 1
    lost = await outcome(app, cid, (ev.CallLost,), timeout=5)
    assert "reconnect" in lost.reason
    assert cid not in app.state.calls
    assert all(a.call_id is None for a in app.state.agents.values())
    # New calls are tracked.
    new = await asyncio.to_thread(place_call, asterisk_sandbox, "sales", ring=0.5, talk=1)
    await outcome(app, call_id(new), (ev.CallEnded,))
