"""``/api/plans``: each team's monitoring plan, readable by its own agents (seed 004: tell
them how many listenings and how often), and its status per agent."""

from __future__ import annotations

from aiohttp import web
from medlytt import (
    Actor,
    HttpError,
    all_teams,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    read_json,
)

from . import store
from .api_forms import service_of
from .plans import Plan, parse_month


def member(actor: Actor, team: str) -> bool:
    return any(t.casefold() == team.casefold() for t in actor.teams)


def leads(actor: Actor, team: str) -> bool:
    """Admins, and supervisors of the team (or of every team, with none)."""
    return actor.role == "admin" or (
        actor.role == "supervisor" and (not actor.teams or member(actor, team))
    )


async def _existing(request: web.Request, team: str) -> None:
    """404 for a team no enabled user is in (a typo would otherwise make a plan for
    nobody)."""
    if team.casefold() not in {t.casefold() for t in await all_teams(medlytt_of(request))}:
        raise HttpError(404, f"no team {team!r}: no enabled user is in it")


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: all plans; others: the plans of the teams they are in (no team: all)",
)
async def list_plans(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    rows = await app.storage.run(store.plans)
    visible = [r for r in rows if leads(actor, r["team"]) or member(actor, r["team"])]
    return json_response({"plans": visible})


@allow(
    "admin",
    "supervisor",
    rows="a supervisor sets the plans of the teams they lead (with no team: any)",
)
async def put_plan(request: web.Request) -> web.Response:
    """Set the team's plan: ``{"per_agent_per_month": N, "live_at_least": M}``."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    team = request.match_info["team"]
    if not team.strip() or len(team) > 100:
        raise HttpError(422, "team must be a non-empty name")
    await _existing(request, team)
    if not leads(actor, team):
        raise HttpError(403, f"you do not lead team {team!r}")
    body: Plan = await read_json(request, Plan)
    service = service_of(request)
    row = {
        "team": team,
        "per_agent_per_month": body.per_agent_per_month,
        "live_at_least": body.live_at_least,
        "updated_at": service.clock().isoformat(),
        "updated_by": actor.name,
    }
    await app.storage.run(lambda db: store.put_plan(db, row))
    await service.refresh()
    return json_response(row)


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin and the team's supervisors: every agent of the team; agent: own row of own team",
)
async def plan_status(request: web.Request) -> web.Response:
    """Done, due and overdue per agent this month (or ``?month=2026-11``)."""
    actor = await authenticate(request)
    team = request.match_info["team"]
    unknown = sorted(set(request.query) - {"month"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use month")
    await _existing(request, team)
    leader = leads(actor, team)
    if not leader and not (actor.role == "agent" and member(actor, team)):
        raise HttpError(403, f"you are not in team {team!r}")
    try:
        month = parse_month(request.query["month"]) if "month" in request.query else None
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    status = await service_of(request).plan_status(team, month)
    if status is None:
        raise HttpError(404, f"team {team!r} has no monitoring plan")
    if not leader:
        status["agents"] = [a for a in status["agents"] if a["agent_id"] == actor.agent_id]
        status["overdue"] = sum(a["overdue"] for a in status["agents"])
    if leader and not status["agents"]:
        status["note"] = f"no enabled user with an agent id is in team {team!r}"
    return json_response(status)
