"""The OpenAPI documents of the mystery calls and surveys APIs against the code: the routes
the plugins register, the request structs, the rows the answers are made of, and who may
call what (no token, an agent, a supervisor, an admin) on every route, without Asterisk.

The same checks for monitoring are in tests/test_monitor_cli.py.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from datetime import datetime
from typing import Any

import msgspec
import pytest
import sqlite_utils
from medlytt import Scope, auth
from medlytt.clock import utcnow
from medlytt.plugins.mystery_calls import model
from medlytt.plugins.mystery_calls import plugin as mystery
from medlytt.plugins.mystery_calls import store as mystery_store
from medlytt.plugins.mystery_calls.call import MysteryCall
from medlytt.plugins.surveys import plugin as surveys
from medlytt.plugins.surveys import store as survey_store
from medlytt.storage import apply_migrations
from support import ROOT

OPENAPI = ROOT / "docs" / "openapi"
PLUGINS = {"mystery-calls": mystery, "surveys": surveys}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
SECTIONS = {
    "mystery_calls": {"queue_numbers": {"support": "500"}},
    "surveys": {
        "questions": [{"id": "satisfaction", "prompt": "sound:beep"}],
        "queues": {"support": {"every": 1}},
    },
}
#: Component schema → the msgspec struct a request body is decoded into.
REQUEST_STRUCTS: dict[str, type[msgspec.Struct]] = {
    "CallRequest": model.CallRequest,
    "Step": model.Step,
    "CampaignRequest": model.CampaignRequest,
    "Evaluation": mystery.Evaluation,
    "CampaignChange": mystery.CampaignChange,
    "KillSwitch": mystery.KillSwitch,
}
#: Required by the API although the struct has a default: an empty name is refused (422).
REQUIRED_BEYOND_STRUCT = {"CampaignRequest": {"name"}}
#: Which route reads which body (``read_json(request, Struct)`` in plugin.py).
BODIES = {
    ("POST", "/api/mystery-calls"): "CallRequest",
    ("POST", "/api/mystery-calls/{id}/evaluation"): "Evaluation",
    ("POST", "/api/mystery-campaigns"): "CampaignRequest",
    ("PATCH", "/api/mystery-campaigns/{name}"): "CampaignChange",
    ("PUT", "/api/mystery-kill-switch"): "KillSwitch",
}

EVERYONE = Scope(agents=None)  # what an admin sees


def load(name: str) -> dict[str, Any]:
    return json.loads((OPENAPI / f"{name}.json").read_text())


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its ``$ref`` points to (following chains)."""
    while "$ref" in node:
        target: Any = spec
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = target
    return node


def new_call(mystery_call_id: str) -> MysteryCall:
    """A call to queue ``support`` as the service starts it (outcome ``running``)."""
    return MysteryCall(
        id=mystery_call_id,
        spec=model.CallSpec(queue="support"),
        target="queue:support",
        number="500",
        endpoint="Local/500@from-mystery/n",
        caller_id="Medlytt mystery",
        campaign=None,
        requested_by="ada",
        started_at=utcnow(),
    )


# ----------------------------------------------------------------------------- documents


