"""Browser sessions: the console's login, its opaque cookie, CSRF tokens, the login limit.

A browser logs in once with a user name and password (:func:`log_in`) and then carries
only an opaque cookie.  The cookie names a server-side session that stands for the same
user as their API token would: :func:`medlytt.authenticate` accepts either, so the
console's JavaScript calls the very same JSON routes, under the very same access rules,
as the command line.  What the cookie does not carry is intent, so a request that
changes something (POST, PUT, PATCH, DELETE) with a cookie must also bring the session's
CSRF token, in the ``X-CSRF-Token`` header or a form field ``csrf``; without it the answer
is 403.  A page from another site can make the browser send the cookie, never read the
token.

Sessions live in memory, keyed by the SHA-256 of the cookie value (a memory dump or a
log never shows a working cookie): a restart logs everyone out, which is the safe
direction.  A session ends after ``[server] session_idle_minutes`` without a request, at
log-out, and when the user is disabled (checked on every request).

Wrong passwords are counted per user name and per client address over a sliding minute:
from the sixth the login is refused with 429 and ``Retry-After``, before the password is
even checked, so guessing costs a minute per five tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .auth import Actor

#: The cookie that carries a browser session's opaque id.
COOKIE = "medlytt_session"
#: The header (or form field ``csrf``) that carries the session's CSRF token.
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
#: Methods that change something: with a cookie they need the CSRF token.
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Wrong passwords allowed per user and per address within :data:`LIMIT_WINDOW` seconds.
LIMIT_FAILURES = 5
LIMIT_WINDOW = 60.0


@dataclass
class WebSession:
    """One logged-in browser: whose it is, its CSRF token, when it was last used."""

    user: str
    csrf: str
    last_seen: float = field(default_factory=time.monotonic)


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class WebSessions:
    """The server's browser sessions and the wrong-password counts of the last minute."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, WebSession] = {}
        self._failures: dict[str, deque[float]] = {}

    def create(self, user: str) -> tuple[str, WebSession]:
        """A new session for ``user``: (the cookie value, the session)."""
        self._expire()
        cookie = secrets.token_urlsafe(32)
        session = WebSession(user=user, csrf=secrets.token_urlsafe(32))
        self._sessions[_key(cookie)] = session
        return cookie, session

    def get(self, cookie: str, touch: bool = True) -> WebSession | None:
        """The live session behind a cookie value, or None; ``touch``: mark it used now
        (a request), else only look (an open live stream checking it is still valid)."""
        session = self._sessions.get(_key(cookie))
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle_seconds:
            del self._sessions[_key(cookie)]
            return None
        if touch:
            session.last_seen = now
        return session

    def drop(self, cookie: str) -> None:
        self._sessions.pop(_key(cookie), None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_seconds]:
            del self._sessions[key]

    # ----------------------------------------------------------------- login limit

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > LIMIT_WINDOW:
            times.popleft()
        return times

    def limited(self, user: str, address: str) -> float:
        """Seconds until another try is allowed for this user or address (0: now)."""
        now = time.monotonic()
        wait = 0.0
        for key in (f"user:{user.casefold()}", f"address:{address}"):
            times = self._recent(key, now)
            if len(times) >= LIMIT_FAILURES:
                wait = max(wait, LIMIT_WINDOW - (now - times[-LIMIT_FAILURES]))
        return wait

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"user:{user.casefold()}", f"address:{address}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded: forget keys with nothing recent
            for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                del self._failures[key]


SESSIONS_KEY = web.AppKey("medlytt.sessions", WebSessions)


def sessions_of(request: web.Request) -> WebSessions:
    return request.app[SESSIONS_KEY]


def web_session(request: web.Request, touch: bool = True) -> WebSession | None:
    """The request's live browser session (from its cookie), or None.  ``touch=False``
    only looks: a long-lived stream asks whether its session still holds (not ended,
    not idle) without keeping it alive."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or SESSIONS_KEY not in request.app:
        return None
    return sessions_of(request).get(cookie, touch=touch)


async def csrf_ok(request: web.Request, session: WebSession) -> bool:
    """Whether a cookie-authenticated request carries its session's CSRF token (422 for
    a form body that cannot be read, instead of the 500 reading it raised)."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            value = (await request.post()).get(CSRF_FIELD)
        except UnicodeDecodeError:  # its message quotes a byte of the body
            raise web.HTTPUnprocessableEntity(
                text="bad form body: not text in its charset"
            ) from None
        except (ValueError, LookupError) as exc:  # no multipart boundary, unknown charset
            raise web.HTTPUnprocessableEntity(
                text=f"bad form body ({request.content_type}): {exc}"
            ) from None
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), session.csrf.encode())


def over_tls(request: web.Request) -> bool:
    """Did the browser reach us over TLS (directly, or through a trusted proxy that says
    so with ``X-Forwarded-Proto: https``)?"""
    if request.secure:
        return True
    from .web import medlytt_of

    trusted = medlytt_of(request).config.server.trust_forwarded_proto
    return trusted and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, cookie: str) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="Strict",
        secure=over_tls(request),
        path="/",
    )


async def log_in(request: web.Request, name: str, password: str) -> tuple[Actor, str, WebSession]:
    """Check a user name and password; start a browser session for them.

    Returns (the user, the cookie value to set with :func:`set_session_cookie`, the
    session).  Raises :class:`medlytt.HttpError` 429 (with ``Retry-After``) from the
    sixth wrong password within a minute for the user name or the client address, and
    401 for a wrong name or password (one message for both: which names exist is not
    told).  The password is never logged or echoed.
    """
    from .auth import check_password
    from .web import HttpError, medlytt_of

    sessions = sessions_of(request)
    address = request.remote or "unknown"
    wait = sessions.limited(name, address)
    if wait > 0:
        error = HttpError(429, "too many wrong passwords; wait a minute and try again")
        error.headers["Retry-After"] = str(max(1, round(wait)))
        raise error
    actor = await medlytt_of(request).storage.run(lambda db: check_password(db, name, password))
    if actor is None:
        sessions.failed(name, address)
        raise HttpError(401, "wrong user name or password")
    cookie, session = sessions.create(actor.name)
    return actor, cookie, session


def log_out(request: web.Request, response: web.StreamResponse) -> None:
    """End the request's browser session (if any) and clear its cookie."""
    cookie = request.cookies.get(COOKIE)
    if cookie and SESSIONS_KEY in request.app:
        sessions_of(request).drop(cookie)
    response.del_cookie(COOKIE, path="/")
