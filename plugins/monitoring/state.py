"""The monitoring plugin's slot of the live state: who monitors which call right now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from medlytt import Event, StateSlot

from .events import MonitoringModeChanged, MonitoringStarted, MonitoringStopped, MonitorMode


class MonitorSession(msgspec.Struct, kw_only=True):
    """A supervisor listening to, whispering in or barging into a call."""

    session_id: str
    call_id: str
    agent_id: str | None
    supervisor: str
    mode: MonitorMode
    started_at: datetime
    recording: bool = False


class MonitoringState(StateSlot):
    """Monitoring sessions in progress, from the ``monitoring.*`` events."""

    follows = (MonitoringStarted, MonitoringModeChanged, MonitoringStopped)

    def __init__(self) -> None:
        self.sessions: dict[str, MonitorSession] = {}

    def apply(self, event: Event) -> None:
        match event:
            case MonitoringStarted():
                self.sessions[event.session_id] = MonitorSession(
                    session_id=event.session_id,
                    call_id=event.call_id,
                    agent_id=event.agent_id,
                    supervisor=event.supervisor,
                    mode=event.mode,
                    started_at=event.at,
                    recording=event.recording,
                )
            case MonitoringModeChanged():
                session = self.sessions.get(event.session_id)
                if session is not None:
                    session.mode = event.mode
            case MonitoringStopped():
                self.sessions.pop(event.session_id, None)

    def snapshot(self) -> Any:
        return {"sessions": msgspec.to_builtins(list(self.sessions.values()))}
