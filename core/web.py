"""The one HTTP server: ``/metrics``, ``/healthz``, ``/readyz`` and the JSON API.

Plugins add routes through the ``medlytt_routes`` hook.  Every error leaves as JSON
``{"error": "...", "status": N}`` so API clients never have to parse HTML.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from . import __version__
from .access import BadQuery, Forbidden, access_of, allow, public, rule_table, scope_of
from .auth import authenticate, require_role
from .clock import utcnow
from .events import RawEvent
from .sessions import SESSIONS_KEY, WebSessions
from .storage import database_locked

if TYPE_CHECKING:
    from .app import Medlytt

T = TypeVar("T")
log = logging.getLogger(__name__)

APP_KEY = web.AppKey("medlytt", object)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_json = msgspec.json.Encoder()


#: The largest journal sequence number SQLite can hold (a signed 64-bit integer).
MAX_SEQ = 2**63 - 1

#: Which rows of per-agent listings each role sees (medlytt.access.scope_of).
ROWS_BY_AGENT = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own row only"
)
ROWS_OF_CALLS = (
    "admin: all; supervisor: calls waiting and calls of agents of own teams; agent: own call only"
)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response encoded by msgspec (handles datetimes, structs and enums)."""
    return web.Response(body=_json.encode(data), status=status, content_type="application/json")


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return json_response({"error": message, "status": status, **extra}, status=status)


class HttpError(web.HTTPException):
    """Raise from a route: any status, with the JSON body ``{"error", "status", **extra}``.

    ``extra`` adds fields a client can act on (e.g. ``limit="max_concurrent"``); empty
    values are left out.
    """

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status_code = status
        body = {"error": message, "status": status, **{k: v for k, v in extra.items() if v}}
        super().__init__(text=msgspec.json.encode(body).decode(), content_type="application/json")


async def read_json(request: web.Request, schema: type[T]) -> T:
    """The request body decoded into ``schema``; 422 naming what is wrong otherwise."""
    try:
        return msgspec.json.decode(await request.read(), type=schema)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HttpError(422, f"bad request body: {exc}") from None


def query_limit(request: web.Request, default: int = 200, most: int = 10_000) -> int:
    """The ``limit`` query parameter of a listing: 1..``most``; 422 naming what is wrong."""
    try:
        limit = int(request.query.get("limit", str(default)))
    except ValueError:
        raise HttpError(422, "limit must be a whole number") from None
    if not 1 <= limit <= most:
        raise HttpError(422, f"limit must be between 1 and {most}")
    return limit


def query_since(request: web.Request, allowed: tuple[str, ...] = ()) -> str | None:
    """The ``since`` query parameter of a listing as an ISO 8601 UTC time (a time without
    a zone is UTC), comparable with stored ``isoformat()`` times; None when absent.  With
    ``allowed``, any other query parameter is a 422 naming it.  422 naming what is wrong."""
    unknown = sorted(set(request.query) - set(allowed)) if allowed else []
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    given = request.query.get("since")
    if given is None:
        return None
    try:
        since = datetime.fromisoformat(given)
    except ValueError:
        raise HttpError(
            422, f"since must be an ISO 8601 time such as 2026-12-01T08:00:00Z, got {given!r}"
        ) from None
    return (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def medlytt_of(request: web.Request) -> Medlytt:
    """The application behind a request, for route handlers."""
    return request.app[APP_KEY]  # type: ignore[return-value]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.content_type == "application/json":  # already JSON: keep body and headers
            return web.Response(body=exc.body, status=exc.status, headers=exc.headers)
        response = json_error(exc.status, exc.text or exc.reason)
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):  # what a client acts on
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception as exc:
        if database_locked(exc):  # another process holds the write lock past the timeout
            log.warning("%s %s: %s", request.method, request.path, exc)
            response = json_error(
                503, f"storage busy: {exc} (another process holds its write lock); try again"
            )
            response.headers["Retry-After"] = "5"
            return response
        log.exception("error serving %s %s", request.method, request.path)
        return json_error(500, "internal error; see the Medlytt log")


