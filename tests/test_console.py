"""The web console without a browser: passwords, sessions, CSRF, the live stream, languages.

The browser scenarios are in tests/browser/ and tests/asterisk/test_console_browser.py;
these pin the rules underneath them, each quickly and on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from medlytt import AgentState, AgentStateChanged, CallAnswered, CallQueued, auth, utcnow
from medlytt.cli import cli
from medlytt.web import build_web_app, plugin_routes

PASSWORD = "correct horse battery"
A1, B1 = "PJSIP/1001", "PJSIP/2001"


@contextlib.asynccontextmanager
async def browser_client(app: Any) -> AsyncIterator[TestClient]:
    """A cookie-keeping client, like a browser, with no token."""
    client = TestClient(TestServer(build_web_app(app, await plugin_routes(app))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def add(app: Any, name: str, role: str, **kw: Any) -> str:
    def create(db: Any) -> str:
        auth.add_user(db, name, role, **kw)
        auth.set_password(db, name, PASSWORD)
        return auth.create_token(db, name)[1]

    return app.storage.run_sync(create)


async def log_in(client: TestClient, name: str, password: str = PASSWORD, **extra: str) -> Any:
    form = await (await client.get("/console/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, form
    data = {"name": name, "password": password, "csrf": token.group(1), **extra}
    return await client.post("/console/login", data=data, allow_redirects=False)


async def agents_in(app: Any, state: AgentState, queues: tuple[str, ...] | None = None) -> None:
    """Both agents, A1 and B1, in ``state`` (in ``queues``), applied to the live state."""
    now = utcnow()
    for agent in (A1, B1):
        app.publish(
            AgentStateChanged(at=now, source="t", agent_id=agent, state=state, queues=queues)
        )
    await app.settle()


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found, html[:500]
    return found.group(1)


# ---------------------------------------------------------------------------- passwords


def test_passwd_sets_an_argon2id_hash_asked_twice_or_read_from_stdin(tmp_path):
    runner = CliRunner()
    env = {"MEDLYTT_STORAGE__PATH": str(tmp_path / "m.db")}
    added = runner.invoke(cli, ["user", "add", "kari", "--role", "supervisor"], env=env)
    assert added.exit_code == 0, added.output
    prompted = runner.invoke(
        cli, ["user", "passwd", "kari"], input=f"{PASSWORD}\n{PASSWORD}\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output  # never echoed
    piped = runner.invoke(
        cli, ["user", "passwd", "kari", "--password-stdin"], input="another long one\n", env=env
    )
    assert piped.exit_code == 0, piped.output
    short = runner.invoke(
        cli, ["user", "passwd", "kari", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 2 and "10 to 1024 characters" in short.output
    nobody = runner.invoke(
        cli, ["user", "passwd", "nobody", "--password-stdin"], input=f"{PASSWORD}\n", env=env
    )
    assert nobody.exit_code == 2 and "no user called 'nobody'" in nobody.output
    listed = runner.invoke(cli, ["user", "list", "--json"], env=env)
    assert "argon2" not in listed.output and json.loads(listed.output)[0]["has_password"]
    import sqlite3

    stored = (
        sqlite3.connect(tmp_path / "m.db").execute("SELECT password_hash FROM users").fetchone()
    )
    assert stored[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "another long one" not in stored[0]


def test_check_password_wants_the_right_password_of_an_enabled_user(tmp_path):
    import sqlite_utils
    from medlytt.app import CORE_MIGRATIONS

    db = sqlite_utils.Database(tmp_path / "m.db")
    for migration in CORE_MIGRATIONS:
        migration.apply(db)
    auth.add_user(db, "kari", "supervisor")
    assert auth.check_password(db, "kari", PASSWORD) is None  # no password set yet
    auth.set_password(db, "kari", PASSWORD)
    assert auth.check_password(db, "kari", PASSWORD).name == "kari"
    assert auth.check_password(db, "KARI", PASSWORD).name == "kari"  # names ignore case
    assert auth.check_password(db, "kari", PASSWORD + "x") is None
    assert auth.check_password(db, "ola", PASSWORD) is None
    # A hash made with older, cheaper costs is renewed at the next good login.
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    db.execute("UPDATE users SET password_hash = ? WHERE name = 'kari'", [old])
    assert auth.check_password(db, "kari", PASSWORD).name == "kari"
    renewed = db.execute("SELECT password_hash FROM users WHERE name = 'kari'").fetchone()[0]
    assert renewed != old and renewed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    auth.disable_user(db, "kari")
    assert auth.check_password(db, "kari", PASSWORD) is None


# ---------------------------------------------------------------------------- sessions


async def test_a_session_cookie_is_the_users_token_and_changes_need_the_csrf_header(medlytt):
    async with medlytt() as app:
        add(app, "a1", "agent", teams=["team-a"], agent_id=A1)
        add(app, "b1", "agent", teams=["team-b"], agent_id=B1)
        await agents_in(app, AgentState.AVAILABLE)
        async with browser_client(app) as client:
            first = (await log_in(client, "a1")).cookies["medlytt_session"].value
            response = await log_in(client, "a1")  # again: the first session ends
            assert response.status == 303 and response.headers["Location"] == "/console"
            cookie = response.cookies["medlytt_session"]
            assert cookie.value != first
            stale = await client.get("/api/me", cookies={"medlytt_session": first})
            assert stale.status == 401
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
            me = await (await client.get("/api/me")).json()
            assert (me["name"], me["role"], me["agent_id"]) == ("a1", "agent", A1)
            agents = (await (await client.get("/api/agents")).json())["agents"]
            assert [a["agent_id"] for a in agents] == [A1]  # the same rows as a1's token
            page = await (await client.get("/console/me")).text()
            token = csrf_of(page)
            # An agent may not monitor, with or without the token; without it: 403 CSRF.
            refused = await client.post("/api/monitor", json={"agent": B1})
            assert refused.status == 403 and "CSRF" in (await refused.json())["error"]
            wrong = await client.post(
                "/api/monitor", json={"agent": B1}, headers={"X-CSRF-Token": "x" + token}
            )
            assert wrong.status == 403 and "CSRF" in (await wrong.json())["error"]
            role = await client.post(
                "/api/monitor", json={"agent": B1}, headers={"X-CSRF-Token": token}
            )
            assert role.status == 403 and "needs role" in (await role.json())["error"]
            # Reading needs no token; a bearer token never needs one.
            assert (await client.get("/api/audit/monitoring")).status == 200


async def test_a_session_ends_when_idle_at_logout_and_when_the_user_is_disabled(medlytt):
    async with medlytt({"server": {"session_idle_minutes": 0.01}}) as app:  # 0.6 s
        add(app, "kari", "supervisor")
        async with browser_client(app) as client:
            await log_in(client, "kari")
            assert (await client.get("/api/me")).status == 200
            await asyncio.sleep(0.8)
            expired = await client.get("/api/me")
            assert expired.status == 401 and "log in again" in (await expired.json())["error"]
            page = await client.get("/console/wallboard", headers={"Accept": "text/html"})
            assert page.url.path == "/console/login"  # a browser is sent to log in
            await log_in(client, "kari")
            app.storage.run_sync(lambda db: auth.disable_user(db, "kari"))
            assert (await client.get("/api/me")).status == 401
    async with medlytt() as app:
        add(app, "ola", "supervisor")
        async with browser_client(app) as client:
            await log_in(client, "ola")
            token = csrf_of(await (await client.get("/console/profile")).text())
            out = await client.post("/console/logout", data={"csrf": token}, allow_redirects=False)
            assert out.status == 303 and out.headers["Location"] == "/console/login"
            assert (await client.get("/api/me")).status == 401


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(medlytt):
    for trusted, secure in ((True, True), (False, False)):
        async with medlytt({"server": {"trust_forwarded_proto": trusted}}) as app:
            name = f"kari-{trusted}"
            add(app, name, "supervisor")
            async with browser_client(app) as client:
                form = await (await client.get("/console/login")).text()
                token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
                response = await client.post(
                    "/console/login",
                    data={"name": name, "password": PASSWORD, "csrf": token},
                    headers={"X-Forwarded-Proto": "https"},
                    allow_redirects=False,
                )
                assert response.status == 303
                assert bool(response.cookies["medlytt_session"]["secure"]) is secure


async def test_login_refuses_a_foreign_next_a_missing_form_token_and_logs_no_secret(
    medlytt, caplog
):
    caplog.set_level(logging.DEBUG)
    async with medlytt() as app:
        add(app, "kari", "supervisor")
        async with browser_client(app) as client:
            for target in ("//evil.example/x", "https://evil.example/", "/api/state"):
                response = await log_in(client, "kari", next=target)
                assert response.headers["Location"] == "/console", target
            cookie = response.cookies["medlytt_session"].value
            no_token = await client.post(
                "/console/login", data={"name": "kari", "password": PASSWORD}
            )
            assert no_token.status == 403 and "medlytt_session" not in no_token.cookies
            page = await (await client.get("/console/wallboard")).text()
            logged = caplog.text
            for secret in (PASSWORD, cookie, csrf_of(page)):
                assert secret not in logged


async def test_the_sixth_wrong_password_in_a_minute_is_refused_for_the_user(medlytt):
    async with medlytt() as app:
        add(app, "kari", "supervisor")
        add(app, "ola", "supervisor")
        async with browser_client(app) as client:
            statuses = [
                (await log_in(client, "kari", f"wrong {n} password")).status for n in range(6)
            ]
            assert statuses == [401] * 5 + [429]
            right = await log_in(client, "kari")
            assert right.status == 429 and 1 <= int(right.headers["Retry-After"]) <= 60
            # The address has used up its tries too: guessing other names does not help.
            assert (await log_in(client, "ola")).status == 429


# ---------------------------------------------------------------------------- live stream


async def read_snapshot(stream: Any) -> dict[str, Any]:
    """The next ``snapshot`` event of a server-sent event stream."""
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode().rstrip("\n")
        if line == "" and lines:
            data = [x[len("data: ") :] for x in lines if x.startswith("data: ")]
            if data:
                return json.loads("".join(data))
            lines = []
        elif line:
            lines.append(line)


@pytest.mark.parametrize("show", [False, True])
async def test_the_stream_sends_a_full_snapshot_on_connect_and_after_each_event(medlytt, show):
    async with medlytt({"console": {"show_caller_number": show}}) as app:
        add(app, "sup", "supervisor", teams=["team-a"])
        add(app, "a1", "agent", teams=["team-a"], agent_id=A1)
        add(app, "b1", "agent", teams=["team-b"], agent_id=B1)
        await agents_in(app, AgentState.AVAILABLE, ("q",))
        now = utcnow()
        async with browser_client(app) as client:
            await log_in(client, "sup")
            stream = await client.get("/console/live")
            assert stream.headers["Content-Type"] == "text/event-stream"
            first = await read_snapshot(stream)
            assert [a["agent_id"] for a in first["agents"]] == [A1]  # own team only
            assert [q["name"] for q in first["queues"]] == ["q"]
            app.publish(CallQueued(at=now, source="t", call_id="c1", queue="q", caller_id="+4799"))
            app.publish(
                CallAnswered(
                    at=now, source="t", call_id="c1", queue="q", agent_id=A1, wait_seconds=2
                )
            )
            app.publish(
                AgentStateChanged(at=now, source="t", agent_id=A1, state=AgentState.ON_CALL)
            )
            while True:
                snapshot = await read_snapshot(stream)
                agent = snapshot["agents"][0]
                if agent["state"] == "on_call" and agent["call"]:
                    break
            assert agent["call"]["queue"] == "q"
            assert agent["call"]["caller"] == ("+4799" if show else None)
            queue = snapshot["queues"][0]
            assert (queue["answered"], queue["abandoned"], queue["service_level"]) == (1, 0, 1.0)
            stream.close()
            # A new connection starts with the whole picture, not with what it missed.
            again = await read_snapshot(await client.get("/console/live"))
            assert again["agents"][0]["state"] == "on_call"


async def test_an_agents_stream_shows_only_themselves(medlytt):
    async with medlytt() as app:
        add(app, "a1", "agent", teams=["team-a"], agent_id=A1)
        await agents_in(app, AgentState.PAUSED)
        async with browser_client(app) as client:
            await log_in(client, "a1")
            snapshot = await read_snapshot(await client.get("/console/live"))
            assert [a["agent_id"] for a in snapshot["agents"]] == [A1]
            assert snapshot["sessions"] == []


# ---------------------------------------------------------------------------- language


async def test_the_language_is_the_users_choice_else_the_browsers(medlytt):
    async with medlytt() as app:
        add(app, "kari", "supervisor")
        async with browser_client(app) as client:
            login = await (
                await client.get("/console/login", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
            ).text()
            assert '<html lang="nb">' in login and "Brukernavn" in login
            await log_in(client, "kari")
            english = await (await client.get("/console/profile")).text()
            assert '<html lang="en">' in english
            saved = await client.post(
                "/console/profile",
                data={"language": "nb", "phone": "PJSIP/2001", "csrf": csrf_of(english)},
            )
            assert saved.status == 200 and saved.url.path == "/console/profile"
            norsk = await saved.text()
            assert '<html lang="nb">' in norsk and "Lagret." in norsk
            assert 'value="PJSIP/2001"' in norsk
            bad = await client.post(
                "/console/profile", data={"phone": "PJSIP 2001", "csrf": csrf_of(norsk)}
            )
            assert bad.status == 422 and "without spaces" in await bad.text()


async def test_pages_carry_a_strict_content_security_policy(medlytt):
    async with medlytt() as app, browser_client(app) as client:
        page = await client.get("/console/login")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        for name in ("console.js", "console.css"):
            assert (await client.get(f"/console/static/{name}")).status == 200
        assert (await client.get("/console/static/../plugin.py")).status == 404


async def test_a_stream_ends_with_its_session(medlytt):
    async with medlytt() as app:
        add(app, "kari", "supervisor")
        async with browser_client(app) as client:
            await log_in(client, "kari")
            stream = await client.get("/console/live")
            await read_snapshot(stream)
            token = csrf_of(await (await client.get("/console/profile")).text())
            await client.post("/console/logout", data={"csrf": token})
            await agents_in(app, AgentState.AVAILABLE)  # something to send: the stream looks
            rest = await asyncio.wait_for(stream.content.read(), 10)  # ... and ends instead
            assert b"data:" not in rest
            assert (await client.get("/console/live")).status == 401
