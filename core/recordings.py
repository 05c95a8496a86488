"""Recordings: audio files beside the database, indexed in one ``recordings`` table.

Several features record (monitoring sessions, mystery calls); one index and one route
(``GET /api/recordings/{id}``) serve them all, so retention, deletion and access rules
(roadmap) live in one place.  Who may hear a recording: admins; supervisors of the agent's
teams; the agent whose call it is, unless the recording is still ``hidden_from_agent``
(a mystery call before its evaluation is published).
"""

from __future__ import annotations

import os
import secrets
import wave
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
from aiohttp import web

from . import auth
from .access import allow, scope_of
from .clock import utcnow
from .events import RecordingReady
from .storage import Migration, transaction
from .web import json_error, medlytt_of

if TYPE_CHECKING:
    from .app import Medlytt

TABLE = "recordings"
COLUMNS: dict[str, type] = {
    "id": str,
    "created_at": str,
    "call_id": str,
    "session_id": str,
    "agent_id": str,
    "path": str,
    "format": str,
    "bytes": int,
    "duration_seconds": float,
    "source": str,  # the plugin that recorded: monitoring | mystery_calls | ...
    "hidden_from_agent": int,
}


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(COLUMNS, pk="id", if_not_exists=True)
    # Databases whose table was created by the monitoring plugin before it moved here.
    existing = set(db.table(TABLE).columns_dict)
    for name, kind in COLUMNS.items():
        if name not in existing:
            db.table(TABLE).add_column(name, kind)


MIGRATIONS = [Migration("create_recordings", _create)]


def recordings_dir(app: Medlytt) -> Path:
    return Path(os.path.abspath(app.config.storage.path)).parent / "recordings"


def wav_seconds(audio: bytes) -> float:
    """Length of a WAV file in seconds (0 when it cannot be read)."""
    try:
        with wave.open(BytesIO(audio)) as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return 0.0


async def save_recording(
    app: Medlytt,
    audio: bytes,
    *,
    source: str,
    call_id: str | None,
    agent_id: str | None,
    session_id: str | None = None,
    hidden_from_agent: bool = False,
) -> str:
    """Write the file, index it and publish ``recording.ready``; return the recording id.

    ``source`` is the plugin that recorded and ``session_id`` its own id of what was
    recorded; ``hidden_from_agent`` keeps the agent from hearing it until
    :func:`reveal_recording` (e.g. a mystery call before its evaluation is published).
    """
    recording_id = secrets.token_hex(8)
    path = recordings_dir(app) / f"{recording_id}.wav"
    duration = wav_seconds(audio)
    row = {
        "id": recording_id,
        "created_at": utcnow().isoformat(),
        "call_id": call_id,
        "session_id": session_id,
        "agent_id": agent_id,
        "path": str(path),
        "format": "wav",
        "bytes": len(audio),
        "duration_seconds": duration,
        "source": source,
        "hidden_from_agent": int(hidden_from_agent),
    }

    def write(db: sqlite_utils.Database) -> None:
        # Only Medlytt's user may read recordings: the folder 0700, each file 0600.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(audio)
        with transaction(db):
            db.table(TABLE).insert(row)

    await app.storage.run(write)
    app.publish(
        RecordingReady(
            at=utcnow(),
            source=source,
            recording_id=recording_id,
            call_id=call_id,
            uri=f"/api/recordings/{recording_id}",
            duration_seconds=duration,
            session_id=session_id,
        )
    )
    return recording_id


def get(db: sqlite_utils.Database, recording_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE id = ?", [recording_id]))
    return rows[0] if rows else None


async def reveal_recording(app: Medlytt, recording_id: str) -> None:
    """Let the agent hear a recording saved with ``hidden_from_agent``."""

    def reveal(db: sqlite_utils.Database) -> None:
        with transaction(db):
            db.execute(f"UPDATE {TABLE} SET hidden_from_agent = 0 WHERE id = ?", [recording_id])

    await app.storage.run(reveal)


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: all; supervisor: agents of own teams; agent: own calls since their user "
    "was created, once no longer hidden (a mystery call until it is evaluated)",
)
async def serve(request: web.Request) -> web.StreamResponse:
    """``GET /api/recordings/{id}``: the WAV, to whoever may hear it (module docstring)."""
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    recording_id = request.match_info["id"]
    row = await app.storage.run(lambda db: get(db, recording_id))
    if row is None:
        return json_error(404, f"no recording {recording_id!r}")
    scope = await scope_of(app, actor)
    if not scope.sees(row["agent_id"], row["created_at"]):
        return json_error(403, f"{actor.name} may not hear recordings of this agent's calls")
    if actor.role == "agent" and row["hidden_from_agent"]:
        return json_error(403, "this recording is shown to the agent once it is evaluated")
    return web.FileResponse(row["path"], headers={"Content-Type": "audio/wav"})
