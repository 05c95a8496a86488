"""Recordings: retention per kind, the deletion job, deletion on request (API and command
line), every deletion and every access recorded, and who reads the access log.

Time is moved through the job's injectable clock (``app.recordings.clock``), never slept.
"""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner
from medlytt import link_evaluation, recordings, reveal_recording, save_recording
from medlytt.app import CORE_MIGRATIONS
from medlytt.cli import cli
from medlytt.config import ConfigError, load_config
from medlytt.storage import apply_migrations
from medlytt.testing import add_user_with_token, wait_until
from support import MEDLYTT, medlytt_env

A1, B1 = "PJSIP/1001", "PJSIP/2001"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt "


async def save(app: Any, source: str = "monitoring", agent_id: str = A1, **kw: Any) -> str:
    return await save_recording(app, AUDIO, source=source, call_id="c1", agent_id=agent_id, **kw)


def row_of(app: Any, recording_id: str) -> dict[str, Any]:
    row = app.storage.run_sync(lambda db: recordings.get(db, recording_id))
    assert row is not None, recording_id
    return row


def file_of(app: Any, recording_id: str) -> Path:
    return Path(row_of(app, recording_id)["path"])


def remove_file(app: Any, recording_id: str) -> None:
    file_of(app, recording_id).unlink()


def kept(app: Any) -> set[str]:
    return {r["id"] for r in app.storage.run_sync(lambda db: list(db.table("recordings").rows))}


def deletions(app: Any) -> list[dict[str, Any]]:
    return app.storage.run_sync(lambda db: list(reversed(recordings.deletions(db))))


def at(app: Any, recording_id: str, days: float) -> datetime:
    """``days`` after the recording was made."""
    created = datetime.fromisoformat(row_of(app, recording_id)["created_at"])
    return created + timedelta(days=days)


def set_clock(app: Any, now: datetime) -> None:
    """Make the retention job's "now" ``now``."""
    app.recordings.clock = lambda: now


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- retention


async def test_retention_deletes_exactly_the_expired_ones_per_kind(medlytt, tmp_path):
    async with medlytt() as app:
        monitoring = await save(app, "monitoring")
        mystery = await save(app, "mystery_calls")
        other = await save(app, "callbacks")  # no retention of its own: default, 30 days
        files = {r: Path(row_of(app, r)["path"]) for r in (monitoring, mystery, other)}

        set_clock(app, at(app, monitoring, 30) - timedelta(seconds=1))
        assert await app.recordings.run_once() == []
        set_clock(app, at(app, other, 30) + timedelta(seconds=1))
        assert sorted(await app.recordings.run_once()) == sorted([monitoring, other])
        assert kept(app) == {mystery}
        assert not files[monitoring].exists() and not files[other].exists()
        assert files[mystery].exists()

        set_clock(app, at(app, mystery, 89))
        assert await app.recordings.run_once() == []
        set_clock(app, at(app, mystery, 90) + timedelta(seconds=1))
        assert await app.recordings.run_once() == [mystery]
        assert kept(app) == set() and not files[mystery].exists()

        done = {d["recording_id"]: d for d in deletions(app)}
        assert set(done) == {monitoring, mystery, other}
        assert {d["reason"] for d in done.values()} == {"retention"}
        assert done[monitoring]["why"] == "monitoring recordings are kept 30 days"
        assert done[mystery]["why"] == "mystery_calls recordings are kept 90 days"
        assert done[other]["why"] == "callbacks recordings are kept 30 days"
        assert done[mystery]["at"] == (at_90 := app.recordings.clock()).isoformat()
        assert at_90 > datetime.fromisoformat(done[mystery]["recording_created_at"])
        assert done[mystery]["agent_id"] == A1 and done[mystery]["file"] == "deleted"


async def test_the_configured_days_per_kind_apply(medlytt):
    sections = {"recordings": {"retention_days": {"monitoring": 7, "default": 2}}}
    async with medlytt(sections) as app:
        monitoring, mystery, other = (
            await save(app, "monitoring"),
            await save(app, "mystery_calls"),
            await save(app, "other"),
        )
        set_clock(app, at(app, other, 3))
        assert await app.recordings.run_once() == [other]
        set_clock(app, at(app, monitoring, 8))
        assert await app.recordings.run_once() == [monitoring]
        assert kept(app) == {mystery}  # mystery_calls keeps its default, 90 days


