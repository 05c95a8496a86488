"""What the sales plugin keeps: each call's current outcome, and every outcome ever set.

``sales_outcomes`` holds one row per call (its current outcome); ``sales_outcome_history``
one row per outcome set, with who set it, when, and what it replaced (the audit trail of a
call whose outcome changed: a CRM correcting the agent, a sale cancelled at wrap-up).
History rows are only ever inserted.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration, Scope, transaction

OUTCOMES = "sales_outcomes"
HISTORY = "sales_outcome_history"


def _create(db: sqlite_utils.Database) -> None:
    db.table(OUTCOMES).create(
        {
            "call_id": str,
            "agent_id": str,
            "queue": str,
            "answered_at": str,
            "outcome": str,
            "reason": str,
            "value": float,
            "set_by": str,
            "set_at": str,
        },
        pk="call_id",
        if_not_exists=True,
    )
    db.table(OUTCOMES).create_index(["agent_id", "answered_at"], if_not_exists=True)
    db.table(HISTORY).create(
        {
            "id": int,
            "call_id": str,
            "agent_id": str,
            "queue": str,
            "at": str,
            "by": str,
            "old_outcome": str,
            "old_reason": str,
            "old_value": float,
            "new_outcome": str,
            "new_reason": str,
            "new_value": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(HISTORY).create_index(["call_id"], if_not_exists=True)


MIGRATIONS = [Migration("create_sales_outcomes", _create)]


def get(db: sqlite_utils.Database, call_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {OUTCOMES} WHERE call_id = ?", [call_id]))
    return rows[0] if rows else None


def history(db: sqlite_utils.Database, call_id: str) -> list[dict[str, Any]]:
    """Every outcome set on the call, oldest first."""
    return list(db.query(f"SELECT * FROM {HISTORY} WHERE call_id = ? ORDER BY id", [call_id]))


def set_outcome(db: sqlite_utils.Database, row: dict[str, Any]) -> dict[str, Any] | None:
    """Make ``row`` the call's outcome and add its history row, in one transaction; the
    outcome it replaced (None for the first)."""
    with transaction(db):
        before = get(db, row["call_id"])
        db.table(OUTCOMES).upsert(row, pk="call_id")
        db.table(HISTORY).insert(
            {
                "call_id": row["call_id"],
                "agent_id": row["agent_id"],
                "queue": row["queue"],
                "at": row["set_at"],
                "by": row["set_by"],
                "old_outcome": before["outcome"] if before else None,
                "old_reason": before["reason"] if before else None,
                "old_value": before["value"] if before else None,
                "new_outcome": row["outcome"],
                "new_reason": row["reason"],
                "new_value": row["value"],
            }
        )
    return before


def outcomes(
    db: sqlite_utils.Database,
    scope: Scope,
    *,
    queue: str | None = None,
    since: str | None = None,
    outcome: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The calls' current outcomes ``scope`` sees, newest answered first."""
    clause, params = scope.sql("agent_id", "answered_at")
    for column, value, op in (
        ("queue", queue, "="),
        ("answered_at", since, ">="),
        ("outcome", outcome, "="),
    ):
        if value is not None:
            clause += f" AND {column} {op} ?"
            params.append(value)
    sql = f"SELECT * FROM {OUTCOMES} WHERE {clause} ORDER BY answered_at DESC, call_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return list(db.query(sql, params))


def figures(db: sqlite_utils.Database) -> dict[str, dict[tuple[str, str], int]]:
    """For the metrics: outcomes ever set and calls now, per (queue, outcome)."""

    def grouped(sql: str) -> dict[tuple[str, str], int]:
        return {(q or "", o): n for q, o, n in db.execute(sql).fetchall()}

    return {
        "set": grouped(
            f"SELECT queue, new_outcome, COUNT(*) FROM {HISTORY} GROUP BY queue, new_outcome"
        ),
        "current": grouped(
            f"SELECT queue, outcome, COUNT(*) FROM {OUTCOMES} GROUP BY queue, outcome"
        ),
    }
