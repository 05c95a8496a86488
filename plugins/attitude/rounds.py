"""``/api/attitude/rounds``: 360° colleague feedback rounds, anonymous to the agent.

* ``POST /api/attitude/rounds`` ``{"agent", "colleagues": [user names], "form"?, "note"?}``:
  a supervisor opens a round about an agent of their team
* ``GET /api/attitude/rounds?agent=&limit=``, ``GET /api/attitude/rounds/{round_id}``: the
  rounds, each with how many answered and, once it may be shown, the aggregate
* ``POST /api/attitude/rounds/{round_id}/answers`` ``{"scores", "comment"?}``: an invited
  colleague answers, once
* ``POST /api/attitude/rounds/{round_id}/close``: the supervisor closes the round
* ``GET /api/attitude/invitations``: the rounds the caller is invited to

What each reader sees (docs/attitude.md): results are the aggregate only, and only when at
least ``min_answers`` colleagues answered and the round is closed (by the supervisor, or by
itself when everyone invited answered): a result that grew answer by answer would let its
reader tell each new answer from the one before.  The agent sees how many were invited and
answered, never who.  The team's supervisors and admins also see whom they invited and who
has answered (to remind the others), but no one, through any route, sees which answer is
whose: the database does not link them.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    Actor,
    EvaluationForm,
    Forbidden,
    HttpError,
    actor_named,
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
from .answers import aggregate, check_scores
from .events import FeedbackRoundClosed, FeedbackRoundOpened
from .settings import AttitudeSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "attitude"
MODULE = "attitude"
ROWS = (
    "admin: all; supervisor: rounds about agents of own teams (all with no team), with whom "
    "they invited; agent: rounds about themselves (on a reused agent id: from their start), "
    "counts only, never a colleague's name; results only as an aggregate of at least "
    "min_answers answers of a closed round"
)


class OpenRound(msgspec.Struct, forbid_unknown_fields=True):
    agent: str
    colleagues: list[str]
    form: str | None = None
    note: str | None = None


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    scores: dict[str, int | None]
    comment: str | None = None


def settings_of(app: Medlytt) -> AttitudeSettings:
    settings: AttitudeSettings = app.plugin_config(PLUGIN)
    return settings


def form_named(app: Medlytt, form_id: str) -> EvaluationForm:
    """The newest version of an attitude form; 422 naming the module's forms otherwise."""
    versions = [f for (fid, _), f in app.forms.items() if fid == form_id]
    if not versions or versions[0].module != MODULE:
        known = sorted({fid for (fid, _), f in app.forms.items() if f.module == MODULE})
        raise HttpError(422, f"form must be one of the attitude forms {', '.join(known)}")
    return max(versions, key=lambda f: f.version)


def form_of(app: Medlytt, round_row: dict[str, Any]) -> EvaluationForm:
    """The form version a round was opened with (the newest when it is gone)."""
    found = app.forms.get((round_row["form"], round_row["form_version"]))
    return found if found is not None else form_named(app, round_row["form"])


async def _colleagues(app: Medlytt, names: list[str], agent_id: str, most: int) -> list[str]:
    """The invited users' names as stored (each once); 422 naming a bad one."""
    settings = settings_of(app)
    if len(names) > most:
        raise HttpError(422, f"at most {most} colleagues per round ([attitude] max_colleagues)")
    found: dict[str, str] = {}
    for name in names:
        actor = await actor_named(app, name) if name.strip() else None
        if actor is None:
            raise HttpError(422, f"colleague {name!r} is not an enabled user")
        if actor.agent_id == agent_id:
            raise HttpError(422, f"colleague {name!r} is the agent the round is about")
        found[actor.name.casefold()] = actor.name
    if len(found) < settings.min_answers:
        raise HttpError(
            422,
            f"invite at least {settings.min_answers} different colleagues: results open only "
            f"when {settings.min_answers} have answered ([attitude] min_answers)",
        )
    return sorted(found.values())


