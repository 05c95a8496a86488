"""The mystery calls plugin's slot of the live state: the test calls in progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from medlytt import Event, StateSlot

from .events import MysteryCallFinished, MysteryCallStarted


class RunningMysteryCall(msgspec.Struct, kw_only=True):
    """A test call as a customer that is still in progress."""

    mystery_call_id: str
    campaign: str | None
    target: str
    call_id: str | None
    started_at: datetime


class MysteryState(StateSlot):
    """Mystery calls in progress, from the ``mystery_call.*`` events."""

    follows = (MysteryCallStarted, MysteryCallFinished)

    def __init__(self) -> None:
        self.calls: dict[str, RunningMysteryCall] = {}

    def apply(self, event: Event) -> None:
        if isinstance(event, MysteryCallStarted):
            self.calls[event.mystery_call_id] = RunningMysteryCall(
                mystery_call_id=event.mystery_call_id,
                campaign=event.campaign,
                target=event.target,
                call_id=event.call_id,
                started_at=event.at,
            )
        elif isinstance(event, MysteryCallFinished):
            self.calls.pop(event.mystery_call_id, None)

    def snapshot(self) -> Any:
        return {"running": msgspec.to_builtins(list(self.calls.values()))}
