"""The ``[demo]`` config section: the simulated contact center's size and traffic."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]


class DemoQueue(msgspec.Struct, forbid_unknown_fields=True):
    """One simulated queue and its traffic."""

    #: The queue's name, as the PBX would report it.
    name: str
    #: Mean arrivals (Poisson).
    calls_per_hour: NonNegative
    #: The ring strategy reported for the queue (as Asterisk's ``strategy``).
    strategy: str = "leastrecent"
    #: The queue's service-level threshold.
    service_level_seconds: Positive = 20.0
    #: A caller waiting this long leaves the queue as timed out (none: no limit).
    max_wait_seconds: Positive | None = 300.0
    #: Mean talk time of an answered call.
    talk_mean_seconds: Positive = 150.0
    #: Mean wrap-up time after a call.
    wrapup_mean_seconds: Positive = 15.0
    #: Mean time a caller waits before giving up (abandoning).
    patience_mean_seconds: Positive = 120.0


def default_queues() -> list[DemoQueue]:
    return [
        DemoQueue(name="support", calls_per_hour=110),
        DemoQueue(
            name="sales", calls_per_hour=60, service_level_seconds=30.0, talk_mean_seconds=200.0
        ),
        DemoQueue(
            name="billing", calls_per_hour=45, talk_mean_seconds=120, patience_mean_seconds=90
        ),
    ]


class DemoSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[demo]``: runs when no PBX is configured (``mode = "fallback"``) or always."""

    #: ``fallback``: run only when no other gateway (PBX) is configured; ``always``: run
    #: beside it (load generation).
    mode: Literal["fallback", "always"] = "fallback"
    #: Simulated seconds per wall-clock second; 1 is real time.
    speed: Positive = 1.0
    #: Fix the random seed for a repeatable simulation.
    seed: int | None = None
    #: Hours of traffic simulated at start, as if the center had opened that long ago, so
    #: counters, intervals and service levels hold the day so far at once (0: start empty).
    #: Shortened when the traffic is so heavy that the back-fill would slow the start.
    history_hours: Annotated[float, msgspec.Meta(ge=0, le=24)] = 4.0
    #: Number of simulated agents (``DEMO/1001`` ...), each in one or two queues.
    agents: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 16
    #: Mean ring time before an agent answers.
    ring_mean_seconds: Positive = 4.0
    #: Share of offers an agent lets ring out (15 s).
    ring_no_answer_ratio: Ratio = 0.04
    #: Share of calls the agent transfers.
    transfer_ratio: Ratio = 0.03
    #: How often an agent pauses (break, lunch, training, coaching).
    pauses_per_agent_hour: NonNegative = 0.6
    #: The simulated queues and their traffic.
    queues: list[DemoQueue] = msgspec.field(default_factory=default_queues)

    def __post_init__(self) -> None:
        if not self.queues:
            raise ValueError("demo.queues must name at least one queue")
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ValueError(f"demo.queues: queue names must be unique, got {names}")
