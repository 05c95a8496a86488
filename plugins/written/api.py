"""``/api/texts``: agents' texts submitted, scored, listed, and each agent's trend.

* ``POST /api/texts`` ``{"agent", "kind", "language", "text"}``: score a text (an agent
  submits their own; a supervisor those of their teams' agents; an admin anyone's)
* ``GET /api/texts?agent=&kind=&limit=``: the scored texts, newest first
* ``GET /api/texts/trend?agent=&by=week``: per agent and period, the mean of each figure
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    Forbidden,
    HttpError,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    query_limit,
    read_json,
    scope_of,
    utcnow,
)

from . import store
from .events import TextScored
from .passive import LANGUAGES
from .scoring import score_text, text_hash
from .settings import WrittenSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "written"
MODULE = "written-communication"
#: What a text is: the method's "tests on e-mails, case notes and letters", chat, and the
#: templates module 7 asks a center to improve.
KINDS = ("email", "case_note", "chat", "letter", "template")
ROWS = (
    "admin: all; supervisor: texts of agents of own teams (all with no team); agent: own "
    "texts (on a reused agent id: from their start); ?agent= narrows, 403 for an agent not "
    "visible"
)


class TextBody(msgspec.Struct, forbid_unknown_fields=True):
    """A text to score."""

    agent: str
    kind: str
    language: str
    text: str


def _check(body: TextBody, settings: WrittenSettings) -> None:
    if not body.agent.strip() or len(body.agent) > 200:
        raise HttpError(422, "agent must be the agent id the text is by, e.g. 'PJSIP/1001'")
    if body.kind not in KINDS:
        raise HttpError(422, f"kind must be one of {', '.join(KINDS)}, got {body.kind!r}")
    if body.language not in LANGUAGES:
        raise HttpError(
            422, f"language must be one of {', '.join(LANGUAGES)}, got {body.language!r}"
        )
    if len(body.text) > settings.max_characters:
        raise HttpError(
            422,
            f"text has {len(body.text)} characters; at most {settings.max_characters} "
            "([written] max_characters)",
        )
    if not any(ch.isalpha() for ch in body.text):
        raise HttpError(422, "text must contain words")


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    return dict(request.query)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def submit_text(request: web.Request) -> web.Response:
    """Score a text and keep its scores (and the text only with ``keep_text``)."""
    app = medlytt_of(request)
    settings: WrittenSettings = app.plugin_config(PLUGIN)
    actor = await authenticate(request)
    body = await read_json(request, TextBody)
    _check(body, settings)
    if actor.role == "agent" and body.agent != actor.agent_id:
        raise Forbidden("an agent may submit only their own texts")
    if not (await scope_of(app, actor)).sees(body.agent):
        raise Forbidden(f"you may not submit texts of agent {body.agent!r}")
    if not app.modules.active_for_agent(MODULE, body.agent):
        raise HttpError(
            409,
            f"the module {MODULE!r} is not switched on for a team of agent {body.agent!r}: "
            f'PUT /api/teams/{{team}}/modules/{MODULE} {{"active": true}}',
        )
    now = utcnow()
    row: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "at": now.isoformat(),
        "agent_id": body.agent,
        "kind": body.kind,
        "language": body.language,
        "sha256": text_hash(body.text),
        "submitted_by": actor.name,
        **score_text(body.text, body.language),
        "text": body.text if settings.keep_text else None,
    }
    await app.storage.run(lambda db: store.insert_text(db, row))
    _count(app, row)
    app.publish(
        TextScored(
            at=now,
            source=PLUGIN,
            text_id=row["id"],
            agent_id=body.agent,
            kind=body.kind,
            language=body.language,
            lix=row["lix"],
            passive_share=row["passive_share"],
            submitted_by=actor.name,
        )
    )
    return json_response(row, status=201)


def _count(app: Medlytt, row: dict[str, Any]) -> None:
    totals: dict[tuple[str, str], list[float]] | None = app.plugin_state.get(PLUGIN)
    if totals is None:
        return
    figures = totals.setdefault((row["kind"], row["language"]), [0, 0.0, 0, 0])
    figures[0] += 1
    figures[1] += row["lix"]
    figures[2] += row["sentences"]
    figures[3] += row["passive_sentences"]


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_texts(request: web.Request) -> web.Response:
    """The scored texts, newest first; ``text`` is null unless ``keep_text`` is on."""
    app = medlytt_of(request)
    query = _query(request, ("agent", "kind", "limit"))
    limit = query_limit(request, default=100)
    kind = query.get("kind")
    if kind is not None and kind not in KINDS:
        raise HttpError(422, f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    rows = await app.storage.run(lambda db: store.texts(db, scope, kind, limit))
    return json_response({"texts": rows})


@allow("admin", "supervisor", "agent", rows=ROWS)
async def trend(request: web.Request) -> web.Response:
    """Per agent and period (``?by=day|week|month``, default week): texts and mean figures."""
    app = medlytt_of(request)
    query = _query(request, ("agent", "by"))
    by = query.get("by", "week")
    if by not in store.PERIODS:
        raise HttpError(422, f"by must be one of {', '.join(store.PERIODS)}, got {by!r}")
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    rows = await app.storage.run(lambda db: store.trend(db, scope, by))
    return json_response({"by": by, "trend": rows})
