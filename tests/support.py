"""Helpers shared by the tests: free ports, running ``medlytt`` as a real process, and
Debian packages the tests need (installed with apt-get when missing, as CI does)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
APT_TIMEOUT = 900  # seconds for one apt-get run (a slow mirror on a fresh machine)
T = TypeVar("T")
MEDLYTT = str(Path(sys.executable).with_name("medlytt"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def medlytt_env(**extra: str) -> dict[str, str]:
    """The environment for a ``medlytt`` child process: no stray MEDLYTT_* settings."""
    keep = {"MEDLYTT_SANDBOX_CACHE", "MEDLYTT_KEEP_SANDBOX"}  # where the sandboxes live
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLYTT_") or k in keep}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def pip_install_package(source: Path, base: Path) -> Path:
    """pip-install the Python package at ``source`` (a plugin's folder with its
    pyproject.toml) into ``base/site`` and return that folder, for the tests' path only.

    The package is built from a copy (the build writes build/ and *.egg-info next to the
    sources) and installed with its dist-info and entry points, so Medlytt finds it exactly
    like any installed package; no index, no build isolation: it works offline.
    """
    copy, site = base / "source", base / "site"
    shutil.copytree(
        source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    result = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip could not install {source}:\n{result.stderr}"
    return site


class Server:
    """A ``medlytt serve`` child process and where it listens."""

    def __init__(
        self, proc: subprocess.Popen[str], url: str, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.proc = proc
        self.url = url
        self.log = log
        self.env = env or {}

    def admin_token(self) -> str:
        """A new admin user of this server's database, and its token (every API route
        needs one), made with the CLI as an operator would."""
        name = f"admin-{os.urandom(3).hex()}"
        for args in (["user", "add", name, "--role", "admin"], ["token", "create", name]):
            done = subprocess.run(
                [MEDLYTT, *args], env=self.env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

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
                return Server(proc, url, log, env)
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"server did not start within {timeout} s:\n{log.read_text()}")


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        # Wait for a dpkg lock held by another apt run instead of failing at once.
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT,
        check=False,
    )


def debian_package(package: str, found: Callable[[], T | None], what: str) -> T:
    """What ``found()`` finds, installing ``package`` with apt-get first when it finds nothing.

    Needs root for the install (as CI has); otherwise, or when the install does not provide
    ``what``, the test fails with the command to run.  A fresh machine's empty package
    lists get one ``apt-get update``.
    """
    present = found()
    if present is not None:
        return present
    install = ["install", "-y", "--no-install-recommends", package]
    if os.geteuid() != 0:
        pytest.fail(
            f"{what} is not installed; install it with `sudo apt-get {' '.join(install)}` "
            "(or run the tests as root, as CI does; `make test-unit` leaves these tests out)",
            pytrace=False,
        )
    if shutil.which("apt-get") is None:
        pytest.fail(f"{what} is not installed and there is no apt-get for {package}")
    result = _apt_get(*install)
    if result.returncode != 0:  # a fresh machine has empty package lists
        update = _apt_get("update")
        if update.returncode != 0:
            pytest.fail(f"apt-get update failed:\n{update.stdout}\n{update.stderr}")
        result = _apt_get(*install)
    present = found()
    if result.returncode != 0 or present is None:
        pytest.fail(
            f"`apt-get {' '.join(install)}` did not provide {what} "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return present
