"""What the progress view keeps: one row per activity, with the agent or team it concerns
and, for listenings, the form and score (the module's measure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils
from medlytt import Migration

ACTIVITIES = "progress_activities"


def _create(db: sqlite_utils.Database) -> None:
    db.table(ACTIVITIES).create(
        {
            "key": str,
            "at": str,
            "kind": str,
            "agent_id": str,
            "team": str,
            "form": str,
            "score": float,
        },
        pk="key",
        if_not_exists=True,
    )
    db.table(ACTIVITIES).create_index(["at"], if_not_exists=True)


MIGRATIONS = [Migration("create_progress_activities", _create)]


def record(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> int:
    """Keep activities not kept yet; how many were new."""
    before = db.execute(f"SELECT COUNT(*) FROM {ACTIVITIES}").fetchone()[0]
    db.table(ACTIVITIES).insert_all(list(rows), pk="key", ignore=True)
    return int(db.execute(f"SELECT COUNT(*) FROM {ACTIVITIES}").fetchone()[0] - before)


def between(
    db: sqlite_utils.Database, agents: list[str], team: str, since: str, until: str
) -> list[dict[str, Any]]:
    """The activities of ``agents`` or of ``team`` in [since, until), oldest first."""
    marks = ", ".join("?" for _ in agents) or "NULL"
    return list(
        db.query(
            f"SELECT at, kind, agent_id, team, form, score FROM {ACTIVITIES} "
            f"WHERE at >= ? AND at < ? AND (agent_id IN ({marks}) OR team = ? COLLATE NOCASE) "
            "ORDER BY at",
            [since, until, *agents, team],
        )
    )
