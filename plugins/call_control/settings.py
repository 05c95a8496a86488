"""``[call_control]``: how many calls the module follows at once, and its histograms."""

from __future__ import annotations

import msgspec
from medlytt import PositiveInt


class CallControlSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[call_control]``: every key has a default; the module measures only the calls of
    agents whose team has it on (``PUT /api/teams/{team}/modules/call-control``)."""

    #: Calls followed at once (talk events arrive before the answer); the oldest is
    #: dropped beyond this, so a flood of never-ending calls cannot grow memory.
    max_open_calls: PositiveInt = 5000
    #: Buckets of ``medlytt_conversation_longest_silence_seconds`` and
    #: ``medlytt_conversation_agent_first_words_seconds``.
    seconds_buckets: list[float] = msgspec.field(
        default_factory=lambda: [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0]
    )
    #: Buckets of ``medlytt_conversation_overtalk`` (interruptions per call).
    overtalk_buckets: list[float] = msgspec.field(
        default_factory=lambda: [0.0, 1.0, 2.0, 3.0, 5.0, 10.0]
    )

    def __post_init__(self) -> None:
        for name in ("seconds_buckets", "overtalk_buckets"):
            buckets = getattr(self, name)
            if not buckets or buckets != sorted(set(buckets)) or buckets[0] < 0:
                raise ValueError(f"{name} must be increasing numbers from 0 up, got {buckets!r}")
