"""What monitoring keeps: the append-only audit trail (recordings: ``medlytt.recordings``).

Transparency (DOMAIN.md §5): every session and mode change is written down (who, whom,
which call, when, mode, duration) and the agent it concerns can read it.  Rows are only
ever inserted; no route or command updates or deletes them.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration, transaction

AUDIT = "monitoring_audit"


def _create_audit(db: sqlite_utils.Database) -> None:
    db.table(AUDIT).create(
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
    db.table(AUDIT).create_index(["agent_id", "at"], if_not_exists=True)


MIGRATIONS = [
    Migration("create_monitoring_audit", _create_audit),
]


def append_audit(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{key}" for key in row)
    with transaction(db):
        db.execute(f"INSERT INTO {AUDIT} ({columns}) VALUES ({values})", row)


def audit_rows(db: sqlite_utils.Database, agent_id: str | None, limit: int) -> list[dict[str, Any]]:
    params: list[str | int]
    if agent_id is None:
        sql, params = f"SELECT * FROM {AUDIT} ORDER BY seq DESC LIMIT ?", [limit]
    else:
        sql, params = (
            f"SELECT * FROM {AUDIT} WHERE agent_id = ? ORDER BY seq DESC LIMIT ?",
            [agent_id, limit],
        )
    return list(db.query(sql, params))
