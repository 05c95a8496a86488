"""The monitoring service's own rules, without a PBX (with one: tests/asterisk)."""

from __future__ import annotations

import asyncio
import logging


async def test_a_monitoring_stop_whose_recording_fails_still_removes_the_channels(medlytt):
    """Stopping must never leave a supervisor connected: a recording that cannot be
    fetched (the PBX refused) is logged and lost, the snoop, leg and bridge still go."""
    from medlytt import CallControlRefused
    from medlytt.plugins.monitoring.events import MonitorMode
    from medlytt.plugins.monitoring.service import ActiveSession

    removed = []

    class Snoop:
        async def remove(self):
            removed.append(True)

    class Lost:
        async def finish(self):
            raise CallControlRefused("fetch recording", "500 internal error")

    async with medlytt() as app:
        service = app.plugin_state["monitoring"]
        session = ActiveSession(
            "s1",
            "kari",
            "PJSIP/2001",
            "PJSIP/1001",
            "c1",
            MonitorMode.LISTEN,
            Snoop(),  # type: ignore[arg-type]
        )
        session.recording = Lost()  # type: ignore[assignment]
        service.sessions["s1"] = session
        await service.stop("s1", "stopped")
        assert removed == [True] and "s1" not in service.sessions


class BeepPort:
    """Just what :meth:`SnoopSession.beep` asks of a call-control port, and when."""

    pbx = "pbx"

    def __init__(self, finish_during_play=None):
        self.calls: list[str] = []
        self.played = asyncio.Event()
        self.finish_during_play = finish_during_play

    async def snoop(self, channel, **kwargs):
        self.calls.append(f"snoop {kwargs['snoop_id']}")

    async def play(self, channel, media, *, playback_id):
        self.calls.append(f"play {playback_id}")
        if self.finish_during_play is not None:
            self.finish_during_play(playback_id)
        self.played.set()

    async def hang_up(self, channel, *, missing_ok=False):
        self.calls.append(f"hang up {channel}")


def _finished(channel: str, playback_id: str):
    from medlytt import PlaybackFinished, utcnow

    return PlaybackFinished(at=utcnow(), pbx="pbx", channel=channel, playback_id=playback_id)


async def test_the_beeper_is_hung_up_only_once_its_tone_has_finished():
    """A loaded PBX may start the beep late: the beeper stays until the tone's own
    PlaybackFinished, however long after the tone's length that comes."""
    from medlytt.plugins.monitoring.snoop import SnoopSession

    port = BeepPort()
    snoop = SnoopSession(port, "s1", "PJSIP/2001-1")  # type: ignore[arg-type]
    beep = asyncio.create_task(snoop.beep(seconds=0.05))
    await asyncio.wait_for(port.played.wait(), 5)
    (played,) = [call.split()[1] for call in port.calls if call.startswith("play ")]
    beeper = played.removesuffix("-tone")
    assert snoop.on_channel_event(_finished(beeper, "medlytt-mon-other-beep-tone")) is None
    await asyncio.sleep(0.5)  # ten times the tone
    assert not beep.done() and f"hang up {beeper}" not in port.calls
    assert snoop.on_channel_event(_finished(beeper, played)) is None
    await asyncio.wait_for(beep, 5)
    assert port.calls == [f"snoop {beeper}", f"play {played}", f"hang up {beeper}"]


async def test_a_beep_that_ends_before_its_play_request_answers_is_not_waited_for(
    monkeypatch,
):
    """PlaybackFinished may overtake the answer to the play request."""
    from medlytt.plugins.monitoring import snoop as module

    monkeypatch.setattr(module, "BEEP_GRACE_SECONDS", 60.0)  # waiting it out fails below
    snoop: module.SnoopSession

    def finish(playback_id: str) -> None:
        snoop.on_channel_event(_finished("beeper", playback_id))

    port = BeepPort(finish_during_play=finish)
    snoop = module.SnoopSession(port, "s1", "PJSIP/2001-1")  # type: ignore[arg-type]
    await asyncio.wait_for(snoop.beep(seconds=0.05), 5)
    assert port.calls[-1] == "hang up medlytt-mon-s1-beep"


async def test_a_beep_whose_end_never_comes_is_hung_up_after_the_grace(monkeypatch, caplog):
    """Should Asterisk never report the tone's end, the beeper goes anyway, saying so."""
    from medlytt.plugins.monitoring import snoop as module

    monkeypatch.setattr(module, "BEEP_GRACE_SECONDS", 0.3)
    port = BeepPort()
    snoop = module.SnoopSession(port, "s1", "PJSIP/2001-1")  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger=module.__name__):
        await asyncio.wait_for(snoop.beep(seconds=0.05), 5)
    assert port.calls[-1] == "hang up medlytt-mon-s1-beep"
    assert "no end of the beep" in caplog.text