@web.middleware
async def enforce_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the route's declared rule (medlytt.access) before its handler runs."""
    match = request.match_info
    if match.http_exception is not None:  # 404/405: nothing to protect
        return await handler(request)
    rule = access_of(match.handler)
    if rule is None:  # cannot happen for routes added by build_web_app; refuse, never serve
        return json_error(500, "this route declares no access rule")
    if not rule.public:
        try:
            actor = await authenticate(request)
        except web.HTTPUnauthorized:
            if rule.login and _browser_navigation(request):
                query = urlencode({"next": request.path_qs})
                raise web.HTTPSeeOther(f"{rule.login}?{query}") from None
            raise
        require_role(actor, *rule.roles)
    try:
        return await handler(request)
    except Forbidden as exc:
        return json_error(403, str(exc))
    except BadQuery as exc:
        return json_error(422, str(exc))


def _browser_navigation(request: web.Request) -> bool:
    """A browser opening a page (not an API client, not a script's fetch)."""
    return (
        request.method == "GET"
        and "Authorization" not in request.headers
        and "text/html" in request.headers.get("Accept", "")
    )


class UndeclaredRoute(ValueError):
    """A route without an access rule (``medlytt.allow`` or ``medlytt.public``)."""


def _checked(routes: list[web.RouteDef], owner: str) -> list[web.RouteDef]:
    for route in routes:
        if not isinstance(route, web.RouteDef) or access_of(route.handler) is None:
            where = f"{route.method} {route.path}" if isinstance(route, web.RouteDef) else route
            raise UndeclaredRoute(
                f"{owner}: route {where} declares no access rule; decorate its handler with "
                "@medlytt.allow(...) or @medlytt.public(...)"
            )
    return routes


def build_web_app(
    app: Medlytt, plugin_routes: list[tuple[str, list[web.RouteDef]]]
) -> web.Application:
    """The aiohttp application with the core routes and every plugin's routes.

    A plugin route without an access rule is not served: that plugin's routes are left
    out and the reason logged and shown by ``medlytt plugins`` (``last_error``).
    """
    # recordings and modules import this module
    from .modules import list_modules, switch_module
    from .recordings import delete_recordings, list_accesses
    from .recordings import serve as serve_recording

    web_app = web.Application(middlewares=[json_errors, enforce_access])
    web_app[APP_KEY] = app
    web_app[SESSIONS_KEY] = WebSessions(app.config.server.session_idle_minutes * 60)
    web_app.add_routes(
        _checked(
            [
                web.get("/healthz", healthz),
                web.get("/readyz", readyz),
                web.get("/metrics", metrics),
                web.get("/api", api_index),
                web.get("/api/state", api_state),
                web.get("/api/queues", api_queues),
                web.get("/api/agents", api_agents),
                web.get("/api/calls", api_calls),
                web.get("/api/plugins", api_plugins),
                web.get("/api/gateways", api_gateways),
                web.get("/api/events", api_events),
                web.get("/api/me", api_me),
                web.get("/api/recordings/access", list_accesses),  # before {id}
                web.get("/api/recordings/{id}", serve_recording),
                web.delete("/api/recordings", delete_recordings),
                web.get("/api/modules", list_modules),
                web.put("/api/teams/{team}/modules/{module}", switch_module),
            ],
            "core",
        )
    )
    for plugin, routes in plugin_routes:
        try:
            web_app.add_routes(_checked(routes, f"plugin {plugin}"))
        except UndeclaredRoute as exc:
            log.error("%s; none of the plugin's routes are served", exc)
            info = app.host.get(plugin)
            if info is not None:
                info.last_error = f"medlytt_routes: {exc}"
        except Exception:
            log.exception("plugin %s: its routes could not be added", plugin)
    return web_app


