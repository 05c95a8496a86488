"""The surveys plugin: post-call keypress surveys, their API and metrics.

Routes (``Authorization: Bearer <token>``; agents see only their own; see docs/surveys.md):

* ``GET /api/surveys?queue=&agent=&limit=``: the newest surveys with their answers
* ``GET /api/surveys/scores?queue=&agent=``: per agent and question, count and mean
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import (
    CallAnswered,
    CallControl,
    ChannelEvent,
    Event,
    HttpError,
    allow,
    authenticate,
    hookimpl,
    json_response,
    listens_to,
    medlytt_of,
    query_limit,
    scope_of,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from . import store
from .events import EVENT_TYPES
from .service import SurveyService
from .settings import SurveySettings
from .survey import HUNG_UP, INVALID, NO_ANSWER

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = "surveys"
RESULTS = ("offered", "completed", "incomplete")


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    query = dict(request.query)
    for key in ("queue", "agent"):
        if key in query and not query[key].strip():
            raise HttpError(422, f"{key} must not be empty")
    return query


#: Which surveys each role sees (medlytt.scope_of).
ROWS = (
    "admin: all; supervisor: agents of own teams (all with no team); agent: own surveys "
    "(on a reused agent id: from their start); ?agent= narrows, 403 for an agent not visible"
)


@allow("admin", "supervisor", "agent", rows=ROWS)
async def list_surveys(request: web.Request) -> web.Response:
    """The newest surveys with their answers."""
    app = medlytt_of(request)
    query = _query(request, ("queue", "agent", "limit"))
    limit = query_limit(request, default=100)
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    queue = query.get("queue")
    rows = await app.storage.run(lambda db: store.surveys(db, queue, scope, limit))
    return json_response({"surveys": rows})


@allow("admin", "supervisor", "agent", rows=ROWS)
async def survey_scores(request: web.Request) -> web.Response:
    """Per agent and question: how many answered, and the mean key."""
    app = medlytt_of(request)
    query = _query(request, ("queue", "agent"))
    scope = (await scope_of(app, await authenticate(request))).only(query.get("agent"))
    queue = query.get("queue")
    rows = await app.storage.run(lambda db: store.scores(db, queue, scope))
    return json_response({"queue": queue, "scores": rows})


class SurveyCollector(Collector):
    """Survey counts; every configured queue, question and answer is there from 0."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily]:
        settings: SurveySettings = self.app.plugin_config(PLUGIN)
        service: SurveyService | None = self.app.plugin_state.get(PLUGIN)
        responses: Counter[tuple[str, str, str]] = Counter()
        surveys: Counter[tuple[str, str]] = Counter()
        for queue in settings.queues:
            surveys.update({(queue, result): 0 for result in RESULTS})
            for question in settings.questions:
                answers = [*question.keys, NO_ANSWER, INVALID, HUNG_UP]
                responses.update({(queue, question.id, answer): 0 for answer in answers})
        if service is not None:
            responses.update(service.responses)
            surveys.update(service.surveys)
        response_family = CounterMetricFamily(
            "medlytt_survey_responses",
            "Survey answers by queue, question and answer (a key, no_answer, invalid, hung_up).",
            labels=["queue", "question", "answer"],
        )
        for response, count in sorted(responses.items()):
            response_family.add_metric(list(response), count)
        survey_family = CounterMetricFamily(
            "medlytt_surveys",
            "Surveys by queue and result (offered, completed, incomplete).",
            labels=["queue", "result"],
        )
        for survey, count in sorted(surveys.items()):
            survey_family.add_metric(list(survey), count)
        yield response_family
        yield survey_family


@hookimpl
def medlytt_config_schema() -> type[SurveySettings]:
    return SurveySettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(SurveyCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.get("/api/surveys", list_surveys),
        web.get("/api/surveys/scores", survey_scores),
    ]


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_startup(app: Medlytt) -> None:
    """Claim the ``survey`` role on every gateway with call control; without one, do
    nothing (the demo has none)."""
    if app.call_controls():
        app.plugin_state[PLUGIN] = SurveyService(app, app.plugin_config(PLUGIN))


@hookimpl
@listens_to(CallAnswered, "mystery_call.started")
def medlytt_event(event: Any, app: Medlytt) -> None:
    """Remember answered calls (only their callers are surveyed) and mystery calls (never
    surveyed: a test caller's answers are not a customer's).  Mystery calls are known by
    their event's type tag: this plugin does not import the mystery-calls plugin."""
    service: SurveyService | None = app.plugin_state.get(PLUGIN)
    if service is None:
        return
    if isinstance(event, CallAnswered):
        service.remember(event)
    elif event.type == "mystery_call.started" and getattr(event, "call_id", None):
        service.mystery_calls.add(event.call_id)


@hookimpl
def medlytt_channel_event(event: ChannelEvent, port: CallControl, app: Medlytt) -> None:
    service: SurveyService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        service.on_channel_event(event, port)


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    service: SurveyService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.stop_all()
