"""The surveys plugin's own events (registered with ``medlytt_event_types``)."""

from __future__ import annotations

from medlytt import Event


class SurveyFinished(Event, frozen=True, tag="survey.finished"):
    """A caller's post-call keypress survey ended.

    ``result`` is ``completed`` (every question got an answer) or ``incomplete`` (the
    caller hung up first).  ``answers`` maps each question id to the key pressed, or to
    ``no_answer``, ``invalid`` or ``hung_up``; questions never reached are absent.
    """

    survey_id: str
    call_id: str
    queue: str
    agent_id: str
    result: str
    answers: dict[str, str]


EVENT_TYPES: list[type[Event]] = [SurveyFinished]
