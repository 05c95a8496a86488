"""The ``queue_intervals`` table: one row per (queue, interval), written by adding deltas."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils
from medlytt import Migration, transaction

from .aggregator import COLUMNS, Counts, Key

TABLE = "queue_intervals"


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(
        {
            "queue": str,
            "interval_start": str,  # ISO with the zone's offset: 2026-06-02T00:45:00+02:00
            "start_utc": str,  # the same instant in UTC, for range queries
            "interval_minutes": int,
            "offered": int,
            "answered": int,
            "abandoned": int,
            "timeout": int,
            "wait_sum_seconds": float,
            "handled": int,
            "talk_sum_seconds": float,
            "wrapup_sum_seconds": float,
            "updated_at": str,
        },
        pk=("queue", "interval_start"),
        not_null={"queue", "interval_start", "start_utc"},
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["queue", "start_utc"], if_not_exists=True)


MIGRATIONS = [Migration("create_queue_intervals", _create)]

_UPSERT = (
    f"INSERT INTO {TABLE} (queue, interval_start, start_utc, interval_minutes, "
    f"{', '.join(COLUMNS)}, updated_at) "
    f"VALUES (?, ?, ?, ?, {', '.join('?' for _ in COLUMNS)}, ?) "
    "ON CONFLICT(queue, interval_start) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in COLUMNS)
    + ", updated_at = excluded.updated_at"
)


def utc_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def write(db: sqlite_utils.Database, batch: dict[Key, Counts], minutes: int) -> None:
    """Add every delta of ``batch`` to its stored row, in one transaction."""
    now = utc_text(datetime.now(UTC))
    rows = [
        (
            queue,
            start.isoformat(),
            utc_text(start),
            minutes,
            *(getattr(counts, c) for c in COLUMNS),
            now,
        )
        for (queue, start), counts in batch.items()
    ]
    with transaction(db):
        db.conn.executemany(_UPSERT, rows)


def read_range(
    db: sqlite_utils.Database, queue: str, start: datetime, end: datetime
) -> list[tuple[datetime, Counts]]:
    """Stored rows of ``queue`` whose interval starts in ``[start, end)``."""
    cursor = db.execute(
        f"SELECT interval_start, {', '.join(COLUMNS)} FROM {TABLE} "
        "WHERE queue = ? AND start_utc >= ? AND start_utc < ? ORDER BY start_utc",
        [queue, utc_text(start), utc_text(end)],
    )
    return [(datetime.fromisoformat(row[0]), Counts(*row[1:])) for row in cursor.fetchall()]


def has_queue(db: sqlite_utils.Database, queue: str) -> bool:
    row = db.execute(f"SELECT 1 FROM {TABLE} WHERE queue = ? LIMIT 1", [queue]).fetchone()
    return row is not None
