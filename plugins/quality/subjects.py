"""What an evaluation is about: a call, a monitoring session, a recording or a mystery call.

Calls and recordings are the core's (:func:`medlytt.answered_call`,
:func:`medlytt.recording_info`).  Monitoring sessions and mystery calls belong to their
plugins, which this plugin never imports: each offers a resolver under
``app.provide("evaluation_subject:<kind>", resolver)``, an async callable taking the
subject's id and returning ``{"agent_id", "call_id", "recording_id", "live"}`` or None
(unknown); it raises ``ValueError`` for a subject that cannot be evaluated yet.  Without
the providing plugin that kind of subject is refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from medlytt import HttpError, answered_call, recording_info

if TYPE_CHECKING:
    from medlytt import Medlytt

KINDS = ("call", "monitoring", "recording", "mystery_call")
Resolver = Callable[[str], Awaitable[dict[str, Any] | None]]


class Subject(msgspec.Struct, frozen=True):
    kind: str
    id: str
    agent_id: str | None
    call_id: str | None = None
    recording_id: str | None = None
    live: bool = False


def parse_subject(value: dict[str, str]) -> tuple[str, str]:
    """``{"recording": "ab12"}`` → ("recording", "ab12"); 422 naming what is wrong."""
    if len(value) != 1:
        raise HttpError(422, f"subject must name exactly one of {', '.join(KINDS)}")
    ((kind, subject_id),) = value.items()
    if kind not in KINDS:
        raise HttpError(422, f"subject kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(subject_id, str) or not subject_id.strip() or len(subject_id) > 200:
        raise HttpError(422, f"subject {kind} must be a non-empty id")
    return kind, subject_id


async def resolve(app: Medlytt, kind: str, subject_id: str) -> Subject:
    """The subject with its agent; 404 when unknown, 409 when not evaluable yet, 503 when
    no plugin provides this kind."""
    if kind == "call":
        call = await answered_call(app, subject_id)
        if call is None:
            raise HttpError(404, f"no answered call {subject_id!r}")
        live = subject_id in app.state.calls
        return Subject(kind, subject_id, call.agent_id, call_id=subject_id, live=live)
    if kind == "recording":
        info = await recording_info(app, subject_id)
        if info is None:
            raise HttpError(404, f"no recording {subject_id!r}")
        return Subject(
            kind, subject_id, info.agent_id, call_id=info.call_id, recording_id=subject_id
        )
    resolver: Resolver | None = app.service(f"evaluation_subject:{kind}")  # type: ignore[assignment]
    if resolver is None:
        raise HttpError(503, f"{kind} subjects need the plugin that owns them, which is not loaded")
    try:
        found = await resolver(subject_id)
    except ValueError as exc:
        raise HttpError(409, f"{kind} {subject_id!r} cannot be evaluated yet: {exc}") from None
    if found is None:
        raise HttpError(404, f"no {kind.replace('_', ' ')} {subject_id!r}")
    return Subject(
        kind,
        subject_id,
        found.get("agent_id"),
        call_id=found.get("call_id"),
        recording_id=found.get("recording_id"),
        live=bool(found.get("live")),
    )
