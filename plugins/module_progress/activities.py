"""Which events are activities of the method, and what of them the progress view keeps.

The shared activities come from other plugins, known here by their type tags only (this
plugin imports none of them): listenings (``evaluation.created``), mystery calls
(``mystery_call.finished`` of an answered call), calibration rounds
(``calibration.closed``), monitoring sessions (``monitoring.started``) and feedback rounds
(``evaluation.answered``: the agent went through an evaluation and acknowledged or
disputed it).  A module adds its own with ``CompetenceModule.activities``; such an
activity is counted under its type tag.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import msgspec
from medlytt import Event, RawEvent

#: Type tag → kind of the shared activities.
SHARED = {
    "evaluation.created": "listening",
    "mystery_call.finished": "mystery_call",
    "calibration.closed": "calibration",
    "monitoring.started": "monitoring",
    "evaluation.answered": "feedback",
}
KINDS = tuple(SHARED.values())


def fields_of(event: Event | RawEvent) -> dict[str, Any]:
    """The event as plain JSON values (a journal row of an unloaded plugin too)."""
    if isinstance(event, RawEvent):
        return dict(event.data)
    return dict(msgspec.to_builtins(event))


def activity_row(event: Event | RawEvent, tag: str) -> dict[str, Any] | None:
    """The row kept for an activity event; None when it is about nobody (a mystery call
    nobody answered).  ``key`` is the same for the live event and its journal row, so an
    activity seen both ways is kept once."""
    data = fields_of(event)
    agent_id, team = data.get("agent_id"), data.get("team")
    if not isinstance(agent_id, str) or not agent_id:
        agent_id = None
    if not isinstance(team, str) or not team:
        team = None
    if agent_id is None and team is None:
        return None
    score = data.get("score")
    form = data.get("form")
    return {
        "key": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
        "at": datetime.fromisoformat(str(data["at"])).astimezone(UTC).isoformat(),
        "kind": SHARED.get(tag, tag),
        "agent_id": agent_id,
        "team": team,
        "form": form if isinstance(form, str) else None,
        "score": float(score) if isinstance(score, int | float) else None,
    }
