"""The mystery calls plugin: routes, metrics, storage and the campaign scheduler.

Routes (``Authorization: Bearer <token>``; see docs/mystery-calls.md):

* ``POST /api/mystery-calls`` place a call · ``GET /api/mystery-calls`` results
* ``GET|DELETE /api/mystery-calls/{id}`` one result · hang up a running call
* ``POST /api/mystery-calls/{id}/evaluation`` mark evaluated: the agent sees it from then on
* ``GET|POST /api/mystery-campaigns`` · ``GET|PATCH /api/mystery-campaigns/{name}``
* ``GET|PUT /api/mystery-kill-switch``
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from aiohttp import web
from medlytt import (
    Actor,
    CallAbandoned,
    CallAnswered,
    CallControl,
    CallEnded,
    CallLost,
    CallQueued,
    ChannelEvent,
    Event,
    HttpError,
    allow,
    authenticate,
    hookimpl,
    json_response,
    link_evaluation,
    listens_to,
    medlytt_of,
    query_limit,
    read_json,
    require_role,
    reveal_recording,
    scope_of,
    utcnow,
)
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from . import store
from .call import MysteryCall
from .campaigns import CampaignScheduler
from .events import EVENT_TYPES
from .model import OUTCOMES, CallRequest, CampaignRequest, RequestError
from .service import MysteryService, Refused
from .settings import MysterySettings
from .state import MysteryState

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "mystery_calls"
ANSWER_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)


class KillSwitch(msgspec.Struct, forbid_unknown_fields=True):
    on: bool
    #: What happens to running calls when switching on (default: ``kill_running``).
    running: Literal["finish", "hang_up"] | None = None


class Evaluation(msgspec.Struct, forbid_unknown_fields=True):
    evaluation_id: str | None = None
    notes: str | None = None


class CampaignChange(msgspec.Struct, forbid_unknown_fields=True):
    active: bool


def parts(app: Medlytt) -> tuple[MysteryService, CampaignScheduler]:
    service, scheduler = app.plugin_state[PLUGIN]
    return service, scheduler


def _staff(actor: Actor) -> None:
    require_role(actor, "admin", "supervisor")


def _refused(exc: Refused | RequestError) -> HttpError:
    if isinstance(exc, RequestError):
        return HttpError(422, str(exc))
    return HttpError(exc.status, str(exc), limit=exc.limit)


# ---------------------------------------------------------------------------- calls


@allow("admin", "supervisor", rows="places calls; any target")
async def place_call(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    _staff(actor)
    body: CallRequest = await read_json(request, CallRequest)
    service, scheduler = parts(app)
    try:
        if body.campaign is not None:
            scheduler.check_open(body.campaign)
        call = await service.place(body, requested_by=actor.name, campaign=body.campaign)
    except (Refused, RequestError) as exc:
        raise _refused(exc) from None
    return json_response(call.row(), status=201)


#: Which results each role sees (medlytt.scope_of).
ROWS = (
    "admin: all; supervisor: calls answered by agents of own teams (all with no team) and "
    "calls no agent answered; agent: own calls once evaluated (on a reused agent id: from "
    "their start)"
)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_calls(request: web.Request) -> web.Response:
    """Results; an agent sees only evaluated calls they answered (transparency)."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    limit = query_limit(request)
    campaign = request.query.get("campaign")
    wanted = request.query.get("agent")
    scope = (await scope_of(app, actor)).only(wanted)
    agent = actor.role == "agent"
    rows = await app.storage.run(
        lambda db: store.calls(
            db,
            campaign=campaign,
            scope=scope,
            unanswered=not agent and wanted is None,
            evaluated_only=agent,
            limit=limit,
        )
    )
    return json_response({"mystery_calls": rows})