@pytest.mark.parametrize("name", PLUGINS)
def test_openapi_describes_exactly_the_registered_routes(name):
    spec = load(name)
    assert spec["openapi"] == "3.0.3"
    registered = [(r.method, r.path) for r in PLUGINS[name].medlytt_routes(app=None)]
    assert len(registered) == len(set(registered))
    assert set(operations(spec)) == set(registered)
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    ids = [op["operationId"] for op in operations(spec).values()]
    assert len(ids) == len(set(ids))
    for (method, path), operation in operations(spec).items():
        assert "401" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            assert deref(spec, response)["description"].strip(), (method, path, status)
        declared = {
            p["name"]
            for p in spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
            if p["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


def test_request_bodies_are_the_structs_the_handlers_decode():
    spec = load("mystery-calls")
    documented = {
        route: operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for route, operation in operations(spec).items()
        if "requestBody" in operation
    }
    assert documented == {
        route: f"#/components/schemas/{schema}" for route, schema in BODIES.items()
    }
    assert all(operations(spec)[route]["requestBody"]["required"] for route in BODIES)
    assert not any("requestBody" in op for op in operations(load("surveys")).values())


@pytest.mark.parametrize("schema_name", REQUEST_STRUCTS)
def test_request_schemas_match_the_structs(schema_name):
    struct = REQUEST_STRUCTS[schema_name]
    schema = load("mystery-calls")["components"]["schemas"][schema_name]
    fields = msgspec.structs.fields(struct)
    assert set(schema["properties"]) == set(struct.__struct_fields__)
    required = {f.name for f in fields if f.required}
    assert set(schema.get("required", [])) == required | REQUIRED_BEYOND_STRUCT.get(
        schema_name, set()
    )
    assert schema["additionalProperties"] is (not struct.__struct_config__.forbid_unknown_fields)
    for field in fields:
        described = schema["properties"][field.name]
        nullable = type(None) in typing.get_args(field.type)
        assert described.get("nullable", False) is nullable, (schema_name, field.name)
        literals = [
            a for a in typing.get_args(field.type) if typing.get_origin(a) is typing.Literal
        ]
        if typing.get_origin(field.type) is typing.Literal:
            literals = [field.type]
        if literals:
            values = list(typing.get_args(literals[0])) + ([None] if nullable else [])
            assert described["enum"] == values, (schema_name, field.name)


def test_answer_schemas_match_the_rows():
    schemas = load("mystery-calls")["components"]["schemas"]
    call = new_call("5d2c9a7e1f30")
    db = sqlite_utils.Database(memory=True)
    apply_migrations(db, [("mystery_calls", m) for m in mystery_store.MIGRATIONS])
    apply_migrations(db, [("surveys", m) for m in survey_store.MIGRATIONS])
    columns = set(db[mystery_store.CALLS].columns_dict)
    assert set(schemas["MysteryCall"]["properties"]) == columns
    assert set(schemas["MysteryCall"]["required"]) == set(call.row())
    assert schemas["MysteryCall"]["properties"]["outcome"]["enum"] == ["running", *model.OUTCOMES]
    assert set(schemas["PlannedCall"]["properties"]) == set(db[mystery_store.PLANNED].columns_dict)
    request_fields = set(model.CampaignRequest.__struct_fields__)
    assert set(schemas["Campaign"]["properties"]) == request_fields | {"active", "planned"}
    assert set(schemas["Error"]["properties"]) == {"error", "status", "limit"}

    schemas = load("surveys")["components"]["schemas"]
    row = {
        "id": "s1",
        "call_id": "c1",
        "queue": "support",
        "agent_id": "PJSIP/1001",
        "started_at": utcnow().isoformat(),
        "finished_at": utcnow().isoformat(),
        "result": "completed",
    }
    survey_store.save_survey(db, row, {"satisfaction": "4"})
    [survey] = survey_store.surveys(db, None, EVERYONE, 10)
    assert set(schemas["Survey"]["properties"]) == set(survey) == set(schemas["Survey"]["required"])
    assert set(db[survey_store.RESPONSES].columns_dict) | {"answers"} == set(survey)
    [score] = survey_store.scores(db, None, EVERYONE)
    assert set(schemas["AgentScore"]["properties"]) == set(score)
    assert set(schemas["QuestionScore"]["properties"]) == set(score["questions"]["satisfaction"])


@pytest.mark.parametrize("name", PLUGINS)
def test_openapi_references_resolve(name):
    spec = load(name)
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/"), ref
        assert deref(spec, {"$ref": ref}), ref
    # and every component is used
    used = {ref.rsplit("/", 1)[1] for ref in refs}
    for kind in ("schemas", "responses"):
        assert set(spec["components"].get(kind, {})) <= used, kind


def test_documented_query_parameters_are_the_ones_read():
    spec = load("mystery-calls")
    source = inspect.getsource(mystery.list_calls)
    read = set(re.findall(r'request\.query\.get\("(\w+)"', source))
    if "query_limit(request" in source:  # medlytt.web.query_limit reads "limit"
        read.add("limit")
    with_query = {
        route: {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        for route, op in operations(spec).items()
    }
    assert {route: names for route, names in with_query.items() if names} == {
        ("GET", "/api/mystery-calls"): read
    }
    assert read == {"campaign", "agent", "limit"}


async def test_documented_survey_query_parameters_are_the_ones_allowed(medlytt, medlytt_client):
    spec = load("surveys")
    async with medlytt(SECTIONS) as app:
        client = await medlytt_client(app, role=None)
        headers = token(app, "ada", "admin")
        for (_, path), operation in operations(spec).items():
            documented = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
            response = await client.get(path, params={"nosuch": "1"}, headers=headers)
            assert response.status == 422
            allowed = (await response.json())["error"].split("; use ")[1].split(", ")
            assert documented == allowed, path


# ----------------------------------------------------------------------------- who may call what

STAFF_ROLES = ("supervisor", "admin")
#: Each route once, with a request that succeeds for a supervisor or admin where it can
#: without Asterisk: (path, JSON body, status for staff, status for the agent).
REQUESTS: dict[tuple[str, str], tuple[str, Any, int, int]] = {
    ("POST", "/api/mystery-calls"): ("/api/mystery-calls", {"queue": "support"}, 503, 403),
    ("GET", "/api/mystery-calls"): ("/api/mystery-calls", None, 200, 200),
    ("GET", "/api/mystery-calls/{id}"): ("/api/mystery-calls/m1", None, 200, 200),
    ("DELETE", "/api/mystery-calls/{id}"): ("/api/mystery-calls/m1", None, 409, 403),
    ("POST", "/api/mystery-calls/{id}/evaluation"): (
        "/api/mystery-calls/m1/evaluation",
        {"evaluation_id": "e2", "notes": "again"},
        200,
        403,
    ),
    ("POST", "/api/mystery-campaigns"): (
        "/api/mystery-campaigns",
        {"name": "monthly", "queue": "support", "schedule": "0 9 1 * *"},
        201,
        403,
    ),
    ("GET", "/api/mystery-campaigns"): ("/api/mystery-campaigns", None, 200, 403),
    ("GET", "/api/mystery-campaigns/{name}"): ("/api/mystery-campaigns/weekly", None, 200, 403),
    ("PATCH", "/api/mystery-campaigns/{name}"): (
        "/api/mystery-campaigns/weekly",
        {"active": False},
        200,
        403,
    ),
    ("GET", "/api/mystery-kill-switch"): ("/api/mystery-kill-switch", None, 200, 403),
    ("PUT", "/api/mystery-kill-switch"): ("/api/mystery-kill-switch", {"on": False}, 200, 403),
    ("GET", "/api/surveys"): ("/api/surveys", None, 200, 200),
    ("GET", "/api/surveys/scores"): ("/api/surveys/scores", None, 200, 200),
}
DOCUMENT_OF = {
    route: name
    for name, plugin in PLUGINS.items()
    for route in ((r.method, r.path) for r in plugin.medlytt_routes(app=None))
}


def token(app, name: str, role: str, agent_id: str | None = None) -> dict[str, str]:
    def create(db):
        auth.add_user(db, name, role, agent_id=agent_id)
        return auth.create_token(db, name)[1]

    return {"Authorization": f"Bearer {app.storage.run_sync(create)}"}


def test_the_matrix_covers_every_route():
    assert set(REQUESTS) == set(DOCUMENT_OF)
    for (method, _), (_, body, _, _) in REQUESTS.items():
        assert (body is not None) == (method in ("POST", "PUT", "PATCH"))


def finished_call(mystery_call_id: str, agent_id: str) -> dict[str, Any]:
    """A stored result as the service writes it: answered, finished and evaluated."""
    call = new_call(mystery_call_id)
    call.outcome, call.agent_id, call.queue, call.call_id = "answered", agent_id, "support", "c1"
    call.ring_seconds, call.queue_seconds, call.answer_seconds, call.talk_seconds = 1, 4, 5.5, 30
    now = utcnow().isoformat()
    return {**call.row(), "finished_at": now, "evaluated_at": now, "evaluation_id": "e1"}


@pytest.fixture
async def world(medlytt, medlytt_client):
    """A Medlytt without Asterisk holding an evaluated call ``m1`` answered by agent
    ``PJSIP/1001``, a campaign ``weekly``, and surveys of that agent and another."""
    async with medlytt(SECTIONS) as app:
        tokens = {
            "admin": token(app, "ada", "admin"),
            "supervisor": token(app, "sue", "supervisor"),
            "agent": token(app, "ingrid", "agent", agent_id="PJSIP/1001"),
            "other agent": token(app, "ola", "agent", agent_id="PJSIP/1002"),
            "agent without id": token(app, "nobody", "agent"),
            "none": {},
        }

        def fill(db):
            mystery_store.insert_call(db, finished_call("m1", "PJSIP/1001"))
            for number, agent in enumerate(("PJSIP/1001", "PJSIP/1002")):
                row = {
                    "id": f"s{number}",
                    "call_id": f"c{number}",
                    "queue": "support",
                    "agent_id": agent,
                    "started_at": utcnow().isoformat(),
                    "finished_at": utcnow().isoformat(),
                    "result": "completed",
                }
                survey_store.save_survey(db, row, {"satisfaction": str(4 + number)})

        app.storage.run_sync(fill)
        client = await medlytt_client(app, role=None)
        campaign = {"name": "weekly", "queue": "support", "schedule": "0 9 * * 1-5"}
        created = await client.post(
            "/api/mystery-campaigns", json=campaign, headers=tokens["admin"]
        )
        assert created.status == 201, await created.text()
        yield client, tokens


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """``value`` fits ``schema`` (the part of OpenAPI 3.0 these documents use); an object
    may hold only documented keys, so an undocumented field in an answer fails."""
    schema = deref(spec, schema)
    if "allOf" in schema:
        parts = [deref(spec, part) for part in schema["allOf"]]
        schema = {
            "type": "object",
            "properties": {k: v for part in parts for k, v in part["properties"].items()},
            "required": [k for part in parts for k in part.get("required", [])],
        }
    if value is None:
        assert schema.get("nullable"), f"{where} is null"
        return
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r}"
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), where
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where} lacks {missing}"
        if "properties" in schema:
            extra = set(value) - set(schema["properties"])
            assert not extra, f"{where} has undocumented {extra}"
            for key, item in value.items():
                check(spec, schema["properties"][key], item, f"{where}.{key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():
                check(spec, schema["additionalProperties"], item, f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            check(spec, schema["items"], item, f"{where}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if schema.get("format") == "date-time":
            datetime.fromisoformat(value)
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "number":
        assert isinstance(value, int | float) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where


@pytest.mark.parametrize("role", ["none", "agent", *STAFF_ROLES])
@pytest.mark.parametrize("route", list(REQUESTS), ids=" ".join)
async def test_authorization_matrix(world, route, role):
    client, tokens = world
    path, body, staff_status, agent_status = REQUESTS[route]
    method = route[0]
    response = await client.request(method, path, json=body, headers=tokens[role])
    text = await response.text()
    expected = {"none": 401, "agent": agent_status}.get(role, staff_status)
    assert response.status == expected, text
    if role in STAFF_ROLES:
        assert response.status not in (401, 403), text
    if response.status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"

    spec = load(DOCUMENT_OF[route])
    responses = operations(spec)[route]["responses"]
    assert str(response.status) in responses, f"{route}: {response.status} is not documented"
    described = deref(spec, responses[str(response.status)])
    if "content" in described:
        schema = described["content"]["application/json"]["schema"]
        check(spec, schema, json.loads(text), f"{method} {path} {response.status}")
    else:
        assert text == ""


async def test_agents_reach_only_their_own_data(world):
    client, tokens = world

    async def get(path: str, who: str, **query: str) -> tuple[int, Any]:
        response = await client.get(path, params=query, headers=tokens[who])
        return response.status, await response.json()

    _, m1 = await get("/api/mystery-calls/m1", "admin")
    assert await get("/api/mystery-calls", "agent") == (200, {"mystery_calls": [m1]})
    assert await get("/api/mystery-calls/m1", "agent") == (200, m1)
    for who in ("other agent", "agent without id"):
        assert await get("/api/mystery-calls", who) == (200, {"mystery_calls": []})
        assert (await get("/api/mystery-calls/m1", who))[0] == 404
    # an agent asking for another agent's rows is refused, naming that agent
    status, body = await get("/api/mystery-calls", "agent", agent="PJSIP/1002")
    assert status == 403 and "PJSIP/1002" in body["error"]

    status, body = await get("/api/surveys", "agent")
    assert status == 200 and [s["agent_id"] for s in body["surveys"]] == ["PJSIP/1001"]
    status, body = await get("/api/surveys/scores", "other agent")
    assert status == 200 and [s["agent_id"] for s in body["scores"]] == ["PJSIP/1002"]
    for path in ("/api/surveys", "/api/surveys/scores"):
        assert (await get(path, "agent", agent="PJSIP/1002"))[0] == 403
        status, body = await get(path, "agent without id")  # no identity: sees nothing
        assert status == 200 and body.get("surveys", body.get("scores")) == []
        status, body = await get(path, "supervisor")
        assert status == 200 and len(body.get("surveys", body.get("scores"))) == 2
