"""Every form version Medlytt knows: shipped by plugins, or made through the API.

A form version, once stored, never changes: a shipped form is copied into the database the
first time Medlytt sees it, and an edit through the API stores the next version.  A plugin
that later ships different content under a version number already stored is not allowed
to rewrite it: the stored one stays and a warning names the form (ship a new version).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING, Any

import msgspec
from medlytt import EvaluationForm, utcnow

from . import store
from .scoring import check_form

if TYPE_CHECKING:
    from medlytt import Medlytt

log = logging.getLogger(__name__)

#: Form ids are URL path parts and metric label values: keep them plain.
FORM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

_encoder = msgspec.json.Encoder()


def check_form_id(form_id: str) -> str:
    if not FORM_ID.match(form_id):
        raise ValueError(
            f"form id must be 1-64 lowercase letters, digits, '-' or '_', got {form_id!r}"
        )
    return form_id


class FormCatalogue:
    """The stored form versions, in memory (forms are few and read on every evaluation)."""

    def __init__(self) -> None:
        self.versions: dict[str, dict[int, EvaluationForm]] = {}
        self.authors: dict[tuple[str, int], str] = {}

    async def load(self, app: Medlytt) -> None:
        """Copy shipped forms in (module docstring), then read every stored version."""
        for form in sorted(app.forms.values(), key=lambda f: (f.id, f.version)):
            try:
                check_form_id(form.id)
                check_form(form)
            except ValueError as exc:
                log.error("shipped form %s v%s refused: %s", form.id, form.version, exc)
                continue
            shipped_row: dict[str, Any] = {
                "id": form.id,
                "version": form.version,
                "created_at": utcnow().isoformat(),
                "created_by": "plugin",
                "body": _encoder.encode(form).decode(),
            }
            await app.storage.run(functools.partial(store.insert_form, row=shipped_row))
        rows: list[dict[str, Any]] = await app.storage.run(store.form_rows)
        shipped = {(f.id, f.version): f for f in app.forms.values()}
        for row in rows:
            form = msgspec.json.decode(row["body"], type=EvaluationForm)
            key = (form.id, form.version)
            if key in shipped and shipped[key] != form:
                log.warning(
                    "form %s version %s shipped by a plugin differs from the stored one; the "
                    "stored version is kept (a changed form needs a new version number)",
                    form.id,
                    form.version,
                )
            self.versions.setdefault(form.id, {})[form.version] = form
            self.authors[key] = row["created_by"]

    def latest(self, form_id: str) -> EvaluationForm | None:
        versions = self.versions.get(form_id)
        return versions[max(versions)] if versions else None

    def get(self, form_id: str, version: int) -> EvaluationForm | None:
        return self.versions.get(form_id, {}).get(version)

    def all_latest(self) -> list[EvaluationForm]:
        return [
            self.versions[form_id][max(self.versions[form_id])] for form_id in sorted(self.versions)
        ]

    async def add(self, app: Medlytt, form: EvaluationForm, author: str) -> EvaluationForm:
        """Store ``form`` as the next version of its id (1 for a new id)."""
        check_form_id(form.id)
        check_form(form)
        current = self.versions.get(form.id, {})
        form = msgspec.structs.replace(form, version=max(current, default=0) + 1)
        row = {
            "id": form.id,
            "version": form.version,
            "created_at": utcnow().isoformat(),
            "created_by": author,
            "body": _encoder.encode(form).decode(),
        }
        if not await app.storage.run(lambda db: store.insert_form(db, row)):
            raise ValueError(f"form {form.id!r} version {form.version} exists already")
        self.versions.setdefault(form.id, {})[form.version] = form
        self.authors[(form.id, form.version)] = author
        return form
