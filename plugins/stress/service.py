"""The stress plugin's running part: feeds events to the signals for the agents whose team
has module 6 on, keeps and publishes the alerts, and counts them for the metrics."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from medlytt import Event, agent_teams

from . import store
from .events import StressAlert
from .module import MODULE_ID
from .settings import StressSettings
from .signals import Alert, StressSignals

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "stress"


class StressService:
    def __init__(self, app: Medlytt, settings: StressSettings) -> None:
        self.app = app
        self.settings = settings
        self.signals = StressSignals(settings)
        self.alerts: Counter[str] = Counter()

    def measured(self, agent_id: str | None) -> bool:
        return self.app.modules.active_for_agent(MODULE_ID, agent_id)

    async def on_event(self, event: Event) -> None:
        """Measure only agents whose team has the module on; forget the others, so a
        team that switches it on starts from a clean slate."""
        agent_id = getattr(event, "agent_id", None)
        if agent_id is None:
            return
        if not self.measured(agent_id):
            self.signals.forget(agent_id)
            return
        for alert in self.signals.feed(event):
            await self.raise_alert(alert)

    async def raise_alert(self, alert: Alert) -> None:
        row = {
            "at": alert.at.isoformat(),
            "agent_id": alert.agent_id,
            "kind": alert.kind,
            "detail": alert.detail,
        }
        await self.app.storage.run(lambda db: store.insert_alert(db, row))
        self.alerts[alert.kind] += 1
        teams = tuple(await agent_teams(self.app, alert.agent_id))
        self.app.publish(
            StressAlert(
                at=alert.at,
                source=PLUGIN,
                agent_id=alert.agent_id,
                kind=alert.kind,
                detail=alert.detail,
                teams=teams,
            )
        )

    def over_occupancy(self) -> int:
        """Agents whose last measured occupancy is at or above the threshold."""
        return sum(1 for strain in self.signals.agents.values() if strain.over_occupancy)