async def test_an_evaluation_linked_recording_survives_its_kinds_retention(medlytt):
    async with medlytt() as app:
        linked, plain = await save(app, "mystery_calls"), await save(app, "mystery_calls")
        assert await link_evaluation(app, linked, "evaluation-7") is True
        assert await link_evaluation(app, "no-such-recording", "e") is False
        assert row_of(app, linked)["evaluation_id"] == "evaluation-7"

        set_clock(app, at(app, plain, 91))
        assert await app.recordings.run_once() == [plain]
        set_clock(app, at(app, linked, 364))
        assert await app.recordings.run_once() == []
        assert kept(app) == {linked}
        set_clock(app, at(app, linked, 366))
        assert await app.recordings.run_once() == [linked]
        assert deletions(app)[-1]["why"] == "evaluated recordings are kept 365 days"


async def test_unlinking_an_evaluation_returns_a_recording_to_its_kinds_retention(medlytt):
    async with medlytt() as app:
        recording = await save(app, "monitoring")
        await link_evaluation(app, recording, "e1")
        set_clock(app, at(app, recording, 31))
        assert await app.recordings.run_once() == []
        await link_evaluation(app, recording, None)
        assert await app.recordings.run_once() == [recording]


async def test_the_job_is_bounded_and_idempotent(medlytt):
    async with medlytt({"recordings": {"delete_batch": 2}}) as app:
        made = [await save(app, "monitoring") for _ in range(5)]
        set_clock(app, at(app, made[-1], 31))
        runs = [await app.recordings.run_once() for _ in range(4)]
        assert [len(run) for run in runs] == [2, 2, 1, 0]
        assert [r for run in runs for r in run] == made  # oldest first
        once = deletions(app)
        assert [d["recording_id"] for d in once] == made  # each recorded exactly once
        assert await app.recordings.run_once() == []
        assert deletions(app) == once


async def test_the_job_runs_at_start(medlytt, tmp_path):
    async with medlytt() as app:
        old, new = await save(app, "monitoring"), await save(app, "monitoring")
        long_ago = datetime.fromisoformat(row_of(app, old)["created_at"]) - timedelta(days=40)
        app.storage.run_sync(
            lambda db: db.execute(
                "UPDATE recordings SET created_at = ? WHERE id = ?", [long_ago.isoformat(), old]
            )
        )
    async with medlytt() as app:
        deleted = {"reason": "retention"}
        await wait_until(lambda: app.metric("medlytt_recordings_deleted_total", deleted) == 1)
        assert kept(app) == {new}
        assert not (tmp_path / "recordings" / f"{old}.wav").exists()


async def test_a_missing_file_is_deleted_and_said_so(medlytt):
    async with medlytt() as app:
        recording = await save(app, "monitoring")
        remove_file(app, recording)
        set_clock(app, at(app, recording, 31))
        assert await app.recordings.run_once() == [recording]
        assert deletions(app)[0]["file"] == "missing"


async def test_metrics_count_recordings_by_source_and_deletions_by_reason(medlytt):
    async with medlytt() as app:
        assert app.metric("medlytt_recordings", {"source": "monitoring"}) == 0
        assert app.metric("medlytt_recordings", {"source": "mystery_calls"}) == 0
        for reason in ("retention", "request"):
            assert app.metric("medlytt_recordings_deleted_total", {"reason": reason}) == 0
        first = await save(app, "monitoring")
        await save(app, "monitoring")
        await save(app, "mystery_calls", agent_id=B1)
        assert app.metric("medlytt_recordings", {"source": "monitoring"}) == 2
        assert app.metric("medlytt_recordings", {"source": "mystery_calls"}) == 1
        set_clock(app, at(app, first, 31))
        await app.recordings.run_once()
        assert app.metric("medlytt_recordings", {"source": "monitoring"}) == 0
        assert app.metric("medlytt_recordings_deleted_total", {"reason": "retention"}) == 2
        await app.recordings.delete_for_agent(B1, None, by="ada")
        assert app.metric("medlytt_recordings", {"source": "mystery_calls"}) == 0
        assert app.metric("medlytt_recordings_deleted_total", {"reason": "request"}) == 1


