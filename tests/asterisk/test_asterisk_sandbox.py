"""The Asterisk sandbox against a real Asterisk 22: ARI, AMI, and every queue_log path."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from medlytt.gateways.asterisk.sandbox import (
    ROOT_MARKER,
    AsteriskSandbox,
    QueueLogLine,
    SandboxError,
    SandboxSettings,
    mounts_under,
    place_call,
    processes_in_root,
    render_config,
    wait_for_call,
)
from medlytt.gateways.asterisk.sandbox import root as sandbox_root


def only(lines: list[QueueLogLine], event: str) -> QueueLogLine:
    found = [line for line in lines if line.event == event]
    assert len(found) == 1, f"expected one {event}: {lines}"
    return found[0]


def events(lines: list[QueueLogLine]) -> list[str]:
    return [line.event for line in lines]


class Ami:
    """A raw AMI connection: the banner, one action at a time, and events."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.banner = self.file.readline().decode().strip()

    def send(self, **headers: str) -> None:
        text = "".join(f"{key}: {value}\r\n" for key, value in headers.items()) + "\r\n"
        self.sock.sendall(text.encode())

    def read_block(self) -> dict[str, str]:
        block: dict[str, str] = {}
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("AMI closed the connection")
            text = line.decode(errors="replace").rstrip("\r\n")
            if not text:
                if block:
                    return block
                continue
            key, _, value = text.partition(":")
            block.setdefault(key.strip(), value.strip())

    def login(self, user: str, secret: str, events: str = "off") -> dict[str, str]:
        self.send(Action="Login", Username=user, Secret=secret, Events=events)
        while True:
            block = self.read_block()
            if "Response" in block:
                return block

    def close(self) -> None:
        self.file.close()
        self.sock.close()


# -- without Asterisk ------------------------------------------------------------------------


def test_templates_render_a_complete_contact_center() -> None:
    names = [
        *("INSTANCE", "INNER_DIR", "HTTP_PORT", "AMI_PORT", "SIP_PORT", "RTP_START", "RTP_END"),
        *("ARI_USER", "ARI_PASSWORD", "AMI_USER", "AMI_SECRET", "AGENT_TIMEOUT", "RING", "TALK"),
        *("MAXWAIT", "ASTMODDIR", "ASTDATADIR", "ASTVARLIBDIR"),
        *("SIP_1001_PASSWORD", "SIP_1002_PASSWORD", "SIP_2001_PASSWORD"),
    ]
    config = render_config(dict.fromkeys(names, "1"))
    assert all("@@" not in text for text in config.values())
    queues = config["queues.conf"]
    assert "strategy = rrmemory" in queues and "strategy = ringall" in queues
    for line in ("servicelevel = 20", "joinempty = yes", "leavewhenempty = no", "ringinuse = no"):
        assert line in queues
    assert queues.count("member => Local/agent") >= 4
    assert "queue_log = yes" in config["logger.conf"]
    assert "bindaddr = 127.0.0.1" in config["http.conf"]
    assert "bindaddr = 127.0.0.1" in config["manager.conf"]


def test_without_root_start_says_root_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="needs root"):
        AsteriskSandbox(SandboxSettings(instance="never-started")).start()


# -- against the running sandbox -------------------------------------------------------------


