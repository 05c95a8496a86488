"""Shared fixtures (helpers live in ``support.py``, importable from every test folder)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MEDLYTT, Server, free_port, medlytt_env, start_server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Factory that runs ``medlytt serve`` with env settings; every server is stopped after."""
    servers: list[Server] = []

    def factory(*extra_args: str, **env: str) -> Server:
        env.setdefault("MEDLYTT_STORAGE__PATH", str(tmp_path / "medlytt.db"))
        env.setdefault("MEDLYTT_SERVER__PORT", str(free_port()))
        server = start_server(
            [MEDLYTT, "serve", *extra_args],
            medlytt_env(**env),
            tmp_path / f"serve-{len(servers)}.log",
        )
        servers.append(server)
        return server

    yield factory
    for server in servers:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
