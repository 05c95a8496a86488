"""Who may do what: users, roles, teams and bearer tokens.

Three roles: ``admin`` (everything), ``supervisor`` (monitors the agents of their teams, or
every agent when they belong to no team) and ``agent`` (never monitors).  Users and tokens
live in SQLite (tables ``users`` and ``api_tokens``, core migrations).  A token is shown
once when it is created; only its SHA-256 hash is stored.

Route handlers use :func:`authenticate`, :func:`require_role` and :func:`may_monitor`; the
``medlytt user`` and ``medlytt token`` commands use the synchronous ``db`` functions,
which also run on the storage thread through ``app.storage.run``.  See
``docs/users-and-roles.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlite_utils
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .clock import utcnow
from .sessions import COOKIE, CSRF_HEADER, UNSAFE, csrf_ok, web_session
from .storage import Migration, database_locked, no_wait

if TYPE_CHECKING:
    from .app import Medlytt

log = logging.getLogger(__name__)

ROLES = ("admin", "supervisor", "agent")
TOKEN_PREFIX = "mlt_"
USERS = "users"
TOKENS = "api_tokens"


class AuthError(ValueError):
    """Bad input to a user or token operation; the message names the value."""


@dataclass(frozen=True)
class Actor:
    """The authenticated user behind a request."""

    name: str
    role: str
    teams: tuple[str, ...]
    agent_id: str | None
    phone: str | None


#: Where a request keeps its authenticated actor (authenticated once per request).
ACTOR_KEY = web.RequestKey("medlytt.actor", Actor)


# --------------------------------------------------------------------------- schema


def _create_users(db: sqlite_utils.Database) -> None:
    roles = ", ".join(f"'{r}'" for r in ROLES)
    db.execute(
        f"""CREATE TABLE IF NOT EXISTS {USERS} (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ({roles})),
            teams TEXT NOT NULL DEFAULT '[]',
            agent_id TEXT,
            phone TEXT,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {USERS}_agent_id ON {USERS} (agent_id) "
        "WHERE agent_id IS NOT NULL AND disabled = 0"
    )


def _create_tokens(db: sqlite_utils.Database) -> None:
    db.execute(
        f"""CREATE TABLE IF NOT EXISTS {TOKENS} (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES {USERS} (id),
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked INTEGER NOT NULL DEFAULT 0
        )"""
    )


def _add_password_hash(db: sqlite_utils.Database) -> None:
    """Users who log in to the web console have a password; only its argon2id hash is kept."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({USERS})").fetchall()}
    if "password_hash" not in columns:
        db.execute(f"ALTER TABLE {USERS} ADD COLUMN password_hash TEXT")


MIGRATIONS = [
    Migration("create_users", _create_users),
    Migration("create_api_tokens", _create_tokens),
    Migration("add_users_password_hash", _add_password_hash),
]


# --------------------------------------------------------------------------- users


#: User names: plain ASCII, so that no two names look alike (a Cyrillic a, fullwidth
#: letters) and every name prints safely in a table or a log line.
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: A token's label: printable, one line, short.
LABEL_LIMIT = 100


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or any(c.isspace() or not c.isprintable() for c in value):
        raise AuthError(f"{what} {value!r} must be non-empty, without spaces")
    if len(value) > 200:
        raise AuthError(f"{what} must be at most 200 characters, got {len(value)}")
    return value


def _user_name(value: str) -> str:
    value = value.strip()
    if not USER_NAME.fullmatch(value):
        raise AuthError(
            f"user name {value[:80]!r} must be 1-64 ASCII letters, digits or . _ @ -, "
            "starting with a letter or digit"
        )
    return value


def _label(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > LABEL_LIMIT or any(not c.isprintable() for c in value):
        raise AuthError(
            f"token label must be one printable line of at most {LABEL_LIMIT} characters"
        )
    return value


def _user(row: dict[str, Any]) -> dict[str, Any]:
    """A user as callers see it: teams decoded, and never the password hash (only
    :func:`check_password` reads it), but whether there is one."""
    user = {k: v for k, v in row.items() if k != "password_hash"}
    user["has_password"] = bool(row.get("password_hash"))
    return {**user, "teams": json.loads(row["teams"]), "disabled": bool(row["disabled"])}


def _rows(db: sqlite_utils.Database, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def get_user(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """The user called ``name`` (any case); :class:`AuthError` when there is none."""
    rows = _rows(db, f"SELECT * FROM {USERS} WHERE name = ?", [name])
    if not rows:
        raise AuthError(f"no user called {name!r}")
    return _user(rows[0])


def add_user(
    db: sqlite_utils.Database,
    name: str,
    role: str,
    teams: tuple[str, ...] | list[str] = (),
    agent_id: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """Create a user; names are unique regardless of case."""
    name = _user_name(name)
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    clean_teams: list[str] = []
    for team in teams:
        team = (_text(team, "team") or "").strip()
        if team.casefold() not in {t.casefold() for t in clean_teams}:
            clean_teams.append(team)
    agent_id = _text(agent_id, "agent id")
    phone = _text(phone, "phone")
    if _rows(db, f"SELECT 1 FROM {USERS} WHERE name = ?", [name]):
        raise AuthError(f"a user called {name!r} already exists")
    if agent_id is not None:
        taken = _rows(
            db, f"SELECT name FROM {USERS} WHERE agent_id = ? AND disabled = 0", [agent_id]
        )
        if taken:
            raise AuthError(f"agent id {agent_id!r} already belongs to user {taken[0]['name']!r}")
    try:
        db.execute(
            f"INSERT INTO {USERS} (name, role, teams, agent_id, phone, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [name, role, json.dumps(clean_teams), agent_id, phone, utcnow().isoformat()],
        )
    except sqlite3.IntegrityError as exc:
        raise AuthError(f"cannot add user {name!r}: {exc}") from None
    return get_user(db, name)


def list_users(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [_user(row) for row in _rows(db, f"SELECT * FROM {USERS} ORDER BY name")]


def disable_user(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """Disable a user: their tokens stop working at once (the tokens are kept)."""
    user = get_user(db, name)
    db.execute(f"UPDATE {USERS} SET disabled = 1 WHERE id = ?", [user["id"]])
    return get_user(db, name)


def user_by_agent_id_sync(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    """The enabled user whose queue member interface is ``agent_id``, if any."""
    rows = _rows(db, f"SELECT * FROM {USERS} WHERE agent_id = ? AND disabled = 0", [agent_id])
    return _user(rows[0]) if rows else None


def actor_of(user: dict[str, Any]) -> Actor:
    return Actor(
        name=user["name"],
        role=user["role"],
        teams=tuple(user["teams"]),
        agent_id=user["agent_id"],
        phone=user["phone"],
    )


# --------------------------------------------------------------------------- passwords

#: argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a stolen table costs
#: an attacker that much memory and time per guess, while a login stays a fraction of a second.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
PASSWORD_MIN, PASSWORD_MAX = 10, 1024


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string: algorithm, parameters, salt, hash)."""
    return _HASHER.hash(password)