async def plugin_routes(app: Medlytt) -> list[tuple[str, list[web.RouteDef]]]:
    """Collect ``medlytt_routes`` from every plugin."""
    return [
        (info.name, list(result or []))
        for info, result in await app.host.call("medlytt_routes", app=app)
    ]


# --------------------------------------------------------------------------- health


@public("liveness: says only that the process serves HTTP")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves HTTP."""
    return json_response({"status": "ok", "version": __version__})


@public("readiness for load balancers: gateway names, up or down; no calls")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: started, storage open, and every gateway connected to its source."""
    app = medlytt_of(request)
    gateways = {g.name: g.connected for g in app.gateways}
    checks = {
        "started": app.started,
        "storage": app.storage._db is not None,
        "gateways": bool(gateways) and all(gateways.values()),
    }
    ready = all(checks.values())
    body: dict[str, Any] = {"ready": ready, "checks": checks, "gateways": gateways}
    connections = {g.name: dict(g.connections) for g in app.gateways if g.connections}
    if connections:
        body["connections"] = connections  # e.g. {"asterisk": {"ami": true, "ari": false}}
    down = sorted(name for name, up in gateways.items() if not up)
    if down:
        body["down"] = down
        named = [_down_gateway(name, connections.get(name, {})) for name in down]
        body["error"] = f"not connected: gateway {', '.join(named)}"
    body["demo"] = app.demo
    return json_response(body, status=200 if ready else 503)


def _down_gateway(name: str, connections: dict[str, bool]) -> str:
    """``asterisk (ARI down, AMI up)``: a gateway that is down, with its connections."""
    if not connections:
        return name
    states = [f"{c.upper()} {'up' if up else 'down'}" for c, up in connections.items()]
    states.sort(key=lambda text: text.endswith(" up"))  # what is down first
    return f"{name} ({', '.join(states)})"


@public("Prometheus; needs server.metrics_token (bearer or basic) when set")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of the application's registry.

    Served as text format 0.0.4, which every Prometheus release (Debian 12 ships 2.42)
    parses; Medlytt's metric names need none of format 1.0.0's UTF-8 escaping.
    """
    app = medlytt_of(request)
    token = app.config.server.metrics_token
    if token and not _scrape_token_ok(request.headers.get("Authorization", ""), token):
        return web.Response(
            status=401,
            body=b'{"error": "/metrics needs server.metrics_token (bearer or basic auth)", '
            b'"status": 401}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="medlytt", Basic realm="medlytt"'},
        )
    body = generate_latest(app.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def _scrape_token_ok(header: str, token: str) -> bool:
    """``Bearer <token>``, or ``Basic`` with ``<token>`` as the password (any user name)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


# --------------------------------------------------------------------------- API


