import sqlite3

import sqlite_utils
from medlytt.storage import Migration, Storage


async def test_migrations_run_once_per_plugin_and_are_recorded(tmp_path):
    calls = []

    def create(db: sqlite_utils.Database) -> None:
        calls.append("create")
        db["notes"].create({"id": int, "text": str}, pk="id", if_not_exists=True)

    migrations = [("notes_plugin", Migration("create_notes", create))]
    for _ in range(2):
        storage = Storage(tmp_path / "m.db")
        await storage.open()
        applied = await storage.migrate(migrations)
        await storage.close()
    assert calls == ["create"]
    assert applied == []
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        recorded = conn.execute("SELECT plugin, name FROM medlytt_migrations").fetchall()
    assert recorded == [("notes_plugin", "create_notes")]


async def test_a_failing_migration_is_named_and_not_recorded(tmp_path):
    def broken(db):
        raise RuntimeError("disk says no")

    storage = Storage(tmp_path / "m.db")
    await storage.open()
    try:
        await storage.migrate([("p", Migration("broken", broken))])
    except Exception as exc:
        assert "migration 'broken' of plugin 'p' failed: disk says no" in str(exc)
    else:
        raise AssertionError("the failing migration was not reported")
    names = await storage.run(lambda db: [r["name"] for r in db["medlytt_migrations"].rows])
    await storage.close()
    assert names == []


async def test_unopenable_path_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    storage = Storage(blocker / "sub" / "m.db")
    try:
        await storage.open()
    except Exception as exc:
        assert "cannot open storage.path" in str(exc)
    else:
        raise AssertionError("opening under a file did not fail")
    finally:
        await storage.close()


def test_serve_reports_an_unusable_storage_path(tmp_path):
    import subprocess

    from support import MEDLYTT, medlytt_env

    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [MEDLYTT, "serve", "--port", "0"],
        env=medlytt_env(MEDLYTT_STORAGE__PATH=str(blocker / "m.db")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot open storage.path" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_waits_for_another_writer_instead_of_failing(tmp_path):
    """Another process holds the write lock for a second (the server writing a batch):
    a ``medlytt`` command waits for it (busy timeout, immediate transactions) and then
    does its work, instead of "database is locked"."""
    import sqlite3
    import subprocess
    import threading
    import time

    from support import MEDLYTT, medlytt_env

    env = medlytt_env(MEDLYTT_STORAGE__PATH=str(tmp_path / "m.db"))
    first = subprocess.run(
        [MEDLYTT, "user", "add", "ada", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    began = time.monotonic()
    released.start()
    try:
        result = subprocess.run(
            [MEDLYTT, "token", "create", "ada"], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        released.join()
        holder.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mlt_")
    assert "locked" not in result.stderr
    assert time.monotonic() - began >= 1.0  # it did wait for the other writer


def test_a_command_that_cannot_get_the_lock_fails_clearly(tmp_path):
    """A writer that never lets go: the command gives up after the busy timeout with a
    message naming the cause and exit 1, no traceback; nothing half-written."""
    import sqlite3
    import subprocess

    from support import MEDLYTT, medlytt_env

    env = medlytt_env(MEDLYTT_STORAGE__PATH=str(tmp_path / "m.db"))
    first = subprocess.run(
        [MEDLYTT, "user", "add", "ada", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = subprocess.run(
            [MEDLYTT, "token", "create", "ada"], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "database is locked" in result.stderr and "another writer" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    tokens = sqlite3.connect(tmp_path / "m.db").execute("SELECT COUNT(*) FROM api_tokens")
    assert tokens.fetchone()[0] == 0
