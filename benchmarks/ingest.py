"""Ingest: recorded Asterisk traffic through the whole pipeline, beside its parse floor.

Replays ``benchmarks/fixtures/sandbox-calls.jsonl.gz`` (raw AMI blocks and ARI frames of
sandbox calls of every kind, recorded by benchmarks/capture.py) as fast as possible
through what a connected Medlytt runs: the AMI bytes through the gateway's own stream
parser (``ami.read_messages``; the blocks between two ARI frames in one read, as from
the socket), the ARI frames through its own decoder
(``ari.decode_event``); then ``AmiTranslator`` and the call-control port's translation,
the live state, the journal (written to SQLite), the metrics, and every installed plugin's
mailbox and handler.  The gateway is the real ``AsteriskGateway`` with no connection: its
ARI requests (a plugin answering a survey caller, say) fail at once against a closed port,
as they would against a PBX that is gone.

Measured in the same process, one after another:

* **floor**: ``json.loads`` over the same ARI frames, plus the cheapest correct split of
  the same AMI text (decode, split at blank lines, split lines at the first colon);
* **whole mix**: every message in recorded order, mailboxes drained every ``--chunk``
  messages (a rate every plugin keeps up with);
* **ARI part alone**: the ARI frames only, through the same pipeline;
* **latency**: receipt of a message (before parsing) to the last plugin done with each
  Medlytt event it gave, replayed ``--latency-chunk`` messages at a time.

Goal (issue 18): the whole mix and the ARI part each at least half the floor's rate, and
never below 20,000 messages/s.

    .venv/bin/python benchmarks/ingest.py [--repeat 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gzip
import inspect
import json
import math
import platform
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from medlytt import Event, Gateway, Publish, hookimpl
from medlytt.gateways.asterisk import ami, ari
from medlytt.gateways.asterisk.gateway import AsteriskGateway
from medlytt.gateways.asterisk.settings import AsteriskSettings
from medlytt.testing import TestMedlytt, running_medlytt, wait_until

FIXTURE = Path(__file__).parent / "fixtures" / "sandbox-calls.jsonl.gz"
#: As benchmarks/capture.py configured them, so that the plugins claim their channels.
SECTIONS: dict[str, Any] = {
    "mystery_calls": {
        "dial": "Local/{number}@phones/n",
        "queue_numbers": {"support": "500", "sales": "501"},
    },
    "surveys": {
        "questions": [{"id": "satisfaction", "prompt": "sound:beep", "keys": "12345"}],
        "queues": {"sales": {"every": 1}},
        "answer_timeout_seconds": 1,
    },
    "storage": {"journal_batch_size": 2000},
}


def load(path: Path) -> list[tuple[str, str]]:
    """The recorded messages in order: ("ami", block text) or ("ari", frame text)."""
    records = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            kind = "ami" if "ami" in record else "ari"
            records.append((kind, record[kind]))
    return records


def reads(records: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """The messages as the two connections deliver them: each ARI frame on its own (a
    WebSocket message), the AMI blocks between two frames together (one read of the TCP
    stream); with the number of messages in each."""
    out: list[tuple[str, str, int]] = []
    for kind, text in records:
        if kind == "ami" and out and out[-1][0] == "ami":
            out[-1] = ("ami", out[-1][1] + text, out[-1][2] + 1)
        else:
            out.append((kind, text, 1))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- the floor ---------------------------------------------------------------------------------


def split_ami(data: bytes) -> list[dict[str, str]]:
    """The cheapest correct split of AMI text into dicts (what any AMI reader must do)."""
    messages = []
    for block in data.decode(errors="replace").split("\r\n\r\n"):
        if not block:
            continue
        message = {}
        for line in block.split("\r\n"):
            key, _, value = line.partition(":")
            message[key] = value.strip()
        messages.append(message)
    return messages


def floor(records: list[tuple[str, str]], repeat: int) -> dict[str, float]:
    ami_bytes = "".join(text for kind, text in records if kind == "ami").encode()
    frames = [text for kind, text in records if kind == "ari"]
    blocks = len(split_ami(ami_bytes))
    ami_s = ari_s = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        split_ami(ami_bytes)
        ami_s = min(ami_s, time.perf_counter() - start)
        start = time.perf_counter()
        for frame in frames:
            json.loads(frame)
        ari_s = min(ari_s, time.perf_counter() - start)
    return {
        "ami_blocks": blocks,
        "ari_frames": len(frames),
        "mix_per_second": (blocks + len(frames)) / (ami_s + ari_s),
        "ari_per_second": len(frames) / ari_s,
        "ami_per_second": blocks / ami_s,
    }


# -- the pipeline ------------------------------------------------------------------------------


class ReplayGateway(AsteriskGateway):
    """The real Asterisk gateway, minus its connections: messages are handed to it."""

    async def run(self, publish: Publish) -> None:
        self._publish = publish
        self.connected = True
        try:
            await asyncio.Event().wait()
        finally:
            self.connected = False


class ReplayPlugin:
    """Provides the replay gateway the way the asterisk plugin provides its gateway, so
    that features claim their channel roles on its port at start-up."""

    def __init__(self) -> None:
        settings = AsteriskSettings(
            ari_url="http://127.0.0.1:9", ari_password="replay", ami_secret="replay"
        )
        self.gateway = ReplayGateway(settings, name="replay")

    @hookimpl
    def medlytt_gateways(self, app: Any) -> list[Gateway]:
        return [self.gateway]


class Replay:
    """The replay gateway fed recorded messages, publishing into ``app``."""

    def __init__(self, app: TestMedlytt, gateway: ReplayGateway) -> None:
        self.app = app
        self.gateway = gateway
        self.gateway.publish_channel = self._publish_channel
        self.gateway._publish = self._publish
        self.reader = asyncio.StreamReader()
        self.messages: AsyncIterator[dict[str, str]] = ami.read_messages(
            self.reader,
            self.gateway.reject,
            wanted=self.gateway.ami_kinds,
            only=self.gateway.translator.only,
        )
        self.received = 0.0  # perf_counter() when the message being handled arrived
        #: Every Medlytt event published, with its message's receipt time (kept alive, so
        #: that ids are not reused) and when the last plugin was done with it.
        self.sent: dict[int, tuple[Any, float]] = {}
        self.done: dict[int, float] = {}
        self.timing = False

    def _publish(self, event: Event) -> None:
        if self.timing:
            self.sent[id(event)] = (event, self.received)
        self.app.publish(event)

    def _publish_channel(self, event: Any, port: Any) -> None:
        if self.timing:
            self.sent[id(event)] = (event, self.received)
        self.app.bus.publish_channel(event, port)

    async def time_plugins(self) -> None:
        """Note when each plugin finishes an event (the last one to finish wins).

        Each mailbox's worker is stopped, its handler wrapped in a timer, and started again
        (the bus calls handlers directly, so the wrapper is the only way in).
        """
        done = self.done

        def timed(function: Any, at: int) -> Any:
            def handler(*args: Any) -> Any:
                result = function(*args)
                if inspect.isawaitable(result):

                    async def finish() -> Any:
                        value = await result
                        done[id(args[at])] = time.perf_counter()
                        return value

                    return finish()
                done[id(args[at])] = time.perf_counter()
                return result

            return handler

        for mailbox in self.app.bus.mailboxes + self.app.bus.channel_mailboxes:
            if "event" not in mailbox.impl.argnames:
                continue
            await mailbox.stop()
            impl = copy.copy(mailbox.impl)
            impl.function = timed(impl.function, impl.argnames.index("event"))
            mailbox.impl = impl
            mailbox.start()
        self.timing = True

    async def feed(self, kind: str, text: str) -> None:
        self.received = time.perf_counter()
        if kind == "ami":
            self.reader.feed_data(text.encode())
            await asyncio.sleep(0)  # the reader task takes it, as from a socket
        else:
            frame = ari.decode_event(text, self.gateway.reject)
            if frame is not None:
                self.gateway._channel_event(frame)

    async def read_ami(self) -> None:
        """The AMI connection's read loop: every block read, translated and published."""
        async for message in self.messages:
            if "Event" in message:
                self.gateway._publish_all(self.gateway.translator.translate(message))

    def latencies(self) -> list[float]:
        return [self.done[key] - got for key, (_, got) in self.sent.items() if key in self.done]


