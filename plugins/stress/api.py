"""``/api/stress/alerts`` and ``/api/development-plans/{agent}``.

An agent reads their own alerts and plan; a supervisor those of the agents of their teams;
an admin all.  A plan nobody may see is answered 404, the same as a plan that does not
exist, so asking reveals nothing about other teams.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web
from medlytt import (
    HttpError,
    Scope,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    query_limit,
    read_json,
    scope_of,
    utcnow,
)

from . import store
from .events import DevelopmentPlanUpdated
from .plan import AgentNotes, DevelopmentPlan
from .service import PLUGIN, StressService
from .signals import KINDS

ALERT_ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own alerts "
    "(on a reused agent id: from their start); ?agent= narrows, 403 for an agent not visible"
)
#: How far back the plan shows the agent's alerts by kind.
PATTERN_DAYS = 30


def _since(text: str) -> str:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise HttpError(
            422, f"since must be an ISO 8601 time such as 2026-12-01T08:00:00Z, got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise HttpError(422, f"since must carry a time zone (Z or +01:00), got {text!r}")
    return when.astimezone(UTC).isoformat()


@allow("admin", "supervisor", "agent", rows=ALERT_ROWS)
async def list_alerts(request: web.Request) -> web.Response:
    """``GET /api/stress/alerts?agent=&since=&kind=&limit=``: newest first."""
    app = medlytt_of(request)
    allowed = ("agent", "since", "kind", "limit")
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    kind = request.query.get("kind")
    if kind is not None and kind not in KINDS:
        raise HttpError(422, f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    since = _since(request.query["since"]) if "since" in request.query else None
    limit = query_limit(request, default=100)
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))
    rows = await app.storage.run(lambda db: store.alerts(db, scope, since, kind, limit))
    return json_response({"alerts": rows})


@allow("admin", "supervisor", "agent", rows=ALERT_ROWS.replace("own alerts", "own figures"))
async def list_agents(request: web.Request) -> web.Response:
    """``GET /api/stress/agents?agent=``: each measured agent's figures now (occupancy as
    of their last state change, calls in a row, the last after-call work)."""
    app = medlytt_of(request)
    unknown = sorted(set(request.query) - {"agent"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use agent")
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))
    service: StressService | None = app.plugin_state.get(PLUGIN)
    strains = service.signals.agents if service else {}
    rows = [
        {"agent_id": agent, **strain.figures()}
        for agent, strain in sorted(strains.items())
        if scope.sees(agent, strain.measured_at.isoformat() if strain.measured_at else None)
    ]
    return json_response({"agents": rows})


def _agent(request: web.Request) -> str:
    agent = request.match_info["agent"]
    if not agent.strip() or len(agent) > 200:
        raise HttpError(422, "agent must be a non-empty agent id such as PJSIP/1001")
    return agent


def _visible(scope: Scope, agent: str, plan: dict[str, Any] | None) -> bool:
    """Whether the plan of ``agent`` is the caller's to see: the agent is in scope, and a
    plan made for the agent id's earlier holder is not shown to the current one."""
    if not scope.sees(agent):
        return False
    return plan is None or scope.sees(agent, plan["created_at"])


def _not_found(agent: str) -> HttpError:
    return HttpError(404, f"no development plan for agent {agent!r} that you may see")


async def _pattern(request: web.Request, agent: str) -> dict[str, int]:
    since = (utcnow() - timedelta(days=PATTERN_DAYS)).isoformat()
    counts = await medlytt_of(request).storage.run(lambda db: store.alert_counts(db, agent, since))
    return {kind: counts.get(kind, 0) for kind in KINDS}


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: any agent's plan; supervisor: the plans of the agents of the teams they "
    "lead (any with no team); agent: their own plan",
)
async def get_plan(request: web.Request) -> web.Response:
    """The agent's plan, their own notes, and their alerts of the last 30 days by kind."""
    app = medlytt_of(request)
    agent = _agent(request)
    scope = await scope_of(app, await authenticate(request))
    plan = await app.storage.run(lambda db: store.get_plan(db, agent))
    if plan is None or not _visible(scope, agent, plan):
        raise _not_found(agent)
    return json_response(
        {**plan, f"alerts_last_{PATTERN_DAYS}_days": await _pattern(request, agent)}
    )


@allow(
    "admin",
    "supervisor",
    rows="admin: any agent; supervisor: the agents of the teams they lead (any with no team)",
)
async def put_plan(request: web.Request) -> web.Response:
    """Write (or replace) the leader's part of the plan; the agent's notes stay."""
    app = medlytt_of(request)
    agent = _agent(request)
    actor = await authenticate(request)
    body: DevelopmentPlan = await read_json(request, DevelopmentPlan)
    scope = await scope_of(app, actor)
    existing = await app.storage.run(lambda db: store.get_plan(db, agent))
    if not _visible(scope, agent, existing):
        raise _not_found(agent)
    now = utcnow()
    plan = msgspec.to_builtins(body)
    await app.storage.run(lambda db: store.put_plan(db, agent, plan, now.isoformat(), actor.name))
    app.publish(
        DevelopmentPlanUpdated(
            at=now,
            source=PLUGIN,
            agent_id=agent,
            by=actor.name,
            part="plan",
            next_follow_up=body.next_follow_up(),
        )
    )
    saved = await app.storage.run(lambda db: store.get_plan(db, agent))
    return json_response(saved)


@allow("agent", rows="an agent writes the notes of their own plan only")
async def put_notes(request: web.Request) -> web.Response:
    """The agent's own words in their plan: what they noticed, what helped."""
    app = medlytt_of(request)
    agent = _agent(request)
    actor = await authenticate(request)
    body: AgentNotes = await read_json(request, AgentNotes)
    scope = await scope_of(app, actor)
    existing = await app.storage.run(lambda db: store.get_plan(db, agent))
    if existing is None or actor.agent_id != agent or not _visible(scope, agent, existing):
        raise _not_found(agent)
    now = utcnow()
    await app.storage.run(lambda db: store.put_notes(db, agent, body.notes, now.isoformat()))
    app.publish(
        DevelopmentPlanUpdated(at=now, source=PLUGIN, agent_id=agent, by=actor.name, part="notes")
    )
    return json_response(await app.storage.run(lambda db: store.get_plan(db, agent)))
