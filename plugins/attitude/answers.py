"""Checking a colleague's or an agent's answers against a form, and adding answers up.

Both the 360° round and the well-being check-in show only aggregates: per item how many
answered, the mean and how many gave each value of the scale.  An aggregate is a function
of the *set* of answers alone (comments are sorted, nothing keeps the order the answers came
in), so the same answers given by other people, or in another order, read the same: that is
what makes them anonymous to whoever reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from medlytt import EvaluationForm, FormItem, HttpError


def items_of(form: EvaluationForm) -> list[FormItem]:
    return [item for section in form.sections for item in section.items]


def check_scores(form: EvaluationForm, scores: Mapping[str, int | None]) -> dict[str, int | None]:
    """``scores`` (item id → value, or null for N/A where the item allows it) for every item
    of ``form``; 422 naming the first item missing, unknown or out of its scale."""
    items = {item.id: item for item in items_of(form)}
    unknown = sorted(set(scores) - set(items))
    if unknown:
        raise HttpError(
            422, f"unknown item {unknown[0]!r} for form {form.id!r}; its items: {', '.join(items)}"
        )
    checked: dict[str, int | None] = {}
    for item_id, item in items.items():
        if item_id not in scores:
            raise HttpError(422, f"scores must answer item {item_id!r} of form {form.id!r}")
        value = scores[item_id]
        if value is None:
            if not item.allow_na:
                raise HttpError(422, f"item {item_id!r} needs a value; it allows no N/A (null)")
        elif isinstance(value, bool) or not isinstance(value, int):
            raise HttpError(422, f"item {item_id!r} takes a whole number, got {value!r}")
        elif not item.scale.min <= value <= item.scale.max:
            raise HttpError(
                422,
                f"item {item_id!r} takes {item.scale.min} to {item.scale.max}, got {value}",
            )
        checked[item_id] = value
    return checked


def aggregate(
    form: EvaluationForm, answers: Iterable[Mapping[str, Any]], comments: Iterable[str] = ()
) -> dict[str, Any]:
    """Per section and item: answers (N/A not counted), N/A, mean and the count of each
    scale value; the comments sorted (never in the order they came in)."""
    rows = list(answers)
    sections = []
    for section in form.sections:
        items = []
        for item in section.items:
            values = [row[item.id] for row in rows if row.get(item.id) is not None]
            items.append(
                {
                    "id": item.id,
                    "text": item.text,
                    "answers": len(values),
                    "na": sum(1 for row in rows if row.get(item.id) is None),
                    "mean": round(sum(values) / len(values), 2) if values else None,
                    "distribution": {
                        str(v): values.count(v) for v in range(item.scale.min, item.scale.max + 1)
                    },
                }
            )
        sections.append({"id": section.id, "title": section.title, "items": items})
    return {
        "answers": len(rows),
        "sections": sections,
        "comments": sorted(c for c in comments if c),
    }
