"""Property-based fuzzing of the Asterisk gateway's parsers and translators (issue 11).

What goes in: the AMI byte stream (``read_messages``, and ``AmiClient`` over a socket), AMI
event dicts (``AmiTranslator``), WebSocket frames (``AriClient.iter_events``) and ARI event
dicts (``AriCallControl.translate``): truncated, over-long, of unknown kinds, with numbers
that are not numbers, keys missing, JSON of the wrong shape, bytes that are not UTF-8.

What must hold: no exception escapes, and a message the gateway cannot use is rejected
and counted (exactly once, changing nothing) while a well-formed one is translated as it
says.  Which messages are malformed is decided here by an oracle written from Asterisk's
event documentation, not by calling the product's own checks.

Every ``@example`` is a crash or a mis-translation the fuzzing found in the original code.
The runs are deterministic (``derandomize``, no example database) and bounded, so CI sees
the same examples every time, in seconds.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from medlytt import ChannelEvent, Gateway, Publish, hookimpl
from medlytt import events as ev
from medlytt.events import decode_event, encode_event
from medlytt.gateways.asterisk.ami import MAX_BLOCK_BYTES, AmiClient, read_messages
from medlytt.gateways.asterisk.ari import AriClient
from medlytt.gateways.asterisk.gateway import AsteriskGateway
from medlytt.gateways.asterisk.settings import AsteriskSettings
from medlytt.gateways.asterisk.translate import AmiTranslator
from medlytt.testing import wait_until

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Rejects(list[tuple[str, str]]):
    """A ``reject`` callback that keeps what it was told."""

    def __call__(self, kind: str, detail: str) -> None:
        self.append((kind, detail))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# =========================================================================== AMI wire

#: The stream reader's line limit in the fuzzed runs (the real one is 64 KiB), and the
#: block limit (the real one is 1 MiB): small, so that breaking them stays cheap.
LINE_LIMIT = 256
BLOCK_LIMIT = 2048

KEY = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=16
)
#: A value's bytes: UTF-8 text (colons included) or any bytes, never a line feed.
VALUE = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=30).map(str.encode),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
)


@dataclass
class Block:
    """One AMI block as lines of bytes, and what reading it must give."""

    lines: list[bytes]
    expected: dict[str, str] | None  # None: it must be rejected


@st.composite
def good_block(draw: st.DrawFn) -> Block:
    fields = draw(st.dictionaries(KEY, VALUE, min_size=1, max_size=6))
    kind = draw(st.sampled_from([None, "Event", "Event", "Response"]))
    if kind is not None:
        fields = {kind: b"Hangup" if kind == "Event" else b"Success", **fields}
    space = st.sampled_from([b"", b" ", b"  "])
    lines = [key.encode() + b":" + draw(space) + value for key, value in fields.items()]
    expected = {key: value.decode(errors="replace").strip() for key, value in fields.items()}
    return Block(lines, expected)


#: How a block can be broken; the last two only where the limits are the fuzzed ones.
DAMAGE = ["no colon", "empty key", "blank-ish", "over-long line", "huge block"]


@st.composite
def bad_block(draw: st.DrawFn, damage: list[str]) -> Block:
    block = draw(good_block())
    kind = draw(st.sampled_from(damage))
    if kind == "no colon":
        bad = draw(st.text("abc XYZ-_/.", min_size=1, max_size=20).filter(str.strip)).encode()
    elif kind == "empty key":
        bad = draw(st.sampled_from([b"", b" ", b"\t "])) + b":" + draw(VALUE)
    elif kind == "blank-ish":
        bad = draw(st.sampled_from([b" ", b"\t", b" \t "]))
    elif kind == "over-long line":
        bad = b"Key: " + b"x" * draw(st.integers(LINE_LIMIT + 1, LINE_LIMIT * 4))
    else:
        bad = b"Filler: " + b"y" * 200
        block.lines += [bad] * (BLOCK_LIMIT // 200 + 1)
    block.lines.insert(draw(st.integers(0, len(block.lines))), bad)
    block.expected = None
    return block


@st.composite
def ami_stream(
    draw: st.DrawFn, damage: list[str] = DAMAGE
) -> tuple[bytes, list[dict[str, str]], int]:
    """An AMI byte stream, the messages it holds and how many blocks must be rejected."""
    blocks = draw(st.lists(st.one_of(good_block(), bad_block(damage)), max_size=8))
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    parts = [newline * draw(st.integers(0, 2))]  # blank lines before the first block
    expected, rejected = [], 0
    for block in blocks:
        parts.append(b"".join(line + newline for line in block.lines))
        parts.append(newline * draw(st.integers(1, 3)))
        if block.expected is None:
            rejected += 1
        else:
            expected.append(block.expected)
    if blocks and draw(st.booleans()):  # the stream ends inside the last block
        parts[-2] = parts[-2][: draw(st.integers(1, len(parts[-2])))]
        parts.pop()
        if blocks[-1].expected is not None:
            expected.pop()
            rejected += 1
    return b"".join(parts), expected, rejected


async def read_all(
    data: bytes, chunks: list[int] | str, *, limit: int = LINE_LIMIT, block: int = BLOCK_LIMIT
) -> tuple[list[dict[str, str]], Rejects]:
    """Feed ``data`` to a stream reader in pieces, as a socket would, and read every
    message from it.  ``chunks``: the sizes of the first pieces, or "at line feeds" to cut
    just before each line feed."""
    reader = asyncio.StreamReader(limit=limit)
    rejects = Rejects()
    if chunks == "at line feeds":
        pieces = data.replace(b"\n", b"\0\n").split(b"\0")
    else:
        at = [0]
        for size in chunks:
            at.append(at[-1] + size)
        pieces = [data[a:b] for a, b in zip(at, [*at[1:], len(data)], strict=True)]

    async def feed() -> None:
        for piece in pieces:
            reader.feed_data(piece)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    messages = [m async for m in read_messages(reader, rejects, max_block_bytes=block)]
    await feeder
    return messages, rejects


CHUNKS = st.lists(st.integers(1, 300), max_size=12) | st.just("at line feeds")
LONG = b"Key: " + b"v" * (LINE_LIMIT + 10)


@FUZZ
@given(ami_stream(), CHUNKS)
# Found: a line over the reader's limit raised ValueError out of the read loop, which
# ended the AMI connection (and the error came back out of AmiClient.close()).
@example((b"Event: X\r\n" + LONG + b"\r\n\r\nEvent: Y\r\n\r\n", [{"Event": "Y"}], 1), [])
# Found (after the first fix): when the reader held an over-long line without its line
# feed, the feed read as an empty line, and the rest of the block as a message of its own.
@example((b"Event: X\r\n" + LONG + b"\nUniqueid: u1\n\n", [], 1), "at line feeds")
# Found: a line without a colon was read as a key with an empty value.
@example((b"Event: Hangup\r\nUniqueid u1\r\n\r\n", [], 1), [])
# Found: a block cut off by the end of the stream vanished without a trace.
@example((b"Event: Hangup\r\nUniq", [], 1), [3])
def test_ami_stream_gives_exactly_the_well_formed_blocks(stream, chunks):
    data, expected, rejected = stream
    messages, rejects = run(read_all(data, chunks))
    assert messages == expected
    assert len(rejects) == rejected
    assert all(kind == "AMI block" for kind, _ in rejects)


@FUZZ
@given(st.binary(max_size=3000), CHUNKS)
@example(b"\xff\xfe: \xc3\r\n\xe2\x82: x\n\n", [1, 1])
@example(b":\r\n\r\n", [])
def test_ami_stream_of_any_bytes_never_raises(data, chunks):
    messages, rejects = run(read_all(data, chunks))
    for message in messages:
        assert message and all(key and key == key.strip() for key in message)
        assert not any("\n" in key or "\n" in value for key, value in message.items())
    assert len(messages) + len(rejects) <= data.count(b"\n") + 1


def test_ami_line_of_a_megabyte_is_rejected_at_the_real_limits():
    """Huge, but bounded: a 1 MB line against the real 64 KiB line limit."""
    huge = b"Event: Newexten\r\nAppData: " + b"z" * 1_000_000 + b"\r\n\r\nEvent: Hangup\r\n\r\n"
    read = read_all(huge, [65_536] * 16, limit=2**16, block=MAX_BLOCK_BYTES)
    messages, rejects = run(read)
    assert messages == [{"Event": "Hangup"}]
    assert rejects == [("AMI block", "a line longer than the reader's limit")]


@st.composite
def ami_session(draw: st.DrawFn) -> tuple[bytes, list[dict[str, str]], int]:
    """What a fuzzed Asterisk sends after the login (the client has the real limits)."""
    data, expected, rejected = draw(ami_stream(["no colon", "empty key", "blank-ish"]))
    events = [m for m in expected if "Event" in m]
    rejected += sum(1 for m in expected if "Event" not in m and "Response" not in m)
    return data, events, rejected


@settings(FUZZ, max_examples=40)
@given(ami_session())
def test_ami_client_over_a_socket_survives_any_stream(session):
    """The whole client: banner, login, then the fuzzed stream until Asterisk hangs up."""
    data, events, rejected = session

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        login = await reader.readuntil(b"\r\n\r\n")
        action_id = next(line for line in login.split(b"\r\n") if line.startswith(b"ActionID"))
        writer.write(b"Response: Success\r\n" + action_id + b"\r\nMessage: ok\r\n\r\n")
        writer.write(b"Response: Success\r\nActionID: 999\r\n\r\n")  # late: ignored
        writer.write(data)
        await writer.drain()
        writer.close()

    async def session_run() -> tuple[list[dict[str, str]], Rejects]:
        server = await asyncio.start_server(pbx, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        rejects = Rejects()
        client = AmiClient("127.0.0.1", port, "medlytt", "s3cret", timeout=5, reject=rejects)
        try:
            await client.connect()
            got = [event async for event in client.events()]
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
        return got, rejects

    got, rejects = run(session_run())
    assert got == events
    assert len(rejects) == rejected


# =========================================================================== AMI events

UNIQUEIDS = ["u1", "u2", "u3", "a1", "a2"]
INTERFACES = ["PJSIP/1001", "Local/agent2@agents/n"]
QUEUES = ["support", "sales"]
BAD_COUNTS = ["abc", "-1", "1.5", "nan", "1e3", "5 ", "0x10", "٣", "9" * 13, "9" * 5000]
BAD_AMOUNTS = ["abc", "nan", "inf", "-inf", "-1", "1e400", "1e12", "9" * 5000]
BAD_FLAGS = ["2", "yes", "true", " 1"]
BAD_STAMPS = ["abc", "nan", "inf", "-inf", "1e20", "-1e20", "1e400", "9" * 5000, "0x5"]


@dataclass(frozen=True)
class Shape:
    """What an AMI event the translator uses must carry, after Asterisk 22's manager docs.

    ids: text that is there and not empty; counts: whole numbers in decimal digits;
    amounts: finite non-negative numbers; flags: ``0`` or ``1``.  An empty field counts
    as a missing one; ``Timestamp``, when there, must be a time.
    """

    ids: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    optional_counts: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    optional_amounts: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    optional_flags: tuple[str, ...] = ()


MEMBER = Shape(ids=("Queue",), optional_counts=("Status",), optional_flags=("Paused", "InCall"))
SHAPES = {
    "QueueParams": Shape(ids=("Queue",), optional_amounts=("ServiceLevel", "Wrapuptime")),
    "QueueMember": MEMBER,  # and Interface or Location
    "QueueMemberAdded": MEMBER,
    "QueueMemberRemoved": Shape(ids=("Interface", "Queue")),
    "QueueMemberStatus": Shape(
        ids=("Interface", "Queue"), counts=("Status",), optional_flags=("Paused", "InCall")
    ),
    "QueueMemberPause": Shape(ids=("Interface",), flags=("Paused",)),
    "QueueCallerJoin": Shape(ids=("Uniqueid", "Queue"), optional_counts=("Position",)),
    "QueueEntry": Shape(ids=("Uniqueid", "Queue"), counts=("Wait",), optional_counts=("Position",)),
    "AgentCalled": Shape(ids=("Uniqueid", "Interface")),
    "AgentRingNoAnswer": Shape(ids=("Uniqueid", "Interface"), counts=("RingTime",)),
    "QueueCallerLeave": Shape(ids=("Uniqueid",)),
    "AgentConnect": Shape(ids=("Uniqueid", "Interface"), counts=("HoldTime", "RingTime")),
    "AgentComplete": Shape(
        ids=("Uniqueid", "Interface", "Reason"),
        counts=("HoldTime", "TalkTime"),
        optional_amounts=("Wrapuptime",),
    ),
    "QueueCallerAbandon": Shape(
        ids=("Uniqueid",), counts=("HoldTime",), optional_counts=("Position",)
    ),
    "VarSet": Shape(),  # for QUEUESTATUS: Uniqueid and Value
    "Hangup": Shape(ids=("Uniqueid",)),
    "BridgeLeave": Shape(ids=("Uniqueid",)),
    "ChannelTalkingStart": Shape(ids=("Uniqueid",)),
    "ChannelTalkingStop": Shape(ids=("Uniqueid",), amounts=("Duration",)),
}


def is_count(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 12


def is_amount(value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return 0 <= number < 1e12


def is_time(stamp: float) -> bool:
    try:
        datetime.fromtimestamp(stamp, UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return True


def is_stamp(value: str) -> bool:
    try:
        return is_time(float(value))
    except ValueError:
        return False


def ami_malformed(m: dict[str, str], now: float) -> bool:
    """The oracle: must the translator reject this event?"""
    shape = SHAPES.get(m.get("Event", ""))
    if shape is None:
        return False  # not a kind the translator uses: ignored, not rejected
    stamp = m.get("Timestamp")
    if stamp and not is_stamp(stamp):
        return True
    if m["Event"] == "VarSet":
        return m.get("Variable") == "QUEUESTATUS" and not (m.get("Uniqueid") and m.get("Value"))
    if shape is MEMBER and not (m.get("Interface") or m.get("Location")):
        return True
    if not all(m.get(key) for key in (*shape.ids, *shape.counts, *shape.amounts, *shape.flags)):
        return True
    if any(m.get(k) and not is_count(m[k]) for k in (*shape.counts, *shape.optional_counts)):
        return True
    if any(m.get(k) and not is_amount(m[k]) for k in (*shape.amounts, *shape.optional_amounts)):
        return True
    if any(m.get(k) not in (None, "", "0", "1") for k in (*shape.flags, *shape.optional_flags)):
        return True
    if m["Event"] == "QueueEntry":  # the caller joined Wait seconds before the event
        return not is_time((float(stamp) if stamp else now) - int(m["Wait"]))
    return False


def good(key: str) -> st.SearchStrategy[str]:
    """A well-formed value of ``key``, from small pools so that events meet."""
    pools: dict[str, st.SearchStrategy[str]] = {
        "Uniqueid": st.sampled_from(UNIQUEIDS),
        "DestUniqueid": st.sampled_from(UNIQUEIDS),
        "Linkedid": st.sampled_from(["l1", "l2", "u1"]),
        "Interface": st.sampled_from(INTERFACES),
        "Location": st.sampled_from(INTERFACES),
        "Queue": st.sampled_from(QUEUES),
        "RingTime": st.integers(0, 30_000).map(str),
        "Duration": st.integers(0, 60_000).map(str),
        "Status": st.integers(0, 8).map(str),
        "Paused": st.sampled_from(["0", "1"]),
        "InCall": st.sampled_from(["0", "1"]),
        "ServiceLevel": st.sampled_from(["0", "5", "20", "1.5"]),
        "Wrapuptime": st.sampled_from(["0", "5", "1.5"]),
        "Reason": st.sampled_from(["caller", "agent", "transfer", "exitwithtimeout"]),
        "Variable": st.sampled_from(["QUEUESTATUS", "QUEUESTATUS", "DIALSTATUS"]),
        "Value": st.sampled_from(["TIMEOUT", "FULL", "LEAVEEMPTY"]),
    }
    if key in ("HoldTime", "TalkTime", "Wait", "Position"):
        return st.integers(0, 120).map(str)
    return pools.get(key, st.sampled_from(["1001", "Ingrid Berg", "lunch", ""]))


def bad(key: str) -> st.SearchStrategy[str]:
    """A value that is wrong for ``key`` (for a text field: empty)."""
    if key in ("HoldTime", "TalkTime", "Wait", "Position", "RingTime", "Status"):
        return st.sampled_from(BAD_COUNTS)
    if key in ("Duration", "ServiceLevel", "Wrapuptime"):
        return st.sampled_from(BAD_AMOUNTS)
    if key in ("Paused", "InCall"):
        return st.sampled_from(BAD_FLAGS)
    if key == "Timestamp":
        return st.sampled_from(BAD_STAMPS)
    return st.just("")


FIELDS = {
    "QueueParams": ["Queue", "ServiceLevel", "Wrapuptime"],
    "QueueMember": ["Queue", "Location", "Status", "Paused", "InCall", "MemberName"],
    "QueueMemberAdded": ["Queue", "Interface", "Status", "Paused", "InCall", "MemberName"],
    "QueueMemberRemoved": ["Queue", "Interface"],
    "QueueMemberStatus": ["Queue", "Interface", "Status", "Paused", "InCall"],
    "QueueMemberPause": ["Queue", "Interface", "Paused", "PausedReason"],
    "QueueCallerJoin": ["Uniqueid", "Linkedid", "Queue", "Position", "CallerIDNum"],
    "QueueEntry": ["Uniqueid", "Linkedid", "Queue", "Position", "Wait"],
    "AgentCalled": ["Uniqueid", "Linkedid", "Queue", "Interface", "DestUniqueid"],
    "AgentRingNoAnswer": ["Uniqueid", "Queue", "Interface", "RingTime"],
    "QueueCallerLeave": ["Uniqueid", "Queue"],
    "AgentConnect": ["Uniqueid", "Queue", "Interface", "HoldTime", "RingTime", "DestUniqueid"],
    "AgentComplete": ["Uniqueid", "Queue", "Interface", "HoldTime", "TalkTime", "Reason"],
    "QueueCallerAbandon": ["Uniqueid", "Queue", "HoldTime", "Position"],
    "VarSet": ["Uniqueid", "Variable", "Value"],
    "Hangup": ["Uniqueid", "Linkedid"],
    "BridgeLeave": ["Uniqueid"],
    "ChannelTalkingStart": ["Uniqueid", "Linkedid"],
    "ChannelTalkingStop": ["Uniqueid", "Linkedid", "Duration"],
    "Newexten": ["Uniqueid"],  # a kind the translator does not use
}


@st.composite
def ami_event(draw: st.DrawFn) -> dict[str, str]:
    """An AMI event, well formed or with a field or two missing, empty or wrong."""
    kind = draw(st.sampled_from(sorted(FIELDS)))
    keys = FIELDS[kind]
    message = {"Event": kind, "Timestamp": "@"}  # "@": stamped in order by translate_all
    for key in keys:
        message[key] = draw(good(key))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        key = draw(st.sampled_from([*keys, "Timestamp", "Timestamp"]))
        if draw(st.booleans()):
            message.pop(key, None)
        else:
            message[key] = draw(bad(key))
    return message


#: Anything at all: any kind (or none), any of the fields, any text.
ANY_AMI_EVENT = st.dictionaries(
    st.sampled_from(["Event", "Timestamp", *sorted({k for f in FIELDS.values() for k in f})])
    | st.text(max_size=4),
    st.sampled_from([*sorted(FIELDS), "Unknown", "0", "1", "12", "u1", "1795427443.5"])
    | st.sampled_from(BAD_COUNTS + BAD_AMOUNTS + BAD_STAMPS)
    | st.text(max_size=12),
    max_size=8,
)


def snapshot(t: AmiTranslator) -> Any:
    return copy.deepcopy((t.entries, t.agents, t.queues, t.agent_channels, t.agent_legs))


def check_events(events: list[ev.Event]) -> None:
    """Every event is one the journal can store and read back, with real ids and times."""
    for event in events:
        assert event.at.tzinfo is not None
        assert decode_event(encode_event(event)) == event
        for name in ("call_id", "queue", "agent_id"):
            value = getattr(event, name, "x")
            assert value is None or (isinstance(value, str) and value), (name, event)
        for name in ("wait_seconds", "talk_seconds", "ring_seconds", "duration_seconds"):
            assert math.isfinite(getattr(event, name, 0.0)), (name, event)


def check_meaning(m: dict[str, str], out: list[ev.Event]) -> None:
    """What a well-formed event says arrives unchanged in what it is translated to."""
    for event in out:
        if isinstance(event, ev.CallAnswered):
            assert m["Event"] == "AgentConnect" and event.agent_id == m["Interface"]
            assert (event.wait_seconds, event.ring_seconds) == (
                int(m["HoldTime"]),
                int(m["RingTime"]),
            )
        if isinstance(event, ev.CallEnded):
            assert m["Event"] == "AgentComplete"  # overdue_completions() is checked apart
            assert (event.wait_seconds, event.talk_seconds) == (
                int(m["HoldTime"]),
                int(m["TalkTime"]),
            )
        if isinstance(event, ev.AgentRingNoAnswer):
            assert event.ring_seconds == int(m["RingTime"]) / 1000
        if isinstance(event, ev.TalkStopped):
            assert event.duration_seconds == float(m["Duration"]) / 1000
        if isinstance(event, ev.CallQueued) and m["Event"] == "QueueCallerJoin":
            assert event.queue == m["Queue"]
            assert event.call_id == (m.get("Linkedid") or m["Uniqueid"])
            assert event.position == int(m.get("Position") or 0)
        if isinstance(event, ev.CallAbandoned | ev.CallTimedOut | ev.CallLost):
            assert m["Event"] in ("Hangup", "VarSet")
        if m.get("Timestamp") and m["Event"] != "Hangup" and not isinstance(event, ev.CallQueued):
            assert event.at == datetime.fromtimestamp(float(m["Timestamp"]), UTC)


def translate_all(messages: list[dict[str, str]]) -> None:
    """Translate ``messages`` in order, checking each; then every other entry point."""
    rejects = Rejects()
    now = [1_795_427_443.0]
    t = AmiTranslator(
        {INTERFACES[0]: "Ingrid Berg"},
        clock=lambda: datetime.fromtimestamp(now[0], UTC),
        reject=rejects,
        monotonic=lambda: now[0],  # read as stamped: overdue_completions(now + 2) is due
    )
    stamped = []
    for message in map(dict, messages):
        now[0] += 0.7
        if message.get("Timestamp") == "@":
            message["Timestamp"] = f"{now[0]:.6f}"
        stamped.append(message)
        before, count = snapshot(t), len(rejects)
        out = t.translate(message)
        if ami_malformed(message, now[0]):
            assert (out, len(rejects)) == ([], count + 1), message
            assert rejects[-1][0] == f"AMI {message['Event']}"
            assert snapshot(t) == before, f"a rejected message changed the state: {message}"
        else:
            assert len(rejects) == count, (message, rejects[-1:])
            check_events(out)
            check_meaning(message, out)
        check_events(t.overdue_completions(now[0] + 2))
    count = len(rejects)
    t.learn_start(stamped)
    assert len(rejects) <= count + sum(m.get("Event") == "QueueEntry" for m in stamped)
    for queue in [*QUEUES, *t.queues]:
        seconds = t.wrap_up_seconds(queue)
        assert math.isfinite(seconds) and seconds >= 0
    at = datetime.fromtimestamp(now[0] + 5, UTC)
    for agent_id in list(t.agents):
        check_events(t.end_wrap_up(agent_id, at))
    check_events(t.lost_calls({"u2"}, at, "gone after reconnecting"))
    check_events(t.lost_calls(set(), at, "gone after reconnecting"))
    assert t.open_calls() == {}


def call_flow(shape: str, n: int, iface: str, queue: str, leaves: str) -> list[dict[str, str]]:
    """One call as Asterisk tells it."""
    uid, leg = f"u{n}", f"a{n}"
    call = {"Uniqueid": uid, "Linkedid": f"l{n}", "Queue": queue}
    member = {"Interface": iface, "MemberName": "1001", "Queue": queue}
    flow = [
        {"Event": "QueueMember", "Location": iface, "Queue": queue, "Status": "1", "Paused": "0"},
        {"Event": "QueueCallerJoin", **call, "Position": "1"},
        {"Event": "AgentCalled", **call, **member, "DestUniqueid": leg},
    ]
    if shape.startswith("answer"):
        flow += [
            {"Event": "AgentConnect", **call, **member, "HoldTime": "3", "RingTime": "2"},
            {"Event": "ChannelTalkingStart", "Uniqueid": leg, "Linkedid": call["Linkedid"]},
            {"Event": "ChannelTalkingStop", "Uniqueid": uid, "Duration": "1500"},
            {"Event": "BridgeLeave", "Uniqueid": uid if leaves == "caller" else leg},
            {"Event": "Hangup", "Uniqueid": uid},
        ]
        flow[3]["DestUniqueid"] = leg
        if shape == "answer+complete":
            done = {"HoldTime": "3", "TalkTime": "40", "Reason": leaves}
            flow.append({"Event": "AgentComplete", **call, **member, **done})
    elif shape == "abandon":
        flow += [
            {"Event": "QueueCallerAbandon", **call, "HoldTime": "7", "Position": "1"},
            {"Event": "QueueCallerLeave", **call},
            {"Event": "Hangup", "Uniqueid": uid},
        ]
    elif shape == "timeout":
        flow += [
            {"Event": "AgentRingNoAnswer", **call, **member, "RingTime": "15000"},
            {"Event": "QueueCallerLeave", **call},
            {"Event": "VarSet", "Uniqueid": uid, "Variable": "QUEUESTATUS", "Value": "TIMEOUT"},
        ]
    return flow


SHAPES_OF_CALLS = ["answer", "answer+complete", "abandon", "timeout", "still waiting"]


@st.composite
def call_flows(draw: st.DrawFn) -> list[dict[str, str]]:
    """A few calls, interleaved, a tenth of their events with one field damaged."""
    flows = []
    for n, shape in enumerate(draw(st.lists(st.sampled_from(SHAPES_OF_CALLS), max_size=3))):
        iface, queue = draw(st.sampled_from(INTERFACES)), draw(st.sampled_from(QUEUES))
        flow = call_flow(shape, n + 1, iface, queue, draw(st.sampled_from(["caller", "agent"])))
        for message in flow:
            message["Timestamp"] = "@"
            if draw(st.integers(0, 9)) == 0:
                key = draw(st.sampled_from(sorted(message)))
                message[key] = draw(bad(key))
        flows.append(flow)
    merged = []
    while any(flows):
        flow = draw(st.sampled_from([f for f in flows if f]))
        merged.append(flow.pop(0))
    return merged


@FUZZ
@given(call_flows())
def test_ami_call_flows_with_damaged_events(messages):
    translate_all(messages)


JOIN = {"Event": "QueueCallerJoin", "Uniqueid": "u1", "Queue": "q", "Timestamp": "@"}


@FUZZ
@given(st.lists(ami_event(), max_size=25))
# Found: a Timestamp of "inf" (or 1e20) raised OverflowError out of every handler.
@example([{"Event": "Hangup", "Uniqueid": "u1", "Timestamp": "inf"}])
@example([{**JOIN, "Timestamp": "1e20"}])
# Found: a HoldTime that is no number became a wait of 0 s.
@example([JOIN, {**JOIN, "Event": "AgentConnect", "Interface": "PJSIP/1", "HoldTime": "abc"}])
# Found: events without the Uniqueid or Interface they are about made a call or an agent
# with the id "".
@example([{"Event": "QueueCallerJoin", "Queue": "q"}, {"Event": "QueueMemberPause", "Paused": "1"}])
# Found: a QueueEntry whose Wait reaches back before the year 1 raised ValueError.
@example([{**JOIN, "Event": "QueueEntry", "Wait": "999999999999", "Timestamp": "0"}])
# Found: a Duration of "nan" became a talk spurt of NaN seconds.
@example([JOIN, {**JOIN, "Event": "ChannelTalkingStop", "Duration": "nan"}])
def test_ami_events_in_any_order_some_damaged(messages):
    translate_all(messages)


@FUZZ
@given(st.lists(ANY_AMI_EVENT, max_size=12))
def test_ami_events_of_any_shape(messages):
    translate_all(messages)


QUEUE_ENTRY = st.fixed_dictionaries(
    {
        "Event": st.just("QueueEntry"),
        "Uniqueid": st.just("u1"),
        "Wait": good("Wait") | bad("Wait"),
        "Timestamp": st.sampled_from(["200.5", "201.5", *BAD_STAMPS]),
    }
)


@FUZZ
@given(st.lists(QUEUE_ENTRY, max_size=3))
# Found: learn_start (run after every join) raised ValueError on a Timestamp that is no
# number ("abc", "nan") and OverflowError on "inf".
@example([{"Event": "QueueEntry", "Uniqueid": "u1", "Wait": "1", "Timestamp": "abc"}])
@example([{"Event": "QueueEntry", "Uniqueid": "u1", "Wait": "1", "Timestamp": "inf"}])
def test_learn_start_rejects_what_it_cannot_use(status):
    rejects = Rejects()
    t = AmiTranslator(reject=rejects)
    t.translate({**JOIN, "Timestamp": "200.001"})
    t.learn_start(status)
    usable = [is_count(m["Wait"]) and is_stamp(m["Timestamp"]) for m in status]
    assert len(rejects) == usable.count(False)  # every sample is tried; the bad ones counted
    entry = t.entries["u1"]
    if not any(usable):
        assert entry.start_second is None
    else:  # the earliest estimate, never after the join's own second (200)
        estimates = [
            math.floor(float(m["Timestamp"]) - 0.001) - int(m["Wait"])
            for m, ok in zip(status, usable, strict=True)
            if ok
        ]
        assert entry.start_second == min([200, *estimates])


# =========================================================================== ARI


class FakeSocket:
    """What ``iter_events`` reads: an async iterator of WebSocket messages."""

    def __init__(self, frames: list[tuple[aiohttp.WSMsgType, Any]]) -> None:
        self.frames = frames

    async def __aiter__(self) -> Any:
        for kind, data in self.frames:
            yield aiohttp.WSMessage(kind, data, None)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FRAME_TEXT = st.one_of(
    JSON.map(json.dumps),
    st.dictionaries(st.text(max_size=8), JSON, max_size=4).map(json.dumps),
    st.text(max_size=40),
    st.integers(1, 3000).map(lambda n: "[" * n),
    st.sampled_from(["", "{", '{"type": "StasisStart"', "NaN", "1" * 5000, '{"a": 1}{"b": 2}']),
)
TEXT, BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY


def decodes_to_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([TEXT, TEXT, TEXT, BINARY]), FRAME_TEXT), max_size=10))
# Found: a frame that is not JSON raised JSONDecodeError out of iter_events (the ARI session
# ended and reconnected), one nested 100 000 deep raised RecursionError.
@example([(TEXT, "{"), (TEXT, '{"type": "StasisEnd"}')])
@example([(TEXT, "[" * 100_000)])
# Found: JSON that is not an object (a list, null, a number) went on to the translator.
@example([(TEXT, "[1, 2]"), (TEXT, "null"), (BINARY, b"\x00")])
def test_ari_frames_give_exactly_the_json_objects(frames):
    rejects = Rejects()
    socket = FakeSocket([*frames, (aiohttp.WSMsgType.CLOSED, None), (TEXT, "{}")])

    async def read() -> list[dict[str, Any]]:
        return [event async for event in AriClient.iter_events(socket, rejects)]

    events = run(read())
    texts = [data for kind, data in frames if kind is TEXT]
    expected = [json.loads(text) for text in texts if decodes_to_object(text)]
    assert json.dumps(events) == json.dumps(expected)  # NaN is not equal to itself
    assert len(rejects) == len(frames) - len(events)


OURS, FOREIGN = "medlytt-c1", "PJSIP/1001-00000001"
STAMP = "2026-05-01T10:00:00.123+0200"
EXPECTED = {
    "PlaybackFinished": "channel.playback_finished",
    "PlaybackFailed": "channel.playback_finished",
    "RecordingFinished": "channel.recording_finished",
    "RecordingFailed": "channel.recording_finished",
    "StasisStart": "channel.entered",
    "StasisEnd": "channel.left",
    "ChannelDestroyed": "channel.left",
    "ChannelHangupRequest": "channel.hangup_requested",
    "ChannelStateChange": "channel.state_changed",
    "ChannelDtmfReceived": "channel.dtmf",
    "ChannelTalkingStarted": "channel.talking_started",
    "ChannelTalkingFinished": "channel.talking_stopped",
}
ARI_KINDS = sorted(EXPECTED)


def ari_event(kind: str, channel: str) -> dict[str, Any]:
    """A well-formed ARI event, shaped like Asterisk 22's."""
    event: dict[str, Any] = {"type": kind, "timestamp": STAMP, "application": "medlytt"}
    target = f"channel:{channel}"
    if kind.startswith("Playback"):
        event["playback"] = {
            "id": "p-1",
            "media_uri": "sound:hello",
            "target_uri": target,
            "language": "en",
            "state": "done",
        }
    elif kind.startswith("Recording"):
        event["recording"] = {"name": "r-1", "format": "wav", "state": "done", "target_uri": target}
    else:
        event["channel"] = {
            "id": channel,
            "name": "PJSIP/1001-00000001",
            "state": "Up",
            "caller": {"name": "Ingrid", "number": "1001"},
            "connected": {"name": "", "number": ""},
            "dialplan": {"context": "agents", "exten": "s", "priority": 1},
            "creationtime": STAMP,
            "language": "en",
        }
    if kind == "StasisStart":
        event["args"] = ["survey", "q1"]
    elif kind == "ChannelDestroyed":
        event |= {"cause": 16, "cause_txt": "Normal Clearing"}
    elif kind == "ChannelDtmfReceived":
        event |= {"digit": "5", "duration_ms": 120}
    elif kind == "ChannelTalkingFinished":
        event["duration"] = 1500
    return event


