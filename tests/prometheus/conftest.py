"""Fixtures that run a real Prometheus (Debian's ``prometheus`` 2.42 package) against Medlytt.

``prometheus_bin`` finds ``prometheus`` and ``promtool``; when they are missing and the tests
run as root (as CI does) it installs the Debian package.  These tests never skip: without the
binaries they fail with a message saying how to get them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import debian_package, free_port

START_TIMEOUT = 30  # seconds for Prometheus to answer /-/ready
HTTP_TIMEOUT = 5


@dataclass(frozen=True)
class PrometheusBinaries:
    prometheus: str
    promtool: str


def _which() -> PrometheusBinaries | None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus and promtool:
        return PrometheusBinaries(prometheus, promtool)
    return None


@pytest.fixture(scope="session")
def prometheus_bin() -> PrometheusBinaries:
    """``prometheus`` and ``promtool`` from PATH, installed with apt-get when missing (root)."""
    return debian_package("prometheus", _which, "prometheus and promtool")


class Prometheus:
    """A running Prometheus server and a helper for its HTTP query API."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path, config: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log
        self.config = config

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query; return ``data.result`` (for a vector: ``metric`` + ``value``)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, promql: str) -> float | None:
        """The value of a query that yields at most one series (None when it yields none)."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql} returned {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None


def _config(target: str, scrape_interval: str) -> str:
    return f"""\
global:
  scrape_interval: {scrape_interval}
  scrape_timeout: {scrape_interval}
  evaluation_interval: {scrape_interval}
scrape_configs:
  - job_name: medlytt
    static_configs:
      - targets: ["{target}"]
"""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=HTTP_TIMEOUT) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def prometheus(
    prometheus_bin: PrometheusBinaries, tmp_path: Path
) -> Iterator[Callable[..., Prometheus]]:
    """Factory: ``prometheus("127.0.0.1:PORT")`` runs Prometheus scraping that target.

    The job is named ``medlytt`` and scrapes every second; storage lives in ``tmp_path``.
    Every server is killed with its process group when the test ends.
    """
    procs: list[subprocess.Popen[str]] = []

    def factory(target: str, scrape_interval: str = "1s") -> Prometheus:
        home = tmp_path / f"prometheus-{len(procs)}"
        home.mkdir()
        config = home / "prometheus.yml"
        config.write_text(_config(target, scrape_interval))
        log = home / "prometheus.log"
        for _attempt in range(3):  # another process may take the free port first
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            with log.open("w") as out:
                proc = subprocess.Popen(
                    [
                        prometheus_bin.prometheus,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={home / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                    cwd=home,
                )
            procs.append(proc)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None and not _ready(url):
                time.sleep(0.1)
            if proc.poll() is None and _ready(url):
                return Prometheus(proc, url, log, config)
            _kill(proc)
            if "address already in use" not in log.read_text():
                break
        raise AssertionError(f"prometheus did not become ready:\n{log.read_text()}")

    yield factory
    for proc in procs:
        _kill(proc)
