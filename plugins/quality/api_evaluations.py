"""``/api/evaluations``: scoring an agent, and the agent's answer.

Transparency (DOMAIN.md §5): the agent sees every evaluation about them with every
comment, and acknowledges or disputes it; a dispute goes to the leaders of their teams
(event ``evaluation.answered`` and the ``?status=disputed`` listing).  Nobody else but
their team's leaders and admins sees it.  Every read is written to the evaluation-access
trail before it is answered (:mod:`.access_trail`), which the agent reads too.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web
from medlytt import (
    Actor,
    HttpError,
    agent_teams,
    allow,
    authenticate,
    json_response,
    link_evaluation,
    medlytt_of,
    query_limit,
    read_json,
    scope_of,
)

from . import access_trail, store
from .api_forms import PLUGIN, service_of
from .events import EvaluationAnswered, EvaluationCreated
from .scoring import ScoreError, score
from .subjects import parse_subject, resolve

ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own evaluations "
    "(on a reused agent id: from their start); ?agent= narrows, 403 for an agent not visible"
)
QUERY = ("agent", "form", "since", "status", "limit")
STATUSES = ("open", "acknowledged", "disputed")
MAX_COMMENT = 4000


class EvaluationBody(msgspec.Struct, forbid_unknown_fields=True):
    form: str
    subject: dict[str, str]
    scores: dict[str, int | str]
    agent: str | None = None
    #: The form version to score with; default the newest.
    form_version: int | None = None
    comments: dict[str, str] = msgspec.field(default_factory=dict)
    comment: str | None = None
    #: The agent did what they should and the call still went wrong (seed 004).
    process_issue: bool = False


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    comment: str | None = None


def _text(value: str | None, what: str) -> str | None:
    if value is not None and len(value) > MAX_COMMENT:
        raise HttpError(422, f"{what} is longer than {MAX_COMMENT} characters")
    return value


def _query(request: web.Request) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(QUERY))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(QUERY)}")
    query = dict(request.query)
    if "status" in query and query["status"] not in STATUSES:
        raise HttpError(422, f"status must be one of {', '.join(STATUSES)}")
    if "since" in query:
        try:
            datetime.fromisoformat(query["since"])
        except ValueError:
            raise HttpError(
                422, f"since must be an ISO 8601 time, got {query['since']!r}"
            ) from None
    return query


async def _log_read(
    request: web.Request,
    actor: Actor,
    action: str,
    rows: list[dict[str, Any]],
    *,
    query: dict[str, str] | None = None,
    asked_agent: str | None = None,
) -> None:
    """Write who read ``rows`` to the access trail; raises (so nothing is answered) when
    it cannot be written."""
    entries = access_trail.entries(
        actor, action, rows, service_of(request).clock(), query=query, asked_agent=asked_agent
    )
    await medlytt_of(request).storage.run(lambda db: access_trail.record(db, entries))


@allow("admin", "supervisor", rows="agents of own teams (all with no team)")
async def create_evaluation(request: web.Request) -> web.Response:
    """Score an agent on a form about a subject; 201 with the computed score."""
    app = medlytt_of(request)
    service = service_of(request)
    actor = await authenticate(request)
    body: EvaluationBody = await read_json(request, EvaluationBody)
    kind, subject_id = parse_subject(body.subject)
    form = (
        service.forms.latest(body.form)
        if body.form_version is None
        else service.forms.get(body.form, body.form_version)
    )
    if form is None:
        version = "" if body.form_version is None else f" version {body.form_version}"
        raise HttpError(422, f"no form {body.form!r}{version}")
    for item_id, text in body.comments.items():
        if item_id not in form.item_ids():
            raise HttpError(422, f"comment on {item_id!r}, which form {form.id!r} does not have")
        _text(text, f"comment on {item_id!r}")
    _text(body.comment, "comment")
    subject = await resolve(app, kind, subject_id)
    agent_id = body.agent or subject.agent_id
    if agent_id is None:
        raise HttpError(422, f'{kind} {subject_id!r} has no agent: name one with "agent"')
    if body.agent and subject.agent_id and body.agent != subject.agent_id:
        raise HttpError(
            422, f"{kind} {subject_id!r} is agent {subject.agent_id!r}'s, not {body.agent!r}'s"
        )
    (await scope_of(app, actor)).only(agent_id)  # 403 for an agent of another team
    try:
        result = score(form, body.scores)
    except ScoreError as exc:
        raise HttpError(422, str(exc)) from None
    now = service.clock()
    row: dict[str, Any] = {
        "id": secrets.token_hex(8),
        "created_at": now.isoformat(),
        "form": form.id,
        "form_version": form.version,
        "agent_id": agent_id,
        "evaluator": actor.name,
        "subject_kind": kind,
        "subject_id": subject_id,
        "call_id": subject.call_id,
        "recording_id": subject.recording_id,
        "live": int(subject.live),
        "score": result.score,
        "raw_score": result.raw_score,
        "passed": int(result.passed),
        "failed_critical": list(result.failed_critical),
        "scores": result.scores,
        "comments": body.comments,
        "comment": body.comment,
        "process_issue": int(body.process_issue),
        "status": "open",
        "answered_at": None,
        "answer_comment": None,
    }
    await app.storage.run(lambda db: store.insert_evaluation(db, row))
    if subject.recording_id:  # an evaluated recording is kept as long as evaluated ones are
        await link_evaluation(app, subject.recording_id, row["id"])
    service.counted(form.id, result.score)
    app.publish(
        EvaluationCreated(
            at=now,
            source=PLUGIN,
            evaluation_id=row["id"],
            agent_id=agent_id,
            evaluator=actor.name,
            form=form.id,
            form_version=form.version,
            subject_kind=kind,
            subject_id=subject_id,
            score=result.score,
            passed=result.passed,
            call_id=subject.call_id,
            recording_id=subject.recording_id,
        )
    )
    await service.refresh()
    evaluation = await app.storage.run(lambda db: store.get_evaluation(db, row["id"]))
    return json_response(evaluation, status=201)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_evaluations(request: web.Request) -> web.Response:
    """The newest evaluations the caller may see; ``?agent=&form=&since=&status=``."""
    app = medlytt_of(request)
    query = _query(request)
    limit = query_limit(request, default=200)
    actor = await authenticate(request)
    scope = (await scope_of(app, actor)).only(query.get("agent"))
    rows = await app.storage.run(
        lambda db: store.evaluations(
            db,
            scope,
            form=query.get("form"),
            since=query.get("since"),
            status=query.get("status"),
            limit=limit,
        )
    )
    await _log_read(
        request, actor, "list", rows, query=dict(request.query), asked_agent=query.get("agent")
    )
    return json_response({"evaluations": rows})


async def _visible(request: web.Request) -> dict[str, Any]:
    app = medlytt_of(request)
    evaluation_id = request.match_info["id"]
    row = await app.storage.run(lambda db: store.get_evaluation(db, evaluation_id))
    if row is None:
        raise HttpError(404, f"no evaluation {evaluation_id!r}")
    scope = await scope_of(app, await authenticate(request))
    if not scope.sees(row["agent_id"], row["created_at"]):
        raise HttpError(403, f"evaluation {evaluation_id!r} is about someone you may not see")
    return row


@allow("admin", "supervisor", "agent", rows=ROWS)
async def get_evaluation(request: web.Request) -> web.Response:
    """One evaluation with its form version's items (for showing it item by item)."""
    row = await _visible(request)
    form = service_of(request).forms.get(row["form"], row["form_version"])
    await _log_read(request, await authenticate(request), "read", [row])
    return json_response({**row, "form_body": msgspec.to_builtins(form) if form else None})