#: Values that ARI never sends where text is due; DELETE leaves the field out.
NOT_TEXT = [5, 1.5, True, [], {}, ["x"], "\ud800"]  # a lone surrogate is no text
NOT_OBJECT = [None, 5, "x", [], [{}], True]
DELETE = "<delete>"
DAMAGE_ARI: dict[str, list[Any]] = {
    "timestamp": [5, [], "", "yesterday", "2026-05-01T10:00:00", "2026-13-01T00:00:00+0000"],
    "playback": NOT_OBJECT,
    "recording": NOT_OBJECT,
    "channel": NOT_OBJECT,
    "playback.id": [DELETE, None, "", *NOT_TEXT],
    "recording.name": [DELETE, None, "", *NOT_TEXT],
    "channel.id": [DELETE, None, "", *NOT_TEXT],
    "channel.state": [DELETE, None, "", *NOT_TEXT],
    "playback.target_uri": NOT_TEXT,  # may be left out, but not be something else
    "recording.target_uri": NOT_TEXT,
    "playback.media_uri": NOT_TEXT,
    "playback.state": NOT_TEXT,
    "channel.name": NOT_TEXT,
    "channel.caller.number": NOT_TEXT,
    "cause_txt": NOT_TEXT,
    "channel.caller": NOT_OBJECT,
    "args": ["survey,q1", 5, {"0": "survey"}, None],
    "args.0": NOT_TEXT,
    "cause": ["16", 16.5, True, []],
    "duration": [DELETE, None, "1500", "abc", True, -1, math.nan, math.inf, []],
    "digit": [DELETE, "", "55", None, 5, "\ud800"],
}


