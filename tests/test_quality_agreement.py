"""Krippendorff's alpha, percent agreement and mean deviation of a calibration round.

The published worked examples are from Krippendorff, K. (2011). *Computing Krippendorff's
Alpha-Reliability*. Annenberg School for Communication, Departmental Papers 43,
https://repository.upenn.edu/asc_papers/43 (section A: binary data, two observers, no
missing data; section C: nominal data, any number of observers, missing data; section E:
the same data at the other levels of measurement).  The independent implementation is the
``krippendorff`` package on PyPI (0.9.x, numpy), installed by the ``test`` extra.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import krippendorff
import numpy as np
import pytest
from medlytt import FormItem, Scale
from medlytt.plugins.quality.agreement import (
    LEVELS,
    Level,
    ReliabilityData,
    alpha_exact,
    coincidence_matrix,
    evaluator_report,
    item_level,
    item_report,
    krippendorff_alpha,
    mean_deviations,
    percent_agreement,
)

_: None = None
#: Krippendorff (2011), section C: observers A-D (rows) x units 1-12 (columns), "." = missing.
PAPER_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]
#: The alphas the paper publishes for PAPER_C, rounded to three decimals.
PAPER_C_ALPHAS = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
#: Krippendorff (2011), section A: binary data, observers A and B, ten units; alpha = 0.095.
PAPER_A = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]


def reference_alpha(data: ReliabilityData, level: Level) -> float:
    """The krippendorff package's alpha of the same matrix (NaN for a missing value)."""
    array = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    with np.errstate(invalid="ignore"):  # 0/0 when there is no variation: NaN, checked
        return float(krippendorff.alpha(reliability_data=array, level_of_measurement=level))


def test_paper_c_coincidences_are_the_papers() -> None:
    """The paper's coincidence matrix: marginals 9, 13, 10, 5, 3; n = 40 pairable values."""
    matrix = coincidence_matrix(PAPER_C)
    marginals = {c: sum(v for (a, _k), v in matrix.items() if a == c) for c in range(1, 6)}
    assert marginals == {1: 9, 2: 13, 3: 10, 4: 5, 5: 3}
    assert [matrix.get((c, c), 0) for c in range(1, 6)] == [7, 10, 8, 4, 3]
    assert matrix[1, 2] == matrix[2, 1] == Fraction(4, 3)
    assert matrix[3, 4] == Fraction(1, 3)
    assert (5, 1) not in matrix  # unit 11's lone pair of 1s never meets a 5


def test_paper_c_nominal_alpha_is_the_papers_formula() -> None:
    """Section C: alpha = 1 - (n-1) (n - sum_c o_cc) / (n² - sum_c n_c²)."""
    n, diagonal, squares = 40, 7 + 10 + 8 + 4 + 3, 9**2 + 13**2 + 10**2 + 5**2 + 3**2
    assert alpha_exact(PAPER_C, "nominal") == 1 - Fraction((n - 1) * (n - diagonal), n**2 - squares)


@pytest.mark.parametrize("level", LEVELS)
def test_paper_c_alpha_at_every_level(level: Level) -> None:
    """Equal to the published value (3 decimals) and to the reference implementation."""
    alpha = krippendorff_alpha(PAPER_C, level)
    assert alpha is not None
    assert round(alpha, 3) == PAPER_C_ALPHAS[level]
    assert alpha == pytest.approx(reference_alpha(PAPER_C, level), abs=1e-9)


def test_paper_c_interval_alpha_is_exact() -> None:
    """Interval level: D_o = sum o_ck (c-k)² / n, D_e = sum n_c n_k (c-k)² / (n (n-1))."""
    matrix = coincidence_matrix(PAPER_C, "interval")
    marginals = {1: 9, 2: 13, 3: 10, 4: 5, 5: 3}
    observed = sum(count * (c - k) ** 2 for (c, k), count in matrix.items())
    expected = sum(marginals[c] * marginals[k] * (c - k) ** 2 for c in marginals for k in marginals)
    assert alpha_exact(PAPER_C, "interval") == 1 - 39 * observed / expected
    assert alpha_exact(PAPER_C, "interval") == Fraction(951, 1120)


def test_paper_a_binary_two_coders() -> None:
    """Section A: o_01 = 4, n_0 = 14, n_1 = 6, alpha = 1 - (n-1) o_01 / (n_0 n_1) = 0.095."""
    assert alpha_exact(PAPER_A, "nominal") == 1 - Fraction(19 * 4, 14 * 6)
    alpha = krippendorff_alpha(PAPER_A, "nominal")
    assert alpha is not None and round(alpha, 3) == 0.095
    assert alpha == pytest.approx(reference_alpha(PAPER_A, "nominal"), abs=1e-9)


