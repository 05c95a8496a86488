"""Who read which evaluation, and who heard which recording: both trails are written on
every read through the API, hash-chained and append-only, and ``medlytt audit verify``
names the trail and the row that was edited, inserted or deleted (issue 11).

Tampering is done with raw SQL on the database file, as someone with access to it would:
first dropping the append-only triggers, which anyone with the file can.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from medlytt import recordings, save_recording
from medlytt.chain import GENESIS, row_hash, verify_chain
from medlytt.clock import utcnow
from medlytt.plugins.quality import access_trail
from medlytt.plugins.quality import store as quality_store
from medlytt.testing import add_user_with_token
from support import MEDLYTT, medlytt_env
from test_quality import wav

A1, A2, B1 = "PJSIP/1001", "PJSIP/1002", "PJSIP/2001"
EVALUATION_ACCESS = access_trail.ACCESS
RECORDING_ACCESS = recordings.ACCESSES


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def evaluation(n: int, agent: str) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "created_at": utcnow().isoformat(),
        "form": "greeting",
        "form_version": 1,
        "agent_id": agent,
        "evaluator": "sup-a",
        "subject_kind": "call",
        "subject_id": f"c{n}",
        "live": 0,
        "score": 80.0,
        "passed": 1,
        "failed_critical": [],
        "scores": {"name": 1},
        "comments": {},
        "status": "open",
    }


@pytest.fixture
async def world(medlytt, medlytt_client, tmp_path):
    """Two evaluations of A1, one of A2 (team A), one of B1 (team B); a recording of A1's."""
    async with medlytt() as app:
        tokens = {
            "a1": add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id=A1),
            "a2": add_user_with_token(app, "a2", "agent", teams=["team-a"], agent_id=A2),
            "b1": add_user_with_token(app, "b1", "agent", teams=["team-b"], agent_id=B1),
            "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["team-a"]),
            "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"]),
            "admin": add_user_with_token(app, "root", "admin"),
        }

        def seed(db: sqlite_utils.Database) -> None:
            for n, agent in enumerate([A1, A1, A2, B1], start=1):
                quality_store.insert_evaluation(db, evaluation(n, agent))

        app.storage.run_sync(seed)
        recording = await save_recording(app, wav(), source="monitoring", call_id="c1", agent_id=A1)
        client = await medlytt_client(app, role=None)
        yield app, client, tokens, recording, tmp_path / "medlytt.db"


async def trail_rows(app: Any, table: str) -> list[dict[str, Any]]:
    return await app.storage.run(lambda db: list(db.query(f"SELECT * FROM {table} ORDER BY seq")))


async def test_every_kind_of_read_is_written_with_its_reader(world):
    app, client, tokens, _, _ = world
    got = await client.get("/api/evaluations/e1", headers=bearer(tokens["sup-a"]))
    assert got.status == 200
    listed = await client.get("/api/evaluations", headers=bearer(tokens["admin"]))
    assert len((await listed.json())["evaluations"]) == 4
    own = await client.get("/api/evaluations", headers=bearer(tokens["a1"]))
    assert {e["id"] for e in (await own.json())["evaluations"]} == {"e1", "e2"}
    exported = await client.get(
        "/api/evaluations/export",
        params={"agent": A1, "format": "csv"},
        headers=bearer(tokens["sup-a"]),
    )
    assert exported.status == 200
    nothing = await client.get(
        "/api/evaluations",
        params={"agent": A1, "status": "disputed"},
        headers=bearer(tokens["sup-a"]),
    )
    assert (await nothing.json())["evaluations"] == []
    rows = await trail_rows(app, EVALUATION_ACCESS)
    seen = [
        (r["user"], r["role"], r["action"], r["evaluation_id"], r["agent_id"], r["count"])
        for r in rows
    ]
    assert seen == [
        ("sup-a", "supervisor", "read", "e1", A1, 1),
        # One row per agent whose evaluations a list returned.
        ("root", "admin", "list", None, A1, 2),
        ("root", "admin", "list", None, A2, 1),
        ("root", "admin", "list", None, B1, 1),
        ("a1", "agent", "list", None, A1, 2),  # the agent's own view
        ("sup-a", "supervisor", "export", None, A1, 2),
        ("sup-a", "supervisor", "list", None, A1, 0),  # read nothing, still written
    ]
    assert [r["filter"] for r in rows][-2:] == [
        '{"agent": "PJSIP/1001", "format": "csv"}',
        '{"agent": "PJSIP/1001", "status": "disputed"}',
    ]
    assert all(r["at"] and r["first_at"] for r in rows[:-1])
    assert await app.storage.run(lambda db: verify_chain(db, EVALUATION_ACCESS)) == []
    assert rows[0]["prev_hash"] == GENESIS and all(r["hash"] == row_hash(r) for r in rows)


async def test_a_refused_read_is_not_written(world):
    app, client, tokens, _, _ = world
    refused = await client.get("/api/evaluations/e4", headers=bearer(tokens["sup-a"]))
    assert refused.status == 403
    assert await trail_rows(app, EVALUATION_ACCESS) == []


