"""The personal development plan of module 6 (DOMAIN.md §1): awareness of one's stress
pattern, counter-techniques, multitasking vs task switching, prioritising (urgent /
important), followed up on dates agreed with the leader.

The leader writes the plan with the agent; the agent may add notes of their own (what they
noticed, what helped), because awareness of one's own pattern is the method's first step
and is the agent's to put in words.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=2000)]
Line = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
MAX_ENTRIES = 20


class FollowUp(msgspec.Struct, forbid_unknown_fields=True):
    """A follow-up talk: when (``2026-12-15``), about what, and how it went."""

    date: str
    topic: Annotated[str, msgspec.Meta(max_length=500)] = ""
    done: bool = False
    outcome: Text = ""

    def __post_init__(self) -> None:
        try:
            date.fromisoformat(self.date)
        except ValueError:
            raise ValueError(
                f"follow_ups: date must look like 2026-12-15, got {self.date!r}"
            ) from None


class DevelopmentPlan(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``PUT /api/development-plans/{agent}``."""

    #: What the agent and leader see in the agent's stress pattern (when, what triggers it).
    stress_pattern: Text = ""
    goals: Annotated[list[Line], msgspec.Meta(max_length=MAX_ENTRIES)] = msgspec.field(
        default_factory=list
    )
    #: Counter-techniques to practise (a breath between calls, one task at a time, ...).
    techniques: Annotated[list[Line], msgspec.Meta(max_length=MAX_ENTRIES)] = msgspec.field(
        default_factory=list
    )
    follow_ups: Annotated[list[FollowUp], msgspec.Meta(max_length=MAX_ENTRIES)] = msgspec.field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self.follow_ups.sort(key=lambda f: f.date)

    def next_follow_up(self) -> str | None:
        return next((f.date for f in self.follow_ups if not f.done), None)


class AgentNotes(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``PUT /api/development-plans/{agent}/notes``."""

    notes: Text
