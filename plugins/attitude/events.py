"""The attitude plugin's own events (registered with ``medlytt_event_types``).

None of them names a colleague who answered or carries an answer: the event journal keeps
every event with its time, and a 360° answer must not be traceable to its author through it.
"""

from __future__ import annotations

from medlytt import Event


class FeedbackRoundOpened(Event, frozen=True, tag="attitude.round_opened"):
    """A supervisor opened a 360° round about an agent, inviting ``invited`` colleagues."""

    round_id: str
    agent_id: str
    form: str
    invited: int
    by: str


class FeedbackRoundClosed(Event, frozen=True, tag="attitude.round_closed"):
    """A round closed (``by`` None: every invited colleague had answered).  The module's
    activity in the progress view; ``results_open`` says whether enough colleagues answered
    for the agent to see the results."""

    round_id: str
    agent_id: str
    form: str
    answers: int
    results_open: bool
    by: str | None = None


class WellbeingCheckedIn(Event, frozen=True, tag="attitude.checkin"):
    """Someone in ``team`` checked in for the week ``period`` (never who, never what)."""

    team: str
    period: str


EVENT_TYPES: list[type[Event]] = [FeedbackRoundOpened, FeedbackRoundClosed, WellbeingCheckedIn]
