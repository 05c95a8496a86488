"""``medlytt monitor`` against a real ``medlytt serve`` (the error paths that need no PBX),
and the OpenAPI description of ``/api/monitor`` against the routes the plugin registers.

The happy path (ringing the supervisor, switching modes, the session ending on the
server) needs Asterisk: tests/asterisk.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from medlytt.plugins.monitoring import plugin
from medlytt.plugins.monitoring.events import MonitorMode
from medlytt.plugins.monitoring.service import ActiveSession, MonitoringService
from support import MEDLYTT, ROOT, free_port, medlytt_env

OPENAPI = ROOT / "docs" / "openapi" / "monitoring.json"
# The console as a process; ``[MEDLYTT, "monitor"]`` once plugin.py registers it.
MONITOR = [MEDLYTT, "monitor"]


def run_monitor(*args: str, stdin: str = "q\n", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MONITOR, *args],
        env=medlytt_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def medlytt(db: Path, *args: str) -> str:
    result = subprocess.run(
        [MEDLYTT, *args],
        env=medlytt_env(MEDLYTT_STORAGE__PATH=str(db)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def server(serve, tmp_path):
    """A demo-less ``medlytt serve`` (no Asterisk) with a supervisor and an agent user."""
    db = tmp_path / "medlytt.db"
    running = serve(MEDLYTT_DEMO__ENABLED="false", MEDLYTT_STORAGE__PATH=str(db))
    medlytt(db, "user", "add", "kari", "--role", "supervisor", "--phone", "PJSIP/2001")
    medlytt(db, "user", "add", "ola", "--role", "agent", "--agent-id", "PJSIP/1001")
    running.tokens = {
        "kari": medlytt(db, "token", "create", "kari"),
        "ola": medlytt(db, "token", "create", "ola"),
    }
    return running


def test_no_token_is_401(server):
    result = run_monitor("PJSIP/1001", "--url", server.url)
    assert result.returncode == 1, result
    assert "401" in result.stderr and "missing Authorization" in result.stderr
    assert "MEDLYTT_TOKEN" in result.stderr  # the hint where a token goes


def test_agent_token_is_403(server):
    token = server.tokens["ola"]
    result = run_monitor("PJSIP/1001", "--url", server.url, "--token", token)
    assert result.returncode == 1, result
    assert "403" in result.stderr and "supervisor" in result.stderr
    assert token not in result.stdout + result.stderr


def test_supervisor_without_asterisk_gets_503(server):
    token = server.tokens["kari"]
    result = run_monitor(
        "PJSIP/1001", "--mode", "whisper", "--url", server.url, MEDLYTT_TOKEN=token
    )
    assert result.returncode == 1, result
    assert "503" in result.stderr
    assert "monitoring: needs a PBX gateway with call control (" in result.stderr
    assert token not in result.stdout + result.stderr


def test_no_phone_and_no_via_is_422(server, tmp_path):
    db = tmp_path / "medlytt.db"
    medlytt(db, "user", "add", "per", "--role", "supervisor")
    token = medlytt(db, "token", "create", "per")
    result = run_monitor("PJSIP/1001", "--url", server.url, MEDLYTT_TOKEN=token)
    assert result.returncode == 1, result
    assert "422" in result.stderr and "has no phone" in result.stderr


def test_unreachable_server():
    url = f"http://127.0.0.1:{free_port()}"
    result = run_monitor("PJSIP/1001", "--url", url, MEDLYTT_TOKEN="mlt_x")
    assert result.returncode == 1, result
    assert f"cannot connect to Medlytt at {url}" in result.stderr
    assert "mlt_x" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],  # no AGENT
        ["PJSIP/1001", "--mode", "shout"],
        ["PJSIP/1001", "--url", "127.0.0.1:8470"],
    ],
)
def test_usage_errors_exit_2(args):
    result = run_monitor(*args)
    assert result.returncode == 2, result
    assert "Usage:" in result.stderr


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_describes_exactly_the_registered_routes():
    spec = json.loads(OPENAPI.read_text())
    assert spec["openapi"].startswith("3.0.")
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    }
    registered = {(route.method, route.path) for route in plugin.medlytt_routes(app=None)}
    assert len(registered) == 5
    assert documented == registered
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_openapi_schemas_match_the_code():
    schemas = json.loads(OPENAPI.read_text())["components"]["schemas"]
    assert set(schemas["StartRequest"]["properties"]) == set(plugin.StartRequest.__struct_fields__)
    assert set(schemas["ModeRequest"]["properties"]) == set(plugin.ModeRequest.__struct_fields__)
    assert schemas["Mode"]["enum"] == [m.value for m in MonitorMode]
    session = ActiveSession(
        "abc", "kari", "PJSIP/2001", "PJSIP/1001", "c1", MonitorMode.LISTEN, None
    )  # type: ignore[arg-type]
    described = MonitoringService.describe(None, session)  # type: ignore[arg-type]
    assert set(schemas["Session"]["properties"]) == set(described)
    assert set(schemas["Session"]["required"]) == set(described)
    assert set(schemas["Error"]["properties"]) == {"error", "status"}


def test_openapi_references_resolve():
    spec = json.loads(OPENAPI.read_text())
    text = OPENAPI.read_text()
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = spec
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]
        assert node, ref
