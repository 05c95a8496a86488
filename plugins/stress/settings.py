"""``[stress]``: what counts as a stress signal.  Every threshold is a setting, because what
is a heavy hour differs between a sales line and an emergency desk."""

from __future__ import annotations

from typing import Annotated

import msgspec
from medlytt import PositiveFloat, PositiveInt

Share = Annotated[float, msgspec.Meta(gt=0, le=1)]


class StressSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[stress]``: thresholds of the alerts (docs/stress.md)."""

    #: Occupancy is measured over this rolling window, ending at each state change.
    occupancy_window_minutes: PositiveInt = 60
    #: Alert when the share of staffed time spent on calls and after-call work reaches this.
    occupancy_threshold: Share = 0.9
    #: ...but only once the agent was staffed (not paused, not logged out) this long in the
    #: window: ten busy minutes after a lunch break are no heavy hour.
    occupancy_min_staffed_minutes: PositiveInt = 30
    #: Less than this between a call's end and the next answer is no pause.
    pause_seconds: PositiveFloat = 30.0
    #: Alert when this many calls in a row came without a pause.
    back_to_back_calls: PositiveInt = 6
    #: A call at least this long is a long call; the next one answered without a pause
    #: raises ``long_call_then_next``.
    long_call_seconds: PositiveFloat = 900.0
    #: A call the caller hung up within this many seconds (or while the agent was talking,
    #: when talk detection is on) ended abruptly; the next one answered without a pause
    #: raises ``abrupt_call_then_next``.
    abrupt_call_seconds: PositiveFloat = 20.0
    #: Alert when one after-call work (wrap-up) lasts at least this long.
    after_call_work_seconds: PositiveFloat = 300.0

    def __post_init__(self) -> None:
        if self.occupancy_min_staffed_minutes > self.occupancy_window_minutes:
            raise ValueError(
                f"occupancy_min_staffed_minutes ({self.occupancy_min_staffed_minutes}) must not "
                f"exceed occupancy_window_minutes ({self.occupancy_window_minutes})"
            )
        if self.back_to_back_calls < 2:
            raise ValueError(
                f"back_to_back_calls must be at least 2 (calls in a row), got "
                f"{self.back_to_back_calls}"
            )
