"""Competence module 2, phone technique (telefonteknikk): per-call facts from events.

For each answered call of an agent whose team has the module on: how long the phone rang
before the answer, seconds from answer to the agent's first words (talk detection), holds
(count and time), headset mutes (count and time; *unknown*, not zero, for an agent without
a headset signal) and transfers; per agent, the distribution of each.  The listening forms
are the quality plugin's method forms ``phone-technique`` and ``phone-technique-nb``.
See docs/phone-technique.md.

Routes (``Authorization: Bearer <token>``):

* ``GET /api/phone-technique?agent=&since=&limit=``: per-call rows and per-agent summaries
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import (
    CompetenceModule,
    Event,
    allow,
    authenticate,
    hookimpl,
    json_response,
    listens_to,
    medlytt_of,
    query_limit,
    query_since,
    scope_of,
)
from prometheus_client import CollectorRegistry

from . import store
from .settings import PhoneTechniqueSettings
from .tracker import FOLLOWED, MODULE_ID, PLUGIN, PhoneMetrics, PhoneTechniqueTracker

if TYPE_CHECKING:
    from medlytt import Medlytt

MODULE = CompetenceModule(
    id=MODULE_ID,
    number=2,
    title="Phone technique",
    titles={"nb": "Telefonteknikk"},
    summary=(
        "Ring time, first words, holds, mutes and transfers per call, and their "
        "distribution per agent."
    ),
    forms=("phone-technique", "phone-technique-nb"),
    measures=(
        "medlytt_phone_ring_seconds",
        "medlytt_phone_first_words_seconds",
        "medlytt_phone_hold_seconds",
        "medlytt_phone_mutes_total",
        "medlytt_phone_transfers_total",
    ),
)
QUERY = ("agent", "since", "limit")
ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own calls "
    "(on a reused agent id: from their start); ?agent= narrows, 403 for an agent not visible"
)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def phone_technique(request: web.Request) -> web.Response:
    """Per-call facts (newest first, at most ``limit``) and per-agent distributions (over
    every call since ``since``)."""
    app = medlytt_of(request)
    since = query_since(request, QUERY)
    limit = query_limit(request, default=200)
    scope = (await scope_of(app, await authenticate(request))).only(request.query.get("agent"))

    def read(db: Any) -> dict[str, Any]:
        return {
            "since": since,
            "calls": store.calls(db, scope, since, limit),
            "agents": store.agent_summaries(db, scope, since),
        }

    return json_response(await app.storage.run(read))


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [MODULE]


@hookimpl
def medlytt_config_schema() -> type[PhoneTechniqueSettings]:
    return PhoneTechniqueSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    tracker = PhoneTechniqueTracker(app, app.plugin_config(PLUGIN))
    tracker.metrics = PhoneMetrics(registry, tracker.settings)
    app.plugin_state[PLUGIN] = tracker


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [web.get("/api/phone-technique", phone_technique)]


@hookimpl
@listens_to(*FOLLOWED)
async def medlytt_event(event: Event, app: Medlytt) -> None:
    tracker: PhoneTechniqueTracker | None = app.plugin_state.get(PLUGIN)
    if tracker is not None:
        await tracker.on_event(event)