@allow("admin", "supervisor", rows="agents of own teams (all with no team); admin: all")
async def open_round(request: web.Request) -> web.Response:
    """Open a round about an agent and invite the colleagues who may answer."""
    app = medlytt_of(request)
    settings = settings_of(app)
    actor = await authenticate(request)
    body = await read_json(request, OpenRound)
    if not body.agent.strip() or len(body.agent) > 200:
        raise HttpError(422, "agent must be the agent id the round is about, e.g. 'PJSIP/1001'")
    if body.note is not None and len(body.note) > 2000:
        raise HttpError(422, "note must be at most 2000 characters")
    form = form_named(app, body.form or settings.round_form)
    if not (await scope_of(app, actor)).sees(body.agent):
        raise Forbidden(f"you may not open rounds about agent {body.agent!r}")
    if not app.modules.active_for_agent(MODULE, body.agent):
        raise HttpError(
            409,
            f"the module {MODULE!r} is not switched on for a team of agent {body.agent!r}: "
            f'PUT /api/teams/{{team}}/modules/{MODULE} {{"active": true}}',
        )
    colleagues = await _colleagues(app, body.colleagues, body.agent, settings.max_colleagues)
    now = utcnow()
    row: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "agent_id": body.agent,
        "form": form.id,
        "form_version": form.version,
        "opened_at": now.isoformat(),
        "opened_by": actor.name,
        "note": body.note,
        "closed_at": None,
        "closed_by": None,
    }
    await app.storage.run(lambda db: store.open_round(db, row, colleagues))
    _count(app, "opened")
    app.publish(
        FeedbackRoundOpened(
            at=now,
            source=PLUGIN,
            round_id=row["id"],
            agent_id=body.agent,
            form=form.id,
            invited=len(colleagues),
            by=actor.name,
        )
    )
    return json_response(await _view(app, row, leader=True), status=201)


async def _view(app: Medlytt, row: dict[str, Any], *, leader: bool) -> dict[str, Any]:
    """A round as a reader sees it (module docstring)."""
    settings = settings_of(app)
    invited = await app.storage.run(lambda db: store.invitations(db, row["id"]))
    answered = sum(1 for i in invited if i["answered"])
    closed = row["closed_at"] is not None
    results_open = closed and answered >= settings.min_answers
    view: dict[str, Any] = {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "form": row["form"],
        "form_version": row["form_version"],
        "opened_at": row["opened_at"],
        "opened_by": row["opened_by"],
        "note": row["note"],
        "status": "closed" if closed else "open",
        "closed_at": row["closed_at"],
        "invited": len(invited),
        "answered": answered,
        "min_answers": settings.min_answers,
        "results_open": results_open,
        "results": None,
    }
    if results_open:
        scores, comments = await app.storage.run(lambda db: store.answers(db, row["id"]))
        view["results"] = aggregate(form_of(app, row), scores, comments)
    elif answered < settings.min_answers:
        view["why_no_results"] = (
            f"{answered} of {len(invited)} colleagues have answered; results open when at "
            f"least {settings.min_answers} have answered and the round is closed"
        )
    else:
        view["why_no_results"] = (
            f"{answered} of {len(invited)} colleagues have answered; results open when the "
            "round is closed (by its supervisor, or when everyone invited has answered)"
        )
    if leader:
        view["colleagues"] = [
            {"name": i["colleague"], "answered": bool(i["answered"])} for i in invited
        ]
    return view


def _leader(actor: Actor) -> bool:
    return actor.role in ("admin", "supervisor")


