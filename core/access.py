"""Who may call each route, and which rows each role sees.

Every route declares its rule on its handler, in one line, where a reader of the handler
sees it::

    @allow("admin", "supervisor", rows="supervisor: agents of own teams; admin: all")
    async def list_things(request): ...

    @public("liveness probe: says nothing about calls or people")
    async def healthz(request): ...

One middleware (:func:`medlytt.web.enforce_access`) enforces the roles before the handler
runs: 401 without a valid token, 403 for a role not listed.  A route without a rule is not
served at all (refused when the web application is built, naming it), and the
authorisation matrix in the tests is generated from these declarations, so no route can
be forgotten.  Which *rows* a caller sees is the handler's to apply, with
:func:`scope_of`: admins every agent's rows; supervisors the rows of the agents of their
teams (every agent when they have no team); an agent only their own rows, and only from
the moment their user was created (a new user on a reused agent id never sees the rows
of the person before them); an agent user without an agent id sees no rows.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlite_utils
from aiohttp import web

from .auth import ROLES, Actor, get_user

if TYPE_CHECKING:
    from .app import Medlytt

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

#: The attribute a declared handler carries.
ATTRIBUTE = "medlytt_access"


class Forbidden(Exception):
    """Raised by a handler for rows its caller may not see; answered 403 with the message."""


class BadQuery(ValueError):
    """A query parameter that cannot be served; answered 422 with the message."""


@dataclass(frozen=True)
class Access:
    """A route's rule: the roles that may call it (none for a public route), and in words
    which rows each role sees (shown in the API index and the OpenAPI documents)."""

    roles: tuple[str, ...]
    rows: str = ""
    public: bool = False
    why_public: str = ""
    #: A page's login page: a browser without a session is sent there instead of a 401.
    login: str = ""

    def describe(self) -> dict[str, Any]:
        if self.public:
            return {"public": True, "why": self.why_public}
        return {"roles": list(self.roles), "rows": self.rows}


def allow(*roles: str, rows: str = "", login: str = "") -> Callable[[H], H]:
    """Declare that only ``roles`` may call this route; ``rows`` says what each sees.

    ``login`` (for HTML pages): the path of the login page a browser is redirected to,
    with ``?next=``, when it navigates here without a valid session (API clients still
    get 401)."""
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"allow() takes one or more of {', '.join(ROLES)}; got {roles!r}")
    if login and not login.startswith("/"):
        raise ValueError(f"allow(login=...) takes a path starting with /, got {login!r}")

    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, Access(roles=tuple(roles), rows=rows, login=login))
        return handler

    return mark


def public(why: str) -> Callable[[H], H]:
    """Declare a route anyone may call, saying why that is safe."""
    if not why.strip():
        raise ValueError("public() needs the reason the route may be called without a token")

    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, Access(roles=(), public=True, why_public=why))
        return handler

    return mark


def access_of(handler: object) -> Access | None:
    """The rule declared on a handler, or None."""
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, Access) else None


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Scope:
    """The agents whose rows an actor sees (``agents`` None: every agent), and per agent
    the earliest time (ISO 8601 UTC) of the rows that are the actor's to see: for an agent
    id someone else held before, only rows from the current holder's start
    (``starts``, pairs of agent id and time)."""

    agents: frozenset[str] | None
    starts: tuple[tuple[str, str], ...] = ()

    @property
    def everything(self) -> bool:
        return self.agents is None

    def start_of(self, agent_id: str) -> str | None:
        return dict(self.starts).get(agent_id)

    def sees(self, agent_id: str | None, at: str | None = None) -> bool:
        """Whether a row of ``agent_id`` written at ``at`` is visible."""
        if self.agents is None:
            return True
        if agent_id is None or agent_id not in self.agents:
            return False
        start = self.start_of(agent_id)
        return start is None or at is None or _iso(at) >= _iso(start)

    def only(self, wanted: str | None) -> Scope:
        """Narrow to one agent asked for with ``?agent=``; 403 naming it when not visible."""
        if wanted is None:
            return self
        if not wanted.strip():
            raise BadQuery("agent must not be empty")
        if self.agents is not None and wanted not in self.agents:
            raise Forbidden(f"you may not see the rows of agent {wanted!r}")
        start = self.start_of(wanted)
        return Scope(agents=frozenset([wanted]), starts=((wanted, start),) if start else ())

    def sql(self, agent_column: str = "agent_id", at_column: str = "at") -> tuple[str, list[Any]]:
        """A SQL condition (and its parameters) that keeps the rows this scope sees, for a
        query whose rows have ``agent_column`` and the time column ``at_column``."""
        if self.agents is None:
            return "1", []
        if not self.agents:
            return "0", []
        starts = dict(self.starts)
        plain = sorted(a for a in self.agents if a not in starts)
        clauses: list[str] = []
        params: list[Any] = []
        if plain:
            clauses.append(f"{agent_column} IN ({', '.join('?' for _ in plain)})")
            params.extend(plain)
        for agent, start in sorted(starts.items()):
            clauses.append(f"({agent_column} = ? AND {at_column} >= ?)")
            params.extend([agent, start])
        return "(" + " OR ".join(clauses) + ")", params

    def filter(self, rows: Iterable[dict[str, Any]], at: str = "at") -> list[dict[str, Any]]:
        """The rows (dicts with ``agent_id`` and a time column ``at``) this scope sees."""
        return [row for row in rows if self.sees(row.get("agent_id"), row.get(at))]


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def team_scope(db: sqlite_utils.Database, teams: Iterable[str]) -> Scope:
    """The agents of enabled users who share one of ``teams`` (case-insensitive), each
    from its holder's start when the agent id was someone else's before."""
    wanted = {t.casefold() for t in teams}
    agents, starts = set(), []
    for name, agent_id, member_of in db.execute(
        "SELECT name, agent_id, teams FROM users WHERE disabled = 0 AND agent_id IS NOT NULL"
    ).fetchall():
        if any(t.casefold() in wanted for t in json.loads(member_of)):
            agents.add(agent_id)
            start = holder_since(db, name, agent_id)
            if start is not None:
                starts.append((agent_id, start))
    return Scope(agents=frozenset(agents), starts=tuple(sorted(starts)))


async def scope_of(app: Medlytt, actor: Actor) -> Scope:
    """Whose rows ``actor`` sees (module docstring)."""
    if actor.role == "admin":
        return Scope(agents=None)
    if actor.role == "supervisor":
        if not actor.teams:
            return Scope(agents=None)
        teams = actor.teams
        return await app.storage.run(lambda db: team_scope(db, teams))
    if not actor.agent_id:
        return Scope(agents=frozenset())
    agent_id = actor.agent_id
    start = await app.storage.run(lambda db: holder_since(db, actor.name, agent_id))
    return Scope(agents=frozenset([agent_id]), starts=((agent_id, start),) if start else ())


def holder_since(db: sqlite_utils.Database, name: str, agent_id: str) -> str | None:
    """When user ``name`` started to hold ``agent_id``: None when nobody held it before
    (its whole history is theirs), else the user's creation (a reused agent id never
    shows the person before them, to them or to their supervisors)."""
    user = get_user(db, name)
    earlier = db.execute(
        "SELECT COUNT(*) FROM users WHERE agent_id = ? AND id != ?", [agent_id, user["id"]]
    ).fetchone()[0]
    return user["created_at"] if earlier else None


def rule_table(routes: Iterable[tuple[str, str, Access | None]]) -> list[dict[str, Any]]:
    """Method, path and rule of every route, for the API index."""
    return [
        {"method": method, "path": path, **(rule.describe() if rule else {"undeclared": True})}
        for method, path, rule in routes
    ]


def _members(db: sqlite_utils.Database) -> list[tuple[str, str, list[str]]]:
    return [
        (name, agent_id, json.loads(member_of))
        for name, agent_id, member_of in db.execute(
            "SELECT name, agent_id, teams FROM users WHERE disabled = 0 AND agent_id IS NOT NULL "
            "ORDER BY name"
        ).fetchall()
    ]


async def team_agents(app: Medlytt, team: str) -> list[dict[str, str]]:
    """The enabled users with an agent id in ``team`` (case-insensitive), as
    ``{"name", "agent_id"}``: whom a team's plan or round is about."""
    wanted = team.casefold()
    rows = await app.storage.run(_members)
    return [
        {"name": name, "agent_id": agent_id}
        for name, agent_id, teams in rows
        if any(t.casefold() == wanted for t in teams)
    ]


async def agent_teams(app: Medlytt, agent_id: str) -> list[str]:
    """The teams of the enabled user who holds ``agent_id`` now (empty when nobody does)."""
    rows = await app.storage.run(_members)
    return next((teams for _, held, teams in rows if held == agent_id), [])


async def all_teams(app: Medlytt) -> list[str]:
    """Every team some enabled user belongs to, sorted."""

    def read(db: sqlite_utils.Database) -> list[str]:
        names: set[str] = set()
        for (member_of,) in db.execute("SELECT teams FROM users WHERE disabled = 0").fetchall():
            names.update(json.loads(member_of))
        return sorted(names)

    return await app.storage.run(read)