def test_retention_settings_are_validated_and_merged_with_the_defaults():
    config = load_config(None, {"MEDLYTT_RECORDINGS__RETENTION_DAYS__MONITORING": "7"})
    assert config.recordings.retention_days == {
        "default": 30,
        "monitoring": 7,
        "mystery_calls": 90,
    }
    assert config.recordings.days_for("monitoring", evaluated=True) == 365
    for env, named in (
        ({"MEDLYTT_RECORDINGS__RETENTION_DAYS__MONITORING": "0"}, "retention_days.monitoring"),
        ({"MEDLYTT_RECORDINGS__EVALUATED_RETENTION_DAYS": "-1"}, "evaluated_retention_days"),
        ({"MEDLYTT_RECORDINGS__DELETE_BATCH": "0"}, "recordings.delete_batch"),
        ({"MEDLYTT_RECORDINGS__KEEP": "1"}, "recordings.keep: unknown key"),
    ):
        with pytest.raises(ConfigError, match=named):
            load_config(None, env)


def test_an_older_database_gains_the_new_columns_and_tables(tmp_path):
    db = sqlite_utils.Database(tmp_path / "old.db")
    later = ("recording_retention", "chain_recording_access")
    first = [m for m in CORE_MIGRATIONS if m.name not in later]
    apply_migrations(db, [("core", m) for m in first])
    db.table("recordings").insert({"id": "r1", "created_at": "2024-01-01T00:00:00+00:00"})
    assert apply_migrations(db, [("core", m) for m in CORE_MIGRATIONS]) == [
        "core/recording_retention",
        "core/chain_recording_access",
    ]
    assert "evaluation_id" in db.table("recordings").columns_dict
    assert [r["id"] for r in db.table("recordings").rows] == ["r1"]


