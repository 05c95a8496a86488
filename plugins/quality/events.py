"""The quality plugin's events: what other plugins, the journal and the console hear.

The mystery-calls plugin listens for ``evaluation.created`` (by its type tag, without
importing this plugin) to publish a mystery call's result to the agent.
"""

from __future__ import annotations

from medlytt import Event


class EvaluationCreated(Event, frozen=True, tag="evaluation.created"):
    """An evaluator scored an agent's call, session, recording or mystery call."""

    evaluation_id: str
    agent_id: str
    evaluator: str
    form: str
    form_version: int
    subject_kind: str
    subject_id: str
    score: float | None
    passed: bool
    call_id: str | None = None
    recording_id: str | None = None


class EvaluationAnswered(Event, frozen=True, tag="evaluation.answered"):
    """The agent acknowledged an evaluation or disputed it (``disputed``); a dispute goes
    to the leaders of ``teams``."""

    evaluation_id: str
    agent_id: str
    disputed: bool
    teams: tuple[str, ...] = ()


class CalibrationClosed(Event, frozen=True, tag="calibration.closed"):
    """A calibration round closed: its report is readable from now on."""

    calibration_id: str
    team: str
    form: str
    flagged_items: tuple[str, ...] = ()


class CalibrationDue(Event, frozen=True, tag="calibration.due"):
    """A team's last closed calibration round is older than the configured period (or it
    never had one)."""

    team: str
    age_seconds: float | None


EVENT_TYPES: list[type[Event]] = [
    EvaluationCreated,
    EvaluationAnswered,
    CalibrationClosed,
    CalibrationDue,
]
