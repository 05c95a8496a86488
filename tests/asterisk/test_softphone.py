"""A human tester on a real SIP softphone: baresip registered to the sandbox as 2001.

The tester's phone answers by itself and "speaks" 1800 Hz over real SIP and RTP (fixture
``tester_phone``, tests/asterisk/softphone.py); the support queue's agent N speaks
900 + 100*N Hz. The recording of a mystery call must hold both, and baresip's own ctrl_tcp
events must show that it was called and that the call was closed.
"""

from __future__ import annotations

import asyncio

import pytest
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox
from medlytt.testing import TestMedlytt, wait_until
from softphone import TESTER_PHONE, TESTER_PHONE_TONE, Baresip, sandbox_phone
from test_mystery_calls import (
    AGENT_TONE,
    HEARD,
    MYSTERY,
    api,  # noqa: F401  (fixture)
    nothing_left,
    queue_log_of,
    recording_path,
    request,
    result,
)
from tones import tones

TESTER = f"PJSIP/{TESTER_PHONE}"
pytestmark = pytest.mark.medlytt_sections(MYSTERY)


async def place_human_call(api) -> dict:  # noqa: F811
    status, placed = await request(
        api, "POST", "/api/mystery-calls", {"mode": "human", "tester": TESTER, "queue": "support"}
    )
    assert status == 201, placed
    return placed


def endpoint_state(sandbox: AsteriskSandbox) -> str:
    """The tester's PJSIP endpoint state as Asterisk sees it now (one quick ARI request)."""
    return sandbox.ari().request("GET", f"/endpoints/PJSIP/{TESTER_PHONE}")["state"]


async def test_a_tester_on_baresip_talks_to_an_agent_over_real_rtp(
    app: TestMedlytt,
    api,  # noqa: F811
    asterisk_sandbox: AsteriskSandbox,
    tester_phone: Baresip,
):
    placed = await place_human_call(api)
    row = await result(api, placed["id"], timeout=20)  # the whole call, bounded
    assert row["outcome"] == "answered", (row["reason"], row)
    assert row["mode"] == "human" and row["agent_id"] in AGENT_TONE, row
    assert row["queue"] == "support"
    logged = queue_log_of(asterisk_sandbox, f"medlytt-mys-{row['id']}-call")
    assert logged["CONNECT"][0] == row["agent_id"].split("@")[0].removeprefix("Local/"), logged
    agent_tone = AGENT_TONE[row["agent_id"]]
    recorded = tones(recording_path(app, row["recording_id"]), [agent_tone, TESTER_PHONE_TONE])
    assert recorded[agent_tone] > HEARD, recorded  # the agent, heard by the tester's leg
    assert recorded[TESTER_PHONE_TONE] > HEARD, recorded  # baresip's sine, sent over RTP

    closed = await asyncio.to_thread(tester_phone.wait_event, "CALL_CLOSED", 5)
    established = await asyncio.to_thread(tester_phone.wait_event, "CALL_ESTABLISHED", 0)
    rtp = await asyncio.to_thread(tester_phone.wait_event, "CALL_RTPESTAB", 0)
    assert closed["id"] == established["id"] == rtp["id"]
    assert established["direction"] == "incoming"
    assert established["accountaor"].startswith(f"sip:{TESTER_PHONE}@127.0.0.1:")
    assert "Mystery call to" in established["peerdisplayname"], established
    assert tester_phone.call_events() == ["CALL_ESTABLISHED", "CALL_CLOSED"]
    assert "Connection reset by peer" in closed["param"]  # Asterisk sent the BYE
    assert "incoming rtp for 'audio' established" in tester_phone.log()
    await nothing_left(asterisk_sandbox)


async def test_an_unreachable_tester_fails_and_never_reaches_the_queue(
    app: TestMedlytt,
    api,  # noqa: F811
    asterisk_sandbox: AsteriskSandbox,
    tester_phone: Baresip,
):
    await asyncio.to_thread(tester_phone.stop)  # SIGTERM: baresip unregisters
    # Asterisk takes the un-REGISTER on its own time: wait for it, as the tester is gone.
    await wait_until(
        lambda: endpoint_state(asterisk_sandbox) == "offline",
        timeout=10,
        interval=0.2,
        what="the tester's endpoint offline",
    )
    placed = await place_human_call(api)
    row = await result(api, placed["id"], timeout=10)
    assert row["outcome"] == "failed", row
    assert f"cannot reach the tester at {TESTER}" in row["reason"], row
    assert row["agent_id"] is None and row["recording_id"] is None, row
    assert queue_log_of(asterisk_sandbox, f"medlytt-mys-{row['id']}-call") == {}
    await nothing_left(asterisk_sandbox)


async def test_a_tester_who_rejects_the_call_fails_it_before_the_queue(
    app: TestMedlytt,
    api,  # noqa: F811
    asterisk_sandbox: AsteriskSandbox,
    tester_phone: Baresip,
    baresip_bin: str,
    tmp_path,
):
    await asyncio.to_thread(tester_phone.stop)
    phone = sandbox_phone(
        asterisk_sandbox, baresip_bin, tmp_path / "baresip-manual", answermode="manual"
    )
    await asyncio.to_thread(phone.start)
    try:
        placed = await place_human_call(api)
        incoming = await asyncio.to_thread(phone.wait_event, "CALL_INCOMING", 5)
        assert "Mystery call to" in incoming["peerdisplayname"], incoming
        phone.command("hangup")  # an incoming call: baresip rejects it (486)
        row = await result(api, placed["id"], timeout=10)
        closed = await asyncio.to_thread(phone.wait_event, "CALL_CLOSED", 5)
    finally:
        await asyncio.to_thread(phone.stop)
    assert closed["id"] == incoming["id"]
    assert phone.call_events() == ["CALL_INCOMING", "CALL_CLOSED"]
    assert "rejecting incoming call" in phone.log()
    assert row["outcome"] == "failed", row
    assert row["reason"] == f"the tester at {TESTER} did not answer", row
    assert queue_log_of(asterisk_sandbox, f"medlytt-mys-{row['id']}-call") == {}
    await nothing_left(asterisk_sandbox)
