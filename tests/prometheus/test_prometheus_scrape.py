"""A real Prometheus (Debian's 2.42) accepts and scrapes what ``medlytt serve`` exposes."""

from __future__ import annotations

import subprocess
import urllib.parse
import urllib.request

from medlytt.testing import poll_until, sample_value
from prometheus_client.parser import text_string_to_metric_families

DEMO = {"MEDLYTT_DEMO__SPEED": "20", "MEDLYTT_DEMO__SEED": "1"}


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        return response.read().decode()


def total(exposition: str, name: str) -> float:
    """Sum of every sample called ``name`` in a text exposition."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    )


def test_promtool_accepts_the_exposition(serve, prometheus_bin):
    server = serve(**DEMO)

    # Let the demo run a few (simulated) minutes: a handful of finished calls, so counters,
    # histogram buckets and agent states all hold real values, not just their zero start.
    def with_calls() -> str | None:
        text = scrape(server.url)
        return text if total(text, "medlytt_queue_calls_total") >= 3 else None

    text = poll_until(with_calls, timeout=20, what="3 finished demo calls in /metrics")
    assert total(text, "medlytt_queue_wait_seconds_count") >= 3

    check = subprocess.run(
        [prometheus_bin.promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (check.returncode, check.stdout, check.stderr) == (0, "", ""), text


def test_prometheus_scrapes_medlytt(serve, prometheus):
    server = serve(**DEMO)
    # Every 2 s with a 2 s scrape timeout: on a loaded machine a 1 s scrape can time out,
    # and a failed scrape marks every series stale, so an instant query finds nothing.
    prom = prometheus(urllib.parse.urlsplit(server.url).netloc, scrape_interval="2s")

    def polled(promql: str, expected: float) -> None:
        """Poll until ``promql`` yields ``expected`` (a missed scrape leaves a gap)."""
        poll_until(
            lambda: prom.value(promql) == expected,
            timeout=30,
            what=f"Prometheus has {promql} == {expected}",
        )

    polled('up{job="medlytt"}', 1)
    calls = poll_until(
        lambda: prom.value("sum(medlytt_queue_calls_total)"),
        timeout=30,
        what="Prometheus has sum(medlytt_queue_calls_total) > 0",
    )
    assert calls > 0
    polled('medlytt_demo_mode{job="medlytt"}', 1)
    polled('medlytt_gateway_up{job="medlytt",gateway="demo"}', 1)

    # One counter series as Prometheus stored it, then Medlytt's own value a moment later:
    # a counter only grows, so Prometheus's (earlier) sample can't exceed Medlytt's.
    series = poll_until(
        lambda: prom.query('medlytt_events_total{job="medlytt"} > 0'),
        timeout=30,
        what="Prometheus has a medlytt_events_total series",
    )
    labels = {
        k: v for k, v in series[0]["metric"].items() if k not in {"__name__", "job", "instance"}
    }
    stored = float(series[0]["value"][1])
    own = sample_value(scrape(server.url), "medlytt_events_total", labels)
    assert own is not None, f"Medlytt does not expose medlytt_events_total{labels}"
    assert 0 < stored <= own
