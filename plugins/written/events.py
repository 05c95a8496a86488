"""The written-communication plugin's own event (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from medlytt import Event


class TextScored(Event, frozen=True, tag="text.scored"):
    """A text (e-mail, case note, chat, letter, template) of an agent was scored.

    Carries the scores, never the text: a progress view or a dashboard can count and
    follow them without reading what a customer wrote.
    """

    text_id: str
    agent_id: str
    kind: str
    language: str
    lix: float
    passive_share: float
    submitted_by: str


EVENT_TYPES: list[type[Event]] = [TextScored]
