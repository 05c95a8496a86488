"""The monitoring plugin: HTTP API, metrics and life cycle of supervisor sessions.

Routes (``Authorization: Bearer <token>`` on every one; see docs/monitoring.md):

* ``POST /api/monitor`` ``{"agent": ..., "supervisor": ..., "mode": "listen"}`` → 201
* ``PATCH /api/monitor/{id}`` ``{"mode": "whisper"}``
* ``DELETE /api/monitor/{id}``
* ``GET /api/monitor``
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from medlytt import (
    AuditTrail,
    CallControlError,
    CallLost,
    ChannelEvent,
    Event,
    HttpError,
    Medlytt,
    allow,
    authenticate,
    hookimpl,
    http_status,
    json_response,
    listens_to,
    may_monitor,
    medlytt_of,
    query_limit,
    read_json,
    require_role,
    scope_of,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import store
from .events import EVENT_TYPES, MonitorMode
from .service import MonitoringError, MonitoringService
from .snoop import SupervisorUnreachable
from .state import MonitoringState

PLUGIN = "monitoring"


class MonitoringSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[monitoring]``."""

    #: What the agent is told when a session starts: nothing, or a short beep.
    announce: Literal["none", "beep"] = "none"
    #: How long the supervisor's phone may ring before the request fails with 502.
    answer_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 30.0


class StartRequest(msgspec.Struct, forbid_unknown_fields=True):
    mode: MonitorMode = MonitorMode.LISTEN
    agent: str | None = None
    call: str | None = None
    supervisor: str | None = None  # a dialable endpoint; default: the user's phone
    record: bool = False


class ModeRequest(msgspec.Struct, forbid_unknown_fields=True):
    mode: MonitorMode


#: Which sessions and audit rows each role sees (medlytt.scope_of).
SESSION_ROWS = "admin: all; supervisor: sessions on agents of own teams (all with no team)"
AUDIT_ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: rows about "
    "themselves (on a reused agent id: from their start); ?agent= narrows, 403 when not visible"
)


def service_of(app: Medlytt) -> MonitoringService:
    """The app's monitoring service (made at start, also offered as ``app.service``)."""
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    if service is None:
        raise HttpError(503, "the monitoring plugin did not start; see the Medlytt log")
    return service


@allow("admin", "supervisor", rows="supervisor: calls of agents of own teams (all with no team)")
async def start_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    require_role(actor, "admin", "supervisor")
    body: StartRequest = await read_json(request, StartRequest)
    if (body.agent is None) == (body.call is None):
        raise HttpError(422, 'give exactly one of "agent" or "call"')
    endpoint = body.supervisor or actor.phone
    if not endpoint:
        raise HttpError(422, f'no "supervisor" endpoint given and user {actor.name!r} has no phone')
    service = service_of(app)
    # The team check comes before anything is set up: nobody outside the agent's teams
    # is ever connected to the call, not even for a moment (and no beep is heard).
    agent_id: str | None = None
    if body.agent is not None:
        agent = app.state.find_agent(body.agent)
        agent_id = agent.agent_id if agent is not None else None
    else:
        try:
            agent_id = service._find_leg(None, body.call)[1].agent_id
        except MonitoringError as exc:
            raise HttpError(exc.status, str(exc)) from None
        except CallControlError as exc:
            raise HttpError(http_status(exc), str(exc)) from None
    if agent_id is not None and not await may_monitor(app, actor, agent_id):
        raise HttpError(403, f"{actor.name} may not monitor agent {agent_id} (not in their teams)")
    try:
        session = await service.start(
            supervisor=actor.name,
            endpoint=endpoint,
            mode=body.mode,
            agent=body.agent,
            call_id=body.call,
            record=body.record,
        )
    except MonitoringError as exc:
        raise HttpError(exc.status, str(exc)) from None
    except SupervisorUnreachable as exc:
        raise HttpError(502, str(exc)) from None
    except CallControlError as exc:
        raise HttpError(http_status(exc), str(exc)) from None
    return json_response(service.describe(session), status=201)


