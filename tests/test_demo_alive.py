"""Issue 17's acceptance point: within 5 s of starting Medlytt with no PBX (what `make run`
runs: `medlytt serve`, the demo at its default speed), /metrics shows answered calls in
every demo queue.  Counted from launching the process, not from its "serving on" line;
tests/test_run_command.py runs `make run` itself and checks the metrics move on.

The 5 s are the process's own: the CPU seconds it spent from launch (imports, the day's
simulated history, serving) until the answered calls showed.  On an idle machine that is
its wall-clock time; on a loaded CI machine the wall clock also counts the time other
processes had the cores, so the wall clock must also stay under 5 s only while the load
is below the number of cores (and is printed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from medlytt.gateways.demo.settings import default_queues
from medlytt.testing import sample_value
from support import MEDLYTT, free_port, medlytt_env

#: Seconds of the process's own time from launch to answered calls in every queue (the
#: issue's acceptance point).
DEADLINE = 5.0
#: Wall-clock seconds to wait for them on a machine shared with other work.
WALL_TIMEOUT = 60.0


def answered_per_queue(url: str) -> dict[str, float | None]:
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return {}  # not serving yet
    return {
        q.name: sample_value(
            text, "medlytt_queue_calls_total", {"queue": q.name, "outcome": "answered"}
        )
        for q in default_queues()
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used since it started (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def test_metrics_show_answered_calls_in_every_demo_queue_within_5_s_of_launch(tmp_path):
    port = free_port()
    env = medlytt_env(MEDLYTT_SERVER__PORT=str(port))
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        launched = time.monotonic()
        proc = subprocess.Popen(
            [MEDLYTT, "serve"],
            cwd=tmp_path,  # its medlytt.db lands here, as `make run`'s lands in the clone
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        seen: dict[str, float | None] = {}
        while time.monotonic() - launched < WALL_TIMEOUT:
            seen = answered_per_queue(url)
            if seen and all(seen.values()):
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        used = cpu_seconds(proc.pid)  # read just after: a little over, never under
        took = time.monotonic() - launched
        print(f"answered calls in every queue {took:.2f} s after launch, {used:.2f} s of CPU")
        assert seen and all(seen.values()), (
            f"after {took:.1f} s answered calls per queue: {seen}\n{log.read_text()}"
        )
        assert set(seen) == {"support", "sales", "billing"}
        assert used < DEADLINE, f"{used:.2f} CPU seconds from launch to answered calls"
        # The wall clock too, unless other work held the cores meanwhile: then the time
        # the process did not run is theirs.  A Medlytt that waits (a sleep, a timer before
        # the first calls) fails here on a machine that is not overloaded.
        load = os.getloadavg()[0]
        cores = os.cpu_count() or 1
        assert took < DEADLINE or load > cores, (
            f"{took:.2f} s from launch to answered calls at load {load:.1f} on {cores} cores"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
