"""The quality plugin's metrics, from figures the service keeps current."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from .service import PLUGIN, SCORE_BUCKETS

if TYPE_CHECKING:
    from medlytt import Medlytt

    from .service import QualityService


class QualityCollector(Collector):
    def __init__(self, app: Medlytt) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        service: QualityService | None = self.app.plugin_state.get(PLUGIN)
        evaluations = CounterMetricFamily(
            "medlytt_evaluations", "Evaluations made, by form.", labels=["form"]
        )
        scores = HistogramMetricFamily(
            "medlytt_evaluation_score",
            "Evaluation scores (0-100; a failed critical item scores 0), by form.",
            labels=["form"],
        )
        overdue = GaugeMetricFamily(
            "medlytt_monitoring_plan_overdue",
            "Listenings behind the team's monitoring plan at an even pace through the month.",
            labels=["team"],
        )
        age = GaugeMetricFamily(
            "medlytt_calibration_age_seconds",
            "Seconds since the team's last calibration round closed (absent: never).",
            labels=["team"],
        )
        due = GaugeMetricFamily(
            "medlytt_calibration_due",
            "1 when the team's last closed calibration round is older than the period.",
            labels=["team"],
        )
        if service is not None:
            for form in sorted(service.forms.versions):
                evaluations.add_metric([form], service.evaluations.get(form, 0))
                counts = service.score_buckets.get(form, [0] * len(SCORE_BUCKETS))
                total = counts[-1]
                buckets = [(f"{b:g}", c) for b, c in zip(SCORE_BUCKETS, counts, strict=True)]
                scores.add_metric(
                    [form], [*buckets, ("+Inf", total)], sum_value=service.score_sums.get(form, 0)
                )
            for team, value in sorted(service.overdue.items()):
                overdue.add_metric([team], value)
            for team, seconds in sorted(service.calibration_age.items()):
                if seconds is not None:
                    age.add_metric([team], seconds)
                due.add_metric([team], float(service.calibration_due(team)))
        yield evaluations
        yield scores
        yield overdue
        yield age
        yield due
