"""``[phone_technique]``: how many calls the module follows at once, and its histograms."""

from __future__ import annotations

import msgspec
from medlytt import PositiveInt


class PhoneTechniqueSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[phone_technique]``: every key has a default; the module measures only the calls
    of agents whose team has it on (``PUT /api/teams/{team}/modules/phone-technique``)."""

    #: Calls followed at once (events arrive before the answer); the oldest is dropped
    #: beyond this, so a flood of never-ending calls cannot grow memory.
    max_open_calls: PositiveInt = 5000
    #: Buckets of ``medlytt_phone_ring_seconds``, ``medlytt_phone_first_words_seconds``
    #: and ``medlytt_phone_hold_seconds``.
    seconds_buckets: list[float] = msgspec.field(
        default_factory=lambda: [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0]
    )

    def __post_init__(self) -> None:
        buckets = self.seconds_buckets
        if not buckets or buckets != sorted(set(buckets)) or buckets[0] < 0:
            raise ValueError(
                f"seconds_buckets must be increasing numbers from 0 up, got {buckets!r}"
            )
