"""Erlang C staffing: how many agents a queue needs to answer calls within a target time.

Erlang C models a queue as M/M/N: calls arrive at random (Poisson), handle times are
exponential, N agents serve one queue, and callers wait as long as it takes (no abandons,
no busy signal). Under those assumptions the probability that a call must wait, the share
of calls answered within a target, and the average speed of answer have closed forms.
Real queues abandon, so Erlang C slightly overstates the agents needed; that bias is the
safe side for a staffing estimate.

Notation used in every docstring below:

- ``A``: offered traffic in Erlangs, arrival rate times average handle time (AHT), in the
  same time unit; 0.2 calls/s x 240 s = 48 Erlangs, i.e. 48 agents busy on average.
- ``N``: number of agents.
- ``t``: service-level target time (answer within ``t`` seconds).

Everything here is pure and uses only :mod:`math`, so it can run in a request handler, a
test or a notebook without the rest of Medlytt.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

__all__ = [
    "agents_required",
    "average_speed_of_answer",
    "erlang_c",
    "occupancy",
    "service_level",
]


# Validation helpers. Each message names the argument so a caller passing a config value
# through several layers can see which one was wrong.


def _check_agents(agents: int, name: str = "agents") -> None:
    # bool is an int subclass; True agents is almost certainly a bug upstream.
    if isinstance(agents, bool) or not isinstance(agents, int):
        raise ValueError(f"{name} must be an int, got {agents!r}")
    if agents < 0:
        raise ValueError(f"{name} must be >= 0, got {agents!r}")


def _check_non_negative(value: float, name: str) -> None:
    # NaN fails every comparison, so it must be rejected explicitly, as must infinity.
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_positive(value: float, name: str) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _erlang_b_sequence(traffic_erlangs: float) -> Iterator[tuple[int, float]]:
    """Yield ``(n, B(n, A))`` for n = 0, 1, 2, ... (Erlang B blocking probability).

    Uses the standard recursion B(0) = 1, B(n) = A*B(n-1) / (n + A*B(n-1)). Every term
    stays in [0, 1], so there is no ``A**N`` or ``N!`` to overflow (``48**100`` and
    ``100!`` both exceed a float long before a large centre's agent count), and each step
    is O(1), which lets :func:`agents_required` scan N upwards in linear time.
    """
    b = 1.0
    n = 0
    yield n, b
    while True:
        n += 1
        b = traffic_erlangs * b / (n + traffic_erlangs * b)
        yield n, b


def _erlang_c_from_b(agents: int, traffic_erlangs: float, erlang_b: float) -> float:
    """Erlang C from Erlang B: C = N*B / (N - A*(1 - B)), for N > A.

    This identity converts the loss probability of N servers into the waiting probability
    of the same N servers with an infinite queue.
    """
    c = agents * erlang_b / (agents - traffic_erlangs * (1.0 - erlang_b))
    # Rounding can leave the result a hair outside [0, 1]; it is a probability.
    return min(1.0, max(0.0, c))


def erlang_c(agents: int, traffic_erlangs: float) -> float:
    """Probability that a call has to wait (Erlang C), for ``agents`` and ``A`` Erlangs.

    Why: this is the building block of every other figure here; the service level and the
    average speed of answer are both this probability times a waiting-time term.

    Formula: C(N, A) = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)),
    computed without factorials as C = N*B / (N - A*(1 - B)) where B is Erlang B from the
    recursion B(0) = 1, B(n) = A*B(n-1) / (n + A*B(n-1)). That stays accurate for
    thousands of agents, where the textbook form overflows.

    When ``agents <= traffic_erlangs`` the queue is unstable (it grows without bound), so
    every call waits: the result is 1.0. With no traffic and at least one agent it is 0.0.

    Raises:
        ValueError: ``agents`` is not an int >= 0, or ``traffic_erlangs`` is negative,
            NaN or infinite.
    """
    _check_agents(agents)
    _check_non_negative(traffic_erlangs, "traffic_erlangs")
    if agents <= traffic_erlangs:
        return 1.0
    erlang_b = 1.0
    for n in range(1, agents + 1):
        erlang_b = traffic_erlangs * erlang_b / (n + traffic_erlangs * erlang_b)
    return _erlang_c_from_b(agents, traffic_erlangs, erlang_b)


def _service_level_from_c(
    agents: int, traffic_erlangs: float, wait_probability: float, aht: float, target: float
) -> float:
    # P(W <= t) = 1 - C * exp(-(N - A) * t / AHT); the caller guarantees N > A.
    return 1.0 - wait_probability * math.exp(-(agents - traffic_erlangs) * target / aht)


def service_level(
    agents: int, traffic_erlangs: float, aht_seconds: float, target_seconds: float
) -> float:
    """Share of calls answered within ``target_seconds`` (e.g. 0.80 for "80 % in 20 s").

    Why: service level is the figure contact centres staff to; it is what
    :func:`agents_required` searches on.

    Formula: SL = P(wait <= t) = 1 - C(N, A) * exp(-(N - A) * t / AHT). In M/M/N a waiting
    call's wait is exponential with rate (N - A)/AHT, hence the exponential term.

    Returns 0.0 when ``agents <= traffic_erlangs``: the queue grows without bound, so in
    the long run no call is answered within any finite target.

    Raises:
        ValueError: ``agents`` not an int >= 0; ``traffic_erlangs`` or ``target_seconds``
            negative or not finite; ``aht_seconds`` <= 0 or not finite.
    """
    _check_agents(agents)
    _check_non_negative(traffic_erlangs, "traffic_erlangs")
    _check_positive(aht_seconds, "aht_seconds")
    _check_non_negative(target_seconds, "target_seconds")
    if agents <= traffic_erlangs:
        return 0.0
    c = erlang_c(agents, traffic_erlangs)
    return _service_level_from_c(agents, traffic_erlangs, c, aht_seconds, target_seconds)


def average_speed_of_answer(agents: int, traffic_erlangs: float, aht_seconds: float) -> float:
    """Average speed of answer (ASA): mean wait in seconds over all calls, waiting or not.

    Why: ASA is the second figure coaches and planners quote next to service level, and
    unlike the service level it shows how long the waits that do happen are.

    Formula: ASA = C(N, A) * AHT / (N - A). A waiting call waits AHT/(N - A) on average;
    the fraction C of calls wait, the rest are answered at once.

    Returns ``math.inf`` when ``agents <= traffic_erlangs`` (the queue never drains).

    Raises:
        ValueError: ``agents`` not an int >= 0; ``traffic_erlangs`` negative or not finite;
            ``aht_seconds`` <= 0 or not finite.
    """
    _check_agents(agents)
    _check_non_negative(traffic_erlangs, "traffic_erlangs")
    _check_positive(aht_seconds, "aht_seconds")
    if agents <= traffic_erlangs:
        return math.inf
    return erlang_c(agents, traffic_erlangs) * aht_seconds / (agents - traffic_erlangs)


def occupancy(agents: int, traffic_erlangs: float) -> float:
    """Agent occupancy: the share of logged-in time agents spend handling calls, A / N.

    Why: staffing to a service level alone can push occupancy so high that agents burn
    out; planners check this figure next to the service level.

    Formula: occupancy = A / N. A value >= 1 means the agents cannot keep up (the Erlang C
    queue is unstable); it is returned as is so callers can see by how much.

    Raises:
        ValueError: ``agents`` is not an int >= 1 (occupancy of zero agents is undefined),
            or ``traffic_erlangs`` is negative or not finite.
    """
    _check_agents(agents)
    if agents == 0:
        raise ValueError("agents must be >= 1 for occupancy, got 0")
    _check_non_negative(traffic_erlangs, "traffic_erlangs")
    return traffic_erlangs / agents


def agents_required(
    arrival_rate_per_second: float,
    aht_seconds: float,
    target_seconds: float,
    service_level_target: float,
    *,
    max_agents: int = 10_000,
) -> int:
    """Smallest number of agents N whose :func:`service_level` reaches the target.

    Why: this is the staffing question itself, "how many agents for 80 % in 20 s?".

    Method: traffic A = ``arrival_rate_per_second`` * ``aht_seconds`` Erlangs. The queue
    is only stable for N > A, so the search starts at floor(A) + 1 and walks upwards,
    returning the first N with SL(N) = 1 - C(N, A) * exp(-(N - A) * t / AHT) >= target.
    The service level rises with N, so the first N that passes is the smallest. Erlang B
    is advanced one step per N (see :func:`erlang_c`), so the whole search is O(N).

    Args:
        arrival_rate_per_second: calls offered per second (e.g. 360 per 30 min = 0.2).
        aht_seconds: average handle time in seconds, > 0.
        target_seconds: answer-within time in seconds, >= 0 (0 means "no wait at all").
        service_level_target: required share answered within ``target_seconds``, in
            (0, 1] (0.8 for 80 %, not 80).
        max_agents: upper bound of the search, so a typo in the rate cannot loop for ages.

    Returns:
        The agent count; 0 when ``arrival_rate_per_second`` is 0 (no calls, nobody needed).

    Raises:
        ValueError: an argument is negative, NaN or infinite; ``aht_seconds`` <= 0;
            ``service_level_target`` outside (0, 1]; ``max_agents`` not an int >= 0; or
            even ``max_agents`` agents cannot reach the target.
    """
    _check_non_negative(arrival_rate_per_second, "arrival_rate_per_second")
    _check_positive(aht_seconds, "aht_seconds")
    _check_non_negative(target_seconds, "target_seconds")
    if not (0.0 < service_level_target <= 1.0):  # also rejects NaN
        raise ValueError(
            "service_level_target must be a ratio in (0, 1] (0.8 for 80 %), "
            f"got {service_level_target!r}"
        )
    _check_agents(max_agents, "max_agents")

    traffic = arrival_rate_per_second * aht_seconds
    if traffic == 0:
        return 0
    if not math.isfinite(traffic):
        raise ValueError(
            "arrival_rate_per_second * aht_seconds overflows: "
            f"{arrival_rate_per_second!r} * {aht_seconds!r}"
        )

    first_stable = math.floor(traffic) + 1
    if first_stable <= max_agents:
        for n, erlang_b in _erlang_b_sequence(traffic):
            if n < first_stable:
                continue
            if n > max_agents:
                break
            c = _erlang_c_from_b(n, traffic, erlang_b)
            if _service_level_from_c(n, traffic, c, aht_seconds, target_seconds) >= (
                service_level_target
            ):
                return n
    raise ValueError(
        f"max_agents={max_agents} cannot reach service_level_target={service_level_target!r} "
        f"within target_seconds={target_seconds!r} for {traffic:g} Erlangs "
        f"(arrival_rate_per_second={arrival_rate_per_second!r}, aht_seconds={aht_seconds!r})"
    )
