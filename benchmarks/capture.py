"""Record the raw AMI text and ARI JSON of many sandbox calls, for benchmarks/ingest.py.

Starts a sandbox Asterisk on free ports and a Medlytt connected to it in this process
(every installed plugin; mystery calls and a one-question survey on ``sales`` configured
as ``medlytt sandbox start`` prints them), then places rounds of calls of every kind the
sandbox can make:

* answered, with talk detection on both legs and tones that talk in turns (every other
  one put on hold for a second), on ``support``;
* abandoned (nobody answers, the caller hangs up after 1 s) and timed out (``Queue()``'s
  own 1 s timeout) on ``sales``;
* every third round: a monitoring session (``POST /api/monitor`` in listen mode, a second
  later ``DELETE``) on an answered call; a mystery call into ``support``
  (``POST /api/mystery-calls``); a survey caller on ``sales`` who presses nothing (the
  survey times out).

What Medlytt's gateway reads is recorded as it reads it: the AMI bytes its stream parser
reads (``ami.read_messages``), cut into blocks, every ARI WebSocket frame
(``ari.decode_event``), each with its arrival time, as JSON lines
``{"t": seconds, "ami": "Key: Value\\r\\n...\\r\\n\\r\\n"}`` or ``{"t": ..., "ari": "{...}"}``
into a gzip file.  The sandbox has no transfer in its dialplan, so no transfer is recorded.

Needs root (the sandbox chroots Asterisk).  The fixture in the repository was made with::

    sudo .venv/bin/python benchmarks/capture.py --rounds 16 \\
        --out benchmarks/fixtures/sandbox-calls.jsonl.gz
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from bench_sandbox import free_tcp_port, in_sandbox
from medlytt import auth
from medlytt.gateways.asterisk import ami, ari
from medlytt.gateways.asterisk.ari import AriClient
from medlytt.gateways.asterisk.sandbox import (
    AsteriskSandbox,
    place_call,
)
from medlytt.gateways.asterisk.sandbox.config import QUEUE_NUMBERS
from medlytt.testing import TestMedlytt, running_medlytt, wait_until
from medlytt.web import build_web_app, plugin_routes

AGENTS = ("Local/agent1@agents/n", "Local/agent2@agents/n")
CAPTURE_APP = "bench-capture"
CALLER_TONES = "!0/300,!440/700,!0/900,!440/500,0"
AGENT_TONES = "!600/300,!0/900,!600/600,0"


class Recorder:
    """What the gateway reads, in order, with the time it was read."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.records: list[dict[str, Any]] = []
        self._pending = b""

    def ami_bytes(self, chunk: bytes) -> None:
        """Bytes as the AMI reader got them, recorded block by block."""
        self._pending += chunk
        *blocks, self._pending = self._pending.split(b"\r\n\r\n")
        now = time.monotonic() - self.began
        for block in blocks:
            text = (block + b"\r\n\r\n").decode(errors="replace")
            self.records.append({"t": now, "ami": text})

    def ari_frame(self, text: str) -> None:
        self.records.append({"t": time.monotonic() - self.began, "ari": text})

    def install(self) -> Callable[[], None]:
        """Wrap the gateway's AMI line reader and ARI frame decoder; returns the undo."""
        read_messages, decode = ami.read_messages, ari.decode_event
        recorder = self

        class RecordingReader:
            """The AMI connection's stream reader, noting every chunk read from it."""

            def __init__(self, reader: asyncio.StreamReader) -> None:
                self.reader = reader
                self._limit = getattr(reader, "_limit", 1 << 16)

            async def read(self, n: int = -1) -> bytes:
                chunk = await self.reader.read(n)
                recorder.ami_bytes(chunk)
                return chunk

        def recording_read_messages(reader: asyncio.StreamReader, reject: Any, **kw: Any) -> Any:
            return read_messages(RecordingReader(reader), reject, **kw)

        def recording_decode(text: str, reject: Any) -> Any:
            self.ari_frame(text)
            return decode(text, reject)

        ami.read_messages = recording_read_messages
        ari.decode_event = recording_decode

        def undo() -> None:
            ami.read_messages = read_messages
            ari.decode_event = decode

        return undo


def sections(sandbox: AsteriskSandbox) -> dict[str, Any]:
    numbers = dict(QUEUE_NUMBERS)
    return {
        "asterisk": sandbox.asterisk_section,
        "mystery_calls": {
            "dial": "Local/{number}@phones/n",
            "queue_numbers": numbers,
            "max_per_hour_per_target": 1000,  # a capture calls the same queue often
        },
        "surveys": {
            "questions": [{"id": "satisfaction", "prompt": "sound:beep", "keys": "12345"}],
            "queues": {"sales": {"every": 1}},
            "answer_timeout_seconds": 1,
        },
    }