def random_matrix(rng: random.Random, values: list[int]) -> list[list[int | None]]:
    coders, units = rng.randint(2, 6), rng.randint(2, 14)
    missing = rng.choice([0.0, 0.2, 0.5])
    # Agreement ranges from none to much: a unit's "true" value and coders that stray.
    stray = rng.random()
    matrix: list[list[int | None]] = [[None] * units for _ in range(coders)]
    for unit in range(units):
        truth = rng.choice(values)
        for coder in range(coders):
            if rng.random() >= missing:
                matrix[coder][unit] = rng.choice(values) if rng.random() < stray else truth
    return matrix


@pytest.mark.parametrize("level", LEVELS)
def test_equal_to_an_independent_implementation_on_random_data(level: Level) -> None:
    """Many seeded random matrices with missing values: equal to 1e-9, or both undefined."""
    rng = random.Random(f"alpha-{level}")
    compared = undefined = 0
    for _round in range(400):
        scale = rng.choice([[0, 1], [1, 2, 3, 4, 5], list(range(11))])
        if level == "ratio":
            scale = [v + 1 for v in scale]  # ratio values are positive magnitudes
        data = random_matrix(rng, scale)
        ours = krippendorff_alpha(data, level)
        if ours is None:
            undefined += 1
            try:
                theirs = reference_alpha(data, level)
            except ValueError:  # the package refuses a single value or nothing pairable
                continue
            assert math.isnan(theirs), data
            continue
        assert ours == pytest.approx(reference_alpha(data, level), abs=1e-9), data
        compared += 1
    assert compared > 300 and undefined > 0  # both branches were exercised


