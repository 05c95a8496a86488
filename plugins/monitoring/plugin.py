"""The monitoring plugin: HTTP API, metrics and life cycle of supervisor sessions.

Routes (``Authorization: Bearer <token>`` on every one; see docs/monitoring.md):

* ``POST /api/monitor`` ``{"agent": ..., "supervisor": ..., "mode": "listen"}`` → 201
* ``PATCH /api/monitor/{id}`` ``{"mode": "whisper"}``
* ``DELETE /api/monitor/{id}``
* ``GET /api/monitor``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from aiohttp import web
from medlytt import auth, hookimpl, listens_to
from medlytt.events import MonitoringModeChanged, MonitoringStarted, MonitoringStopped, MonitorMode
from medlytt.gateways.asterisk.ari import AriError
from medlytt.web import HttpError, json_response, medlytt_of, query_limit, read_json
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import store
from .service import MonitoringError, MonitoringService
from .snoop import SupervisorUnreachable

if TYPE_CHECKING:
    from medlytt.app import Medlytt

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


def service_of(app: Medlytt) -> MonitoringService:
    """The app's monitoring service, attached to the Asterisk gateway on first use."""
    service = app.plugin_state.get(PLUGIN)
    if service is None:
        gateway = next((g for g in app.gateways if g.name == "asterisk"), None)
        if gateway is None:
            raise HttpError(503, "monitoring needs the Asterisk gateway ([asterisk] ari_url)")
        settings: MonitoringSettings = app.plugin_config(PLUGIN)
        service = MonitoringService(
            app,
            gateway,  # type: ignore[arg-type]
            settings.answer_timeout_seconds,
            settings.announce,
        )
        app.plugin_state[PLUGIN] = service
    return service


async def start_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    auth.require_role(actor, "admin", "supervisor")
    body: StartRequest = await read_json(request, StartRequest)
    if (body.agent is None) == (body.call is None):
        raise HttpError(422, 'give exactly one of "agent" or "call"')
    endpoint = body.supervisor or actor.phone
    if not endpoint:
        raise HttpError(422, f'no "supervisor" endpoint given and user {actor.name!r} has no phone')
    service = service_of(app)
    if body.agent is not None:
        agent = app.state.find_agent(body.agent)
        if agent is not None and not await auth.may_monitor(app, actor, agent.agent_id):
            raise HttpError(
                403, f"{actor.name} may not monitor agent {agent.agent_id} (not in their teams)"
            )
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
    except AriError as exc:
        raise HttpError(409 if exc.status == 404 else 502, f"Asterisk refused: {exc}") from None
    if body.call is not None and not await auth.may_monitor(app, actor, session.agent_id):
        await service.stop(session.session_id, "not allowed")
        raise HttpError(403, f"{actor.name} may not monitor agent {session.agent_id}")
    return json_response(service.describe(session), status=201)


async def change_mode(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    auth.require_role(actor, "admin", "supervisor")
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
    except AriError as exc:
        raise HttpError(502, f"Asterisk refused: {exc}") from None
    return json_response(service.describe(session))


async def stop_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    auth.require_role(actor, "admin", "supervisor")
    service = service_of(app)
    try:
        session = service.get(request.match_info["id"])
    except MonitoringError as exc:
        raise HttpError(exc.status, str(exc)) from None
    if actor.role != "admin" and session.supervisor != actor.name:
        raise HttpError(403, "only the supervisor who started a session (or an admin) may stop it")
    await service.stop(session.session_id, "stopped")
    return web.Response(status=204)


async def list_monitoring(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    auth.require_role(actor, "admin", "supervisor")
    service = service_of(app)
    return json_response({"sessions": [service.describe(s) for s in service.sessions.values()]})


async def monitoring_audit(request: web.Request) -> web.Response:
    """The audit trail: an agent sees the rows about themselves, supervisors and admins all."""
    app = medlytt_of(request)
    actor = await auth.authenticate(request)
    limit = query_limit(request)
    if actor.role == "agent":
        if not actor.agent_id:
            raise HttpError(403, f"user {actor.name!r} is an agent with no agent_id")
        agent_id: str | None = actor.agent_id
    else:
        agent_id = request.query.get("agent")
    rows = await app.storage.run(lambda db: store.audit_rows(db, agent_id, limit))
    return json_response({"audit": rows})


class MonitoringCollector(Collector):
    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self):  # type: ignore[no-untyped-def]
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
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
@listens_to(MonitoringStarted, MonitoringModeChanged, MonitoringStopped)
async def medlytt_event(event: Any, app: Medlytt) -> None:
    """Append every monitoring event to the audit trail."""
    sessions: dict[str, dict[str, Any]] = app.plugin_state.setdefault(f"{PLUGIN}.audit", {})
    row: dict[str, Any]
    match event:
        case MonitoringStarted():
            sessions[event.session_id] = {
                "supervisor": event.supervisor,
                "agent_id": event.agent_id,
                "call_id": event.call_id,
            }
            row = {"action": "started", "mode": event.mode.value, "recording": int(event.recording)}
        case MonitoringModeChanged():
            row = {
                "action": "mode_changed",
                "mode": event.mode.value,
                "previous_mode": event.previous_mode.value,
            }
        case MonitoringStopped():
            row = {
                "action": "stopped",
                "reason": event.reason,
                "duration_seconds": event.duration_seconds,
            }
        case _:
            return
    who = sessions.get(event.session_id, {})
    if isinstance(event, MonitoringStopped):
        sessions.pop(event.session_id, None)
    full = {"at": event.at.isoformat(), "session_id": event.session_id, **who, **row}
    await app.storage.run(lambda db: store.append_audit(db, full))


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    service: MonitoringService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.stop_all("Medlytt stopped")
