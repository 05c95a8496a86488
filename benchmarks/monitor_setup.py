"""Monitoring set-up latency: POST /api/monitor until the supervisor is in the snoop bridge.

Each round places one support call in a fresh sandbox Asterisk and, on that call,
measures two set-ups in alternating order (so both share the same conditions):

* **Medlytt**: ``POST /api/monitor`` over a real loopback HTTP hop to Medlytt running
  in-process, until its ``201`` (the handler answers only once the supervisor's leg is in
  the bridge with the snoop; checked afterwards with ``GET /bridges/{id}``), then
  ``DELETE /api/monitor/{id}``.
* **Floor**: the same ARI operations issued directly by a minimal aiohttp client (own
  Stasis app ``bench-floor``, its WebSocket opened beforehand): ``POST /bridges``,
  ``POST /channels/{agent}/snoop``, wait for the snoop's ``StasisStart``, ``addChannel``
  snoop, ``POST /channels`` (originate the supervisor into the app), wait for its
  ``StasisStart``, ``addChannel`` supervisor; timed from the first request to the last
  response.  With ``--floor concurrent`` the floor asks for bridge, snoop and supervisor
  leg at once and adds each channel as soon as it and the bridge are there, as Medlytt
  does since issue 18 (plugins/monitoring/snoop.py): the like-for-like floor, whose
  ratio shows what Medlytt itself adds (HTTP hop, token, audit row, its event handling).

The supervisor's phone is the sandbox's ``Local/sup-NAME@supervisor/n`` (answers at once).
Needs root (the sandbox chroots Asterisk). Goal (issue 18): Medlytt's p50 within 1.2x the floor.

    .venv/bin/python benchmarks/monitor_setup.py [--sessions 50] [--instance bench-monitor]
        [--floor sequential|concurrent]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import math
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from bench_sandbox import free_tcp_port, in_sandbox
from medlytt import auth
from medlytt.gateways.asterisk.sandbox import (
    AsteriskSandbox,
    place_call,
)
from medlytt.testing import running_medlytt, wait_until
from medlytt.web import build_web_app, plugin_routes

AGENTS = ("Local/agent1@agents/n", "Local/agent2@agents/n")
FLOOR_APP = "bench-floor"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Floor:
    """The minimal ARI client: one keep-alive HTTP session and one event WebSocket."""

    def __init__(self, ari_url: str, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.base = f"{ari_url}/ari"
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"})
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await self.http.ws_connect(
            f"{self.base}/events", params={"app": FLOOR_APP, "subscribeAll": "false"}
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            event = msg.json()
            if event.get("type") == "StasisStart":
                fut = self.waiting.pop(event["channel"]["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    async def call(self, method: str, path: str, **params: Any) -> Any:
        async with self.http.request(method, self.base + path, params=params or None) as resp:
            body = await resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"ARI {method} {path}: {resp.status} {body[:300]!r}")
            return await resp.json() if body else None

    async def setup(self, agent_channel: str, name: str) -> float:
        """Bridge + snoop + supervisor leg, as Medlytt does it; return seconds taken."""
        bridge, snoop, sup = f"{name}", f"{name}-snoop", f"{name}-sup"
        loop = asyncio.get_running_loop()
        snooping, answered = loop.create_future(), loop.create_future()
        self.waiting[snoop], self.waiting[sup] = snooping, answered
        start = time.perf_counter()
        await self.call("POST", "/bridges", type="mixing", bridgeId=bridge, name=bridge)
        await self.call(
            "POST",
            f"/channels/{agent_channel}/snoop",
            spy="both",
            whisper="none",
            app=FLOOR_APP,
            snoopId=snoop,
        )
        # The snoop enters Stasis from its own thread after the response: adding it to the
        # bridge before its StasisStart fails with 422 "Channel not in Stasis application".
        await asyncio.wait_for(snooping, 10)
        await self.call("POST", f"/bridges/{bridge}/addChannel", channel=snoop)
        await self.call(
            "POST",
            "/channels",
            endpoint=f"Local/sup-{name}@supervisor/n",
            app=FLOOR_APP,
            channelId=sup,
            callerId="floor",
            timeout="30",
        )
        await asyncio.wait_for(answered, 30)
        await self.call("POST", f"/bridges/{bridge}/addChannel", channel=sup)
        return time.perf_counter() - start

    async def setup_concurrent(self, agent_channel: str, name: str) -> float:
        """The same operations, asked for at once; each channel joins when it can."""
        bridge, snoop, sup = f"{name}", f"{name}-snoop", f"{name}-sup"
        loop = asyncio.get_running_loop()
        snooping, answered = loop.create_future(), loop.create_future()
        self.waiting[snoop], self.waiting[sup] = snooping, answered
        start = time.perf_counter()
        made = loop.create_future()  # the bridge

        async def snoop_in() -> None:
            await self.call(
                "POST",
                f"/channels/{agent_channel}/snoop",
                spy="both",
                whisper="none",
                app=FLOOR_APP,
                snoopId=snoop,
            )
            await asyncio.wait_for(snooping, 10)
            await made
            await self.call("POST", f"/bridges/{bridge}/addChannel", channel=snoop)

        async def supervisor_in() -> None:
            await self.call(
                "POST",
                "/channels",
                endpoint=f"Local/sup-{name}@supervisor/n",
                app=FLOOR_APP,
                channelId=sup,
                callerId="floor",
                timeout="30",
            )
            await asyncio.wait_for(answered, 30)
            await made
            await self.call("POST", f"/bridges/{bridge}/addChannel", channel=sup)

        async def bridge_made() -> None:
            await self.call("POST", "/bridges", type="mixing", bridgeId=bridge, name=bridge)
            made.set_result(None)

        # In Medlytt's order: the supervisor answering takes longest, so it is asked first.
        await asyncio.gather(supervisor_in(), snoop_in(), bridge_made())
        return time.perf_counter() - start

    async def teardown(self, name: str) -> None:
        for channel in (f"{name}-sup", f"{name}-snoop"):
            with contextlib.suppress(RuntimeError):
                await self.call("DELETE", f"/channels/{channel}")
        with contextlib.suppress(RuntimeError):
            await self.call("DELETE", f"/bridges/{name}")

    async def bridged(self, bridge: str) -> int:
        return len((await self.call("GET", f"/bridges/{bridge}"))["channels"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        await self.http.close()


async def medlytt_session(api: aiohttp.ClientSession, floor: Floor, agent: str, sup: str) -> float:
    """POST /api/monitor until its 201; check the bridge; stop the session."""
    start = time.perf_counter()
    body = {"agent": agent, "mode": "listen", "supervisor": f"Local/sup-{sup}@supervisor/n"}
    async with api.post("/api/monitor", json=body) as resp:
        answer = await resp.json()
        elapsed = time.perf_counter() - start
    if resp.status != 201:
        raise RuntimeError(f"POST /api/monitor: {resp.status} {answer}")
    in_bridge = await floor.bridged(f"medlytt-mon-{answer['id']}")
    if in_bridge != 2:
        raise RuntimeError(f"Medlytt bridge holds {in_bridge} channels, not 2")
    async with api.delete(f"/api/monitor/{answer['id']}") as resp:
        if resp.status != 204:
            raise RuntimeError(f"DELETE /api/monitor: {resp.status}")
    return elapsed


async def floor_session(floor: Floor, channel: str, name: str, concurrent: bool) -> float:
    """The floor's set-up on the agent channel; check the bridge; remove everything."""
    try:
        setup = floor.setup_concurrent if concurrent else floor.setup
        elapsed = await setup(channel, name)
        in_bridge = await floor.bridged(name)
        if in_bridge != 2:
            raise RuntimeError(f"floor bridge holds {in_bridge} channels, not 2")
        return elapsed
    finally:
        await floor.teardown(name)


