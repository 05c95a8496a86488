"""A real SIP softphone for the Asterisk tests: Debian's ``baresip`` (package ``baresip-core``).

:class:`Baresip` registers one of the sandbox's PJSIP phones (``1001``, ``1002``, ``2001``)
from a folder of its own, answers every call at once (``answermode=auto``) and "speaks" a
sine tone as its microphone (module ``ausine``), so a recording proves that its audio
crossed real SIP and RTP. It needs no sound card (``aubridge`` is the player) and reports
its calls over ``ctrl_tcp`` (netstring JSON events such as ``CALL_ESTABLISHED`` and
``CALL_CLOSED``), which :attr:`Baresip.events` collects.

:func:`baresip_binary` finds ``baresip`` or installs the package with apt-get (root), like
``tests/prometheus/conftest.py`` does for Prometheus. Verified with baresip 1.0.0 on
Debian 12; the same two config files work by hand (docs/asterisk-sandbox.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medlytt.gateways.asterisk.sandbox import AsteriskSandbox
from support import debian_package

PACKAGE = "baresip-core"
MODULE_PATH = "/usr/lib/baresip/modules"
START_TIMEOUT = 10  # seconds for baresip to listen on ctrl_tcp and register
STOP_TIMEOUT = 3  # seconds for SIGTERM (baresip unregisters first) before SIGKILL
TESTER_PHONE = "2001"
TESTER_PHONE_TONE = 1800
"""The tests' human tester: baresip registered as the sandbox's 2001, "speaking" 1800 Hz."""


# ------------------------------------------------------------------------------------------
# The binary
# ------------------------------------------------------------------------------------------


def _found() -> str | None:
    binary = shutil.which("baresip")
    if binary and Path(MODULE_PATH, "ausine.so").is_file():
        return binary
    return None


def baresip_binary() -> str:
    """``baresip`` from PATH, installed with apt-get (``baresip-core``) when missing (root)."""
    return debian_package(PACKAGE, _found, f"baresip (with {MODULE_PATH}/ausine.so)")


# ------------------------------------------------------------------------------------------
# Config files
# ------------------------------------------------------------------------------------------


def accounts_text(phone: str, password: str, registrar_port: int, answermode: str = "auto") -> str:
    """baresip's ``accounts``: register ``phone`` at the sandbox; ``auto`` answers every call."""
    return (
        f"<sip:{phone}@127.0.0.1:{registrar_port}>;auth_pass={password};answermode={answermode}\n"
    )


def config_text(sip_port: int, ctrl_port: int, tone: int) -> str:
    """baresip's ``config``: loopback only, ulaw/alaw, a sine as microphone, no sound card.

    baresip listens for SIP on UDP and TCP ``sip_port`` and for SIP over TLS on
    ``sip_port + 1``: ``ctrl_port`` must be neither.
    """
    return f"""\
sip_listen		127.0.0.1:{sip_port}
module_path		{MODULE_PATH}
audio_source		ausine,{tone}
audio_player		aubridge,x
ausrc_srate		48000
ausrc_channels		2
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
module			g711.so
module			ausine.so
module			aubridge.so
module			ctrl_tcp.so
module_app		account.so
module_app		menu.so
"""