async def replay(
    records: list[tuple[str, str]], chunk: int, db: Path, *, timed: bool = False
) -> dict[str, Any]:
    plugin = ReplayPlugin()
    async with running_medlytt(SECTIONS, db_path=db, plugins=[("replay", plugin)]) as app:
        await wait_until(lambda: plugin.gateway.connected, timeout=10)
        feed = Replay(app, plugin.gateway)
        if timed:
            await feed.time_plugins()
        reading = asyncio.create_task(feed.read_ami())
        published = app.bus.published
        start = time.perf_counter()
        handed = 0
        for kind, text, count in reads(records):
            await feed.feed(kind, text)
            handed += count
            if handed >= chunk:
                await app.settle(timeout=600)
                handed = 0
        feed.reader.feed_eof()
        await reading
        await app.settle(timeout=600)
        assert app.journal is not None
        await app.journal.flush()
        elapsed = time.perf_counter() - start
        result = {
            "messages": len(records),
            "per_second": len(records) / elapsed,
            "events": app.bus.published - published,
            "rejected": feed.gateway.rejected,
            "dropped": sum(app.bus.dropped().values()),
            "plugins": [p.name for p in app.host.plugins()],
        }
        if timed:
            values = feed.latencies()
            result["latency_events"] = len(values)
            result["p50_ms"] = percentile(values, 50) * 1000
            result["p99_ms"] = percentile(values, 99) * 1000
        for gateway_task in list(feed.gateway._background):
            gateway_task.cancel()
    return result


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    records = load(args.fixture)[: args.limit]
    aris = [r for r in records if r[0] == "ari"]
    results: dict[str, Any] = {}
    best: dict[str, dict[str, Any]] = {}
    for n in range(args.repeat):  # floor and pipeline in turns: the same load on each
        got_floor = floor(records, 1)
        if "floor" not in results:
            results["floor"] = got_floor
        else:
            for key in ("mix_per_second", "ari_per_second", "ami_per_second"):
                results["floor"][key] = max(results["floor"][key], got_floor[key])
        for name, subset in (("mix", records), ("ari", aris)):
            got = await replay(subset, args.chunk, tmp / f"{name}-{n}.db")
            if name not in best or got["per_second"] > best[name]["per_second"]:
                best[name] = got
    results.update(best)
    results["latency"] = await replay(records, args.latency_chunk, tmp / "latency.db", timed=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of floor and pipeline; the best counts"
    )
    parser.add_argument("--chunk", type=int, default=1000, help="messages between drains")
    parser.add_argument("--latency-chunk", type=int, default=10, help="the same, timed run")
    parser.add_argument("--limit", type=int, help="only the first LIMIT messages")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    f, mix, only, lat = results["floor"], results["mix"], results["ari"], results["latency"]
    print(f"Python {platform.python_version()}; plugins: {', '.join(mix['plugins'])}")
    print(
        f"fixture: {f['ami_blocks']:,} AMI blocks + {f['ari_frames']:,} ARI frames; "
        f"{mix['events']:,} Medlytt events; rejected {mix['rejected']}, dropped {mix['dropped']}"
    )
    print("| messages/s | floor | Medlytt | ratio |")
    print("|---|---|---|---|")
    for label, floor_rate, got in (
        ("whole mix", f["mix_per_second"], mix["per_second"]),
        ("ARI part alone", f["ari_per_second"], only["per_second"]),
    ):
        print(f"| {label} | {floor_rate:,.0f} | {got:,.0f} | {got / floor_rate:.2f} |")
    print(f"(AMI split alone: {f['ami_per_second']:,.0f}/s)")
    print(
        f"receipt to last plugin ({lat['latency_events']:,} events, {args.latency_chunk} "
        f"messages at a time): p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
