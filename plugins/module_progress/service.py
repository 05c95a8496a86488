"""The progress view's running part: keeps the activities (live, and from the journal for
what happened before the plugin started or what a module declares), and the figures
behind the metrics, recomputed every ``refresh_seconds`` so a scrape never waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from medlytt import CompetenceModule, Event, RawEvent, journal_events, team_agents, utcnow

from . import store
from .activities import SHARED, activity_row
from .progress import module_progress
from .settings import ProgressSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

log = logging.getLogger(__name__)
PLUGIN = "module_progress"
#: What the quality plugin provides: a team's monitoring plan, or None.
PlanLookup = Callable[[str], Awaitable[dict[str, Any] | None]]


class ProgressService:
    def __init__(self, app: Medlytt, settings: ProgressSettings) -> None:
        self.app = app
        self.settings = settings
        #: What "now" is; tests replace it to walk through a quarter.
        self.clock: Callable[[], datetime] = utcnow
        self.last_seq = 0
        #: (team, module) → the figures of the module's current period, for the metrics.
        self.figures: dict[tuple[str, str], dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.catch_up()
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                await self.catch_up()
                await self.refresh()
            except Exception as exc:  # a locked database must not end the figures
                log.warning("module progress not refreshed: %s", exc)

    def tags(self) -> list[str]:
        """Every activity type tag: the shared ones and those the modules declare."""
        declared = {t for m in self.app.modules.declared.values() for t in m.activities}
        return sorted(declared | set(SHARED))

    async def record(self, events: list[Event | RawEvent]) -> int:
        rows = [r for e in events if (r := activity_row(e, e.type)) is not None]
        if not rows:
            return 0
        return await self.app.storage.run(lambda db: store.record(db, rows))

    async def catch_up(self) -> int:
        """Read the journal's activity events since the earliest module period began
        (what happened while this plugin was not running; a module's own activities)."""
        starts = [p["since"] for p in self.app.modules.periods]
        if not starts:
            return 0
        since = datetime.fromisoformat(min(starts))
        added = 0
        while True:
            found = await journal_events(
                self.app, self.tags(), after_seq=self.last_seq, since=since, limit=5000
            )
            if not found:
                return added
            self.last_seq = found[-1][0]
            added += await self.record([event for _, event in found])

    # ------------------------------------------------------------------ progress

    async def team_progress(self, team: str, *, per_agent: bool) -> dict[str, Any]:
        """Every declared module (the method's order) with the team's latest period of
        it; a module the team never had on shows ``period: null``."""
        now = self.clock()
        agents = await team_agents(self.app, team)
        lookup: PlanLookup | None = self.app.service("monitoring_plan")  # type: ignore[assignment]
        plan = await lookup(team) if lookup is not None else None
        modules = sorted(self.app.modules.declared.values(), key=lambda m: (m.number, m.id))
        rows = []
        for module in modules:
            period = self._latest_period(module, team)
            if period is None:
                rows.append(
                    {
                        "module": module.id,
                        "number": module.number,
                        "title": module.title,
                        "titles": module.titles,
                        "period": None,
                    }
                )
                continue
            rows.append(await self._progress(module, team, period, now, agents, plan, per_agent))
        answer: dict[str, Any] = {"team": team, "at": now.isoformat(), "modules": rows}
        if lookup is None:
            answer["plan_note"] = "no monitoring plans here: the quality plugin is not loaded"
        elif plan is None:
            answer["plan_note"] = f"team {team!r} has no monitoring plan (PUT /api/plans/{{team}})"
        return answer

    def _latest_period(self, module: CompetenceModule, team: str) -> dict[str, Any] | None:
        wanted = team.casefold()
        periods = [
            p
            for p in self.app.modules.periods
            if p["module"] == module.id and p["team"].casefold() == wanted
        ]
        return periods[-1] if periods else None

    async def _progress(
        self,
        module: CompetenceModule,
        team: str,
        period: dict[str, Any],
        now: datetime,
        agents: list[dict[str, str]],
        plan: dict[str, Any] | None,
        per_agent: bool,
    ) -> dict[str, Any]:
        ids = [a["agent_id"] for a in agents]
        until = min(period["until"] or now.isoformat(), now.isoformat())
        found = await self.app.storage.run(
            lambda db: store.between(db, ids, team, period["since"], until)
        )
        return module_progress(module, period, now, agents, plan, found, per_agent=per_agent)

    async def refresh(self) -> None:
        """The figures of every (team, module) that is on now, for the metrics."""
        figures: dict[tuple[str, str], dict[str, Any]] = {}
        now = self.clock()
        lookup: PlanLookup | None = self.app.service("monitoring_plan")  # type: ignore[assignment]
        for module in self.app.modules.declared.values():
            for team in self.app.modules.active_teams(module.id):
                period = self._latest_period(module, team)
                if period is None:
                    continue
                agents = await team_agents(self.app, team)
                plan = await lookup(team) if lookup is not None else None
                figures[(team, module.id)] = await self._progress(
                    module, team, period, now, agents, plan, False
                )
        self.figures = figures
