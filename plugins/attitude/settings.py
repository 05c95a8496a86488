"""``[attitude]``: how many answers open a result, and which forms the module uses."""

from __future__ import annotations

from typing import Annotated

import msgspec


class AttitudeSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[attitude]``: every key has a default; rounds are opened and check-ins taken only
    for teams that have the module on (``PUT /api/teams/{team}/modules/attitude``), see
    docs/attitude.md."""

    #: Colleagues who must have answered before a 360° round's results are shown.  Never
    #: fewer than three: with two, each of them can work out what the other said.
    min_answers: Annotated[int, msgspec.Meta(ge=3, le=50)] = 3
    #: Agents who must have checked in before a team's week is shown (at least three).
    min_group: Annotated[int, msgspec.Meta(ge=3, le=50)] = 3
    #: The form a round uses unless the supervisor names another form of the module.
    round_form: str = "attitude-360"
    #: The form of the weekly check-in (its translations have the same items).
    checkin_form: str = "wellbeing-checkin"
    #: Colleagues one round may invite at most.
    max_colleagues: Annotated[int, msgspec.Meta(ge=3, le=200)] = 30
    #: The longest free-text comment a colleague may leave, in characters.
    max_comment_characters: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 1000
