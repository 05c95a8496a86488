"""``medlytt doctor`` without a PBX: the core's checks, an unreachable PBX named with its fix,
and the Asterisk versions it warns about.  Against a real Asterisk (wrong URL, password,
timestampevents off, all green): tests/asterisk/test_doctor_sandbox.py."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from medlytt.gateways.asterisk.diagnose import base_url_without_ari, version_defects
from support import MEDLYTT, free_port, medlytt_env


def doctor(tmp_path, config: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    command = [MEDLYTT, "doctor", *args]
    if config is not None:
        path = tmp_path / "medlytt.toml"
        path.write_text(config)
        command += ["--config", str(path)]
    return subprocess.run(
        command, env=medlytt_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def findings(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    data = json.loads(result.stdout)
    assert data["ok"] is (result.returncode == 0)
    return {check["name"]: check for check in data["checks"]}


def base_config(tmp_path, port: int | None = None) -> str:
    return f'[server]\nport = {port or free_port()}\n[storage]\npath = "{tmp_path / "m.db"}"\n'


def test_the_demo_installation_is_all_green(tmp_path):
    result = doctor(tmp_path, base_config(tmp_path), "--json")
    assert result.returncode == 0, result.stdout
    found = findings(result)
    assert {c["status"] for c in found.values()} == {"ok"}
    assert "no PBX configured" in found["asterisk"]["detail"]
    assert found["plugin queue_metrics"]["status"] == "ok"


def test_an_unreachable_pbx_fails_naming_the_fix_for_ari_and_ami(tmp_path):
    closed = free_port()
    config = base_config(tmp_path) + (
        f'[asterisk]\nari_url = "http://127.0.0.1:{closed}"\nari_password = "pw-ari-1"\n'
        f'ami_port = {closed}\nami_secret = "pw-ami-1"\nrequest_timeout_seconds = 2\n'
    )
    result = doctor(tmp_path, config, "--json")
    assert result.returncode == 1
    found = findings(result)
    ari, ami = found["asterisk ARI"], found["asterisk AMI"]
    assert ari["status"] == ami["status"] == "fail"
    assert f"nothing answers at 127.0.0.1:{closed}" in ari["fix"]
    assert "http.conf has enabled = yes" in ari["fix"]
    assert "manager.conf [general] has enabled = yes" in ami["fix"]
    assert "pw-ari-1" not in result.stdout and "pw-ami-1" not in result.stdout


def test_text_output_shows_each_failure_with_its_fix_and_exits_1(tmp_path):
    closed = free_port()
    config = base_config(tmp_path) + (
        f'[asterisk]\nari_url = "http://127.0.0.1:{closed}/ari"\nari_password = "x"\n'
        f'ami_port = {closed}\nami_secret = "y"\nrequest_timeout_seconds = 2\n'
    )
    result = doctor(tmp_path, config)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failure = next(i for i, line in enumerate(lines) if line.startswith("FAIL  asterisk ARI"))
    assert lines[failure + 1].strip().startswith("fix: nothing answers")
    assert "2 failed" in result.stderr


def test_a_config_error_is_a_failure_naming_the_key(tmp_path):
    result = doctor(tmp_path, "[server]\nprot = 1\n", "--json")
    assert result.returncode == 1
    assert "server.prot: unknown key" in findings(result)["config"]["detail"]


def test_a_missing_storage_folder_fails_with_the_fix(tmp_path):
    config = f'[server]\nport = {free_port()}\n[storage]\npath = "{tmp_path}/nope/m.db"\n'
    result = doctor(tmp_path, config, "--json")
    assert result.returncode == 1
    storage = findings(result)["storage"]
    assert storage["status"] == "fail" and "does not exist" in storage["detail"]
    assert "install -d -o medlytt" in storage["fix"]


def test_a_port_taken_by_something_else_fails(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = doctor(tmp_path, base_config(tmp_path, port), "--json")
    assert result.returncode == 1
    check = findings(result)["http port"]
    assert check["status"] == "fail" and f"127.0.0.1:{port}" in check["detail"]
    assert "another [server] port" in check["fix"]


@pytest.mark.parametrize(
    ("version", "issues"),
    [
        ("22.10.1+dfsg+~cs6.17.60671434-1", [1966]),
        ("22.0.0", [1966]),
        ("22.11.0", [2134]),
        ("22.11.2-rc1", [2134]),
        ("22.12.0", []),
        ("23.1.0", []),
        ("20.9.3", []),  # another major: the doctor claims nothing it does not know
        ("GIT-master-abc", []),
    ],
)
def test_asterisk_versions_with_defects_that_touch_medlytt(version, issues):
    assert [issue for issue, _ in version_defects(version)] == issues


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://pbx:8088/ari", "http://pbx:8088"),
        ("http://pbx:8088/ari/", "http://pbx:8088"),
        ("https://pbx/asterisk/ari", "https://pbx/asterisk"),
        ("http://pbx:8088", None),
        ("http://pbx:8088/asterisk", None),
    ],
)
def test_the_ari_suffix_is_recognised(url, base):
    assert base_url_without_ari(url) == base
