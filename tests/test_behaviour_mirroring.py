"""The mirroring signal of module 5 on constructed turn sequences: converging, diverging and
flat turn lengths give the direction each implies (plugins/behaviour_types/mirroring.py)."""

from __future__ import annotations

import pytest
from medlytt.plugins.behaviour_types.mirroring import (
    Segment,
    mirroring,
    mirroring_of_segments,
    slope,
    turn_pairs,
    turns,
)


def conversation(pairs: list[tuple[float, float]], greeting: float = 3.0) -> list[Segment]:
    """Talk segments of a call: the agent's greeting, then per pair the customer's turn and
    the agent's answer, with a second of silence between turns."""
    segments, t = [Segment("agent", 0.0, greeting)], greeting + 1
    for customer, agent in pairs:
        segments.append(Segment("customer", t, customer))
        t += customer + 1
        segments.append(Segment("agent", t, agent))
        t += agent + 1
    return segments


# (customer turn, agent turn) per pair
CONVERGING = [(2, 12), (2, 10), (2, 8), (3, 6), (2, 4), (2, 3), (2, 2), (3, 3)]
DIVERGING = [(4, 4), (4, 5), (3, 6), (4, 8), (3, 9), (4, 12), (3, 13), (4, 15)]
FLAT = [(3, 6), (5, 8), (2, 5), (6, 9), (4, 7), (3, 6), (5, 8), (2, 5)]
#: The customer comes to the agent's length (the agent keeps 8 s): also converging.
CUSTOMER_COMES_CLOSER = [(1, 8), (2, 8), (3, 8), (5, 8), (6, 8), (7, 8), (8, 8), (8, 8)]


@pytest.mark.parametrize(
    ("pairs", "direction"),
    [
        (CONVERGING, "converging"),
        (DIVERGING, "diverging"),
        (FLAT, "flat"),
        (CUSTOMER_COMES_CLOSER, "converging"),
    ],
)
def test_each_constructed_sequence_gives_its_direction(pairs, direction):
    signal = mirroring_of_segments(conversation(pairs))
    assert signal.direction == direction
    assert signal.pairs == len(pairs)


def test_the_halves_show_where_the_gap_went():
    converging = mirroring(CONVERGING)
    assert converging.first_half_gap == pytest.approx((10 + 8 + 6 + 3) / 4)
    assert converging.second_half_gap == pytest.approx((2 + 1 + 0 + 0) / 4)
    assert converging.slope is not None and converging.slope < 0
    diverging = mirroring(DIVERGING)
    assert diverging.second_half_gap > diverging.first_half_gap
    flat = mirroring(FLAT)
    assert flat.slope == 0 and flat.first_half_gap == flat.second_half_gap == 3


def test_the_tolerance_decides_between_flat_and_a_direction():
    # The gap shrinks by 0.05 s per pair: flat at the default 0.1 s, converging at 0.01 s.
    pairs = [(2.0, 6.0 - 0.05 * n) for n in range(10)]
    assert mirroring(pairs).direction == "flat"
    assert mirroring(pairs, tolerance=0.01).direction == "converging"
    assert mirroring(pairs).slope == pytest.approx(-0.05)


def test_too_few_pairs_say_nothing():
    short = mirroring_of_segments(conversation(CONVERGING[:3]))
    assert (short.direction, short.slope, short.pairs) == ("too_short", None, 3)
    assert mirroring(CONVERGING[:3], min_pairs=3).direction == "converging"
    assert mirroring([]).direction == "too_short"


def test_segments_make_turns_and_pairs():
    segments = [
        Segment("agent", 0, 2),  # the greeting: an agent turn before any customer turn
        Segment("customer", 3, 1.5),
        Segment("customer", 5, 2.5),  # the same customer turn after a pause: 4 s in all
        Segment("agent", 9, 3),
        Segment("agent", 13, 1),  # 4 s in all
        Segment("customer", 15, 2),  # a last customer turn nobody answered
    ]
    assert turns(reversed(segments)) == [
        ("agent", 2),
        ("customer", 4.0),
        ("agent", 4),
        ("customer", 2),
    ]
    assert turn_pairs(turns(segments)) == [(4.0, 4)]


def test_slope_is_least_squares():
    assert slope([1, 2, 3, 4]) == pytest.approx(1)
    assert slope([8, 6, 4, 2]) == pytest.approx(-2)
    assert slope([5]) == 0.0
    assert slope([1, 3, 2, 4]) == pytest.approx(0.8)
