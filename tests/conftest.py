"""Shared fixtures (helpers live in ``support.py``, importable from every test folder)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    MEDLYTT,
    ROOT,
    Server,
    free_port,
    medlytt_env,
    pip_install_package,
    start_server,
)

TESTS = Path(__file__).resolve().parent
#: Tests that need a real component, marked by folder (declared in pyproject.toml, where
#: ``--strict-markers`` makes a misspelt marker an error). ``make test-unit`` runs
#: ``pytest -m "not asterisk and not prometheus and not browser"``: no root, no Debian
#: archive.  ``make test`` and CI run every test; those that cannot run there fail, they are
#: never skipped.
FOLDER_MARKERS = {
    "asterisk": "asterisk",  # a real Asterisk 22 in the sandbox (root, chroot) and baresip
    "prometheus": "prometheus",  # a real Prometheus (the Debian package, apt-get as root)
    "browser": "browser",  # Debian's chromium driven by Playwright (apt-get as root)
}
EXAMPLE_PLUGIN = ROOT / "docs/examples/medlytt-longcalls"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(TESTS):
            marker = FOLDER_MARKERS.get(path.relative_to(TESTS).parts[0])
            if marker is not None:
                item.add_marker(marker)


@pytest.fixture(scope="session", autouse=True)
def example_plugin_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example third-party plugin, pip-installed for this test session only.

    pip builds docs/examples/medlytt-longcalls and installs it, dist-info and entry point
    included, into a folder of the session that goes first on ``sys.path`` and, for the
    ``medlytt`` child processes, on ``PYTHONPATH``.  Medlytt finds it through its entry point
    exactly like any installed package (tests/test_third_party_plugin.py), and .venv never
    holds it, so ``make run`` does not load it (tests/test_packaging.py).
    """
    site = pip_install_package(EXAMPLE_PLUGIN, tmp_path_factory.mktemp("example-plugin"))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        mp.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
        )
        yield site


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
