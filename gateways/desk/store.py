"""The desk receiver's one table: the last sequence number published per desk.

Written before the ack goes out, so a core that was killed and started again still
knows which of a desk's resent events it already published: delivery stays exactly once
across restarts, not only across reconnects.
"""

from __future__ import annotations

import sqlite_utils
from medlytt import Migration, transaction

TABLE = "desk_sessions"


def _create(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (desk_key TEXT PRIMARY KEY, agent_id TEXT NOT NULL, "
        "session TEXT NOT NULL, last_seq INTEGER NOT NULL, at TEXT NOT NULL)"
    )


MIGRATIONS = [Migration("create_desk_sessions", _create)]


def load_sessions(db: sqlite_utils.Database) -> dict[str, tuple[str, int]]:
    """desk key -> (session, last sequence number published)."""
    rows = db.execute(f"SELECT desk_key, session, last_seq FROM {TABLE}").fetchall()
    return {key: (session, last) for key, session, last in rows}


def save_sessions(
    db: sqlite_utils.Database, rows: list[tuple[str, str, str, int]], at: str
) -> None:
    """Store (desk key, agent id, session, last sequence number) rows in one transaction."""
    with transaction(db):
        db.conn.executemany(
            f"INSERT INTO {TABLE} (desk_key, agent_id, session, last_seq, at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(desk_key) DO UPDATE SET "
            "agent_id = excluded.agent_id, session = excluded.session, "
            "last_seq = excluded.last_seq, at = excluded.at",
            [(*row, at) for row in rows],
        )