async def _visible_row(request: web.Request) -> dict[str, Any]:
    """The result named in the path, if the caller may see it (404 otherwise: an agent
    learns nothing of calls that are not theirs)."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    mystery_call_id = request.match_info["id"]
    row = await app.storage.run(lambda db: store.get_call(db, mystery_call_id))
    scope = await scope_of(app, actor)
    visible = row is not None and (
        scope.sees(row["agent_id"], row["started_at"])
        if row["agent_id"] is not None
        else actor.role != "agent"
    )
    if visible and actor.role == "agent":
        visible = row is not None and row["evaluated_at"] is not None
    if not visible or row is None:
        raise HttpError(404, f"no mystery call {mystery_call_id!r}")
    return row


@allow("admin", "supervisor", "agent", rows=ROWS)
async def get_call(request: web.Request) -> web.Response:
    return json_response(await _visible_row(request))


@allow("admin", "supervisor", rows="any running call")
async def stop_call(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    _staff(actor)
    service, _ = parts(app)
    mystery_call_id = request.match_info["id"]
    if not await service.stop_call(mystery_call_id, f"stopped by {actor.name}"):
        row = await app.storage.run(lambda db: store.get_call(db, mystery_call_id))
        if row is None:
            raise HttpError(404, f"no mystery call {mystery_call_id!r}")
        raise HttpError(409, f"mystery call {mystery_call_id!r} already ended ({row['outcome']})")
    return web.Response(status=204)


@allow("admin", "supervisor", rows=ROWS)
async def evaluate_call(request: web.Request) -> web.Response:
    """Mark a finished call evaluated: from now on the answering agent sees it and its audio."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    _staff(actor)
    body: Evaluation = await read_json(request, Evaluation)
    row = await _visible_row(request)
    if row["outcome"] == "running":
        raise HttpError(409, "the call is still running")
    changes: dict[str, Any] = {"evaluated_at": utcnow().isoformat()}
    if body.evaluation_id is not None:  # evaluating again keeps what is not given anew
        changes["evaluation_id"] = body.evaluation_id
    if body.notes is not None:
        changes["notes"] = body.notes

    await app.storage.run(lambda db: store.update_call(db, row["id"], changes))
    if row["recording_id"]:
        await reveal_recording(app, row["recording_id"])
        if body.evaluation_id is not None:  # kept as long as evaluated recordings are
            await link_evaluation(app, row["recording_id"], body.evaluation_id)
    return json_response({**row, **changes})


# ---------------------------------------------------------------------------- campaigns


