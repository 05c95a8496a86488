"""The mirroring signal: do the agent's and the customer's turn lengths converge?

Module 5 of the method asks the agent to recognise the customer's behaviour and mirror it
("vi må speile kunden"): a customer who speaks in short bursts gets short answers, one who
tells a long story gets room and longer replies.  Talk detection tells Medlytt when each
side of a call speaks (``talk.stopped`` per leg, with its duration); from that alone,
without hearing a word, Medlytt can tell whether the agent's turns come to match the
customer's.

Definition (the numbers a reader can redo by hand):

1. **Segments**: each ``talk.stopped`` of the caller leg is a customer segment, of the
   agent leg an agent segment, from ``at - duration_seconds`` for ``duration_seconds``.
2. **Turns**: segments in order of their start; consecutive segments of the same party
   are one turn, whose length is the sum of its segments' durations (the pauses between
   them are not talk).
3. **Turn pairs**: each customer turn with the agent turn right after it (the agent's
   answer).  An agent turn before the first customer turn (the greeting) pairs with
   nothing.
4. **Gap** of a pair: ``|agent turn - customer turn|`` in seconds.
5. **Slope**: the least-squares slope of the gaps over the pairs' positions 0, 1, 2...
   in seconds per pair.  Negative: the gap shrinks as the call goes on.
6. **Direction**: ``converging`` when the slope is below ``-tolerance``, ``diverging``
   when it is above ``+tolerance``, else ``flat`` (``[behaviour_types]
   mirroring_tolerance_seconds``, 0.1 s per pair by default: over twenty pairs a change
   of the gap by two seconds).  With fewer than ``min_turn_pairs`` pairs (4) the call is
   ``too_short`` to say.

The mean gap of the first and of the second half of the pairs are reported beside the
slope, so a coach sees how far apart the two were and where they ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

Party = Literal["agent", "customer"]
Direction = Literal["converging", "diverging", "flat", "too_short"]
DIRECTIONS: tuple[Direction, ...] = ("converging", "diverging", "flat", "too_short")


@dataclass(frozen=True)
class Segment:
    """One stretch of talk by one party, from talk detection."""

    party: Party
    start: float
    seconds: float


@dataclass(frozen=True)
class Mirroring:
    """The signal of one call."""

    pairs: int
    direction: Direction
    #: Seconds per pair; None when too short.
    slope: float | None
    first_half_gap: float | None
    second_half_gap: float | None


def turns(segments: Iterable[Segment]) -> list[tuple[Party, float]]:
    """Segments merged into turns (module docstring, step 2), in order."""
    merged: list[tuple[Party, float]] = []
    for segment in sorted(segments, key=lambda s: s.start):
        if merged and merged[-1][0] == segment.party:
            merged[-1] = (segment.party, merged[-1][1] + segment.seconds)
        else:
            merged.append((segment.party, segment.seconds))
    return merged


def turn_pairs(call_turns: Sequence[tuple[Party, float]]) -> list[tuple[float, float]]:
    """(customer turn, agent turn) pairs: each customer turn and the agent's answer."""
    pairs = []
    for (party, seconds), (next_party, next_seconds) in pairwise(call_turns):
        if party == "customer" and next_party == "agent":
            pairs.append((seconds, next_seconds))
    return pairs


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` over 0, 1, 2...; 0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    variance = sum((x - mean_x) ** 2 for x in range(n))
    return covariance / variance


def mirroring(
    pairs: Sequence[tuple[float, float]], *, tolerance: float = 0.1, min_pairs: int = 4
) -> Mirroring:
    """The direction the turn pairs imply (module docstring, steps 4-6)."""
    gaps = [abs(agent - customer) for customer, agent in pairs]
    if len(gaps) < max(min_pairs, 2):
        return Mirroring(len(gaps), "too_short", None, None, None)
    rise = slope(gaps)
    half = len(gaps) // 2
    first, second = gaps[:half], gaps[len(gaps) - half :]
    direction: Direction = (
        "converging" if rise < -tolerance else "diverging" if rise > tolerance else "flat"
    )
    return Mirroring(
        pairs=len(gaps),
        direction=direction,
        slope=round(rise, 4),
        first_half_gap=round(sum(first) / len(first), 3),
        second_half_gap=round(sum(second) / len(second), 3),
    )


def mirroring_of_segments(
    segments: Iterable[Segment], *, tolerance: float = 0.1, min_pairs: int = 4
) -> Mirroring:
    """Steps 1-6 from a call's talk segments."""
    return mirroring(turn_pairs(turns(segments)), tolerance=tolerance, min_pairs=min_pairs)
