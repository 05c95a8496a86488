"""The monitoring audit trail is hash-chained (issue 11): rows written through the real
service verify, and every kind of tampering by hand is named by the row it concerns.

Tampering is done with raw SQL on the database file, as someone with access to it would.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from medlytt import recordings
from medlytt.chain import GENESIS, row_hash, verify_chain
from medlytt.plugins.monitoring import store
from medlytt.plugins.monitoring.events import MonitorMode
from medlytt.plugins.monitoring.service import ActiveSession, MonitoringService
from medlytt.plugins.quality import access_trail
from support import MEDLYTT, medlytt_env

AUDIT = [MEDLYTT, "audit"]
#: What ``medlytt audit verify`` prints for the other trails of a database with no rows.
EMPTY_TRAILS = ["recording access: 0 rows, chain intact", "evaluation access: 0 rows, chain intact"]


def open_db(path: Path) -> sqlite_utils.Database:
    """A connection in autocommit mode, as Medlytt's storage thread has."""
    return sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "at": f"2025-01-01T10:00:{n:02d}+00:00",
        "action": "started",
        "session_id": f"s{n}",
        "supervisor": "kari",
        "agent_id": "PJSIP/1001",
        "call_id": f"c{n}",
        "mode": "listen",
        "recording": 0,
        **extra,
    }


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """A database with five audit rows (seq 1 to 5) appended through the store, and the
    other trails (recording access, evaluation access) empty."""
    path = tmp_path / "medlytt.db"
    db = open_db(path)
    for migration in [*store.MIGRATIONS, *recordings.MIGRATIONS]:
        migration.apply(db)
    access_trail.create(db)
    for n in range(1, 6):
        store.append_audit(db, row(n, duration_seconds=n * 1.5 if n % 2 else None))
    db.conn.close()
    return path


def problems(path: Path) -> list[str]:
    db = open_db(path)
    try:
        return [str(p) for p in verify_chain(db, store.AUDIT)]
    finally:
        db.conn.close()


def sql(path: Path, statement: str, params: list[Any] | dict[str, Any] | tuple[()] = ()) -> None:
    db = open_db(path)
    db.execute(statement, params)
    db.conn.close()


def insert(path: Path, values: dict[str, Any]) -> None:
    """A row inserted by hand, with exactly these columns."""
    placeholders = ", ".join(f":{key}" for key in values)
    sql(path, f"INSERT INTO monitoring_audit ({', '.join(values)}) VALUES ({placeholders})", values)


def hash_of(path: Path, seq: int) -> str:
    db = open_db(path)
    (value,) = db.execute("SELECT hash FROM monitoring_audit WHERE seq = ?", [seq]).fetchone()
    db.conn.close()
    return str(value)


class FakeSnoop:
    """What change_mode and stop need of a session's snoop, without a PBX."""

    async def change_mode(self, mode: MonitorMode) -> None:
        pass

    async def remove(self) -> None:
        pass


