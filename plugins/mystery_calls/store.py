"""What mystery calls keep: results, campaigns, planned calls and the kill switch.

A result row is written when a call starts (outcome ``running``) and completed when it
ends, so a call is never lost: one left running by a crash is closed as ``failed`` at the
next start.  Planned calls are rows too, so a restart keeps a campaign's random moments.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

CALLS = "mystery_calls"
CAMPAIGNS = "mystery_campaigns"
PLANNED = "mystery_planned"
SWITCH = "mystery_switch"


def _create(db: sqlite_utils.Database) -> None:
    db.table(CALLS).create(
        {
            "id": str,
            "campaign": str,
            "target": str,
            "number": str,
            "mode": str,
            "caller_id": str,
            "requested_by": str,
            "started_at": str,
            "finished_at": str,
            "outcome": str,  # running | answered | abandoned | busy | failed | no_answer
            "reason": str,
            "call_id": str,
            "queue": str,
            "agent_id": str,
            "ring_seconds": float,  # dialled → first ring or answer of the line
            "queue_seconds": float,  # time in queue (Asterisk's holdtime)
            "answer_seconds": float,  # dialled → an agent connected
            "talk_seconds": float,  # Asterisk's calltime
            "recording_id": str,
            "evaluated_at": str,
            "evaluation_id": str,
            "notes": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(CALLS).create_index(["target", "started_at"], if_not_exists=True)
    db.table(CALLS).create_index(["agent_id", "started_at"], if_not_exists=True)
    db.table(CAMPAIGNS).create(
        {"name": str, "spec": str, "active": int, "created_at": str, "created_by": str},
        pk="name",
        if_not_exists=True,
    )
    db.table(PLANNED).create(
        {
            "id": int,
            "campaign": str,
            "due_at": str,
            "state": str,  # planned | placed | refused | missed | cancelled
            "mystery_call_id": str,
            "reason": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(PLANNED).create_index(["state", "due_at"], if_not_exists=True)
    db.table(SWITCH).create(
        {"id": int, "stopped": int, "changed_at": str, "changed_by": str, "reason": str},
        pk="id",
        if_not_exists=True,
    )


MIGRATIONS = [Migration("create_mystery_tables", _create)]


def insert_call(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    with transaction(db):
        db.table(CALLS).insert(row)


def update_call(db: sqlite_utils.Database, call_id: str, changes: dict[str, Any]) -> None:
    with transaction(db):
        db.table(CALLS).update(call_id, changes)


def close_orphans(db: sqlite_utils.Database, now: str) -> int:
    """Calls left ``running`` by a previous process: close them as failed."""
    with transaction(db):
        cursor = db.execute(
            f"UPDATE {CALLS} SET outcome = 'failed', finished_at = ?, "
            "reason = 'Medlytt stopped during the call' WHERE outcome = 'running'",
            [now],
        )
    return cursor.rowcount


def started_since(db: sqlite_utils.Database, since: str) -> list[tuple[str, str]]:
    """``(target, started_at)`` of calls started since ``since`` (rate limits after restart)."""
    rows = db.execute(
        f"SELECT target, started_at FROM {CALLS} WHERE started_at >= ? ORDER BY started_at",
        [since],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def calls(
    db: sqlite_utils.Database,
    *,
    campaign: str | None = None,
    scope: Scope | None = None,
    unanswered: bool = False,
    evaluated_only: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The newest results of the agents ``scope`` sees, and with ``unanswered`` the calls
    no agent answered (they name no person)."""
    where: list[str] = []
    params: list[Any] = []
    if campaign is not None:
        where.append("campaign = ?")
        params.append(campaign)
    if scope is not None and not scope.everything:
        clause, scope_params = scope.sql("agent_id", "started_at")
        where.append(f"({clause} OR agent_id IS NULL)" if unanswered else clause)
        params.extend(scope_params)
    if evaluated_only:
        where.append("evaluated_at IS NOT NULL")
    sql = f"SELECT * FROM {CALLS}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC LIMIT ?"
    return list(db.query(sql, [*params, limit]))


def get_call(db: sqlite_utils.Database, call_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {CALLS} WHERE id = ?", [call_id]))
    return rows[0] if rows else None


def save_campaign(db: sqlite_utils.Database, row: dict[str, Any], planned: list[str]) -> None:
    with transaction(db):
        db.table(CAMPAIGNS).insert(row)
        db.table(PLANNED).insert_all(
            {"campaign": row["name"], "due_at": due, "state": "planned"} for due in planned
        )


def campaigns(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = list(db.query(f"SELECT * FROM {CAMPAIGNS} ORDER BY name"))
    for row in rows:
        row["spec"] = json.loads(row["spec"])
    return rows


def set_campaign_active(db: sqlite_utils.Database, name: str, active: bool) -> None:
    with transaction(db):
        db.table(CAMPAIGNS).update(name, {"active": int(active)})
        if not active:
            db.execute(
                f"UPDATE {PLANNED} SET state = 'cancelled', reason = 'campaign stopped' "
                "WHERE campaign = ? AND state = 'planned'",
                [name],
            )


def planned(db: sqlite_utils.Database, campaign: str | None = None) -> list[dict[str, Any]]:
    if campaign is None:
        return list(db.query(f"SELECT * FROM {PLANNED} WHERE state = 'planned' ORDER BY due_at"))
    return list(db.query(f"SELECT * FROM {PLANNED} WHERE campaign = ? ORDER BY due_at", [campaign]))


def due(db: sqlite_utils.Database, now: str) -> list[dict[str, Any]]:
    """Planned calls due at ``now`` (ISO UTC): the scheduler reads these each second, not
    every planned call of every campaign."""
    return list(
        db.query(
            f"SELECT * FROM {PLANNED} WHERE state = 'planned' AND due_at <= ? ORDER BY due_at",
            [now],
        )
    )


def has_planned(db: sqlite_utils.Database, campaign: str) -> bool:
    row = db.execute(
        f"SELECT 1 FROM {PLANNED} WHERE campaign = ? AND state = 'planned' LIMIT 1", [campaign]
    ).fetchone()
    return row is not None


def last_due(db: sqlite_utils.Database, campaign: str) -> str | None:
    row = db.execute(f"SELECT MAX(due_at) FROM {PLANNED} WHERE campaign = ?", [campaign]).fetchone()
    return row[0] if row else None


def add_planned(db: sqlite_utils.Database, campaign: str, due_at: str) -> None:
    with transaction(db):
        db.table(PLANNED).insert({"campaign": campaign, "due_at": due_at, "state": "planned"})


def settle_planned(db: sqlite_utils.Database, planned_id: int, changes: dict[str, Any]) -> None:
    with transaction(db):
        db.table(PLANNED).update(planned_id, changes)


def switch(db: sqlite_utils.Database) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {SWITCH} WHERE id = 1"))
    return rows[0] if rows else None


def set_switch(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    with transaction(db):
        db.table(SWITCH).upsert({"id": 1, **row}, pk="id")
