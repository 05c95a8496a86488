"""The desk join and the softphone webhook, through the HTTP API of a running Medlytt.

Headset and softphone events carry no PBX call id; the join ties them to the PBX's call
by agent, time and caller, so "the agent muted for 40 s during call X" is a fact at
``GET /api/desk/calls/{call_id}``, shown to whom the call's rows belong.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from medlytt import CallAnswered, CallEnded, CallQueued, HeadsetHook, HeadsetMute, utcnow
from medlytt.gateways.softphone.events import SoftphoneCall
from medlytt.testing import add_user_with_token

A1, B1 = "PJSIP/1001", "PJSIP/1002"
TOKEN = "desk-1001-webhook-secret-0123456789"


def call_events(call_id: str, agent: str, base: Any, caller: str = '"Kari" <5550100>') -> list:
    at = lambda s: base + timedelta(seconds=s)  # noqa: E731
    return [
        CallQueued(at=at(0), source="t", call_id=call_id, queue="support", caller_id=caller),
        CallAnswered(
            at=at(5), source="t", call_id=call_id, queue="support", agent_id=agent, wait_seconds=5
        ),
        CallEnded(
            at=at(125),
            source="t",
            call_id=call_id,
            queue="support",
            agent_id=agent,
            hung_up_by="caller",
            talk_seconds=120,
        ),
    ]


def desk_events(agent: str, base: Any, peer: str) -> list:
    at = lambda s: base + timedelta(seconds=s)  # noqa: E731
    phone = dict(source="desk", agent_id=agent, device="baresip", phone_call_id="p1")
    return [
        SoftphoneCall(at=at(4), state="incoming", direction="incoming", peer=peer, **phone),
        SoftphoneCall(at=at(5.2), state="established", **phone),
        HeadsetHook(at=at(5), source="desk", agent_id=agent, device="Jabra", off_hook=True),
        HeadsetMute(at=at(30), source="desk", agent_id=agent, device="Jabra", muted=True),
        HeadsetMute(at=at(70), source="desk", agent_id=agent, device="Jabra", muted=False),
        # A softphone mute overlapping the headset's counts once: 60-80 adds 10 s.
        SoftphoneCall(at=at(60), state="muted", **phone),
        SoftphoneCall(at=at(80), state="unmuted", **phone),
        SoftphoneCall(at=at(125.1), state="closed", reason="Connection reset by peer", **phone),
        # Muted after the call: not this call's.
        HeadsetMute(at=at(200), source="desk", agent_id=agent, device="Jabra", muted=True),
    ]


@pytest.fixture
async def world(medlytt, medlytt_client):
    sections = {"softphone": {"webhook": {A1: {"token": TOKEN}}}}
    async with medlytt(sections) as app:
        tokens = {
            "agent": add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id=A1),
            "other agent": add_user_with_token(app, "b1", "agent", teams=["team-b"], agent_id=B1),
            "supervisor": add_user_with_token(app, "sup-a", "supervisor", teams=["team-a"]),
            "other supervisor": add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"]),
        }
        base = utcnow() + timedelta(seconds=1)
        for event in call_events("c1", A1, base) + desk_events(A1, base, "sip:5550100@pbx"):
            app.publish(event)
        await app.settle()
        client = await medlytt_client(app)
        yield app, client, tokens


async def get(client, path: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get(path, headers=headers)
    return response.status, await response.json()


async def test_the_agent_muted_for_fifty_seconds_during_the_call(world):
    _app, client, _ = world
    status, desk = await get(client, "/api/desk/calls/c1")
    assert status == 200, desk
    assert desk["agent_id"] == A1 and desk["caller_id"] == '"Kari" <5550100>'
    assert desk["muted_seconds"] == 50.0  # headset 30-70, softphone 60-80: merged 30-80
    assert [(p["seconds"], p["source"]) for p in desk["mute_periods"]] == [
        (40.0, "headset"),
        (20.0, "softphone"),
    ]
    assert [h["off_hook"] for h in desk["hook"]] == [True]
    (phone,) = desk["softphone_calls"]
    assert phone["phone_call_id"] == "p1" and phone["matched_by"] == ["agent", "time", "caller"]
    assert phone["close_reason"] == "Connection reset by peer"
    assert [s["state"] for s in phone["states"]] == [
        "incoming",
        "established",
        "muted",
        "unmuted",
        "closed",
    ]


async def test_a_phone_call_with_another_caller_is_not_joined(medlytt, medlytt_client):
    async with medlytt() as app:
        base = utcnow()
        for event in call_events("c2", A1, base) + desk_events(A1, base, "sip:5559999@pbx"):
            app.publish(event)
        await app.settle()
        status, desk = await get(await medlytt_client(app), "/api/desk/calls/c2")
    assert status == 200 and desk["softphone_calls"] == []
    assert desk["muted_seconds"] == 50.0  # the headset was the agent's, whatever the phone


async def test_each_role_sees_the_desk_record_of_its_own_calls_only(world):
    _app, client, tokens = world
    for who, expected in (
        ("agent", 200),
        ("supervisor", 200),
        ("other agent", 403),
        ("other supervisor", 403),
    ):
        status, body = await get(client, "/api/desk/calls/c1", tokens[who])
        assert status == expected, (who, body)
    status, body = await get(client, "/api/desk/calls/nope")
    assert status == 404 and "no answered call" in body["error"]


async def test_a_softphone_webhook_records_the_desks_call_events(world):
    app, client, _ = world
    response = await client.get(
        f"/api/softphone/hooks/{TOKEN}", params={"event": "OnIncomingCall", "peer": "5550123"}
    )
    assert response.status == 202, await response.text()
    first = await response.json()
    response = await client.post(f"/api/softphone/hooks/{TOKEN}", data={"event": "connected"})
    assert response.status == 202
    await app.settle()
    status, body = await get(client, "/api/events?type=softphone.call&limit=100")
    assert status == 200, body
    webhook = [e for e in body["events"] if e["event"]["device"] == "webhook"]
    assert [(e["event"]["state"], e["event"]["agent_id"]) for e in webhook] == [
        ("incoming", A1),
        ("established", A1),
    ]
    assert {e["event"]["phone_call_id"] for e in webhook} == {first["phone_call_id"]}


async def test_a_bad_webhook_call_is_refused_without_echoing_the_token(world, caplog):
    _app, client, _ = world
    caplog.set_level("DEBUG")
    wrong = "x" * 40
    response = await client.get(f"/api/softphone/hooks/{wrong}", params={"event": "connected"})
    assert response.status == 404 and wrong not in await response.text()
    response = await client.get(f"/api/softphone/hooks/{TOKEN}", params={"event": "dance"})
    body = await response.text()
    assert response.status == 422 and "event must be one of" in body and TOKEN not in body
    response = await client.post(
        f"/api/softphone/hooks/{TOKEN}", json={"event": "connected", "direction": "sideways"}
    )
    assert response.status == 422 and "direction" in await response.text()
    # Medlytt's own log (its server runs without an access log; the test server has one).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert TOKEN not in ours and wrong not in ours
