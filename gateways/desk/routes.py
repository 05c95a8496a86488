"""``GET /api/desk/calls/{call_id}``: a PBX call joined with its agent's desk."""

from __future__ import annotations

from aiohttp import web
from medlytt import HttpError, allow, authenticate, json_response, medlytt_of, scope_of

from .join import DeskJoin

ROWS = (
    "agent: own calls (on a reused agent id: from their start); supervisor: calls of own "
    "teams' agents; admin: all"
)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def call_desk(request: web.Request) -> web.Response:
    """What the agent's desk did during one call: seconds muted and when, hook changes,
    the softphone's own record of the call, and how each was matched."""
    app = medlytt_of(request)
    call_id = request.match_info["call_id"]
    summary = app.state.slot(DeskJoin).summary(call_id)
    if summary is None:
        raise HttpError(404, "no answered call with this id is known to the desk join")
    scope = await scope_of(app, await authenticate(request))
    if not scope.sees(summary["agent_id"], summary["answered_at"].isoformat()):
        raise HttpError(403, f"you may not see the calls of agent {summary['agent_id']!r}")
    return json_response(summary)
