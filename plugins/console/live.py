"""The wallboard's live feed: one full snapshot per change, as server-sent events.

Every event Medlytt publishes wakes the streams (``medlytt_event`` -> :meth:`LiveFeed.changed`);
each stream then sends a fresh, complete snapshot of what its user may see.  A snapshot is
never a difference, so a browser that reconnects (EventSource does that by itself) is
right again with the first message.  Snapshots are small (a contact center's queues and
agents), so sending whole ones costs little and keeps the page free of merge logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiohttp import web
from medlytt import Actor, Scope, scope_of, utcnow

if TYPE_CHECKING:
    from medlytt import Medlytt

#: A comment line this often keeps proxies from closing an idle stream and finds
#: browsers that left.
HEARTBEAT_SECONDS = 10.0
#: Tells the browser to reconnect one second after a dropped stream (not its default 3 s).
RETRY = b"retry: 1000\n\n"
#: At most this many snapshots a second per stream, however busy the contact center.
MIN_GAP_SECONDS = 0.1


@runtime_checkable
class QueueFigures(Protocol):
    """What the queue_metrics plugin offers as ``app.service("queue_metrics")``."""

    def today(self, now: datetime) -> dict[str, dict[str, float | int | None]]: ...


class LiveFeed:
    """Wakes every open stream when something happened; ends them when Medlytt stops.

    :meth:`changed` is synchronous and cheap (called for every event Medlytt publishes):
    it moves a version number and sets the event the streams wait on, replacing it for
    the next change."""

    def __init__(self) -> None:
        self.version = 0
        self.stopping = False
        self.streams = 0
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def stop(self) -> None:
        self.stopping = True
        self._changed.set()

    async def wait(self, seen: int, timeout: float) -> int:
        """Wait until the version moves past ``seen`` (or ``timeout``); the new version."""
        if self.version == seen and not self.stopping:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for may report this task's
                # own cancellation as a TimeoutError (suppressed here), and the task never ends.
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
        return self.version


def _now(app: Medlytt) -> datetime:
    now = utcnow()
    last = app.state.last_event_at
    return last if last is not None and last > now else now  # the demo's clock may run ahead


def snapshot(app: Medlytt, actor: Actor, scope: Scope, show_caller: bool) -> dict[str, Any]:
    """What ``actor`` sees on the wallboard and the agents screen right now."""
    now = _now(app)
    service = app.service("queue_metrics")
    figures = service.today(now) if isinstance(service, QueueFigures) else {}
    queues = []
    for queue in sorted(app.state.queues.values(), key=lambda q: q.name):
        figure = figures.get(queue.name, {})
        oldest = min(queue.waiting.values()) if queue.waiting else None
        queues.append(
            {
                "name": queue.name,
                "waiting": len(queue.waiting),
                "longest_wait_seconds": queue.longest_wait(now),
                "oldest_since": oldest.isoformat() if oldest else None,
                "service_level": figure.get("service_level"),
                "service_level_target": figure.get("service_level_target"),
                "answered": figure.get("answered"),
                "abandoned": figure.get("abandoned"),
                "agents_required": figure.get("agents_required"),
            }
        )
    agents = []
    for agent in sorted(app.state.agents.values(), key=lambda a: (a.name or a.agent_id).lower()):
        if not scope.sees(agent.agent_id):
            continue
        call = app.state.calls.get(agent.call_id) if agent.call_id else None
        agents.append(
            {
                "agent_id": agent.agent_id,
                "name": agent.name,
                "state": agent.state.value,
                "state_since": agent.state_since.isoformat() if agent.state_since else None,
                "queues": list(agent.queues),
                "call": None
                if call is None
                else {
                    "call_id": call.call_id,
                    "queue": call.queue,
                    "answered_at": (call.answered_at or call.queued_at or now).isoformat(),
                    "caller": call.caller_id if show_caller else None,
                },
            }
        )
    sessions: list[dict[str, Any]] = []
    slot = app.state.slots.get("monitoring")
    if slot is not None and actor.role != "agent":
        for session in (slot.snapshot() or {}).get("sessions", []):
            if scope.sees(session.get("agent_id")):
                sessions.append(
                    {
                        "session_id": session["session_id"],
                        "agent_id": session.get("agent_id"),
                        "supervisor": session.get("supervisor"),
                        "mode": session.get("mode"),
                        "started_at": session.get("started_at"),
                    }
                )
    last = app.state.last_event_at
    return {
        "now": now.isoformat(),
        "last_event_at": last.isoformat() if last else None,
        "queues": queues,
        "agents": agents,
        "sessions": sessions,
    }


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


async def stream(
    request: web.Request,
    app: Medlytt,
    feed: LiveFeed,
    actor: Actor,
    show_caller: bool,
    alive: Callable[[], bool],
) -> web.StreamResponse:
    """Send a snapshot now and after every change until the browser or Medlytt leaves, or
    ``alive()`` says the caller's session ended (log-out, idle): checked before every
    message and every second, so an open wallboard never
    outlives its session; the browser's reconnection then gets 401 and the page goes to
    the login."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    await response.prepare(request)
    await response.write(RETRY)
    scope = await scope_of(app, actor)
    seen = -1
    written = time.monotonic()
    feed.streams += 1
    try:
        while not feed.stopping and alive() and not _gone(request):
            if seen != feed.version:
                seen = feed.version
                data = json.dumps(snapshot(app, actor, scope, show_caller), default=_default)
                await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
                written = time.monotonic()
                await asyncio.sleep(MIN_GAP_SECONDS)
            # Look every second whether the browser left (aiohttp does not cancel the
            # handler), so a closed page never holds its stream until the next heartbeat.
            await feed.wait(seen, 1.0)
            if seen == feed.version and time.monotonic() - written >= HEARTBEAT_SECONDS:
                await response.write(b": heartbeat\n\n")
                written = time.monotonic()
    except ConnectionResetError:  # the browser left
        pass
    finally:
        feed.streams -= 1
    return response
