"""The desk link over real ZeroMQ sockets on loopback: CURVE, listed keys, restarts.

A desk (:class:`DeskLink`, what ``medlytt desk`` runs) sends to a running Medlytt whose
``[desk]`` receiver listens on a free port.  Listed keys deliver, unlisted keys and desks
without CURVE are refused and counted, and a core stopped and started again while the desk
sends loses no event the desk's bounded queue could hold (those beyond it are counted).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from medlytt import HeadsetHook, HeadsetMute, utcnow
from medlytt.gateways.desk.keys import load_public_key, load_secret_key, make_key_pair
from medlytt.gateways.desk.link import DeskLink
from medlytt.gateways.desk.protocol import DeskEvent
from medlytt.gateways.softphone.events import SoftphoneCall
from medlytt.testing import TestMedlytt, running_medlytt, wait_until
from sample_plugins import recorder
from support import free_port

AGENT = "PJSIP/1001"


class Keys:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        _, self.core_secret, _ = make_key_pair(folder, "core")
        _, self.desk_secret, self.desk_public = make_key_pair(folder, "desk")
        _, self.stranger_secret, _ = make_key_pair(folder, "stranger")

    def link(self, endpoint: str, secret: Path | None = None, **options: Any) -> DeskLink:
        public, secret_key = load_secret_key(secret or self.desk_secret)
        options.setdefault("heartbeat_seconds", 0.2)
        options.setdefault("resend_seconds", 0.3)
        return DeskLink(
            endpoint,
            options.pop("agent", AGENT),
            public_key=public,
            secret_key=secret_key,
            core_key=load_public_key(self.folder / "core.key"),
            **options,
        )


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "keys")


def desk_section(keys: Keys, endpoint: str) -> dict[str, Any]:
    return {
        "desk": {
            "bind": endpoint,
            "secret_key_file": str(keys.core_secret),
            "allowed_keys": {keys.desk_public: AGENT},
            "heartbeat_seconds": 0.2,
        }
    }


@contextlib.asynccontextmanager
async def core(keys: Keys, endpoint: str, db: Path) -> AsyncIterator[TestMedlytt]:
    async with running_medlytt(
        desk_section(keys, endpoint), db_path=db, plugins=[("recorder", recorder)]
    ) as app:
        await wait_until(lambda: app.gateways and app.gateways[0].connected, what="desk up")
        yield app


@contextlib.asynccontextmanager
async def running(link: DeskLink) -> AsyncIterator[DeskLink]:
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def mute(n: int) -> DeskEvent:
    """Event number ``n``, known again by its device name."""
    return DeskEvent(kind="headset.mute", at=utcnow(), device=f"d{n}", muted=n % 2 == 0)


def desk_events(app: TestMedlytt) -> list[Any]:
    return [e for e in app.plugin_state.get("recorder", []) if e.source == "desk"]


def refused(app: TestMedlytt, reason: str) -> float:
    return app.metric("medlytt_desk_refused_total", {"reason": reason}) or 0.0


async def test_a_listed_desk_delivers_its_events_as_its_agents(keys: Keys, tmp_path: Path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    async with core(keys, endpoint, tmp_path / "m.db") as app, running(keys.link(endpoint)) as link:
        link.send(DeskEvent(kind="headset.hook", at=utcnow(), device="Jabra", off_hook=True))
        link.send(DeskEvent(kind="headset.mute", at=utcnow(), device="Jabra", muted=True))
        link.send(
            DeskEvent(
                kind="softphone.call",
                at=utcnow(),
                device="baresip",
                phone_call_id="c1",
                state="established",
                direction="incoming",
                peer="sip:5550100@127.0.0.1",
            )
        )
        await wait_until(lambda: len(desk_events(app)) == 3, what="three desk events")
        hook, muted, call = desk_events(app)
        assert isinstance(hook, HeadsetHook) and hook.off_hook and hook.agent_id == AGENT
        assert isinstance(muted, HeadsetMute) and muted.muted and muted.device == "Jabra"
        assert isinstance(call, SoftphoneCall) and call.state == "established"
        assert call.agent_id == AGENT and call.peer == "sip:5550100@127.0.0.1"
        await wait_until(lambda: link.queued == 0 and link.connected, what="all acked")
        assert link.acked == 3 and link.dropped == 0
        assert app.metric("medlytt_desk_messages_total", {"result": "delivered"}) == 3
        assert app.metric("medlytt_desk_connected", {"agent": AGENT}) == 1
        assert refused(app, "unknown_key") == refused(app, "no_curve") == 0


async def test_an_unlisted_key_and_a_desk_without_curve_are_refused_and_counted(
    keys: Keys, tmp_path: Path
):
    """One at a time, so each refusal is counted for the desk that caused it.  A desk
    without CURVE fails the handshake: libzmq reports it as a mechanism mismatch
    (``no_curve``) or, now and then, without detail (``handshake``); either way it is
    refused and counted, never let in."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    async with core(keys, endpoint, tmp_path / "m.db") as app:
        plain = keys.link(endpoint, curve=False)
        async with running(plain):
            plain.send(mute(2))
            await wait_until(
                lambda: refused(app, "no_curve") + refused(app, "handshake") >= 1,
                what="the desk without CURVE counted",
            )
            await asyncio.sleep(0.5)  # time enough to have delivered, had it been let in
            assert plain.acked == 0 and plain.queued == 1  # kept: nothing acknowledged it
        assert refused(app, "unknown_key") == 0
        stranger = keys.link(endpoint, keys.stranger_secret)
        async with running(stranger):
            stranger.send(mute(1))
            await wait_until(lambda: refused(app, "unknown_key") >= 1, what="unknown key counted")
            await asyncio.sleep(0.5)
            assert stranger.acked == 0 and not stranger.connected and stranger.queued == 1
        assert desk_events(app) == []
        assert app.metric("medlytt_desk_messages_total", {"result": "delivered"}) == 0


