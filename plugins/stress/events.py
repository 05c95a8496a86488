"""The stress plugin's own events: what the agent's leader and other plugins hear.

Other plugins react to them by type tag (``@listens_to("stress.alert")``) without
importing this plugin; the module progress view counts ``development_plan.updated`` as
the module's own activity (a follow-up of the agent's plan).
"""

from __future__ import annotations

from medlytt import Event


class StressAlert(Event, frozen=True, tag="stress.alert"):
    """An agent showed a stress signal (``kind``: ``occupancy``, ``back_to_back``,
    ``long_call_then_next``, ``abrupt_call_then_next``, ``after_call_work``).

    ``detail`` holds the figures behind it (seconds, shares, counts); ``teams`` are the
    agent's teams, whose leaders the alert is for.
    """

    agent_id: str
    kind: str
    detail: dict[str, float]
    teams: tuple[str, ...] = ()


class DevelopmentPlanUpdated(Event, frozen=True, tag="development_plan.updated"):
    """An agent's personal development plan changed: by a leader (``part`` ``plan``) or
    by the agent's own notes (``part`` ``notes``)."""

    agent_id: str
    by: str
    part: str
    next_follow_up: str | None = None


EVENT_TYPES: list[type[Event]] = [StressAlert, DevelopmentPlanUpdated]
