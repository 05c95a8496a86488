"""A real Asterisk 22 for the tests of this folder: one sandbox per test session.

The sandbox needs root (debootstrap, bind mounts, chroot). Without root these tests fail
with a clear message instead of being skipped: a green run must mean Asterisk was tested.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from medlytt.gateways.asterisk.ami import AmiClient, AmiError
from medlytt.gateways.asterisk.ari import AriClient, AriError
from medlytt.gateways.asterisk.sandbox import (
    AsteriskSandbox,
    SandboxError,
    SandboxInfo,
    SandboxSettings,
    free_ports,
)
from medlytt.testing import TestMedlytt, running_medlytt, wait_until
from sample_plugins import recorder
from softphone import TESTER_PHONE, TESTER_PHONE_TONE, Baresip, baresip_binary, sandbox_phone

AGENT_TIMEOUT = 3
"""Seconds a queue member rings before RINGNOANSWER in the test sandbox (short: fast tests)."""

_session: dict[str, SandboxInfo] = {}


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "tests/asterisk run a real Asterisk 22 (debootstrap, mount --bind, chroot) and "
            "need root: run them as root, as CI does (`make test-unit` runs every other test)",
            pytrace=False,
        )


def new_sandbox(prefix: str) -> AsteriskSandbox:
    """A sandbox (not started) on free ports, its instance named ``PREFIX-PID-RANDOM``."""
    http_port, ami_port, sip_port = free_ports()
    settings = SandboxSettings(
        instance=f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}",
        http_port=http_port,
        ami_port=ami_port,
        sip_port=sip_port,
        agent_timeout=AGENT_TIMEOUT,
    )
    return AsteriskSandbox(settings)


@contextlib.contextmanager
def running(sandbox: AsteriskSandbox) -> Iterator[SandboxInfo]:
    """Start ``sandbox``; at the end remove it (MEDLYTT_KEEP_SANDBOX=1: only stop it, so
    its folder with logs and queue_log stays)."""
    require_root()
    info = sandbox.start()
    try:
        yield info
    finally:
        if os.environ.get("MEDLYTT_KEEP_SANDBOX"):
            sandbox.stop()
        else:
            sandbox.purge()


@pytest.fixture(scope="session")
def asterisk_sandbox() -> Iterator[AsteriskSandbox]:
    """A running sandbox on free ports with a unique instance name, removed at the end.

    Set MEDLYTT_KEEP_SANDBOX=1 to keep the instance folder (logs, queue_log) afterwards.
    """
    require_root()
    sandbox = new_sandbox("pytest")
    with running(sandbox) as info:
        _session["info"] = info
        yield sandbox


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Record which Asterisk the run tested against (sid and testing move)."""
    info = _session.get("info")
    if info is not None:
        how = "cached root reused" if info.cache_reused else "root bootstrapped"
        terminalreporter.write_line(
            f"asterisk sandbox: Asterisk {info.version} from Debian {info.suite} "
            f"({how}, ready in {info.ready_seconds} s)"
        )


HEALTH_TIMEOUT = 10
"""Seconds a sandbox has to answer each health probe before a test."""


async def gateway_can_connect(sandbox: AsteriskSandbox, timeout: float) -> None:
    """Do what Medlytt's gateway does to connect, each step within ``timeout``: AMI banner,
    login and ``QueueStatus`` (app_queue's locks), ARI ``GET /asterisk/info`` and the
    event WebSocket's handshake (on a probe application of its own)."""
    section = sandbox.asterisk_section
    ami = AmiClient(
        section["ami_host"],
        section["ami_port"],
        section["ami_user"],
        section["ami_secret"],
        timeout=timeout,
    )
    ari = AriClient(
        section["ari_url"], section["ari_user"], section["ari_password"], timeout=timeout
    )
    try:
        await ami.connect()
        await ami.action_list("QueueStatus")
        await ari.get("/asterisk/info")
        ws = await ari.open_events(["medlytt-health-probe"])
        await ws.close()
    finally:
        await ami.close()
        await ari.close()


