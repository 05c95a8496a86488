"""Recordings: audio files beside the database, indexed in one ``recordings`` table.

Several features record (monitoring sessions, mystery calls); one index and one route
(``GET /api/recordings/{id}``) serve them all, so retention, deletion and access rules
live in one place.  Who may hear a recording: admins; supervisors of the agent's teams;
the agent whose call it is, unless the recording is still ``hidden_from_agent`` (a mystery
call before its evaluation is published).

* **Retention**: ``[recordings] retention_days`` by source (the plugin that recorded);
  a recording linked to an evaluation (:func:`link_evaluation`) is kept
  ``evaluated_retention_days`` when that is longer.  :class:`RecordingKeeper` deletes
  expired recordings at start and then on a timer, a bounded batch per run.
* **Deletion on request**: one agent's recordings (``DELETE /api/recordings?agent=``,
  ``medlytt recordings delete --agent``).
* Each deletion (what, when, why, by whom) is appended to ``recording_deletions``; each
  time a recording is served, who heard it to ``recording_access``.  Both tables are
  append-only (triggers refuse updates and deletes); ``recording_access`` is also
  hash-chained (:mod:`medlytt.chain`), so ``medlytt audit verify`` finds a row edited,
  inserted or deleted by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import auth
from .access import Scope, allow, scope_of
from .chain import append_chained, chain_table
from .clock import utcnow
from .config import RecordingsConfig
from .events import RecordingReady
from .storage import Migration, transaction
from .web import HttpError, json_error, json_response, medlytt_of, query_limit

if TYPE_CHECKING:
    from .app import Medlytt

log = logging.getLogger(__name__)

TABLE = "recordings"
DELETIONS = "recording_deletions"
ACCESSES = "recording_access"
#: Why a recording was deleted (the ``reason`` of a deletion and of the metric).
REASONS = ("retention", "request")

#: The columns the first migration created; never change them (later ones add columns).
COLUMNS: dict[str, type] = {
    "id": str,
    "created_at": str,
    "call_id": str,
    "session_id": str,
    "agent_id": str,
    "path": str,
    "format": str,
    "bytes": int,
    "duration_seconds": float,
    "source": str,  # the plugin that recorded: monitoring | mystery_calls | ...
    "hidden_from_agent": int,
}


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(COLUMNS, pk="id", if_not_exists=True)
    # Databases whose table was created by the monitoring plugin before it moved here.
    existing = set(db.table(TABLE).columns_dict)
    for name, kind in COLUMNS.items():
        if name not in existing:
            db.table(TABLE).add_column(name, kind)


def _append_only(db: sqlite_utils.Database, table: str) -> None:
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON "
            f"{table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _retention(db: sqlite_utils.Database) -> None:
    """The link to an evaluation, and the append-only logs of deletions and accesses."""
    if "evaluation_id" not in db.table(TABLE).columns_dict:
        db.table(TABLE).add_column("evaluation_id", str)
    db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_created_at ON {TABLE} (created_at)")
    db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_agent_id ON {TABLE} (agent_id, created_at)")
    db.table(DELETIONS).create(
        {
            "seq": int,
            "at": str,  # when it was deleted
            "recording_id": str,
            "source": str,
            "agent_id": str,
            "call_id": str,
            "recording_created_at": str,
            "hidden_from_agent": int,  # as it was when deleted
            "reason": str,  # retention | request
            "by": str,  # "retention" (the job), a user's name, or the command line
            "why": str,
            "file": str,  # deleted | missing
            "bytes": int,
        },
        pk="seq",
        if_not_exists=True,
    )
    db.execute(f"CREATE INDEX IF NOT EXISTS {DELETIONS}_recording ON {DELETIONS} (recording_id)")
    db.table(ACCESSES).create(
        {
            "seq": int,
            "at": str,
            "recording_id": str,
            "agent_id": str,  # whose call it is
            "recording_created_at": str,
            "source": str,
            "hidden_from_agent": int,  # as it was when heard
            "user": str,  # who heard it
            "role": str,
        },
        pk="seq",
        if_not_exists=True,
    )
    db.execute(f"CREATE INDEX IF NOT EXISTS {ACCESSES}_agent ON {ACCESSES} (agent_id, seq)")
    _append_only(db, DELETIONS)
    _append_only(db, ACCESSES)


def _chain_accesses(db: sqlite_utils.Database) -> None:
    """Hash-chain ``recording_access``, the rows already there in ``seq`` order (issue 11)."""
    chain_table(db, ACCESSES, append_only=True)


MIGRATIONS = [
    Migration("create_recordings", _create),
    Migration("recording_retention", _retention),
    Migration("chain_recording_access", _chain_accesses),
]


def recordings_dir(app: Medlytt) -> Path:
    return Path(os.path.abspath(app.config.storage.path)).parent / "recordings"


def wav_seconds(audio: bytes) -> float:
    """Length of a WAV file in seconds (0 when it cannot be read)."""
    try:
        with wave.open(BytesIO(audio)) as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return 0.0


async def save_recording(
    app: Medlytt,
    audio: bytes,
    *,
    source: str,
    call_id: str | None,
    agent_id: str | None,
    session_id: str | None = None,
    hidden_from_agent: bool = False,
) -> str:
    """Write the file, index it and publish ``recording.ready``; return the recording id.

    ``source`` is the plugin that recorded and ``session_id`` its own id of what was
    recorded; ``hidden_from_agent`` keeps the agent from hearing it until
    :func:`reveal_recording` (e.g. a mystery call before its evaluation is published).
    """
    recording_id = secrets.token_hex(8)
    path = recordings_dir(app) / f"{recording_id}.wav"
    duration = wav_seconds(audio)
    row = {
        "id": recording_id,
        "created_at": utcnow().isoformat(),
        "call_id": call_id,
        "session_id": session_id,
        "agent_id": agent_id,
        "path": str(path),
        "format": "wav",
        "bytes": len(audio),
        "duration_seconds": duration,
        "source": source,
        "hidden_from_agent": int(hidden_from_agent),
    }

    def write(db: sqlite_utils.Database) -> None:
        # Only Medlytt's user may read recordings: the folder 0700, each file 0600.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(audio)
        with transaction(db):
            db.table(TABLE).insert(row)

    await app.storage.run(write)
    app.recordings.saved(source)
    app.publish(
        RecordingReady(
            at=utcnow(),
            source=source,
            recording_id=recording_id,
            call_id=call_id,
            uri=f"/api/recordings/{recording_id}",
            duration_seconds=duration,
            session_id=session_id,
        )
    )
    return recording_id


def get(db: sqlite_utils.Database, recording_id: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE id = ?", [recording_id]))
    return rows[0] if rows else None


async def reveal_recording(app: Medlytt, recording_id: str) -> None:
    """Let the agent hear a recording saved with ``hidden_from_agent``."""

    def reveal(db: sqlite_utils.Database) -> None:
        with transaction(db):
            db.execute(f"UPDATE {TABLE} SET hidden_from_agent = 0 WHERE id = ?", [recording_id])

    await app.storage.run(reveal)


async def link_evaluation(app: Medlytt, recording_id: str, evaluation_id: str | None) -> bool:
    """Link a recording to the evaluation made of it, so it is kept
    ``[recordings] evaluated_retention_days`` (when longer than its source's); None
    unlinks it.  Returns False when there is no such recording (e.g. already deleted)."""

    def link(db: sqlite_utils.Database) -> bool:
        with transaction(db):
            cursor = db.execute(
                f"UPDATE {TABLE} SET evaluation_id = ? WHERE id = ?",
                [evaluation_id or None, recording_id],
            )
        return cursor.rowcount > 0

    return await app.storage.run(link)


# --------------------------------------------------------------------------- deletion


def parse_before(text: str) -> datetime:
    """``--before``/``?before=``: an ISO 8601 date or time, UTC unless it says otherwise."""
    try:
        value = datetime.fromisoformat(text.strip())
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"before must be an ISO 8601 date or time, e.g. 2024-05-01; got {text!r}"
        ) from None


def _unlink(path: str) -> str:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return "missing"
    return "deleted"


def delete_where(
    db: sqlite_utils.Database,
    where: str,
    params: list[Any],
    *,
    limit: int,
    reason: str,
    by: str,
    why: Callable[[dict[str, Any]], str],
    now: datetime,
) -> list[str]:
    """Delete at most ``limit`` recordings matching ``where`` (oldest first): file, row
    and a ``recording_deletions`` row each, in one transaction that holds the write lock
    (two processes never delete the same recording twice).  A file that cannot be
    removed keeps its row, to be tried again.  Returns the ids deleted."""
    deleted: list[str] = []
    with transaction(db, immediate=True):
        rows = list(
            db.query(
                f"SELECT * FROM {TABLE} WHERE {where} ORDER BY created_at, id LIMIT ?",
                [*params, limit],
            )
        )
        for row in rows:
            try:
                file = _unlink(row["path"])
            except OSError as exc:
                log.error("recording %s: cannot delete its file: %s", row["id"], exc)
                continue
            db.execute(f"DELETE FROM {TABLE} WHERE id = ?", [row["id"]])
            db.table(DELETIONS).insert(
                {
                    "at": now.isoformat(),
                    "recording_id": row["id"],
                    "source": row["source"],
                    "agent_id": row["agent_id"],
                    "call_id": row["call_id"],
                    "recording_created_at": row["created_at"],
                    "hidden_from_agent": row["hidden_from_agent"],
                    "reason": reason,
                    "by": by,
                    "why": why(row),
                    "file": file,
                    "bytes": row["bytes"],
                }
            )
            deleted.append(row["id"])
    return deleted


def _by_source(sources: list[str], cutoffs: list[str], default: str) -> tuple[str, list[Any]]:
    """A SQL expression choosing a cutoff by the row's source."""
    if not sources:
        return "?", [default]
    whens = " ".join("WHEN ? THEN ?" for _ in sources)
    params: list[Any] = [v for pair in zip(sources, cutoffs, strict=True) for v in pair]
    return f"(CASE source {whens} ELSE ? END)", [*params, default]


def expired_where(settings: RecordingsConfig, now: datetime) -> tuple[str, list[Any]]:
    """The SQL condition (and parameters) of the recordings expired at ``now``."""

    def cutoff(days: int) -> str:
        return (now - timedelta(days=days)).isoformat()

    sources = sorted(k for k in settings.retention_days if k != "default")
    plain, plain_params = _by_source(
        sources,
        [cutoff(settings.days_for(s, False)) for s in sources],
        cutoff(settings.days_for(None, False)),
    )
    linked, linked_params = _by_source(
        sources,
        [cutoff(settings.days_for(s, True)) for s in sources],
        cutoff(settings.days_for(None, True)),
    )
    shortest = min(settings.retention_days.values())
    return (
        f"created_at < ? AND created_at < (CASE WHEN COALESCE(evaluation_id, '') != '' "
        f"THEN {linked} ELSE {plain} END)",
        [cutoff(shortest), *linked_params, *plain_params],
    )


def delete_expired(
    db: sqlite_utils.Database, settings: RecordingsConfig, now: datetime, limit: int
) -> list[str]:
    """One run of the retention job: at most ``limit`` expired recordings deleted."""

    def why(row: dict[str, Any]) -> str:
        evaluated = bool(row["evaluation_id"])
        days = settings.days_for(row["source"], evaluated)
        kind = "evaluated recordings" if evaluated else f"{row['source']} recordings"
        return f"{kind} are kept {days} days"

    where, params = expired_where(settings, now)
    return delete_where(
        db, where, params, limit=limit, reason="retention", by="retention", why=why, now=now
    )


def agent_where(agent_id: str, before: datetime | None) -> tuple[str, list[Any]]:
    if before is None:
        return "agent_id = ?", [agent_id]
    return "agent_id = ? AND created_at < ?", [agent_id, before.isoformat()]


def delete_for_agent(
    db: sqlite_utils.Database,
    agent_id: str,
    *,
    before: datetime | None,
    by: str,
    now: datetime,
    limit: int,
) -> list[str]:
    """Delete at most ``limit`` of one agent's recordings, on request (``reason`` request)."""
    where, params = agent_where(agent_id, before)
    asked = f"agent {agent_id}" + (f", made before {before.isoformat()}" if before else "")
    return delete_where(
        db,
        where,
        params,
        limit=limit,
        reason="request",
        by=by,
        why=lambda row: f"deletion requested for the recordings of {asked}",
        now=now,
    )


def delete_all_for_agent(
    db: sqlite_utils.Database,
    agent_id: str,
    *,
    before: datetime | None,
    by: str,
    clock: Callable[[], datetime],
    batch: int,
) -> tuple[list[str], int]:
    """Delete one agent's recordings a batch per transaction (a running server writes in
    between); return the ids deleted and how many are left (files that could not be
    removed)."""
    deleted: list[str] = []
    while ids := delete_for_agent(db, agent_id, before=before, by=by, now=clock(), limit=batch):
        deleted += ids
    return deleted, count_for_agent(db, agent_id, before)


def count_for_agent(db: sqlite_utils.Database, agent_id: str, before: datetime | None) -> int:
    where, params = agent_where(agent_id, before)
    return int(db.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE {where}", params).fetchone()[0])


def os_user() -> str:
    """Who runs a command, for the record of what it deleted."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def deletions(db: sqlite_utils.Database, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest deletions first."""
    return list(db.query(f"SELECT * FROM {DELETIONS} ORDER BY seq DESC LIMIT ?", [limit]))


def _counts(db: sqlite_utils.Database) -> tuple[dict[str, int], dict[str, int]]:
    """Recordings kept by source, and deletions by reason (all time: the table is
    append-only, so the count only grows, as a counter should)."""
    kept = db.execute(f"SELECT source, COUNT(*) FROM {TABLE} GROUP BY source").fetchall()
    gone = db.execute(f"SELECT reason, COUNT(*) FROM {DELETIONS} GROUP BY reason").fetchall()
    return {s or "": n for s, n in kept}, {r: n for r, n in gone}


class RecordingKeeper(Collector):
    """Deletes expired recordings on a timer, deletes one agent's on request, and gives
    ``medlytt_recordings{source}`` and ``medlytt_recordings_deleted_total{reason}``.

    The job runs once at start and then every ``delete_every_minutes``, each run one
    bounded batch on the storage thread; while a full batch comes back it runs again
    after a second, so a backlog clears without holding the storage thread.  ``clock``
    gives "now" (tests move it instead of waiting).
    """

    #: Pause between two runs while a backlog of expired recordings is cleared.
    CATCH_UP_SECONDS = 1.0

    def __init__(self, app: Medlytt, clock: Callable[[], datetime] = utcnow) -> None:
        self.app = app
        self.clock = clock
        self.kept: dict[str, int] = {}
        self.deleted: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def settings(self) -> RecordingsConfig:
        return self.app.config.recordings

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="medlytt-recording-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                deleted = await self.run_once()
            except Exception:
                log.exception("recordings: the retention job failed; trying again later")
                deleted = []
            full = len(deleted) >= self.settings.delete_batch
            await asyncio.sleep(
                self.CATCH_UP_SECONDS if full else self.settings.delete_every_minutes * 60
            )

    async def run_once(self) -> list[str]:
        """One run of the retention job; returns the ids deleted."""
        settings, now = self.settings, self.clock()
        deleted = await self.app.storage.run(
            lambda db: delete_expired(db, settings, now, settings.delete_batch)
        )
        if deleted:
            log.info("recordings: deleted %d past their retention", len(deleted))
        await self.refresh()
        return deleted

    async def delete_for_agent(self, agent_id: str, before: datetime | None, by: str) -> list[str]:
        """Delete all of one agent's recordings (made ``before``), a batch per storage
        call so other work goes on between them."""
        deleted: list[str] = []
        batch = self.settings.delete_batch
        while ids := await self.app.storage.run(
            partial(
                delete_for_agent,
                agent_id=agent_id,
                before=before,
                by=by,
                now=self.clock(),
                limit=batch,
            )
        ):
            deleted += ids
        log.info("recordings: deleted %d of agent %s on request by %s", len(deleted), agent_id, by)
        await self.refresh()
        return deleted

    async def refresh(self) -> None:
        """Read the counts ``/metrics`` shows (after each run and each deletion)."""
        self.kept, self.deleted = await self.app.storage.run(_counts)

    def saved(self, source: str) -> None:
        self.kept[source] = self.kept.get(source, 0) + 1

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        kept = GaugeMetricFamily(
            "medlytt_recordings",
            "Recordings kept, by the feature that recorded them (source).",
            labels=["source"],
        )
        known = {s: 0 for s in self.settings.retention_days if s != "default"}
        for source, count in sorted({**known, **self.kept}.items()):
            kept.add_metric([source], count)
        yield kept
        deleted = CounterMetricFamily(
            "medlytt_recordings_deleted",
            "Recordings deleted: past their retention, or on request for one agent.",
            labels=["reason"],
        )
        for reason, count in sorted({**dict.fromkeys(REASONS, 0), **self.deleted}.items()):
            deleted.add_metric([reason], count)
        yield deleted


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: all; supervisor: agents of own teams; agent: own calls since their user "
    "was created, once no longer hidden (a mystery call until it is evaluated)",
)
async def serve(request: web.Request) -> web.StreamResponse:
    """``GET /api/recordings/{id}``: the WAV, to whoever may hear it (module docstring)."""
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    recording_id = request.match_info["id"]
    row = await app.storage.run(lambda db: get(db, recording_id))
    if row is None:
        return json_error(404, f"no recording {recording_id!r}")
    scope = await scope_of(app, actor)
    if not scope.sees(row["agent_id"], row["created_at"]):
        return json_error(403, f"{actor.name} may not hear recordings of this agent's calls")
    if actor.role == "agent" and row["hidden_from_agent"]:
        return json_error(403, "this recording is shown to the agent once it is evaluated")
    if not await app.storage.run(lambda db: log_access(db, row, actor, utcnow())):
        return json_error(404, f"the file of recording {recording_id!r} is missing")
    return web.FileResponse(row["path"], headers={"Content-Type": "audio/wav"})


def log_access(
    db: sqlite_utils.Database, row: dict[str, Any], actor: auth.Actor, now: datetime
) -> bool:
    """Append who is about to hear recording ``row``; False (nothing logged) when its file
    is gone."""
    if not os.path.isfile(row["path"]):
        return False
    entry = {
        "at": now.isoformat(),
        "recording_id": row["id"],
        "agent_id": row["agent_id"],
        "recording_created_at": row["created_at"],
        "source": row["source"],
        "hidden_from_agent": row["hidden_from_agent"],
        "user": actor.name,
        "role": actor.role,
    }
    append_chained(db, ACCESSES, [entry])
    return True


#: What an access row shows (the hidden flag only decides whether an agent sees it).
ACCESS_FIELDS = ("seq", "at", "recording_id", "agent_id", "recording_created_at", "source")


def accesses(
    db: sqlite_utils.Database, scope: Scope, *, agent_view: bool, limit: int
) -> list[dict[str, Any]]:
    """Accesses to the recordings of the agents in ``scope``, newest first.  For an agent
    (``agent_view``) only those of recordings they may know of: a mystery call's once it
    is revealed (as the recording is now, or was when deleted, or was when heard)."""
    clause, params = scope.sql("a.agent_id", "a.recording_created_at")
    if agent_view:
        clause += " AND COALESCE(r.hidden_from_agent, d.hidden_from_agent, a.hidden_from_agent) = 0"
    fields = ", ".join(f"a.{f}" for f in ACCESS_FIELDS)
    return list(
        db.query(
            f"SELECT {fields}, a.user, a.role FROM {ACCESSES} a "
            f"LEFT JOIN {TABLE} r ON r.id = a.recording_id "
            f"LEFT JOIN {DELETIONS} d ON d.recording_id = a.recording_id "
            f"WHERE {clause} ORDER BY a.seq DESC LIMIT ?",
            [*params, limit],
        )
    )


@allow(
    "admin",
    "agent",
    rows="admin: every access (?agent= for one agent's recordings); agent: who heard the "
    "recordings of their own calls (on a reused agent id: from their start; a mystery call's "
    "once it is evaluated)",
)
async def list_accesses(request: web.Request) -> web.Response:
    """``GET /api/recordings/access?agent=&limit=``: who heard which recording, when."""
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    limit = query_limit(request)
    scope = (await scope_of(app, actor)).only(request.query.get("agent"))
    rows = await app.storage.run(
        lambda db: accesses(db, scope, agent_view=actor.role != "admin", limit=limit)
    )
    return json_response({"accesses": rows})


@allow("admin", rows="admin: the recordings of the agent named by ?agent=")
async def delete_recordings(request: web.Request) -> web.Response:
    """``DELETE /api/recordings?agent=PJSIP/1001[&before=DATE]``: delete one person's
    recordings (files and rows), each deletion recorded with reason ``request``."""
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    agent_id = request.query.get("agent", "").strip()
    if not agent_id:
        raise HttpError(422, "name the agent whose recordings to delete: ?agent=PJSIP/1001")
    before = None
    if "before" in request.query:
        try:
            before = parse_before(request.query["before"])
        except ValueError as exc:
            raise HttpError(422, str(exc)) from None
    deleted = await app.recordings.delete_for_agent(agent_id, before, by=actor.name)
    left = await app.storage.run(lambda db: count_for_agent(db, agent_id, before))
    return json_response(
        {"agent": agent_id, "deleted": len(deleted), "recordings": deleted, "left": left}
    )
