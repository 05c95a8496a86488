"""Outcomes of calls and conversion.

* ``PUT /api/calls/{call_id}/outcome`` ``{"outcome": "sale"|"agreement"|"no_sale",
  "reason"?, "value"?}``: set the call's wrap-up outcome (a second one replaces the first;
  both stay in its history)
* ``GET /api/calls/{call_id}/outcome``: the call's outcome and its history
* ``GET /api/sales/outcomes?agent=&queue=&outcome=&since=&limit=``: the calls' outcomes
* ``GET /api/sales/conversion?agent=&queue=&since=``: conversion per agent, per queue and
  per agent in each queue (:mod:`.conversion`)

Who may set an outcome: the agent for their own calls, a supervisor for the calls of their
teams' agents (every agent with no team), an admin for any call.  A CRM or softphone posts
with a token of a user made for it: a supervisor of the teams whose calls it reports
(docs/sales.md), the least the core's roles allow.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    Forbidden,
    HttpError,
    Scope,
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
from .conversion import OUTCOMES, conversion
from .events import SalesOutcome
from .settings import SalesSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "sales"
MODULE = "sales"
CALL_ROWS = (
    "agent: own calls; supervisor: calls of agents of own teams (all with no team); admin: all"
)
ROWS = (
    "admin: all; supervisor: calls of agents of own teams (all with no team); agent: own "
    "calls (on a reused agent id: from their start); ?agent= narrows, 403 for an agent not "
    "visible"
)


class OutcomeBody(msgspec.Struct, forbid_unknown_fields=True):
    outcome: str
    reason: str | None = None
    value: float | None = None


def _settings(app: Medlytt) -> SalesSettings:
    settings: SalesSettings = app.plugin_config(PLUGIN)
    return settings


def _check(body: OutcomeBody, settings: SalesSettings) -> None:
    if body.outcome not in OUTCOMES:
        raise HttpError(422, f"outcome must be one of {', '.join(OUTCOMES)}, got {body.outcome!r}")
    reasons = settings.no_sale_reasons
    if body.outcome == "no_sale":
        if body.reason not in reasons:
            raise HttpError(
                422,
                f"a no_sale needs a reason, one of {', '.join(reasons)} ([sales] "
                f"no_sale_reasons), got {body.reason!r}",
            )
        if body.value is not None:
            raise HttpError(422, "value is for a sale or an agreement, not for a no_sale")
    elif body.reason is not None:
        raise HttpError(422, f"reason is for a no_sale, not for a {body.outcome}")
    if body.value is not None and (not math.isfinite(body.value) or body.value < 0):
        raise HttpError(422, f"value must be a number of 0 or more, got {body.value!r}")


async def _call_for(request: web.Request) -> tuple[Any, Any, Scope]:
    """The answered call of the path, if the caller may see it: 404 when unknown."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    call_id = request.match_info["call_id"]
    call = await answered_call(app, call_id)
    if call is None:
        raise HttpError(404, f"no answered call {call_id!r}")
    scope = await scope_of(app, actor)
    if not scope.sees(call.agent_id, call.answered_at.isoformat()):
        raise Forbidden(f"you may not set or read the outcomes of agent {call.agent_id!r}")
    return actor, call, scope


@allow("admin", "supervisor", "agent", rows=CALL_ROWS)
async def put_outcome(request: web.Request) -> web.Response:
    """Set the call's outcome; a second one replaces the first and is audited."""
    app = medlytt_of(request)
    settings = _settings(app)
    body = await read_json(request, OutcomeBody)
    _check(body, settings)
    actor, call, _ = await _call_for(request)
    if not app.modules.active_for_agent(MODULE, call.agent_id):
        raise HttpError(
            409,
            f"the module {MODULE!r} is not switched on for a team of agent {call.agent_id!r}: "
            f'PUT /api/teams/{{team}}/modules/{MODULE} {{"active": true}}',
        )
    now = utcnow()
    row: dict[str, Any] = {
        "call_id": call.call_id,
        "agent_id": call.agent_id,
        "queue": call.queue,
        "answered_at": call.answered_at.astimezone(UTC).isoformat(),
        "outcome": body.outcome,
        "reason": body.reason,
        "value": body.value,
        "set_by": actor.name,
        "set_at": now.isoformat(),
    }
    before = await app.storage.run(lambda db: store.set_outcome(db, row))
    app.plugin_state[PLUGIN] = await app.storage.run(store.figures)
    replaced = before["outcome"] if before else None
    app.publish(
        SalesOutcome(
            at=now,
            source=PLUGIN,
            call_id=call.call_id,
            agent_id=call.agent_id,
            queue=call.queue,
            outcome=body.outcome,
            reason=body.reason,
            value=body.value,
            by=actor.name,
            replaced=replaced,
        )
    )
    return json_response({**row, "replaced": replaced}, status=200 if before else 201)


@allow("admin", "supervisor", "agent", rows=CALL_ROWS)
async def get_outcome(request: web.Request) -> web.Response:
    """The call's current outcome (null when none is set) and every outcome set on it."""
    app = medlytt_of(request)
    _, call, _ = await _call_for(request)
    current = await app.storage.run(lambda db: store.get(db, call.call_id))
    history = await app.storage.run(lambda db: store.history(db, call.call_id))
    return json_response({"call_id": call.call_id, "outcome": current, "history": history})


def _since(value: str | None) -> str | None:
    """``since`` as an ISO 8601 UTC time (a date is its midnight UTC); 422 when unreadable."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise HttpError(
            422, f"since must be an ISO 8601 date or time, e.g. 2026-11-01, got {value!r}"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat()


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    for key in ("queue", "outcome"):
        if key in request.query and not request.query[key].strip():
            raise HttpError(422, f"{key} must not be empty")
    return dict(request.query)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_outcomes(request: web.Request) -> web.Response:
    """The calls' current outcomes, newest answered first."""
    app = medlytt_of(request)
    query = _query(request, ("agent", "queue", "outcome", "since", "limit"))
    limit = query_limit(request, default=100)
    outcome = query.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise HttpError(422, f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    since = _since(query.get("since"))
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    rows = await app.storage.run(
        lambda db: store.outcomes(
            db, scope, queue=query.get("queue"), since=since, outcome=outcome, limit=limit
        )
    )
    return json_response({"outcomes": rows})


@allow("admin", "supervisor", "agent", rows=ROWS)
async def get_conversion(request: web.Request) -> web.Response:
    """Conversion per agent, per queue and per agent in each queue, of the calls answered
    since ``since`` (every call kept without it)."""
    app = medlytt_of(request)
    query = _query(request, ("agent", "queue", "since"))
    since = _since(query.get("since"))
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    rows = await app.storage.run(
        lambda db: store.outcomes(db, scope, queue=query.get("queue"), since=since)
    )
    return json_response({"since": since, **conversion(rows)})