async def _visible_round(app: Medlytt, actor: Actor, round_id: str) -> dict[str, Any]:
    """The round if ``actor`` may read it (its agent, or a leader of the agent); 404 else,
    so that a round's existence tells nobody else anything."""
    row = await app.storage.run(lambda db: store.get_round(db, round_id))
    if row is None or not (await scope_of(app, actor)).sees(row["agent_id"], row["opened_at"]):
        raise HttpError(404, f"no feedback round {round_id!r} you may see")
    return row


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_rounds(request: web.Request) -> web.Response:
    """The rounds the caller may read, newest first."""
    app = medlytt_of(request)
    unknown = sorted(set(request.query) - {"agent", "limit"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use agent, limit")
    limit = query_limit(request, default=50, most=1000)
    actor = await authenticate(request)
    scope = (await scope_of(app, actor)).only(request.query.get("agent"))
    rows = await app.storage.run(lambda db: store.rounds(db, scope, limit))
    return json_response({"rounds": [await _view(app, r, leader=_leader(actor)) for r in rows]})


@allow("admin", "supervisor", "agent", rows=ROWS)
async def get_round(request: web.Request) -> web.Response:
    """One round: counts and, once they may be shown, the aggregated results."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    row = await _visible_round(app, actor, request.match_info["round_id"])
    return json_response(await _view(app, row, leader=_leader(actor)))


@allow("admin", "supervisor", "agent", rows="the colleagues invited to the round, once each")
async def answer_round(request: web.Request) -> web.Response:
    """An invited colleague's answer; kept without their name and without a time."""
    app = medlytt_of(request)
    settings = settings_of(app)
    actor = await authenticate(request)
    round_id = request.match_info["round_id"]
    not_invited = HttpError(
        403, f"you are not invited to feedback round {round_id!r}, or have answered it"
    )
    row = await app.storage.run(lambda db: store.get_round(db, round_id))
    if row is None:
        raise HttpError(404, f"no feedback round {round_id!r}")
    # Who may answer is decided before the body is read: a 422 would otherwise tell anyone
    # who names a round id the items of its form.
    invitations = await app.storage.run(lambda db: store.invitations(db, round_id))
    if not any(i["colleague"] == actor.name and not i["answered"] for i in invitations):
        raise not_invited
    body = await read_json(request, Answer)
    if row["closed_at"] is not None:
        raise HttpError(409, f"feedback round {round_id!r} is closed")
    comment = (body.comment or "").strip() or None
    if comment is not None and len(comment) > settings.max_comment_characters:
        raise HttpError(
            422,
            f"comment has {len(comment)} characters; at most "
            f"{settings.max_comment_characters} ([attitude] max_comment_characters)",
        )
    scores = check_scores(form_of(app, row), body.scores)
    try:
        answered, invited = await app.storage.run(
            lambda db: store.answer(db, round_id, actor.name, scores, comment)
        )
    except store.NotInvited:  # answered in the meantime
        raise not_invited from None
    _count(app, "answer")
    if answered == invited:
        await _close(app, row, None)
    return json_response({"round_id": round_id, "answered": True}, status=201)


async def _close(app: Medlytt, row: dict[str, Any], by: str | None) -> bool:
    now = utcnow()
    closed = await app.storage.run(lambda db: store.close_round(db, row["id"], now.isoformat(), by))
    if closed:
        invited = await app.storage.run(lambda db: store.invitations(db, row["id"]))
        answered = sum(1 for i in invited if i["answered"])
        _count(app, "closed")
        app.publish(
            FeedbackRoundClosed(
                at=now,
                source=PLUGIN,
                round_id=row["id"],
                agent_id=row["agent_id"],
                form=row["form"],
                answers=answered,
                results_open=answered >= settings_of(app).min_answers,
                by=by,
            )
        )
    return closed


@allow("admin", "supervisor", rows="rounds about agents of own teams (all with no team)")
async def close_round(request: web.Request) -> web.Response:
    """Close a round: no more answers; its results open if enough colleagues answered."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    row = await _visible_round(app, actor, request.match_info["round_id"])
    if not await _close(app, row, actor.name):
        raise HttpError(409, f"feedback round {row['id']!r} is closed already")
    fresh = await app.storage.run(lambda db: store.get_round(db, row["id"]))
    return json_response(await _view(app, fresh or row, leader=True))


@allow("admin", "supervisor", "agent", rows="the caller's own invitations")
async def my_invitations(request: web.Request) -> web.Response:
    """The rounds the caller is invited to answer, and whether they have."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    rows = await app.storage.run(lambda db: store.invitations_of(db, actor.name))
    return json_response(
        {
            "invitations": [
                {**r, "answered": bool(r["answered"]), "open": r["closed_at"] is None} for r in rows
            ]
        }
    )


def _count(app: Medlytt, what: str) -> None:
    figures: dict[str, Any] | None = app.plugin_state.get(PLUGIN)
    if figures is None:
        return
    if what == "opened":
        figures["rounds"]["open"] += 1
    elif what == "closed":
        figures["rounds"]["open"] -= 1
        figures["rounds"]["closed"] += 1
    elif what == "answer":
        figures["answers"] += 1
