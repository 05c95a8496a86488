"""The monitoring service's own rules, without a PBX (with one: tests/asterisk)."""

from __future__ import annotations


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
