"""The ``[mystery_calls]`` config section (documented in docs/mystery-calls.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from medlytt import time_zone

Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
Count = Annotated[int, msgspec.Meta(ge=1, le=1000)]


class MysterySettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[mystery_calls]``: how test calls reach the contact center, and their limits."""

    #: Endpoint a mystery call dials; ``{number}`` is the target number.  Route it the way a
    #: customer's call arrives (e.g. a context that reaches your IVR and queues).
    dial: str = "Local/{number}@from-mystery/n"
    #: The number that reaches each queue as a customer: ``support = "500"``.  A queue target
    #: dials its number, so the test call takes the customer's path.
    queue_numbers: dict[str, str] = msgspec.field(default_factory=dict)
    #: Caller ID presented when a request names none: ``"Mystery <4790000000>"``.
    caller_id: str = "Medlytt mystery"
    #: At most this many mystery calls at once (all targets).
    max_concurrent: Count = 2
    #: At most this many calls started per target (queue or number) in any 60 minutes.
    max_per_hour_per_target: Count = 4
    #: How long the target may ring before the call ends as no-answer.
    ring_timeout_seconds: Seconds = 30.0
    #: How long a scripted caller waits for a human before hanging up (abandoned).
    patience_seconds: Seconds = 120.0
    #: Hard limit on one mystery call, answered or not.
    max_call_seconds: Seconds = 900.0
    #: How long a human tester's phone may ring before the call fails.
    tester_answer_seconds: Seconds = 30.0
    #: What the kill switch does to calls already running: let them finish, or hang up.
    kill_running: Literal["finish", "hang_up"] = "finish"
    #: Time zone of campaigns' business hours unless a campaign names its own.
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        time_zone(self.time_zone)
        if "{number}" not in self.dial:
            raise ValueError(f"dial must contain {{number}}, got {self.dial!r}")
        for queue, number in self.queue_numbers.items():
            if not number.strip():
                raise ValueError(f"queue_numbers.{queue} is empty")
