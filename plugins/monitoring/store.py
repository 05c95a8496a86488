"""What monitoring keeps: the append-only audit trail and the recordings' index.

Transparency (DOMAIN.md §5): every session and mode change is written down (who, whom,
which call, when, mode, duration) and the agent it concerns can read it.  Rows are only
ever inserted; no route or command updates or deletes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils
from medlytt.storage import Migration, transaction

AUDIT = "monitoring_audit"
RECORDINGS = "recordings"


def _create_audit(db: sqlite_utils.Database) -> None:
    db[AUDIT].create(
        {
            "seq": int,
            "at": str,
            "action": str,  # started | mode_changed | stopped
            "session_id": str,
            "supervisor": str,
            "agent_id": str,
            "call_id": str,
            "mode": str,
            "previous_mode": str,
            "reason": str,
            "duration_seconds": float,
            "recording": int,
        },
        pk="seq",
        if_not_exists=True,
    )
    db[AUDIT].create_index(["agent_id", "at"], if_not_exists=True)


def _create_recordings(db: sqlite_utils.Database) -> None:
    db[RECORDINGS].create(
        {
            "id": str,
            "created_at": str,
            "call_id": str,
            "session_id": str,
            "agent_id": str,
            "path": str,
            "format": str,
            "bytes": int,
            "duration_seconds": float,
        },
        pk="id",
        if_not_exists=True,
    )


MIGRATIONS = [
    Migration("create_monitoring_audit", _create_audit),
    Migration("create_recordings", _create_recordings),
]


def append_audit(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{key}" for key in row)
    with transaction(db):
        db.execute(f"INSERT INTO {AUDIT} ({columns}) VALUES ({values})", row)


def audit_rows(db: sqlite_utils.Database, agent_id: str | None, limit: int) -> list[dict[str, Any]]:
    if agent_id is None:
        sql, params = f"SELECT * FROM {AUDIT} ORDER BY seq DESC LIMIT ?", [limit]
    else:
        sql, params = (
            f"SELECT * FROM {AUDIT} WHERE agent_id = ? ORDER BY seq DESC LIMIT ?",
            [agent_id, limit],
        )
    return list(db.query(sql, params))


def save_recording(db: sqlite_utils.Database, row: dict[str, Any], data: bytes) -> None:
    path = Path(row["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with transaction(db):
        db.execute(
            f"INSERT INTO {RECORDINGS} (id, created_at, call_id, session_id, agent_id, path, "
            "format, bytes, duration_seconds) VALUES (:id, :created_at, :call_id, :session_id, "
            ":agent_id, :path, :format, :bytes, :duration_seconds)",
            row,
        )


def get_recording(db: sqlite_utils.Database, recording_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {RECORDINGS} WHERE id = ?", [recording_id]))
    return rows[0] if rows else None
