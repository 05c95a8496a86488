"""The console's pages and routes: login, wallboard, agents, an agent's page, mystery
calls, profile, plugin pages, the live stream and the static files.

Every route declares its access like any API route; pages pass ``login=`` so that a
browser without a session is sent to the login page (never shown data), while an API
client still gets 401.  Forms carry the session's CSRF token (checked by the core for
every cookie-authenticated change); the login form, which has no session yet, carries a
token of its own that must match a cookie set with the form.
"""

from __future__ import annotations

import hmac
import json
import secrets
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import jinja2
from aiohttp import web
from markupsafe import Markup
from medlytt import (
    Actor,
    ConsolePage,
    Forbidden,
    HttpError,
    allow,
    authenticate,
    log_in,
    log_out,
    medlytt_of,
    public,
    scope_of,
    set_session_cookie,
    web_session,
)

from . import i18n, live, store

if TYPE_CHECKING:
    from medlytt import Medlytt

LOGIN = "/console/login"
LOGIN_CSRF_COOKIE = "medlytt_login_csrf"
STAFF = ("admin", "supervisor")
EVERYONE = ("admin", "supervisor", "agent")
#: Content Security Policy of every page: only Medlytt's own files, no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
LIVE_ROWS = "the agents and calls GET /api/agents and /api/calls show the caller; queues: counts"
PAGE_ROWS = "a frame without rows; its script reads the JSON API as the caller"