def test_the_deletion_and_access_logs_are_append_only(tmp_path):
    db = sqlite_utils.Database(tmp_path / "m.db")
    apply_migrations(db, [("core", m) for m in CORE_MIGRATIONS])
    for table in ("recording_deletions", "recording_access"):
        db.table(table).insert({"recording_id": "r1"})
        for statement in (f"UPDATE {table} SET recording_id = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
        assert [r["recording_id"] for r in db.table(table).rows] == ["r1"]


# --------------------------------------------------------------------------- on request


@pytest.fixture
async def world(medlytt, medlytt_client):
    """Agents A1 (team a) and B1 (team b), a supervisor of team a, an admin; recordings of
    both agents."""
    async with medlytt() as app:
        tokens = {
            "admin": add_user_with_token(app, "ada", "admin"),
            "supervisor": add_user_with_token(app, "sue", "supervisor", teams=["a"]),
            "agent": add_user_with_token(app, "ingrid", "agent", teams=["a"], agent_id=A1),
            "other agent": add_user_with_token(app, "ola", "agent", teams=["b"], agent_id=B1),
        }
        headers = {who: bearer(token) for who, token in tokens.items()} | {"none": {}}
        client = await medlytt_client(app, role=None)
        yield app, client, headers


async def test_the_api_deletes_one_persons_recordings_and_nobody_elses(world):
    app, client, headers = world
    a = [await save(app, "monitoring", A1), await save(app, "mystery_calls", A1)]
    b = await save(app, "monitoring", B1)
    files = {r: Path(row_of(app, r)["path"]) for r in [*a, b]}

    response = await client.delete(
        "/api/recordings", params={"agent": A1}, headers=headers["admin"]
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body == {"agent": A1, "deleted": 2, "recordings": a, "left": 0}
    assert kept(app) == {b}
    assert not any(files[r].exists() for r in a) and files[b].exists()
    done = deletions(app)
    assert [(d["recording_id"], d["reason"], d["by"]) for d in done] == [
        (r, "request", "ada") for r in a
    ]
    assert all(A1 in d["why"] for d in done)
    assert (await client.get(f"/api/recordings/{a[0]}", headers=headers["admin"])).status == 404


async def test_the_api_deletes_only_what_was_made_before(world):
    app, client, headers = world
    old, new = await save(app, "monitoring", A1), await save(app, "monitoring", A1)
    before = row_of(app, new)["created_at"]
    response = await client.delete(
        "/api/recordings", params={"agent": A1, "before": before}, headers=headers["admin"]
    )
    assert (await response.json())["recordings"] == [old]
    assert kept(app) == {new}


async def test_the_deletion_route_is_for_admins_only(world):
    app, client, headers = world
    recording = await save(app, "monitoring", A1)
    for who, status in (("none", 401), ("agent", 403), ("other agent", 403), ("supervisor", 403)):
        response = await client.delete(
            "/api/recordings", params={"agent": A1}, headers=headers[who]
        )
        assert response.status == status, who
    assert kept(app) == {recording}
    for params, error in (
        ({}, "name the agent"),
        ({"agent": " "}, "name the agent"),
        ({"agent": A1, "before": "yesterday"}, "before must be an ISO 8601"),
        ({"agent": A1, "before": "9999-12-31T23:59:59-05:00"}, "before must be an ISO 8601"),
    ):
        response = await client.delete("/api/recordings", params=params, headers=headers["admin"])
        assert response.status == 422 and error in (await response.json())["error"], params
    assert kept(app) == {recording}


def seeded_database(tmp_path: Path) -> tuple[Path, dict[str, list[str]]]:
    """A database (no server running) with recordings of A1 and B1, old and new."""
    path = tmp_path / "medlytt.db"
    folder = tmp_path / "recordings"
    folder.mkdir(mode=0o700)
    db = sqlite_utils.Database(path)
    apply_migrations(db, [("core", m) for m in CORE_MIGRATIONS])
    made: dict[str, list[str]] = {A1: [], B1: []}
    for n, (agent, created) in enumerate(
        [
            (A1, "2024-01-10T00:00:00+00:00"),
            (A1, "2024-06-10T00:00:00+00:00"),
            (B1, "2024-01-10T00:00:00+00:00"),
        ]
    ):
        file = folder / f"r{n}.wav"
        file.write_bytes(AUDIO)
        db.table("recordings").insert(
            {"id": f"r{n}", "created_at": created, "agent_id": agent, "path": str(file)}
            | {"source": "monitoring", "hidden_from_agent": 0, "bytes": len(AUDIO)}
        )
        made[agent].append(f"r{n}")
    db.conn.close()
    return path, made


def database_rows(path: Path, table: str) -> list[dict[str, Any]]:
    db = sqlite_utils.Database(path)
    try:
        return list(db.table(table).rows)
    finally:
        db.conn.close()


def test_the_command_deletes_one_persons_recordings_and_nobody_elses(tmp_path, monkeypatch):
    path, made = seeded_database(tmp_path)
    monkeypatch.setenv("MEDLYTT_STORAGE__PATH", str(path))
    runner = CliRunner()

    dry = runner.invoke(cli, ["recordings", "delete", "--agent", A1, "--dry-run"])
    assert dry.exit_code == 0 and "would delete 2 recordings" in dry.output
    assert len(database_rows(path, "recordings")) == 3

    result = runner.invoke(cli, ["recordings", "delete", "--agent", A1, "--before", "2024-03-01"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [made[A1][0]]
    assert "deleted 1 recordings of agent 'PJSIP/1001'" in result.stderr
    result = runner.invoke(cli, ["recordings", "delete", "--agent", A1])
    assert result.stdout.split() == [made[A1][1]]

    assert [r["id"] for r in database_rows(path, "recordings")] == made[B1]
    assert sorted(p.name for p in (tmp_path / "recordings").iterdir()) == ["r2.wav"]
    done = database_rows(path, "recording_deletions")
    assert [(d["recording_id"], d["reason"]) for d in done] == [(r, "request") for r in made[A1]]
    assert all(d["by"].startswith("command line (") for d in done)
    assert "made before 2024-03-01T00:00:00+00:00" in done[0]["why"]

    bad = runner.invoke(cli, ["recordings", "delete", "--agent", A1, "--before", "soon"])
    assert bad.exit_code == 2 and "--before" in bad.output


def test_the_medlytt_command_has_it_and_reads_the_config_file(tmp_path):
    path, made = seeded_database(tmp_path)
    config = tmp_path / "medlytt.toml"
    config.write_text(f'[storage]\npath = "{path}"\n')
    result = subprocess.run(
        [MEDLYTT, "recordings", "delete", "--agent", B1, "--config", str(config)],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == made[B1]
    assert [r["id"] for r in database_rows(path, "recordings")] == made[A1]


# --------------------------------------------------------------------------- access log


async def test_each_access_is_recorded_and_only_the_agent_concerned_sees_it(world):
    app, client, headers = world
    a, b = await save(app, "monitoring", A1), await save(app, "monitoring", B1)
    for who, recording in (("admin", a), ("supervisor", a), ("agent", a), ("admin", b)):
        response = await client.get(f"/api/recordings/{recording}", headers=headers[who])
        assert response.status == 200 and await response.read() == AUDIO
    refused = await client.get(f"/api/recordings/{b}", headers=headers["supervisor"])
    assert refused.status == 403  # not a team agent: refused, and nothing was heard

    async def accesses(who: str, **params: str) -> tuple[int, Any]:
        response = await client.get("/api/recordings/access", params=params, headers=headers[who])
        return response.status, await response.json()

    status, body = await accesses("admin")
    assert status == 200
    assert [(r["user"], r["role"], r["recording_id"], r["agent_id"]) for r in body["accesses"]] == [
        ("ada", "admin", b, B1),
        ("ingrid", "agent", a, A1),
        ("sue", "supervisor", a, A1),
        ("ada", "admin", a, A1),
    ]
    row = body["accesses"][0]
    assert set(row) == {
        "seq",
        "at",
        "recording_id",
        "agent_id",
        "recording_created_at",
        "source",
        "user",
        "role",
    }
    status, body = await accesses("admin", agent=B1, limit="1")
    assert [r["recording_id"] for r in body["accesses"]] == [b]
    status, body = await accesses("agent")
    assert status == 200 and {r["agent_id"] for r in body["accesses"]} == {A1}
    assert len(body["accesses"]) == 3
    status, body = await accesses("other agent")
    assert [r["user"] for r in body["accesses"]] == ["ada"]
    status, body = await accesses("agent", agent=B1)
    assert status == 403 and B1 in body["error"]
    assert (await accesses("supervisor"))[0] == 403
    assert (await accesses("none"))[0] == 401
    assert (await accesses("admin", limit="0"))[0] == 422
    # The accesses outlive the recordings they were to.
    await app.recordings.delete_for_agent(A1, None, by="ada")
    assert len((await accesses("agent"))[1]["accesses"]) == 3


async def test_an_agent_learns_of_a_hidden_recording_only_once_it_is_revealed(world):
    app, client, headers = world
    hidden = await save(app, "mystery_calls", A1, hidden_from_agent=True)
    never = await save(app, "mystery_calls", A1, hidden_from_agent=True)
    for recording in (hidden, never):
        heard = await client.get(f"/api/recordings/{recording}", headers=headers["supervisor"])
        assert heard.status == 200

    async def seen() -> list[str]:
        response = await client.get("/api/recordings/access", headers=headers["agent"])
        return [r["recording_id"] for r in (await response.json())["accesses"]]

    assert await seen() == []
    await reveal_recording(app, hidden)
    assert await seen() == [hidden]
    await app.recordings.delete_for_agent(A1, None, by="ada")  # `never` deleted unrevealed
    assert await seen() == [hidden]
    admin = await client.get("/api/recordings/access", headers=headers["admin"])
    assert len((await admin.json())["accesses"]) == 2


async def test_a_recording_whose_file_is_gone_is_404_and_not_logged(world):
    app, client, headers = world
    recording = await save(app, "monitoring", A1)
    remove_file(app, recording)
    response = await client.get(f"/api/recordings/{recording}", headers=headers["admin"])
    assert response.status == 404
    assert app.storage.run_sync(lambda db: db.table("recording_access").count) == 0
