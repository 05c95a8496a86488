"""The append-only event journal: every event, in order, in SQLite.

Writing one row per event with a commit each would cost a disk sync per event on the hot
path.  The journal instead buffers events in memory and writes them in batches, on the
storage thread, when ``storage.journal_batch_size`` events are waiting or
``storage.journal_flush_seconds`` have passed.  :meth:`EventJournal.close` writes what is
left, so a clean shutdown (SIGTERM) loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
import sqlite_utils

from .events import Event
from .storage import Migration, Storage, database_locked, transaction

log = logging.getLogger(__name__)

TABLE = "events"

_encoder = msgspec.json.Encoder()


def _create_events_table(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(
        {
            "seq": int,
            "at": str,
            "type": str,
            "source": str,
            "call_id": str,
            "agent_id": str,
            "queue": str,
            "data": str,
        },
        pk="seq",
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["call_id"], if_not_exists=True)
    db.table(TABLE).create_index(["type", "at"], if_not_exists=True)


MIGRATIONS = [Migration("create_events", _create_events_table)]


def event_row(event: Event) -> dict[str, Any]:
    """The journal row of one event: indexed ids plus the full event as JSON."""
    return {
        "at": event.at.isoformat(),
        "type": event.type,
        "source": event.source,
        "call_id": getattr(event, "call_id", None),
        "agent_id": getattr(event, "agent_id", None),
        "queue": getattr(event, "queue", None),
        "data": _encoder.encode(event).decode(),
    }


class EventJournal:
    """Buffers events and writes them to the ``events`` table in batches."""

    def __init__(self, storage: Storage, *, batch_size: int = 500, flush_seconds: float = 0.5):
        self.storage = storage
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._buffer: list[Event] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def append(self, event: Event) -> None:
        """Queue an event for writing; cheap, never blocks."""
        self._buffer.append(event)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="medlytt-journal")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for may report this task's
                # own cancellation as a TimeoutError (suppressed here), and the task never ends.
                async with asyncio.timeout(self.flush_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                # Keep the events in memory and try again next round: nothing is dropped.
                if database_locked(exc):  # another process holds the lock: no traceback
                    log.warning(
                        "event journal: write failed (%s); %d events kept for retry",
                        exc,
                        self.pending,
                    )
                else:
                    log.exception(
                        "event journal: write failed; %d events kept for retry", self.pending
                    )

    async def flush(self) -> int:
        """Write everything buffered so far; return how many rows were written."""
        async with self._lock:
            if not self._buffer:
                return 0
            batch = self._buffer
            self._buffer = []
            try:
                await self.storage.run(lambda db: _write(db, batch))
            except BaseException:
                self._buffer[:0] = batch
                raise
            self.written += len(batch)
            return len(batch)

    async def close(self) -> None:
        """Stop the background writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def _write(db: sqlite_utils.Database, batch: list[Event]) -> None:
    rows = [event_row(e) for e in batch]
    with transaction(db):
        db.conn.executemany(
            f"INSERT INTO {TABLE} (at, type, source, call_id, agent_id, queue, data) "
            "VALUES (:at, :type, :source, :call_id, :agent_id, :queue, :data)",
            rows,
        )
