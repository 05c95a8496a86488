"""Users, roles and bearer tokens: the CLI, ``/api/me`` and the checks route handlers use."""

import json
import subprocess

import pytest
import sqlite_utils
from aiohttp import web
from medlytt import auth
from medlytt.storage import apply_migrations
from support import MEDLYTT, medlytt_env


def run_cli(db, *args, check=True):
    result = subprocess.run(
        [MEDLYTT, *args],
        env=medlytt_env(MEDLYTT_STORAGE__PATH=str(db)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


async def test_cli_round_trip_and_api_me(tmp_path, medlytt, medlytt_client):
    db = tmp_path / "medlytt.db"
    run_cli(db, "user", "add", "Ingrid", "--role", "supervisor", "--team", "north",
            "--phone", "PJSIP/2001")  # fmt: skip
    created = run_cli(db, "token", "create", "ingrid", "--label", "laptop")
    token = created.stdout.strip()
    assert token.startswith("mlt_") and len(token) > 40
    assert token not in created.stderr
    assert "shown only now" in created.stderr

    users = json.loads(run_cli(db, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["teams"]) for u in users] == [
        ("Ingrid", "supervisor", ["north"])
    ]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("medlytt.db*"))
    assert token.encode() not in stored
    assert token[4:].encode() not in stored
    assert auth.hash_token(token).encode() in stored

    async with medlytt() as app:
        client = await medlytt_client(app, role=None)
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
        assert await response.json() == {
            "name": "Ingrid",
            "role": "supervisor",
            "teams": ["north"],
            "agent_id": None,
            "phone": "PJSIP/2001",
        }
        for headers in ({}, {"Authorization": "Bearer mlt_wrong"}, {"Authorization": token}):
            response = await client.get("/api/me", headers=headers)
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.content_type == "application/json"
            body = await response.json()
            assert body["status"] == 401 and body["error"]

    tokens = json.loads(run_cli(db, "token", "list", "Ingrid", "--json").stdout)
    assert tokens[0]["label"] == "laptop" and tokens[0]["last_used_at"] is not None
    run_cli(db, "token", "revoke", str(tokens[0]["id"]))
    async with medlytt() as app:
        client = await medlytt_client(app, role=None)
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401
        assert "revoked" in (await response.json())["error"]


async def test_disabled_user_is_refused(tmp_path, medlytt, medlytt_client):
    db = tmp_path / "medlytt.db"
    run_cli(db, "user", "add", "ola", "--role", "agent", "--agent-id", "PJSIP/1001")
    token = run_cli(db, "token", "create", "ola").stdout.strip()
    run_cli(db, "user", "disable", "OLA")
    async with medlytt() as app:
        client = await medlytt_client(app, role=None)
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401
        assert "disabled" in (await response.json())["error"]


def test_bad_input_exits_2_naming_the_value(tmp_path):
    db = tmp_path / "medlytt.db"
    run_cli(db, "user", "add", "Kari", "--role", "admin")
    cases = [
        (["user", "add", "KARI", "--role", "agent"], "KARI"),
        (["user", "add", "per", "--role", "boss"], "boss"),
        (["user", "disable", "nobody"], "nobody"),
        (["token", "create", "nobody"], "nobody"),
        (["token", "list", "nobody"], "nobody"),
        (["token", "revoke", "4242"], "4242"),
    ]
    for args, value in cases:
        result = run_cli(db, *args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert value in result.stderr, (args, result.stderr)


def test_require_role():
    actor = auth.Actor("ola", "agent", (), "PJSIP/1001", None)
    auth.require_role(actor, "agent", "admin")
    with pytest.raises(web.HTTPForbidden) as caught:
        auth.require_role(actor, "supervisor", "admin")
    assert caught.value.content_type == "application/json"
    body = json.loads(caught.value.text)
    assert body["status"] == 403
    assert "supervisor or admin" in body["error"]


async def test_may_monitor(medlytt):
    async with medlytt() as app:

        def setup(db):
            for name, role, teams, agent_id in [
                ("boss", "admin", (), None),
                ("sara", "supervisor", ("north",), None),
                ("sven", "supervisor", ("south", "North"), None),
                ("siri", "supervisor", ("south",), None),
                ("stig", "supervisor", (), None),
                ("ola", "agent", ("north",), "PJSIP/1001"),
                ("kari", "agent", ("north",), "PJSIP/1002"),
            ]:
                auth.add_user(db, name, role, teams, agent_id)
            return {u["name"]: auth.actor_of(u) for u in auth.list_users(db)}

        actors = await app.storage.run(setup)
        expected = {
            "boss": True,  # admin: always
            "sara": True,  # supervisor, same team
            "sven": True,  # supervisor, same team in another case
            "siri": False,  # supervisor, other team
            "stig": True,  # supervisor without teams: unrestricted
            "kari": False,  # agents never monitor, even their own team
        }
        for name, allowed in expected.items():
            assert await auth.may_monitor(app, actors[name], "PJSIP/1001") is allowed, name
        assert await auth.may_monitor(app, actors["sara"], "PJSIP/9999") is False
        assert await auth.may_monitor(app, actors["stig"], "PJSIP/9999") is True
        assert (await auth.user_by_agent_id(app, "PJSIP/1001"))["name"] == "ola"
        assert await auth.user_by_agent_id(app, "PJSIP/9999") is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("\u0430da", "ASCII"),  # a Cyrillic a: looks like "ada"
        ("\uff41da", "ASCII"),  # fullwidth a
        ("a" * 5000, "1-64"),
        ("-lead", "starting with a letter or digit"),
    ],
)
def test_look_alike_and_oversize_user_names_are_refused(tmp_path, name, why):
    db = sqlite_utils.Database(tmp_path / "m.db")
    apply_migrations(db, [("core", m) for m in auth.MIGRATIONS])
    with pytest.raises(auth.AuthError, match=why):
        auth.add_user(db, name, "agent")


def test_a_token_label_cannot_forge_a_line(tmp_path):
    db = sqlite_utils.Database(tmp_path / "m.db")
    apply_migrations(db, [("core", m) for m in auth.MIGRATIONS])
    auth.add_user(db, "ada", "admin")
    with pytest.raises(auth.AuthError, match="one printable line"):
        auth.create_token(db, "ada", "dash\n2  fake-label  2026-01-01")