#: Where each kind of event can be damaged (beside its timestamp).
DAMAGE_PLACES = {
    "Playback": [
        "playback",
        "playback.id",
        "playback.target_uri",
        "playback.media_uri",
        "playback.state",
    ],
    "Recording": ["recording", "recording.name", "recording.target_uri"],
    "Channel": ["channel", "channel.id"],
    "StasisStart": ["args", "args.0", "channel.caller", "channel.caller.number", "channel.name"],
    "ChannelDestroyed": ["cause", "cause_txt"],
    "ChannelStateChange": ["channel.state"],
    "ChannelDtmfReceived": ["digit"],
    "ChannelTalkingFinished": ["duration"],
}


def damage_places(kind: str) -> list[str]:
    family = next((f for f in ("Playback", "Recording") if kind.startswith(f)), "Channel")
    return ["timestamp", *DAMAGE_PLACES[family], *DAMAGE_PLACES.get(kind, [])]


@st.composite
def damaged_ari_event(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event with one thing broken in a way that ARI never sends."""
    kind = draw(st.sampled_from(ARI_KINDS))
    event = ari_event(kind, draw(st.sampled_from([OURS, FOREIGN])))
    where = draw(st.sampled_from(damage_places(kind)))
    *path, last = where.split(".")
    parent: Any = event
    for step in path:
        parent = parent[step]
    key: Any = int(last) if isinstance(parent, list) else last
    value = draw(st.sampled_from(DAMAGE_ARI[where]))
    if value == DELETE:
        del parent[key]
    else:
        parent[key] = value
    return event


def gateway() -> AsteriskGateway:
    settings = AsteriskSettings(ari_url="http://127.0.0.1:1", ari_password="p", ami_secret="s")
    return AsteriskGateway(settings)


def check_channel_event(event: ChannelEvent) -> None:
    assert event.at.utcoffset() is not None
    assert isinstance(event.channel, str)
    msgspec.json.encode(event)  # plain data throughout
    for value in msgspec.structs.asdict(event).values():
        if isinstance(value, float):
            assert math.isfinite(value) and value >= 0
        if isinstance(value, tuple):
            assert all(isinstance(v, str) for v in value)


GOOD_ARI = st.lists(st.tuples(st.sampled_from(ARI_KINDS), st.sampled_from([OURS, FOREIGN])))
CHANNEL = {"id": OURS}


@FUZZ
@given(GOOD_ARI, st.lists(damaged_ari_event(), min_size=1, max_size=6))
# Found: each of these raised AttributeError, ValueError or TypeError out of translate().
@example([], [{"type": "PlaybackFinished", "playback": "p-1"}])
@example([], [{"type": "RecordingFinished", "recording": ["x"]}])
@example([], [{"type": "StasisStart", "channel": OURS}])
@example([], [{"type": "StasisStart", "channel": {**CHANNEL, "caller": "1001"}}])
@example([], [{"type": "ChannelTalkingFinished", "channel": CHANNEL, "duration": "abc"}])
# Found, mis-translations: args as one string became the role "s"; a missing duration
# became 0 s; a missing digit the key ""; a timestamp without an offset a naive time.
@example([], [{"type": "StasisStart", "channel": CHANNEL, "args": "survey"}])
@example([], [{"type": "ChannelTalkingFinished", "channel": CHANNEL}])
@example([], [{"type": "ChannelDtmfReceived", "channel": CHANNEL}])
@example([], [{"type": "StasisEnd", "channel": CHANNEL, "timestamp": "2026-05-01T10:00:00"}])
def test_ari_damaged_events_are_rejected_and_change_nothing(good_events, damaged):
    gw = gateway()
    control = gw.control
    in_control: set[str] = set()  # the model of the channels in Medlytt's application
    for kind, channel in good_events:
        event = control.translate(ari_event(kind, channel))
        if kind == "StasisStart" or channel == OURS or channel in in_control:
            assert event is not None and event.type == EXPECTED[kind]
            check_channel_event(event)
        else:
            assert event is None
        if kind == "StasisStart":
            in_control.add(channel)
        if kind == "ChannelDestroyed":
            in_control.discard(channel)
    assert control.in_control == in_control and gw.rejected == 0
    for n, event in enumerate(damaged, start=1):
        assert control.translate(event) is None, event
        assert gw.rejected == n
        assert control.in_control == in_control


INNER = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from([OURS, "p-1"]) | JSON,
        "target_uri": st.just(f"channel:{OURS}") | JSON,
        "name": JSON,
        "state": JSON,
        "caller": JSON,
        "number": JSON,
    },
)
ANY_ARI_EVENT = JSON | st.dictionaries(
    st.sampled_from(["type", "timestamp", "channel", "playback", "recording", "args"])
    | st.sampled_from(["cause", "cause_txt", "digit", "duration"]),
    JSON | st.sampled_from([*ARI_KINDS, "Dial", "ChannelVarset", STAMP]) | INNER,
    max_size=7,
)


@FUZZ
@given(st.lists(ANY_ARI_EVENT, max_size=8))
@example([[1, 2], None, 5, "StasisStart", {"type": 5}])
def test_ari_events_of_any_shape(events):
    gw = gateway()
    for event in events:
        count = gw.rejected
        result = gw.control.translate(event)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            assert result is None and gw.rejected == count + 1
        elif result is not None:
            assert gw.rejected == count
            assert result.type == EXPECTED[event["type"]]
            check_channel_event(result)
        else:
            assert gw.rejected in (count, count + 1)


# =========================================================================== counting


def test_gateway_counts_every_rejection_and_logs_each_kind_once(caplog):
    """A flood of broken messages: each counted, one WARNING a kind, no values logged."""
    gw = gateway()
    secret = "s3cret-caller-0047"
    caplog.set_level(logging.DEBUG, logger="medlytt.gateways.asterisk")
    ami = {"Event": "AgentConnect", "Uniqueid": secret, "Interface": secret}
    ari = {"type": "ChannelTalkingFinished", "channel": {"id": secret}, "duration": secret}
    for _ in range(50):
        gw.translator.translate({**ami, "HoldTime": secret, "RingTime": "1"})
        gw.control.translate(ari)
    assert gw.rejected == 100
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["asterisk", "asterisk"]
    assert len(warnings) == 2 and sum(r.levelno == logging.DEBUG for r in caplog.records) >= 98
    assert secret not in caplog.text


def test_ignored_is_not_rejected():
    """Kinds Medlytt does not use, and calls and channels it does not follow, are fine."""
    gw = gateway()
    connect = {"Uniqueid": "u9", "Interface": "PJSIP/9", "HoldTime": "1", "RingTime": "1"}
    assert gw.translator.translate({"Event": "Newexten", "Uniqueid": "u9"}) == []
    assert gw.translator.translate({"Event": "AgentConnect", **connect}) == []
    assert gw.translator.translate({"Event": "Hangup", "Uniqueid": "u9"}) == []
    assert gw.control.translate({"type": "Dial", "peer": {"id": "x"}}) is None
    assert gw.control.translate(ari_event("StasisEnd", FOREIGN)) is None
    assert gw.rejected == 0


class CountingGateway(Gateway):
    name = "flaky-pbx"

    async def run(self, publish: Publish) -> None:
        self.connected = True
        self.rejected = 7
        await asyncio.Event().wait()


class GatewayPlugin:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @hookimpl
    def medlytt_gateways(self) -> list[Gateway]:
        return [self.gateway]


async def test_rejected_messages_are_a_metric(medlytt):
    gw = CountingGateway()
    async with medlytt(plugins=[("flaky", GatewayPlugin(gw))]) as app:
        await wait_until(lambda: gw.rejected == 7, timeout=5)
        labels = {"gateway": "flaky-pbx"}
        assert app.metric("medlytt_gateway_messages_rejected_total", labels) == 7


def test_every_ari_damage_is_tried():
    places = {where for kind in ARI_KINDS for where in damage_places(kind)}
    assert places == set(DAMAGE_ARI)
