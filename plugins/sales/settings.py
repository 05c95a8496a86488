"""``[sales]``: the reasons a call may end without a sale."""

from __future__ import annotations

import re

import msgspec

#: Reasons are JSON values a CRM sends and a report groups by: keep them plain.
_REASON = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")


class SalesSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[sales]``: every key has a default; outcomes are taken only for the calls of agents
    whose team has the module on (``PUT /api/teams/{team}/modules/sales``), see
    docs/sales.md."""

    #: What a ``no_sale`` outcome must give as its ``reason``: the objections a center
    #: follows up (the Johari window: can't, won't, not urgent, not important) and the rest.
    no_sale_reasons: list[str] = msgspec.field(
        default_factory=lambda: [
            "cannot_afford",
            "not_interested",
            "not_urgent",
            "not_important",
            "not_decision_maker",
            "has_competitor",
            "wants_to_think",
            "other",
        ]
    )

    def __post_init__(self) -> None:
        if not self.no_sale_reasons:
            raise ValueError("no_sale_reasons must name at least one reason")
        seen: set[str] = set()
        for reason in self.no_sale_reasons:
            if not _REASON.match(reason):
                raise ValueError(
                    "each of no_sale_reasons must start with a lower-case letter and hold only "
                    f"a-z, 0-9, _ and - (at most 48 characters), got {reason!r}"
                )
            if reason in seen:
                raise ValueError(f"no_sale_reasons: {reason!r} is listed twice")
            seen.add(reason)
