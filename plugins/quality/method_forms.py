"""The method's own forms, shipped with the plugin as data in ``method_forms/*.toml``.

The listening form for phone technique (module 2), the call-control form with the call's
four phases (module 3) and the feedback-on-feedback form for coaches, each in English and
Norwegian bokmål (DOMAIN.md sections 1 and 5).  They are TOML rather than Python so that a
contact center can read them, go through them item by item with its agents, and propose
changes without reading code.

A translation is the same form in another language: the file ``ID-LANG.toml`` holds the
form ``ID-LANG`` with the same sections, item ids, scales (bounds and labelled points),
weights, N/A and critical flags as ``ID.toml`` in English; only the words differ.  The
loader checks that, so that a score given on one language's form means the same on the
other's, and a calibration round may mix evaluators who read different languages.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import msgspec
from medlytt import EvaluationForm, FormItem

#: The languages a method form is shipped in; English is the one translations follow.
LANGUAGES = ("en", "nb")
SOURCE_LANGUAGE = "en"
#: Ids of forms, sections and items: lower case words joined by hyphens, safe in URLs.
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class MethodFormError(ValueError):
    """A method form file that cannot be used; the message names the file and the key."""


def _folder() -> Traversable:
    return resources.files(__package__ or __name__.rpartition(".")[0]) / "method_forms"


def method_forms(folder: Traversable | None = None) -> list[EvaluationForm]:
    """Every form in ``folder`` (default: the shipped ``method_forms/``), checked.

    Ordered by id, each English form before its translations.  Raises
    :class:`MethodFormError` for the first problem found.
    """
    folder = folder or _folder()
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name.removesuffix(".toml"),  # a form before its translations
    )
    forms = {entry.name: load_form(entry) for entry in files}
    check_translations(forms)
    return list(forms.values())


def load_form(file: Traversable) -> EvaluationForm:
    """One form file: parsed, converted to an :class:`EvaluationForm` and checked."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise MethodFormError(f"{file.name}: not valid TOML: {error}") from None
    try:
        form = msgspec.convert(data, EvaluationForm)
    except msgspec.ValidationError as error:
        # msgspec names the key, e.g. "Expected `int`, got `str` - at `$.sections[0]...`".
        raise MethodFormError(f"{file.name}: {error}") from None
    for where, problem in _problems(form, file.name.removesuffix(".toml")):
        raise MethodFormError(f"{file.name}: {where}: {problem}")
    return form


def _problems(form: EvaluationForm, stem: str) -> list[tuple[str, str]]:
    """Each problem of a converted form as (key, what is wrong)."""
    problems: list[tuple[str, str]] = []
    if form.id != stem:
        problems.append(("id", f"{form.id!r} must be the file's name without .toml, {stem!r}"))
    if form.language not in LANGUAGES:
        problems.append(("language", f"{form.language!r} is not one of {', '.join(LANGUAGES)}"))
    if form.version < 1:
        problems.append(("version", f"{form.version} must be 1 or more"))
    if not form.title.strip():
        problems.append(("title", "must not be empty"))
    if not form.sections:
        problems.append(("sections", "a form needs at least one section"))
    seen_sections: dict[str, str] = {}
    seen_items: dict[str, str] = {}
    for s, section in enumerate(form.sections):
        key = f"sections[{s}]"
        if not _ID.match(section.id):
            problems.append((f"{key}.id", f"{section.id!r} is not an id like 'opening'"))
        elif section.id in seen_sections:
            problems.append((f"{key}.id", f"{section.id!r} is also {seen_sections[section.id]}"))
        seen_sections.setdefault(section.id, f"{key}.id")
        if not section.title.strip():
            problems.append((f"{key}.title", "must not be empty"))
        if not section.items:
            problems.append((f"{key}.items", "a section needs at least one item"))
        for i, item in enumerate(section.items):
            item_key = f"{key}.items[{i}]"
            if item.id in seen_items:
                problems.append((f"{item_key}.id", f"{item.id!r} is also {seen_items[item.id]}"))
            seen_items.setdefault(item.id, f"{item_key}.id")
            problems.extend(_item_problems(item, item_key))
    return problems