def agent_on(gateway: Any, callid: str) -> tuple[str, str] | None:
    """(agent id, agent channel) of the agent who answered the sandbox call ``callid``."""
    for agent_id in AGENTS:
        found = gateway.control.agent_leg(agent_id)
        if found and found.call_id == f"phone-{callid}":
            return agent_id, found.channel
    return None


async def run(
    sandbox: AsteriskSandbox, sessions: int, warmup: int, tmp: Path, concurrent: bool
) -> dict[str, Any]:
    section = sandbox.asterisk_section
    async with running_medlytt({"asterisk": section}, db_path=tmp / "bench.db") as app:
        await wait_until(lambda: app.gateways[0].connected, timeout=15)
        gateway = app.gateways[0]

        def create(db: Any) -> str:
            auth.add_user(db, "bench-sup", "supervisor")
            return auth.create_token(db, "bench-sup")[1]

        token = app.storage.run_sync(create)
        runner = web.AppRunner(build_web_app(app, await plugin_routes(app)), access_log=None)
        await runner.setup()
        port = free_tcp_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        api = aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        )
        floor = Floor(section["ari_url"], section["ari_user"], section["ari_password"])
        await floor.open()
        info = await floor.call("GET", "/asterisk/info")
        medlytt_s: list[float] = []
        floor_s: list[float] = []
        try:
            for i in range(warmup + sessions):
                callid = await asyncio.to_thread(place_call, sandbox, "support", ring=0.2, talk=60)
                agent, channel = await wait_until(
                    functools.partial(agent_on, gateway, callid), timeout=15
                )
                if i % 2 == 0:
                    m = await medlytt_session(api, floor, agent, f"bm{i}")
                    f = await floor_session(floor, channel, f"bf{i}-{os.getpid()}", concurrent)
                else:
                    f = await floor_session(floor, channel, f"bf{i}-{os.getpid()}", concurrent)
                    m = await medlytt_session(api, floor, agent, f"bm{i}")
                if i >= warmup:
                    medlytt_s.append(m)
                    floor_s.append(f)
                print(
                    f"round {i + 1 - warmup:>3}{' (warm-up)' if i < warmup else ''}: "
                    f"medlytt {m * 1000:7.1f} ms  floor {f * 1000:7.1f} ms  ({agent})",
                    flush=True,
                )
                await asyncio.to_thread(
                    sandbox.ari().request, "DELETE", f"/channels/phone-{callid}"
                )
                deadline = time.monotonic() + 20
                while await floor.call("GET", "/channels"):
                    if time.monotonic() > deadline:
                        raise RuntimeError("channels still up 20 s after hanging up the caller")
                    await asyncio.sleep(0.05)
                await wait_until(lambda: not any(gateway.control.agent_leg(a) for a in AGENTS), 10)
        finally:
            await floor.close()
            await api.close()
            await runner.cleanup()
    return {"medlytt": medlytt_s, "floor": floor_s, "version": info["system"]["version"]}


