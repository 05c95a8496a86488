"""Monitoring sessions: who monitors which call, in which mode, and their life cycle.

The service owns the sessions, turns requests into :class:`SnoopSession` operations on
the call-control port, ends sessions when the call or the supervisor goes away, writes
the audit trail *where each action happens* (before the API answers, whatever the
plugin's event mailbox does) and publishes the ``monitoring.*`` events.

Other plugins reach it as ``app.service("monitoring")`` and call
:meth:`MonitoringService.start_for_user`, which applies the same authorisation as the
API (a mystery call listened to live on behalf of the user who placed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from medlytt import (
    AgentLeg,
    CallControl,
    CallControlError,
    Capability,
    ChannelEvent,
    Medlytt,
    Recording,
    actor_named,
    may_monitor,
    save_recording,
    utcnow,
)

from . import store
from .events import MonitoringModeChanged, MonitoringStarted, MonitoringStopped, MonitorMode
from .snoop import SnoopSession

log = logging.getLogger(__name__)
SOURCE = "monitoring"
#: The roles of the channels a monitoring session creates (see snoop.py).
ROLES = ("supervisor", "snoop", "beep")
#: What monitoring needs of a gateway's call control.
NEEDS = (Capability.CALL_LOOKUP, Capability.SNOOP, Capability.BRIDGE, Capability.ORIGINATE)


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
    recording: Recording | None = None
    started: float = field(default_factory=time.monotonic)
    stopping: bool = False
    #: Whether the "started" audit row was written (unresolved while it is being written).
    audited: asyncio.Future[bool] | None = None


class MonitoringService:
    """All monitoring sessions of one Medlytt."""

    def __init__(self, app: Medlytt, answer_timeout: float, announce: str = "none") -> None:
        self.app = app
        self.announce = announce
        self.answer_timeout = answer_timeout
        self.sessions: dict[str, ActiveSession] = {}
        self.started_total: dict[str, int] = {}
        #: "stopped" audit rows not written yet (the database was locked): written, in
        #: order, before any later row, by a retry every second until they are.
        self.unwritten: list[dict[str, Any]] = []
        self._retrying: asyncio.Task[None] | None = None
        #: Sessions being stopped because of an event (awaited at shutdown).
        self._stopping: set[asyncio.Task[None]] = set()

    def claim_roles(self) -> None:
        """Take the channels of monitoring's roles on every gateway with call control."""
        for port in self.app.call_controls():
            port.claim(*ROLES)

    def _find_leg(self, agent: str | None, call_id: str | None) -> tuple[CallControl, AgentLeg]:
        ports = [p for p in self.app.call_controls() if set(NEEDS) <= p.capabilities]
        if not ports:
            self.app.call_control(*NEEDS, feature="monitoring")  # raises, naming what lacks
        if agent is not None:
            found = self.app.state.find_agent(agent)
            if found is None:
                raise MonitoringError(404, f"no agent {agent!r}")
            for port in ports:
                leg = port.agent_leg(found.agent_id)
                if leg is not None:
                    return port, leg
            raise MonitoringError(409, f"agent {found.agent_id} is not on a call")
        if call_id is not None:
            for port in ports:
                leg = port.call_leg(call_id)
                if leg is not None:
                    return port, leg
            raise MonitoringError(409, f"call {call_id!r} is not connected to an agent")
        raise MonitoringError(422, "give either agent or call")

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
        port, leg = self._find_leg(agent, call_id)
        port.require(*NEEDS, feature="monitoring")
        session_id = secrets.token_hex(6)
        snoop = SnoopSession(port, session_id, leg.channel)
        session = ActiveSession(
            session_id, supervisor, endpoint, leg.agent_id, leg.call_id, mode, snoop, record
        )
        self.sessions[session_id] = session
        try:
            if self.announce == "beep":
                await snoop.beep()
            await snoop.start(endpoint, mode, self.answer_timeout)
            if record:
                # A listen-only snoop of its own keeps the supervisor's voice out of the
                # recording whatever the mode, and survives mode changes.
                try:
                    session.recording = await port.record(leg.channel, name=snoop.bridge_id)
                except BaseException:
                    await snoop.remove()
                    raise
        except BaseException:
            self.sessions.pop(session_id, None)
            raise
        event = MonitoringStarted(
            at=utcnow(),
            source=SOURCE,
            session_id=session_id,
            call_id=leg.call_id,
            agent_id=leg.agent_id,
            supervisor=supervisor,
            mode=mode,
            recording=record,
        )
        session.audited = asyncio.get_running_loop().create_future()
        try:
            await self._audit(
                session,
                event.at.isoformat(),
                {"action": "started", "mode": mode.value, "recording": int(record)},
            )
        except Exception as exc:
            # Nobody listens without a row in the audit trail: undo the session.
            session.audited.set_result(False)
            self.sessions.pop(session_id, None)
            if not session.stopping:
                session.stopping = True
                await self._tear_down(session)
            log.error("monitoring session %s undone: audit row not written: %s", session_id, exc)
            raise MonitoringError(
                503, f"monitoring not started: the audit trail could not be written ({exc})"
            ) from exc
        session.audited.set_result(True)
        self.started_total[mode.value] = self.started_total.get(mode.value, 0) + 1
        self.app.publish(event)
        return session

    async def _tear_down(self, session: ActiveSession) -> None:
        """Remove a session's PBX objects; its recording is dropped unsaved."""
        try:
            if session.recording is not None:
                with contextlib.suppress(CallControlError):
                    await session.recording.finish()
        finally:
            await session.snoop.remove()

    async def start_for_user(
        self, user: str, *, endpoint: str, call_id: str, mode: MonitorMode = MonitorMode.LISTEN
    ) -> ActiveSession:
        """Monitor a call on behalf of user ``user``, with the API's rules: the user must
        exist, be a supervisor or admin, and may monitor the call's agent."""
        actor = await actor_named(self.app, user)
        if actor is None or actor.role not in ("admin", "supervisor"):
            raise MonitoringError(403, f"user {user!r} may not monitor calls")
        _, leg = self._find_leg(None, call_id)
        if not await may_monitor(self.app, actor, leg.agent_id):
            raise MonitoringError(403, f"{user} may not monitor agent {leg.agent_id}")
        return await self.start(
            supervisor=actor.name, endpoint=endpoint, mode=mode, call_id=call_id
        )

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
        event = MonitoringModeChanged(
            at=utcnow(), source=SOURCE, session_id=session_id, mode=mode, previous_mode=previous
        )
        try:
            await self._audit(
                session,
                event.at.isoformat(),
                {"action": "mode_changed", "mode": mode.value, "previous_mode": previous.value},
            )
        except Exception as exc:
            # Not in the audit trail, so not done: back to the mode the trail shows.
            await session.snoop.change_mode(previous)
            session.mode = previous
            raise MonitoringError(
                503,
                f"mode not changed (still {previous.value}): the audit trail could not be "
                f"written ({exc})",
            ) from exc
        self.app.publish(event)
        return session

    async def stop(self, session_id: str, reason: str = "stopped") -> None:
        session = self.sessions.get(session_id)
        if session is None or session.stopping:
            return
        session.stopping = True
        try:
            audio = None
            try:
                audio = await session.recording.finish() if session.recording else None
            except CallControlError as exc:  # the session still ends, its channels go
                log.warning("monitoring session %s: recording lost: %s", session_id, exc)
            finally:
                await session.snoop.remove()
            if audio:
                await save_recording(
                    self.app,
                    audio,
                    source=SOURCE,
                    call_id=session.call_id,
                    agent_id=session.agent_id,
                    session_id=session.session_id,
                )
        finally:
            self.sessions.pop(session_id, None)
            event = MonitoringStopped(
                at=utcnow(),
                source=SOURCE,
                session_id=session_id,
                reason=reason,
                duration_seconds=time.monotonic() - session.started,
            )
            # Stopped while its start was still being written: wait for that row first.
            if session.audited is None or await asyncio.shield(session.audited):
                row = {
                    "action": "stopped",
                    "reason": reason,
                    "duration_seconds": event.duration_seconds,
                }
                await self._audit(session, event.at.isoformat(), row, retry=True)
                self.app.publish(event)

    def _write_unwritten(self, db: Any) -> None:
        """On the storage thread: the rows kept for retry, oldest first."""
        while self.unwritten:
            store.append_audit(db, self.unwritten[0])
            self.unwritten.pop(0)

    async def _retry_unwritten(self) -> None:
        while self.unwritten:
            await asyncio.sleep(1)
            try:
                await self.app.storage.run(self._write_unwritten)
            except Exception as exc:
                log.warning("%d audit rows still not written: %s", len(self.unwritten), exc)
        log.info("monitoring audit rows kept for retry are written")

    async def _audit(
        self, session: ActiveSession, at: str, row: dict[str, Any], *, retry: bool = False
    ) -> None:
        """Append one row to the audit trail, now: a transparency record is never best
        effort (DOMAIN.md §5).  When the database refuses (locked by another process past
        its busy timeout), the error is raised, so the action is not done; with ``retry``
        (an end, which has happened whatever the database says) the row is kept and
        written by a retry every second instead."""
        full = {
            "at": at,
            "session_id": session.session_id,
            "supervisor": session.supervisor,
            "agent_id": session.agent_id,
            "call_id": session.call_id,
            **row,
        }

        def write(db: Any) -> None:
            self._write_unwritten(db)  # rows kept for retry go first: the trail stays in order
            store.append_audit(db, full)

        try:
            await self.app.storage.run(write)
        except Exception as exc:
            if not retry:
                raise
            log.warning("audit row for session %s kept for retry: %s", session.session_id, exc)
            self.unwritten.append(full)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.get_running_loop().create_task(self._retry_unwritten())

    def _stop_soon(self, session_id: str, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.stop(session_id, reason))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def stop_all(self, reason: str) -> None:
        await asyncio.gather(*self._stopping, return_exceptions=True)
        for session_id in list(self.sessions):
            await self.stop(session_id, reason)
        if self._retrying is not None:
            self._retrying.cancel()
        if self.unwritten:
            try:
                await self.app.storage.run(self._write_unwritten)
            except Exception as exc:
                log.error("monitoring audit rows lost at stop (%s): %s", exc, self.unwritten)

    def on_call_lost(self, call_id: str, why: str) -> None:
        """The call vanished (the PBX restarted while Medlytt was cut off): its sessions
        end, saying so."""
        for session in list(self.sessions.values()):
            if session.call_id == call_id:
                self._stop_soon(session.session_id, f"call lost ({why})")

    def on_channel_event(self, event: ChannelEvent) -> None:
        for session in list(self.sessions.values()):
            if session.snoop.port.pbx != event.pbx:
                continue
            reason = session.snoop.on_channel_event(event)
            if reason is not None:
                self._stop_soon(session.session_id, reason)

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
