"""Monitoring sessions: who monitors which call, in which mode, and their life cycle.

The service owns the sessions, turns requests into :class:`SnoopSession` operations,
ends sessions when the call or the supervisor goes away, and publishes the
``monitoring.*`` events (the live state and the audit trail follow from those).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medlytt import recordings
from medlytt.clock import utcnow
from medlytt.events import (
    MonitoringModeChanged,
    MonitoringStarted,
    MonitoringStopped,
    MonitorMode,
)
from medlytt.gateways.asterisk.recorder import ChannelRecorder

from .snoop import SnoopSession

if TYPE_CHECKING:
    from medlytt.app import Medlytt
    from medlytt.gateways.asterisk.gateway import AsteriskGateway

log = logging.getLogger(__name__)
SOURCE = "monitoring"
#: The Stasis roles of the channels a monitoring session creates (see snoop.py).
STASIS_ROLES = ("supervisor", "snoop", "beep", "recorder")


class MonitoringError(Exception):
    """A request that cannot be served; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class ActiveSession:
    session_id: str
    supervisor: str
    endpoint: str
    agent_id: str
    call_id: str
    mode: MonitorMode
    snoop: SnoopSession
    record: bool = False
    recorder: ChannelRecorder | None = None
    started: float = field(default_factory=time.monotonic)
    stopping: bool = False


class MonitoringService:
    """All monitoring sessions of one Medlytt."""

    def __init__(
        self, app: Medlytt, gateway: AsteriskGateway, answer_timeout: float, announce: str = "none"
    ) -> None:
        self.app = app
        self.announce = announce
        self.gateway = gateway
        self.answer_timeout = answer_timeout
        self.sessions: dict[str, ActiveSession] = {}
        self.started_total: dict[str, int] = {}
        gateway.ari_listeners.append(self.on_ari_event)
        gateway.stasis_roles.update(STASIS_ROLES)

    async def start(
        self,
        *,
        supervisor: str,
        endpoint: str,
        mode: MonitorMode,
        agent: str | None = None,
        call_id: str | None = None,
        record: bool = False,
    ) -> ActiveSession:
        """Start monitoring the call an agent is on (or a call by id)."""
        if not self.gateway.connected:
            raise MonitoringError(503, "not connected to Asterisk")
        if agent is not None:
            found = self.app.state.find_agent(agent)
            if found is None:
                raise MonitoringError(404, f"no agent {agent!r}")
            leg = self.gateway.agent_leg(found.agent_id)
            if leg is None:
                raise MonitoringError(409, f"agent {found.agent_id} is not on a call")
            call_id, channel = leg
            agent_id = found.agent_id
        elif call_id is not None:
            found_leg = self.gateway.call_leg(call_id)
            if found_leg is None:
                raise MonitoringError(409, f"call {call_id!r} is not connected to an agent")
            agent_id, channel = found_leg
        else:
            raise MonitoringError(422, "give either agent or call")
        session_id = secrets.token_hex(6)
        snoop = SnoopSession(self.gateway.ari, self.gateway.settings.app, session_id, channel)
        session = ActiveSession(
            session_id, supervisor, endpoint, agent_id, call_id, mode, snoop, record
        )
        self.sessions[session_id] = session
        try:
            if self.announce == "beep":
                await snoop.beep()
            await snoop.start(endpoint, mode, self.answer_timeout)
            if record:
                # A listen-only snoop of its own keeps the supervisor's voice out of the
                # recording whatever the mode, and survives mode changes.
                session.recorder = ChannelRecorder(self.gateway, channel, snoop.bridge_id)
                try:
                    await session.recorder.start()
                except BaseException:
                    await snoop.remove()
                    raise
        except BaseException:
            self.sessions.pop(session_id, None)
            raise
        self.started_total[mode.value] = self.started_total.get(mode.value, 0) + 1
        self.app.publish(
            MonitoringStarted(
                at=utcnow(),
                source=SOURCE,
                session_id=session_id,
                call_id=call_id,
                agent_id=agent_id,
                supervisor=supervisor,
                mode=mode,
                recording=record,
            )
        )
        return session

    def get(self, session_id: str) -> ActiveSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise MonitoringError(404, f"no active monitoring session {session_id!r}")
        return session

    async def change_mode(self, session_id: str, mode: MonitorMode) -> ActiveSession:
        session = self.get(session_id)
        if mode is session.mode:
            return session
        previous = session.mode
        await session.snoop.change_mode(mode)
        session.mode = mode
        self.app.publish(
            MonitoringModeChanged(
                at=utcnow(), source=SOURCE, session_id=session_id, mode=mode, previous_mode=previous
            )
        )
        return session

    async def stop(self, session_id: str, reason: str = "stopped") -> None:
        session = self.sessions.get(session_id)
        if session is None or session.stopping:
            return
        session.stopping = True
        try:
            audio = await session.recorder.finish() if session.recorder else None
            await session.snoop.remove()
            if audio:
                await self._store_recording(session, audio)
        finally:
            self.sessions.pop(session_id, None)
            self.app.publish(
                MonitoringStopped(
                    at=utcnow(),
                    source=SOURCE,
                    session_id=session_id,
                    reason=reason,
                    duration_seconds=time.monotonic() - session.started,
                )
            )

    async def _store_recording(self, session: ActiveSession, audio: bytes) -> None:
        await recordings.save(
            self.app,
            audio,
            source=SOURCE,
            call_id=session.call_id,
            agent_id=session.agent_id,
            session_id=session.session_id,
        )

    async def stop_all(self, reason: str) -> None:
        for session_id in list(self.sessions):
            await self.stop(session_id, reason)

    def on_ari_event(self, event: dict[str, Any]) -> None:
        for session in list(self.sessions.values()):
            reason = session.snoop.on_ari_event(event)
            if reason is not None:
                asyncio.get_running_loop().create_task(self.stop(session.session_id, reason))

    def describe(self, session: ActiveSession) -> dict[str, Any]:
        return {
            "id": session.session_id,
            "supervisor": session.supervisor,
            "endpoint": session.endpoint,
            "agent": session.agent_id,
            "call": session.call_id,
            "mode": session.mode.value,
            "seconds": round(time.monotonic() - session.started, 1),
        }