def ensure_healthy(sandbox: AsteriskSandbox) -> None:
    """Start a sandbox again if an earlier test left it down or hung, saying so.

    Hung means running but not letting a gateway connect (see :func:`gateway_can_connect`):
    a deadlocked Asterisk still accepts connections, so every later test would fail on
    something else.  What it printed last goes to the test's output before the restart.
    """
    if sandbox.status() is None:
        print(f"\nsandbox {sandbox.settings.instance!r} was down; starting it again")
        sandbox.start()
        return
    try:
        sandbox.cli("queue show", timeout=HEALTH_TIMEOUT)
        # In a thread of its own: asyncio.run would unset the test's event loop here.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, gateway_can_connect(sandbox, HEALTH_TIMEOUT)).result()
        return
    except (subprocess.TimeoutExpired, SandboxError, AmiError, AriError, OSError) as exc:
        print(
            f"\nsandbox {sandbox.settings.instance!r} runs but a gateway could not connect "
            f"({exc!r}); restarting it. Its log:\n{sandbox.log_tail()}"
        )
    sandbox.stop(graceful=False)
    sandbox.start()


@pytest.fixture(autouse=True)
def _healthy_sandbox(request: pytest.FixtureRequest) -> None:
    """Every test that uses the session sandbox gets it running and answering."""
    if "asterisk_sandbox" in request.fixturenames:
        ensure_healthy(request.getfixturevalue("asterisk_sandbox"))


@pytest.fixture
async def app(
    asterisk_sandbox: AsteriskSandbox, tmp_path, request: pytest.FixtureRequest
) -> AsyncIterator[TestMedlytt]:
    """A running Medlytt connected to the session sandbox, recording every event."""
    marker = request.node.get_closest_marker("medlytt_sections")
    sections = {"asterisk": asterisk_sandbox.asterisk_section, **(marker.args[0] if marker else {})}
    async with running_medlytt(
        sections, db_path=tmp_path / "m.db", plugins=[("recorder", recorder)]
    ) as app:
        await wait_until(lambda: app.gateways[0].connected, timeout=15)
        await wait_idle(asterisk_sandbox)
        yield app


async def wait_idle(sandbox: AsteriskSandbox) -> None:
    """Wait until no test call of an earlier test is still up."""

    def busy() -> list[str]:
        channels = sandbox.ari().request("GET", "/channels")
        return [
            f"{c['name']} ({c['state']}, up since {c['creationtime']})"
            for c in channels
            if "callers" in c["name"]
        ]

    deadline = time.monotonic() + 60
    while calls := busy():
        assert time.monotonic() < deadline, f"test calls of an earlier test still up: {calls}"
        await asyncio.sleep(0.2)


# -- A real SIP softphone (tests/asterisk/softphone.py) ----------------------------------------


@pytest.fixture(scope="session")
def baresip_bin() -> str:
    """``baresip`` from PATH, installed with apt-get (package ``baresip-core``) when missing."""
    return baresip_binary()


@pytest.fixture
def tester_phone(
    asterisk_sandbox: AsteriskSandbox, baresip_bin: str, tmp_path
) -> Iterator[Baresip]:
    """baresip registered as 2001 (auto-answer, 1800 Hz sine as microphone); stopped after."""
    phone = sandbox_phone(
        asterisk_sandbox,
        baresip_bin,
        tmp_path / f"baresip-{TESTER_PHONE}",
        phone=TESTER_PHONE,
        tone=TESTER_PHONE_TONE,
    )
    phone.start()
    try:
        yield phone
    finally:
        phone.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """A failed test that used ``tester_phone`` shows baresip's log with its report."""
    report = yield
    phone = getattr(item, "funcargs", {}).get("tester_phone")
    if report.failed and isinstance(phone, Baresip):
        report.sections.append(("baresip log (tester_phone)", phone.log()))
    return report
