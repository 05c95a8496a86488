"""The sales plugin's own event (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from medlytt import Event


class SalesOutcome(Event, frozen=True, tag="sales.outcome"):
    """A call's wrap-up outcome was set (``replaced``: the outcome before, when a second one
    replaced it).  Other plugins read it by its tag without importing this one: the
    behaviour-types plugin relies on ``call_id``, ``agent_id``, ``queue`` and ``outcome``."""

    call_id: str
    agent_id: str
    queue: str | None
    outcome: str
    reason: str | None = None
    value: float | None = None
    by: str = ""
    replaced: str | None = None


EVENT_TYPES: list[type[Event]] = [SalesOutcome]