def _item_problems(item: FormItem, key: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not _ID.match(item.id):
        problems.append((f"{key}.id", f"{item.id!r} is not an id like 'greeting'"))
    for field in ("text", "guidance"):
        if not getattr(item, field).strip():
            problems.append((f"{key}.{field}", "must not be empty: say what is scored and how"))
    low, high = item.scale.min, item.scale.max
    if low >= high:
        problems.append((f"{key}.scale", f"min {low} must be below max {high}"))
    for point in item.scale.labels:
        if not re.fullmatch(r"-?[0-9]+", point) or not low <= int(point) <= high:
            problems.append(
                (f"{key}.scale.labels", f"{point!r} is not a point of the scale {low}..{high}")
            )
    if not item.weight > 0:
        problems.append((f"{key}.weight", f"{item.weight} must be above 0"))
    return problems


def _shape(form: EvaluationForm) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """What a translation must keep: per section its id and its items' ids and scoring."""
    return [
        (
            section.id,
            [
                (
                    item.id,
                    item.scale.min,
                    item.scale.max,
                    sorted(item.scale.labels),
                    item.weight,
                    item.allow_na,
                    item.critical,
                )
                for item in section.items
            ],
        )
        for section in form.sections
    ]


def check_translations(forms: dict[str, EvaluationForm]) -> None:
    """Every form in another language than English matches its English form.

    ``forms`` maps file names to forms.  A form ``ID-LANG`` needs the English form ``ID``,
    the same module, and the same sections, items and scoring (see the module docstring).
    """
    by_id = {form.id: (name, form) for name, form in forms.items()}
    for name, form in forms.items():
        if form.language == SOURCE_LANGUAGE:
            continue
        suffix = f"-{form.language}"
        if not form.id.endswith(suffix):
            raise MethodFormError(f"{name}: id: {form.id!r} must end in {suffix!r}")
        source_id = form.id.removesuffix(suffix)
        if source_id not in by_id or by_id[source_id][1].language != SOURCE_LANGUAGE:
            raise MethodFormError(f"{name}: id: no English form {source_id!r} to translate")
        source_name, source = by_id[source_id]
        if form.module != source.module:
            raise MethodFormError(
                f"{name}: module: {form.module!r} differs from {source_name}'s {source.module!r}"
            )
        _compare_shapes(name, form, source_name, source)


def _compare_shapes(
    name: str, form: EvaluationForm, source_name: str, source: EvaluationForm
) -> None:
    """Raise for the first section or item where a translation differs from its source."""
    ours, theirs = _shape(form), _shape(source)
    if [s for s, _ in ours] != [s for s, _ in theirs]:
        raise MethodFormError(
            f"{name}: sections: ids {[s for s, _ in ours]} differ from {source_name}'s "
            f"{[s for s, _ in theirs]}"
        )
    fields = ("id", "scale.min", "scale.max", "scale.labels", "weight", "allow_na", "critical")
    for s, ((_, items), (_, source_items)) in enumerate(zip(ours, theirs, strict=True)):
        if [item[0] for item in items] != [item[0] for item in source_items]:
            raise MethodFormError(
                f"{name}: sections[{s}].items: ids {[item[0] for item in items]} differ from "
                f"{source_name}'s {[item[0] for item in source_items]}"
            )
        for i, (item, source_item) in enumerate(zip(items, source_items, strict=True)):
            for field, value, expected in zip(fields, item, source_item, strict=True):
                if value != expected:
                    raise MethodFormError(
                        f"{name}: sections[{s}].items[{i}].{field}: {value!r} differs from "
                        f"{source_name}'s {expected!r}"
                    )
