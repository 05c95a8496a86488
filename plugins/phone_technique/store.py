"""What the phone-technique module keeps: one row of facts per answered call, and the
per-agent distributions read from those rows.

Rows are only ever inserted (a call ends once).  Listings read within the caller's scope
(``medlytt.Scope``), by ``answered_at``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import sqlite_utils
from medlytt import Migration, Scope

TABLE = "phone_technique_calls"
#: At most this many rows enter the per-agent distributions of one request.
MAX_SUMMARY_ROWS = 100_000


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(
        {
            "call_id": str,
            "agent_id": str,
            "queue": str,
            "answered_at": str,
            "ended_at": str,
            "ring_seconds": float,
            "first_words_seconds": float,
            "first_words_unknown": str,
            "hold_count": int,
            "hold_seconds": float,
            "mute_count": int,
            "mute_seconds": float,
            "mute_unknown": str,
            "transfers": int,
            "transfer_target": str,
            "talk_seconds": float,
        },
        pk="call_id",
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["agent_id", "answered_at"], if_not_exists=True)
    db.table(TABLE).create_index(["answered_at"], if_not_exists=True)


MIGRATIONS = [Migration("create_phone_technique_calls", _create)]


def save(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Keep one call's facts (a replayed call id replaces its row)."""
    db.table(TABLE).upsert(row, pk="call_id")


def _where(scope: Scope, since: str | None) -> tuple[str, list[Any]]:
    clause, params = scope.sql("agent_id", "answered_at")
    if since is not None:
        clause += " AND answered_at >= ?"
        params.append(since)
    return clause, params


def calls(
    db: sqlite_utils.Database, scope: Scope, since: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` calls ``scope`` sees, answered at or after ``since``."""
    clause, params = _where(scope, since)
    return list(
        db.query(
            f"SELECT * FROM {TABLE} WHERE {clause} ORDER BY answered_at DESC, call_id LIMIT ?",
            [*params, limit],
        )
    )


def agent_summaries(
    db: sqlite_utils.Database, scope: Scope, since: str | None
) -> list[dict[str, Any]]:
    """Per agent ``scope`` sees: the distribution of each measure over their calls."""
    clause, params = _where(scope, since)
    per_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in db.query(
        f"SELECT * FROM {TABLE} WHERE {clause} ORDER BY answered_at DESC LIMIT ?",
        [*params, MAX_SUMMARY_ROWS],
    ):
        if row["agent_id"]:  # a row about no agent belongs in no agent's summary
            per_agent[row["agent_id"]].append(row)
    return [summary(agent, rows) for agent, rows in sorted(per_agent.items())]


def summary(agent_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One agent's distributions (see docs/phone-technique.md, "How to read it")."""
    known_mute = [r for r in rows if r["mute_count"] is not None]
    return {
        "agent_id": agent_id,
        "calls": len(rows),
        "ring_seconds": distribution([r["ring_seconds"] for r in rows]),
        "first_words_seconds": distribution(
            [r["first_words_seconds"] for r in rows if r["first_words_seconds"] is not None]
        ),
        "calls_with_hold": sum(1 for r in rows if r["hold_count"]),
        "hold_count": distribution([r["hold_count"] for r in rows]),
        "hold_seconds": distribution([r["hold_seconds"] for r in rows if r["hold_count"]]),
        "calls_with_mute_known": len(known_mute),
        "mute_count": distribution([r["mute_count"] for r in known_mute]),
        "mute_seconds": distribution([r["mute_seconds"] for r in known_mute if r["mute_count"]]),
        "mute_unknown": (
            None if known_mute else "no call of this agent had a headset signal (mute unknown)"
        ),
        "transferred_calls": sum(1 for r in rows if r["transfers"]),
    }


def distribution(values: list[float]) -> dict[str, Any]:
    """Count, mean, median, 90th percentile (nearest rank) and maximum; None when empty."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return float(ordered[max(0, math.ceil(p * len(ordered)) - 1)])

    return {
        "n": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 3),
        "p50": rank(0.5),
        "p90": rank(0.9),
        "max": float(ordered[-1]),
    }
