"""SQLite storage through sqlite-utils, owned by one thread.

SQLite connections must not be shared between threads while writing, and blocking calls
must never run on the event loop.  So one :class:`Storage` owns one connection on one
worker thread; coroutines hand it work with :meth:`Storage.run`.  The database runs in
WAL mode so readers (``sqlite-utils``, ``datasette``, backups) never block Medlytt.

Plugins declare their tables as :class:`Migration` objects (hook ``medlytt_migrations``);
each runs once and is recorded in ``medlytt_migrations`` with the plugin's name once it
has succeeded.  Migrations are not wrapped in one transaction because sqlite-utils commits
inside many of its methods; keep each migration one step that is safe to re-run
(``create(..., if_not_exists=True)``) in case the process dies between the step and its
record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from .clock import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_TABLE = "medlytt_migrations"


@dataclass(frozen=True)
class Migration:
    """One step of a plugin's schema: ``apply(db)`` runs once, on the storage thread."""

    name: str
    apply: Callable[[sqlite_utils.Database], None]


class StorageError(RuntimeError):
    """The database could not be opened or migrated; the message says which and why."""


class Storage:
    """The SQLite database, reached from coroutines through one worker thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medlytt-db")
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils database; use it only inside :meth:`run` (the storage thread)."""
        if self._db is None:
            raise StorageError("storage is not open")
        return self._db

    async def open(self) -> None:
        """Open (creating if needed) the database file in WAL mode."""
        await self.run_blocking(self._open)

    def _open(self) -> None:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # The database holds people's calls and evaluations: readable by Medlytt's
                # user only (SQLite gives its -wal and -shm files the same mode).
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            else:
                # One made by an older Medlytt (0644) is tightened, with its -wal and -shm,
                # before SQLite copies its mode to new ones.
                suffixes = ("", "-wal", "-shm")
                tighten_files([self.path.with_name(self.path.name + s) for s in suffixes])
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db = sqlite_utils.Database(conn)
            db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open storage.path {str(self.path)!r}: {exc}") from exc
        self._db = db

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the storage thread and return its result."""
        return await self.run_blocking(lambda: fn(self.db))

    async def run_blocking(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    def run_sync(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the storage thread from synchronous code (CLI commands)."""
        return self._executor.submit(lambda: fn(self.db)).result()

    async def migrate(self, migrations: Iterable[tuple[str, Migration]]) -> list[str]:
        """Apply each ``(plugin, migration)`` not applied before; return what ran."""
        items = list(migrations)
        return await self.run(lambda db: apply_migrations(db, items))

    async def close(self) -> None:
        """Close the connection and stop the storage thread."""
        if self._db is not None:
            db = self._db
            await self.run_blocking(db.conn.close)
            self._db = None
        self._executor.shutdown(wait=True)


PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def _tighten(path: Path, private: int) -> int | None:
    """Give ``path`` the mode ``private`` when its group or others have any access; return
    the mode it had then (None: already private, or not there)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    path.chmod(private)
    return mode


def tighten_files(paths: Iterable[Path]) -> None:
    """Make files that exist readable by Medlytt's user only (0600), and log once which
    were not: they hold people's calls, so an install from before Medlytt made its files
    private must not stay readable by everyone on the machine."""
    changed: dict[Path, int | None] = {}
    for path in paths:
        try:
            changed[path] = _tighten(path, PRIVATE_FILE)
        except OSError as exc:  # another user's file: say so; SQLite decides if it opens
            log.warning("storage: could not make %s private: %s", path, exc)
    tightened = [f"{path} ({mode:04o})" for path, mode in changed.items() if mode is not None]
    if tightened:
        log.info("storage: made private (0600), others could read them: %s", ", ".join(tightened))


def tighten_folder(folder: Path) -> None:
    """Make ``folder`` 0700 and each file directly in it 0600 (a recordings folder made
    by an older Medlytt, 0755 with 0644 files); log once how many were tightened."""
    files = 0
    try:
        old_mode = _tighten(folder, PRIVATE_FOLDER)
        if not folder.is_dir():
            return
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and _tighten(
                    Path(entry.path), PRIVATE_FILE
                ):
                    files += 1
    except OSError as exc:  # e.g. files of another user: say so, and serve on
        log.warning("storage: could not make %s private: %s", folder, exc)
        return
    if old_mode is not None or files:
        before = f"{old_mode:04o} -> 0700" if old_mode is not None else "already 0700"
        log.info("storage: made %s private: folder %s, %d files -> 0600", folder, before, files)


def database_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on a lock another connection holds (after the
    busy timeout): "database is locked" or "database table is locked"."""
    return isinstance(exc, sqlite3.OperationalError) and "is locked" in str(exc)


@contextlib.contextmanager
def no_wait(db: sqlite_utils.Database) -> Iterator[None]:
    """Inside: fail at once instead of waiting for another process's lock (busy timeout
    0), for writes that may be skipped; the busy timeout is restored after."""
    (previous,) = db.execute("PRAGMA busy_timeout").fetchone()
    db.execute("PRAGMA busy_timeout=0")
    try:
        yield
    finally:
        db.execute(f"PRAGMA busy_timeout={int(previous)}")


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database, *, immediate: bool = True) -> Iterator[None]:
    """One explicit transaction (the connection is in autocommit mode otherwise).

    It takes the write lock at once (``BEGIN IMMEDIATE``), waiting up to the busy timeout
    for another writer (the server, a ``medlytt`` command): a deferred transaction that
    reads first and writes later fails at once with "database is locked" when another
    connection wrote in between, however long the busy timeout.  ``immediate=False`` is for
    a read-only transaction that wants one consistent snapshot.
    """
    db.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def apply_migrations(db: sqlite_utils.Database, items: list[tuple[str, Migration]]) -> list[str]:
    """Apply pending migrations in order, each in its own transaction."""
    if not db.table(MIGRATIONS_TABLE).exists():
        db.table(MIGRATIONS_TABLE).create(
            {"plugin": str, "name": str, "applied_at": str}, pk=("plugin", "name")
        )
    done = {(row["plugin"], row["name"]) for row in db.table(MIGRATIONS_TABLE).rows}
    applied: list[str] = []
    for plugin, migration in items:
        if (plugin, migration.name) in done:
            continue
        try:
            migration.apply(db)
            with transaction(db):
                db.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (plugin, name, applied_at) VALUES (?, ?, ?)",
                    [plugin, migration.name, utcnow().isoformat()],
                )
        except Exception as exc:
            raise StorageError(
                f"migration {migration.name!r} of plugin {plugin!r} failed: {exc}"
            ) from exc
        log.info("applied migration %s/%s", plugin, migration.name)
        applied.append(f"{plugin}/{migration.name}")
    return applied