async def test_a_read_that_cannot_be_written_is_not_answered(world):
    """A transparency record is never best effort: no row, no evaluation."""
    app, client, tokens, _, _ = world
    app.storage.run_sync(lambda db: db.execute(f"DROP TABLE {EVALUATION_ACCESS}"))
    response = await client.get("/api/evaluations/e1", headers=bearer(tokens["admin"]))
    assert response.status == 500
    assert "e1" not in await response.text()


async def test_who_reads_the_access_trail(world):
    _, client, tokens, _, _ = world
    for who in ("admin", "sup-a", "sup-b", "a1", "b1"):  # each reads what they may
        await client.get("/api/evaluations", headers=bearer(tokens[who]))
    await client.get("/api/evaluations/e3", headers=bearer(tokens["admin"]))

    async def visible(who: str, **params: str) -> set[tuple[str, str]]:
        response = await client.get(
            "/api/evaluations/access", params=params, headers=bearer(tokens[who])
        )
        assert response.status == 200, await response.text()
        return {(r["agent_id"], r["user"]) for r in (await response.json())["accesses"]}

    # The agent sees every read of their own evaluations, whoever read them, and no other.
    assert await visible("a1") == {(A1, "root"), (A1, "sup-a"), (A1, "a1")}
    assert await visible("b1") == {(B1, "root"), (B1, "sup-b"), (B1, "b1")}
    assert {agent for agent, _ in await visible("sup-a")} == {A1, A2}
    assert {agent for agent, _ in await visible("sup-b")} == {B1}
    assert {agent for agent, _ in await visible("admin")} == {A1, A2, B1}
    assert await visible("admin", agent=A2) == {(A2, "root"), (A2, "sup-a")}
    refused = await client.get(
        "/api/evaluations/access", params={"agent": A1}, headers=bearer(tokens["b1"])
    )
    assert refused.status == 403 and A1 in (await refused.json())["error"]
    wrong = await client.get(
        "/api/evaluations/access", params={"who": "x"}, headers=bearer(tokens["admin"])
    )
    assert wrong.status == 422 and "who" in (await wrong.json())["error"]


async def test_hearing_a_recording_extends_its_chain(world):
    app, client, tokens, recording, _ = world
    for who in ("sup-a", "a1", "admin"):
        response = await client.get(f"/api/recordings/{recording}", headers=bearer(tokens[who]))
        assert response.status == 200
    rows = await trail_rows(app, RECORDING_ACCESS)
    assert [(r["seq"], r["user"]) for r in rows] == [(1, "sup-a"), (2, "a1"), (3, "root")]
    assert rows[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert await app.storage.run(lambda db: verify_chain(db, RECORDING_ACCESS)) == []


# --------------------------------------------------------------------------- tampering


def open_db(path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))


def sql(path: Path, *statements: str) -> None:
    db = open_db(path)
    for statement in statements:
        db.execute(statement)
    db.conn.close()