def declared_routes(web_app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, rule) of every route, by path; HEAD routes left out."""
    return sorted(
        {
            (route.method, route.resource.canonical, access_of(route.handler))
            for route in web_app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        },
        key=lambda r: (r[1], r[0]),
    )


@allow("admin", "supervisor", "agent", rows="every route and its rule")
async def api_index(request: web.Request) -> web.Response:
    """Every route and who may call it (``access``: roles and rows, or public)."""
    routes = declared_routes(request.app)
    return json_response(
        {
            "version": __version__,
            "demo": medlytt_of(request).demo,
            "routes": [f"{method} {path}" for method, path, _ in routes],
            "access": rule_table(routes),
        }
    )


@allow("admin", rows="admin: the whole live state, every plugin's slot")
async def api_state(request: web.Request) -> web.Response:
    """The whole live state, labelled ``demo`` when the events are simulated."""
    app = medlytt_of(request)
    return json_response({"demo": app.demo, **app.state.view()})


@allow("admin", "supervisor", "agent", rows="every queue: counts, no names")
async def api_queues(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    now = utcnow()
    if app.state.last_event_at is not None and app.state.last_event_at > now:
        now = app.state.last_event_at  # the demo's clock runs ahead when speed > 1
    queues = []
    for queue in app.state.queues.values():
        agents = [a for a in app.state.agents.values() if queue.name in a.queues]
        by_state: dict[str, int] = {}
        for agent in agents:
            by_state[agent.state.value] = by_state.get(agent.state.value, 0) + 1
        queues.append(
            {
                "name": queue.name,
                "strategy": queue.strategy,
                "service_level_seconds": queue.service_level_seconds,
                "waiting": len(queue.waiting),
                "longest_wait_seconds": queue.longest_wait(now),
                "agents": by_state,
            }
        )
    return json_response({"demo": app.demo, "queues": queues})


@allow("admin", "supervisor", "agent", rows=ROWS_BY_AGENT)
async def api_agents(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    scope = await scope_of(app, await authenticate(request))
    agents = [a for a in app.state.agents.values() if scope.sees(a.agent_id)]
    return json_response({"demo": app.demo, "agents": agents})


@allow("admin", "supervisor", "agent", rows=ROWS_OF_CALLS)
async def api_calls(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    actor = await authenticate(request)
    scope = await scope_of(app, actor)
    calls = [
        c
        for c in app.state.calls.values()
        if scope.sees(c.agent_id) or (actor.role != "agent" and c.agent_id is None)
    ]
    return json_response({"demo": app.demo, "calls": calls})


@allow("admin", rows="admin: every plugin")
async def api_plugins(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    plugins = [p.describe() for p in app.host.plugins()]
    disabled = [{"name": n, "why": why} for n, why in sorted(app.host.disabled.items())]
    return json_response({"plugins": plugins, "disabled": disabled})


@allow("admin", rows="admin: every gateway, with its PBX address")
async def api_gateways(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    return json_response({"gateways": [g.describe() for g in app.gateways]})


@allow("admin", rows="admin: the whole journal")
async def api_events(request: web.Request) -> web.Response:
    """Journal rows, newest last: ``?after=SEQ&limit=N&type=call.answered&call_id=...``."""
    app = medlytt_of(request)
    try:
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return json_error(422, "after and limit must be whole numbers")
    if not 1 <= limit <= 10_000:
        return json_error(422, "limit must be between 1 and 10000")
    if not 0 <= after <= MAX_SEQ:
        return json_error(422, f"after must be between 0 and {MAX_SEQ}")
    if app.journal is None:
        return json_error(404, "the event journal is off (storage.journal = false)")
    await app.journal.flush()
    where = ["seq > :after"]
    params: dict[str, Any] = {"after": after, "limit": limit}
    for key in ("type", "call_id", "agent_id", "queue", "source"):
        if key in request.query:
            where.append(f"{key} = :{key}")
            params[key] = request.query[key]
    sql = f"SELECT seq, data FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT :limit"

    def query(db: Any) -> list[dict[str, Any]]:
        return [_journal_row(app, seq, data) for seq, data in db.execute(sql, params).fetchall()]

    rows = await app.storage.run(query)
    return json_response({"events": rows})


def _journal_row(app: Medlytt, seq: int, data: str) -> dict[str, Any]:
    """One journal row for ``/api/events``: the typed event as its plugin defines it, or,
    when no loaded plugin knows its type (uninstalled, damaged), the stored JSON as it is,
    marked ``"known": false`` and with the ``plugin`` that defined it left empty."""
    event = app.events.decode(data)
    if isinstance(event, RawEvent):
        return {"seq": seq, "event": event.data, "known": False, "plugin": None}
    return {"seq": seq, "event": event, "known": True, "plugin": app.events.owners[event.type]}


@allow("admin", "supervisor", "agent", rows="the caller's own user")
async def api_me(request: web.Request) -> web.Response:
    """The authenticated user (``Authorization: Bearer <token>``): name, role, teams."""
    return json_response(await authenticate(request))