async def _answer(request: web.Request, status: str) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    row = await _visible(request)
    if actor.agent_id != row["agent_id"]:
        raise HttpError(403, "only the agent the evaluation is about may answer it")
    body: Answer = await read_json(request, Answer) if request.can_read_body else Answer()
    comment = _text(body.comment, "comment")
    if status == "disputed" and not (comment or "").strip():
        raise HttpError(422, "a dispute needs a comment saying what is wrong")
    now = service_of(request).clock()
    if not await app.storage.run(
        lambda db: store.answer_evaluation(db, row["id"], status, now.isoformat(), comment)
    ):
        raise HttpError(409, f"evaluation {row['id']!r} was already {row['status']}")
    teams = tuple(await agent_teams(app, row["agent_id"]))
    app.publish(
        EvaluationAnswered(
            at=now,
            source=PLUGIN,
            evaluation_id=row["id"],
            agent_id=row["agent_id"],
            disputed=status == "disputed",
            teams=teams,
        )
    )
    answered = await app.storage.run(lambda db: store.get_evaluation(db, row["id"]))
    return json_response(answered)


@allow("agent", rows="only evaluations about the agent themself")
async def acknowledge(request: web.Request) -> web.Response:
    """The agent has read the evaluation (optionally with a comment)."""
    return await _answer(request, "acknowledged")


