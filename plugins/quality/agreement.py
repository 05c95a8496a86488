"""How far a calibration round's evaluators agree: Krippendorff's alpha and its companions.

The method asks that every evaluator scores the same ~10 recordings and that the results
are compared item by item, so that an item worded loosely enough to leave room for opinion
shows up and gets rewritten (DOMAIN.md section 5).  Per item this module gives:

- **Krippendorff's alpha** at the item's level of measurement, computed through the
  coincidence matrix exactly as in Krippendorff, K. (2011), *Computing Krippendorff's
  Alpha-Reliability*, Annenberg School for Communication Departmental Papers 43,
  https://repository.upenn.edu/asc_papers/43 .  Alpha corrects for the agreement that
  chance alone would give and copes with evaluators who skipped a subject (missing values);
- **percent agreement**, the share of pairable value pairs that agree: easy to explain to an
  agent, but blind to chance;
- each evaluator's **mean absolute deviation** from the others: who scores harder or softer.

A reliability data matrix here is a sequence of rows, one per coder (evaluator), each a
sequence of values, one per unit (subject); ``None`` marks a value the coder did not give.
Arithmetic is exact (:class:`fractions.Fraction`) so results do not depend on the order
values come in; the public functions return floats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import combinations
from typing import Literal, TypeAlias, cast

from medlytt import FormItem

Level: TypeAlias = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
#: A value a coder gave a unit; ``None`` when they gave none.  Nominal values may be any
#: hashable (e.g. strings); the other levels need numbers.
Value: TypeAlias = Hashable | None
ReliabilityData: TypeAlias = Sequence[Sequence[Value]]
#: A value as kept inside: exact, so that sums of coincidences are exact.
_Exact: TypeAlias = Hashable
Coincidences: TypeAlias = dict[tuple[_Exact, _Exact], Fraction]

#: Krippendorff's lowest acceptable alpha, "for drawing tentative conclusions" (Krippendorff,
#: 2004, *Content Analysis*, 2nd ed., p. 241).  An item below it is flagged for clearer wording.
ALPHA_FLAG_BELOW = 0.667
#: What counts as a missing value in a calibration score (the item did not apply).
NOT_APPLICABLE = "na"


def _number(value: Hashable, level: Level) -> Fraction:
    """A value at the ordinal, interval or ratio level as an exact number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise ValueError(f"a value at the {level} level must be a number, not {value!r}")
    if isinstance(value, float) and value != value:  # NaN
        raise ValueError("NaN is not a value: give None for a missing value")
    if level == "ratio" and value < 0:
        raise ValueError(f"a value at the ratio level must not be negative, not {value!r}")
    return Fraction(value)


def _exact(value: Hashable, level: Level) -> _Exact:
    """The value as kept inside: nominal values as they are, the others as exact numbers."""
    return value if level == "nominal" else _number(value, level)


def _check_level(level: str) -> Level:
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}: one of {', '.join(LEVELS)}")
    return level


def _units(data: ReliabilityData, level: Level) -> list[list[_Exact]]:
    """Each unit's pairable values: the units (columns) with at least two values."""
    rows = [list(row) for row in data]
    if not rows:
        return []
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"every coder needs a value (or None) for each of the {width} units; "
                f"coder {index} has {len(row)}"
            )
    units = []
    for column in range(width):
        values = [_exact(row[column], level) for row in rows if row[column] is not None]
        if len(values) >= 2:
            units.append(values)
    return units


def coincidence_matrix(data: ReliabilityData, level: Level = "nominal") -> Coincidences:
    """The coincidences o_ck of Krippendorff (2011), keyed by value pairs (c, k).

    o_ck = sum over units u of (number of c-k pairs in u) / (m_u - 1), where a unit's pairs
    are the ordered pairs of values from two different coders and m_u is the number of
    values in u; units with fewer than two values are not pairable and are left out.
    The matrix is symmetric and its total is n, the number of pairable values.
    """
    matrix: Coincidences = defaultdict(Fraction)
    for values in _units(data, _check_level(level)):
        share = Fraction(1, len(values) - 1)
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    matrix[c, k] += share
    return dict(matrix)


