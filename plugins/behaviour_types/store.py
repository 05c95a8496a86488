"""What the behaviour-types plugin keeps: one row per call of an agent whose team has the
module on, holding the listener's tag, the mirroring signal and how the call went.

A row is written by whichever comes first (the tag, the call's end, its survey) and
completed by the others, so each column says where it came from: ``behaviour_type``,
``tagged_by``, ``tagged_at`` from the listener; ``handle_seconds``, ``direction``,
``slope``, ``pairs``, ``first_half_gap``, ``second_half_gap`` from the call's end;
``outcome`` from a ``sales.outcome`` event; ``survey_score`` from ``survey.finished``.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from medlytt import Migration, Scope

CALLS = "behaviour_calls"


def _create(db: sqlite_utils.Database) -> None:
    db.table(CALLS).create(
        {
            "call_id": str,
            "agent_id": str,
            "at": str,  # when the call was answered
            "queue": str,
            "behaviour_type": str,
            "tagged_by": str,
            "tagged_at": str,
            "ended_at": str,
            "handle_seconds": float,
            "direction": str,
            "slope": float,
            "pairs": int,
            "first_half_gap": float,
            "second_half_gap": float,
            "outcome": str,
            "survey_score": float,
        },
        pk="call_id",
        if_not_exists=True,
    )
    db.table(CALLS).create_index(["agent_id", "at"], if_not_exists=True)


MIGRATIONS = [Migration("create_behaviour_calls", _create)]


def merge(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Insert the call's row or set the given columns of it (others stay)."""
    db.table(CALLS).upsert(row, pk="call_id")


def get(db: sqlite_utils.Database, call_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {CALLS} WHERE call_id = ?", [call_id]))
    return rows[0] if rows else None


#: The columns that what happens after a call fills in.
AFTERWARDS = ("outcome", "survey_score")


def set_afterwards(db: sqlite_utils.Database, call_id: str, column: str, value: Any) -> bool:
    """Record a sales outcome or survey score on a call already kept; False when the call
    is not kept (its agent's team did not have the module on)."""
    if column not in AFTERWARDS:
        raise ValueError(f"column must be one of {AFTERWARDS}, got {column!r}")
    cursor = db.execute(f"UPDATE {CALLS} SET {column} = ? WHERE call_id = ?", [value, call_id])
    return cursor.rowcount > 0


def calls(
    db: sqlite_utils.Database, scope: Scope, behaviour_type: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` calls ``scope`` sees (tagged with ``behaviour_type``)."""
    clause, params = scope.sql("agent_id", "at")
    if behaviour_type is not None:
        clause += " AND behaviour_type = ?"
        params.append(behaviour_type)
    return list(
        db.query(
            f"SELECT * FROM {CALLS} WHERE {clause} ORDER BY at DESC, call_id LIMIT ?",
            [*params, limit],
        )
    )


def all_calls(db: sqlite_utils.Database, scope: Scope) -> list[dict[str, Any]]:
    clause, params = scope.sql("agent_id", "at")
    return list(db.query(f"SELECT * FROM {CALLS} WHERE {clause} ORDER BY agent_id, at", params))


def figures(db: sqlite_utils.Database) -> tuple[dict[str, int], dict[str, int]]:
    """Calls per behaviour type tagged, and calls per mirroring direction, for metrics."""
    tagged = dict(
        db.execute(
            f"SELECT behaviour_type, COUNT(*) FROM {CALLS} WHERE behaviour_type IS NOT NULL "
            "GROUP BY behaviour_type"
        ).fetchall()
    )
    directions = dict(
        db.execute(
            f"SELECT direction, COUNT(*) FROM {CALLS} WHERE direction IS NOT NULL "
            "GROUP BY direction"
        ).fetchall()
    )
    return tagged, directions