@allow("agent", rows="only evaluations about the agent themself")
async def dispute(request: web.Request) -> web.Response:
    """The agent disagrees; ``{"comment"}`` says why and goes to their leaders."""
    return await _answer(request, "disputed")


EXPORT_COLUMNS = (
    "id",
    "created_at",
    "form",
    "form_version",
    "evaluator",
    "subject_kind",
    "subject_id",
    "score",
    "raw_score",
    "passed",
    "status",
    "comment",
    "answer_comment",
)


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="one agent's: an agent their own, a supervisor their teams' agents', an admin any",
)
async def export(request: web.Request) -> web.Response:
    """One agent's evaluations for their development talk: ``?agent=`` (an agent's own
    by default) and ``?format=csv|json``; CSV has one row per evaluation and item."""
    app = medlytt_of(request)
    unknown = sorted(set(request.query) - {"agent", "format", "since"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use agent, format, since")
    actor = await authenticate(request)
    agent = request.query.get("agent") or actor.agent_id
    if not agent:
        raise HttpError(422, "agent is required")
    fmt = request.query.get("format", "json")
    if fmt not in ("csv", "json"):
        raise HttpError(422, f"format must be csv or json, got {fmt!r}")
    scope = (await scope_of(app, actor)).only(agent)
    since = request.query.get("since")
    rows = await app.storage.run(
        lambda db: store.evaluations(db, scope, since=since, limit=100_000)
    )
    rows.reverse()  # oldest first: a development talk reads forward
    await _log_read(request, actor, "export", rows, query=dict(request.query), asked_agent=agent)
    if fmt == "json":
        response = json_response({"agent_id": agent, "evaluations": rows})
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*EXPORT_COLUMNS, "item", "item_score", "item_comment"])
        for row in rows:
            base = [row[c] for c in EXPORT_COLUMNS]
            for item, value in row["scores"].items():
                writer.writerow([*base, item, value, row["comments"].get(item, "")])
        response = web.Response(text=out.getvalue(), content_type="text/csv")
    safe = "".join(c if c.isalnum() else "-" for c in agent)
    response.headers["Content-Disposition"] = f'attachment; filename="evaluations-{safe}.{fmt}"'
    return response


@allow(
    "admin",
    "supervisor",
    "agent",
    rows="admin: all; supervisor: reads of the evaluations of agents of own teams (all with "
    "no team); agent: who read their own evaluations (on a reused agent id: from their "
    "start); ?agent= narrows, 403 for an agent not visible",
)
async def list_access(request: web.Request) -> web.Response:
    """``GET /api/evaluations/access?agent=&limit=``: who read which evaluations, when,
    newest first (the evaluation-access trail)."""
    app = medlytt_of(request)
    unknown = sorted(set(request.query) - {"agent", "limit"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use agent, limit")
    limit = query_limit(request, default=200)
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))
    rows = await app.storage.run(lambda db: access_trail.accesses(db, scope, limit))
    return json_response({"accesses": rows})
