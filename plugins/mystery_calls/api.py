"""Mystery calls for other plugins: the same limits and checks as the HTTP API.

A competence-module plugin that wants, say, three mystery calls to an agent's queue in
the two weeks after the agent finished a training::

    from datetime import timedelta
    from medlytt import utcnow
    from medlytt.plugins.mystery_calls import api as mystery

    await mystery.schedule_calls(
        app,
        name=f"after-training-{agent_id}",
        count=3,
        ends_at=utcnow() + timedelta(days=14),
        business_hours={"mon-fri": "08:00-16:00"},
        requested_by="plugin:telefonteknikk",
        queue="support",
        patience_seconds=180,
    )

Errors: :class:`RequestError` (bad input, the message names the field) and
:class:`Refused` (kill switch, limits, campaign over; ``.limit`` names the rule).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from .model import CallSpec, CampaignRequest, RequestError
from .service import Refused

if TYPE_CHECKING:
    from medlytt import Medlytt

    from .call import MysteryCall

__all__ = ["Refused", "RequestError", "place_call", "schedule_calls"]
PLUGIN = "mystery_calls"


def _parts(app: Medlytt) -> Any:
    found = app.plugin_state.get(PLUGIN)
    if found is None:
        raise Refused(503, "the mystery_calls plugin is not running")
    return found


def _convert(data: dict[str, Any], schema: type[Any]) -> Any:
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        raise RequestError(str(exc)) from None


async def place_call(
    app: Medlytt, *, requested_by: str, campaign: str | None = None, **spec: Any
) -> MysteryCall:
    """Place one mystery call now; ``spec`` holds the fields of a call (queue=..., ...)."""
    service, scheduler = _parts(app)
    if campaign is not None:
        scheduler.check_open(campaign)
    call_spec: CallSpec = _convert(spec, CallSpec)
    return await service.place(call_spec, requested_by=requested_by, campaign=campaign)


async def schedule_calls(
    app: Medlytt,
    *,
    name: str,
    count: int,
    ends_at: datetime,
    requested_by: str,
    starts_at: datetime | None = None,
    business_hours: dict[str, str] | None = None,
    time_zone: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """Create a campaign of ``count`` calls at random moments before ``ends_at``."""
    _, scheduler = _parts(app)
    fields = {
        **spec,
        "name": name,
        "calls": count,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "business_hours": business_hours or {},
        "time_zone": time_zone,
    }
    request: CampaignRequest = _convert(
        {k: v for k, v in fields.items() if v is not None}, CampaignRequest
    )
    return await scheduler.create(request, by=requested_by)
