"""The authorisation matrix, generated from the routes themselves.

Every route the running application serves (core and every installed plugin) is called as
each of ten identities: nobody, a malformed header, a revoked token, a disabled user, an
agent, an agent of another team, a supervisor of the agent's team, a supervisor of another
team, an admin, and an agent user without an agent id.  The expected answer comes from the
route's own declaration (``medlytt.allow``/``medlytt.public``), so a new route is in the
matrix the moment it exists, and a route without a declaration is never served
(tests/test_hook_contract.py).  For the listings whose rows belong to agents, a second
table checks *which* rows each identity gets (rows naming no agent, NULL or empty, are
seeded too: the id-less agent must see none of them); a route that declares per-agent rows
without a row check here fails.  Every route with a path parameter is called with a real
thing of team A (ITEMS for reads, WRITES for changes): a new one without a seeded id fails.
The routes served without a token are pinned (PUBLIC_ROUTES, as docs/security.md lists)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sqlite3
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from medlytt import (
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallQueued,
    save_recording,
    utcnow,
)
from medlytt import auth as _auth
from medlytt.plugins.call_control import store as conversation_store
from medlytt.plugins.monitoring import store as audit_store
from medlytt.plugins.mystery_calls import store as mystery_store
from medlytt.plugins.phone_technique import store as phone_store
from medlytt.plugins.quality import store as evaluation_store
from medlytt.plugins.stress import store as stress_store
from medlytt.plugins.surveys import store as survey_store
from medlytt.web import declared_routes

A1, B1 = "PJSIP/1001", "PJSIP/2001"  # an agent of team A, an agent of team B
IDENTITIES = (
    "none",
    "malformed",
    "revoked",
    "disabled",
    "agent",
    "agent of another team",
    "supervisor of the team",
    "supervisor of another team",
    "admin",
    "agent without agent id",
)
ROLE = {
    "agent": "agent",
    "agent of another team": "agent",
    "supervisor of the team": "supervisor",
    "supervisor of another team": "supervisor",
    "admin": "admin",
    "agent without agent id": "agent",
}
#: The agent ids rows are seeded for: team A's, team B's, and rows that name no agent
#: (NULL, and an empty string) which an agent user without an agent id must never see.
SEEDED_AGENTS = (A1, B1, None, "")


def _wav() -> bytes:
    """A tenth of a second of silence: a recording to serve."""
    out = BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 800)
    return out.getvalue()


WAV = _wav()


@contextlib.contextmanager
def unless_refused(agent: str | None) -> Iterator[None]:
    """Seed a row; a store whose schema refuses a row without an agent (NOT NULL) has
    none of them to leak, so that refusal is let pass (and only that one)."""
    try:
        yield
    except sqlite3.IntegrityError:
        if agent is not None:
            raise


def seed(db: Any) -> dict[str, dict[str, str]]:
    """Users of two teams and their tokens; rows of both agents in every store."""
    users = {
        "agent": ("a1", "agent", ["team-a"], A1),
        "agent of another team": ("b1", "agent", ["team-b"], B1),
        "supervisor of the team": ("sup-a", "supervisor", ["team-a"], None),
        "supervisor of another team": ("sup-b", "supervisor", ["team-b"], None),
        "admin": ("root", "admin", [], None),
        "disabled": ("gone", "admin", [], None),
        "revoked": ("revoker", "admin", [], None),
        # In team A, so team-level pages are open to it; still no row is its own.
        "agent without agent id": ("noid", "agent", ["team-a"], None),
    }
    headers: dict[str, dict[str, str]] = {"none": {}, "malformed": {"Authorization": "Bearer"}}
    for who, (name, role, teams, agent_id) in users.items():
        _auth.add_user(db, name, role, teams=teams, agent_id=agent_id)
        token_id, token = _auth.create_token(db, name)
        headers[who] = {"Authorization": f"Bearer {token}"}
        if who == "revoked":
            _auth.revoke_token(db, token_id)
    _auth.disable_user(db, "gone")
    # Modules on for both teams: the stress plugin measures their agents, and the writes of
    # sales, behaviour types and call control are open (else a 409 would hide the checks).
    db["module_activations"].insert_all(
        {"team": team, "module": module, "since": utcnow().isoformat(), "by": "root"}
        for team in ("team-a", "team-b")
        for module in ("stress", "sales", "behaviour-types", "call-control")
    )
    now = utcnow().isoformat()
    for n, agent in enumerate(SEEDED_AGENTS):
        with unless_refused(agent):
            survey_store.save_survey(
                db,
                {
                    "id": f"s{n}",
                    "call_id": f"c{n}",
                    "queue": "support",
                    "agent_id": agent,
                    "started_at": now,
                    "finished_at": now,
                    "result": "completed",
                },
                {"satisfaction": "5"},
            )
        with unless_refused(agent):
            mystery_store.insert_call(
                db,
                {
                    "id": f"m{n}",
                    "target": "queue:support",
                    "started_at": now,
                    "outcome": "answered",
                    "agent_id": agent,
                    "evaluated_at": now,
                },
            )
        with unless_refused(agent):
            db["stress_alerts"].insert(
                {"at": now, "agent_id": agent, "kind": "occupancy", "detail": '{"occupancy": 0.95}'}
            )
        with unless_refused(agent):
            db["long_calls"].insert(
                {
                    "call_id": f"c{n}",
                    "at": now,
                    "queue": "q",
                    "agent_id": agent,
                    "talk_seconds": 900,
                }
            )
        # Written only for answered calls (CallAnswered.agent_id is required): never NULL.
        if agent is not None:
            db["behaviour_calls"].insert(
                {"call_id": f"c{n}", "agent_id": agent, "at": now, "behaviour_type": "driver"}
            )
        with unless_refused(agent):
            db["attitude_rounds"].insert(
                {"id": f"r{n}", "agent_id": agent, "form": "attitude-360", "form_version": 1}
                | {"opened_at": now, "opened_by": "root"}
            )
        with unless_refused(agent):
            db["sales_outcomes"].insert(
                {"call_id": f"c{n}", "agent_id": agent, "queue": "q", "answered_at": now}
                | {"outcome": "sale", "set_by": "root", "set_at": now}
            )
        with unless_refused(agent):
            db["written_texts"].insert(
                {"id": f"t{n}", "at": now, "agent_id": agent, "kind": "email", "language": "nb"}
                | {"sha256": "0" * 64, "lix": 30.0, "passive_share": 0.1}
            )
        with unless_refused(agent):
            audit_store.append_audit(
                db,
                {
                    "at": now,
                    "action": "started",
                    "session_id": f"x{n}",
                    "supervisor": "root",
                    "agent_id": agent,
                    "call_id": f"c{n}",
                    "mode": "listen",
                },
            )
        with unless_refused(agent):
            evaluation_store.insert_evaluation(
                db,
                {
                    "id": f"e{n}",
                    "created_at": now,
                    "form": "f",
                    "form_version": 1,
                    "agent_id": agent,
                }
                | {"evaluator": "root", "subject_kind": "call", "subject_id": f"c{n}", "live": 0}
                | {
                    "passed": 1,
                    "failed_critical": [],
                    "scores": {},
                    "comments": {},
                    "status": "open",
                },
            )
        with unless_refused(agent):
            conversation_store.save(
                db,
                {"call_id": f"c{n}", "agent_id": agent, "queue": "q", "answered_at": now}
                | {"ended_at": now, "agent_talk_seconds": 1.0, "customer_talk_seconds": 1.0}
                | {"overtalk_count": 0, "longest_silence_seconds": 1.0, "phases": {}},
            )
        # Written only for answered calls (CallAnswered.agent_id is required): never NULL.
        if agent is not None:
            phone_store.save(
                db,
                {"call_id": f"c{n}", "agent_id": agent, "queue": "q", "answered_at": now}
                | {"ended_at": now, "ring_seconds": 1.0, "hold_count": 0, "transfers": 0},
            )
        with unless_refused(agent):
            db.table("recording_access").insert(
                {"at": now, "recording_id": f"r{n}", "agent_id": agent, "recording_created_at": now}
                | {"source": "monitoring", "hidden_from_agent": 0, "user": "root", "role": "admin"}
            )
    return headers


@pytest.fixture
async def world(medlytt, medlytt_client):
    async with medlytt() as app:
        headers = app.storage.run_sync(seed)
        await app.modules.refresh(app)
        now = utcnow()
        # A call waiting in a queue: no agent yet (the id-less agent must not see it).
        app.publish(CallQueued(at=now, source="t", call_id="c-wait", queue="q"))
        for agent, call in ((A1, "c0"), (B1, "c1")):
            app.publish(
                AgentStateChanged(
                    at=now, source="t", agent_id=agent, state=AgentState.ON_CALL, queues=("q",)
                )
            )
            app.publish(
                CallAnswered(
                    at=now, source="t", call_id=call, queue="q", agent_id=agent, wait_seconds=1
                )
            )
        client = await medlytt_client(app, role=None)
        yield app, client.server.app, client, headers


def concrete(path: str) -> str:
    """A request path for a route template: every ``{param}`` becomes ``x``."""
    return re.sub(r"\{[^}]+\}", "x", path)


def expected(rule: Any, identity: str) -> str:
    if rule.public:
        return "served"
    if identity not in ROLE:
        return "401"
    return "served" if ROLE[identity] in rule.roles else "403"


async def test_every_route_answers_every_identity_as_it_declares(world):
    _app, web_app, client, headers = world
    routes = declared_routes(web_app)
    assert len(routes) >= 30  # core and every built-in plugin
    failures = []
    for method, path, rule in routes:
        assert rule is not None, f"{method} {path} is served without a rule"
        for identity in IDENTITIES:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = await client.request(
                method, concrete(path), json=body, headers=headers[identity]
            )
            want = expected(rule, identity)
            got = response.status
            # Served: anything but a refusal or an internal error (503: no PBX here).
            ok = got == int(want) if want != "served" else got not in (401, 403, 500)
            if got == 401:
                ok = ok and response.headers.get("WWW-Authenticate", "").startswith("Bearer")
            if not ok:
                failures.append(f"{method} {path} as {identity}: {got}, expected {want}")
    assert failures == []


#: Listings of per-agent rows: (path, JSON key of the list, the rows' agent field).
ROW_CHECKS = {
    "/api/surveys": ("surveys", "agent_id"),
    "/api/surveys/scores": ("scores", "agent_id"),
    "/api/mystery-calls": ("mystery_calls", "agent_id"),
    "/api/audit/monitoring": ("audit", "agent_id"),
    "/api/agents": ("agents", "agent_id"),
    "/api/calls": ("calls", "agent_id"),
    "/api/monitor": ("sessions", "agent"),
    "/api/recordings/access": ("accesses", "agent_id"),
    "/api/evaluations": ("evaluations", "agent_id"),
    "/api/evaluations/access": ("accesses", "agent_id"),  # rows from the listing above
    "/api/stress/alerts": ("alerts", "agent_id"),
    "/api/stress/agents": ("agents", "agent_id"),
    "/api/longcalls": ("long_calls", "agent_id"),  # the example third-party plugin
    "/api/conversations": ("conversations", "agent_id"),
    "/api/phone-technique": ("calls", "agent_id"),
    "/api/behaviour-types": ("calls", "agent_id"),
    "/api/behaviour-types/agents": ("agents", "agent_id"),
    "/api/texts": ("texts", "agent_id"),
    "/api/texts/trend": ("trend", "agent_id"),
    "/api/attitude/rounds": ("rounds", "agent_id"),
    "/api/sales/outcomes": ("outcomes", "agent_id"),
    "/api/sales/conversion": ("agents", "agent_id"),
}
SEES = {
    "agent": {A1},
    "agent of another team": {B1},
    "supervisor of the team": {A1},
    "supervisor of another team": {B1},
    "admin": {A1, B1},
    "agent without agent id": set(),
}
#: Rows that name no agent (seeded with NULL and with ""): no agent sees them, an agent
#: user without an agent id included (None == None must never match); supervisors only
#: where the route's rule says so.
NAMELESS = {None, ""}
NAMELESS_SHOWN_TO_SUPERVISORS = {
    "/api/mystery-calls": "calls no agent answered",
    "/api/calls": "calls waiting",
}


async def test_each_role_sees_exactly_its_rows(world):
    _app, web_app, client, headers = world
    for method, path, rule in declared_routes(web_app):
        per_agent = rule is not None and "own teams" in rule.rows and method == "GET"
        if per_agent and "{" not in path:
            assert path in ROW_CHECKS, f"{path} declares per-agent rows but has no row check"
    for path, (key, field) in ROW_CHECKS.items():
        if path == "/api/monitor":
            continue  # no session runs here; monitoring's sessions: tests/asterisk
        rule = next(r for m, p, r in declared_routes(web_app) if p == path and m == "GET")
        for identity, agents in SEES.items():
            if ROLE[identity] not in rule.roles:
                continue
            response = await client.get(path, headers=headers[identity])
            assert response.status == 200, (path, identity, await response.text())
            rows = (await response.json())[key]
            got = {row[field] for row in rows}
            assert got - NAMELESS == agents, (path, identity, rows)
            staff_may = ROLE[identity] == "supervisor" and path in NAMELESS_SHOWN_TO_SUPERVISORS
            if identity != "admin" and not staff_may:
                assert not got & NAMELESS, (path, identity, "rows naming no agent", rows)


#: What ``?agent=A1`` (team A's agent) gets on a listing that accepts it: the callers who
#: may see A1's rows get only those; the others a 403 naming A1.
MAY_ASK_FOR_A1 = {"agent", "supervisor of the team", "admin"}


async def test_asking_for_another_teams_agent_is_refused_on_every_listing(world):
    """``?agent=`` on every listing of ROW_CHECKS: whether a listing accepts it is found
    by asking (an admin gets only A1's rows, or a 422 for a parameter it does not take),
    and a listing whose rule promises ``?agent=`` must accept it.  Where accepted, team B's
    agent and supervisor and the id-less agent are refused naming A1; where not, they
    still get none of A1's rows."""
    _, web_app, client, headers = world
    rules = {p: r for m, p, r in declared_routes(web_app) if m == "GET"}
    accepting, failures = [], []
    for path, (key, agent_field) in ROW_CHECKS.items():
        if path == "/api/monitor":
            continue  # no session runs here; monitoring's sessions: tests/asterisk
        rule = rules[path]
        by_admin = await client.get(path, params={"agent": A1}, headers=headers["admin"])
        if by_admin.status == 200:
            named = {row[agent_field] for row in (await by_admin.json())[key]} - NAMELESS
            accepts = named == {A1}
        else:
            assert by_admin.status == 422, (path, by_admin.status, await by_admin.text())
            accepts = False
        if "?agent=" in rule.rows and not accepts:
            failures.append(f"{path} promises ?agent= but an admin asking for A1 got other rows")
        if accepts:
            accepting.append(path)
        for identity in IDENTITIES:
            if identity not in ROLE or ROLE[identity] not in rule.roles:
                continue
            response = await client.get(path, params={"agent": A1}, headers=headers[identity])
            body = await response.json()
            got = {row[agent_field] for row in body.get(key, [])} - NAMELESS
            if accepts and identity in MAY_ASK_FOR_A1:
                ok = response.status == 200 and got == {A1}
            elif accepts:
                ok = response.status == 403 and A1 in body["error"]
            else:  # the parameter is refused, or ignored: still only one's own rows
                ok = response.status == 422 or (response.status == 200 and got <= SEES[identity])
            if not ok:
                failures.append(f"{path}?agent={A1} as {identity}: {response.status} {body}")
    assert failures == [], "\n".join(failures)
    assert accepting, "no listing took ?agent=: nothing was tried"


#: Who may see a single item of team A (kinds of :class:`Item`).
OWN = "A1's row"  # A1 itself, team A's supervisor and admins
TEAM_A = "team A's"  # team A's members (the id-less agent too) and leaders, and admins
SHARED = "shared"  # everyone the route's roles allow (forms, campaigns, queue counts)
PUBLIC = "public"  # anyone, the same answer whoever asks
VISIBLE = {
    OWN: {"agent", "supervisor of the team", "admin"},
    TEAM_A: {"agent", "supervisor of the team", "admin", "agent without agent id"},
}


@dataclass(frozen=True)
class Item:
    """How a route that reads one thing is called: the value of each path parameter (a
    row seeded by :func:`seed_items`, of team A), any query, who may see it, and the
    status the others get (as the route declares: 403 or 404)."""

    params: dict[str, str]
    kind: str
    hidden: int = 403
    query: dict[str, str] = dataclasses.field(default_factory=dict)
    #: A per-agent list inside the answer: (JSON key, agent field), checked like ROW_CHECKS.
    rows: tuple[str, str] | None = None
    #: The same parameter naming the seeded rows of no agent (NULL, ""): no agent reads
    #: them, the id-less one least of all (None == None must not match).
    nameless: tuple[str, ...] = ()


RECORDING = "<the recording seeded for A1's call c0>"
#: Every GET route with a path parameter (and the single-agent reads keyed by ?agent=).
#: A new parameterised route must be added here with a seeded id, else the test fails.
ITEMS = {
    "/api/attitude/rounds/{round_id}": Item(
        {"round_id": "r0"}, OWN, hidden=404, nameless=("r2", "r3")
    ),
    "/api/calibrations/{id}": Item({"id": "cal-a"}, TEAM_A),
    "/api/calibrations/{id}/report": Item({"id": "cal-a"}, TEAM_A),
    "/api/calls/{call_id}/outcome": Item({"call_id": "c0"}, OWN, nameless=("c2", "c3")),
    "/api/desk/calls/{call_id}": Item({"call_id": "c0"}, OWN),
    "/api/development-plans/{agent}": Item({"agent": A1}, OWN, hidden=404),
    "/api/evaluations/{id}": Item({"id": "e0"}, OWN, nameless=("e2", "e3")),
    "/api/evaluations/export": Item({}, OWN, query={"agent": A1}),
    "/api/forms/{id}": Item({"id": "call-control"}, SHARED),
    "/api/mystery-calls/{id}": Item({"id": "m0"}, OWN, hidden=404, nameless=("m2", "m3")),
    "/api/mystery-campaigns/{name}": Item({"name": "weekly"}, SHARED, rows=("results", "agent_id")),
    "/api/plans/{team}/status": Item({"team": "team-a"}, TEAM_A, rows=("agents", "agent_id")),
    "/api/queues/{queue}/intervals": Item({"queue": "q"}, SHARED),
    "/api/recordings/{id}": Item({"id": RECORDING}, OWN),
    "/api/softphone/hooks/{token}": Item({"token": "not-a-desk-token"}, PUBLIC),
    "/console/agent": Item({}, OWN, query={"id": A1}),
    "/console/static/{name}": Item({"name": "console.css"}, PUBLIC),
    "/console/x/{name}": Item({"name": "module-progress"}, SHARED),
}


async def seed_items(app: Any, client: Any, admin: dict[str, str]) -> dict[str, str]:
    """The single things of team A that :data:`ITEMS` reads (rows the listings do not
    need): a recording of A1's call, a closed calibration round of team A, A1's
    development plan, a mystery campaign holding the seeded calls, team A's monitoring
    plan. Returns the generated ids by placeholder."""
    recording = await save_recording(
        app, WAV, source="monitoring", call_id="c0", agent_id=A1, session_id="x0"
    )
    now = utcnow().isoformat()

    def write(db: Any) -> None:
        evaluation_store.insert_round(
            db,
            {"id": "cal-a", "created_at": now, "created_by": "root", "team": "team-a"}
            | {"form": "call-control", "form_version": 1, "subjects": ["call:c0"]}
            | {"evaluators": ["sup-a", "root"], "closed_at": now, "closed_by": "root"},
        )
        stress_store.put_plan(
            db,
            A1,
            {"stress_pattern": "", "goals": [], "techniques": [], "follow_ups": []},
            now,
            "root",
        )

    app.storage.run_sync(write)
    campaign = {"name": "weekly", "number": "556", "schedule": "0 9 * * 1-5"}
    made = await client.post("/api/mystery-campaigns", json=campaign, headers=admin)
    assert made.status == 201, await made.text()
    app.storage.run_sync(
        lambda db: [
            mystery_store.update_call(db, f"m{n}", {"campaign": "weekly"})
            for n in range(len(SEEDED_AGENTS))
        ]
    )
    plan = {"per_agent_per_month": 4, "live_at_least": 1}
    made = await client.put("/api/plans/team-a", json=plan, headers=admin)
    assert made.status == 200, await made.text()
    return {RECORDING: recording}


def item_url(path: str, item: Item, generated: dict[str, str]) -> str:
    """The route with each ``{param}`` (or ``{param:regex}``) replaced by the seeded id."""

    def value(match: re.Match[str]) -> str:
        seeded = item.params[match[1]]
        return quote(generated.get(seeded, seeded), safe="/")

    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", value, path)


async def test_each_identity_reads_exactly_the_single_items_it_may(world):
    """Every route that reads one thing is called with a real row of team A (not a made-up
    id that is 404 for everyone): A1, team A's supervisor and admins read it, team B's
    agent and supervisor and the id-less agent are refused, as each route declares."""
    app, web_app, client, headers = world
    routes = {p: r for m, p, r in declared_routes(web_app) if m == "GET"}
    for path in routes:
        if "{" in path:
            assert path in ITEMS, (
                f"GET {path} takes a path parameter but ITEMS has no seeded id for it: add "
                "an Item naming a row of team A (seeded in seed_items) and who may see it"
            )
    assert not set(ITEMS) - set(routes), (
        f"ITEMS names routes no longer served: {set(ITEMS) - set(routes)}"
    )
    generated = await seed_items(app, client, headers["admin"])
    failures = []
    for path, item in ITEMS.items():
        rule = routes[path]
        url = item_url(path, item, generated)
        answers = {}
        for identity in IDENTITIES:
            response = await client.get(url, params=item.query, headers=headers[identity])
            answers[identity] = response.status
            if item.kind == PUBLIC:
                continue
            if identity not in ROLE or ROLE[identity] not in rule.roles:
                want = 401 if identity not in ROLE else 403
            elif item.kind == SHARED or identity in VISIBLE[item.kind]:
                want = 200
            else:
                want = item.hidden
            if response.status != want:
                failures.append(f"GET {url} as {identity}: {response.status}, expected {want}")
            elif want == 200 and item.rows is not None:
                key, agent_field = item.rows
                got = {row[agent_field] for row in (await response.json())[key]}
                # Inside a team's item, the rows of that team's agents (admins too).
                sees = SEES[identity] & ({A1} if item.kind == TEAM_A else {A1, B1})
                if got - NAMELESS != sees or (ROLE[identity] == "agent" and got & NAMELESS):
                    failures.append(f"GET {url} as {identity}: rows of {got}")
        for nameless in item.nameless:
            for identity in ("agent", "agent without agent id"):
                params = dict.fromkeys(item.params, nameless)  # one path parameter
                url = item_url(path, dataclasses.replace(item, params=params), {})
                response = await client.get(url, headers=headers[identity])
                if response.status not in (403, 404):
                    failures.append(f"GET {url} (no agent) as {identity}: {response.status}")
        if item.kind == PUBLIC and len(set(answers.values())) != 1:
            failures.append(f"GET {url} (public) answers differently per caller: {answers}")
    assert failures == [], "\n".join(failures)


@dataclass(frozen=True)
class Write:
    """How a route that changes one thing of team A is tried: its path parameters, a valid
    body, and who of team A must then succeed with that same body (so the refusals above it
    are the team check, not a bad body); ``by`` None says in ``why`` where that is tested."""

    params: dict[str, str]
    body: dict[str, Any] | None
    by: str | None
    why: str = ""


#: The items of the attitude-360 form, each scored 3 by an answer.
ATTITUDE_360_ITEMS = (
    "helps-colleagues",
    "shares-knowledge",
    "receives-feedback",
    "speaks-well-of-customers",
    "owns-the-errand",
    "keeps-agreements",
    "positive-energy",
)
#: Routes that change something of one team with a path parameter; and the ones that are
#: not per team, with the reason.  A new one must be added here, else the test fails.
WRITES: dict[str, Write | str] = {
    "POST /api/mystery-calls/{id}/evaluation": Write(
        {"id": "m0"}, {"notes": "warm greeting"}, "supervisor of the team"
    ),
    "PUT /api/calls/{call_id}/outcome": Write({"call_id": "c0"}, {"outcome": "sale"}, "agent"),
    "POST /api/behaviour-types/{call_id}": Write(
        {"call_id": "c0"}, {"type": "driver"}, "supervisor of the team"
    ),
    "POST /api/conversations/{call_id}/phase": Write(
        {"call_id": "c0"}, {"phase": "opening"}, "supervisor of the team"
    ),
    "PUT /api/development-plans/{agent}": Write({"agent": A1}, {}, "supervisor of the team"),
    "PUT /api/development-plans/{agent}/notes": Write({"agent": A1}, {"notes": "mine"}, "agent"),
    "POST /api/evaluations/{id}/dispute": Write({"id": "e0"}, {"comment": "not so"}, "agent"),
    "POST /api/evaluations/{id}/acknowledge": Write(
        {"id": "e0"}, {}, None, "answered by the dispute above; tests/test_quality.py"
    ),
    "POST /api/attitude/rounds/{round_id}/answers": Write(
        {"round_id": "r0"},
        {"scores": dict.fromkeys(ATTITUDE_360_ITEMS, 3)},
        None,
        "only colleagues invited to the round: tests/test_attitude.py",
    ),
    "POST /api/attitude/rounds/{round_id}/close": Write(
        {"round_id": "r0"}, {}, "supervisor of the team"
    ),
    "POST /api/calibrations/{id}/close": Write(
        {"id": "cal-a"}, {}, None, "cal-a is closed for its report; tests/test_quality.py"
    ),
    "PUT /api/calibrations/{id}/scores": Write(
        {"id": "cal-a"},
        {"subject": "call:c0", "scores": {}},
        None,
        "cal-a is closed for its report; tests/test_quality.py",
    ),
    "PUT /api/plans/{team}": Write(
        {"team": "team-a"},
        {"per_agent_per_month": 2, "live_at_least": 0},
        "supervisor of the team",
    ),
    "PUT /api/teams/{team}/modules/{module}": Write(
        {"team": "team-a", "module": "stress"}, {"active": True}, "supervisor of the team"
    ),
    "PUT /api/forms/{id}": "forms are shared by every team",
    "DELETE /api/mystery-calls/{id}": "stops any running mystery call (no agent yet)",
    "PATCH /api/mystery-campaigns/{name}": "campaigns are not per team",
    "DELETE /api/monitor/{id}": "a supervisor's own sessions: tests/asterisk/test_monitoring.py",
    "PATCH /api/monitor/{id}": "a supervisor's own sessions: tests/asterisk/test_monitoring.py",
    "POST /api/softphone/hooks/{token}": "public: PUBLIC_ROUTES",
}
INTRUDERS = ("agent of another team", "supervisor of another team", "agent without agent id")


async def test_nobody_outside_team_a_changes_team_as_things(world):
    """Every write with a path parameter, on a real thing of team A: team B's agent and
    supervisor and the id-less agent are refused (403 or 404), then the one of team A it
    is for succeeds with the same body."""
    app, web_app, client, headers = world
    routes = {f"{m} {p}": r for m, p, r in declared_routes(web_app) if m != "GET"}
    for route in routes:
        if "{" in route:
            assert route in WRITES, (
                f"{route} changes one thing named in its path but WRITES has no seeded id "
                "for it: add a Write naming a thing of team A (or say why it is not per team)"
            )
    assert not set(WRITES) - set(routes), (
        f"WRITES names routes no longer served: {set(WRITES) - set(routes)}"
    )
    await seed_items(app, client, headers["admin"])
    failures = []
    for route, write in WRITES.items():
        if isinstance(write, str):
            continue
        method, path = route.split(" ", 1)
        url = item_url(path, Item(write.params, OWN), {})
        for identity in (*INTRUDERS, *([write.by] if write.by else [])):
            response = await client.request(method, url, json=write.body, headers=headers[identity])
            ok = (
                200 <= response.status < 300
                if identity == write.by
                else response.status in (403, 404)
            )
            if not ok:
                failures.append(f"{route} as {identity}: {response.status} {await response.text()}")
    assert failures == [], "\n".join(failures)


#: Every route anyone may call without a token, pinned: marking another route
#: ``@public`` (or dropping one) fails until this set and docs/security.md are updated.
PUBLIC_ROUTES = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",  # needs [server] metrics_token when one is set
    "GET /console/login",
    "POST /console/login",
    "GET /console/static/{name}",
    "GET /api/softphone/hooks/{token}",  # the path holds the desk's own webhook token
    "POST /api/softphone/hooks/{token}",
}
SECURITY_DOC = Path(__file__).parent.parent / "docs" / "security.md"


