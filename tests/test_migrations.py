"""A database of the previous release opens with the current code, its data intact.

``fixtures/release-0.1.0.sql`` was written by the code of commit e98a343 (the release issue
17 was tried from; how: fixtures/make_release_db.py): the old demo's events and queue
intervals, users and a token, monitoring audit rows, a survey and a mystery call.  The
current code must apply only the migrations the old database lacks, keep every old row as
it was, and work with it: the old token logs in, the audit trail (which has gained a hash
chain since) verifies, the old rows are served by the API.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
from pathlib import Path

from medlytt.testing import running_medlytt
from support import MEDLYTT, medlytt_env

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.sql"
#: Columns this test changes by using the data (logging in with the old token).
CHANGED_BY_USE = {"api_tokens": {"last_used_at"}}


def old_database(tmp_path: Path) -> tuple[Path, str]:
    """The release's database as a file, and the token it holds for the admin ``ada``."""
    text = FIXTURE.read_text()
    token = re.search(r"^-- The API token of user ada .*: (\S+)$", text, re.M)
    assert token is not None
    path = tmp_path / "medlytt.db"
    conn = sqlite3.connect(path)
    conn.executescript(text)
    conn.close()
    return path, token.group(1)


def rows(path: Path) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, by table, as dicts (sorted: order is no promise)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found = {
        table: sorted((dict(row) for row in conn.execute(f'SELECT * FROM "{table}"')), key=repr)
        for table in tables
    }
    conn.close()
    return found


async def test_the_previous_releases_database_opens_with_its_data_intact(tmp_path, medlytt_client):
    path, token = old_database(tmp_path)
    before = rows(path)
    assert len(before["events"]) > 50 and before["monitoring_audit"] and before["queue_intervals"]

    async with running_medlytt({}, db_path=path) as app:
        client = await medlytt_client(app, role=None)
        headers = {"Authorization": f"Bearer {token}"}
        me = await client.get("/api/me", headers=headers)
        assert me.status == 200 and (await me.json())["name"] == "ada"
        audit = await client.get("/api/audit/monitoring", headers=headers)
        assert audit.status == 200
        assert {r["action"] for r in (await audit.json())["audit"]} == {
            "started",
            "mode_changed",
            "stopped",
        }
        events = await client.get("/api/events?limit=10", headers=headers)
        assert events.status == 200 and len((await events.json())["events"]) == 10

    after = rows(path)
    for table, old_rows in before.items():
        assert table in after, f"table {table} is gone"
        columns = (set(old_rows[0]) if old_rows else set()) - CHANGED_BY_USE.get(table, set())
        kept = {repr({c: r[c] for c in sorted(columns)}) for r in after[table]}
        for row in old_rows:
            # every old row is still there with its old values (new columns may be added)
            assert repr({c: row[c] for c in sorted(columns)}) in kept, (table, row)
    applied = {(r["plugin"], r["name"]) for r in after["medlytt_migrations"]}
    old = {(r["plugin"], r["name"]) for r in before["medlytt_migrations"]}
    assert old < applied  # the old steps stay recorded; only the missing ones ran
    old_times = {(r["plugin"], r["name"]): r["applied_at"] for r in before["medlytt_migrations"]}
    for row in after["medlytt_migrations"]:
        key = (row["plugin"], row["name"])
        if key in old_times:
            assert row["applied_at"] == old_times[key], key  # not run a second time


async def start_once(path: Path) -> None:
    """Start Medlytt on the database and stop it, as `medlytt serve` after an upgrade."""
    async with running_medlytt({}, db_path=path):
        pass


def test_the_old_audit_trail_verifies_after_the_upgrade(tmp_path):
    path, _ = old_database(tmp_path)
    config = tmp_path / "medlytt.toml"
    config.write_text(f'[storage]\npath = "{path}"\n')
    asyncio.run(start_once(path))  # the audit trail gains its hash chain at start

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [MEDLYTT, *args, "--config", str(config)]
        return subprocess.run(
            command, env=medlytt_env(), capture_output=True, text=True, timeout=60
        )

    users = cli("user", "list")
    assert users.returncode == 0, users.stderr
    assert {"ada", "kari", "ingrid"} <= set(users.stdout.split())
    verify = cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "3" in verify.stdout  # the three rows of the old session, chained and intact