class Console:
    """What the console keeps while Medlytt runs: settings, templates, plugin pages,
    the live feed."""

    def __init__(self, app: Medlytt, settings: Any, pages: list[tuple[str, ConsolePage]]) -> None:
        self.app = app
        self.settings = settings
        self.pages = pages
        self.feed = live.LiveFeed()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("medlytt.plugins.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def page(self, name: str) -> ConsolePage | None:
        return next((page for _, page in self.pages if page.name == name), None)


def console_of(request: web.Request) -> Console:
    console: Console | None = medlytt_of(request).plugin_state.get("console")
    if console is None:
        raise HttpError(503, "the console plugin did not start; see the Medlytt log")
    return console


def _script_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    text = json.dumps(value, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _safe_next(value: str | None) -> str:
    """Where to go after login: a console path on this server, never another site."""
    if value and value.startswith("/console") and not value.startswith("//"):
        parsed = urlparse(value)
        if not parsed.scheme and not parsed.netloc and "\\" not in value:
            return value
    return "/console"


def _loaded(app: Medlytt, plugin: str) -> bool:
    return app.host.get(plugin) is not None


def _has_route(request: web.Request, method: str, path: str) -> bool:
    return any(
        r.method == method and r.resource is not None and r.resource.canonical == path
        for r in request.app.router.routes()
    )


async def _profile(app: Medlytt, actor: Actor) -> dict[str, Any]:
    return await app.storage.run(lambda db: store.profile(db, actor.name))


async def language_of(request: web.Request, actor: Actor | None) -> str:
    if actor is not None:
        chosen = (await _profile(medlytt_of(request), actor)).get("language")
        if chosen in i18n.LANGUAGES:
            return str(chosen)
    header = request.headers.get("Accept-Language")
    if header:
        return i18n.choose(header)
    return str(console_of(request).settings.default_language)


def _menu(request: web.Request, actor: Actor, words: dict[str, str], lang: str) -> list[dict]:
    console = console_of(request)
    app = console.app
    entries: list[tuple[str, str, tuple[str, ...]]] = [
        ("/console/wallboard", words["wallboard"], STAFF),
        ("/console/agents", words["agents_calls"], STAFF),
    ]
    if _loaded(app, "mystery_calls"):
        entries.append(("/console/mystery", words["mystery_calls"], STAFF))
    if _has_route(request, "POST", "/api/evaluations"):
        entries.append(("/console/evaluate", words["evaluate"], STAFF))
    if _has_route(request, "GET", "/api/calibrations"):
        entries.append(("/console/calibration", words["calibration"], STAFF))
    if actor.agent_id:
        entries.append(("/console/me", words["my_page"], EVERYONE))
    for _, page in console.pages:
        entries.append((f"/console/x/{page.name}", page.label(lang), page.roles))
    entries.append(("/console/profile", words["profile"], EVERYONE))
    return [
        {"href": href, "label": label, "current": request.path == href}
        for href, label, roles in entries
        if actor.role in roles
    ]


async def render(
    request: web.Request,
    template: str,
    title_key: str | None,
    actor: Actor | None,
    *,
    status: int = 200,
    title: str | None = None,
    context: dict[str, Any] | None = None,
    **values: Any,
) -> web.Response:
    """A page in the user's language, with the menu, the CSRF token and safe headers."""
    console = console_of(request)
    lang = await language_of(request, actor)
    words = i18n.words(lang)
    session = web_session(request) if actor is not None else None
    profile = await _profile(console.app, actor) if actor is not None else {}
    page_context = {
        "lang": lang,
        "name": actor.name if actor else None,
        "role": actor.role if actor else None,
        "phone": (profile.get("phone") or (actor.phone if actor else None)) or "",
        "quality": _has_route(request, "POST", "/api/evaluations"),
        **(context or {}),
    }
    html = console.templates.get_template(template).render(
        t=words,
        lang=lang,
        title=title or (words[title_key] if title_key else ""),
        actor=actor,
        csrf=session.csrf if session else "",
        menu=_menu(request, actor, words, lang) if actor else [],
        words_json=_script_json(words),
        context_json=_script_json(page_context),
        phone=page_context["phone"],
        **values,
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def forbidden(request: web.Request, actor: Actor) -> web.Response:
    """The page a user gets (403) for a page that is not theirs to open."""
    words = i18n.words(await language_of(request, actor))
    return await render(
        request,
        "message.html",
        None,
        actor,
        status=403,
        title=words["forbidden"],
        message=words["forbidden"],
    )


# ---------------------------------------------------------------------------- login


async def _login_form(
    request: web.Request, *, status: int = 200, error: str = "", name: str = "", next_: str = ""
) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = await render(
        request,
        "login.html",
        "log_in",
        None,
        status=status,
        login_csrf=token,
        next=_safe_next(next_ or request.query.get("next")),
        error=error,
        name=name,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path=LOGIN, max_age=3600
    )
    return response


async def posted_form(request: web.Request) -> Any:
    """The posted form's fields; 422 naming what is wrong with a body that cannot be read
    as a form (``multipart/form-data`` without its boundary, an unknown charset, bytes
    that are not text in it), where reading it raised and the caller got a 500."""
    try:
        return await request.post()
    except UnicodeDecodeError:  # its message quotes a byte of the body: a password's
        raise HttpError(422, "bad form body: not text in its charset") from None
    except (ValueError, LookupError) as exc:
        raise HttpError(422, f"bad form body ({request.content_type}): {exc}") from None


@public("the login form: shows nothing but the form")
async def login_page(request: web.Request) -> web.Response:
    return await _login_form(request)


@public("the login itself: checks the password, refuses the sixth wrong one a minute (429)")
async def login_submit(request: web.Request) -> web.Response:
    form = await posted_form(request)
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    next_ = _safe_next(str(form.get("next") or ""))
    words = i18n.words(await language_of(request, None))
    if not name or not password:
        return await _login_form(
            request, status=422, error=words["fill_both"], name=name, next_=next_
        )
    given, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return await _login_form(
            request, status=403, error=words["form_expired"], name=name, next_=next_
        )
    try:
        _actor, cookie, _session = await log_in(request, name, password)
    except HttpError as exc:
        if exc.status == 429:
            response = await _login_form(
                request, status=429, error=words["too_many"], name=name, next_=next_
            )
            response.headers["Retry-After"] = exc.headers.get("Retry-After", "60")
            return response
        return await _login_form(
            request, status=401, error=words["wrong_login"], name=name, next_=next_
        )
    response = web.HTTPSeeOther(next_)
    log_out(request, response)  # a session this browser had before ends: one at a time
    set_session_cookie(request, response, cookie)
    response.del_cookie(LOGIN_CSRF_COOKIE, path=LOGIN)
    raise response


@allow(*EVERYONE, rows="the caller's own session", login=LOGIN)
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther(LOGIN)
    log_out(request, response)
    raise response


@allow(*EVERYONE, rows="none: sends each role to its first screen", login=LOGIN)
async def home(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    raise web.HTTPSeeOther("/console/me" if actor.role == "agent" else "/console/wallboard")


# ---------------------------------------------------------------------------- screens


@allow(*STAFF, rows=PAGE_ROWS, login=LOGIN)
async def wallboard(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    wall = request.query.get("wall") == "1"  # ?wall=1: large type for a wall display
    return await render(
        request, "wallboard.html", "wallboard", actor, body_class="wall" if wall else ""
    )


@allow(*STAFF, rows=PAGE_ROWS, login=LOGIN)
async def agents(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    return await render(request, "agents.html", "agents_calls", actor)


async def _agent_page(request: web.Request, actor: Actor, agent_id: str | None) -> web.Response:
    words = i18n.words(await language_of(request, actor))
    if agent_id:
        try:
            (await scope_of(medlytt_of(request), actor)).only(agent_id)
        except (Forbidden, ValueError):
            return await forbidden(request, actor)
    quality = _has_route(request, "GET", "/api/evaluations")
    own = bool(agent_id) and agent_id == actor.agent_id
    title = words["my_page"] if own else f"{words['page_of']} {agent_id}"
    return await render(
        request,
        "agent.html",
        None,
        actor,
        title=title,
        agent_id=agent_id,
        quality=quality,
        own=own,
    )


@allow(*EVERYONE, rows="the caller's own page (its script reads their own rows)", login=LOGIN)
async def my_page(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    return await _agent_page(request, actor, actor.agent_id)


@allow(
    *EVERYONE,
    rows="admin: any agent; supervisor: agents of their teams (all with no team); "
    "agent: only their own, 403 for another's",
    login=LOGIN,
)
async def agent_page(request: web.Request) -> web.Response:
    """``/console/agent?id=PJSIP/1001``: one agent's page (agent ids hold slashes)."""
    actor = await authenticate(request)
    agent_id = request.query.get("id", "").strip()
    if not agent_id:
        raise HttpError(422, "give the agent as ?id=, e.g. /console/agent?id=PJSIP/1001")
    return await _agent_page(request, actor, agent_id)


@allow(*STAFF, rows=PAGE_ROWS, login=LOGIN)
async def mystery(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    queues = sorted(medlytt_of(request).state.queues)
    return await render(
        request, "mystery.html", "mystery_calls", actor, first_queue=queues[0] if queues else ""
    )


SUBJECT_KINDS = ("call", "monitoring", "recording", "mystery_call")


@allow(*STAFF, rows=PAGE_ROWS, login=LOGIN)
async def evaluate(request: web.Request) -> web.Response:
    """Fill a form about a call, a monitoring session, a recording or a mystery call
    (``?call=ID`` etc. preselects it; a recording gets a player with seek and speed)."""
    actor = await authenticate(request)
    kind = next((k for k in SUBJECT_KINDS if request.query.get(k)), "call")
    return await render(
        request,
        "evaluate.html",
        "evaluate",
        actor,
        subject_kind=kind,
        subject_id=request.query.get(kind, ""),
    )


@allow(*STAFF, rows=PAGE_ROWS, login=LOGIN)
async def calibration(request: web.Request) -> web.Response:
    """Calibration rounds: blind scoring while open, the agreement report once closed."""
    actor = await authenticate(request)
    return await render(request, "calibration.html", "calibration", actor)


@allow(*EVERYONE, rows="the caller's own profile", login=LOGIN)
async def profile(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    return await render(
        request, "profile.html", "profile", actor, saved="saved" in request.query, error=""
    )


def _phone(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > 200 or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("the phone must be one endpoint without spaces, e.g. PJSIP/2001")
    return value


@allow(*EVERYONE, rows="the caller's own profile", login=LOGIN)
async def save_profile(request: web.Request) -> web.Response:
    """Save the phone Medlytt rings for this user and their language."""
    actor = await authenticate(request)
    app = medlytt_of(request)
    form = await posted_form(request)
    current = await _profile(app, actor)
    language = str(form.get("language") or current.get("language") or "")
    if language not in i18n.LANGUAGES:
        language = await language_of(request, actor)
    try:
        phone = _phone(str(form["phone"])) if "phone" in form else current.get("phone")
    except ValueError as exc:
        return await render(
            request, "profile.html", "profile", actor, status=422, saved=False, error=str(exc)
        )
    await app.storage.run(lambda db: store.save_profile(db, actor.name, phone, language))
    target = _safe_next(str(form.get("next") or "/console/profile"))
    raise web.HTTPSeeOther(target + ("?saved=1" if target == "/console/profile" else ""))


@allow(*EVERYONE, rows="a plugin's page, for the roles it names (403 for others)", login=LOGIN)
async def plugin_page(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    console = console_of(request)
    page = console.page(request.match_info["name"])
    if page is None:
        raise HttpError(404, f"no console page called {request.match_info['name']!r}")
    if actor.role not in page.roles:
        return await forbidden(request, actor)
    fragment = Markup(await page.render(request, actor))  # the plugin escaped its own values
    lang = await language_of(request, actor)
    return await render(
        request, "plugin_page.html", None, actor, title=page.label(lang), fragment=fragment
    )


# ---------------------------------------------------------------------------- live, static


@allow(*EVERYONE, rows=LIVE_ROWS)
async def live_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a full snapshot now and after every change (live.py)."""
    actor = await authenticate(request)
    console = console_of(request)
    by_cookie = "Authorization" not in request.headers

    def alive() -> bool:  # a token stays valid for the stream; a session may end
        return not by_cookie or web_session(request, touch=False) is not None

    return await live.stream(
        request, console.app, console.feed, actor, console.settings.show_caller_number, alive
    )


@public("the console's own stylesheet and script: code, no data")
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise HttpError(404, f"no console file called {name!r}")
    body = resources.files("medlytt.plugins.console").joinpath("static", name).read_bytes()
    response = web.Response(body=body, content_type=STATIC[name], charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


ROUTES = [
    web.get("/console", home),
    web.get(LOGIN, login_page),
    web.post(LOGIN, login_submit),
    web.post("/console/logout", logout),
    web.get("/console/wallboard", wallboard),
    web.get("/console/agents", agents),
    web.get("/console/me", my_page),
    web.get("/console/agent", agent_page),
    web.get("/console/mystery", mystery),
    web.get("/console/evaluate", evaluate),
    web.get("/console/calibration", calibration),
    web.get("/console/profile", profile),
    web.post("/console/profile", save_profile),
    web.get("/console/x/{name}", plugin_page),
    web.get("/console/live", live_stream),
    web.get("/console/static/{name}", static_file),
]
