"""An evaluation's score from its form: weights, N/A left out, critical items.

Each scored item counts as its position on its scale (0 at the scale's minimum, 1 at its
maximum) times its weight; the score is the weighted mean in percent over the items that
are not N/A.  A critical item scored below its threshold (``FormItem.fails``) fails the
whole evaluation: ``passed`` is false and ``score`` is 0, while ``raw_score`` keeps what the
items alone would give, so the agent sees both.  Every item must be given (a number or
``"na"``): an evaluation that silently skips an item would score a different form.
"""

from __future__ import annotations

from typing import Any

import msgspec
from medlytt import EvaluationForm, FormItem

NA = "na"


class ScoreError(ValueError):
    """Scores that do not fit the form; the message names the item."""


class Result(msgspec.Struct, frozen=True):
    """What a set of scores gives on a form."""

    score: float | None
    raw_score: float | None
    passed: bool
    failed_critical: tuple[str, ...]
    scores: dict[str, int | str]


def _items(form: EvaluationForm) -> dict[str, FormItem]:
    return {item.id: item for section in form.sections for item in section.items}


def check_scores(form: EvaluationForm, scores: dict[str, Any]) -> dict[str, int | str]:
    """The scores as stored (ints and ``"na"``); :class:`ScoreError` naming the first
    item that is unknown, missing, N/A where not allowed, or off its scale."""
    items = _items(form)
    unknown = sorted(set(scores) - set(items))
    if unknown:
        raise ScoreError(f"form {form.id!r} has no item {unknown[0]!r}")
    missing = [item_id for item_id in items if item_id not in scores]
    if missing:
        raise ScoreError(
            f"item {missing[0]!r} has no score: give every item of form {form.id!r} a value "
            f'or "na" ({len(missing)} missing)'
        )
    checked: dict[str, int | str] = {}
    for item_id, item in items.items():
        value = scores[item_id]
        if value == NA:
            if not item.allow_na:
                raise ScoreError(f"item {item_id!r} may not be N/A")
            checked[item_id] = NA
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            or_na = ' or "na"' if item.allow_na else ""
            raise ScoreError(
                f"item {item_id!r} must be a whole number from {item.scale.min} to "
                f"{item.scale.max}{or_na}, got {value!r}"
            )
        if not item.scale.min <= value <= item.scale.max:
            raise ScoreError(
                f"item {item_id!r} must be from {item.scale.min} to {item.scale.max}, got {value}"
            )
        checked[item_id] = value
    return checked


def score(form: EvaluationForm, scores: dict[str, Any]) -> Result:
    """Check ``scores`` against ``form`` and compute the result (module docstring)."""
    checked = check_scores(form, scores)
    items = _items(form)
    total = weights = 0.0
    failed: list[str] = []
    for item_id, value in checked.items():
        if value == NA:
            continue
        item = items[item_id]
        assert isinstance(value, int)
        span = item.scale.max - item.scale.min
        total += item.weight * ((value - item.scale.min) / span if span else 1.0)
        weights += item.weight
        if item.fails(value):
            failed.append(item_id)
    raw = round(100 * total / weights, 4) if weights else None
    passed = not failed
    return Result(
        score=raw if passed or raw is None else 0.0,
        raw_score=raw,
        passed=passed,
        failed_critical=tuple(failed),
        scores=checked,
    )


def check_form(form: EvaluationForm) -> None:
    """Refuse a form a score could not be computed on; the message names the item."""
    if not form.sections:
        raise ScoreError(f"form {form.id!r} has no sections")
    seen: set[str] = set()
    for section in form.sections:
        if not section.items:
            raise ScoreError(f"section {section.title!r} of form {form.id!r} has no items")
        for item in section.items:
            if item.id in seen:
                raise ScoreError(f"item id {item.id!r} appears twice in form {form.id!r}")
            seen.add(item.id)
            if item.scale.max <= item.scale.min:
                raise ScoreError(
                    f"item {item.id!r}: scale max ({item.scale.max}) must be above its min "
                    f"({item.scale.min})"
                )
            if item.weight < 0:
                raise ScoreError(f"item {item.id!r}: weight must not be negative")
            if item.fail_below is not None and not (
                item.scale.min < item.fail_below <= item.scale.max
            ):
                raise ScoreError(
                    f"item {item.id!r}: fail_below must be above the scale's min and at most "
                    f"its max"
                )
