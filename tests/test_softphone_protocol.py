"""baresip's ctrl_tcp framing and call events, without a baresip (the real one answers in
tests/asterisk/test_desk_softphone.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from medlytt.gateways.softphone.baresip import parse_address, translate
from medlytt.gateways.softphone.netstring import NetstringDecoder, NetstringError, encode

#: CALL_CLOSED as baresip 1.0.0 sent it in the sandbox (tests/asterisk/test_softphone.py).
CLOSED = {
    "event": True,
    "class": "call",
    "type": "CALL_CLOSED",
    "accountaor": "sip:1001@127.0.0.1:5060",
    "direction": "incoming",
    "peeruri": "sip:5550142@127.0.0.1",
    "peerdisplayname": "Desk test",
    "id": "2f4b9c1a27e0b6f3",
    "param": "Connection reset by peer",
}


@settings(max_examples=200, derandomize=True, deadline=None)  # a loaded CI machine
@given(
    payloads=st.lists(st.binary(max_size=50), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=10),
)
def test_frames_come_out_whole_however_the_stream_is_cut(payloads, cuts):
    stream = b"".join(encode(p) for p in payloads)
    decoder, frames, start = NetstringDecoder(), [], 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        frames += decoder.feed(stream[start:cut])
        start = cut
    assert frames == payloads


@pytest.mark.parametrize(
    ("stream", "says"),
    [
        (b"x:abc,", "not a decimal number"),
        (b"3:abcX", "does not end with ','"),
        (b"99999999:", "over the"),
        (b"01:a,", "not a decimal number"),
        (b"1" * 20, "no ':'"),
    ],
)
def test_a_broken_stream_is_refused_naming_what_is_wrong(stream, says):
    with pytest.raises(NetstringError, match=says):
        NetstringDecoder().feed(stream)


def test_a_closed_call_becomes_an_update_with_its_reason():
    update = translate(json.loads(json.dumps(CLOSED)))
    assert update is not None
    assert (update.phone_call_id, update.state, update.direction) == (
        "2f4b9c1a27e0b6f3",
        "closed",
        "incoming",
    )
    assert update.peer == "sip:5550142@127.0.0.1" and update.reason == "Connection reset by peer"


@pytest.mark.parametrize(
    "message",
    [
        {**CLOSED, "type": "CALL_RTCP"},  # statistics: not a call state
        {**CLOSED, "class": "register"},
        {**CLOSED, "id": ""},
        {**CLOSED, "event": "yes"},
        {"response": True, "ok": True, "data": "", "token": "t"},
    ],
)
def test_what_is_not_a_call_state_is_left_out(message):
    assert translate(message) is None


@pytest.mark.parametrize("address", ["127.0.0.1", ":4444", "host:0", "host:65536", "host:x"])
def test_a_bad_ctrl_tcp_address_is_named(address):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(address)
