"""What the benchmarks that need a real Asterisk share: a sandbox of their own, and ports.

Imported by the scripts beside it (``benchmarks/`` is their first ``sys.path`` entry when
run as ``.venv/bin/python benchmarks/NAME.py``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, SandboxSettings, free_ports

T = TypeVar("T")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_sandbox(instance: str, run: Callable[[AsteriskSandbox, Path], Coroutine[Any, Any, T]]) -> T:
    """Start a sandbox Asterisk called ``instance`` on free ports, run ``run(sandbox, a
    temporary folder)`` on a new event loop, stop the sandbox (its folder stays, with its
    logs).  Exits with a clear message without root: the sandbox chroots Asterisk."""
    if os.geteuid() != 0:
        sys.exit("the Asterisk sandbox needs root (debootstrap, bind mounts, chroot)")
    http_port, ami_port, sip_port = free_ports()
    sandbox = AsteriskSandbox(
        SandboxSettings(
            instance=instance, http_port=http_port, ami_port=ami_port, sip_port=sip_port
        )
    )
    sandbox.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return asyncio.run(run(sandbox, Path(tmp)))
    finally:
        sandbox.stop()
