"""The call-control module's own event (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from medlytt import Event


class ConversationMeasured(Event, frozen=True, tag="conversation.measured"):
    """An answered call of an agent whose team has the call-control module on has ended,
    and its talk detection (both legs) says who talked how much.

    Seconds count from the answer to the end.  ``overtalk_count`` is how often the agent
    started talking while the customer talked; ``longest_silence_seconds`` the longest
    stretch in which neither talked; ``agent_first_words_seconds`` the time from answer to
    the agent's first words (None: the agent never talked).  ``phases`` gives the seconds
    per phase a listener marked live (empty when nobody marked any).
    """

    call_id: str
    agent_id: str
    queue: str | None
    agent_talk_seconds: float
    customer_talk_seconds: float
    overtalk_count: int
    longest_silence_seconds: float
    agent_first_words_seconds: float | None
    call_seconds: float = 0.0
    phases: dict[str, float] = {}


EVENT_TYPES: list[type[Event]] = [ConversationMeasured]