def _free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int]:
    """A SIP port (UDP and TCP free, TCP +1 free for TLS) and a ctrl_tcp port."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sip = sock.getsockname()[1]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ctrl = sock.getsockname()[1]
        if (
            ctrl not in (sip, sip + 1)
            and sip < 65535
            and _free(sip, socket.SOCK_DGRAM)
            and _free(sip, socket.SOCK_STREAM)
            and _free(sip + 1, socket.SOCK_STREAM)
        ):
            return sip, ctrl


# ------------------------------------------------------------------------------------------
# The phone
# ------------------------------------------------------------------------------------------


class Baresip:
    """One running baresip registered as ``phone``; ``start()`` waits until it is registered.

    ``registered`` is checked too (e.g. Asterisk's view through ARI); the phone counts as
    registered once baresip logged ``200 OK`` for its REGISTER and that check is true.
    """

    def __init__(
        self,
        binary: str,
        folder: Path,
        *,
        phone: str,
        password: str,
        registrar_port: int,
        tone: int = 1800,
        answermode: str = "auto",
        registered: Callable[[], bool] = lambda: True,
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.phone = phone
        self.password = password
        self.registrar_port = registrar_port
        self.tone = tone
        self.answermode = answermode
        self.registered = registered
        self.log_path = folder / "baresip.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.sip_port = self.ctrl_port = 0
        self.events: list[dict[str, Any]] = []
        self._events_changed = threading.Condition()
        self._ctrl: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._offset = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Baresip:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "accounts").write_text(
            accounts_text(self.phone, self.password, self.registrar_port, self.answermode)
        )
        for _attempt in range(3):  # another process may take a free port first
            self.sip_port, self.ctrl_port = _ports()
            (self.folder / "config").write_text(
                config_text(self.sip_port, self.ctrl_port, self.tone)
            )
            self._offset = offset = len(self.log())
            with self.log_path.open("ab") as out:
                self.proc = subprocess.Popen(
                    [self.binary, "-f", str(self.folder)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=self.folder,
                )
            try:
                self._connect(time.monotonic() + timeout)
                self._wait_registered(time.monotonic() + timeout)
                return self
            except AssertionError:
                if "Address already in use" not in self.log()[offset:] or _attempt == 2:
                    self.kill()
                    raise
                self.kill()
        raise AssertionError("unreachable")

    def _connect(self, deadline: float) -> None:
        while True:
            self._check_running("before listening on ctrl_tcp")
            try:
                sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if "ctrl_tcp: failed" in self.log()[self._offset :]:
                    self._fail("ctrl_tcp could not listen")
                if time.monotonic() > deadline:
                    self._fail(f"ctrl_tcp did not accept on 127.0.0.1:{self.ctrl_port}")
                time.sleep(0.05)
        sock.settimeout(None)
        self._ctrl = sock
        self._reader = threading.Thread(target=self._read_events, args=(sock,), daemon=True)
        self._reader.start()

    def _wait_registered(self, deadline: float) -> None:
        ok = f"{self.phone}@127.0.0.1: {{0/UDP/v4}} 200 OK"
        while not (ok in self.log()[self._offset :] and self._ok()):
            self._check_running("before registering")
            if time.monotonic() > deadline:
                self._fail(f"{self.phone} did not register at 127.0.0.1:{self.registrar_port}")
            time.sleep(0.05)

    def _ok(self) -> bool:
        try:
            return self.registered()
        except Exception:
            return False

    def stop(self) -> None:
        """SIGTERM (baresip unregisters, then exits), SIGKILL after STOP_TIMEOUT s."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT)
        self.kill()

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self._ctrl is not None:
            with contextlib.suppress(OSError):
                self._ctrl.shutdown(socket.SHUT_RDWR)
            self._ctrl.close()
            self._ctrl = None
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- ctrl_tcp ----------------------------------------------------------------------------

    def _read_events(self, sock: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:  # netstrings: LEN:JSON,
                length, rest = buffer.split(b":", 1)
                size = int(length)
                if len(rest) < size + 1:
                    break
                message = json.loads(rest[:size])
                buffer = rest[size + 1 :]
                with self._events_changed:
                    self.events.append(message)
                    self._events_changed.notify_all()

    def command(self, command: str, params: str = "") -> None:
        """Send a ctrl_tcp command (e.g. ``hangup``); its answer arrives in :attr:`events`."""
        assert self._ctrl is not None, "baresip is not running"
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._ctrl.sendall(b"%d:%s," % (len(body), body))

    def call_events(self) -> list[str]:
        """Names of the call events seen so far (``CALL_INCOMING``, ``CALL_CLOSED``, ...)."""
        with self._events_changed:
            return [e["type"] for e in self.events if e.get("event") and e.get("class") == "call"]

    def wait_event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The first event of type ``kind`` (e.g. ``CALL_CLOSED``), waiting for it."""
        deadline = time.monotonic() + timeout
        with self._events_changed:
            while True:
                for event in self.events:
                    if event.get("event") and event.get("type") == kind:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(f"no {kind} event within {timeout} s (saw {self.call_events()})")
                self._events_changed.wait(left)

    # -- diagnostics -------------------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _check_running(self, when: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self._fail(f"baresip exited with status {self.proc.returncode} {when}")

    def _fail(self, message: str) -> None:
        raise AssertionError(
            f"baresip ({self.folder}): {message}\n--- baresip log ---\n{self.log()}"
        )


def sandbox_phone(
    sandbox: AsteriskSandbox,
    binary: str,
    folder: Path,
    *,
    phone: str = "2001",
    tone: int = 1800,
    answermode: str = "auto",
) -> Baresip:
    """A (not yet started) baresip for one of the sandbox's phones; registered means
    baresip got ``200 OK`` and Asterisk's ARI says the endpoint is ``online``."""
    ari = sandbox.ari()

    def online() -> bool:
        return ari.request("GET", f"/endpoints/PJSIP/{phone}")["state"] == "online"

    return Baresip(
        binary,
        folder,
        phone=phone,
        password=sandbox._stored("secrets.json")[f"sip_{phone}_password"],
        registrar_port=sandbox._ports()["sip_port"],  # what the running instance listens on
        tone=tone,
        answermode=answermode,
        registered=online,
    )
