"""Campaigns: mystery calls on a cron schedule, or N calls spread over a window.

Each campaign keeps its next call as a *planned* row (a random moment inside business
hours, see :mod:`.schedule`), so the moment survives a restart and can be shown to
supervisors but not predicted by agents.  Once a second the scheduler places the calls
that are due; a planned call more than ``MISSED_AFTER`` late (Medlytt was down) is marked
missed instead of being placed at an odd hour.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from medlytt import utcnow

from . import store
from .model import CallSpec, CampaignRequest, RequestError, check_campaign
from .schedule import BusinessHours, ScheduleError, next_call_time, spread_calls
from .service import Refused

if TYPE_CHECKING:
    from medlytt import Medlytt

    from .service import MysteryService
    from .settings import MysterySettings

log = logging.getLogger(__name__)
MISSED_AFTER = timedelta(minutes=5)
TICK_SECONDS = 1.0
#: The most campaigns running at once: the scheduler looks at each every second.
MAX_ACTIVE_CAMPAIGNS = 100


def iso(moment: datetime) -> str:
    """UTC with microseconds: one format, so stored moments sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class Campaign:
    request: CampaignRequest
    hours: BusinessHours
    active: bool

    @property
    def name(self) -> str:
        return self.request.name

    def ended(self, now: datetime) -> bool:
        return self.request.ends_at is not None and now >= self.request.ends_at


