"""``/api/forms``: the forms evaluations are made with, every version kept.

Agents may read every form: seed 004 asks that agents know exactly what they are scored
on, item by item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from medlytt import (
    EvaluationForm,
    FormSection,
    HttpError,
    allow,
    authenticate,
    json_response,
    medlytt_of,
    read_json,
)

from .catalogue import check_form_id

if TYPE_CHECKING:
    from .service import QualityService

PLUGIN = "quality"
READ_ROWS = "every form and version (agents are told what they are scored on)"


class FormBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new form or a new version of one; the version number is Medlytt's to give."""

    title: str
    sections: tuple[FormSection, ...]
    id: str | None = None
    module: str | None = None
    language: str = "en"


def service_of(request: web.Request) -> QualityService:
    service: QualityService | None = medlytt_of(request).plugin_state.get(PLUGIN)
    if service is None:
        raise HttpError(503, "the quality plugin has not started")
    return service


def form_json(service: QualityService, form: EvaluationForm) -> dict[str, Any]:
    return {
        **msgspec.to_builtins(form),
        "versions": sorted(service.forms.versions.get(form.id, {})),
        "created_by": service.forms.authors.get((form.id, form.version)),
    }


@allow("admin", "supervisor", "agent", rows=READ_ROWS)
async def list_forms(request: web.Request) -> web.Response:
    """The newest version of every form; ``?module=`` and ``?language=`` narrow."""
    service = service_of(request)
    unknown = sorted(set(request.query) - {"module", "language"})
    if unknown:
        raise HttpError(422, f"unknown query parameter {unknown[0]!r}; use module, language")
    forms = [
        form
        for form in service.forms.all_latest()
        if request.query.get("module", form.module) == form.module
        and request.query.get("language", form.language) == form.language
    ]
    return json_response({"forms": [form_json(service, f) for f in forms]})


@allow("admin", "supervisor", "agent", rows=READ_ROWS)
async def get_form(request: web.Request) -> web.Response:
    """Every version of one form, oldest first."""
    service = service_of(request)
    form_id = request.match_info["id"]
    versions = service.forms.versions.get(form_id)
    if not versions:
        raise HttpError(404, f"no form {form_id!r}")
    return json_response(
        {"id": form_id, "versions": [msgspec.to_builtins(versions[v]) for v in sorted(versions)]}
    )


async def _store(request: web.Request, form_id: str, body: FormBody) -> web.Response:
    service = service_of(request)
    actor = await authenticate(request)
    try:
        check_form_id(form_id)
        form = EvaluationForm(
            id=form_id,
            version=0,
            title=body.title,
            sections=body.sections,
            module=body.module,
            language=body.language,
        )
        stored = await service.forms.add(medlytt_of(request), form, actor.name)
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    return json_response(form_json(service, stored), status=201)


@allow("admin", "supervisor", rows="forms are shared by every team")
async def create_form(request: web.Request) -> web.Response:
    """A new form (version 1); 409 when the id exists (``PUT`` makes a new version)."""
    body: FormBody = await read_json(request, FormBody)
    if body.id is None:
        raise HttpError(422, "id is required for a new form")
    if body.id in service_of(request).forms.versions:
        raise HttpError(
            409, f"form {body.id!r} exists; PUT /api/forms/{body.id} makes a new version"
        )
    return await _store(request, body.id, body)


@allow("admin", "supervisor", rows="forms are shared by every team")
async def new_version(request: web.Request) -> web.Response:
    """The next version of a form; evaluations made with earlier ones keep theirs."""
    form_id = request.match_info["id"]
    body: FormBody = await read_json(request, FormBody)
    if body.id is not None and body.id != form_id:
        raise HttpError(422, f"the body's id {body.id!r} differs from the path's {form_id!r}")
    if form_id not in service_of(request).forms.versions:
        raise HttpError(404, f"no form {form_id!r}; POST /api/forms creates one")
    return await _store(request, form_id, body)