@allow("admin", "supervisor", rows="any queue or number")
async def create_campaign(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    _staff(actor)
    body: CampaignRequest = await read_json(request, CampaignRequest)
    _, scheduler = parts(app)
    try:
        return json_response(await scheduler.create(body, by=actor.name), status=201)
    except (Refused, RequestError) as exc:
        raise _refused(exc) from None


@allow("admin", "supervisor", rows="every campaign")
async def list_campaigns(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    _staff(await authenticate(request))
    _, scheduler = parts(app)
    return json_response(
        {"campaigns": [await scheduler.describe(name) for name in sorted(scheduler.campaigns)]}
    )


@allow("admin", "supervisor", rows="every campaign; its results as in GET /api/mystery-calls")
async def get_campaign(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    _, scheduler = parts(app)
    name = request.match_info["name"]
    try:
        described = await scheduler.describe(name)
    except Refused as exc:
        raise _refused(exc) from None
    scope = await scope_of(app, actor)
    results = await app.storage.run(
        lambda db: store.calls(db, campaign=name, scope=scope, unanswered=True)
    )
    return json_response({**described, "results": results})


@allow("admin", "supervisor", rows="every campaign")
async def change_campaign(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    _staff(await authenticate(request))
    body: CampaignChange = await read_json(request, CampaignChange)
    _, scheduler = parts(app)
    try:
        return json_response(await scheduler.set_active(request.match_info["name"], body.active))
    except Refused as exc:
        raise _refused(exc) from None


# ---------------------------------------------------------------------------- kill switch


@allow("admin", "supervisor", rows="the one switch")
async def get_kill_switch(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    _staff(await authenticate(request))
    service, _ = parts(app)
    return json_response(_switch_state(service))


@allow("admin", "supervisor", rows="the one switch")
async def put_kill_switch(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    _staff(actor)
    body: KillSwitch = await read_json(request, KillSwitch)
    service, _ = parts(app)
    hung_up = await service.set_kill_switch(body.on, by=actor.name, running=body.running)
    return json_response({**_switch_state(service), "hung_up": hung_up})


def _switch_state(service: MysteryService) -> dict[str, Any]:
    last = service.switch or {}
    return {
        "on": service.stopped is not None,
        "changed_at": last.get("changed_at"),
        "changed_by": last.get("changed_by"),
        "running": len(service.running),
    }


# ---------------------------------------------------------------------------- metrics


class MysteryMetrics:
    def __init__(self, registry: CollectorRegistry, app: Medlytt) -> None:
        self.calls = Counter(
            "medlytt_mystery_calls",
            "Mystery calls finished, by campaign (empty: on demand) and outcome.",
            ["campaign", "outcome"],
            registry=registry,
        )
        self.answer = Histogram(
            "medlytt_mystery_answer_seconds",
            "Time from dialling until an agent answered, for answered mystery calls.",
            ["campaign"],
            buckets=ANSWER_BUCKETS,
            registry=registry,
        )
        running = Gauge(
            "medlytt_mystery_calls_running", "Mystery calls in progress.", registry=registry
        )
        running.set_function(lambda: len(self._service(app).running) if self._ready(app) else 0)
        switch = Gauge(
            "medlytt_mystery_kill_switch",
            "1 while the kill switch stops new mystery calls.",
            registry=registry,
        )
        switch.set_function(lambda: float(self._ready(app) and bool(self._service(app).stopped)))

    @staticmethod
    def _ready(app: Medlytt) -> bool:
        return PLUGIN in app.plugin_state

    @staticmethod
    def _service(app: Medlytt) -> MysteryService:
        return app.plugin_state[PLUGIN][0]

    def finished(self, call: MysteryCall) -> None:
        campaign = call.campaign or ""
        self.calls.labels(campaign, call.outcome or "failed").inc()
        if call.outcome == "answered" and call.answer_seconds is not None:
            self.answer.labels(campaign).observe(call.answer_seconds)


# ---------------------------------------------------------------------------- hooks


@hookimpl
def medlytt_config_schema() -> type[MysterySettings]:
    return MysterySettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    metrics = MysteryMetrics(registry, app)
    for outcome in OUTCOMES:  # every outcome is a series from the start, at 0
        metrics.calls.labels("", outcome)
    app.plugin_state[f"{PLUGIN}.metrics"] = metrics


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    settings: MysterySettings = app.plugin_config(PLUGIN)
    service = MysteryService(app, settings)
    await service.load()
    metrics: MysteryMetrics | None = app.plugin_state.get(f"{PLUGIN}.metrics")
    if metrics is not None:
        service.on_finished.append(metrics.finished)
    scheduler = CampaignScheduler(app, service, settings)
    await scheduler.load()
    app.plugin_state[PLUGIN] = (service, scheduler)
    app.plugin_state[f"{PLUGIN}.task"] = asyncio.get_running_loop().create_task(scheduler.run())
    app.provide("evaluation_subject:mystery_call", functools.partial(evaluation_subject, app))


async def evaluation_subject(app: Medlytt, mystery_call_id: str) -> dict[str, Any] | None:
    """A mystery call as the subject of an evaluation (the quality plugin asks through
    ``app.service("evaluation_subject:mystery_call")``); ValueError while it cannot be
    evaluated."""
    row = await app.storage.run(lambda db: store.get_call(db, mystery_call_id))
    if row is None:
        return None
    if row["outcome"] == "running":
        raise ValueError("the call is still running")
    if row["agent_id"] is None:
        raise ValueError(f"no agent answered it ({row['outcome']})")
    return {
        "agent_id": row["agent_id"],
        "call_id": row["call_id"],
        "recording_id": row["recording_id"],
        "live": False,
    }


async def evaluated(app: Medlytt, event: Any) -> None:
    """An evaluation of a mystery call was made (``evaluation.created``): the call is
    evaluated from now on, so its agent sees it, its evaluation and its audio."""
    mystery_call_id = event.subject_id
    row = await app.storage.run(lambda db: store.get_call(db, mystery_call_id))
    if row is None:
        return
    changes = {"evaluated_at": event.at.isoformat(), "evaluation_id": event.evaluation_id}
    await app.storage.run(lambda db: store.update_call(db, mystery_call_id, changes))
    if row["recording_id"]:
        await reveal_recording(app, row["recording_id"])


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    task = app.plugin_state.pop(f"{PLUGIN}.task", None)
    if task is not None:
        task.cancel()
    if PLUGIN in app.plugin_state:
        await parts(app)[0].stop_all()


@hookimpl
@listens_to(CallQueued, CallAnswered, CallEnded, CallAbandoned, CallLost, "evaluation.created")
async def medlytt_event(event: Event, app: Medlytt) -> None:
    if PLUGIN not in app.plugin_state:
        return
    if event.type == "evaluation.created":  # by its tag: this plugin imports no other
        if getattr(event, "subject_kind", None) == "mystery_call":
            await evaluated(app, event)
        return
    parts(app)[0].on_event(event)


@hookimpl
def medlytt_channel_event(event: ChannelEvent, port: CallControl, app: Medlytt) -> None:
    if PLUGIN in app.plugin_state:
        parts(app)[0].on_channel_event(event, port)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_state_slot() -> MysteryState:
    return MysteryState()


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.post("/api/mystery-calls", place_call),
        web.get("/api/mystery-calls", list_calls),
        web.get("/api/mystery-calls/{id}", get_call),
        web.delete("/api/mystery-calls/{id}", stop_call),
        web.post("/api/mystery-calls/{id}/evaluation", evaluate_call),
        web.post("/api/mystery-campaigns", create_campaign),
        web.get("/api/mystery-campaigns", list_campaigns),
        web.get("/api/mystery-campaigns/{name}", get_campaign),
        web.patch("/api/mystery-campaigns/{name}", change_campaign),
        web.get("/api/mystery-kill-switch", get_kill_switch),
        web.put("/api/mystery-kill-switch", put_kill_switch),
    ]


@hookimpl
def medlytt_cli_commands(cli: Any) -> None:
    from .cli import mystery

    cli.add_command(mystery)
