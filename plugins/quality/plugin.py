"""The quality plugin: listening forms, evaluations the agent sees, monitoring plans and
evaluator calibration (docs/quality.md).

Routes (``Authorization: Bearer <token>``; each declares who may call it and which rows
each role sees):

* ``GET/POST /api/forms``, ``GET/PUT /api/forms/{id}``: forms, every version kept
* ``POST/GET /api/evaluations``, ``GET /api/evaluations/{id}``,
  ``POST /api/evaluations/{id}/acknowledge|dispute``, ``GET /api/evaluations/export``,
  ``GET /api/evaluations/access`` (who read which evaluations: a hash-chained trail that
  ``medlytt audit verify`` checks)
* ``GET /api/plans``, ``PUT /api/plans/{team}``, ``GET /api/plans/{team}/status``
* ``POST/GET /api/calibrations``, ``GET /api/calibrations/{id}``,
  ``PUT /api/calibrations/{id}/scores``, ``POST /api/calibrations/{id}/close``,
  ``GET /api/calibrations/{id}/report``
* ``GET /api/quality/goals``: the configured targets and the conflicts between them
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import (
    AuditTrail,
    EvaluationForm,
    Event,
    allow,
    hookimpl,
    json_response,
    medlytt_of,
)
from msgspec import to_builtins
from prometheus_client import CollectorRegistry

from . import api_calibrations as calibrations
from . import api_evaluations as evaluations
from . import api_forms as forms
from . import api_plans as plans
from . import store
from .access_trail import TRAIL
from .events import EVENT_TYPES
from .metrics import QualityCollector
from .service import PLUGIN, QualityService
from .settings import QualitySettings

if TYPE_CHECKING:
    from medlytt import Medlytt


@allow("admin", "supervisor", rows="the center's targets, the same for everyone")
async def goals(request: web.Request) -> web.Response:
    settings: QualitySettings = medlytt_of(request).plugin_config(PLUGIN)
    return json_response({"goals": to_builtins(settings.goals), "warnings": settings.warnings()})


@hookimpl
def medlytt_config_schema() -> type[QualitySettings]:
    return QualitySettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_audit_trails() -> list[AuditTrail]:
    return [TRAIL]


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    """The method's forms (phone technique, call control, feedback on feedback), in
    English and Norwegian bokmål."""
    from .method_forms import method_forms

    return method_forms()


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(QualityCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.get("/api/forms", forms.list_forms),
        web.post("/api/forms", forms.create_form),
        web.get("/api/forms/{id}", forms.get_form),
        web.put("/api/forms/{id}", forms.new_version),
        web.post("/api/evaluations", evaluations.create_evaluation),
        web.get("/api/evaluations", evaluations.list_evaluations),
        web.get("/api/evaluations/export", evaluations.export),
        web.get("/api/evaluations/access", evaluations.list_access),
        web.get("/api/evaluations/{id}", evaluations.get_evaluation),
        web.post("/api/evaluations/{id}/acknowledge", evaluations.acknowledge),
        web.post("/api/evaluations/{id}/dispute", evaluations.dispute),
        web.get("/api/plans", plans.list_plans),
        web.put("/api/plans/{team}", plans.put_plan),
        web.get("/api/plans/{team}/status", plans.plan_status),
        web.post("/api/calibrations", calibrations.create_round),
        web.get("/api/calibrations", calibrations.list_rounds),
        web.get("/api/calibrations/{id}", calibrations.get_round),
        web.put("/api/calibrations/{id}/scores", calibrations.put_scores),
        web.post("/api/calibrations/{id}/close", calibrations.close_round),
        web.get("/api/calibrations/{id}/report", calibrations.report),
        web.get("/api/quality/goals", goals),
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    service = QualityService(app, app.plugin_config(PLUGIN))
    await service.start()
    app.plugin_state[PLUGIN] = service
    app.provide("monitoring_plan", service.plan)


@hookimpl
async def medlytt_shutdown(app: Medlytt) -> None:
    service: QualityService | None = app.plugin_state.get(PLUGIN)
    if service is not None:
        await service.stop()