@pytest.mark.parametrize(
    "data",
    [
        [[3, 3, 3], [3, 3, 3]],  # no variation
        [[1, _, 2], [_, 4, _]],  # no unit with two values
        [[1, _], [_, 2], [_, _]],
        [],
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_is_undefined_without_variation_or_pairs(data: list[list[int | None]], level: Level):
    assert krippendorff_alpha(data, level) is None


def test_perfect_agreement_is_one_and_a_swap_is_negative() -> None:
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "ordinal") == 1
    swapped = krippendorff_alpha([[1, 2], [2, 1]], "nominal")
    assert swapped is not None and swapped < 0


def test_nominal_values_may_be_names() -> None:
    named = [["yes" if v else "no" for v in row] for row in PAPER_A]
    assert krippendorff_alpha(named, "nominal") == krippendorff_alpha(PAPER_A, "nominal")


@pytest.mark.parametrize(
    ("data", "level", "message"),
    [
        ([[1, 2], [1]], "nominal", "coder 1 has 1"),
        ([[1, "x"], [1, 2]], "interval", "must be a number, not 'x'"),
        ([[1, True], [1, 2]], "ordinal", "must be a number, not True"),
        ([[1, -2], [1, 2]], "ratio", "must not be negative"),
        ([[1, float("nan")], [1, 2]], "interval", "give None for a missing value"),
        ([[1, 2], [1, 2]], "circular", "unknown level of measurement 'circular'"),
    ],
)
def test_bad_data_is_refused_by_name(data: list[list[object]], level: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        krippendorff_alpha(data, level)


def test_percent_agreement_by_hand() -> None:
    # Unit 1: 3 values, pairs (1,1) (1,2) (1,2): 1 of 3 agree.  Unit 2: (4,4): 1 of 1.
    # Unit 3: one value, not pairable.  Pooled: 2 of 4 pairs.
    data = [[1, 4, 5], [1, 4, _], [2, _, _]]
    assert percent_agreement(data) == 0.5
    assert percent_agreement([[0, 1, 1], [0, 1, 1]]) == 1.0
    assert percent_agreement([[1, _], [_, 1]]) is None
    # The paper's section A: 6 of the 10 pairs agree.
    assert percent_agreement(PAPER_A) == 0.6


def test_mean_deviation_by_hand() -> None:
    # Unit 1: A=1, B=3, C=5.  A: |1-4| = 3, B: |3-3| = 0, C: |5-2| = 3.
    # Unit 2: A=2, B=2, C missing.  A: 0, B: 0.
    # Unit 3: only A: not counted for anyone.
    data = [[1, 2, 4], [3, 2, _], [5, _, _]]
    assert mean_deviations(data) == [1.5, 0.0, 3.0]
    assert mean_deviations([[1, _], [_, 2]]) == [None, None]


def yes_no(item_id: str) -> FormItem:
    return FormItem(id=item_id, text=item_id, scale=Scale(min=0, max=1))


def test_item_level_by_scale() -> None:
    assert item_level(yes_no("a")) == "nominal"
    assert item_level(FormItem(id="b", text="b", scale=Scale(min=1, max=5))) == "ordinal"
    assert item_level(FormItem(id="c", text="c", scale=Scale(min=0, max=10))) == "ordinal"


def test_item_report_rows() -> None:
    """Three evaluators x four recordings; "na" and a missing score count as missing."""
    greeting, tone = yes_no("greeting"), FormItem(id="tone", text="t", scale=Scale(min=1, max=5))
    scores = {
        "rec-1": {"ann": {"greeting": 1, "tone": 4}, "bo": {"greeting": 1, "tone": 4}},
        "rec-2": {"ann": {"greeting": 0, "tone": 2}, "bo": {"greeting": 0, "tone": 5}},
        "rec-3": {"ann": {"greeting": 1, "tone": 3}, "bo": {"greeting": 1}, "cy": {"tone": 1}},
        "rec-4": {"ann": {"greeting": 0, "tone": "na"}, "bo": {"greeting": 0, "tone": 3}},
    }
    rows = item_report(scores, [greeting, tone])
    assert [row["item"] for row in rows] == ["greeting", "tone"]
    assert rows[0] == {
        "item": "greeting",
        "level": "nominal",
        "alpha": 1.0,
        "agreement": 1.0,
        "units": 4,
        "flagged": False,
    }
    tone_data = [[4, 2, 3, None], [4, 5, None, 3], [None, None, 1, None]]
    assert rows[1]["level"] == "ordinal"
    assert rows[1]["alpha"] == krippendorff_alpha(tone_data, "ordinal")
    assert rows[1]["alpha"] == pytest.approx(reference_alpha(tone_data, "ordinal"), abs=1e-9)
    assert rows[1]["agreement"] == 1 / 3  # rec-1 agrees, rec-2 and rec-3 do not
    assert rows[1]["units"] == 3  # rec-4 has one score besides "na"
    assert rows[1]["flagged"] is True


def test_an_item_nobody_can_be_shown_to_agree_on_is_flagged() -> None:
    scores = {"r1": {"ann": {"a": 1}, "bo": {"a": 1}}, "r2": {"ann": {"a": 1}, "bo": {"a": 1}}}
    (row,) = item_report(scores, [yes_no("a")])
    assert row["alpha"] is None and row["agreement"] == 1.0 and row["flagged"] is True


@pytest.mark.parametrize(
    ("value", "message"),
    [("yes", "a score is a number or 'na', not 'yes'"), (2, "2 is outside the item's scale 0..1")],
)
def test_bad_score_names_subject_evaluator_and_item(value: object, message: str) -> None:
    scores = {"rec-9": {"ann": {"a": 1}, "bo": {"a": value}}}
    with pytest.raises(ValueError, match=f"subject 'rec-9', evaluator 'bo', item 'a': {message}"):
        item_report(scores, [yes_no("a")])


def test_evaluator_report_weighs_every_scale_alike() -> None:
    """Deviation per item as a share of the item's scale range, averaged per evaluator."""
    ten = FormItem(id="ten", text="t", scale=Scale(min=0, max=10))
    scores = {
        "r1": {"ann": {"a": 1, "ten": 10}, "bo": {"a": 0, "ten": 5}},
        "r2": {"ann": {"a": 1, "ten": 6}, "bo": {"a": 1}, "cy": {"a": 1}},
    }
    rows = evaluator_report(scores, [yes_no("a"), ten])
    # ann: a/r1 |1-0|/1 = 1, ten/r1 |10-5|/10 = 0.5, a/r2 0 -> 1.5 / 3 = 0.5.
    # bo: the same in r1 (1 and 0.5), a/r2 0 -> 0.5.  cy: a/r2 0 -> 0.
    assert rows == [
        {"evaluator": "ann", "mean_deviation": 0.5},
        {"evaluator": "bo", "mean_deviation": 0.5},
        {"evaluator": "cy", "mean_deviation": 0.0},
    ]
    alone = evaluator_report({"r1": {"ann": {"a": 1}}}, [yes_no("a")])
    assert alone == [{"evaluator": "ann", "mean_deviation": None}]
