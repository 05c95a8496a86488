"""What the call-control module keeps: one row per measured conversation.

Rows are only ever inserted (a call ends once); the listing reads them newest first within
the caller's scope (``medlytt.Scope``: agents see their own, supervisors their teams').
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope

TABLE = "conversations"


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(
        {
            "call_id": str,
            "agent_id": str,
            "queue": str,
            "answered_at": str,
            "ended_at": str,
            "call_seconds": float,
            "agent_talk_seconds": float,
            "customer_talk_seconds": float,
            "agent_share": float,
            "customer_share": float,
            "overtalk_count": int,
            "longest_silence_seconds": float,
            "agent_first_words_seconds": float,
            "phases": str,  # JSON: seconds per phase
        },
        pk="call_id",
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["agent_id", "answered_at"], if_not_exists=True)
    db.table(TABLE).create_index(["answered_at"], if_not_exists=True)


MIGRATIONS = [Migration("create_conversations", _create)]


def save(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Keep one measured conversation (a replayed call id replaces its row)."""
    db.table(TABLE).upsert({**row, "phases": json.dumps(row["phases"])}, pk="call_id")


def conversations(
    db: sqlite_utils.Database, scope: Scope, since: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` conversations ``scope`` sees, answered at or after ``since``."""
    clause, params = scope.sql("agent_id", "answered_at")
    if since is not None:
        clause += " AND answered_at >= ?"
        params.append(since)
    rows = db.query(
        f"SELECT * FROM {TABLE} WHERE {clause} ORDER BY answered_at DESC, call_id LIMIT ?",
        [*params, limit],
    )
    return [{**row, "phases": json.loads(row["phases"] or "{}")} for row in rows]
