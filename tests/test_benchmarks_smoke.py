"""Each benchmark runs with tiny parameters and says something sane (never a time).

The figures themselves belong in docs/performance.md, measured by hand on a known
machine; these runs only prove that every documented command still works and that its
output is consistent: counts that add up, nothing dropped, sizes and rates positive.
The ingest benchmark replays the first messages of the committed sandbox recording, so
no Asterisk is needed here.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
FIXTURE = BENCHMARKS / "fixtures" / "sandbox-calls.jsonl.gz"


def bench(script: str, *args: str, out: Path) -> dict[str, Any]:
    """Run ``benchmarks/SCRIPT ARGS --json OUT``; its results."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_scale_memory_reports_a_plateau_and_the_api_costs(tmp_path: Path) -> None:
    got = bench(
        "scale_memory.py",
        *("--agents", "20", "--calls-per-hour", "300", "--finished", "60", "--every", "20"),
        *("--probe-calls", "30"),
        out=tmp_path / "scale.json",
    )
    assert [p["finished_calls"] for p in got["memory"]] == [20, 40, 60]
    assert all(p["rss_bytes"] > 0 and p["allocated_blocks"] > 0 for p in got["memory"])
    assert got["dropped"] == 0
    assert 0 < got["bytes_per_active_call"] < 100_000
    metrics = got["metrics"]
    assert metrics["series"] > 100 and metrics["bytes"] > metrics["series"] * 20
    assert metrics["seconds"] > 0 and metrics["floor_seconds"] > 0
    state = got["api_state"]
    assert state["bytes"] > 1000 and state["seconds"] > 0 and state["floor_seconds"] > 0
    assert "queue_metrics" in got["plugins"]


def test_the_recording_holds_every_kind_of_call() -> None:
    assert FIXTURE.stat().st_size < 1_000_000
    ami_events: set[str] = set()
    roles: set[str] = set()
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "ami" in record:
                assert record["ami"].endswith("\r\n\r\n")
                ami_events.update(
                    text[7:] for text in record["ami"].split("\r\n") if text.startswith("Event: ")
                )
            else:
                frame = json.loads(record["ari"])
                if frame["type"] == "StasisStart" and frame.get("args"):
                    roles.add(frame["args"][0])
    assert {"AgentConnect", "AgentComplete", "QueueCallerAbandon", "QueueCallerLeave"} <= ami_events
    assert {"ChannelTalkingStart", "ChannelTalkingStop", "MusicOnHoldStart"} <= ami_events
    assert {"survey", "mystery", "snoop", "supervisor"} <= roles


def test_ingest_replays_the_recording_beside_its_floor(tmp_path: Path) -> None:
    got = bench(
        "ingest.py",
        "--limit",
        "3000",
        "--repeat",
        "1",
        "--latency-chunk",
        "50",
        out=tmp_path / "ingest.json",
    )
    floor = got["floor"]
    assert floor["ami_blocks"] + floor["ari_frames"] == got["mix"]["messages"] == 3000
    assert got["ari"]["messages"] == floor["ari_frames"] > 0
    for run in ("mix", "ari", "latency"):
        assert got[run]["dropped"] == 0
    # Asterisk's own messages: the odd one it sends incomplete (an AgentComplete whose
    # channel was already gone) is rejected the same way in every replay.
    assert got["mix"]["rejected"] == got["latency"]["rejected"] <= 1
    assert got["mix"]["events"] > 0
    assert got["latency"]["latency_events"] > 0
    assert 0 < got["latency"]["p50_ms"] <= got["latency"]["p99_ms"]
    assert floor["mix_per_second"] > 0 and got["mix"]["per_second"] > 0


def test_burst_counts_every_outcome_and_its_lag(tmp_path: Path) -> None:
    got = bench(
        "burst.py",
        *("--calls", "20", "--seconds", "2", "--agents", "5", "--pace", "0.1"),
        out=tmp_path / "burst.json",
    )
    assert got["calls"] == 20 and got["dropped"] == 0
    assert got["outcomes"] == got["lags"] == 20  # every call answered or abandoned, each seen
    assert got["events"] > 20 * 2
    assert 0 <= got["lag_p50_ms"] <= got["lag_p99_ms"] <= got["lag_max_ms"]
    assert got["scrapes"] >= 1 and got["scrape_bytes"] > 1000


def test_storage_uses_the_agent_indexes(tmp_path: Path) -> None:
    got = bench("storage.py", "--agents", "5", "--events", "500", out=tmp_path / "storage.json")
    assert got["journal"]["events"] == 500
    assert got["journal"]["per_second"] > 0 and got["journal"]["floor_per_second"] > 0
    history = got["history"]
    assert {"survey_responses", "monitoring_audit", "mystery_calls"} <= set(history)
    for table, figures in history.items():
        assert figures["rows"] > 0
        assert f"USING INDEX idx_{table}_agent_id" in figures["plan"], figures["plan"]
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_event_throughput_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "event_throughput.py"), "--hours", "0.2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert int(lines["events"]) > 100
    assert float(lines["ratio to floor"]) > 0
