"""``/api/behaviour-types``: tag a call's customer behaviour type; the calls kept; per agent
the distribution over types and how each type's calls go.

* ``POST /api/behaviour-types/{call_id}`` ``{"type": "analytical"}``: tag (a second tag
  replaces the first)
* ``GET /api/behaviour-types?agent=&type=&limit=``: the calls kept, newest first
* ``GET /api/behaviour-types/agents?agent=``: per agent and type: calls, share, mean handle
  time, mirroring directions, outcomes, mean survey score
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    Forbidden,
    HttpError,
    allow,
    answered_call,
    authenticate,
    json_response,
    medlytt_of,
    query_limit,
    read_json,
    scope_of,
    utcnow,
)

from . import store
from .events import BehaviourTypeTagged
from .mirroring import DIRECTIONS
from .service import MODULE, PLUGIN, BehaviourTypes
from .settings import BehaviourTypeSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

ROWS = (
    "admin: all; supervisor: calls of agents of own teams (all with no team); agent: own "
    "calls (on a reused agent id: from their start); ?agent= narrows, 403 for an agent not "
    "visible"
)


class Tag(msgspec.Struct, forbid_unknown_fields=True):
    type: str


def _service(app: Medlytt) -> BehaviourTypes:
    service: BehaviourTypes | None = app.plugin_state.get(PLUGIN)
    if service is None:
        raise HttpError(503, "the behaviour_types plugin has not started")
    return service


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    return dict(request.query)


@allow("admin", "supervisor", rows="calls of agents of own teams (all with no team); admin: all")
async def tag_call(request: web.Request) -> web.Response:
    """The listener's tag: which behaviour type the customer on this call showed."""
    app = medlytt_of(request)
    settings: BehaviourTypeSettings = app.plugin_config(PLUGIN)
    actor = await authenticate(request)
    call_id = request.match_info["call_id"]
    body = await read_json(request, Tag)
    if body.type not in settings.types:
        raise HttpError(
            422,
            f"type must be one of {', '.join(settings.types)} ([behaviour_types] types), "
            f"got {body.type!r}",
        )
    call = await answered_call(app, call_id)
    if call is None:
        raise HttpError(404, f"no answered call {call_id!r}")
    if not (await scope_of(app, actor)).sees(call.agent_id, call.answered_at.isoformat()):
        raise Forbidden(f"you may not tag the calls of agent {call.agent_id!r}")
    if not app.modules.active_for_agent(MODULE, call.agent_id):
        raise HttpError(
            409,
            f"the module {MODULE!r} is not switched on for a team of agent {call.agent_id!r}: "
            f'PUT /api/teams/{{team}}/modules/{MODULE} {{"active": true}}',
        )
    now = utcnow()
    before = await app.storage.run(lambda db: store.get(db, call_id))
    row: dict[str, Any] = {
        "call_id": call_id,
        "agent_id": call.agent_id,
        "at": call.answered_at.isoformat(),
        "queue": call.queue,
        "behaviour_type": body.type,
        "tagged_by": actor.name,
        "tagged_at": now.isoformat(),
    }
    await app.storage.run(lambda db: store.merge(db, row))
    await _service(app).refresh_figures()
    replaced = before.get("behaviour_type") if before else None
    app.publish(
        BehaviourTypeTagged(
            at=now,
            source=PLUGIN,
            call_id=call_id,
            agent_id=call.agent_id,
            behaviour_type=body.type,
            by=actor.name,
            replaced=replaced,
        )
    )
    saved = await app.storage.run(lambda db: store.get(db, call_id))
    return json_response({**(saved or row), "replaced": replaced})


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_calls(request: web.Request) -> web.Response:
    """The calls kept (tagged, measured or both), newest first."""
    app = medlytt_of(request)
    query = _query(request, ("agent", "type", "limit"))
    limit = query_limit(request, default=100)
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    wanted = query.get("type")
    if wanted is not None and not wanted.strip():
        raise HttpError(422, "type must not be empty")
    rows = await app.storage.run(lambda db: store.calls(db, scope, wanted, limit))
    return json_response({"calls": rows})


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _type_summary(rows: list[dict[str, Any]], tagged: int) -> dict[str, Any]:
    handle = [r["handle_seconds"] for r in rows if r["handle_seconds"] is not None]
    surveys = [r["survey_score"] for r in rows if r["survey_score"] is not None]
    directions = Counter(r["direction"] for r in rows if r["direction"] is not None)
    return {
        "calls": len(rows),
        "share": round(len(rows) / tagged, 4) if tagged else 0.0,
        "mean_handle_seconds": _mean(handle),
        "mirroring": {direction: directions.get(direction, 0) for direction in DIRECTIONS},
        "outcomes": dict(sorted(Counter(r["outcome"] for r in rows if r["outcome"]).items())),
        "surveys": len(surveys),
        "mean_survey_score": _mean(surveys),
    }


def distribution(rows: list[dict[str, Any]], types: list[str]) -> list[dict[str, Any]]:
    """Per agent: the calls kept, how many were tagged, and per type (every configured type,
    plus any tagged before the list changed) the summary of its calls."""
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["agent_id"]:  # a row about no agent belongs in no agent's distribution
            by_agent.setdefault(row["agent_id"], []).append(row)
    result = []
    for agent_id, agent_rows in sorted(by_agent.items()):
        tagged_rows = [r for r in agent_rows if r["behaviour_type"]]
        names = list(types) + sorted({r["behaviour_type"] for r in tagged_rows} - set(types))
        directions = Counter(r["direction"] for r in agent_rows if r["direction"])
        result.append(
            {
                "agent_id": agent_id,
                "calls": len(agent_rows),
                "tagged": len(tagged_rows),
                "mirroring": {d: directions.get(d, 0) for d in DIRECTIONS},
                "types": {
                    name: _type_summary(
                        [r for r in tagged_rows if r["behaviour_type"] == name], len(tagged_rows)
                    )
                    for name in names
                },
            }
        )
    return result


@allow("admin", "supervisor", "agent", rows=ROWS)
async def agent_distribution(request: web.Request) -> web.Response:
    """Per agent the distribution over types and how each type's calls go."""
    app = medlytt_of(request)
    settings: BehaviourTypeSettings = app.plugin_config(PLUGIN)
    query = _query(request, ("agent",))
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    rows = await app.storage.run(lambda db: store.all_calls(db, scope))
    return json_response({"types": settings.types, "agents": distribution(rows, settings.types)})
