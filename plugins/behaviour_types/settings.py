"""``[behaviour_types]``: the behaviour types a listener tags and the mirroring signal's
tolerance."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from medlytt import PositiveInt

#: Type names are JSON values and Prometheus label values: keep them plain.
_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class BehaviourTypeSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[behaviour_types]``: every key has a default; the module measures only the calls
    of agents whose team has it on (``PUT /api/teams/{team}/modules/behaviour-types``),
    see docs/behaviour-types.md."""

    #: The customer behaviour types a listener chooses from.  The default is the common
    #: four-style model (driver: red, expressive: yellow, amiable: green, analytical:
    #: blue); a center that teaches another model lists its own.
    types: list[str] = msgspec.field(
        default_factory=lambda: ["driver", "expressive", "amiable", "analytical"]
    )
    #: Slope of the turn-length gap (seconds per turn pair) within which a call is "flat".
    mirroring_tolerance_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.1
    #: Fewer turn pairs than this: the call is "too_short" for a direction.
    min_turn_pairs: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 4
    #: Talk segments kept per call at most (a call left open by a lost event stays bounded).
    max_segments_per_call: PositiveInt = 5000

    def __post_init__(self) -> None:
        if not self.types:
            raise ValueError("types must name at least one behaviour type")
        seen: set[str] = set()
        for name in self.types:
            if not _TYPE.match(name):
                raise ValueError(
                    "each of types must start with a lower-case letter and hold only a-z, "
                    f"0-9, _ and - (at most 32 characters), got {name!r}"
                )
            if name in seen:
                raise ValueError(f"types: {name!r} is listed twice")
            seen.add(name)
