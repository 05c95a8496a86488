"""``medlytt doctor`` against a real Asterisk: all green on the sandbox (with the warning its
version earns), and each mistake of the issue named with its fix: ``ari_url`` ending in
``/ari``, a wrong password, AMI without ``timestampevents``, an unreachable host; several
PBXs each checked.  The gateway itself says the /ari fix once, not at every retry."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import new_sandbox, running
from medlytt.gateways.asterisk.diagnose import version_defects
from medlytt.gateways.asterisk.gateway import AsteriskGateway
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox
from medlytt.gateways.asterisk.sandbox.config import asterisk_toml
from medlytt.gateways.asterisk.settings import AsteriskSettings
from medlytt.testing import wait_until
from support import MEDLYTT, free_port, medlytt_env


def doctor(tmp_path: Path, asterisk: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Run ``medlytt doctor --json`` on a config of ``asterisk`` sections; (status, checks)."""
    config = tmp_path / "medlytt.toml"
    config.write_text(
        f'[server]\nport = {free_port()}\n[storage]\npath = "{tmp_path / "m.db"}"\n' + asterisk
    )
    result = subprocess.run(
        [MEDLYTT, "doctor", "--json", "--config", str(config)],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    data = json.loads(result.stdout)
    assert data["ok"] is (result.returncode == 0)
    return result.returncode, {check["name"]: check for check in data["checks"]}


def section(sandbox: AsteriskSandbox, **changes: Any) -> str:
    return asterisk_toml({**sandbox.asterisk_section, **changes})


def asterisk_version(sandbox: AsteriskSandbox) -> str:
    return sandbox.ari().request("GET", "/asterisk/info")["system"]["version"]


def test_the_sandbox_is_all_green_with_the_warnings_its_version_earns(asterisk_sandbox, tmp_path):
    status, checks = doctor(tmp_path, section(asterisk_sandbox))
    assert status == 0, checks
    failed = [c for c in checks.values() if c["status"] == "fail"]
    assert failed == []
    version = asterisk_version(asterisk_sandbox)
    expected = version_defects(version)
    warnings = [c for c in checks.values() if c["status"] == "warn"]
    assert [w["name"] for w in warnings] == ["asterisk Asterisk version"] * len(expected)
    for (issue, _), warning in zip(expected, warnings, strict=True):
        assert f"Asterisk issue {issue}" in warning["detail"] and warning["fix"]
    if re.match(r"22\.(\d|10)\.", version):  # the sandbox's 22.10.1: whisper can be silent
        assert any("issue 1966" in w["detail"] for w in warnings)
    for name in (
        "asterisk ARI",
        "asterisk ARI events (every channel and bridge)",
        "asterisk AMI",
        "asterisk AMI events (timestampevents)",
        "asterisk AMI queue events (read classes)",
        "asterisk module func_talkdetect.so",
        "asterisk module app_queue.so",
        "asterisk dialplan TALK_DETECT",
    ):
        assert checks[name]["status"] == "ok", checks[name]
    assert "support" in checks["asterisk queues"]["detail"]


def test_ari_url_ending_in_ari_is_named_with_the_base_to_use(asterisk_sandbox, tmp_path):
    base = asterisk_sandbox.asterisk_section["ari_url"]
    status, checks = doctor(tmp_path, section(asterisk_sandbox, ari_url=f"{base}/ari"))
    assert status == 1
    ari = checks["asterisk ARI"]
    assert ari["status"] == "fail" and "404" in ari["detail"]
    assert ari["fix"].startswith("ari_url must be the HTTP server's base, without /ari")
    assert f'ari_url = "{base}"' in ari["fix"]
    assert checks["asterisk AMI"]["status"] == "ok"  # only what is wrong fails


def test_wrong_passwords_are_named_for_ari_and_ami(asterisk_sandbox, tmp_path):
    text = section(asterisk_sandbox, ari_password="wrong-ari-pw", ami_secret="wrong-ami-pw")
    status, checks = doctor(tmp_path, text)
    assert status == 1
    ari, ami = checks["asterisk ARI"], checks["asterisk AMI"]
    assert (
        "401" in ari["detail"] and "ari_password must be a user section of ari.conf" in (ari["fix"])
    )
    assert (
        "refused" in ami["detail"]
        and "ami_secret must be a user section of manager.conf" in (ami["fix"])
    )
    assert "wrong-ari-pw" not in json.dumps(checks) and "wrong-ami-pw" not in json.dumps(checks)


def test_an_unreachable_host_is_named(asterisk_sandbox, tmp_path):
    closed = free_port()
    text = (
        section(asterisk_sandbox, ari_url=f"http://127.0.0.1:{closed}", ami_port=closed)
        + "request_timeout_seconds = 2\n"
    )
    status, checks = doctor(tmp_path, text)
    assert status == 1
    assert "nothing answers at" in checks["asterisk ARI"]["fix"]
    assert "cannot connect to AMI" in checks["asterisk AMI"]["detail"]


def test_several_pbxs_are_each_checked(asterisk_sandbox, tmp_path):
    good = dict(asterisk_sandbox.asterisk_section)
    closed = free_port()
    bad = {**good, "ari_url": f"http://127.0.0.1:{closed}", "ami_port": closed}
    text = "".join(
        asterisk_toml(values).replace("[asterisk]", f"[asterisk.{name}]")
        for name, values in (("oslo", good), ("bergen", bad))
    )
    status, checks = doctor(tmp_path, text)
    assert status == 1
    assert checks["asterisk.oslo ARI"]["status"] == "ok"
    assert checks["asterisk.oslo AMI events (timestampevents)"]["status"] == "ok"
    assert checks["asterisk.bergen ARI"]["status"] == "fail"
    assert checks["asterisk.bergen AMI"]["status"] == "fail"


@pytest.fixture(scope="module")
def misconfigured() -> Any:
    """A sandbox of this file's own whose manager.conf has timestampevents = no and whose
    dialplan sets no TALK_DETECT."""
    sandbox = new_sandbox("pytest-doctor")
    with running(sandbox):
        etc = sandbox.instance_dir / "etc"
        manager = etc / "manager.conf"
        manager.write_text(
            manager.read_text().replace("timestampevents = yes", "timestampevents = no")
        )
        dialplan = etc / "extensions.conf"
        text, count = re.subn(
            r"Set\(TALK_DETECT\(set\)=[^)\n]*\)", "NoOp(no talk detection)", dialplan.read_text()
        )
        assert count >= 2  # the caller's and the agents' legs
        dialplan.write_text(text)
        sandbox.cli("manager reload")
        sandbox.cli("dialplan reload")
        yield sandbox


def test_ami_without_timestampevents_is_named_with_its_fix(misconfigured, tmp_path):
    status, checks = doctor(tmp_path, section(misconfigured))
    assert status == 1
    check = checks["asterisk AMI events (timestampevents)"]
    assert check["status"] == "fail" and "no Timestamp" in check["detail"]
    assert "set timestampevents = yes in manager.conf [general]" in check["fix"]
    assert checks["asterisk AMI"]["status"] == "ok"
    talk = checks["asterisk dialplan TALK_DETECT"]  # a warning: queue metrics work without
    assert talk["status"] == "warn" and "no Set(TALK_DETECT(set)=)" in talk["detail"]
    assert "pre-dial subroutine" in talk["fix"]


async def test_the_gateway_says_the_ari_fix_once_instead_of_looping(asterisk_sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="medlytt.gateways.asterisk")
    values = {**asterisk_sandbox.asterisk_section, "reconnect_max_seconds": 0.2}
    values["ari_url"] += "/ari"
    gateway = AsteriskGateway(AsteriskSettings(**values))

    def attempts() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "404" in r.getMessage()]

    task = asyncio.create_task(gateway.run(lambda event: None))
    try:
        # It keeps trying (Asterisk may be reconfigured): 3 attempts, however slow the machine.
        await wait_until(lambda: len(attempts()) >= 3, timeout=20, what="3 attempts logged")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await gateway.close()
    told = [r for r in attempts() if r.levelno >= logging.WARNING]
    assert len(told) == 1  # ...but said it once, at ERROR, with the fix
    assert told[0].levelno == logging.ERROR
    assert "ari_url must be the HTTP server's base, without /ari" in told[0].getMessage()