async def test_the_public_routes_are_exactly_the_pinned_ones(world):
    _, web_app, _, _ = world
    public = {f"{m} {p}" for m, p, rule in declared_routes(web_app) if rule and rule.public}
    assert public == PUBLIC_ROUTES, (
        f"the routes served without a token changed: now public {sorted(public - PUBLIC_ROUTES)}"
        f", no longer public {sorted(PUBLIC_ROUTES - public)}; if that is meant, update "
        "PUBLIC_ROUTES in tests/test_access_matrix.py and the table of routes without a token "
        "in docs/security.md"
    )
    # docs/security.md lists exactly these, one table row each: `METHOD /path`.
    section = SECURITY_DOC.read_text().split("### Routes without a token", 1)[1]
    section = section.split("\n#", 1)[0]  # up to the next heading
    documented = set(re.findall(r"^\| `((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)`", section, re.M))
    assert documented == PUBLIC_ROUTES, (
        "docs/security.md's table of routes without a token differs from PUBLIC_ROUTES: "
        f"missing {sorted(PUBLIC_ROUTES - documented)}, extra {sorted(documented - PUBLIC_ROUTES)}"
    )


async def test_a_reused_agent_id_never_shows_the_person_before(world):
    """An extension passes to a new person: the new user sees only rows from their own
    start, never the surveys, results, audit rows or recordings of the one before."""
    app, _, client, headers = world

    def successor(db: Any) -> str:
        _auth.disable_user(db, "b1")
        _auth.add_user(db, "b1-new", "agent", teams=["team-b"], agent_id=B1)
        return _auth.create_token(db, "b1-new")[1]

    new = {"Authorization": f"Bearer {app.storage.run_sync(successor)}"}
    for path, (key, _) in ROW_CHECKS.items():
        if path in ("/api/agents", "/api/calls", "/api/monitor", "/api/longcalls"):
            continue  # live state (whoever holds the extension is on that call); staff only
        response = await client.get(path, headers=new)
        assert response.status == 200, (path, await response.text())
        assert (await response.json())[key] == [], path
    # What happens from now on is theirs.
    later = utcnow().isoformat()
    app.storage.run_sync(
        lambda db: survey_store.save_survey(
            db,
            {
                "id": "s-new",
                "call_id": "c-new",
                "queue": "support",
                "agent_id": B1,
                "started_at": later,
                "finished_at": later,
                "result": "completed",
            },
            {"satisfaction": "4"},
        )
    )
    rows = (await (await client.get("/api/surveys", headers=new)).json())["surveys"]
    assert [r["id"] for r in rows] == ["s-new"]
    # Their supervisor sees the extension's rows from the new holder's start too: the
    # person before was disabled, their rows are not the new team's to read.
    team_b = headers["supervisor of another team"]
    rows = (await (await client.get("/api/surveys", headers=team_b)).json())["surveys"]
    assert [r["id"] for r in rows] == ["s-new"]
    audit = (await (await client.get("/api/audit/monitoring", headers=team_b)).json())["audit"]
    assert audit == []
    # The disabled predecessor's token no longer works at all.
    assert (
        await client.get("/api/surveys", headers=headers["agent of another team"])
    ).status == 401


