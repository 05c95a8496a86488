"""The monitoring plugin's own events (registered with ``medlytt_event_types``).

Other plugins react to them by type tag (``@listens_to("monitoring.started")``) without
importing this plugin.
"""

from __future__ import annotations

import enum

from medlytt import Event


class MonitorMode(enum.StrEnum):
    """How a supervisor takes part in a monitored call."""

    LISTEN = "listen"  # nobody hears the supervisor
    WHISPER = "whisper"  # only the agent hears the supervisor
    BARGE = "barge"  # caller and agent hear the supervisor


class MonitoringStarted(Event, frozen=True, tag="monitoring.started"):
    """A supervisor started monitoring a call (``supervisor`` is the user's name)."""

    session_id: str
    call_id: str
    agent_id: str | None
    supervisor: str
    mode: MonitorMode
    recording: bool = False


class MonitoringModeChanged(Event, frozen=True, tag="monitoring.mode_changed"):
    """A supervisor switched mode within a session without leaving the call."""

    session_id: str
    mode: MonitorMode
    previous_mode: MonitorMode


class MonitoringStopped(Event, frozen=True, tag="monitoring.stopped"):
    """A monitoring session ended; ``reason`` says why (stopped, call ended, hung up)."""

    session_id: str
    reason: str
    duration_seconds: float


EVENT_TYPES: list[type[Event]] = [MonitoringStarted, MonitoringModeChanged, MonitoringStopped]
