"""Evaluation forms as versioned data.

A listening form (the method's *medlyttsskjema*) is a list of sections with items a
coach scores.  Plugins provide forms through the ``medlytt_forms`` hook; evaluations will
refer to a form by ``(form_id, version)`` so a changed form never rewrites old scores.
"""

from __future__ import annotations

import tomllib
from importlib import resources

import msgspec


class Scale(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The values an item can be scored with, e.g. 1..5 or yes/no (0..1)."""

    min: int = 1
    max: int = 5
    labels: dict[str, str] = msgspec.field(default_factory=dict)


class FormItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One thing a coach scores, phrased so that it leaves no room for opinion."""

    id: str
    text: str
    scale: Scale = Scale()
    weight: float = 1.0
    allow_na: bool = False
    critical: bool = False
    guidance: str = ""
    #: For a critical item: the evaluation fails when the item is scored below this.
    #: None: the scale's maximum on a two-point (yes/no) scale, else its midpoint.
    fail_below: int | None = None

    def fails(self, value: int) -> bool:
        """Whether ``value`` on this (critical) item fails the whole evaluation."""
        if not self.critical:
            return False
        scale = self.scale
        threshold = self.fail_below
        if threshold is None:
            span = scale.max - scale.min
            threshold = scale.max if span == 1 else scale.min + (span + 1) // 2
        return value < threshold


class FormSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A group of items, e.g. one phase of the call."""

    title: str
    items: tuple[FormItem, ...]
    id: str = ""


class EvaluationForm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A versioned evaluation form; ``module`` names the competence module it serves."""

    id: str
    version: int
    title: str
    sections: tuple[FormSection, ...]
    module: str | None = None
    language: str = "en"

    def item_ids(self) -> list[str]:
        """All item ids in order; they must be unique within the form."""
        return [item.id for section in self.sections for item in section.items]


class FormFileError(ValueError):
    """A form file that cannot be read as a form; the message names the file and the key."""


def shipped_forms(package: str, folder: str = "forms") -> list[EvaluationForm]:
    """The forms a plugin ships as data: every ``*.toml`` in ``folder`` of ``package``
    (a form per file, the keys of :class:`EvaluationForm`), sorted by file name so a form
    comes before its translations (``id.toml``, ``id-nb.toml``).

    Forms as TOML let a contact center read them and propose changes without reading
    code; a plugin returns ``shipped_forms(__package__)`` from ``medlytt_forms`` and lists
    the files in its package data.  Raises :class:`FormFileError` naming the file.
    """
    files = sorted(
        (entry for entry in (resources.files(package) / folder).iterdir()),
        key=lambda entry: entry.name,
    )
    forms = []
    for entry in files:
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            forms.append(msgspec.convert(data, EvaluationForm))
        except (tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
            raise FormFileError(f"{package}/{folder}/{entry.name}: {error}") from None
    return forms
