"""The mystery calls plugin's own events (registered with ``medlytt_event_types``).

Other plugins react to them by type tag without importing this plugin (the surveys
plugin never surveys a mystery caller: ``@listens_to("mystery_call.started")``).
"""

from __future__ import annotations

from medlytt import Event


class MysteryCallStarted(Event, frozen=True, tag="mystery_call.started"):
    """A test call as a customer was placed to ``target`` (a queue or a number)."""

    mystery_call_id: str
    campaign: str | None
    target: str
    call_id: str | None = None


class MysteryCallFinished(Event, frozen=True, tag="mystery_call.finished"):
    """A mystery call ended with ``outcome`` (answered, abandoned, busy, failed, no_answer)."""

    mystery_call_id: str
    outcome: str
    call_id: str | None = None
    agent_id: str | None = None
    answer_seconds: float | None = None
    talk_seconds: float | None = None


EVENT_TYPES: list[type[Event]] = [MysteryCallStarted, MysteryCallFinished]
