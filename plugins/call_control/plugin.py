"""Competence module 3, call control (samtalestyring): who talks when, from talk detection.

For each answered call of an agent whose team has the module on, the talk detection of
both legs (Asterisk ``TALK_DETECT``, docs/install-asterisk.md) gives the agent's and the
customer's talk seconds and shares, the interruptions (the agent starts while the customer
talks), the longest silence and the agent's first-words delay; a listener may mark the
method's four phases live.  Each ended call is published as ``conversation.measured`` and
kept.  The listening forms are the quality plugin's method forms ``call-control`` and
``call-control-nb``.  See docs/call-control.md.

Routes (``Authorization: Bearer <token>``):

* ``GET /api/conversations?agent=&since=&limit=``: measured calls, newest first
* ``POST /api/conversations/{call_id}/phase`` ``{"phase": "mapping"}``: mark a phase live
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    CompetenceModule,
    Event,
    HttpError,
    allow,
    authenticate,
    hookimpl,
    json_response,
    listens_to,
    may_monitor,
    medlytt_of,
    query_limit,
    query_since,
    read_json,
    scope_of,
    utcnow,
)
from prometheus_client import CollectorRegistry

from . import store
from .conversation import PHASES
from .events import EVENT_TYPES
from .settings import CallControlSettings
from .tracker import FOLLOWED, MODULE_ID, PLUGIN, ConversationMetrics, ConversationTracker

if TYPE_CHECKING:
    from medlytt import Medlytt

MODULE = CompetenceModule(
    id=MODULE_ID,
    number=3,
    title="Call control",
    titles={"nb": "Samtalestyring"},
    summary=(
        "Who talks when: talk shares, interruptions, silences, first words and time per "
        "phase, from talk detection on both legs."
    ),
    forms=("call-control", "call-control-nb"),
    measures=(
        "medlytt_conversation_agent_talk_share",
        "medlytt_conversation_overtalk",
        "medlytt_conversation_longest_silence_seconds",
        "medlytt_conversation_agent_first_words_seconds",
    ),
)
QUERY = ("agent", "since", "limit")
ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own calls "
    "(on a reused agent id: from their start); ?agent= narrows, 403 for an agent not visible"
)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_conversations(request: web.Request) -> web.Response:
    """The measured calls, newest first."""
    app = medlytt_of(request)
    since = query_since(request, QUERY)
    limit = query_limit(request, default=200)
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))
    rows = await app.storage.run(lambda db: store.conversations(db, scope, since, limit))
    return json_response({"since": since, "conversations": rows})


class PhaseMark(msgspec.Struct, forbid_unknown_fields=True):
    phase: str


@allow("admin", "supervisor", rows="calls of the agents the supervisor may monitor (own teams)")
async def mark_phase(request: web.Request) -> web.Response:
    """A listener marks that a call in progress entered a phase now."""
    app = medlytt_of(request)
    call_id = request.match_info["call_id"]
    tracker: ConversationTracker | None = app.plugin_state.get(PLUGIN)
    live = app.state.calls.get(call_id)
    if live is None or not live.agent_id or live.answered_at is None:
        raise HttpError(404, f"no answered call {call_id!r} in progress")
    actor = await authenticate(request)
    if not await may_monitor(app, actor, live.agent_id):
        raise HttpError(403, f"you may not monitor agent {live.agent_id!r}")
    body: PhaseMark = await read_json(request, PhaseMark)
    if body.phase not in PHASES:
        raise HttpError(422, f"phase must be one of {', '.join(PHASES)}, got {body.phase!r}")
    call = tracker.live(call_id) if tracker is not None else None
    if call is None:
        raise HttpError(
            409,
            f"call {call_id!r} is not measured: the {MODULE_ID} module is not on for "
            f"the team of agent {live.agent_id!r}",
        )
    now = utcnow()
    call.mark(body.phase, now.timestamp(), actor.name)
    marks = [
        {"phase": p, "at": datetime.fromtimestamp(t, UTC).isoformat(), "by": b}
        for t, p, b in call.marks
    ]
    return json_response({"call_id": call_id, "phase": body.phase, "marks": marks}, status=201)


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [MODULE]


@hookimpl
def medlytt_config_schema() -> type[CallControlSettings]:
    return CallControlSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    tracker = ConversationTracker(app, app.plugin_config(PLUGIN))
    tracker.metrics = ConversationMetrics(registry, tracker.settings)
    app.plugin_state[PLUGIN] = tracker


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.get("/api/conversations", list_conversations),
        web.post("/api/conversations/{call_id}/phase", mark_phase),
    ]


@hookimpl
@listens_to(*FOLLOWED)
async def medlytt_event(event: Event, app: Medlytt) -> None:
    tracker: ConversationTracker | None = app.plugin_state.get(PLUGIN)
    if tracker is not None:
        await tracker.on_event(event)