def test_ari_answers_with_asterisk_22(asterisk_sandbox: AsteriskSandbox) -> None:
    section = asterisk_sandbox.asterisk_section
    token = base64.b64encode(f"{section['ari_user']}:{section['ari_password']}".encode())
    request = urllib.request.Request(
        section["ari_url"] + "/ari/asterisk/info",
        headers={"Authorization": "Basic " + token.decode()},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        info = json.load(response)
    assert info["system"]["version"].startswith("22")
    assert section["ari_url"].startswith("http://127.0.0.1:")


def test_ami_login_with_the_generated_secret(asterisk_sandbox: AsteriskSandbox) -> None:
    section = asterisk_sandbox.asterisk_section
    ami = Ami(section["ami_host"], section["ami_port"])
    try:
        assert ami.banner.startswith("Asterisk Call Manager/")
        assert ami.login(section["ami_user"], section["ami_secret"])["Response"] == "Success"
    finally:
        ami.close()
    wrong = Ami(section["ami_host"], section["ami_port"])
    try:
        assert wrong.login(section["ami_user"], "not-the-secret")["Response"] == "Error"
    finally:
        wrong.close()


def test_secrets_are_private(asterisk_sandbox: AsteriskSandbox) -> None:
    for name in ("secrets.json", "etc/ari.conf", "etc/manager.conf", "etc/pjsip.conf"):
        assert (asterisk_sandbox.instance_dir / name).stat().st_mode & 0o077 == 0, name


def test_answered_call_enters_connects_and_completes(asterisk_sandbox: AsteriskSandbox) -> None:
    callid = place_call(asterisk_sandbox, "support", ring=2, talk=1, caller_id='"Ada" <5550123>')
    lines = wait_for_call(asterisk_sandbox, callid, timeout=20)
    assert events(lines)[0] == "ENTERQUEUE"
    assert {line.queue for line in lines} == {"support"}
    assert "5550123" in only(lines, "ENTERQUEUE").data
    connect = only(lines, "CONNECT")
    assert connect.agent in {"agent1", "agent2"}
    assert abs(connect.field_int(0) - 2) <= 1, connect  # holdtime ~ the agent's ring time
    complete = only(lines, "COMPLETEAGENT")
    assert complete.agent == connect.agent
    assert abs(complete.field_int(1) - 1) <= 1, complete  # talktime
    assert asterisk_sandbox.queue_log_path.is_file()


def test_caller_hanging_up_while_talking_is_completecaller(
    asterisk_sandbox: AsteriskSandbox,
) -> None:
    callid = place_call(asterisk_sandbox, "support", patience=2.5, ring=1, talk=30)
    lines = wait_for_call(asterisk_sandbox, callid, timeout=20)
    assert events(lines)[:2] == ["ENTERQUEUE", "CONNECT"]
    assert only(lines, "COMPLETECALLER").queue == "support"


def test_impatient_caller_abandons(asterisk_sandbox: AsteriskSandbox) -> None:
    callid = place_call(asterisk_sandbox, "support", patience=1.5, ring=10)
    lines = wait_for_call(asterisk_sandbox, callid, timeout=20)
    abandon = only(lines, "ABANDON")
    assert "CONNECT" not in events(lines)
    assert abandon.field_int(2) <= 3  # position|origposition|waittime


def test_queue_max_wait_exits_with_timeout(asterisk_sandbox: AsteriskSandbox) -> None:
    callid = place_call(asterisk_sandbox, "sales", answer=False, max_wait=2)
    lines = wait_for_call(asterisk_sandbox, callid, timeout=20)
    exit_line = only(lines, "EXITWITHTIMEOUT")
    assert "CONNECT" not in events(lines)
    assert 1 <= exit_line.field_int(2) <= 4  # waittime


def test_agent_ringing_too_long_is_ringnoanswer(asterisk_sandbox: AsteriskSandbox) -> None:
    timeout = asterisk_sandbox.settings.agent_timeout  # queues.conf member ring timeout
    callid = place_call(asterisk_sandbox, "support", ring=timeout + 5, max_wait=timeout + 2)
    lines = wait_for_call(asterisk_sandbox, callid, timeout=30)
    rna = [line for line in lines if line.event == "RINGNOANSWER"]
    assert rna, lines
    # The first agent rang for the queue's member timeout (ms), not for the max wait.
    assert abs(rna[0].field_int(0) - timeout * 1000) < 800, rna
    assert rna[0].agent in {"agent1", "agent2"}
    assert events(lines)[-1] == "EXITWITHTIMEOUT"


def test_ringall_rings_both_agents_and_connects_one(asterisk_sandbox: AsteriskSandbox) -> None:
    section = asterisk_sandbox.asterisk_section
    ami = Ami(section["ami_host"], section["ami_port"])
    try:
        assert (
            ami.login(section["ami_user"], section["ami_secret"], events="agent")["Response"]
            == "Success"
        )
        callid = place_call(asterisk_sandbox, "sales", ring=1, talk=1)
        called: set[str] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            block = ami.read_block()
            if block.get("Uniqueid") != callid:
                continue
            if block.get("Event") == "AgentCalled":
                called.add(block["MemberName"])
            if block.get("Event") == "AgentConnect":
                break
    finally:
        ami.close()
    assert called == {"agent3", "agent4"}
    lines = wait_for_call(asterisk_sandbox, callid, timeout=20)
    assert only(lines, "CONNECT").agent in called
    assert only(lines, "COMPLETEAGENT").queue == "sales"


def test_stop_leaves_nothing_behind_and_restart_reuses_the_cache(
    asterisk_sandbox: AsteriskSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = asterisk_sandbox
    marker = (sandbox.root / ROOT_MARKER).read_text()
    bootstrap_log = sandbox.root.with_name(sandbox.root.name + ".bootstrap.log")
    bootstraps = bootstrap_log.read_text().count("\n=== ") if bootstrap_log.exists() else 0

    running = sandbox.status()
    assert running is not None
    sandbox.stop()
    assert sandbox.status() is None
    assert running.pid not in processes_in_root(sandbox.root)
    assert not Path(f"/proc/{running.pid}").exists()
    if not sandbox.other_running_instances():  # another sandbox would still need the mounts
        assert processes_in_root(sandbox.root) == []
        assert mounts_under(sandbox.root) == []

    def no_debootstrap(*args: object, **kwargs: object) -> bool:
        raise AssertionError("debootstrap ran although the root is cached")

    monkeypatch.setattr(sandbox_root, "_run_debootstrap", no_debootstrap)
    info = sandbox.start()
    assert info.cache_reused is True
    assert (sandbox.root / ROOT_MARKER).read_text() == marker
    after = bootstrap_log.read_text().count("\n=== ") if bootstrap_log.exists() else 0
    assert after == bootstraps
    # The restarted sandbox still takes calls.
    callid = place_call(sandbox, "support", ring=1, talk=1)
    assert "COMPLETEAGENT" in events(wait_for_call(sandbox, callid, timeout=20))


def test_start_is_idempotent(asterisk_sandbox: AsteriskSandbox) -> None:
    before = asterisk_sandbox.status()
    assert before is not None
    again = asterisk_sandbox.start()
    assert again.already_running and again.pid == before.pid
