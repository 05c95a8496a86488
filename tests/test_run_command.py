"""The README's run command serves the demo, alive at once, and its metrics move."""

import os
import signal
import subprocess
import time
import urllib.request

from medlytt.testing import sample_value
from support import ROOT, free_port, medlytt_env

QUEUES = ("support", "sales", "billing")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode()


def test_make_run_serves_demo_metrics_that_change(tmp_path):
    port = free_port()
    env = medlytt_env(
        MEDLYTT_SERVER__PORT=str(port),
        MEDLYTT_STORAGE__PATH=str(tmp_path / "run.db"),
        MEDLYTT_DEMO__SPEED="60",
    )
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while f"serving on {url}" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        serving = time.monotonic()
        assert "DEMO" in log.read_text()

        # The demo starts with the day so far behind it: within 5 s of serving, every queue
        # has answered calls (the README's first curl shows real numbers at once).
        def answered(text: str) -> dict[str, float | None]:
            labels = {"outcome": "answered"}
            return {
                q: sample_value(text, "medlytt_queue_calls_total", {"queue": q, **labels})
                for q in QUEUES
            }

        first = scrape(url)
        while not all(answered(first).values()):
            assert time.monotonic() - serving < 5, answered(first)
            time.sleep(0.2)
            first = scrape(url)
        time.sleep(3)
        second = scrape(url)
        assert sample_value(first, "medlytt_demo_mode") == 1
        waiting = {"queue": "support"}
        assert sample_value(first, "medlytt_queue_calls_waiting", waiting) is not None

        def total_calls(text: str) -> float:
            return sum(
                sample_value(text, "medlytt_queue_calls_total", {"queue": q, "outcome": o}) or 0
                for q in QUEUES
                for o in ("answered", "abandoned", "timeout")
            )

        assert total_calls(second) > total_calls(first)
        for metric, labels in [
            ("medlytt_queue_service_level_ratio", {"queue": "support", "window": "15m"}),
            ("medlytt_queue_agents_required", {"queue": "sales"}),
            ("medlytt_call_talk_seconds_count", {"queue": "billing"}),
        ]:
            assert sample_value(second, metric, labels) is not None, metric
        for queue in QUEUES:  # hours of history: real service levels, not NaN
            for window in ("15m", "1h"):
                labels = {"queue": queue, "window": window}
                level = sample_value(second, "medlytt_queue_service_level_ratio", labels)
                assert level is not None and 0 <= level <= 1, (labels, level)
        events = "medlytt_events_total"
        assert sample_value(second, events, {"type": "agent.state_changed"}) > sample_value(
            first, events, {"type": "agent.state_changed"}
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