async def test_a_desk_claiming_another_agent_is_told_why_it_is_refused(keys: Keys, tmp_path: Path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    claims_another = keys.link(endpoint, agent="PJSIP/2001")
    async with core(keys, endpoint, tmp_path / "m.db") as app, running(claims_another) as link:
        link.send(mute(1))
        await wait_until(lambda: link.refused, what="a refusal")
        assert "belongs to agent 'PJSIP/1001', not 'PJSIP/2001'" in str(link.refused)
        assert desk_events(app) == [] and refused(app, "agent_mismatch") >= 1


async def test_a_core_restarted_while_the_desk_sends_loses_and_repeats_nothing(
    keys: Keys, tmp_path: Path
):
    endpoint, db = f"tcp://127.0.0.1:{free_port()}", tmp_path / "m.db"
    received: list[str] = []
    sent = 0

    async def keep_sending(link: DeskLink, stop: asyncio.Event) -> None:
        nonlocal sent
        while not stop.is_set():
            link.send(mute(sent))
            sent += 1
            await asyncio.sleep(0.005)

    async with running(keys.link(endpoint, queue_size=10_000)) as link:
        stop = asyncio.Event()
        sender = asyncio.create_task(keep_sending(link, stop))
        for _ in range(3):  # up, then down while the desk keeps sending, three times
            acked = link.acked
            async with core(keys, endpoint, db) as app:
                await wait_until(lambda a=acked: link.acked > a, what="the desk heard again")
                await asyncio.sleep(0.2)
            received += [e.device for e in desk_events(app)]  # all it published, once stopped
            await asyncio.sleep(0.3)
        stop.set()
        await sender
        async with core(keys, endpoint, db) as app:
            await wait_until(lambda: link.queued == 0, timeout=15, what="the queue emptied")
        received += [e.device for e in desk_events(app)]
    assert link.dropped == 0
    assert received == [f"d{n}" for n in range(sent)]  # each once, in order


async def test_beyond_its_bound_the_desk_drops_the_oldest_and_counts_them(
    keys: Keys, tmp_path: Path
):
    endpoint, db = f"tcp://127.0.0.1:{free_port()}", tmp_path / "m.db"
    async with running(keys.link(endpoint, queue_size=20)) as link:
        async with core(keys, endpoint, db) as app:
            for n in range(5):
                link.send(mute(n))
            await wait_until(lambda: link.acked == 5, what="first five acked")
            before = [e.device for e in desk_events(app)]
        for n in range(5, 35):  # the core is down: 30 events for a queue of 20
            link.send(mute(n))
        assert link.queued == 20 and link.dropped == 10
        async with core(keys, endpoint, db) as app:
            await wait_until(lambda: link.queued == 0, what="the queue emptied")
            after = [e.device for e in desk_events(app)]
            await wait_until(
                lambda: app.metric("medlytt_desk_queue_dropped_total", {"agent": AGENT}) == 10,
                what="the desk's drops reported",
            )
    assert before == [f"d{n}" for n in range(5)]
    assert after == [f"d{n}" for n in range(15, 35)]  # the ten oldest went, counted