async def test_the_service_writes_a_chain_that_verifies(medlytt, tmp_path):
    async with medlytt() as app:
        service: MonitoringService = app.service("monitoring")
        sessions = []
        for n in range(8):
            session = ActiveSession(
                f"s{n}",
                "kari",
                "PJSIP/2001",
                f"PJSIP/10{n:02d}",
                f"c{n}",
                MonitorMode.LISTEN,
                FakeSnoop(),  # type: ignore[arg-type]
            )
            service.sessions[session.session_id] = session
            sessions.append(session)
        # Concurrent sessions append at once: the chain must not fork.
        await asyncio.gather(
            *(
                service._audit(s, f"2025-01-01T10:00:0{n}+00:00", {"action": "started"})
                for n, s in enumerate(sessions)
            )
        )
        await asyncio.gather(
            *(service.change_mode(s.session_id, MonitorMode.WHISPER) for s in sessions)
        )
        await asyncio.gather(*(service.stop(s.session_id) for s in sessions))
        rows = await app.storage.run(
            lambda db: list(db.query("SELECT * FROM monitoring_audit ORDER BY seq"))
        )
        assert await app.storage.run(lambda db: verify_chain(db, store.AUDIT)) == []
    assert [r["seq"] for r in rows] == list(range(1, 25))
    assert rows[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    assert all(r["hash"] == row_hash(r) for r in rows)
    assert {r["action"] for r in rows} == {"started", "mode_changed", "stopped"}
    assert problems(tmp_path / "medlytt.db") == []


def test_two_connections_appending_at_once_do_not_fork_the_chain(trail):
    """Two processes on one database (e.g. a second Medlytt): the write lock is taken
    before the head is read, so each append chains from the one before it."""

    def append_many(name: str) -> None:
        db = open_db(trail)
        db.execute("PRAGMA journal_mode=wal")
        for n in range(40):
            store.append_audit(db, row(n, session_id=f"{name}{n}"))
        db.conn.close()

    threads = [threading.Thread(target=append_many, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems(trail) == []
    db = open_db(trail)
    seqs = [r["seq"] for r in db.query("SELECT seq FROM monitoring_audit ORDER BY seq")]
    assert seqs == list(range(1, 86))
    db.conn.close()


def test_an_intact_trail_has_no_problems(trail):
    assert problems(trail) == []
    db = open_db(trail)
    head = list(db.query("SELECT * FROM monitoring_audit_head"))
    assert head == [{"id": 1, "seq": 5, "hash": hash_of(trail, 5), "rows": 5}]


def test_an_edited_row_is_named(trail):
    sql(trail, "UPDATE monitoring_audit SET mode = 'barge' WHERE seq = 3")
    assert problems(trail) == ["seq 3: hash mismatch: the row was changed after it was written"]


def test_an_edited_row_with_its_hash_recomputed_breaks_the_next_link(trail):
    db = open_db(trail)
    (edited,) = db.query("SELECT * FROM monitoring_audit WHERE seq = 3")
    edited["supervisor"] = "someone else"
    db.execute(
        "UPDATE monitoring_audit SET supervisor = ?, hash = ? WHERE seq = 3",
        [edited["supervisor"], row_hash(edited)],
    )
    db.conn.close()
    assert problems(trail) == [
        "seq 4: prev_hash is not the hash of seq 3: a row inserted, removed or rewritten"
    ]


def test_a_forged_row_in_the_middle_is_named(trail):
    """Row 3 replaced by a forged one, chained and hashed correctly: row 4 no longer links."""
    forged = {**row(99, action="stopped", reason="stopped"), "seq": 3}
    forged["prev_hash"] = hash_of(trail, 2)
    forged["hash"] = row_hash(forged)
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 3")
    insert(trail, forged)
    assert problems(trail) == [
        "seq 4: prev_hash is not the hash of seq 3: a row inserted, removed or rewritten"
    ]


def test_a_forged_row_at_the_end_is_named(trail):
    """Even chained and hashed correctly, a row added by hand is past the recorded end."""
    forged = {**row(6), "seq": 6, "prev_hash": hash_of(trail, 5)}
    forged["hash"] = row_hash(forged)
    insert(trail, forged)
    assert problems(trail) == ["seq 6: added after the recorded end of the trail (seq 5): forged?"]


def test_a_forged_row_without_a_valid_hash_is_named(trail):
    sql(
        trail,
        "INSERT INTO monitoring_audit (seq, at, action, session_id, supervisor, agent_id, "
        "call_id, prev_hash, hash) VALUES (9, 'x', 'started', 's', 'k', 'a', 'c', 'p', 'h')",
    )
    assert problems(trail) == [
        "seq 9: follows seq 5: seq 6 to 8 missing (deleted?)",
        "seq 9: hash mismatch: the row was changed after it was written",
        "seq 6: added after the recorded end of the trail (seq 5): forged?",
    ]


def test_a_deleted_row_is_named(trail):
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 3")
    assert problems(trail) == [
        "seq 4: follows seq 2: seq 3 missing (deleted?)",
        "4 rows, but 5 were written",
    ]


def test_a_deleted_first_row_is_named(trail):
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 1")
    assert problems(trail)[0] == "seq 2: follows seq 1: seq 1 missing (deleted?)"


def test_a_deleted_last_row_is_named_by_the_head(trail):
    """A chain alone cannot see rows cut off its end; the head row can."""
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 5")
    assert problems(trail) == [
        "seq 5: missing: the trail should end at seq 5 but ends at seq 4 "
        "(rows deleted from the end)"
    ]


def test_a_deleted_head_is_named(trail):
    sql(trail, "DELETE FROM monitoring_audit_head")
    assert problems(trail) == [
        "seq 5: monitoring_audit_head has no row: the end of the trail cannot be checked"
    ]


def test_the_limit_rows_cut_off_with_the_head_moved_back_go_unnoticed(trail):
    """Documented limit (docs/monitoring.md): the chain is not keyed, so someone who also
    rewrites the head (or every hash) is not caught by the database alone."""
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 5")
    sql(
        trail,
        "UPDATE monitoring_audit_head SET seq = 4, hash = ?, rows = 4",
        [hash_of(trail, 4)],
    )
    assert problems(trail) == []


def test_appending_after_tampering_does_not_hide_it(trail):
    """The next row chains from the head, not from a row forged at the end."""
    forged = {**row(6), "seq": 6, "prev_hash": hash_of(trail, 5)}
    forged["hash"] = row_hash(forged)
    insert(trail, forged)
    db = open_db(trail)
    store.append_audit(db, row(7))
    db.conn.close()
    assert problems(trail) == [
        "seq 7: prev_hash is not the hash of seq 6: a row inserted, removed or rewritten",
        "7 rows, but 6 were written",
    ]


def old_database(path: Path) -> None:
    """A database of the release before the chain: rows without prev_hash and hash."""
    db = open_db(path)
    store.MIGRATIONS[0].apply(db)  # create_monitoring_audit, as released
    db.execute(
        "CREATE TABLE medlytt_migrations (plugin TEXT, name TEXT, applied_at TEXT, "
        "PRIMARY KEY (plugin, name))"
    )
    db.execute(
        "INSERT INTO medlytt_migrations VALUES ('monitoring', 'create_monitoring_audit', 'x')"
    )
    for n in range(1, 4):
        values = row(n, duration_seconds=2.5)
        db.execute(  # the old append_audit: no seq given, SQLite numbers the rows
            f"INSERT INTO monitoring_audit ({', '.join(values)}) "
            f"VALUES ({', '.join(':' + k for k in values)})",
            values,
        )
    db.conn.close()


def test_an_old_database_is_chained_by_the_migration(tmp_path):
    path = tmp_path / "medlytt.db"
    old_database(path)
    assert problems(path) == ["not chained yet: start Medlytt once to upgrade the database"]
    db = open_db(path)
    store.MIGRATIONS[1].apply(db)
    store.MIGRATIONS[1].apply(db)  # safe to re-run
    rows = list(db.query("SELECT * FROM monitoring_audit ORDER BY seq"))
    db.conn.close()
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == GENESIS
    assert problems(path) == []


async def test_an_upgraded_database_verifies_and_goes_on(medlytt, tmp_path):
    """Medlytt started on an old database migrates it; new rows continue the chain."""
    path = tmp_path / "medlytt.db"  # where the medlytt fixture keeps its database
    old_database(path)
    async with medlytt() as app:
        service: MonitoringService = app.service("monitoring")
        session = ActiveSession(
            "s9",
            "kari",
            "PJSIP/2001",
            "PJSIP/1001",
            "c9",
            MonitorMode.LISTEN,
            FakeSnoop(),  # type: ignore[arg-type]
        )
        service.sessions["s9"] = session
        await service._audit(session, "2025-01-02T10:00:00+00:00", {"action": "started"})
        await service.stop("s9")
    assert problems(path) == []
    db = open_db(path)
    seqs = [r["seq"] for r in db.query("SELECT seq FROM monitoring_audit ORDER BY seq")]
    assert seqs == [1, 2, 3, 4, 5]
    db.conn.close()


def verify_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUDIT, "verify", *args],
        env=medlytt_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_says_intact_and_exits_0(trail):
    result = verify_command(MEDLYTT_STORAGE__PATH=str(trail))
    assert result.returncode == 0, result
    assert sorted(result.stdout.splitlines()) == sorted(
        ["monitoring audit: 5 rows, chain intact", *EMPTY_TRAILS]
    )


def test_the_command_reads_the_config_file(trail, tmp_path):
    config = tmp_path / "medlytt.toml"
    config.write_text(f'[storage]\npath = "{trail}"\n')
    result = verify_command("--config", str(config))
    assert result.returncode == 0, result
    assert sorted(result.stdout.splitlines()) == sorted(
        ["monitoring audit: 5 rows, chain intact", *EMPTY_TRAILS]
    )


def test_the_command_names_each_problem_and_exits_1(trail):
    sql(trail, "UPDATE monitoring_audit SET agent_id = 'PJSIP/1002' WHERE seq = 2")
    sql(trail, "DELETE FROM monitoring_audit WHERE seq = 5")
    result = verify_command(MEDLYTT_STORAGE__PATH=str(trail))
    assert result.returncode == 1, result
    assert [line for line in result.stdout.splitlines() if line not in EMPTY_TRAILS] == [
        "monitoring audit: seq 2: hash mismatch: the row was changed after it was written",
        "monitoring audit: seq 5: missing: the trail should end at seq 5 but ends at seq 4 "
        "(rows deleted from the end)",
    ]


def test_the_command_exits_2_on_a_config_error(tmp_path):
    config = tmp_path / "medlytt.toml"
    config.write_text("[storage]\nnonsense = 1\n")
    result = verify_command("--config", str(config))
    assert result.returncode == 2, result
    assert "config error" in result.stderr and "nonsense" in result.stderr


def test_the_command_exits_1_without_a_database(tmp_path):
    missing = tmp_path / "nothing.db"
    result = verify_command(MEDLYTT_STORAGE__PATH=str(missing))
    assert result.returncode == 1, result
    assert "no database" in result.stderr
    assert not missing.exists()  # verifying never creates a database
