"""What an administrator does: `medlytt sandbox start`'s section in a config, `medlytt serve`."""

import json
import subprocess
import urllib.request

from medlytt.testing import poll_until, sample_value
from support import MEDLYTT, medlytt_env


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
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
    queues = {q["name"] for q in json.loads(get(server.url + "/api/queues")[1])["queues"]}
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