def _difference(level: Level, marginals: Mapping[_Exact, Fraction]) -> Callable[..., Fraction]:
    """The squared difference function delta²(c, k) of the level (Krippendorff 2011, sec. E)."""
    if level == "nominal":
        return lambda c, k: Fraction(0 if c == k else 1)
    if level == "interval":
        return lambda c, k: Fraction((c - k) ** 2)
    if level == "ratio":
        return lambda c, k: Fraction(0) if c == k else ((c - k) / (c + k)) ** 2
    # Ordinal: the distance between two ranks is the number of pairable values between
    # them, half of each end counted: (sum_{g=c..k} n_g - (n_c + n_k) / 2)².
    ranked = cast(Mapping[Fraction, Fraction], marginals)  # numbers at this level
    cumulative: dict[Fraction, Fraction] = {}
    running = Fraction(0)
    for value in sorted(ranked):
        running += ranked[value]
        cumulative[value] = running

    def ordinal(c: Fraction, k: Fraction) -> Fraction:
        low, high = (c, k) if c <= k else (k, c)
        between = cumulative[high] - cumulative[low] + ranked[low]
        return (between - (ranked[low] + ranked[high]) / 2) ** 2

    return ordinal


def alpha_exact(data: ReliabilityData, level: Level = "nominal") -> Fraction | None:
    """Krippendorff's alpha as an exact fraction, or None where it is undefined.

    alpha = 1 - D_o / D_e = 1 - (n - 1) * sum_ck o_ck delta²_ck / sum_ck n_c n_k delta²_ck

    with o_ck the coincidences (:func:`coincidence_matrix`), n_c = sum_k o_ck the marginals
    and n the number of pairable values (Krippendorff 2011, sections C to E).  Alpha is
    undefined, and None is returned, when fewer than two values are pairable or when all
    pairable values are the same (no variation: D_e = 0, nothing to tell chance from skill).
    """
    level = _check_level(level)
    matrix = coincidence_matrix(data, level)
    marginals: dict[_Exact, Fraction] = defaultdict(Fraction)
    for (c, _k), count in matrix.items():
        marginals[c] += count
    n = sum(marginals.values(), Fraction(0))
    if n < 2:
        return None
    delta = _difference(level, marginals)
    observed = sum((count * delta(c, k) for (c, k), count in matrix.items()), Fraction(0))
    expected = sum(
        (marginals[c] * marginals[k] * delta(c, k) for c in marginals for k in marginals),
        Fraction(0),
    )
    if expected == 0:
        return None
    return 1 - (n - 1) * observed / expected


def krippendorff_alpha(data: ReliabilityData, level: Level = "nominal") -> float | None:
    """Krippendorff's alpha of a coders x units matrix (None = missing) at ``level``.

    1 is perfect agreement, 0 agreement no better than chance, below 0 systematic
    disagreement.  None when undefined: see :func:`alpha_exact`.
    """
    result = alpha_exact(data, level)
    return None if result is None else float(result)


def percent_agreement(data: ReliabilityData) -> float | None:
    """The share (0..1) of pairable value pairs that agree, pooled over the units.

    Within each unit every two values from different coders form a pair; the result is
    (agreeing pairs) / (all pairs) over all units.  None when no unit has two values.
    """
    agreeing = pairs = 0
    for values in _units(data, "nominal"):
        for a, b in combinations(values, 2):
            pairs += 1
            agreeing += a == b
    return None if pairs == 0 else agreeing / pairs


def _deviations(column: Sequence[Value]) -> list[Fraction | None]:
    """In one unit, each coder's |value - the mean of the other coders' values|.

    None for a coder without a value there or without another coder beside them.
    """
    values = [None if v is None else _number(v, "interval") for v in column]
    result: list[Fraction | None] = []
    for index, value in enumerate(values):
        others = [v for i, v in enumerate(values) if i != index and v is not None]
        if value is None or not others:
            result.append(None)
        else:
            result.append(abs(value - sum(others, Fraction(0)) / len(others)))
    return result


def mean_deviations(data: ReliabilityData) -> list[float | None]:
    """Each coder's mean absolute deviation from the others, one per row of ``data``.

    For coder i: the mean over the units where i and at least one other coder gave a value
    of |i's value - the mean of the other coders' values in that unit|.  Positive either
    way: it says how far, not in which direction.  None for a coder with no such unit.
    """
    rows = [list(row) for row in data]
    _units(rows, "interval")  # checks the shape and that values are numbers
    per_coder: list[list[Fraction]] = [[] for _ in rows]
    for column in zip(*rows, strict=True):
        for index, deviation in enumerate(_deviations(column)):
            if deviation is not None:
                per_coder[index].append(deviation)
    return [float(sum(d, Fraction(0)) / len(d)) if d else None for d in per_coder]


