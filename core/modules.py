"""Competence modules: the method's seven (and any a third party adds), switched on per team.

The method (DOMAIN.md §1) has a contact center take on one competence module at a time,
each for at least three months.  A module is a plugin that declares itself through the
``medlytt_competence_modules`` hook; the core keeps the catalogue (:attr:`Medlytt.modules`)
and, per team, when each module was switched on and off, so that every module plugin asks
the same question the same way ("is my module on for this agent's team?") and the
progress view can say since when.  The core knows no module by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import TYPE_CHECKING, Any

import msgspec
import sqlite_utils
from aiohttp import web

from .access import allow
from .auth import authenticate
from .clock import utcnow
from .events import ModuleSwitched
from .storage import Migration, transaction
from .web import HttpError, json_response, medlytt_of, read_json

if TYPE_CHECKING:
    from .app import Medlytt

log = logging.getLogger(__name__)
TABLE = "module_activations"
#: Module ids are URL parts and label values.
MODULE_ID = re.compile(r"^[a-z][a-z0-9-]{0,47}$")


class CompetenceModule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a module plugin declares about its module."""

    id: str
    #: The method's number (1-7); a third party's module takes 8 or above.
    number: int
    title: str
    #: The title per language, e.g. ``{"nb": "Telefonteknikk"}``.
    titles: dict[str, str] = msgspec.field(default_factory=dict)
    summary: str = ""
    #: Ids of the forms (``medlytt_forms``) the module's listenings use.
    forms: tuple[str, ...] = ()
    #: Names of the metrics in which the module's measures appear.
    measures: tuple[str, ...] = ()
    #: The method: at least three months per module.
    minimum_months: int = 3
    #: Type tags of the module's own activity events (e.g. a follow-up of an agent's
    #: development plan), counted by the progress view beside the shared ones
    #: (listenings, mystery calls, calibrations, monitoring sessions, feedback).
    activities: tuple[str, ...] = ()


def _create(db: sqlite_utils.Database) -> None:
    db.table(TABLE).create(
        {"id": int, "team": str, "module": str, "since": str, "until": str, "by": str},
        pk="id",
        if_not_exists=True,
    )
    db.table(TABLE).create_index(["team", "module"], if_not_exists=True)


MIGRATIONS = [Migration("create_module_activations", _create)]


def activations(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query(f"SELECT * FROM {TABLE} ORDER BY since, id"))


def _switch(
    db: sqlite_utils.Database, team: str, module: str, active: bool, at: str, by: str
) -> bool:
    """Open or close the team's activation period; False when already so."""
    with transaction(db):
        open_row = db.execute(
            f"SELECT id FROM {TABLE} WHERE team = ? COLLATE NOCASE AND module = ? "
            "AND until IS NULL",
            [team, module],
        ).fetchone()
        if active == (open_row is not None):
            return False
        if active:
            db.execute(
                f"INSERT INTO {TABLE} (team, module, since, until, by) VALUES (?, ?, ?, NULL, ?)",
                [team, module, at, by],
            )
        else:
            db.execute(f"UPDATE {TABLE} SET until = ? WHERE id = ?", [at, open_row[0]])
    return True


