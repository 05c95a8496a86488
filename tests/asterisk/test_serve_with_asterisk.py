"""What an administrator does: `medlytt sandbox start`'s section in a config, `medlytt serve`."""

import json
import subprocess
import urllib.request

from medlytt.testing import poll_until, sample_value
from support import MEDLYTT, medlytt_env


def get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=5
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_against_the_sandbox(asterisk_sandbox, serve, tmp_path):
    section = asterisk_sandbox.asterisk_section
    config = tmp_path / "medlytt.toml"
    lines = ["[asterisk]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    config.write_text("\n".join(lines) + "\n")
    server = serve("--config", str(config))

    poll_until(lambda: get(server.url + "/readyz")[0] == 200, timeout=20, what="/readyz 200")
    ready = json.loads(get(server.url + "/readyz")[1])
    assert ready["gateways"] == {"asterisk": True}
    assert ready["demo"] is False
    token = server.admin_token()
    assert get(server.url + "/api/queues")[0] == 401  # every API route needs a token
    queues = {q["name"] for q in json.loads(get(server.url + "/api/queues", token)[1])["queues"]}
    assert queues == {"support", "sales", "bulk"}

    result = subprocess.run(
        [
            MEDLYTT,
            "sandbox",
            "call",
            "sales",
            "--ring",
            "0.5",
            "--talk",
            "1",
            "--instance",
            asterisk_sandbox.settings.instance,
        ],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    labels = {"queue": "sales", "outcome": "answered"}
    poll_until(
        lambda: (
            sample_value(get(server.url + "/metrics")[1], "medlytt_queue_calls_total", labels) == 1
        ),
        timeout=20,
        what="one answered sales call in /metrics",
    )
    assert sample_value(get(server.url + "/metrics")[1], "medlytt_demo_mode") == 0
    assert server.terminate() == 0
    log = server.log.read_text()
    assert section["ari_password"] not in log
    assert section["ami_secret"] not in log


def test_mystery_calls_from_the_command_line(asterisk_sandbox, serve, tmp_path):
    """What a supervisor types: place a call and wait for its result, list results, and
    stop mystery calls with the kill switch; every command against a running server."""
    section = asterisk_sandbox.asterisk_section
    config = tmp_path / "medlytt.toml"
    lines = ["[asterisk]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    lines += [
        "[mystery_calls]",
        'dial = "Local/{number}@phones/n"',
        "ring_timeout_seconds = 3",
        "[storage]",
        f'path = "{tmp_path / "cli.db"}"',
    ]
    config.write_text("\n".join(lines) + "\n")
    env = medlytt_env()

    def medlytt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([MEDLYTT, *args], env=env, capture_output=True, text=True, timeout=90)

    assert (
        medlytt("user", "add", "kari", "--role", "supervisor", "--config", str(config)).returncode
        == 0
    )
    token = medlytt("token", "create", "kari", "--config", str(config)).stdout.strip()
    server = serve("--config", str(config), MEDLYTT_STORAGE__PATH=str(tmp_path / "cli.db"))
    poll_until(lambda: get(server.url + "/readyz")[0] == 200, timeout=20, what="/readyz 200")
    env["MEDLYTT_URL"], env["MEDLYTT_TOKEN"] = server.url, token

    placed = medlytt("mystery", "call", "--number", "556", "--wait")
    assert placed.returncode == 0, placed.stderr
    assert "mystery call" in placed.stdout and '"outcome": "busy"' in placed.stdout
    listed = medlytt("mystery", "results")
    assert listed.returncode == 0 and "number:556" in listed.stdout and "busy" in listed.stdout
    switched = medlytt("mystery", "kill-switch", "on")
    assert switched.returncode == 0 and '"on": true' in switched.stdout
    refused = medlytt("mystery", "call", "--number", "556")
    assert refused.returncode == 1
    assert "stopped by the kill switch" in refused.stderr and "kari" in refused.stderr
    assert server.terminate() == 0
