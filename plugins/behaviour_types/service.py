"""Following the calls of agents whose team has the module on: their talk segments while
the call runs, then the call's row (mirroring, handle time) when it ends; the survey
score and sales outcome that come after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from medlytt import CallAnswered, CallEnded, CallLost, TalkStopped

from . import store
from .events import MirroringMeasured
from .mirroring import Segment, mirroring_of_segments
from .settings import BehaviourTypeSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "behaviour_types"
MODULE = "behaviour-types"
#: The sales plugin's outcome event (a type tag, read without importing that plugin):
#: a ``call_id`` and an ``outcome`` such as ``sale`` or ``no_sale``.
OUTCOME_EVENT = "sales.outcome"
PARTIES = {"caller": "customer", "agent": "agent"}
#: Calls followed at once; beyond this the oldest is dropped (a call whose end never came
#: must not grow memory).
MAX_OPEN_CALLS = 5000


@dataclass
class FollowedCall:
    agent_id: str
    answered_at: datetime
    queue: str | None
    segments: list[Segment] = field(default_factory=list)
    outcome: str | None = None


def survey_score(answers: dict[str, str]) -> float | None:
    """The mean of the keys pressed (digits only; no_answer, invalid, hung_up are not
    scores); None when no question got a key."""
    keys = [int(answer) for answer in answers.values() if answer.isdigit()]
    return round(sum(keys) / len(keys), 3) if keys else None


class BehaviourTypes:
    """The plugin's live part: followed calls and the figures for the metrics."""

    def __init__(self, app: Medlytt, settings: BehaviourTypeSettings) -> None:
        self.app = app
        self.settings = settings
        self.calls: dict[str, FollowedCall] = {}
        self.tagged: dict[str, int] = {}
        self.directions: dict[str, int] = {}

    async def refresh_figures(self) -> None:
        self.tagged, self.directions = await self.app.storage.run(store.figures)

    def on(self, agent_id: str | None) -> bool:
        return self.app.modules.active_for_agent(MODULE, agent_id)

    async def handle(self, event: Any) -> None:
        if isinstance(event, CallAnswered):
            if self.on(event.agent_id):
                self.calls.pop(event.call_id, None)  # a transfer: the last agent's call
                self.calls[event.call_id] = FollowedCall(event.agent_id, event.at, event.queue)
                while len(self.calls) > MAX_OPEN_CALLS:
                    del self.calls[next(iter(self.calls))]
        elif isinstance(event, TalkStopped):
            self._talk(event)
        elif isinstance(event, CallEnded):
            await self._ended(event)
        elif isinstance(event, CallLost):
            self.calls.pop(event.call_id, None)
        elif event.type == "survey.finished":
            await self._survey(event)
        elif event.type == OUTCOME_EVENT:
            await self._outcome(event)

    def _talk(self, event: TalkStopped) -> None:
        call = self.calls.get(event.call_id)
        party = PARTIES.get(event.leg)
        if call is None or party is None:
            return
        if len(call.segments) >= self.settings.max_segments_per_call:
            return
        start = event.at - timedelta(seconds=event.duration_seconds)
        offset = (start - call.answered_at).total_seconds()
        call.segments.append(Segment(party, offset, event.duration_seconds))  # type: ignore[arg-type]

    async def _ended(self, event: CallEnded) -> None:
        call = self.calls.pop(event.call_id, None)
        if call is None:
            return
        signal = mirroring_of_segments(
            call.segments,
            tolerance=self.settings.mirroring_tolerance_seconds,
            min_pairs=self.settings.min_turn_pairs,
        )
        row: dict[str, Any] = {
            "call_id": event.call_id,
            "agent_id": call.agent_id,
            "at": call.answered_at.isoformat(),
            "queue": call.queue,
            "ended_at": event.at.isoformat(),
            "handle_seconds": event.talk_seconds,
            "direction": signal.direction,
            "slope": signal.slope,
            "pairs": signal.pairs,
            "first_half_gap": signal.first_half_gap,
            "second_half_gap": signal.second_half_gap,
        }
        if call.outcome is not None:
            row["outcome"] = call.outcome
        await self.app.storage.run(lambda db: store.merge(db, row))
        await self.refresh_figures()
        self.app.publish(
            MirroringMeasured(
                at=event.at,
                source=PLUGIN,
                call_id=event.call_id,
                agent_id=call.agent_id,
                direction=signal.direction,
                pairs=signal.pairs,
                slope=signal.slope,
            )
        )

    async def _survey(self, event: Any) -> None:
        call_id = getattr(event, "call_id", None)
        answers = getattr(event, "answers", None)
        if not call_id or not isinstance(answers, dict):
            return
        score = survey_score(answers)
        await self.app.storage.run(
            lambda db: store.set_afterwards(db, call_id, "survey_score", score)
        )

    async def _outcome(self, event: Any) -> None:
        call_id, outcome = getattr(event, "call_id", None), getattr(event, "outcome", None)
        if not call_id or not isinstance(outcome, str):
            return
        followed = self.calls.get(call_id)
        if followed is not None:  # set during the call: kept for its row
            followed.outcome = outcome
            return
        await self.app.storage.run(lambda db: store.set_afterwards(db, call_id, "outcome", outcome))
