"""``[quality]``: targets, the calibration period and the handle-time floor.

Targets are checked against each other when the config is read (``warnings()``, printed
by ``medlytt check-config`` and served by ``GET /api/quality/goals``): the method warns
that some goals pull against each other, and a center that sets both should hear it
before its agents do.
"""

from __future__ import annotations

import msgspec
from medlytt import PositiveFloat, PositiveInt


class Goals(msgspec.Struct, forbid_unknown_fields=True):
    """The center's targets; unset ones are not goals."""

    #: Share of contacts resolved in the first contact, 0..1.
    first_contact_resolution: float | None = None
    #: Calls an agent should handle per hour.
    calls_per_hour: PositiveFloat | None = None
    #: Target (maximum) average handle time in seconds.
    handle_time_seconds: PositiveFloat | None = None
    #: Share of calls answered within the service-level threshold, 0..1.
    service_level: float | None = None
    #: Target mean evaluation score, 0..100.
    quality_score: float | None = None

    def __post_init__(self) -> None:
        for name in ("first_contact_resolution", "service_level"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, got {value}")
        if self.quality_score is not None and not 0 < self.quality_score <= 100:
            raise ValueError(f"quality_score must be between 0 and 100, got {self.quality_score}")


class QualitySettings(msgspec.Struct, forbid_unknown_fields=True):
    """The quality plugin's section."""

    goals: Goals = msgspec.field(default_factory=Goals)
    #: A team whose last closed calibration round is older than this is reminded.
    calibration_max_age_days: PositiveInt = 60
    #: Below this handle-time target (seconds) there is no room left for quality.
    min_handle_time_for_quality: PositiveFloat = 240.0
    #: How often the plan and calibration figures behind the metrics are recomputed.
    refresh_seconds: PositiveFloat = 30.0

    def warnings(self) -> list[str]:
        """Targets that contradict each other, phrased as the method phrases them."""
        goals = self.goals
        found: list[str] = []
        if goals.first_contact_resolution is not None and goals.calls_per_hour is not None:
            found.append(
                "quality.goals: first_contact_resolution and calls_per_hour are both targets; "
                "resolving a contact in the first call takes the time a calls-per-hour target "
                "takes away. Keep one of them."
            )
        if goals.quality_score is not None:
            floor = self.min_handle_time_for_quality
            if goals.handle_time_seconds is not None and goals.handle_time_seconds < floor:
                found.append(
                    f"quality.goals: handle_time_seconds = {goals.handle_time_seconds:g} leaves "
                    f"no room for quality_score = {goals.quality_score:g} (below "
                    f"min_handle_time_for_quality = {floor:g} s). Raise it or drop one target."
                )
            if goals.calls_per_hour is not None and 3600 / goals.calls_per_hour < floor:
                found.append(
                    f"quality.goals: calls_per_hour = {goals.calls_per_hour:g} leaves "
                    f"{3600 / goals.calls_per_hour:.0f} s per call, no room for quality_score = "
                    f"{goals.quality_score:g} (below min_handle_time_for_quality = {floor:g} s)."
                )
        return found
