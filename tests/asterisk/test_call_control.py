"""The call-control port over ARI, operation by operation, against a real Asterisk.

Monitoring, mystery calls and surveys exercise the port in their own tests; this one
covers what they do not use, and the typed errors: each operation once, each event it
should cause checked as the plugin receives it through ``medlytt_channel_event``.
The "phone" is the sandbox's supervisor extension: it answers and sends 2000 Hz.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from medlytt import (
    CallControlRefused,
    ChannelEntered,
    ChannelGone,
    ChannelLeft,
    ChannelNotFound,
    PlaybackFinished,
    TalkingStarted,
    hookimpl,
)
from medlytt.testing import running_medlytt, wait_until
from tones import tones

ROLE = "porttest"


class Watcher:
    """A plugin that claims ``porttest`` channels and keeps every channel event."""

    def __init__(self) -> None:
        self.events: list = []

    @hookimpl
    def medlytt_startup(self, app):
        for port in app.call_controls():
            port.claim(ROLE)

    @hookimpl
    def medlytt_channel_event(self, event):
        self.events.append(event)

    def of(self, kind: type, channel: str) -> list:
        return [e for e in self.events if isinstance(e, kind) and e.channel == channel]


async def test_every_port_operation_against_asterisk(asterisk_sandbox, tmp_path):
    watcher = Watcher()
    sections = {"asterisk": asterisk_sandbox.asterisk_section}
    plugins = [("watcher", watcher)]
    async with running_medlytt(sections, db_path=tmp_path / "m.db", plugins=plugins) as app:
        await wait_until(lambda: app.gateways[0].connected, timeout=15)
        port = app.call_control()
        tag = secrets.token_hex(3)
        a, b = f"medlytt-port-{tag}-a", f"medlytt-port-{tag}-b"
        bridge = f"medlytt-port-{tag}"

        # originate + expect_entry: the channel enters control with its role and args
        for channel in (a, b):
            entered = port.expect_entry(channel)
            await port.originate(
                f"Local/sup-port{tag}{channel[-1]}@supervisor/n",
                role=ROLE,
                args=["x", "y"],
                channel_id=channel,
                timeout=10,
            )
            event = await port.wait_entry(entered, channel, timeout=10)
            assert isinstance(event, ChannelEntered)
            assert (event.role, event.args, event.pbx) == (ROLE, ("x", "y"), "asterisk")
        assert await port.channel_exists(a)
        assert not await port.channel_exists(f"medlytt-port-{tag}-none")

        # variables
        await port.set_variable(a, "MEDLYTT_TEST", "hello")
        assert await port.get_variable(a, "MEDLYTT_TEST") == "hello"
        assert await port.get_variable(a, "MEDLYTT_UNSET") is None

        # answer: an answered channel in control may be answered again (idempotent)
        await port.answer(a)

        # ChannelGone: the Local channel's other half runs the dialplan, outside Stasis
        outside = next(
            c["id"]
            for c in asterisk_sandbox.ari().request("GET", "/channels")
            if c["name"].startswith(f"Local/sup-port{tag}a@supervisor-") and c["id"] != a
        )
        with pytest.raises(ChannelGone):
            await port.play(outside, "sound:beep", playback_id=f"{a}-outside")

        # talk detection: the phone sends a tone, so somebody "talks" on the channel
        await port.talk_detect(a)
        await wait_until(lambda: watcher.of(TalkingStarted, a), timeout=10)

        # bridges
        await port.create_bridge(bridge)
        await port.add_to_bridge(bridge, a, b)
        bridged = asterisk_sandbox.ari().request("GET", f"/bridges/{bridge}")["channels"]
        assert sorted(bridged) == sorted([a, b])
        await port.remove_from_bridge(bridge, b)
        bridged = asterisk_sandbox.ari().request("GET", f"/bridges/{bridge}")["channels"]
        assert bridged == [a]
        await port.destroy_bridge(bridge)
        await port.destroy_bridge(bridge)  # already gone: fine by default

        # play: PlaybackFinished comes back with our id
        await port.play(b, "sound:beep", playback_id=f"{b}-p1")
        await wait_until(lambda: watcher.of(PlaybackFinished, b), timeout=10)
        assert watcher.of(PlaybackFinished, b)[0].playback_id == f"{b}-p1"
        await port.stop_playback(f"{b}-p1")  # finished already: fine by default

        # record one side: what the channel hears from the phone, 2000 Hz
        recording = await port.record(b, name=f"{b}-rec", both_sides=False)
        await asyncio.sleep(1.2)
        audio = await recording.finish()
        assert audio is not None
        (tmp_path / "rec.wav").write_bytes(audio)
        assert tones(tmp_path / "rec.wav", [2000])[2000] > 300

        # typed errors
        with pytest.raises(ChannelNotFound):
            await port.hang_up(f"medlytt-port-{tag}-none")
        await port.hang_up(f"medlytt-port-{tag}-none", missing_ok=True)
        with pytest.raises(ChannelNotFound):
            await port.send_dtmf(f"medlytt-port-{tag}-none", "1")
        with pytest.raises(CallControlRefused):
            await port.originate("Nonsense/x", role=ROLE, channel_id=f"{bridge}-c", timeout=2)

        # hang up: ChannelLeft(destroyed) for both, nothing left
        await port.hang_up(a)
        await port.hang_up(b)
        await wait_until(
            lambda: all(
                any(e.destroyed for e in watcher.of(ChannelLeft, channel)) for channel in (a, b)
            ),
            timeout=10,
        )
        left = [
            c["id"]
            for c in asterisk_sandbox.ari().request("GET", "/channels")
            if c["id"].startswith(f"medlytt-port-{tag}")
        ]
        assert left == []