class CampaignScheduler:
    def __init__(
        self,
        app: Medlytt,
        service: MysteryService,
        settings: MysterySettings,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.settings = settings
        self.rng = rng or random.SystemRandom()
        self.campaigns: dict[str, Campaign] = {}
        #: Names being planned (off the loop) and saved: a second request for one is a 409.
        self._creating: set[str] = set()

    async def load(self) -> None:
        for row in await self.app.storage.run(store.campaigns):
            request = msgspec.convert(row["spec"], CampaignRequest)
            try:
                hours = BusinessHours.parse(
                    request.business_hours, request.time_zone or self.settings.time_zone
                )
            except ScheduleError as exc:
                # Saved before the limits (or under another time zone setting): it stays
                # stopped, and its planned calls are cancelled when due, not planned again.
                log.error("mystery campaign %s not loaded, recreate it: %s", request.name, exc)
                continue
            self.campaigns[request.name] = Campaign(request, hours, bool(row["active"]))

    # ------------------------------------------------------------------ API

    async def create(self, request: CampaignRequest, *, by: str) -> dict[str, Any]:
        now = utcnow()
        hours = check_campaign(request, self.settings, self.app.state, now)
        if request.name in self.campaigns or request.name in self._creating:
            raise Refused(409, f"campaign {request.name!r} exists")
        running = sum(c.active and not c.ended(now) for c in self.campaigns.values())
        if running + len(self._creating) >= MAX_ACTIVE_CAMPAIGNS:
            raise Refused(
                409,
                f"limit max_active_campaigns: at most {MAX_ACTIVE_CAMPAIGNS} campaigns run at "
                "once; stop or let one end first",
                "max_active_campaigns",
            )
        self._creating.add(request.name)
        try:
            # Bounded (a year, 1000 calls, 6 ranges a day: some 20 ms), yet planned on a
            # worker thread so no campaign ever holds the event loop.
            moments = await asyncio.to_thread(self._plan, request, hours, now)
            row = {
                "name": request.name,
                "spec": msgspec.json.encode(request).decode(),
                "active": 1,
                "created_at": iso(now),
                "created_by": by,
            }
            planned = [iso(moment) for moment in moments]
            await self.app.storage.run(lambda db: store.save_campaign(db, row, planned))
            self.campaigns[request.name] = Campaign(request, hours, True)
        finally:
            self._creating.discard(request.name)
        return await self.describe(request.name)

    def _plan(
        self, request: CampaignRequest, hours: BusinessHours, now: datetime
    ) -> list[datetime]:
        """A new campaign's planned calls: all of a ``calls`` campaign, the first of a cron."""
        start = max(now, request.starts_at or now)
        if request.calls is not None:
            assert request.ends_at is not None
            try:
                return spread_calls(
                    request.calls, start, request.ends_at, hours=hours, rng=self.rng
                )
            except ValueError as exc:
                raise RequestError(str(exc)) from None
        assert request.schedule is not None
        first = self._next(request, hours, start - timedelta(microseconds=1))
        if first is None:
            raise RequestError(
                "schedule: no firing of the schedule falls inside business_hours before ends_at"
            )
        return [first]

    async def set_active(self, name: str, active: bool) -> dict[str, Any]:
        campaign = self.get(name)
        if active and campaign.ended(utcnow()):
            raise Refused(409, f"campaign {name!r} ended at {campaign.request.ends_at}")
        await self.app.storage.run(lambda db: store.set_campaign_active(db, name, active))
        campaign.active = active
        if active and campaign.request.schedule is not None:
            await self._plan_next(campaign, utcnow())
        return await self.describe(name)

    def get(self, name: str) -> Campaign:
        campaign = self.campaigns.get(name)
        if campaign is None:
            raise Refused(404, f"no campaign {name!r}")
        return campaign

    def check_open(self, name: str) -> None:
        """A call counted under a campaign needs the campaign to exist and not to be over."""
        campaign = self.campaigns.get(name)
        if campaign is None:
            raise RequestError(f"campaign: unknown campaign {name!r}")
        if campaign.ended(utcnow()):
            raise Refused(409, f"campaign {name!r} ended at {campaign.request.ends_at}")

    async def describe(self, name: str) -> dict[str, Any]:
        campaign = self.get(name)
        planned = await self.app.storage.run(lambda db: store.planned(db, name))
        return {
            **{  # every field, defaults included (the struct omits them when encoding)
                name: msgspec.to_builtins(getattr(campaign.request, name))
                for name in campaign.request.__struct_fields__
            },
            "active": campaign.active and not campaign.ended(utcnow()),
            "planned": planned,
        }

    # ------------------------------------------------------------------ the clock

    async def run(self) -> None:
        while True:
            try:
                await self.tick(utcnow())
            except Exception:
                log.exception("mystery campaigns: scheduler tick failed")
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self, now: datetime) -> None:
        """Place due calls, then keep one planned call ahead for every cron campaign."""
        due = await self.app.storage.run(lambda db: store.due(db, iso(now)))
        for row in due:
            await self._fire(row, now)
        for campaign in self.campaigns.values():
            if campaign.active and campaign.request.schedule is not None:
                await self._plan_next(campaign, now)

    async def _fire(self, row: dict[str, Any], now: datetime) -> None:
        campaign = self.campaigns.get(row["campaign"])
        changes: dict[str, Any]
        if campaign is None or not campaign.active:
            changes = {"state": "cancelled", "reason": "campaign stopped"}
        elif campaign.ended(now):
            changes = {"state": "cancelled", "reason": "campaign ended"}
        elif now - datetime.fromisoformat(row["due_at"]) > MISSED_AFTER:
            changes = {"state": "missed", "reason": "Medlytt was not running at the time"}
        else:
            spec = msgspec.convert(
                {
                    k: v
                    for k, v in msgspec.to_builtins(campaign.request).items()
                    if k in CallSpec.__struct_fields__
                },
                CallSpec,
            )
            try:
                call = await self.service.place(
                    spec, requested_by=f"campaign:{campaign.name}", campaign=campaign.name
                )
                changes = {"state": "placed", "mystery_call_id": call.id}
            except (Refused, RequestError) as exc:
                log.warning("mystery campaign %s: call refused: %s", campaign.name, exc)
                changes = {"state": "refused", "reason": str(exc)}
        await self.app.storage.run(lambda db: store.settle_planned(db, row["id"], changes))

    async def _plan_next(self, campaign: Campaign, now: datetime) -> None:
        name = campaign.name
        if campaign.ended(now) or await self.app.storage.run(
            lambda db: store.has_planned(db, name)
        ):
            return
        last = await self.app.storage.run(lambda db: store.last_due(db, name))
        after = max(now, datetime.fromisoformat(last) if last else now)
        moment = await asyncio.to_thread(self._next, campaign.request, campaign.hours, after)
        if moment is not None:
            await self.app.storage.run(lambda db: store.add_planned(db, name, iso(moment)))

    def _next(
        self, request: CampaignRequest, hours: BusinessHours, after: datetime
    ) -> datetime | None:
        assert request.schedule is not None
        return next_call_time(
            request.schedule,
            after,
            spread_seconds=request.spread_seconds,
            hours=hours,
            rng=self.rng,
            not_after=request.ends_at,
        )