def password_matches(password: str, stored: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


#: Checked against when the user does not exist, so that a wrong name takes as long as a
#: wrong password (the time of an answer does not tell which names exist).
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def set_password(db: sqlite_utils.Database, name: str, password: str) -> dict[str, Any]:
    """Set the console password of user ``name`` (only its argon2id hash is stored)."""
    user = get_user(db, name)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AuthError(
            f"a password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long, "
            f"got {len(password)}"
        )
    if password.strip() != password or any(c in password for c in "\r\n\0"):
        raise AuthError("a password must not start or end with spaces or hold a line break")
    db.execute(
        f"UPDATE {USERS} SET password_hash = ? WHERE id = ?", [hash_password(password), user["id"]]
    )
    return get_user(db, name)


def check_password(db: sqlite_utils.Database, name: str, password: str) -> Actor | None:
    """The enabled user ``name`` when ``password`` is theirs, else None."""
    rows = _rows(db, f"SELECT * FROM {USERS} WHERE name = ?", [name]) if name else []
    stored = rows[0].get("password_hash") if rows else None
    matches = password_matches(password, stored or _DUMMY_HASH)
    if not rows or not stored or not matches or rows[0]["disabled"]:
        return None
    if _HASHER.check_needs_rehash(stored):  # hashed with older costs: renew while we can
        db.execute(
            f"UPDATE {USERS} SET password_hash = ? WHERE id = ?",
            [hash_password(password), rows[0]["id"]],
        )
    return actor_of(_user(rows[0]))


# --------------------------------------------------------------------------- tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: sqlite_utils.Database, name: str, label: str | None = None) -> tuple[int, str]:
    """Create a token for user ``name``; return ``(id, token)``. Only the hash is stored."""
    label = _label(label)
    user = get_user(db, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    cursor = db.execute(
        f"INSERT INTO {TOKENS} (user_id, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
        [user["id"], hash_token(token), label, utcnow().isoformat()],
    )
    return int(cursor.lastrowid or 0), token


def list_tokens(db: sqlite_utils.Database, name: str) -> list[dict[str, Any]]:
    """The tokens of user ``name`` (never the token itself: it is not stored)."""
    user = get_user(db, name)
    rows = _rows(
        db,
        f"SELECT id, label, created_at, last_used_at, revoked FROM {TOKENS} "
        "WHERE user_id = ? ORDER BY id",
        [user["id"]],
    )
    return [{**row, "revoked": bool(row["revoked"])} for row in rows]


def revoke_token(db: sqlite_utils.Database, token_id: int) -> None:
    if not _rows(db, f"SELECT 1 FROM {TOKENS} WHERE id = ?", [token_id]):
        raise AuthError(f"no token with id {token_id}")
    db.execute(f"UPDATE {TOKENS} SET revoked = 1 WHERE id = ?", [token_id])


def actor_for_token(db: sqlite_utils.Database, token: str) -> Actor | str:
    """The actor a token stands for (and mark it used), or why it is refused."""
    rows = _rows(
        db,
        f"SELECT t.id AS token_id, t.revoked, u.* FROM {TOKENS} t "
        f"JOIN {USERS} u ON u.id = t.user_id WHERE t.token_hash = ?",
        [hash_token(token)],
    )
    if not rows or rows[0]["revoked"]:
        return "invalid or revoked token"
    row = rows[0]
    if row["disabled"]:
        return "this user is disabled"
    try:  # bookkeeping: never make a request wait for another process's write lock
        with no_wait(db):
            db.execute(
                f"UPDATE {TOKENS} SET last_used_at = ? WHERE id = ?",
                [utcnow().isoformat(), row["token_id"]],
            )
    except sqlite3.OperationalError as exc:
        if not database_locked(exc):
            raise
        log.debug("token %s: last_used_at not updated: %s", row["token_id"], exc)
    return actor_of(_user({k: v for k, v in row.items() if k not in ("token_id", "revoked")}))


# --------------------------------------------------------------------------- for routes


def _json_error(exc_class: type[web.HTTPException], message: str, **kw: Any) -> web.HTTPException:
    body = json.dumps({"error": message, "status": exc_class.status_code})
    return exc_class(text=body, content_type="application/json", **kw)


def unauthorized(message: str) -> web.HTTPUnauthorized:
    return _json_error(  # type: ignore[return-value]
        web.HTTPUnauthorized, message, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(request: web.Request) -> Actor:
    """The actor behind ``Authorization: Bearer <token>``, or behind the web console's
    session cookie (medlytt.sessions: then a request that changes something must carry the
    session's CSRF token, else 403); raise 401 (JSON) when neither is valid."""
    from .web import medlytt_of

    known = request.get(ACTOR_KEY)
    if known is not None:  # authenticated once per request (the access middleware)
        return known
    header = request.headers.get("Authorization")
    if not header and COOKIE in request.cookies:
        return await _authenticate_session(request)
    if not header:
        raise unauthorized("missing Authorization: Bearer <token> header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise unauthorized("malformed Authorization header; expected 'Bearer <token>'")
    result = await medlytt_of(request).storage.run(lambda db: actor_for_token(db, token))
    if isinstance(result, str):
        raise unauthorized(result)
    request[ACTOR_KEY] = result
    return result


async def _authenticate_session(request: web.Request) -> Actor:
    from .web import medlytt_of

    session = web_session(request)
    if session is None:
        raise unauthorized("your console session has ended; log in again")
    if request.method in UNSAFE and not await csrf_ok(request, session):
        raise _json_error(
            web.HTTPForbidden, f"missing or wrong CSRF token (send the {CSRF_HEADER} header)"
        )
    name = session.user
    found = await medlytt_of(request).storage.run(
        lambda db: _rows(db, f"SELECT * FROM {USERS} WHERE name = ? AND disabled = 0", [name])
    )
    if not found:
        raise unauthorized("this user is disabled")
    actor = actor_of(_user(found[0]))
    request[ACTOR_KEY] = actor
    return actor


def require_role(actor: Actor, *roles: str) -> None:
    """Raise 403 (JSON) unless the actor has one of ``roles``."""
    if actor.role not in roles:
        raise _json_error(
            web.HTTPForbidden,
            f"this needs role {' or '.join(roles)}; user {actor.name!r} is {actor.role}",
        )


async def user_by_agent_id(app: Medlytt, agent_id: str) -> dict[str, Any] | None:
    """The enabled user record of the agent ``agent_id`` (e.g. ``PJSIP/1001``), if any."""
    return await app.storage.run(lambda db: user_by_agent_id_sync(db, agent_id))


async def actor_named(app: Medlytt, name: str) -> Actor | None:
    """The enabled user ``name`` as an :class:`Actor` (None: no such user, or disabled).

    For work done on a user's behalf outside a request (a mystery call that starts
    monitoring for the user who placed it): the same rules then apply as in the API.
    """

    def find(db: sqlite_utils.Database) -> dict[str, Any] | None:
        try:
            user = get_user(db, name)
        except AuthError:
            return None
        return user if not user.get("disabled") else None

    user = await app.storage.run(find)
    return actor_of(user) if user is not None else None


async def may_monitor(app: Medlytt, actor: Actor, agent_id: str) -> bool:
    """May ``actor`` listen to agent ``agent_id``'s calls?

    Admins always; supervisors with no team always, otherwise only agents whose user
    record shares a team with them (team names compare case-insensitively); agents never.
    """
    if actor.role == "admin":
        return True
    if actor.role != "supervisor":
        return False
    if not actor.teams:
        return True
    agent = await user_by_agent_id(app, agent_id)
    if agent is None:
        return False
    mine = {t.casefold() for t in actor.teams}
    return any(t.casefold() in mine for t in agent["teams"])