# --- A calibration round's report -------------------------------------------------------

#: Scores as a calibration round keeps them: {subject: {evaluator: {item: value or "na"}}}.
RoundScores: TypeAlias = Mapping[str, Mapping[str, Mapping[str, int | float | str]]]


def item_level(item: FormItem) -> Level:
    """The level of measurement of an item's scale.

    A yes/no item (scale 0..1) is nominal: its two values name categories.  Any longer
    scale (1-5, 0-10) is ordinal: its points are ordered, but the method does not claim
    that the step from 1 to 2 equals the step from 4 to 5.
    """
    if item.scale.min == 0 and item.scale.max == 1:
        return "nominal"
    return "ordinal"


def _value(scores: RoundScores, subject: str, evaluator: str, item: FormItem) -> int | float | None:
    """One score as a number, None for "na" or no score; a clear error for a bad one."""
    value = scores[subject].get(evaluator, {}).get(item.id)
    if value is None or value == NOT_APPLICABLE:
        return None
    where = f"subject {subject!r}, evaluator {evaluator!r}, item {item.id!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: a score is a number or {NOT_APPLICABLE!r}, not {value!r}")
    if not item.scale.min <= value <= item.scale.max:
        raise ValueError(
            f"{where}: {value!r} is outside the item's scale {item.scale.min}..{item.scale.max}"
        )
    return value


def _evaluators(scores: RoundScores) -> list[str]:
    return sorted({evaluator for by_evaluator in scores.values() for evaluator in by_evaluator})


def reliability_data(scores: RoundScores, item: FormItem) -> list[list[int | float | None]]:
    """One item's scores as a matrix: evaluators (sorted) x subjects (sorted)."""
    subjects = sorted(scores)
    return [
        [_value(scores, subject, evaluator, item) for subject in subjects]
        for evaluator in _evaluators(scores)
    ]


def item_report(scores: RoundScores, items: Iterable[FormItem]) -> list[dict[str, object]]:
    """The calibration report's rows, one per item, in the form's order.

    Each row is ``{"item", "level", "alpha", "agreement", "units", "flagged"}``: alpha at the
    item's level (:func:`item_level`; None when undefined), the percent agreement as a share
    0..1, the number of subjects with at least two scores other than "na", and whether the
    item is flagged for clearer wording: alpha below 0.667 or undefined (an item nobody can
    be shown to agree on gives no evidence that it leaves no room for opinion).
    """
    rows: list[dict[str, object]] = []
    for item in items:
        level = item_level(item)
        data = reliability_data(scores, item)
        alpha = krippendorff_alpha(data, level)
        units = sum(
            1 for column in zip(*data, strict=True) if sum(v is not None for v in column) >= 2
        )
        rows.append(
            {
                "item": item.id,
                "level": level,
                "alpha": alpha,
                "agreement": percent_agreement(data),
                "units": units,
                "flagged": alpha is None or alpha < ALPHA_FLAG_BELOW,
            }
        )
    return rows


def evaluator_report(scores: RoundScores, items: Iterable[FormItem]) -> list[dict[str, object]]:
    """One row per evaluator (sorted): ``{"evaluator", "mean_deviation"}``.

    The deviation is taken per item and subject as in :func:`mean_deviations`, divided by
    the item's scale range (so a point on a yes/no item weighs as much as ten points on a
    0-10 item), and averaged over every (item, subject) the evaluator scored with at least
    one other evaluator: 0 means always with the others' mean, 1 a whole scale away.
    None for an evaluator who never scored alongside another.
    """
    evaluators = _evaluators(scores)
    totals: dict[str, Fraction] = defaultdict(Fraction)
    counts: Counter[str] = Counter()
    for item in items:
        span = Fraction(item.scale.max - item.scale.min) or Fraction(1)
        for column in zip(*reliability_data(scores, item), strict=True):
            for evaluator, deviation in zip(evaluators, _deviations(column), strict=True):
                if deviation is not None:
                    totals[evaluator] += deviation / span
                    counts[evaluator] += 1
    return [
        {
            "evaluator": evaluator,
            "mean_deviation": (
                float(totals[evaluator] / counts[evaluator]) if counts[evaluator] else None
            ),
        }
        for evaluator in evaluators
    ]
