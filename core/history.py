"""What happened earlier, for plugins that act after the fact.

An evaluation, a dispute or a coaching note is often made minutes or days after the call:
by then the call has left the live state.  These lookups answer from the live state first
(a call still in progress) and then from the event journal and the recordings index, so a
plugin never reads the core's tables itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from . import recordings
from .events import Event, RawEvent

if TYPE_CHECKING:
    from .app import Medlytt


class AnsweredCall(msgspec.Struct, frozen=True):
    """Who answered a call, when, and in which queue."""

    call_id: str
    agent_id: str
    answered_at: datetime
    queue: str | None


async def answered_call(app: Medlytt, call_id: str) -> AnsweredCall | None:
    """The agent who answered ``call_id`` (the last one, after a transfer); None when the
    call is unknown or was never answered."""
    live = app.state.calls.get(call_id)
    if live is not None and live.agent_id and live.answered_at is not None:
        return AnsweredCall(call_id, live.agent_id, live.answered_at, live.queue)
    if app.journal is None:
        return None
    await app.journal.flush()  # an event from the last half second may still be buffered

    def find(db: Any) -> AnsweredCall | None:
        row = db.execute(
            "SELECT agent_id, at, queue FROM events WHERE call_id = ? AND type = ? "
            "ORDER BY seq DESC LIMIT 1",
            [call_id, "call.answered"],
        ).fetchone()
        if row is None or not row[0]:
            return None
        return AnsweredCall(call_id, row[0], datetime.fromisoformat(row[1]), row[2])

    return await app.storage.run(find)


class RecordingInfo(msgspec.Struct, frozen=True):
    """What Medlytt knows about a stored recording, without its audio."""

    recording_id: str
    created_at: datetime
    source: str | None
    call_id: str | None
    session_id: str | None
    agent_id: str | None
    duration_seconds: float
    hidden_from_agent: bool


async def recording_info(app: Medlytt, recording_id: str) -> RecordingInfo | None:
    """The index row of recording ``recording_id``; None when there is none (or it was
    deleted)."""
    row = await app.storage.run(lambda db: recordings.get(db, recording_id))
    if row is None:
        return None
    return RecordingInfo(
        recording_id=row["id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        source=row["source"],
        call_id=row["call_id"],
        session_id=row["session_id"],
        agent_id=row["agent_id"],
        duration_seconds=row["duration_seconds"] or 0.0,
        hidden_from_agent=bool(row["hidden_from_agent"]),
    )


async def journal_events(
    app: Medlytt,
    types: Iterable[str],
    *,
    after_seq: int = 0,
    since: datetime | None = None,
    limit: int = 10_000,
) -> list[tuple[int, Event | RawEvent]]:
    """Journalled events of the type tags ``types``, oldest first, as ``(seq, event)``.

    For a plugin that must know what happened before it was installed or while it was
    stopped (a progress view counting last month's evaluations).  ``after_seq`` resumes
    after the last row read; ``since`` skips older rows.  At most ``limit`` rows: read
    again from the last ``seq`` for more.  Empty when the journal is off.
    """
    wanted = sorted(set(types))
    if app.journal is None or not wanted:
        return []
    await app.journal.flush()  # an event from the last half second may still be buffered
    marks = ", ".join("?" for _ in wanted)
    sql = f"SELECT seq, data FROM events WHERE type IN ({marks}) AND seq > ?"
    params: list[Any] = [*wanted, after_seq]
    if since is not None:
        sql += " AND at >= ?"
        params.append(since.isoformat())
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    rows = await app.storage.run(lambda db: db.execute(sql, params).fetchall())
    return [(seq, app.events.decode(data)) for seq, data in rows]