async def test_an_empty_agent_filter_is_422_everywhere(world):
    _, _, client, headers = world
    for path in (
        "/api/surveys",
        "/api/surveys/scores",
        "/api/mystery-calls",
        "/api/audit/monitoring",
        "/api/conversations",
        "/api/phone-technique",
    ):
        response = await client.get(path, params={"agent": " "}, headers=headers["admin"])
        assert response.status == 422, path
        assert "agent must not be empty" in (await response.json())["error"], path


async def test_the_openapi_documents_say_who_may_call_each_operation(world):
    """Each operation of docs/openapi/*.json carries ``x-medlytt-access``, equal to the rule
    its route declares: the documents cannot drift from what the server enforces."""
    import json

    _, web_app, _, _ = world
    rules = {(m.lower(), p): r for m, p, r in declared_routes(web_app)}
    documents = sorted((Path(__file__).parent.parent / "docs" / "openapi").glob("*.json"))
    assert documents
    for document in documents:
        for path, operations in json.loads(document.read_text())["paths"].items():
            for method, operation in operations.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue  # "parameters" shared by the path's operations
                rule = rules[(method, path)]
                assert operation.get("x-medlytt-access") == rule.describe(), (document, path)


async def test_a_supervisor_cannot_evaluate_another_teams_mystery_call(world):
    """Evaluating publishes the result to the agent: only for the caller's own teams."""
    app, _, client, headers = world
    refused = await client.post(
        "/api/mystery-calls/m0/evaluation",
        json={"notes": "not yours"},
        headers=headers["supervisor of another team"],
    )
    assert refused.status == 404  # m0 was answered by A1, of team A
    row = app.storage.run_sync(lambda db: mystery_store.get_call(db, "m0"))
    assert row["notes"] is None
    allowed = await client.post(
        "/api/mystery-calls/m0/evaluation",
        json={"notes": "warm greeting"},
        headers=headers["supervisor of the team"],
    )
    assert allowed.status == 200
