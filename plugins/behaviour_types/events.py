"""The behaviour-types plugin's own events (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from medlytt import Event


class BehaviourTypeTagged(Event, frozen=True, tag="behaviour_type.tagged"):
    """A listener tagged the customer's behaviour type on a call (a second tag replaces
    the first: ``replaced`` is the type before, or None)."""

    call_id: str
    agent_id: str
    behaviour_type: str
    by: str
    replaced: str | None = None


class MirroringMeasured(Event, frozen=True, tag="behaviour_type.mirroring"):
    """A call of an agent whose team has the module on ended; its mirroring signal."""

    call_id: str
    agent_id: str
    direction: str
    pairs: int
    slope: float | None = None


EVENT_TYPES: list[type[Event]] = [BehaviourTypeTagged, MirroringMeasured]
