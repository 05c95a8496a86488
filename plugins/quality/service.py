"""The quality plugin's running part: its forms, its clock, and the figures behind its
metrics (recomputed every ``refresh_seconds`` and after every change, so a Prometheus
scrape never waits on the database)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from medlytt import all_teams, team_agents, utcnow

from . import plans, store
from .catalogue import FormCatalogue
from .events import CalibrationDue
from .settings import QualitySettings

if TYPE_CHECKING:
    from medlytt import Medlytt

log = logging.getLogger(__name__)
PLUGIN = "quality"
#: Upper bounds of the score histogram (scores are 0..100).
SCORE_BUCKETS = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)


class QualityService:
    def __init__(self, app: Medlytt, settings: QualitySettings) -> None:
        self.app = app
        self.settings = settings
        self.forms = FormCatalogue()
        #: What "now" is; tests replace it to walk through a month.
        self.clock: Callable[[], datetime] = utcnow
        self.evaluations: Counter[str] = Counter()
        #: Per form: how many scores fell at or below each bound of SCORE_BUCKETS, and
        #: their sum (a histogram that stays the same size however many evaluations).
        self.score_buckets: dict[str, list[int]] = {}
        self.score_sums: dict[str, float] = {}
        self.overdue: dict[str, int] = {}
        self.calibration_age: dict[str, float | None] = {}
        self._reminded: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.forms.load(self.app)
        for form, score in await self.app.storage.run(store.counts_by_form):
            self.counted(form, score)
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def counted(self, form: str, score: float | None) -> None:
        self.evaluations[form] += 1
        if score is not None:
            buckets = self.score_buckets.setdefault(form, [0] * len(SCORE_BUCKETS))
            for n, bound in enumerate(SCORE_BUCKETS):
                if score <= bound:
                    buckets[n] += 1
            self.score_sums[form] = self.score_sums.get(form, 0.0) + score

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # a locked database must not end the metrics
                log.warning("quality figures not refreshed: %s", exc)

    async def plan(self, team: str) -> dict[str, Any] | None:
        """The team's monitoring plan (``per_agent_per_month``, ``live_at_least``); None
        without one.  Provided to other plugins as ``app.service("monitoring_plan")`` (the
        module progress view sets its listenings against it)."""
        return await self.app.storage.run(lambda db: store.get_plan(db, team))

    async def plan_status(self, team: str, month: datetime | None = None) -> dict[str, Any] | None:
        """The team's plan status for ``month`` (default: this month); None without a plan."""
        plan = await self.app.storage.run(lambda db: store.get_plan(db, team))
        if plan is None:
            return None
        now = self.clock()
        start, end = plans.month_of(month or now)
        agents = await team_agents(self.app, plan["team"])
        ids = [a["agent_id"] for a in agents]
        until = min(end, now)  # what is done so far (a past month: all of it)
        done = await self.app.storage.run(
            lambda db: store.listenings(db, ids, start.isoformat(), until.isoformat())
        )
        return plans.status(plan, agents, done, start, end, now)

    async def refresh(self) -> None:
        """Plan overdue per team and calibration age per team; remind once per team when
        its last round is older than the period (again after a newer round closes)."""
        overdue: dict[str, int] = {}
        for plan in await self.app.storage.run(store.plans):
            status = await self.plan_status(plan["team"])
            if status is not None:
                overdue[plan["team"]] = status["overdue"]
        self.overdue = overdue
        now = self.clock()
        closed = await self.app.storage.run(store.last_closed)
        teams = sorted(set(await all_teams(self.app)) | set(closed) | set(overdue))
        limit = self.settings.calibration_max_age_days * 86400
        ages: dict[str, float | None] = {}
        for team in teams:
            last = closed.get(team)
            age = (now - datetime.fromisoformat(last)).total_seconds() if last else None
            ages[team] = age
            due = age is None or age > limit
            if due and team not in self._reminded:
                self._reminded.add(team)
                self.app.publish(CalibrationDue(at=now, source=PLUGIN, team=team, age_seconds=age))
            elif not due:
                self._reminded.discard(team)
        self.calibration_age = ages

    def calibration_due(self, team: str) -> bool:
        age = self.calibration_age.get(team)
        return age is None or age > self.settings.calibration_max_age_days * 86400
