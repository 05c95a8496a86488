"""``/api/attitude/wellbeing``: the weekly well-being check-in, shown per team only.

* ``POST /api/attitude/wellbeing`` ``{"scores", "team"?}``: an agent checks in for the
  current week (ISO 8601 week, UTC), once per team and week
* ``GET /api/attitude/wellbeing?team=&weeks=``: per team and week, how many checked in and,
  for a week that is over and has at least ``min_group`` answers, the aggregate

A single agent's answer is never shown, to their team leader or anyone: the answers are
kept without a name (:mod:`.store`).  A week's aggregate opens only when the week is over,
because a figure that changed with each check-in would show each new answer as the
difference from the one before, to a leader who saw who had just checked in.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    Actor,
    HttpError,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    read_json,
    utcnow,
)

from . import store
from .answers import aggregate, check_scores
from .events import WellbeingCheckedIn
from .rounds import MODULE, PLUGIN, form_named, settings_of

if TYPE_CHECKING:
    from medlytt import Medlytt

ROWS = (
    "aggregates per team, never an agent's answer: admin: every team; supervisor: the teams "
    "they lead (every team with no team); agent: the teams they are in"
)


class CheckIn(msgspec.Struct, forbid_unknown_fields=True):
    scores: dict[str, int | None]
    team: str | None = None


def week_of(at: datetime) -> str:
    """The ISO 8601 week of ``at`` (UTC), e.g. ``2026-W49``."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def _team_to_check_in(actor: Actor, wanted: str | None) -> str:
    if not actor.teams:
        raise HttpError(422, "you are in no team: a check-in is counted for a team")
    if wanted is None:
        if len(actor.teams) > 1:
            raise HttpError(
                422, f'you are in teams {", ".join(actor.teams)}: say which with "team"'
            )
        return actor.teams[0]
    for team in actor.teams:
        if team.casefold() == wanted.casefold():
            return team
    raise HttpError(403, f"you are not in team {wanted!r}")


@allow("agent", rows="the caller checks in for a team they are in, once a week")
async def check_in(request: web.Request) -> web.Response:
    """Keep an agent's check-in for this week, without their name."""
    app = medlytt_of(request)
    settings = settings_of(app)
    actor = await authenticate(request)
    body = await read_json(request, CheckIn)
    team = _team_to_check_in(actor, body.team)
    if not app.modules.active_for_team(MODULE, team):
        raise HttpError(
            409,
            f"the module {MODULE!r} is not switched on for team {team!r}: "
            f'PUT /api/teams/{team}/modules/{MODULE} {{"active": true}}',
        )
    scores = check_scores(form_named(app, settings.checkin_form), body.scores)
    now = utcnow()
    period = week_of(now)
    try:
        await app.storage.run(lambda db: store.check_in(db, team, period, actor.name, scores))
    except store.CheckedInAlready:
        raise HttpError(
            409, f"you have checked in for team {team!r} this week ({period}) already"
        ) from None
    figures: dict[str, Any] | None = app.plugin_state.get(PLUGIN)
    if figures is not None:
        figures["checkins"][team] = figures["checkins"].get(team, 0) + 1
    app.publish(WellbeingCheckedIn(at=now, source=PLUGIN, team=team, period=period))
    return json_response({"team": team, "period": period, "checked_in": True}, status=201)


def _teams_seen(actor: Actor, wanted: str | None) -> list[str] | None:
    """The teams whose aggregates ``actor`` reads (None: every team)."""
    everyone = actor.role == "admin" or (actor.role == "supervisor" and not actor.teams)
    if wanted is not None:
        if not wanted.strip():
            raise HttpError(422, "team must not be empty")
        if not everyone and wanted.casefold() not in {t.casefold() for t in actor.teams}:
            raise HttpError(403, f"you are not in team {wanted!r}")
        return [wanted]
    return None if everyone else list(actor.teams)


def team_weeks(
    app: Medlytt, weeks: dict[str, list[dict[str, Any]]], current: str
) -> list[dict[str, Any]]:
    """One team's weeks, newest first: the count, and the aggregate when it may be shown."""
    settings = settings_of(app)
    form = form_named(app, settings.checkin_form)
    rows = []
    for period, answers in sorted(weeks.items(), reverse=True):
        row: dict[str, Any] = {"period": period, "answers": len(answers), "results": None}
        if period >= current:
            row["why_no_results"] = "the week is not over yet"
        elif len(answers) < settings.min_group:
            row["why_no_results"] = (
                f"fewer than {settings.min_group} answers ([attitude] min_group)"
            )
        else:
            row["results"] = aggregate(form, answers)
        rows.append(row)
    return rows


@allow("admin", "supervisor", "agent", rows=ROWS)
async def wellbeing(request: web.Request) -> web.Response:
    """Per team and week: how many checked in, and the aggregate of a closed week with
    enough answers; for an agent, whether they have checked in this week."""
    app = medlytt_of(request)
    unknown = sorted(set(request.query) - {"team", "weeks"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use team, weeks")
    try:
        limit = int(request.query.get("weeks", "12"))
    except ValueError:
        raise HttpError(422, "weeks must be a whole number") from None
    if not 1 <= limit <= 520:
        raise HttpError(422, "weeks must be between 1 and 520")
    actor = await authenticate(request)
    teams = _teams_seen(actor, request.query.get("team"))
    current = week_of(utcnow())
    found = await app.storage.run(lambda db: store.checkin_periods(db, teams, limit))
    names = {t.casefold(): t for t in teams or []} | {t.casefold(): t for t in found}
    mine = await app.storage.run(lambda db: store.teams_checked_in(db, current, actor.name))
    result = []
    for key, team in sorted(names.items()):
        entry: dict[str, Any] = {
            "team": team,
            "module_active": app.modules.active_for_team(MODULE, team),
            "weeks": team_weeks(app, found.get(team, {}), current),
        }
        if actor.role == "agent":
            entry["you_checked_in_this_week"] = key in mine
        result.append(entry)
    return json_response({"current_period": current, "teams": result})
