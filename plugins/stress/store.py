"""What the stress plugin keeps: the alerts, and one development plan per agent.

Alerts are only ever inserted.  A plan is one row per agent id, replaced as a whole by its
leader (``PUT``); the agent's own notes are a column of their own, so neither side
overwrites the other's words.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope

ALERTS = "stress_alerts"
PLANS = "stress_development_plans"


def _create_alerts(db: sqlite_utils.Database) -> None:
    db.table(ALERTS).create(
        {"id": int, "at": str, "agent_id": str, "kind": str, "detail": str},
        pk="id",
        if_not_exists=True,
    )
    db.table(ALERTS).create_index(["agent_id", "at"], if_not_exists=True)
    db.table(ALERTS).create_index(["at"], if_not_exists=True)


def _create_plans(db: sqlite_utils.Database) -> None:
    db.table(PLANS).create(
        {
            "agent_id": str,
            "created_at": str,
            "stress_pattern": str,
            "goals": str,  # JSON lists
            "techniques": str,
            "follow_ups": str,
            "updated_at": str,
            "updated_by": str,
            "agent_notes": str,
            "notes_updated_at": str,
        },
        pk="agent_id",
        if_not_exists=True,
    )


MIGRATIONS = [
    Migration("create_stress_alerts", _create_alerts),
    Migration("create_stress_development_plans", _create_plans),
]


def insert_alert(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    db.table(ALERTS).insert({**row, "detail": json.dumps(row["detail"])})


def alerts(
    db: sqlite_utils.Database,
    scope: Scope,
    since: str | None,
    kind: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts ``scope`` sees, newest first."""
    clause, params = scope.sql("agent_id", "at")
    clauses = [clause]
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    rows = db.execute(
        f"SELECT id, at, agent_id, kind, detail FROM {ALERTS} WHERE {' AND '.join(clauses)} "
        "ORDER BY at DESC, id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        {"id": id_, "at": at, "agent_id": agent, "kind": kind_, "detail": json.loads(detail)}
        for id_, at, agent, kind_, detail in rows
    ]


def alert_counts(db: sqlite_utils.Database, agent_id: str, since: str) -> dict[str, int]:
    """Per kind, the agent's alerts from ``since``: their stress pattern in figures."""
    return dict(
        db.execute(
            f"SELECT kind, COUNT(*) FROM {ALERTS} WHERE agent_id = ? AND at >= ? GROUP BY kind",
            [agent_id, since],
        ).fetchall()
    )


def get_plan(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {PLANS} WHERE agent_id = ?", [agent_id]))
    if not rows:
        return None
    row = rows[0]
    for key in ("goals", "techniques", "follow_ups"):
        row[key] = json.loads(row[key] or "[]")
    return row


def put_plan(
    db: sqlite_utils.Database, agent_id: str, plan: dict[str, Any], at: str, by: str
) -> None:
    """Replace the leader's part of the plan; keep the agent's notes and the creation time."""
    values = {
        "stress_pattern": plan["stress_pattern"],
        "goals": json.dumps(plan["goals"]),
        "techniques": json.dumps(plan["techniques"]),
        "follow_ups": json.dumps(plan["follow_ups"]),
        "updated_at": at,
        "updated_by": by,
    }
    if db.execute(f"SELECT 1 FROM {PLANS} WHERE agent_id = ?", [agent_id]).fetchone():
        db.table(PLANS).update(agent_id, values)
    else:
        db.table(PLANS).insert({"agent_id": agent_id, "created_at": at, **values})


def put_notes(db: sqlite_utils.Database, agent_id: str, notes: str, at: str) -> bool:
    """Set the agent's own notes; False when there is no plan to write them in."""
    if not db.execute(f"SELECT 1 FROM {PLANS} WHERE agent_id = ?", [agent_id]).fetchone():
        return False
    db.table(PLANS).update(agent_id, {"agent_notes": notes, "notes_updated_at": at})
    return True