def untriggered(path: Path, table: str, statement: str) -> None:
    """What someone with the file does: drop the triggers, then change the rows."""
    sql(
        path,
        f"DROP TRIGGER {table}_no_update",
        f"DROP TRIGGER {table}_no_delete",
        statement,
    )


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEDLYTT, "audit", "verify"],
        env=medlytt_env(MEDLYTT_STORAGE__PATH=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
async def trails(world):
    """Three rows in each access trail, written through the API; the server stopped."""
    _app, client, tokens, recording, path = world
    for who in ("sup-a", "a1", "admin"):
        await client.get("/api/evaluations/e1", headers=bearer(tokens[who]))
        await client.get(f"/api/recordings/{recording}", headers=bearer(tokens[who]))
    return path


@pytest.mark.parametrize("table", [EVALUATION_ACCESS, RECORDING_ACCESS])
async def test_the_trails_refuse_changes_from_medlytt_itself(trails, table):
    db = open_db(trails)
    for statement in (f"UPDATE {table} SET user = 'x' WHERE seq = 2", f"DELETE FROM {table}"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.conn.close()


async def test_intact_trails_verify(trails):
    result = verify(trails)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert "recording access: 3 rows, chain intact" in lines
    assert "evaluation access: 3 rows, chain intact" in lines
    assert "monitoring audit: 0 rows, chain intact" in lines


TRAIL_NAMES = {EVALUATION_ACCESS: "evaluation access", RECORDING_ACCESS: "recording access"}


@pytest.mark.parametrize("table", [EVALUATION_ACCESS, RECORDING_ACCESS])
async def test_an_edited_row_is_named_with_its_trail(trails, table):
    untriggered(trails, table, f"UPDATE {table} SET user = 'nobody' WHERE seq = 2")
    result = verify(trails)
    assert result.returncode == 1, result
    broken = [line for line in result.stdout.splitlines() if "chain intact" not in line]
    assert broken == [
        f"{TRAIL_NAMES[table]}: seq 2: hash mismatch: the row was changed after it was written"
    ]


@pytest.mark.parametrize("table", [EVALUATION_ACCESS, RECORDING_ACCESS])
async def test_a_deleted_row_is_named_with_its_trail(trails, table):
    untriggered(trails, table, f"DELETE FROM {table} WHERE seq = 2")
    result = verify(trails)
    assert result.returncode == 1, result
    broken = [line for line in result.stdout.splitlines() if "chain intact" not in line]
    name = TRAIL_NAMES[table]
    assert broken == [
        f"{name}: seq 3: follows seq 1: seq 2 missing (deleted?)",
        f"{name}: 2 rows, but 3 were written",
    ]


@pytest.mark.parametrize("table", [EVALUATION_ACCESS, RECORDING_ACCESS])
async def test_an_inserted_row_is_named_with_its_trail(trails, table):
    """A forged row put in the middle, hashed correctly: the next row no longer links."""
    db = open_db(trails)
    (second,) = db.query(f"SELECT * FROM {table} WHERE seq = 2")
    db.conn.close()
    forged = {**second, "user": "someone else"}
    forged["hash"] = row_hash(forged)
    untriggered(trails, table, f"DELETE FROM {table} WHERE seq = 2")
    db = open_db(trails)
    db.table(table).insert(forged)
    db.conn.close()
    result = verify(trails)
    assert result.returncode == 1, result
    broken = [line for line in result.stdout.splitlines() if "chain intact" not in line]
    assert broken == [
        f"{TRAIL_NAMES[table]}: seq 3: prev_hash is not the hash of seq 2: a row inserted, "
        "removed or rewritten"
    ]


async def test_a_dropped_trail_is_named(trails):
    """A trail's table gone although its plugin ran here is a problem, not "no rows"."""
    sql(trails, f"DROP TABLE {EVALUATION_ACCESS}")
    result = verify(trails)
    assert result.returncode == 1, result
    assert (
        result.stdout.splitlines().count(
            f"evaluation access: no table {EVALUATION_ACCESS}: dropped, or Medlytt has not run "
            "since it was added (start it once)"
        )
        == 1
    )


def test_a_database_a_plugin_never_ran_on_verifies(tmp_path):
    """Only the core's tables (``medlytt user add`` before the first start): nothing to
    check in the plugins' trails, and nothing broken."""
    path = tmp_path / "fresh.db"
    env = medlytt_env(MEDLYTT_STORAGE__PATH=str(path))
    added = subprocess.run(
        [MEDLYTT, "user", "add", "ada", "--role", "admin"], env=env, capture_output=True, timeout=60
    )
    assert added.returncode == 0, added
    result = verify(path)
    assert result.returncode == 0, result
    assert sorted(result.stdout.splitlines()) == [
        "evaluation access: no rows (quality has not run on this database)",
        "monitoring audit: no rows (monitoring has not run on this database)",
        "recording access: 0 rows, chain intact",
    ]


async def test_a_row_added_at_the_end_is_named(trails):
    db = open_db(trails)
    (last,) = db.query(f"SELECT * FROM {EVALUATION_ACCESS} WHERE seq = 3")
    forged = {**last, "seq": 4, "prev_hash": last["hash"], "user": "ghost"}
    forged["hash"] = row_hash(forged)
    db.table(EVALUATION_ACCESS).insert(forged)
    db.conn.close()
    result = verify(trails)
    assert result.returncode == 1, result
    assert (
        "evaluation access: seq 4: added after the recorded end of the trail (seq 3): forged?"
        in result.stdout.splitlines()
    )


# --------------------------------------------------------------------------- upgrade


def test_an_old_recording_access_log_is_chained_by_the_migration(tmp_path):
    """A database of the release before: recording_access rows without hashes, under
    triggers that refuse every update.  The migration chains them in seq order."""
    path = tmp_path / "medlytt.db"
    db = open_db(path)
    old, chain = recordings.MIGRATIONS[:2], recordings.MIGRATIONS[2]
    for migration in old:
        migration.apply(db)
    for n in range(1, 4):
        db.table(RECORDING_ACCESS).insert(
            {"at": f"2025-01-0{n}T10:00:00+00:00", "recording_id": f"r{n}", "agent_id": A1}
            | {"recording_created_at": "2025-01-01T09:00:00+00:00", "source": "monitoring"}
            | {"hidden_from_agent": 0, "user": "kari", "role": "supervisor"}
        )
    assert [str(p) for p in verify_chain(db, RECORDING_ACCESS)] == [
        "not chained yet: start Medlytt once to upgrade the database"
    ]
    chain.apply(db)
    chain.apply(db)  # safe to re-run
    rows = list(db.query(f"SELECT * FROM {RECORDING_ACCESS} ORDER BY seq"))
    assert [r["recording_id"] for r in rows] == ["r1", "r2", "r3"]
    assert rows[0]["prev_hash"] == GENESIS
    assert verify_chain(db, RECORDING_ACCESS) == []
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(f"UPDATE {RECORDING_ACCESS} SET user = 'x' WHERE seq = 1")
    db.conn.close()
