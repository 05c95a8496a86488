"""The AMI reader passes over the events nobody uses, and reads the rest exactly as before.

Most of what Asterisk's manager sends (``VarSet``, ``Newexten``, ...) is of kinds the
gateway never translates; ``read_messages(..., wanted=...)`` skips those blocks without
splitting them into lines.  Compared here with a full read of the committed sandbox
recording, fed in chunks of every size, with line endings and bytes that are not UTF-8
mixed in.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from pathlib import Path

from medlytt.gateways.asterisk.ami import read_messages
from medlytt.gateways.asterisk.gateway import AsteriskGateway
from medlytt.gateways.asterisk.settings import AsteriskSettings

FIXTURE = Path(__file__).resolve().parent.parent / "benchmarks/fixtures/sandbox-calls.jsonl.gz"
WANTED = frozenset({"AgentConnect", "QueueCallerJoin", "Hangup", "QueueMember", "VarSet"})
ONLY = {"VarSet": ("Variable", frozenset({"QUEUESTATUS"}))}


def recorded_ami() -> bytes:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as lines:
        return "".join(r["ami"] for r in map(json.loads, lines) if "ami" in r).encode()


async def read(data: bytes, sizes: list[int], wanted: frozenset[str] | None):
    reader = asyncio.StreamReader()
    rejects: list[str] = []

    async def feed() -> None:
        at = 0
        for size in sizes:
            reader.feed_data(data[at : at + size])
            at += size
            await asyncio.sleep(0)
        reader.feed_data(data[at:])
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    only = ONLY if wanted is not None else None
    report = lambda k, d: rejects.append(d)  # noqa: E731
    got = [m async for m in read_messages(reader, report, wanted=wanted, only=only)]
    await feeder
    return got, rejects


def wanted_of(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """What a reader told WANTED and ONLY should give of a full read."""
    kept = [m for m in messages if "Event" not in m or m["Event"] in WANTED]
    return [m for m in kept if m.get("Event") != "VarSet" or m.get("Variable") == "QUEUESTATUS"]


async def test_skipping_keeps_exactly_the_wanted_blocks() -> None:
    data = recorded_ami()
    everything, rejects = await read(data, [], None)
    assert len(everything) > 10_000
    assert any(m.get("Variable") == "QUEUESTATUS" for m in wanted_of(everything))
    rng = random.Random(18)
    for _ in range(3):
        got, skipped_rejects = await read(data, [rng.randint(1, 5000) for _ in range(300)], WANTED)
        assert got == wanted_of(everything)
        assert skipped_rejects == rejects


async def test_odd_line_endings_and_latin1_read_the_same() -> None:
    data = recorded_ami()[:400_000]
    data = data.replace(b"\r\n", b"\n", 3000).replace(b"agent1", "agént1".encode("latin-1"))
    everything, _ = await read(data, [], None)
    got, _ = await read(data, [random.Random(1).randint(1, 3000) for _ in range(200)], WANTED)
    assert got == wanted_of(everything)
    assert any("ag\ufffdnt1" in m.get("Interface", "") for m in got)


def test_the_gateway_reads_what_it_translates_and_its_queue_status_answers() -> None:
    settings = AsteriskSettings(ari_url="http://127.0.0.1:8088", ari_password="x", ami_secret="x")
    kinds = AsteriskGateway(settings).ami_kinds
    assert {"AgentConnect", "QueueCallerJoin", "QueueEntry", "QueueStatusComplete"} <= kinds
    assert not {"Newexten", "DeviceStateChange", "Newstate", "DialBegin"} & kinds
