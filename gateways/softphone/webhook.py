"""An HTTP webhook for softphones that call a URL on call events.

Many softphones open or request a configured URL when a call rings, connects, is held or
ends, filling in placeholders such as the caller's number (docs/desk.md has templates).
They cannot send Medlytt's bearer token, so the URL itself carries a per-desk secret:
``/api/softphone/hooks/{token}?event=connected&call=ID&peer=NUMBER``.  The token is never
logged, echoed or put in an error; an unknown token is a 404 like any unknown resource.
"""

from __future__ import annotations

import hmac
import itertools
import logging
from typing import Any

from aiohttp import web
from medlytt import HttpError, json_response, medlytt_of, public, utcnow

from .events import PHONE_CALL_STATES, SoftphoneCall
from .settings import SoftphoneSettings

log = logging.getLogger(__name__)

PLUGIN = "softphone"
MAX_FIELD = 200

#: Event names softphones use, lower-cased, and the call state each one means.
EVENT_NAMES: dict[str, str] = {
    **{state: state for state in PHONE_CALL_STATES},
    "ring": "incoming",
    "onincomingcall": "incoming",
    "incoming_call": "incoming",
    "onoutgoingcall": "outgoing",
    "outgoing_call": "outgoing",
    "answer": "established",
    "answered": "established",
    "connected": "established",
    "oncallconnected": "established",
    "hold": "held",
    "oncallhold": "held",
    "unhold": "resumed",
    "resume": "resumed",
    "mute": "muted",
    "unmute": "unmuted",
    "end": "closed",
    "ended": "closed",
    "hangup": "closed",
    "disconnected": "closed",
    "oncalldisconnected": "closed",
}


class WebhookCalls:
    """Which webhook call is current per agent, for phones that send no call id."""

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self._ids = itertools.count(1)

    def call_id(self, agent_id: str, state: str, given: str | None) -> str:
        if given:
            call_id = given
        elif state in ("incoming", "outgoing") or agent_id not in self.current:
            call_id = f"webhook-{next(self._ids)}"
        else:
            call_id = self.current[agent_id]
        if state == "closed":
            self.current.pop(agent_id, None)
        else:
            self.current[agent_id] = call_id
        return call_id


def agent_of(settings: SoftphoneSettings, token: str) -> str | None:
    """The agent whose desk token this is (compared in constant time, every desk tried)."""
    found = None
    for agent, desk in settings.webhook.items():
        if hmac.compare_digest(desk.token.encode(), token.encode()):
            found = agent
    return found


async def _fields(request: web.Request) -> dict[str, str]:
    fields: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise HttpError(422, "the body is not JSON") from None
            if not isinstance(body, dict):
                raise HttpError(422, "the JSON body must be an object")
            fields.update(body)
        else:
            try:
                fields.update(await request.post())
            except UnicodeDecodeError:
                raise HttpError(422, "the form body is not text in its charset") from None
            except (ValueError, LookupError) as exc:  # no multipart boundary, unknown charset
                raise HttpError(
                    422, f"the body is not a form ({request.content_type}): {exc}"
                ) from None
    clean: dict[str, str] = {}
    for key in ("event", "call", "peer", "direction"):
        value = fields.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str | int) or len(str(value)) > MAX_FIELD:
            raise HttpError(422, f"{key} must be text of at most {MAX_FIELD} characters")
        clean[key] = str(value)
    return clean


@public(
    "softphones cannot send a bearer token: the path holds the desk's own webhook token "
    "(an unknown one is 404); it only records that desk's softphone call events"
)
async def softphone_hook(request: web.Request) -> web.Response:
    """A softphone's call event: ``event`` (incoming, connected, hold, mute, disconnected,
    ...), optional ``call`` (the phone's call id), ``peer`` (the other party), ``direction``;
    in the query string (GET) or the body (POST, form or JSON)."""
    try:
        return await _record(request)
    except HttpError:
        raise
    except Exception:
        # Not left to the core's handler: it logs the request path, which holds the token.
        log.exception("softphone webhook: a call event could not be recorded")
        raise HttpError(500, "internal error; see the Medlytt log") from None


async def _record(request: web.Request) -> web.Response:
    app = medlytt_of(request)
    settings: SoftphoneSettings = app.plugin_config(PLUGIN)
    agent = agent_of(settings, request.match_info["token"])
    if agent is None:
        raise HttpError(404, "no softphone desk has this webhook URL")
    fields = await _fields(request)
    name = fields.get("event", "").strip().lower()
    state = EVENT_NAMES.get(name)
    if state is None:
        known = ", ".join(sorted(EVENT_NAMES))
        raise HttpError(422, f"event must be one of {known}; got {name[:40]!r}")
    direction = fields.get("direction", "").lower() or None
    if direction not in (None, "incoming", "outgoing"):
        raise HttpError(422, "direction must be incoming or outgoing")
    calls: WebhookCalls = app.plugin_state.setdefault(f"{PLUGIN}.webhook", WebhookCalls())
    event = SoftphoneCall(
        at=utcnow(),
        source=PLUGIN,
        agent_id=agent,
        device="webhook",
        phone_call_id=calls.call_id(agent, state, fields.get("call")),
        state=state,  # type: ignore[arg-type]  # a value of EVENT_NAMES
        direction=direction,  # type: ignore[arg-type]
        peer=fields.get("peer"),
    )
    app.publish(event)
    return json_response(
        {"accepted": event.type, "state": state, "phone_call_id": event.phone_call_id},
        status=202,
    )
