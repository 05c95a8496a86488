"""The written-communication plugin (module 7): texts scored for LIX and passive voice.

Routes: ``POST/GET /api/texts``, ``GET /api/texts/trend`` (:mod:`.api`).  Forms: the
template form (``written-template``, English and bokmål).  Metrics:
``medlytt_written_texts_total{kind,language}``, ``medlytt_written_sentences_total``,
``medlytt_written_passive_sentences_total`` (the passive share is their ratio) and
``medlytt_written_lix_mean{kind,language}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from medlytt import CompetenceModule, EvaluationForm, Event, hookimpl, shipped_forms
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api, store
from .events import EVENT_TYPES
from .settings import WrittenSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

PLUGIN = api.PLUGIN
#: (counter name without _total, help, index in the per-(kind, language) figures)
_COUNTERS = (
    ("medlytt_written_texts", "Texts scored, by kind and language.", 0),
    ("medlytt_written_sentences", "Sentences in the texts scored.", 2),
    ("medlytt_written_passive_sentences", "Sentences in the passive voice in them.", 3),
)
MEASURES = (*(f"{name}_total" for name, _, _ in _COUNTERS), "medlytt_written_lix_mean")


class WrittenCollector(Collector):
    """Figures of the texts kept, read from the database at start and counted since."""

    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        totals: dict[tuple[str, str], list[float]] = self.app.plugin_state.get(PLUGIN) or {}
        for name, help_text, index in _COUNTERS:
            family = CounterMetricFamily(name, help_text, labels=["kind", "language"])
            for (kind, language), figures in sorted(totals.items()):
                family.add_metric([kind, language], figures[index])
            yield family
        mean = GaugeMetricFamily(
            "medlytt_written_lix_mean",
            "Mean LIX of the texts scored, by kind and language.",
            labels=["kind", "language"],
        )
        for (kind, language), figures in sorted(totals.items()):
            mean.add_metric([kind, language], round(figures[1] / figures[0], 2))
        yield mean


@hookimpl
def medlytt_config_schema() -> type[WrittenSettings]:
    return WrittenSettings


@hookimpl
def medlytt_migrations() -> list[Any]:
    return list(store.MIGRATIONS)


@hookimpl
def medlytt_event_types() -> list[type[Event]]:
    return EVENT_TYPES


@hookimpl
def medlytt_forms() -> list[EvaluationForm]:
    """The template form, in English and Norwegian bokmål."""
    return shipped_forms(__name__.rpartition(".")[0])


@hookimpl
def medlytt_competence_modules() -> list[CompetenceModule]:
    return [
        CompetenceModule(
            id=api.MODULE,
            number=7,
            title="Written communication",
            titles={"en": "Written communication", "nb": "Skriftlig kommunikasjon"},
            summary=(
                "E-mails, case notes, chat and letters scored for readability (LIX), "
                "sentence and word length and passive voice; better templates."
            ),
            forms=("written-template", "written-template-nb"),
            measures=MEASURES,
            activities=("text.scored",),
        )
    ]


@hookimpl
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    registry.register(WrittenCollector(app))


@hookimpl
def medlytt_routes(app: Medlytt) -> list[web.RouteDef]:
    return [
        web.post("/api/texts", api.submit_text),
        web.get("/api/texts", api.list_texts),
        web.get("/api/texts/trend", api.trend),
    ]


@hookimpl
async def medlytt_startup(app: Medlytt) -> None:
    app.plugin_state[PLUGIN] = await app.storage.run(store.totals)