@allow("admin", "supervisor", rows="supervisor: own sessions; admin: all")
async def change_mode(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    require_role(actor, "admin", "supervisor")
    body: ModeRequest = await read_json(request, ModeRequest)
    service = service_of(app)
    try:
        session = service.get(request.match_info["id"])
        if actor.role != "admin" and session.supervisor != actor.name:
            raise HttpError(
                403, "only the supervisor who started a session (or an admin) may change it"
            )
        session = await service.change_mode(session.session_id, body.mode)
    except MonitoringError as exc:
        raise HttpError(exc.status, str(exc)) from None
    except CallControlError as exc:
        raise HttpError(http_status(exc), str(exc)) from None
    return json_response(service.describe(session))


@allow("admin", "supervisor", rows="supervisor: own sessions; admin: all")
async def stop_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    require_role(actor, "admin", "supervisor")
    service = service_of(app)
    try:
        session = service.get(request.match_info["id"])
    except MonitoringError as exc:
        raise HttpError(exc.status, str(exc)) from None
    if actor.role != "admin" and session.supervisor != actor.name:
        raise HttpError(403, "only the supervisor who started a session (or an admin) may stop it")
    await service.stop(session.session_id, "stopped")
    return web.Response(status=204)


@allow("admin", "supervisor", rows=SESSION_ROWS)
async def list_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    scope = await scope_of(app, await authenticate(request))
    service = service_of(app)
    sessions = [s for s in service.sessions.values() if scope.sees(s.agent_id)]
    return json_response({"sessions": [service.describe(s) for s in sessions]})


@allow("admin", "supervisor", "agent", rows=AUDIT_ROWS)
async def monitoring_audit(request: web.Request) -> web.Response:
    """The audit trail: rows as AUDIT_ROWS says (transparency: the agent reads them)."""
    app = medlytt_of(request)
    limit = query_limit(request)
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))
    rows = await app.storage.run(lambda db: store.audit_rows(db, scope, limit))
    return json_response({"audit": rows})


class MonitoringCollector(Collector):
    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        service: MonitoringService | None = self.app.plugin_state.get(PLUGIN)
        active = GaugeMetricFamily(
            "medlytt_monitor_sessions_active", "Monitoring sessions now, by mode.", labels=["mode"]
        )
        total = CounterMetricFamily(
            "medlytt_monitor_sessions",
            "Monitoring sessions started, by starting mode.",
            labels=["mode"],
        )
        for mode in MonitorMode:
            count = sum(1 for s in (service.sessions.values() if service else ()) if s.mode is mode)
            active.add_metric([mode.value], count)
            total.add_metric(
                [mode.value], service.started_total.get(mode.value, 0) if service else 0
            )
        yield active
        yield total


@hookimpl
def medlytt_config_schema() -> type[MonitoringSettings]:
    return MonitoringSettings


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(MonitoringCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.post("/api/monitor", start_monitoring),
        web.get("/api/monitor", list_monitoring),
        web.patch("/api/monitor/{id}", change_mode),
        web.delete("/api/monitor/{id}", stop_monitoring),
        web.get("/api/audit/monitoring", monitoring_audit),
    ]


@hookimpl
def medlytt_cli_commands(cli: Any) -> None:
    from .cli import monitor

    cli.add_command(monitor)


@hookimpl
def medlytt_audit_trails() -> list[AuditTrail]:
    return [store.TRAIL]


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_state_slot() -> MonitoringState:
    return MonitoringState()


@hookimpl
def medlytt_startup(app: Medlytt) -> None:
    """Make the service, claim monitoring's channel roles, offer it to other plugins."""
    settings: MonitoringSettings = app.plugin_config(PLUGIN)
    service = MonitoringService(app, settings.answer_timeout_seconds, settings.announce)
    service.claim_roles()
    app.plugin_state[PLUGIN] = service
    app.provide(PLUGIN, service)
    app.provide("evaluation_subject:monitoring", functools.partial(evaluation_subject, app))


async def evaluation_subject(app: Medlytt, session_id: str) -> dict[str, Any] | None:
    """A monitoring session as the subject of an evaluation, live while it runs (the
    quality plugin asks through ``app.service("evaluation_subject:monitoring")``)."""
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    session = service.sessions.get(session_id) if service is not None else None
    if session is not None:
        return {"agent_id": session.agent_id, "call_id": session.call_id, "live": True}
    row = await app.storage.run(lambda db: store.session_start(db, session_id))
    if row is None:
        return None
    return {"agent_id": row["agent_id"], "call_id": row["call_id"], "live": False}


@hookimpl
@listens_to(CallLost)
def medlytt_event(event: CallLost, app: Medlytt) -> None:
    """A call that vanished with its PBX (found gone on reconnecting) ends its sessions."""
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    if service is not None and service.sessions:
        service.on_call_lost(event.call_id, event.reason)


@hookimpl
def medlytt_channel_event(event: ChannelEvent, app: Medlytt) -> None:
    """Sessions end when the agent's call or the supervisor's leg goes away."""
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    if service is not None and service.sessions:
        service.on_channel_event(event)


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.stop_all("Medlytt stopped")