def summary(values: list[float]) -> tuple[float, float, float]:
    return (
        statistics.median(values) * 1000,
        percentile(values, 95) * 1000,
        statistics.fmean(values) * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50, help="measured sessions of each kind")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--instance", default="bench-monitor", help="sandbox instance name")
    parser.add_argument(
        "--floor",
        choices=("sequential", "concurrent"),
        default="sequential",
        help="the floor's ARI operations one after the other, or at once as Medlytt's",
    )
    args = parser.parse_args()
    concurrent = args.floor == "concurrent"
    result = in_sandbox(
        args.instance,
        lambda sandbox, tmp: run(sandbox, args.sessions, args.warmup, tmp, concurrent),
    )
    m50, m95, mmean = summary(result["medlytt"])
    f50, f95, fmean = summary(result["floor"])
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    print()
    print(
        f"Asterisk {result['version']}, {len(result['medlytt'])} sessions each "
        f"({args.warmup} warm-up round excluded), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {when}"
    )
    print("| set-up time, ms | p50 | p95 | mean |")
    print("|---|---|---|---|")
    for label, (p50, p95, mean) in (
        (f"floor ({args.floor}): same ARI operations, minimal aiohttp client", (f50, f95, fmean)),
        ("Medlytt: POST /api/monitor until 201", (m50, m95, mmean)),
    ):
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {mean:.1f} |")
    ratio = m50 / f50
    verdict = "met" if ratio <= 1.2 else "NOT met"
    print(f"ratio p50 Medlytt / p50 floor: {ratio:.2f} (goal <= 1.2: {verdict})")


if __name__ == "__main__":
    main()
