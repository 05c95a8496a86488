"""The attitude plugin (module 1, holdninger): 360° colleague feedback and the weekly
well-being check-in.

Routes: ``/api/attitude/rounds`` (:mod:`.rounds`), ``/api/attitude/invitations``,
``/api/attitude/wellbeing`` (:mod:`.wellbeing`).  Forms: the 360° form (``attitude-360``)
and the check-in (``wellbeing-checkin``), each in English and bokmål.  Metrics:
``medlytt_attitude_rounds{status}``, ``medlytt_attitude_answers_total`` and
``medlytt_wellbeing_checkins_total{team}``: counts only, never a score of a person.  The
team's listening plan of the module is the quality plugin's (``/api/plans/{team}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import CompetenceModule, EvaluationForm, Event, hookimpl, shipped_forms
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import rounds, store, wellbeing
from .events import EVENT_TYPES
from .settings import AttitudeSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = rounds.PLUGIN
ROUNDS = "medlytt_attitude_rounds"
ANSWERS = "medlytt_attitude_answers"
CHECKINS = "medlytt_wellbeing_checkins"


class AttitudeCollector(Collector):
    """Rounds, answers and check-ins: read from the database at start, counted since."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        figures: dict[str, Any] = self.app.plugin_state.get(PLUGIN) or {
            "rounds": {"open": 0, "closed": 0},
            "answers": 0,
            "checkins": {},
        }
        family = GaugeMetricFamily(ROUNDS, "360° feedback rounds, by status.", labels=["status"])
        for status in ("open", "closed"):
            family.add_metric([status], figures["rounds"][status])
        yield family
        yield CounterMetricFamily(
            ANSWERS, "Colleagues' answers to 360° feedback rounds.", value=figures["answers"]
        )
        checkins = CounterMetricFamily(
            CHECKINS, "Weekly well-being check-ins, by team.", labels=["team"]
        )
        for team, count in sorted(figures["checkins"].items()):
            checkins.add_metric([team], count)
        yield checkins


@hookimpl
def medlytt_config_schema() -> type[AttitudeSettings]:
    return AttitudeSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    """The 360° form and the well-being check-in, in English and Norwegian bokmål."""
    return shipped_forms(__name__.rpartition(".")[0])


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [
        CompetenceModule(
            id=rounds.MODULE,
            number=1,
            title="Attitude",
            titles={"en": "Attitude", "nb": "Holdninger"},
            summary=(
                "Attitude, core values and work environment: 360° feedback from colleagues "
                "(anonymous to the agent) and a weekly well-being check-in per team."
            ),
            forms=("attitude-360", "attitude-360-nb", "wellbeing-checkin", "wellbeing-checkin-nb"),
            measures=(ROUNDS, f"{ANSWERS}_total", f"{CHECKINS}_total"),
            activities=("attitude.round_closed", "attitude.checkin"),
        )
    ]


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(AttitudeCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.post("/api/attitude/rounds", rounds.open_round),
        web.get("/api/attitude/rounds", rounds.list_rounds),
        web.get("/api/attitude/rounds/{round_id}", rounds.get_round),
        web.post("/api/attitude/rounds/{round_id}/answers", rounds.answer_round),
        web.post("/api/attitude/rounds/{round_id}/close", rounds.close_round),
        web.get("/api/attitude/invitations", rounds.my_invitations),
        web.post("/api/attitude/wellbeing", wellbeing.check_in),
        web.get("/api/attitude/wellbeing", wellbeing.wellbeing),
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    app.plugin_state[PLUGIN] = await app.storage.run(store.figures)