async def idle(sandbox: AsteriskSandbox, app: TestMedlytt) -> None:
    """Wait until no call is up any more (so the next round starts from a quiet PBX)."""

    def quiet() -> bool:
        return not sandbox.ari().request("GET", "/channels") and not app.state.calls

    await wait_until(quiet, timeout=60, interval=0.2, what="no channel up")


def agent_on(app: TestMedlytt, callid: str) -> str | None:
    control = app.gateways[0].control
    for agent_id in AGENTS:
        found = control.agent_leg(agent_id)
        if found and found.call_id == f"phone-{callid}":
            return agent_id
    return None


async def monitoring_session(
    app: TestMedlytt, sandbox: AsteriskSandbox, api: aiohttp.ClientSession, i: int
) -> None:
    callid = await asyncio.to_thread(place_call, sandbox, "support", ring=0.2, talk=4)
    agent = await wait_until(lambda: agent_on(app, callid), timeout=15, what="agent answered")
    body = {"agent": agent, "mode": "listen", "supervisor": f"Local/sup-cap{i}@supervisor/n"}
    async with api.post("/api/monitor", json=body) as resp:
        session = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"POST /api/monitor: {resp.status} {session}")
    await asyncio.sleep(1)
    async with api.delete(f"/api/monitor/{session['id']}") as resp:
        if resp.status != 204:
            raise RuntimeError(f"DELETE /api/monitor: {resp.status}")


async def mystery_call(api: aiohttp.ClientSession) -> None:
    body = {"queue": "support", "talk_seconds": 1.5}
    async with api.post("/api/mystery-calls", json=body) as resp:
        if resp.status != 201:
            raise RuntimeError(f"POST /api/mystery-calls: {resp.status} {await resp.text()}")


async def survey_caller(client: AriClient, i: int) -> None:
    """A caller on sales whose handset sits in our own Stasis app and presses nothing."""
    await client.request(
        "POST",
        "/channels",
        params={
            "endpoint": f"Local/{QUEUE_NUMBERS['sales']}@phones/n",
            "app": CAPTURE_APP,
            "channelId": f"capsurvey-{os.getpid()}-{i}-phone",
            "otherChannelId": f"capsurvey-{os.getpid()}-{i}-line",
            "timeout": 30,
        },
    )


async def rounds(sandbox: AsteriskSandbox, count: int, tmp: Path) -> Recorder:
    recorder = Recorder()
    undo = recorder.install()
    try:
        async with running_medlytt(sections(sandbox), db_path=tmp / "capture.db") as app:
            await wait_until(lambda: app.gateways[0].connected, timeout=15)

            def create(db: Any) -> str:
                auth.add_user(db, "capture-admin", "admin")
                return auth.create_token(db, "capture-admin")[1]

            token = app.storage.run_sync(create)
            runner = web.AppRunner(build_web_app(app, await plugin_routes(app)), access_log=None)
            await runner.setup()
            port = free_tcp_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            api = aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            )
            section = sandbox.asterisk_section
            caller = AriClient(section["ari_url"], section["ari_user"], section["ari_password"])
            ws = await caller.open_events([CAPTURE_APP], subscribe_all=False)
            drain = asyncio.create_task(_drain(ws))
            try:
                for i in range(count):
                    for k in range(2):
                        await asyncio.to_thread(
                            place_call,
                            sandbox,
                            "support",
                            ring=0.3,
                            talk=2.5,
                            talk_window_ms=300,
                            caller_tones=CALLER_TONES,
                            agent_tones=AGENT_TONES,
                            hold=(0.5, 1.0) if (i + k) % 2 else None,
                        )
                    await asyncio.to_thread(
                        place_call, sandbox, "sales", answer=False, patience=1.0
                    )
                    await asyncio.to_thread(place_call, sandbox, "sales", answer=False, max_wait=1)
                    if i % 3 == 0:
                        await monitoring_session(app, sandbox, api, i)
                        await mystery_call(api)
                        await survey_caller(caller, i)
                    await idle(sandbox, app)
                    print(f"round {i + 1}/{count}: {len(recorder.records)} messages", flush=True)
            finally:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain
                await ws.close()
                await caller.close()
                await api.close()
                await runner.cleanup()
    finally:
        undo()
    return recorder


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/fixtures/sandbox-calls.jsonl.gz")
    )
    parser.add_argument("--instance", default="bench-capture", help="sandbox instance name")
    args = parser.parse_args()
    recorder = in_sandbox(args.instance, lambda sandbox, tmp: rounds(sandbox, args.rounds, tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as out:
        for record in recorder.records:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    kinds = {"ami": 0, "ari": 0}
    for record in recorder.records:
        kinds["ami" if "ami" in record else "ari"] += 1
    print(
        f"{args.out}: {kinds['ami']} AMI blocks, {kinds['ari']} ARI frames, "
        f"{args.out.stat().st_size:,} bytes"
    )


if __name__ == "__main__":
    main()
