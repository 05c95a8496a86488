"""Helpers shared by the tests: free ports and running ``medlytt`` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDLYTT = str(Path(sys.executable).with_name("medlytt"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def medlytt_env(**extra: str) -> dict[str, str]:
    """The environment for a ``medlytt`` child process: no stray MEDLYTT_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLYTT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Server:
    """A ``medlytt serve`` child process and where it listens."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def terminate(self, timeout: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_server(args: list[str], env: dict[str, str], log: Path, timeout: float = 30) -> Server:
    """Start a server command and wait for its "serving on" line."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            cwd=ROOT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "serving on http://" in line:
                url = line.split("serving on ", 1)[1].split()[0]
                return Server(proc, url, log)
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"server did not start within {timeout} s:\n{log.read_text()}")
