"""``GET /api/progress?team=``: each competence module's progress for a team.

Leaders (the team's supervisors, admins) see the per-agent listenings too; an agent reads
their own team's progress without them: how the team is doing with the module is theirs
to know (seed 004: transparency), a colleague's count is not.
"""

from __future__ import annotations

from aiohttp import web
from medlytt import Actor, HttpError, all_teams, allow, authenticate, json_response, medlytt_of

from .service import PLUGIN, ProgressService


def _member(actor: Actor, team: str) -> bool:
    return any(t.casefold() == team.casefold() for t in actor.teams)


def _leads(actor: Actor, team: str) -> bool:
    return actor.role == "admin" or (
        actor.role == "supervisor" and (not actor.teams or _member(actor, team))
    )


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: every team; supervisor: the teams they lead (any with no team), with "
    "per-agent listenings; agent: the teams they are in, without per-agent figures",
)
async def get_progress(request: web.Request) -> web.Response:
    """Without ``?team=``: every team the caller may see."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    unknown = sorted(set(request.query) - {"team"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use team")
    service: ProgressService | None = app.plugin_state.get(PLUGIN)
    if service is None:
        raise HttpError(503, "module progress is starting; try again in a moment")
    existing = await all_teams(app)
    if "team" in request.query:
        team = request.query["team"]
        if not team.strip():
            raise HttpError(422, "team must not be empty")
        match = next((t for t in existing if t.casefold() == team.casefold()), None)
        if match is None:
            raise HttpError(404, f"no team {team!r}: no enabled user is in it")
        if not (_leads(actor, match) or _member(actor, match)):
            raise HttpError(403, f"you are neither in team {team!r} nor lead it")
        teams = [match]
    else:
        teams = [t for t in existing if _leads(actor, t) or _member(actor, t)]
    await service.catch_up()
    return json_response(
        {
            "teams": [
                await service.team_progress(team, per_agent=_leads(actor, team)) for team in teams
            ]
        }
    )