class ModuleCatalogue:
    """The declared modules and, cached, which teams have which on (refreshed on every
    switch and when :meth:`refresh` runs)."""

    #: How often team membership is read again (users change from the CLI, another process).
    REFRESH_SECONDS = 60.0

    def __init__(self) -> None:
        self.declared: dict[str, CompetenceModule] = {}
        self.periods: list[dict[str, Any]] = []
        self._agents: dict[str, list[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self, app: Medlytt) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(app))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self, app: Medlytt) -> None:
        while True:
            await asyncio.sleep(self.REFRESH_SECONDS)
            try:
                await self.refresh(app)
            except Exception as exc:  # a locked database must not end the refreshes
                log.warning("module activations not refreshed: %s", exc)

    def add(self, plugin: str, module: object) -> None:
        if not isinstance(module, CompetenceModule):
            log.error("plugin %s: medlytt_competence_modules returned %r", plugin, module)
            return
        if not MODULE_ID.match(module.id):
            log.error("plugin %s: module id %r is not a plain lowercase name", plugin, module.id)
            return
        if module.id in self.declared:
            log.error(
                "plugin %s: module %s is declared twice; keeping the first", plugin, module.id
            )
            return
        self.declared[module.id] = module

    async def refresh(self, app: Medlytt) -> None:
        def read(db: sqlite_utils.Database) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
            agents = {
                agent_id: json.loads(teams)
                for agent_id, teams in db.execute(
                    "SELECT agent_id, teams FROM users WHERE disabled = 0 AND agent_id IS NOT NULL"
                ).fetchall()
            }
            return activations(db), agents

        self.periods, self._agents = await app.storage.run(read)

    def active_teams(self, module: str) -> list[str]:
        """Teams that have ``module`` on now."""
        return sorted(
            {p["team"] for p in self.periods if p["module"] == module and p["until"] is None}
        )

    def active_for_team(self, module: str, team: str) -> bool:
        wanted = team.casefold()
        return any(t.casefold() == wanted for t in self.active_teams(module))

    def active_for_agent(self, module: str, agent_id: str | None) -> bool:
        """Whether one of the teams of the user holding ``agent_id`` has ``module`` on
        (switches count at once, changed users within :attr:`REFRESH_SECONDS`)."""
        if agent_id is None:
            return False
        teams = {t.casefold() for t in self._agents.get(agent_id, [])}
        return any(t.casefold() in teams for t in self.active_teams(module))

    def since(self, module: str, team: str) -> str | None:
        """When the team's current period with ``module`` began; None when it is off."""
        for period in reversed(self.periods):
            if period["module"] == module and period["team"].casefold() == team.casefold():
                return period["since"] if period["until"] is None else None
        return None

    def describe(self, module: CompetenceModule) -> dict[str, Any]:
        return {
            **msgspec.to_builtins(module),
            "active_teams": self.active_teams(module.id),
            "periods": [p for p in self.periods if p["module"] == module.id],
        }


class Switch(msgspec.Struct, forbid_unknown_fields=True):
    active: bool


@allow("admin", "supervisor", "agent", rows="every module; per team when it is on (no agent data)")
async def list_modules(request: web.Request) -> web.Response:
    """Every declared module, in the method's order, with the teams that have it on."""
    app = medlytt_of(request)
    modules = sorted(app.modules.declared.values(), key=lambda m: (m.number, m.id))
    return json_response({"modules": [app.modules.describe(m) for m in modules]})


@allow("admin", "supervisor", rows="the teams the supervisor leads (no team: any)")
async def switch_module(request: web.Request) -> web.Response:
    """``PUT /api/teams/{team}/modules/{module}`` ``{"active": true}``: switch it on or off."""
    app = medlytt_of(request)
    actor = await authenticate(request)
    team, module = request.match_info["team"], request.match_info["module"]
    if module not in app.modules.declared:
        raise HttpError(404, f"no competence module {module!r}; GET /api/modules lists them")
    if not team.strip() or len(team) > 100:
        raise HttpError(422, "team must be a non-empty name")
    leads = (
        actor.role == "admin"
        or not actor.teams
        or any(t.casefold() == team.casefold() for t in actor.teams)
    )
    if not leads:
        raise HttpError(403, f"you do not lead team {team!r}")
    body: Switch = await read_json(request, Switch)
    now = utcnow()
    changed = await app.storage.run(
        lambda db: _switch(db, team, module, body.active, now.isoformat(), actor.name)
    )
    await app.modules.refresh(app)
    if changed:
        app.publish(
            ModuleSwitched(
                at=now, source="core", team=team, module=module, active=body.active, by=actor.name
            )
        )
    return json_response(
        {
            "team": team,
            "module": module,
            "active": body.active,
            "since": app.modules.since(module, team),
            "changed": changed,
        }
    )
